# mypy: allow-subclassing-any, disable-error-code="import-untyped"
"""gateway-sim answers IBKR's official `ibapi` client as IB Gateway answers it.

Each test drives unmodified ibapi 10.x (threaded: `EClient.connect` blocks on the
handshake, `EReader` reads the socket, `EClient.run` on a thread of ours calls the
`EWrapper` callbacks) against a real gateway-sim on a loopback port, and asserts what IB
sends back: what-if margins, IB's sample bracket, order modifications (accepted and
refused), refused order terms, account summary tags, market data types (live and
delayed), generic ticks, reference data, P&L, tick-by-tick, depth, real-time bars,
keepUpToDate bars, cancel errors and the market data line limit.

The gateway runs on the test's event loop, so blocking calls go through
`asyncio.to_thread` and the callbacks' records are polled with `eventually`.
"""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from ibapi.client import EClient
from ibapi.common import BarData
from ibapi.contract import Contract, ContractDescription, ContractDetails
from ibapi.execution import Execution
from ibapi.order import Order
from ibapi.order_cancel import OrderCancel
from ibapi.order_condition import Create, OrderCondition
from ibapi.order_state import OrderState
from ibapi.wrapper import EWrapper

from stocks_api.broker.gateway.server import GatewaySim
from tests.conftest import eventually, make_settings
from tests.factories import set_market

CLIENT_ID = 23
UNSET_DOUBLE = sys.float_info.max  # ibapi's "no value" for a double
QUIET_SECONDS = 0.6  # more than two of the gateway's 0.25 s quote ticks
PACED_BATCH = 40  # requests per second kept under IB's 50 messages a second


@dataclass(frozen=True)
class _Error:
    req_id: int
    code: int
    message: str


