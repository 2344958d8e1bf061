"""Desired rows: every declared object turned into the rows it should own.

Objects are turned into rows a run of one kind at a time (a manifest file's 50k IP
authentications): the readers are compiled per kind (``reconciler.mapping``), and the work
done per object is only what differs per object; a context for secrets is made only for the
objects whose derived columns read one.
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from reconciler.derived import DeriveContext, SecretFieldError
from reconciler.mapping import ChildMap, KindMap
from reconciler.rows import ObjectRows, Row
from reconciler.secrets import SecretResolver
from resources.errors import Problem, ValidationError
from resources.meta import ObjectKey, Resource
from resources.state import DesiredState

Contexts = Callable[[int], DeriveContext]  # the i-th object's context, made when asked for
_SPEC = operator.attrgetter("spec")


def _child_rows(child: ChildMap, items: list[Any], ctx: Callable[[], DeriveContext]) -> list[Row]:
    rows: list[Row] = list(map(child.read_row, items))
    if child.ordered:
        for index, row in enumerate(rows):
            row["position"] = index
    for derived in child.derived:
        for index, (item, row) in enumerate(zip(items, rows, strict=True)):
            try:
                row.update(derived.compute(item, ctx()))
            except SecretFieldError as exc:
                raise SecretFieldError((child.label, index, *exc.path), exc.message) from None
    if not child.ordered and len(rows) > 1:
        rows = list(map(rows.__getitem__, child.order(rows)))
    return rows


def _kind_rows(
    kmap: KindMap, keys: Sequence[ObjectKey], objects: Sequence[Resource], context: Contexts
) -> tuple[list[ObjectRows], list[tuple[int, SecretFieldError]]]:
    """The rows of objects of one kind, and the (position, error) of those whose secrets failed."""
    specs = list(map(_SPEC, objects))
    rows: list[Row] = list(map(kmap.read_object, objects))
    failed: dict[int, SecretFieldError] = {}
    for derived in kmap.derived:
        for index, (spec, row) in enumerate(zip(specs, rows, strict=True)):
            try:
                row.update(derived.compute(spec, context(index) if derived.reads_secrets else None))
            except SecretFieldError as exc:
                failed.setdefault(index, exc)
    children: list[dict[str, list[Row]]] = []
    if kmap.children:
        for index, spec in enumerate(specs):
            made: dict[str, list[Row]] = {}
            if index not in failed:
                contexts = _once(context, index)
                try:
                    for child in kmap.children:
                        made[child.table_name] = _child_rows(child, getattr(spec, child.attr) or [], contexts)
                except SecretFieldError as exc:
                    failed[index] = exc
            children.append(made)
    else:
        children = [{} for _ in specs]
    out = [
        ObjectRows(key, row, made, declared=obj)
        for key, row, made, obj in zip(keys, rows, children, objects, strict=True)
    ]
    return out, sorted(failed.items(), key=operator.itemgetter(0))


def _once(context: Contexts, index: int) -> Callable[[], DeriveContext]:
    """The context of one object, made on first use and kept for its other list items."""
    made: list[DeriveContext] = []

    def get() -> DeriveContext:
        if not made:
            made.append(context(index))
        return made[0]

    return get


def object_rows(kmap: KindMap, obj: Resource, ctx: DeriveContext, key: ObjectKey | None = None) -> ObjectRows:
    """The rows ``obj`` should own; references are by name. Raises SecretFieldError."""
    made, failed = _kind_rows(kmap, [key or obj.key], [obj], lambda _: ctx)
    if failed:
        raise failed[0][1]
    return made[0]


def desired_rows(
    kinds: Mapping[str, KindMap],
    state: DesiredState,
    secrets: SecretResolver,
    *,
    keys: Iterable[ObjectKey] | None = None,
) -> dict[ObjectKey, ObjectRows]:
    """Rows for every object (or just ``keys``), in their order; all secret problems are raised
    together."""
    wanted = list(state.objects if keys is None else keys)
    made: list[ObjectRows] = []
    problems: list[Problem] = []
    for kind, run in itertools.groupby(wanted, key=operator.itemgetter(0)):
        run_keys = list(run)
        objects = list(map(state.objects.__getitem__, run_keys))

        def context(index: int, run_keys: list[ObjectKey] = run_keys) -> DeriveContext:
            key = run_keys[index]
            return DeriveContext(secrets, key.namespace, key.name, state.directory(key))

        rows, failed = _kind_rows(kinds[kind], run_keys, objects, context)
        made.extend(rows)
        for index, exc in failed:
            problems.append(
                state.problem(run_keys[index], ("spec", *exc.path), f"cannot resolve secret: {exc.message}")
            )
    if problems:
        raise ValidationError(problems)
    return dict(zip(wanted, made, strict=True))
