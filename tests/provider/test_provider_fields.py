"""Pulumi properties ↔ manifests (``provider.fields``) and the classes a program writes with.

A program's snake_case properties (typed Args or plain dicts, numbers as doubles) must give the
object the equivalent YAML gives, for every kind; and a manifest read back from the switch must
become properties that give that object again, or `pulumi refresh` would show changes that are
not there.
"""

from __future__ import annotations

from typing import Any

import pytest
from ruamel.yaml import YAML

import provider
from provider import args, fields
from resources.kinds import KINDS
from resources.loader import load_manifests
from resources.meta import Resource


def from_yaml(declared: Any) -> Resource:
    document = YAML(typ="safe").load(declared.yaml)
    return next(iter(load_manifests([document], check_references=False)))


def from_props(props: dict[str, Any]) -> Resource:
    manifest = fields.to_manifest(props)
    assert manifest.passwords == {}
    return next(iter(load_manifests([manifest.body], check_references=False)))


def props_of(declared: Any, **extra: Any) -> dict[str, Any]:
    return {"kind": declared.kind, "name": declared.name, "namespace": "default", "spec": declared.spec, **extra}


def labels_of(declared: Any) -> dict[str, Any]:
    return {"labels": {"tier": "gold"}} if declared.kind == "Customer" else {}


@pytest.mark.parametrize("kind", KINDS)
def test_snake_case_properties_give_the_object_the_yaml_gives(carrier, kind):
    declared = carrier[kind]
    assert from_props(props_of(declared, **labels_of(declared))) == from_yaml(declared)


@pytest.mark.parametrize("kind", KINDS)
def test_a_manifest_read_back_gives_the_same_object_again(carrier, kind):
    declared = carrier[kind]
    document = YAML(typ="safe").load(declared.yaml)
    assert from_props(fields.from_manifest(document)) == from_yaml(declared)


def test_typed_args_and_plain_dicts_give_the_same_manifest():
    typed = provider.CustomerArgs(
        display_name="Acme VoIP Inc.",
        currency="USD",
        address=provider.PostalAddressArgs(city="Austin", postal_code="78701", country="US"),
        contacts=[
            provider.ContactArgs(
                name="Dana", email="noc@acme-voip.example", password_ref=provider.SecretRefArgs(env="NOC")
            )
        ],
    )
    plain = {
        "display_name": "Acme VoIP Inc.",
        "currency": "USD",
        "address": {"city": "Austin", "postal_code": "78701", "country": "US"},
        "contacts": [{"name": "Dana", "email": "noc@acme-voip.example", "password_ref": {"env": "NOC"}}],
    }
    props = {"kind": "Customer", "name": "acme"}
    body = fields.to_manifest({**props, "spec": args.plain(typed)}).body
    assert body == fields.to_manifest({**props, "spec": plain}).body
    contact = {"name": "Dana", "email": "noc@acme-voip.example", "passwordRef": {"env": "NOC"}}
    assert body["spec"]["contacts"] == [contact]
    assert body["spec"]["address"]["postalCode"] == "78701"


def test_a_direct_password_leaves_the_manifest_for_one_call():
    spec = {"customer_ref": "acme", "username": "u1", "password": "S3cret"}
    manifest = fields.to_manifest({"kind": "CredentialAuthentication", "name": "u1", "spec": spec})
    assert manifest.passwords == {"spec": "S3cret"}
    assert manifest.body["spec"]["passwordRef"] == {"secretKeyRef": {"name": "pulumi", "key": "spec"}}
    assert spec["password"] == "S3cret", "the caller's properties are not changed"


@pytest.mark.parametrize(
    ("kind", "field", "expected"),
    [
        pytest.param("Customer", "spec.contacts[0].portalLogin", "spec.contacts[0].portal_login", id="list-item"),
        pytest.param("Customer", "spec.address.postalCode", "spec.address.postal_code", id="nested-model"),
        pytest.param("Did", "spec.provider.cardRef", "spec.provider.card_ref", id="nested-reference"),
        pytest.param("Customer", "metadata.labels", "labels", id="metadata-is-top-level"),
        pytest.param("Customer", "spec.favouriteColour", "spec.favourite_colour", id="unknown-field-still-snake"),
        pytest.param("Customer", None, "", id="object-level-problem"),
    ],
)
def test_property_path_names_a_problem_field_as_the_program_spells_it(kind, field, expected):
    assert fields.property_path(kind, field) == expected


def test_every_kind_is_a_resource_class_taking_its_own_args():
    assert set(provider.RESOURCES) == set(KINDS)
    for kind, cls in provider.RESOURCES.items():
        assert getattr(provider, kind) is cls and cls._resource_type_name == f"dynamic/trunkline:{kind}"
        assert getattr(provider, f"{kind}Args") is cls.args_type
    with pytest.raises(TypeError, match="Customer takes CustomerArgs, not RateCardArgs"):
        provider.Customer("acme", provider.RateCardArgs(currency="USD"))
