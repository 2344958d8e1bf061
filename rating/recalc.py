"""Recalculating rated CDRs of one UTC day ("Recalc CDR"): fix lost BYEs, re-rate after a rate card change.

``recalc(engine, directory, day, ...)`` selects the ``Rated`` CDRs whose ``start`` falls on
``day`` (UTC; optionally of one customer) and prices each again with the rater's own code
(``rating.rater.price`` for customer, route and rate; ``rating.charges.charge`` for the money):

- ``min_duration``/``new_duration`` (given together): only calls billed at least ``min_duration``
  seconds, whose duration becomes ``new_duration`` (``end = answer + new_duration``);
- ``rerate``: priced with the CURRENT rate cards and routes. Without it the call keeps its stored
  ``perMinute`` and connect fee (increments, minimum and rounding come from its stored rate card
  and prefix, which must still match; otherwise the call is skipped: use ``rerate``).

A call that can no longer be priced (no route or rate now, another customer or currency) is
skipped with a reason and left as it is. ``apply=False`` is the preview and writes nothing.
``apply=True`` does everything in ONE transaction: balances of the customers concerned are
locked first (id order, as the rater does), the CDR rows are read again ``FOR UPDATE`` and
repriced, the changed rows are updated (``rated_at`` = now; the first time a duration is
replaced, ``reason`` keeps ``recalc: original duration N s``), and each call whose cost changed
gets ONE ledger line of type ``recalc`` (amount = old cost - new cost, reference = call id,
description with the old and new duration, billed seconds and cost) that moves the balance. A
call whose figures are unchanged is not written at all, so running the same recalc twice is a
no-op.

Packages: a recalc never changes ``package_usage``. A call keeps at most the package seconds it
was given when rated (fewer if it now bills fewer; freed seconds are not returned to the
allowance, extra seconds are charged at the rate).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from dataclasses import replace as dc_replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Engine, select, update

from rating import RatingError
from rating.cdr import Cdr
from rating.charges import charge
from rating.directory import Customer, Directory
from rating.ledger import ZERO, line, lock_balances, money_text, write_balances, writing
from rating.rater import RATED, price
from rating.stats import roll_up
from switchdb.tables import cdrs, ledger

_NOTE = "recalc: original duration"


@dataclass(frozen=True, slots=True)
class Change:
    """One call whose stored figures change; ``difference`` = new cost - old cost (what the customer pays extra)."""

    call_id: str
    customer: str  # namespace/name
    currency: str
    old_duration: int
    new_duration: int
    old_billed: int
    new_billed: int
    old_cost: Decimal
    new_cost: Decimal
    values: dict[str, Any] = field(repr=False, compare=False)  # the CDR columns to write
    customer_id: int = 0

    @property
    def difference(self) -> Decimal:
        return self.new_cost - self.old_cost


@dataclass(slots=True)
class Recalc:
    changes: list[Change] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (call id, why it was left as it is)
    unchanged: int = 0
    applied: bool = False
    ledger_lines: int = 0

    def totals(self) -> dict[tuple[str, str], tuple[Decimal, Decimal, Decimal]]:
        """(customer, currency) -> (old cost, new cost, difference), sorted."""
        sums: dict[tuple[str, str], tuple[Decimal, Decimal, Decimal]] = {}
        for c in self.changes:
            old, new, diff = sums.get((c.customer, c.currency), (ZERO, ZERO, ZERO))
            sums[(c.customer, c.currency)] = (old + c.old_cost, new + c.new_cost, diff + c.difference)
        return dict(sorted(sums.items()))


def recalc(
    engine: Engine,
    directory: Directory,
    day: date,
    *,
    customer: Customer | None = None,
    min_duration: int | None = None,
    new_duration: int | None = None,
    rerate: bool = False,
    apply: bool = False,
    now: datetime | None = None,
) -> Recalc:
    """Preview (``apply=False``) or apply the recalculation of ``day``'s rated calls; see the module docstring."""
    if (min_duration is None) != (new_duration is None):
        raise RatingError("--min-duration and --new-duration go together")
    if min_duration is None and not rerate:
        raise RatingError("nothing to recalculate: give --min-duration with --new-duration, or --rerate")
    if (min_duration is not None and min_duration < 1) or (new_duration is not None and new_duration < 1):
        raise RatingError("durations must be at least 1 second")
    now = now or datetime.now(UTC)
    args = (directory, day, customer, min_duration, new_duration, rerate)
    with engine.connect() as conn:
        if not apply:
            try:
                return _plan(conn, *args, lock=False)
            finally:
                conn.rollback()
        conn = writing(conn)
        with conn.begin():
            owners = [directory.customers[i] for i in _customer_ids(conn, *args[1:4]) if i in directory.customers]
            balance = lock_balances(conn, owners, now)
            result = _plan(conn, *args, lock=True)
            _write(conn, result, balance, now)
            if any(c.old_duration != c.new_duration for c in result.changes):
                roll_up(conn, _midnight(day))  # `trunkline stats` counts answered seconds
    result.applied = True
    return result


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def _selection(day: date, customer: Customer | None, min_duration: int | None) -> Any:
    midnight = _midnight(day)
    where = [cdrs.c.status == RATED, cdrs.c.start >= midnight, cdrs.c.start < midnight + timedelta(days=1)]
    if customer is not None:
        where.append(cdrs.c.customer_id == customer.id)
    if min_duration is not None:
        where.append(cdrs.c.billed_seconds >= min_duration)
    return where


