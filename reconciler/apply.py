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

from sqlalchemy import Connection, Table, bindparam, delete, insert, update

from reconciler import snapshot
from reconciler.mapping import ChildMap, KindMap
from reconciler.observe import LiveState
from reconciler.plan import Change, Plan
from reconciler.rows import Row, declared_digests, same
from resources.meta import ObjectKey
from resources.state import DesiredState
from switchdb.bulk import allocate_ids, columns_of, insert_columns
from switchdb.tables import metadata

Progress = Callable[[int, int], None]  # (done, total)
BATCH = 5000  # keys per IN (...) list
INSERT_BATCH = 50_000  # rows per bulk insert: on SQLite each one steps the counting trigger aside (DDL)


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

    def _columns(self, kmap: KindMap, changes: Sequence[Change]) -> dict[str, Sequence[Any]]:
        """The desired rows of ``changes`` column by column, references turned into row ids."""
        columns = columns_of([c.after.row for c in changes if c.after is not None])
        keys = [c.key for c in changes]
        for ref in kmap.references:
            columns[ref.column] = self._referenced(ref.target or "", keys, columns[ref.column])
        return columns

    def create(self, kmap: KindMap, changes: Sequence[Change]) -> None:
        made = [c for c in changes if c.after is not None]
        # ids are drawn first (``switchdb.bulk.allocate_ids``), so the driver-level bulk insert
        # needs no RETURNING and nothing is read back by natural key.
        ids = allocate_ids(self.conn, kmap.table, len(made))
        self.ids.update(zip((c.key for c in made), ids, strict=True))
        for start in range(0, len(made), INSERT_BATCH):
            batch, batch_ids = made[start : start + INSERT_BATCH], ids[start : start + INSERT_BATCH]
            _, namespaces, names = zip(*(c.key for c in batch), strict=True)  # transposed in C
            columns = self._columns(kmap, batch)
            columns.update(id=batch_ids, namespace=namespaces, name=names)
            insert_columns(self.conn, kmap.table, columns)
            for child in kmap.children:
                owned = [
                    (row_id, c.after.children.get(child.table_name, []) if c.after else [])
                    for c, row_id in zip(batch, batch_ids, strict=True)
                ]
                self._insert(
                    child.table,
                    [r for _, rows in owned for r in rows],
                    child.parent_column,
                    [row_id for row_id, rows in owned for _ in rows],
                )

    def _referenced(self, target: str, keys: Sequence[ObjectKey], names: Sequence[Any]) -> list[int | None]:
        """A reference column's object names (in the referrers' namespaces) as row ids. Looked up
        by plain tuples: an ``ObjectKey`` is one, and building 100k of them costs more."""
        ids = self.ids
        return [
            None if name is None else ids[(target, key[1], name)]  # type: ignore[index]
            for key, name in zip(keys, names, strict=True)
        ]

    def _insert(self, table: Table, rows: list[Row], parent_column: str, parent_ids: list[int]) -> None:
        for start in range(0, len(rows), INSERT_BATCH):
            columns = columns_of(rows[start : start + INSERT_BATCH])
            columns[parent_column] = parent_ids[start : start + INSERT_BATCH]
            insert_columns(self.conn, table, columns)

    def update(self, kmap: KindMap, changes: Sequence[Change]) -> None:
        columns = kmap.written_columns
        stmt = (
            update(kmap.table)
            .where(kmap.table.c.id == bindparam("_row_id"))
            .values({c: bindparam(f"_v_{c}") for c in columns})
        )
        values = self._columns(kmap, changes)
        missing = [None] * len(changes)
        names = ["_row_id", *(f"_v_{c}" for c in columns)]
        row_ids = [c.before.row_id if c.before is not None else None for c in changes]
        params = [
            dict(zip(names, row, strict=True))
            for row in zip(row_ids, *(values.get(c, missing) for c in columns), strict=True)
        ]
        for batch in _batches(params):
            self.conn.execute(stmt, list(batch))
        for child in kmap.children:
            self._update_children(child, changes)

    def _update_children(self, child: ChildMap, changes: Sequence[Change]) -> None:
        stale: list[int] = []
        fresh: list[Row] = []
        fresh_parents: list[int] = []
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
                fresh.append(row)
                fresh_parents.append(change.before.row_id)
            stale.extend(i for _, i in live.values())
        for batch in _batches(stale):
            self.conn.execute(delete(child.table).where(child.table.c.id.in_(batch)))
        self._insert(child.table, fresh, child.parent_column, fresh_parents)

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


