"""The sync loop (``reconciler.watch``), one tick at a time: new commits, drift, suspend, failures, backoff."""

from __future__ import annotations

import logging

import pytest
import sqlalchemy as sa

from reconciler.gitsource import GitSource
from reconciler.watch import Backoff, Watcher, parse_interval, resume, suspend, suspend_file

PROD = "clusters/prod"


@pytest.fixture
def make_watcher(engine, remote, cache_dir):
    def make(ref: str = "main", **kwargs) -> Watcher:
        kwargs.setdefault("interval", 3600.0)
        source = GitSource(remote.url, ref, cache_dir=cache_dir)
        return Watcher(engine, source, PROD, actor="gitops-watch", **kwargs)

    return make


def channels(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT channels FROM customers WHERE name = 'acme-voip'")).scalar_one()


def revisions(engine: sa.Engine) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text("SELECT id, commit_sha FROM trunkline_revisions ORDER BY id"))]


def test_first_tick_applies_the_commit_and_a_new_commit_is_applied_on_the_next(engine, remote, manifests, make_watcher):
    first = remote.commit(manifests(), "Onboard Acme VoIP")
    watcher = make_watcher()

    tick = watcher.tick()
    assert (tick.outcome, tick.revision_id, tick.delay) == ("applied", 1, 3600.0)
    assert tick.checkout.commit_sha == first
    assert watcher.tick().outcome == "unchanged"

    second = remote.commit(manifests(channels=250), "Raise Acme to 250 channels")
    tick = watcher.tick()
    assert (tick.outcome, tick.revision_id) == ("applied", 2)
    assert channels(engine) == 250
    assert revisions(engine) == [(1, first), (2, second)]


def test_drift_is_corrected_on_the_next_tick_and_logged_by_object_and_field(
    engine, remote, manifests, make_watcher, caplog
):
    sha = remote.commit(manifests(), "Onboard Acme VoIP")
    watcher = make_watcher()
    watcher.tick()
    with engine.begin() as conn:  # someone "fixes" the switch by hand
        conn.execute(sa.text("UPDATE customers SET channels = 999 WHERE name = 'acme-voip'"))

    with caplog.at_level(logging.INFO, logger="trunkline"):
        tick = watcher.tick()

    assert (tick.outcome, tick.revision_id) == ("drift-corrected", 2)
    assert channels(engine) == 200
    assert revisions(engine) == [(1, sha), (2, sha)]  # a correction is a revision at the same commit
    assert "corrected drift" in caplog.text
    assert "update Customer/default/acme-voip: channels: 999 → 200" in caplog.text
    assert watcher.tick().outcome == "unchanged"


def test_with_drift_correction_off_drift_is_only_reported(engine, remote, manifests, make_watcher, caplog, dump):
    remote.commit(manifests(), "Onboard Acme VoIP")
    watcher = make_watcher(correct_drift=False)
    assert watcher.tick().outcome == "applied"
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE customers SET channels = 999 WHERE name = 'acme-voip'"))
    before = dump(engine)

    with caplog.at_level(logging.INFO, logger="trunkline"):
        tick = watcher.tick()

    assert tick.outcome == "drift-detected"
    assert [c.key.name for c in tick.plan.changes] == ["acme-voip"]
    assert "not corrected" in caplog.text and "channels: 999 → 200" in caplog.text
    assert dump(engine) == before

    # A new commit is still applied (and, being an apply, puts the drifted row back).
    remote.commit(manifests(channels=300), "Raise Acme to 300 channels")
    assert watcher.tick().outcome == "applied"
    assert channels(engine) == 300


def test_while_the_suspend_file_exists_ticks_do_nothing(engine, remote, manifests, make_watcher, caplog, dump):
    remote.commit(manifests(), "Onboard Acme VoIP")
    watcher = make_watcher()
    suspend(watcher.suspend_path, actor="noc-oncall", reason="carrier maintenance")
    before = dump(engine)

    with caplog.at_level(logging.INFO, logger="trunkline"):
        tick = watcher.tick()

    assert tick.outcome == "suspended"
    assert "suspended" in caplog.text and "carrier maintenance" in caplog.text
    assert dump(engine) == before
    assert resume(watcher.suspend_path)
    assert watcher.tick().outcome == "applied"


