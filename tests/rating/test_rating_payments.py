"""Payments: minimum payment, tax added on top, ledger lines that sum to the balance."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import Engine, func, select
from support.rating_world import cdr_line, parse

from rating import loading
from rating.directory import Directory
from rating.ledger import ledger_sum, read_balances
from rating.payments import PaymentError, add_payment
from rating.rater import rate_cdrs
from switchdb.tables import ledger, payments


def catalog(engine: Engine) -> Directory:
    with engine.connect() as conn:
        return loading.load(conn, now=datetime.now(UTC))


def balance(engine: Engine, ref: str) -> Decimal:
    return {b.customer: b.amount for b in read_balances(engine)}[ref]


def test_a_completed_payment_credits_the_amount_and_books_the_tax_on_top(engine):
    acme = catalog(engine).customer("acme")  # taxPercent 10
    payment = add_payment(engine, acme, Decimal("100"), "Completed", "wire 2026-03")
    assert (payment.amount, payment.tax, payment.balance_after) == (Decimal("100"), Decimal("10.00"), Decimal("100"))
    assert balance(engine, "default/acme") == Decimal("100")
    with engine.connect() as conn:
        lines = [(r.entry_type, r.amount, r.balance_after) for r in conn.execute(select(ledger).order_by(ledger.c.id))]
        assert lines == [("payment", Decimal("110"), Decimal("110")), ("tax", Decimal("-10"), Decimal("100"))]
        row = conn.execute(select(payments)).one()
        assert (row.amount, row.tax, row.status, row.description) == (
            Decimal("100"),
            Decimal("10"),
            "Completed",
            "wire 2026-03",
        )
    # a call then debits it: 31 s to 44 at 30/6 -> 0.04
    rate_cdrs(engine, catalog(engine), parse([cdr_line("c", "442071234567", seconds=31)]))
    assert balance(engine, "default/acme") == Decimal("99.96")
    with engine.connect() as conn:
        assert ledger_sum(conn, acme.id) == Decimal("99.96")


@pytest.mark.parametrize(
    ("amount", "tax"),
    [
        pytest.param("150.05", "15.01", id="tax-rounded-half-up-to-cents"),
        pytest.param("100", "10.00", id="exactly-the-minimum"),
    ],
)
def test_tax_is_the_customers_percent_of_the_amount(engine, amount, tax):
    payment = add_payment(engine, catalog(engine).customer("acme"), Decimal(amount))
    assert payment.tax == Decimal(tax)
    assert balance(engine, "default/acme") == Decimal(amount)


@pytest.mark.parametrize("status", ["Pending", "Cancelled"])
def test_pending_and_cancelled_payments_are_recorded_without_credit(engine, status):
    payment = add_payment(engine, catalog(engine).customer("acme"), Decimal("200"), status)
    assert payment.balance_after is None
    assert balance(engine, "default/acme") == 0
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(ledger)).scalar_one() == 0
        assert conn.execute(select(payments.c.status)).scalar_one() == status


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        pytest.param("99.99", "payment of 99.99 USD is below the minimum payment of 100 USD", id="below-minimum"),
        pytest.param("0", "a payment must be a positive amount, not 0", id="zero"),
        pytest.param("-100", "a payment must be a positive amount, not -100", id="negative"),
    ],
)
def test_payments_below_the_minimum_are_refused_and_write_nothing(engine, amount, message):
    with pytest.raises(PaymentError) as caught:
        add_payment(engine, catalog(engine).customer("acme"), Decimal(amount))
    assert message in caught.value.message
    assert caught.value.exit_code == 2
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(payments)).scalar_one() == 0


def test_a_customer_without_tax_gets_one_ledger_line(engine):
    bluefin = catalog(engine).customer("default/bluefin")  # taxPercent 0, minimumPayment 0
    add_payment(engine, bluefin, Decimal("5"))
    with engine.connect() as conn:
        assert [(r.entry_type, r.amount) for r in conn.execute(select(ledger))] == [("payment", Decimal("5"))]
