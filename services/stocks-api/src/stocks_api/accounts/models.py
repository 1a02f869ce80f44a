"""ORM models of accounts: the cash ledger per broker account and its snapshots."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from stocks_api.core.database import Base, BigIntPk, DecimalType, UTCDateTime, utcnow


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
