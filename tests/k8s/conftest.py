"""Fixtures for the tests that need a real Kubernetes API server (see docs/testing-kubernetes.md).

- `kube_tools` (session): the directory holding kube-apiserver and kubectl, built by
  tests/k8s/build.sh into a per-version cache (a no-op once built; `make test` builds first).
- `kube_cluster` (session): a running etcd + kube-apiserver (`support.kube.KubeCluster`), one per
  pytest-xdist worker.
- `kube_crds` (session): `kubectl apply -f crds/` done on that cluster, every CRD Established.
- `kube_namespace`: a fresh namespace per test (deleted afterwards, without waiting).

Skipped when Go is not installed (nothing to build with) or etcd is missing, except under CI
(`CI` set), where those and a failed build are failures: a CI run that silently skipped the
Kubernetes tests would prove nothing.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import pytest
from support.kube import KubeCluster, KubeUnavailable
from support.tools import build_tools, skip_or_fail

K8S_DIR = Path(__file__).resolve().parent
REPO = K8S_DIR.parents[1]
BUILD_SCRIPT = K8S_DIR / "build.sh"
CRDS_DIR = REPO / "crds"
FIXTURES = K8S_DIR / "fixtures"


def _skip_or_fail(reason: str) -> NoReturn:
    skip_or_fail(reason, where="tests/k8s")


@pytest.fixture(scope="session")
def kube_tools() -> Path:
    """Build (when missing) and return the directory with kube-apiserver and kubectl."""
    return build_tools(BUILD_SCRIPT, binaries=("kube-apiserver", "kubectl"), where="tests/k8s")


@pytest.fixture(scope="session")
def kube_cluster(kube_tools: Path) -> Iterator[KubeCluster]:
    try:
        cluster = KubeCluster(kube_tools)
    except KubeUnavailable as exc:
        _skip_or_fail(str(exc))
    with cluster:
        yield cluster


@pytest.fixture(scope="session")
def kube_crds(kube_cluster: KubeCluster) -> KubeCluster:
    """The cluster with Trunkline's CRDs (crds/) applied and Established."""
    kube_cluster.kubectl("apply", "-f", str(CRDS_DIR))
    kube_cluster.kubectl("wait", "--for=condition=Established", "--timeout=60s", "-f", str(CRDS_DIR), timeout=90)
    return kube_cluster


@pytest.fixture
def kube_namespace(kube_cluster: KubeCluster, request: pytest.FixtureRequest) -> Iterator[str]:
    stem = re.sub(r"[^a-z0-9-]+", "-", request.node.name.lower()).strip("-")[:40].strip("-")
    name = f"t-{stem}-{uuid.uuid4().hex[:8]}"
    kube_cluster.kubectl("create", "namespace", name)
    yield name
    # No namespace controller runs, so a deleted namespace stays Terminating; that is harmless.
    kube_cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)
