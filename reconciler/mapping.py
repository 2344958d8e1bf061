"""Each kind's storage as data: table, columns by spec path, references, children, secrets.

Built once from the models (``resources``) and the naming rules (``switchdb.naming``); the
engine reads only this, so no kind has code of its own in plan, apply, observe or export.
Values that are computed rather than declared (SIP digests, Kamailio address columns) are
``Derived`` entries registered in ``reconciler.derived``.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache, cached_property
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Table

from reconciler.rows import PLAIN_TYPES
from resources.kinds import KINDS
from resources.meta import Resource
from switchdb import naming
from switchdb.tables import metadata

Reader = Callable[[Any], Any]


def _attr_path(model: type[BaseModel], path: tuple[str, ...]) -> tuple[str, ...]:
    """camelCase aliases → python attribute names, following nested models."""
    from resources.modelpath import attribute_path

    return attribute_path(model, path)


_CONVERTED = ("json", "secret_ref")  # roles whose value is turned into plain JSON data


def _reader(attrs: tuple[str, ...], role: str) -> Reader:
    if len(attrs) == 1 and role not in _CONVERTED:
        return operator.attrgetter(attrs[0])  # most columns: one plain field, read in C

    def read(value: Any) -> Any:
        for attr in attrs:
            if value is None:
                return None
            value = getattr(value, attr)
        if value is None:
            return None
        if role in _CONVERTED:
            return _jsonable(value)
        return value

    return read


def _jsonable(value: Any) -> Any:
    if type(value) in PLAIN_TYPES:
        return value
    if type(value) is list and set(map(type, value)) <= PLAIN_TYPES:
        return list(value)  # codecs, dial strings, prefixes: a flat list, copied in C
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", by_alias=True, exclude_none=True)
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


@dataclass(frozen=True)
class FieldMap:
    column: str
    path: tuple[str, ...]  # camelCase, relative to spec (main) or to one list item (child)
    role: str
    read: Reader
    target: str | None = None
    attrs: tuple[str, ...] = ()  # the attribute path it reads (Python names)

    @property
    def label(self) -> str:
        return ".".join(self.path)


def _tuple_getter(attrs: list[str]) -> Callable[[Any], tuple[Any, ...]]:
    """``attrgetter`` that always returns a tuple (it returns the value itself for one name)."""
    if len(attrs) == 1:
        single = operator.attrgetter(attrs[0])
        return lambda item: (single(item),)
    return operator.attrgetter(*attrs)


def row_reader(
    fields: tuple[FieldMap, ...], *, within: str | None = None, also: Mapping[str, str] | None = None
) -> Callable[[Any], dict[str, Any]]:
    """``{column: value}`` of ``fields`` read from one model: the attributes in one C call
    (``attrgetter`` of all of them), fields of one nested model (``address.city``...) in one
    more unless it is absent, deeper paths through their readers; JSON and secret references
    are then turned into plain data.

    ``within`` names the attribute the fields are relative to (an object's ``spec``), so one
    call reads a whole object; ``also`` adds columns read as they are from dotted paths of the
    item (``metadata.labels``): the row holds those values themselves, which it never changes.
    """
    plain = [f for f in fields if len(f.attrs) == 1]
    nested: dict[str, list[FieldMap]] = {}
    for f in fields:
        if len(f.attrs) == 2:
            nested.setdefault(f.attrs[0], []).append(f)
    other = [(f.column, f.read) for f in fields if len(f.attrs) > 2]
    converted = tuple(f.column for f in fields if f.role in _CONVERTED and len(f.attrs) <= 2)
    extra = dict(also or {})
    columns = (*(f.column for f in plain), *extra)
    getter = _tuple_getter([f.attrs[0] for f in plain]) if plain else (lambda item: ())
    get_extra = _tuple_getter(list(extra.values())) if extra else (lambda item: ())
    parts = [
        (operator.attrgetter(first), tuple(f.column for f in group), _tuple_getter([f.attrs[1] for f in group]))
        for first, group in nested.items()
    ]
    inner = operator.attrgetter(within) if within else (lambda item: item)
    if not within and not extra and not parts and not converted and not other:

        def read_plain(item: Any) -> dict[str, Any]:  # a rate: plain fields only, 100k of them
            return dict(zip(columns, getter(item), strict=True))

        return read_plain

    def read(item: Any) -> dict[str, Any]:
        model = inner(item)
        row = dict(zip(columns, getter(model) + get_extra(item), strict=True))
        for get_part, part_columns, get_values in parts:
            part = get_part(model)
            row.update(zip(part_columns, get_values(part) if part is not None else (None,) * len(part_columns)))
        for column in converted:  # JSON and secret references: plain data, the row's own copy
            if type(row[column]) not in PLAIN_TYPES:
                row[column] = _jsonable(row[column])
        for column, reader in other:
            row[column] = reader(model)
        return row

    return read


@dataclass(frozen=True)
class Derived:
    """Columns computed from a whole object (or list item) and the secrets it references."""

    columns: tuple[str, ...]
    compute: Callable[..., dict[str, Any]]  # (item, context) -> {column: value}
    sensitive: bool = False
    label: str | None = None  # how the diff names it, e.g. "password"
    reads_secrets: bool = True  # False: computed from the item alone, called without a context


def _key_text(value: Any) -> str:
    if isinstance(value, datetime) and value.time() == datetime.min.time():
        return value.date().isoformat()
    return value.isoformat() if isinstance(value, datetime) else str(value)


@dataclass(frozen=True)
class ChildMap:
    table: Table
    label: str  # camelCase spec field, e.g. "contacts"
    attr: str
    parent_column: str
    ordered: bool
    fields: tuple[FieldMap, ...]
    derived: tuple[Derived, ...] = ()
    key_columns: tuple[str, ...] = ("position",)  # from switchdb.naming: what identifies a row
    nullable: bool = False  # the list may be absent (an empty list then means something)

    @property
    def table_name(self) -> str:
        return self.table.name

    @cached_property
    def compared_columns(self) -> tuple[str, ...]:
        return tuple(f.column for f in self.fields) + tuple(c for d in self.derived for c in d.columns)

    @cached_property
    def sensitive(self) -> frozenset[str]:
        return frozenset(c for d in self.derived if d.sensitive for c in d.columns)

    @cached_property
    def _column_labels(self) -> dict[str, str]:
        labels = {c: d.label or c for d in self.derived for c in d.columns}
        labels.update({f.column: f.label for f in self.fields})
        return labels

    def column_label(self, column: str) -> str:
        """How a child column is named in a diff (``email``, ``password``)."""
        return self._column_labels.get(column, column)

    def row_key(self, row: Mapping[str, Any]) -> tuple[Any, ...]:
        return tuple(row.get(c) for c in self.key_columns)

    @staticmethod
    def key_order(key: tuple[Any, ...]) -> tuple[tuple[bool, Any], ...]:
        """One order for keys with None in them (None first): desired and live lists line up."""
        return tuple((v is not None, v) for v in key)

    @cached_property
    def read_row(self) -> Callable[[Any], dict[str, Any]]:
        return row_reader(self.fields)

    def order(self, rows: Sequence[Mapping[str, Any]]) -> list[int]:
        """Positions of ``rows`` in key order, None first in a nullable key column: the order of
        unordered child rows, desired and live alike (a 100k-rate deck is put in it on every
        plan). One stable sort per key column, last column first, each keyed by a C-level list
        lookup; a nullable column's None rows go first without being compared with values."""
        positions = list(range(len(rows)))
        for column in reversed(self.key_columns):
            values = list(map(operator.itemgetter(column), rows))
            if self.table.c[column].nullable and None in values:
                absent = [i for i in positions if values[i] is None]
                present = [i for i in positions if values[i] is not None]
                present.sort(key=values.__getitem__)
                positions = absent + present
            else:
                positions.sort(key=values.__getitem__)
        return positions

    def key_label(self, key: tuple[Any, ...]) -> str:
        """``3`` (a position), ``44`` or ``44@2026-01-01`` (a prefix, from a date)."""
        return "@".join(_key_text(v) for v in key if v is not None)

    def show(self, row: Mapping[str, Any] | None) -> dict[str, Any] | None:
        """A child row for people: spec names, sensitive values masked, empty values left out."""
        if row is None:
            return None
        shown = {f.label: row.get(f.column) for f in self.fields if row.get(f.column) is not None}
        for d in self.derived:
            if d.sensitive and any(row.get(c) is not None for c in d.columns):
                shown[d.label or d.columns[0]] = "(sensitive)"
        return shown


@dataclass(frozen=True)
class KindMap:
    kind: str
    model: type[Resource]
    table: Table
    fields: tuple[FieldMap, ...]
    children: tuple[ChildMap, ...]
    derived: tuple[Derived, ...]
    rank: int
    immutable: Mapping[str, str] = field(default_factory=dict)  # column -> reason
    unique_columns: tuple[tuple[str, ...], ...] = ()

    @cached_property
    def meta_columns(self) -> tuple[str, ...]:
        return ("labels", "annotations")

    @cached_property
    def informational(self) -> frozenset[str]:
        """Columns recording where a value came from (a deck's CSV path), not switch state."""
        sources = set(self.model.source_fields)
        return frozenset(f.column for f in self.fields if f.path[0] in sources)

    @cached_property
    def compared_columns(self) -> tuple[str, ...]:
        return (
            self.meta_columns
            + tuple(f.column for f in self.fields if f.column not in self.informational)
            + tuple(c for d in self.derived for c in d.columns)
        )

    @cached_property
    def written_columns(self) -> tuple[str, ...]:
        return self.compared_columns + tuple(sorted(self.informational))

    @cached_property
    def sensitive(self) -> frozenset[str]:
        return frozenset(c for d in self.derived if d.sensitive for c in d.columns)

    @cached_property
    def read_object(self) -> Callable[[Any], dict[str, Any]]:
        """An object's main row, its labels and annotations included."""
        return row_reader(self.fields, within="spec", also={c: f"metadata.{c}" for c in self.meta_columns})

    @cached_property
    def references(self) -> tuple[FieldMap, ...]:
        return tuple(f for f in self.fields if f.role == "reference")

    @cached_property
    def _labels(self) -> dict[str, str]:
        labels = {c: f"metadata.{c}" for c in self.meta_columns}
        for d in self.derived:
            labels.update({c: d.label or c for c in d.columns})
        labels.update({f.column: f.label for f in self.fields})
        return labels

    def label(self, column: str) -> str:
        """The spec path a column is shown as (``address.postalCode``), or the column itself."""
        return self._labels.get(column, column)

    def child(self, table_name: str) -> ChildMap:
        return next(c for c in self.children if c.table_name == table_name)


def _rank(kind: str, seen: tuple[str, ...] = ()) -> int:
    """Dependency depth: a kind ranks after every kind it references (customers first)."""
    targets = {ref.target for ref in KINDS[kind].references} - {kind}
    if kind in seen:
        raise ValueError(f"reference cycle through {kind}")
    return 0 if not targets else 1 + max(_rank(t, (*seen, kind)) for t in targets)


def _unique_columns(table: Table) -> tuple[tuple[str, ...], ...]:
    from sqlalchemy import UniqueConstraint

    found: list[tuple[str, ...]] = []
    for constraint in table.constraints:
        if isinstance(constraint, UniqueConstraint):
            columns = tuple(c.name for c in constraint.columns)
            if columns != ("namespace", "name"):
                found.append(columns)
    for column in table.columns:
        if column.unique:
            found.append((column.name,))
    return tuple(found)


def build_kind_map(kind: str) -> KindMap:
    from reconciler.derived import DERIVED

    model = KINDS[kind]
    spec_model = model.model_fields["spec"].annotation
    assert isinstance(spec_model, type) and issubclass(spec_model, BaseModel)
    columns = naming.spec_columns(model)
    children_specs = naming.child_tables(model)
    main_name = naming.table_name(kind)
    fields = tuple(
        FieldMap(c.column, c.spec_path, c.role, _reader(attrs, c.role), c.target, attrs)
        for c in columns
        if c.table == main_name
        for attrs in [_attr_path(spec_model, c.spec_path)]
    )
    children: list[ChildMap] = []
    for child in children_specs:
        attrs = _attr_path(spec_model, child.spec_path)
        item_model = _item_model(spec_model, attrs)
        child_fields = tuple(
            FieldMap(c.column, c.item_path, c.role, _reader(attrs, c.role), c.target, attrs)
            for c in columns
            if c.table == child.table
            for attrs in [_attr_path(item_model, c.item_path)]
        )
        children.append(
            ChildMap(
                table=metadata.tables[child.table],
                label=".".join(child.spec_path),
                attr=attrs[-1],
                parent_column=child.parent_column,
                ordered=child.ordered,
                key_columns=child.key_columns,
                nullable=child.nullable,
                fields=child_fields,
                derived=DERIVED.get((kind, child.table), ()),
            )
        )
    immutable = {}
    for spec_field, reason in model.immutable_fields.items():
        column = next(f.column for f in fields if f.label == spec_field)
        immutable[column] = reason
    table = metadata.tables[main_name]
    return KindMap(
        kind=kind,
        model=model,
        table=table,
        fields=fields,
        children=tuple(children),
        derived=DERIVED.get((kind, main_name), ()),
        rank=_rank(kind),
        immutable=immutable,
        unique_columns=_unique_columns(table),
    )


def _item_model(spec_model: type[BaseModel], attrs: tuple[str, ...]) -> type[BaseModel]:
    from resources.modelpath import list_item_model

    return list_item_model(spec_model, attrs)


@cache
def kind_maps() -> dict[str, KindMap]:
    """Every kind's map, in dependency order."""
    maps = {kind: build_kind_map(kind) for kind in KINDS}
    return dict(sorted(maps.items(), key=lambda item: (item[1].rank, list(KINDS).index(item[0]))))
