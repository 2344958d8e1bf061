"""Smoke tests of the test Kubernetes cluster (support.kube) and of crds/ against a real API server.

What they prove: the built kube-apiserver and kubectl work together; core v1 (discovery,
namespaces, events) is there for Kopf; every generated CRD is accepted (structural) and served,
with the `trunkline` category; the API server itself enforces the CRD schemas (rejects an invalid
Customer with the schema's message, defaults and stores a valid one); watches stream.
"""

from __future__ import annotations

import json
import ssl
import textwrap
import urllib.request
import uuid
from pathlib import Path

import pytest
from support.kube import KubeCluster, KubectlError

pytestmark = pytest.mark.e2e

#: Keep in step with KUBE_VERSION in tests/k8s/build.sh.
KUBE_VERSION = "v1.34.4"
CRDS_DIR = Path(__file__).resolve().parents[2] / "crds"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def _customer(name: str, **spec: object) -> str:
    body = {
        "apiVersion": "trunkline.dev/v1alpha1",
        "kind": "Customer",
        "metadata": {"name": name},
        "spec": spec,
    }
    return json.dumps(body)


def _crd_names() -> set[str]:
    return {path.name.removesuffix(".yaml") for path in CRDS_DIR.glob("*.yaml")}


def test_kubectl_and_server_versions(kube_cluster: KubeCluster) -> None:
    versions = kube_cluster.kubectl_json("version")
    assert versions["clientVersion"]["gitVersion"] == KUBE_VERSION
    assert versions["serverVersion"]["gitVersion"] == KUBE_VERSION


def test_core_v1_discovery_for_kopf(kube_cluster: KubeCluster) -> None:
    status, body = kube_cluster.request("GET", "/api")
    assert status == 200
    assert body["versions"] == ["v1"]
    status, body = kube_cluster.request("GET", "/api/v1")
    names = {resource["name"] for resource in body["resources"]}
    assert {"namespaces", "events", "configmaps", "secrets"} <= names
    status, body = kube_cluster.request("GET", "/apis")
    groups = {group["name"] for group in body["groups"]}
    assert {"apiextensions.k8s.io", "events.k8s.io", "coordination.k8s.io"} <= groups


def test_bootstrap_namespaces_exist(kube_cluster: KubeCluster) -> None:
    names = kube_cluster.kubectl("get", "namespaces", "-o", "name").stdout.split()
    assert "namespace/default" in names
    assert "namespace/kube-system" in names


def test_create_namespace(kube_cluster: KubeCluster) -> None:
    name = f"smoke-{uuid.uuid4().hex[:8]}"
    kube_cluster.kubectl("create", "namespace", name)
    namespace = kube_cluster.kubectl_json("get", "namespace", name)
    assert namespace["status"]["phase"] == "Active"


def test_every_crd_is_accepted_and_established(kube_crds: KubeCluster) -> None:
    names = _crd_names()
    assert len(names) >= 8
    for name in sorted(names):
        crd = kube_crds.kubectl_json("get", "crd", name)
        conditions = {c["type"]: c["status"] for c in crd["status"]["conditions"]}
        assert conditions.get("Established") == "True", (name, crd["status"])
        assert conditions.get("NamesAccepted") == "True", (name, crd["status"])
        assert "NonStructuralSchema" not in conditions, (name, crd["status"])


def test_trunkline_category_lists_every_kind(kube_crds: KubeCluster) -> None:
    listed = kube_crds.kubectl("api-resources", "--categories=trunkline", "-o", "name").stdout.split()
    assert sorted(listed) == sorted(_crd_names())


def test_get_customers_and_the_trunkline_category(kube_crds: KubeCluster, kube_namespace: str) -> None:
    empty = kube_crds.kubectl("get", "customers", "-n", kube_namespace)
    assert "No resources found" in empty.stderr
    kube_crds.kubectl(
        "apply", "-n", kube_namespace, "-f", "-", input=_customer("acme", displayName="Acme", currency="USD")
    )
    assert kube_crds.kubectl("get", "cust", "-n", kube_namespace, "-o", "name").stdout.split() == [
        "customer.trunkline.dev/acme"
    ]
    listed = kube_crds.kubectl("get", "trunkline", "-n", kube_namespace, "-o", "name").stdout.split()
    assert listed == ["customer.trunkline.dev/acme"]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        pytest.param(
            {"displayName": "Acme", "currency": "USD", "status": "Enabled"},
            'spec.status: Unsupported value: "Enabled"',
            id="bad-enum",
        ),
        pytest.param({"displayName": "Acme"}, "spec.currency: Required value", id="missing-currency"),
        pytest.param(
            {"displayName": "Acme", "currency": "USD", "debitLimit": 500},
            'spec.debitLimit: Invalid value: "integer": spec.debitLimit in body must be of type string',
            id="money-as-number",
        ),
    ],
)
def test_api_server_rejects_an_invalid_customer(
    kube_crds: KubeCluster, kube_namespace: str, spec: dict[str, object], message: str
) -> None:
    with pytest.raises(KubectlError) as failure:
        kube_crds.kubectl("apply", "-n", kube_namespace, "-f", "-", input=_customer("bad", **spec))
    assert "is invalid" in failure.value.stderr
    assert message in failure.value.stderr
    missing = kube_crds.kubectl("get", "customer", "bad", "-n", kube_namespace, check=False)
    assert missing.returncode != 0
    assert "NotFound" in missing.stderr


