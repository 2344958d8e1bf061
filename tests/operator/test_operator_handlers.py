"""The operator's handlers driven directly (no API server): the same engine, scoped to one CR.

These run the real engine on real databases; only Kopf's patch object is built by hand, as
Kopf itself builds it. The end-to-end tests against a real kube-apiserver live in tests/k8s.
"""

from __future__ import annotations

from typing import Any

import kopf
import pytest
from sqlalchemy import text

from reconciler.operator import OperatorContext, delete_body, handle
from switchdb.engine import open_database

GROUP = "trunkline.dev/v1alpha1"


def body(kind: str, name: str, spec: dict[str, Any], *, generation: int = 1, **annotations: str) -> dict[str, Any]:
    return {
        "apiVersion": GROUP,
        "kind": kind,
        "metadata": {
            "name": name,
            "namespace": "carrier",
            "uid": f"uid-{name}",
            "generation": generation,
            "resourceVersion": "1",
            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}", **annotations},
        },
        "spec": spec,
        "status": {},
    }


CUSTOMER = body("Customer", "acme", {"displayName": "Acme", "currency": "USD", "channels": 10})
CARD = body("RateCard", "retail", {"currency": "USD", "rates": [{"prefix": "44", "perMinute": "0.01"}]})
ROUTE = body("IngressRoute", "acme-main", {"customerRef": "acme", "rateCardRef": "retail"})


@pytest.fixture
def ctx(db_url: str) -> OperatorContext:
    engine = open_database(db_url)
    yield OperatorContext(engine=engine, api=None)
    engine.dispose()


def conditions(patch: kopf.Patch) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in patch["status"]["conditions"]}


def count(ctx: OperatorContext, table: str) -> int:
    with ctx.engine.connect() as conn:
        return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


def test_create_reports_ready_and_synced_with_observed_generation(ctx: OperatorContext) -> None:
    patch = kopf.Patch()
    handle(CUSTOMER, patch, ctx)
    found = conditions(patch)
    assert found["Ready"]["status"] == "True" and found["Ready"]["reason"] == "Available"
    assert found["Synced"]["reason"] == "ReconcileSuccess"
    assert patch["status"]["observedGeneration"] == 1
    assert count(ctx, "customers") == 1


def test_route_before_its_customer_waits_with_a_temporary_error(ctx: OperatorContext) -> None:
    handle(CARD, kopf.Patch(), ctx)
    patch = kopf.Patch()
    with pytest.raises(kopf.TemporaryError, match="Customer/carrier/acme"):
        handle(ROUTE, patch, ctx)
    assert conditions(patch)["Ready"]["reason"] == "WaitingForDependency"
    assert count(ctx, "ingress_routes") == 0
    handle(CUSTOMER, kopf.Patch(), ctx)
    retry = kopf.Patch()
    handle(ROUTE, retry, ctx)  # Kopf's retry converges once the customer exists
    assert conditions(retry)["Ready"]["status"] == "True"


def test_update_changes_the_row_and_reapplying_changes_nothing(ctx: OperatorContext) -> None:
    handle(CUSTOMER, kopf.Patch(), ctx)
    edited = body("Customer", "acme", {"displayName": "Acme", "currency": "USD", "channels": 25}, generation=2)
    patch = kopf.Patch()
    handle(edited, patch, ctx)
    assert "channels" in conditions(patch)["Synced"]["message"]
    with ctx.engine.connect() as conn:
        assert conn.execute(text("SELECT channels FROM customers")).scalar_one() == 25
    revisions = count(ctx, "trunkline_revisions")
    handle(edited, kopf.Patch(), ctx)
    assert count(ctx, "trunkline_revisions") == revisions


def test_pause_annotation_suspends_reconciling(ctx: OperatorContext) -> None:
    paused = body("Customer", "acme", CUSTOMER["spec"], **{"trunkline.dev/paused": "true"})
    patch = kopf.Patch()
    handle(paused, patch, ctx)
    assert conditions(patch)["Synced"]["reason"] == "ReconcilePaused"
    assert count(ctx, "customers") == 0


def test_drift_is_corrected_and_reported_as_such(ctx: OperatorContext) -> None:
    first = kopf.Patch()
    handle(CUSTOMER, first, ctx)
    observed = {**CUSTOMER, "status": dict(first["status"])}  # the status the first apply wrote
    with ctx.engine.begin() as conn:
        conn.execute(text("UPDATE customers SET channels = 999"))
    patch = kopf.Patch()
    handle(observed, patch, ctx, drift=True)
    assert conditions(patch)["Synced"]["reason"] == "DriftCorrected"
    with ctx.engine.connect() as conn:
        assert conn.execute(text("SELECT channels FROM customers")).scalar_one() == 10


