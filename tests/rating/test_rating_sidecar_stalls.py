"""What keeps the sidecar's event loop from stalling, and the metric that shows when it does.

A full cyclic garbage collection holds the GIL while it walks every tracked object, and every
authorization waits in its socket meanwhile (60-90 ms at 500 CPS, bench/RESULTS.md's SIP end to
end): the loaded directory is frozen out of the collector. A statistics roll-up is 100-250 ms of
Python at that rate: it runs in a process of its own. The authorize histogram cannot show such
waits; ``trunkline_event_loop_lag_seconds`` does.
"""

from __future__ import annotations

import gc
import sqlite3
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select
from support.polling import wait_until
from support.rating_world import BATCH, COBALT, MANIFESTS, apply_world
from support.sidecar import ServerThread, http, metric, parse_metrics

from rating import stats, stats_worker
from rating.service import SIDECAR, create_app
from rating.sidecar import LOOP_LAG_INTERVAL
from rating.state import load_view
from resources import gcpause
from switchdb.tables.rating import stats_minute

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # the collector, not the backend


@pytest.fixture
def server(engine: Any) -> Iterator[ServerThread]:
    with ServerThread(create_app(engine, reload_interval=0.2)) as running:
        yield running


def tracked(obj: object) -> bool:
    """Whether the cyclic collector walks ``obj`` (frozen objects are in none of its generations)."""
    return any(o is obj for o in gc.get_objects())


def test_the_directory_is_frozen_out_of_the_collector_at_start_and_after_a_reload(
    server: ServerThread, engine: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = server.app[SIDECAR].state
    first = state.view.directory
    assert gc.get_freeze_count() > 0
    assert not tracked(first), "the first directory is walked by every full collection"
    assert not tracked(next(iter(first.customers.values())))

    apply_world(engine, monkeypatch, MANIFESTS + COBALT)
    wait_until(lambda: state.view.directory is not first, timeout=10, what="the sidecar to load the new revision")
    # frozen by the reload poll that loaded it (or the next one, when rating loaded it first)
    wait_until(lambda: not tracked(state.view.directory), timeout=10, what="the new directory to be frozen")


def test_a_dropped_view_is_freed_without_the_cyclic_collector(engine: Any) -> None:
    # The premise of freezing: a frozen directory the sidecar swaps out is freed by reference
    # counting. A reference cycle in it would be kept for good once frozen.
    load_view(engine, datetime.now(UTC))  # first-use caches (SQLAlchemy, regexes) are not garbage
    gc.collect()
    gc.disable()
    try:
        view = load_view(engine, datetime.now(UTC))
        assert view.directory.customers
        del view
        assert gc.collect() == 0
    finally:
        gc.enable()


def test_loop_lag_shows_a_stall_the_authorize_histogram_cannot(server: ServerThread) -> None:
    def samples() -> dict[Any, float]:
        return parse_metrics(http(server.url, "GET", "/metrics")[1])

    wait_until(
        lambda: metric(samples(), "trunkline_event_loop_lag_seconds_count") > 0,
        timeout=10,
        what="loop lag samples",
    )
    before = samples()
    server.loop.call_soon_threadsafe(time.sleep, 0.3)  # what a 300 ms collection does to the loop
    time.sleep(0.3 + 5 * LOOP_LAG_INTERVAL)
    after = samples()

    def stalls(s: dict[Any, float]) -> float:
        """Lag samples above 0.25 s."""
        total = metric(s, "trunkline_event_loop_lag_seconds_count")
        return total - metric(s, "trunkline_event_loop_lag_seconds_bucket", le="0.25")

    assert stalls(after) - stalls(before) == 1
    assert metric(after, "trunkline_event_loop_lag_seconds_sum") - metric(
        before, "trunkline_event_loop_lag_seconds_sum"
    ) == pytest.approx(0.3, abs=0.1)


def test_roll_ups_while_serving_run_outside_the_sidecars_process(
    server: ServerThread, engine: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    in_process: list[object] = []
    roll_up = stats.roll_up
    monkeypatch.setattr(stats, "roll_up", lambda conn, since: in_process.append(since) or roll_up(conn, since))
    assert http(server.url, "POST", "/v1/cdrs", [record for record, *_ in BATCH])[0] == 200

    def minutes() -> int:
        with engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(stats_minute)).scalar_one()

    wait_until(lambda: minutes() > 0, timeout=10, what="the batch's minutes rolled up")
    assert in_process == [], "a roll-up ran in a thread of the sidecar, sharing the event loop's GIL"


def test_a_roll_up_holds_sqlites_write_lock_from_its_begin(engine: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # A deferred roll-up read the CDRs, then could not write ("database is locked") whenever a
    # CDR batch committed in between: ~30 failed passes a minute at 500 CPS.
    held: list[bool] = []
    roll_up = stats.roll_up

    def probing(conn: Any, since: datetime) -> int:
        other = sqlite3.connect(engine.url.database, timeout=0, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")
            held.append(False)
        except sqlite3.OperationalError:
            held.append(True)
        finally:
            other.close()
        return roll_up(conn, since)

    monkeypatch.setattr(stats, "roll_up", probing)
    stats_worker.roll_up(engine, datetime(2026, 3, 1, tzinfo=UTC))
    assert held == [True]


def test_rating_a_batch_leaves_the_sidecars_heap_frozen(engine: Any) -> None:
    """A batch is rated under the collector pause; ending it must not thaw the frozen directory
    (the next full collection would walk it again: the stalls freezing removed)."""
    from support.rating_world import parse

    from rating.sidecar import Sidecar, freeze_heap

    sidecar = Sidecar(engine)
    sidecar.state.load()
    freeze_heap(full=True)
    try:
        directory = sidecar.state.view.directory
        sidecar.rate(parse([record for record, *_ in BATCH]))
        assert sidecar.state.view.directory is directory
        assert not tracked(directory), "the pause thawed the heap"
    finally:
        gcpause.thaw_heap()
