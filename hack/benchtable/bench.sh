#!/usr/bin/env bash
# make bench: the Go benchmarks of every package, then one table of figure / budget / anchor / verdict
# (hack/benchtable). Three passes, so that the whole run takes minutes, not an hour:
#   1. the micro benchmarks: -benchtime $BENCH_TIME (200ms) -count $BENCH_COUNT (3), -benchmem;
#   2. the latency benchmarks whose b.N is the number of messages their p99 is taken over (twin update
#      latency, and the cloud hub and edge hubs at 2,000 msgs/s): -benchtime $BENCH_SAMPLES (2000x);
#   3. the harness benchmarks (fleets, the edge's footprint, 100 pods, a 1,000-device burst): once each
#      (-benchtime 1x).
# The fleets run at a small size: EDGEHIVE_BENCH_NODES / EDGEHIVE_BENCH_EDGES / EDGEHIVE_EDGEMARK_NODES
# default to 200 / 100 / 200 (BENCHMARKS.md gives the full-size commands).
# The raw output of all three goes to $BENCH_OUT (default .cache/bench.txt); the table follows it. The
# exit status is go test's: a benchmark that fails fails make bench, after the table is printed.
set -uo pipefail
cd "$(dirname "$0")/../.."

out="${BENCH_OUT:-.cache/bench.txt}"
time="${BENCH_TIME:-200ms}"
count="${BENCH_COUNT:-3}"
samples="${BENCH_SAMPLES:-2000x}"
export EDGEHIVE_BENCH_NODES="${EDGEHIVE_BENCH_NODES:-200}"
export EDGEHIVE_BENCH_EDGES="${EDGEHIVE_BENCH_EDGES:-100}"
export EDGEHIVE_EDGEMARK_NODES="${EDGEHIVE_EDGEMARK_NODES:-200}"

# Passes 2 and 3 name their packages (pass 1 built and vetted everything already).
latency='^Benchmark(UpdateLatency|CloudHub|EdgeHubs)$'
latency_pkgs='./twin/twinmodule ./hub/cloudhub ./hub/edgehub'
harness='^Benchmark(Edgemark|EdgeFootprint|PodStart100|Burst1000)$'
harness_pkgs='./examples/edgemark ./examples/edge ./edged ./twin/twinmodule'
skip='^Benchmark(UpdateLatency|CloudHub|EdgeHubs|Edgemark|EdgeFootprint|PodStart100|Burst1000)$'

mkdir -p "$(dirname "$out")"
: > "$out"
rc=0
# pass PACKAGES FLAGS...: one go test run, appended to $out; the console shows results and failures.
pass() {
	local pkgs=$1
	shift
	echo "== go test $* $pkgs" | tee -a "$out"
	# shellcheck disable=SC2086 # $pkgs is a list of package patterns
	go test -v -run '^$' -timeout 30m "$@" $pkgs 2>&1 | tee -a "$out" |
		grep -E --line-buffered '^(Benchmark[^ ]+\s+[0-9]+\s|--- (FAIL|SKIP)|FAIL|panic:|# )|^[^ ]+\.go:[0-9]+:[0-9]+: '
	local st=("${PIPESTATUS[@]}")
	[ "${st[0]}" -eq 0 ] || rc=1
}
echo "== $(uptime)" | tee -a "$out" # the figures depend on what else the machine is doing
start=$(date +%s)
pass ./... -bench . -skip "$skip" -benchtime "$time" -count "$count" -benchmem
pass "$latency_pkgs" -bench "$latency" -benchtime "$samples"
pass "$harness_pkgs" -bench "$harness" -benchtime 1x -benchmem
echo "== benchmarks took $(( $(date +%s) - start ))s; raw output in $out"
echo

small=()
for n in "$EDGEHIVE_BENCH_NODES" "$EDGEHIVE_EDGEMARK_NODES"; do
	if [ "$n" -lt 10000 ]; then small=(-small); fi
done
go run ./hack/benchtable "${small[@]}" "$out" || rc=1
exit $rc
