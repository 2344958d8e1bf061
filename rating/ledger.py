"""Balances and the ledger: every change of a balance is a ledger line with the balance after it.

A balance is never a number changed in place without history: whoever moves money locks the
customer's ``balances`` row (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite serializes writers
with an immediate transaction), appends ledger lines whose ``balance_after`` runs from the locked
amount, and writes the final amount, all in one transaction. So ``balances.amount`` always equals
the sum of the customer's ledger lines, and two sidecars meeting in PostgreSQL serialize on the
row. Locks are always taken in customer id order, so two writers never deadlock on them.

Sign convention: a positive balance is the customer's credit; calls are negative lines,
payments positive (see ``rating.payments`` for tax).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite

from rating import postgres_bulk
from rating.directory import Customer
from switchdb.tables import balances, customers, ledger

ZERO = Decimal(0)


def money_text(value: Decimal) -> str:
    """``Decimal('100.00000000')`` (as PostgreSQL returns it) → ``'100'``; one text per amount."""
    return "0" if value == 0 else format(value.normalize(), "f")


def writing(conn: Connection) -> Connection:
    """``conn`` for a transaction that moves money: on SQLite it takes the write lock at BEGIN (IMMEDIATE)."""
    return conn.execution_options(sqlite_begin="IMMEDIATE") if conn.dialect.name == "sqlite" else conn


# The columns of a ledger line, in the order of ``line``'s keys (rows written as tuples use it).
LINE_COLUMNS = ("customer_id", "at", "entry_type", "amount", "currency", "reference", "description", "balance_after")


def line(
    customer_id: int,
    currency: str,
    entry_type: str,
    amount: Decimal,
    *,
    at: datetime,
    reference: str | None,
    description: str | None,
    balance_after: Decimal,
) -> dict[str, object]:
    """One ``ledger`` row, as every writer of money inserts it."""
    return {
        "customer_id": customer_id,
        "at": at,
        "entry_type": entry_type,
        "amount": amount,
        "currency": currency,
        "reference": reference,
        "description": description,
        "balance_after": balance_after,
    }


def dialect_insert(conn: Connection, table: Any) -> Any:
    """``INSERT`` of the connection's dialect, which has ``on_conflict_do_nothing``/``do_update``."""
    return (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(table)


def lock_balances(conn: Connection, owners: Iterable[Customer], now: datetime) -> dict[int, Decimal]:
    """Create missing balance rows (0) and lock them all, in id order; customer id → amount."""
    ordered = sorted({c.id: c for c in owners}.values(), key=lambda c: c.id)
    if not ordered:
        return {}
    if conn.dialect.name == "postgresql":  # one statement each, whatever the number of customers
        return postgres_bulk.lock_balances(conn, [(c.id, c.currency) for c in ordered], now)
    conn.execute(
        dialect_insert(conn, balances).on_conflict_do_nothing(index_elements=["customer_id"]),
        [{"customer_id": c.id, "amount": ZERO, "currency": c.currency, "updated_at": now} for c in ordered],
    )
    query = (
        select(balances.c.customer_id, balances.c.amount)
        .where(balances.c.customer_id.in_([c.id for c in ordered]))
        .order_by(balances.c.customer_id)
        .with_for_update()
    )
    return {row.customer_id: row.amount for row in conn.execute(query)}


def write_balances(conn: Connection, amounts: dict[int, Decimal], now: datetime) -> None:
    """Store the new amounts of balances locked by ``lock_balances`` (one statement)."""
    if not amounts:
        return
    if conn.dialect.name == "postgresql":
        postgres_bulk.write_balances(conn, amounts, now)
        return
    conn.execute(
        update(balances)
        .where(balances.c.customer_id == bindparam("cid"))
        .values(amount=bindparam("new_amount"), updated_at=bindparam("now")),
        [{"cid": cid, "new_amount": amount, "now": now} for cid, amount in sorted(amounts.items())],
    )


@dataclass(frozen=True, slots=True)
class Balance:
    customer: str  # namespace/name
    amount: Decimal
    currency: str
    updated_at: datetime | None


def read_balances(engine: Engine, customer: Customer | None = None) -> list[Balance]:
    """Balances with their customer (0 for a customer that never had a ledger line), by customer."""
    c, b = customers.c, balances.c
    query = (
        select(c.id, c.namespace, c.name, c.currency, b.amount, b.updated_at)
        .select_from(customers.outerjoin(balances, b.customer_id == c.id))
        .order_by(c.namespace, c.name)
    )
    if customer is not None:
        query = query.where(c.id == customer.id)
    with engine.connect() as conn:
        return [
            Balance(f"{r.namespace}/{r.name}", ZERO if r.amount is None else r.amount, r.currency, r.updated_at)
            for r in conn.execute(query)
        ]


def ledger_sum(conn: Connection, customer_id: int) -> Decimal:
    """The sum of a customer's ledger lines, added in Python (Money is text on SQLite)."""
    amounts = conn.execute(select(ledger.c.amount).where(ledger.c.customer_id == customer_id)).scalars()
    return sum(amounts, ZERO)
