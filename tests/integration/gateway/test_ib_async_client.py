"""Unmodified ib_async, written for IB Gateway, trading against gateway-sim."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from ib_async import IB, ExecutionFilter, LimitOrder, MarketOrder, Stock

from stocks_api.broker.gateway.server import GatewaySim
from tests.conftest import eventually
from tests.factories import set_market


@pytest.fixture
async def ib(gateway: GatewaySim) -> AsyncIterator[IB]:
    client = IB()
    started = time.perf_counter()
    await client.connectAsync("127.0.0.1", gateway.port, clientId=7, timeout=5)
    # Every start-up request was answered: nothing waited for its 4 s timeout.
    assert time.perf_counter() - started < 3.0
    try:
        yield client
    finally:
        client.disconnect()


async def test_connect_qualify_and_a_market_order_filled_with_commission(
    gateway: GatewaySim, ib: IB
) -> None:
    assert ib.managedAccounts() == [gateway.account]
    [aapl] = await ib.qualifyContractsAsync(Stock("AAPL", "SMART", "USD"))
    assert aapl.conId > 0
    assert aapl.primaryExchange

    set_market(gateway.broker.engine, "189.99", "190.00", size=5000, last="190.00")
    order = MarketOrder("BUY", 10, orderRef="cid-market-1")
    trade = ib.placeOrder(aapl, order)
    await eventually(trade.isDone)
    assert trade.orderStatus.status == "Filled"
    assert trade.orderStatus.filled == 10
    [fill] = trade.fills
    assert fill.execution.shares == 10
    assert fill.execution.price == 190.0
    assert fill.execution.orderRef == "cid-market-1"
    assert fill.commissionReport.commission == pytest.approx(1.0)  # IBKR fixed: the minimum
    assert trade.order.permId > 0

    await eventually(lambda: ib.positions())
    [position] = ib.positions()
    assert (position.contract.symbol, position.position) == ("AAPL", 10)
    assert position.avgCost == pytest.approx(190.1)  # the commission is in the cost
    executions = await ib.reqExecutionsAsync()
    assert [e.execution.execId for e in executions] == [fill.execution.execId]


async def test_a_limit_order_rests_is_modified_and_cancelled(gateway: GatewaySim, ib: IB) -> None:
    [aapl] = await ib.qualifyContractsAsync(Stock("AAPL", "SMART", "USD"))
    set_market(gateway.broker.engine, "189.99", "190.00", size=5000, last="190.00")
    order = LimitOrder("BUY", 5, 180.0, tif="GTC", orderRef="cid-limit-1")
    trade = ib.placeOrder(aapl, order)
    await eventually(lambda: trade.orderStatus.status == "Submitted")
    perm_id = trade.order.permId

    order.lmtPrice = 181.0
    ib.placeOrder(aapl, order)  # the same order id: a modification
    await eventually(lambda: any(o.lmtPrice == 181.0 for o in ib.openOrders()))
    assert trade.order.permId == perm_id  # stable across modifications

    ib.cancelOrder(order)
    await eventually(lambda: trade.orderStatus.status == "Cancelled")
    assert not ib.openOrders()


async def test_an_unknown_symbol_and_a_client_id_in_use_get_ib_errors(
    gateway: GatewaySim, ib: IB
) -> None:
    errors: list[int] = []
    ib.errorEvent += lambda req_id, code, message, contract: errors.append(code)
    assert await ib.qualifyContractsAsync(Stock("NOPE", "SMART", "USD")) in ([], [None])
    assert 200 in errors

    second = IB()
    with pytest.raises((ConnectionError, asyncio.TimeoutError, TimeoutError)):
        await second.connectAsync("127.0.0.1", gateway.port, clientId=7, timeout=2)
    second.disconnect()


async def test_account_values_and_summary(gateway: GatewaySim, ib: IB) -> None:
    values = {v.tag: v.value for v in ib.accountValues() if v.currency == "USD"}
    assert Decimal(values["NetLiquidation"]) == Decimal(
        next(v.value for v in gateway.account_values() if v.tag == "NetLiquidation")
    )
    summary = await ib.accountSummaryAsync()
    assert {v.tag for v in summary} >= {"NetLiquidation", "TotalCashValue", "BuyingPower"}


async def test_historical_bars_and_market_data(gateway: GatewaySim, ib: IB) -> None:
    [aapl] = await ib.qualifyContractsAsync(Stock("AAPL", "SMART", "USD"))
    bars = await ib.reqHistoricalDataAsync(
        aapl,
        endDateTime="",
        durationStr="1 D",
        barSizeSetting="1 hour",
        whatToShow="TRADES",
        useRTH=False,
    )
    assert 1 <= len(bars) <= 24
    assert all(b.low <= b.open <= b.high and b.low <= b.close <= b.high for b in bars)
    assert [b.date for b in bars] == sorted(b.date for b in bars)
    daily = await ib.reqHistoricalDataAsync(
        aapl,
        endDateTime="",
        durationStr="1 W",
        barSizeSetting="1 day",
        whatToShow="TRADES",
        useRTH=True,
    )
    assert daily

    set_market(gateway.broker.engine, "150.00", "150.02", size=700, last="150.01")
    [snapshot] = await ib.reqTickersAsync(aapl)
    assert (snapshot.bid, snapshot.ask, snapshot.last) == (150.0, 150.02, 150.01)

    ticker = ib.reqMktData(aapl)
    set_market(gateway.broker.engine, "151.00", "151.02", size=700, last="151.01")
    gateway.broker.engine.tick()
    await eventually(lambda: ticker.bid not in (None, 150.0) and ticker.bid == ticker.bid)
    ib.cancelMktData(aapl)


async def test_executions_are_filtered_as_asked(gateway: GatewaySim, ib: IB) -> None:
    set_market(gateway.broker.engine, "189.99", "190.00", size=5000, last="190.00")
    set_market(gateway.broker.engine, "409.99", "410.00", size=5000, last="410.00", symbol="MSFT")
    for symbol, action in (("AAPL", "BUY"), ("MSFT", "BUY"), ("AAPL", "SELL")):
        trade = ib.placeOrder(Stock(symbol, "SMART", "USD"), MarketOrder(action, 2))
        await eventually(trade.isDone)
    errors: list[int] = []
    ib.errorEvent += lambda req_id, code, message, contract: errors.append(code)

    async def executions(**wanted: object) -> list[tuple[str, str]]:
        fills = await ib.reqExecutionsAsync(ExecutionFilter(**wanted))  # type: ignore[arg-type]
        return [(f.contract.symbol, f.execution.side) for f in fills]

    everything = [("AAPL", "BOT"), ("MSFT", "BOT"), ("AAPL", "SLD")]
    assert await executions() == everything
    assert await executions(symbol="MSFT") == [("MSFT", "BOT")]
    assert await executions(side="SELL") == [("AAPL", "SLD")]
    assert await executions(clientId=7, acctCode=gateway.account) == everything
    assert await executions(clientId=99) == []
    hour_ago = datetime.now(UTC) - timedelta(hours=1)
    assert await executions(time=hour_ago.strftime("%Y%m%d-%H:%M:%S")) == everything
    in_an_hour = datetime.now(UTC) + timedelta(hours=1)
    assert await executions(time=in_an_hour.strftime("%Y%m%d %H:%M:%S")) == []
    assert await executions(time="yesterday") == []
    assert errors == [321]  # IB's "Error validating request" for the bad time
