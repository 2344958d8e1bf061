"""Offload: the snapshot and ownership hashes computed in a forked child equal the in-process
ones; a failed or killed child never changes an apply's outcome; with threads, no fork."""

from __future__ import annotations

import os
import threading
import time

import pytest

from reconciler import apply as apply_module
from reconciler.offload import Offloaded, can_fork
from switchdb.engine import open_database

PARENT = os.getpid()


def _squares(n: int) -> list[int]:
    return [i * i for i in range(n)]


def _pid_and(value: str) -> tuple[int, str]:
    return os.getpid(), value


def _fails_in_a_child(n: int) -> int:
    if os.getpid() != PARENT:
        raise RuntimeError("the child fails")
    return n + 1


def _sleeps(seconds: float) -> int:
    time.sleep(seconds)
    return os.getpid()


def test_a_single_threaded_process_computes_in_a_forked_child() -> None:
    assert can_fork(), f"pytest runs {threading.active_count()} threads here; the fork path would go untested"
    work = Offloaded(_pid_and, "x" * 100_000)
    assert work.forked
    pid, value = work.result()
    assert pid != os.getpid() and value == "x" * 100_000
    assert Offloaded(_squares, 200_000).result() == _squares(200_000)  # more than a pipe holds at once


def test_a_child_that_fails_is_replaced_by_the_same_work_here() -> None:
    work = Offloaded(_fails_in_a_child, 41)
    assert work.forked
    assert work.result() == 42


def test_with_another_thread_running_it_does_not_fork() -> None:
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        work = Offloaded(_pid_and, "y")
        assert not work.forked
        assert work.result() == (os.getpid(), "y")
    finally:
        stop.set()
        other.join()


def test_close_kills_a_child_still_working_and_reaps_it() -> None:
    work = Offloaded(_sleeps, 60)
    pid = work._pid
    assert pid is not None
    started = time.monotonic()
    work.close()
    assert time.monotonic() - started < 10
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # already reaped: no zombie left behind


def test_an_offloaded_apply_stores_what_an_in_process_apply_stores(
    tmp_path, manifests, apply_state, sql, monkeypatch
) -> None:
    state = manifests.state()
    stored = {}
    for offload_from, label in ((1, "forked"), (10**9, "here")):
        monkeypatch.setattr(apply_module, "OFFLOAD_FROM", offload_from)
        forks = []
        real = apply_module.Offloaded

        def counting(*args, _real=real, _forks=forks):
            made = _real(*args)
            _forks.append(made.forked)
            return made

        monkeypatch.setattr(apply_module, "Offloaded", counting)
        engine = open_database(f"sqlite:///{tmp_path / label}.db")
        apply_state(engine, state)
        assert forks == ([True] if label == "forked" else [])
        stored[label] = (
            sql(engine, "SELECT kind, namespace, name, spec_hash, generation FROM trunkline_objects ORDER BY 1, 2, 3"),
            sql(engine, "SELECT desired FROM trunkline_revisions")[0][0],
        )
    assert stored["forked"] == stored["here"]
    assert len(stored["here"][0]) == len(state)
