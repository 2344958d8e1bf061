"""PostgreSQL bulk writes of a rated batch through the bare psycopg connection of the transaction.

Rating writes ~10k CDR rows and ledger lines per transaction; through SQLAlchemy each value went
through a bind processor and each ledger line was one pipelined statement, which made the
client's CPU the limit (bench/RESULTS.md). Here rows are plain tuples sent by COPY, and the
balance rows of a batch are created, locked and updated by one statement each (array
parameters), all on the connection SQLAlchemy's transaction runs on, so nothing changes in what
is locked, in which order, or what is stored. Values get the checks ``Money`` and
``UtcDateTime`` make on binding (``money``, ``instant``), with a fast path for the usual case.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from functools import cache
from typing import Any

import psycopg
from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import DBAPIError

from switchdb.tables import cdrs, ledger
from switchdb.types import MONEY_PRECISION, MONEY_SCALE, Money, UtcDateTime

STAGING = "trunkline_cdrs_incoming"  # per-session temp table a batch of CDRs is COPYed into
_DIALECT = postgresql.dialect()
_MONEY = Money()
_INSTANT = UtcDateTime()
_LIMIT = Decimal(10) ** (MONEY_PRECISION - MONEY_SCALE)
_QUANTUM = Decimal(1).scaleb(-MONEY_SCALE)


@contextmanager
def _cursor(conn: Connection) -> Iterator[Any]:
    """A cursor of the psycopg connection under ``conn``, so inside ``conn``'s transaction.

    Its errors are raised as SQLAlchemy's, as ``conn.execute`` raises them: callers (the rater's
    retry on deadlock or serialization failure) see one kind of error whichever path failed.
    """
    try:
        with conn.connection.driver_connection.cursor() as cur:
            yield cur
    except psycopg.Error as exc:
        raise DBAPIError.instance(None, None, exc, psycopg.Error, dialect=conn.dialect) from exc


def money(value: Decimal | None) -> Decimal | None:
    """``value`` as ``Money`` binds it: refused unless NUMERIC(20, 8) holds it exactly."""
    if value is None:
        return None
    if type(value) is Decimal and value.is_finite() and -_LIMIT < value < _LIMIT and value.quantize(_QUANTUM) == value:
        return value
    return _MONEY.process_bind_param(value, _DIALECT)  # the full check, raising its errors


def instant(value: datetime | None) -> datetime | None:
    """``value`` as ``UtcDateTime`` binds it: aware, in UTC; a naive datetime is refused."""
    if value is None or value.tzinfo is UTC:
        return value
    return _INSTANT.process_bind_param(value, _DIALECT)


def lock_balances(conn: Connection, owners: Sequence[tuple[int, str]], now: datetime) -> dict[int, Decimal]:
    """PostgreSQL path of ``ledger.lock_balances``: create missing rows (0), lock all in id order.

    ``owners`` is (customer id, currency), sorted by id.
    """
    ids = [cid for cid, _ in owners]
    with _cursor(conn) as cur:
        cur.execute(
            "INSERT INTO balances (customer_id, amount, currency, updated_at) "
            "SELECT t.id, 0, t.currency, %s FROM unnest(%s::int[], %s::text[]) AS t(id, currency) "
            "ORDER BY t.id ON CONFLICT (customer_id) DO NOTHING",
            (instant(now), ids, [currency for _, currency in owners]),
        )
        cur.execute(
            "SELECT customer_id, amount FROM balances WHERE customer_id = ANY(%s::int[]) "
            "ORDER BY customer_id FOR UPDATE",
            (ids,),
        )
        return {cid: amount for cid, amount in cur.fetchall()}


def write_balances(conn: Connection, amounts: dict[int, Decimal], now: datetime) -> None:
    """PostgreSQL path of ``ledger.write_balances``: one ``UPDATE ... FROM unnest(...)``."""
    if not amounts:
        return
    ordered = sorted(amounts.items())
    with _cursor(conn) as cur:
        cur.execute(
            "UPDATE balances AS b SET amount = v.amount, updated_at = %s "
            "FROM unnest(%s::int[], %s::numeric[]) AS v(id, amount) WHERE b.customer_id = v.id",
            (instant(now), [cid for cid, _ in ordered], [money(amount) for _, amount in ordered]),
        )


def existing_call_ids(conn: Connection, call_ids: Sequence[str]) -> set[str]:
    """The call ids of ``call_ids`` already stored (one array parameter)."""
    with _cursor(conn) as cur:
        cur.execute("SELECT call_id FROM cdrs WHERE call_id = ANY(%s::text[])", (list(call_ids),))
        return {call_id for (call_id,) in cur.fetchall()}


def insert_new_cdrs(conn: Connection, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> set[str]:
    """COPY the rows into the session's temp table, then ONE ``INSERT ... SELECT ... ON CONFLICT
    (call_id) DO NOTHING RETURNING call_id``, in call id order; the call ids it inserted.

    A multi-row ``VALUES`` list has a placeholder per value, and psycopg parses each such
    statement in Python uncached: that parse alone kept rating under 1k CDRs/s. The temp table
    empties itself at commit, and a rollback (a retried batch) takes its rows with it.
    """
    listed = ", ".join(f'"{c}"' for c in columns)
    with _cursor(conn) as cur:
        cur.execute(
            f"CREATE TEMPORARY TABLE IF NOT EXISTS {STAGING} ON COMMIT DELETE ROWS AS "
            f"SELECT {listed} FROM cdrs WITH NO DATA"
        )
        _copy(cur, STAGING, _types(cdrs, tuple(columns)), columns, rows)
        cur.execute(
            f"INSERT INTO cdrs ({listed}) SELECT {listed} FROM {STAGING} ORDER BY call_id "
            "ON CONFLICT (call_id) DO NOTHING RETURNING call_id"
        )
        return {call_id for (call_id,) in cur.fetchall()}


def append_ledger(conn: Connection, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """COPY ledger lines (plain inserts: ids are numbered in row order, as by one INSERT each)."""
    with _cursor(conn) as cur:
        _copy(cur, "ledger", _types(ledger, tuple(columns)), columns, rows)


def _copy(cur: Any, target: str, types: list[str], columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """Binary COPY with the columns' types declared: half the client CPU of text COPY."""
    listed = ", ".join(f'"{c}"' for c in columns)
    with cur.copy(f"COPY {target} ({listed}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types(types)
        for row in rows:
            copy.write_row(row)


@cache
def _types(table: Table, columns: tuple[str, ...]) -> list[str]:
    """PostgreSQL type names of the columns (``VARCHAR(3)`` → ``varchar``), as ``set_types`` takes them."""
    return [table.c[c].type.compile(dialect=_DIALECT).lower().split("(")[0] for c in columns]
