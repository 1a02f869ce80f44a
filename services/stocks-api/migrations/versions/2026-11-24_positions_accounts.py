"""Positions, accounts and their snapshots; trailing stops, brackets and fill P&L on orders.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 12:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# Frozen copies of the app's column types (see 0001).
DECIMAL = sa.Numeric(28, 10).with_variant(sa.String(48), "sqlite")
BIGINT_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "account",
        sa.Column("account_id", sa.String(length=32), nullable=False),
        sa.Column("account_type", sa.String(length=8), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("initial_cash", DECIMAL, nullable=False),
        sa.Column("cash", DECIMAL, nullable=False),
        sa.Column("realized_pnl", DECIMAL, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_account")),
    )
    op.create_table(
        "account_snapshot",
        sa.Column("id", BIGINT_ID, autoincrement=True, nullable=False),
        sa.Column("account_id", sa.String(length=32), nullable=False),
        sa.Column("cash", DECIMAL, nullable=False),
        sa.Column("gross_position_value", DECIMAL, nullable=False),
        sa.Column("net_liquidation", DECIMAL, nullable=False),
        sa.Column("unrealized_pnl", DECIMAL, nullable=False),
        sa.Column("realized_pnl", DECIMAL, nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["account.account_id"],
            name=op.f("fk_account_snapshot_account_id_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_snapshot")),
    )
    op.create_index(
        "ix_account_snapshot_account_taken",
        "account_snapshot",
        ["account_id", "taken_at"],
        unique=False,
    )
    op.create_table(
        "position",
        sa.Column("id", BIGINT_ID, autoincrement=True, nullable=False),
        sa.Column("account_id", sa.String(length=32), nullable=False),
        sa.Column("symbol", sa.String(length=16), nullable=False),
        sa.Column("qty", DECIMAL, nullable=False),
        sa.Column("avg_cost", DECIMAL, nullable=False),
        sa.Column("realized_pnl", DECIMAL, nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_position")),
        sa.UniqueConstraint("account_id", "symbol", name=op.f("uq_position_account_id")),
    )
    op.create_table(
        "position_snapshot",
        sa.Column("id", BIGINT_ID, autoincrement=True, nullable=False),
        sa.Column("account_id", sa.String(length=32), nullable=False),
        sa.Column("symbol", sa.String(length=16), nullable=False),
        sa.Column("qty", DECIMAL, nullable=False),
        sa.Column("avg_cost", DECIMAL, nullable=False),
        sa.Column("market_price", DECIMAL, nullable=True),
        sa.Column("market_value", DECIMAL, nullable=True),
        sa.Column("unrealized_pnl", DECIMAL, nullable=True),
        sa.Column("realized_pnl", DECIMAL, nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_position_snapshot")),
    )
    op.create_index(
        "ix_position_snapshot_symbol_taken",
        "position_snapshot",
        ["symbol", "taken_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_position_snapshot_taken_at"), "position_snapshot", ["taken_at"], unique=False
    )

    with op.batch_alter_table("order", schema=None) as batch_op:
        batch_op.add_column(sa.Column("trail_amount", DECIMAL, nullable=True))
        batch_op.add_column(sa.Column("trail_percent", DECIMAL, nullable=True))
        batch_op.add_column(sa.Column("oca_group", sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f("ix_order_parent_id"), ["parent_id"], unique=False)
    with op.batch_alter_table("fill", schema=None) as batch_op:
        batch_op.add_column(sa.Column("account_id", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("realized_pnl", DECIMAL, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("fill", schema=None) as batch_op:
        batch_op.drop_column("realized_pnl")
        batch_op.drop_column("account_id")
    with op.batch_alter_table("order", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_order_parent_id"))
        batch_op.drop_column("oca_group")
        batch_op.drop_column("trail_percent")
        batch_op.drop_column("trail_amount")

    op.drop_index(op.f("ix_position_snapshot_taken_at"), table_name="position_snapshot")
    op.drop_index("ix_position_snapshot_symbol_taken", table_name="position_snapshot")
    op.drop_table("position_snapshot")
    op.drop_table("position")
    op.drop_index("ix_account_snapshot_account_taken", table_name="account_snapshot")
    op.drop_table("account_snapshot")
    op.drop_table("account")
