"""Inbound messages say whether the gateway finished with them, and who is working on one.

`unanswered_since` is set when the gateway stores a customer's message it is about to answer and
cleared when it has answered it, passed it to staff or handed the conversation over; a message
the gateway stored but never finished (the process died, the database stayed down past the
grace) keeps it and is found and answered later (bot/recovery.py). Rows from before this
revision have it NULL: none of them is recovered. `claimed_by`/`claimed_until` are the lease of the gateway replica working on
it, so that exactly one replica answers it.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 16:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('unanswered_since', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('claimed_by', sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column('claimed_until', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_messages_unanswered_since', ['unanswered_since'])


def downgrade() -> None:
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_index('ix_messages_unanswered_since')
        batch_op.drop_column('claimed_until')
        batch_op.drop_column('claimed_by')
        batch_op.drop_column('unanswered_since')
