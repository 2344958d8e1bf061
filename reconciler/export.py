"""Export: live rows back to manifests, so a carrier can adopt a switch that predates Trunkline.

The reverse of ``desired``: each column is put back at its spec path, references by name,
derived columns (digests, Kamailio layout) dropped. Export → validate → plan is a no-op.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from reconciler.mapping import FieldMap, KindMap, kind_maps
from reconciler.observe import LiveState
from reconciler.rows import ObjectRows, Row
from resources.meta import API_VERSION, DEFAULT_NAMESPACE, ObjectKey


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        normalized = value.normalize()
        return format(normalized, "f")
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    return value


def _put(target: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    for part in path[:-1]:
        target = target.setdefault(part, {})
    target[path[-1]] = value


def _fields_to_dict(fields: Iterable[FieldMap], row: Row) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in fields:
        value = row.get(f.column)
        if value is None or value == [] or value == {}:
            continue
        _put(out, f.path, _plain(value))
    return out


def manifest(kmap: KindMap, rows: ObjectRows) -> dict[str, Any]:
    """One object as a storage-version manifest."""
    spec = _fields_to_dict(kmap.fields, rows.row)
    for child in kmap.children:
        items = [_fields_to_dict(child.fields, r) for r in rows.children.get(child.table_name, [])]
        if items or child.nullable:  # an absent optional list differs from an empty one (rates vs ratesFrom)
            spec[child.label] = items
    metadata: dict[str, Any] = {"name": rows.key.name}
    if rows.key.namespace != DEFAULT_NAMESPACE:
        metadata["namespace"] = rows.key.namespace
    for extra in ("labels", "annotations"):
        if rows.row.get(extra):
            metadata[extra] = dict(rows.row[extra])
    for source_field in kmap.model.source_fields:
        spec.pop(source_field, None)  # e.g. a deck is exported inline; its CSV path means nothing here
    return {"apiVersion": API_VERSION, "kind": rows.key.kind, "metadata": metadata, "spec": spec}


def export_manifests(live: LiveState, keys: Iterable[ObjectKey] | None = None) -> list[dict[str, Any]]:
    """Manifests of the live rows (all of them, or ``keys``), in dependency order."""
    kinds = kind_maps()
    wanted = set(keys) if keys is not None else None
    out = []
    for kind, kmap in kinds.items():
        for key in sorted(k for k in live.rows if k.kind == kind):
            if wanted is None or key in wanted:
                out.append(manifest(kmap, live.rows[key]))
    return out
