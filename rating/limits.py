"""Concurrent calls and calls per second, counted in memory by the sidecar that authorizes them.

A switch node has one sidecar, and a dialog lives on the node that answered its INVITE, so the
counts a node needs are its own: no database round trip on the authorize path (the goal is p99
under 2 ms). ``CallLimits`` keeps, per *scope* (a customer, an IP or SIP-user authentication, an
ingress route), the active dialogs and the admission times of the last second.

- ``admit`` checks every scope of a call at once and, when all have room, starts the dialog in
  all of them under one lock: two INVITEs racing for the last channel cannot both get it.
- A call id already active is admitted again without counting twice (INVITE retransmissions).
- CPS is a sliding one-second window of *admitted* calls: a call refused for being over a limit
  does not eat the next caller's rate.
- ``end`` (on BYE or CDR) frees the channel; ending an unknown call id is a no-op, because the
  CDR of a call the sidecar never authorized (restart, other node) is normal.
- A limit of 0 is unlimited, as everywhere in the resources.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

LimitKind = Literal["channels", "cps"]


@dataclass(frozen=True, slots=True)
class Scope:
    """One thing a call counts against: ``key`` identifies it, ``label`` names it for people."""

    key: tuple[str, int]  # ("customer" | "ip" | "sip" | "route", row id)
    label: str  # "customer acme/acme", "route acme/default"...
    channels: int = 0  # 0 = unlimited
    cps: int = 0  # 0 = unlimited


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a call was not admitted: which scope, which limit, and the count that reached it."""

    scope: Scope
    limit: LimitKind
    maximum: int
    current: int

    @property
    def reason(self) -> str:
        what = "channel" if self.limit == "channels" else "CPS"
        return f"{self.scope.label} {what} limit reached ({self.current}/{self.maximum})"


@dataclass(frozen=True, slots=True)
class Dialog:
    """An admitted call that has not ended yet (what ``GET /v1/calls`` will list)."""

    call_id: str
    started: datetime
    scopes: tuple[Scope, ...]
    details: dict[str, object] = field(default_factory=dict, compare=False)


class CallLimits:
    """Thread-safe in-memory counters of active dialogs and admissions per second, per scope."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._dialogs: dict[str, Dialog] = {}
        self._channels: dict[tuple[str, int], int] = {}
        self._recent: dict[tuple[str, int], deque[float]] = {}

    def admit(
        self,
        call_id: str | None,
        scopes: Sequence[Scope],
        at: datetime,
        *,
        reserve: bool = True,
        details: dict[str, object] | None = None,
    ) -> Refusal | None:
        """``None`` when every scope has room (and, with ``reserve`` and a call id, start the dialog)."""
        now = at.timestamp()
        with self._lock:
            if call_id is not None and call_id in self._dialogs:
                return None  # a retransmitted INVITE: already counted
            for scope in scopes:
                if scope.channels:
                    current = self._channels.get(scope.key, 0)
                    if current >= scope.channels:
                        return Refusal(scope, "channels", scope.channels, current)
                if scope.cps:
                    window = self._window(scope.key, now)
                    if len(window) >= scope.cps:
                        return Refusal(scope, "cps", scope.cps, len(window))
            if not reserve or call_id is None:
                return None
            for scope in scopes:
                self._channels[scope.key] = self._channels.get(scope.key, 0) + 1
                recent = self._recent.get(scope.key)
                if recent is None:
                    recent = self._recent[scope.key] = deque()
                recent.append(now)
            self._dialogs[call_id] = Dialog(call_id, at, tuple(scopes), dict(details or {}))
            return None

    def end(self, call_id: str) -> bool:
        """Free the call's channels; ``False`` when the call id was not active."""
        with self._lock:
            dialog = self._dialogs.pop(call_id, None)
            if dialog is None:
                return False
            for scope in dialog.scopes:
                left = self._channels.get(scope.key, 0) - 1
                if left > 0:
                    self._channels[scope.key] = left
                else:
                    self._channels.pop(scope.key, None)
            return True

    def channels(self, key: tuple[str, int]) -> int:
        """Active dialogs counted against the scope ``key``."""
        with self._lock:
            return self._channels.get(key, 0)

    def active_dialogs(self) -> list[Dialog]:
        """Every active dialog, oldest first."""
        with self._lock:
            return sorted(self._dialogs.values(), key=lambda d: (d.started, d.call_id))

    def _window(self, key: tuple[str, int], now: float) -> deque[float]:
        # Admissions in (now - 1 s, now]; older ones fall out as they are looked at.
        recent = self._recent.get(key)
        if recent is None:
            recent = self._recent[key] = deque()
        edge = now - 1.0
        while recent and recent[0] <= edge:
            recent.popleft()
        return recent
