"""Desired rows: every declared object turned into the rows it should own."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from reconciler.derived import DeriveContext, SecretFieldError
from reconciler.mapping import ChildMap, KindMap
from reconciler.rows import ObjectRows, Row
from reconciler.secrets import SecretResolver
from resources.errors import Problem, ValidationError
from resources.meta import ObjectKey, Resource
from resources.state import DesiredState


def _child_rows(child: ChildMap, items: list[Any], ctx: DeriveContext) -> list[Row]:
    rows: list[Row] = []
    read_row = child.read_row
    for index, item in enumerate(items):
        row: Row = read_row(item)
        if child.ordered:
            row["position"] = index
        for derived in child.derived:
            try:
                row.update(derived.compute(item, ctx))
            except SecretFieldError as exc:
                raise SecretFieldError((child.label, index, *exc.path), exc.message) from None
        rows.append(row)
    if not child.ordered:
        rows.sort(key=child.sort_key)
    return rows


def object_rows(kmap: KindMap, obj: Resource, ctx: DeriveContext, key: ObjectKey | None = None) -> ObjectRows:
    """The rows ``obj`` should own; references are by name. Raises SecretFieldError."""
    spec = obj.spec
    row: Row = kmap.read_row(spec)
    row["labels"] = dict(obj.metadata.labels)
    row["annotations"] = dict(obj.metadata.annotations)
    for derived in kmap.derived:
        row.update(derived.compute(spec, ctx))
    children = {c.table_name: _child_rows(c, getattr(spec, c.attr) or [], ctx) for c in kmap.children}
    return ObjectRows(key or obj.key, row, children, declared=obj)


def desired_rows(
    kinds: Mapping[str, KindMap],
    state: DesiredState,
    secrets: SecretResolver,
    *,
    keys: Iterable[ObjectKey] | None = None,
) -> dict[ObjectKey, ObjectRows]:
    """Rows for every object (or just ``keys``); all secret problems are raised together."""
    result: dict[ObjectKey, ObjectRows] = {}
    problems: list[Problem] = []
    directories: dict[str, Path | None] = {}
    for key in keys if keys is not None else state.objects:
        obj = state.objects[key]
        source = state.sources.get(key)
        base_dir = None
        if source is not None:
            if source.file not in directories:
                directories[source.file] = None if source.file.startswith("<") else Path(source.file).parent
            base_dir = directories[source.file]
        ctx = DeriveContext(secrets, key.namespace, key.name, base_dir)
        try:
            result[key] = object_rows(kinds[key.kind], obj, ctx, key)
        except SecretFieldError as exc:
            problems.append(state.problem(key, ("spec", *exc.path), f"cannot resolve secret: {exc.message}"))
    if problems:
        raise ValidationError(problems)
    return result
