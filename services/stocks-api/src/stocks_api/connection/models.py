"""ORM model of the trading-session audit trail: one row per broker connection."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, Float, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from stocks_api.core.database import Base, BigIntPk, UTCDateTime


class DisconnectReason(enum.StrEnum):
    """Why a broker connection ended."""

    # The socket to the broker closed under us (IB Gateway restarted, network cut).
    SOCKET_DROP = "socket_drop"
    # This instance shut down and closed the connection itself.
    SHUTDOWN = "shutdown"
    # Another instance took the broker over: this one lost the ownership lock.
    TAKEOVER = "takeover"
    # Found still open at the next start: the instance died without closing it.
    API_CRASH = "api_crash"


_REASONS = ", ".join(f"'{reason.value}'" for reason in DisconnectReason)


class BrokerSession(Base):
    """One broker connection, written by the instance that owned it.

    The counters are kept in memory by `connection.sessions.BrokerSessionLog` and written
    every few seconds (`last_seen_at` tells when), so an open row lags the connection by
    at most that interval.
    """

    __tablename__ = "broker_session"
    __table_args__ = (
        CheckConstraint(
            f"disconnect_reason IS NULL OR disconnect_reason IN ({_REASONS})",
            name="disconnect_reason",
        ),
    )

    id: Mapped[int] = mapped_column(BigIntPk, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))
    host: Mapped[str | None] = mapped_column(String(255))
    port: Mapped[int | None] = mapped_column(Integer)
    server_version: Mapped[str | None] = mapped_column(String(32))
    account_id: Mapped[str | None] = mapped_column(String(32))
    # The API instance that owned the connection, "pid@hostname".
    instance: Mapped[str] = mapped_column(String(255))
    connected_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Null while the connection lasts (or until the next start finds its owner died).
    disconnected_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    disconnect_reason: Mapped[str | None] = mapped_column(String(16))
    orders_sent: Mapped[int] = mapped_column(Integer, default=0)
    fills_received: Mapped[int] = mapped_column(Integer, default=0)
    # IB-side restorations (1101/1102) while this socket stayed up.
    reconnections: Mapped[int] = mapped_column(Integer, default=0)
    # Total time IB was unreachable behind the open socket (1100 until 1101/1102).
    ib_outage_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    # Set while a 1100 outage lasts.
    ib_unreachable_since: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # When the owner last wrote the row: a crashed owner's row is closed at this time.
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
