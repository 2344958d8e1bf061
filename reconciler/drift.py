"""Drift: where the switch database no longer says what the declarations say. Reads only.

Drift is a difference on a row Trunkline owns: someone changed it behind Trunkline's back
(``changed``, one entry per field) or deleted it (``missing``). It is computed with the plan's
own field diff (``plan.object_diff``) over the rows ``observe`` reads, so ``trunkline drift``
and ``trunkline plan`` never disagree about a field; unlike ``plan_changes`` it does not stop at
the first refusal, so a drifted immutable field or a conflict is reported, not raised.

Not drift, but reported beside it: rows nobody owns (``unmanaged``; ``declared`` when a
declaration names them and an ``apply --adopt`` would take them), declarations never applied
(``pending``) and owned objects no longer declared (``undeclared``, a sync would prune them).
The git watch loop and the operator call ``detect_drift``; the CLI renders ``DriftReport``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Engine

from reconciler.desired import desired_rows
from reconciler.mapping import KindMap, kind_maps
from reconciler.observe import LiveState, observe
from reconciler.plan import object_diff
from reconciler.rows import ObjectRows, canonical
from reconciler.secrets import LocalSecrets, SecretResolver
from resources.meta import ObjectKey
from resources.state import DesiredState

Reason = Literal["changed", "missing"]


@dataclass(frozen=True)
class DriftEntry:
    """One drifted field of an owned object (``field`` is None when the whole row is missing)."""

    key: ObjectKey
    reason: Reason
    field: str | None
    declared: Any
    live: Any

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.key.kind,
            "namespace": self.key.namespace,
            "name": self.key.name,
            "reason": self.reason,
            "field": self.field,
            "declared": canonical(self.declared),
            "live": canonical(self.live),
        }


@dataclass(frozen=True)
class Unmanaged:
    """A row Trunkline does not own; ``declared`` when a declaration names it."""

    key: ObjectKey
    declared: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.key.kind,
            "namespace": self.key.namespace,
            "name": self.key.name,
            "declared": self.declared,
        }


@dataclass(frozen=True)
class DriftReport:
    drift: tuple[DriftEntry, ...]
    unmanaged: tuple[Unmanaged, ...] = ()
    pending: tuple[ObjectKey, ...] = ()  # declared, no row, never owned: the next apply creates them
    undeclared: tuple[ObjectKey, ...] = ()  # owned, not declared: the next apply (with prune) deletes them
    in_sync: int = 0  # owned objects whose rows match their declaration

    @property
    def drifted(self) -> bool:
        return bool(self.drift)

    @property
    def drifted_objects(self) -> tuple[ObjectKey, ...]:
        return tuple(dict.fromkeys(e.key for e in self.drift))

    def to_json(self) -> dict[str, Any]:
        return {
            "drifted": self.drifted,
            "drift": [e.to_json() for e in self.drift],
            "unmanaged": [u.to_json() for u in self.unmanaged],
            "pending": [str(k) for k in self.pending],
            "undeclared": [str(k) for k in self.undeclared],
            "inSync": self.in_sync,
        }


def compare(kinds: Mapping[str, KindMap], desired: Mapping[ObjectKey, ObjectRows], live: LiveState) -> DriftReport:
    """The drift between desired rows and an observed live state. Pure."""
    drift: list[DriftEntry] = []
    unmanaged: list[Unmanaged] = []
    pending: list[ObjectKey] = []
    in_sync = 0
    for key in sorted(desired):
        want, have = desired[key], live.rows.get(key)
        if key not in live.owned:
            if have is None:
                pending.append(key)
            else:
                unmanaged.append(Unmanaged(key, declared=True))
            continue
        if have is None:
            drift.append(DriftEntry(key, "missing", None, None, None))
            continue
        diff = object_diff(kinds[key.kind], have, want)
        drift.extend(DriftEntry(key, "changed", name, d.after, d.before) for name, d in diff.items())
        in_sync += not diff
    unmanaged.extend(
        Unmanaged(k, declared=False) for k in sorted(live.rows) if k not in live.owned and k not in desired
    )
    undeclared = tuple(sorted(k for k in live.owned if k not in desired))
    return DriftReport(tuple(drift), tuple(unmanaged), tuple(pending), undeclared, in_sync)


def detect_drift(engine: Engine, state: DesiredState, *, secrets: SecretResolver | None = None) -> DriftReport:
    """Observe the database and compare it with ``state``; never writes."""
    kinds = kind_maps()
    desired = desired_rows(kinds, state, secrets or LocalSecrets())
    with engine.connect() as conn:
        live = observe(conn, kinds)
        conn.rollback()
    return compare(kinds, desired, live)
