"""Package charging: debit each auto-decrement package's price once per period, through the ledger.

A package with ``autoDecrementCredit: true`` costs ``cost x quantity`` per period
(``rating.periods``):

- an ordinary package is charged at the start of each period it is active in (``period``);
- a ``minimumSpend`` package is a spend commitment: when a period has ended, the shortfall of
  the customer's rated call spend in it under ``cost x quantity`` is charged (``minimum_spend``);
- a package with ``autoDecrementCredit: false`` is billed outside Trunkline and never debited.

Nothing is charged for a period that ended before the charger first saw the package
(``package_billing.since``): declaring a package with a past ``startDate`` does not bill the
past. Periods missed while no charger ran (a sidecar down over midnight) are caught up.

Exactly once: each charge is a ``package_charges`` row unique on (package, kind, period), and
is written with its ledger line under the customer's balance lock (``rating.ledger``), after
re-reading what is already charged. Two chargers on one PostgreSQL serialize on that lock; the
unique key is the backstop. ``dry_run`` computes the same charges and rolls them back.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Engine, select

from rating.directory import Customer
from rating.ledger import ZERO, dialect_insert, line, lock_balances, money_text, write_balances, writing
from rating.periods import EPOCH, next_period_start, period_start
from switchdb.tables import cdrs, customers, ledger, package_billing, package_charges, packages


@dataclass(frozen=True, slots=True)
class PackageCharge:
    """One period's charge of one package (``balance_after`` is the customer's balance after it)."""

    package: str  # namespace/name of the Package object
    customer: str  # namespace/name
    kind: str  # period | minimum_spend
    period_start: date
    period_end: date | None  # last day of the period; None for a OneOff without an end date
    period: str  # as people read it: "Monthly 2026-11-01..2026-11-30", "OneOff"
    amount: Decimal  # debited (positive)
    currency: str
    description: str
    balance_after: Decimal | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "package": self.package,
            "customer": self.customer,
            "kind": self.kind,
            "periodStart": self.period_start.isoformat(),
            "periodEnd": self.period_end.isoformat() if self.period_end else None,
            "period": self.period,
            "amount": money_text(self.amount),
            "currency": self.currency,
            "description": self.description,
            "balanceAfter": None if self.balance_after is None else money_text(self.balance_after),
        }


@dataclass(frozen=True, slots=True)
class _Package:
    id: int
    ref: str
    name: str  # spec.name, as the customer knows it
    customer: Customer
    frequency: str
    quantity: int
    cost: Decimal
    start_date: date | None
    end_date: date | None
    minimum_spend: bool

    @property
    def price(self) -> Decimal:
        return self.cost * self.quantity

    def overlaps(self, first: date, last: date | None) -> bool:
        """Is the package active on some day of the period ``first``..``last``?"""
        if self.end_date is not None and first > self.end_date:
            return False
        return self.start_date is None or last is None or last >= self.start_date


_Due = tuple[_Package, str, date, date | None]  # package, kind, first and last day of the period


def charge_packages(engine: Engine, now: datetime | None = None, *, dry_run: bool = False) -> list[PackageCharge]:
    """Charge every package period due at ``now``; with ``dry_run``, say what would be charged."""
    now = now or datetime.now(UTC)
    today = now.astimezone(UTC).date()
    with engine.connect() as raw:
        conn = writing(raw)
        with conn.begin() as transaction:
            found = _billable(conn)
            since = _billing_since(conn, found, today) if found else {}
            due = _due(found, since, today, _charged(conn, [p.id for p in found]))
            charged: list[PackageCharge] = []
            if due:
                # Lock only the customers something is due for, then re-read what is charged: a
                # charger that held the locks before us has committed its charges by now.
                before = lock_balances(conn, [package.customer for package, *_ in due], now)
                due = _due(found, since, today, _charged(conn, [p.id for p in found]))
                charged = _write(conn, _price(conn, due), before, now)
            if dry_run:
                transaction.rollback()
    return charged


def _due(
    found: list[_Package], since: dict[int, date], today: date, done: dict[tuple[int, str], set[date]]
) -> list[_Due]:
    return [
        (package, kind, first, last)
        for package in found
        for kind, first, last in _due_periods(package, since[package.id], today, done)
    ]


def _billable(conn: Connection) -> list[_Package]:
    p, c = packages.c, customers.c
    query = (
        select(p, c.id.label("cid"), c.namespace.label("cns"), c.name.label("cname"), c.currency)
        .select_from(packages.join(customers, c.id == p.customer_id))
        .where(p.auto_decrement_credit.is_(True))
        .order_by(p.id)
    )
    return [
        _Package(
            id=row["id"],
            ref=f"{row['namespace']}/{row['name']}",
            name=row["spec_name"],
            customer=Customer(id=row["cid"], namespace=row["cns"], name=row["cname"], currency=row["currency"]),
            frequency=row["frequency"],
            quantity=row["quantity"],
            cost=Decimal(row["cost"]),
            start_date=row["start_date"],
            end_date=row["end_date"],
            minimum_spend=row["minimum_spend"],
        )
        for row in conn.execute(query).mappings()
    ]


def _billing_since(conn: Connection, found: list[_Package], today: date) -> dict[int, date]:
    """When the charger first saw each package; packages seen now for the first time get ``today``."""
    conn.execute(
        dialect_insert(conn, package_billing).on_conflict_do_nothing(index_elements=["package_id"]),
        [{"package_id": p.id, "since": today} for p in found],
    )
    query = select(package_billing.c.package_id, package_billing.c.since).where(
        package_billing.c.package_id.in_([p.id for p in found])
    )
    return {row.package_id: row.since for row in conn.execute(query)}


def _charged(conn: Connection, ids: list[int]) -> dict[tuple[int, str], set[date]]:
    pc = package_charges.c
    done: dict[tuple[int, str], set[date]] = defaultdict(set)
    for row in conn.execute(select(pc.package_id, pc.kind, pc.period_start).where(pc.package_id.in_(ids))):
        done[(row.package_id, row.kind)].add(row.period_start)
    return done


def _periods(package: _Package, since: date, today: date) -> Iterator[tuple[date, date | None]]:
    """(first day, last day) of each period from the one holding ``since`` to the one holding ``today``."""
    first = period_start(package.frequency, max(since, package.start_date or since), package.start_date)
    if package.frequency == "OneOff":
        yield first, package.end_date
        return
    while first <= today:
        following = next_period_start(package.frequency, first)
        assert following is not None
        yield first, following - timedelta(days=1)
        first = following


def _due_periods(
    package: _Package, since: date, today: date, done: dict[tuple[int, str], set[date]]
) -> Iterator[tuple[str, date, date | None]]:
    if package.start_date is not None and today < package.start_date:
        return
    kind = "minimum_spend" if package.minimum_spend else "period"
    charged = done.get((package.id, kind), set())
    for first, last in _periods(package, since, today):
        if first in charged or not package.overlaps(first, last):
            continue
        if kind == "minimum_spend" and (last is None or last >= today):
            continue  # a commitment is settled once its period is over
        yield kind, first, last


def _price(conn: Connection, due: list[_Due]) -> list[tuple[_Package, PackageCharge]]:
    priced: list[tuple[_Package, PackageCharge]] = []
    for package, kind, first, last in due:
        quantity = f"{package.quantity} x {money_text(package.cost)}"
        period = _period_text(package.frequency, first, last)
        if kind == "period":
            amount = package.price
            description = f"package {package.name} ({period}, {quantity})"
        else:
            spent = _spend(conn, package, first, last)
            amount = max(package.price - spent, ZERO)
            description = (
                f"minimum spend {package.name} ({period}: committed "
                f"{money_text(package.price)}, spent {money_text(spent)})"
            )
        charge = PackageCharge(
            package=package.ref,
            customer=package.customer.ref,
            kind=kind,
            period_start=first,
            period_end=last,
            period=period,
            amount=amount,
            currency=package.customer.currency,
            description=description,
        )
        priced.append((package, charge))
    return priced


def _period_text(frequency: str, first: date, last: date | None) -> str:
    if frequency != "OneOff":
        return f"{frequency} {first.isoformat()}..{last.isoformat() if last else ''}"
    if first == EPOCH:
        return "OneOff" if last is None else f"OneOff until {last.isoformat()}"
    return f"OneOff {first.isoformat()}..{last.isoformat() if last else ''}"


def _spend(conn: Connection, package: _Package, first: date, last: date | None) -> Decimal:
    """The customer's rated call cost for calls started in the package's days of the period."""
    begin = max(first, package.start_date or first)
    end = last if package.end_date is None else min(last or package.end_date, package.end_date)
    query = select(cdrs.c.cost).where(
        cdrs.c.customer_id == package.customer.id,
        cdrs.c.status == "Rated",
        cdrs.c.start >= datetime.combine(begin, time(), UTC),
    )
    if end is not None:
        query = query.where(cdrs.c.start < datetime.combine(end + timedelta(days=1), time(), UTC))
    # Summed in Python: Money is text on SQLite.
    return sum((Decimal(cost) for cost in conn.execute(query).scalars() if cost is not None), ZERO)


def _write(
    conn: Connection, priced: list[tuple[_Package, PackageCharge]], before: dict[int, Decimal], now: datetime
) -> list[PackageCharge]:
    """Insert each charge's row and ledger line (a zero shortfall gets a row, no line); new balances."""
    balances = dict(before)
    charged: list[PackageCharge] = []
    rows: list[dict[str, Any]] = []
    lines: list[dict[str, Any]] = []
    for package, charge in priced:
        customer_id = package.customer.id
        rows.append(
            {
                "package_id": package.id,
                "customer_id": customer_id,
                "kind": charge.kind,
                "period_start": charge.period_start,
                "amount": charge.amount,
                "charged_at": now,
            }
        )
        if charge.amount:
            balances[customer_id] -= charge.amount
            reference = f"package:{package.ref}:{charge.kind}:{charge.period_start.isoformat()}"
            lines.append(
                line(
                    customer_id,
                    charge.currency,
                    "package",
                    -charge.amount,
                    at=now,
                    reference=reference,
                    description=charge.description,
                    balance_after=balances[customer_id],
                )
            )
        charged.append(replace(charge, balance_after=balances[customer_id]))
    if rows:
        conn.execute(package_charges.insert(), rows)
    if lines:
        conn.execute(ledger.insert(), lines)
    write_balances(conn, {cid: amount for cid, amount in balances.items() if amount != before[cid]}, now)
    return charged
