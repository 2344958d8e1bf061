#!/usr/bin/env bash
# Builds the helm CLI from its Go module into a cache keyed by version (Debian has no helm).
# Prints the binary's path. Idempotent: an existing binary is reused.
set -euo pipefail
version="${HELM_VERSION:-v3.22.0}"
cache="${TRUNKLINE_TOOLS_CACHE:-$HOME/.cache/trunkline/tools}/helm-$version"
if [[ ! -x "$cache/helm" ]]; then
    command -v go >/dev/null || { echo "build-helm: go is not installed" >&2; exit 1; }
    mkdir -p "$cache"
    echo "build-helm: go install helm.sh/helm/v3/cmd/helm@$version (once; cached in $cache)" >&2
    GOBIN="$cache" GOFLAGS=-trimpath nice -n 10 go install "helm.sh/helm/v3/cmd/helm@$version" >&2
fi
echo "$cache/helm"