def test_timer_applying_an_unobserved_generation_is_not_drift(ctx: OperatorContext) -> None:
    # The timer ran between a spec edit and its update handler: that is the edit being applied.
    patch = kopf.Patch()
    handle(CUSTOMER, patch, ctx, drift=True)
    assert conditions(patch)["Synced"]["reason"] == "ReconcileSuccess"


def test_up_to_date_keeps_the_message_of_the_last_apply(ctx: OperatorContext) -> None:
    first = kopf.Patch()
    handle(CUSTOMER, first, ctx)
    observed = {**CUSTOMER, "status": dict(first["status"])}
    again = kopf.Patch()
    handle(observed, again, ctx)
    assert conditions(again)["Synced"]["message"] == conditions(first)["Synced"]["message"]
    assert conditions(again)["Synced"]["message"].startswith("created as revision")


def test_delete_removes_rows_but_waits_for_dependents(ctx: OperatorContext) -> None:
    for obj in (CUSTOMER, CARD, ROUTE):
        handle(obj, kopf.Patch(), ctx)
    from reconciler.plan import DependencyError

    with pytest.raises(DependencyError, match="IngressRoute/carrier/acme-main still references it"):
        delete_body(CUSTOMER, ctx)
    delete_body(ROUTE, ctx)
    delete_body(CUSTOMER, ctx)
    assert count(ctx, "customers") == 0 and count(ctx, "ingress_routes") == 0


def test_orphan_deletion_policy_keeps_rows_unmanaged(ctx: OperatorContext) -> None:
    handle(CUSTOMER, kopf.Patch(), ctx)
    orphan = body("Customer", "acme", CUSTOMER["spec"], **{"trunkline.dev/deletion-policy": "Orphan"})
    delete_body(orphan, ctx)
    assert count(ctx, "customers") == 1
    assert count(ctx, "trunkline_objects") == 0


def test_invalid_spec_is_a_permanent_error_with_the_reason(ctx: OperatorContext) -> None:
    bad = body("Customer", "acme", {"displayName": "Acme", "currency": "USD", "channels": -1})
    patch = kopf.Patch()
    with pytest.raises(kopf.PermanentError, match=r"spec\.channels"):
        handle(bad, patch, ctx)
    assert conditions(patch)["Ready"]["status"] == "False"


def test_database_outage_is_unavailable_and_retried(tmp_path: Any, sqlite_url: str) -> None:
    # A database file in a directory that does not exist: every connection fails, like a dead server.
    from sqlalchemy import create_engine

    dead = create_engine(f"sqlite:///{tmp_path}/missing-dir/db.sqlite")
    patch = kopf.Patch()
    with pytest.raises(kopf.TemporaryError):
        handle(CUSTOMER, patch, OperatorContext(engine=dead))
    assert conditions(patch)["Ready"]["reason"] == "Unavailable"
    # The same object converges once the database is back.
    recovered = kopf.Patch()
    handle(CUSTOMER, recovered, OperatorContext(engine=open_database(sqlite_url)))
    assert conditions(recovered)["Ready"]["status"] == "True"


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        pytest.param({}, {"trunkline.dev/paused": "true"}, True, id="pause-added"),
        pytest.param({"trunkline.dev/paused": "true"}, {}, True, id="pause-removed"),
        pytest.param(
            {"kubectl.kubernetes.io/last-applied-configuration": "{}"},
            {"kubectl.kubernetes.io/last-applied-configuration": '{"spec": 1}'},
            False,
            id="kubectl-apply-bookkeeping-only",
        ),
        pytest.param(
            {"metadata": {"annotations": {"team": "a"}}},
            {"metadata": {"annotations": {"team": "a", "trunkline.dev/deletion-policy": "Orphan"}}},
            True,
            id="whole-bodies-as-kopf-passes-them",
        ),
        pytest.param(None, None, False, id="no-annotations"),
    ],
)
def test_only_trunkline_annotations_trigger_a_reconcile(old: Any, new: Any, expected: bool) -> None:
    from reconciler.operator import _own_annotations_changed

    assert _own_annotations_changed(old=old, new=new) is expected
