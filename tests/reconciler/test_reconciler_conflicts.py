"""Rows Trunkline does not own: conflicts, adoption on request, unmanaged rows left alone;
immutable fields refused with the reason."""

from __future__ import annotations

import pytest

from reconciler.plan import ConflictError
from reconciler.reconcile import Options, plan
from resources.errors import ValidationError
from resources.meta import ObjectKey

ACME = ObjectKey("Customer", "default", "acme-voip")


def test_unowned_row_with_a_declared_name_is_a_conflict(engine, manifests, insert_unowned, apply_state, dump):
    insert_unowned(engine, "customers", name="acme-voip", display_name="Acme (legacy billing system)")
    before = dump(engine)

    with pytest.raises(ConflictError) as caught:
        plan(engine, manifests.state())
    assert "Customer/default/acme-voip already exists in the database and is not managed" in caught.value.message
    assert "--adopt" in caught.value.message
    with pytest.raises(ConflictError):
        apply_state(engine, manifests.state())
    assert dump(engine) == before


def test_adopt_takes_ownership_of_the_existing_row_and_updates_it(engine, manifests, insert_unowned, apply_state, sql):
    row_id = insert_unowned(engine, "customers", name="acme-voip", display_name="Acme (legacy)", channels=5)
    state = manifests.state()

    result = plan(engine, state, options=Options(adopt=True))
    change = next(c for c in result.changes if c.key == ACME)
    assert (change.action, change.adopt) == ("update", True)
    assert change.to_json()["adopt"] is True
    assert change.diff["displayName"].to_json() == {"before": "Acme (legacy)", "after": "Acme VoIP Inc."}
    assert change.diff["channels"].to_json() == {"before": 5, "after": 200}
    assert "contacts[0]" in change.diff  # the legacy row had none
    assert result.summary["create"] == len(manifests.documents) - 1

    apply_state(engine, state, options=Options(adopt=True))
    owned = sql(engine, "SELECT row_id, generation FROM trunkline_objects WHERE name = 'acme-voip'")
    assert owned == [(row_id, 1)], "adoption keeps the row (and its id, which CDRs and balances point at)"
    assert sql(engine, "SELECT display_name, channels FROM customers WHERE id = :i", i=row_id) == [
        ("Acme VoIP Inc.", 200)
    ]
    assert plan(engine, state).empty, "once adopted, no --adopt is needed"


def test_adopting_an_identical_row_is_still_a_change_that_records_ownership(
    engine, manifests, insert_unowned, apply_state, sql
):
    insert_unowned(
        engine,
        "customers",
        name="bluefin-telecom",
        display_name="Bluefin Telecom GmbH",
        status="Inactive",
        currency="EUR",
        tax_percent=19,
        channels=60,
        flow_speed=6,
    )
    state = manifests.only("Customer/bluefin-telecom").state()

    result = plan(engine, state, options=Options(adopt=True))
    assert [(c.action, c.adopt, dict(c.diff)) for c in result.changes] == [("update", True, {})]
    apply_state(engine, state, options=Options(adopt=True))
    assert sql(engine, "SELECT count(*) FROM trunkline_objects WHERE name = 'bluefin-telecom'") == [(1,)]
    assert plan(engine, state).empty


# (squatting table and row, declared document and edit that claims its value, when, field, holder)
UNIQUE_COLLISIONS = [
    pytest.param(
        "dids",
        {"name": "legacy-number", "number": "442079460999"},
        "Did/acme-reception",
        '"+12125550142"',
        '"+442079460999"',
        "create",
        "number",
        "Did/default/legacy-number",
        id="did-number-belongs-to-one-customer",
    ),
    pytest.param(
        "dids",
        {"name": "legacy-number", "number": "442079460999"},
        "Did/acme-reception",
        '"+12125550142"',
        '"+442079460999"',
        "update",
        "number",
        "Did/default/legacy-number",
        id="did-renumbered-onto-an-unmanaged-number",
    ),
    pytest.param(
        "dids",
        {"name": "legacy-number", "number": "442079460999"},
        "Did/acme-reception",
        '"+12125550142"',
        '"+442079460999"',
        "adopt",
        "number",
        "Did/default/legacy-number",
        id="adopt-cannot-take-a-row-of-another-name",
    ),
    pytest.param(
        "credential_authentications",
        {"name": "legacy-sip", "username": "legacy1", "realm": "sip.kestrel.example"},
        "CredentialAuthentication/acme-1001",
        "username: acme1001",
        "username: legacy1",
        "create",
        "username, realm",
        "CredentialAuthentication/default/legacy-sip",
        id="sip-username-unique-per-realm",
    ),
]


