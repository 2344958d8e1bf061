"""The JSON schema of each kind, the CRDs generated from it, and the commands that print them.

The structural checker below encodes the Kubernetes rules for a CRD's openAPIV3Schema, so a
CRD the API server would refuse fails here, without an API server.
"""

from __future__ import annotations

import io
import json
import re
import textwrap
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from ruamel.yaml import YAML

from reconciler.cli import cli, main
from resources import crds
from resources.errors import TrunklineError, ValidationError
from resources.kinds import KINDS
from resources.loader import load_text
from resources.meta import GROUP
from resources.schema import dereference, json_schema, resolve_kind

CRD_DIR = Path(__file__).resolve().parents[2] / "crds"
Schema = dict[str, Any]

# --- a checker for Kubernetes structural schemas -------------------------------------------

_TYPES = {"object", "array", "string", "integer", "number", "boolean"}
_FORBIDDEN = {"$ref", "$defs", "definitions", "anyOf", "oneOf", "allOf", "not", "const", "title"}
_ALLOWED = {
    "type",
    "format",
    "description",
    "default",
    "enum",
    "pattern",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "minProperties",
    "maxProperties",
    "multipleOf",
    "required",
    "properties",
    "items",
    "additionalProperties",
    "nullable",
    "x-kubernetes-preserve-unknown-fields",
    "x-kubernetes-int-or-string",
    "x-kubernetes-list-type",
    "x-kubernetes-list-map-keys",
    "x-kubernetes-map-type",
}
_FORMATS = {"date", "date-time", "int32", "int64", "email", "uri", "hostname", "ipv4", "ipv6", "cidr", "uuid"}
_PYTHON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list,),
}


def conformance_errors(value: Any, schema: Schema, path: str = "") -> list[str]:
    """What in ``value`` the API server would reject under ``schema`` (the subset we generate)."""
    where = path or "<root>"
    kind = schema.get("type")
    if kind is None:
        return []
    wanted = _PYTHON_TYPES[kind]
    if not isinstance(value, wanted) or (kind in ("integer", "number") and isinstance(value, bool)):
        return [f"{where}: expected {kind}, got {value!r}"]
    errors: list[str] = []
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{where}: {value!r} not in {schema['enum']}")
    if "pattern" in schema and not re.search(schema["pattern"], value):
        errors.append(f"{where}: {value!r} does not match {schema['pattern']}")
    if "minimum" in schema and value < schema["minimum"]:
        errors.append(f"{where}: {value!r} below {schema['minimum']}")
    if "maximum" in schema and value > schema["maximum"]:
        errors.append(f"{where}: {value!r} above {schema['maximum']}")
    if "minLength" in schema and len(value) < schema["minLength"]:
        errors.append(f"{where}: shorter than {schema['minLength']}")
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        errors.append(f"{where}: longer than {schema['maxLength']}")
    if "minItems" in schema and len(value) < schema["minItems"]:
        errors.append(f"{where}: fewer than {schema['minItems']} items")
    if kind == "object":
        errors += [f"{where}.{name}: required" for name in schema.get("required", []) if name not in value]
        properties = schema.get("properties")
        for name, item in value.items():
            if properties is not None and name in properties:
                errors += conformance_errors(item, properties[name], f"{path}.{name}".lstrip("."))
            elif isinstance(schema.get("additionalProperties"), dict):
                errors += conformance_errors(item, schema["additionalProperties"], f"{path}.{name}")
            elif properties is not None and not schema.get("x-kubernetes-preserve-unknown-fields"):
                errors.append(f"{where}.{name}: unknown field (would be pruned)")
    if kind == "array":
        for index, item in enumerate(value):
            errors += conformance_errors(item, schema["items"], f"{path}[{index}]")
    return errors


