"""Dialogue events: what Rasa did per conversation, consumed from its event broker
(production profile; bot/rasa_events.py).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22 21:06:42.368121
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('dialogue_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sender_id', sa.String(length=240), nullable=False),
    sa.Column('conversation_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('confidence', sa.Float(), nullable=True),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('event_key', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], name=op.f('fk_dialogue_events_conversation_id_conversations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dialogue_events')),
    sa.UniqueConstraint('event_key', name=op.f('uq_dialogue_events_event_key'))
    )
    with op.batch_alter_table('dialogue_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dialogue_events_conversation_id'), ['conversation_id'], unique=False)
        batch_op.create_index('ix_dialogue_events_kind_at', ['kind', 'occurred_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_dialogue_events_sender_id'), ['sender_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('dialogue_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dialogue_events_sender_id'))
        batch_op.drop_index('ix_dialogue_events_kind_at')
        batch_op.drop_index(batch_op.f('ix_dialogue_events_conversation_id'))

    op.drop_table('dialogue_events')