def _customer_ids(conn: Connection, day: date, customer: Customer | None, min_duration: int | None) -> list[int]:
    query = select(cdrs.c.customer_id).where(*_selection(day, customer, min_duration)).distinct()
    return sorted(conn.execute(query).scalars())


def _plan(
    conn: Connection,
    directory: Directory,
    day: date,
    customer: Customer | None,
    min_duration: int | None,
    new_duration: int | None,
    rerate: bool,
    *,
    lock: bool,
) -> Recalc:
    query = select(cdrs).where(*_selection(day, customer, min_duration)).order_by(cdrs.c.call_id)
    if lock:
        query = query.with_for_update()
    result = Recalc()
    for row in conn.execute(query):
        outcome = _reprice(directory, row, new_duration, rerate)
        if isinstance(outcome, str):
            result.skipped.append((row.call_id, outcome))
        elif outcome is None:
            result.unchanged += 1
        else:
            result.changes.append(outcome)
    return result


def _reprice(directory: Directory, row: Any, new_duration: int | None, rerate: bool) -> Change | str | None:
    """The change of one stored call; a reason (str) when it cannot be repriced; None when nothing changes."""
    cdr = Cdr(
        call_id=row.call_id,
        start=row.start,
        answer=row.answer,
        end=row.end,
        cli=row.cli,
        dialed=row.dialed,
        sip_code=row.sip_code,
        source_ip=row.source_ip,
        source_port=row.source_port,
        username=row.username,
        pai=row.pai,
        pdd_ms=row.pdd_ms,
    )
    old_duration = cdr.duration_s
    if new_duration is not None and cdr.answer is not None:
        cdr = dc_replace(cdr, end=cdr.answer + timedelta(seconds=new_duration))
    priced = price(directory, cdr)
    if priced.status != RATED:
        return f"cannot be priced now: {priced.reason}"
    assert priced.customer is not None and priced.match is not None and priced.card is not None
    assert priced.route is not None
    if priced.customer.id != row.customer_id:
        return f"now identified as {priced.customer.ref}, not the customer it was rated for"
    if priced.customer.currency != row.currency:
        return f"customer now pays in {priced.customer.currency}, the call was rated in {row.currency}"
    tariff = priced.match.tariff
    route_id, card_id, prefix = priced.route.id, priced.card.id, priced.match.prefix
    if not rerate:
        if card_id != row.rate_card_id or prefix != row.prefix:
            return "its rate card or prefix changed since it was rated (use --rerate)"
        route_id = row.route_id
        tariff = dc_replace(tariff, per_minute=row.per_minute, connect_fee=row.connect_fee or ZERO)
    result = charge(cdr.duration_s, tariff, package_seconds=row.package_seconds)
    values: dict[str, Any] = {
        "end": cdr.end,
        "route_id": route_id,
        "rate_card_id": card_id,
        "prefix": prefix,
        "per_minute": tariff.per_minute,
        "billed_seconds": result.billed_seconds,
        "package_seconds": result.package_seconds,
        "connect_fee": result.connect_fee,
        "cost": result.cost,
    }
    if all(getattr(row, name) == value for name, value in values.items()):
        return None
    if cdr.duration_s != old_duration and row.reason is None:
        values["reason"] = f"{_NOTE} {old_duration} s"
    return Change(
        call_id=row.call_id,
        customer=priced.customer.ref,
        currency=row.currency,
        old_duration=old_duration,
        new_duration=cdr.duration_s,
        old_billed=row.billed_seconds,
        new_billed=result.billed_seconds,
        old_cost=row.cost if row.cost is not None else ZERO,
        new_cost=result.cost,
        values=values,
        customer_id=row.customer_id,
    )


def _write(conn: Connection, result: Recalc, balance: dict[int, Decimal], now: datetime) -> None:
    changes: Sequence[Change] = result.changes
    for change in changes:
        conn.execute(update(cdrs).where(cdrs.c.call_id == change.call_id).values(**change.values, rated_at=now))
    lines: list[dict[str, object]] = []
    touched: dict[int, Decimal] = {}
    for change in changes:
        amount = change.old_cost - change.new_cost
        if not amount:
            continue
        after = balance[change.customer_id] = balance[change.customer_id] + amount
        touched[change.customer_id] = after
        lines.append(
            line(
                change.customer_id,
                change.currency,
                "recalc",
                amount,
                at=now,
                reference=change.call_id,
                description=(
                    f"recalc: duration {change.old_duration} s -> {change.new_duration} s, "
                    f"billed {change.old_billed} s -> {change.new_billed} s, "
                    f"cost {money_text(change.old_cost)} -> {money_text(change.new_cost)}"
                ),
                balance_after=after,
            )
        )
    if lines:
        conn.execute(ledger.insert(), lines)
    write_balances(conn, touched, now)
    result.ledger_lines = len(lines)
