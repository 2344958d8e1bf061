"""The rows rating stores, column by column, and the checks of its bare-driver path on PostgreSQL.

PostgreSQL gets the CDR rows and ledger lines by binary COPY and the balances by array
statements (``rating.postgres_bulk``), SQLite through SQLAlchemy: both must store exactly the
same values, refuse the same bad ones, and raise SQLAlchemy's errors (the rater retries on them).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import OperationalError
from support.rating_world import BATCH, parse

from rating import loading, postgres_bulk
from rating.rater import CDR_COLUMNS, rate_cdrs
from switchdb.tables import balances, cdrs, customers, ledger
from switchdb.types import Money, UtcDateTime

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def rate_batch(engine: Engine) -> int:
    """Rate the world's batch at ``NOW``; acme's customer id."""
    with engine.connect() as conn:
        directory = loading.load(conn, now=NOW)
        acme = conn.execute(select(customers.c.id).where(customers.c.name == "acme")).scalar_one()
    rate_cdrs(engine, directory, parse([record for record, *_ in BATCH]), now=NOW)
    return acme


def test_ledger_lines_are_stored_column_for_column(engine):
    acme = rate_batch(engine)
    columns = [c for c in ledger.columns if c.name != "id"]
    with engine.connect() as conn:
        lines = [tuple(r) for r in conn.execute(select(*columns).order_by(ledger.c.id))]
        balance = conn.execute(select(balances.c.amount, balances.c.updated_at)).one()
    expected = []
    running = Decimal(0)
    for reference, amount, number, prefix in [
        ("c7", "-0.035", "442071234567", "44"),
        ("c8", "-0.075", "442071234567", "44"),
        ("c2", "-0.006", "13105550100", "1"),
        ("c3", "-0.01", "13105550101", "1"),
        ("c5", "-0.04", "442071234567", "44"),
    ]:
        running += Decimal(amount)
        description = f"call to {number} (prefix {prefix})"
        expected.append((acme, NOW, "call", Decimal(amount), "USD", reference, description, running))
    assert lines == expected
    assert tuple(balance) == (running, NOW)


def test_cdr_rows_are_stored_column_for_column(engine):
    acme = rate_batch(engine)
    with engine.connect() as conn:
        rows = {r.call_id: r._asdict() for r in conn.execute(select(*(cdrs.c[c] for c in CDR_COLUMNS)))}
    uk = rows["c5"]  # UK fixed, 30/6, with a connect fee
    answer = datetime(2026, 3, 1, 10, 12, tzinfo=UTC)
    assert {k: v for k, v in uk.items() if k not in ("route_id", "rate_card_id")} == {
        "call_id": "c5",
        "start": answer,
        "answer": answer,
        "end": answer + timedelta(seconds=31),
        "source_ip": "198.51.100.10",
        "source_port": None,
        "username": None,
        "cli": "15125550100",
        "pai": None,
        "dialed": "442071234567",
        "sip_code": 200,
        "pdd_ms": None,
        "customer_id": acme,
        "prefix": "44",
        "per_minute": Decimal("0.05"),
        "billed_seconds": 36,
        "package_seconds": 0,
        "connect_fee": Decimal("0.01"),
        "cost": Decimal("0.04"),
        "currency": "USD",
        "status": "Rated",
        "reason": None,
        "rated_at": NOW,
    }
    assert uk["route_id"] is not None and uk["rate_card_id"] is not None
    blocked = rows["c4"]  # priced far enough to name the prefix, but Rejected: no money columns
    money = (blocked["prefix"], blocked["per_minute"], blocked["connect_fee"], blocked["cost"], blocked["currency"])
    assert money == ("4477", None, None, None, None)
    reason = "prefix 4477 is blocked on rate card default/usd-test"
    assert (blocked["status"], blocked["reason"], blocked["billed_seconds"]) == ("Rejected", reason, 0)
    stranger = rows["c6"]
    assert (stranger["customer_id"], stranger["route_id"], stranger["status"]) == (None, None, "Rejected")


@pytest.mark.parametrize(
    "value",
    [Decimal("0.1"), Decimal("1E+2"), Decimal("-0.00000001"), Decimal("0.500000000"), 7, Decimal("999999999999")],
)
def test_money_check_passes_what_the_money_column_binds(value):
    assert postgres_bulk.money(value) == Money().process_bind_param(value, postgresql.dialect())


@pytest.mark.parametrize(
    ("value", "error"),
    [
        (Decimal("0.000000001"), ValueError),  # a 9th decimal (a card of precision 9 or 10)
        (Decimal("1E+12"), ValueError),
        (Decimal("NaN"), ValueError),
        (0.1, TypeError),
    ],
)
def test_money_check_refuses_what_the_money_column_refuses(value, error):
    with pytest.raises(error) as refused:
        Money().process_bind_param(value, postgresql.dialect())
    with pytest.raises(error, match=re.escape(str(refused.value))):
        postgres_bulk.money(value)


def test_instant_check_converts_to_utc_and_refuses_naive_times():
    paris = datetime(2026, 3, 1, 11, 0, tzinfo=timezone(timedelta(hours=1)))
    assert postgres_bulk.instant(paris) == UtcDateTime().process_bind_param(paris, postgresql.dialect())
    assert postgres_bulk.instant(paris).tzinfo is UTC
    with pytest.raises(ValueError, match="naive"):
        postgres_bulk.instant(datetime(2026, 3, 1, 11, 0))


@pytest.mark.postgres
def test_driver_errors_are_raised_as_sqlalchemy_errors(postgres_url):
    """A lock wait that fails inside the bare-driver path surfaces as ``conn.execute`` would raise it."""
    from support.rating_world import apply_world

    from switchdb.engine import open_database

    engine = open_database(postgres_url)
    with pytest.MonkeyPatch.context() as monkeypatch:
        apply_world(engine, monkeypatch)
    acme = rate_batch(engine)
    try:
        with engine.connect() as holder, holder.begin():
            holder.execute(select(balances).where(balances.c.customer_id == acme).with_for_update())
            with engine.connect() as conn, conn.begin():
                conn.execute(text("SET LOCAL lock_timeout = '50ms'"))
                with pytest.raises(OperationalError) as failed:
                    postgres_bulk.lock_balances(conn, [(acme, "USD")], NOW)
                assert failed.value.orig.sqlstate == "55P03"  # lock_not_available
    finally:
        engine.dispose()