def structural_violations(schema: Any, path: str = "", *, root: bool = True) -> list[str]:
    """Every place ``schema`` breaks the Kubernetes rules for a structural schema."""
    where = path or "<root>"
    if not isinstance(schema, dict):
        return [f"{where}: a schema must be a mapping, got {schema!r}"]
    found: list[str] = []
    for key in sorted(set(schema) & _FORBIDDEN):
        found.append(f"{where}: {key} is not allowed")
    for key in sorted(set(schema) - _ALLOWED - _FORBIDDEN):
        found.append(f"{where}: unknown keyword {key!r}")
    escape = schema.get("x-kubernetes-preserve-unknown-fields") or schema.get("x-kubernetes-int-or-string")
    kind = schema.get("type")
    if kind is None and not escape:
        found.append(f"{where}: no type")
    elif kind is not None and kind not in _TYPES:
        found.append(f"{where}: type {kind!r} is not one of {sorted(_TYPES)}")
    if "format" in schema and schema["format"] not in _FORMATS:
        found.append(f"{where}: format {schema['format']!r} is not validated by Kubernetes")
    if "additionalProperties" in schema:
        additional = schema["additionalProperties"]
        if additional is False:
            found.append(f"{where}: additionalProperties: false is not allowed")
        elif "properties" in schema:
            found.append(f"{where}: properties and additionalProperties are mutually exclusive")
        if isinstance(additional, dict):
            found += structural_violations(additional, f"{path}.*", root=False)
    if schema.get("uniqueItems"):
        found.append(f"{where}: uniqueItems: true is not allowed")
    if kind == "array":
        if not isinstance(schema.get("items"), dict):
            found.append(f"{where}: an array needs one items schema")
        else:
            found += structural_violations(schema["items"], f"{path}[]", root=False)
    if kind not in (None, "object") and ("properties" in schema or "additionalProperties" in schema):
        found.append(f"{where}: properties on a {kind}")
    properties = schema.get("properties", {})
    for name in schema.get("required", []):
        if name not in properties:
            found.append(f"{where}: required {name!r} is not a property")
    for name, child in properties.items():
        child_path = f"{path}.{name}".lstrip(".")
        if root and name == "metadata" and set(child) - {"type", "properties"}:
            found.append("metadata: a CRD may only restrict metadata.name and generateName")
        found += structural_violations(child, child_path, root=False)
    if "default" in schema:
        if schema["default"] is None:
            found.append(f"{where}: default: null is not allowed")
        else:
            found += [f"{where}: default {e}" for e in conformance_errors(schema["default"], schema, path)]
    if schema.get("x-kubernetes-list-type") == "map":
        keys = schema.get("x-kubernetes-list-map-keys") or []
        required = set(schema.get("items", {}).get("required", []))
        if not keys or not set(keys) <= required:
            found.append(f"{where}: a list-map needs list-map-keys that its items require")
    return found


def schema_at(schema: Schema, path: str) -> Schema:
    """``spec.rates[].prefix`` → that node of a schema."""
    node = schema
    for part in path.split("."):
        is_list = part.endswith("[]")
        node = node["properties"][part.removesuffix("[]")]
        if is_list:
            node = node["items"]
    return node


def openapi(kind: str) -> Schema:
    return crds.crd_for(kind)["spec"]["versions"][0]["schema"]["openAPIV3Schema"]


# --- crds/ is generated and current ---------------------------------------------------------


def test_checked_in_crds_are_not_stale() -> None:
    expected = crds.rendered()
    actual = {path.name: path.read_text(encoding="utf-8") for path in sorted(CRD_DIR.glob(f"*.{GROUP}.yaml"))}
    problems = crds.stale(expected, actual)
    assert not problems, (
        "crds/ is stale: "
        + ", ".join(f"{name} ({reason})" for name, reason in problems)
        + "; run `trunkline crds generate` and commit the result"
    )


def test_there_is_one_crd_file_per_kind() -> None:
    assert sorted(crds.all_crds()) == sorted(f"{model.plural}.{GROUP}.yaml" for model in KINDS.values())


@pytest.mark.parametrize("name", sorted(crds.rendered()), ids=lambda n: n.split(".")[0])
def test_rendering_round_trips_through_yaml(name: str) -> None:
    text = crds.rendered()[name]
    assert YAML(typ="safe", pure=True).load(text) == crds.all_crds()[name]
    assert crds.rendered()[name] == text, "rendering twice must give the same bytes"


# --- structural schemas ---------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(KINDS))
def test_crd_schema_is_structural(kind: str) -> None:
    assert structural_violations(openapi(kind)) == []


