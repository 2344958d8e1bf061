"""Every field of every kind has its column, named by the rules the engine relies on.

The walk is generic (``switchdb.naming.spec_columns``): add a field to a model without a
column, or a column without a field, and a test here fails.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import ClassVar, Literal

import pytest
import sqlalchemy as sa
from pydantic import BaseModel

from resources.kinds import KINDS
from resources.meta import ClearPassword, Model, Reference, Resource
from resources.secrets import SecretRef
from switchdb.naming import (
    MAIN_COLUMNS,
    ColumnSpec,
    child_tables,
    parent_column,
    spec_columns,
    table_name,
)
from switchdb.tables import KIND_TABLES, metadata
from switchdb.types import Money, UtcDateTime

ALL_COLUMNS = [
    pytest.param(c, id=f"{kind}.{'.'.join(c.spec_path)}") for kind, model in KINDS.items() for c in spec_columns(model)
]


def _table(name: str) -> sa.Table:
    assert name in metadata.tables, f"no table {name}"
    return metadata.tables[name]


def test_every_kind_has_its_main_table() -> None:
    assert set(KIND_TABLES) == set(KINDS)
    for kind, table in KIND_TABLES.items():
        assert table.name == table_name(kind)
        assert [c.name for c in table.primary_key.columns] == ["id"]
        assert {"namespace", "name"} in [{c.name for c in u.columns} for u in _uniques(table)]


@pytest.mark.parametrize("spec", ALL_COLUMNS)
def test_spec_field_has_a_column_of_the_right_type(spec: ColumnSpec) -> None:
    table = _table(spec.table)
    assert spec.column in table.c, f"{spec.table} has no column {spec.column} for {'.'.join(spec.spec_path)}"
    column = table.c[spec.column]
    assert column.nullable == spec.nullable, "nullable must follow the model (optional field or parent)"
    assert not column.info, "a spec column is neither derived nor operational"
    if spec.role in ("json", "secret_ref"):
        assert isinstance(column.type, sa.JSON) or isinstance(column.type.as_generic(), sa.JSON)
    elif spec.role == "reference":
        _assert_reference(column, target_table=table_name(spec.target or ""))
    else:
        _assert_scalar_type(column, spec.value_type)


def _assert_scalar_type(column: sa.Column, value_type: type | None) -> None:
    kind = column.type
    if value_type is Decimal:
        assert isinstance(kind, Money), "money is never a float"
    elif value_type is datetime:
        assert isinstance(kind, UtcDateTime)
    elif value_type is date:
        assert isinstance(kind, sa.Date) and not isinstance(kind, sa.DateTime)
    elif value_type is bool:
        assert isinstance(kind, sa.Boolean)
    elif value_type is int:
        assert isinstance(kind, sa.Integer)
    elif value_type is str:
        assert isinstance(kind, sa.String)
    else:
        pytest.fail(f"unexpected value type {value_type}")


def _assert_reference(column: sa.Column, *, target_table: str) -> None:
    assert isinstance(column.type, sa.Integer)
    (fk,) = column.foreign_keys
    assert fk.column.table.name == target_table and fk.column.name == "id"
    assert fk.ondelete == "RESTRICT", "the engine deletes referrers first"
    assert _indexed(column)


def _indexed(column: sa.Column) -> bool:
    table = column.table
    leading = [next(iter(i.columns)) for i in table.indexes] + [next(iter(u.columns)) for u in _uniques(table)]
    return column.index is True or any(c is column for c in leading)


def _uniques(table: sa.Table) -> list[sa.UniqueConstraint]:
    return [c for c in table.constraints if isinstance(c, sa.UniqueConstraint)]


@pytest.mark.parametrize("kind", list(KINDS))
def test_child_tables_hang_off_their_parent(kind: str) -> None:
    for child in child_tables(KINDS[kind]):
        table = _table(child.table)
        assert table.info == {"parent": table_name(kind), "spec_field": ".".join(child.spec_path)}
        column = table.c[parent_column(kind)]
        (fk,) = column.foreign_keys
        assert fk.column.table.name == table_name(kind) and fk.ondelete == "CASCADE"
        assert not column.nullable and _indexed(column)
        assert ("position" in table.c) == child.ordered
        if child.ordered:
            assert not table.c.position.nullable and isinstance(table.c.position.type, sa.Integer)


def test_every_column_is_a_spec_field_or_says_what_it_is() -> None:
    expected: dict[str, set[str]] = {}
    for kind, model in KINDS.items():
        expected.setdefault(table_name(kind), set(MAIN_COLUMNS))
        for child in child_tables(model):
            expected[child.table] = {"id", child.parent_column} | ({"position"} if child.ordered else set())
        for spec in spec_columns(model):
            expected[spec.table].add(spec.column)
    declared = {t.name for t in metadata.tables.values() if "kind" in t.info or "parent" in t.info}
    assert declared == set(expected), "every kind table and child table comes from a model"
    for name, columns in expected.items():
        extra = {c.name for c in _table(name).c} - columns
        unmarked = {c for c in extra if not _table(name).c[c].info}
        assert not unmarked, f"{name}: columns {sorted(unmarked)} are no spec field and carry no info"


@pytest.mark.parametrize(
    ("table", "column", "info"),
    [
        pytest.param("credential_authentications", "ha1", {"derived": True, "sensitive": True}, id="ha1"),
        pytest.param("credential_authentications", "ha1b", {"derived": True, "sensitive": True}, id="ha1b"),
        pytest.param("customer_contacts", "password_hash", {"derived": True, "sensitive": True}, id="hash"),
        pytest.param("ip_authentications", "ip_addr", {"derived": True}, id="ip_addr"),
        pytest.param("ip_authentications", "mask", {"derived": True}, id="mask"),
        *(
            pytest.param("alerts", name, {"operational": True}, id=f"alert {name}")
            for name in ("state", "last_value", "fired_at", "last_sent_at", "paused_until")
        ),
    ],
)
def test_non_spec_columns_are_marked(table: str, column: str, info: dict[str, bool]) -> None:
    assert _table(table).c[column].info == info


@pytest.mark.parametrize(
    ("kind", "path", "table", "column", "role"),
    [
        pytest.param(
            "Customer",
            ("address", "postalCode"),
            "customers",
            "address_postal_code",
            "scalar",
            id="nested model flattened",
        ),
        pytest.param(
            "RateCard",
            ("defaults", "connectFee"),
            "rate_cards",
            "defaults_connect_fee",
            "scalar",
            id="defaults flattened",
        ),
        pytest.param(
            "RateCard",
            ("ratesFrom", "configMapRef"),
            "rate_cards",
            "rates_from_config_map_ref",
            "json",
            id="an external Ref model is kept whole",
        ),
        pytest.param("Did", ("provider", "cardRef"), "dids", "provider_card_id", "reference", id="nested reference"),
        pytest.param("Did", ("customerCardRef",), "dids", "customer_card_id", "reference", id="reference"),
        pytest.param("Package", ("name",), "packages", "spec_name", "scalar", id="name collides with metadata"),
        pytest.param("Alert", ("name",), "alerts", "spec_name", "scalar", id="alert name too"),
        pytest.param("Alert", ("recipients",), "alerts", "recipients", "json", id="small list of dicts"),
        pytest.param(
            "Package", ("allowance", "prefixes"), "packages", "allowance_prefixes", "json", id="list of scalars"
        ),
        pytest.param(
            "IpAuthentication",
            ("credentials", "passwordRef"),
            "ip_authentications",
            "credentials_password_ref",
            "secret_ref",
            id="nested secret ref",
        ),
        pytest.param(
            "Customer",
            ("contacts", "passwordRef"),
            "customer_contacts",
            "password_ref",
            "secret_ref",
            id="secret ref in a child table",
        ),
        pytest.param(
            "Customer",
            ("contacts", "name"),
            "customer_contacts",
            "name",
            "scalar",
            id="name in a child table stays name",
        ),
        pytest.param("RateCard", ("rates", "perMinute"), "rates", "per_minute", "scalar", id="rate deck"),
    ],
)
def test_naming_rules(kind: str, path: tuple[str, ...], table: str, column: str, role: str) -> None:
    (spec,) = [c for c in spec_columns(KINDS[kind]) if c.spec_path == path]
    assert (spec.table, spec.column, spec.role) == (table, column, role)


def test_child_columns_know_their_path_inside_an_item() -> None:
    (rate,) = [c for c in spec_columns(KINDS["RateCard"]) if c.column == "effective_from"]
    assert (rate.list_path, rate.item_path) == (("rates",), ("effectiveFrom",))


def test_clear_password_fields_have_no_column() -> None:
    for kind, model in KINDS.items():
        assert not [c for c in spec_columns(model) if c.spec_path[-1] == "password"], kind


# Synthetic kinds for rules no real kind exercises yet.


class _Leaf(Model):
    label: str


class _Item(Model):
    leaves: list[_Leaf]


class _NestedListsSpec(Model):
    items: list[_Item]


class _NestedLists(Resource):
    kind: Literal["NestedLists"] = "NestedLists"
    spec: _NestedListsSpec
    plural: ClassVar[str] = "nestedlists"


class _Inner(Model):
    amount: Decimal | None = None
    when: datetime
    target_ref: str
    secret: SecretRef | None = None


class _WideSpec(Model):
    id: int
    outer: _Inner | None = None
    mode: Literal["a", "bb"] = "a"
    counts: dict[str, int] = {}
    password: ClearPassword = None


class _Wide(Resource):
    kind: Literal["Wide"] = "Wide"
    spec: _WideSpec
    plural: ClassVar[str] = "wides"
    references: ClassVar[tuple[Reference, ...]] = (Reference(("outer", "targetRef"), "Customer"),)


class _UnionSpec(Model):
    value: int | str


class _Union(Resource):
    kind: Literal["Union"] = "Union"
    spec: _UnionSpec
    plural: ClassVar[str] = "unions"


def test_rules_on_a_synthetic_kind() -> None:
    got = {c.column: (c.role, c.value_type, c.nullable, c.target) for c in spec_columns(_Wide)}
    assert got == {
        "spec_id": ("scalar", int, False, None),
        "outer_amount": ("scalar", Decimal, True, None),
        "outer_when": ("scalar", datetime, True, None),
        "outer_target_id": ("reference", int, True, "Customer"),
        "outer_secret": ("secret_ref", None, True, None),
        "mode": ("scalar", str, False, None),
        "counts": ("json", None, False, None),
    }
    assert {c.table for c in spec_columns(_Wide)} == {"wides"}


@pytest.mark.parametrize(
    ("model", "message"),
    [
        pytest.param(_NestedLists, "list of models inside a list of models", id="list in list"),
        pytest.param(_Union, "no single storage type", id="union of two types"),
    ],
)
def test_shapes_without_a_rule_are_refused(model: type[BaseModel], message: str) -> None:
    with pytest.raises(TypeError, match=message):
        spec_columns(model)  # type: ignore[arg-type]
