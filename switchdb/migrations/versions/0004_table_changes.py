"""Change counters for the tables a plan reads, kept by triggers.

``trunkline_table_changes`` has one row per counted table; every INSERT, UPDATE or DELETE
(and TRUNCATE on PostgreSQL) adds to its table's counter, whoever runs it. The watch loop then
skips a plan while no counter moved since a plan that found nothing to do
(``reconciler.unchanged``). PostgreSQL counts statements (one trigger call per statement, so
a 100k-row COPY costs one update); SQLite has only row triggers and counts rows.

The table list is written out (not read from the models) so this revision never changes; a
test checks it against ``switchdb.tables.COUNTED_TABLES``.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COUNTED = (
    "alerts",
    "credential_authentications",
    "customer_cli_rules",
    "customer_contacts",
    "customers",
    "dids",
    "ingress_routes",
    "ip_authentications",
    "packages",
    "rate_cards",
    "rates",
    "trunkline_objects",
)
EVENTS = ("insert", "update", "delete")

PG_FUNCTION = """
CREATE FUNCTION trunkline_count_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE trunkline_table_changes SET changes = changes + 1 WHERE table_name = TG_TABLE_NAME;
    RETURN NULL;
END
$$
"""


def upgrade() -> None:
    counters = op.create_table('trunkline_table_changes',
        sa.Column('table_name', sa.String(length=63), nullable=False),
        sa.Column('changes', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('table_name', name='pk_trunkline_table_changes')
    )
    op.bulk_insert(counters, [{"table_name": name, "changes": 0} for name in COUNTED])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_FUNCTION)
        for name in COUNTED:
            op.execute(
                f"CREATE TRIGGER trunkline_count_changes AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
                f"ON {name} FOR EACH STATEMENT EXECUTE FUNCTION trunkline_count_change()"
            )
        return
    for name in COUNTED:
        for event in EVENTS:
            op.execute(
                f"CREATE TRIGGER trunkline_count_{name}_{event} AFTER {event.upper()} ON {name} BEGIN "
                f"UPDATE trunkline_table_changes SET changes = changes + 1 WHERE table_name = '{name}'; END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name in COUNTED:
            op.execute(f"DROP TRIGGER IF EXISTS trunkline_count_changes ON {name}")
        op.execute("DROP FUNCTION IF EXISTS trunkline_count_change()")
    else:
        for name in COUNTED:
            for event in EVENTS:
                op.execute(f"DROP TRIGGER IF EXISTS trunkline_count_{name}_{event}")
    op.drop_table('trunkline_table_changes')
