"""Rated CDRs in the export format of RESOURCES.md, as JSON lines or CSV.

A record is the CDR exchange format plus ``{customer (namespace/name), route, rateCard, prefix,
perMinute, billedSeconds, packageSeconds, connectFee, cost, currency, status, reason?}``. Money
is a decimal string (never a float), times are RFC 3339 UTC with ``Z``. In JSON, absent optional
fields (``answer`` of an unanswered call, ``reason`` of a rated one...) are left out; in CSV they
are empty cells. Either form can be fed to ``trunkline rate`` again (the export columns are
ignored on input, and the call ids are already stored, so nothing is charged twice).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, select

from rating.cdr import EXPORT_FIELDS, FIELDS, utc_text
from rating.directory import Customer
from rating.ledger import money_text
from switchdb.tables import cdrs, customers, ingress_routes, rate_cards

EXPORT_COLUMNS: tuple[str, ...] = (*FIELDS, *EXPORT_FIELDS)
_ALWAYS = frozenset({"callId", "start", "end", "cli", "dialed", "sipCode", "billedSeconds", "packageSeconds", "status"})


def query_cdrs(
    engine: Engine,
    *,
    customer: Customer | None = None,
    start_from: datetime | None = None,
    start_to: datetime | None = None,
    limit: int | None = None,
    newest_first: bool = False,
) -> Iterator[dict[str, Any]]:
    """Export records of stored CDRs whose start is in ``[start_from, start_to)``, oldest first."""
    c, cu, ro, rc = cdrs.c, customers.c, ingress_routes.c, rate_cards.c
    query = select(
        cdrs,
        cu.namespace.label("customer_namespace"),
        cu.name.label("customer_name"),
        ro.name.label("route_name"),
        rc.name.label("card_name"),
    ).select_from(
        cdrs.outerjoin(customers, cu.id == c.customer_id)
        .outerjoin(ingress_routes, ro.id == c.route_id)
        .outerjoin(rate_cards, rc.id == c.rate_card_id)
    )
    if customer is not None:
        query = query.where(c.customer_id == customer.id)
    if start_from is not None:
        query = query.where(c.start >= start_from)
    if start_to is not None:
        query = query.where(c.start < start_to)
    order = (c.start.desc(), c.id.desc()) if newest_first else (c.start, c.id)
    query = query.order_by(*order)
    if limit is not None:
        query = query.limit(limit)
    with engine.connect() as conn:
        for row in conn.execute(query).mappings():
            yield _record(row)


def latest_calls(engine: Engine, customer: Customer, limit: int = 20) -> list[dict[str, Any]]:
    """A customer's most recent calls (by start), newest first."""
    return list(query_cdrs(engine, customer=customer, limit=limit, newest_first=True))


def to_jsonl(records: Iterable[dict[str, Any]]) -> Iterator[str]:
    """One JSON object per record, absent fields left out."""
    for record in records:
        yield json.dumps({k: v for k, v in record.items() if v is not None or k in _ALWAYS}, separators=(",", ":"))


def to_csv(records: Iterable[dict[str, Any]]) -> Iterator[str]:
    """A header row, then one row per record (empty cells for absent fields); each chunk ends with CRLF."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow(EXPORT_COLUMNS)
    yield flush()
    for record in records:
        writer.writerow(["" if record.get(name) is None else record[name] for name in EXPORT_COLUMNS])
        yield flush()


def _record(row: Any) -> dict[str, Any]:
    return {
        "callId": row["call_id"],
        "start": _time(row["start"]),
        "answer": _time(row["answer"]),
        "end": _time(row["end"]),
        "sourceIp": row["source_ip"],
        "sourcePort": row["source_port"],
        "username": row["username"],
        "cli": row["cli"],
        "pai": row["pai"],
        "dialed": row["dialed"],
        "sipCode": row["sip_code"],
        "pddMs": row["pdd_ms"],
        "customer": _ref(row["customer_namespace"], row["customer_name"]),
        "route": row["route_name"],  # references name objects of the customer's namespace
        "rateCard": row["card_name"],
        "prefix": row["prefix"],
        "perMinute": _money(row["per_minute"]),
        "billedSeconds": row["billed_seconds"],
        "packageSeconds": row["package_seconds"],
        "connectFee": _money(row["connect_fee"]),
        "cost": _money(row["cost"]),
        "currency": row["currency"],
        "status": row["status"],
        "reason": row["reason"],
    }


def _ref(namespace: str | None, name: str | None) -> str | None:
    return None if name is None else f"{namespace}/{name}"


def _money(value: Decimal | None) -> str | None:
    return None if value is None else money_text(value)


def _time(value: datetime | None) -> str | None:
    return None if value is None else utc_text(value)
