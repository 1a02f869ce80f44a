"""ORM models of positions: the current holding per account and symbol, and its history."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from stocks_api.core.database import Base, BigIntPk, DecimalType, UTCDateTime, utcnow


class Position(Base):
    """What an account holds of one symbol, kept by the event consumer from fills.

    `qty` is signed (negative is short); `avg_cost` is IBKR's average cost per share,
    commissions included (0 when flat). A flat position keeps its row and its realized
    P&L, so closing and reopening a symbol does not lose history.
    """

    __tablename__ = "position"
    __table_args__ = (UniqueConstraint("account_id", "symbol"),)

    id: Mapped[int] = mapped_column(BigIntPk, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(String(32))
    symbol: Mapped[str] = mapped_column(String(16))
    qty: Mapped[Decimal] = mapped_column(DecimalType())
    avg_cost: Mapped[Decimal] = mapped_column(DecimalType())
    realized_pnl: Mapped[Decimal] = mapped_column(DecimalType())
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class PositionSnapshot(Base):
    """A position at one moment: after each fill (marked at the fill price) or on an interval."""

    __tablename__ = "position_snapshot"
    __table_args__ = (Index("ix_position_snapshot_symbol_taken", "symbol", "taken_at"),)

    id: Mapped[int] = mapped_column(BigIntPk, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(String(32))
    symbol: Mapped[str] = mapped_column(String(16))
    qty: Mapped[Decimal] = mapped_column(DecimalType())
    avg_cost: Mapped[Decimal] = mapped_column(DecimalType())
    market_price: Mapped[Decimal | None] = mapped_column(DecimalType())
    market_value: Mapped[Decimal | None] = mapped_column(DecimalType())
    unrealized_pnl: Mapped[Decimal | None] = mapped_column(DecimalType())
    realized_pnl: Mapped[Decimal] = mapped_column(DecimalType())
    reason: Mapped[str] = mapped_column(String(16))
    taken_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
