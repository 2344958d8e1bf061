"""Which declared object owns which row, and the history of every apply.

``trunkline_objects`` is the inventory: the engine updates and prunes only rows listed here
(unowned rows are reported, adopted only on request). ``trunkline_revisions`` records each
apply: who, from where, which git commit, what changed, and a compressed snapshot of the
desired state so a revision can be re-applied (rollback).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Integer,
    LargeBinary,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from switchdb.tables.base import NAME_LENGTH, id_column, metadata
from switchdb.types import Json, UtcDateTime

trunkline_revisions = Table(
    "trunkline_revisions",
    metadata,
    id_column(),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("actor", String(255), nullable=False),
    Column("source", Text(), nullable=False),
    Column("commit_sha", String(40)),
    Column("commit_author", Text()),
    Column("commit_subject", Text()),
    Column("summary", Json(), nullable=False),  # {"create": n, "update": n, "delete": n}
    Column("changes", Json()),
    Column("desired", LargeBinary()),
    sqlite_autoincrement=True,  # a revision number is never reused
)

trunkline_objects = Table(
    "trunkline_objects",
    metadata,
    Column("kind", String(NAME_LENGTH), nullable=False),
    Column("namespace", String(NAME_LENGTH), nullable=False),
    Column("name", String(NAME_LENGTH), nullable=False),
    Column("row_id", Integer(), nullable=False),  # id in the kind's main table
    Column("spec_hash", String(64), nullable=False),
    Column("generation", Integer(), nullable=False),
    Column("revision_id", Integer(), ForeignKey("trunkline_revisions.id"), nullable=False, index=True),
    Column("applied_at", UtcDateTime(), nullable=False),
    PrimaryKeyConstraint("kind", "namespace", "name"),
    UniqueConstraint("kind", "row_id"),  # a row has at most one owner
)

# How many writing statements (PostgreSQL) or written rows (SQLite) each table the engine
# observes has seen, kept by triggers (migration 0004) whoever writes: the engine, the sidecar,
# or a person with psql. A plan is a pure function of the desired state and these tables, so
# while the counters stand still a plan that found nothing to do still finds nothing
# (``reconciler.unchanged``). Counters only grow.
trunkline_table_changes = Table(
    "trunkline_table_changes",
    metadata,
    Column("table_name", String(NAME_LENGTH), primary_key=True),
    Column("changes", BigInteger(), nullable=False),
)
