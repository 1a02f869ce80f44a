"""Unmodified ib_insync 0.9.86, ib_async's archived predecessor, trading against gateway-sim.

It asks for server versions 157..176, so gateway-sim serves it the oldest layout it has
(176: open orders still carry faProfile).
"""

from __future__ import annotations

import asyncio
import time
import warnings
from collections.abc import AsyncIterator

import pytest
from ib_insync import IB, LimitOrder, MarketOrder, Stock

from stocks_api.broker.gateway.server import GatewaySim
from tests.conftest import eventually
from tests.factories import set_market


def _current_loop() -> asyncio.AbstractEventLoop | None:
    """The thread's current loop as the policy has it (None if cleared), with no warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            return asyncio.get_event_loop_policy().get_event_loop()
        except RuntimeError:
            return None


@pytest.fixture
async def running_loop_is_current() -> AsyncIterator[None]:
    """ib_insync finds its loop with `get_event_loop_policy().get_event_loop()`, not
    `get_running_loop()`: after anything else in this thread ran `asyncio.run` (the
    database fixtures' migrations do), that is no loop at all. Make it the running one."""
    before = _current_loop()
    asyncio.set_event_loop(asyncio.get_running_loop())
    try:
        yield
    finally:
        asyncio.set_event_loop(before)


@pytest.fixture
async def ib(gateway: GatewaySim, running_loop_is_current: None) -> AsyncIterator[IB]:
    client = IB()
    errors: list[tuple[int, int, str]] = []
    client.errorEvent += lambda req_id, code, message, contract: errors.append(
        (req_id, code, message)
    )
    started = time.perf_counter()
    await client.connectAsync("127.0.0.1", gateway.port, clientId=9, timeout=5)
    # Every start-up request was answered: nothing waited for its timeout.
    assert time.perf_counter() - started < 3.0
    assert client.client.serverVersion() == 176
    try:
        yield client
    finally:
        client.disconnect()
    # Nothing it could not parse (ib_insync reports a decoding failure as an error too).
    assert [e for e in errors if e[1] not in (200, 202)] == []


async def test_connect_qualify_and_a_market_order_filled_with_commission(
    gateway: GatewaySim, ib: IB
) -> None:
    assert ib.managedAccounts() == [gateway.account]
    [aapl] = await ib.qualifyContractsAsync(Stock("AAPL", "SMART", "USD"))
    assert aapl.conId > 0
    assert aapl.primaryExchange

    set_market(gateway.broker.engine, "189.99", "190.00", size=5000, last="190.00")
    order = MarketOrder("BUY", 10, orderRef="cid-insync-market-1")
    trade = ib.placeOrder(aapl, order)
    await eventually(trade.isDone)
    assert trade.orderStatus.status == "Filled"
    assert trade.orderStatus.filled == 10
    await eventually(lambda: trade.fills and trade.fills[0].commissionReport.execId)
    [fill] = trade.fills
    assert fill.execution.shares == 10
    assert fill.execution.price == 190.0
    assert fill.execution.orderRef == "cid-insync-market-1"
    assert fill.commissionReport.commission == pytest.approx(1.0)  # IBKR fixed: the minimum
    assert trade.order.permId > 0

    await eventually(lambda: ib.positions())
    [position] = ib.positions()
    assert (position.contract.symbol, position.position) == ("AAPL", 10)
    assert position.avgCost == pytest.approx(190.1)  # the commission is in the cost
    executions = await ib.reqExecutionsAsync()
    assert [e.execution.execId for e in executions] == [fill.execution.execId]
    # The completed order as decoded from the server's message (the 176 layout).
    [done] = await ib.reqCompletedOrdersAsync(apiOnly=True)
    assert (done.contract.symbol, done.contract.conId) == ("AAPL", aapl.conId)
    assert (done.order.permId, done.order.action, done.order.totalQuantity) == (
        trade.order.permId,
        "BUY",
        10,
    )
    assert done.order.orderRef == "cid-insync-market-1"
    assert done.orderStatus.status == "Filled"


async def test_a_limit_order_rests_is_modified_and_cancelled(gateway: GatewaySim, ib: IB) -> None:
    [aapl] = await ib.qualifyContractsAsync(Stock("AAPL", "SMART", "USD"))
    set_market(gateway.broker.engine, "189.99", "190.00", size=5000, last="190.00")
    order = LimitOrder("BUY", 5, 180.0, tif="GTC", orderRef="cid-insync-limit-1")
    trade = ib.placeOrder(aapl, order)
    await eventually(lambda: trade.orderStatus.status == "Submitted")
    perm_id = trade.order.permId

    order.lmtPrice = 181.0
    ib.placeOrder(aapl, order)  # the same order id: a modification
    await eventually(lambda: any(o.lmtPrice == 181.0 for o in ib.openOrders()))
    assert trade.order.permId == perm_id

    ib.cancelOrder(order)
    await eventually(lambda: trade.orderStatus.status == "Cancelled")
    assert not ib.openOrders()
    assert not trade.fills


async def test_an_unknown_symbol_and_a_client_id_in_use_get_ib_errors(
    gateway: GatewaySim, ib: IB
) -> None:
    errors: list[int] = []
    ib.errorEvent += lambda req_id, code, message, contract: errors.append(code)
    assert await ib.qualifyContractsAsync(Stock("NOPE", "SMART", "USD")) == []
    assert 200 in errors

    second = IB()  # the running loop is still the current one: `ib` made it so
    refused: list[int] = []
    second.errorEvent += lambda req_id, code, message, contract: refused.append(code)
    with pytest.raises((ConnectionError, asyncio.TimeoutError, TimeoutError)):
        await second.connectAsync("127.0.0.1", gateway.port, clientId=9, timeout=1)
    second.disconnect()
    assert refused == [326]
    assert ib.isConnected()
