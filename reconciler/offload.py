"""Offload: compute a pure function on the other core while this process goes on.

A cold apply of 120k objects spends a second of CPU serializing the revision's snapshot and the
ownership hashes. In a thread that second mostly waits for the GIL, which the writer needs for
every row it binds, so it barely overlaps. In a forked child (a copy-on-write copy of this
process, the state already in it) it runs on the second core for real; the parent reads the
pickled result from a pipe when it needs it.

Forking is only safe while no other thread runs (a lock held by one at the fork would stay held
in the child forever), so with other threads, or without ``os.fork``, the function runs in a
thread as before. The child never touches the parent's connections: it disables the cyclic
collector (no finalizer can run on an inherited object), computes, writes the result and leaves
with ``os._exit`` (no atexit handler, no unwinding of the parent's stack). If the child fails
or dies, the result is computed in this process instead, so the outcome never depends on the
fork.
"""

from __future__ import annotations

import contextlib
import gc
import os
import pickle
import signal
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Generic, TypeVar

T = TypeVar("T")


def can_fork() -> bool:
    return hasattr(os, "fork") and threading.active_count() == 1


class Offloaded(Generic[T]):
    """``fn(*args)``, started now in a forked child (or a thread), collected by ``result()``."""

    def __init__(self, fn: Callable[..., T], *args: Any) -> None:
        self._call = (fn, args)
        self._pid: int | None = None
        self._pipe: int | None = None
        self._thread: ThreadPoolExecutor | None = None
        self._future: Future[T] | None = None
        if can_fork():
            self._fork()
        else:
            self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="trunkline-offload")
            self._future = self._thread.submit(fn, *args)

    @property
    def forked(self) -> bool:
        return self._pid is not None

    def _fork(self) -> None:
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: compute, hand over, leave without running anything else
            os.close(read)
            status = 0
            try:
                gc.disable()
                fn, args = self._call
                payload = pickle.dumps(fn(*args), protocol=pickle.HIGHEST_PROTOCOL)
                with os.fdopen(write, "wb") as out:
                    out.write(payload)
            except BaseException:
                status = 1
            os._exit(status)
        os.close(write)
        self._pid, self._pipe = pid, read

    def result(self) -> T:
        if self._future is not None:
            try:
                return self._future.result()
            finally:
                self.close()
        chunks = []
        assert self._pipe is not None and self._pid is not None
        with os.fdopen(self._pipe, "rb") as pipe:
            self._pipe = None
            while chunk := pipe.read(1 << 20):
                chunks.append(chunk)
        _, status = os.waitpid(self._pid, 0)
        self._pid = None
        if status == 0 and chunks:
            try:
                value: T = pickle.loads(b"".join(chunks))
                return value
            except (pickle.UnpicklingError, EOFError, ValueError):
                pass
        fn, args = self._call
        return fn(*args)  # the child failed: the same work here

    def close(self) -> None:
        """Stop the work if it still runs (the apply failed): kill the child, drop the thread."""
        if self._pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self._pid, signal.SIGKILL)
            os.waitpid(self._pid, 0)
            self._pid = None
        if self._pipe is not None:
            os.close(self._pipe)
            self._pipe = None
        if self._thread is not None:
            self._thread.shutdown(wait=False, cancel_futures=True)
            self._thread = None
