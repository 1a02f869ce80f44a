"""A free-form tag on orders, so a strategy can find its own (GET /orders?tag=).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 20:40:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("order", schema=None) as batch_op:
        batch_op.add_column(sa.Column("tag", sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f("ix_order_tag"), ["tag"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("order", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_order_tag"))
        batch_op.drop_column("tag")
