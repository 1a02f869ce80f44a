"""ORM models of the risk domain: the trading state with run-time limits, and its audit trail."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from stocks_api.core.database import Base, BigIntPk, UTCDateTime, utcnow

STATE_ROW_ID = 1


class RiskState(Base):
    """The one row that says how trading stands; every admission locks it.

    `limits` holds the limits changed at run time (JSON values by limit name); they win
    over the `RISK_*` settings until reset. `loss_halt_session` is the session whose
    daily-loss breach already halted trading, so a deliberate resume is not undone by the
    same breach a second later.
    """

    __tablename__ = "risk_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    changed_by: Mapped[str | None] = mapped_column(String(96))
    changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    limits: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    loss_halt_session: Mapped[datetime | None] = mapped_column(UTCDateTime())


class RiskEvent(Base):
    """One entry of the risk audit trail: halt, resume, breaker trip, limits changed or reset."""

    __tablename__ = "risk_event"

    id: Mapped[int] = mapped_column(BigIntPk, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(24))
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str | None] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(96))
    reason: Mapped[str | None] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
