"""API versions: a manifest of any served version is converted to storage by explicit functions.

A hypothetical ``v1alpha2`` of IngressRoute, renaming ``spec.dialStrings`` to
``spec.dialPatterns``, is registered on a private ``Registry`` to prove the mechanism end to
end: through the loader, back again, and refused where it is not served.
"""

from __future__ import annotations

import textwrap
from typing import Any

import pytest

from resources.errors import ValidationError
from resources.kinds import KINDS
from resources.kinds.route import IngressRoute
from resources.loader import load_text
from resources.meta import ObjectKey
from resources.versions import DEFAULT_REGISTRY, Manifest, Registry, UnknownKind, UnknownVersion

NEW = "trunkline.dev/v1alpha2"


def _v1alpha2_to_storage(manifest: Manifest) -> Manifest:
    spec = dict(manifest.get("spec") or {})
    if "dialStrings" in spec:
        raise ValueError("dialStrings is called dialPatterns in v1alpha2")
    if "dialPatterns" in spec:
        spec["dialStrings"] = spec.pop("dialPatterns")
    return {**manifest, "spec": spec}


def _v1alpha2_from_storage(manifest: Manifest) -> Manifest:
    spec = dict(manifest.get("spec") or {})
    if "dialStrings" in spec:
        spec["dialPatterns"] = spec.pop("dialStrings")
    return {**manifest, "spec": spec}


@pytest.fixture
def registry() -> Registry:
    registry = Registry()
    registry.register("IngressRoute", "v1alpha2", to_storage=_v1alpha2_to_storage, from_storage=_v1alpha2_from_storage)
    return registry


# The objects an IngressRoute refers to, in the storage version (lines 1-13 of every text).
REFERENCED = textwrap.dedent(
    """\
    apiVersion: trunkline.dev/v1alpha1
    kind: Customer
    metadata: {name: acme}
    spec: {displayName: ACME, currency: EUR}
    ---
    apiVersion: trunkline.dev/v1alpha1
    kind: RateCard
    metadata: {name: eu}
    spec:
      currency: EUR
      rates:
        - {prefix: "31", perMinute: "0.01"}
    ---
    """
)
API_VERSION_LINE = REFERENCED.count("\n") + 1


def route(api_version: str, dial_field: str = "dialPatterns", kind: str = "IngressRoute") -> str:
    return REFERENCED + textwrap.dedent(
        f"""\
        apiVersion: {api_version}
        kind: {kind}
        metadata: {{name: main}}
        spec:
          customerRef: acme
          rateCardRef: eu
          {dial_field}: ["^31", "32"]
        """
    )


ROUTE = ObjectKey("IngressRoute", "default", "main")


def test_a_served_version_loads_as_the_storage_object(registry: Registry) -> None:
    state = load_text(route(NEW), file="routes.yaml", registry=registry)
    stored = state.get(ROUTE)
    assert isinstance(stored, IngressRoute)
    assert stored.api_version == "trunkline.dev/v1alpha1"
    assert stored.spec.dial_strings == ["^31", "32"]


def test_the_storage_version_is_still_served_beside_it(registry: Registry) -> None:
    state = load_text(route("trunkline.dev/v1alpha1", "dialStrings"), registry=registry)
    assert state.get(ROUTE).spec.dial_strings == ["^31", "32"]  # type: ignore[union-attr]


def test_round_trip_from_storage_gives_back_the_new_field(registry: Registry) -> None:
    stored = load_text(route(NEW), registry=registry).get(ROUTE)
    assert stored is not None
    manifest = stored.model_dump(by_alias=True, mode="json")
    exported = registry.from_storage(manifest, "v1alpha2")
    assert exported["apiVersion"] == NEW
    assert exported["spec"]["dialPatterns"] == ["^31", "32"]
    assert "dialStrings" not in exported["spec"]
    assert registry.to_storage(exported) == {**manifest, "apiVersion": "trunkline.dev/v1alpha1"}


def test_a_failing_conversion_is_a_problem_of_the_document(registry: Registry) -> None:
    with pytest.raises(ValidationError) as raised:
        load_text(route(NEW, "dialStrings"), file="routes.yaml", registry=registry)
    [problem] = raised.value.problems
    assert problem.message == f"cannot convert {NEW}: dialStrings is called dialPatterns in v1alpha2"
    assert (problem.file, problem.line) == ("routes.yaml", API_VERSION_LINE)


@pytest.mark.parametrize(
    ("api_version", "kind", "use_private", "served"),
    [
        pytest.param(
            "trunkline.dev/v9",
            "IngressRoute",
            False,
            "trunkline.dev/v1alpha1",
            id="an unknown version names the only served one",
        ),
        pytest.param(
            "trunkline.dev/v9",
            "IngressRoute",
            True,
            "trunkline.dev/v1alpha1, trunkline.dev/v1alpha2",
            id="an unknown version names every served one",
        ),
        pytest.param(
            "example.com/v1alpha1",
            "IngressRoute",
            True,
            "trunkline.dev/v1alpha1, trunkline.dev/v1alpha2",
            id="a served version in another group is not ours",
        ),
        pytest.param("v1alpha1", "IngressRoute", False, "trunkline.dev/v1alpha1", id="a version without its group"),
        pytest.param(NEW, "IngressRoute", False, "trunkline.dev/v1alpha1", id="v1alpha2 exists only where registered"),
        pytest.param(NEW, "Customer", True, "trunkline.dev/v1alpha1", id="a version is served per kind"),
    ],
)
def test_an_unserved_api_version_is_a_positioned_problem(
    registry: Registry, api_version: str, kind: str, use_private: bool, served: str
) -> None:
    text = route(api_version, "dialStrings", kind=kind)
    with pytest.raises(ValidationError) as raised:
        load_text(text, file="routes.yaml", registry=registry if use_private else DEFAULT_REGISTRY)
    problems = [p for p in raised.value.problems if p.field == "apiVersion"]
    assert len(problems) == 1, raised.value.problems
    problem = problems[0]
    assert problem.message == f"apiVersion {api_version!r} is not served for {kind}; use one of {served}"
    assert (problem.file, problem.line) == ("routes.yaml", API_VERSION_LINE)
    assert problem.render().startswith(f"routes.yaml:{API_VERSION_LINE}:")


@pytest.mark.parametrize("kind", list(KINDS))
def test_the_default_registry_serves_only_the_storage_version(kind: str) -> None:
    assert DEFAULT_REGISTRY.versions(kind) == ["v1alpha1"]


def test_the_default_registry_serves_every_kind_and_no_other() -> None:
    assert set(DEFAULT_REGISTRY.served) == set(KINDS)


def test_registering_on_a_private_registry_leaves_the_default_alone(registry: Registry) -> None:
    assert registry.versions("IngressRoute") == ["v1alpha1", "v1alpha2"]
    assert DEFAULT_REGISTRY.versions("IngressRoute") == ["v1alpha1"]


@pytest.mark.parametrize(
    ("call", "error"),
    [
        pytest.param(
            lambda r: r.register("Trunk", "v1alpha2", to_storage=dict, from_storage=dict),
            UnknownKind,
            id="a version of a kind that does not exist cannot be registered",
        ),
        pytest.param(
            lambda r: r.from_storage({"kind": "IngressRoute", "spec": {}}, "v9"),
            UnknownVersion,
            id="export to an unserved version is refused",
        ),
        pytest.param(
            lambda r: r.to_storage({"apiVersion": NEW, "kind": "Trunk"}),
            UnknownKind,
            id="conversion of an unknown kind is refused",
        ),
    ],
)
def test_registry_refuses(registry: Registry, call: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        call(registry)
