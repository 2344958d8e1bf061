"""The collector pause: off inside, back on after, survivors promoted without a scan, cycles still found."""

from __future__ import annotations

import gc
import weakref

from resources.gcpause import freeze_heap, paused_gc, thaw_heap


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None


def test_the_collector_is_off_inside_and_on_after() -> None:
    assert gc.isenabled()
    with paused_gc():
        assert not gc.isenabled()
        with paused_gc():
            assert not gc.isenabled()
        assert not gc.isenabled()  # an inner block does not turn it back on
    assert gc.isenabled()


def test_survivors_go_to_the_oldest_generation_without_a_collection() -> None:
    collections: list[int] = []

    def count(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            collections.append(info["generation"])

    with paused_gc():
        kept = [[i] for i in range(50_000)]  # far past the young generation's threshold
    gc.callbacks.append(count)
    try:
        more = [[i] for i in range(100)]  # the allocation that would trigger the big scan
    finally:
        gc.callbacks.remove(count)
    assert collections == []
    assert gc.get_count()[0] < 700  # the young generation starts empty again
    assert gc.get_freeze_count() == 0  # nothing left frozen
    del kept, more


def test_a_cycle_made_inside_is_still_collected_by_a_full_collection() -> None:
    with paused_gc():
        a, b = Node(), Node()
        a.other, b.other = b, a
        watch = weakref.ref(a)
        del a, b
    assert watch() is not None  # garbage, but only a collection can see it
    gc.collect()
    assert watch() is None


def test_a_heap_frozen_on_purpose_stays_frozen() -> None:
    freeze_heap()
    try:
        frozen = gc.get_freeze_count()
        with paused_gc():
            _ = [[i] for i in range(1000)]
        assert gc.get_freeze_count() >= frozen
    finally:
        thaw_heap()
    assert gc.get_freeze_count() == 0
