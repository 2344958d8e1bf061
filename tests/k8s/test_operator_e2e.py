"""The operator end to end: `trunkline operator` in a subprocess, `kubectl` against a real API server.

What they prove, each within a bounded time: the example carrier applied as custom resources
becomes Ready and writes the same rows as `trunkline apply examples/`; spec edits, deletes (with
the finalizer), the Orphan policy, the paused annotation, drift correction by the timer, Secret
rotation, dependency ordering, an operator restart and a database outage all behave as
docs/kubernetes.md says, as seen through `kubectl` (conditions, printer columns, events) and the
database. Each test watches only its own namespace (`--namespace`), so tests sharing a cluster
(one per xdist worker) do not see each other's objects.

Conversion of examples/ to Kubernetes objects (CSV deck → ConfigMap, env password refs →
secretKeyRef) lives in tests/support/operator_process.py.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from support.db import scalar, sql, table_rows
from support.kube import KubeCluster, KubectlError
from support.operator_process import (
    OperatorProcess,
    example_cli_tree,
    example_objects,
    example_passwords,
    to_yaml,
)
from support.polling import Timeout, wait_until

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
KINDS = "customers,ratecards,ingressroutes,ipauthentications,credentialauthentications,dids,packages,alerts"
DRIFT_INTERVAL = 2.0
#: Seconds to wait for the operator to react (a cold start imports Kopf and the engine).
REACT = 45.0

OperatorFactory = Callable[..., OperatorProcess]


@pytest.fixture
def run_operator(kube_crds: KubeCluster, kube_namespace: str, tmp_path: Path) -> Iterator[OperatorFactory]:
    """Start `trunkline operator` on a database, watching the test's namespace; stopped afterwards."""
    started: list[OperatorProcess] = []

    def start(db_url: str, **kwargs: Any) -> OperatorProcess:
        process = OperatorProcess(
            kube_crds.env(),
            db_url,
            tmp_path / "operator.log",
            drift_interval=kwargs.pop("drift_interval", DRIFT_INTERVAL),
            namespaces=(kube_namespace,),
            **kwargs,
        )
        started.append(process.start())
        return process

    yield start
    for process in started:
        process.stop()
    if started:
        print(f"--- operator log (last lines) ---\n{started[-1].tail(80)}")


# -- helpers ---------------------------------------------------------------------------------


def _customer(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "trunkline.dev/v1alpha1",
        "kind": "Customer",
        "metadata": {"name": name},
        "spec": {"displayName": name.title(), "currency": "USD", **spec},
    }


def _apply(cluster: KubeCluster, namespace: str, *objects: dict[str, Any]) -> None:
    cluster.kubectl("apply", "-n", namespace, "-f", "-", input=to_yaml(list(objects)))


def _get(cluster: KubeCluster, namespace: str, resource: str, name: str) -> dict[str, Any]:
    return cluster.kubectl_json("get", resource, name, "-n", namespace)


def _condition(cluster: KubeCluster, namespace: str, resource: str, name: str, kind: str) -> dict[str, Any]:
    status = _get(cluster, namespace, resource, name).get("status") or {}
    return next((c for c in status.get("conditions") or [] if c["type"] == kind), {})


def _wait_condition(
    cluster: KubeCluster,
    namespace: str,
    resource: str,
    name: str,
    kind: str,
    status: str,
    reason: str | None = None,
    *,
    generation: int | None = None,
    timeout: float = REACT,
) -> dict[str, Any]:
    """The condition once it has ``status`` (and ``reason``), for ``generation`` when given: the
    condition of the generation before an edit may still stand when the database has changed."""

    def probe() -> dict[str, Any] | None:
        found = _condition(cluster, namespace, resource, name, kind)
        if found.get("status") != status or (reason is not None and found.get("reason") != reason):
            return None
        if generation is not None and found.get("observedGeneration") != generation:
            return None
        return found

    what = f"{resource}/{name} {kind}={status} {reason or ''}{f' at generation {generation}' if generation else ''}"
    return wait_until(probe, timeout=timeout, what=what)


def _wait_ready(cluster: KubeCluster, namespace: str, target: str, *, timeout: float = REACT) -> None:
    cluster.kubectl(
        "wait", "--for=condition=Ready", f"--timeout={int(timeout)}s", "-n", namespace, target, timeout=timeout + 15
    )


