"""The one ``MetaData`` of the switch database and the column helpers every table module uses.

Constraint names come from the naming convention, so the migration (which spells every name
out) and ``metadata`` agree, and a later migration can drop a constraint by name on both
backends.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Column, ForeignKey, Integer, MetaData, String, text

from switchdb.types import Json

NAMING_CONVENTION = {
    "pk": "pk_%(table_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)

NAME_LENGTH = 63  # a DNS-1123 label, as metadata.name and metadata.namespace are

BigId = BigInteger().with_variant(Integer(), "sqlite")
"""64-bit ids for tables that churn (CDRs, ledger, rate decks); SQLite needs INTEGER to alias rowid."""

DERIVED_SECRET = {"derived": True, "sensitive": True}
DERIVED = {"derived": True}
OPERATIONAL = {"operational": True}


def id_column(*, big: bool = False) -> Column[Any]:
    return Column("id", BigId if big else Integer(), primary_key=True, autoincrement=True)


def key_columns() -> list[Column[Any]]:
    """``namespace``, ``name``, ``labels``, ``annotations``: the object's metadata."""
    return [
        Column("namespace", String(NAME_LENGTH), nullable=False),
        Column("name", String(NAME_LENGTH), nullable=False),
        Column("labels", Json(), nullable=False, default=dict, server_default=text("'{}'")),
        Column("annotations", Json(), nullable=False, default=dict, server_default=text("'{}'")),
    ]


def reference(column: str, table: str, *, nullable: bool = False) -> Column[Any]:
    """A declared reference: RESTRICT, because the engine deletes referrers first."""
    return Column(
        column,
        Integer(),
        ForeignKey(f"{table}.id", ondelete="RESTRICT"),
        nullable=nullable,
        index=True,
    )


def parent(column: str, table: str, *, index: bool = True) -> Column[Any]:
    """A child row's owner: CASCADE, the rows are part of the parent object."""
    return Column(column, Integer(), ForeignKey(f"{table}.id", ondelete="CASCADE"), nullable=False, index=index)
