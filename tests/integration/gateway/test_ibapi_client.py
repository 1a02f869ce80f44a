"""Unmodified ibapi, IBKR's official Python client, trading against gateway-sim.

ibapi is threaded: `EClient.connect` blocks on the handshake, its `EReader` thread reads
the socket and `EClient.run` (here on a thread of ours) calls the `EWrapper` callbacks.
The gateway runs on the test's event loop, so the test never blocks that loop: blocking
calls go through `asyncio.to_thread`, and the callbacks' records are polled with
`eventually`. Requests are plain socket sends of a few bytes, made from the test.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from ibapi.client import EClient
from ibapi.commission_and_fees_report import CommissionAndFeesReport
from ibapi.contract import Contract, ContractDetails
from ibapi.execution import Execution
from ibapi.order import Order
from ibapi.order_cancel import OrderCancel
from ibapi.order_state import OrderState
from ibapi.wrapper import EWrapper

from stocks_api.broker.gateway.server import GatewaySim
from tests.conftest import eventually
from tests.factories import set_market

CLIENT_ID = 11


@dataclass(frozen=True)
class _Error:
    req_id: int
    code: int
    message: str


class _App(EWrapper, EClient):
    """An ibapi application as IBKR's samples write one: it records what it is told.

    The callbacks run on ibapi's message thread; each record is one append (atomic), and
    the test reads them from the event loop's thread.
    """

    def __init__(self) -> None:
        EWrapper.__init__(self)
        EClient.__init__(self, wrapper=self)
        self.next_order_id: int | None = None
        self.accounts: str = ""
        self.details: dict[int, list[ContractDetails]] = defaultdict(list)
        self.ends: list[tuple[str, int]] = []
        self.open_orders: dict[int, list[tuple[Order, str]]] = defaultdict(list)
        self.statuses: dict[int, list[tuple[str, Decimal, Decimal, float, int]]] = defaultdict(list)
        self.executions: list[tuple[int, Contract, Execution]] = []
        self.commissions: list[CommissionAndFeesReport] = []
        self.positions: list[tuple[str, Contract, Decimal, float]] = []
        self.summary: dict[int, dict[str, tuple[str, str, str]]] = defaultdict(dict)
        self.errors: list[_Error] = []
        self.expected_errors = {200}  # the codes a test asks for; any other fails it
        self.failure: BaseException | None = None

    # -- EWrapper ------------------------------------------------------------------------

    def nextValidId(self, orderId: int) -> None:
        self.next_order_id = orderId

    def managedAccounts(self, accountsList: str) -> None:
        self.accounts = accountsList

    def contractDetails(self, reqId: int, contractDetails: ContractDetails) -> None:
        self.details[reqId].append(contractDetails)

    def contractDetailsEnd(self, reqId: int) -> None:
        self.ends.append(("contractDetails", reqId))

    def openOrder(
        self, orderId: int, contract: Contract, order: Order, orderState: OrderState
    ) -> None:
        self.open_orders[orderId].append((order, orderState.status))

    def orderStatus(
        self,
        orderId: int,
        status: str,
        filled: Decimal,
        remaining: Decimal,
        avgFillPrice: float,
        permId: int,
        *args: Any,
    ) -> None:
        self.statuses[orderId].append((status, filled, remaining, avgFillPrice, permId))

    def execDetails(self, reqId: int, contract: Contract, execution: Execution) -> None:
        self.executions.append((reqId, contract, execution))

    def commissionAndFeesReport(self, commissionAndFeesReport: CommissionAndFeesReport) -> None:
        self.commissions.append(commissionAndFeesReport)

    def position(self, account: str, contract: Contract, position: Decimal, avgCost: float) -> None:
        self.positions.append((account, contract, position, avgCost))

    def positionEnd(self) -> None:
        self.ends.append(("positions", 0))

    def accountSummary(self, reqId: int, account: str, tag: str, value: str, currency: str) -> None:
        self.summary[reqId][tag] = (account, value, currency)

    def accountSummaryEnd(self, reqId: int) -> None:
        self.ends.append(("accountSummary", reqId))

    def error(
        self,
        reqId: int,
        errorTime: int,
        errorCode: int,
        errorString: str,
        advancedOrderRejectJson: str = "",
    ) -> None:
        self.errors.append(_Error(reqId, errorCode, errorString))

    # -- the message thread --------------------------------------------------------------

    def run_messages(self) -> None:
        """`EClient.run`, keeping what ended it if it was not a disconnect."""
        try:
            self.run()
        except BaseException as exc:
            self.failure = exc

    def last_status(self, order_id: int) -> str | None:
        statuses = self.statuses.get(order_id)
        return statuses[-1][0] if statuses else None


def _stock(symbol: str) -> Contract:
    contract = Contract()
    contract.symbol = symbol
    contract.secType = "STK"
    contract.exchange = "SMART"
    contract.currency = "USD"
    return contract


def _order(action: str, qty: int, order_type: str, order_ref: str, **fields: Any) -> Order:
    order = Order()
    order.action = action
    order.totalQuantity = Decimal(qty)
    order.orderType = order_type
    order.orderRef = order_ref
    for name, value in fields.items():
        setattr(order, name, value)
    return order


@pytest.fixture
async def app(gateway: GatewaySim) -> AsyncIterator[_App]:
    client = _App()
    started = time.perf_counter()
    # The handshake blocks until the server answers: off the loop the gateway runs on.
    await asyncio.to_thread(client.connect, "127.0.0.1", gateway.port, CLIENT_ID)
    assert client.isConnected(), client.errors
    reader = client.reader
    messages = threading.Thread(target=client.run_messages, name="ibapi-run", daemon=True)
    messages.start()
    try:
        await eventually(lambda: client.next_order_id is not None and client.accounts, seconds=3.0)
        assert time.perf_counter() - started < 3.0
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


async def _contract_details(app: _App, req_id: int, symbol: str) -> list[ContractDetails]:
    app.reqContractDetails(req_id, _stock(symbol))
    await eventually(
        lambda: (
            ("contractDetails", req_id) in app.ends or any(e.req_id == req_id for e in app.errors)
        )
    )
    return app.details[req_id]


async def test_connect_contract_details_and_a_market_order_filled_with_commission(
    gateway: GatewaySim, app: _App
) -> None:
    assert app.accounts.split(",") == [gateway.account]
    assert app.next_order_id is not None
    assert app.serverVersion() == 178

    [details] = await _contract_details(app, 1, "AAPL")
    aapl = details.contract
    assert (aapl.symbol, aapl.secType, aapl.currency) == ("AAPL", "STK", "USD")
    assert aapl.conId > 0
    assert aapl.primaryExchange
    assert details.minTick > 0

    set_market(gateway.broker.engine, "189.99", "190.00", size=5000, last="190.00")
    order_id = app.next_order_id
    app.placeOrder(order_id, aapl, _order("BUY", 10, "MKT", "cid-ibapi-mkt-1"))
    await eventually(lambda: app.last_status(order_id) == "Filled")
    status, filled, remaining, avg_price, perm_id = app.statuses[order_id][-1]
    assert (status, filled, remaining, avg_price) == ("Filled", Decimal(10), Decimal(0), 190.0)
    assert perm_id > 0
    sent, _state = app.open_orders[order_id][0]
    assert sent.orderRef == "cid-ibapi-mkt-1"
    assert sent.permId == perm_id

    await eventually(lambda: app.executions and app.commissions)
    [(req_id, contract, execution)] = app.executions
    assert req_id == -1  # a live fill, not an answer to reqExecutions
    assert (contract.symbol, contract.conId) == ("AAPL", aapl.conId)
    assert (execution.orderId, execution.clientId, execution.permId) == (
        order_id,
        CLIENT_ID,
        perm_id,
    )
    assert (execution.side, execution.shares, execution.price) == ("BOT", Decimal(10), 190.0)
    assert execution.orderRef == "cid-ibapi-mkt-1"
    [report] = app.commissions
    assert report.execId == execution.execId
    assert report.commissionAndFees > 0
    assert report.commissionAndFees == pytest.approx(1.0)  # IBKR fixed: the minimum
    assert report.currency == "USD"

    app.reqPositions()
    await eventually(lambda: ("positions", 0) in app.ends)
    [(account, held, qty, avg_cost)] = app.positions
    assert (account, held.symbol, held.conId, qty) == (gateway.account, "AAPL", aapl.conId, 10)
    assert avg_cost == pytest.approx(190.1)  # the commission is in the cost
    app.cancelPositions()


async def test_a_limit_order_away_from_the_market_rests_and_is_cancelled(
    gateway: GatewaySim, app: _App
) -> None:
    set_market(gateway.broker.engine, "189.99", "190.00", size=5000, last="190.00")
    order_id = app.next_order_id
    assert order_id is not None
    limit = _order("BUY", 5, "LMT", "cid-ibapi-lmt-1", lmtPrice=150.0, tif="GTC")
    app.placeOrder(order_id, _stock("AAPL"), limit)
    await eventually(lambda: app.last_status(order_id) == "Submitted")
    sent, state = app.open_orders[order_id][-1]
    assert (sent.orderType, sent.lmtPrice, sent.tif) == ("LMT", 150.0, "GTC")
    assert sent.orderRef == "cid-ibapi-lmt-1"
    assert state == "Submitted"

    app.expected_errors.add(202)
    app.cancelOrder(order_id, OrderCancel())
    await eventually(lambda: app.last_status(order_id) == "Cancelled")
    status, filled, remaining, *_ = app.statuses[order_id][-1]
    assert (status, filled, remaining) == ("Cancelled", Decimal(0), Decimal(5))
    # IB confirms a cancel with notice 202 too.
    assert [(e.req_id, e.code) for e in app.errors] == [(order_id, 202)]
    assert not app.executions
    assert gateway.positions() == []


async def test_account_summary_and_an_unknown_symbol(gateway: GatewaySim, app: _App) -> None:
    app.reqAccountSummary(7, "All", "NetLiquidation,TotalCashValue,BuyingPower")
    await eventually(lambda: ("accountSummary", 7) in app.ends)
    summary = app.summary[7]
    assert {"NetLiquidation", "TotalCashValue", "BuyingPower"} <= set(summary)
    account, value, currency = summary["NetLiquidation"]
    assert (account, currency) == (gateway.account, "USD")
    assert Decimal(value) == Decimal(
        next(v.value for v in gateway.account_values() if v.tag == "NetLiquidation")
    )
    app.cancelAccountSummary(7)

    assert await _contract_details(app, 2, "NOPE") == []
    [error] = app.errors
    assert (error.req_id, error.code) == (2, 200)
    assert "No security definition" in error.message
    assert ("contractDetails", 2) not in app.ends