class _App(EWrapper, EClient):
    """An ibapi application as IBKR's samples write one, recording what it is told.

    The callbacks run on ibapi's message thread; each record is one append or one item
    assignment (atomic under the GIL), read by the test on the event loop's thread.
    """

    def __init__(self) -> None:
        EWrapper.__init__(self)
        EClient.__init__(self, wrapper=self)
        self.next_order_id: int | None = None
        self.accounts: list[str] = []  # each managedAccounts callback's list
        self.details: dict[int, list[ContractDetails]] = defaultdict(list)
        self.ends: list[tuple[str, int]] = []
        self.open_orders: dict[int, list[tuple[Order, OrderState]]] = defaultdict(list)
        self.statuses: dict[int, list[tuple[str, Decimal, Decimal, float]]] = defaultdict(list)
        self.executions: list[tuple[int, Contract, Execution]] = []
        self.summary: dict[int, list[tuple[str, str, str, str]]] = defaultdict(list)
        self.data_types: list[tuple[int, int]] = []
        self.prices: list[tuple[int, int, float]] = []
        self.strings: list[tuple[int, int, str]] = []
        self.generics: list[tuple[int, int, float]] = []
        self.depth: list[tuple[int, int, int, int, float, Decimal]] = []
        self.real_time_bars: list[tuple[int, int, float, float, float, float]] = []
        self.pnls: list[tuple[int, float, float, float]] = []
        self.pnl_singles: list[tuple[int, Decimal, float, float, float, float]] = []
        self.symbols: dict[int, list[ContractDescription]] = {}
        self.rules: dict[int, list[tuple[float, float]]] = {}
        self.head_timestamps: dict[int, str] = {}
        self.user_infos: dict[int, str] = {}
        self.bars: dict[int, list[BarData]] = defaultdict(list)
        self.bar_updates: dict[int, list[BarData]] = defaultdict(list)
        self.bid_asks: list[tuple[int, float, float, Decimal, Decimal]] = []
        self.mid_points: list[tuple[int, float]] = []
        self.errors: list[_Error] = []
        self.expected_errors: set[int] = set()  # the codes a test asks for; others fail it
        self.failure: BaseException | None = None

    # -- EWrapper: connection, contracts, orders ------------------------------------------

    def nextValidId(self, orderId: int) -> None:
        self.next_order_id = orderId

    def managedAccounts(self, accountsList: str) -> None:
        self.accounts.append(accountsList)

    def contractDetails(self, reqId: int, contractDetails: ContractDetails) -> None:
        self.details[reqId].append(contractDetails)

    def contractDetailsEnd(self, reqId: int) -> None:
        self.ends.append(("contractDetails", reqId))

    def openOrder(
        self, orderId: int, contract: Contract, order: Order, orderState: OrderState
    ) -> None:
        self.open_orders[orderId].append((order, orderState))

    def orderStatus(
        self,
        orderId: int,
        status: str,
        filled: Decimal,
        remaining: Decimal,
        avgFillPrice: float,
        *args: Any,
    ) -> None:
        self.statuses[orderId].append((status, filled, remaining, avgFillPrice))

    def execDetails(self, reqId: int, contract: Contract, execution: Execution) -> None:
        self.executions.append((reqId, contract, execution))

    def accountSummary(self, reqId: int, account: str, tag: str, value: str, currency: str) -> None:
        self.summary[reqId].append((account, tag, value, currency))

    def accountSummaryEnd(self, reqId: int) -> None:
        self.ends.append(("accountSummary", reqId))

    # -- EWrapper: market data -------------------------------------------------------------

    def marketDataType(self, reqId: int, marketDataType: int) -> None:
        self.data_types.append((reqId, marketDataType))

    def tickPrice(self, reqId: int, tickType: int, price: float, attrib: Any) -> None:
        self.prices.append((reqId, tickType, price))

    def tickString(self, reqId: int, tickType: int, value: str) -> None:
        self.strings.append((reqId, tickType, value))

    def tickGeneric(self, reqId: int, tickType: int, value: float) -> None:
        self.generics.append((reqId, tickType, value))

    def updateMktDepth(
        self,
        reqId: int,
        position: int,
        operation: int,
        side: int,
        price: float,
        size: Decimal,
    ) -> None:
        self.depth.append((reqId, position, operation, side, price, size))

    def realtimeBar(
        self,
        reqId: int,
        time: int,
        open_: float,
        high: float,
        low: float,
        close: float,
        volume: Decimal,
        wap: Decimal,
        count: int,
    ) -> None:
        self.real_time_bars.append((reqId, time, open_, high, low, close))

    def historicalData(self, reqId: int, bar: BarData) -> None:
        self.bars[reqId].append(bar)

    def historicalDataEnd(self, reqId: int, start: str, end: str) -> None:
        self.ends.append(("historicalData", reqId))

    def historicalDataUpdate(self, reqId: int, bar: BarData) -> None:
        self.bar_updates[reqId].append(bar)

    def tickByTickBidAsk(
        self,
        reqId: int,
        time: int,
        bidPrice: float,
        askPrice: float,
        bidSize: Decimal,
        askSize: Decimal,
        tickAttribBidAsk: Any,
    ) -> None:
        self.bid_asks.append((reqId, bidPrice, askPrice, bidSize, askSize))

    def tickByTickMidPoint(self, reqId: int, time: int, midPoint: float) -> None:
        self.mid_points.append((reqId, midPoint))

    # -- EWrapper: P&L and reference data --------------------------------------------------

    def pnl(self, reqId: int, dailyPnL: float, unrealizedPnL: float, realizedPnL: float) -> None:
        self.pnls.append((reqId, dailyPnL, unrealizedPnL, realizedPnL))

    def pnlSingle(
        self,
        reqId: int,
        pos: Decimal,
        dailyPnL: float,
        unrealizedPnL: float,
        realizedPnL: float,
        value: float,
    ) -> None:
        self.pnl_singles.append((reqId, pos, dailyPnL, unrealizedPnL, realizedPnL, value))

    def symbolSamples(self, reqId: int, contractDescriptions: list[ContractDescription]) -> None:
        self.symbols[reqId] = list(contractDescriptions)

    def marketRule(self, marketRuleId: int, priceIncrements: list[Any]) -> None:
        self.rules[marketRuleId] = [(p.lowEdge, p.increment) for p in priceIncrements]

    def headTimestamp(self, reqId: int, headTimestamp: str) -> None:
        self.head_timestamps[reqId] = headTimestamp

    def userInfo(self, reqId: int, whiteBrandingId: str) -> None:
        self.user_infos[reqId] = whiteBrandingId

    def error(
        self,
        reqId: int,
        errorTime: int,
        errorCode: int,
        errorString: str,
        advancedOrderRejectJson: str = "",
    ) -> None:
        self.errors.append(_Error(reqId, errorCode, errorString))

    # -- the message thread and what the test reads ----------------------------------------

    def run_messages(self) -> None:
        """`EClient.run`, keeping what ended it if it was not a disconnect."""
        try:
            self.run()
        except BaseException as exc:
            self.failure = exc

    def last_status(self, order_id: int) -> str | None:
        statuses = self.statuses.get(order_id)
        return statuses[-1][0] if statuses else None

    def codes(self, req_id: int) -> list[int]:
        return [e.code for e in self.errors if e.req_id == req_id]

    def take_order_id(self) -> int:
        assert self.next_order_id is not None
        order_id = self.next_order_id
        self.next_order_id += 1
        return order_id


