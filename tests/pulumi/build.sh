#!/usr/bin/env bash
# Build the Pulumi CLI and a Python language host for the Pulumi end-to-end tests (tests/pulumi/),
# from the official Go modules pinned in tests/pulumi/tools/go.mod, into a cache directory keyed
# by version:
#
#   ${TRUNKLINE_TOOLS_CACHE:-$HOME/.cache/trunkline/tools}/pulumi-<version>/
#       pulumi                          the CLI and engine (github.com/pulumi/pulumi/pkg/v3/cmd/pulumi)
#       pulumi-language-python          language host (tests/pulumi/tools/cmd/pulumi-language-python)
#       pulumi-language-python-exec     } scripts of the Python SDK, copied from the sdk/v3 module
#       pulumi-resource-pulumi-python   } (python/cmd and python/dist) of the same version
#
# Put that directory first on PATH and `pulumi` finds the other three there.
# Idempotent: when everything exists it only says so.
#
#   tests/pulumi/build.sh              build when missing; the last line of stdout is the directory
#   tests/pulumi/build.sh --optional   the same, but a missing Go is a notice, not a failure, unless
#                                      CI is set (`make test` uses this: the Pulumi tests then skip)
#   tests/pulumi/build.sh --print      print the directory only, build nothing
#
# Needs Go (>= the `go` line of tools/go.mod; $GO, else on PATH, else /usr/local/go/bin), and the
# Go module proxy. The first build fetches 255 modules (~1.2 GB unpacked: the CLI links the cloud
# SDKs of its state backends) and compiles for 5-15 minutes (13.5 min on 2 busy cores);
# concurrent calls (pytest-xdist workers, make) wait on a lock instead of building twice.
# Exit status: 0 built or already there; 3 Go is not installed; 1 anything else.
set -euo pipefail

# Keep in step with tools/go.mod (pkg/v3 and sdk/v3 versions). Pulumi's pkg/v3 is not served
# at every release: v3.274.1 is the served release nearest the Python SDK in the venv (3.272.0).
PULUMI_VERSION=v3.274.1

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache_root=${TRUNKLINE_TOOLS_CACHE:-$HOME/.cache/trunkline/tools}
out=$cache_root/pulumi-$PULUMI_VERSION
files=(pulumi pulumi-language-python pulumi-language-python-exec pulumi-resource-pulumi-python)

say() { echo "pulumi-tools: $*" >&2; }
in_ci() { [[ -n "${CI:-}" && "${CI,,}" != false && "${CI}" != 0 && "${CI,,}" != no ]]; }
complete() {
    local f
    for f in "${files[@]}"; do [[ -x $out/$f ]] || return 1; done
}

optional=false
case "${1:-}" in
    --print) echo "$out"; exit 0 ;;
    --optional) optional=true ;;
    "") ;;
    *) echo "usage: $0 [--optional|--print]" >&2; exit 2 ;;
esac

if complete; then
    say "pulumi $PULUMI_VERSION already built in $out"
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
        say "Go is not installed: not building pulumi; the tests in tests/pulumi will skip"
        exit 0
    fi
    say "Go is not installed (no 'go' on PATH or in /usr/local/go/bin); cannot build pulumi"
    exit 3
fi

mkdir -p "$cache_root"
# One build at a time; whoever waited finds the binaries made by the one before.
exec 9>"$cache_root/.pulumi-$PULUMI_VERSION.lock"
if ! flock -n 9; then
    say "another build of pulumi $PULUMI_VERSION is running; waiting for it"
    flock 9
fi
if complete; then
    say "pulumi $PULUMI_VERSION was built meanwhile in $out"
    echo "$out"
    exit 0
fi

# Plain Go programs: no cgo (static binaries, no C toolchain needed). GOTOOLCHAIN=local: build with
# the Go that is installed, never download another one.
export CGO_ENABLED=0
export GOFLAGS="-mod=mod -buildvcs=false"
export GOTOOLCHAIN=local

tmp=$(mktemp -d "$cache_root/.build-pulumi-$PULUMI_VERSION-XXXXXX")
trap 'rm -rf "$tmp"' EXIT

say "building pulumi $PULUMI_VERSION with $("$go_bin" version | cut -d' ' -f3) into $out"
say "(the first build downloads the Pulumi modules into $("$go_bin" env GOMODCACHE) and takes minutes)"
start=$SECONDS
cd "$here/tools"
# `pulumi version` and the language host's plugin info report this instead of v0.0.0.
ldflags="-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$PULUMI_VERSION"
set -x
"$go_bin" build -trimpath -ldflags="$ldflags" -o "$tmp/" \
    github.com/pulumi/pulumi/pkg/v3/cmd/pulumi \
    ./cmd/pulumi-language-python
{ set +x; } 2>/dev/null

# The Python SDK's scripts live in the sdk/v3 module (not in the PyPI package).
sdk_dir=$("$go_bin" list -m -f '{{.Dir}}' github.com/pulumi/pulumi/sdk/v3)
if [[ -z $sdk_dir || ! -d $sdk_dir/python ]]; then
    say "cannot find the sdk/v3 module's python/ directory (got '$sdk_dir')"
    exit 1
fi
install -m 0755 "$sdk_dir/python/cmd/pulumi-language-python-exec" "$tmp/"
install -m 0755 "$sdk_dir/python/dist/pulumi-resource-pulumi-python" "$tmp/"

mkdir -p "$out"
for f in "${files[@]}"; do mv -f "$tmp/$f" "$out/"; done
say "built in $((SECONDS - start))s: $(du -sh "$out" | cut -f1) in $out"
"$out/pulumi" version >&2 || true
echo "$out"
