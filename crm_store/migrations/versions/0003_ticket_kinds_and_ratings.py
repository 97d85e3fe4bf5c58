"""Ticket kinds (complaint / service request / feedback), the complaint categories managers
report on (delivery, product quality, staff, payment, website, other), rating comments, and
the customer's rating of a conversation.

Old tickets whose category was "complaint" or "service_request" become that kind with
category "other".

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 17:56:50.607993
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_CATEGORIES = ('complaint', 'service_request', 'delivery', 'payment', 'return', 'account',
                  'other')
NEW_CATEGORIES = ('delivery', 'product_quality', 'staff', 'payment', 'website', 'return',
                  'account', 'other')


def _category(values: tuple[str, ...]) -> sa.Enum:
    return sa.Enum(*values, name='ticket_category', native_enum=False, create_constraint=True,
                   length=15)


def upgrade() -> None:
    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('satisfaction', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('satisfaction_comment', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('rated_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_check_constraint(
            'satisfaction_range', 'satisfaction IS NULL OR satisfaction BETWEEN 1 AND 5')

    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.Enum('complaint', 'service_request', 'feedback', name='ticket_kind', native_enum=False, create_constraint=True), server_default='service_request', nullable=False))
        batch_op.add_column(sa.Column('satisfaction_comment', sa.Text(), nullable=True))

    tickets = sa.table('tickets', sa.column('kind', sa.String), sa.column('category', sa.String))
    for old in ('complaint', 'service_request'):
        op.execute(tickets.update().where(tickets.c.category == old)
                   .values(kind=old, category='other'))

    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.alter_column('category', existing_type=_category(OLD_CATEGORIES),
                              type_=_category(NEW_CATEGORIES), existing_nullable=False)


def downgrade() -> None:
    # Free the column first: the values move between the two vocabularies.
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.alter_column('category', existing_type=_category(NEW_CATEGORIES),
                              type_=sa.String(15), existing_nullable=False)

    tickets = sa.table('tickets', sa.column('kind', sa.String), sa.column('category', sa.String))
    # The old schema had no kind: complaints and requests were categories of their own.
    op.execute(tickets.update().where(tickets.c.kind == 'complaint')
               .values(category='complaint'))
    op.execute(tickets.update().where(tickets.c.kind == 'service_request',
                                      tickets.c.category.in_(('other', 'product_quality',
                                                              'staff', 'website')))
               .values(category='service_request'))
    op.execute(tickets.update().where(tickets.c.category.in_(('product_quality', 'staff',
                                                              'website')))
               .values(category='other'))

    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.alter_column('category', existing_type=sa.String(15),
                              type_=_category(OLD_CATEGORIES), existing_nullable=False)
        batch_op.drop_column('satisfaction_comment')
        batch_op.drop_constraint(op.f('ck_tickets_ticket_kind'), type_='check')
        batch_op.drop_column('kind')

    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_conversations_satisfaction_range'), type_='check')
        batch_op.drop_column('rated_at')
        batch_op.drop_column('satisfaction_comment')
        batch_op.drop_column('satisfaction')
