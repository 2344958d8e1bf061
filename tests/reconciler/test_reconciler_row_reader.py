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
        assert kmap.read_row(obj.spec) == {f.column: f.read(obj.spec) for f in kmap.fields}, key
        absent_parts += sum(1 for f in kmap.fields if len(f.attrs) == 2 and getattr(obj.spec, f.attrs[0]) is None)
        for child in kmap.children:
            for item in getattr(obj.spec, child.attr) or []:
                assert child.read_row(item) == {f.column: f.read(item) for f in child.fields}, (key, child.label)
    assert absent_parts > 0, "some object should lack an optional nested part (None for all its columns)"
