"""The risk engine: the trading state with run-time limits, and the risk audit trail.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 15:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

BIGINT_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "risk_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("changed_by", sa.String(length=96), nullable=True),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("limits", sa.JSON(), nullable=False),
        sa.Column("loss_halt_session", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_state")),
    )
    op.create_table(
        "risk_event",
        sa.Column("id", BIGINT_ID, autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("from_state", sa.String(length=16), nullable=True),
        sa.Column("to_state", sa.String(length=16), nullable=True),
        sa.Column("actor", sa.String(length=96), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_event")),
    )
    op.create_index(op.f("ix_risk_event_created_at"), "risk_event", ["created_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_risk_event_created_at"), table_name="risk_event")
    op.drop_table("risk_event")
    op.drop_table("risk_state")
