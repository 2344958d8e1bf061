"""Passwords given from Pulumi: only a salted hash in the state, the digests in the switch.

A direct ``password`` (a ``pulumi.Output.secret`` in the program) must never appear in what
the provider returns for the state, must not cause a diff on every run, and must still reach
the engine, which writes SIP HA1/HA1b (or a portal hash) exactly as for a ``passwordRef``.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import text

from provider import passwords
from reconciler.derived import sip_digests
from switchdb.engine import open_database

SECRET = "Dir3ct-Pulumi-S3cret"


def sip_user(db_url: str, **spec: Any) -> dict[str, Any]:
    base = {"customer_ref": "acme", "username": "acme1001", "realm": "sip.kestrel.example", "password": SECRET}
    return {
        "kind": "CredentialAuthentication",
        "name": "acme-1001",
        "namespace": "default",
        "db_url": db_url,
        "spec": {**base, **spec},
    }


@pytest.fixture
def acme(provider, db_url):
    provider.create(
        {
            "kind": "Customer",
            "name": "acme",
            "namespace": "default",
            "db_url": db_url,
            "spec": {"display_name": "Acme", "currency": "USD"},
        }
    )


def everything(value: Any) -> str:
    return json.dumps(value, default=str)


def test_state_outputs_never_hold_the_clear_password(provider, db_url, acme):
    created = provider.create(sip_user(db_url))
    assert SECRET not in everything(created.outs)
    assert passwords.matches(SECRET, created.outs["spec"]["password_hash"])
    updated = provider.update(created.id, created.outs, sip_user(db_url, channels=3))
    assert SECRET not in everything(updated.outs)
    read = provider.read(created.id, updated.outs)
    assert SECRET not in everything(read.outs) and SECRET not in everything(read.inputs)
    assert read.outs["spec"]["password_hash"] == created.outs["spec"]["password_hash"]


def test_the_engine_gets_the_clear_value_for_that_call_and_writes_the_digests(provider, db_url, acme):
    provider.create(sip_user(db_url))
    engine = open_database(db_url)
    with engine.connect() as conn:
        row = conn.execute(text("SELECT ha1, ha1b FROM subscriber WHERE username = 'acme1001'")).one()
        ref = conn.execute(text("SELECT password_ref FROM credential_authentications")).scalar_one()
    engine.dispose()
    assert tuple(row) == tuple(sip_digests("acme1001", "sip.kestrel.example", SECRET).values())
    assert SECRET not in everything(ref), "the database keeps a reference naming the property, not the value"


def test_an_unchanged_password_is_no_diff_and_a_rotated_one_is(provider, db_url, acme):
    created = provider.create(sip_user(db_url))
    assert provider.diff(created.id, created.outs, sip_user(db_url)).changes is False
    rotated = provider.diff(created.id, created.outs, sip_user(db_url, password="An0ther-S3cret"))
    assert rotated.changes is True and rotated.replaces == []
    assert provider.changed_properties(created.outs, sip_user(db_url, password="An0ther-S3cret")) == ["spec.password"]


def test_diff_sees_through_pulumi_secret_wrappers(provider, db_url, acme):
    from pulumi.runtime import rpc

    created = provider.create(sip_user(db_url))
    plain = sip_user(db_url)
    wrapped = {**plain, "spec": {rpc._special_sig_key: rpc._special_secret_sig, "value": plain["spec"]}}
    assert provider.diff(created.id, created.outs, wrapped).changes is False
    assert provider.check({}, wrapped).failures == []


def test_a_rotated_password_rewrites_the_digests(provider, db_url, acme):
    created = provider.create(sip_user(db_url))
    provider.update(created.id, created.outs, sip_user(db_url, password="An0ther-S3cret"))
    engine = open_database(db_url)
    with engine.connect() as conn:
        ha1 = conn.execute(text("SELECT ha1 FROM subscriber WHERE username = 'acme1001'")).scalar_one()
    engine.dispose()
    assert ha1 == sip_digests("acme1001", "sip.kestrel.example", "An0ther-S3cret")["ha1"]


def test_contact_and_egress_passwords_are_hashed_too(provider, db_url, acme):
    customer = {
        "kind": "Customer",
        "name": "bluefin",
        "namespace": "default",
        "db_url": db_url,
        "spec": {
            "display_name": "B",
            "currency": "EUR",
            "contacts": [{"name": "Ops", "email": "ops@b.example", "portal_login": True, "password": SECRET}],
        },
    }
    egress = {
        "kind": "IpAuthentication",
        "name": "egress",
        "namespace": "default",
        "db_url": db_url,
        "spec": {
            "customer_ref": "acme",
            "direction": "Egress",
            "address": "pbx.acme.example",
            "credentials": {"username": "trunk", "password": SECRET},
        },
    }
    for props in (customer, egress):
        assert provider.check({}, props).failures == []
        outs = provider.create(props).outs
        assert SECRET not in everything(outs)
        assert "password_hash" in everything(outs)


def test_password_and_password_ref_together_are_refused_at_the_field(provider, db_url):
    props = sip_user(db_url, password_ref={"env": "X"})
    assert [f.property for f in provider.check({}, props).failures] == ["spec.password"]


def test_hashes_are_salted():
    assert passwords.hash_password(SECRET) != passwords.hash_password(SECRET)
    assert passwords.matches(SECRET, passwords.hash_password(SECRET))
    assert not passwords.matches("other", passwords.hash_password(SECRET))
