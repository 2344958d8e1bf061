"""``trunkline rollback N``: the snapshot stored on revision N is applied again, with no git needed."""

from __future__ import annotations

import json
import shutil

import pytest

from reconciler import reconcile
from reconciler.apply import RevisionInfo
from reconciler.cli import main
from reconciler.cli.commands.rollback import stored_snapshot
from reconciler.export import export_manifests
from reconciler.mapping import kind_maps
from reconciler.observe import observe
from reconciler.snapshot import restore
from resources import ObjectKey, load_text

PROD = "clusters/prod"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exited:
        main(list(args))
    out, err = capsys.readouterr()
    return int(exited.value.code or 0), out, err


def live_export(engine) -> list[dict]:
    with engine.connect() as conn:
        return export_manifests(observe(conn, kind_maps()))


def sync(capsys, remote, db_url) -> None:
    code, _, err = run(capsys, "sync", "--repo", remote.url, "--ref", "main", "--path", PROD, "--db", db_url)
    assert (code, err) == (0, "")


def test_rollback_restores_a_revision_exactly_after_the_repository_is_gone(
    db_url, engine, remote, cache_dir, manifests, capsys
):
    remote.commit(manifests(), "Onboard Acme VoIP")
    sync(capsys, remote, db_url)
    at_revision_1 = live_export(engine)
    remote.commit(manifests(us_rate="0.0052", channels=300, ip_auth=False), "Reprice US, drop the PBX")
    sync(capsys, remote, db_url)
    assert live_export(engine) != at_revision_1
    shutil.rmtree(remote.path)
    shutil.rmtree(cache_dir)

    code, out, err = run(capsys, "rollback", "1", "--auto-approve", "--db", db_url)

    assert (code, err) == (0, "")
    assert "+ IpAuthentication/default/acme-pbx" in out
    assert "Rolled back to revision 1 as revision 3." in out
    assert live_export(engine) == at_revision_1
    # The live state is exactly the snapshot: planning the snapshot against it changes nothing.
    snapshot = stored_snapshot(engine, 1)
    assert reconcile.plan(engine, restore(snapshot)).empty
    assert stored_snapshot(engine, 3) == snapshot
    code, out, _ = run(capsys, "history", "--db", db_url, "-o", "json")
    newest = json.loads(out)[0]
    assert (newest["revision"], newest["source"], newest["commit"], newest["snapshot"]) == (
        3,
        "rollback to revision 1",
        None,
        True,
    )
    assert newest["summary"] == {"create": 1, "update": 2, "delete": 0}


def test_rollback_to_the_live_revision_changes_nothing(db_url, engine, remote, cache_dir, manifests, dump, capsys):
    remote.commit(manifests(), "Onboard Acme VoIP")
    sync(capsys, remote, db_url)
    before = dump(engine)

    code, out, _ = run(capsys, "rollback", "1", "-y", "--db", db_url)

    assert code == 0
    assert "No changes." in out
    assert dump(engine) == before


def test_rollback_asks_and_refuses_without_a_terminal(db_url, engine, remote, cache_dir, manifests, dump, capsys):
    remote.commit(manifests(), "Onboard Acme VoIP")
    sync(capsys, remote, db_url)
    remote.commit(manifests(channels=300), "More channels")
    sync(capsys, remote, db_url)
    before = dump(engine)

    code, out, err = run(capsys, "rollback", "1", "--db", db_url)

    assert code == 2
    assert "channels: 300 → 200" in out  # the plan is shown before asking
    assert "stdin is not a terminal" in err
    assert dump(engine) == before


def test_a_scoped_revision_has_no_snapshot_and_cannot_be_rolled_back(db_url, engine, dump, capsys):
    state = load_text(
        "apiVersion: trunkline.dev/v1alpha1\nkind: Customer\nmetadata: {name: acme-voip}\n"
        "spec: {displayName: Acme VoIP Inc., currency: USD}\n"
    )
    key = ObjectKey("Customer", "default", "acme-voip")
    result = reconcile.apply(
        engine, state, info=RevisionInfo(actor="operator", source="k8s"), options=reconcile.Options(scope=[key])
    )
    assert result.revision_id == 1
    before = dump(engine)

    code, _, err = run(capsys, "rollback", "1", "-y", "--db", db_url)

    assert code == 1
    assert "cannot roll back: revision 1 has no snapshot" in err
    assert dump(engine) == before


def test_rollback_of_a_revision_that_does_not_exist_exits_1(sqlite_url, capsys):
    code, _, err = run(capsys, "rollback", "42", "-y", "--db", sqlite_url)

    assert code == 1
    assert "cannot roll back: revision 42 does not exist" in err


def test_history_shows_commit_author_subject_and_whether_rollback_is_possible(
    sqlite_url, remote, cache_dir, manifests, capsys
):
    sha = remote.commit(manifests(), "Onboard Acme VoIP")
    sync(capsys, remote, sqlite_url)

    code, out, _ = run(capsys, "history", "--db", sqlite_url)

    assert code == 0
    header, row = (" ".join(line.split()) for line in out.splitlines()[:2])
    assert header == "REV TIME ACTOR SOURCE COMMIT AUTHOR SUBJECT + ~ - ROLLBACK"
    assert f"{sha[:12]} Dana Whitfield <dana@kestrel-voice.example> Onboard Acme VoIP 4 0 0 yes" in row
