"""The Helm chart, checked by the real helm CLI (`helm lint`, `helm template`).

helm is built from its Go module by scripts/build-helm.sh (cached); without Go the tests skip
with the reason, except under CI, where a missing helm is a failure (support.tools.build_tools).
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML
from support.tools import build_tools

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "trunkline"


@pytest.fixture(scope="session")
def helm() -> str:
    """The helm binary, built (when missing) by scripts/build-helm.sh into a per-version cache."""
    return str(build_tools(ROOT / "scripts" / "build-helm.sh", binaries=("helm",), where="tests/helm") / "helm")


def render(helm: str, *sets: str) -> list[dict[str, Any]]:
    args = [helm, "template", "trunkline", str(CHART), "--namespace", "switch"]
    for item in sets:
        args += ["--set", item]
    result = subprocess.run(args, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    return [d for d in YAML(typ="safe", pure=True).load_all(result.stdout) if d]


def by_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind]


def test_helm_lint_passes(helm: str) -> None:
    result = subprocess.run([helm, "lint", str(CHART), "--strict"], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_operator_deployment_is_recreate_non_root_read_only_with_requests(helm: str) -> None:
    (deployment,) = by_kind(render(helm), "Deployment")
    spec = deployment["spec"]
    assert spec["strategy"]["type"] == "Recreate"
    pod = spec["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    (container,) = pod["containers"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["resources"]["requests"]["cpu"] and container["resources"]["requests"]["memory"]
    assert container["args"][0] == "operator"


def test_database_url_comes_from_a_secret_never_a_value(helm: str) -> None:
    docs = render(helm, "database.existingSecret=switch-db", "database.key=dsn")
    (container,) = by_kind(docs, "Deployment")[0]["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e for e in container["env"]}
    assert env["TRUNKLINE_DB"]["valueFrom"]["secretKeyRef"] == {"name": "switch-db", "key": "dsn"}
    assert "value" not in env["TRUNKLINE_DB"]


def test_rbac_is_least_privilege(helm: str) -> None:
    (role,) = by_kind(render(helm), "ClusterRole")
    for rule in role["rules"]:
        assert "*" not in rule["verbs"] and "*" not in rule["resources"], rule
        if rule["resources"] == ["secrets", "configmaps"]:
            assert set(rule["verbs"]) <= {"get", "list", "watch"}, "secrets are read, never written"
    verbs = {v for rule in role["rules"] for v in rule["verbs"]}
    assert "delete" not in verbs and "create" in verbs  # events only


@pytest.mark.parametrize(
    ("sets", "deployments", "monitors"),
    [
        pytest.param((), 1, 0, id="operator-only-by-default"),
        pytest.param(("rating.enabled=true",), 2, 0, id="rating-sidecar-on"),
        pytest.param(("rating.enabled=true", "metrics.serviceMonitor.enabled=true"), 2, 1, id="service-monitor-on"),
        pytest.param(("metrics.serviceMonitor.enabled=true",), 1, 0, id="no-monitor-without-sidecar"),
    ],
)
def test_optional_parts_follow_values(helm: str, sets: tuple[str, ...], deployments: int, monitors: int) -> None:
    docs = render(helm, *sets)
    assert len(by_kind(docs, "Deployment")) == deployments
    assert len(by_kind(docs, "ServiceMonitor")) == monitors


def test_chart_crds_are_the_generated_crds() -> None:
    generated = {p.name: p.read_text() for p in (ROOT / "crds").glob("*.yaml")}
    packaged = {p.name: p.read_text() for p in (CHART / "crds").glob("*.yaml")}
    assert packaged == generated, "run `trunkline crds generate` (it writes both crds/ and the chart's crds/)"


def test_values_are_documented_in_the_chart_readme() -> None:
    values = YAML(typ="safe", pure=True).load((CHART / "values.yaml").read_text())
    readme = (CHART / "README.md").read_text()

    def leaves(node: Any, prefix: str = "") -> list[str]:
        if isinstance(node, dict) and node:
            return [leaf for k, v in node.items() for leaf in leaves(v, f"{prefix}{k}.")]
        return [prefix.rstrip(".")]

    def documented(path: str) -> bool:
        # A value is documented by its own row or by a row for one of its parents.
        parts = path.split(".")
        return any(f"`{'.'.join(parts[:n])}`" in readme for n in range(len(parts), 0, -1))

    missing = [key for key in leaves(values) if not documented(key)]
    assert not missing, f"values not documented in helm/trunkline/README.md: {missing}"
