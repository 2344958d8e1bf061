"""GitOps benchmark: one no-change tick of the sync loop (``reconciler.watch.Watcher.tick``).

The issue's goal: a tick at an unchanged commit over the 110k-object example takes under 2 s,
"most of it the plan". Steps, in one process:

- generate the carrier (``bench/gen.py``: 10k customers x 12 objects plus one RateCard with a
  100k-row deck by default) into a fresh git repository (gitpython ``Repo.init``, ``add``,
  ``commit``);
- ``reconciler.sync.sync_once`` it once into an empty SQLite database (the cold sync: reported,
  not the goal);
- one ``Watcher(...).tick()`` at the same commit, timed whole and broken down by wrapping the
  functions the tick calls (``GitSource.checkout`` = fetch + resolve + check out;
  ``sync.load_commit`` = load; inside ``reconcile.apply``: ``desired_rows``, ``observe``,
  ``plan_changes`` = the plan; whatever is left of ``reconcile.apply`` is the apply, which for
  an empty plan is the write transaction being opened and nothing written);
- a second tick (warm: checkout already on disk, nothing fetched): the steady state the goal is
  about. The first tick's plan came out empty, so while the commit, the secrets and the change
  counters of the planned tables (``reconciler.unchanged``) stand still, the second recalls it
  instead of planning; then a drift check: one owned live row changed behind Trunkline's back
  must make the next tick plan in full and come out ``drift-corrected``.

Figures are printed, never asserted: wall and this process's CPU seconds, and the time in the
cyclic garbage collector (see common.py).

    python bench/bench_sync_tick.py                                   # full size: 10k customers
    python bench/bench_sync_tick.py --customers 1000 --deck-rows 10000
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import git
import sqlalchemy as sa
from common import Timing, figures, load_average, machine, table, timed
from gen import PASSWORD_ENV, generate

from reconciler import reconcile
from reconciler import sync as syncing
from reconciler import watch as watching
from reconciler.gitsource import GitSource
from switchdb.engine import open_database


@contextmanager
def instrumented(parts: dict[str, Timing]) -> Iterator[None]:
    """Wrap the functions a tick calls so each call adds its wall/CPU time to ``parts``."""
    import gc
    import time

    patches: list[tuple[Any, str, Any]] = []

    def wrap(owner: Any, name: str, label: str) -> None:
        original = getattr(owner, name)

        @functools.wraps(original)
        def timed_call(*args: Any, **kwargs: Any) -> Any:
            t = parts.setdefault(label, Timing(label))
            started: list[float] = []

            def on_gc(phase: str, _info: dict[str, int]) -> None:
                if phase == "start":
                    started.append(time.perf_counter())
                elif started:
                    t.gc += time.perf_counter() - started.pop()

            gc.callbacks.append(on_gc)
            wall, cpu = time.perf_counter(), time.process_time()
            try:
                return original(*args, **kwargs)
            finally:
                t.wall += time.perf_counter() - wall
                t.cpu += time.process_time() - cpu
                gc.callbacks.remove(on_gc)

        patches.append((owner, name, original))
        setattr(owner, name, timed_call)

    wrap(GitSource, "checkout", "fetch (GitSource.checkout: fetch, resolve, check out)")
    wrap(syncing, "load_commit", "load (sync.load_commit -> resources.load)")
    wrap(reconcile, "apply", "reconcile.apply (plan under the lock + write)")
    wrap(reconcile, "desired_rows", "plan: desired rows")
    wrap(reconcile, "observe", "plan: observe")
    wrap(reconcile, "plan_changes", "plan: diff (plan_changes)")
    try:
        yield
    finally:
        for owner, name, original in reversed(patches):
            setattr(owner, name, original)


def breakdown(tick: Timing, parts: dict[str, Timing]) -> list[list[str]]:
    """Rows: fetch, load, plan (and its three steps), apply (the rest of reconcile.apply), other."""
    zero = Timing("")

    def get(label_start: str) -> Timing:
        return next((t for k, t in parts.items() if k.startswith(label_start)), zero)

    fetch, load, whole_apply = get("fetch"), get("load"), get("reconcile.apply")
    steps = [get("plan: desired"), get("plan: observe"), get("plan: diff")]
    plan = Timing("plan", sum(s.wall for s in steps), sum(s.cpu for s in steps), sum(s.gc for s in steps))
    rest = Timing(
        "apply", whole_apply.wall - plan.wall, whole_apply.cpu - plan.cpu, whole_apply.gc - plan.gc
    )  # the write transaction (BEGIN IMMEDIATE), commit; nothing written for an empty plan
    other = Timing(
        "other",
        tick.wall - fetch.wall - load.wall - whole_apply.wall,
        tick.cpu - fetch.cpu - load.cpu - whole_apply.cpu,
        tick.gc - fetch.gc - load.gc - whole_apply.gc,
    )

    def share(t: Timing) -> str:
        return f"{100 * t.wall / tick.wall:.0f}%" if tick.wall > 0 else ""

    rows = [
        ["fetch (git fetch, rev-parse, checkout reused)", *figures(fetch), share(fetch)],
        ["load (resources.load of the commit)", *figures(load), share(load)],
        ["plan (desired rows + observe + diff)", *figures(plan), share(plan)],
        *[[f"  {s.label}", *figures(s), share(s)] for s in (steps[0], steps[1], steps[2]) if s is not zero],
        ["apply (lock; writes only if the plan is not empty)", *figures(rest), share(rest)],
        ["other (revision lookup, logging)", *figures(other), share(other)],
        ["whole tick", *figures(tick), "100%"],
    ]
    return rows


def relabel(parts: dict[str, Timing]) -> None:
    for k, t in parts.items():
        t.label = k.removeprefix("plan: ")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=10_000, help="12 objects each (default 10000: full size)")
    parser.add_argument("--deck-rows", type=int, default=100_000, help="CSV deck rows (default 100000)")
    args = parser.parse_args(argv)
    os.environ.setdefault(PASSWORD_ENV, "bench-only-not-a-secret")

    print(f"# sync tick benchmark: {args.customers} customers, {args.deck_rows}-row deck, SQLite\n")
    print(machine({"database": "SQLite file in a temp dir (WAL)", "git": git.Git().version()}))
    print(f"- command: python bench/bench_sync_tick.py {' '.join(sys.argv[1:])}".rstrip())
    results: list[Timing] = []
    with tempfile.TemporaryDirectory(prefix="trunkline-sync-bench-") as name:
        tmp = Path(name)
        work = tmp / "carrier"
        print("\nsteps:")
        with timed("generate manifests", results):
            summary = generate(work / "manifests", customers=args.customers, deck_rows=args.deck_rows)
        with timed("git init, add, commit", results):
            repo = git.Repo.init(work, initial_branch="main")
            with repo.config_writer() as cfg:
                cfg.set_value("user", "name", "Bench")
                cfg.set_value("user", "email", "bench@example.invalid")
            repo.git.add("--all")
            repo.index.commit("carrier: generated by bench/gen.py")
            repo.close()
        print(f"  {summary.objects} objects in {len(summary.files)} files")

        engine = open_database(f"sqlite:///{tmp / 'switch.db'}")
        source = GitSource(str(work), "main", cache_dir=tmp / "cache")
        with timed("cold sync: sync.sync_once (fetch, load, apply)", results) as cold:
            first = syncing.sync_once(engine, source, "manifests", actor="bench")
        print(f"  revision {first.revision_id}: {first.plan.summary}")

        watcher = watching.Watcher(engine, source, "manifests", actor="bench", interval=60)
        ticks: list[tuple[str, Timing, dict[str, Timing]]] = []
        for label in ("no-change tick (first of this watcher)", "no-change tick (second)"):
            parts: dict[str, Timing] = {}
            with instrumented(parts), timed(label, results) as t:
                tick = watcher.tick()
            t.note = f"-> {tick.outcome}"
            print(f"  outcome: {tick.outcome}, plan {tick.plan.summary if tick.plan else None}")
            relabel(parts)
            ticks.append((label, t, parts))
            print(table(["part", "wall s", "cpu s", "in gc s", "share of wall"], breakdown(t, parts)), flush=True)

        # Drift: an owned live row changed behind Trunkline's back must still be seen (and put back).
        with engine.begin() as conn:
            changed = conn.execute(
                sa.text("UPDATE customers SET channels = channels + 7 WHERE name = 'cust-00042'")
            ).rowcount
        parts = {}
        with instrumented(parts), timed("tick after a live row was changed (drift)", results) as drift:
            tick = watcher.tick()
        drift.note = f"-> {tick.outcome}"
        print(f"  {changed} live row changed; outcome: {tick.outcome}, plan {tick.plan.summary if tick.plan else None}")
        relabel(parts)
        ticks.append(("tick after a live row changed", drift, parts))
        print(table(["part", "wall s", "cpu s", "in gc s", "share of wall"], breakdown(drift, parts)), flush=True)
        engine.dispose()

    print(f"\nload average at end: {load_average()}")
    print("\n## results\n")
    print(table(["step", "wall s", "cpu s", "in gc s"], [[t.label, *figures(t)] for t in [*results[:2], cold]]))
    for label, t, p in ticks:
        print(f"\n{label} ({t.note.removeprefix('-> ')}):\n")
        print(table(["part", "wall s", "cpu s", "in gc s", "share of wall"], breakdown(t, p)))
    _, best, _ = ticks[1]
    verdict = "met" if best.wall < 2 else "MISSED"
    print(f"\ngoal: no-change tick under 2 s at {summary.objects} objects: {best.wall:.2f} s wall "
          f"({best.cpu:.2f} s cpu) -> {verdict}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