@pytest.mark.parametrize(
    ("schema", "violation"),
    [
        pytest.param({"properties": {}}, "<root>: no type", id="a node without a type is refused"),
        pytest.param(
            {"type": "object", "properties": {"a": {"anyOf": [{"type": "string"}, {"type": "null"}]}}},
            "a: anyOf is not allowed",
            id="a union is refused",
        ),
        pytest.param(
            {"type": "object", "properties": {"a": {"$ref": "#/$defs/A"}}},
            "a: $ref is not allowed",
            id="a reference is refused",
        ),
        pytest.param(
            {"type": "object", "additionalProperties": False},
            "<root>: additionalProperties: false is not allowed",
            id="closed objects are refused",
        ),
        pytest.param(
            {"type": "object", "properties": {"a": {"type": "string", "default": None}}},
            "a: default: null is not allowed",
            id="a null default is refused",
        ),
        pytest.param(
            {"type": "object", "properties": {"a": {"type": "string", "default": 0}}},
            "a: default a: expected string, got 0",
            id="a default of the wrong type is refused",
        ),
        pytest.param({"type": "array"}, "<root>: an array needs one items schema", id="an array without items"),
    ],
)
def test_the_structural_checker_catches(schema: Schema, violation: str) -> None:
    assert violation in structural_violations(schema)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        pytest.param(
            {"anyOf": [{"type": "integer", "minimum": 1}, {"type": "null"}], "default": None, "title": "Max"},
            {"type": "integer", "minimum": 1},
            id="an optional field collapses to its type, without null default or title",
        ),
        pytest.param(
            {"type": "string", "pattern": "^[0-9]+$", "default": 0},
            {"type": "string", "pattern": "^[0-9]+$", "default": "0"},
            id="a money default becomes a string, as the API server validates defaults",
        ),
        pytest.param(
            {"type": "object", "additionalProperties": False, "properties": {"a": {"type": "string"}}},
            {"type": "object", "properties": {"a": {"type": "string"}}},
            id="closed objects rely on pruning instead",
        ),
        pytest.param(
            {"type": "object", "additionalProperties": {"type": "string"}},
            {"type": "object", "additionalProperties": {"type": "string"}},
            id="a string map is kept, it is structural",
        ),
        pytest.param({"const": "Customer"}, {"type": "string", "enum": ["Customer"]}, id="const becomes an enum"),
        pytest.param(
            {"type": "integer", "exclusiveMinimum": 0},
            {"type": "integer", "minimum": 0, "exclusiveMinimum": True},
            id="a numeric exclusive bound takes the OpenAPI 3.0 form",
        ),
        pytest.param(
            {"type": "array", "items": {"type": "string"}, "uniqueItems": True},
            {"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "set"},
            id="unique items become a set list",
        ),
        pytest.param(
            {"type": "string", "format": "email-ish"},
            {"type": "string"},
            id="a format Kubernetes does not know is dropped",
        ),
        pytest.param(
            {"description": "a ``SecretRef``", "allOf": [{"type": "object", "description": "inner"}]},
            {"type": "object", "description": "a `SecretRef`"},
            id="a one-element allOf merges, the field's description wins",
        ),
    ],
)
def test_structural_conversion(given: Schema, expected: Schema) -> None:
    assert crds.structural(given) == expected


@pytest.mark.parametrize(
    ("given", "message"),
    [
        pytest.param(
            {"anyOf": [{"type": "string"}, {"type": "integer"}]},
            "anyOf with 2 typed branches",
            id="a real union cannot be expressed",
        ),
        pytest.param({"type": "string", "contentEncoding": "base64"}, "unsupported keyword", id="unknown keyword"),
        pytest.param({"description": "no type"}, "no single type", id="untyped node"),
    ],
)
def test_structural_conversion_refuses(given: Schema, message: str) -> None:
    with pytest.raises(TrunklineError, match=message):
        crds.structural(given, "spec.x")


