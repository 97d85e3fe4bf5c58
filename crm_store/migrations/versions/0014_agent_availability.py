"""Agents' availability for automatic assignment: online or away, and a capacity of their own.

One row per member of service staff who has set a status (crm_store.models.AgentAvailability);
no row reads as away with the default capacity (KEFU_AGENT_CAPACITY), so every account from
before this revision starts away and nothing is assigned until someone goes online.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 09:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0014'
down_revision: str | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'agent_availability',
        sa.Column('staff_id', sa.Integer(), nullable=False),
        sa.Column('status', sa.Enum('online', 'away', name='agent_status', native_enum=False,
                                    create_constraint=True, length=6), nullable=False),
        sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('capacity', sa.Integer(), nullable=True),
        sa.Column('last_assigned_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['staff_id'], ['staff_users.id'],
                                name=op.f('fk_agent_availability_staff_id_staff_users'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('staff_id', name=op.f('pk_agent_availability')),
    )


def downgrade() -> None:
    op.drop_table('agent_availability')
