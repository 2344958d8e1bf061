"""``TrunklineProvider``: the one Pulumi dynamic provider behind every Trunkline resource class.

Each method speaks to the same engine as the CLI and the operator, on one object: a resource's
properties become a one-object manifest (``fields.to_manifest``), validated by the loader, and
``reconcile.apply`` writes it with ``Options(scope={key})`` in one transaction, so pruning
never reaches objects this resource does not stand for.

Pulumi pickles the provider (with dill) into every resource's state and unpickles it in the
provider plugin, so the instance holds nothing but plain data. The database engines live in
this module instead (one per URL per process, see ``_engine``), where the pickle never sees them.

Properties of every resource: ``kind``, ``name``, ``namespace``, ``labels``, ``annotations``,
``db_url`` (a secret; else provider config ``trunkline:dbUrl``, else ``$TRUNKLINE_DB``) and
``spec`` (the YAML spec in snake_case). The id is ``namespace/name``.
"""

from __future__ import annotations

import copy
import os
import threading
from collections.abc import Iterator
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
from pulumi.runtime import rpc
from sqlalchemy import Engine

from provider import fields, passwords
from reconciler import reconcile
from reconciler.apply import RevisionInfo
from reconciler.compare import declared_diff, shares_unique_key
from reconciler.export import manifest as export_manifest
from reconciler.mapping import kind_maps
from reconciler.observe import observe
from resources.errors import TrunklineError, ValidationError
from resources.kinds import KINDS
from resources.loader import load_manifests
from resources.meta import DEFAULT_NAMESPACE, ObjectKey, Resource
from resources.state import DesiredState
from switchdb.engine import open_database

CONFIG_KEY = "trunkline:dbUrl"
DB_ENV = "TRUNKLINE_DB"
ACTOR = "trunkline-pulumi"

# One engine per database URL for the life of the process (the provider plugin serves every
# resource of a run): opened, and migrated if need be, once rather than on every call.
# The lock: the plugin serves resources from several threads, and two first calls must not both
# migrate the database.
_ENGINES: dict[str | None, Engine] = {}
_ENGINES_LOCK = threading.Lock()


def _engine(url: str | None) -> Engine:
    with _ENGINES_LOCK:
        if url not in _ENGINES:
            _ENGINES[url] = open_database(url)
        return _ENGINES[url]


def dispose_engines() -> None:
    """Close every engine this process opened (tests that drop their databases call it)."""
    with _ENGINES_LOCK:
        while _ENGINES:
            _ENGINES.popitem()[1].dispose()


def _unwrap(value: Any) -> Any:
    """A Pulumi secret wrapper (check and diff keep them) as its value."""
    return rpc.unwrap_rpc_secret(value)


def _inputs(props: dict[str, Any]) -> dict[str, Any]:
    """The resource's own properties, without the pickled provider Pulumi adds."""
    return {k: v for k, v in props.items() if k != "__provider"}


def key_of(props: dict[str, Any]) -> ObjectKey:
    return ObjectKey(
        str(_unwrap(props.get("kind"))),
        _unwrap(props.get("namespace")) or DEFAULT_NAMESPACE,
        str(_unwrap(props.get("name"))),
    )


def object_id(key: ObjectKey) -> str:
    return f"{key.namespace}/{key.name}"


def _unknown_paths(value: Any, where: str = "") -> Iterator[str]:
    """Property paths of values not known until apply (preview), secrets seen through."""
    value = _unwrap(value)
    if value == rpc.UNKNOWN:
        yield where
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _unknown_paths(v, f"{where}.{k}" if where else k)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _unknown_paths(v, f"{where}[{i}]")


