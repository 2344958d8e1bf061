"""Package charging: when the charger first saw each package, and each period it charged.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MONEY = sa.Numeric(20, 8).with_variant(sa.Text(), "sqlite")
UTC_DATETIME = sa.DateTime(timezone=True)
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table('package_billing',
        sa.Column('package_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('since', sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint('package_id', name='pk_package_billing')
    )
    op.create_table('package_charges',
        sa.Column('id', BIG_ID, autoincrement=True, nullable=False),
        sa.Column('package_id', sa.Integer(), nullable=False),
        sa.Column('customer_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('period_start', sa.Date(), nullable=False),
        sa.Column('amount', MONEY, nullable=False),
        sa.Column('charged_at', UTC_DATETIME, nullable=False),
        sa.CheckConstraint("kind IN ('period', 'minimum_spend')", name='ck_package_charges_kind'),
        sa.PrimaryKeyConstraint('id', name='pk_package_charges'),
        sa.UniqueConstraint('package_id', 'kind', 'period_start', name='uq_package_charges_package_id_kind_period_start')
    )


def downgrade() -> None:
    op.drop_table('package_charges')
    op.drop_table('package_billing')