def _written(plan: Plan) -> list[Change]:
    """The changes that leave an object behind (creates and updates): ownership records them."""
    return [c for c in plan.changes if c.action != "delete" and c.after is not None]


def _digests_and_snapshot(plan: Plan, state: DesiredState | None) -> tuple[list[str], bytes | None]:
    """The spec hash of every object the plan writes (in ``_written`` order) and, with ``state``
    (the state the plan's desired rows were made from), the revision's snapshot of it: one
    serialization of each object serves both."""
    written = _written(plan)
    if state is None:
        return [c.after.digest() for c in written if c.after is not None], None
    declared, manifests = snapshot.items(state)
    position = dict(zip(state.objects, range(len(declared))))
    # every written object is in ``state`` (an unscoped plan's desired rows are made from all of it)
    digests = declared_digests(declared[position[c.key]] for c in written)
    return digests, snapshot.pack(manifests)


def _record_ownership(
    conn: Connection,
    plan: Plan,
    live: LiveState,
    ids: Mapping[ObjectKey, int],
    revision_id: int,
    digests: Sequence[str],
) -> None:
    table = metadata.tables["trunkline_objects"]
    # only records that exist (observed under the lock): a cold apply has none to delete
    gone = [c.key for c in plan.changes if c.key in live.owned] + list(plan.forgotten)
    for key_batch in _batches(gone):
        for kind, group in itertools.groupby(sorted(key_batch), key=lambda k: k.kind):
            for namespace, members in itertools.groupby(group, key=lambda k: k.namespace):
                names = [k.name for k in members]
                conn.execute(
                    delete(table).where(table.c.kind == kind, table.c.namespace == namespace, table.c.name.in_(names))
                )
    written = [c.key for c in _written(plan)]
    generations = [1] * len(written)  # all of a cold apply's
    if live.owned:
        for index, (key, digest) in enumerate(zip(written, digests, strict=True)):
            previous = live.owned.get(key)
            if previous is not None:
                generations[index] = previous.generation + (previous.spec_hash != digest)
    kinds, namespaces, names = zip(*written, strict=True) if written else ((), (), ())
    columns = {
        "kind": kinds,
        "namespace": namespaces,
        "name": names,
        "row_id": list(map(ids.__getitem__, written)),
        "spec_hash": digests,
        "generation": generations,
        "revision_id": [revision_id] * len(written),
        "applied_at": [datetime.now(UTC)] * len(written),
    }
    insert_columns(conn, table, columns)


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
    background thread while the rows are written: its compression and the drivers' database
    work run without the GIL. (A forked child was tried: the copy-on-write faults it leaves on
    a 3 GB heap cost the next plan more than the fork saved; bench/RESULTS.md.)
    """
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="trunkline-apply") as background:
        made = background.submit(_digests_and_snapshot, plan, snapshot_of)
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
            digests, desired = made.result()
            _record_ownership(conn, plan, live, writer.ids, revision_id, digests)
            if desired is not None:
                revisions = metadata.tables["trunkline_revisions"]
                conn.execute(update(revisions).where(revisions.c.id == revision_id).values(desired=desired))
        except BaseException:
            background.shutdown(wait=False, cancel_futures=True)
            raise
    return revision_id