# --- what the CRDs carry over from the models ------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "path", "expected"),
    [
        pytest.param(
            "Customer",
            "spec.status",
            {"type": "string", "enum": ["Active", "Inactive", "PendingApproval"], "default": "Active"},
            id="Customer status is an enum with its default",
        ),
        pytest.param("Customer", "spec.currency", {"pattern": "^[A-Za-z]{3}$"}, id="currency keeps its pattern"),
        pytest.param(
            "Customer",
            "spec.debitLimit",
            {"type": "string", "pattern": r"^[0-9]+(\.[0-9]+)?$", "default": "0"},
            id="money is a decimal string, its default a string too",
        ),
        pytest.param("Customer", "spec.paypalEmail", {"type": "string"}, id="an optional field is just its type"),
        pytest.param(
            "IpAuthentication", "spec.port", {"type": "integer", "minimum": 1, "maximum": 65535}, id="port bounds"
        ),
        pytest.param(
            "IpAuthentication",
            "spec.protocol",
            {"enum": ["udp", "tcp", "tls", "tls-srtp"], "default": "udp"},
            id="protocol enum",
        ),
        pytest.param(
            "IngressRoute", "spec.overLimitSipCode", {"type": "integer", "enum": [486, 503]}, id="an integer enum"
        ),
        pytest.param(
            "IngressRoute",
            "spec.dialStrings",
            {"description": "prefixes (digits) or regular expressions on the dialed number"},
            id="field descriptions are kept",
        ),
        pytest.param("RateCard", "spec.precision", {"minimum": 0, "maximum": 8}, id="precision bounds"),
        pytest.param(
            "RateCard", "spec.rates[].effectiveFrom", {"type": "string", "format": "date-time"}, id="date-time"
        ),
        pytest.param("RateCard", "spec.rates[].prefix", {"pattern": r"^\+?[0-9]{1,20}$"}, id="prefix digits"),
        pytest.param("Package", "spec.startDate", {"type": "string", "format": "date"}, id="date"),
        pytest.param("Alert", "spec.recipients", {"type": "array", "minItems": 1}, id="an alert needs a recipient"),
        pytest.param(
            "CredentialAuthentication",
            "spec.username",
            {"minLength": 1, "maxLength": 64, "pattern": "^[A-Za-z0-9._~+-]+$"},
            id="SIP username limits",
        ),
        pytest.param("Did", "spec.number", {"pattern": r"^\+?[0-9]{4,15}$"}, id="E.164 number"),
    ],
)
def test_crd_carries_constraints(kind: str, path: str, expected: Schema) -> None:
    node = schema_at(openapi(kind), path)
    assert {key: node.get(key) for key in expected} == expected


@pytest.mark.parametrize(
    ("kind", "path"),
    [
        pytest.param("CredentialAuthentication", "spec", id="a clear-text password is not in the API"),
        pytest.param("IpAuthentication", "spec.credentials", id="nor in egress credentials"),
        pytest.param("Customer", "spec.contacts[]", id="nor in a contact"),
    ],
)
def test_password_field_is_not_advertised(kind: str, path: str) -> None:
    assert "password" not in schema_at(openapi(kind), path)["properties"]


@pytest.mark.parametrize("kind", list(KINDS))
def test_crd_envelope(kind: str) -> None:
    model = KINDS[kind]
    crd = crds.crd_for(kind)
    assert crd["apiVersion"] == "apiextensions.k8s.io/v1"
    assert crd["metadata"]["name"] == f"{model.plural}.{GROUP}"
    spec = crd["spec"]
    assert spec["group"] == GROUP
    assert spec["scope"] == "Namespaced"
    assert spec["names"]["kind"] == kind
    assert spec["names"]["plural"] == model.plural
    assert spec["names"]["singular"] == kind.lower()
    assert spec["names"].get("shortNames", []) == list(model.short_names)
    assert spec["names"]["categories"] == ["trunkline"]
    [version] = spec["versions"]
    assert (version["name"], version["served"], version["storage"]) == ("v1alpha1", True, True)
    assert version["subresources"] == {"status": {}}
    schema = version["schema"]["openAPIV3Schema"]
    assert schema["required"] == ["spec"]
    assert schema["properties"]["metadata"] == {"type": "object"}
    status = schema["properties"]["status"]
    assert status["x-kubernetes-preserve-unknown-fields"] is True
    condition = status["properties"]["conditions"]["items"]["properties"]
    assert set(condition) == {"type", "status", "reason", "message", "lastTransitionTime", "observedGeneration"}
    assert status["properties"]["observedGeneration"]["type"] == "integer"


@pytest.mark.parametrize(
    ("kind", "columns"),
    [
        pytest.param("Customer", ["Status", "Ready", "Synced", "Age"], id="a kind with status_field shows it"),
        pytest.param("RateCard", ["Ready", "Synced", "Age"], id="a kind without status_field does not"),
    ],
)
def test_printer_columns(kind: str, columns: list[str]) -> None:
    found = {c["name"]: c for c in crds.crd_for(kind)["spec"]["versions"][0]["additionalPrinterColumns"]}
    assert list(found) == columns
    if "Status" in found:
        assert found["Status"]["jsonPath"] == ".spec.status"
    assert found["Ready"]["jsonPath"] == '.status.conditions[?(@.type=="Ready")].status'
    assert found["Synced"]["jsonPath"] == '.status.conditions[?(@.type=="Synced")].status'
    assert found["Age"] == {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}


