"""IbkrBroker when an order ends while a change waits for IB's pacing: a refusal, not a crash."""

from __future__ import annotations

from decimal import Decimal

import pytest

from stocks_api.broker.gateway.server import GatewaySim
from stocks_api.broker.ib.broker import IbkrBroker
from stocks_api.broker.ib.settings import IbSettings
from stocks_api.broker.protocol import (
    BrokerRejectedError,
    OrderChange,
    OrderRequest,
    OrderType,
    Side,
    TimeInForce,
)
from tests.conftest import eventually


async def test_a_modify_of_an_order_cancelled_during_the_pacing_wait_is_refused(
    gateway: GatewaySim, monkeypatch: pytest.MonkeyPatch
) -> None:
    broker = IbkrBroker(IbSettings(port=gateway.port, client_id=7), timeout=5)
    await broker.connect(lambda event: None)
    try:
        request = OrderRequest(
            client_order_id="race-1",
            symbol="AAPL",
            side=Side.BUY,
            qty=Decimal(10),
            order_type=OrderType.LIMIT,
            tif=TimeInForce.GTC,
            limit_price=Decimal("1.00"),  # far below the market: it rests
            outside_rth=True,
        )
        broker_order_id = await broker.place_order(request)
        trade = broker._trades[broker_order_id]
        paced = broker._paced_before_sending

        async def cancelled_meanwhile(messages: int) -> None:
            # The cancel that wins the race lands while the modify waits for pacing.
            broker._ib.cancelOrder(trade.order)
            await eventually(trade.isDone)
            await paced(messages)

        monkeypatch.setattr(broker, "_paced_before_sending", cancelled_meanwhile)
        with pytest.raises(BrokerRejectedError, match="not working"):
            await broker.modify_order(broker_order_id, OrderChange(qty=Decimal(20)))
    finally:
        await broker.close()
