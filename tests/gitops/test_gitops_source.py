"""``GitSource`` on real repositories: what it fetches, what it checks out, and what it never shows."""

from __future__ import annotations

import pytest

from reconciler.gitsource import GitSource, SourceError, redact


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        pytest.param("https://bot:tok@git.example/a.git", "https://bot:***@git.example/a.git", id="user-and-token"),
        pytest.param("https://:tok@git.example/a.git", "https://:***@git.example/a.git", id="token-only"),
        pytest.param("https://bot@git.example/a.git", "https://bot@git.example/a.git", id="user-only-is-not-secret"),
        pytest.param("git@github.com:kestrel/config.git", "git@github.com:kestrel/config.git", id="scp-like-ssh"),
        pytest.param(
            "unable to access 'https://u:p@h/x' and 'ssh://v:q@h/y'",
            "unable to access 'https://u:***@h/x' and 'ssh://v:***@h/y'",
            id="every-url-in-a-message",
        ),
    ],
)
def test_redact(text, shown):
    assert redact(text) == shown


def test_checkout_is_exactly_the_commit_not_the_working_tree(remote, cache_dir, manifests):
    sha = remote.commit(manifests(), "Onboard Acme VoIP")
    (remote.path / "clusters/prod/scratch.yaml").write_text("not committed\n")
    (remote.path / "clusters/prod/auth.yaml").unlink()  # deleted but not committed

    checkout = GitSource(str(remote.path), "main", cache_dir=cache_dir).checkout()

    assert checkout.commit_sha == sha
    assert checkout.subject == "Onboard Acme VoIP"
    files = sorted(p.relative_to(checkout.path).as_posix() for p in checkout.path.rglob("*") if p.is_file())
    assert files == [
        "README.md",
        "clusters/prod/auth.yaml",
        "clusters/prod/customers.yaml",
        "clusters/prod/ratecards.yaml",
        "clusters/prod/routes.yaml",
    ]


def test_a_second_checkout_fetches_new_commits_into_the_same_cache(remote, cache_dir, manifests):
    remote.commit(manifests(), "Onboard Acme VoIP")
    first = GitSource(remote.url, "main", cache_dir=cache_dir).checkout()
    second_sha = remote.commit(manifests(ip_auth=False), "Decommission acme-pbx")

    second = GitSource(remote.url, "main", cache_dir=cache_dir).checkout()

    assert second.commit_sha == second_sha
    assert not (second.path / "clusters/prod/auth.yaml").exists()
    assert (first.path / "clusters/prod/auth.yaml").exists(), "a commit's checkout is never rewritten"
    assert len([p for p in cache_dir.iterdir() if p.is_dir()]) == 1, "one cache per URL"


def test_a_deleted_branch_is_pruned_from_the_cache(remote, cache_dir, manifests):
    remote.commit(manifests(), "Onboard Acme VoIP")
    remote.repo.create_head("hotfix")
    assert GitSource(remote.url, "hotfix", cache_dir=cache_dir).checkout()
    remote.repo.delete_head("hotfix")

    with pytest.raises(SourceError, match=r"^ref hotfix not found"):
        GitSource(remote.url, "hotfix", cache_dir=cache_dir).checkout()
