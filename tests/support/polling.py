"""Polling with a deadline: the one way tests wait for something another process does.

A fixed ``time.sleep`` is either too short on a busy CI machine or wasted on a fast one; a poll
returns as soon as the condition holds and, when it never does, fails naming what it waited for
and the last thing the probe saw.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


class Timeout(AssertionError):
    """A condition polled by `wait_until` did not hold in time."""


def wait_until(
    probe: Callable[[], T],
    *,
    timeout: float,
    what: str,
    interval: float = 0.3,
    fatal: tuple[type[BaseException], ...] = (),
) -> T:
    """Poll ``probe`` until it returns something truthy and return that; raise ``Timeout`` naming ``what``.

    A probe that raises counts as "not yet" (a server restarting, a file half written); the last
    exception is in the ``Timeout`` message. Exceptions of a ``fatal`` type (the process being
    waited for died) propagate at once.
    """
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            last = probe()
        except fatal:
            raise
        except Exception as exc:
            last = exc
        else:
            if last:
                return last
        if time.monotonic() > deadline:
            raise Timeout(f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r})")
        time.sleep(interval)
