"""Revision snapshots: the examples survive a round trip, with decks inlined and no secret in the bytes."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import pytest
from sqlalchemy import select

import resources
from reconciler import reconcile
from reconciler.apply import RevisionInfo
from reconciler.desired import desired_rows
from reconciler.mapping import kind_maps
from reconciler.plan import object_diff
from reconciler.secrets import LocalSecrets
from reconciler.snapshot import SnapshotError, restore, snapshot
from switchdb.tables import metadata

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture
def example_secrets(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Every TRUNKLINE_EXAMPLE_* variable the examples reference, set as scripts/demo.sh does."""
    names = sorted(
        {m for f in EXAMPLES.glob("*.yaml") for m in re.findall(r"TRUNKLINE_EXAMPLE_[A-Z0-9_]+", f.read_text())}
    )
    assert names, "the examples reference no secrets any more; this test has nothing to check"
    values = {name: f"s3cret-{index}-{name.lower()}" for index, name in enumerate(names)}
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


def test_examples_round_trip_with_decks_inline_and_no_secret_values(example_secrets):
    state = resources.load([EXAMPLES])

    data = snapshot(state)
    restored = restore(data)

    assert snapshot(state) == data  # deterministic: no timestamp in the gzip header
    text = gzip.decompress(data).decode()
    for name, value in example_secrets.items():
        assert value not in text and value.encode() not in data
        assert name in text  # the reference is kept, so a rollback resolves it again
    assert "ratesFrom" not in text  # decks are inline: no CSV path is needed to restore
    assert set(restored.objects) == set(state.objects)
    kinds = kind_maps()
    before = desired_rows(kinds, state, LocalSecrets())
    after = desired_rows(kinds, restored, LocalSecrets())
    assert {k: object_diff(kinds[k.kind], before[k], after[k]) for k in before} == {k: {} for k in before}
    decks = [k for k, obj in state.objects.items() if getattr(obj.spec, "rates_from", None) is not None]
    assert decks and all(restored.objects[k].spec.rates == state.objects[k].spec.rates for k in decks)


def test_relative_password_files_become_absolute(tmp_path):
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "acme1001").write_text("correct horse\n")
    (tmp_path / "sip.yaml").write_text(
        "apiVersion: trunkline.dev/v1alpha1\nkind: Customer\nmetadata: {name: acme-voip}\n"
        "spec: {displayName: Acme, currency: USD}\n---\n"
        "apiVersion: trunkline.dev/v1alpha1\nkind: CredentialAuthentication\nmetadata: {name: acme-1001}\n"
        "spec: {customerRef: acme-voip, username: acme1001, passwordRef: {file: secrets/acme1001}}\n"
    )
    state = resources.load([tmp_path])

    restored = restore(snapshot(state))

    ref = next(o for o in restored if o.kind == "CredentialAuthentication").spec.password_ref
    assert ref.file == str(tmp_path.resolve() / "secrets" / "acme1001")
    kinds = kind_maps()
    before = desired_rows(kinds, state, LocalSecrets())
    after = desired_rows(kinds, restored, LocalSecrets())
    # The same secret is read (equal HA1 hashes); only the recorded reference is now absolute.
    key = next(k for k in before if k.kind == "CredentialAuthentication")
    assert after[key].row["ha1"] == before[key].row["ha1"]
    assert list(object_diff(kinds[key.kind], before[key], after[key])) == ["passwordRef"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        pytest.param(b"not gzip", "cannot read snapshot", id="not-gzip"),
        pytest.param(gzip.compress(b'{"snapshotVersion": 99, "items": []}'), "unknown snapshot version 99", id="newer"),
        pytest.param(
            gzip.compress(b'{"snapshotVersion": 1, "items": [{"kind": "Customer"}]}'),
            "cannot restore snapshot",
            id="invalid-manifest",
        ),
    ],
)
def test_unreadable_snapshots_are_errors(data, message):
    with pytest.raises(SnapshotError, match=message):
        restore(data)


def test_unscoped_applies_store_a_snapshot_scoped_ones_do_not(engine, example_secrets):
    state = resources.load([EXAMPLES])
    first = reconcile.apply(engine, state, info=RevisionInfo(actor="t", source="examples"))
    key = next(k for k in state.objects if k.kind == "Customer")
    changed = state.objects[key].model_copy(
        update={"spec": state.objects[key].spec.model_copy(update={"display_name": "Renamed"})}
    )
    state.objects[key] = changed
    scoped = reconcile.apply(
        engine, state, info=RevisionInfo(actor="t", source="k8s"), options=reconcile.Options(scope=[key])
    )
    table = metadata.tables["trunkline_revisions"]
    with engine.connect() as conn:
        stored = dict(conn.execute(select(table.c.id, table.c.desired)).all())

    assert stored[scoped.revision_id] is None
    assert restore(stored[first.revision_id]).objects.keys() == state.objects.keys()
