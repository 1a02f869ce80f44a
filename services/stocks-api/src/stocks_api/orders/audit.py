"""The order audit trail: one way to add an entry, used by the service and the consumer."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy.ext.asyncio import AsyncSession

from stocks_api.orders.models import Order, OrderEvent


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
    session.add(
        OrderEvent(
            order_id=order.id,
            kind=kind,
            from_status=order.status,
            to_status=to_status or order.status,
            reason=reason,
            payload=dict(payload or {}),
        )
    )
