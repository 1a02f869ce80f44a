"""Unmodified ib_async programs, written from IB's documentation, against gateway-sim: what
IB does with what-if orders, brackets, modifications, refused terms and odd requests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from ib_async import (
    IB,
    ComboLeg,
    Contract,
    ExecutionCondition,
    LimitOrder,
    MarketOrder,
    Order,
    PriceCondition,
    ScannerSubscription,
    Stock,
    StopOrder,
    TimeCondition,
    Trade,
    util,
)
from ib_async.objects import WshEventData

from stocks_api.broker.gateway.server import GatewaySim
from tests.conftest import eventually
from tests.factories import set_market
from tests.integration.gateway.support import client, gateway_on, record_errors

ANSWER_SECONDS = 5.0  # every awaiting call must complete well within this


@pytest.fixture
async def ib(gateway: GatewaySim) -> AsyncIterator[IB]:
    async with client(gateway) as connected:
        yield connected


async def _aapl(ib: IB) -> Contract:
    [aapl] = await ib.qualifyContractsAsync(Stock("AAPL", "SMART", "USD"))
    return aapl


def _codes(errors: list[tuple[int, int, str]], req_id: int) -> list[int]:
    return [code for rid, code, _ in errors if rid == req_id]


# -- what-if ---------------------------------------------------------------------------------


async def test_what_if_answers_margin_and_commission_and_trades_nothing(
    gateway: GatewaySim, ib: IB
) -> None:
    aapl = await _aapl(ib)
    set_market(gateway.broker.engine, "99.99", "100.00", size=5000, last="100.00")
    state = await asyncio.wait_for(ib.whatIfOrderAsync(aapl, MarketOrder("BUY", 7)), ANSWER_SECONDS)
    # Reg T on a margin account: 50% initial, 25% maintenance of 7 x the ask.
    assert Decimal(state.initMarginChange) == Decimal("350.00")
    assert Decimal(state.maintMarginChange) == Decimal("175.00")
    assert Decimal(state.initMarginBefore) == 0
    assert state.commission == pytest.approx(1.0)  # the per-order minimum
    assert Decimal(state.equityWithLoanChange) == -Decimal(str(state.commission))
    await asyncio.sleep(0.3)
    book = gateway.book()
    assert book["executions"] == []
    assert book["positions"] == []
    assert ib.trades() == []  # no order to follow


async def test_what_if_of_an_off_tick_price_is_refused_like_an_order(
    gateway: GatewaySim, ib: IB
) -> None:
    aapl = await _aapl(ib)
    ib.RaiseRequestErrors = True
    with pytest.raises(Exception, match="minimum price variation"):
        await asyncio.wait_for(
            ib.whatIfOrderAsync(aapl, LimitOrder("BUY", 7, 100.123)), ANSWER_SECONDS
        )


# -- brackets --------------------------------------------------------------------------------


async def test_bracket_order_placed_leg_by_leg_is_one_cancels_other_without_an_oca_group(
    gateway: GatewaySim, ib: IB
) -> None:
    aapl = await _aapl(ib)
    engine = gateway.broker.engine
    set_market(engine, "99.99", "100.00", size=5000, last="100.00")
    errors = record_errors(ib)
    parent, take_profit, stop_loss = ib.bracketOrder("BUY", 10, 100.00, 105.00, 95.00)
    assert take_profit.ocaGroup == stop_loss.ocaGroup == ""  # IB ties them implicitly
    trades = [ib.placeOrder(aapl, order) for order in (parent, take_profit, stop_loss)]
    await eventually(lambda: trades[0].orderStatus.status == "Filled", what="parent filled")
    assert [t.orderStatus.status for t in trades[1:]] == ["Submitted", "Submitted"]
    set_market(engine, "105.00", "105.01", size=5000, last="105.00")
    await eventually(lambda: trades[1].orderStatus.status == "Filled", what="take-profit")
    await eventually(lambda: trades[2].orderStatus.status == "Cancelled", what="stop cancelled")
    assert [code for _, code, _ in errors if code == 201] == []


async def test_oca_type_of_a_bracket_child_is_echoed_to_other_clients(
    gateway: GatewaySim, ib: IB
) -> None:
    aapl = await _aapl(ib)
    set_market(gateway.broker.engine, "99.99", "100.00", size=5000, last="100.00")
    parent = LimitOrder("BUY", 10, 90.00, orderId=ib.client.getReqId(), transmit=False)
    child = StopOrder(
        "SELL", 10, 80.00, parentId=parent.orderId, ocaGroup="mine", ocaType=2, transmit=True
    )
    child.orderId = ib.client.getReqId()
    ib.placeOrder(aapl, parent)
    ib.placeOrder(aapl, child)
    async with client(gateway, client_id=8) as other:
        seen = await asyncio.wait_for(other.reqAllOpenOrdersAsync(), ANSWER_SECONDS)
    [stop] = [t for t in seen if t.order.orderType == "STP"]
    assert (stop.order.ocaGroup, stop.order.ocaType) == ("mine", 2)


# -- modifications ---------------------------------------------------------------------------


async def test_modify_from_limit_to_market_fills_and_is_not_cancelled(
    gateway: GatewaySim, ib: IB
) -> None:
    aapl = await _aapl(ib)
    set_market(gateway.broker.engine, "99.99", "100.00", size=5000, last="100.00")
    errors = record_errors(ib)
    trade = ib.placeOrder(aapl, LimitOrder("BUY", 3, 90.00))
    await eventually(lambda: trade.orderStatus.status == "Submitted", what="resting")
    trade.order.orderType = "MKT"
    trade.order.lmtPrice = 0
    ib.placeOrder(aapl, trade.order)
    await eventually(lambda: trade.orderStatus.status == "Filled", what="filled as MKT")
    assert trade.orderStatus.avgFillPrice == pytest.approx(100.00)
    assert _codes(errors, trade.order.orderId) == []
    [order] = [o for o in gateway.book()["orders"] if o["order_id"] == trade.order.orderId]
    assert (order["order_type"], order["status"], order["filled"]) == ("MKT", "Filled", "3")


async def test_modify_of_quantity_time_in_force_and_outside_rth_takes_effect(
    gateway: GatewaySim, ib: IB
) -> None:
    aapl = await _aapl(ib)
    set_market(gateway.broker.engine, "99.99", "100.00", size=5000, last="100.00")
    trade = ib.placeOrder(aapl, LimitOrder("BUY", 3, 90.00))
    await eventually(lambda: trade.orderStatus.status == "Submitted", what="resting")
    trade.order.totalQuantity = 5
    trade.order.tif = "GTC"
    trade.order.outsideRth = True
    ib.placeOrder(aapl, trade.order)
    await eventually(lambda: trade.orderStatus.remaining == 5, what="resized")
    async with client(gateway, client_id=8) as other:
        [seen] = await asyncio.wait_for(other.reqAllOpenOrdersAsync(), ANSWER_SECONDS)
    assert (seen.order.totalQuantity, seen.order.tif, seen.order.outsideRth) == (5, "GTC", True)
    [working] = gateway.broker.engine.open_orders()
    assert working.request.qty == 5
    assert working.request.outside_rth


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"lmtPrice": 90.123}, 110),  # off the price increment
        ({"action": "SELL"}, 105),  # a side IB does not let change
        ({"orderType": "MIDPRICE"}, 321),  # an order type not simulated
    ],
)
async def test_a_refused_modification_leaves_the_order_working_and_says_so(
    gateway: GatewaySim, ib: IB, change: dict[str, Any], code: int
) -> None:
    aapl = await _aapl(ib)
    set_market(gateway.broker.engine, "99.99", "100.00", size=5000, last="100.00")
    errors = record_errors(ib)
    trade = ib.placeOrder(aapl, LimitOrder("BUY", 3, 90.00))
    await eventually(lambda: trade.orderStatus.status == "Submitted", what="resting")
    modified = Order(**{**util.dataclassAsDict(trade.order), **change})
    ib.placeOrder(aapl, modified)
    await eventually(lambda: code in _codes(errors, trade.order.orderId), what=f"error {code}")
    # The order as it works on comes after the warning: ib_async shows it Submitted again.
    await eventually(lambda: trade.orderStatus.status == "Submitted", what="still working")
    assert not trade.isDone()
    [working] = gateway.broker.engine.open_orders()
    assert working.request.limit_price == Decimal("90.00")


# -- terms that IB would act on ----------------------------------------------------------------


async def test_an_order_with_a_false_price_condition_waits_and_trades_once_it_holds(
    gateway: GatewaySim, ib: IB
) -> None:
    aapl = await _aapl(ib)
    engine = gateway.broker.engine
    set_market(engine, "99.99", "100.00", size=5000, last="100.00")
    order = MarketOrder("BUY", 7)
    order.conditions = [PriceCondition(isMore=True, price=300.0, conId=aapl.conId, exch="SMART")]
    trade = ib.placeOrder(aapl, order)
    await eventually(lambda: trade.orderStatus.status == "PreSubmitted", what="held")
    await asyncio.sleep(0.6)  # a few ticks: the condition is false, nothing trades
    assert trade.orderStatus.status == "PreSubmitted"
    assert gateway.book()["executions"] == []
    async with client(gateway, client_id=8) as other:
        [seen] = await asyncio.wait_for(other.reqAllOpenOrdersAsync(), ANSWER_SECONDS)
    [condition] = seen.order.conditions
    assert (condition.price, condition.isMore, condition.conId) == (300.0, True, aapl.conId)
    set_market(engine, "300.00", "300.01", size=5000, last="300.00")
    await eventually(lambda: trade.orderStatus.status == "Filled", what="filled once true")
    assert trade.orderStatus.avgFillPrice == pytest.approx(300.01)


async def test_conditions_joined_by_and_wait_for_both_and_by_or_for_either(
    gateway: GatewaySim, ib: IB
) -> None:
    aapl = await _aapl(ib)
    set_market(gateway.broker.engine, "99.99", "100.00", size=5000, last="100.00")
    soon = (datetime.now(UTC) + timedelta(seconds=3)).strftime("%Y%m%d-%H:%M:%S")
    true_now = PriceCondition(conjunction="a", isMore=True, price=50.0, conId=aapl.conId)
    never = PriceCondition(conjunction="a", isMore=True, price=500.0, conId=aapl.conId)
    both = LimitOrder("BUY", 1, 100.00)
    both.conditions = [true_now, TimeCondition(isMore=True, time=soon)]
    either = LimitOrder("BUY", 1, 100.00)
    either.conditions = [
        PriceCondition(conjunction="o", isMore=True, price=500.0, conId=aapl.conId),
        TimeCondition(isMore=True, time=soon),
    ]
    stuck = LimitOrder("BUY", 1, 100.00)
    stuck.conditions = [never, TimeCondition(isMore=True, time=soon)]
    trades = [ib.placeOrder(aapl, order) for order in (both, either, stuck)]
    await asyncio.sleep(0.5)
    assert [t.orderStatus.status for t in trades] == ["PreSubmitted"] * 3  # before the time
    await eventually(lambda: trades[0].orderStatus.status == "Filled", what="and: both hold")
    await eventually(lambda: trades[1].orderStatus.status == "Filled", what="or: one holds")
    assert trades[2].orderStatus.status == "PreSubmitted"


async def test_an_execution_condition_transmits_after_a_fill_in_that_symbol(
    gateway: GatewaySim, ib: IB
) -> None:
    aapl = await _aapl(ib)
    set_market(gateway.broker.engine, "99.99", "100.00", size=5000, last="100.00")
    order = MarketOrder("BUY", 2)
    order.conditions = [ExecutionCondition(secType="STK", exch="SMART", symbol="AAPL")]
    waiting = ib.placeOrder(aapl, order)
    await asyncio.sleep(0.5)
    assert waiting.orderStatus.status == "PreSubmitted"
    first = ib.placeOrder(aapl, MarketOrder("BUY", 1))
    await eventually(lambda: first.orderStatus.status == "Filled", what="the first fill")
    await eventually(lambda: waiting.orderStatus.status == "Filled", what="then the waiting one")


async def test_conditions_cancel_order_cancels_when_met_and_a_waiting_order_can_be_cancelled(
    gateway: GatewaySim, ib: IB
) -> None:
    aapl = await _aapl(ib)
    engine = gateway.broker.engine
    set_market(engine, "99.99", "100.00", size=5000, last="100.00")
    below = PriceCondition(isMore=False, price=90.0, conId=aapl.conId)
    cancel_when = LimitOrder("SELL", 1, 200.00, conditionsCancelOrder=True)
    cancel_when.conditions = [below]
    by_hand = LimitOrder("BUY", 1, 100.00)
    by_hand.conditions = [PriceCondition(isMore=True, price=500.0, conId=aapl.conId)]
    first, second = ib.placeOrder(aapl, cancel_when), ib.placeOrder(aapl, by_hand)
    await eventually(lambda: second.orderStatus.status == "PreSubmitted", what="waiting")
    ib.cancelOrder(by_hand)
    await eventually(lambda: second.orderStatus.status == "Cancelled", what="cancelled by hand")
    set_market(engine, "89.99", "90.00", size=5000, last="90.00")
    await eventually(lambda: first.orderStatus.status == "Cancelled", what="cancelled when met")
    assert gateway.book()["executions"] == []


async def test_conditions_on_a_bracket_order_are_refused_not_dropped(
    gateway: GatewaySim, ib: IB
) -> None:
    aapl = await _aapl(ib)
    errors = record_errors(ib)
    parent, take_profit, stop_loss = ib.bracketOrder("BUY", 10, 90.00, 105.00, 85.00)
    parent.conditions = [PriceCondition(isMore=True, price=500.0, conId=aapl.conId)]
    for leg in (parent, take_profit, stop_loss):
        ib.placeOrder(aapl, leg)
    await eventually(lambda: 201 in _codes(errors, parent.orderId), what="refused")
    # The stop-loss, transmitted last, has no parent to go with: refused too, not sent alone.
    await eventually(lambda: 201 in _codes(errors, stop_loss.orderId), what="child refused")
    assert gateway.book()["orders"] == []
    assert gateway.broker.engine.open_orders() == []


@pytest.mark.parametrize(
    ("terms", "named"),
    [
        ({"tif": "GTD"}, "time in force GTD needs a goodTillDate"),
        ({"tif": "GTD", "goodTillDate": "20301231 16:00:00 Mars/Olympus"}, "needs a goodTill"),
        ({"goodAfterTime": "20301231 9:30"}, "goodAfterTime '20301231 9:30' cannot be read"),
        ({"tif": "OPG"}, "time in force OPG"),
        ({"allOrNone": True}, "allOrNone"),
    ],
)
async def test_a_term_gateway_sim_does_not_simulate_is_refused_not_dropped(
    gateway: GatewaySim, ib: IB, terms: dict[str, Any], named: str
) -> None:
    aapl = await _aapl(ib)
    set_market(gateway.broker.engine, "99.99", "100.00", size=5000, last="100.00")
    errors = record_errors(ib)
    order = LimitOrder("BUY", 7, 100.00, **terms)
    ib.placeOrder(aapl, order)
    await eventually(lambda: 201 in _codes(errors, order.orderId), what="refused")
    assert any(named in m for rid, _, m in errors if rid == order.orderId)
    assert gateway.book()["executions"] == []


async def test_a_gtd_order_works_until_its_good_till_date_then_is_cancelled(
    gateway: GatewaySim, ib: IB
) -> None:
    aapl = await _aapl(ib)
    set_market(gateway.broker.engine, "99.99", "100.00", size=5000, last="100.00")
    until = (datetime.now(UTC) + timedelta(seconds=2)).replace(microsecond=0)
    order = LimitOrder("BUY", 5, 90.00, tif="GTD", goodTillDate=until.strftime("%Y%m%d-%H:%M:%S"))
    trade = ib.placeOrder(aapl, order)
    await eventually(lambda: trade.orderStatus.status == "Submitted", what="working")
    async with client(gateway, client_id=8) as other:
        [seen] = await asyncio.wait_for(other.reqAllOpenOrdersAsync(), ANSWER_SECONDS)
    assert (seen.order.tif, seen.order.goodTillDate) == ("GTD", order.goodTillDate)
    await asyncio.sleep(1.0)
    assert trade.orderStatus.status == "Submitted"  # not before its time
    await eventually(lambda: trade.orderStatus.status == "Cancelled", seconds=4, what="expired")
    assert datetime.now(UTC) >= until


async def _working(ib: IB, contract: Contract, order: Order) -> Trade:
    trade = ib.placeOrder(contract, order)
    await eventually(lambda: trade.orderStatus.status == "Submitted", what="working")
    return trade


async def test_an_oca_group_of_type_1_outside_a_bracket_cancels_the_others_on_a_fill(
    gateway: GatewaySim, ib: IB
) -> None:
    aapl = await _aapl(ib)
    engine = gateway.broker.engine
    set_market(engine, "99.99", "100.00", size=5000, last="100.00")
    [msft] = await ib.qualifyContractsAsync(Stock("MSFT", "SMART", "USD"))
    low = await _working(ib, aapl, LimitOrder("BUY", 10, 95.00, ocaGroup="entry", ocaType=1))
    other = await _working(ib, msft, LimitOrder("BUY", 10, 1.00, ocaGroup="entry", ocaType=1))
    outside = await _working(ib, aapl, LimitOrder("BUY", 10, 94.00))
    set_market(engine, "94.99", "95.00", size=5000, last="95.00")
    await eventually(lambda: low.orderStatus.status == "Filled", what="one filled")
    await eventually(lambda: other.orderStatus.status == "Cancelled", what="the other cancelled")
    assert outside.orderStatus.status == "Submitted"  # not in the group


async def test_an_oca_group_of_type_2_reduces_the_others_in_proportion(
    gateway: GatewaySim, ib: IB
) -> None:
    aapl = await _aapl(ib)
    engine = gateway.broker.engine
    set_market(engine, "99.99", "100.00", size=5000, last="100.00")
    first = await _working(ib, aapl, LimitOrder("BUY", 100, 95.00, ocaGroup="scale", ocaType=2))
    second = await _working(ib, aapl, LimitOrder("BUY", 200, 90.00, ocaGroup="scale", ocaType=2))
    set_market(engine, "94.99", "95.00", size=40, last="95.00")  # 40 of the first's 100 fill
    await eventually(lambda: first.orderStatus.filled == 40, what="a partial fill")
    # 60% of the first is left, so the second works on for 60% of its 200.
    await eventually(lambda: second.orderStatus.remaining == 120, what="reduced")
    [working] = [o for o in engine.open_orders() if o.request.limit_price == Decimal("90.00")]
    assert working.request.qty == 120


# -- cancels and odd messages ------------------------------------------------------------------


async def test_cancel_of_an_unknown_and_of_a_filled_order_gets_ib_codes(
    gateway: GatewaySim, ib: IB
) -> None:
    aapl = await _aapl(ib)
    set_market(gateway.broker.engine, "99.99", "100.00", size=5000, last="100.00")
    errors = record_errors(ib)
    ib.client.cancelOrder(987654, "")
    filled = ib.placeOrder(aapl, MarketOrder("BUY", 1))
    await eventually(lambda: filled.orderStatus.status == "Filled", what="filled")
    ib.cancelOrder(filled.order)
    await eventually(lambda: 10148 in _codes(errors, filled.order.orderId), what="10148")
    assert 10147 in _codes(errors, 987654)
    await asyncio.sleep(0.2)
    assert filled.orderStatus.status == "Filled"


async def test_an_unknown_message_id_and_an_unreadable_request_get_errors_not_a_hang(
    gateway: GatewaySim, ib: IB
) -> None:
    errors = record_errors(ib)
    ib.client.send(150, 1, 2)  # no such request
    ib.client.send(9, 8, "not-a-number")  # reqContractDetails with a broken request id
    await eventually(lambda: {505, 320} <= {code for _, code, _ in errors}, what="505, 320")
    # The connection serves on.
    await asyncio.wait_for(ib.reqCurrentTimeAsync(), ANSWER_SECONDS)


async def test_a_combo_order_is_refused_with_its_order_id_and_the_session_goes_on(
    gateway: GatewaySim, ib: IB
) -> None:
    aapl = await _aapl(ib)
    errors = record_errors(ib)
    combo = Contract(
        secType="BAG",
        symbol="AAPL",
        exchange="SMART",
        currency="USD",
        comboLegs=[ComboLeg(conId=aapl.conId, ratio=1, action="BUY", exchange="SMART")],
    )
    order = LimitOrder("BUY", 1, 100.00)
    trade = ib.placeOrder(combo, order)
    await eventually(lambda: 201 in _codes(errors, order.orderId), what="refused")
    assert trade.orderStatus.status == "Cancelled"
    await asyncio.wait_for(ib.reqCurrentTimeAsync(), ANSWER_SECONDS)


# -- a program that uses every served request ---------------------------------------------------


async def test_a_program_using_every_request_finishes_without_a_timeout(
    gateway: GatewaySim, ib: IB
) -> None:
    aapl = await _aapl(ib)
    account = gateway.account
    set_market(gateway.broker.engine, "99.99", "100.00", size=5000, last="100.00")
    calls: dict[str, Callable[[], Awaitable[Any]]] = {
        "whatIfOrder": lambda: ib.whatIfOrderAsync(aapl, MarketOrder("BUY", 5)),
        "reqCurrentTime": ib.reqCurrentTimeAsync,
        "reqAccountUpdates": lambda: ib.reqAccountUpdatesAsync(account),
        "reqAccountUpdatesMulti": lambda: ib.reqAccountUpdatesMultiAsync(account),
        "accountSummary": ib.accountSummaryAsync,
        "reqAccountSummary": ib.reqAccountSummaryAsync,
        "reqOpenOrders": ib.reqOpenOrdersAsync,
        "reqAllOpenOrders": ib.reqAllOpenOrdersAsync,
        "reqCompletedOrders": lambda: ib.reqCompletedOrdersAsync(False),
        "reqExecutions": ib.reqExecutionsAsync,
        "reqPositions": ib.reqPositionsAsync,
        "reqContractDetails": lambda: ib.reqContractDetailsAsync(aapl),
        "reqMatchingSymbols": lambda: ib.reqMatchingSymbolsAsync("AA"),
        "reqMarketRule": lambda: ib.reqMarketRuleAsync(26),
        "reqHistoricalData": lambda: ib.reqHistoricalDataAsync(
            aapl, "", "1 D", "1 hour", "TRADES", False
        ),
        "reqHistoricalSchedule": lambda: ib.reqHistoricalScheduleAsync(aapl, 5),
        "reqHistoricalTicks": lambda: ib.reqHistoricalTicksAsync(
            aapl, "", "", 100, "TRADES", False
        ),
        "reqHeadTimeStamp": lambda: ib.reqHeadTimeStampAsync(aapl, "TRADES", False, 1),
        "reqSmartComponents": lambda: ib.reqSmartComponentsAsync("9c0001"),
        "reqMktDepthExchanges": ib.reqMktDepthExchangesAsync,
        "reqHistogramData": lambda: ib.reqHistogramDataAsync(aapl, False, "1 day"),
        "reqFundamentalData": lambda: ib.reqFundamentalDataAsync(aapl, "ReportSnapshot"),
        "reqScannerData": lambda: ib.reqScannerDataAsync(
            ScannerSubscription(instrument="STK", locationCode="STK.US", scanCode="HOT_BY_VOLUME")
        ),
        "reqScannerParameters": ib.reqScannerParametersAsync,
        "calculateImpliedVolatility": lambda: ib.calculateImpliedVolatilityAsync(aapl, 1, 100),
        "calculateOptionPrice": lambda: ib.calculateOptionPriceAsync(aapl, 0.2, 100),
        "reqSecDefOptParams": lambda: ib.reqSecDefOptParamsAsync("AAPL", "", "STK", aapl.conId),
        "reqNewsProviders": ib.reqNewsProvidersAsync,
        "reqNewsArticle": lambda: ib.reqNewsArticleAsync("BRFG", "BRFG$1"),
        "reqHistoricalNews": lambda: ib.reqHistoricalNewsAsync(aapl.conId, "BRFG", "", "", 10),
        "requestFA": lambda: ib.requestFAAsync(1),
        "getWshMetaData": ib.getWshMetaDataAsync,
        "getWshEventData": lambda: ib.getWshEventDataAsync(WshEventData(conId=aapl.conId)),
        "reqUserInfo": ib.reqUserInfoAsync,
        "reqTickers": lambda: ib.reqTickersAsync(aapl),
    }
    slow = []
    for name, call in calls.items():
        try:
            await asyncio.wait_for(call(), ANSWER_SECONDS)
        except TimeoutError:
            slow.append(name)
        except Exception:
            pass
    assert slow == []
    assert gateway.book()["executions"] == []  # the what-if traded nothing


async def test_a_conditional_order_waits_on_across_a_restart_with_a_state_file(
    tmp_path: Path,
) -> None:
    state_file = tmp_path / "gateway.sqlite3"
    async with gateway_on(state_file) as gateway, client(gateway) as ib:
        aapl = await _aapl(ib)
        set_market(gateway.broker.engine, "99.99", "100.00", size=5000, last="100.00")
        order = MarketOrder("BUY", 3, orderRef="cid-waits")
        order.conditions = [PriceCondition(isMore=True, price=150.0, conId=aapl.conId)]
        trade = ib.placeOrder(aapl, order)
        await eventually(lambda: trade.orderStatus.status == "PreSubmitted", what="waiting")
    async with gateway_on(state_file) as gateway, client(gateway) as ib:
        [waiting] = ib.openTrades()
        assert (waiting.order.orderRef, waiting.orderStatus.status) == ("cid-waits", "PreSubmitted")
        assert gateway.broker.engine.open_orders() == []  # it waits at the gateway
        set_market(gateway.broker.engine, "150.00", "150.01", size=5000, last="150.00")
        await eventually(lambda: len(gateway.book()["executions"]) == 1, what="filled once true")


async def test_requests_naming_a_contract_by_con_id_alone_are_served(
    gateway: GatewaySim, ib: IB
) -> None:
    aapl = await _aapl(ib)
    by_id = Contract(conId=aapl.conId, exchange="SMART")
    [ticker] = await asyncio.wait_for(ib.reqTickersAsync(by_id), ANSWER_SECONDS)
    assert ticker.last == pytest.approx(float(gateway.quote("AAPL").last))
    bars = await asyncio.wait_for(
        ib.reqHistoricalDataAsync(by_id, "", "1 D", "1 hour", "TRADES", False), ANSWER_SECONDS
    )
    assert bars


async def test_tick_by_tick_with_a_number_of_ticks_starts_with_that_much_past(
    gateway: GatewaySim, ib: IB
) -> None:
    aapl = await _aapl(ib)
    seen: list[Any] = []
    ticker = ib.reqTickByTickData(aapl, "MidPoint", numberOfTicks=5)
    ticker.updateEvent += lambda t: seen.extend(t.tickByTicks)
    await eventually(lambda: len(seen) >= 5, what="five ticks of the past")
    times = [tick.time for tick in seen[:5]]
    assert times == sorted(times)
    ib.cancelTickByTickData(aapl, "MidPoint")
