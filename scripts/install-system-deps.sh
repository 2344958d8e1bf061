#!/usr/bin/env bash
# Install, from Debian/Ubuntu packages, the system programs the test suite needs, when missing.
#
#   scripts/install-system-deps.sh            PostgreSQL server binaries, git, openssl (tests/k8s),
#                                             Kamailio + sipp (tests/kamailio); sops under CI
#   scripts/install-system-deps.sh venv       python3-venv (Debian's python3 ships without it)
#
# Idempotent and quick: when everything is present it only probes and exits, and never needs apt
# (so machines without apt, or without network, pass as long as the programs are installed).
# apt-get update runs at most once per call. Needs root, or passwordless sudo.
set -euo pipefail

packages=()

# Kamailio + sipp (tests/kamailio, examples/kamailio): a stock Kamailio 5.6 (Debian bookworm: 5.6.3)
# with db_sqlite, http_client (utils) and json modules, db_postgres for the run against PostgreSQL
# (-A WITH_POSTGRES), and sipp (package sip-tester, 3.6.1) for the end-to-end SIP tests. Without
# them tests/kamailio skip with the reason (and fail under CI). The cfg's async sidecar calls use
# the `async` module of package kamailio: bookworm packages no http_async_client (checked: not in
# kamailio-extra-modules 5.6.3-2), so that package is not installed.
KAMAILIO_PACKAGES=(kamailio kamailio-sqlite-modules kamailio-utils-modules kamailio-json-modules
    kamailio-postgres-modules sip-tester)
have_kamailio() {
    local dir
    command -v kamailio >/dev/null 2>&1 && command -v kamcmd >/dev/null 2>&1 && command -v sipp >/dev/null 2>&1 \
        || return 1
    for dir in /usr/lib/*/kamailio/modules /usr/lib/kamailio/modules /usr/lib64/kamailio/modules; do
        [[ -e "$dir/db_sqlite.so" && -e "$dir/db_postgres.so" && -e "$dir/http_client.so" && -e "$dir/json.so" ]] \
            && return 0
    done
    return 1
}

in_ci() { [[ -n "${CI:-}" && "${CI,,}" != false && "${CI}" != 0 && "${CI,,}" != no ]]; }

have_postgres_server() {
    local initdb
    for initdb in /usr/lib/postgresql/*/bin/initdb; do
        [[ -x "$initdb" ]] && return 0
    done
    command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1
}

have_python_venv() {
    # `python3 -m venv` fails without ensurepip on Debian; probe exactly that.
    "${PYTHON:-python3}" -c 'import ensurepip, venv' >/dev/null 2>&1
}

case "${1:-tests}" in
    tests)
        have_postgres_server || packages+=(postgresql)
        command -v git >/dev/null 2>&1 || packages+=(git)
        command -v openssl >/dev/null 2>&1 || packages+=(openssl)
        have_kamailio || packages+=("${KAMAILIO_PACKAGES[@]}")
        ;;
    venv)
        have_python_venv || packages+=(python3-venv)
        ;;
    *)
        echo "usage: $0 [tests|venv]" >&2
        exit 2
        ;;
esac

as_root=()
if [[ "$(id -u)" -ne 0 ]]; then
    as_root=(sudo -n)
fi

if ((${#packages[@]})); then
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "install-system-deps: missing ${packages[*]} and apt-get is not available; install them by hand" >&2
        exit 1
    fi
    echo "install-system-deps: installing ${packages[*]}"
    export DEBIAN_FRONTEND=noninteractive
    "${as_root[@]}" apt-get update -qq
    "${as_root[@]}" apt-get install -y -qq --no-install-recommends "${packages[@]}"
fi

# PostgreSQL refuses to run as root; the test fixture runs it as `postgres`. The Debian package
# creates that user, hand-installed binaries may not have.
if [[ "${1:-tests}" == tests && "$(id -u)" -eq 0 ]] && ! getent passwd postgres >/dev/null; then
    echo "install-system-deps: creating system user postgres"
    useradd --system --user-group --home-dir /var/lib/postgresql --shell /bin/bash postgres
fi

# --- sops (GitOps secrets) ---------------------------------------------------------------------
# age-encrypted secret files need nothing here (the `pyrage` Python dependency decrypts them).
# SOPS-encrypted ones need the `sops` program, which Debian bookworm does not package; it is built
# from source with Go (minutes, once) into /usr/local/bin when TRUNKLINE_INSTALL_SOPS=1 or CI is set.
# Without sops the SOPS tests skip locally; under CI they fail, so CI builds it here.
if [[ "${1:-tests}" == tests ]] && { [[ "${TRUNKLINE_INSTALL_SOPS:-0}" == 1 ]] || in_ci; } \
    && ! command -v sops >/dev/null 2>&1; then
    go_bin=$(command -v go || { [[ -x /usr/local/go/bin/go ]] && echo /usr/local/go/bin/go; } || true)
    if [[ -n $go_bin ]]; then
        echo "install-system-deps: building sops with go install (github.com/getsops/sops/v3/cmd/sops)"
        sops_bin="$(mktemp -d)"
        GOBIN="$sops_bin" "$go_bin" install github.com/getsops/sops/v3/cmd/sops@v3.13.3
        "${as_root[@]}" install -m 0755 "$sops_bin/sops" /usr/local/bin/sops
        rm -rf "$sops_bin"
    else
        echo "install-system-deps: building sops needs Go, which is not installed" >&2
        if in_ci; then exit 1; fi
    fi
fi
