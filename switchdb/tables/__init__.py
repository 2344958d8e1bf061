"""Every table of the switch database, on one ``metadata`` (the schema the migrations build).

- ``declared``: one main table per kind (``table.info["kind"]``) and child tables for lists
  of models (``table.info["parent"]``, ``table.info["spec_field"]``);
- ``ownership``: the inventory of owned rows and the revision history;
- ``rating``: balances, ledger, payments, CDRs, package usage and charges, per-minute stats;
- ``kamailio``: the ``version`` table (the ``address`` and ``subscriber`` views live in the
  migration only).
"""

from __future__ import annotations

from sqlalchemy import Table

from switchdb.tables.base import NAMING_CONVENTION, metadata
from switchdb.tables.declared import (
    alerts,
    credential_authentications,
    customer_cli_rules,
    customer_contacts,
    customers,
    dids,
    ingress_routes,
    ip_authentications,
    packages,
    rate_cards,
    rates,
)
from switchdb.tables.kamailio import KAMAILIO_TABLE_VERSIONS, KAMAILIO_VIEWS, cdr_queue, version
from switchdb.tables.ownership import trunkline_objects, trunkline_revisions, trunkline_table_changes
from switchdb.tables.rating import (
    balances,
    cdrs,
    ledger,
    package_billing,
    package_charges,
    package_usage,
    payments,
    stats_minute,
)

KIND_TABLES: dict[str, Table] = {t.info["kind"]: t for t in metadata.sorted_tables if "kind" in t.info}
"""Kind name → its main table."""


def child_tables_of(table: Table) -> list[Table]:
    """Child tables whose rows belong to a row of ``table`` (``customers`` → contacts, CLI rules)."""
    return [t for t in metadata.sorted_tables if t.info.get("parent") == table.name]


COUNTED_TABLES: tuple[str, ...] = tuple(
    sorted(
        {t.name for t in KIND_TABLES.values()}
        | {c.name for t in KIND_TABLES.values() for c in child_tables_of(t)}
        | {trunkline_objects.name}
    )
)
"""The tables a plan reads, whose writes ``trunkline_table_changes`` counts (migration 0004)."""


__all__ = [
    "COUNTED_TABLES",
    "KAMAILIO_TABLE_VERSIONS",
    "KAMAILIO_VIEWS",
    "KIND_TABLES",
    "NAMING_CONVENTION",
    "alerts",
    "balances",
    "cdr_queue",
    "cdrs",
    "child_tables_of",
    "credential_authentications",
    "customer_cli_rules",
    "customer_contacts",
    "customers",
    "dids",
    "ingress_routes",
    "ip_authentications",
    "ledger",
    "metadata",
    "package_billing",
    "package_charges",
    "package_usage",
    "packages",
    "payments",
    "rate_cards",
    "rates",
    "stats_minute",
    "trunkline_objects",
    "trunkline_revisions",
    "trunkline_table_changes",
    "version",
]