@pytest.mark.parametrize(("table", "columns", "document", "old", "new", "when", "fields", "holder"), UNIQUE_COLLISIONS)
def test_unique_value_held_by_an_unowned_row_is_a_conflict(
    engine, manifests, insert_unowned, apply_state, dump, table, columns, document, old, new, when, fields, holder
):
    insert_unowned(engine, "customers", name="legacy")
    insert_unowned(engine, table, customer="legacy", **columns)
    if when == "update":
        apply_state(engine, manifests.state())
    state = manifests.edit(document, old, new).state()
    before = dump(engine)

    with pytest.raises(ConflictError) as caught:
        plan(engine, state, options=Options(adopt=when == "adopt"))
    assert f"{fields} is already used by unmanaged {holder}" in caught.value.message
    with pytest.raises(ConflictError):
        apply_state(engine, state, options=Options(adopt=when == "adopt"))
    assert dump(engine) == before


def test_unmanaged_rows_are_listed_and_left_untouched(engine, manifests, insert_unowned, apply_state, sql):
    insert_unowned(engine, "customers", name="legacy", display_name="Legacy Carrier", channels=7)
    insert_unowned(engine, "dids", name="legacy-number", number="442079460999", customer="legacy")
    legacy_rows = (
        "SELECT c.id, c.display_name, c.channels, d.id, d.number, d.provider_name"
        " FROM customers c JOIN dids d ON d.customer_id = c.id WHERE c.name = 'legacy'"
    )
    before = sql(engine, legacy_rows)
    state = manifests.state()

    result = plan(engine, state)
    legacy = {ObjectKey("Customer", "default", "legacy"), ObjectKey("Did", "default", "legacy-number")}
    assert legacy <= set(result.unmanaged)
    assert "Customer/default/legacy" in result.to_json()["unmanaged"]
    assert all(c.key.name not in ("legacy", "legacy-number") for c in result.changes)

    apply_state(engine, state)
    apply_state(engine, manifests.drop("Alert/acme-low-balance").state())  # a run that prunes
    assert sql(engine, legacy_rows) == before
    assert sql(engine, "SELECT count(*) FROM trunkline_objects WHERE name IN ('legacy', 'legacy-number')") == [(0,)]


# (document, old text, new text, field, reason fragment)
IMMUTABLE = [
    pytest.param(
        "Customer/bluefin-telecom",
        "currency: EUR",
        "currency: GBP",
        "spec.currency",
        "balances, payments and CDRs are kept in the account currency",
        id="customer-currency",
    ),
    pytest.param(
        "RateCard/eur-standard",
        "currency: EUR",
        "currency: GBP",
        "spec.currency",
        "rated CDRs and routes depend on the card's currency",
        id="ratecard-currency",
    ),
]


@pytest.mark.parametrize(("document", "old", "new", "field", "reason"), IMMUTABLE)
def test_changing_an_immutable_field_is_refused_with_the_reason_and_position(
    engine, manifests, apply_state, dump, document, old, new, field, reason
):
    apply_state(engine, manifests.state())
    before = dump(engine)
    changed = manifests.edit(document, old, new).state()

    with pytest.raises(ValidationError) as caught:
        plan(engine, changed)
    [problem] = caught.value.problems
    assert problem.field == field
    assert reason in problem.message
    assert "EUR" in problem.message and "GBP" in problem.message
    assert problem.file == "manifests.yaml" and problem.line is not None
    kind, _, name = document.partition("/")
    line = changed.position(ObjectKey(kind, "default", name), ("spec", "currency")).line
    assert problem.line == line
    assert f"manifests.yaml:{line}" in caught.value.message
    with pytest.raises(ValidationError):
        apply_state(engine, changed)
    assert dump(engine) == before


def test_adopting_a_row_whose_immutable_field_differs_is_refused(engine, manifests, insert_unowned):
    insert_unowned(engine, "customers", name="acme-voip", currency="EUR")
    with pytest.raises(ValidationError) as caught:
        plan(engine, manifests.state(), options=Options(adopt=True))
    assert [p.field for p in caught.value.problems] == ["spec.currency"]
