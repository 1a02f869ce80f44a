"""Prices off the minimum price variation, refused as IB Gateway refuses them: error 110.

0.01 at or above $1.00, 0.0001 below (core.ticks); the order is not placed, a modification
is not made, and unmodified ib_async sees what it sees from IB.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
from ib_async import IB, LimitOrder, Order, Stock, StopOrder

from stocks_api.broker.gateway.codes import PRICE_VARIATION, PRICE_VARIATION_TEXT
from stocks_api.broker.gateway.server import GatewaySim
from stocks_api.broker.ib.broker import IbkrBroker
from stocks_api.broker.ib.settings import IbSettings
from stocks_api.broker.protocol import (
    BrokerOrderStatus,
    BrokerRejectedError,
    OrderChange,
    OrderRequest,
    OrderStatusUpdate,
    OrderType,
    Side,
    TimeInForce,
)
from tests.conftest import eventually
from tests.factories import set_market


@pytest.fixture
async def ib(gateway: GatewaySim) -> AsyncIterator[IB]:
    client = IB()
    await client.connectAsync("127.0.0.1", gateway.port, clientId=8, timeout=5)
    try:
        yield client
    finally:
        client.disconnect()


def _errors(ib: IB) -> list[tuple[int, int, str]]:
    seen: list[tuple[int, int, str]] = []

    def note(req_id: int, code: int, message: str, contract: Any) -> None:
        seen.append((req_id, code, message))

    ib.errorEvent += note
    return seen


def _trail_order(amount: float) -> Order:
    return Order(action="SELL", totalQuantity=5, orderType="TRAIL", auxPrice=amount, tif="GTC")


@pytest.mark.parametrize(
    "order",
    [
        pytest.param(LimitOrder("BUY", 5, 180.123, tif="GTC"), id="limit"),
        pytest.param(StopOrder("BUY", 5, 200.005, tif="GTC"), id="stop"),
        pytest.param(_trail_order(1.255), id="trailing amount"),
    ],
)
async def test_a_new_order_off_the_increment_gets_error_110_and_is_not_placed(
    gateway: GatewaySim, ib: IB, order: Order
) -> None:
    [aapl] = await ib.qualifyContractsAsync(Stock("AAPL", "SMART", "USD"))
    set_market(gateway.broker.engine, "189.99", "190.00", size=5000, last="190.00")
    errors = _errors(ib)
    trade = ib.placeOrder(aapl, order)
    await eventually(lambda: errors)
    assert errors == [(order.orderId, PRICE_VARIATION, PRICE_VARIATION_TEXT)]
    # ib_async ends a new order that IB refused with 110 (it was PendingSubmit).
    await eventually(trade.isDone)
    assert trade.orderStatus.status == "Cancelled"
    assert gateway.broker.engine.open_orders() == []
    assert not await ib.reqAllOpenOrdersAsync()


async def test_a_price_below_a_dollar_may_have_four_decimals_not_five(
    gateway: GatewaySim, ib: IB
) -> None:
    [aapl] = await ib.qualifyContractsAsync(Stock("AAPL", "SMART", "USD"))
    set_market(gateway.broker.engine, "189.99", "190.00", size=5000, last="190.00")
    errors = _errors(ib)
    refused = ib.placeOrder(aapl, LimitOrder("BUY", 5, 0.99995, tif="GTC"))
    await eventually(lambda: errors)
    assert errors == [(refused.order.orderId, PRICE_VARIATION, PRICE_VARIATION_TEXT)]
    taken = ib.placeOrder(aapl, LimitOrder("BUY", 5, 0.9999, tif="GTC"))
    await eventually(lambda: taken.orderStatus.status == "Submitted")
    assert len(errors) == 1


async def test_a_modification_off_the_increment_gets_error_110_and_the_order_works_on(
    gateway: GatewaySim, ib: IB
) -> None:
    [aapl] = await ib.qualifyContractsAsync(Stock("AAPL", "SMART", "USD"))
    set_market(gateway.broker.engine, "189.99", "190.00", size=5000, last="190.00")
    order = LimitOrder("BUY", 5, 180.0, tif="GTC", orderRef="cid-tick-1")
    trade = ib.placeOrder(aapl, order)
    await eventually(lambda: trade.orderStatus.status == "Submitted")
    errors = _errors(ib)
    order.lmtPrice = 180.005
    ib.placeOrder(aapl, order)
    await eventually(lambda: errors)
    assert errors == [(order.orderId, PRICE_VARIATION, PRICE_VARIATION_TEXT)]
    [working] = gateway.broker.engine.open_orders()
    assert str(working.request.limit_price) == "180.0"
    [listed] = await ib.reqAllOpenOrdersAsync()
    assert listed.order.lmtPrice == 180.0


def _limit(client_order_id: str, price: str) -> OrderRequest:
    return OrderRequest(
        client_order_id=client_order_id,
        symbol="AAPL",
        side=Side.BUY,
        qty=Decimal(5),
        order_type=OrderType.LIMIT,
        tif=TimeInForce.GTC,
        limit_price=Decimal(price),
        outside_rth=True,
    )


async def test_ibkr_broker_takes_error_110_as_a_rejection_of_the_order(
    gateway: GatewaySim,
) -> None:
    set_market(gateway.broker.engine, "189.99", "190.00", size=5000, last="190.00")
    updates: list[Any] = []
    broker = IbkrBroker(IbSettings(port=gateway.port, client_id=9), timeout=5)
    await broker.connect(updates.append)
    try:
        broker_order_id = await broker.place_order(_limit("tick-new", "180.123"))
        await eventually(
            lambda: any(
                isinstance(u, OrderStatusUpdate) and u.status is BrokerOrderStatus.REJECTED
                for u in updates
            )
        )
        [rejected] = [u for u in updates if isinstance(u, OrderStatusUpdate)]
        assert rejected.broker_order_id == broker_order_id
        assert rejected.reason is not None
        assert PRICE_VARIATION_TEXT in rejected.reason
        assert gateway.broker.engine.open_orders() == []
    finally:
        await broker.close()


async def test_ibkr_broker_takes_error_110_on_a_change_as_a_refusal_of_the_change(
    gateway: GatewaySim,
) -> None:
    set_market(gateway.broker.engine, "189.99", "190.00", size=5000, last="190.00")
    broker = IbkrBroker(IbSettings(port=gateway.port, client_id=10), timeout=5)
    await broker.connect(lambda event: None)
    try:
        broker_order_id = await broker.place_order(_limit("tick-change", "180.00"))
        trade = broker._trades[broker_order_id]
        await eventually(lambda: trade.orderStatus.status == "Submitted")
        with pytest.raises(BrokerRejectedError, match="minimum price variation"):
            await broker.modify_order(broker_order_id, OrderChange(limit_price=Decimal("180.005")))
        # The order works on, unchanged, and a later valid change goes through.
        assert trade.orderStatus.status == "Submitted"
        await broker.modify_order(broker_order_id, OrderChange(limit_price=Decimal("181.00")))
        await eventually(
            lambda: gateway.broker.engine.open_orders()[0].request.limit_price == Decimal("181")
        )
    finally:
        await broker.close()
