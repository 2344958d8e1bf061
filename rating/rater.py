"""Rating a batch of CDRs into the switch database, exactly once per call id, in one transaction.

``rate_cdrs(engine, directory, cdrs)`` prices each call without touching the database: customer
and route by ``Directory.identify`` and ``Directory.route``, the very functions ``authorize``
calls, so a call is rated as the customer and route it was authorized for; then the longest
prefix at the answer time (the start for an unanswered call). Then, in ONE transaction:

1. locks the balances of every customer the batch may charge (created at 0 if missing; in id
   order, ``SELECT ... FOR UPDATE`` on PostgreSQL, an immediate transaction on SQLite), so two
   sidecars rating calls of one customer serialize there;
2. drops call ids already stored (a retried line or a replayed file charges nothing);
3. locks the package periods the calls draw on and consumes allowances in call-time order;
4. inserts the CDR rows with ``INSERT ... ON CONFLICT (call_id) DO NOTHING RETURNING call_id``
   (rows in call id order so concurrent writers take index locks in the same order) and debits
   only rows actually inserted: a call that paid money but was inserted by a concurrent writer
   in between (possible only when that writer did not lock the same customer, e.g. another
   directory revision) rolls the batch back and it is retried;
5. appends the 'call' ledger lines (amount -cost, reference = call id, balance_after), updates
   the balances and package usage.

On PostgreSQL the bulk writes go through the bare driver in the same transaction
(``rating.postgres_bulk``: binary COPY for CDR rows and ledger lines, one statement each for the
balances); on SQLite they are SQLAlchemy executemany. Both store the same values.

Statuses: ``Rated`` (priced; an unanswered call is Rated at 0), ``Rejected`` (no customer, no
route, no rate, blocked prefix; with ``reason``), ``Unrated`` (the call cannot be priced through
no fault of the CDR: a rate card in another currency than the customer, a deck that cannot be
indexed). Only Rated calls move money. A call of an Inactive customer, over its debit or daily
spend limit, is still Rated: it happened; refusing it is authorization's job.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, select, tuple_, update
from sqlalchemy.exc import DBAPIError

from rating import RatingError, postgres_bulk
from rating.cdr import Cdr
from rating.charges import charge
from rating.directory import Card, Customer, Directory, Identified, Package, Route
from rating.ledger import LINE_COLUMNS, ZERO, dialect_insert, lock_balances, write_balances, writing
from rating.prefixes import Match
from resources.gcpause import paused_gc
from switchdb.tables import cdrs as cdrs_table
from switchdb.tables import ledger, package_usage

RATED, REJECTED, UNRATED = "Rated", "Rejected", "Unrated"
_CHUNK = 500  # bound parameters per IN (...) list
_RETRIES = 10
# The ``cdrs`` columns a rated call fills, in the order of ``_row``'s values.
CDR_COLUMNS: tuple[str, ...] = tuple(
    "call_id start answer end source_ip source_port username cli pai dialed sip_code pdd_ms customer_id route_id"
    " rate_card_id prefix per_minute billed_seconds package_seconds connect_fee cost currency status reason"
    " rated_at".split()
)


class _Race(Exception):
    """A call this batch priced was stored by someone else meanwhile: roll back and retry."""


@dataclass(slots=True)
class _Priced:
    cdr: Cdr
    status: str
    reason: str | None = None
    customer: Customer | None = None
    route: Route | None = None
    card: Card | None = None
    match: Match | None = None
    number: str = ""
    pools: list[tuple[Package, date]] = field(default_factory=list)  # packages an answered Rated call may use
    # Filled in under the locks:
    billed: int = 0
    package_seconds: int = 0
    connect_fee: Decimal | None = None
    cost: Decimal | None = None
    usage: list[tuple[tuple[int, date], int]] = field(default_factory=list)

    @property
    def at(self) -> datetime:
        return self.cdr.answer or self.cdr.start


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to one CDR line of the batch."""

    call_id: str
    status: str  # Rated | Rejected | Unrated | Duplicate (already stored, or repeated in the batch)
    reason: str | None = None
    cost: Decimal | None = None
    currency: str | None = None
    customer: str | None = None  # namespace/name of the customer identified (None: nobody)


