"""Knowing, without planning, that a plan which found nothing to do still finds nothing.

A plan is a pure function of three inputs: the desired state, the secrets its references
resolve to, and the rows of the tables it reads. The watch loop re-plans the same commit every
tick to find drift, and at carrier scale that is seconds of work that nearly always ends in
"no changes". So after a plan comes out empty, ``Unchanged`` remembers its inputs:

- the ``DesiredState`` object itself (a commit's state is loaded once and reused,
  ``reconciler.sync.load_commit``), the scope and the options;
- a digest of every secret value the plan resolved (re-resolved next time: a rotated password
  in the environment or a file is a change);
- the database's change marks: the counters of ``trunkline_table_changes`` (kept by triggers,
  whoever writes) and the newest revision id, read *before* the rows were observed.

While all three stand still, the same empty plan is the answer. Whatever moves (a new commit,
a rotated secret, one row edited behind Trunkline's back) makes the next call plan in full.
Even when nothing moves, a full plan runs at least every ``FULL_PLAN_AFTER`` seconds, as a
guard against writes the triggers cannot see (triggers dropped by hand, a restored backup).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Collection, Hashable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, func, select
from sqlalchemy.exc import SQLAlchemyError

from reconciler.plan import Plan
from reconciler.secrets import SecretResolver
from resources.meta import ObjectKey
from resources.secrets import SecretRef
from resources.state import DesiredState
from switchdb.tables import trunkline_revisions, trunkline_table_changes

FULL_PLAN_AFTER = 600.0  # seconds

Marks = tuple[tuple[tuple[str, int], ...], int | None]
_Resolved = tuple[SecretRef, str, Path | None, str]  # ref, namespace, base dir, digest of the value


def change_marks(conn: Connection) -> Marks | None:
    """The counters and the newest revision id; None on a database without counters."""
    try:
        counters = conn.execute(
            select(trunkline_table_changes.c.table_name, trunkline_table_changes.c.changes).order_by(
                trunkline_table_changes.c.table_name
            )
        ).all()
    except SQLAlchemyError:
        conn.rollback()
        return None
    newest = conn.execute(select(func.max(trunkline_revisions.c.id))).scalar()
    return tuple((name, int(changes)) for name, changes in counters), newest


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


class RecordingResolver:
    """Resolves through ``inner`` and keeps a digest of each value, never the value itself."""

    def __init__(self, inner: SecretResolver) -> None:
        self.inner = inner
        self.seen: list[_Resolved] = []

    def resolve(self, ref: SecretRef, *, namespace: str, base_dir: Path | None) -> str:
        value = self.inner.resolve(ref, namespace=namespace, base_dir=base_dir)
        self.seen.append((ref, namespace, base_dir, _digest(value)))
        return value


def _secrets_unchanged(seen: tuple[_Resolved, ...], resolver: SecretResolver) -> bool:
    for ref, namespace, base_dir, digest in seen:
        try:
            value = resolver.resolve(ref, namespace=namespace, base_dir=base_dir)
        except Exception:  # unresolvable now: the full plan reports it properly
            return False
        if _digest(value) != digest:
            return False
    return True


@dataclass(frozen=True)
class _Memory:
    key: Hashable
    state: DesiredState
    marks: Marks
    secrets: tuple[_Resolved, ...]
    plan: Plan
    at: float


def plan_key(url: str, scope: Collection[ObjectKey] | None, adopt: bool, prune: bool) -> Hashable:
    return (url, None if scope is None else frozenset(scope), adopt, prune)


class Unchanged:
    """The last empty plan and its inputs (one, per process: the watch loop's)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._memory: _Memory | None = None

    def recall(self, key: Hashable, state: DesiredState, marks: Marks | None, resolver: SecretResolver) -> Plan | None:
        """The remembered empty plan if none of its inputs moved; else None (plan in full)."""
        with self._lock:
            memory = self._memory
        if memory is None or marks is None:
            return None
        if memory.key != key or memory.state is not state or memory.marks != marks:
            return None
        if time.monotonic() - memory.at > FULL_PLAN_AFTER:
            return None
        return memory.plan if _secrets_unchanged(memory.secrets, resolver) else None

    def remember(
        self, key: Hashable, state: DesiredState, marks: Marks | None, seen: list[_Resolved], plan: Plan
    ) -> None:
        """Keep ``plan`` if it is empty and the database has counters; forget otherwise."""
        memory = None
        if plan.empty and marks is not None:
            memory = _Memory(key, state, marks, tuple(seen), plan, time.monotonic())
        with self._lock:
            self._memory = memory


unchanged = Unchanged()
