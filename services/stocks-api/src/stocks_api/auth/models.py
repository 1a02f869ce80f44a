"""ORM models of authentication: API keys (hashes only), the local user, the audit trail."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from stocks_api.core.database import Base, BigIntPk, UTCDateTime, utcnow


class ApiKey(Base):
    """An API key: its public id, a name, scopes, and the SHA-256 of its secret part."""

    __tablename__ = "api_key"

    id: Mapped[int] = mapped_column(BigIntPk, primary_key=True, autoincrement=True)
    key_id: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    # Space-separated, as in OAuth2: "read trade admin".
    scopes: Mapped[str] = mapped_column(String(64))
    secret_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class LocalUser(Base):
    """The one local user who signs in to the UI; only an argon2 hash is kept."""

    __tablename__ = "local_user"

    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class AuthEventKind(enum.StrEnum):
    """What an entry of the authentication audit trail records."""

    SIGN_IN = "sign_in"
    # A wrong username or password.
    SIGN_IN_FAILED = "sign_in_failed"
    # Refused before the password was checked: too many attempts (auth.ratelimit).
    SIGN_IN_RATE_LIMITED = "sign_in_rate_limited"
    API_KEY_CREATED = "api_key_created"
    API_KEY_REVOKED = "api_key_revoked"


_KINDS = ", ".join(f"'{kind.value}'" for kind in AuthEventKind)


class AuthEvent(Base):
    """One entry of the authentication audit trail: who, what, when, from where.

    `actor` is the username a sign-in named (whether or not it exists), or the credential
    that made or revoked a key (`key:<name>`, `user:<name>`, `cli:<os user>@<host>`).
    """

    __tablename__ = "auth_event"
    __table_args__ = (CheckConstraint(f"kind IN ({_KINDS})", name="kind"),)

    id: Mapped[int] = mapped_column(BigIntPk, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(24))
    actor: Mapped[str] = mapped_column(String(96))
    # The key made or revoked (its public id, never its secret).
    key_id: Mapped[str | None] = mapped_column(String(32))
    # The client's address as the API saw it (see FORWARDED_ALLOW_IPS); null from the CLI.
    client_address: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(255))
    request_id: Mapped[str | None] = mapped_column(String(64))
    # Why a sign-in failed or was refused.
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
