"""Cancels asked for before the broker acknowledged the order, carried out once it has.

`orders.changing.cancel` records such a cancel as intent (the order is `pending_cancel`
without a broker id). When the broker's acknowledgement arrives, the consumer hands the
order's broker id here (`BrokerEventConsumer.on_cancel_intents`), and the cancel is sent
in a task of its own, so the consumer never waits for the broker. A cancel the broker
refuses puts the order back to working, as the broker says; one that cannot reach the
broker is sent again when the link is back.
"""

from __future__ import annotations

import asyncio

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from stocks_api.broker.calls import call_broker
from stocks_api.broker.protocol import BrokerClient, BrokerOrderStatus, OrderStatusUpdate
from stocks_api.core.database import utcnow
from stocks_api.core.errors import AppError, BrokerRejectedAppError
from stocks_api.orders import queries
from stocks_api.orders.consumer import BrokerEventConsumer
from stocks_api.orders.state import OrderStatus

log = structlog.get_logger(__name__)


class CancelIntents:
    """Sends the cancels that waited for an acknowledgement; see the module docstring."""

    def __init__(
        self,
        *,
        sessionmaker: async_sessionmaker[AsyncSession],
        broker: BrokerClient,
        consumer: BrokerEventConsumer,
        timeout: float,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._broker = broker
        self._consumer = consumer
        self._timeout = timeout
        self._later: set[str] = set()  # broker ids whose cancel could not reach the broker
        self._tasks: set[asyncio.Task[None]] = set()

    async def send_soon(self, broker_order_ids: list[str]) -> None:
        """Send these cancels in a task of their own (never blocks the caller)."""
        task = asyncio.get_running_loop().create_task(self._send(broker_order_ids))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def link_back(self) -> None:
        """The broker link is back: send again what could not reach it."""
        retry, self._later = sorted(self._later), set()
        if retry:
            await self.send_soon(retry)

    async def stop(self) -> None:
        """Wait for the cancels on their way (each is bounded by the broker timeout)."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _send(self, broker_order_ids: list[str]) -> None:
        for broker_order_id in broker_order_ids:
            try:
                await call_broker(self._broker.cancel_order(broker_order_id), timeout=self._timeout)
            except BrokerRejectedAppError as exc:
                log.warning("cancel_intent_refused", broker_order_id=broker_order_id)
                await self._refused(broker_order_id, exc.message)
            except AppError as exc:
                log.warning(
                    "cancel_intent_later", broker_order_id=broker_order_id, error=exc.message
                )
                self._later.add(broker_order_id)

    async def _refused(self, broker_order_id: str, reason: str) -> None:
        async with self._sessionmaker() as session:
            order = await queries.by_broker_order_id(
                session=session, broker_order_id=broker_order_id
            )
        if order is None or order.status != OrderStatus.PENDING_CANCEL.value:
            return
        await self._consumer.apply(
            [
                OrderStatusUpdate(
                    client_order_id=order.client_order_id,
                    broker_order_id=broker_order_id,
                    status=BrokerOrderStatus.SUBMITTED,
                    filled_qty=order.filled_qty,
                    remaining_qty=order.qty - order.filled_qty,
                    ts=utcnow(),
                    reason=f"the broker refused the cancel: {reason}",
                )
            ]
        )
