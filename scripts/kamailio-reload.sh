#!/usr/bin/env bash
# Tell a running Kamailio to re-read what `trunkline apply` changed in the switch database.
#
#   scripts/kamailio-reload.sh [CTL_SOCKET]      (default: $KAMAILIO_CTL or kamcmd's default)
#
# - IP authentications: permissions caches the `address` view in memory (db_mode 1), so it
#   must be told: RPC `permissions.addressReload`.
# - SIP users: auth_db reads the `subscriber` view on every request; nothing to do.
# - Everything the rating sidecar uses (customers, routes, rates, limits) is reloaded by the
#   sidecar itself when a new revision appears (`trunkline sidecar --reload-interval`).
#
# Typical use: trunkline apply -y manifests/ && scripts/kamailio-reload.sh unix:/run/kamailio/kamailio_ctl
set -euo pipefail
socket="${1:-${KAMAILIO_CTL:-}}"
args=()
if [[ -n "$socket" ]]; then
    args=(-s "$socket")
fi
kamcmd "${args[@]}" permissions.addressReload
echo "kamailio-reload: address table reloaded ($(kamcmd "${args[@]}" permissions.addressDump | grep -c 'ip:') entries)"
