#!/usr/bin/env bash
# The test job: format check, go vet, staticcheck, then every test with the race detector. The full
# verbose log goes to $TEST_LOG (default: .cache/test.log); the console shows the failures, every skip
# and the closing summary. Under CI=true a test that needs a missing component fails instead of skipping.
set -uo pipefail
cd "$(dirname "$0")/.."
cache="${EDGEHIVE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/edgehive}"
STATICCHECK_VERSION="${STATICCHECK_VERSION:-v0.8.2}"
log="${TEST_LOG:-.cache/test.log}"
mkdir -p "$(dirname "$log")"
fail=0
step() { echo "== $*"; }

step "gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.cache/*'))
if [ -n "$unformatted" ]; then echo "gofmt would change:"; echo "$unformatted"; fail=1; fi

step "go vet"
go vet ./... || fail=1

step "staticcheck $STATICCHECK_VERSION"
"$cache/tools/staticcheck-$STATICCHECK_VERSION" ./... || fail=1

step "go test -race ./... (full log: $log)"
start=$(date +%s)
go test -race -count=1 -timeout 20m -v ./... > "$log" 2>&1
rc=$?
# The console shows: each package's result, every failure and skip, and the smoke tests of the real
# components with what they logged (so a reader can see they ran, not skipped).
awk '
  /^=== (RUN|CONT|NAME)/ { cur = $3 }
  /^(ok|FAIL|panic:)/ || /^\?/ { print; next }
  /^[ \t]*--- (FAIL|SKIP)/ { print; next }
  /^[ \t]*--- PASS/ && /Smoke/ { print; next }
  cur ~ /Smoke/ && /^[ \t]+[A-Za-z0-9_]+\.go:[0-9]+:/ { print }
' "$log"
if [ $rc -ne 0 ]; then
  echo "-- failures (context) --"
  grep -B2 -A25 -E "^\s*--- FAIL|^panic:" "$log" | head -300
fi
passed=$(grep -cE '^\s*--- PASS' "$log")
failed=$(grep -cE '^\s*--- FAIL' "$log")
skipped=$(grep -cE '^\s*--- SKIP' "$log")
echo "go test took $(( $(date +%s) - start ))s"
echo "tests: $passed passed, $failed failed, $skipped skipped"
[ $rc -eq 0 ] || fail=1

step "make quickstart QUICKSTART_ARGS=--check (the README's first command, headless)"
qs_start=$(date +%s)
rm -rf .cache/quickstart
if timeout 600 make --no-print-directory quickstart QUICKSTART_ARGS="--check --timeout 4m --data-dir .cache/quickstart" > .cache/quickstart.log 2>&1; then
  tail -1 .cache/quickstart.log
  echo "quickstart took $(( $(date +%s) - qs_start ))s"
else
  echo "quickstart FAILED; its output:"
  tail -60 .cache/quickstart.log
  fail=1
fi
exit $fail
