"""What placing and changing an order share at the broker's edge.

The link check before anything is written, the rule that a broker failure before the
write-ahead means nothing was sent, the broker's view of an order row, ending orders the
broker never had through the consumer, and waiting for the consumer after a broker call.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import structlog
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from stocks_api.broker.protocol import (
    BrokerClient,
    BrokerOrderStatus,
    LinkState,
    OrderRequest,
    OrderStatusUpdate,
    OrderType,
    Side,
    TimeInForce,
)
from stocks_api.core.database import utcnow
from stocks_api.core.errors import (
    BrokerNotSentAppError,
    BrokerTimeoutAppError,
    BrokerUnavailableAppError,
)
from stocks_api.orders.consumer import BrokerEventConsumer
from stocks_api.orders.models import Order

log = structlog.get_logger(__name__)


@contextlib.contextmanager
def nothing_sent_yet() -> Iterator[None]:
    """Before the write-ahead, the broker failing to answer means nothing was sent: a 503."""
    try:
        yield
    except BrokerNotSentAppError:
        raise
    except (BrokerUnavailableAppError, BrokerTimeoutAppError) as exc:
        raise BrokerNotSentAppError(
            f"{exc.message}; nothing was placed: retry with the same client_order_id"
        ) from exc


def require_link(broker: BrokerClient) -> None:
    """Refuse (503) while orders cannot reach the broker, before anything is written."""
    if broker.is_connected:
        return
    info = broker.connection_info()
    if info.state is LinkState.IB_UNREACHABLE:
        raise BrokerNotSentAppError(
            "IB Gateway has lost its connection to IB (1100); nothing was placed, retry later"
        )
    raise BrokerNotSentAppError("the broker is not connected; nothing was placed, retry later")


def broker_request(order: Order, parent: Order | None = None) -> OrderRequest:
    return OrderRequest(
        client_order_id=order.client_order_id,
        symbol=order.symbol,
        side=Side(order.side),
        qty=order.qty,
        order_type=OrderType(order.order_type),
        tif=TimeInForce(order.tif),
        limit_price=order.limit_price,
        stop_price=order.stop_price,
        outside_rth=order.outside_rth,
        trail_amount=order.trail_amount,
        trail_percent=order.trail_percent,
        parent_client_order_id=None if parent is None else parent.client_order_id,
        oca_group=order.oca_group,
    )


async def end_unsent(
    session: AsyncSession,
    consumer: BrokerEventConsumer,
    orders: list[Order],
    status: BrokerOrderStatus,
    reason: str,
) -> None:
    """End orders the broker never had (refused on sending, or never sent) as `status`."""
    # Goes through the consumer like any broker verdict, so one code path moves statuses.
    await consumer.apply(
        [
            OrderStatusUpdate(
                client_order_id=order.client_order_id,
                broker_order_id="",
                status=status,
                filled_qty=order.filled_qty,
                remaining_qty=order.qty,
                ts=utcnow(),
                reason=reason,
            )
            for order in orders
        ]
    )
    for order in orders:
        await session.refresh(order)


async def after_broker_call(
    session: AsyncSession,
    consumer: BrokerEventConsumer,
    order: Order,
    mark: int,
    timeout: float,
) -> Order:
    # Events the call produced synchronously are queued; wait for them to be applied so
    # the response shows the acknowledgement (or the fill) rather than a stale row.
    if consumer.last_received > mark:
        await consumer.wait_applied(consumer.last_received, timeout)
    for row in (order, *order.legs):  # legs: loaded with the parent, before the consumer ran
        state = consumer.applied_since(row.client_order_id, mark)
        if state is None:
            await session.refresh(row)  # no answer applied since: read what the row holds
        else:
            # What the consumer committed after our write: no need to read it back.
            for key, value in state.items():
                set_committed_value(row, key, value)
    # End the read transaction now, returning the connection to the pool before the
    # response is serialised and sent.
    await session.commit()
    return order
