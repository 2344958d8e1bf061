"""The one engine every front end calls: plan a desired state against a database, apply it.

The CLI, the git sync loop, the Kopf operator and the Pulumi provider all go through
``plan`` and ``apply`` here; ``scope`` limits both to some objects (one CR, one Pulumi
resource) so pruning never reaches objects the caller did not speak for.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, text

from reconciler.apply import Progress, RevisionInfo, execute_plan
from reconciler.desired import desired_rows
from reconciler.mapping import kind_maps
from reconciler.observe import LiveState, observe
from reconciler.plan import Plan, plan_changes
from reconciler.rows import ObjectRows
from reconciler.secrets import LocalSecrets, SecretResolver
from reconciler.unchanged import RecordingResolver, change_marks, plan_key, unchanged
from resources.errors import TrunklineError
from resources.gcpause import paused_gc
from resources.meta import ObjectKey
from resources.state import DesiredState

APPLY_LOCK_KEY = 0x74726B6C6E617070  # "trklnapp": one writer at a time, across processes


class StalePlanError(TrunklineError):
    """The live state moved between plan and apply; ``plan`` is what would happen now."""

    exit_code = 1

    def __init__(self, plan: Plan) -> None:
        super().__init__("the database changed since the plan was made; review the new plan and apply again")
        self.plan = plan


@dataclass(frozen=True)
class ApplyResult:
    plan: Plan
    revision_id: int | None  # None when there was nothing to do


@dataclass(frozen=True)
class Options:
    adopt: bool = False
    prune: bool = True
    scope: Collection[ObjectKey] | None = None  # None: everything Trunkline owns


def _plan(conn: Connection, state: DesiredState, desired: dict, options: Options) -> tuple[Plan, LiveState]:
    kinds = kind_maps()
    live = observe(conn, kinds, options.scope)
    plan = plan_changes(
        kinds,
        desired,
        live.rows,
        live.owned,
        adopt=options.adopt,
        prune=options.prune,
        sources=state,
        known=live.known,
        dependents=live.dependents,
    )
    return plan, live


def plan(
    engine: Engine,
    state: DesiredState,
    *,
    secrets: SecretResolver | None = None,
    options: Options = Options(),
) -> Plan:
    """What apply would do now. Reads only."""
    keys = [k for k in state.objects if options.scope is None or k in options.scope]
    with paused_gc():
        result, _ = _look(engine, state, keys, secrets or LocalSecrets(), options)
    return result


def _look(
    engine: Engine, state: DesiredState, keys: list[ObjectKey], resolver: SecretResolver, options: Options
) -> tuple[Plan, dict[ObjectKey, ObjectRows] | None]:
    """Plan without the write lock, or recall the empty plan whose inputs have not moved.

    Returns the plan and the desired rows it was made from (None when it was recalled). The
    change marks are read before the rows are observed, so a write in between is seen next time.
    """
    key = plan_key(str(engine.url), options.scope, options.adopt, options.prune)
    with engine.connect() as conn:
        marks = change_marks(conn)
        conn.rollback()
        recalled = unchanged.recall(key, state, marks, resolver)
        if recalled is not None:
            return recalled, None
        recorder = RecordingResolver(resolver)
        desired = desired_rows(kind_maps(), state, recorder, keys=keys)
        result, _ = _plan(conn, state, desired, options)
        conn.rollback()
    unchanged.remember(key, state, marks, recorder.seen, result)
    return result, desired


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """One transaction holding the apply lock: SQLite BEGIN IMMEDIATE, or a PostgreSQL advisory lock."""
    with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            conn = conn.execution_options(sqlite_begin="IMMEDIATE")
        with conn.begin():
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": APPLY_LOCK_KEY})
            yield conn


def apply(
    engine: Engine,
    state: DesiredState,
    *,
    info: RevisionInfo,
    secrets: SecretResolver | None = None,
    options: Options = Options(),
    expected: Plan | None = None,
    progress: Progress | None = None,
    look_first: bool = False,
) -> ApplyResult:
    """Re-plan under the lock and write it in one transaction.

    ``look_first`` plans without the lock first and returns when there is nothing to do: for
    callers that usually find nothing (watch ticks, drift timers); it costs a second plan when
    there is something to write.

    With ``expected`` (the plan a person approved), a different plan under the lock raises
    ``StalePlanError`` carrying the new plan, and nothing is written. An unscoped apply stores
    a snapshot of ``state`` on its revision (unless ``info.desired`` already holds one).
    """
    keys = [k for k in state.objects if options.scope is None or k in options.scope]
    with paused_gc():
        return _apply(engine, state, keys, info, secrets, options, expected, progress, look_first)


def _apply(
    engine: Engine,
    state: DesiredState,
    keys: list[ObjectKey],
    info: RevisionInfo,
    secrets: SecretResolver | None,
    options: Options,
    expected: Plan | None,
    progress: Progress | None,
    look_first: bool,
) -> ApplyResult:
    resolver = secrets or LocalSecrets()
    desired = None
    if look_first and expected is None:
        # A watch tick or a drift timer usually finds nothing to do: look without the write lock,
        # which on SQLite would stop the rating sidecar's writes for the whole plan.
        first, desired = _look(engine, state, keys, resolver, options)
        if first.empty:
            return ApplyResult(first, None)
    if desired is None:
        desired = desired_rows(kind_maps(), state, resolver, keys=keys)
    with write_transaction(engine) as conn:
        current, live = _plan(conn, state, desired, options)
        if expected is not None and current.signature() != expected.signature():
            raise StalePlanError(current)
        if current.empty:
            return ApplyResult(current, None)
        # the snapshot is what `trunkline rollback` re-applies; made while the rows are written
        snapshot_of = state if options.scope is None and info.desired is None else None
        revision_id = execute_plan(conn, kind_maps(), current, live, info, progress=progress, snapshot_of=snapshot_of)
    return ApplyResult(current, revision_id)


def release(engine: Engine, keys: Collection[ObjectKey]) -> int:
    """Stop managing ``keys`` without touching their rows (deletion policy Orphan).

    Returns how many ownership records were removed; the rows become unmanaged and show in
    plans as such until adopted again.
    """
    from sqlalchemy import delete, tuple_

    from switchdb.tables import metadata

    table = metadata.tables["trunkline_objects"]
    if not keys:
        return 0
    with write_transaction(engine) as conn:
        result = conn.execute(
            delete(table).where(tuple_(table.c.kind, table.c.namespace, table.c.name).in_([tuple(k) for k in keys]))
        )
    return int(result.rowcount or 0)
