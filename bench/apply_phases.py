"""Where a cold apply's time goes: one more cold apply, into a fresh SQLite file, with the
engine's phases timed by wrappers around its internals (``bench_engine.py --phases``).

The phases nest and overlap (the background thread's snapshot runs while rows are written), so
they do not add up to the total; the snapshot and hashes are also timed alone afterwards, which
is their serial cost: with the GIL held for most of it, about what they add to the wall clock.
"""

from __future__ import annotations

import functools
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy.engine.default as sa_default

from reconciler import apply as apply_module
from reconciler import reconcile
from reconciler.apply import RevisionInfo
from resources.gcpause import paused_gc
from resources.state import DesiredState
from switchdb.engine import open_database

# (owner, attribute, label): what is timed, outermost first
PHASES: list[tuple[Any, str, str]] = [
    (reconcile, "desired_rows", "desired rows (before the write transaction)"),
    (reconcile, "_plan", "plan under the lock (observe + diff)"),
    (apply_module._Writer, "create", "creates (rows and child rows, all kinds)"),
    (apply_module, "_record_ownership", "ownership inventory"),
    (sa_default.DefaultDialect, "do_executemany", "driver executemany, every insert (inside the two above)"),
    (sa_default.DefaultDialect, "do_commit", "commit"),
]


@contextmanager
def _timing(owner: Any, name: str, label: str, spent: dict[str, float]) -> Iterator[None]:
    real: Callable[..., Any] = getattr(owner, name)

    @functools.wraps(real)
    def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return real(*args, **kwargs)
        finally:
            spent[label] = spent.get(label, 0.0) + time.perf_counter() - started

    setattr(owner, name, timed)
    try:
        yield
    finally:
        setattr(owner, name, real)


def cold_apply_phases(state: DesiredState) -> list[tuple[str, float]]:
    """(label, wall seconds) of one instrumented cold apply of ``state`` into a new SQLite file."""
    spent: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="trunkline-phases-") as name:
        engine = open_database(f"sqlite:///{Path(name) / 'phases.db'}")
        try:
            with ExitStack() as timing:
                for owner, attribute, label in PHASES:
                    timing.enter_context(_timing(owner, attribute, label, spent))
                started = time.perf_counter()
                result = reconcile.apply(engine, state, info=RevisionInfo(actor="bench", source="phases"))
                total = time.perf_counter() - started
        finally:
            engine.dispose()
    with paused_gc():
        started = time.perf_counter()
        apply_module._digests_and_snapshot(result.plan, state)
        alone = time.perf_counter() - started
    return [
        ("cold apply (instrumented)", total),
        *((label, spent.get(label, 0.0)) for _, _, label in PHASES),
        ("snapshot and spec hashes, timed alone afterwards", alone),
    ]