def _stock(symbol: str = "AAPL") -> Contract:
    contract = Contract()
    contract.symbol = symbol
    contract.secType = "STK"
    contract.exchange = "SMART"
    contract.currency = "USD"
    return contract


def _order(action: str, qty: int, order_type: str, **fields: Any) -> Order:
    order = Order()
    order.action = action
    order.totalQuantity = Decimal(qty)
    order.orderType = order_type
    for name, value in fields.items():
        setattr(order, name, value)
    return order


def _is_set(value: str | float) -> bool:
    """Whether an OrderState figure (text in ibapi) carries a value, not "" or UNSET."""
    try:
        number = float(value)
    except ValueError:
        return False
    return number < UNSET_DOUBLE / 2


@asynccontextmanager
async def _connected(gateway: GatewaySim, client_id: int = CLIENT_ID) -> AsyncIterator[_App]:
    """An ibapi app connected to `gateway`, its message thread running."""
    client = _App()
    # The handshake blocks until the server answers: off the loop the gateway runs on.
    await asyncio.to_thread(client.connect, "127.0.0.1", gateway.port, client_id)
    assert client.isConnected(), client.errors
    reader = client.reader
    messages = threading.Thread(target=client.run_messages, name="ibapi-run", daemon=True)
    messages.start()
    try:
        await eventually(lambda: client.next_order_id is not None and client.accounts, seconds=3.0)
        yield client
    finally:
        client.disconnect()
        # The reader notices the closed socket at its next 1 s receive timeout at most.
        await asyncio.to_thread(messages.join, 5.0)
        await asyncio.to_thread(reader.join, 5.0)
    assert not messages.is_alive()
    assert not reader.is_alive()
    assert client.failure is None
    # A message the decoder could not read would have come as an error too (e.g. 320).
    assert [e for e in client.errors if e.code not in client.expected_errors] == []


@pytest.fixture
async def app(gateway: GatewaySim) -> AsyncIterator[_App]:
    set_market(gateway.broker.engine, "189.99", "190.00", size=5000, last="190.00")
    async with _connected(gateway) as client:
        yield client


@pytest.fixture
async def delayed_gateway() -> AsyncIterator[GatewaySim]:
    """A gateway-sim without a live market data subscription (IB's delayed data)."""
    settings = make_settings("sqlite+aiosqlite://")
    gateway = GatewaySim(
        settings.sim,
        port=0,
        calendar=settings.session.calendar(),
        tick=False,
        delayed_data=True,
    )
    await gateway.start()
    try:
        yield gateway
    finally:
        await gateway.close()


async def _contract_details(app: _App, req_id: int, symbol: str = "AAPL") -> ContractDetails:
    app.reqContractDetails(req_id, _stock(symbol))
    await eventually(lambda: ("contractDetails", req_id) in app.ends)
    [details] = app.details[req_id]
    return details


async def _filled(app: _App, order_id: int) -> None:
    await eventually(lambda: app.last_status(order_id) == "Filled", what=f"order {order_id} Filled")


def _working(app: _App, order_id: int) -> Order:
    """The order as the gateway last told it (openOrder), checking it still works."""
    assert app.last_status(order_id) == "Submitted", app.statuses[order_id]
    order, state = app.open_orders[order_id][-1]
    assert state.status == "Submitted"
    return order


def _book_order(gateway: GatewaySim, order_id: int) -> dict[str, Any]:
    order: dict[str, Any]
    [order] = [
        o
        for o in gateway.book()["orders"]
        if o["client_id"] == CLIENT_ID and o["order_id"] == order_id
    ]
    return order


# -- orders -----------------------------------------------------------------------------------


