"""IB's outage (1100, silence, then 1101 or 1102) as unmodified ib_async sees it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
from ib_async import IB, LimitOrder, MarketOrder, StartupFetch, Stock

from stocks_api.broker.gateway.control import ControlServer, send_command
from stocks_api.broker.gateway.server import GatewaySim
from tests.conftest import eventually
from tests.factories import set_market
from tests.integration.gateway.support import nothing_arrives, positions, record_errors

AAPL = Stock("AAPL", "SMART", "USD")
MSFT = Stock("MSFT", "SMART", "USD")
CLIENT_ID = 5


@pytest.fixture
async def ib(gateway: GatewaySim) -> AsyncIterator[IB]:
    client = IB()
    await client.connectAsync("127.0.0.1", gateway.port, clientId=CLIENT_ID, timeout=5)
    try:
        yield client
    finally:
        client.disconnect()


@pytest.fixture
async def control(gateway: GatewaySim) -> AsyncIterator[ControlServer]:
    server = ControlServer(gateway, port=0)
    await server.start()
    try:
        yield server
    finally:
        await server.close()


def codes(errors: list[tuple[int, int, str]]) -> list[int]:
    return [code for _, code, _ in errors]


async def test_an_outage_withholds_everything_while_the_engine_fills(
    gateway: GatewaySim, ib: IB
) -> None:
    errors = record_errors(ib)
    [aapl] = await ib.qualifyContractsAsync(AAPL)
    set_market(gateway.broker.engine, "189.99", "190.00", size=5000, last="190.00")
    resting = ib.placeOrder(aapl, LimitOrder("BUY", 5, 180.0, tif="GTC", orderRef="gap"))
    await eventually(lambda: resting.orderStatus.status == "Submitted")

    gateway.start_outage()
    await eventually(lambda: codes(errors) == [1100])
    assert errors[0][0] == -1
    assert errors[0][2] == "Connectivity between IB and Trader Workstation has been lost."
    assert gateway.in_outage
    set_market(gateway.broker.engine, "179.99", "180.00", size=5000, last="180.00")
    [(execution, _)] = gateway.executions(0)  # the engine traded on
    assert execution.perm_id == resting.order.permId
    await nothing_arrives(ib)  # not even the answer to a request
    assert resting.orderStatus.status == "Submitted"
    assert resting.fills == []
    assert positions(ib) == {}

    gateway.end_outage(1102)
    await eventually(lambda: codes(errors) == [1100, 1102])
    assert "data maintained" in errors[1][2]
    # Nothing withheld is sent again: the client asks, as after a reconnect.
    assert resting.fills == []
    [fill] = await ib.reqExecutionsAsync()
    assert (fill.execution.execId, fill.execution.orderRef) == (execution.exec_id, "gap")
    assert await ib.reqAllOpenOrdersAsync() == []
    [done] = await ib.reqCompletedOrdersAsync(apiOnly=False)
    assert (done.order.permId, done.orderStatus.status) == (resting.order.permId, "Filled")
    await ib.reqPositionsAsync()
    assert positions(ib) == {"AAPL": 5}


async def test_orders_modifications_and_cancels_sent_during_an_outage_are_lost(
    gateway: GatewaySim, ib: IB
) -> None:
    [aapl] = await ib.qualifyContractsAsync(AAPL)
    engine = gateway.broker.engine
    set_market(engine, "189.99", "190.00", size=5000, last="190.00")
    resting = ib.placeOrder(aapl, LimitOrder("BUY", 5, 180.0, tif="GTC"))
    to_cancel = ib.placeOrder(aapl, LimitOrder("BUY", 5, 170.0, tif="GTC"))
    await eventually(lambda: to_cancel.orderStatus.status == "Submitted")

    gateway.start_outage()
    lost = ib.placeOrder(aapl, MarketOrder("BUY", 7))
    resting.order.lmtPrice = 181.0
    ib.placeOrder(aapl, resting.order)
    ib.cancelOrder(to_cancel.order)
    await nothing_arrives(ib)
    gateway.end_outage(1102)

    open_orders = await ib.reqAllOpenOrdersAsync()
    assert sorted((o.order.permId, o.order.lmtPrice) for o in open_orders) == sorted(
        [(resting.order.permId, 180.0), (to_cancel.order.permId, 170.0)]
    )
    assert [o.request.limit_price for o in engine.open_orders()] == [180, 170]
    assert lost.orderStatus.status == "PendingSubmit"  # never answered
    assert lost.order.orderId not in [o["order_id"] for o in gateway.book()["orders"]]
    assert gateway.executions(0) == []
    # The ids the lost order used are spent: the next order goes through.
    after = ib.placeOrder(aapl, MarketOrder("BUY", 1))
    await eventually(after.isDone)
    assert after.orderStatus.status == "Filled"


@pytest.mark.parametrize(("code", "kept"), [(1101, False), (1102, True)])
async def test_1101_drops_the_streaming_subscriptions_and_1102_keeps_them(
    gateway: GatewaySim, ib: IB, code: int, kept: bool
) -> None:
    errors = record_errors(ib)
    engine = gateway.broker.engine
    [aapl, msft] = await ib.qualifyContractsAsync(AAPL, MSFT)
    set_market(engine, "150.00", "150.02", size=700, last="150.01")
    ticker = ib.reqMktData(aapl)
    await eventually(lambda: ticker.bid == 150.0)

    gateway.start_outage()
    gateway.end_outage(code)
    await eventually(lambda: codes(errors) == [1100, code])
    assert gateway.client_ids == [CLIENT_ID]

    # A subscription made now streams; the old one only if IB kept it.
    set_market(engine, "401.00", "401.02", size=700, last="401.01", symbol="MSFT")
    fresh = ib.reqMktData(msft)
    await eventually(lambda: fresh.bid == 401.0)  # its first quote, at once
    set_market(engine, "151.00", "151.02", size=700, last="151.01")
    set_market(engine, "402.00", "402.02", size=700, last="402.01", symbol="MSFT")
    await eventually(lambda: fresh.bid == 402.0)  # streamed
    # The stream sends a client's subscriptions in one pass, the older first: by now the
    # old one's quote would have arrived too.
    assert (ticker.bid == 151.0) is kept


async def test_a_timed_outage_through_the_control_port(
    gateway: GatewaySim, ib: IB, control: ControlServer
) -> None:
    errors = record_errors(ib)
    answer = await send_command("outage 0.5 1101", port=control.port)
    assert answer == f"ok sent 1100 to clients [{CLIENT_ID}]; 1101 in 0.5 s"
    status = json.loads((await send_command("status", port=control.port)).removeprefix("ok "))
    assert status["outage"] is True
    assert 0 < status["outage_ends_in_seconds"] <= 0.5
    assert status["outage_end_code"] == 1101
    await eventually(lambda: codes(errors) == [1100, 1101])
    assert not gateway.in_outage
    status = json.loads((await send_command("status", port=control.port)).removeprefix("ok "))
    assert (status["outage"], status["outage_ends_in_seconds"]) == (False, None)

    assert (await send_command("outage start", port=control.port)).startswith("ok sent 1100")
    assert await send_command("outage start", port=control.port) == (
        "error an outage is in force already"
    )
    assert (await send_command("outage 30", port=control.port)).startswith("ok outage goes on")
    assert await send_command("outage end", port=control.port) == (
        f"ok sent 1102 to clients [{CLIENT_ID}]"
    )
    await eventually(lambda: codes(errors) == [1100, 1101, 1100, 1102])
    assert await send_command("outage end 1101", port=control.port) == (
        "error no outage is in force"
    )
    assert await ib.reqCurrentTimeAsync()  # and the client is served again


async def test_a_client_connecting_during_an_outage_is_let_in_and_told(
    gateway: GatewaySim,
) -> None:
    gateway.start_outage()
    late = IB()
    errors = record_errors(late)
    # ib_async asks for positions as it connects (whatever it is told to fetch), which goes
    # unanswered: it gives up after its timeout and carries on.
    nothing = StartupFetch(0)
    await late.connectAsync("127.0.0.1", gateway.port, clientId=9, timeout=1, fetchFields=nothing)
    try:
        assert late.managedAccounts() == [gateway.account]
        await eventually(lambda: codes(errors) == [1100])
        await nothing_arrives(late)
        gateway.end_outage(1102)
        assert await late.reqCurrentTimeAsync()
    finally:
        late.disconnect()


BAD_LINES = [
    "outage",
    "outage soon",
    "outage -1",
    "outage 3601",
    "outage 5 1100",
    "outage 5 1103",
    "outage 5 1102 now",
    "outage start now",
    "outage end 1100",
    "outage end 1102 1101",
    "restart",
    "restart -1",
    "restart 3601",
    "restart 1 2",
    "restart now",
    "book all",
]


async def test_bad_outage_restart_and_book_commands_get_error_answers(
    gateway: GatewaySim, control: ControlServer
) -> None:
    for line in BAD_LINES:
        answer = await send_command(line, port=control.port)
        assert answer.startswith("error "), (line, answer)
    assert not gateway.in_outage
    assert not gateway.restarting
    help_text = await send_command("help", port=control.port)
    for command in ("outage SECONDS [1101|1102]", "outage end", "restart SECONDS", "book"):
        assert command in help_text


async def test_book_lists_every_order_execution_position_and_the_cash(
    gateway: GatewaySim, ib: IB, control: ControlServer
) -> None:
    [aapl] = await ib.qualifyContractsAsync(AAPL)
    set_market(gateway.broker.engine, "189.99", "190.00", size=5000, last="190.00")
    bought = ib.placeOrder(aapl, MarketOrder("BUY", 10, orderRef="cid-1"))
    resting = ib.placeOrder(aapl, LimitOrder("SELL", 4, 200.0, tif="GTC", orderRef="cid-2"))
    await eventually(lambda: bought.isDone() and resting.orderStatus.status == "Submitted")
    [fill] = bought.fills

    answer = await send_command("book", port=control.port)
    assert answer.startswith("ok {")
    book = json.loads(answer.removeprefix("ok "))
    assert book == gateway.book()
    assert book["orders"] == [
        {
            "client_id": CLIENT_ID,
            "order_id": bought.order.orderId,
            "perm_id": bought.order.permId,
            "order_ref": "cid-1",
            "symbol": "AAPL",
            "action": "BUY",
            "total_qty": "10",
            "order_type": "MKT",
            "lmt_price": None,
            "aux_price": None,
            "tif": "DAY",
            "status": "Filled",
            "filled": "10",
            "avg_fill_price": "190",
            "commission": "1",
            "parent_id": 0,
            "oca_group": "",
        },
        {
            "client_id": CLIENT_ID,
            "order_id": resting.order.orderId,
            "perm_id": resting.order.permId,
            "order_ref": "cid-2",
            "symbol": "AAPL",
            "action": "SELL",
            "total_qty": "4",
            "order_type": "LMT",
            "lmt_price": "200",
            "aux_price": None,
            "tif": "GTC",
            "status": "Submitted",
            "filled": "0",
            "avg_fill_price": "0",
            "commission": None,
            "parent_id": 0,
            "oca_group": "",
        },
    ]
    [execution] = book["executions"]
    assert execution == {
        "exec_id": fill.execution.execId,
        "client_id": CLIENT_ID,
        "order_id": bought.order.orderId,
        "perm_id": bought.order.permId,
        "order_ref": "cid-1",
        "symbol": "AAPL",
        "side": "BOT",
        "shares": "10",
        "price": "190",
        "commission": "1",
        "time": execution["time"],
    }
    assert execution["time"].startswith(fill.execution.time.strftime("%Y-%m-%dT%H:%M:%S"))
    assert book["positions"] == [
        {"symbol": "AAPL", "qty": "10", "avg_cost": "190.1", "realized_pnl": "0"}
    ]
    assert book["cash"] == "998099"  # 1,000,000 - 10 x 190 - 1 commission
    assert book["account"] == gateway.account