# --- a realistic object against its CRD -------------------------------------------------------

EXAMPLES = textwrap.dedent(
    """\
    apiVersion: trunkline.dev/v1alpha1
    kind: Customer
    metadata: {name: acme, namespace: wholesale, labels: {tier: gold}}
    spec:
      displayName: ACME Telecom
      currency: EUR
      debitLimit: "250.00"
      taxPercent: "21"
      address: {city: Amsterdam, country: NL}
      contacts:
        - {name: Noc, email: noc@acme.example, portalLogin: true, passwordRef: {secretKeyRef: {name: acme, key: pw}}}
      cliRules:
        - {cli: "^31[0-9]{9}$", forced: true, rewriteCli: "31201234567"}
    ---
    apiVersion: trunkline.dev/v1alpha1
    kind: RateCard
    metadata: {name: eu-retail, namespace: wholesale}
    spec:
      currency: EUR
      defaults: {connectFee: "0", initialIncrement: 30, subsequentIncrement: 6}
      rates:
        - {prefix: "31", name: Netherlands, perMinute: "0.0125"}
        - {prefix: "3162", name: Netherlands mobile, perMinute: "0.0410", effectiveFrom: "2025-01-01T00:00:00Z"}
    ---
    apiVersion: trunkline.dev/v1alpha1
    kind: IngressRoute
    metadata: {name: acme-main, namespace: wholesale}
    spec: {customerRef: acme, rateCardRef: eu-retail, techPrefix: "99", dialStrings: ["^31"], channels: 60}
    ---
    apiVersion: trunkline.dev/v1alpha1
    kind: IpAuthentication
    metadata: {name: acme-sbc, namespace: wholesale}
    spec: {customerRef: acme, address: 203.0.113.10, port: 5080, protocol: udp, codecs: [PCMA, G729]}
    """
)


def _examples() -> list[dict[str, Any]]:
    return list(YAML(typ="safe", pure=True).load_all(EXAMPLES))


def test_realistic_objects_load_and_conform_to_their_crds() -> None:
    assert len(load_text(EXAMPLES)) == 4
    for document in _examples():
        assert conformance_errors(document, openapi(document["kind"])) == [], document["kind"]


@pytest.mark.parametrize(
    ("kind", "field", "value", "error"),
    [
        pytest.param("Customer", "currency", "EURO", "does not match", id="a four-letter currency"),
        pytest.param("Customer", "status", "Paused", "not in", id="a status that does not exist"),
        pytest.param("IpAuthentication", "port", 70000, "above 65535", id="a port out of range"),
        pytest.param("IngressRoute", "channels", "60", "expected integer", id="a quoted integer"),
    ],
)
def test_the_crd_rejects_what_the_loader_rejects(kind: str, field: str, value: Any, error: str) -> None:
    document = next(d for d in _examples() if d["kind"] == kind)
    document["spec"][field] = value
    errors = conformance_errors(document, openapi(kind))
    assert any(f"spec.{field}" in e and error in e for e in errors), errors
    yaml = YAML(typ="safe", pure=True)
    others = [_dump(d, yaml) for d in _examples() if d["kind"] != kind]
    with pytest.raises(ValidationError) as raised:
        load_text("---\n".join([*others, _dump(document, yaml)]))
    # (An invalid Customer also leaves the objects referring to it dangling; those are other problems.)
    assert [p.field for p in raised.value.problems if p.kind == kind] == [f"spec.{field}"]


def test_unquoted_money_is_accepted_in_files_but_not_by_the_api_server() -> None:
    # A float would lose cents in etcd; files are read back through their text, so only
    # the CRD insists on quotes (docs/decisions.md).
    document = next(d for d in _examples() if d["kind"] == "Customer")
    document["spec"]["debitLimit"] = 250.5
    assert conformance_errors(document, openapi("Customer")) == ["spec.debitLimit: expected string, got 250.5"]
    yaml = YAML(typ="safe", pure=True)
    others = [_dump(d, yaml) for d in _examples() if d["kind"] != "Customer"]
    assert len(load_text("---\n".join([*others, _dump(document, yaml)]))) == 4


