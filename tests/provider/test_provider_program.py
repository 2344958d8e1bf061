"""The example Pulumi program and `trunkline export --format pulumi`, run under Pulumi's mocks.

No engine and no database: ``pulumi.runtime.set_mocks`` records each resource the program
registers. Each mocked resource's ``name`` output is made distinct from its input, so a
reference that arrives as that output proves it was wired as an Output, not a copied string.
"""

from __future__ import annotations

import runpy
from pathlib import Path
from typing import Any

import pulumi
import pytest
from pulumi.runtime import rpc

import provider
from resources.kinds import KINDS
from resources.loader import load
from resources.modelpath import attribute_path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "pulumi" / "__main__.py"
TYPE = "pulumi-python:dynamic/trunkline:{}"


class Recorder(pulumi.runtime.Mocks):
    def __init__(self) -> None:
        self.resources: dict[tuple[str, str], dict[str, Any]] = {}  # inputs, secrets unwrapped
        self.secret: dict[tuple[str, str], set[str]] = {}  # which top-level inputs were secret

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        key = (args.typ, args.name)
        self.secret[key] = {k for k, v in args.inputs.items() if rpc.is_rpc_secret(v)}
        self.resources[key] = {k: rpc.unwrap_rpc_secret(v) for k, v in args.inputs.items()}
        outputs = dict(args.inputs)
        outputs["name"] = f"out:{self.resources[key]['name']}"
        return f"{self.resources[key]['namespace']}/{self.resources[key]['name']}", outputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:
        return {}


def run(path: Path, config: dict[str, str] | None = None) -> Recorder:
    recorder = Recorder()
    pulumi.runtime.set_mocks(recorder, project="kestrel-voice", stack="test", preview=False)
    for key, value in (config or {}).items():
        pulumi.runtime.set_config(key, value)

    @pulumi.runtime.test
    def program() -> None:
        runpy.run_path(str(path), run_name="__main__")

    program()
    return recorder


def kind_of(typ: str) -> str:
    return typ.rsplit(":", 1)[-1]


@pytest.fixture(scope="module")
def example() -> Recorder:
    return run(EXAMPLE)


def test_every_kind_is_declared_with_the_names_of_the_yaml_carrier(example):
    declared = {(kind_of(t), n) for t, n in example.resources}
    assert {k for k, _ in declared} == set(KINDS)
    assert {t for t, _ in example.resources} == {TYPE.format(k) for k in KINDS}
    yaml_names = {(o.kind, o.metadata.name) for o in load([ROOT / "examples"])}
    assert declared == yaml_names, declared ^ yaml_names
    assert len(declared) == 34
    customers = {n for k, n in declared if k == "Customer"}
    assert customers == {"acme-voip", "bluefin-telecom", "cobalt-comms"}


def test_references_are_outputs_of_the_referenced_resources(example):
    checked: set[tuple[str, tuple[str, ...]]] = set()
    for (typ, name), inputs in example.resources.items():
        kind = kind_of(typ)
        for ref in KINDS[kind].references:
            value: Any = inputs["spec"]
            for attr in attribute_path(provider.fields.spec_model(kind), ref.path):
                value = (value or {}).get(attr)
            if value is not None:
                assert value.startswith("out:"), f"{typ} {name}: {'.'.join(ref.path)} = {value!r} is a copied string"
                checked.add((kind, ref.path))
    every = {(kind, ref.path) for kind, model in KINDS.items() for ref in model.references}
    assert checked == every, "the example gives every kind of reference at least once"


def test_the_example_validates_as_the_provider_checks_it(example):
    checker = provider.TrunklineProvider()
    for (typ, name), inputs in example.resources.items():
        props = {**inputs, "spec": _unprefixed(inputs["spec"])}
        assert checker.check({}, props).failures == [], (typ, name)


