"""Marketing: saved segments, each customer's RFM tier, segment/triggered/scheduled campaigns,
and the outbound message behind each campaign delivery.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 18:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('segments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('rules', sa.JSON(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['staff_users.id'], name=op.f('fk_segments_created_by_id_staff_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_segments')),
    sa.UniqueConstraint('name', name=op.f('uq_segments_name'))
    )
    op.create_table('customer_rfm',
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('recency_days', sa.Integer(), nullable=True),
    sa.Column('frequency', sa.Integer(), nullable=False),
    sa.Column('monetary', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('score', sa.String(length=3), nullable=False),
    sa.Column('tier', sa.String(length=16), nullable=False),
    sa.Column('computed_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_customer_rfm_customer_id_customers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('customer_id', name=op.f('pk_customer_rfm'))
    )
    op.create_index(op.f('ix_customer_rfm_tier'), 'customer_rfm', ['tier'], unique=False)
    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.alter_column('topic', existing_type=sa.String(length=80), nullable=True)
        batch_op.add_column(sa.Column('segment_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('kind', sa.String(length=16), nullable=False,
                                      server_default='campaign'))
        batch_op.add_column(sa.Column('product_sku', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('scheduled_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_campaigns_segment_id_segments'), 'segments',
                                    ['segment_id'], ['id'], ondelete='SET NULL')
    with op.batch_alter_table('campaign_deliveries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('message_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('conversation_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_campaign_deliveries_message_id_messages'),
                                    'messages', ['message_id'], ['id'], ondelete='SET NULL')
        batch_op.create_foreign_key(
            batch_op.f('fk_campaign_deliveries_conversation_id_conversations'),
            'conversations', ['conversation_id'], ['id'], ondelete='SET NULL')


def downgrade() -> None:
    with op.batch_alter_table('campaign_deliveries', schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f('fk_campaign_deliveries_conversation_id_conversations'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_campaign_deliveries_message_id_messages'),
                                 type_='foreignkey')
        batch_op.drop_column('conversation_id')
        batch_op.drop_column('message_id')
    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_campaigns_segment_id_segments'),
                                 type_='foreignkey')
        batch_op.drop_column('scheduled_at')
        batch_op.drop_column('product_sku')
        batch_op.drop_column('kind')
        batch_op.drop_column('segment_id')
        batch_op.alter_column('topic', existing_type=sa.String(length=80), nullable=False)
    op.drop_index(op.f('ix_customer_rfm_tier'), table_name='customer_rfm')
    op.drop_table('customer_rfm')
    op.drop_table('segments')
