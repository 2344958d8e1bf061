"""Plan: the pure diff between desired and live state, as a value every front end renders.

``plan_changes`` never touches a database: it compares ``ObjectRows`` built from the
declarations with ``ObjectRows`` read by ``observe``, using each kind's mapping (labels,
sensitive and immutable columns, child keys) as data.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from reconciler.mapping import KindMap
from reconciler.rows import ObjectRows, Row, canonical, same
from resources.errors import Problem, TrunklineError
from resources.meta import ObjectKey

Action = Literal["create", "update", "delete"]
SENSITIVE = "(sensitive)"
MAX_CHILD_DETAILS = 25  # a 100k-row deck change is summarised past this many rate lines


class DependencyError(TrunklineError):
    """An object references one that does not exist yet, or a delete would orphan dependents.

    Not the input's fault in an eventually consistent world (a route applied before its
    customer): the operator retries these; ``waiting_for`` names what is missing or in the way.
    """

    exit_code = 1

    def __init__(self, message: str, waiting_for: list[ObjectKey]) -> None:
        super().__init__(message)
        self.waiting_for = waiting_for


class ConflictError(TrunklineError):
    """Declared objects collide with rows Trunkline does not own (use --adopt to take them)."""

    exit_code = 1


@dataclass(frozen=True, slots=True)
class FieldDiff:
    before: Any
    after: Any

    def to_json(self) -> dict[str, Any]:
        return {"before": canonical(self.before), "after": canonical(self.after)}


class LazyDiff(Mapping[str, FieldDiff]):
    """The field diff of a create or delete, computed only when someone reads it.

    A cold apply of 120k objects creates them all; their "every field is new" diffs were 12% of
    the apply (bench/RESULTS.md) and are only needed when the plan is shown.
    """

    def __init__(self, kmap: KindMap, before: ObjectRows | None, after: ObjectRows | None) -> None:
        self._args = (kmap, before, after)
        self._diff: dict[str, FieldDiff] | None = None

    def _value(self) -> dict[str, FieldDiff]:
        if self._diff is None:
            self._diff = object_diff(*self._args)
        return self._diff

    def __getitem__(self, name: str) -> FieldDiff:
        return self._value()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._value())

    def __len__(self) -> int:
        return len(self._value())


@dataclass(frozen=True)
class Change:
    action: Action
    key: ObjectKey
    diff: Mapping[str, FieldDiff]
    before: ObjectRows | None = None
    after: ObjectRows | None = None
    adopt: bool = False

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "action": self.action,
            "kind": self.key.kind,
            "namespace": self.key.namespace,
            "name": self.key.name,
            "diff": {name: d.to_json() for name, d in self.diff.items()},
        }
        if self.adopt:
            out["adopt"] = True
        return out


@dataclass(frozen=True)
class Plan:
    changes: tuple[Change, ...]
    unchanged: int = 0
    unmanaged: tuple[ObjectKey, ...] = ()
    forgotten: tuple[ObjectKey, ...] = ()  # owned records whose rows vanished and are not declared
    desired_digests: Mapping[ObjectKey, str] = field(default_factory=dict)

    @property
    def summary(self) -> dict[str, int]:
        counts = {"create": 0, "update": 0, "delete": 0}
        for change in self.changes:
            counts[change.action] += 1
        return counts

    @property
    def empty(self) -> bool:
        return not self.changes and not self.forgotten

    def signature(self) -> str:
        """Identifies the exact changes, so apply can tell whether the live state moved."""
        body = [
            [c.action, list(c.key), c.after.digest() if c.after else None, c.before.digest() if c.before else None]
            for c in self.changes
        ]
        return hashlib.sha256(json.dumps(body, separators=(",", ":")).encode()).hexdigest()

    def to_json(self) -> dict[str, Any]:
        return {
            "changes": [c.to_json() for c in self.changes],
            "summary": self.summary,
            "unchanged": self.unchanged,
            "unmanaged": [str(k) for k in self.unmanaged],
        }


def _empty(value: Any) -> bool:
    return value is None or value == {} or value == []


def _columns_diff(
    columns: Iterable[str],
    label: Callable[[str], str],
    sensitive: frozenset[str],
    before: Row | None,
    after: Row | None,
) -> dict[str, FieldDiff]:
    """Changed columns of one row (an object's, or a child row's), named by spec path.

    A create or delete leaves out empty values; sensitive values are never shown.
    """
    diff: dict[str, FieldDiff] = {}
    for column in columns:
        old = before.get(column) if before is not None else None
        new = after.get(column) if after is not None else None
        if before is not None and after is not None and same(old, new):
            continue
        if (before is None and _empty(new)) or (after is None and _empty(old)):
            continue
        if column in sensitive:
            diff[label(column)] = FieldDiff(
                SENSITIVE if old is not None else None, SENSITIVE if new is not None else None
            )
        else:
            diff[label(column)] = FieldDiff(old, new)
    return diff


def _child_diff(kmap: KindMap, before: ObjectRows | None, after: ObjectRows | None) -> dict[str, FieldDiff]:
    diff: dict[str, FieldDiff] = {}
    for child in kmap.children:
        old_rows = before.children.get(child.table_name, []) if before else []
        new_rows = after.children.get(child.table_name, []) if after else []
        old = {child.row_key(r): r for r in old_rows}
        new = {child.row_key(r): r for r in new_rows}
        entries: list[tuple[str, FieldDiff]] = []
        added = removed = changed = shown = 0
        for key in sorted(old.keys() | new.keys(), key=child.key_order):
            a, b = old.get(key), new.get(key)
            if a is not None and b is not None and all(same(a.get(c), b.get(c)) for c in child.compared_columns):
                continue
            added += a is None
            removed += b is None
            changed += a is not None and b is not None
            if shown < MAX_CHILD_DETAILS:
                shown += 1
                name = f"{child.label}[{child.key_label(key)}]"
                if a is not None and b is not None:
                    fields = _columns_diff(child.compared_columns, child.column_label, child.sensitive, a, b)
                    entries.extend((f"{name}.{label}", d) for label, d in fields.items())
                else:
                    entries.append((name, FieldDiff(child.show(a), child.show(b))))
        if not entries:
            continue
        diff.update(entries)
        hidden = added + removed + changed - shown
        if hidden > 0:
            diff[f"{child.label}[…]"] = FieldDiff(
                f"{len(old_rows)} rows",
                f"{len(new_rows)} rows (+{added} ~{changed} -{removed}; {hidden} more not shown)",
            )
    return diff


def object_diff(kmap: KindMap, before: ObjectRows | None, after: ObjectRows | None) -> dict[str, FieldDiff]:
    """Field-level diff labelled with spec paths; sensitive values are never shown."""
    diff = _columns_diff(
        kmap.compared_columns, kmap.label, kmap.sensitive, before.row if before else None, after.row if after else None
    )
    diff.update(_child_diff(kmap, before, after))
    return diff


def plan_changes(
    kinds: Mapping[str, KindMap],
    desired: Mapping[ObjectKey, ObjectRows],
    live: Mapping[ObjectKey, ObjectRows],
    owned: Mapping[ObjectKey, Any],
    *,
    adopt: bool = False,
    prune: bool = True,
    sources: Any = None,
    known: Collection[ObjectKey] | None = None,
    dependents: Mapping[ObjectKey, list[ObjectKey]] | None = None,
) -> Plan:
    """Compare desired with live; raise ConflictError/ValidationError for what must not be done.

    ``known`` is every object with a row (``live`` may be narrowed to a scope) and
    ``dependents`` who references whom: a reference must name a desired or known object, and
    a delete must not strand a row that references it.
    """
    creates: list[Change] = []
    updates: list[Change] = []
    deletes: list[Change] = []
    conflicts: list[str] = []
    refused: list[Problem] = []
    unchanged = 0
    for key, want in desired.items():
        kmap = kinds[key.kind]
        have = live.get(key)
        if have is None:
            creates.append(Change("create", key, LazyDiff(kmap, None, want), None, want))
            continue
        if key not in owned and not adopt:
            conflicts.append(f"{key} already exists in the database and is not managed by Trunkline")
            continue
        if key in owned and have.row == want.row and have.children == want.children:
            unchanged += 1  # the common case at scale: C-speed dict equality, no field-by-field diff
            continue
        diff = object_diff(kmap, have, want)
        for column, reason in kmap.immutable.items():
            if not same(have.row.get(column), want.row.get(column)):
                refused.append(_immutable_problem(kmap, key, column, have, want, reason, sources))
        if diff or key not in owned:
            updates.append(Change("update", key, diff, have, want, adopt=key not in owned))
        else:
            unchanged += 1
    forgotten: list[ObjectKey] = []
    if prune:
        for key in owned:
            if key in desired:
                continue
            have = live.get(key)
            if have is None:
                forgotten.append(key)
            else:
                deletes.append(Change("delete", key, LazyDiff(kinds[key.kind], have, None), have, None))
    conflicts.extend(_unique_conflicts(kinds, creates + updates, live, owned))
    _check_dependencies(kinds, desired, set(live) if known is None else known, dependents or {}, deletes)
    if refused:
        from resources.errors import ValidationError

        raise ValidationError(refused)
    if conflicts:
        raise ConflictError(
            "cannot plan: "
            + "; ".join(conflicts)
            + " (run with --adopt to take ownership, or rename the declared object)"
        )
    unmanaged = tuple(sorted(k for k in live if k not in owned and k not in desired))

    def rank(change: Change) -> tuple[int, str, str, ObjectKey]:
        # Within a kind, updates before creates: an update may free a unique value a create takes.
        return (kinds[change.key.kind].rank, change.key.kind, "0" if change.action == "update" else "1", change.key)

    # Rows of kinds nothing references are deleted first, so a renamed DID or SIP user frees its
    # number or username before the new object claims it; the rest after, in reverse rank (FKs).
    referenced = {f.target for kmap in kinds.values() for f in kmap.references}
    early = [c for c in deletes if c.key.kind not in referenced]
    late = [c for c in deletes if c.key.kind in referenced]
    ordered = (
        sorted(early, key=rank, reverse=True)
        + sorted(creates + updates, key=rank)
        + sorted(late, key=rank, reverse=True)
    )
    return Plan(tuple(ordered), unchanged, unmanaged, tuple(forgotten))


def _immutable_problem(
    kmap: KindMap, key: ObjectKey, column: str, have: ObjectRows, want: ObjectRows, reason: str, sources: Any
) -> Problem:
    label = kmap.label(column)
    message = f"cannot change {label} from {have.row.get(column)} to {want.row.get(column)} once created: {reason}"
    path = ("spec", *label.split("."))
    if sources is not None:
        return sources.problem(key, path, message)
    return Problem(message, kind=key.kind, namespace=key.namespace, name=key.name, field=".".join(path))


def _unique_conflicts(
    kinds: Mapping[str, KindMap], changes: Iterable[Change], live: Mapping[ObjectKey, ObjectRows], owned: Any
) -> list[str]:
    """A new or updated row whose unique column (a DID number, a SIP user) is held by an unowned row."""
    conflicts: list[str] = []
    index: dict[tuple[str, tuple[Any, ...]], ObjectKey] = {}
    for key, rows in live.items():
        for columns in kinds[key.kind].unique_columns:
            index[(key.kind, tuple(canonical(rows.row.get(c)) for c in columns))] = key
    if not index:  # nothing live holds a unique value (a cold apply): no conflict possible
        return conflicts
    for change in changes:
        assert change.after is not None
        for columns in kinds[change.key.kind].unique_columns:
            holder = index.get((change.key.kind, tuple(canonical(change.after.row.get(c)) for c in columns)))
            if holder is not None and holder != change.key and holder not in owned:
                labels = ", ".join(kinds[change.key.kind].label(c) for c in columns)
                conflicts.append(f"{change.key}: {labels} is already used by unmanaged {holder}")
    return conflicts


def _check_dependencies(
    kinds: Mapping[str, KindMap],
    desired: Mapping[ObjectKey, ObjectRows],
    known: Collection[ObjectKey],
    dependents: Mapping[ObjectKey, list[ObjectKey]],
    deletes: Iterable[Change],
) -> None:
    """References must resolve after the plan; deletes must not leave rows pointing at nothing."""
    missing: list[tuple[ObjectKey, ObjectKey]] = []
    deleted = {c.key for c in deletes}
    references = {kind: [(ref.column, ref.target or "") for ref in kmap.references] for kind, kmap in kinds.items()}
    for key, rows in desired.items():
        for column, kind in references[key[0]]:
            name = rows.row.get(column)
            if name is None:
                continue
            target = (kind, key[1], name)  # a plain tuple finds an ObjectKey (and is cheaper to make)
            if target not in desired and (target not in known or target in deleted):
                missing.append((key, ObjectKey(*target)))
    blocking = [
        (target, source)
        for target in sorted(deleted)
        for source in dependents.get(target, [])
        if source not in deleted and source not in desired
    ]
    if missing:
        raise DependencyError(
            "; ".join(f"{src} references {dst}, which does not exist yet" for src, dst in missing),
            [dst for _, dst in missing],
        )
    if blocking:
        raise DependencyError(
            "; ".join(f"cannot delete {dst}: {src} still references it" for dst, src in blocking),
            [src for _, src in blocking],
        )
