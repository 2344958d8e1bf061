"""ObjectRows: one object as the rows it owns, the common currency of plan, apply and export.

Desired rows are built from a declared object; live rows are read from the database. Both
name references by object name (not database id), so the two compare directly.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from resources.meta import ObjectKey

Row = dict[str, Any]


_PLAIN = frozenset({str, int, bool, float, type(None)})


def canonical(value: Any) -> Any:
    """A JSON-safe, order-stable form: Decimals by value (10.50 == 10.5), times in UTC ISO."""
    if type(value) in _PLAIN:  # most values: nothing to do (checked first: this runs per cell)
        return value
    if isinstance(value, Decimal):
        normalized = value.normalize()
        return format(normalized, "f") if normalized == normalized.to_integral() else str(normalized)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): canonical(v) for k, v in sorted(value.items())}
    if isinstance(value, list | tuple):
        return [canonical(v) for v in value]
    return value


def same(a: Any, b: Any) -> bool:
    """Equality as the database sees it: 10.50 equals 10.5; a JSON list equals a tuple."""
    if a == b:
        return True
    if isinstance(a, Decimal | int) and isinstance(b, Decimal | int) and not isinstance(a, bool):
        return Decimal(a) == Decimal(b)
    return canonical(a) == canonical(b)


def declared_json(obj: Any) -> str:
    """A declared object as compact storage-version JSON (also its snapshot item, mostly)."""
    text: str = obj.model_dump_json(by_alias=True, exclude_none=True)
    return text


def declared_digest(text: str) -> str:
    """Ownership's spec hash of a declared object, from its ``declared_json``."""
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(slots=True)
class ObjectRows:
    key: ObjectKey
    row: Row
    children: dict[str, list[Row]] = field(default_factory=dict)
    row_id: int | None = None  # live rows only
    child_ids: dict[str, list[int]] = field(default_factory=dict)  # live rows only, parallel lists
    declared: Any = None  # desired rows only: the object they were built from

    def digest(self) -> str:
        """The declared object's hash (pydantic's JSON: cheap), or, for live rows, one of the rows.

        Ownership records it as "the spec last applied": a rotated secret changes rows, not the spec.
        """
        if self.declared is not None:
            return declared_digest(declared_json(self.declared))
        payload = {"row": canonical(self.row), "children": canonical(self.children)}
        return hashlib.sha256(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
