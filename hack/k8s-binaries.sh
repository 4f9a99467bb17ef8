#!/usr/bin/env bash
# Builds kube-apiserver, kube-controller-manager, kube-scheduler and kubectl at a pinned version from the
# Go module proxy into a cache directory keyed by that version, and prints the directory. A second run
# with the binaries present costs nothing. No registry but the Go module proxy is needed.
#
#   hack/k8s-binaries.sh            # build if missing, print the bin dir
#   K8S_VERSION=v1.36.3 EDGEHIVE_CACHE=~/.cache/edgehive hack/k8s-binaries.sh
set -euo pipefail

version="${K8S_VERSION:-v1.36.3}"
cache="${EDGEHIVE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/edgehive}"
dir="$cache/kubernetes-$version"
bin="$dir/bin"
tools=(kube-apiserver kube-controller-manager kube-scheduler kubectl)

have_all() {
  for t in "${tools[@]}"; do [ -x "$bin/$t" ] || return 1; done
}
if have_all; then echo "$bin"; exit 0; fi

staging="v0.${version#v1.}"   # v1.36.3 -> v0.36.3
mkdir -p "$dir/src" "$bin"
cd "$dir/src"
log() { echo "k8s-binaries: $*" >&2; }

if [ ! -f go.mod ]; then
  log "preparing a scratch module for k8s.io/kubernetes $version (staging modules $staging)"
  cat > go.mod <<MOD
module edgehive.local/k8sbuild

go 1.25
MOD
  # The staging modules are listed by k8s.io/kubernetes's own go.mod as replace => ./staging/...;
  # read them from there rather than keeping a list by hand.
  modfile=$(go mod download -json "k8s.io/kubernetes@$version" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')
  [ -f "$modfile" ] || { log "cannot download k8s.io/kubernetes@$version"; exit 1; }
  mapfile -t mods < <(sed -n 's#^[[:space:]]*\(k8s\.io/[a-z0-9-]*\) => \./staging/.*#\1#p' "$modfile" | sort -u)
  [ "${#mods[@]}" -gt 20 ] || { log "found only ${#mods[@]} staging modules in $modfile"; exit 1; }
  args=("-require=k8s.io/kubernetes@$version")
  for m in "${mods[@]}"; do args+=("-replace=$m=$m@$staging"); done
  go mod edit "${args[@]}"
  cat > tools.go <<'GO'
//go:build tools

package tools
GO
  log "${#mods[@]} staging modules replaced"
fi

ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$version -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$(echo "$version" | cut -d. -f2)"
for t in "${tools[@]}"; do
  [ -x "$bin/$t" ] && continue
  pkg="k8s.io/kubernetes/cmd/$t"
  log "building $t (several minutes the first time)"
  start=$(date +%s)
  go build -mod=mod -trimpath -ldflags "$ldflags" -o "$bin/$t.tmp" "$pkg"
  mv "$bin/$t.tmp" "$bin/$t"
  log "built $t in $(( $(date +%s) - start ))s"
done
echo "$bin"