@dataclass(slots=True)
class RateResult:
    rated: int = 0
    rejected: int = 0
    unrated: int = 0
    duplicates: int = 0
    charged: dict[str, Decimal] = field(default_factory=dict)  # currency -> total cost of rated calls
    outcomes: list[Outcome] = field(default_factory=list)

    def add(self, other: RateResult) -> None:
        self.rated += other.rated
        self.rejected += other.rejected
        self.unrated += other.unrated
        self.duplicates += other.duplicates
        for currency, amount in other.charged.items():
            self.charged[currency] = self.charged.get(currency, ZERO) + amount
        self.outcomes.extend(other.outcomes)


def price(directory: Directory, cdr: Cdr) -> _Priced:
    """Customer, route and rate of one call; no database access."""
    found = directory.identify(
        username=cdr.username, source_ip=cdr.source_ip, source_port=cdr.source_port, dialed=cdr.dialed
    )
    if not isinstance(found, Identified):
        return _Priced(cdr, REJECTED, found.reason)
    customer = found.customer
    routed = directory.route(customer, found.number, found.tech_prefix)
    if isinstance(routed, str):
        return _Priced(cdr, REJECTED, routed, customer=customer)
    route, number = routed.route, routed.number
    card = directory.cards[route.rate_card_id]
    priced = _Priced(cdr, UNRATED, customer=customer, route=route, card=card, number=number)
    if card.index is None:
        priced.reason = f"rate card {card.ref}: {card.error}"
        return priced
    if card.currency != customer.currency:
        priced.reason = (
            f"rate card {card.ref} is in {card.currency}, customer {customer.ref} pays in {customer.currency}"
        )
        return priced
    match = card.index.lookup(number, priced.at)
    if match is None:
        priced.status, priced.reason = REJECTED, f"no rate for {number} on rate card {card.ref}"
        return priced
    priced.match = match
    if match.blocked:
        priced.status, priced.reason = REJECTED, f"prefix {match.prefix} is blocked on rate card {card.ref}"
        return priced
    priced.status = RATED
    if cdr.answered:
        day = priced.at.date()
        priced.pools = [
            (package, package.period_start(day))
            for package in directory.packages.get(customer.id, ())
            if package.active_on(day) and package.covers(number)
        ]
    return priced


def rate_cdrs(engine: Engine, directory: Directory, cdrs: Iterable[Cdr], *, now: datetime | None = None) -> RateResult:
    """Rate a batch in one transaction; each call id is stored and charged at most once, ever."""
    # Many objects per CDR, no cycles: the collector's passes over the directory were ~30% of
    # rating. In the sidecar, whose heap is frozen, the pause costs nothing (``resources.gcpause``).
    with paused_gc():
        return _rate_cdrs(engine, directory, cdrs, now or datetime.now(UTC))


def _rate_cdrs(engine: Engine, directory: Directory, cdrs: Iterable[Cdr], now: datetime) -> RateResult:
    result = RateResult()
    seen: set[str] = set()
    batch: list[_Priced] = []
    for cdr in cdrs:
        if cdr.call_id in seen:
            result.duplicates += 1
            result.outcomes.append(Outcome(cdr.call_id, "Duplicate", "repeated in this batch"))
            continue
        seen.add(cdr.call_id)
        batch.append(price(directory, cdr))
    if result.outcomes:  # repeats in the batch belong to the customer of the call id's first line
        owners = {p.cdr.call_id: p.customer.ref for p in batch if p.customer}
        result.outcomes = [replace(o, customer=owners.get(o.call_id)) for o in result.outcomes]
    for attempt in range(_RETRIES):
        try:
            with engine.connect() as raw:
                conn = writing(raw)
                with conn.begin():
                    stored = _store(conn, batch, now)
            break
        except _Race:
            if attempt == _RETRIES - 1:
                raise RatingError(
                    "could not rate the batch: call ids kept colliding with a concurrent writer"
                ) from None
        except DBAPIError as exc:
            # PostgreSQL deadlock (40P01) or serialization failure (40001): the transaction was rolled back.
            code = getattr(exc.orig, "sqlstate", None)
            if code not in ("40P01", "40001") or attempt == _RETRIES - 1:
                raise
        # Two writers that collided would collide again in lockstep: wait a random, growing while.
        time.sleep(random.uniform(0.01, 0.05) * (attempt + 1))
    for priced in batch:
        call_id = priced.cdr.call_id
        if call_id not in stored:
            result.duplicates += 1
            owner = priced.customer.ref if priced.customer else None
            result.outcomes.append(Outcome(call_id, "Duplicate", "already rated", customer=owner))
            continue
        currency = priced.customer.currency if priced.customer else None
        if priced.status == RATED:
            result.rated += 1
            assert priced.cost is not None and currency is not None
            result.charged[currency] = result.charged.get(currency, ZERO) + priced.cost
        elif priced.status == REJECTED:
            result.rejected += 1
        else:
            result.unrated += 1
        owner = priced.customer.ref if priced.customer else None
        result.outcomes.append(Outcome(call_id, priced.status, priced.reason, priced.cost, currency, owner))
    return result