async def test_what_if_order_answers_reg_t_margin_and_commission_and_trades_nothing(
    gateway: GatewaySim, app: _App
) -> None:
    [net_liquidation] = [v.value for v in gateway.account_values() if v.tag == "NetLiquidation"]
    order_id = app.take_order_id()
    app.placeOrder(order_id, _stock(), _order("BUY", 7, "MKT", whatIf=True))
    await eventually(lambda: app.open_orders[order_id])
    [(order, state)] = app.open_orders[order_id]
    assert order.whatIf is True
    for figure in ("initMarginChange", "maintMarginChange", "equityWithLoanAfter"):
        assert _is_set(getattr(state, figure)), (figure, getattr(state, figure))
    assert _is_set(state.commissionAndFees), state.commissionAndFees
    # Reg T: 50% initial and 25% maintenance of 7 shares at the ask.
    assert float(state.initMarginChange) == pytest.approx(0.5 * 7 * 190.00, abs=0.02)
    assert float(state.maintMarginChange) == pytest.approx(0.25 * 7 * 190.00, abs=0.02)
    assert state.commissionAndFees == pytest.approx(1.0)  # IBKR fixed: the minimum
    # The shares are worth what they cost: equity falls by the commission only.
    expected_equity = float(net_liquidation) - state.commissionAndFees
    assert float(state.equityWithLoanAfter) == pytest.approx(expected_equity, abs=0.02)

    await asyncio.sleep(QUIET_SECONDS)
    assert app.executions == []
    assert order_id not in app.statuses  # IB sends no orderStatus for a what-if order
    book = gateway.book()
    assert book["executions"] == []
    assert book["positions"] == []


async def test_ib_sample_bracket_without_oca_group_take_profit_cancels_stop_loss(
    gateway: GatewaySim, app: _App
) -> None:
    contract = _stock()
    parent_id = app.take_order_id()
    take_profit_id = app.take_order_id()
    stop_loss_id = app.take_order_id()
    # IBKR's API samples, OrderSamples.BracketOrder: no ocaGroup on any of the three.
    parent = _order("BUY", 10, "LMT", lmtPrice=190.00, transmit=False)
    take_profit = _order("SELL", 10, "LMT", lmtPrice=195.00, parentId=parent_id, transmit=False)
    stop_loss = _order("SELL", 10, "STP", auxPrice=185.00, parentId=parent_id, transmit=True)
    for order_id, order in (
        (parent_id, parent),
        (take_profit_id, take_profit),
        (stop_loss_id, stop_loss),
    ):
        app.placeOrder(order_id, contract, order)
    await _filled(app, parent_id)
    await eventually(
        lambda: (
            app.last_status(take_profit_id) == "Submitted"
            and app.last_status(stop_loss_id) == "Submitted"
        )
    )
    assert app.errors == []

    app.expected_errors.add(202)  # IB tells the OCA cancel of the stop loss with 202
    set_market(gateway.broker.engine, "195.00", "195.01", size=5000, last="195.00")
    await _filled(app, take_profit_id)
    await eventually(lambda: app.last_status(stop_loss_id) == "Cancelled")
    assert [e.code for e in app.errors if e.code != 202] == []
    assert {e.req_id for e in app.errors} <= {stop_loss_id}
    sides = sorted((e.side, e.shares, e.price) for _, _, e in app.executions)
    assert sides == [("BOT", Decimal(10), 190.0), ("SLD", Decimal(10), 195.0)]
    assert all(p["qty"] == "0" for p in gateway.book()["positions"])


async def test_modifying_a_resting_limit_order_to_market_fills_it(
    gateway: GatewaySim, app: _App
) -> None:
    order_id = app.take_order_id()
    contract = _stock()
    app.placeOrder(order_id, contract, _order("BUY", 5, "LMT", lmtPrice=150.00, tif="DAY"))
    await eventually(lambda: app.last_status(order_id) == "Submitted")

    app.placeOrder(order_id, contract, _order("BUY", 5, "MKT", tif="DAY"))
    await _filled(app, order_id)
    status, filled, remaining, avg_price = app.statuses[order_id][-1]
    assert (status, filled, remaining, avg_price) == ("Filled", Decimal(5), Decimal(0), 190.0)
    assert app.codes(order_id) == []  # no 201: IB lets an order's type change
    [execution] = gateway.book()["executions"]
    assert (execution["order_id"], execution["shares"], execution["price"]) == (
        order_id,
        "5",
        "190",
    )


