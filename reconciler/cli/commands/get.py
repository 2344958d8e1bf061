"""``trunkline get KIND [NAME]``: what the switch database holds, as tables or manifests.

``--search`` behaves like the ConnexCS search box: for customers it also matches the IP
addresses, SIP usernames and DID numbers that belong to them.
"""

from __future__ import annotations

from typing import Any

import click
from rich.table import Table
from ruamel.yaml import YAML

from reconciler.cli.app import cli, db_option
from reconciler.cli.common import open_db
from reconciler.cli.output import console, print_json
from reconciler.export import export_manifests
from reconciler.mapping import kind_maps
from reconciler.observe import LiveState, observe
from reconciler.rows import ObjectRows, canonical
from resources.meta import ObjectKey
from resources.schema import resolve_kind

# Child kinds whose text identifies their customer in a search (IP, SIP user, DID number).
SEARCHED_THROUGH = ("IpAuthentication", "CredentialAuthentication", "Did")


def _texts(rows: ObjectRows) -> list[str]:
    texts = [rows.key.name]
    for value in rows.row.values():
        if isinstance(value, str):
            texts.append(value)
        elif isinstance(value, list):
            texts.extend(str(v) for v in value)
    return [t.lower() for t in texts]


def _matches(live: LiveState, kind: str, needle: str) -> set[ObjectKey]:
    needle = needle.lower()
    found = {k for k, rows in live.rows.items() if k.kind == kind and any(needle in t for t in _texts(rows))}
    if kind == "Customer":
        for key, rows in live.rows.items():
            if key.kind in SEARCHED_THROUGH and any(needle in t for t in _texts(rows)):
                customer = rows.row.get("customer_id")
                if customer is not None:
                    found.add(ObjectKey("Customer", key.namespace, customer))
    return found


def _cell(value: Any) -> str:
    value = canonical(value)
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


@cli.command()
@click.argument("kind")
@click.argument("name", required=False)
@db_option
@click.option("--namespace", "-n", default=None, help="only this namespace (default: all)")
@click.option("--status", type=click.Choice(["Active", "Inactive", "PendingApproval"]), help="customers in this status")
@click.option("--search", "-s", default=None, help="text matching name, IP, SIP username or DID number")
@click.option("--output", "-o", type=click.Choice(["table", "yaml", "json"]), default="table", show_default=True)
def get(
    kind: str,
    name: str | None,
    db_url: str | None,
    namespace: str | None,
    status: str | None,
    search: str | None,
    output: str,
) -> None:
    """List objects of KIND in the switch database (managed or not)."""
    kind = resolve_kind(kind).__name__
    engine = open_db(db_url)
    kinds = kind_maps()
    with engine.connect() as conn:
        live = observe(conn, kinds)
    keys = {k for k in live.rows if k.kind == kind}
    if name is not None:
        keys = {k for k in keys if k.name == name}
    if namespace is not None:
        keys = {k for k in keys if k.namespace == namespace}
    if status is not None:
        keys = {k for k in keys if live.rows[k].row.get("status") == status}
    if search:
        keys &= _matches(live, kind, search)
    ordered = sorted(keys)
    if output == "json":
        print_json(export_manifests(live, ordered))
        return
    if output == "yaml":
        yaml = YAML(typ="safe", pure=True)
        yaml.default_flow_style = False
        yaml.dump_all(export_manifests(live, ordered), console.file)
        return
    kmap = kinds[kind]
    fields = [f for name in kmap.model.table_fields for f in kmap.fields if f.label == name]
    table = Table(box=None, header_style="bold")
    for header in ("NAMESPACE", "NAME", *(f.label.upper() for f in fields), "MANAGED"):
        table.add_column(header)
    for key in ordered:
        rows = live.rows[key]
        table.add_row(
            key.namespace,
            key.name,
            *(_cell(rows.row.get(f.column)) for f in fields),
            "yes" if key in live.owned else "no",
        )
    if not ordered:
        console.print(f"No {kmap.model.plural} found.")
        return
    console.print(table)
