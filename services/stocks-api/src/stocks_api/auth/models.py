"""ORM models of authentication: API keys (hashes only) and the single local user."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
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
