"""Handoffs carry their priority, set by whoever hands over, instead of the console guessing
it from the reason's wording.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 13:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PRIORITIES = ('low', 'normal', 'high', 'urgent')


def _priority() -> sa.Enum:
    return sa.Enum(*PRIORITIES, name='handoff_priority', native_enum=False,
                   create_constraint=True)


def upgrade() -> None:
    with op.batch_alter_table('handoffs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('priority', _priority(), server_default='normal',
                                      nullable=False))
    # Handoffs made before this revision: the priority the console used to read from the
    # reason's words (action_handoff's reasons), once, so the queue keeps its order.
    handoffs = sa.table('handoffs', sa.column('reason', sa.Text), sa.column('priority'))
    reason = sa.func.lower(sa.func.coalesce(handoffs.c.reason, ''))
    op.execute(handoffs.update()
               .where(sa.or_(reason.like('%complaint%'), reason.like('%urgent%'),
                             reason.like('%angry%')))
               .values(priority='urgent'))
    op.execute(handoffs.update()
               .where(handoffs.c.priority == 'normal',
                      sa.or_(reason.like('%verif%'), reason.like('%did not understand%')))
               .values(priority='high'))


def downgrade() -> None:
    # Free the column of its CHECK constraint first, or SQLite's table copy keeps the check on a
    # column that is gone.
    with op.batch_alter_table('handoffs', schema=None) as batch_op:
        batch_op.alter_column('priority', existing_type=_priority(), type_=sa.String(6),
                              existing_nullable=False)
    with op.batch_alter_table('handoffs', schema=None) as batch_op:
        batch_op.drop_column('priority')
