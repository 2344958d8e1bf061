"""The Kopf operator: every Trunkline custom resource reconciled by the one engine.

Each handler builds a one-object ``DesiredState`` from the custom resource and calls
``reconcile.apply`` with ``scope`` = that object, so the CLI and the operator cannot
disagree about what a spec means. A reconcile is observe → diff → act → report: the status
carries ``Ready``/``Synced`` conditions and ``observedGeneration``, and Kubernetes Events
record what was applied, what failed and what drift was corrected.

Run it with ``trunkline operator --db URL`` (a wrapper around ``kopf run``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import kopf
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from reconciler import conditions, reconcile
from reconciler.apply import RevisionInfo
from reconciler.conditions import ReadyReason, SyncedReason
from reconciler.kube import KubernetesSecrets, config_map_data, core_api
from reconciler.plan import ConflictError, DependencyError
from reconciler.secrets import SecretUnavailable
from resources.errors import TrunklineError, ValidationError
from resources.kinds import KINDS
from resources.loader import load_manifests
from resources.meta import GROUP, STORAGE_VERSION, ObjectKey
from resources.state import DesiredState
from switchdb.engine import open_database
from switchdb.errors import DatabaseError

FINALIZER = f"{GROUP}/finalizer"
PAUSED = f"{GROUP}/paused"
DELETION_POLICY = f"{GROUP}/deletion-policy"
SECRET_INDEX = "trunkline_secret_users"
# Annotations that are Kubernetes' or Kopf's bookkeeping, not the user's metadata.
_FOREIGN_ANNOTATIONS = ("kubectl.kubernetes.io/", "kopf.zalando.org/", f"{GROUP}/")
DEPENDENCY_RETRY_S = 5.0
OUTAGE_RETRY_S = 10.0

log = logging.getLogger("trunkline.operator")


@dataclass
class OperatorContext:
    """What every handler needs; built once at startup (or by tests)."""

    engine: Engine
    api: Any = None  # kubernetes CoreV1Api
    secrets: KubernetesSecrets = field(default_factory=KubernetesSecrets)
    drift_interval: float = 60.0


_context: OperatorContext | None = None


def context() -> OperatorContext:
    global _context
    if _context is None:
        api = core_api()
        engine = open_database(os.environ.get("TRUNKLINE_DB"))
        interval = float(os.environ.get("TRUNKLINE_DRIFT_INTERVAL", "300"))
        _context = OperatorContext(engine, api, KubernetesSecrets(api), interval)
    return _context


def manifest_from_body(body: Mapping[str, Any]) -> dict[str, Any]:
    """A custom resource as a manifest the loader accepts (no server-side fields)."""
    meta = body.get("metadata", {})
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items() if not k.startswith(_FOREIGN_ANNOTATIONS)}
    metadata: dict[str, Any] = {"name": meta.get("name"), "namespace": meta.get("namespace") or "default"}
    if meta.get("labels"):
        metadata["labels"] = dict(meta["labels"])
    if annotations:
        metadata["annotations"] = annotations
    return {
        "apiVersion": body.get("apiVersion"),
        "kind": body.get("kind"),
        "metadata": metadata,
        "spec": dict(body.get("spec") or {}),
    }


def desired_from_body(body: Mapping[str, Any], ctx: OperatorContext) -> DesiredState:
    manifest = manifest_from_body(body)
    config_maps: dict[tuple[str, str], dict[str, str]] = {}
    ref = (
        ((manifest["spec"].get("ratesFrom") or {}).get("configMapRef") or {}) if manifest["kind"] == "RateCard" else {}
    )
    if ref.get("name") and ctx.api is not None:
        namespace = manifest["metadata"]["namespace"]
        data = config_map_data(ctx.api, namespace, ref["name"])
        if data is not None:
            config_maps[(namespace, ref["name"])] = data
    source = f"{manifest['kind']}/{manifest['metadata']['namespace']}/{manifest['metadata']['name']}"
    return load_manifests([manifest], source=source, config_maps=config_maps, check_references=False)


def key_of(body: Mapping[str, Any]) -> ObjectKey:
    meta = body.get("metadata", {})
    return ObjectKey(str(body.get("kind")), meta.get("namespace") or "default", meta.get("name"))


def _info(body: Mapping[str, Any]) -> RevisionInfo:
    meta = body.get("metadata", {})
    return RevisionInfo(
        actor="trunkline-operator",
        source=f"kubernetes:{key_of(body)}@{meta.get('resourceVersion', '?')}",
    )


def reconcile_body(body: Mapping[str, Any], ctx: OperatorContext, *, look_first: bool = False) -> reconcile.ApplyResult:
    """Apply one custom resource through the engine (scope: that object only)."""
    state = desired_from_body(body, ctx)
    return reconcile.apply(
        ctx.engine,
        state,
        info=_info(body),
        secrets=ctx.secrets,
        options=reconcile.Options(scope={key_of(body)}, adopt=_adopt(body)),
        look_first=look_first,
    )


def delete_body(body: Mapping[str, Any], ctx: OperatorContext) -> reconcile.ApplyResult | None:
    """Remove the object's rows, or with deletion policy Orphan keep them unmanaged."""
    key = key_of(body)
    if _annotation(body, DELETION_POLICY) == "Orphan":
        reconcile.release(ctx.engine, [key])
        return None
    return reconcile.apply(
        ctx.engine, DesiredState(), info=_info(body), secrets=ctx.secrets, options=reconcile.Options(scope={key})
    )


