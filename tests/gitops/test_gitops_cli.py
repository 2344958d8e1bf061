"""``trunkline sync`` end to end through the CLI: output, exit codes, and what reaches the database."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from reconciler.cli import main

PROD = "clusters/prod"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exited:
        main(["sync", *args])
    out, err = capsys.readouterr()
    return int(exited.value.code or 0), out, err


def test_sync_applies_a_commit_then_reports_no_changes(db_url, remote, cache_dir, manifests, capsys):
    sha = remote.commit(manifests(), "Onboard Acme VoIP")
    args = ("--repo", str(remote.path), "--ref", "main", "--path", PROD, "--db", db_url)

    code, out, err = run(capsys, *args)
    assert (code, err) == (0, "")
    assert "+ Customer/default/acme-voip" in out
    assert f"Applied {sha[:12]} (Onboard Acme VoIP) as revision 1." in out

    code, out, err = run(capsys, *args)
    assert (code, err) == (0, "")
    assert f"No changes at {sha[:12]} (Onboard Acme VoIP)." in out


def test_sync_json_output_names_the_commit_and_revision(db_url, remote, cache_dir, manifests, capsys):
    sha = remote.commit(manifests(), "Onboard Acme VoIP")

    code, out, _ = run(capsys, "--repo", remote.url, "--ref", "main", "--path", PROD, "--db", db_url, "-o", "json")

    assert code == 0
    body = json.loads(out)
    assert body["revision"] == 1
    assert body["source"] == f"{remote.url}#{PROD}"
    assert body["commit"] == {
        "sha": sha,
        "author": "Dana Whitfield <dana@kestrel-voice.example>",
        "subject": "Onboard Acme VoIP",
    }


@pytest.mark.parametrize(
    ("repo", "ref", "message"),
    [
        pytest.param(None, "release-2031", "ref release-2031 not found in ", id="unknown-ref"),
        pytest.param("/nonexistent/kestrel-config", "main", "cannot fetch /nonexistent/kestrel-config: ", id="no-repo"),
        pytest.param(None, "--upload-pack=touch", "not found in", id="option-looking-ref-is-not-passed-to-git"),
        pytest.param(None, "HEAD", "ref HEAD not found in ", id="head-of-the-cache-is-not-a-remote-ref"),
        pytest.param(None, "main~1", "ref main~1 not found in ", id="revision-expressions-are-not-refs"),
    ],
)
def test_source_errors_exit_1_and_leave_the_database_alone(
    db_url, engine, remote, cache_dir, manifests, dump, capsys, repo, ref, message
):
    remote.commit(manifests(), "Onboard Acme VoIP")
    assert run(capsys, "--repo", remote.url, "--ref", "main", "--path", PROD, "--db", db_url)[0] == 0
    before = dump(engine)

    code, out, err = run(capsys, "--repo", repo or remote.url, "--ref", ref, "--path", PROD, "--db", db_url)

    assert code == 1
    assert message in err
    assert "Traceback" not in err + out
    assert dump(engine) == before


def test_an_invalid_commit_exits_2_naming_it_and_the_database_stays_at_the_valid_one(
    db_url, engine, remote, cache_dir, manifests, dump, capsys
):
    remote.commit(manifests(), "Onboard Acme VoIP")
    args = ("--repo", remote.url, "--ref", "main", "--path", PROD, "--db", db_url)
    assert run(capsys, *args)[0] == 0
    before = dump(engine)
    broken = manifests(channels=-5, us_rate="0.0052")
    bad = remote.commit(broken, "Reprice US; negative channels by mistake")

    code, _, err = run(capsys, *args)

    assert code == 2
    assert f"{bad[:12]}:{PROD}/customers.yaml:" in err
    assert "Customer/default/acme-voip" in err
    assert dump(engine) == before


def test_a_path_missing_in_the_commit_is_an_invalid_commit(sqlite_url, remote, cache_dir, manifests, capsys):
    sha = remote.commit(manifests(), "Onboard Acme VoIP")

    code, _, err = run(capsys, "--repo", remote.url, "--ref", "main", "--path", "clusters/staging", "--db", sqlite_url)

    assert code == 2
    assert f"{sha[:12]}:clusters/staging: no such file or directory" in err


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        pytest.param("../outside", "must be relative to the repository root", id="parent-escape"),
        pytest.param("/etc", "must be relative to the repository root", id="absolute"),
    ],
)
def test_a_path_outside_the_repository_is_refused(sqlite_url, remote, cache_dir, manifests, capsys, path, reason):
    remote.commit(manifests(), "Onboard Acme VoIP")

    code, _, err = run(capsys, "--repo", remote.url, "--ref", "main", "--path", path, "--db", sqlite_url)

    assert code == 1
    assert reason in err


def test_credentials_in_the_url_never_reach_the_output(sqlite_url, cache_dir, capsys):
    url = "https://deploy-bot:ghp_s3cretT0ken@127.0.0.1:9/kestrel/switch-config.git"

    code, out, err = run(capsys, "--repo", url, "--ref", "main", "--db", sqlite_url)

    assert code == 1
    assert "cannot fetch https://deploy-bot:***@127.0.0.1:9/kestrel/switch-config.git: " in err
    assert "s3cretT0ken" not in out + err


@pytest.mark.e2e
def test_sync_is_a_registered_command_of_the_installed_cli(sqlite_url, remote, cache_dir, manifests):
    sha = remote.commit(manifests(), "Onboard Acme VoIP")

    argv = ["sync", "--repo", remote.url, "--ref", "main", "--path", PROD, "--db", sqlite_url]

    done = subprocess.run(
        [sys.executable, "-m", "reconciler.cli", *argv],
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode == 0, done.stderr
    assert f"Applied {sha[:12]}" in done.stdout
