#!/usr/bin/env bash
# Build the helm CLI (Debian has no helm) for tests/helm from its Go module into a cache directory
# keyed by version:
#
#   ${TRUNKLINE_TOOLS_CACHE:-$HOME/.cache/trunkline/tools}/helm-<version>/helm
#
#   scripts/build-helm.sh              build when missing; the last line of stdout is the directory
#   scripts/build-helm.sh --optional   the same, but a missing Go is a notice, not a failure, unless
#                                      CI is set (`make test` uses this: the helm tests then skip)
#   scripts/build-helm.sh --print      print the directory only, build nothing
#
# Idempotent; concurrent calls (pytest-xdist workers, make) wait on a lock instead of building twice.
# Exit status: 0 built or already there; 3 Go is not installed; 1 anything else.
set -euo pipefail

HELM_VERSION=${HELM_VERSION:-v3.22.0}

TOOL=build-helm
# shellcheck source=lib/gotool.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/gotool.sh"
gotool_complete() { [[ -x $out/helm ]]; }
gotool_init "helm-$HELM_VERSION" "$@"

gotool_done "helm $HELM_VERSION already built"
gotool_find_go "helm"
gotool_lock

# Not gotool_env: `go install pkg@version` ignores the local go.mod and may need a newer Go than
# the one installed (GOTOOLCHAIN=auto fetches it); cgo stays on as helm's own builds have it.
tmp=$(mktemp -d "$cache_root/.build-helm-$HELM_VERSION-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
say "go install helm.sh/helm/v3/cmd/helm@$HELM_VERSION (once; cached in $out)"
GOBIN="$tmp" GOFLAGS=-trimpath nice -n 10 "$go_bin" install "helm.sh/helm/v3/cmd/helm@$HELM_VERSION" >&2
mkdir -p "$out"
mv -f "$tmp/helm" "$out/"
echo "$out"