def _dump(document: dict[str, Any], yaml: YAML) -> str:
    buffer = io.StringIO()
    yaml.dump(document, buffer)
    return buffer.getvalue()


# --- json_schema --------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(KINDS))
def test_json_schema_is_self_contained(kind: str) -> None:
    schema = json_schema(kind)
    text = json.dumps(schema)
    assert "$ref" not in text and "$defs" not in text
    assert {"apiVersion", "kind", "metadata", "spec"} <= set(schema["properties"])
    assert schema["properties"]["kind"]["const"] == kind


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        pytest.param("Customer", "Customer", id="the kind"),
        pytest.param("customer", "Customer", id="any case"),
        pytest.param("customers", "Customer", id="the plural"),
        pytest.param("cust", "Customer", id="a short name"),
        pytest.param("sipuser", "CredentialAuthentication", id="another short name"),
    ],
)
def test_kind_names_resolve_like_kubectl(name: str, kind: str) -> None:
    assert resolve_kind(name).__name__ == kind


def test_unknown_kind_names_every_kind() -> None:
    with pytest.raises(ValidationError) as raised:
        resolve_kind("Trunk")
    message = raised.value.problems[0].message
    assert "unknown kind 'Trunk'" in message
    assert all(kind in message for kind in KINDS)


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        pytest.param(
            {"$defs": {"A": {"type": "string", "description": "a"}}, "properties": {"x": {"$ref": "#/$defs/A"}}},
            {"properties": {"x": {"type": "string", "description": "a"}}},
            id="a reference is inlined",
        ),
        pytest.param(
            {
                "$defs": {"A": {"type": "string", "description": "a"}},
                "items": {"$ref": "#/$defs/A", "description": "b"},
            },
            {"items": {"type": "string", "description": "b"}},
            id="keys beside a reference win",
        ),
    ],
)
def test_dereference(schema: Schema, expected: Schema) -> None:
    assert dereference(schema) == expected


def test_dereference_refuses_a_recursive_model() -> None:
    schema = {"$defs": {"Node": {"type": "object", "properties": {"next": {"$ref": "#/$defs/Node"}}}}}
    with pytest.raises(TrunklineError, match="recursive schema: Node -> Node"):
        dereference({**schema, "$ref": "#/$defs/Node"})


# --- the commands ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(KINDS))
def test_schema_command_prints_json(kind: str) -> None:
    result = CliRunner().invoke(cli, ["schema", kind])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == json_schema(kind)


def test_schema_command_prints_yaml() -> None:
    result = CliRunner().invoke(cli, ["schema", "ipauth", "--output", "yaml"])
    assert result.exit_code == 0, result.output
    assert YAML(typ="safe", pure=True).load(result.output) == json_schema("IpAuthentication")


def test_schema_command_unknown_kind_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["schema", "Trunk"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "unknown kind 'Trunk'; Trunkline kinds are Customer, RateCard" in err
    assert "Traceback" not in err


def test_crds_generate_then_check(tmp_path: Path) -> None:
    runner = CliRunner()
    target = tmp_path / "crds"
    result = runner.invoke(cli, ["crds", "generate", "--output-dir", str(target)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in target.iterdir()) == sorted(crds.rendered())
    assert "wrote" in result.output and "customers.trunkline.dev.yaml" in result.output
    result = runner.invoke(cli, ["crds", "check", "--dir", str(target)])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        pytest.param(lambda d: (d / "customers.trunkline.dev.yaml").write_text("edited\n"), "differs", id="edited"),
        pytest.param(lambda d: (d / "dids.trunkline.dev.yaml").unlink(), "missing", id="deleted"),
        pytest.param(lambda d: (d / "trunks.trunkline.dev.yaml").write_text("x\n"), "no kind", id="left over"),
    ],
)
def test_crds_check_lists_stale_files_and_generate_repairs_them(tmp_path: Path, damage: Any, reason: str) -> None:
    runner = CliRunner()
    runner.invoke(cli, ["crds", "generate", "--output-dir", str(tmp_path)])
    damage(tmp_path)
    result = runner.invoke(cli, ["crds", "check", "--dir", str(tmp_path)])
    assert result.exit_code == 1
    assert reason in result.output and "trunkline crds generate" in result.output
    runner.invoke(cli, ["crds", "generate", "--output-dir", str(tmp_path)])
    assert runner.invoke(cli, ["crds", "check", "--dir", str(tmp_path)]).exit_code == 0
