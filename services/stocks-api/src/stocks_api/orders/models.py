"""ORM models of the order domain: orders, their audit trail and their fills."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from stocks_api.core.database import Base, BigIntPk, DecimalType, UTCDateTime, utcnow


class Order(Base):
    """An order as we sent it and as the broker has since reported it."""

    __tablename__ = "order"

    id: Mapped[int] = mapped_column(BigIntPk, primary_key=True, autoincrement=True)
    client_order_id: Mapped[str] = mapped_column(String(64), unique=True)
    # sha256 of the normalised request: tells a replay (same body) from a conflict.
    request_hash: Mapped[str] = mapped_column(String(64))
    symbol: Mapped[str] = mapped_column(String(16), index=True)
    side: Mapped[str] = mapped_column(String(4))
    order_type: Mapped[str] = mapped_column(String(16))
    qty: Mapped[Decimal] = mapped_column(DecimalType())
    limit_price: Mapped[Decimal | None] = mapped_column(DecimalType())
    stop_price: Mapped[Decimal | None] = mapped_column(DecimalType())
    trail_amount: Mapped[Decimal | None] = mapped_column(DecimalType())
    trail_percent: Mapped[Decimal | None] = mapped_column(DecimalType())
    tif: Mapped[str] = mapped_column(String(8))
    outside_rth: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(20), index=True)
    filled_qty: Mapped[Decimal] = mapped_column(DecimalType(), default=Decimal(0))
    avg_fill_price: Mapped[Decimal | None] = mapped_column(DecimalType())
    broker_order_id: Mapped[str | None] = mapped_column(String(64))
    perm_id: Mapped[str | None] = mapped_column(String(64))
    reject_reason: Mapped[str | None] = mapped_column(Text)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("order.id"), index=True)
    # The children of a bracket share a group: a fill of one reduces or cancels the other.
    oca_group: Mapped[str | None] = mapped_column(String(64))
    # The caller's own label (a strategy's name, say): kept and shown, never sent to the
    # broker (IB's orderRef carries client_order_id). Bracket legs inherit their parent's.
    tag: Mapped[str | None] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    filled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    events: Mapped[list[OrderEvent]] = relationship(
        back_populates="order", order_by="OrderEvent.id", lazy="raise"
    )
    # A bracket's children, loaded with their parent in one extra query per statement;
    # one level deep only (children have no children), so nothing loads lazily later.
    legs: Mapped[list[Order]] = relationship(order_by="Order.id", lazy="selectin", join_depth=1)


class OrderEvent(Base):
    """One entry of an order's audit trail: a status change, a modification, a fill."""

    __tablename__ = "order_event"

    id: Mapped[int] = mapped_column(BigIntPk, primary_key=True, autoincrement=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("order.id"), index=True)
    kind: Mapped[str] = mapped_column(String(24))
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    order: Mapped[Order] = relationship(back_populates="events", lazy="raise")


class Fill(Base):
    """One execution; `exec_id` is unique, so a replayed execution is stored once."""

    __tablename__ = "fill"
    __table_args__ = (Index("ix_fill_order_id", "order_id"),)

    id: Mapped[int] = mapped_column(BigIntPk, primary_key=True, autoincrement=True)
    exec_id: Mapped[str] = mapped_column(String(64), unique=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("order.id"))
    # Nullable only for fills stored before accounts existed.
    account_id: Mapped[str | None] = mapped_column(String(32))
    symbol: Mapped[str] = mapped_column(String(16), index=True)
    side: Mapped[str] = mapped_column(String(4))
    qty: Mapped[Decimal] = mapped_column(DecimalType())
    price: Mapped[Decimal] = mapped_column(DecimalType())
    commission: Mapped[Decimal] = mapped_column(DecimalType())
    # P&L this fill realized (commission included); 0 for a fill that only opens or adds.
    realized_pnl: Mapped[Decimal | None] = mapped_column(DecimalType())
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    executed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
