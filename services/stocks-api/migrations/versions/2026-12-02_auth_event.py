"""The authentication audit trail: sign-ins, failed and refused ones, API key changes.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 12:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

BIGINT_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "auth_event",
        sa.Column("id", BIGINT_ID, autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("actor", sa.String(length=96), nullable=False),
        sa.Column("key_id", sa.String(length=32), nullable=True),
        sa.Column("client_address", sa.String(length=64), nullable=True),
        sa.Column("user_agent", sa.String(length=255), nullable=True),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('sign_in', 'sign_in_failed', 'sign_in_rate_limited',"
            " 'api_key_created', 'api_key_revoked')",
            name=op.f("ck_auth_event_kind"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auth_event")),
    )
    op.create_index(op.f("ix_auth_event_created_at"), "auth_event", ["created_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_auth_event_created_at"), table_name="auth_event")
    op.drop_table("auth_event")
