"""The sidecar's statistics roll-ups, in a process of their own (``StatsWorker``).

A roll-up re-reads every CDR of the minutes it redoes (``rating.stats.roll_up``): at 500 CPS the
current minute holds up to 30,000 CDRs and a pass costs 100-250 ms of Python. In a thread of the
sidecar that work holds the GIL, and the event loop gets it back only at each switch interval:
authorizations waited 15-50 ms behind it, more the later in the minute (bench/RESULTS.md, SIP end
to end). Here it runs in a spawned process with its own engine, on another core, and the sidecar's
thread only waits for the answer. The rows written are the same.

The process leaves on its own when the sidecar is gone, however it went (SIGKILL, OOM): a pool
worker otherwise waits on its task queue forever, and a sidecar restarted by systemd left one
orphan of ~75 MB per restart.

``roll_up(engine, since)`` is the transaction both paths use. On SQLite it takes the write lock
at BEGIN: a deferred transaction read the CDRs, then failed with "database is locked" when a CDR
batch had committed meanwhile (WAL cannot upgrade a stale snapshot; ~30 failed passes a minute at
500 CPS, each redone later).
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime

from sqlalchemy import Engine

from rating import stats
from rating.ledger import writing

PARENT_CHECK = 1.0  # seconds between the worker's looks at whether the sidecar still lives
_engines: dict[str, Engine] = {}  # in the worker process: one engine per database, kept


class StatsWorker:
    """One spawned process that rolls up statistics for ``engine``'s database; ``close()`` stops it."""

    def __init__(self, engine: Engine) -> None:
        self._url = engine.url.render_as_string(hide_password=False)
        self._pool = ProcessPoolExecutor(
            max_workers=1,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_leave_with_parent,
            initargs=(os.getpid(),),
        )

    def start(self) -> None:
        """Start the process and its imports now (blocking), not on the first roll-up."""
        self._pool.submit(_ready).result()

    def roll_up(self, since: datetime) -> int:
        """``stats.roll_up`` from ``since`` in its own transaction, in the worker (blocking)."""
        return self._pool.submit(_roll_up, self._url, since).result()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


def roll_up(engine: Engine, since: datetime) -> int:
    """``stats.roll_up`` from ``since`` in a transaction of its own (SQLite: BEGIN IMMEDIATE)."""
    with engine.connect() as raw:
        conn = writing(raw)
        with conn.begin():
            return stats.roll_up(conn, since)


def _leave_with_parent(parent: int) -> None:
    """In the worker: exit as soon as ``parent`` (the sidecar) is no longer its parent."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK)
        os._exit(0)  # nothing to flush: a roll-up under way is one transaction, rolled back

    threading.Thread(target=watch, name="trunkline-parent-watch", daemon=True).start()


def _ready() -> None:
    import switchdb.engine  # noqa: F401  (what the first roll-up would import)


def _roll_up(url: str, since: datetime) -> int:
    from switchdb.engine import open_database

    engine = _engines.get(url)
    if engine is None:
        engine = _engines[url] = open_database(url, upgrade=False)
    return roll_up(engine, since)
