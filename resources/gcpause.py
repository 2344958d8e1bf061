"""Pausing Python's cyclic garbage collector around bulk work.

Loading 120k objects or planning 350k rows allocates millions of small objects and no
reference cycles; the collector then spends more time scanning them than the work itself
(measured in bench/: 4 of 10.5 s of a no-op plan, 19 of 28 s of validation). Reference
counting still frees everything.

When the block ends, whatever it allocated and still holds (a loaded state, an applied plan:
millions of objects) would all be scanned by the first collection after it: half a second of
a cold apply. Instead they are promoted to the oldest generation without a scan
(``gc.freeze()`` then ``gc.unfreeze()`` moves lists, it traverses nothing), which is where
surviving two collections would have put them; the next full collection still finds any cycle
among them, so nothing leaks. A process that keeps its heap frozen on purpose (the rating
sidecar's directory) freezes it with ``freeze_heap``, and pauses then leave it frozen; asking
``gc.get_freeze_count()`` instead walks the whole frozen generation, a millisecond with the GIL.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

_kept_frozen = False


def freeze_heap() -> None:
    """Move every object alive out of the collector's reach for good (``gc.freeze``)."""
    global _kept_frozen
    gc.freeze()
    _kept_frozen = True


def thaw_heap() -> None:
    """Undo ``freeze_heap``: the frozen objects go back to the oldest generation."""
    global _kept_frozen
    gc.unfreeze()
    _kept_frozen = False


@contextmanager
def paused_gc() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            if not _kept_frozen:  # never thaw a heap frozen on purpose
                gc.freeze()
                gc.unfreeze()
            gc.enable()
