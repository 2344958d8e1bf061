"""The Kamailio example's CDR queue, kept here while the switch is stopped (mqueue ``dbmode=1``).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('cdr_queue',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('key', sa.String(length=64), nullable=False),
        sa.Column('val', sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint('id', name='pk_cdr_queue')
    )


def downgrade() -> None:
    op.drop_table('cdr_queue')
