"""``trunkline drift``: owned rows changed or deleted behind Trunkline's back are reported, never written."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from reconciler import reconcile
from reconciler.apply import RevisionInfo
from reconciler.cli import main
from reconciler.drift import detect_drift
from resources import ObjectKey, load_text

PROD = "clusters/prod"
SIP_USER = """\
---
apiVersion: trunkline.dev/v1alpha1
kind: CredentialAuthentication
metadata:
  name: acme-softswitch-1001
spec:
  customerRef: acme-voip
  username: acme1001
  realm: sip.kestrel.example
  passwordRef:
    env: KESTREL_ACME1001_PASSWORD
  channels: 10
"""
OTHER_CUSTOMER = """\
apiVersion: trunkline.dev/v1alpha1
kind: Customer
metadata:
  name: legacy-carrier
spec:
  displayName: Legacy Carrier Ltd
  currency: USD
"""


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exited:
        main(list(args))
    out, err = capsys.readouterr()
    return int(exited.value.code or 0), out, err


@pytest.fixture
def synced(db_url, remote, cache_dir, manifests, capsys, monkeypatch):
    """Kestrel's production directory (with one SIP user) committed and synced; the drift arguments."""
    monkeypatch.setenv("KESTREL_ACME1001_PASSWORD", "correct horse battery staple")
    files = manifests()
    files[f"{PROD}/auth.yaml"] += SIP_USER
    remote.commit(files, "Onboard Acme VoIP")
    assert run(capsys, "sync", "--repo", remote.url, "--ref", "main", "--path", PROD, "--db", db_url)[0] == 0
    return ("drift", "--repo", remote.url, "--ref", "main", "--path", PROD, "--db", db_url)


def test_no_drift_exits_0(synced, capsys):
    code, out, err = run(capsys, *synced)

    assert (code, err) == (0, "")
    assert "No drift: 5 owned objects match their declarations (0 unmanaged)." in out


def test_a_direct_sql_update_is_drift_exit_2_and_nothing_is_written(synced, engine, dump, capsys):
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE customers SET channels = 999 WHERE name = 'acme-voip'"))
        conn.execute(sa.text("UPDATE rates SET per_minute = '0.0001' WHERE prefix = '44'"))
    before = dump(engine)

    code, out, err = run(capsys, *synced)

    assert (code, err) == (2, "")
    assert dump(engine) == before
    lines = [" ".join(line.split()) for line in out.splitlines()]
    assert "Customer/default/acme-voip channels 200 999" in lines
    assert any(line.startswith("RateCard/default/usd-wholesale rates[44]") and "0.0001" in line for line in lines)
    assert "Drift: 2 fields on 2 objects (3 in sync, 0 unmanaged)." in out


def test_drift_json_lists_field_declared_and_live(synced, engine, dump, capsys):
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE customers SET channels = 999 WHERE name = 'acme-voip'"))
    before = dump(engine)

    code, out, _ = run(capsys, *synced, "--output", "json")

    assert code == 2
    assert dump(engine) == before
    body = json.loads(out)
    assert body["drifted"] is True
    assert body["drift"] == [
        {
            "kind": "Customer",
            "namespace": "default",
            "name": "acme-voip",
            "reason": "changed",
            "field": "channels",
            "declared": 200,
            "live": 999,
        }
    ]
    assert body["commit"]["subject"] == "Onboard Acme VoIP"


def test_a_changed_password_hash_is_drift_shown_as_sensitive(synced, engine, capsys):
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE credential_authentications SET ha1 = 'f00d' WHERE username = 'acme1001'"))

    code, out, _ = run(capsys, *synced, "-o", "json")

    assert code == 2
    drift = json.loads(out)["drift"]
    assert [(d["name"], d["field"], d["declared"], d["live"]) for d in drift] == [
        ("acme-softswitch-1001", "password", "(sensitive)", "(sensitive)")
    ]
    assert "f00d" not in out


def test_a_deleted_owned_row_is_missing(synced, engine, dump, capsys):
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM ip_authentications WHERE name = 'acme-pbx'"))
    before = dump(engine)

    code, out, _ = run(capsys, *synced, "-o", "json")

    assert code == 2
    assert dump(engine) == before
    assert json.loads(out)["drift"] == [
        {
            "kind": "IpAuthentication",
            "namespace": "default",
            "name": "acme-pbx",
            "reason": "missing",
            "field": None,
            "declared": None,
            "live": None,
        }
    ]


def test_unmanaged_rows_are_reported_but_are_not_drift(synced, engine, capsys):
    key = ObjectKey("Customer", "default", "legacy-carrier")
    reconcile.apply(
        engine,
        load_text(OTHER_CUSTOMER),
        info=RevisionInfo(actor="test", source="legacy"),
        options=reconcile.Options(scope=[key], prune=False),
    )
    assert reconcile.release(engine, [key]) == 1  # a row Trunkline does not own

    code, out, _ = run(capsys, *synced)
    assert code == 0
    assert "unmanaged Customer/default/legacy-carrier (not declared)" in out
    assert "(1 unmanaged)" in out

    code, out, _ = run(capsys, *synced, "-o", "json")
    assert code == 0
    assert json.loads(out)["unmanaged"] == [
        {"kind": "Customer", "namespace": "default", "name": "legacy-carrier", "declared": False}
    ]


def test_drift_of_local_paths_and_pending_declarations(engine, db_url, tmp_path, manifests, capsys):
    for name, text in manifests().items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)

    # Nothing applied yet: every declaration is pending, which is not drift.
    report = detect_drift(engine, load_text((tmp_path / PROD / "customers.yaml").read_text()))
    assert (report.drifted, report.pending) == (False, (ObjectKey("Customer", "default", "acme-voip"),))

    code, out, _ = run(capsys, "drift", str(tmp_path / PROD), "--db", db_url)
    assert code == 0
    assert "pending   Customer/default/acme-voip (declared, not applied yet)" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param((), "give manifest PATHS, or --repo", id="neither-paths-nor-repo"),
        pytest.param(("examples", "--repo", "."), "not both", id="paths-and-repo"),
        pytest.param(("--repo", "."), "--repo needs --ref", id="repo-without-ref"),
        pytest.param(("/nonexistent/manifests",), "no such file or directory", id="invalid-input-is-1-not-2"),
    ],
)
def test_errors_exit_1_never_2(sqlite_url, capsys, args, message):
    code, _, err = run(capsys, "drift", *args, "--db", sqlite_url)

    assert code == 1
    assert message in err
