"""The sidecar's state and work behind its HTTP API: rating batches, background polls, health.

``Sidecar`` holds the ``SidecarState`` (the directory view and call limits), the ``Metrics``, and
the blocking operations the handlers of ``rating.service`` run in the loop's thread executor.
``run_background`` (an aiohttp cleanup context) loads the first view and starts the tasks:

- the revision poll every ``reload_interval`` (``rating.state``), woken early when a batch moved
  balances or an alert moved penalties;
- with a ``cdr_dir``, the tail of the CDR files there every ``tail_interval`` (``rating.tail``);
- statistics every ``stats_interval`` and after CDR batches (woken by them, at most once per
  ``STATS_MIN_GAP``; batches in between coalesce): ``rating.stats.roll_up`` from the earliest
  ``start`` of the batches not yet rolled up, and once per interval from two intervals back, so
  minutes another sidecar wrote CDRs into are redone too. A failed roll-up keeps its minutes
  pending for the next pass. While serving, roll-ups run in a process of their own
  (``rating.stats_worker``): one is too much Python to share the event loop's GIL;
- with ``alerts_interval``, the pending minutes are rolled up and ``rating.alerts.evaluate``
  runs with ``notifier``. On PostgreSQL the evaluation takes a transaction-level advisory lock and
  a sidecar that cannot get it skips the tick (SQLite's write lock serializes them), so a firing
  alert is sent once with several sidecars;
- with ``packages_interval``, the package periods due are charged (``rating.package_charges``,
  exactly once however many sidecars run) and the money view is reloaded when any was;
- the event loop's lag (how late it runs a ``LOOP_LAG_INTERVAL`` timer) into the metrics.

After the first load and after every reload of the declared state, what is alive (modules, the
engine, the directory) is frozen out of the cyclic collector (``freeze_heap``). A full collection
walks every tracked object while holding the GIL, and nothing else in the process runs meanwhile:
over the sidecar's heap it stopped the event loop for 60-90 ms once or twice in a 10 s run at 500 CPS
(the tail of bench/RESULTS.md's SIP end to end), and over a carrier-size directory it would be
longer. Frozen objects are still freed by reference counting (the directory holds no cycles).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import threading
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select

from rating import stats_worker
from rating.alerts import evaluate
from rating.cdr import Cdr
from rating.ledger import money_text, read_balances, writing
from rating.loading import current_revision
from rating.metrics import Metrics
from rating.notify import Notifier
from rating.package_charges import PackageCharge, charge_packages
from rating.rater import RateResult, rate_cdrs
from rating.state import SidecarState
from rating.tail import CdrTail
from resources import gcpause

log = logging.getLogger(__name__)

ALERTS_LOCK_KEY = 0x7472756E6B  # pg advisory lock: one sidecar evaluates alerts at a time
STATS_MIN_GAP = 1.0  # seconds between roll-ups: batches arriving meanwhile are rolled up together
LOOP_LAG_INTERVAL = 0.01  # seconds between event loop lag samples


class Sidecar:
    """State, metrics and the blocking operations the handlers run in the executor."""

    def __init__(
        self,
        engine: Engine,
        *,
        reload_interval: float = 5.0,
        cdr_dir: Path | None = None,
        tail_state: Path | None = None,
        tail_interval: float = 1.0,
        clock: Callable[[], datetime] | None = None,
        stats_interval: float = 60.0,
        alerts_interval: float | None = None,
        notifier: Notifier | None = None,
        packages_interval: float | None = None,
    ) -> None:
        self.engine = engine
        self.stats_interval = stats_interval
        self.alerts_interval = alerts_interval
        self.packages_interval = packages_interval
        self.notifier = notifier or Notifier()
        self._pending_since: datetime | None = None  # earliest CDR start not rolled up yet
        self._stats_lock = threading.Lock()
        self._stats_wake: asyncio.Event | None = None
        self._last_wide_roll_up: datetime | None = None
        self.roll_ups = 0
        self.alert_runs = 0
        self.state = SidecarState(engine, clock=clock)
        self.metrics = Metrics()
        self.reload_interval = reload_interval
        self.cdr_dir = Path(cdr_dir) if cdr_dir else None
        self.tail_state = tail_state
        self.tail_interval = tail_interval
        self.tail: CdrTail | None = None
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._frozen_reloads: int | None = None  # state.reloads when the heap was last frozen
        self._stats_worker: stats_worker.StatsWorker | None = None  # while serving: roll-ups in their own process

    def rate(self, cdrs: list[Cdr]) -> RateResult:
        """Rate a batch (blocking); committed when this returns. Ends the dialogs, counts the outcomes."""
        view = self.state.current()  # never rate against a directory older than the newest revision
        result = rate_cdrs(self.engine, view.directory, cdrs, now=self.state.now())
        for cdr in cdrs:
            self.state.limits.end(cdr.call_id)
        counts: dict[tuple[str, str], int] = {}
        for outcome in result.outcomes:
            key = (outcome.customer or "", outcome.status)
            counts[key] = counts.get(key, 0) + 1
        self.metrics.rated(counts)
        if cdrs:
            self._mark_pending(min(cdr.start for cdr in cdrs))
        if self._loop is not None:
            if result.rated and self._wake is not None:
                self._loop.call_soon_threadsafe(self._wake.set)  # balances moved: refresh the money soon
            if cdrs and self._stats_wake is not None:
                self._loop.call_soon_threadsafe(self._stats_wake.set)  # roll up the batch's minutes
        return result

    def _mark_pending(self, since: datetime) -> None:
        with self._stats_lock:
            if self._pending_since is None or since < self._pending_since:
                self._pending_since = since

    def roll_up(self) -> int:
        """Roll up the pending minutes; once a stats interval, the last two intervals too.

        The wider pass picks up minutes other sidecars wrote CDRs into. After a batch only the
        batch's own minutes are redone: re-reading two intervals of CDRs after every batch was
        most of a busy sidecar's CPU (bench/RESULTS.md, SIP end to end).
        """
        with self._stats_lock:
            pending, self._pending_since = self._pending_since, None
        now = self.state.now()
        wide = self._last_wide_roll_up is None or now - self._last_wide_roll_up >= timedelta(
            seconds=self.stats_interval
        )
        recent = now - timedelta(seconds=2 * self.stats_interval)
        if wide:
            since = recent if pending is None else min(pending, recent)
        elif pending is None:
            return 0
        else:
            since = pending
        try:
            if self._stats_worker is not None:
                written = self._stats_worker.roll_up(since)
            else:
                written = stats_worker.roll_up(self.engine, since)
        except Exception:
            self._mark_pending(since)  # the next pass redoes these minutes
            raise
        self.roll_ups += 1
        if wide:
            self._last_wide_roll_up = now
        return written

    def check_alerts(self) -> list[Any] | None:
        """Roll up, then evaluate every alert once; None when another sidecar is evaluating now."""
        self.roll_up()
        with self.engine.connect() as raw:
            conn = writing(raw)
            with conn.begin():
                if conn.dialect.name == "postgresql":
                    locked = conn.execute(select(func.pg_try_advisory_xact_lock(ALERTS_LOCK_KEY))).scalar()
                    if not locked:
                        return None
                results = evaluate(conn, self.state.now(), notifier=self.notifier)
        self.alert_runs += 1
        if any(r.penalty for r in results) and self._loop is not None and self._wake is not None:
            self._loop.call_soon_threadsafe(self._wake.set)  # penalties moved: reload the money now
        return results

    def charge_packages(self) -> list[PackageCharge]:
        """Charge the package periods due now; the balances moved, so the money view is reloaded."""
        charged = charge_packages(self.engine, self.state.now())
        for c in charged:
            log.info("charged %s (%s, %s) to %s: %s %s", c.package, c.kind, c.period, c.customer, c.amount, c.currency)
        if charged and self._loop is not None and self._wake is not None:
            self._loop.call_soon_threadsafe(self._wake.set)
        return charged

    def refresh(self) -> None:
        """The reload poll; a new revision's directory is frozen out of the cyclic collector."""
        self.state.refresh()
        self._freeze_new_view()

    def _freeze_new_view(self) -> None:
        # rate() may have loaded the new revision itself (state.current()): the counter says so
        if self.state.reloads != self._frozen_reloads:
            self._frozen_reloads = self.state.reloads
            freeze_heap(full=False)

    def poll_tail(self) -> None:
        assert self.tail is not None
        result = self.tail.poll()
        if result.errors:
            self.metrics.malformed("file", len(result.errors))

    def health(self) -> tuple[bool, dict[str, Any]]:
        view = self.state.view
        body: dict[str, Any] = {"revision": None if view is None else view.revision}
        try:
            with self.engine.connect() as conn:
                body["databaseRevision"] = current_revision(conn)
        except Exception as exc:  # any failure means "not healthy", with its text
            body.update(status="database unreachable", error=str(exc).splitlines()[0])
            return False, body
        if view is None or view.revision is None:
            body["status"] = "no revision loaded"
            return False, body
        body["status"] = "ok"
        return True, body

    def balances(self) -> list[tuple[str, str, str]]:
        return [(b.customer, b.currency, money_text(b.amount)) for b in read_balances(self.engine)]

    async def run_background(self) -> AsyncIterator[None]:
        """aiohttp cleanup context: first load, then the reload poller and the CDR tail."""
        loop = asyncio.get_running_loop()
        self._loop = loop
        self._wake = asyncio.Event()
        try:
            await loop.run_in_executor(None, self.state.load)
        except Exception:
            log.exception("first load of the switch database failed; retrying every %s s", self.reload_interval)
        worker = stats_worker.StatsWorker(self.engine)
        try:
            await loop.run_in_executor(None, worker.start)
        except Exception:
            log.exception("cannot start the statistics process; rolling up in a thread of the sidecar")
            worker.close()
        else:
            self._stats_worker = worker
        if self.state.view is not None:
            freeze_heap(full=True)  # before the server listens: the full collection costs no call
            self._frozen_reloads = self.state.reloads
        self._stats_wake = asyncio.Event()
        tasks = [
            asyncio.create_task(
                _every(self.reload_interval, self.refresh, "reloading the switch database", wake=self._wake)
            ),
            asyncio.create_task(
                _every(
                    self.stats_interval,
                    self.roll_up,
                    "rolling up statistics",
                    wake=self._stats_wake,
                    min_gap=STATS_MIN_GAP,
                )
            ),
            asyncio.create_task(self._watch_loop()),
        ]
        if self.alerts_interval:
            tasks.append(asyncio.create_task(_every(self.alerts_interval, self.check_alerts, "evaluating alerts")))
        if self.packages_interval:
            charging = _every(self.packages_interval, self.charge_packages, "charging packages", at_start=True)
            tasks.append(asyncio.create_task(charging))
        if self.cdr_dir is not None:
            self.tail = await loop.run_in_executor(
                None, lambda: CdrTail(self.cdr_dir, self.rate, state_file=self.tail_state)
            )
            tasks.append(asyncio.create_task(self._poll_files()))
        yield
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._stats_worker is not None:
            worker, self._stats_worker = self._stats_worker, None
            await loop.run_in_executor(None, worker.close)  # after a roll-up under way

    async def _watch_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            before = loop.time()
            await asyncio.sleep(LOOP_LAG_INTERVAL)
            self.metrics.loop_lagged(max(0.0, loop.time() - before - LOOP_LAG_INTERVAL))

    async def _poll_files(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                await loop.run_in_executor(None, self.poll_tail)
            except Exception:
                log.exception("tailing %s failed; retrying in %s s", self.cdr_dir, self.tail_interval)
            await asyncio.sleep(self.tail_interval)


def freeze_heap(*, full: bool) -> None:
    """Collect, then move every object alive into the collector's permanent generation (``gc.freeze``).

    ``full``: a full collection first (at start, before any request); on a reload only the young
    generations are collected, because a full pass would walk the new directory once while the
    loop waits (cyclic garbage already in the oldest generation is frozen with the rest: a few
    objects per reload).
    """
    gc.collect(2 if full else 1)
    gcpause.freeze_heap()


async def _every(
    interval: float,
    work: Callable[[], object],
    what: str,
    *,
    wake: asyncio.Event | None = None,
    at_start: bool = False,
    min_gap: float = 0.0,
) -> None:
    """Run ``work`` in the executor every ``interval`` seconds (sooner when ``wake`` is set); a failure is logged.

    ``at_start`` runs it once right away too: what is due when a sidecar starts is done then.
    ``min_gap`` spaces runs out: wakes during the gap are kept and served right after it.
    """
    loop = asyncio.get_running_loop()
    first = at_start
    while True:
        if first:
            first = False
        elif wake is None:
            await asyncio.sleep(interval)
        else:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), timeout=interval)
            wake.clear()
        try:
            await loop.run_in_executor(None, work)
        except Exception:
            log.exception("%s failed; retrying in %s s", what, interval)
        if min_gap:
            await asyncio.sleep(min_gap)