def _annotation(body: Mapping[str, Any], name: str) -> str | None:
    return (body.get("metadata", {}).get("annotations") or {}).get(name)


def _adopt(body: Mapping[str, Any]) -> bool:
    return _annotation(body, f"{GROUP}/adopt") == "true"


def _paused(body: Mapping[str, Any]) -> bool:
    return _annotation(body, PAUSED) == "true"


def _event(body: Mapping[str, Any], *, warning: bool, reason: str, message: str) -> None:
    """Post a Kubernetes Event; outside a running operator (tests, scripts) there is no queue."""
    try:
        (kopf.warn if warning else kopf.info)(dict(body), reason=reason, message=message[:1000])
    except LookupError:
        log.info("%s %s: %s", reason, key_of(body), message)


def _report(patch: kopf.Patch, body: Mapping[str, Any], *new: conditions.Condition) -> None:
    generation = body.get("metadata", {}).get("generation")
    previous = (body.get("status") or {}).get("conditions")
    patch.status["conditions"] = conditions.merge(previous, *new, generation=generation)
    patch.status["observedGeneration"] = generation


def _observed(body: Mapping[str, Any]) -> bool:
    """Whether the status already reports the object's current generation."""
    generation = body.get("metadata", {}).get("generation")
    return generation is not None and (body.get("status") or {}).get("observedGeneration") == generation


def _condition(body: Mapping[str, Any], kind: str) -> dict[str, Any]:
    return next((c for c in (body.get("status") or {}).get("conditions") or [] if c.get("type") == kind), {})


def _summary(result: reconcile.ApplyResult) -> str:
    if result.revision_id is None:
        return "up to date"
    fields = sorted({name for c in result.plan.changes for name in c.diff})
    action = result.plan.changes[0].action if result.plan.changes else "apply"
    shown = ", ".join(fields[:8]) + (" …" if len(fields) > 8 else "")
    return f"{action}d as revision {result.revision_id}" + (f" ({shown})" if shown and action == "update" else "")


def handle(body: Mapping[str, Any], patch: kopf.Patch, ctx: OperatorContext, *, drift: bool = False) -> None:
    """Reconcile and report; failures become conditions plus Kopf's retry semantics."""
    if _paused(body):
        _report(patch, body, conditions.synced(False, SyncedReason.PAUSED, f"annotation {PAUSED}=true"))
        return
    try:
        result = reconcile_body(body, ctx, look_first=drift)
    except DependencyError as exc:
        _report(
            patch,
            body,
            conditions.ready(False, ReadyReason.WAITING, exc.message),
            conditions.synced(False, SyncedReason.ERROR, exc.message),
        )
        raise kopf.TemporaryError(exc.message, delay=DEPENDENCY_RETRY_S) from exc
    except (ValidationError, ConflictError) as exc:
        _report(
            patch,
            body,
            conditions.ready(False, ReadyReason.UNAVAILABLE, exc.message),
            conditions.synced(False, SyncedReason.ERROR, exc.message),
        )
        _event(body, warning=True, reason="ApplyFailed", message=exc.message)
        if isinstance(exc, ValidationError) and any("cannot resolve secret" in p.message for p in exc.problems):
            raise kopf.TemporaryError(exc.message, delay=OUTAGE_RETRY_S) from exc
        raise kopf.PermanentError(exc.message) from exc
    except (DatabaseError, SQLAlchemyError, SecretUnavailable, TrunklineError) as exc:
        message = getattr(exc, "message", None) or f"database error: {' '.join(str(exc).split())[:300]}"
        _report(
            patch,
            body,
            conditions.ready(False, ReadyReason.UNAVAILABLE, message),
            conditions.synced(False, SyncedReason.ERROR, message),
        )
        raise kopf.TemporaryError(message, delay=OUTAGE_RETRY_S) from exc
    # The timer can run between a spec edit and its update handler: applying a generation never
    # observed before is an edit being applied, not drift being corrected.
    drift = drift and _observed(body)
    reason = SyncedReason.DRIFT_CORRECTED if drift and result.revision_id is not None else SyncedReason.SUCCESS
    message = _summary(result)
    previous = _condition(body, "Synced")
    if result.revision_id is None and previous.get("status") == "True" and _observed(body):
        # Nothing changed since the last report (a second handler or the timer found it up to
        # date): keep saying what that apply did instead of overwriting it with "up to date".
        reason, message = SyncedReason(previous.get("reason", reason)), previous.get("message") or message
    _report(
        patch,
        body,
        conditions.ready(True, ReadyReason.AVAILABLE, "rows match the spec"),
        conditions.synced(True, reason, message),
    )
    if result.revision_id is not None:
        event = "DriftCorrected" if drift else "Applied"
        _event(body, warning=False, reason=event, message=_summary(result))


