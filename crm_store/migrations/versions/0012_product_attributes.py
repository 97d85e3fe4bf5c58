"""Products carry the shop's structured attributes (material, colours, sizes, care, ...).

`attributes` maps an attribute's name to its text as the shop wrote it, from the extra columns
or the `attributes` JSON column of a product import (crm_store/importers/products.py). Product
search embeds them with the description and product answers quote them. Every product from
before this revision gets an empty mapping.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('products', schema=None) as batch_op:
        batch_op.add_column(sa.Column('attributes', sa.JSON(), nullable=False,
                                      server_default='{}'))


def downgrade() -> None:
    with op.batch_alter_table('products', schema=None) as batch_op:
        batch_op.drop_column('attributes')