def test_a_direct_password_makes_the_spec_input_a_secret(tmp_path):
    program = tmp_path / "__main__.py"
    program.write_text(
        "import pulumi\n"
        "from provider import CredentialAuthentication, CredentialAuthenticationArgs\n"
        "for name, password in [('direct', pulumi.Config().require_secret('pw')), ('by-ref', None)]:\n"
        "    CredentialAuthentication(name, CredentialAuthenticationArgs(customer_ref='acme-voip', username=name,\n"
        "        password=password, password_ref=None if password else {'env': 'PW'}))\n",
        encoding="utf-8",
    )
    recorded = run(program, {"kestrel-voice:pw": "Ex4mple-Pw"})
    key = (TYPE.format("CredentialAuthentication"), "direct")
    assert recorded.secret[key] >= {"spec"}, "Pulumi keeps the whole spec input encrypted in the state"
    assert recorded.resources[key]["spec"]["password"] == "Ex4mple-Pw"
    assert "password_ref" not in recorded.resources[key]["spec"]
    assert "spec" not in recorded.secret[(TYPE.format("CredentialAuthentication"), "by-ref")]


def test_the_example_gives_passwords_by_the_yaml_passwordrefs(example):
    key = (TYPE.format("CredentialAuthentication"), "acme-softswitch-1001")
    assert example.resources[key]["spec"]["password_ref"] == {"env": "TRUNKLINE_EXAMPLE_ACME1001_PASSWORD"}
    assert all("spec" not in secret for secret in example.secret.values()), "no secret in the example's inputs"


def test_export_format_pulumi_writes_a_program_declaring_the_live_rows(trunkline, sqlite_url, tmp_path, monkeypatch):
    for var in ("ACME_NOC", "BLUEFIN_OPS", "COBALT_TRUNK", "ACME1001", "COBALT_OFFICE", "BLUEFIN_ROAMING"):
        monkeypatch.setenv(f"TRUNKLINE_EXAMPLE_{var}_PASSWORD", "pw")
    code, out = trunkline("apply", "--db", sqlite_url, "-y", str(ROOT / "examples"))
    assert code == 0, out
    code, out = trunkline("export", "--db", sqlite_url, "--format", "pulumi", "--output-dir", str(tmp_path / "prog"))
    assert code == 0, out
    recorder = run(tmp_path / "prog" / "__main__.py")
    yaml_objects = {(o.kind, o.metadata.name) for o in load([ROOT / "examples"])}
    assert {(kind_of(t), n) for t, n in recorder.resources} == yaml_objects
    route = recorder.resources[(TYPE.format("IngressRoute"), "acme-premium")]
    assert route["spec"]["customer_ref"] == "out:acme-voip" and route["spec"]["rate_card_ref"] == "out:usd-wholesale"
    checker = provider.TrunklineProvider()
    for inputs in recorder.resources.values():
        assert checker.check({}, {**inputs, "spec": _unprefixed(inputs["spec"])}).failures == []


def _unprefixed(value: Any) -> Any:
    """The mocks' ``out:`` names back to plain names, as the real engine would resolve them."""
    if isinstance(value, str) and value.startswith("out:"):
        return value.removeprefix("out:")
    if isinstance(value, dict):
        return {k: _unprefixed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unprefixed(v) for v in value]
    return value


def test_the_example_writes_the_rows_of_the_yaml_carrier(example, sqlite_url, trunkline, monkeypatch):
    """Created through the provider, the example's objects are what the YAML declares: planning
    examples/ against that database finds nothing to create, update or delete."""
    import json

    from reconciler.mapping import kind_maps

    for var in ("ACME_NOC", "BLUEFIN_OPS", "COBALT_TRUNK", "ACME1001", "COBALT_OFFICE", "BLUEFIN_ROAMING"):
        monkeypatch.setenv(f"TRUNKLINE_EXAMPLE_{var}_PASSWORD", "pw")
    order = list(kind_maps())
    checker = provider.TrunklineProvider()
    for typ, name in sorted(example.resources, key=lambda k: (order.index(kind_of(k[0])), k[1])):
        inputs = _unprefixed(example.resources[(typ, name)])
        checker.create({**inputs, "db_url": sqlite_url})
    code, out = trunkline("plan", "--db", sqlite_url, "--output", "json", str(ROOT / "examples"))
    assert code == 0, out
    plan = json.loads(out)
    assert plan["changes"] == [] and plan["unchanged"] == 34, plan
