"""Alert delivery attempts and alert penalties in force (written by the alerter, never by apply).

Revision ID: 0002
Revises: 0001
Create Date: 2025-01-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_DATETIME = sa.DateTime(timezone=True)
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table('alert_deliveries',
        sa.Column('id', BIG_ID, autoincrement=True, nullable=False),
        sa.Column('alert_id', sa.Integer(), nullable=False),
        sa.Column('customer_id', sa.Integer(), nullable=False),
        sa.Column('at', UTC_DATETIME, nullable=False),
        sa.Column('event', sa.String(length=16), nullable=False),
        sa.Column('channel', sa.String(length=16), nullable=False),
        sa.Column('recipient', sa.Text(), nullable=False),
        sa.Column('attempt', sa.Integer(), nullable=False),
        sa.Column('outcome', sa.String(length=16), nullable=False),
        sa.Column('error', sa.Text(), nullable=True),
        sa.CheckConstraint("channel IN ('email', 'webhook', 'phone')", name='ck_alert_deliveries_channel'),
        sa.CheckConstraint("outcome IN ('Sent', 'Failed', 'Unsupported')", name='ck_alert_deliveries_outcome'),
        sa.PrimaryKeyConstraint('id', name='pk_alert_deliveries')
    )
    op.create_index('ix_alert_deliveries_alert_id_at', 'alert_deliveries', ['alert_id', 'at'], unique=False)
    op.create_table('alert_penalties',
        sa.Column('alert_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('customer_id', sa.Integer(), nullable=False),
        sa.Column('previous_status', sa.String(length=16), nullable=False),
        sa.Column('since', UTC_DATETIME, nullable=False),
        sa.Column('until', UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint('alert_id', name='pk_alert_penalties')
    )
    op.create_index('ix_alert_penalties_customer_id', 'alert_penalties', ['customer_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_alert_penalties_customer_id', table_name='alert_penalties')
    op.drop_table('alert_penalties')
    op.drop_index('ix_alert_deliveries_alert_id_at', table_name='alert_deliveries')
    op.drop_table('alert_deliveries')
