"""Payments: a customer's top-ups, with the customer's tax, credited through the ledger.

``add_payment(engine, customer, amount, status, description)`` records a payment row. The amount
must be positive and at least the customer's ``minimumPayment`` (else ``PaymentError``, exit 2).

Tax sign convention (docs/decisions.md): tax is *added* to what the customer pays. A payment
of ``amount`` at ``taxPercent`` costs the customer ``amount + tax`` (tax = amount x taxPercent /
100, rounded half up to cents) and credits the balance with exactly ``amount``. A Completed
payment writes two ledger lines in one transaction, under the balance row lock:

- ``payment``: ``+(amount + tax)``, what was received;
- ``tax``: ``-tax``, what is owed to the tax authority;

so the balance moves by ``amount`` and still equals the sum of the ledger lines. ``payments.amount``
is the credited amount, ``payments.tax`` the tax. Pending and Cancelled payments are recorded
without a ledger line and credit nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import Engine

from rating import RatingError
from rating.directory import Customer
from rating.ledger import line, lock_balances, money_text, write_balances, writing
from switchdb.tables import ledger, payments
from switchdb.tables.rating import PAYMENT_STATUSES

_CENT = Decimal("0.01")


class PaymentError(RatingError):
    """A payment that cannot be accepted (below the minimum, not positive, unknown status)."""

    exit_code = 2


@dataclass(frozen=True, slots=True)
class Payment:
    id: int
    customer: str  # namespace/name
    amount: Decimal  # credited to the balance
    tax: Decimal  # added on top: the customer pays amount + tax
    status: str
    description: str | None
    balance_after: Decimal | None  # None when nothing was credited


def tax_of(amount: Decimal, percent: Decimal) -> Decimal:
    return (amount * percent / 100).quantize(_CENT, rounding=ROUND_HALF_UP)


def add_payment(
    engine: Engine,
    customer: Customer,
    amount: Decimal,
    status: str = "Completed",
    description: str | None = None,
    *,
    now: datetime | None = None,
) -> Payment:
    """Record a payment; a Completed one credits ``amount`` through 'payment' and 'tax' ledger lines."""
    if status not in PAYMENT_STATUSES:
        raise PaymentError(f"payment status must be one of {', '.join(PAYMENT_STATUSES)}, not {status!r}")
    if not isinstance(amount, Decimal) or not amount.is_finite() or amount <= 0:
        raise PaymentError(f"a payment must be a positive amount, not {amount}")
    if amount < customer.minimum_payment:
        raise PaymentError(
            f"payment of {money_text(amount)} {customer.currency} is below the minimum payment of "
            f"{money_text(customer.minimum_payment)} {customer.currency} for customer {customer.ref}"
        )
    now = now or datetime.now(UTC)
    tax = tax_of(amount, customer.tax_percent)
    with engine.connect() as raw:
        conn = writing(raw)
        with conn.begin():
            payment_id = conn.execute(
                payments.insert().returning(payments.c.id),
                {
                    "customer_id": customer.id,
                    "created_at": now,
                    "description": description,
                    "amount": amount,
                    "tax": tax,
                    "status": status,
                },
            ).scalar_one()
            after = None
            if status == "Completed":
                before = lock_balances(conn, [customer], now)[customer.id]
                received = before + amount + tax
                after = received - tax
                reference = f"payment:{payment_id}"
                lines = [
                    line(
                        customer.id,
                        customer.currency,
                        "payment",
                        amount + tax,
                        at=now,
                        reference=reference,
                        description=description,
                        balance_after=received,
                    ),
                    line(
                        customer.id,
                        customer.currency,
                        "tax",
                        -tax,
                        at=now,
                        reference=reference,
                        description=f"tax {customer.tax_percent}%",
                        balance_after=after,
                    ),
                ]
                conn.execute(ledger.insert(), lines if tax else lines[:1])
                write_balances(conn, {customer.id: after}, now)
    return Payment(payment_id, customer.ref, amount, tax, status, description, after)