def test_the_default_suspend_file_is_per_repository(remote, cache_dir):
    main = suspend_file(GitSource(remote.url, "main", cache_dir=cache_dir))
    tag = suspend_file(GitSource(remote.url, "v1", cache_dir=cache_dir))
    other = suspend_file(GitSource(remote.url + "-other", "main", cache_dir=cache_dir))
    assert main == tag != other
    assert main.parent.parent == cache_dir.resolve()


def test_failing_ticks_back_off_and_the_database_stays_at_the_last_good_commit(
    engine, remote, manifests, make_watcher, dump, caplog
):
    good = remote.commit(manifests(), "Onboard Acme VoIP")
    watcher = make_watcher()
    assert watcher.tick().outcome == "applied"
    before = dump(engine)

    remote.commit(manifests(channels=-5), "Typo in channels")
    with caplog.at_level(logging.INFO, logger="trunkline"):
        ticks = [watcher.tick() for _ in range(4)]

    assert [t.outcome for t in ticks] == ["failed"] * 4
    assert [t.delay for t in ticks] == [5.0, 10.0, 20.0, 40.0]
    assert "is invalid; nothing was applied" in ticks[0].error
    assert f"the database stays at {good[:12]}" in caplog.text
    assert dump(engine) == before

    fixed = remote.commit(manifests(channels=250), "Fix channels")
    tick = watcher.tick()
    assert (tick.outcome, tick.delay, watcher.failures) == ("applied", 3600.0, 0)
    assert revisions(engine)[-1] == (2, fixed)


@pytest.mark.parametrize(
    ("failures", "interval", "expected"),
    [
        pytest.param(1, 3600, 5, id="first-retry-after-5s"),
        pytest.param(4, 3600, 40, id="doubles-each-time"),
        pytest.param(20, 3600, 300, id="capped-at-5-minutes"),
        pytest.param(20, 60, 60, id="never-longer-than-the-interval"),
        pytest.param(3, 1, 5, id="a-tiny-interval-still-waits-the-first-step"),
    ],
)
def test_backoff(failures, interval, expected):
    assert Backoff().delay(failures, interval) == expected


def test_a_bad_ref_fails_the_tick_without_touching_the_database(engine, remote, manifests, make_watcher, dump):
    remote.commit(manifests(), "Onboard Acme VoIP")
    before = dump(engine)
    watcher = make_watcher(ref="release-2031")

    ticks = [watcher.tick(), watcher.tick()]

    assert [(t.outcome, t.delay) for t in ticks] == [("failed", 5.0), ("failed", 10.0)]
    assert ticks[0].error.startswith("ref release-2031 not found in ")
    assert dump(engine) == before


def test_a_database_that_is_down_fails_the_tick_and_is_retried(remote, manifests, cache_dir, tmp_path):
    remote.commit(manifests(), "Onboard Acme VoIP")
    broken = sa.create_engine(f"sqlite:///{tmp_path / 'missing-dir' / 'switch.db'}")  # cannot be opened
    watcher = Watcher(broken, GitSource(remote.url, "main", cache_dir=cache_dir), PROD, actor="t", interval=60)
    tick = watcher.tick()
    assert (tick.outcome, tick.delay) == ("failed", 5.0)
    assert tick.error.startswith("cannot reach the switch database")


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("60", 60), ("1.5", 1.5), ("60s", 60), ("5m", 300), ("1h", 3600), ("1h30m", 5400), ("1d", 86400)],
)
def test_interval_parsing(text, seconds):
    assert parse_interval(text) == seconds


@pytest.mark.parametrize("text", ["", "soon", "5x", "0s", "500ms", "1h and 5m"])
def test_interval_parsing_refuses(text):
    with pytest.raises(ValueError):
        parse_interval(text)


@pytest.mark.parametrize(
    ("correct", "outcome", "expected_channels"),
    [
        pytest.param(True, "drift-corrected", 200, id="corrects-drift-found-after-a-restart"),
        pytest.param(False, "drift-detected", 999, id="does-not-apply-the-same-commit-after-a-restart"),
    ],
)
def test_a_restarted_watcher_knows_the_commit_the_database_is_at(
    engine, remote, manifests, make_watcher, correct, outcome, expected_channels
):
    remote.commit(manifests(), "Onboard Acme VoIP")
    assert make_watcher().tick().outcome == "applied"
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE customers SET channels = 999 WHERE name = 'acme-voip'"))

    tick = make_watcher(correct_drift=correct).tick()  # a new process: nothing in memory

    assert tick.outcome == outcome
    assert channels(engine) == expected_channels
