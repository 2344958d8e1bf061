"""Status conditions, Crossplane style: ``Ready`` and ``Synced`` with enumerated reasons.

Every front end that reports state (Kubernetes status, Pulumi outputs, `trunkline` JSON)
builds conditions here, so a reason means the same thing everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any


class ReadyReason(StrEnum):
    AVAILABLE = "Available"  # the rows exist and match the spec
    UNAVAILABLE = "Unavailable"  # the rows cannot be trusted (database down, apply failed)
    CREATING = "Creating"
    DELETING = "Deleting"
    WAITING = "WaitingForDependency"  # a referenced object does not exist yet


class SyncedReason(StrEnum):
    SUCCESS = "ReconcileSuccess"
    ERROR = "ReconcileError"
    PAUSED = "ReconcilePaused"
    DRIFT_CORRECTED = "DriftCorrected"


@dataclass(frozen=True)
class Condition:
    type: str
    status: bool | None  # None: Unknown
    reason: str
    message: str = ""

    def to_status(self, *, generation: int | None, previous: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        text = {True: "True", False: "False", None: "Unknown"}[self.status]
        old = next((c for c in previous or [] if c.get("type") == self.type), None)
        # lastTransitionTime moves only when the status flips, as Kubernetes conventions say.
        since = old.get("lastTransitionTime") if old and old.get("status") == text else None
        return {
            "type": self.type,
            "status": text,
            "reason": self.reason,
            "message": self.message[:1024],
            "lastTransitionTime": since or datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
            "observedGeneration": generation,
        }


def ready(status: bool | None, reason: ReadyReason, message: str = "") -> Condition:
    return Condition("Ready", status, reason.value, message)


def synced(status: bool | None, reason: SyncedReason, message: str = "") -> Condition:
    return Condition("Synced", status, reason.value, message)


def merge(previous: list[dict[str, Any]] | None, *new: Condition, generation: int | None) -> list[dict[str, Any]]:
    """The condition list with ``new`` replacing conditions of the same type."""
    replaced = {c.type for c in new}
    kept = [c for c in previous or [] if c.get("type") not in replaced]
    return kept + [c.to_status(generation=generation, previous=previous) for c in new]
