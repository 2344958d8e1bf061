#!/usr/bin/env bash
# `make demo`: the main job on the embedded SQLite default (./trunkline.db):
# validate examples/, show the plan, apply it, list what the switch now holds, rate the
# sample calls in examples/cdrs/, and show the calls, statistics, balances and a simulated call.
#
# The examples' SIP and portal passwords come from TRUNKLINE_EXAMPLE_* variables. Any that are
# not set get a random value kept in .cache/demo-secrets.env (mode 600, git-ignored), so a
# second `make demo` plans "No changes" instead of rotating every password.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
trunkline=.venv/bin/trunkline
secrets=.cache/demo-secrets.env

mkdir -p .cache
umask 077
for var in $(grep -rhoE 'TRUNKLINE_EXAMPLE_[A-Z0-9_]+' examples/*.yaml | sort -u); do
    if [[ -z "${!var:-}" ]] && ! grep -q "^export $var=" "$secrets" 2>/dev/null; then
        echo "export $var=$(.venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(18))')" >>"$secrets"
    fi
done
# shellcheck disable=SC1090
[[ -f "$secrets" ]] && source "$secrets"

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

step "trunkline validate examples/"
$trunkline validate examples/

step "trunkline plan examples/   (against ${TRUNKLINE_DB:-sqlite:///trunkline.db})"
$trunkline plan examples/

step "trunkline apply examples/ --auto-approve"
$trunkline apply examples/ --auto-approve

step "trunkline plan examples/   (again: nothing left to do)"
$trunkline plan examples/

step "trunkline get customers"
$trunkline get customers

step "trunkline get ipauth --search 127.0.0"
$trunkline get ipauth --search 127.0.0

step "trunkline history"
$trunkline history

step "trunkline rate examples/cdrs/sample.jsonl   (each call id is charged once: run it again and nothing is charged)"
$trunkline rate examples/cdrs/sample.jsonl

step "trunkline calls --customer acme-voip"
$trunkline calls --customer acme-voip --limit 10

step "trunkline stats --customer acme-voip --by day"
$trunkline stats --customer acme-voip --by day

step "trunkline packages charge   (this month's package prices, once: run it again and nothing is charged)"
$trunkline packages charge

step "trunkline balance"
$trunkline balance

step "trunkline simulate --ip 127.0.0.2 --cli 12125550100 --pai 12125550100 --dialed 442079460123"
$trunkline simulate --ip 127.0.0.2 --cli 12125550100 --pai 12125550100 --dialed 442079460123
