"""``sync_once`` against real git repositories and both database backends: each commit's effect."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from reconciler.gitsource import GitSource, SourceError
from reconciler.reconcile import Options
from reconciler.sync import InvalidCommitError, plan_once, sync_once
from switchdb.tables import customers, ip_authentications, rates, trunkline_revisions

PROD = "clusters/prod"


def _sync(engine: sa.Engine, remote: Any, ref: str, cache_dir: Path, **options: Any):  # type: ignore[no-untyped-def]
    source = GitSource(remote.url, ref, cache_dir=cache_dir)
    return sync_once(engine, source, PROD, options=Options(**options), actor="sync-test")


def _us_rate(engine: sa.Engine) -> Decimal:
    with engine.connect() as conn:
        return conn.execute(sa.select(rates.c.per_minute).where(rates.c.prefix == "1")).scalar_one()


def _names(engine: sa.Engine, table: sa.Table) -> list[str]:
    with engine.connect() as conn:
        return sorted(conn.execute(sa.select(table.c.name)).scalars())


def _revisions(engine: sa.Engine) -> list[sa.Row]:
    with engine.connect() as conn:
        return list(conn.execute(sa.select(trunkline_revisions).order_by(trunkline_revisions.c.id)))


def test_first_commit_is_applied_and_the_revision_names_it(engine, remote, cache_dir, manifests):
    sha = remote.commit(manifests(), "Onboard Acme VoIP")

    result = _sync(engine, remote, "main", cache_dir)

    assert result.checkout.commit_sha == sha
    assert result.plan.summary["create"] == 4
    assert _names(engine, customers) == ["acme-voip"]
    assert _names(engine, ip_authentications) == ["acme-pbx"]
    assert _us_rate(engine) == Decimal("0.0045")
    [revision] = _revisions(engine)
    assert revision.id == result.revision_id
    assert revision.commit_sha == sha
    assert revision.commit_author == "Dana Whitfield <dana@kestrel-voice.example>"
    assert revision.commit_subject == "Onboard Acme VoIP"
    assert revision.source == f"{remote.url}#{PROD}"
    assert revision.actor == "sync-test"


def test_each_commit_moves_the_database_update_prune_revert(engine, remote, cache_dir, manifests):
    remote.commit(manifests(), "Onboard Acme VoIP")
    _sync(engine, remote, "main", cache_dir)

    raise_rate = remote.commit(manifests(us_rate="0.0052"), "Raise US/Canada to 0.0052")
    result = _sync(engine, remote, "main", cache_dir)
    assert result.plan.summary == {"create": 0, "update": 1, "delete": 0}
    assert [c.key.kind for c in result.plan.changes] == ["RateCard"]
    assert _us_rate(engine) == Decimal("0.0052")

    remove_pbx = remote.commit(manifests(us_rate="0.0052", ip_auth=False), "Decommission acme-pbx")
    result = _sync(engine, remote, "main", cache_dir)
    assert [(c.action, c.key.name) for c in result.plan.changes] == [("delete", "acme-pbx")]
    assert _names(engine, ip_authentications) == []

    reverted = remote.revert(remove_pbx)
    result = _sync(engine, remote, "main", cache_dir)
    assert [(c.action, c.key.name) for c in result.plan.changes] == [("create", "acme-pbx")]
    assert _names(engine, ip_authentications) == ["acme-pbx"]

    again = _sync(engine, remote, "main", cache_dir)
    assert again.revision_id is None and again.plan.empty, "the same commit twice changes nothing"
    assert [r.commit_sha for r in _revisions(engine)][1:] == [raise_rate, remove_pbx, reverted]
    assert _revisions(engine)[-1].commit_subject == 'Revert "Decommission acme-pbx"'


def test_no_prune_keeps_objects_deleted_from_git(engine, remote, cache_dir, manifests):
    remote.commit(manifests(), "Onboard Acme VoIP")
    _sync(engine, remote, "main", cache_dir)
    remote.commit(manifests(ip_auth=False), "Decommission acme-pbx")

    result = _sync(engine, remote, "main", cache_dir, prune=False)

    assert result.plan.empty
    assert _names(engine, ip_authentications) == ["acme-pbx"]


@pytest.mark.parametrize(
    "ref_of",
    [
        pytest.param(lambda sha: sha, id="full-sha-of-an-older-commit"),
        pytest.param(lambda sha: sha[:8], id="short-sha-of-an-older-commit"),
        pytest.param(lambda sha: "v1.0", id="tag-on-an-older-commit"),
    ],
)
def test_an_older_commit_can_be_synced_by_sha_or_tag(engine, remote, cache_dir, manifests, ref_of):
    old = remote.commit(manifests(), "Onboard Acme VoIP")
    remote.tag("v1.0", old)
    remote.commit(manifests(us_rate="0.0052", ip_auth=False), "Reprice and decommission acme-pbx")
    _sync(engine, remote, "main", cache_dir)
    assert _us_rate(engine) == Decimal("0.0052")

    result = _sync(engine, remote, ref_of(old), cache_dir)

    assert result.checkout.commit_sha == old
    assert _us_rate(engine) == Decimal("0.0045")
    assert _names(engine, ip_authentications) == ["acme-pbx"]
    assert _revisions(engine)[-1].commit_sha == old


def test_an_unknown_ref_is_a_source_error_and_writes_nothing(engine, remote, cache_dir, manifests, dump):
    remote.commit(manifests(), "Onboard Acme VoIP")
    _sync(engine, remote, "main", cache_dir)
    before = dump(engine)

    with pytest.raises(SourceError, match=r"^ref release-2031 not found in file://") as caught:
        _sync(engine, remote, "release-2031", cache_dir)

    assert caught.value.exit_code == 1
    assert dump(engine) == before


def test_an_invalid_commit_after_a_valid_one_leaves_the_valid_state(engine, remote, cache_dir, manifests, dump):
    good = remote.commit(manifests(), "Onboard Acme VoIP")
    _sync(engine, remote, "main", cache_dir)
    before = dump(engine)
    broken = dict(manifests(us_rate="0.0052"))
    broken[f"{PROD}/routes.yaml"] = broken[f"{PROD}/routes.yaml"].replace("usd-wholesale", "usd-wholesael")
    bad = remote.commit(broken, "Reprice US and point acme-standard at a typo")

    with pytest.raises(InvalidCommitError) as caught:
        _sync(engine, remote, "main", cache_dir)

    assert caught.value.exit_code == 2
    assert caught.value.commit_sha == bad
    assert bad in caught.value.message
    files = {p.file for p in caught.value.problems}
    assert files == {f"{bad[:12]}:{PROD}/routes.yaml"}, "problems are positioned in the commit, not the cache"
    assert dump(engine) == before
    assert _revisions(engine)[-1].commit_sha == good


def test_plan_once_reads_the_commit_without_writing(engine, remote, cache_dir, manifests, dump):
    sha = remote.commit(manifests(), "Onboard Acme VoIP")
    before = dump(engine)

    checkout, plan = plan_once(engine, GitSource(remote.url, "main", cache_dir=cache_dir), PROD)

    assert checkout.commit_sha == sha
    assert plan.summary["create"] == 4
    assert dump(engine) == before