async def test_refused_modifications_leave_the_order_working_unchanged(
    gateway: GatewaySim, app: _App
) -> None:
    order_id = app.take_order_id()
    contract = _stock()
    app.placeOrder(order_id, contract, _order("BUY", 5, "LMT", lmtPrice=150.00, tif="GTC"))
    await eventually(lambda: app.last_status(order_id) == "Submitted")
    app.expected_errors |= {105, 110}

    # A sub-penny limit on a stock above $1: IB's 110, the order works on at its price.
    answers = len(app.open_orders[order_id])
    app.placeOrder(order_id, contract, _order("BUY", 5, "LMT", lmtPrice=100.123, tif="GTC"))
    await eventually(lambda: 110 in app.codes(order_id))
    await eventually(lambda: len(app.open_orders[order_id]) > answers)
    assert _working(app, order_id).lmtPrice == 150.0
    assert _book_order(gateway, order_id)["lmt_price"] == "150"

    # The side cannot change: IB's 105, the order works on as it was.
    answers = len(app.open_orders[order_id])
    app.placeOrder(order_id, contract, _order("SELL", 5, "LMT", lmtPrice=150.00, tif="GTC"))
    await eventually(lambda: 105 in app.codes(order_id))
    await eventually(lambda: len(app.open_orders[order_id]) > answers)
    assert _working(app, order_id).action == "BUY"
    book_order = _book_order(gateway, order_id)
    assert (book_order["action"], book_order["status"]) == ("BUY", "Submitted")
    assert app.codes(order_id) == [110, 105]
    assert gateway.book()["executions"] == []


def _price_condition(con_id: int, price: float) -> Any:
    """IBKR's sample price condition: true once the price of `con_id` is above `price`."""
    condition = Create(OrderCondition.Price)
    condition.conId = con_id
    condition.exchange = "SMART"
    condition.isMore = True
    condition.triggerMethod = 0  # PriceCondition.TriggerMethodEnum.Default
    condition.price = price
    return condition


async def test_a_price_conditioned_order_waits_presubmitted_and_never_trades_unmet(
    gateway: GatewaySim, app: _App
) -> None:
    details = await _contract_details(app, 1)
    order_id = app.take_order_id()
    condition = _price_condition(details.contract.conId, 3 * 190.00)  # far above the market
    # A marketable limit: were the condition dropped, it would trade at once.
    order = _order("BUY", 5, "LMT", lmtPrice=190.00, conditions=[condition])
    app.placeOrder(order_id, _stock(), order)
    await eventually(lambda: app.last_status(order_id) == "PreSubmitted")
    await asyncio.sleep(QUIET_SECONDS)
    assert app.codes(order_id) == []
    assert app.last_status(order_id) == "PreSubmitted"
    sent, state = app.open_orders[order_id][-1]
    assert state.status == "PreSubmitted"
    [echoed] = sent.conditions
    assert (echoed.conId, echoed.isMore, echoed.price) == (details.contract.conId, True, 570.0)
    assert app.executions == []
    book = gateway.book()
    assert book["executions"] == []
    assert book["positions"] == []


async def test_an_order_with_good_after_time_waits_until_then_and_trades_after(
    gateway: GatewaySim, app: _App
) -> None:
    order_id = app.take_order_id()
    after = time.strftime("%Y%m%d %H:%M:%S UTC", time.gmtime(time.time() + 3))
    # A marketable limit: were goodAfterTime dropped, it would trade at once.
    app.placeOrder(
        order_id, _stock(), _order("BUY", 5, "LMT", lmtPrice=190.00, goodAfterTime=after)
    )
    await eventually(lambda: app.last_status(order_id) == "PreSubmitted")
    sent, _ = app.open_orders[order_id][-1]
    assert sent.goodAfterTime == after
    await asyncio.sleep(QUIET_SECONDS)
    assert app.executions == []  # not before its time
    assert gateway.book()["executions"] == []
    await eventually(lambda: app.last_status(order_id) == "Filled", seconds=6)
    assert app.codes(order_id) == []


async def test_a_gtd_order_works_until_its_good_till_date_then_is_cancelled(
    gateway: GatewaySim, app: _App
) -> None:
    order_id = app.take_order_id()
    till = time.strftime("%Y%m%d %H:%M:%S UTC", time.gmtime(time.time() + 3))
    resting = _order("BUY", 5, "LMT", lmtPrice=150.00, tif="GTD", goodTillDate=till)
    app.placeOrder(order_id, _stock(), resting)
    await eventually(lambda: app.last_status(order_id) == "Submitted")
    sent, _ = app.open_orders[order_id][-1]
    assert (sent.tif, sent.goodTillDate) == ("GTD", till)

    app.expected_errors.add(202)  # IB's "Order Canceled" with the status
    await eventually(lambda: app.last_status(order_id) == "Cancelled", seconds=6)
    assert set(app.codes(order_id)) <= {202}
    assert _book_order(gateway, order_id)["status"] == "Cancelled"
    assert gateway.book()["executions"] == []


