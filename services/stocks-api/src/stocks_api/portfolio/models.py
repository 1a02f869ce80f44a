"""ORM models of the portfolio: positions per account and symbol, account cash ledgers, and
the history (snapshots) of both."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
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


class Account(Base):
    """A broker account and its cash as our fills moved it.

    `initial_cash` is the broker's balance when the account was first seen; every fill
    then moves `cash` (trade value and commission) and `realized_pnl`, in the same
    transaction as the fill itself.
    """

    __tablename__ = "account"

    account_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    account_type: Mapped[str] = mapped_column(String(8))
    currency: Mapped[str] = mapped_column(String(3))
    initial_cash: Mapped[Decimal] = mapped_column(DecimalType())
    cash: Mapped[Decimal] = mapped_column(DecimalType())
    realized_pnl: Mapped[Decimal] = mapped_column(DecimalType())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class AccountSnapshot(Base):
    """The account's figures at one moment (after fills, at most once a second; on an interval)."""

    __tablename__ = "account_snapshot"
    __table_args__ = (Index("ix_account_snapshot_account_taken", "account_id", "taken_at"),)

    id: Mapped[int] = mapped_column(BigIntPk, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("account.account_id"))
    cash: Mapped[Decimal] = mapped_column(DecimalType())
    gross_position_value: Mapped[Decimal] = mapped_column(DecimalType())
    net_liquidation: Mapped[Decimal] = mapped_column(DecimalType())
    unrealized_pnl: Mapped[Decimal] = mapped_column(DecimalType())
    realized_pnl: Mapped[Decimal] = mapped_column(DecimalType())
    reason: Mapped[str] = mapped_column(String(16))
    taken_at: Mapped[datetime] = mapped_column(UTCDateTime())