def _store(conn: Connection, batch: list[_Priced], now: datetime) -> set[str]:
    """Steps 1-5 of the module docstring; returns the call ids this transaction stored."""
    for priced in batch:  # a retried transaction starts over
        priced.billed, priced.package_seconds, priced.connect_fee, priced.cost, priced.usage = 0, 0, None, None, []
    postgres = conn.dialect.name == "postgresql"
    balance = lock_balances(conn, (p.customer for p in batch if p.status == RATED and p.customer), now)
    existing = _existing(conn, [p.cdr.call_id for p in batch])
    new = [p for p in batch if p.cdr.call_id not in existing]
    rated = sorted((p for p in new if p.status == RATED), key=lambda p: (p.at, p.cdr.call_id))
    used = _lock_usage(conn, rated)
    for priced in rated:
        _charge(priced, used)
    new.sort(key=lambda p: p.cdr.call_id)
    if postgres:
        at, money = postgres_bulk.instant(now), postgres_bulk.money
        rows = [_row(p, at, money, postgres_bulk.instant) for p in new]
        inserted = postgres_bulk.insert_new_cdrs(conn, CDR_COLUMNS, rows) if rows else set()
    else:
        at, money = now, _as_is
        inserted = _insert_cdrs(conn, [dict(zip(CDR_COLUMNS, _row(p, now, _as_is, _as_is))) for p in new])
    if any(p.cdr.call_id not in inserted and (p.cost or p.package_seconds) for p in rated):
        raise _Race
    lines: list[tuple[object, ...]] = []
    touched: dict[int, Decimal] = {}
    consumed: dict[tuple[int, date], int] = {}
    for priced in rated:
        if priced.cdr.call_id not in inserted:
            continue
        for key, seconds in priced.usage:
            consumed[key] = consumed.get(key, 0) + seconds
        cost = priced.cost
        if not cost:
            continue
        customer = priced.customer
        assert customer is not None and priced.match is not None
        after = balance[customer.id] = balance[customer.id] - cost
        touched[customer.id] = after
        description = f"call to {priced.number} (prefix {priced.match.prefix})"
        # LINE_COLUMNS order: the very row ``ledger.line`` makes.
        lines.append(
            (customer.id, at, "call", money(-cost), customer.currency, priced.cdr.call_id, description, money(after))
        )
    if lines and postgres:
        postgres_bulk.append_ledger(conn, LINE_COLUMNS, lines)
    elif lines:
        conn.execute(ledger.insert(), [dict(zip(LINE_COLUMNS, values)) for values in lines])
    write_balances(conn, touched, now)
    if consumed:
        conn.execute(
            update(package_usage)
            .where(package_usage.c.package_id == bindparam("pid"), package_usage.c.period_start == bindparam("period"))
            .values(seconds_used=bindparam("seconds")),
            [
                {"pid": pid, "period": period, "seconds": used[(pid, period)]}
                for (pid, period) in sorted(consumed)  # the totals, already including this batch
            ],
        )
    return inserted


