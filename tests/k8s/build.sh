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
cache_root=${TRUNKLINE_TOOLS_CACHE:-$HOME/.cache/trunkline/tools}
out=$cache_root/k8s-$KUBE_VERSION

say() { echo "k8s-tools: $*" >&2; }
in_ci() { [[ -n "${CI:-}" && "${CI,,}" != false && "${CI}" != 0 && "${CI,,}" != no ]]; }

optional=false
case "${1:-}" in
    --print) echo "$out"; exit 0 ;;
    --optional) optional=true ;;
    "") ;;
    *) echo "usage: $0 [--optional|--print]" >&2; exit 2 ;;
esac

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
if [[ -x $out/kube-apiserver && -x $out/kubectl ]]; then
    say "kube-apiserver and kubectl $KUBE_VERSION already built in $out"
    echo "$out"
    exit 0
fi

# $GO, when set, is the only Go looked at (GO=none: act as if Go were not installed).
if [[ -n "${GO:-}" ]]; then
    go_bin=$(command -v "$GO" || true)
else
    go_bin=$(command -v go || true)
    if [[ -z $go_bin && -x /usr/local/go/bin/go ]]; then
        go_bin=/usr/local/go/bin/go
    fi
fi
if [[ -z $go_bin ]]; then
    if $optional && ! in_ci; then
        say "Go is not installed: not building kube-apiserver and kubectl; the tests in tests/k8s will skip"
        exit 0
    fi
    say "Go is not installed (no 'go' on PATH or in /usr/local/go/bin); cannot build kube-apiserver and kubectl"
    exit 3
fi

mkdir -p "$cache_root"
# One build at a time; whoever waited finds the binaries made by the one before.
exec 9>"$cache_root/.k8s-$KUBE_VERSION.lock"
if ! flock -n 9; then
    say "another build of $KUBE_VERSION is running; waiting for it"
    flock 9
fi
if [[ -x $out/kube-apiserver && -x $out/kubectl ]]; then
    say "kube-apiserver and kubectl $KUBE_VERSION were built meanwhile in $out"
    echo "$out"
    exit 0
fi

# Version stamps kubectl and the API server report (`kubectl version`, /version); without them
# both say v0.0.0-master and kubectl warns about version skew.
minor=${KUBE_VERSION#v1.}
minor=${minor%%.*}
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $pkg.gitVersion=$KUBE_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
done

# Plain Go programs: no cgo (static binaries, no C toolchain needed). GOTOOLCHAIN=local: build with
# the Go that is installed, never download another one.
export CGO_ENABLED=0
export GOFLAGS="-mod=mod -buildvcs=false"
export GOTOOLCHAIN=local

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
