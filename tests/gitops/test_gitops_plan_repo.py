"""``trunkline plan --repo``: a pull request's preview of one commit, as a comment-ready markdown plan."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from reconciler.cli import main

PROD = "clusters/prod"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exited:
        main(list(args))
    out, err = capsys.readouterr()
    return int(exited.value.code or 0), out, err


@pytest.fixture
def branch(db_url, remote, cache_dir, manifests, capsys):
    """main synced; a branch ``reprice`` with one commit changing the US rate, not synced."""
    remote.commit(manifests(), "Onboard Acme VoIP")
    assert run(capsys, "sync", "--repo", remote.url, "--ref", "main", "--path", PROD, "--db", db_url)[0] == 0
    remote.repo.git.checkout("-b", "reprice")
    sha = remote.commit(manifests(us_rate="0.0052"), "Reprice US/Canada")
    return sha, ("plan", "--repo", str(remote.path), "--ref", "reprice", "--path", PROD, "--db", db_url)


def test_markdown_plan_names_the_commit_and_shows_the_diff(branch, engine, dump, capsys):
    sha, args = branch
    before = dump(engine)

    code, out, err = run(capsys, *args, "--output", "markdown")

    assert (code, err) == (0, "")
    assert dump(engine) == before
    lines = out.splitlines()
    assert lines[0] == f"### Trunkline plan for `{sha[:12]}` Reprice US/Canada"
    assert f"Commit `{sha}` by Dana Whitfield" in out
    assert "| 0 | 1 | 0 | 3 |" in lines  # create, update, delete, unchanged
    assert "```diff" in lines
    assert "! RateCard/default/usd-wholesale" in lines
    assert any(line.startswith("!   rates[1]") and '"0.0045"' in line and '"0.0052"' in line for line in lines)
    assert "**Plan: 0 to create, 1 to update, 0 to delete (3 unchanged).**" in lines


def test_text_and_json_plans_of_a_commit(branch, capsys):
    sha, args = branch

    code, out, _ = run(capsys, *args)
    assert code == 0
    assert "~ RateCard/default/usd-wholesale" in out
    assert f"Plan for {sha[:12]} (Reprice US/Canada)." in out

    code, out, _ = run(capsys, *args, "-o", "json")
    body = json.loads(out)
    assert body["summary"] == {"create": 0, "update": 1, "delete": 0}
    assert body["commit"]["sha"] == sha
    assert body["source"].endswith(f"#{PROD}")


def test_detailed_exitcode_and_a_commit_with_nothing_to_do(branch, capsys):
    _, args = branch
    assert run(capsys, *args, "--detailed-exitcode")[0] == 2

    code, out, _ = run(capsys, *args[:4], "main", *args[5:], "--output", "markdown", "--detailed-exitcode")
    assert code == 0
    assert "No changes: the switch database already matches." in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(("examples", "--repo", "."), "not both", id="paths-and-repo"),
        pytest.param(("--repo", "."), "--repo needs --ref", id="repo-without-ref"),
        pytest.param((), "give manifest PATHS, or --repo", id="neither"),
        pytest.param(("examples", "--ref", "main"), "--ref needs --repo", id="ref-without-repo"),
    ],
)
def test_paths_or_repo(sqlite_url, capsys, args, message):
    code, _, err = run(capsys, "plan", *args, "--db", sqlite_url)

    assert code == 1
    assert message in err


def test_a_missing_ref_is_a_source_error(sqlite_url, remote, cache_dir, capsys):
    code, _, err = run(capsys, "plan", "--repo", remote.url, "--ref", "nope", "--db", sqlite_url)

    assert code == 1
    assert "ref nope not found in" in err


@pytest.mark.parametrize("name", ["github-actions.yaml", "gitlab-ci.yml"])
def test_the_ci_examples_are_valid_yaml_and_run_plan_and_sync(name):
    text = (Path(__file__).resolve().parents[2] / "examples" / "ci" / name).read_text()
    assert isinstance(YAML(typ="safe").load(text), dict)
    assert "trunkline plan --repo . --ref" in text and "--output markdown" in text
    assert "trunkline sync --repo . --ref main --path examples" in text