def _without_unknowns(value: Any) -> Any:
    value = _unwrap(value)
    if value == rpc.UNKNOWN:
        return None
    if isinstance(value, dict):
        return {k: _without_unknowns(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_unknowns(v) for v in value]
    return value


def _load(manifest: dict[str, Any]) -> DesiredState:
    key = ObjectKey(manifest["kind"], manifest["metadata"]["namespace"], manifest["metadata"]["name"])
    return load_manifests([manifest], source=f"pulumi:{key}", check_references=False)


def _object(props: dict[str, Any]) -> Resource:
    """The validated object a resource's properties (inputs or state outputs) stand for."""
    return next(iter(_load(fields.to_manifest(_without_unknowns(_inputs(props))).body)))


def _outputs(props: dict[str, Any], previous: dict[str, Any] | None = None) -> dict[str, Any]:
    """What the state keeps: the inputs, with each direct password replaced by a salted hash.

    An unchanged password keeps its previous hash, so the state does not churn.
    """
    outs = copy.deepcopy(_inputs(props))
    kind = outs.get("kind")
    old_hashes = _hashes(kind, previous)
    for path, holder in fields.password_holders(kind, outs.get("spec") or {}):
        clear = holder.pop(fields.PASSWORD, None)
        if clear is None:
            continue
        old = old_hashes.get(path)
        holder[fields.PASSWORD_HASH] = (
            old if passwords.matches(str(clear), old) else passwords.hash_password(str(clear))
        )
    return outs


def _hashes(kind: str | None, props: dict[str, Any] | None) -> dict[str, str | None]:
    """Password property path → the hash the state holds for it."""
    if not props or kind not in KINDS:
        return {}
    spec = _without_unknowns(props.get("spec")) or {}
    return {path: holder.get(fields.PASSWORD_HASH) for path, holder in fields.password_holders(kind, spec)}


class TrunklineProvider(ResourceProvider):
    """Create, read, update, delete, check and diff any Trunkline kind through the engine."""

    def __init__(self) -> None:
        # Plain data only (pickled into the state): never an engine, a logger or a connection.
        self.config_url: str | None = None

    # -- configuration ---------------------------------------------------------------------

    def configure(self, req: ConfigureRequest) -> None:
        value = req.config.get(CONFIG_KEY)
        self.config_url = str(value) if value else None

    def _engine(self, props: dict[str, Any]) -> Engine:
        return _engine(_unwrap(props.get("db_url")) or self.config_url or os.environ.get(DB_ENV))

    # -- check and diff: pure, no database ------------------------------------------------

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        inputs = dict(news)
        if not _unwrap(inputs.get("namespace")):
            inputs["namespace"] = DEFAULT_NAMESPACE
        kind = _unwrap(inputs.get("kind"))
        if kind not in KINDS:
            return CheckResult(inputs, [CheckFailure("kind", f"unknown kind {kind!r}; one of {', '.join(KINDS)}")])
        unknown = list(_unknown_paths(_inputs(inputs)))
        failures: list[CheckFailure] = []
        try:
            _load(fields.to_manifest(_without_unknowns(_inputs(inputs))).body)
        except ValidationError as exc:
            for problem in exc.problems:
                path = fields.property_path(kind, problem.field)
                if any(path == u or path.startswith((f"{u}.", f"{u}[")) for u in unknown):
                    continue  # not known until the resource it comes from exists
                failures.append(CheckFailure(path, problem.message))
        return CheckResult(inputs, failures)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        if any(_unknown_paths(_inputs(news))):  # values unknown until apply: say so, let the engine decide
            return DiffResult(changes=True)
        old_obj, new_obj = _object(olds), _object(news)
        changed = _changed_properties(old_obj, new_obj, olds, news)
        replaces = [p for p in ("kind", "namespace", "name") if getattr(old_obj.key, p) != getattr(new_obj.key, p)]
        kind = new_obj.kind
        immutable = {fields.property_path(kind, f"spec.{f}") for f in KINDS[kind].immutable_fields}
        replaces += [p for p in changed if p in immutable]
        return DiffResult(
            changes=bool(changed or replaces),
            replaces=replaces,
            stables=["kind"],
            delete_before_replace=bool(replaces) and shares_unique_key(old_obj, new_obj),
        )

    def changed_properties(self, olds: dict[str, Any], news: dict[str, Any]) -> list[str] | None:
        """Property paths whose value differs (as the switch would see it); None if not yet known."""
        if any(_unknown_paths(_inputs(news))):
            return None
        return _changed_properties(_object(olds), _object(news), olds, news)

    # -- create, update, delete: the engine, scoped to this object -------------------------

    def _apply(self, verb: str, props: dict[str, Any], manifest: fields.Manifest | None) -> None:
        """Write ``manifest`` (None: no object, i.e. delete it) as the one object ``props`` stand for."""
        key = key_of(props)
        try:
            state = _load(manifest.body) if manifest is not None else DesiredState()
            reconcile.apply(
                self._engine(props),
                state,
                info=RevisionInfo(actor=ACTOR, source=f"pulumi:{key}"),
                secrets=passwords.CallSecrets(dict(manifest.passwords)) if manifest is not None else None,
                options=reconcile.Options(scope={key}),
            )
        except TrunklineError as exc:
            raise ProviderError(f"cannot {verb} {key}: {exc.message}") from exc

    def create(self, props: dict[str, Any]) -> CreateResult:
        self._apply("create", props, fields.to_manifest(props))
        return CreateResult(object_id(key_of(props)), _outputs(props))

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        self._apply("update", news, fields.to_manifest(news))
        return UpdateResult(_outputs(news, olds))

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        self._apply("delete", props, None)

    # -- read: the live row, so `pulumi refresh` shows drift -------------------------------

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        kind = _unwrap(props.get("kind"))
        namespace, _, name = id_.rpartition("/")
        key = ObjectKey(kind, namespace or DEFAULT_NAMESPACE, name)
        with self._engine(props).connect() as conn:
            live = observe(conn, kind_maps(), {key})
            conn.rollback()
        rows = live.rows.get(key)
        if rows is None:
            return ReadResult(None, {})  # gone: Pulumi drops it from the state (or recreates it)
        outs = fields.from_manifest(export_manifest(kind_maps()[kind], rows))
        hashes = _hashes(kind, props)
        for path, holder in fields.password_holders(kind, outs["spec"]):
            if fields.is_pulumi_ref(holder.get(fields.PASSWORD_REF)):
                holder.pop(fields.PASSWORD_REF)
                holder[fields.PASSWORD_HASH] = hashes.get(path)
        if props.get("db_url") is not None:
            outs["db_url"] = props["db_url"]
        return ReadResult(object_id(key), outs, copy.deepcopy(outs))


def _changed_properties(old: Resource, new: Resource, olds: dict[str, Any], news: dict[str, Any]) -> list[str]:
    """The properties whose change the switch would see, plus direct passwords that no longer
    match the state's hash (the rows hold only a reference to them)."""
    kind = new.kind
    changed: set[str] = set()
    for label in declared_diff(old, new):
        if label.startswith("metadata."):
            changed.add(label.removeprefix("metadata."))
            continue
        top = label.split("[", 1)[0].split(".", 1)[0]
        changed.add(fields.property_path(kind, f"spec.{top}"))
    old_hashes = _hashes(kind, olds)
    spec = _without_unknowns(news.get("spec")) or {}
    for path, holder in fields.password_holders(kind, spec):
        clear = holder.get(fields.PASSWORD)
        if clear is not None and not passwords.matches(str(clear), old_hashes.get(path)):
            changed.add(f"spec.{path}.{fields.PASSWORD}" if path else f"spec.{fields.PASSWORD}")
    return sorted(changed)


class ProviderError(Exception):
    """What Pulumi shows when the engine refused: the engine's own message, never a secret."""
