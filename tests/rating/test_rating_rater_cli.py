"""The rating commands: ``rate``, ``cdr export``, ``calls``, ``payments add``, ``balance``; output and exit codes."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from support.cli import CliRun, run_cli
from support.rating_world import BATCH, BATCH_TOTAL, apply_world, jsonl

from rating.export import EXPORT_COLUMNS
from switchdb.engine import open_database
from switchdb.tables import cdrs

RECORDS = [record for record, *_ in BATCH]


@pytest.fixture
def world(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    engine = open_database(db_url)
    apply_world(engine, monkeypatch)
    engine.dispose()
    yield db_url


@pytest.fixture
def trunkline(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, world: str) -> Callable[..., CliRun]:
    """``trunkline(*args)``: the CLI in-process against ``world`` (``--db`` appended)."""
    monkeypatch.delenv("TRUNKLINE_DB", raising=False)
    monkeypatch.delenv("TRUNKLINE_DEBUG", raising=False)
    return lambda *args: run_cli(capsys, *args, "--db", world)


def stored(db_url: str) -> int:
    engine = open_database(db_url)
    with engine.connect() as conn:
        count = conn.execute(select(func.count()).select_from(cdrs)).scalar_one()
    engine.dispose()
    return count


def write_csv(path: Path, records: list[dict]) -> Path:
    names = ["callId", "start", "answer", "end", "sourceIp", "sourcePort", "username", "cli", "dialed", "sipCode"]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=names)
    writer.writeheader()
    writer.writerows(records)
    path.write_text(buffer.getvalue())
    return path


@pytest.mark.parametrize("form", ["jsonl", "csv"])
def test_rate_prints_counts_and_charges_once(trunkline, tmp_path, form):
    if form == "csv":
        path = write_csv(tmp_path / "cdrs.csv", RECORDS)
    else:
        path = tmp_path / "cdrs.jsonl"
        path.write_text(jsonl(RECORDS))
    first = trunkline("rate", str(path))
    assert first.returncode == 0, first.stderr
    assert "rated 7, duplicate 0, rejected 2, unrated 0" in first.stdout
    assert f"charged {BATCH_TOTAL} USD" in first.stdout
    assert "rejected c6: unknown source IP 192.0.2.99" in first.stdout
    again = trunkline("rate", str(path), "-o", "json")
    assert again.returncode == 0
    assert json.loads(again.stdout) == {"rated": 0, "duplicate": 9, "rejected": 0, "unrated": 0, "charged": {}}


def test_a_malformed_line_in_any_file_rates_nothing_and_exits_2(trunkline, tmp_path, world):
    good = tmp_path / "good.jsonl"
    good.write_text(jsonl(RECORDS))
    bad = tmp_path / "bad.jsonl"
    broken = dict(RECORDS[0], callId="b1")
    del broken["dialed"]
    bad.write_text(jsonl([RECORDS[1]]) + jsonl([broken]) + "{not json\n")
    result = trunkline("rate", str(good), str(bad))
    assert result.returncode == 2
    assert f"{bad}:2: dialed: is required" in result.stderr
    assert f"{bad}:3: is not valid JSON" in result.stderr
    assert "nothing was rated" in result.stderr
    assert stored(world) == 0


def test_rate_of_a_missing_file_exits_2(trunkline, tmp_path):
    assert trunkline("rate", str(tmp_path / "absent.jsonl")).returncode == 2


def test_cdr_export_calls_and_balance(trunkline, tmp_path):
    path = tmp_path / "cdrs.jsonl"
    path.write_text(jsonl(RECORDS))
    assert trunkline("rate", str(path)).returncode == 0

    exported = trunkline(
        "cdr", "export", "--customer", "default/acme", "--from", "2026-03-01T10:05:00Z", "--output", "csv"
    )
    assert exported.returncode == 0, exported.stderr
    rows = list(csv.DictReader(io.StringIO(exported.stdout)))
    assert [r["callId"] for r in rows] == ["c2", "c3", "c4", "c5", "c9"]
    assert tuple(rows[0]) == EXPORT_COLUMNS
    lines = trunkline("cdr", "export", "--to", "2026-03-01T10:00:01Z")
    assert [json.loads(line)["callId"] for line in lines.stdout.splitlines()] == ["c1", "c6", "c7", "c8"]

    calls = trunkline("calls", "--customer", "acme", "--limit", "2", "-o", "json")
    assert [c["callId"] for c in json.loads(calls.stdout)] == ["c9", "c5"]
    table = trunkline("calls", "--customer", "acme", "--limit", "2")
    assert table.returncode == 0 and "c5" in table.stdout and "0.04 USD" in table.stdout

    balances = trunkline("balance", "-o", "json")
    assert json.loads(balances.stdout) == [
        {"customer": "default/acme", "amount": f"-{BATCH_TOTAL}", "currency": "USD"},
        {"customer": "default/bluefin", "amount": "0", "currency": "EUR"},
    ]


@pytest.mark.parametrize(
    ("args", "code", "text"),
    [
        pytest.param(("--amount", "100"), 0, "payment 1 Completed: 100 USD + tax 10; balance 100 USD", id="completed"),
        pytest.param(
            ("--amount", "100", "--status", "Pending"), 0, "payment 1 Pending: 100 USD + tax 10", id="pending"
        ),
        pytest.param(("--amount", "99.99"), 2, "below the minimum payment of 100 USD", id="below-minimum"),
        pytest.param(("--amount", "ten"), 2, "is not a decimal number", id="not-a-number"),
        pytest.param(("--amount", "100", "--status", "Done"), 2, "Invalid value for '--status'", id="unknown-status"),
    ],
)
def test_payments_add(trunkline, args, code, text):
    result = trunkline("payments", "add", "--customer", "acme", *args, "--description", "wire")
    assert result.returncode == code
    assert text in (result.stdout + result.stderr)
    expected = "100" if text.endswith("balance 100 USD") else "0"
    assert json.loads(trunkline("balance", "--customer", "acme", "-o", "json").stdout)[0]["amount"] == expected


def test_an_unknown_customer_exits_2(trunkline):
    result = trunkline("calls", "--customer", "nobody")
    assert result.returncode == 2
    assert "no customer nobody" in result.stderr
