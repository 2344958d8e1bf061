"""An empty plan is recalled while its inputs stand still, and planned in full once any moves.

The plans are counted with a spy around ``desired_rows`` (the real function still runs): a
recalled plan builds no desired rows.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa

from reconciler import reconcile, unchanged
from reconciler.reconcile import plan
from switchdb.tables import COUNTED_TABLES

migration = importlib.import_module("switchdb.migrations.versions.0004_table_changes")


@pytest.fixture
def full_plans(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many times a plan built its desired rows (one entry per full plan)."""
    calls: list[int] = []
    real = reconcile.desired_rows

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(reconcile, "desired_rows", counting)
    return calls


def counters(engine: sa.Engine, sql: Callable[..., list[Any]]) -> dict[str, int]:
    return {name: int(n) for name, n in sql(engine, "SELECT table_name, changes FROM trunkline_table_changes")}


def test_the_migration_counts_exactly_the_tables_a_plan_reads(engine, sql) -> None:
    assert migration.COUNTED == COUNTED_TABLES
    assert set(counters(engine, sql)) == set(COUNTED_TABLES)
    assert set(counters(engine, sql).values()) == {0}


def test_every_write_to_a_counted_table_moves_its_counter(engine, manifests, apply_state, sql) -> None:
    apply_state(engine, manifests.state())
    applied = counters(engine, sql)
    assert {name for name, n in applied.items() if n == 0} == set(), "the manifests write every counted table"

    sql(engine, "UPDATE customers SET display_name = 'Renamed by hand' WHERE name = 'acme-voip'")
    edited = counters(engine, sql)
    assert edited["customers"] == applied["customers"] + 1  # one statement, one row: both backends
    assert {n: c for n, c in edited.items() if n != "customers"} == {
        n: c for n, c in applied.items() if n != "customers"
    }
    sql(engine, "DELETE FROM dids")
    assert counters(engine, sql)["dids"] > edited["dids"]


def test_an_empty_plan_is_recalled_until_a_row_is_edited_behind_trunklines_back(
    engine, manifests, apply_state, sql, full_plans
) -> None:
    state = manifests.state()
    apply_state(engine, state)
    full_plans.clear()
    assert plan(engine, state).empty
    assert plan(engine, state).empty
    assert plan(engine, state).empty
    assert len(full_plans) == 1, "the second and third plans are recalled"

    sql(engine, "UPDATE customers SET display_name = 'Renamed by hand' WHERE name = 'acme-voip'")
    drifted = plan(engine, state)
    assert len(full_plans) == 2
    assert [(c.action, c.key.name) for c in drifted.changes] == [("update", "acme-voip")]


def test_the_sidecars_writes_do_not_make_the_next_plan_full(engine, manifests, apply_state, sql, full_plans) -> None:
    state = manifests.state()
    apply_state(engine, state)
    assert plan(engine, state).empty
    customer_id = sql(engine, "SELECT id FROM customers WHERE name = 'acme-voip'")[0][0]
    sql(
        engine,
        "INSERT INTO balances (customer_id, amount, currency, updated_at) VALUES (:c, 5, 'USD', CURRENT_TIMESTAMP)",
        c=customer_id,
    )
    full_plans.clear()
    assert plan(engine, state).empty
    assert full_plans == [], "balances, ledger and CDRs are not tables a plan reads"


def test_a_rotated_secret_a_new_commit_or_the_time_limit_plan_in_full(
    engine, manifests, apply_state, monkeypatch, secrets, full_plans
) -> None:
    state = manifests.state()
    apply_state(engine, state)
    assert plan(engine, state).empty
    full_plans.clear()

    monkeypatch.setenv(secrets["sip"].env, "R0tated-S3cret-pw")
    rotated = plan(engine, state)
    assert [(c.action, c.key.name) for c in rotated.changes] == [("update", "acme-1001")]
    monkeypatch.setenv(secrets["sip"].env, secrets["sip"].value)
    assert plan(engine, state).empty  # full again: the last plan was not empty
    assert len(full_plans) == 2

    assert plan(engine, manifests.state()).empty  # the same manifests loaded again: another state
    assert len(full_plans) == 3

    monkeypatch.setattr(unchanged, "FULL_PLAN_AFTER", -1.0)
    assert plan(engine, state).empty
    assert plan(engine, state).empty
    assert len(full_plans) == 5, "past the time limit every plan is a full one"


def test_a_watch_style_apply_recalls_too_and_still_corrects_drift(
    engine, manifests, apply_state, sql, full_plans
) -> None:
    state = manifests.state()
    apply_state(engine, state)
    full_plans.clear()
    for _ in range(3):
        assert apply_state(engine, state, look_first=True).revision_id is None
    assert len(full_plans) == 1

    sql(engine, "DELETE FROM dids")
    corrected = apply_state(engine, state, look_first=True)
    assert corrected.revision_id is not None and [c.action for c in corrected.plan.changes] == ["create"]
    assert apply_state(engine, state, look_first=True).plan.empty  # our own writes moved the counters: full
    assert len(full_plans) == 3  # the recalled looks, the drift (its look's rows are written), one after it


def test_a_database_without_counters_is_always_planned_in_full(tmp_path) -> None:
    bare = sa.create_engine(f"sqlite:///{tmp_path / 'bare.db'}")
    with bare.connect() as conn:
        assert unchanged.change_marks(conn) is None
    bare.dispose()
