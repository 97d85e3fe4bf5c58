"""Handoffs carry the email address a customer left for the answer while the team was offline.

`reply_email` is set by the gateway when a customer waiting outside business hours types an
email address (bot/store.py); the agent console shows it with a mailto link. NULL for every
handoff from before this revision and whenever the customer gave none.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('handoffs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reply_email', sa.String(length=320), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('handoffs', schema=None) as batch_op:
        batch_op.drop_column('reply_email')