def _on_change(body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
    handle(body, patch, context())


def _on_delete(body: kopf.Body, **_: Any) -> None:
    ctx = context()
    try:
        delete_body(body, ctx)
    except DependencyError as exc:
        raise kopf.TemporaryError(exc.message, delay=DEPENDENCY_RETRY_S) from exc
    except (DatabaseError, SQLAlchemyError) as exc:
        raise kopf.TemporaryError(f"database error: {exc}", delay=OUTAGE_RETRY_S) from exc


def _on_drift_timer(body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
    handle(body, patch, context(), drift=True)


def _own_annotations_changed(old: Any, new: Any, **_: Any) -> bool:
    """Only trunkline.dev/ annotations (paused, deletion-policy, adopt) are worth a reconcile.

    `kubectl apply` rewrites its last-applied-configuration annotation on every spec edit; without
    this filter each edit ran a second, empty reconcile that overwrote the Synced message.
    """

    def own(value: Any) -> dict[str, Any]:
        # Kopf passes `when` the whole old/new bodies (the field is cut out only for the handler).
        if isinstance(value, Mapping) and isinstance(value.get("metadata"), Mapping):
            value = value["metadata"].get("annotations")
        return {k: v for k, v in dict(value or {}).items() if k.startswith(f"{GROUP}/")}

    return own(old) != own(new)


def _index_secret_users(body: kopf.Body, **_: Any) -> dict[tuple[str, str], ObjectKey] | None:
    """Index objects by the Secrets they read, so a rotated Secret re-applies exactly them."""
    names = set()
    spec = body.get("spec") or {}
    for ref in _secret_refs(spec):
        names.add(ref)
    if not names:
        return None
    namespace = body.get("metadata", {}).get("namespace") or "default"
    return {(namespace, name): key_of(body) for name in names}


def _secret_refs(value: Any) -> list[str]:
    found: list[str] = []
    if isinstance(value, Mapping):
        ref = value.get("secretKeyRef")
        if isinstance(ref, Mapping) and isinstance(ref.get("name"), str):
            found.append(ref["name"])
        for item in value.values():
            found.extend(_secret_refs(item))
    elif isinstance(value, list):
        for item in value:
            found.extend(_secret_refs(item))
    return found


def register(registry: kopf.OperatorRegistry | None = None) -> None:
    """Register the handlers for every kind: one generic set, no per-kind code."""
    kw: dict[str, Any] = {"registry": registry} if registry is not None else {}
    for model in KINDS.values():
        resource = (GROUP, STORAGE_VERSION, model.plural)
        # Explicit ids: Kopf keeps handler progress in annotations named after them
        # (kopf.zalando.org/<id>), and a default id from a function name like `_on_change` starts
        # with "_", which the API server refuses as an annotation name (422 on every retry).
        kopf.on.create(*resource, id="create", **kw)(_on_change)
        kopf.on.update(*resource, id="update", field="spec", **kw)(_on_change)
        kopf.on.update(*resource, id="update", field="metadata.annotations", when=_own_annotations_changed, **kw)(
            _on_change
        )
        kopf.on.resume(*resource, id="resume", **kw)(_on_change)
        kopf.on.delete(*resource, id="delete", **kw)(_on_delete)
        # The first drift check waits one interval: a timer firing at once would race the create
        # handler and report the first apply as "DriftCorrected".
        interval = float(os.environ.get("TRUNKLINE_DRIFT_INTERVAL", "300"))
        kopf.timer(*resource, id="drift", interval=interval, initial_delay=interval, **kw)(_on_drift_timer)
        kopf.index(*resource, id=f"{SECRET_INDEX}_{model.plural}", **kw)(_index_secret_users)

    @kopf.on.update("", "v1", "secrets", id="rotation", field="data", **kw)
    def _on_secret_change(name: str, namespace: str, **kwargs: Any) -> None:
        ctx = context()
        for model in KINDS.values():
            index = kwargs.get(f"{SECRET_INDEX}_{model.plural}") or {}
            for key in index.get((namespace, name), []):
                body = _read_custom_object(key, model.plural)
                if body is not None and not _paused(body):  # paused means nothing is applied
                    reconcile_body(body, ctx)
                    _event(
                        body, warning=False, reason="SecretRotated", message=f"re-applied after Secret {name} changed"
                    )

    @kopf.on.startup(**kw)
    def _configure(settings: kopf.OperatorSettings, **_: Any) -> None:
        settings.persistence.finalizer = FINALIZER
        settings.peering.name = os.environ.get("TRUNKLINE_PEERING", "trunkline")
        settings.posting.level = logging.INFO
        settings.watching.server_timeout = 300
        context()


def _read_custom_object(key: ObjectKey, plural: str) -> dict[str, Any] | None:
    from kubernetes import client

    try:
        return client.CustomObjectsApi().get_namespaced_custom_object(
            GROUP, STORAGE_VERSION, key.namespace, plural, key.name
        )
    except Exception:  # gone since it was indexed
        return None


if os.environ.get("TRUNKLINE_OPERATOR_AUTOREGISTER", "1") == "1":
    register()
