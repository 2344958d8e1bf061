"""``CallLimits``: channels and CPS per scope, retransmissions, ending calls, and races between threads."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from rating.limits import CallLimits, Scope

T0 = datetime(2026, 6, 1, 12, tzinfo=UTC)
CUSTOMER = Scope(("customer", 1), "customer default/acme", channels=2)
ROUTE = Scope(("route", 7), "route default/acme", cps=3)
OPEN = Scope(("ip", 3), "IP authentication default/acme-ip")  # 0/0: unlimited


@pytest.mark.parametrize(
    ("scopes", "calls", "refused_at", "reason"),
    [
        pytest.param([OPEN], 50, None, None, id="zero-is-unlimited"),
        pytest.param([CUSTOMER, OPEN], 3, 2, "customer default/acme channel limit reached (2/2)", id="channels"),
        pytest.param([OPEN, ROUTE], 4, 3, "route default/acme CPS limit reached (3/3)", id="cps-same-second"),
    ],
)
def test_admission(scopes: list[Scope], calls: int, refused_at: int | None, reason: str | None) -> None:
    limits = CallLimits()
    refusals = [limits.admit(f"c{n}", scopes, T0) for n in range(calls)]
    first_refused = next((n for n, r in enumerate(refusals) if r is not None), None)
    assert first_refused == refused_at
    if reason is not None:
        assert refusals[refused_at].reason == reason


def test_a_refused_call_takes_nothing_in_any_scope() -> None:
    limits = CallLimits()
    assert limits.admit("a", [CUSTOMER], T0) is None
    assert limits.admit("b", [CUSTOMER], T0) is None
    assert limits.admit("c", [OPEN, CUSTOMER], T0) is not None
    assert limits.channels(OPEN.key) == 0
    assert [d.call_id for d in limits.active_dialogs()] == ["a", "b"]


def test_end_frees_the_channel_and_unknown_ends_are_harmless() -> None:
    limits = CallLimits()
    limits.admit("a", [CUSTOMER], T0)
    limits.admit("b", [CUSTOMER], T0 + timedelta(seconds=1))
    assert limits.admit("c", [CUSTOMER], T0) is not None
    assert limits.end("a") is True
    assert limits.end("a") is False
    assert limits.end("never-seen") is False
    assert limits.admit("c", [CUSTOMER], T0 + timedelta(seconds=2)) is None
    assert [d.call_id for d in limits.active_dialogs()] == ["b", "c"]


def test_cps_window_slides() -> None:
    limits = CallLimits()
    for n in range(3):
        assert limits.admit(f"a{n}", [ROUTE], T0 + timedelta(milliseconds=100 * n)) is None
    assert limits.admit("x", [ROUTE], T0 + timedelta(milliseconds=999)) is not None
    assert limits.admit("y", [ROUTE], T0 + timedelta(milliseconds=1000)) is None  # a0 is exactly 1 s old


def test_check_without_reserving() -> None:
    limits = CallLimits()
    for n in range(5):
        assert limits.admit(f"s{n}", [CUSTOMER, ROUTE], T0, reserve=False) is None
    assert limits.active_dialogs() == []


def test_threads_never_exceed_the_channel_limit() -> None:
    limits = CallLimits()
    scope = Scope(("customer", 9), "customer default/busy", channels=25)
    admitted: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(8)

    def worker(w: int) -> None:
        start.wait()
        for n in range(200):
            call_id = f"w{w}-{n}"
            if limits.admit(call_id, [scope], T0) is None:
                with lock:
                    admitted.append(call_id)
                if n % 2:
                    limits.end(call_id)

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    active = limits.active_dialogs()
    assert len(active) == limits.channels(scope.key) <= 25
    assert {d.call_id for d in active} <= set(admitted)
