"""Indexes for the dashboard's KPI queries (bench/dashboard_bench.py measures them).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22 18:45:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(op.f('ix_conversations_started_at'), 'conversations', ['started_at'])
    op.create_index('ix_messages_conversation_sender_created', 'messages',
                    ['conversation_id', 'sender_kind', 'created_at'])
    op.create_index('ix_messages_sender_created_intent', 'messages',
                    ['sender_kind', 'created_at', 'intent', 'confidence'])
    op.create_index('ix_orders_customer_created', 'orders', ['customer_id', 'created_at'])


def downgrade() -> None:
    op.drop_index('ix_orders_customer_created', table_name='orders')
    op.drop_index('ix_messages_sender_created_intent', table_name='messages')
    op.drop_index('ix_messages_conversation_sender_created', table_name='messages')
    op.drop_index(op.f('ix_conversations_started_at'), table_name='conversations')
