#!/usr/bin/env bash
# Installs what edgehive's tests need, when it is missing, and prints nothing else of note when all is
# there: Debian packages (mosquitto, containerd, runc, CNI plugins, etcd, busybox-static), the Kubernetes
# binaries built from the Go module proxy into a cache keyed by version (hack/k8s-binaries.sh), and a
# pinned staticcheck. Idempotent: a second run costs a few seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

cache="${EDGEHIVE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/edgehive}"
STATICCHECK_VERSION="${STATICCHECK_VERSION:-v0.8.2}"
log() { echo "install-deps: $*" >&2; }

# Debian packages: binary -> package.
declare -A pkgs=(
  [mosquitto]=mosquitto
  [mosquitto_pub]=mosquitto-clients
  [containerd]=containerd
  [ctr]=containerd
  [runc]=runc
  [etcd]=etcd-server
)
missing=()
for bin in "${!pkgs[@]}"; do
  command -v "$bin" >/dev/null 2>&1 || [ -x "/usr/sbin/$bin" ] || missing+=("${pkgs[$bin]}")
done
[ -x /usr/lib/cni/bridge ] && [ -x /usr/lib/cni/host-local ] && [ -x /usr/lib/cni/loopback ] || missing+=(containernetworking-plugins)
# The image builder needs a static busybox (Debian's plain busybox package is dynamically linked).
dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q "ok installed" || missing+=(busybox-static)
if [ "${#missing[@]}" -gt 0 ]; then
  mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
  if [ "$(id -u)" != 0 ]; then
    log "missing Debian packages: ${missing[*]} (run as root to install them)"
  else
    log "installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
fi

# Kubernetes binaries (kube-apiserver, kube-controller-manager, kube-scheduler, kubectl).
EDGEHIVE_CACHE="$cache" hack/k8s-binaries.sh >/dev/null

# staticcheck, pinned.
sc="$cache/tools/staticcheck-$STATICCHECK_VERSION"
if [ ! -x "$sc" ]; then
  log "installing staticcheck $STATICCHECK_VERSION"
  mkdir -p "$cache/tools/gobin"
  GOBIN="$cache/tools/gobin" go install "honnef.co/go/tools/cmd/staticcheck@$STATICCHECK_VERSION"
  mv "$cache/tools/gobin/staticcheck" "$sc"
fi
log "all test dependencies present (cache: $cache)"