async def test_cancel_of_an_unknown_order_is_10147_and_of_a_filled_order_10148(
    gateway: GatewaySim, app: _App
) -> None:
    app.expected_errors |= {10147, 10148}
    unknown = app.take_order_id() + 500
    app.cancelOrder(unknown, OrderCancel())
    await eventually(lambda: app.codes(unknown))
    assert app.codes(unknown) == [10147]

    order_id = app.take_order_id()
    app.placeOrder(order_id, _stock(), _order("BUY", 3, "MKT"))
    await _filled(app, order_id)
    app.cancelOrder(order_id, OrderCancel())
    await eventually(lambda: app.codes(order_id))
    assert app.codes(order_id) == [10148]
    assert app.last_status(order_id) == "Filled"


# -- the account ------------------------------------------------------------------------------

_SUMMARY_TAGS = (
    "NetLiquidation,TotalCashValue,BuyingPower,AvailableFunds,ExcessLiquidity,"
    "InitMarginReq,MaintMarginReq,GrossPositionValue,Cushion"
)
_LEDGER_TAGS = {
    "CashBalance",
    "TotalCashBalance",
    "NetLiquidationByCurrency",
    "StockMarketValue",
    "UnrealizedPnL",
    "RealizedPnL",
}


async def test_account_summary_answers_exactly_the_tags_asked_for_and_the_ledger(
    gateway: GatewaySim, app: _App
) -> None:
    app.reqAccountSummary(5, "All", _SUMMARY_TAGS)
    await eventually(lambda: ("accountSummary", 5) in app.ends)
    rows = app.summary[5]
    tags = [tag for _, tag, _, _ in rows]
    assert sorted(tags) == sorted(_SUMMARY_TAGS.split(","))  # each once, no others
    assert {account for account, *_ in rows} == {gateway.account}
    by_tag = {tag: (value, currency) for _, tag, value, currency in rows}
    assert by_tag["Cushion"][1] == ""
    assert {by_tag[tag][1] for tag in by_tag if tag != "Cushion"} == {"USD"}
    for value, _ in by_tag.values():
        float(value)
    app.cancelAccountSummary(5)

    app.reqAccountSummary(6, "All", "$LEDGER")
    await eventually(lambda: ("accountSummary", 6) in app.ends)
    ledger = {tag: (value, currency) for _, tag, value, currency in app.summary[6]}
    assert set(ledger) >= _LEDGER_TAGS
    assert not set(ledger) & set(_SUMMARY_TAGS.split(","))  # the ledger's own tags only
    assert {currency for _, currency in ledger.values()} == {"USD"}
    cash = next(v.value for v in gateway.account_values() if v.tag == "TotalCashValue")
    assert Decimal(ledger["CashBalance"][0]) == Decimal(cash)
    app.cancelAccountSummary(6)


async def test_req_managed_accounts_answers_the_gateways_account(
    gateway: GatewaySim, app: _App
) -> None:
    assert app.accounts == [gateway.account]  # at connect, as IB sends it
    app.reqManagedAccts()
    await eventually(lambda: len(app.accounts) == 2)
    assert app.accounts[-1].split(",") == [gateway.account]


