"""All or nothing: a failure mid-apply leaves the database as it was; an approved plan that no
longer matches the database is refused; concurrent applies are serialized by the apply lock."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from reconciler.reconcile import StalePlanError, plan, write_transaction
from switchdb.engine import open_database


class Boom(Exception):
    pass


def _explode(done: int, total: int) -> None:
    raise Boom(f"interrupted after {done} of {total}")


def _mixed_changes(manifests):
    """From the base state: creates, updates (main and child rows) and deletes of several kinds."""
    changed = manifests.copy()
    changed.edit("Customer/acme-voip", "channels: 200", "channels: 250")
    changed.edit("RateCard/usd-wholesale", 'perMinute: "0.0065"', 'perMinute: "0.0070"')
    changed.drop("Alert/acme-low-balance", "Package/acme-bundle")
    changed.documents["Customer/cobalt-comms"] = changed.documents["Customer/bluefin-telecom"].replace(
        "bluefin-telecom", "cobalt-comms"
    )
    return changed


@pytest.mark.parametrize(
    "start",
    [
        pytest.param("empty", id="first-apply-into-an-empty-database-leaves-it-empty"),
        pytest.param("base", id="create-update-delete-on-a-populated-database-rolls-back-every-group"),
    ],
)
def test_failure_after_the_first_group_leaves_the_database_exactly_as_before(
    engine, manifests, apply_state, dump, revisions, start
):
    if start == "base":
        apply_state(engine, manifests.state())
        target = _mixed_changes(manifests).state()
    else:
        target = manifests.state()
    before = dump(engine)
    expected = plan(engine, target)
    assert len({(c.key.kind, c.action) for c in expected.changes}) > 2, "needs several groups to be meaningful"
    calls = []

    def progress(done: int, total: int) -> None:
        calls.append(done)
        _explode(done, total)

    with pytest.raises(Boom):
        apply_state(engine, target, progress=progress)
    assert len(calls) == 1 and 0 < calls[0] < len(expected.changes)
    assert dump(engine) == before

    result = apply_state(engine, target)  # the same apply, uninterrupted, still works
    assert result.plan.signature() == expected.signature()
    assert revisions(engine) == (1 if start == "empty" else 2)
    assert plan(engine, target).empty


# (what is changed behind the engine's back between plan and apply)
STALE = [
    pytest.param(
        "UPDATE customers SET channels = 999 WHERE name = 'acme-voip'", id="row-the-plan-updates-changed-again"
    ),
    pytest.param(
        "UPDATE packages SET quantity = 7 WHERE name = 'acme-bundle'", id="row-the-plan-does-not-touch-drifted"
    ),
    pytest.param("DELETE FROM alerts WHERE name = 'acme-low-balance'", id="owned-row-deleted"),
    pytest.param("UPDATE rates SET per_minute = 1 WHERE prefix = '447'", id="child-row-changed"),
]


@pytest.mark.parametrize("statement", STALE)
def test_apply_of_a_stale_plan_raises_with_the_new_plan_and_writes_nothing(
    engine, manifests, apply_state, sql, dump, revisions, statement
):
    apply_state(engine, manifests.state())
    target = manifests.edit("Customer/acme-voip", "channels: 200", "channels: 250").state()
    approved = plan(engine, target)
    sql(engine, statement)
    before = dump(engine)

    with pytest.raises(StalePlanError) as caught:
        apply_state(engine, target, expected=approved)
    assert dump(engine) == before
    assert revisions(engine) == 1
    assert caught.value.exit_code == 1
    fresh = caught.value.plan
    assert fresh.signature() != approved.signature()
    assert fresh.signature() == plan(engine, target).signature()

    result = apply_state(engine, target, expected=fresh)  # approving the new plan works
    assert result.revision_id is not None
    assert plan(engine, target).empty


def test_apply_of_an_unchanged_approved_plan_succeeds(engine, manifests, apply_state):
    state = manifests.state()
    approved = plan(engine, state)
    result = apply_state(engine, state, expected=approved)
    assert result.plan.signature() == approved.signature()


def test_two_concurrent_applies_of_different_states_are_serialized(db_url, manifests, apply_state, revisions):
    first = manifests.copy().edit("Customer/acme-voip", "channels: 200", "channels: 210").state()
    second = manifests.copy().edit("Customer/acme-voip", "channels: 200", "channels: 320")
    second = second.drop("Alert/acme-low-balance").state()
    open_database(db_url).dispose()  # migrate once, so both writers start on the same schema
    barrier = threading.Barrier(2)

    def run(state):
        engine = open_database(db_url)  # its own pool and connections, like another process
        try:
            barrier.wait(timeout=30)
            return apply_state(engine, state)
        finally:
            engine.dispose()

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(run, [first, second]))

    engine = open_database(db_url)
    try:
        assert all(r.revision_id is not None for r in results), "the later apply re-plans under the lock"
        assert revisions(engine) == 2
        last = max(zip(results, [first, second], strict=True), key=lambda pair: pair[0].revision_id)
        earlier = min(zip(results, [first, second], strict=True), key=lambda pair: pair[0].revision_id)
        assert earlier[0].plan.summary["create"] == len(manifests.documents) - (earlier[1] is second)
        # The later apply saw the earlier one's rows: it changes channels and the alert only.
        if last[1] is second:
            assert last[0].plan.summary == {"create": 0, "update": 1, "delete": 1}
        else:
            assert last[0].plan.summary == {"create": 1, "update": 1, "delete": 0}
        assert plan(engine, last[1]).empty
        assert not plan(engine, earlier[1]).empty
    finally:
        engine.dispose()


def test_an_apply_waits_for_the_lock_held_by_another_writer(engine, manifests, apply_state):
    state = manifests.state()
    with ThreadPoolExecutor(max_workers=1) as pool:
        with write_transaction(engine):
            future = pool.submit(apply_state, engine, state)
            time.sleep(0.5)
            assert not future.done(), "apply must wait for the lock, not write beside another writer"
        result = future.result(timeout=30)
    assert result.revision_id is not None
