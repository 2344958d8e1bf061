"""Where each field of a declared kind lives in the switch database, derived from the model.

The tables in ``switchdb.tables`` are written out by hand (a migration must be explicit), but
their names follow rules, so the plan/apply engine can map any kind to rows without per-kind
code, and a test can prove the tables and the models never drift apart. The rules:

- one main table per kind, ``snake_case(kind) + "s"`` (``RateCard`` → ``rate_cards``);
- a spec field becomes ``snake_case`` of its path, nested models flattened with ``_``
  (``address.postalCode`` → ``address_postal_code``);
- a nested model whose field name ends in ``Ref`` points outside the switch database and is
  kept whole as JSON: a ``SecretRef`` (role ``secret_ref``; the reference, never the secret) or,
  e.g., ``ratesFrom.configMapRef`` (role ``json``);
- a declared reference (``Resource.references``) is an integer foreign key named after the path
  with ``Ref`` replaced by ``_id`` (``provider.cardRef`` → ``provider_card_id``);
- a list of scalars, a dict, or a list of models listed in ``JSON_LISTS`` is a JSON column;
- any other list of models is a child table ``<kind>_<path>`` (see ``CHILD_TABLE_NAMES``) with
  ``id``, ``<kind>_id`` and, unless listed in ``UNORDERED_CHILDREN``, ``position``;
- a column that would collide with the table's own columns (``name`` in a main table) gets the
  prefix ``spec_`` (``Package.spec.name`` → ``spec_name``);
- fields hidden from the JSON schema (``password``, which exists only to reject clear text) are
  not part of the API and have no column.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel
from pydantic.alias_generators import to_snake
from pydantic.fields import FieldInfo
from pydantic.json_schema import SkipJsonSchema

from resources.meta import Resource
from resources.secrets import SecretRef

Role = Literal["scalar", "json", "reference", "secret_ref"]

MAIN_COLUMNS = frozenset({"id", "namespace", "name", "labels", "annotations"})
"""Columns every main table has before its spec columns."""

CHILD_TABLE_NAMES: dict[tuple[str, tuple[str, ...]], str] = {
    # A rate deck is the one child table big enough to be a noun of its own.
    ("RateCard", ("rates",)): "rates",
}
UNORDERED_CHILDREN: dict[tuple[str, tuple[str, ...]], tuple[str, ...]] = {
    # 100k-row decks are keyed by (prefix, effectiveFrom); a position column would turn an
    # insert at the top of a deck into 100k updates. Value: the columns that identify a row.
    ("RateCard", ("rates",)): ("prefix", "effective_from"),
}
JSON_LISTS: frozenset[tuple[str, tuple[str, ...]]] = frozenset(
    {
        # A handful of {email|phone|webhook}; nothing queries them, the alerter reads them whole.
        ("Alert", ("recipients",)),
    }
)

SCALAR_TYPES: tuple[type, ...] = (bool, int, Decimal, str, datetime, date)
"""Scalar Python types, most specific first (bool is an int, datetime is a date)."""


@dataclass(frozen=True, slots=True)
class ColumnSpec:
    """One spec field's column.

    ``spec_path`` is camelCase from the spec root; for a child table it starts with the list's
    path (``("contacts", "email")``) and ``list_path`` is that list's path, so ``item_path`` is
    the path inside one list item. ``value_type`` is the scalar Python type (``None`` for
    JSON); ``target`` is the referenced kind of a reference; ``nullable`` says whether a valid
    spec can leave the value out (the field or one of its parents is optional).
    """

    spec_path: tuple[str, ...]
    column: str
    table: str
    role: Role
    value_type: type | None = None
    nullable: bool = False
    target: str | None = None
    list_path: tuple[str, ...] = ()

    @property
    def item_path(self) -> tuple[str, ...]:
        return self.spec_path[len(self.list_path) :]


@dataclass(frozen=True, slots=True)
class ChildTableSpec:
    """A list of models stored as rows of ``table``, each pointing at its parent row."""

    spec_path: tuple[str, ...]
    table: str
    parent_table: str
    parent_column: str
    ordered: bool
    nullable: bool = False  # the list itself may be absent (RateCard.spec.rates with ratesFrom)
    key_columns: tuple[str, ...] = ("position",)  # what identifies a row within its parent


def table_name(kind: str) -> str:
    """``RateCard`` → ``rate_cards``: the main table of a kind."""
    return to_snake(kind) + "s"


def parent_column(kind: str) -> str:
    """``RateCard`` → ``rate_card_id``: the foreign key a child row holds to its main row."""
    return to_snake(kind) + "_id"


def spec_columns(kind_model: type[Resource]) -> list[ColumnSpec]:
    """Every spec field of ``kind_model`` as a column, main table first, in field order."""
    return [item for item in _walk_kind(kind_model) if isinstance(item, ColumnSpec)]


def child_tables(kind_model: type[Resource]) -> list[ChildTableSpec]:
    """The lists of models of ``kind_model`` that are stored as child tables."""
    return [item for item in _walk_kind(kind_model) if isinstance(item, ChildTableSpec)]


def _walk_kind(kind_model: type[Resource]) -> Iterator[ColumnSpec | ChildTableSpec]:
    kind = _kind_name(kind_model)
    spec_model = _spec_model(kind_model)
    references = {ref.path: ref.target for ref in kind_model.references}
    walker = _Walker(kind, references)
    yield from walker.model(spec_model, path=(), names=(), table=table_name(kind), nullable=False, list_path=())


def _kind_name(kind_model: type[Resource]) -> str:
    default = kind_model.model_fields["kind"].default
    return default if isinstance(default, str) else kind_model.__name__


def _spec_model(kind_model: type[Resource]) -> type[BaseModel]:
    annotation = kind_model.model_fields["spec"].annotation
    if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
        raise TypeError(f"{kind_model.__name__}.spec is not a model")
    return annotation


@dataclass
class _Walker:
    kind: str
    references: dict[tuple[str, ...], str]

    def model(
        self,
        model: type[BaseModel],
        *,
        path: tuple[str, ...],
        names: tuple[str, ...],
        table: str,
        nullable: bool,
        list_path: tuple[str, ...],
    ) -> Iterator[ColumnSpec | ChildTableSpec]:
        reserved = MAIN_COLUMNS if not list_path else {"id", "position", parent_column(self.kind)}
        for attr, field in model.model_fields.items():
            if any(isinstance(m, SkipJsonSchema) for m in field.metadata):
                continue
            field_path = (*path, field.alias or attr)
            field_names = (*names, attr)
            yield from self.field(
                field,
                path=field_path,
                names=field_names,
                table=table,
                nullable=nullable,
                list_path=list_path,
                reserved=reserved,
            )

    def field(
        self,
        field: FieldInfo,
        *,
        path: tuple[str, ...],
        names: tuple[str, ...],
        table: str,
        nullable: bool,
        list_path: tuple[str, ...],
        reserved: typing.Collection[str],
    ) -> Iterator[ColumnSpec | ChildTableSpec]:
        base, optional = _strip_optional(field.annotation)
        nullable = nullable or optional
        column = "_".join(names[len(list_path) :])
        if column in reserved:
            column = "spec_" + column

        def spec(role: Role, value_type: type | None = None, target: str | None = None) -> ColumnSpec:
            return ColumnSpec(path, column, table, role, value_type, nullable, target, list_path)

        if path in self.references:
            if not column.endswith("_ref"):
                raise TypeError(f"{self.kind}.spec.{'.'.join(path)}: a reference's name must end in Ref")
            target = self.references[path]
            column = column[: -len("_ref")] + "_id"
            yield ColumnSpec(path, column, table, "reference", int, nullable, target, list_path)
            return
        if _is_model(base):
            if base is SecretRef or issubclass(base, SecretRef):
                yield spec("secret_ref")
            elif path[-1].endswith("Ref"):
                yield spec("json")
            else:
                yield from self.model(base, path=path, names=names, table=table, nullable=nullable, list_path=list_path)
            return
        origin = typing.get_origin(base)
        if origin is list:
            (item,) = typing.get_args(base)
            item, _ = _strip_optional(item)
            if not _is_model(item) or (self.kind, path) in JSON_LISTS:
                yield spec("json")
                return
            if list_path:
                raise TypeError(
                    f"{self.kind}.spec.{'.'.join(path)}: a list of models inside a list of models "
                    "has no storage rule; add it to JSON_LISTS or give it a rule in switchdb.naming"
                )
            child = CHILD_TABLE_NAMES.get((self.kind, path)) or f"{to_snake(self.kind)}_{'_'.join(names)}"
            yield ChildTableSpec(
                spec_path=path,
                table=child,
                parent_table=table,
                parent_column=parent_column(self.kind),
                ordered=(self.kind, path) not in UNORDERED_CHILDREN,
                nullable=nullable,
                key_columns=UNORDERED_CHILDREN.get((self.kind, path), ("position",)),
            )
            yield from self.model(item, path=path, names=names, table=child, nullable=False, list_path=path)
            return
        if origin is dict:
            yield spec("json")
            return
        yield spec("scalar", _scalar_type(base, where=f"{self.kind}.spec.{'.'.join(path)}"))


def _strip_annotated(annotation: Any) -> Any:
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation


def _strip_optional(annotation: Any) -> tuple[Any, bool]:
    """``X | None`` → (X, True); Annotated wrappers are removed."""
    annotation = _strip_annotated(annotation)
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        optional = len(args) != len(typing.get_args(annotation))
        if len(args) != 1:
            raise TypeError(f"union {annotation!r} has no single storage type")
        return _strip_annotated(args[0]), optional
    return annotation, False


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _scalar_type(annotation: Any, *, where: str) -> type:
    if typing.get_origin(annotation) is Literal:
        kinds = {_scalar_type(type(v), where=where) for v in typing.get_args(annotation)}
        if len(kinds) != 1:
            raise TypeError(f"{where}: Literal mixes types {sorted(k.__name__ for k in kinds)}")
        return kinds.pop()
    if isinstance(annotation, type):
        for scalar in SCALAR_TYPES:
            if issubclass(annotation, scalar):
                return scalar
    raise TypeError(f"{where}: no column type for {annotation!r}")
