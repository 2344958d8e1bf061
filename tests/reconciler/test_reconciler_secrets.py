"""Secrets: resolved from passwordRef at plan/apply time, stored only as digests, never shown."""

from __future__ import annotations

import hashlib
import io
import json
import re
from pathlib import Path

import pytest
from rich.console import Console
from sqlalchemy.engine import make_url

import resources
from reconciler.derived import portal_password_hash
from reconciler.reconcile import plan
from reconciler.render import plan_markdown, print_plan
from resources.errors import ValidationError
from resources.meta import ObjectKey

SIP_USER = ObjectKey("CredentialAuthentication", "default", "acme-1001")
REALM = "sip.kestrel.example"
ROTATED = "R0tated-S3cret-pw"


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def rendered(result) -> dict[str, str]:
    buffer = io.StringIO()
    print_plan(result, Console(file=buffer, width=200, color_system=None))
    return {"json": json.dumps(result.to_json()), "text": buffer.getvalue(), "markdown": plan_markdown(result)}


def assert_no_clear_text(where: str, blob: str, secrets) -> None:
    for secret in [*(s.value for s in secrets.values()), ROTATED]:
        assert secret not in blob, f"{where} shows a clear-text password"


def test_plans_for_people_and_machines_never_show_a_password(engine, manifests, apply_state, monkeypatch, secrets):
    state = manifests.state()
    created = plan(engine, state)
    apply_state(engine, state)
    for secret in secrets.values():
        monkeypatch.setenv(secret.env, ROTATED)
    rotated = plan(engine, state)
    deleted = plan(engine, manifests.only("RateCard/eur-standard").state())

    for name, result in {"create": created, "update": rotated, "delete": deleted}.items():
        assert not result.empty
        for form, blob in rendered(result).items():
            assert_no_clear_text(f"{name} plan as {form}", blob, secrets)
            assert "(sensitive)" in blob, f"{name} plan as {form} should say a secret is involved"


def test_rotating_the_secret_is_an_update_that_hides_both_values(
    engine, manifests, apply_state, sql, monkeypatch, secrets
):
    state = manifests.state()
    apply_state(engine, state)
    old_ha1 = sql(engine, "SELECT ha1 FROM credential_authentications")[0][0]
    monkeypatch.setenv(secrets["sip"].env, ROTATED)

    result = plan(engine, state)
    [change] = [c for c in result.changes if c.key == SIP_USER]
    assert change.action == "update"
    assert {k: v.to_json() for k, v in change.diff.items()} == {
        "password": {"before": "(sensitive)", "after": "(sensitive)"}
    }
    assert re.search(r'password: "?\(sensitive\)"? → "?\(sensitive\)"?', rendered(result)["text"])
    assert old_ha1 not in rendered(result)["json"]

    apply_state(engine, state)
    assert sql(engine, "SELECT ha1 FROM credential_authentications") == [(md5(f"acme1001:{REALM}:{ROTATED}"),)]
    assert plan(engine, state).empty


def test_database_keeps_digests_only(engine, db_url, manifests, apply_state, sql, dump, secrets):
    apply_state(engine, manifests.state())

    ha1, ha1b, ref = sql(engine, "SELECT ha1, ha1b, password_ref FROM credential_authentications")[0]
    password = secrets["sip"].value
    assert ha1 == md5(f"acme1001:{REALM}:{password}")
    assert ha1b == md5(f"acme1001@{REALM}:{REALM}:{password}")
    assert secrets["sip"].env in str(ref), "the reference (not the value) is kept, so export can write it back"
    stored = sql(engine, "SELECT password_hash FROM customer_contacts WHERE email = 'noc@acme-voip.example'")[0][0]
    salt_source = "default/acme-voip/noc@acme-voip.example"
    assert stored == portal_password_hash("noc@acme-voip.example", secrets["portal"].value, salt_source=salt_source)

    assert_no_clear_text("the database", repr(dump(engine)), secrets)
    if db_url.startswith("sqlite"):  # and not in a page or the write-ahead log either
        database = Path(make_url(db_url).database)
        for path in (database, database.with_name(database.name + "-wal")):
            if path.exists():
                raw = path.read_bytes()
                assert_no_clear_text(path.name, raw.decode("latin-1"), secrets)


MISSING = [
    pytest.param(
        "sip", "CredentialAuthentication/acme-1001", ("spec", "passwordRef"), "spec.passwordRef", id="sip-user-password"
    ),
    pytest.param(
        "portal",
        "Customer/acme-voip",
        ("spec", "contacts", 0, "passwordRef"),
        "spec.contacts[0].passwordRef",
        id="portal-contact-password",
    ),
]


@pytest.mark.parametrize(("secret", "document", "path", "field"), MISSING)
def test_unset_environment_variable_is_a_validation_error_at_the_reference(
    engine, manifests, apply_state, dump, monkeypatch, tmp_path, secrets, secret, document, path, field
):
    variable = secrets[secret].env
    monkeypatch.delenv(variable)
    manifest = manifests.write(tmp_path / "switch")
    state = resources.load([manifest])  # loading checks shape only; the secret is needed to plan
    kind, _, name = document.partition("/")
    line = state.position(ObjectKey(kind, "default", name), path).line
    before = dump(engine)

    with pytest.raises(ValidationError) as caught:
        plan(engine, state)
    [problem] = caught.value.problems
    assert problem.field == field
    assert variable in problem.message and "is not set" in problem.message
    assert (problem.file, problem.line) == (str(manifest), line)
    assert f"{manifest}:{line}:" in str(caught.value)
    with pytest.raises(ValidationError):
        apply_state(engine, state)
    assert dump(engine) == before


def test_every_unresolvable_secret_is_reported_at_once_in_declaration_order(
    engine, manifests, monkeypatch, tmp_path, secrets
):
    """Rows are made a run of one kind at a time; the problems of different kinds still come all
    together, each at its own reference, in the order of the files."""
    for secret in ("sip", "portal"):
        monkeypatch.delenv(secrets[secret].env)
    state = resources.load([manifests.write(tmp_path / "switch")])
    with pytest.raises(ValidationError) as caught:
        plan(engine, state)
    found = [(ObjectKey(p.kind, p.namespace, p.name), p.field) for p in caught.value.problems]
    assert ("CredentialAuthentication", "default", "acme-1001") in [k for k, _ in found]
    assert (ObjectKey("Customer", "default", "acme-voip"), "spec.contacts[0].passwordRef") in found
    assert {field for _, field in found} <= {"spec.passwordRef", "spec.contacts[0].passwordRef"}
    order = list(state.objects)
    assert [order.index(k) for k, _ in found] == sorted(order.index(k) for k, _ in found)
    assert all(p.line is not None for p in caught.value.problems)


def test_password_file_is_read_relative_to_the_manifest(engine, manifests, apply_state, sql, tmp_path, secrets):
    manifests.edit(
        "CredentialAuthentication/acme-1001",
        f"passwordRef: {{env: {secrets['sip'].env}}}",
        "passwordRef: {file: secrets/acme1001.txt}",
    )
    directory = tmp_path / "repo"
    (directory / "secrets").mkdir(parents=True)
    (directory / "secrets" / "acme1001.txt").write_text(secrets["sip"].value + "\n", encoding="utf-8")
    state = resources.load([manifests.write(directory)])

    apply_state(engine, state)
    expected = md5(f"acme1001:{REALM}:{secrets['sip'].value}")
    assert sql(engine, "SELECT ha1 FROM credential_authentications") == [(expected,)]
    assert plan(engine, state).empty
