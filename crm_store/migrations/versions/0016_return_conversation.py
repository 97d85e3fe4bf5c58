"""The conversation a return was opened in: a photo the customer sends there afterwards (a
damaged or wrong item) is evidence for that return (crm_store/services/evidence.py).

Empty for returns from before this revision and for returns staff open outside a chat.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05 18:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0016'
down_revision: str | None = '0015'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('returns', schema=None) as batch_op:
        batch_op.add_column(sa.Column('conversation_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_returns_conversation_id_conversations'),
                                    'conversations', ['conversation_id'], ['id'],
                                    ondelete='SET NULL')


def downgrade() -> None:
    with op.batch_alter_table('returns', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_returns_conversation_id_conversations'),
                                 type_='foreignkey')
        batch_op.drop_column('conversation_id')