async def test_pnl_follows_a_position_as_the_market_moves(gateway: GatewaySim, app: _App) -> None:
    details = await _contract_details(app, 1)
    app.reqPnL(8, gateway.account, "")
    await eventually(lambda: [p for p in app.pnls if p[0] == 8])

    order_id = app.take_order_id()
    app.placeOrder(order_id, details.contract, _order("BUY", 10, "MKT"))
    await _filled(app, order_id)
    # Bought at the ask, marked at the last (190.00): down the $1 commission.
    await eventually(
        lambda: app.pnls[-1][2] == pytest.approx(-1.0), seconds=3, what="P&L with the position"
    )
    _, daily_before, unrealized_before, _ = app.pnls[-1]

    app.reqPnLSingle(9, gateway.account, "", details.contract.conId)
    await eventually(lambda: [p for p in app.pnl_singles if p[0] == 9])
    _, position, *_ = app.pnl_singles[-1]
    assert position == Decimal(10)

    set_market(gateway.broker.engine, "195.00", "195.01", size=5000, last="195.00")
    await eventually(
        lambda: app.pnls[-1][2] > unrealized_before, seconds=3, what="P&L after the move"
    )
    _, daily, unrealized, realized = app.pnls[-1]
    assert daily > daily_before
    assert unrealized == pytest.approx(10 * (195.00 - 190.10), abs=0.01)
    assert daily == pytest.approx(10 * 195.00 - 10 * 190.00 - 1.0, abs=0.01)
    assert realized == 0
    await eventually(lambda: app.pnl_singles[-1][3] == pytest.approx(unrealized), seconds=3)
    app.cancelPnL(8)
    app.cancelPnLSingle(9)


# -- market data ------------------------------------------------------------------------------


async def test_delayed_data_asked_for_on_a_live_gateway_gives_live_data(
    gateway: GatewaySim, app: _App
) -> None:
    app.reqMarketDataType(3)
    app.reqMktData(31, _stock(), "", False, False, [])
    await eventually(lambda: (31, 1) in app.data_types)
    await eventually(lambda: {t for r, t, _ in app.prices if r == 31} >= {1, 2, 4})
    assert [t for r, t in app.data_types if r == 31] == [1]
    assert not {t for r, t, _ in app.prices if r == 31} & {66, 67, 68}
    app.cancelMktData(31)


async def test_a_gateway_without_live_data_gives_354_or_delayed_ticks_when_asked(
    delayed_gateway: GatewaySim,
) -> None:
    async with _connected(delayed_gateway) as app:
        app.expected_errors |= {354, 10167}
        app.reqMktData(41, _stock(), "", False, False, [])
        await eventually(lambda: app.codes(41))
        await asyncio.sleep(QUIET_SECONDS)
        assert app.codes(41) == [354]
        assert [p for p in app.prices if p[0] == 41] == []

        app.reqMarketDataType(3)
        app.reqMktData(42, _stock(), "", False, False, [])
        await eventually(lambda: (42, 3) in app.data_types)
        await eventually(lambda: 10167 in app.codes(42))
        await eventually(lambda: {t for r, t, _ in app.prices if r == 42} >= {66, 67, 68})
        assert not {t for r, t, _ in app.prices if r == 42} & {1, 2, 4}
        assert [t for r, t in app.data_types if r == 42] == [3]
        app.cancelMktData(42)


async def test_generic_ticks_233_and_236_give_rt_volume_and_shortable(
    gateway: GatewaySim, app: _App
) -> None:
    app.reqMktData(51, _stock(), "233,236", False, False, [])
    await eventually(lambda: any(r == 51 and t == 48 for r, t, _ in app.strings))
    await eventually(lambda: any(r == 51 and t == 46 for r, t, _ in app.generics))
    [rt_volume, *_] = [v for r, t, v in app.strings if r == 51 and t == 48]
    price, size, millis, volume, vwap, single = rt_volume.split(";")
    assert float(price) == pytest.approx(190.00)
    assert float(size) >= 0
    assert abs(int(millis) / 1000 - time.time()) < 60
    assert float(volume) >= 0
    assert float(vwap) > 0
    assert single in ("true", "false")
    assert {v for r, t, v in app.generics if r == 51 and t == 46} == {3.0}
    app.cancelMktData(51)


async def test_market_rule_26_and_contract_details_naming_it(app: _App) -> None:
    details = await _contract_details(app, 1)
    assert details.marketRuleIds == "26,26"
    app.reqMarketRule(26)
    await eventually(lambda: 26 in app.rules)
    assert app.rules[26] == [(0.0, 0.0001), (1.0, 0.01)]


async def test_matching_symbols_find_aapl(app: _App) -> None:
    app.reqMatchingSymbols(61, "AA")
    await eventually(lambda: 61 in app.symbols)
    found = [d.contract for d in app.symbols[61]]
    assert "AAPL" in [c.symbol for c in found]
    aapl = next(c for c in found if c.symbol == "AAPL")
    assert (aapl.secType, aapl.currency) == ("STK", "USD")
    assert aapl.conId > 0


