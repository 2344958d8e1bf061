"""Sidecars meeting in PostgreSQL: the same CDRs replayed by several processes at once.

Three processes (two in file order, one in reverse order, so their batches overlap differently)
rate the same 240 calls of two customers in batches of 10. Every call must be stored and charged
by exactly one of them, and each balance must equal both the sum of its ledger lines and the
hand-checkable sum of the call prices.
"""

from __future__ import annotations

import multiprocessing
import subprocess
import sys
from decimal import ROUND_CEILING, Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select
from support.rating_world import apply_world, cdr_line, jsonl, rate_in_worker

from rating.ledger import ledger_sum, read_balances
from switchdb.engine import open_database
from switchdb.tables import cdrs, customers, ledger, package_usage

pytestmark = pytest.mark.postgres
ROOT = Path(__file__).resolve().parents[2]
CENTS = Decimal("0.0001")  # the cards' precision


def calls() -> tuple[list[dict], Decimal, Decimal]:
    """80 UK calls of acme, 80 NANP calls of acme (package), 80 French calls of bluefin; the UK and French totals."""
    records, uk, fr = [], Decimal(0), Decimal(0)
    for i in range(80):
        seconds = 1 + i % 50
        minute = f"2026-03-01T{10 + i // 60:02d}:{i % 60:02d}:00Z"
        records.append(cdr_line(f"uk-{i}", "442071234567", seconds=seconds, answer=minute))
        # 30/6 billing: max(30, ceil to 6 after 30); 0.01 connect fee + 0.05/min
        billed = 30 if seconds <= 30 else 30 + -(-(seconds - 30) // 6) * 6
        uk += (Decimal("0.01") + Decimal("0.05") * billed / 60).quantize(CENTS, rounding=ROUND_CEILING)
        records.append(cdr_line(f"us-{i}", "12125550100", seconds=seconds, answer=minute))
        records.append(cdr_line(f"fr-{i}", "33142685300", seconds=seconds, answer=minute, source="192.0.2.20"))
        fr += (Decimal("0.02") * seconds / 60).quantize(CENTS, rounding=ROUND_CEILING)  # 1/1, precision 4, up
    return records, uk, fr


def check_consistent(url: str, expected_uk: Decimal, expected_fr: Decimal) -> None:
    engine = open_database(url)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(cdrs)).scalar_one() == 240
        refs = conn.execute(select(ledger.c.reference)).scalars().all()
        assert len(refs) == len(set(refs)), "a call was charged twice"
        ids = {r.name: r.id for r in conn.execute(select(customers.c.id, customers.c.name))}
        costs = {
            r.call_id: r.cost for r in conn.execute(select(cdrs.c.call_id, cdrs.c.cost).where(cdrs.c.status == "Rated"))
        }
        balances = {b.customer: b.amount for b in read_balances(engine)}
        for name in ("acme", "bluefin"):
            assert ledger_sum(conn, ids[name]) == balances[f"default/{name}"]
        uk = sum((c for k, c in costs.items() if k.startswith("uk-")), Decimal(0))
        us = sum((c for k, c in costs.items() if k.startswith("us-")), Decimal(0))
        assert uk == expected_uk
        assert balances["default/acme"] == -(uk + us)
        assert balances["default/bluefin"] == -expected_fr
        # the package's 120 s went to exactly the calls that recorded them
        package_seconds = conn.execute(select(func.sum(cdrs.c.package_seconds))).scalar_one()
        assert conn.execute(select(package_usage.c.seconds_used)).scalar_one() == package_seconds == 120
    engine.dispose()


def test_three_processes_replaying_one_batch_charge_each_call_once(postgres_url, monkeypatch):
    engine = open_database(postgres_url)
    apply_world(engine, monkeypatch)
    engine.dispose()
    records, uk, fr = calls()
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(3), context.Queue()
    orders = [records, records, list(reversed(records))]
    workers = [
        context.Process(target=rate_in_worker, args=(postgres_url, order, 10, barrier, results)) for order in orders
    ]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=240) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0
    assert sum(rated for rated, *_ in outcomes) == 240
    assert sum(duplicates for _, duplicates, *_ in outcomes) == 480
    assert sum(Decimal(eur) for *_, eur in outcomes) == fr
    check_consistent(postgres_url, uk, fr)


def test_two_trunkline_rate_commands_at_once(postgres_url, monkeypatch, tmp_path):
    engine = open_database(postgres_url)
    apply_world(engine, monkeypatch)
    engine.dispose()
    records, uk, fr = calls()
    forward, backward = tmp_path / "forward.jsonl", tmp_path / "backward.jsonl"
    forward.write_text(jsonl(records))
    backward.write_text(jsonl(list(reversed(records))))
    command = [sys.executable, "-m", "reconciler.cli", "rate", "--db", postgres_url, "--batch-size", "10", "-o", "json"]
    processes = [
        subprocess.Popen([*command, str(path)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for path in (forward, backward)
    ]
    outputs = [process.communicate(timeout=240) for process in processes]
    assert [process.returncode for process in processes] == [0, 0], outputs
    check_consistent(postgres_url, uk, fr)
