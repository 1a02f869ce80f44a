"""The trading-session audit trail: one broker_session row per broker connection.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 09:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

BIGINT_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "broker_session",
        sa.Column("id", BIGINT_ID, autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=True),
        sa.Column("port", sa.Integer(), nullable=True),
        sa.Column("server_version", sa.String(length=32), nullable=True),
        sa.Column("account_id", sa.String(length=32), nullable=True),
        sa.Column("instance", sa.String(length=255), nullable=False),
        sa.Column("connected_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("disconnected_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("disconnect_reason", sa.String(length=16), nullable=True),
        sa.Column("orders_sent", sa.Integer(), nullable=False),
        sa.Column("fills_received", sa.Integer(), nullable=False),
        sa.Column("reconnections", sa.Integer(), nullable=False),
        sa.Column("ib_outage_seconds", sa.Float(), nullable=False),
        sa.Column("ib_unreachable_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "disconnect_reason IS NULL OR disconnect_reason IN"
            " ('socket_drop', 'shutdown', 'takeover', 'api_crash')",
            name=op.f("ck_broker_session_disconnect_reason"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_broker_session")),
    )


def downgrade() -> None:
    op.drop_table("broker_session")