def _display_name(url: str, namespace: str, name: str) -> Any:
    return scalar(url, "SELECT display_name FROM customers WHERE namespace = :ns AND name = :n", ns=namespace, n=name)


def _events(cluster: KubeCluster, namespace: str, name: str) -> list[dict[str, Any]]:
    found = cluster.kubectl_json("get", "events", "-n", namespace, "--field-selector", f"involvedObject.name={name}")
    return found["items"]


# -- the example carrier ---------------------------------------------------------------------


def test_examples_become_ready_and_match_the_cli(
    kube_crds: KubeCluster, kube_namespace: str, run_operator: OperatorFactory, tmp_path: Path
) -> None:
    operator_db = f"sqlite:///{tmp_path / 'operator.db'}"
    run_operator(operator_db)
    kube_crds.kubectl("apply", "-n", kube_namespace, "-f", "-", input=to_yaml(example_objects(kube_namespace)))
    kube_crds.kubectl(
        "wait", "--for=condition=Ready", "--timeout=90s", "-n", kube_namespace, KINDS, "--all", timeout=120
    )

    # What the CLI writes for the same manifests (env passwords, CSV deck) in the same namespace.
    cli_db = f"sqlite:///{tmp_path / 'cli.db'}"
    tree = example_cli_tree(kube_namespace, tmp_path / "examples")
    done = subprocess.run(
        [sys.executable, "-m", "reconciler.cli", "apply", "--db", cli_db, "--auto-approve", str(tree)],
        cwd=REPO,
        env={**os.environ, **example_passwords()},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "34 to create" in done.stdout

    operator_rows, cli_rows = table_rows(operator_db), table_rows(cli_db)
    assert operator_rows.keys() == cli_rows.keys()
    for table in cli_rows:
        assert operator_rows[table] == cli_rows[table], f"table {table} differs"
    assert len(operator_rows["trunkline_objects"]) == 34
    assert len(operator_rows["rates"]) > 250  # the CSV deck, read from its ConfigMap

    # Printer columns: STATUS from the spec, READY/SYNCED from the conditions.
    table = kube_crds.kubectl("get", "customers", "-n", kube_namespace).stdout.splitlines()
    assert table[0].split() == ["NAME", "STATUS", "READY", "SYNCED", "AGE"]
    rows = {line.split()[0]: line.split() for line in table[1:]}
    assert rows["acme-voip"][1:4] == ["Active", "True", "True"]
    assert rows["bluefin-telecom"][1:4] == ["Inactive", "True", "True"]
    assert rows["cobalt-comms"][1:4] == ["PendingApproval", "True", "True"]
    acme = _get(kube_crds, kube_namespace, "customer", "acme-voip")
    assert "trunkline.dev/finalizer" in acme["metadata"]["finalizers"]
    assert acme["status"]["observedGeneration"] == acme["metadata"]["generation"]
    reasons = {c["type"]: c["reason"] for c in acme["status"]["conditions"]}
    assert reasons == {"Ready": "Available", "Synced": "ReconcileSuccess"}
    assert any(e["reason"] == "Applied" for e in _events(kube_crds, kube_namespace, "acme-voip"))


# -- one object's life -----------------------------------------------------------------------


def test_edit_updates_the_row_and_delete_removes_it(
    kube_crds: KubeCluster, kube_namespace: str, run_operator: OperatorFactory, sqlite_url: str
) -> None:
    run_operator(sqlite_url)
    _apply(kube_crds, kube_namespace, _customer("acme", displayName="Acme VoIP"))
    _wait_ready(kube_crds, kube_namespace, "customer/acme")
    assert _display_name(sqlite_url, kube_namespace, "acme") == "Acme VoIP"

    _apply(kube_crds, kube_namespace, _customer("acme", displayName="Acme VoIP Inc."))
    wait_until(
        lambda: _display_name(sqlite_url, kube_namespace, "acme") == "Acme VoIP Inc.",
        timeout=REACT,
        what="the edited display name in the database",
    )
    synced = _wait_condition(kube_crds, kube_namespace, "customer", "acme", "Synced", "True", generation=2)
    assert synced["reason"] == "ReconcileSuccess"
    # Whichever ran first (the update handler or the drift timer) applied it as an edit.
    applied = wait_until(
        lambda: [
            e["message"]
            for e in _events(kube_crds, kube_namespace, "acme")
            if e["reason"] == "Applied" and e["message"].startswith("updated")
        ],
        timeout=REACT,
        what="an Applied event for the update",
    )
    assert "displayName" in applied[0]
    assert not any(e["reason"] == "DriftCorrected" for e in _events(kube_crds, kube_namespace, "acme"))

    kube_crds.kubectl("delete", "customer", "acme", "-n", kube_namespace, "--timeout=60s", timeout=90)
    assert _display_name(sqlite_url, kube_namespace, "acme") is None
    assert scalar(sqlite_url, "SELECT count(*) FROM trunkline_objects WHERE namespace = :ns", ns=kube_namespace) == 0


def test_invalid_object_is_rejected_by_the_api_server(
    kube_crds: KubeCluster, kube_namespace: str, run_operator: OperatorFactory, sqlite_url: str
) -> None:
    run_operator(sqlite_url)
    with pytest.raises(KubectlError) as failure:
        _apply(kube_crds, kube_namespace, _customer("bad", status="Frozen"))
    assert "is invalid" in failure.value.stderr
    assert 'spec.status: Unsupported value: "Frozen"' in failure.value.stderr
    with pytest.raises(KubectlError) as failure:
        _apply(kube_crds, kube_namespace, _customer("bad", debitLimit="-5"))
    assert "spec.debitLimit" in failure.value.stderr
    # Nothing was stored, so nothing reaches the database.
    _apply(kube_crds, kube_namespace, _customer("good"))
    _wait_ready(kube_crds, kube_namespace, "customer/good")
    assert _display_name(sqlite_url, kube_namespace, "bad") is None


def test_orphan_policy_keeps_the_rows(
    kube_crds: KubeCluster, kube_namespace: str, run_operator: OperatorFactory, sqlite_url: str
) -> None:
    run_operator(sqlite_url)
    orphan = _customer("keep-me")
    orphan["metadata"]["annotations"] = {"trunkline.dev/deletion-policy": "Orphan"}
    _apply(kube_crds, kube_namespace, orphan)
    _wait_ready(kube_crds, kube_namespace, "customer/keep-me")
    kube_crds.kubectl("delete", "customer", "keep-me", "-n", kube_namespace, "--timeout=60s", timeout=90)
    assert _display_name(sqlite_url, kube_namespace, "keep-me") == "Keep-Me"
    owned = "SELECT count(*) FROM trunkline_objects WHERE namespace = :ns AND name = 'keep-me'"
    assert scalar(sqlite_url, owned, ns=kube_namespace) == 0  # unmanaged now, until adopted


def test_paused_object_is_not_applied(
    kube_crds: KubeCluster, kube_namespace: str, run_operator: OperatorFactory, sqlite_url: str
) -> None:
    run_operator(sqlite_url)
    _apply(kube_crds, kube_namespace, _customer("acme", displayName="Acme"))
    _wait_ready(kube_crds, kube_namespace, "customer/acme")
    revisions = scalar(sqlite_url, "SELECT count(*) FROM trunkline_revisions")

    kube_crds.kubectl("annotate", "customer", "acme", "-n", kube_namespace, "trunkline.dev/paused=true")
    _wait_condition(kube_crds, kube_namespace, "customer", "acme", "Synced", "False", "ReconcilePaused")
    paused = _customer("acme", displayName="Acme while paused")
    paused["metadata"]["annotations"] = {"trunkline.dev/paused": "true"}
    _apply(kube_crds, kube_namespace, paused)
    wait_until(
        lambda: _condition(kube_crds, kube_namespace, "customer", "acme", "Synced").get("observedGeneration") == 2,
        timeout=REACT,
        what="the paused edit to be observed",
    )
    synced = _condition(kube_crds, kube_namespace, "customer", "acme", "Synced")
    assert synced["reason"] == "ReconcilePaused"
    assert _display_name(sqlite_url, kube_namespace, "acme") == "Acme"
    assert scalar(sqlite_url, "SELECT count(*) FROM trunkline_revisions") == revisions

    kube_crds.kubectl("annotate", "customer", "acme", "-n", kube_namespace, "trunkline.dev/paused-")
    wait_until(
        lambda: _display_name(sqlite_url, kube_namespace, "acme") == "Acme while paused",
        timeout=REACT,
        what="the edit applied after unpausing",
    )
    _wait_condition(kube_crds, kube_namespace, "customer", "acme", "Synced", "True", "ReconcileSuccess")


def test_drift_is_corrected_by_the_timer(
    kube_crds: KubeCluster, kube_namespace: str, run_operator: OperatorFactory, sqlite_url: str
) -> None:
    run_operator(sqlite_url)
    _apply(kube_crds, kube_namespace, _customer("acme", displayName="Acme", channels=100))
    _wait_ready(kube_crds, kube_namespace, "customer/acme")

    sql(sqlite_url, "UPDATE customers SET channels = 5, display_name = 'hand edit' WHERE name = 'acme'")
    wait_until(
        lambda: _display_name(sqlite_url, kube_namespace, "acme") == "Acme",
        timeout=REACT,
        what="the hand edit to be reverted",
    )
    assert scalar(sqlite_url, "SELECT channels FROM customers WHERE name = 'acme'") == 100
    event = wait_until(
        lambda: next((e for e in _events(kube_crds, kube_namespace, "acme") if e["reason"] == "DriftCorrected"), None),
        timeout=REACT,
        what="a DriftCorrected event",
    )
    assert event["type"] == "Normal"
    assert "channels" in event["message"] and "displayName" in event["message"]


def test_secret_rotation_changes_the_ha1(
    kube_crds: KubeCluster, kube_namespace: str, run_operator: OperatorFactory, sqlite_url: str
) -> None:
    run_operator(sqlite_url)
    kube_crds.kubectl("create", "secret", "generic", "sip", "-n", kube_namespace, "--from-literal=password=first")
    user = {
        "apiVersion": "trunkline.dev/v1alpha1",
        "kind": "CredentialAuthentication",
        "metadata": {"name": "acme-1001"},
        "spec": {
            "customerRef": "acme",
            "username": "acme1001",
            "realm": "sip.example",
            "passwordRef": {"secretKeyRef": {"name": "sip", "key": "password"}},
        },
    }
    _apply(kube_crds, kube_namespace, _customer("acme"), user)
    _wait_ready(kube_crds, kube_namespace, "credentialauthentication/acme-1001")
    ha1 = "SELECT ha1 FROM credential_authentications WHERE name = 'acme-1001'"
    first = scalar(sqlite_url, ha1)
    assert first  # an MD5 hex digest of acme1001:sip.example:first

    rotated = base64.b64encode(b"second").decode()
    kube_crds.kubectl(
        "patch",
        "secret",
        "sip",
        "-n",
        kube_namespace,
        "--type=merge",
        "-p",
        json.dumps({"data": {"password": rotated}}),
    )
    second = wait_until(
        lambda: (scalar(sqlite_url, ha1) or first) != first and scalar(sqlite_url, ha1),
        timeout=REACT,
        what="the HA1 of the rotated password",
    )

    assert second == hashlib.md5(b"acme1001:sip.example:second").hexdigest()
    wait_until(
        lambda: any(e["reason"] == "SecretRotated" for e in _events(kube_crds, kube_namespace, "acme-1001")),
        timeout=REACT,
        what="a SecretRotated event",
    )


def test_route_created_before_its_customer_waits_then_converges(
    kube_crds: KubeCluster, kube_namespace: str, run_operator: OperatorFactory, sqlite_url: str
) -> None:
    run_operator(sqlite_url)
    card = {
        "apiVersion": "trunkline.dev/v1alpha1",
        "kind": "RateCard",
        "metadata": {"name": "usd"},
        "spec": {"currency": "USD", "rates": [{"prefix": "1", "perMinute": "0.01"}]},
    }
    route = {
        "apiVersion": "trunkline.dev/v1alpha1",
        "kind": "IngressRoute",
        "metadata": {"name": "acme-standard"},
        "spec": {"customerRef": "acme", "rateCardRef": "usd"},
    }
    _apply(kube_crds, kube_namespace, card, route)
    waiting = _wait_condition(
        kube_crds, kube_namespace, "ingressroute", "acme-standard", "Ready", "False", "WaitingForDependency"
    )
    assert "acme" in waiting["message"]
    assert scalar(sqlite_url, "SELECT count(*) FROM ingress_routes") == 0
    printed = kube_crds.kubectl("get", "ingressroutes", "-n", kube_namespace).stdout
    assert "False" in printed

    _apply(kube_crds, kube_namespace, _customer("acme"))
    _wait_ready(kube_crds, kube_namespace, "ingressroute/acme-standard", timeout=60)
    assert scalar(sqlite_url, "SELECT count(*) FROM ingress_routes WHERE name = 'acme-standard'") == 1


# -- the operator and its database failing ---------------------------------------------------


def test_operator_restart_resumes_changes_made_while_it_was_down(
    kube_crds: KubeCluster, kube_namespace: str, run_operator: OperatorFactory, sqlite_url: str
) -> None:
    first = run_operator(sqlite_url, drift_interval=600)
    _apply(kube_crds, kube_namespace, _customer("acme", displayName="Acme"), _customer("bluefin"))
    _wait_ready(kube_crds, kube_namespace, "customer/acme")
    _wait_ready(kube_crds, kube_namespace, "customer/bluefin")
    first.kill()

    _apply(kube_crds, kube_namespace, _customer("acme", displayName="Acme (changed while down)"))
    _apply(kube_crds, kube_namespace, _customer("cobalt"))
    kube_crds.kubectl("delete", "customer", "bluefin", "-n", kube_namespace, "--wait=false")
    assert _display_name(sqlite_url, kube_namespace, "acme") == "Acme"

    run_operator(sqlite_url, drift_interval=600)
    wait_until(
        lambda: _display_name(sqlite_url, kube_namespace, "acme") == "Acme (changed while down)",
        timeout=REACT,
        what="the change made while the operator was down",
    )
    _wait_ready(kube_crds, kube_namespace, "customer/cobalt")
    wait_until(
        lambda: _display_name(sqlite_url, kube_namespace, "bluefin") is None,
        timeout=REACT,
        what="the customer deleted while the operator was down",
    )
    gone = kube_crds.kubectl("get", "customer", "bluefin", "-n", kube_namespace, check=False)
    wait_until(
        lambda: "NotFound" in kube_crds.kubectl("get", "customer", "bluefin", "-n", kube_namespace, check=False).stderr,
        timeout=REACT,
        what=f"the finalizer released ({gone.stdout})",
    )


@pytest.mark.postgres
def test_database_outage_turns_objects_unready_and_they_recover(
    kube_crds: KubeCluster,
    kube_namespace: str,
    run_operator: OperatorFactory,
    postgres_server: Any,
    postgres_url: str,
) -> None:
    database = postgres_url.rsplit("/", 1)[1]
    admin = postgres_server.url()
    run_operator(postgres_url)
    _apply(kube_crds, kube_namespace, _customer("acme", displayName="Acme"))
    _wait_ready(kube_crds, kube_namespace, "customer/acme")

    # The database goes away: no new connections, and the open ones are cut.
    sql(admin, f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false')
    sql(admin, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :d", d=database)
    try:
        down = _wait_condition(kube_crds, kube_namespace, "customer", "acme", "Ready", "False", "Unavailable")
        assert "database" in down["message"].lower() or "connect" in down["message"].lower()
        synced = _condition(kube_crds, kube_namespace, "customer", "acme", "Synced")
        assert synced["status"] == "False" and synced["reason"] == "ReconcileError"
        # An edit made during the outage is not lost.
        _apply(kube_crds, kube_namespace, _customer("acme", displayName="Acme after the outage"))
    finally:
        sql(admin, f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')

    _wait_condition(kube_crds, kube_namespace, "customer", "acme", "Ready", "True", "Available", timeout=60)
    wait_until(
        lambda: _display_name(postgres_url, kube_namespace, "acme") == "Acme after the outage",
        timeout=60,
        what="the edit made during the outage",
    )


def test_timeout_helper_names_what_it_waited_for() -> None:
    with pytest.raises(Timeout, match="the impossible"):
        wait_until(lambda: False, timeout=0.2, what="the impossible", interval=0.05)
