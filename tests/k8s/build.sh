#!/usr/bin/env bash
# Build kube-apiserver and kubectl for the Kubernetes end-to-end tests (tests/k8s/), from the
# official Go modules pinned in tests/k8s/tools/go.mod, into a cache directory keyed by version:
#
#   ${TRUNKLINE_TOOLS_CACHE:-$HOME/.cache/trunkline/tools}/k8s-<version>/{kube-apiserver,kubectl}
#
# Idempotent: when both binaries exist it only says so. Also installs etcd (Debian package
# `etcd-server`) with apt-get when it is missing, since the API server needs it (set
# TRUNKLINE_SKIP_APT=1 to never call apt-get).
#
#   tests/k8s/build.sh              build when missing; the last line of stdout is the directory
#   tests/k8s/build.sh --optional   the same, but a missing Go is a notice, not a failure, unless
#                                   CI is set (`make test` uses this: the k8s tests then skip)
#   tests/k8s/build.sh --print      print the directory only, build nothing
#
# Needs Go (>= the `go` line of tools/go.mod; $GO, else on PATH, else /usr/local/go/bin), and the
# Go module proxy. The first build downloads ~680 MB of modules and compiles for several minutes; concurrent
# calls (pytest-xdist workers, make) wait on a lock instead of building twice.
# Exit status: 0 built or already there; 3 Go is not installed; 1 anything else.
set -euo pipefail

# Keep in step with tools/go.mod (k8s.io/kubernetes and the staging `replace` versions).
KUBE_VERSION=v1.34.4

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOOL=k8s-tools
# shellcheck source=../../scripts/lib/gotool.sh
source "$here/../../scripts/lib/gotool.sh"
gotool_complete() { [[ -x $out/kube-apiserver && -x $out/kubectl ]]; }
gotool_init "k8s-$KUBE_VERSION" "$@"

# -- etcd ---------------------------------------------------------------------------------------
if [[ -z "${TRUNKLINE_ETCD:-}" ]] && ! command -v etcd >/dev/null 2>&1 && [[ ! -x /usr/bin/etcd ]]; then
    if [[ -n "${TRUNKLINE_SKIP_APT:-}" ]] || ! command -v apt-get >/dev/null 2>&1; then
        say "etcd is missing; install Debian package etcd-server (or set TRUNKLINE_ETCD to a binary)"
    else
        as_root=()
        [[ "$(id -u)" -eq 0 ]] || as_root=(sudo -n)
        say "installing etcd (Debian package etcd-server)"
        export DEBIAN_FRONTEND=noninteractive
        "${as_root[@]}" apt-get update -qq
        "${as_root[@]}" apt-get install -y -qq --no-install-recommends etcd-server >&2
    fi
fi

# -- kube-apiserver, kubectl --------------------------------------------------------------------
gotool_done "kube-apiserver and kubectl $KUBE_VERSION already built"
gotool_find_go "kube-apiserver and kubectl"
gotool_lock

# Version stamps kubectl and the API server report (`kubectl version`, /version); without them
# both say v0.0.0-master and kubectl warns about version skew.
minor=${KUBE_VERSION#v1.}
minor=${minor%%.*}
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $pkg.gitVersion=$KUBE_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
done

gotool_env

tmp=$(mktemp -d "$cache_root/.build-k8s-$KUBE_VERSION-XXXXXX")
trap 'rm -rf "$tmp"' EXIT

say "building kube-apiserver and kubectl $KUBE_VERSION with $("$go_bin" version | cut -d' ' -f3) into $out"
say "(the first build downloads the Kubernetes modules into $("$go_bin" env GOMODCACHE) and takes minutes)"
start=$SECONDS
cd "$here/tools"
set -x
"$go_bin" build -trimpath -ldflags="$ldflags" -o "$tmp/" \
    k8s.io/kubernetes/cmd/kube-apiserver \
    k8s.io/kubernetes/cmd/kubectl
{ set +x; } 2>/dev/null

mkdir -p "$out"
mv -f "$tmp/kube-apiserver" "$tmp/kubectl" "$out/"
say "built in $((SECONDS - start))s: $(du -sh "$out" | cut -f1) in $out"
"$out/kubectl" version --client >&2 || true
echo "$out"
