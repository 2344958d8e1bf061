"""The sidecar's view of the switch database: the directory (authorize and rating) and call limits.

A ``View`` is an immutable snapshot ``(revision, directory)`` read in ONE database transaction
(REPEATABLE READ on PostgreSQL; SQLite's read transaction is a snapshot already). ONE directory
serves both authorization and rating, so they never see two different revisions or two different
rules. ``SidecarState`` holds the current view and swaps it whole (one attribute assignment: a
request sees the old view or the new one, never a mix). Call limits (``CallLimits``) live outside
the view: active dialogs survive a reload.

- ``refresh()`` is the poll step (every ``--reload-interval``): one ``max(trunkline_revisions.id)``
  query; a new revision reloads everything. Otherwise, when the ledger moved (``max(ledger.id)``),
  the alert penalties changed or the UTC day changed, only the money part of the directory
  (``loading.load_money``: balances, today's spend, package allowances left, penalties) is
  re-read, so a 100k-prefix deck is not re-indexed after every CDR batch.
- ``current()`` is what rating calls before each batch: a CDR must never be rated (and stored,
  exactly once, as Rejected) against a directory older than the database's newest revision.

Everything here blocks on the database: the HTTP service calls it from a thread executor.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime

from sqlalchemy import Connection, Engine, func, select

from rating import loading
from rating.directory import Directory
from rating.limits import CallLimits
from switchdb.tables import ledger
from switchdb.tables.rating import alert_penalties

log = logging.getLogger(__name__)

MoneyMark = tuple[int | None, date, tuple[tuple[int, datetime], ...]]


@dataclass(frozen=True, slots=True)
class View:
    """One consistent snapshot of the declared state (and of the money, as of ``money_mark``)."""

    directory: Directory
    loaded_at: datetime
    money_mark: MoneyMark  # (max ledger id, UTC day, penalties) the directory's money was read at

    @property
    def revision(self) -> int | None:
        return self.directory.revision


def _snapshot(conn: Connection) -> Connection:
    if conn.dialect.name == "postgresql":
        return conn.execution_options(isolation_level="REPEATABLE READ")
    return conn


def _money_mark(conn: Connection, now: datetime) -> MoneyMark:
    ap = alert_penalties.c
    penalties = tuple(
        (row.alert_id, row.until) for row in conn.execute(select(ap.alert_id, ap.until).order_by(ap.alert_id))
    )
    return conn.execute(select(func.max(ledger.c.id))).scalar(), now.astimezone(UTC).date(), penalties


def load_view(engine: Engine, now: datetime) -> View:
    """Read a whole view in one transaction."""
    with engine.connect() as raw:
        conn = _snapshot(raw)
        with conn.begin():
            mark = _money_mark(conn, now)
            loaded = loading.load(conn, now=now)
    return View(loaded, now, mark)


def _reload_money(engine: Engine, view: View, now: datetime) -> View:
    """The view with balances, today's spend, allowances and penalties re-read (same declared state)."""
    with engine.connect() as raw:
        conn = _snapshot(raw)
        with conn.begin():
            revision = loading.current_revision(conn)
            mark = _money_mark(conn, now)
            money = loading.load_money(conn, now, packages=view.directory.packages)
    if revision != view.revision:  # an apply landed in between: take all of it
        return load_view(engine, now)
    return replace(view, directory=view.directory.with_money(money), money_mark=mark)


class SidecarState:
    """The current ``View`` plus the sidecar's in-memory ``CallLimits``; thread-safe reloads."""

    def __init__(self, engine: Engine, *, clock: Callable[[], datetime] | None = None) -> None:
        self.engine = engine
        self.limits = CallLimits()
        self._clock = clock or (lambda: datetime.now(UTC))
        self._view: View | None = None
        self._lock = threading.Lock()  # one loader at a time; readers never take it
        self.reloads = 0

    @property
    def view(self) -> View | None:
        return self._view

    def now(self) -> datetime:
        return self._clock()

    def load(self) -> View:
        """Load a fresh view and swap it in."""
        with self._lock:
            return self._swap(load_view(self.engine, self._clock()))

    def refresh(self) -> bool:
        """The poll step: reload on a new revision, re-read money when the ledger, penalties or day moved.

        Returns True when the declared state was reloaded.
        """
        with self._lock:
            now = self._clock()
            view = self._view
            if view is None:
                self._swap(load_view(self.engine, now))
                return True
            with self.engine.connect() as conn:
                revision = loading.current_revision(conn)
                mark = _money_mark(conn, now)
            if revision != view.revision:
                self._swap(load_view(self.engine, now))
                log.info("loaded revision %s", revision)
                return True
            if mark != view.money_mark:
                self._swap(_reload_money(self.engine, view, now))
            return False

    def current(self) -> View:
        """The view, reloaded first if the database has a newer revision (rating calls this per batch)."""
        view = self._view
        if view is not None:
            with self.engine.connect() as conn:
                if loading.current_revision(conn) == view.revision:
                    return view
        self.refresh()
        assert self._view is not None
        return self._view

    def _swap(self, view: View) -> View:
        if self._view is None or view.revision != self._view.revision:
            self.reloads += 1
        self._view = view
        return view
