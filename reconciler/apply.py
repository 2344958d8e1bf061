"""Apply: execute a plan's changes inside one transaction, in dependency order, in bulk.

Creates and updates run per kind in ascending rank (customers before routes), deletes in
descending rank; each group is one executemany per table, so 110k objects are a few dozen
statements, not 110k round trips. Ownership records and the revision row are written in the
same transaction, so a failure anywhere leaves the database exactly as it was.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, String, Table, any_, bindparam, delete, insert, select, update
from sqlalchemy.dialects import postgresql

from reconciler.mapping import ChildMap, KindMap
from reconciler.observe import LiveState
from reconciler.plan import Change, Plan
from reconciler.rows import Row, same
from reconciler.snapshot import snapshot
from resources.meta import ObjectKey
from resources.state import DesiredState
from switchdb.bulk import insert_rows
from switchdb.tables import metadata

Progress = Callable[[int, int], None]  # (done, total)
BATCH = 5000


@dataclass(frozen=True)
class RevisionInfo:
    """Who applied what from where: written to the revisions table with the summary."""

    actor: str
    source: str
    commit_sha: str | None = None
    commit_author: str | None = None
    commit_subject: str | None = None
    desired: bytes | None = None


def _batches(rows: Sequence[Any]) -> list[Sequence[Any]]:
    return [rows[i : i + BATCH] for i in range(0, len(rows), BATCH)]


class _Writer:
    def __init__(self, conn: Connection, kinds: Mapping[str, KindMap], live: LiveState) -> None:
        self.conn = conn
        self.kinds = kinds
        self.ids: dict[ObjectKey, int] = {key: row_id for id_map in live.ids.values() for row_id, key in id_map.items()}

    def _resolve(self, kmap: KindMap, key: ObjectKey, row: Row) -> Row:
        params = dict(row)
        for ref in kmap.references:
            name = row.get(ref.column)
            if name is not None:
                params[ref.column] = self.ids[ObjectKey(ref.target or "", key.namespace, name)]
        return params

    def create(self, kmap: KindMap, changes: Sequence[Change]) -> None:
        for batch in _batches(changes):
            params = [
                {**self._resolve(kmap, c.key, c.after.row), "namespace": c.key.namespace, "name": c.key.name}
                for c in batch
                if c.after is not None
            ]
            # a driver-level bulk insert without RETURNING (``switchdb.bulk``); the new ids are
            # then read back by natural key in one query per batch.
            insert_rows(self.conn, kmap.table, params)
            ids = self._ids_of(kmap, [c.key for c in batch])
            for child in kmap.children:
                rows = [
                    {**r, child.parent_column: row_id}
                    for change, row_id in zip(batch, ids, strict=True)
                    for r in (change.after.children.get(child.table_name, []) if change.after else [])
                ]
                self._insert(child.table, rows)

    def _ids_of(self, kmap: KindMap, keys: Sequence[ObjectKey]) -> list[int]:
        t = kmap.table
        found: dict[tuple[str, str], int] = {}
        for namespace in {k.namespace for k in keys}:
            names = [k.name for k in keys if k.namespace == namespace]
            for chunk in _batches(names):
                stmt = select(t.c.id, t.c.name).where(t.c.namespace == namespace, self._among(t.c.name, chunk))
                found.update({(namespace, r.name): r.id for r in self.conn.execute(stmt)})
        ids = [found[(k.namespace, k.name)] for k in keys]
        self.ids.update(zip(keys, ids, strict=True))
        return ids

    def _among(self, column: Any, values: Sequence[str]) -> Any:
        """``column IN values``: one array parameter on PostgreSQL (5,000 placeholders cost the
        driver more to parse than the query costs the server), an expanding IN elsewhere."""
        if self.conn.dialect.name == "postgresql":
            return column == any_(bindparam("among", list(values), type_=postgresql.ARRAY(String())))
        return column.in_(list(values))

    def _insert(self, table: Table, rows: list[Row]) -> None:
        for batch in _batches(rows):
            insert_rows(self.conn, table, batch)

    def update(self, kmap: KindMap, changes: Sequence[Change]) -> None:
        columns = kmap.written_columns
        stmt = (
            update(kmap.table)
            .where(kmap.table.c.id == bindparam("_row_id"))
            .values({c: bindparam(f"_v_{c}") for c in columns})
        )
        params = []
        for change in changes:
            assert change.before is not None and change.after is not None
            resolved = self._resolve(kmap, change.key, change.after.row)
            params.append({"_row_id": change.before.row_id, **{f"_v_{c}": resolved.get(c) for c in columns}})
        for batch in _batches(params):
            self.conn.execute(stmt, list(batch))
        for child in kmap.children:
            self._update_children(child, changes)

    def _update_children(self, child: ChildMap, changes: Sequence[Change]) -> None:
        stale: list[int] = []
        fresh: list[Row] = []
        for change in changes:
            assert change.before is not None and change.after is not None
            before = change.before.children.get(child.table_name, [])
            before_ids = change.before.child_ids.get(child.table_name, [])
            live = {child.row_key(r): (r, i) for r, i in zip(before, before_ids, strict=True)}
            for row in change.after.children.get(child.table_name, []):
                found = live.pop(child.row_key(row), None)
                if found is not None and all(same(found[0].get(c), row.get(c)) for c in child.compared_columns):
                    continue
                if found is not None:
                    stale.append(found[1])
                fresh.append({**row, child.parent_column: change.before.row_id})
            stale.extend(i for _, i in live.values())
        for batch in _batches(stale):
            self.conn.execute(delete(child.table).where(child.table.c.id.in_(batch)))
        self._insert(child.table, fresh)

    def delete(self, kmap: KindMap, changes: Sequence[Change]) -> None:
        ids = [c.before.row_id for c in changes if c.before is not None]
        for batch in _batches(ids):
            for child in kmap.children:
                self.conn.execute(delete(child.table).where(child.table.c[child.parent_column].in_(batch)))
            self.conn.execute(delete(kmap.table).where(kmap.table.c.id.in_(batch)))


def _record_revision(conn: Connection, plan: Plan, info: RevisionInfo) -> int:
    table = metadata.tables["trunkline_revisions"]
    changes = [
        {"action": c.action, "kind": c.key.kind, "namespace": c.key.namespace, "name": c.key.name}
        for c in plan.changes[:1000]
    ]
    row = {
        "created_at": datetime.now(UTC),
        "actor": info.actor,
        "source": info.source,
        "commit_sha": info.commit_sha,
        "commit_author": info.commit_author,
        "commit_subject": info.commit_subject,
        "summary": plan.summary,
        "changes": changes,
        "desired": info.desired,
    }
    return int(conn.execute(insert(table).returning(table.c.id), row).scalar_one())


def _digests(plan: Plan) -> dict[ObjectKey, str]:
    """The spec hash ownership records for every object the plan writes."""
    return {c.key: c.after.digest() for c in plan.changes if c.action != "delete" and c.after is not None}


def _record_ownership(
    conn: Connection,
    plan: Plan,
    live: LiveState,
    ids: Mapping[ObjectKey, int],
    revision_id: int,
    digests: Mapping[ObjectKey, str],
) -> None:
    table = metadata.tables["trunkline_objects"]
    now = datetime.now(UTC)
    gone = [c.key for c in plan.changes] + list(plan.forgotten)
    for key_batch in _batches(gone):
        for kind, group in itertools.groupby(sorted(key_batch), key=lambda k: k.kind):
            for namespace, members in itertools.groupby(group, key=lambda k: k.namespace):
                names = [k.name for k in members]
                conn.execute(
                    delete(table).where(table.c.kind == kind, table.c.namespace == namespace, table.c.name.in_(names))
                )
    rows = []
    for change in plan.changes:
        if change.action == "delete" or change.after is None:
            continue
        previous = live.owned.get(change.key)
        digest = digests[change.key]
        generation = 1 if previous is None else previous.generation + (previous.spec_hash != digest)
        rows.append(
            {
                "kind": change.key.kind,
                "namespace": change.key.namespace,
                "name": change.key.name,
                "row_id": ids[change.key],
                "spec_hash": digest,
                "generation": generation,
                "revision_id": revision_id,
                "applied_at": now,
            }
        )
    for batch in _batches(rows):
        insert_rows(conn, table, batch)


def execute_plan(
    conn: Connection,
    kinds: Mapping[str, KindMap],
    plan: Plan,
    live: LiveState,
    info: RevisionInfo,
    *,
    progress: Progress | None = None,
    snapshot_of: DesiredState | None = None,
) -> int:
    """Write ``plan`` through ``conn`` (inside the caller's transaction); return the revision id.

    The ownership digests and, with ``snapshot_of``, the revision's snapshot are computed in a
    background thread while the rows are written: the drivers release the GIL while the
    database works, and at carrier scale both are seconds of CPU that would otherwise wait.
    """
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="trunkline-apply") as background:
        digests = background.submit(_digests, plan)
        desired = background.submit(snapshot, snapshot_of) if snapshot_of is not None else None
        try:
            revision_id = _record_revision(conn, plan, info)
            writer = _Writer(conn, kinds, live)
            total, done = len(plan.changes), 0
            for (kind, action), group in itertools.groupby(plan.changes, key=lambda c: (c.key.kind, c.action)):
                changes = list(group)
                getattr(writer, action)(kinds[kind], changes)
                done += len(changes)
                if progress is not None:
                    progress(done, total)
            _record_ownership(conn, plan, live, writer.ids, revision_id, digests.result())
            if desired is not None:
                revisions = metadata.tables["trunkline_revisions"]
                conn.execute(update(revisions).where(revisions.c.id == revision_id).values(desired=desired.result()))
        except BaseException:
            background.shutdown(wait=False, cancel_futures=True)
            raise
    return revision_id
