"""Orders, their audit trail (order_event) and fills.

Revision ID: 0001
Revises:
Create Date: 2026-11-24 05:39:49.865429+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# Frozen copies of the app's column types, so this file never changes with the models:
# exact decimals are NUMERIC on PostgreSQL and text on SQLite (whose NUMERIC is a float);
# ids are BIGINT, but INTEGER on SQLite where only that auto-increments.
DECIMAL = sa.Numeric(28, 10).with_variant(sa.String(48), "sqlite")
BIGINT_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "order",
        sa.Column("id", BIGINT_ID, autoincrement=True, nullable=False),
        sa.Column("client_order_id", sa.String(length=64), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("symbol", sa.String(length=16), nullable=False),
        sa.Column("side", sa.String(length=4), nullable=False),
        sa.Column("order_type", sa.String(length=16), nullable=False),
        sa.Column("qty", DECIMAL, nullable=False),
        sa.Column("limit_price", DECIMAL, nullable=True),
        sa.Column("stop_price", DECIMAL, nullable=True),
        sa.Column("tif", sa.String(length=8), nullable=False),
        sa.Column("outside_rth", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("filled_qty", DECIMAL, nullable=False),
        sa.Column("avg_fill_price", DECIMAL, nullable=True),
        sa.Column("broker_order_id", sa.String(length=64), nullable=True),
        sa.Column("perm_id", sa.String(length=64), nullable=True),
        sa.Column("reject_reason", sa.Text(), nullable=True),
        sa.Column("parent_id", BIGINT_ID, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("filled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["parent_id"], ["order.id"], name=op.f("fk_order_parent_id_order")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order")),
        sa.UniqueConstraint("client_order_id", name=op.f("uq_order_client_order_id")),
    )
    with op.batch_alter_table("order", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_order_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_order_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_order_symbol"), ["symbol"], unique=False)

    op.create_table(
        "fill",
        sa.Column("id", BIGINT_ID, autoincrement=True, nullable=False),
        sa.Column("exec_id", sa.String(length=64), nullable=False),
        sa.Column("order_id", BIGINT_ID, nullable=False),
        sa.Column("symbol", sa.String(length=16), nullable=False),
        sa.Column("side", sa.String(length=4), nullable=False),
        sa.Column("qty", DECIMAL, nullable=False),
        sa.Column("price", DECIMAL, nullable=False),
        sa.Column("commission", DECIMAL, nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("executed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["order_id"], ["order.id"], name=op.f("fk_fill_order_id_order")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fill")),
        sa.UniqueConstraint("exec_id", name=op.f("uq_fill_exec_id")),
    )
    with op.batch_alter_table("fill", schema=None) as batch_op:
        batch_op.create_index("ix_fill_order_id", ["order_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_fill_symbol"), ["symbol"], unique=False)

    op.create_table(
        "order_event",
        sa.Column("id", BIGINT_ID, autoincrement=True, nullable=False),
        sa.Column("order_id", BIGINT_ID, nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("from_status", sa.String(length=20), nullable=True),
        sa.Column("to_status", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"], ["order.id"], name=op.f("fk_order_event_order_id_order")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_event")),
    )
    with op.batch_alter_table("order_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_order_event_order_id"), ["order_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("order_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_order_event_order_id"))

    op.drop_table("order_event")
    with op.batch_alter_table("fill", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_fill_symbol"))
        batch_op.drop_index("ix_fill_order_id")

    op.drop_table("fill")
    with op.batch_alter_table("order", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_order_symbol"))
        batch_op.drop_index(batch_op.f("ix_order_status"))
        batch_op.drop_index(batch_op.f("ix_order_created_at"))

    op.drop_table("order")