def test_api_server_stores_a_valid_customer_with_defaults(kube_crds: KubeCluster, kube_namespace: str) -> None:
    kube_crds.kubectl(
        "apply",
        "-n",
        kube_namespace,
        "-f",
        "-",
        input=_customer("acme", displayName="Acme VoIP", currency="USD", debitLimit="500.00"),
    )
    stored = kube_crds.kubectl_json("get", "customer", "acme", "-n", kube_namespace)
    assert stored["spec"]["displayName"] == "Acme VoIP"
    assert stored["spec"]["debitLimit"] == "500.00"
    # Defaults from the CRD schema, applied by the API server.
    assert stored["spec"]["status"] == "Active"
    assert stored["spec"]["minimumPayment"] == "0"
    assert stored["spec"]["portalAccess"] is False


def test_unknown_fields_rejected_by_kubectl_pruned_by_the_api(kube_crds: KubeCluster, kube_namespace: str) -> None:
    manifest = _customer("acme", displayName="Acme", currency="USD", unknownField=1)
    # kubectl asks for strict field validation by default: an unknown field is an error.
    with pytest.raises(KubectlError) as failure:
        kube_crds.kubectl("apply", "-n", kube_namespace, "-f", "-", input=manifest)
    assert 'unknown field "spec.unknownField"' in failure.value.stderr
    # Without it (the API's default, and what Kopf's patches get) the field is dropped with a warning.
    warned = kube_crds.kubectl("apply", "--validate=warn", "-n", kube_namespace, "-f", "-", input=manifest)
    assert 'unknown field "spec.unknownField"' in warned.stderr
    stored = kube_crds.kubectl_json("get", "customer", "acme", "-n", kube_namespace)
    assert "unknownField" not in stored["spec"]


def test_core_v1_events_can_be_created(kube_crds: KubeCluster, kube_namespace: str) -> None:
    kube_crds.kubectl(
        "apply", "-n", kube_namespace, "-f", "-", input=_customer("acme", displayName="Acme", currency="USD")
    )
    customer = kube_crds.kubectl_json("get", "customer", "acme", "-n", kube_namespace)
    # The request Kopf makes for kopf.info()/warn()/exception() and its handler-progress events.
    event = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"generateName": "kopf-event-", "namespace": kube_namespace},
        "involvedObject": {
            "apiVersion": "trunkline.dev/v1alpha1",
            "kind": "Customer",
            "name": "acme",
            "namespace": kube_namespace,
            "uid": customer["metadata"]["uid"],
        },
        "reason": "Logging",
        "message": "Handler 'reconcile' succeeded.",
        "type": "Normal",
        "source": {"component": "kopf"},
        "firstTimestamp": "2025-01-01T00:00:00Z",
        "lastTimestamp": "2025-01-01T00:00:00Z",
        "count": 1,
        "reportingComponent": "kopf",
        "reportingInstance": "dev",
        "action": "Action",
    }
    status, body = kube_crds.request("POST", f"/api/v1/namespaces/{kube_namespace}/events", event)
    assert status == 201, body
    events = kube_crds.kubectl_json(
        "get", "events", "-n", kube_namespace, "--field-selector", "involvedObject.name=acme"
    )
    assert [item["message"] for item in events["items"]] == ["Handler 'reconcile' succeeded."]


def test_watch_streams_custom_resources(kube_crds: KubeCluster, kube_namespace: str) -> None:
    kube_crds.kubectl(
        "apply", "-n", kube_namespace, "-f", "-", input=_customer("acme", displayName="Acme", currency="USD")
    )
    path = f"/apis/trunkline.dev/v1alpha1/namespaces/{kube_namespace}/customers?watch=true&timeoutSeconds=5"
    request = urllib.request.Request(kube_crds.server + path)
    request.add_header("Authorization", f"Bearer {kube_crds.token}")
    context = ssl.create_default_context(cafile=str(kube_crds.ca_file))
    with urllib.request.urlopen(request, context=context, timeout=30) as stream:
        first = json.loads(stream.readline())
    assert first["type"] == "ADDED"
    assert first["object"]["metadata"]["name"] == "acme"


def test_kopf_peering_crds_fixture(kube_cluster: KubeCluster) -> None:
    kube_cluster.kubectl("apply", "-f", str(FIXTURES / "kopf-peering.yaml"))
    kube_cluster.kubectl(
        "wait", "--for=condition=Established", "--timeout=60s", "-f", str(FIXTURES / "kopf-peering.yaml")
    )
    name = f"peering-{uuid.uuid4().hex[:8]}"
    kube_cluster.kubectl(
        "apply",
        "-f",
        "-",
        input=textwrap.dedent(f"""\
        apiVersion: kopf.dev/v1
        kind: ClusterKopfPeering
        metadata:
          name: {name}
        """),
    )
    # Kopf keeps its keep-alives in `status`, which must keep unknown fields.
    status, body = kube_cluster.request("GET", f"/apis/kopf.dev/v1/clusterkopfpeerings/{name}")
    assert status == 200, body
    kube_cluster.kubectl(
        "patch",
        "clusterkopfpeering",
        name,
        "--type=merge",
        "-p",
        json.dumps({"status": {"operator-a": {"priority": 0, "lifetime": 60}}}),
    )
    stored = kube_cluster.kubectl_json("get", "clusterkopfpeering", name)
    assert stored["status"]["operator-a"]["lifetime"] == 60
