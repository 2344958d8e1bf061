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
files=(pulumi pulumi-language-python pulumi-language-python-exec pulumi-resource-pulumi-python)
TOOL=pulumi-tools
# shellcheck source=../../scripts/lib/gotool.sh
source "$here/../../scripts/lib/gotool.sh"
gotool_complete() {
    local f
    for f in "${files[@]}"; do [[ -x $out/$f ]] || return 1; done
}
gotool_init "pulumi-$PULUMI_VERSION" "$@"

gotool_done "pulumi $PULUMI_VERSION already built"
gotool_find_go "pulumi"
gotool_lock
gotool_env

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
