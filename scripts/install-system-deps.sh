#!/usr/bin/env bash
# Install, from Debian/Ubuntu packages, the system programs the test suite needs, when missing.
#
#   scripts/install-system-deps.sh            PostgreSQL server binaries, git
#   scripts/install-system-deps.sh venv       python3-venv (Debian's python3 ships without it)
#
# Idempotent and quick: when everything is present it only probes and exits, and never needs apt
# (so machines without apt, or without network, pass as long as the programs are installed).
# apt-get update runs at most once per call. Needs root, or passwordless sudo.
set -euo pipefail

packages=()

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

# --- sops (optional; GitOps secrets) -------------------------------------------------------------
# age-encrypted secret files need nothing here (the `pyrage` Python dependency decrypts them).
# SOPS-encrypted ones need the `sops` program, which Debian bookworm does not package; with
# TRUNKLINE_INSTALL_SOPS=1 it is built from source with Go (minutes, once) into /usr/local/bin.
# Without sops, the SOPS tests skip; everything else works.
if [[ "${1:-tests}" == tests && "${TRUNKLINE_INSTALL_SOPS:-0}" == 1 ]] && ! command -v sops >/dev/null 2>&1; then
    if command -v go >/dev/null 2>&1; then
        echo "install-system-deps: building sops with go install (github.com/getsops/sops/v3/cmd/sops)"
        sops_bin="$(mktemp -d)"
        GOBIN="$sops_bin" go install github.com/getsops/sops/v3/cmd/sops@v3.13.3
        "${as_root[@]}" install -m 0755 "$sops_bin/sops" /usr/local/bin/sops
        rm -rf "$sops_bin"
    else
        echo "install-system-deps: TRUNKLINE_INSTALL_SOPS=1 needs Go to build sops; skipping" >&2
    fi
fi

# --- Kamailio + sipp (tests/kamailio, examples/kamailio) ------------------------------------------
# A stock Kamailio 5.6 (Debian bookworm: 5.6.3) with db_sqlite, http_client (utils) and json
# modules, and sipp (package sip-tester, 3.6.1) for the end-to-end SIP tests. Without them
# tests/kamailio skip with the reason (and fail under CI).
# kamailio-postgres-modules (db_postgres) for the run against PostgreSQL (-A WITH_POSTGRES).
have_kamailio_postgres() {
    local dir
    for dir in /usr/lib/*/kamailio/modules /usr/lib/kamailio/modules /usr/lib64/kamailio/modules; do
        [[ -e "$dir/db_postgres.so" ]] && return 0
    done
    return 1
}
if [[ "${1:-tests}" == tests ]] && { ! command -v kamailio >/dev/null 2>&1 || ! command -v sipp >/dev/null 2>&1 \
    || ! have_kamailio_postgres; }; then
    echo "install-system-deps: installing kamailio and sipp"
    DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y --no-install-recommends \
        kamailio kamailio-sqlite-modules kamailio-utils-modules kamailio-json-modules kamailio-postgres-modules \
        sip-tester
fi
