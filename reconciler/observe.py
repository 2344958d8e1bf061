"""Observe: read the live rows and the ownership records. Never writes.

One SELECT per table; references come back as object names (via each referenced table's
id → key map) so live rows compare directly with desired rows.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, select, tuple_

from reconciler.mapping import KindMap
from reconciler.rows import ObjectRows, Row
from resources.meta import ObjectKey
from switchdb.bulk import select_rows
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
    dependents: dict[ObjectKey, list[ObjectKey]] = field(default_factory=dict)  # who references whom

    @property
    def known(self) -> set[ObjectKey]:
        """Every object that has a row, observed or not."""
        return {key for id_map in self.ids.values() for key in id_map.values()}


def _owned(conn: Connection, kinds: Iterable[str], scope: Collection[ObjectKey] | None) -> dict[ObjectKey, OwnedRecord]:
    table = metadata.tables["trunkline_objects"]
    wanted = set(kinds)
    owned: dict[ObjectKey, OwnedRecord] = {}
    c = table.c
    stmt = select(c.kind, c.namespace, c.name, c.row_id, c.spec_hash, c.generation, c.revision_id)
    if scope is not None:
        stmt = stmt.where(tuple_(c.kind, c.namespace, c.name).in_([tuple(k) for k in scope]))
    for kind, namespace, name, row_id, spec_hash, generation, revision_id in select_rows(conn, stmt):
        if kind in wanted:
            owned[ObjectKey(kind, namespace, name)] = OwnedRecord(row_id, spec_hash, generation, revision_id)
    return owned


_HEAD = ("id", "namespace", "name")


def _main_rows(conn: Connection, kmap: KindMap, scope: Collection[ObjectKey] | None) -> list[Any]:
    """(id, namespace, name, *written_columns) tuples: only what plans compare, no mappings."""
    t = kmap.table
    stmt = select(*(t.c[c] for c in (*_HEAD, *kmap.written_columns)))
    if scope is not None:
        names = [(k.namespace, k.name) for k in scope if k.kind == kmap.kind]
        if not names:
            return []
        stmt = stmt.where(tuple_(t.c.namespace, t.c.name).in_(names))
    return select_rows(conn, stmt)


def _id_map(conn: Connection, kmap: KindMap) -> dict[int, ObjectKey]:
    t = kmap.table
    return {r[0]: ObjectKey(kmap.kind, r[1], r[2]) for r in select_rows(conn, select(t.c.id, t.c.namespace, t.c.name))}


def _children(conn: Connection, kmap: KindMap, rows_by_id: dict[int, ObjectRows], scoped: bool) -> None:
    for child in kmap.children:
        grouped: dict[int, list[Row]] = defaultdict(list)
        grouped_ids: dict[int, list[int]] = defaultdict(list)
        wanted = tuple(dict.fromkeys((*child.key_columns, *child.compared_columns)))
        parent = child.table.c[child.parent_column]
        columns = (child.table.c.id, parent, *(child.table.c[c] for c in wanted))
        stmt = select(*columns).order_by(parent, *(child.table.c[k] for k in child.key_columns))
        if scoped:
            if not rows_by_id:
                continue
            stmt = stmt.where(parent.in_(list(rows_by_id)))
        for r in select_rows(conn, stmt):
            grouped[r[1]].append(dict(zip(wanted, r[2:], strict=True)))
            grouped_ids[r[1]].append(r[0])
        for parent_id, rows in rows_by_id.items():
            found, ids = grouped.get(parent_id, []), grouped_ids.get(parent_id, [])
            if not child.ordered and len(found) > 1:
                # SQL orders NULLs differently per database; desired rows use this same order.
                order = child.order(found)
                found, ids = list(map(found.__getitem__, order)), list(map(ids.__getitem__, order))
            rows.children[child.table_name] = found
            rows.child_ids[child.table_name] = ids


def _dependents(
    conn: Connection, kinds: Mapping[str, KindMap], live: LiveState, scope: Collection[ObjectKey] | None
) -> dict[ObjectKey, list[ObjectKey]]:
    """Who references each observed object (so a delete can be refused instead of failing)."""
    found: dict[ObjectKey, list[ObjectKey]] = defaultdict(list)
    if scope is None:
        for key, rows in live.rows.items():
            for ref in kinds[key.kind].references:
                name = rows.row.get(ref.column)
                if name is not None:
                    found[ObjectKey(ref.target or "", key.namespace, name)].append(key)
        return found
    row_ids = {key: rows.row_id for key, rows in live.rows.items()}
    for kmap in kinds.values():
        for ref in kmap.references:
            targets = [i for key, i in row_ids.items() if key.kind == ref.target and i is not None]
            if not targets:
                continue
            t = kmap.table
            stmt = select(t.c.namespace, t.c.name, t.c[ref.column]).where(t.c[ref.column].in_(targets))
            for r in conn.execute(stmt):
                target = live.ids[ref.target or ""][r[2]]
                found[target].append(ObjectKey(kmap.kind, r.namespace, r.name))
    return found


def observe(conn: Connection, kinds: Mapping[str, KindMap], scope: Collection[ObjectKey] | None = None) -> LiveState:
    """Read the rows of ``kinds`` (all, or only the objects in ``scope``) and who owns them.

    ``ids`` always covers every row of every kind, so references and dependencies resolve
    even when only one object is observed (the operator and the Pulumi provider).
    """
    live = LiveState(owned=_owned(conn, kinds, scope))
    raw = {kind: _main_rows(conn, kmap, scope) for kind, kmap in kinds.items()}
    for kind, kmap in kinds.items():
        if scope is None:
            live.ids[kind] = {r[0]: ObjectKey(kind, r[1], r[2]) for r in raw[kind]}
        else:
            live.ids[kind] = _id_map(conn, kmap)
    for kind, kmap in kinds.items():
        refs = {f.column: live.ids.get(f.target or "", {}) for f in kmap.references}
        columns = kmap.written_columns
        rows_by_id: dict[int, ObjectRows] = {}
        for r in raw[kind]:
            row: Row = dict(zip(columns, r[3:], strict=True))
            for column, id_map in refs.items():
                target = id_map.get(row[column]) if row[column] is not None else None
                row[column] = target.name if target is not None else row[column]
            rows_by_id[r[0]] = ObjectRows(ObjectKey(kind, r[1], r[2]), row, {}, row_id=r[0])
        _children(conn, kmap, rows_by_id, scoped=scope is not None)
        for rows in rows_by_id.values():
            live.rows[rows.key] = rows
    live.dependents = _dependents(conn, kinds, live, scope)
    return live
