"""Create, update, prune and no-op for every kind; dependency order; drift back to the declaration."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from reconciler.reconcile import Options, plan
from resources.meta import ObjectKey

KIND_TABLES = {
    "Customer": "customers",
    "RateCard": "rate_cards",
    "IngressRoute": "ingress_routes",
    "IpAuthentication": "ip_authentications",
    "CredentialAuthentication": "credential_authentications",
    "Did": "dids",
    "Package": "packages",
    "Alert": "alerts",
}
CHILD_TABLES = {
    "customers": {"customer_contacts": "customer_id", "customer_cli_rules": "customer_id"},
    "rate_cards": {"rates": "rate_card_id"},
}


def key(name: str) -> ObjectKey:
    kind, _, obj = name.partition("/")
    return ObjectKey(kind, "default", obj)


def change_of(result: Any, name: str) -> Any:
    matches = [c for c in result.changes if c.key == key(name)]
    assert len(matches) == 1, f"{name}: {[str(c.key) for c in result.changes]}"
    return matches[0]


def test_create_every_kind_then_second_apply_is_a_no_op(engine, manifests, apply_state, sql, revisions):
    state = manifests.state()
    first = plan(engine, state)
    assert first.summary == {"create": len(manifests.documents), "update": 0, "delete": 0}
    assert {c.key.kind for c in first.changes} == set(KIND_TABLES)

    result = apply_state(engine, state)
    assert result.revision_id is not None
    for kind, table in KIND_TABLES.items():
        declared = sorted(k.partition("/")[2] for k in manifests.documents if k.startswith(kind + "/"))
        assert sorted(r[0] for r in sql(engine, f"SELECT name FROM {table}")) == declared, table
    assert sql(engine, "SELECT count(*) FROM customer_contacts")[0][0] == 2
    assert sql(engine, "SELECT count(*) FROM customer_cli_rules")[0][0] == 2
    assert sql(engine, "SELECT count(*) FROM rates")[0][0] == 6
    assert sql(engine, "SELECT count(*) FROM trunkline_objects")[0][0] == len(manifests.documents)

    again = plan(engine, state)
    assert again.empty and again.changes == ()
    assert again.unchanged == len(manifests.documents)
    second = apply_state(engine, state)
    assert second.revision_id is None
    assert revisions(engine) == 1


# (document, old text, new text, diff label, before, after (canonical JSON forms), SQL, DB value after)
UPDATES = [
    pytest.param(
        "Customer/acme-voip",
        "channels: 200",
        "channels: 250",
        "channels",
        200,
        250,
        "SELECT channels FROM customers WHERE name = 'acme-voip'",
        250,
        id="customer-scalar-limit",
    ),
    pytest.param(
        "Customer/acme-voip",
        "city: Austin",
        "city: Dallas",
        "address.city",
        "Austin",
        "Dallas",
        "SELECT address_city FROM customers WHERE name = 'acme-voip'",
        "Dallas",
        id="customer-nested-address-field-flattened-to-a-column",
    ),
    pytest.param(
        "Customer/acme-voip",
        'debitLimit: "500.00"',
        'debitLimit: "750.25"',
        "debitLimit",
        "500",
        "750.25",
        "SELECT debit_limit FROM customers WHERE name = 'acme-voip'",
        Decimal("750.25"),
        id="customer-money-is-decimal",
    ),
    pytest.param(
        "Customer/acme-voip",
        "labels: {tier: gold}",
        "labels: {tier: platinum}",
        "metadata.labels",
        {"tier": "gold"},
        {"tier": "platinum"},
        None,
        None,
        id="customer-labels-are-compared",
    ),
    pytest.param(
        "Customer/acme-voip",
        "name: Luis Ortega",
        "name: Luis Ortega-Diaz",
        "contacts[1].name",
        "Luis Ortega",
        "Luis Ortega-Diaz",
        "SELECT name FROM customer_contacts WHERE position = 1",
        "Luis Ortega-Diaz",
        id="customer-contact-child-row",
    ),
    pytest.param(
        "Customer/acme-voip",
        "notes: premium route",
        "notes: premium route, Austin only",
        "cliRules[0].notes",
        "premium route",
        "premium route, Austin only",
        "SELECT notes FROM customer_cli_rules WHERE position = 0",
        "premium route, Austin only",
        id="customer-cli-rule-child-row",
    ),
    pytest.param(
        "RateCard/usd-wholesale",
        'perMinute: "0.0065"',
        'perMinute: "0.0071"',
        "rates[44].perMinute",
        "0.0065",
        "0.0071",
        "SELECT per_minute FROM rates WHERE prefix = '44'",
        Decimal("0.0071"),
        id="ratecard-inline-rate-by-prefix",
    ),
    pytest.param(
        "RateCard/usd-wholesale",
        'perMinute: "0.0090"',
        'perMinute: "0.0085"',
        "rates[1@2030-01-01].perMinute",
        "0.009",
        "0.0085",
        "SELECT per_minute FROM rates WHERE prefix = '1' AND effective_from IS NOT NULL",
        Decimal("0.0085"),
        id="ratecard-future-rate-keyed-by-effective-from",
    ),
    pytest.param(
        "RateCard/usd-wholesale",
        "description: A-Z wholesale, USD",
        "description: A-Z, USD",
        "description",
        "A-Z wholesale, USD",
        "A-Z, USD",
        "SELECT description FROM rate_cards WHERE name = 'usd-wholesale'",
        "A-Z, USD",
        id="ratecard-scalar",
    ),
    pytest.param(
        "IngressRoute/acme-standard",
        "priority: 10",
        "priority: 20",
        "priority",
        10,
        20,
        "SELECT priority FROM ingress_routes",
        20,
        id="route-priority",
    ),
    pytest.param(
        "IngressRoute/acme-standard",
        'dialStrings: ["1", "44"]',
        'dialStrings: ["1"]',
        "dialStrings",
        ["1", "44"],
        ["1"],
        None,
        None,
        id="route-list-field",
    ),
    pytest.param(
        "IpAuthentication/acme-sbc-pool",
        "address: 192.0.2.0/28",
        "address: 192.0.2.16/29",
        "address",
        "192.0.2.0/28",
        "192.0.2.16/29",
        "SELECT ip_addr || '/' || CAST(mask AS VARCHAR(3)) FROM address WHERE port = 5080",
        "192.0.2.16/29",
        id="ip-auth-cidr-moves-kamailio-columns-too",
    ),
    pytest.param(
        "IpAuthentication/acme-pbx",
        "port: 5060",
        "port: 5062",
        "port",
        5060,
        5062,
        "SELECT port FROM ip_authentications WHERE name = 'acme-pbx'",
        5062,
        id="ip-auth-port",
    ),
    pytest.param(
        "CredentialAuthentication/acme-1001",
        "channels: 10",
        "channels: 12",
        "channels",
        10,
        12,
        "SELECT channels FROM credential_authentications",
        12,
        id="sip-user-limit",
    ),
    pytest.param(
        "Did/acme-reception",
        'retail: "1.00"',
        'retail: "1.50"',
        "retail",
        "1",
        "1.5",
        "SELECT retail FROM dids",
        Decimal("1.5"),
        id="did-monthly-retail",
    ),
    pytest.param(
        "Did/acme-reception",
        'uri: "sip:reception@127.0.0.2:5060"',
        'uri: "sip:ivr@127.0.0.2:5060"',
        "destination.uri",
        "sip:reception@127.0.0.2:5060",
        "sip:ivr@127.0.0.2:5060",
        "SELECT destination_uri FROM dids",
        "sip:ivr@127.0.0.2:5060",
        id="did-destination",
    ),
    pytest.param(
        "Package/acme-bundle",
        "quantity: 1",
        "quantity: 3",
        "quantity",
        1,
        3,
        "SELECT quantity FROM packages",
        3,
        id="package-quantity",
    ),
    pytest.param(
        "Alert/acme-low-balance",
        'threshold: "50"',
        'threshold: "25"',
        "threshold",
        "50",
        "25",
        "SELECT threshold FROM alerts",
        Decimal("25"),
        id="alert-threshold",
    ),
]


@pytest.mark.parametrize(("document", "old", "new", "label", "before", "after", "query", "stored"), UPDATES)
def test_update_shows_field_before_after_and_writes_the_row(
    engine, manifests, apply_state, sql, revisions, document, old, new, label, before, after, query, stored
):
    apply_state(engine, manifests.state())
    changed = manifests.edit(document, old, new).state()

    result = plan(engine, changed)
    assert result.summary == {"create": 0, "update": 1, "delete": 0}
    change = change_of(result, document)
    assert label in change.diff, f"{label} not in {list(change.diff)}"
    diff = change.diff[label].to_json()
    # a changed child row is shown field by field, like the object's own fields
    assert (diff["before"], diff["after"]) == (before, after)

    apply_state(engine, changed)
    if query is not None:
        value = sql(engine, query)[0][0]
        # raw SQL bypasses the column types: SQLite hands money back as text
        assert (Decimal(str(value)) if isinstance(stored, Decimal) else value) == stored
    assert plan(engine, changed).empty
    assert revisions(engine) == 2


# (documents dropped from the state, child tables whose rows must go with the parent)
PRUNES = [
    pytest.param(["Customer/bluefin-telecom"], [], id="customer-without-dependents"),
    pytest.param(
        [
            "Customer/acme-voip",
            "IngressRoute/acme-standard",
            "IpAuthentication/acme-pbx",
            "IpAuthentication/acme-sbc-pool",
            "CredentialAuthentication/acme-1001",
            "Did/acme-reception",
            "Package/acme-bundle",
            "Alert/acme-low-balance",
        ],
        ["customer_contacts", "customer_cli_rules"],
        id="customer-with-contacts-rules-and-everything-referencing-it-fk-restrict-order",
    ),
    pytest.param(["RateCard/eur-standard"], ["rates"], id="ratecard-with-its-rates"),
    pytest.param(["IngressRoute/acme-standard"], [], id="route"),
    pytest.param(["IpAuthentication/acme-sbc-pool"], [], id="ip-auth-cidr"),
    pytest.param(["CredentialAuthentication/acme-1001"], [], id="sip-user"),
    pytest.param(["Did/acme-reception"], [], id="did"),
    pytest.param(["Package/acme-bundle"], [], id="package"),
    pytest.param(["Alert/acme-low-balance"], [], id="alert"),
]


@pytest.mark.parametrize(("dropped", "child_tables"), PRUNES)
def test_prune_deletes_undeclared_owned_objects_and_their_child_rows(
    engine, manifests, apply_state, sql, dropped, child_tables
):
    apply_state(engine, manifests.state())
    parents = {
        d: sql(engine, f"SELECT id FROM {KIND_TABLES[key(d).kind]} WHERE name = :n", n=key(d).name)[0][0]
        for d in dropped
    }
    children_of = {}
    for child in child_tables:
        parent_table, column = next((p, c[child]) for p, c in CHILD_TABLES.items() if child in c)
        ids = [parents[d] for d in dropped if KIND_TABLES[key(d).kind] == parent_table]
        children_of[child] = f"SELECT count(*) FROM {child} WHERE {column} IN ({', '.join(map(str, ids))})"
        assert sql(engine, children_of[child])[0][0] > 0, f"the fixture should give {child} rows"
    remaining = manifests.drop(*dropped).state()

    result = plan(engine, remaining)
    assert result.summary == {"create": 0, "update": 0, "delete": len(dropped)}
    assert {c.key for c in result.changes} == {key(d) for d in dropped}
    kept = plan(engine, remaining, options=Options(prune=False))
    assert kept.empty, "--no-prune must leave undeclared owned objects alone"

    apply_state(engine, remaining)
    for name in dropped:
        k = key(name)
        assert sql(engine, f"SELECT count(*) FROM {KIND_TABLES[k.kind]} WHERE name = :n", n=k.name)[0][0] == 0
        owned = sql(engine, "SELECT count(*) FROM trunkline_objects WHERE kind = :k AND name = :n", k=k.kind, n=k.name)
        assert owned[0][0] == 0
    for child, query in children_of.items():
        assert sql(engine, query)[0][0] == 0, f"{child} rows outlived their parent"
    assert plan(engine, remaining).empty


def test_creates_rank_customers_and_rate_cards_before_what_references_them(engine, manifests):
    result = plan(engine, manifests.state())
    kinds = [c.key.kind for c in result.changes]
    first_dependent = min(i for i, k in enumerate(kinds) if k not in ("Customer", "RateCard"))
    assert set(kinds[:first_dependent]) == {"Customer", "RateCard"}
    assert all(k not in ("Customer", "RateCard") for k in kinds[first_dependent:])


def test_deletes_run_in_reverse_order_so_fk_restrict_never_fires(engine, manifests, apply_state, sql):
    apply_state(engine, manifests.state())
    with pytest.raises(sa.exc.IntegrityError):  # the guard that makes the order matter
        sql(engine, "DELETE FROM customers WHERE name = 'acme-voip'")

    only_bluefin = manifests.only("Customer/bluefin-telecom", "RateCard/eur-standard").state()
    result = plan(engine, only_bluefin)
    assert all(c.action == "delete" for c in result.changes)
    kinds = [c.key.kind for c in result.changes]
    last_dependent = max(i for i, k in enumerate(kinds) if k not in ("Customer", "RateCard"))
    assert set(kinds[last_dependent + 1 :]) == {"Customer", "RateCard"}

    apply_state(engine, only_bluefin)
    assert sql(engine, "SELECT name FROM customers") == [("bluefin-telecom",)]
    assert sql(engine, "SELECT count(*) FROM ingress_routes")[0][0] == 0


def test_drifted_column_plans_an_update_back_to_the_declared_value(engine, manifests, apply_state, sql):
    state = manifests.state()
    apply_state(engine, state)
    sql(engine, "UPDATE customers SET channels = 999 WHERE name = 'acme-voip'")

    result = plan(engine, state)
    change = change_of(result, "Customer/acme-voip")
    assert change.action == "update" and not change.adopt
    assert change.diff["channels"].to_json() == {"before": 999, "after": 200}
    apply_state(engine, state)
    assert sql(engine, "SELECT channels FROM customers WHERE name = 'acme-voip'") == [(200,)]
    assert plan(engine, state).empty


def test_drifted_child_row_plans_an_update(engine, manifests, apply_state, sql):
    state = manifests.state()
    apply_state(engine, state)
    sql(engine, "DELETE FROM rates WHERE prefix = '449'")

    change = change_of(plan(engine, state), "RateCard/usd-wholesale")
    assert change.diff["rates[449]"].before is None
    apply_state(engine, state)
    assert sql(engine, "SELECT blocked FROM rates WHERE prefix = '449'") == [(True,)]


@pytest.mark.parametrize(
    ("document", "table"),
    [
        pytest.param("Package/acme-bundle", "packages", id="leaf-row"),
        pytest.param("RateCard/eur-standard", "rate_cards", id="row-with-children-deleted-first"),
    ],
)
def test_owned_row_deleted_behind_our_back_is_recreated(engine, manifests, apply_state, sql, document, table):
    state = manifests.state()
    apply_state(engine, state)
    name = key(document).name
    if table == "rate_cards":
        sql(engine, "DELETE FROM rates WHERE rate_card_id = (SELECT id FROM rate_cards WHERE name = :n)", n=name)
    sql(engine, f"DELETE FROM {table} WHERE name = :n", n=name)

    result = plan(engine, state)
    assert [(c.action, c.key) for c in result.changes] == [("create", key(document))]
    apply_state(engine, state)
    assert sql(engine, f"SELECT count(*) FROM {table} WHERE name = :n", n=name) == [(1,)]
    owned = sql(engine, "SELECT row_id FROM trunkline_objects WHERE name = :n", n=name)[0][0]
    assert owned == sql(engine, f"SELECT id FROM {table} WHERE name = :n", n=name)[0][0]
    assert plan(engine, state).empty


def _rename(manifests, document: str, new_name: str) -> None:
    kind, _, old_name = document.partition("/")
    text = manifests.documents.pop(document)
    manifests.documents[f"{kind}/{new_name}"] = text.replace(f"name: {old_name}\n", f"name: {new_name}\n", 1)


@pytest.mark.parametrize(
    ("document", "query"),
    [
        pytest.param("Did/acme-reception", "SELECT name, number FROM dids", id="did-rename-frees-the-number-first"),
        pytest.param(
            "CredentialAuthentication/acme-1001",
            "SELECT name, username FROM credential_authentications",
            id="sip-user-rename-frees-username-and-realm-first",
        ),
    ],
)
def test_renaming_an_object_with_a_unique_value_deletes_before_it_creates(
    engine, manifests, apply_state, sql, document, query
):
    apply_state(engine, manifests.state())
    value = sql(engine, query)[0][1]
    _rename(manifests, document, "renamed")
    state = manifests.state()

    result = plan(engine, state)
    assert [(c.action, c.key.name) for c in result.changes] == [("delete", key(document).name), ("create", "renamed")]
    apply_state(engine, state)
    assert sql(engine, query) == [("renamed", value)]


def test_a_number_moving_to_a_new_did_is_released_by_the_update_first(engine, manifests, apply_state, sql):
    apply_state(engine, manifests.state())
    manifests.documents["Did/acme-main"] = manifests.documents["Did/acme-reception"].replace(
        "name: acme-reception", "name: acme-main"
    )
    manifests.edit("Did/acme-reception", '"+12125550142"', '"+12125550143"')
    state = manifests.state()

    result = plan(engine, state)
    assert [(c.action, c.key.name) for c in result.changes] == [("update", "acme-reception"), ("create", "acme-main")]
    apply_state(engine, state)
    assert sorted(sql(engine, "SELECT name, number FROM dids")) == [
        ("acme-main", "12125550142"),
        ("acme-reception", "12125550143"),
    ]


def test_same_names_in_two_namespaces_are_separate_objects(engine, manifests, apply_state, sql):
    tenant = {
        name.replace("/", "/tenant-b/"): doc.replace("metadata:\n", "metadata:\n  namespace: tenant-b\n", 1)
        for name, doc in manifests.documents.items()
        if name.startswith(("Customer/acme-voip", "RateCard/usd-wholesale", "IngressRoute/"))
    }
    manifests.documents.update(tenant)
    apply_state(engine, manifests.state())
    routes = (
        "SELECT r.namespace, c.namespace, k.namespace FROM ingress_routes r"
        " JOIN customers c ON c.id = r.customer_id JOIN rate_cards k ON k.id = r.rate_card_id"
    )
    assert sorted(sql(engine, routes)) == [("default",) * 3, ("tenant-b",) * 3]

    manifests.edit("Customer/tenant-b/acme-voip", "channels: 200", "channels: 5")
    result = plan(engine, manifests.state())
    assert [str(c.key) for c in result.changes] == ["Customer/tenant-b/acme-voip"]
    apply_state(engine, manifests.state())
    assert sorted(sql(engine, "SELECT namespace, channels FROM customers WHERE name = 'acme-voip'")) == [
        ("default", 200),
        ("tenant-b", 5),
    ]


def test_owned_row_gone_and_no_longer_declared_is_forgotten(engine, manifests, apply_state, sql, revisions):
    apply_state(engine, manifests.state())
    sql(engine, "DELETE FROM packages WHERE name = 'acme-bundle'")
    state = manifests.drop("Package/acme-bundle").state()

    result = plan(engine, state)
    assert result.changes == () and result.forgotten == (key("Package/acme-bundle"),)
    assert not result.empty, "the stale ownership record still has to be cleared"
    apply_state(engine, state)
    assert sql(engine, "SELECT count(*) FROM trunkline_objects WHERE name = 'acme-bundle'") == [(0,)]
    assert revisions(engine) == 2
    assert plan(engine, state).empty
