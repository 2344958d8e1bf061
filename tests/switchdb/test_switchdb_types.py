"""Money never passes through a binary float; datetimes come back aware and in UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
import sqlalchemy as sa
from support.db import customer_row

from switchdb.tables import balances, ledger
from switchdb.types import Money, UtcDateTime

_metadata = sa.MetaData()
probe = sa.Table(
    "type_probe",
    _metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("amount", Money()),
    sa.Column("at", UtcDateTime()),
)


@pytest.fixture
def probe_engine(engine: sa.Engine) -> sa.Engine:
    _metadata.create_all(engine)
    return engine


@pytest.mark.parametrize(
    "amount",
    [
        pytest.param(Decimal("0.00012345"), id="sub-cent rate, 8 decimals"),
        pytest.param(Decimal("-1234.5"), id="negative balance"),
        pytest.param(Decimal("999999999999.99999999"), id="largest NUMERIC(20,8)"),
        pytest.param(Decimal("0.1") + Decimal("0.2"), id="0.3 exactly, which a float is not"),
        pytest.param(Decimal("1E-8"), id="exponent notation"),
        pytest.param(Decimal(0), id="zero"),
    ],
)
def test_money_round_trips_exactly(probe_engine: sa.Engine, amount: Decimal) -> None:
    with probe_engine.begin() as conn:
        conn.execute(probe.insert().values(id=1, amount=amount))
        back = conn.execute(sa.select(probe.c.amount)).scalar_one()
    assert isinstance(back, Decimal)
    assert back == amount


def test_money_is_never_stored_as_real_on_sqlite(sqlite_url: str) -> None:
    from switchdb.engine import open_database

    engine = open_database(sqlite_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO customers (namespace, name, display_name, status, currency, "
                    "debit_limit, minimum_payment, tax_percent, portal_access, channels, "
                    "flow_speed, tags) VALUES ('default', 'acme', 'Acme', 'Active', 'USD', "
                    "'0', '0', '0', 0, 0, 0, '[]')"
                )
            )
            conn.execute(
                balances.insert().values(
                    customer_id=1,
                    amount=Decimal("0.00012345"),
                    currency="USD",
                    updated_at=datetime.now(UTC),
                )
            )
            stored = conn.execute(sa.text("SELECT typeof(amount), amount FROM balances")).one()
    finally:
        engine.dispose()
    assert tuple(stored) == ("text", "0.00012345")


@pytest.mark.parametrize(
    ("value", "error"),
    [
        pytest.param(0.1, TypeError, id="a float has already lost digits"),
        pytest.param(True, TypeError, id="a boolean is not an amount"),
        pytest.param(Decimal("0.000000001"), ValueError, id="9 decimals would be rounded on PostgreSQL"),
        pytest.param(Decimal("1000000000000"), ValueError, id="13 integer digits overflow NUMERIC(20,8)"),
        pytest.param(Decimal("NaN"), ValueError, id="not a number"),
    ],
)
def test_money_refuses_what_it_cannot_store_exactly_on_both_backends(
    probe_engine: sa.Engine, value: object, error: type[Exception]
) -> None:
    with probe_engine.begin() as conn, pytest.raises(sa.exc.StatementError) as info:
        conn.execute(probe.insert().values(id=1, amount=value))
    assert isinstance(info.value.orig, error)


@pytest.mark.parametrize(
    ("amount", "text"),
    [
        pytest.param(Decimal("1.50"), "1.5", id="trailing zero dropped"),
        pytest.param(Decimal("1E+2"), "100", id="no exponent"),
        pytest.param(Decimal("-0.00"), "0", id="one zero"),
        pytest.param(Decimal("-0.00012345"), "-0.00012345", id="sign kept"),
    ],
)
def test_sqlite_stores_one_text_per_value(sqlite_url: str, amount: Decimal, text: str) -> None:
    engine = sa.create_engine(sqlite_url)
    _metadata.create_all(engine)
    try:
        with engine.begin() as conn:
            conn.execute(probe.insert().values(id=1, amount=amount))
            assert conn.execute(sa.text("SELECT amount FROM type_probe")).scalar_one() == text
    finally:
        engine.dispose()


def test_trailing_zeros_beyond_the_scale_are_accepted(probe_engine: sa.Engine) -> None:
    with probe_engine.begin() as conn:
        conn.execute(probe.insert().values(id=1, amount=Decimal("0.500000000000")))
        assert conn.execute(sa.select(probe.c.amount)).scalar_one() == Decimal("0.5")


@pytest.mark.parametrize(
    "written",
    [
        pytest.param(datetime(2025, 3, 30, 1, 30, tzinfo=UTC), id="utc"),
        pytest.param(datetime(2025, 3, 30, 3, 30, tzinfo=timezone(timedelta(hours=2))), id="utc+2"),
        pytest.param(datetime(2025, 3, 29, 20, 30, 0, 123456, tzinfo=timezone(timedelta(hours=-5))), id="micros"),
    ],
)
def test_utc_datetime_returns_aware_utc(probe_engine: sa.Engine, written: datetime) -> None:
    with probe_engine.begin() as conn:
        conn.execute(probe.insert().values(id=1, at=written))
        back = conn.execute(sa.select(probe.c.at)).scalar_one()
    assert back == written
    assert back.tzinfo is not None and back.utcoffset() == timedelta(0)


def test_naive_datetimes_are_refused(probe_engine: sa.Engine) -> None:
    with probe_engine.begin() as conn, pytest.raises(sa.exc.StatementError, match="naive datetime"):
        conn.execute(probe.insert().values(id=1, at=datetime(2025, 1, 1)))


def test_ledger_orders_by_instant_across_offsets(engine: sa.Engine) -> None:
    early = datetime(2025, 1, 1, 12, 0, tzinfo=timezone(timedelta(hours=5)))  # 07:00 UTC
    late = datetime(2025, 1, 1, 8, 0, tzinfo=UTC)
    with engine.begin() as conn:
        for at, ref in ((late, "late"), (early, "early")):
            conn.execute(
                ledger.insert().values(
                    customer_id=1,
                    at=at,
                    entry_type="call",
                    amount=Decimal("-0.01"),
                    currency="USD",
                    reference=ref,
                    balance_after=Decimal(0),
                )
            )
        order = conn.execute(sa.select(ledger.c.reference).order_by(ledger.c.at)).scalars().all()
    assert order == ["early", "late"]


def test_json_text_does_not_depend_on_key_order(sqlite_url: str) -> None:
    """Labels from YAML, Kubernetes or Pulumi arrive in any key order; the stored text is one."""
    from switchdb.engine import open_database
    from switchdb.tables import metadata

    customers = metadata.tables["customers"]
    engine = open_database(sqlite_url)
    with engine.begin() as conn:
        conn.execute(customers.insert(), customer_row("one", "a", labels={"tier": "1", "region": "eu"}))
        conn.execute(customers.insert(), customer_row("two", "a", labels={"region": "eu", "tier": "1"}))
        texts = conn.execute(sa.text("SELECT labels FROM customers ORDER BY name")).scalars().all()
    engine.dispose()
    assert texts[0] == texts[1] == '{"region": "eu", "tier": "1"}'
