"""Pausing Python's cyclic garbage collector around bulk work.

Loading 120k objects or planning 350k rows allocates millions of small objects and no
reference cycles; the collector then spends more time scanning them than the work itself
(measured in bench/: 4 of 10.5 s of a no-op plan, 19 of 28 s of validation). Reference
counting still frees everything; the collector runs once when the block ends.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused_gc() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