def _insert_cdrs(conn: Connection, rows: list[dict[str, object]]) -> set[str]:
    """SQLite: insert the rows, skipping call ids already stored; the call ids this statement inserted."""
    inserted: set[str] = set()
    for start in range(0, len(rows), _CHUNK * 10):
        statement = (
            dialect_insert(conn, cdrs_table)
            .on_conflict_do_nothing(index_elements=["call_id"])
            .returning(cdrs_table.c.call_id)
        )
        inserted.update(conn.execute(statement, rows[start : start + _CHUNK * 10]).scalars())
    return inserted


def _existing(conn: Connection, call_ids: Sequence[str]) -> set[str]:
    if conn.dialect.name == "postgresql":  # one array parameter, not one placeholder per call id
        return postgres_bulk.existing_call_ids(conn, call_ids)
    found: set[str] = set()
    column = cdrs_table.c.call_id
    for start in range(0, len(call_ids), _CHUNK):
        chunk = call_ids[start : start + _CHUNK]
        found.update(conn.execute(select(column).where(column.in_(chunk))).scalars())
    return found


def _lock_usage(conn: Connection, rated: list[_Priced]) -> dict[tuple[int, date], int]:
    """Create and lock the package periods answered calls may draw on; (package id, period) → seconds used."""
    keys = sorted({(pkg.id, period) for p in rated for pkg, period in p.pools})
    if not keys:
        return {}
    conn.execute(
        dialect_insert(conn, package_usage).on_conflict_do_nothing(index_elements=["package_id", "period_start"]),
        [{"package_id": pid, "period_start": period, "seconds_used": 0} for pid, period in keys],
    )
    used: dict[tuple[int, date], int] = {}
    columns = (package_usage.c.package_id, package_usage.c.period_start)
    for start in range(0, len(keys), _CHUNK):
        query = (
            select(*columns, package_usage.c.seconds_used)
            .where(tuple_(*columns).in_(keys[start : start + _CHUNK]))
            .order_by(*columns)
            .with_for_update()
        )
        used.update({(r.package_id, r.period_start): r.seconds_used for r in conn.execute(query)})
    return used


def _charge(priced: _Priced, used: dict[tuple[int, date], int]) -> None:
    """Price one call, consuming package allowances (in package id order) before money."""
    assert priced.match is not None
    duration = priced.cdr.duration_s
    pools = priced.pools if duration else []
    left = {(pkg.id, period): pkg.allowance_seconds - used[(pkg.id, period)] for pkg, period in pools}
    available = sum(max(0, seconds) for seconds in left.values())
    result = charge(duration, priced.match.tariff, package_seconds=available)
    to_take = result.package_seconds
    for key, seconds in left.items():
        if to_take <= 0:
            break
        take = min(max(0, seconds), to_take)
        if take:
            used[key] += take
            priced.usage.append((key, take))
            to_take -= take
    priced.billed = result.billed_seconds
    priced.package_seconds = result.package_seconds
    priced.connect_fee = result.connect_fee
    priced.cost = result.cost


def _as_is(value: Any) -> Any:
    return value


def _row(
    priced: _Priced, rated_at: datetime, money: Callable[[Any], Any], instant: Callable[[Any], Any]
) -> tuple[object, ...]:
    """The ``cdrs`` row of a call, in ``CDR_COLUMNS`` order; ``money``/``instant`` check values for a bare driver."""
    cdr = priced.cdr
    status = priced.status
    match = priced.match
    customer = priced.customer
    return (
        cdr.call_id,
        instant(cdr.start),
        instant(cdr.answer),
        instant(cdr.end),
        cdr.source_ip,
        cdr.source_port,
        cdr.username,
        cdr.cli,
        cdr.pai,
        cdr.dialed,
        cdr.sip_code,
        cdr.pdd_ms,
        customer.id if customer else None,
        priced.route.id if priced.route else None,
        priced.card.id if priced.card else None,
        match.prefix if match else None,
        money(match.tariff.per_minute) if match and status == RATED else None,
        priced.billed,
        priced.package_seconds,
        money(priced.connect_fee),
        money(priced.cost),
        customer.currency if customer and status == RATED else None,
        status,
        priced.reason,
        rated_at,
    )
