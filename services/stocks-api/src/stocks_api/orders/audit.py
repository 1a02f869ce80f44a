"""The order audit trail: one way to add an entry (`record_event`), and the consumer's
batch of entries (`AuditBatch`), written with one Core executemany per transaction."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession

from stocks_api.core.database import utcnow
from stocks_api.orders.models import Order, OrderEvent

_EVENT_TABLE = cast(Table, OrderEvent.__table__)
# `inline`: no RETURNING of the new ids (nobody reads them), so one row or many is the
# same statement.
_INSERT_EVENTS = _EVENT_TABLE.insert().inline()


def record_event(
    session: AsyncSession,
    order: Order,
    kind: str,
    *,
    to_status: str | None = None,
    reason: str | None = None,
    payload: Mapping[str, object] | None = None,
) -> None:
    """Add an entry from the order's current status to `to_status` (default: no change)."""
    session.add(OrderEvent(**_entry(order, kind, to_status, reason, payload)))


def _entry(
    order: Order,
    kind: str,
    to_status: str | None,
    reason: str | None,
    payload: Mapping[str, object] | None,
) -> dict[str, Any]:
    return {
        "order_id": order.id,
        "kind": kind,
        "from_status": order.status,
        "to_status": to_status or order.status,
        "reason": reason,
        "payload": dict(payload or {}),
        "created_at": utcnow(),
    }


class AuditBatch:
    """Entries of one transaction, written together (`write`) with one executemany.

    For the event consumer, which adds several per batch: no ORM object per entry, and the
    statement is the same for any number of them. Entries are written in the order added
    (their ids follow it), each from the order's status at the time it was added.
    """

    def __init__(self) -> None:
        self._rows: list[dict[str, Any]] = []

    def add(
        self,
        order: Order,
        kind: str,
        *,
        to_status: str | None = None,
        reason: str | None = None,
        payload: Mapping[str, object] | None = None,
    ) -> None:
        """As `record_event`: from the order's current status to `to_status` (default: none)."""
        self._rows.append(_entry(order, kind, to_status, reason, payload))

    async def write(self, session: AsyncSession) -> None:
        if self._rows:
            await session.execute(_INSERT_EVENTS, self._rows)
            self._rows = []
