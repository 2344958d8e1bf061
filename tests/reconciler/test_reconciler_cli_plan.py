"""``trunkline plan`` and ``trunkline apply`` as a CI job runs them: exit codes, text, JSON.

Most runs call ``reconciler.cli.main`` in this process (a subprocess costs a second of imports);
one test runs the real ``python -m reconciler.cli`` to prove the process exit codes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from support.cli import run_cli

from switchdb.engine import open_database

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def trunkline(capsys, monkeypatch):
    """``trunkline(*args)``: run the CLI in-process; exit code and captured output."""
    monkeypatch.delenv("TRUNKLINE_DB", raising=False)
    monkeypatch.delenv("TRUNKLINE_DEBUG", raising=False)
    monkeypatch.setenv("TRUNKLINE_ACTOR", "pytest")

    return lambda *args: run_cli(capsys, *args)


def test_the_command_exits_2_with_changes_and_0_without(db_url, manifests, tmp_path):
    path = str(manifests.write(tmp_path / "repo"))
    env = {k: v for k, v in os.environ.items() if k not in ("TRUNKLINE_DB", "TRUNKLINE_DEBUG")}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "reconciler.cli", *args, "--db", db_url]
        return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)

    assert run("plan", path, "--detailed-exitcode").returncode == 2
    applied = run("apply", path, "--auto-approve")
    assert applied.returncode == 0, applied.stderr
    assert run("plan", path, "--detailed-exitcode").returncode == 0


def test_plan_apply_plan_exit_codes_and_json(db_url, manifests, tmp_path, secrets, trunkline):
    path = str(manifests.write(tmp_path / "repo"))

    planned = trunkline("plan", path, "--db", db_url, "--detailed-exitcode")
    assert planned.returncode == 2, planned.stderr
    assert "+ Customer/default/acme-voip" in planned.stdout
    assert f"Plan: {len(manifests.documents)} to create, 0 to update, 0 to delete" in planned.stdout

    as_json = trunkline("plan", path, "--db", db_url, "--output", "json")
    assert as_json.returncode == 0, as_json.stderr
    document = json.loads(as_json.stdout)
    assert document["summary"] == {"create": len(manifests.documents), "update": 0, "delete": 0}
    for change in document["changes"]:
        assert {"action", "kind", "namespace", "name", "diff"} <= set(change)
        assert change["action"] == "create" and change["namespace"] == "default"
        for field, values in change["diff"].items():
            assert set(values) == {"before", "after"}, field
            assert values["before"] is None
    customer = next(c for c in document["changes"] if c["name"] == "acme-voip")
    assert customer["diff"]["channels"] == {"before": None, "after": 200}
    assert all(s.value not in as_json.stdout for s in secrets.values())

    applied = trunkline("apply", path, "--db", db_url, "--auto-approve")
    assert applied.returncode == 0, applied.stderr
    assert "Applied as revision 1" in applied.stdout

    unchanged = trunkline("plan", path, "--db", db_url, "--detailed-exitcode")
    assert unchanged.returncode == 0, unchanged.stderr
    assert "No changes." in unchanged.stdout

    manifests.edit("Customer/acme-voip", "channels: 200", "channels: 240").write(tmp_path / "repo")
    update = trunkline("plan", path, "--db", db_url, "--detailed-exitcode", "-o", "json")
    assert update.returncode == 2, update.stderr
    assert json.loads(update.stdout) == {
        "changes": [
            {
                "action": "update",
                "kind": "Customer",
                "namespace": "default",
                "name": "acme-voip",
                "diff": {"channels": {"before": 200, "after": 240}},
            }
        ],
        "summary": {"create": 0, "update": 1, "delete": 0},
        "unchanged": len(manifests.documents) - 1,
        "unmanaged": [],
    }


# (what is wrong with the manifests, the field the error names)
INVALID = [
    pytest.param("unknown-field", "spec.channelz", id="unknown-field-caught-when-loading"),
    pytest.param("missing-secret", "spec.passwordRef", id="unset-password-env-caught-when-planning"),
]


@pytest.mark.parametrize("command", ["plan", "apply"])
@pytest.mark.parametrize(("mistake", "field"), INVALID)
def test_invalid_manifests_exit_2_and_write_nothing(
    db_url, manifests, tmp_path, monkeypatch, trunkline, command, mistake, field
):
    if mistake == "unknown-field":
        manifests.edit("Package/acme-bundle", "quantity: 1", "quantity: 1\n  channelz: 1")
    else:
        monkeypatch.delenv("TL_TEST_ACME_SIP_PASSWORD")
    path = manifests.write(tmp_path / "repo")
    extra = ["--auto-approve"] if command == "apply" else ["--detailed-exitcode"]

    result = trunkline(command, str(path), "--db", db_url, *extra)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert f"{path}:" in result.stderr and field in result.stderr
    assert "Traceback" not in result.stderr

    url = make_url(db_url)
    if url.get_backend_name() == "sqlite" and mistake == "unknown-field":
        assert not Path(url.database).exists(), "a manifest that does not load never opens the database"
        return
    engine = open_database(db_url, upgrade=False)
    try:
        with engine.connect() as conn:
            tables = sa.inspect(conn).get_table_names()
            counts = {t: conn.execute(sa.text(f'SELECT count(*) FROM "{t}"')).scalar_one() for t in tables}
            changes = 0  # an invalid manifest may stop before the database is even migrated
            if "trunkline_table_changes" in tables:
                changes = conn.execute(sa.text("SELECT sum(changes) FROM trunkline_table_changes")).scalar_one()
    finally:
        engine.dispose()
    seeded = ("trunkline_alembic_version", "version", "trunkline_table_changes")  # by the migrations
    assert {t: n for t, n in counts.items() if n and t not in seeded} == {}
    assert changes == 0, "the change counters say a counted table was written"


def test_conflict_exits_1_and_adopt_resolves_it(db_url, manifests, tmp_path, trunkline):
    path = str(manifests.only("Customer/bluefin-telecom").write(tmp_path / "repo"))
    first = trunkline("apply", path, "--db", db_url, "-y")
    assert first.returncode == 0, first.stderr
    engine = open_database(db_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM trunkline_objects"))
    finally:
        engine.dispose()

    conflict = trunkline("plan", path, "--db", db_url)
    assert conflict.returncode == 1
    assert "not managed by Trunkline" in conflict.stderr and "--adopt" in conflict.stderr
    adopted = trunkline("apply", path, "--db", db_url, "--adopt", "-y", "-o", "json")
    assert adopted.returncode == 0, adopted.stderr
    [change] = json.loads(adopted.stdout)["changes"]
    assert (change["action"], change.get("adopt")) == ("update", True)