async def test_head_timestamp_answers_the_oldest_bar(app: _App) -> None:
    app.reqHeadTimeStamp(62, _stock(), "TRADES", 1, 2)  # formatDate 2: epoch seconds
    await eventually(lambda: 62 in app.head_timestamps)
    first = int(app.head_timestamps[62])
    assert 0 < first < time.time()


async def test_user_info_answers(app: _App) -> None:
    app.reqUserInfo(63)
    await eventually(lambda: 63 in app.user_infos)
    assert app.user_infos[63] == ""  # no white branding


async def test_tick_by_tick_bid_ask_and_midpoint_follow_the_quote(
    gateway: GatewaySim, app: _App
) -> None:
    app.reqTickByTickData(71, _stock(), "BidAsk", 0, False)
    app.reqTickByTickData(72, _stock(), "MidPoint", 0, False)
    await eventually(lambda: any(r == 71 for r, *_ in app.bid_asks))
    await eventually(lambda: any(r == 72 for r, _ in app.mid_points))

    set_market(gateway.broker.engine, "190.49", "190.50", size=700, last="190.50")
    await eventually(
        lambda: any((r, bid, ask) == (71, 190.49, 190.50) for r, bid, ask, *_ in app.bid_asks),
        seconds=3,
    )
    [(_, _, _, bid_size, ask_size)] = [t for t in app.bid_asks if t[1] == 190.49]
    assert (bid_size, ask_size) == (Decimal(700), Decimal(700))
    await eventually(
        lambda: any(r == 72 and mid == pytest.approx(190.495) for r, mid in app.mid_points),
        seconds=3,
    )
    app.cancelTickByTickData(71)
    app.cancelTickByTickData(72)


async def test_market_depth_inserts_five_levels_each_side_of_the_quote(app: _App) -> None:
    app.reqMktDepth(81, _stock(), 5, False, [])
    await eventually(lambda: len([d for d in app.depth if d[0] == 81]) >= 10)
    inserts = [d for d in app.depth if d[0] == 81 and d[2] == 0]
    asks = sorted((position, price) for _, position, _, side, price, _ in inserts if side == 0)
    bids = sorted((position, price) for _, position, _, side, price, _ in inserts if side == 1)
    assert [p for p, _ in asks] == [0, 1, 2, 3, 4]
    assert [p for p, _ in bids] == [0, 1, 2, 3, 4]
    assert [price for _, price in asks] == pytest.approx([190.00, 190.01, 190.02, 190.03, 190.04])
    assert [price for _, price in bids] == pytest.approx([189.99, 189.98, 189.97, 189.96, 189.95])
    assert all(size > 0 for *_, size in inserts)
    app.cancelMktDepth(81, False)


async def test_real_time_bars_come_every_five_seconds(app: _App) -> None:
    app.reqRealTimeBars(91, _stock(), 5, "TRADES", False, [])
    await eventually(lambda: [b for b in app.real_time_bars if b[0] == 91], seconds=11)
    _, start, open_, high, low, close = next(b for b in app.real_time_bars if b[0] == 91)
    assert start % 5 == 0
    assert abs(start - time.time()) < 15
    assert low <= min(open_, close) <= max(open_, close) <= high
    app.cancelRealTimeBars(91)


async def test_historical_data_kept_up_to_date_sends_bars_then_updates(app: _App) -> None:
    app.reqHistoricalData(101, _stock(), "", "1800 S", "1 min", "TRADES", 0, 1, True, [])
    await eventually(lambda: ("historicalData", 101) in app.ends)
    assert app.bars[101]
    await eventually(lambda: app.bar_updates[101], seconds=3)
    update = app.bar_updates[101][-1]
    assert update.low <= update.close <= update.high
    assert update.date >= app.bars[101][-1].date
    app.cancelHistoricalData(101)


async def test_the_101st_streaming_market_data_line_gets_error_101(app: _App) -> None:
    app.expected_errors.add(101)
    for req_id in range(1000, 1101):
        app.reqMktData(req_id, _stock(), "", False, False, [])
        if (req_id - 1000) % PACED_BATCH == PACED_BATCH - 1:
            await asyncio.sleep(1.05)  # IB's pacing: at most 50 messages a second
    await eventually(lambda: app.codes(1100))
    assert app.codes(1100) == [101]
    assert [e.req_id for e in app.errors] == [1100]
    await eventually(
        lambda: {r for r, *_ in app.prices if 1000 <= r < 1100} == set(range(1000, 1100))
    )
    assert not [p for p in app.prices if p[0] == 1100]
