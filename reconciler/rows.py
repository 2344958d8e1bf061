"""ObjectRows: one object as the rows it owns, the common currency of plan, apply and export.

Desired rows are built from a declared object; live rows are read from the database. Both
name references by object name (not database id), so the two compare directly.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
import operator
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from resources.meta import ObjectKey

Row = dict[str, Any]


PLAIN_TYPES = frozenset({str, int, bool, float, type(None)})  # values JSON holds as they are


def canonical(value: Any) -> Any:
    """A JSON-safe, order-stable form: Decimals by value (10.50 == 10.5), times in UTC ISO."""
    if type(value) in PLAIN_TYPES:  # most values: nothing to do (checked first: this runs per cell)
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


def declared_json(obj: Any) -> bytes:
    """A declared object as compact storage-version JSON (also its snapshot item, mostly): the
    bytes of ``model_dump_json``, straight from the serializer, since hashing and the snapshot's
    gzip both want bytes (120k objects: decoding and encoding again cost 0.1 s)."""
    data: bytes = obj.__pydantic_serializer__.to_json(obj, by_alias=True, exclude_none=True)
    return data


def declared_jsons(objects: Sequence[Any]) -> list[bytes]:
    """``declared_json`` of each object, by one serializer call per object made from C (a run
    of objects of one class goes through ``map``): no Python frame per object."""
    out: list[bytes] = []
    for cls, run in itertools.groupby(objects, key=type):
        out.extend(map(functools.partial(cls.__pydantic_serializer__.to_json, by_alias=True, exclude_none=True), run))
    return out


_HEXDIGEST = operator.methodcaller("hexdigest")


def declared_digests(data: Iterable[bytes]) -> list[str]:
    """``declared_digest`` of each, hashed from C."""
    return list(map(_HEXDIGEST, map(hashlib.sha256, data)))


def declared_digest(data: bytes) -> str:
    """Ownership's spec hash of a declared object, from its ``declared_json``."""
    return hashlib.sha256(data).hexdigest()


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
