"""The compiled row readers read exactly what each column's own reader reads."""

from __future__ import annotations

from pathlib import Path

import pytest

import resources
from reconciler.mapping import kind_maps

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _states(manifests):
    return [resources.load([EXAMPLES]), manifests.state()]


@pytest.mark.parametrize("which", [0, 1], ids=["examples", "test-manifests"])
def test_every_object_and_list_item_reads_the_same_as_field_by_field(manifests, which) -> None:
    state = _states(manifests)[which]
    kinds = kind_maps()
    absent_parts = 0
    for key, obj in state.objects.items():
        kmap = kinds[key.kind]
        fields = {f.column: f.read(obj.spec) for f in kmap.fields}
        meta = {"labels": obj.metadata.labels, "annotations": obj.metadata.annotations}
        assert kmap.read_object(obj) == fields | meta, key
        absent_parts += sum(1 for f in kmap.fields if len(f.attrs) == 2 and getattr(obj.spec, f.attrs[0]) is None)
        for child in kmap.children:
            for item in getattr(obj.spec, child.attr) or []:
                assert child.read_row(item) == {f.column: f.read(item) for f in child.fields}, (key, child.label)
    assert absent_parts > 0, "some object should lack an optional nested part (None for all its columns)"


def test_unordered_child_rows_go_in_key_order_with_none_first() -> None:
    """``ChildMap.order`` (one C-keyed sort per column) against the plain definition: sort by
    the key columns, None before any value in a nullable one, ties kept in their order."""
    import random
    from datetime import datetime

    rates = next(c for c in kind_maps()["RateCard"].children if c.table_name == "rates")
    assert rates.key_columns == ("prefix", "effective_from")
    assert rates.table.c.effective_from.nullable and not rates.table.c.prefix.nullable
    rng = random.Random(7)
    dates = [None, None, datetime(2026, 1, 1), datetime(2026, 6, 1), datetime(2025, 12, 31)]
    rows = [
        {"prefix": rng.choice(["1", "44", "441", "4420", "33"]), "effective_from": rng.choice(dates), "n": n}
        for n in range(400)
    ]
    expected = sorted(rows, key=lambda r: (r["prefix"], r["effective_from"] is not None, r["effective_from"] or 0))
    assert [rows[i] for i in rates.order(rows)] == expected
    no_none = [r for r in rows if r["effective_from"] is not None]
    assert [no_none[i] for i in rates.order(no_none)] == sorted(
        no_none, key=lambda r: (r["prefix"], r["effective_from"])
    )
    assert rates.order([]) == []
