"""The rated CDR export (RESOURCES.md): fields, filters, JSON lines and CSV, and re-rating an export."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine
from support.rating_world import BATCH, apply_world, parse

from rating import loading
from rating.cdr import parse_csv, parse_jsonl
from rating.export import EXPORT_COLUMNS, latest_calls, query_cdrs, to_csv, to_jsonl
from rating.rater import rate_cdrs
from switchdb.engine import open_database

UK_CALL = {
    "callId": "c5",
    "start": "2026-03-01T10:12:00Z",
    "answer": "2026-03-01T10:12:00Z",
    "end": "2026-03-01T10:12:31Z",
    "sourceIp": "198.51.100.10",
    "cli": "15125550100",
    "dialed": "442071234567",
    "sipCode": 200,
    "customer": "default/acme",
    "route": "acme-standard",
    "rateCard": "usd-test",
    "prefix": "44",
    "perMinute": "0.05",
    "billedSeconds": 36,
    "packageSeconds": 0,
    "connectFee": "0.01",
    "cost": "0.04",
    "currency": "USD",
    "status": "Rated",
}
BLOCKED_CALL = {
    "callId": "c4",
    "start": "2026-03-01T10:11:00Z",
    "answer": "2026-03-01T10:11:00Z",
    "end": "2026-03-01T10:11:30Z",
    "sourceIp": "198.51.100.10",
    "cli": "15125550100",
    "dialed": "447700900123",
    "sipCode": 200,
    "customer": "default/acme",
    "route": "acme-standard",
    "rateCard": "usd-test",
    "prefix": "4477",
    "billedSeconds": 0,
    "packageSeconds": 0,
    "status": "Rejected",
    "reason": "prefix 4477 is blocked on rate card default/usd-test",
}
UNKNOWN_SOURCE_CALL = {
    "callId": "c6",
    "start": "2026-03-01T10:00:00Z",
    "answer": "2026-03-01T10:00:00Z",
    "end": "2026-03-01T10:00:31Z",
    "sourceIp": "192.0.2.99",
    "cli": "15125550100",
    "dialed": "442071234567",
    "sipCode": 200,
    "billedSeconds": 0,
    "packageSeconds": 0,
    "status": "Rejected",
    "reason": "unknown source IP 192.0.2.99",
}


@pytest.fixture
def engine(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    engine = open_database(db_url)
    apply_world(engine, monkeypatch)
    with engine.connect() as conn:
        catalog = loading.load(conn, now=datetime.now(UTC))
    rate_cdrs(engine, catalog, parse([record for record, *_ in BATCH]))
    yield engine
    engine.dispose()


def test_json_lines_carry_every_export_field(engine):
    records = {json.loads(line)["callId"]: json.loads(line) for line in to_jsonl(query_cdrs(engine))}
    assert records["c5"] == UK_CALL
    assert records["c4"] == BLOCKED_CALL
    assert records["c6"] == UNKNOWN_SOURCE_CALL
    assert records["c8"]["route"] == "acme-premium" and records["c8"]["dialed"] == "99442071234567"
    assert "answer" not in records["c9"] and records["c9"]["cost"] == "0"


def test_csv_has_the_export_header_and_empty_cells_for_absent_fields(engine):
    rows = {row["callId"]: row for row in csv.DictReader(io.StringIO("".join(to_csv(query_cdrs(engine)))))}
    assert tuple(next(csv.reader(io.StringIO("".join(to_csv([])))))) == EXPORT_COLUMNS
    expected = {name: str(UK_CALL.get(name, "")) for name in EXPORT_COLUMNS}
    assert rows["c5"] == expected
    assert rows["c4"]["reason"] == BLOCKED_CALL["reason"] and rows["c4"]["cost"] == ""


@pytest.mark.parametrize(
    ("customer", "start_from", "start_to", "expected"),
    [
        pytest.param(
            None, None, None, ["c1", "c6", "c7", "c8", "c2", "c3", "c4", "c5", "c9"], id="everything-by-start"
        ),
        pytest.param("acme", None, None, ["c1", "c7", "c8", "c2", "c3", "c4", "c5", "c9"], id="one-customer"),
        pytest.param("bluefin", None, None, [], id="customer-without-calls"),
        pytest.param(
            None, "2026-03-01T10:05:00", "2026-03-01T10:12:00", ["c2", "c3", "c4"], id="from-inclusive-to-exclusive"
        ),
    ],
)
def test_filters(engine, customer, start_from, start_to, expected):
    with engine.connect() as conn:
        who = loading.load(conn, now=datetime.now(UTC)).customer(customer) if customer else None
    records = query_cdrs(
        engine,
        customer=who,
        start_from=datetime.fromisoformat(start_from).replace(tzinfo=UTC) if start_from else None,
        start_to=datetime.fromisoformat(start_to).replace(tzinfo=UTC) if start_to else None,
    )
    assert [r["callId"] for r in records] == expected


def test_latest_calls_newest_first(engine):
    with engine.connect() as conn:
        acme = loading.load(conn, now=datetime.now(UTC)).customer("acme")
    assert [r["callId"] for r in latest_calls(engine, acme, limit=3)] == ["c9", "c5", "c4"]


@pytest.mark.parametrize("form", ["jsonl", "csv"])
def test_an_export_can_be_rated_again_and_charges_nothing(engine, form):
    if form == "jsonl":
        cdrs, errors = parse_jsonl("\n".join(to_jsonl(query_cdrs(engine))))
    else:
        cdrs, errors = parse_csv("".join(to_csv(query_cdrs(engine))))
    assert errors == [] and len(cdrs) == 9
    with engine.connect() as conn:
        catalog = loading.load(conn, now=datetime.now(UTC))
    result = rate_cdrs(engine, catalog, cdrs)
    assert (result.rated, result.duplicates, result.charged) == (0, 9, {})
