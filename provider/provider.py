"""``TrunklineProvider``: the one Pulumi dynamic provider behind every Trunkline resource class.

Each method speaks to the same engine as the CLI and the operator, on one object: a resource's
properties become a one-object manifest (``fields.to_manifest``), validated by the loader, and
``reconcile.apply`` writes it with ``Options(scope={key})`` in one transaction, so pruning
never reaches objects this resource does not stand for.

Pulumi pickles the provider (with dill) into every resource's state and unpickles it in the
provider plugin, so the instance holds nothing but plain data: the database engine is opened
inside each method and disposed of before it returns.

Properties of every resource: ``kind``, ``name``, ``namespace``, ``labels``, ``annotations``,
``db_url`` (a secret; else provider config ``trunkline:dbUrl``, else ``$TRUNKLINE_DB``) and
``spec`` (the YAML spec in snake_case). The id is ``namespace/name``.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    ConfigureRequest,
    CreateResult,
    DiffResult,
    ReadResult,
    ResourceProvider,
    UpdateResult,
)
from sqlalchemy import Engine

from provider import fields, passwords
from resources.errors import TrunklineError, ValidationError
from resources.kinds import KINDS
from resources.meta import DEFAULT_NAMESPACE, ObjectKey

CONFIG_KEY = "trunkline:dbUrl"
DB_ENV = "TRUNKLINE_DB"
ACTOR = "trunkline-pulumi"
_UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"  # pulumi.runtime.rpc.UNKNOWN, a value not known in preview


def _unwrap(value: Any) -> Any:
    """A Pulumi secret wrapper (check and diff keep them) as its value."""
    from pulumi.runtime import rpc

    return rpc.unwrap_rpc_secret(value)


def key_of(props: dict[str, Any]) -> ObjectKey:
    return ObjectKey(
        str(_unwrap(props.get("kind"))),
        _unwrap(props.get("namespace")) or DEFAULT_NAMESPACE,
        str(_unwrap(props.get("name"))),
    )


def object_id(key: ObjectKey) -> str:
    return f"{key.namespace}/{key.name}"


def _unknown_paths(value: Any, where: str = "") -> Iterator[str]:
    value = _unwrap(value)
    if value == _UNKNOWN:
        yield where
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _unknown_paths(v, f"{where}.{k}" if where else k)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _unknown_paths(v, f"{where}[{i}]")


def _without_unknowns(value: Any) -> Any:
    value = _unwrap(value)
    if value == _UNKNOWN:
        return None
    if isinstance(value, dict):
        return {k: _without_unknowns(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_unknowns(v) for v in value]
    return value


def _load(manifest: dict[str, Any]):  # -> DesiredState
    from resources.loader import load_manifests

    key = ObjectKey(manifest["kind"], manifest["metadata"]["namespace"], manifest["metadata"]["name"])
    return load_manifests([manifest], source=f"pulumi:{key}", check_references=False)


def _outputs(props: dict[str, Any], previous: dict[str, Any] | None = None) -> dict[str, Any]:
    """What the state keeps: the inputs, with each direct password replaced by a salted hash.

    An unchanged password keeps its previous hash, so the state does not churn.
    """
    outs = copy.deepcopy({k: v for k, v in props.items() if k != "__provider"})
    kind = outs.get("kind")
    old_hashes = dict(_hashes(kind, previous)) if previous else {}
    for path, holder in fields.password_holders(kind, outs.get("spec") or {}):
        clear = holder.pop(fields.PASSWORD, None)
        if clear is None:
            continue
        old = old_hashes.get(path)
        holder[fields.PASSWORD_HASH] = (
            old if passwords.matches(str(clear), old) else passwords.hash_password(str(clear))
        )
    return outs


def _hashes(kind: str | None, props: dict[str, Any] | None) -> Iterator[tuple[str, str | None]]:
    if not props or kind not in KINDS:
        return
    spec = _without_unknowns(props.get("spec")) or {}
    for path, holder in fields.password_holders(kind, spec):
        yield path, holder.get(fields.PASSWORD_HASH)


class TrunklineProvider(ResourceProvider):
    """Create, read, update, delete, check and diff any Trunkline kind through the engine."""

    def __init__(self) -> None:
        # Plain data only (pickled into the state): never an engine, a logger or a connection.
        self.config_url: str | None = None

    # -- configuration ---------------------------------------------------------------------

    def configure(self, req: ConfigureRequest) -> None:
        value = req.config.get(CONFIG_KEY)
        self.config_url = str(value) if value else None

    def _db_url(self, props: dict[str, Any]) -> str | None:
        return _unwrap(props.get("db_url")) or self.config_url or os.environ.get(DB_ENV)

    @contextmanager
    def _engine(self, props: dict[str, Any]) -> Iterator[Engine]:
        from switchdb.engine import open_database

        engine = open_database(self._db_url(props))
        try:
            yield engine
        finally:
            engine.dispose()

    # -- check and diff: pure, no database ------------------------------------------------

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        inputs = dict(news)
        if not _unwrap(inputs.get("namespace")):
            inputs["namespace"] = DEFAULT_NAMESPACE
        kind = _unwrap(inputs.get("kind"))
        if kind not in KINDS:
            return CheckResult(inputs, [CheckFailure("kind", f"unknown kind {kind!r}; one of {', '.join(KINDS)}")])
        unknown = list(_unknown_paths({k: v for k, v in inputs.items() if k != "__provider"}))
        manifest = fields.to_manifest(_without_unknowns({k: v for k, v in inputs.items() if k != "__provider"}))
        failures: list[CheckFailure] = []
        try:
            _load(manifest.body)
        except ValidationError as exc:
            for problem in exc.problems:
                path = fields.property_path(kind, problem.field)
                if any(path == u or path.startswith((f"{u}.", f"{u}[")) for u in unknown):
                    continue  # not known until the resource it comes from exists
                failures.append(CheckFailure(path, problem.message))
        return CheckResult(inputs, failures)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = self.changed_properties(olds, news)
        if changed is None:  # values unknown until apply: say so, and let the engine decide
            return DiffResult(changes=True)
        old_key, new_key = key_of(olds), key_of(news)
        replaces = [p for p in ("kind", "namespace", "name") if getattr(old_key, p) != getattr(new_key, p)]
        model = KINDS.get(new_key.kind)
        if model is not None:
            immutable = {fields.property_path(new_key.kind, f"spec.{f}") for f in model.immutable_fields}
            replaces += [p for p in changed if p in immutable]
        return DiffResult(
            changes=bool(changed or replaces),
            replaces=replaces,
            stables=["kind"],
            delete_before_replace=bool(replaces) and self._must_delete_first(olds, news),
        )

    def changed_properties(self, olds: dict[str, Any], news: dict[str, Any]) -> list[str] | None:
        """Property paths whose value differs (as the switch would see it); None if not yet known."""
        from reconciler.derived import DeriveContext
        from reconciler.desired import object_rows
        from reconciler.mapping import kind_maps
        from reconciler.plan import object_diff

        if list(_unknown_paths({k: v for k, v in news.items() if k != "__provider"})):
            return None
        kind = _unwrap(news.get("kind"))
        old_obj, new_obj = self._object(olds), self._object(news)
        kmap = kind_maps()[kind]
        # Every secret resolves to the same placeholder: references compare, passwords compare by hash.
        old_rows = object_rows(kmap, old_obj, DeriveContext(_Blind(), old_obj.key.namespace, old_obj.key.name, None))
        new_rows = object_rows(kmap, new_obj, DeriveContext(_Blind(), new_obj.key.namespace, new_obj.key.name, None))
        changed: set[str] = set()
        for label in object_diff(kmap, old_rows, new_rows):
            if label.startswith("metadata."):
                changed.add(label.removeprefix("metadata."))
                continue
            top = label.split("[", 1)[0].split(".", 1)[0]
            changed.add(fields.property_path(kind, f"spec.{top}"))
        old_hashes = dict(_hashes(kind, olds))
        spec = _without_unknowns(news.get("spec")) or {}
        for path, holder in fields.password_holders(kind, spec):
            clear = holder.get(fields.PASSWORD)
            if clear is not None and not passwords.matches(str(clear), old_hashes.get(path)):
                changed.add(f"spec.{path}.{fields.PASSWORD}" if path else f"spec.{fields.PASSWORD}")
        return sorted(changed)

    @staticmethod
    def _object(props: dict[str, Any]):  # -> Resource
        manifest = fields.to_manifest(_without_unknowns({k: v for k, v in props.items() if k != "__provider"}))
        return next(iter(_load(manifest.body)))

    def _must_delete_first(self, olds: dict[str, Any], news: dict[str, Any]) -> bool:
        """The replacement would take a key the old object still holds (its name, a DID number...)."""
        from reconciler.derived import DeriveContext
        from reconciler.desired import object_rows
        from reconciler.mapping import kind_maps
        from reconciler.rows import same

        if key_of(olds) == key_of(news):
            return True
        old_obj, new_obj = self._object(olds), self._object(news)
        kmap = kind_maps()[new_obj.kind]
        old_row = object_rows(kmap, old_obj, DeriveContext(_Blind(), old_obj.key.namespace, old_obj.key.name, None)).row
        new_row = object_rows(kmap, new_obj, DeriveContext(_Blind(), new_obj.key.namespace, new_obj.key.name, None)).row
        declared = {f.column for f in kmap.fields}
        for columns in kmap.unique_columns:  # a database unique constraint held by both rows
            if set(columns) <= declared and all(same(old_row.get(c), new_row.get(c)) for c in columns):
                return True
        for rule in type(new_obj).uniqueness:  # the loader's uniqueness rules (address+port+techPrefix)
            old, new = rule.key(old_obj.spec), rule.key(new_obj.spec)
            if old is not None and old == new:
                return True
        return False

    # -- create, update, delete: the engine, scoped to this object -------------------------

    def _apply(self, props: dict[str, Any], verb: str) -> None:
        from reconciler import reconcile
        from reconciler.apply import RevisionInfo

        manifest = fields.to_manifest(props)
        key = key_of(props)
        try:
            state = _load(manifest.body)
            with self._engine(props) as engine:
                reconcile.apply(
                    engine,
                    state,
                    info=RevisionInfo(actor=ACTOR, source=f"pulumi:{key}"),
                    secrets=passwords.CallSecrets(dict(manifest.passwords)),
                    options=reconcile.Options(scope={key}),
                )
        except TrunklineError as exc:
            raise ProviderError(f"cannot {verb} {key}: {exc.message}") from exc

    def create(self, props: dict[str, Any]) -> CreateResult:
        self._apply(props, "create")
        return CreateResult(object_id(key_of(props)), _outputs(props))

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        self._apply(news, "update")
        return UpdateResult(_outputs(news, olds))

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        from reconciler import reconcile
        from reconciler.apply import RevisionInfo
        from resources.state import DesiredState

        key = key_of(props)
        try:
            with self._engine(props) as engine:
                reconcile.apply(
                    engine,
                    DesiredState(),
                    info=RevisionInfo(actor=ACTOR, source=f"pulumi:{key}"),
                    options=reconcile.Options(scope={key}),
                )
        except TrunklineError as exc:
            raise ProviderError(f"cannot delete {key}: {exc.message}") from exc

    # -- read: the live row, so `pulumi refresh` shows drift -------------------------------

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        from reconciler.export import manifest as export_manifest
        from reconciler.mapping import kind_maps
        from reconciler.observe import observe

        kind = _unwrap(props.get("kind"))
        namespace, _, name = id_.rpartition("/")
        key = ObjectKey(kind, namespace or DEFAULT_NAMESPACE, name)
        with self._engine(props) as engine, engine.connect() as conn:
            live = observe(conn, kind_maps(), {key})
            conn.rollback()
        rows = live.rows.get(key)
        if rows is None:
            return ReadResult(None, {})  # gone: Pulumi drops it from the state (or recreates it)
        outs = fields.from_manifest(export_manifest(kind_maps()[kind], rows))
        hashes = dict(_hashes(kind, props))
        for path, holder in fields.password_holders(kind, outs["spec"]):
            if fields.is_pulumi_ref(holder.get(fields.PASSWORD_REF)):
                holder.pop(fields.PASSWORD_REF)
                holder[fields.PASSWORD_HASH] = hashes.get(path)
        if props.get("db_url") is not None:
            outs["db_url"] = props["db_url"]
        return ReadResult(object_id(key), outs, copy.deepcopy(outs))


class ProviderError(Exception):
    """What Pulumi shows when the engine refused: the engine's own message, never a secret."""


class _Blind:
    """Resolves every reference to the same placeholder: diff compares references, not secrets."""

    def resolve(self, ref: Any, *, namespace: str, base_dir: Any) -> str:
        return ""
