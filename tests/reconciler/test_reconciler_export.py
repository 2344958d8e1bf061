"""What others read back: exported manifests plan as a no-op, and Kamailio's views show the
declared addresses and SIP users."""

from __future__ import annotations

import hashlib
import io

import pytest
from ruamel.yaml import YAML

import resources
from reconciler.export import export_manifests
from reconciler.mapping import kind_maps
from reconciler.observe import observe
from reconciler.reconcile import Options, plan

EGRESS = """\
apiVersion: trunkline.dev/v1alpha1
kind: IpAuthentication
metadata:
  name: acme-egress
spec:
  customerRef: acme-voip
  direction: Egress
  address: pbx.acme-voip.example
  protocol: tls
  port: 5061
"""


def exported_yaml(engine) -> str:
    with engine.connect() as conn:
        live = observe(conn, kind_maps())
    buffer = io.StringIO()
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    yaml.dump_all(export_manifests(live), buffer)
    return buffer.getvalue()


def test_export_validate_plan_is_a_no_op(engine, manifests, apply_state, secrets):
    manifests.documents["IpAuthentication/acme-egress"] = EGRESS
    apply_state(engine, manifests.state())

    text = exported_yaml(engine)
    state = resources.load_text(text, file="exported.yaml")
    assert set(state.objects) == set(manifests.state().objects)
    result = plan(engine, state)
    assert result.changes == () and result.empty, [(str(c.key), dict(c.diff)) for c in result.changes]

    for secret in secrets.values():
        assert secret.value not in text
        assert secret.env in text, "the reference is exported, so the same environment resolves it"
    for derived in ("ha1:", "ha1b:", "ip_addr:", "mask:", "password_hash:"):
        assert derived not in text, f"{derived} is computed, not declared"


def test_exporting_a_switch_that_predates_trunkline_then_adopting_it_changes_no_row(
    engine, manifests, apply_state, sql, dump
):
    apply_state(engine, manifests.state())
    sql(engine, "DELETE FROM trunkline_objects")  # as if another system had written these rows
    rows_before = {t: r for t, r in dump(engine).items() if t not in BOOKKEEPING}
    state = resources.load_text(exported_yaml(engine), file="exported.yaml")

    result = plan(engine, state, options=Options(adopt=True))
    assert {(c.action, c.adopt) for c in result.changes} == {("update", True)}
    assert all(not c.diff for c in result.changes), "exported manifests describe the rows exactly"
    apply_state(engine, state, options=Options(adopt=True))

    after = dump(engine)
    assert {t: r for t, r in after.items() if t not in BOOKKEEPING} == rows_before
    assert len(after["trunkline_objects"]) == len(manifests.documents)
    assert plan(engine, state).empty


BOOKKEEPING = ("trunkline_objects", "trunkline_revisions", "trunkline_table_changes")  # written by adopting


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


ADDRESS = "SELECT grp, ip_addr, mask, port FROM address ORDER BY ip_addr"
SUBSCRIBER = "SELECT username, domain, ha1 FROM subscriber"


def test_kamailio_views_show_the_declared_addresses_and_sip_users(engine, manifests, apply_state, sql, secrets):
    manifests.documents["IpAuthentication/acme-egress"] = EGRESS
    apply_state(engine, manifests.state())
    acme = sql(engine, "SELECT id FROM customers WHERE name = 'acme-voip'")[0][0]

    assert sql(engine, ADDRESS) == [(acme, "127.0.0.2", 32, 5060), (acme, "192.0.2.0", 28, 5080)]
    assert sql(engine, SUBSCRIBER) == [
        ("acme1001", "sip.kestrel.example", md5(f"acme1001:sip.kestrel.example:{secrets['sip'].value}"))
    ]


@pytest.mark.parametrize(
    ("document", "old", "new", "query", "expected"),
    [
        pytest.param(
            "IpAuthentication/acme-sbc-pool",
            "address: 192.0.2.0/28",
            "address: 198.51.100.64/26",
            "SELECT ip_addr, mask, port FROM address WHERE port = 5080",
            [("198.51.100.64", 26, 5080)],
            id="address-moves-with-the-cidr",
        ),
        pytest.param(
            "CredentialAuthentication/acme-1001",
            "username: acme1001",
            "username: acme2002",
            "SELECT username, domain FROM subscriber",
            [("acme2002", "sip.kestrel.example")],
            id="subscriber-follows-a-renamed-user",
        ),
    ],
)
def test_kamailio_views_follow_updates(engine, manifests, apply_state, sql, document, old, new, query, expected):
    apply_state(engine, manifests.state())
    apply_state(engine, manifests.edit(document, old, new).state())
    assert sql(engine, query) == expected


def test_kamailio_views_drop_pruned_rows(engine, manifests, apply_state, sql):
    apply_state(engine, manifests.state())
    apply_state(engine, manifests.drop("IpAuthentication/acme-pbx", "CredentialAuthentication/acme-1001").state())
    assert [r[1:] for r in sql(engine, ADDRESS)] == [("192.0.2.0", 28, 5080)]
    assert sql(engine, SUBSCRIBER) == []
