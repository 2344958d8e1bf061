"""Each provider method on real databases (SQLite and PostgreSQL), against what the CLI writes.

The provider must be a front end over the one engine: objects created through it must be the
rows `trunkline apply` writes for the equivalent manifests, to the column (the CLI then plans
nothing), and a database filled by the CLI must compare equal row for row.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pulumi.runtime import rpc
from sqlalchemy import text

from provider.provider import ProviderError, TrunklineProvider
from reconciler.mapping import kind_maps
from reconciler.observe import observe
from switchdb.engine import open_database


def live_digests(url: str) -> dict[str, Any]:
    """Every object's rows as the engine sees them (all compared columns, children, digests),
    and the Kamailio views the switch reads, without row ids."""
    engine = open_database(url)
    try:
        with engine.connect() as conn:
            live = observe(conn, kind_maps())
            out: dict[str, Any] = {str(k): rows.digest() for k, rows in live.rows.items()}
            out["owned"] = sorted(str(k) for k in live.owned)
            out["address"] = sorted(
                repr(tuple(r)) for r in conn.execute(text("SELECT ip_addr, mask, port, tag FROM address"))
            )
            out["subscriber"] = sorted(
                repr(tuple(r)) for r in conn.execute(text("SELECT username, domain, ha1, ha1b FROM subscriber"))
            )
    finally:
        engine.dispose()
    return out


def write_manifests(carrier, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "carrier.yaml").write_text("---\n".join(d.yaml for d in carrier.values()), encoding="utf-8")
    return directory


def create_all(provider: TrunklineProvider, carrier, props) -> dict[str, dict[str, Any]]:
    outs = {}
    for declared in carrier.values():
        p = props(declared)
        assert provider.check({}, p).failures == []
        result = provider.create(p)
        assert result.id == f"default/{declared.name}"
        outs[declared.kind] = result.outs
    return outs


def test_create_writes_the_rows_trunkline_apply_writes(
    provider, carrier, props, db_url, reference_url, trunkline, tmp_path
):
    create_all(provider, carrier, props)
    manifests = write_manifests(carrier, tmp_path / "repo")
    code, out = trunkline("apply", "--db", reference_url, "-y", str(manifests))
    assert code == 0, out
    assert live_digests(db_url) == live_digests(reference_url)
    code, out = trunkline("plan", "--db", db_url, str(manifests))
    assert code == 0 and "No changes. 8 objects up to date." in out, out


def test_create_again_with_the_same_inputs_changes_nothing(provider, carrier, props, db_url):
    create_all(provider, carrier, props)
    before = live_digests(db_url)
    engine = open_database(db_url)
    with engine.connect() as conn:
        revisions = conn.execute(text("SELECT count(*) FROM trunkline_revisions")).scalar_one()
    provider.update("default/acme-voip", props(carrier["Customer"]), props(carrier["Customer"]))
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM trunkline_revisions")).scalar_one() == revisions
    engine.dispose()
    assert live_digests(db_url) == before


def test_update_writes_what_apply_of_the_edited_manifest_writes(
    provider, carrier, props, db_url, reference_url, trunkline, tmp_path
):
    outs = create_all(provider, carrier, props)
    customer = carrier["Customer"]
    edited = {**customer.spec, "channels": 250.0, "tags": ["wholesale", "tier-1"]}
    provider.update("default/acme-voip", outs["Customer"], props(customer, spec=edited))
    carrier = dict(carrier)
    carrier["Customer"] = type(customer)(
        customer.kind,
        customer.name,
        edited,
        customer.yaml.replace("channels: 200", "channels: 250").replace("[wholesale]", "[wholesale, tier-1]"),
    )
    code, out = trunkline("apply", "--db", reference_url, "-y", str(write_manifests(carrier, tmp_path / "repo")))
    assert code == 0, out
    assert live_digests(db_url) == live_digests(reference_url)


def test_read_returns_the_live_row_so_refresh_shows_drift(provider, carrier, props, db_url):
    outs = create_all(provider, carrier, props)
    customer = props(carrier["Customer"])
    read = provider.read("default/acme-voip", outs["Customer"])
    assert read.id == "default/acme-voip"
    assert read.outs["spec"]["channels"] == 200 and read.outs["labels"] == {"tier": "gold"}
    assert read.inputs == read.outs
    assert provider.changed_properties(read.outs, customer) == [], "a fresh read is no change"
    engine = open_database(db_url)
    with engine.begin() as conn:  # someone edits the switch behind Pulumi's back
        conn.execute(text("UPDATE customers SET channels = 999 WHERE name = 'acme-voip'"))
    engine.dispose()
    drifted = provider.read("default/acme-voip", outs["Customer"])
    assert drifted.outs["spec"]["channels"] == 999
    assert provider.changed_properties(drifted.outs, customer) == ["spec.channels"]
    assert provider.diff("default/acme-voip", drifted.outs, customer).changes is True


def test_read_of_a_deleted_object_returns_no_id(provider, carrier, props):
    outs = create_all(provider, carrier, props)
    provider.delete("default/acme-nanp-bundle", outs["Package"])
    assert provider.read("default/acme-nanp-bundle", outs["Package"]).id is None


def test_delete_removes_only_that_object(provider, carrier, props, db_url):
    outs = create_all(provider, carrier, props)
    provider.delete("default/acme-low-balance", outs["Alert"])
    remaining = live_digests(db_url)
    assert "Alert/default/acme-low-balance" not in remaining
    assert "Package/default/acme-nanp-bundle" in remaining and "Customer/default/acme-voip" in remaining


def test_delete_of_a_referenced_object_is_refused_by_the_engine(provider, carrier, props, db_url):
    outs = create_all(provider, carrier, props)
    with pytest.raises(ProviderError, match=r"cannot delete Customer/default/acme-voip: .*still references it"):
        provider.delete("default/acme-voip", outs["Customer"])
    assert "Customer/default/acme-voip" in live_digests(db_url)


def test_create_before_its_reference_exists_fails_with_the_dependency(provider, carrier, props):
    with pytest.raises(ProviderError, match="references Customer/default/acme-voip, which does not exist yet"):
        provider.create(props(carrier["IngressRoute"]))


# -- check: every problem, at its property -------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        pytest.param(
            {"display_name": "", "currency": "XXX", "channels": "10"},
            {"spec.display_name", "spec.currency", "spec.channels"},
            id="every-error-at-once-each-at-its-field",
        ),
        pytest.param(
            {"display_name": "A", "currency": "USD", "contacts": [{"name": "N", "email": "not-an-email"}]},
            {"spec.contacts[0].email"},
            id="nested-list-field-named-in-snake-case",
        ),
        pytest.param(
            {"display_name": "A", "currency": "USD", "favourite_colour": "red"},
            {"spec.favourite_colour"},
            id="unknown-field-is-an-error-as-in-yaml",
        ),
        pytest.param(
            {"display_name": "A", "currency": "USD", "address": {"country": "ZZ"}},
            {"spec.address.country"},
            id="nested-model-field",
        ),
    ],
)
def test_check_reports_every_failure_at_its_property(provider, spec, expected):
    result = provider.check({}, {"kind": "Customer", "name": "acme", "spec": spec})
    assert {f.property for f in result.failures} == expected
    assert all(f.reason for f in result.failures)


def test_check_accepts_a_valid_object_and_defaults_the_namespace(provider):
    result = provider.check({}, {"kind": "Customer", "name": "acme", "spec": {"display_name": "A", "currency": "USD"}})
    assert result.failures == [] and result.inputs["namespace"] == "default"


def test_check_skips_values_unknown_until_apply(provider):
    """An unknown (a required reference, here) is not "missing"; a known bad value is still an error."""
    spec = {"customer_ref": rpc.UNKNOWN, "rate_card_ref": "retail"}
    assert provider.check({}, {"kind": "IngressRoute", "name": "r", "spec": spec}).failures == []
    result = provider.check({}, {"kind": "IngressRoute", "name": "r", "spec": {**spec, "recording": "Sometimes"}})
    assert [f.property for f in result.failures] == ["spec.recording"]


def test_check_rejects_a_bad_name_and_an_unknown_kind(provider):
    assert [f.property for f in provider.check({}, {"kind": "Nope", "name": "x"}).failures] == ["kind"]
    failures = provider.check(
        {}, {"kind": "Customer", "name": "Not_DNS", "spec": {"display_name": "A", "currency": "USD"}}
    )
    assert [f.property for f in failures.failures] == ["name"]


# -- diff: changes, replacements, delete-before-replace ----------------------------------------


def customer(**spec: Any) -> dict[str, Any]:
    return {
        "kind": "Customer",
        "name": "acme",
        "namespace": "default",
        "spec": {"display_name": "A", "currency": "USD", **spec},
    }


@pytest.mark.parametrize(
    ("old", "new", "changes", "replaces", "delete_first"),
    [
        pytest.param(customer(), customer(), False, [], False, id="same-inputs-no-change"),
        pytest.param(
            customer(debit_limit="10.50"),
            customer(debit_limit="10.5"),
            False,
            [],
            False,
            id="same-money-other-spelling",
        ),
        pytest.param(customer(channels=10), customer(channels=10.0), False, [], False, id="a-double-from-the-wire"),
        pytest.param(customer(), customer(channels=5), True, [], False, id="mutable-field-updates-in-place"),
        pytest.param(
            customer(),
            customer(currency="EUR"),
            True,
            ["spec.currency"],
            True,
            id="immutable-currency-replaces-same-key",
        ),
        pytest.param(
            customer(),
            {**customer(), "name": "acme-2"},
            True,
            ["name"],
            False,
            id="renamed-customer-is-a-new-object-created-first",
        ),
    ],
)
def test_diff(provider, old, new, changes, replaces, delete_first):
    result = provider.diff("default/acme", old, new)
    assert (result.changes, result.replaces, bool(result.delete_before_replace)) == (changes, replaces, delete_first)


def did(name: str, number: str) -> dict[str, Any]:
    spec = {
        "number": number,
        "destination": {"uri": "sip:a@192.0.2.1"},
        "provider": {"name": "LineBridge"},
        "customer_ref": "acme",
        "cost": "1",
        "retail": "2",
    }
    return {"kind": "Did", "name": name, "namespace": "default", "spec": spec}


SIP = {"customer_ref": "acme", "username": "u1", "realm": "r.example", "password_ref": {"env": "X"}}
IP = {"customer_ref": "acme", "address": "192.0.2.1"}


@pytest.mark.parametrize(
    ("kind", "old_spec", "new_spec", "delete_first"),
    [
        pytest.param(
            "Did", did("a", "+12125550142")["spec"], did("b", "+12125550142")["spec"], True, id="did-number-kept"
        ),
        pytest.param(
            "Did", did("a", "+12125550142")["spec"], did("b", "+12125550143")["spec"], False, id="did-new-number"
        ),
        pytest.param("CredentialAuthentication", SIP, SIP, True, id="sip-user-keeps-username-at-realm"),
        pytest.param("CredentialAuthentication", SIP, {**SIP, "username": "u2"}, False, id="sip-user-new-username"),
        pytest.param("IpAuthentication", IP, {**IP, "channels": 4}, True, id="ip-keeps-address-port-techprefix"),
        pytest.param("IpAuthentication", IP, {**IP, "tech_prefix": "99"}, False, id="ip-new-techprefix-frees-nothing"),
    ],
)
def test_a_renamed_object_keeping_a_unique_value_is_deleted_before_its_replacement(
    provider, kind, old_spec, new_spec, delete_first
):
    old = {"kind": kind, "name": "a", "namespace": "default", "spec": old_spec}
    new = {"kind": kind, "name": "b", "namespace": "default", "spec": new_spec}
    result = provider.diff("default/a", old, new)
    assert result.replaces == ["name"] and bool(result.delete_before_replace) is delete_first


def test_diff_sees_labels_and_unknowns(provider):
    assert provider.changed_properties(customer(), {**customer(), "labels": {"tier": "gold"}}) == ["labels"]
    assert provider.diff("default/acme", customer(), customer(display_name=rpc.UNKNOWN)).changes is True
