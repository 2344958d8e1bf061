"""Observe: read the live rows and the ownership records. Never writes.

One SELECT per table; references come back as object names (via each referenced table's
id → key map) so live rows compare directly with desired rows.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, select

from reconciler.mapping import KindMap
from reconciler.rows import ObjectRows, Row
from resources.meta import ObjectKey
from switchdb.tables import metadata


@dataclass(frozen=True, slots=True)
class OwnedRecord:
    row_id: int | None
    spec_hash: str
    generation: int
    revision_id: int | None


@dataclass
class LiveState:
    rows: dict[ObjectKey, ObjectRows] = field(default_factory=dict)
    owned: dict[ObjectKey, OwnedRecord] = field(default_factory=dict)
    ids: dict[str, dict[int, ObjectKey]] = field(default_factory=dict)  # kind -> row id -> key


def _owned(conn: Connection, kinds: Iterable[str]) -> dict[ObjectKey, OwnedRecord]:
    table = metadata.tables["trunkline_objects"]
    wanted = set(kinds)
    owned: dict[ObjectKey, OwnedRecord] = {}
    for r in conn.execute(select(table)).mappings():
        if r["kind"] in wanted:
            owned[ObjectKey(r["kind"], r["namespace"], r["name"])] = OwnedRecord(
                r["row_id"], r["spec_hash"], r["generation"], r["revision_id"]
            )
    return owned


def observe(conn: Connection, kinds: Mapping[str, KindMap]) -> LiveState:
    """Read every row of ``kinds`` (main and child tables) and who owns what."""
    live = LiveState(owned=_owned(conn, kinds))
    all_kinds = kinds
    raw: dict[str, list[Mapping[str, Any]]] = {}
    for kind, kmap in all_kinds.items():
        result = conn.execute(select(kmap.table)).mappings().all()
        raw[kind] = result
        live.ids[kind] = {r["id"]: ObjectKey(kind, r["namespace"], r["name"]) for r in result}
    for kind, kmap in all_kinds.items():
        refs = {f.column: live.ids.get(f.target or "", {}) for f in kmap.references}
        columns = kmap.written_columns
        rows_by_id: dict[int, ObjectRows] = {}
        for r in raw[kind]:
            row: Row = {c: r[c] for c in columns}
            for column, id_map in refs.items():
                target = id_map.get(row[column]) if row[column] is not None else None
                row[column] = target.name if target is not None else row[column]
            rows_by_id[r["id"]] = ObjectRows(live.ids[kind][r["id"]], row, {}, row_id=r["id"])
        for child in kmap.children:
            grouped: dict[int, list[Row]] = defaultdict(list)
            grouped_ids: dict[int, list[int]] = defaultdict(list)
            wanted = (*child.key_columns, *child.compared_columns) if child.ordered else child.compared_columns
            order = [child.table.c[child.parent_column], *(child.table.c[k] for k in child.key_columns)]
            for r in conn.execute(select(child.table).order_by(*order)).mappings():
                parent = r[child.parent_column]
                grouped[parent].append({c: r[c] for c in dict.fromkeys(wanted)})
                grouped_ids[parent].append(r["id"])
            for parent_id, rows in rows_by_id.items():
                rows.children[child.table_name] = grouped.get(parent_id, [])
                rows.child_ids[child.table_name] = grouped_ids.get(parent_id, [])
        for rows in rows_by_id.values():
            live.rows[rows.key] = rows
    return live
