"""The gateway's outgoing messages, read back by ib_async's own Decoder at 176, 177 and 178.

Each message goes through `Decoder.interpret` exactly as ib_async's client hands it over
(a list of str fields). Beyond the decoded values, every read is checked to be exact: the
decoder logs no error, a `wrap`ped handler gets precisely the fields it types, and a
handler that keeps the rest of a message in a starred `*fields` leaves it empty.
"""

from __future__ import annotations

import inspect
import logging
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from unittest.mock import MagicMock

import pytest
from ib_async import IB
from ib_async.contract import Contract, ContractDetails
from ib_async.decoder import Decoder
from ib_async.objects import BarData, CommissionReport, Execution
from ib_async.order import Order, OrderState
from ib_async.util import UNSET_DOUBLE, UNSET_INTEGER

from stocks_api.broker.gateway import encoders as enc
from stocks_api.broker.gateway.model import (
    IbBar,
    IbCommission,
    IbContract,
    IbExecution,
    IbOrder,
    IbPosition,
)

VERSIONS = [176, 177, 178]
IB_LOGGERS = ("ib_async.Decoder", "ib_async.wrapper")
EXPONENT = re.compile(r"^[-+]?\d+(\.\d+)?[eE][-+]?\d+$")

# Handlers that unpack with a starred rest: (wrapper method they end in, handler, rest var).
STARRED: dict[int, tuple[str, Callable[..., Any], str]] = {
    4: ("error", Decoder.errorMsg, "fields"),
    5: ("openOrder", Decoder.openOrder, "fields"),
    10: ("contractDetails", Decoder.contractDetails, "fields"),
    11: ("execDetails", Decoder.execDetails, "fields"),
    17: ("historicalDataEnd", Decoder.historicalData, "get"),
    101: ("completedOrder", Decoder.completedOrder, "fields"),
}

AAPL = IbContract(
    con_id=265598,
    symbol="AAPL",
    min_tick=Decimal("0.01"),
    primary_exchange="NASDAQ",
    long_name="APPLE INC",
)


def _unread(handler: Callable[..., Any], rest: str) -> list[str]:
    """What `handler` (somewhere up the stack) has not read yet."""
    frame = sys._getframe(1)
    while frame.f_code is not handler.__code__:
        assert frame.f_back is not None, f"{handler.__name__} is not on the stack"
        frame = frame.f_back
    value = frame.f_locals[rest]
    return list(value.__self__) if rest == "get" else list(value)


def _ib_errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name in IB_LOGGERS and r.levelno >= logging.ERROR
    ]


@dataclass
class Harness:
    version: int
    caplog: pytest.LogCaptureFixture

    def feed(self, message: Sequence[str], decoder: Decoder | None = None) -> MagicMock:
        """Decode `message` into a mock wrapper (or `decoder`'s), checking it was read exactly."""
        assert all(isinstance(f, str) for f in message)
        exponents = [f for f in message if EXPONENT.match(f) and f != enc.UNSET_DOUBLE]
        assert not exponents, f"numbers in exponent notation: {exponents}"
        wrapper = MagicMock()
        wrapper.ib.TimezoneTWS = None
        wrapper.defaultTimezone = UTC
        decoder = decoder or Decoder(wrapper, self.version)
        msg_id = int(message[0])
        unread: list[list[str]] = []
        if msg_id in STARRED and decoder.wrapper is wrapper:
            method, handler, rest = STARRED[msg_id]
            getattr(wrapper, method).side_effect = lambda *_: unread.append(_unread(handler, rest))
        decoder.interpret(list(message))
        assert not _ib_errors(self.caplog)
        handler_fn = decoder.handlers[msg_id]
        if getattr(handler_fn, "__name__", "") == "handler":  # Decoder.wrap(...)
            spec = inspect.getclosurevars(handler_fn).nonlocals
            assert len(message) == spec["skip"] + len(spec["types"]), spec["methodName"]
        elif decoder.wrapper is wrapper and msg_id in STARRED:
            assert unread == [[]], f"unread fields: {unread}"
        return wrapper


@pytest.fixture(params=VERSIONS)
def version(request: pytest.FixtureRequest) -> int:
    return int(request.param)


@pytest.fixture
def h(version: int, caplog: pytest.LogCaptureFixture) -> Harness:
    caplog.set_level(logging.INFO)
    return Harness(version, caplog)


def _args(mock: MagicMock) -> tuple[Any, ...]:
    mock.assert_called_once()
    return tuple(mock.call_args.args)


def _check(obj: Any, **expected: Any) -> None:
    """`obj`'s attributes named in `expected` have those values."""
    assert {name: getattr(obj, name) for name in expected} == expected


def _changed(obj: Any, default: Any) -> dict[str, Any]:
    """Fields of dataclass `obj` that differ from a fresh `default`."""
    return {
        f.name: getattr(obj, f.name)
        for f in fields(obj)
        if getattr(obj, f.name) != getattr(default, f.name)
    }


def _order(**kw: Any) -> IbOrder:
    base: dict[str, Any] = {
        "order_id": 12,
        "client_id": 3,
        "perm_id": 987654321,
        "contract": AAPL,
        "action": "BUY",
        "total_qty": Decimal("100"),
        "order_type": "LMT",
        "account": "DU123",
        "order_ref": "strat-1",
        "lmt_price": Decimal("189.25"),
        "tif": "GTC",
        "oca_group": "oca-1",
        "parent_id": 11,
        "outside_rth": True,
        "status": "Submitted",
        "filled": Decimal("40"),
        "avg_fill_price": Decimal("189.2"),
        "last_fill_price": Decimal("189.21"),
        "commission": Decimal("1.25"),
    }
    return IbOrder(**(base | kw))


def _execution(**kw: Any) -> IbExecution:
    base: dict[str, Any] = {
        "exec_id": "0000e0d5.65600d1c.01.01",
        "order_id": 12,
        "client_id": 3,
        "perm_id": 987654321,
        "contract": AAPL,
        "time": datetime(2026, 11, 24, 14, 30, 5, tzinfo=UTC),
        "account": "DU123",
        "side": "BOT",
        "shares": Decimal("40"),
        "price": Decimal("189.2"),
        "cum_qty": Decimal("40"),
        "avg_price": Decimal("189.2"),
        "order_ref": "strat-1",
    }
    return IbExecution(**(base | kw))


def _bar(day: str, *prices: str, count: int) -> IbBar:
    """A bar from open, high, low, close, volume, wap."""
    open_, high, low, close, volume, wap = (Decimal(p) for p in prices)
    return IbBar(day, open_, high, low, close, volume, wap, count)


POSITION = IbPosition(
    account="DU123",
    contract=AAPL,
    position=Decimal("40"),
    avg_cost=Decimal("189.23125"),
    market_price=Decimal("190.5"),
    market_value=Decimal("7620"),
    unrealized_pnl=Decimal("50.75"),
    realized_pnl=Decimal("0"),
)


# --- helpers and guards --------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Decimal("189.250"), "189.25"),
        (Decimal("1E+2"), "100"),
        (Decimal("100.00"), "100"),
        (Decimal("0.0001"), "0.0001"),
        (Decimal("1E-7"), "0.0000001"),
        (Decimal("-0.00"), "0"),
        (Decimal("-12.5"), "-12.5"),
        (None, enc.UNSET_DOUBLE),
    ],
)
def test_num_is_plain_decimal_notation(value: Decimal | None, text: str) -> None:
    assert enc._num(value) == text


def test_num_rejects_non_finite() -> None:
    with pytest.raises(ValueError, match="finite"):
        enc._num(Decimal("NaN"))


@pytest.mark.parametrize("bad", [175, 179])
def test_versioned_messages_refuse_other_server_versions(bad: int) -> None:
    with pytest.raises(ValueError, match="server version"):
        enc.open_order(_order(), bad)
    with pytest.raises(ValueError, match="server version"):
        enc.exec_details(-1, _execution(), bad)


# --- session -------------------------------------------------------------------------


def test_session_messages(h: Harness) -> None:
    accounts = h.feed(enc.managed_accounts(["DU123", "DU456"]))
    assert _args(accounts.managedAccounts) == ("DU123,DU456",)
    assert _args(h.feed(enc.next_valid_id(41)).nextValidId) == (41,)
    assert _args(h.feed(enc.current_time(1795000000)).currentTime) == (1795000000,)


def test_error(h: Harness) -> None:
    message = enc.error(12, 201, "Order rejected", '{"k":1}', 1700000000000, h.version)
    assert _args(h.feed(message).error) == (12, 201, "Order rejected", '{"k":1}')
    notice = enc.error(-1, 2104, "Market data farm is OK")
    assert _args(h.feed(notice).error) == (-1, 2104, "Market data farm is OK", "")


def test_error_time_only_from_194() -> None:
    old = enc.error(7, 201, "no", error_time_ms=5, server_version=178)
    assert old == ["4", "2", "7", "201", "no", ""]
    new = enc.error(7, 201, "no", error_time_ms=5, server_version=194)
    assert new == ["4", "7", "201", "no", "", "5"]


# --- contracts -----------------------------------------------------------------------


def test_contract_details(h: Harness) -> None:
    contract = replace(AAPL, long_name="Société Générale \\ Ω")
    wrapper = h.feed(enc.contract_details(7, contract, h.version))
    req_id, cd = _args(wrapper.contractDetails)
    assert req_id == 7
    assert isinstance(cd, ContractDetails)
    assert isinstance(cd.contract, Contract)
    _check(cd.contract, conId=265598, symbol="AAPL", secType="STK", exchange="SMART")
    _check(cd.contract, primaryExchange="NASDAQ", currency="USD", localSymbol="AAPL")
    _check(cd.contract, tradingClass="NMS", strike=0.0, lastTradeDateOrContractMonth="")
    _check(cd, minTick=0.01, longName="Société Générale \\ Ω", marketName="NMS")
    _check(cd, timeZoneId="US/Eastern", stockType="COMMON", aggGroup=1)
    _check(cd, minSize=1.0, sizeIncrement=1.0, suggestedSizeIncrement=100.0)
    assert "LMT" in cd.orderTypes.split(",")
    assert _args(h.feed(enc.contract_details_end(7)).contractDetailsEnd) == (7,)


def test_contract_details_of_a_fractional_stock(h: Harness) -> None:
    message = enc.contract_details(
        7, AAPL, h.version, size_increment=Decimal("0.0001"), trading_hours="20261124:0930"
    )
    _, cd = _args(h.feed(message).contractDetails)
    _check(cd, minSize=0.0001, sizeIncrement=0.0001, tradingHours="20261124:0930")


# --- orders --------------------------------------------------------------------------

MARGIN_FIELDS = [
    f"{kind}{when}"
    for when in ("Before", "Change", "After")
    for kind in ("initMargin", "maintMargin", "equityWithLoan")
]
# What the plain LMT order of `_order()` sets, as ib_async reads it back; all else default.
ORDER_FIELDS = {
    "action": "BUY",
    "totalQuantity": 100.0,
    "orderType": "LMT",
    "lmtPrice": 189.25,
    "tif": "GTC",
    "ocaGroup": "oca-1",
    "account": "DU123",
    "orderRef": "strat-1",
    "permId": 987654321,
    "outsideRth": True,
    "openClose": "",  # IB's default since v155; ib_async's Order() says "O"
}


def test_open_order(h: Harness) -> None:
    message = enc.open_order(_order(), h.version)
    order_id, contract, order, state = _args(h.feed(message).openOrder)
    assert order_id == 12
    _check(contract, conId=265598, symbol="AAPL", secType="STK", exchange="SMART")
    _check(contract, currency="USD", localSymbol="AAPL", tradingClass="NMS")
    expected = ORDER_FIELDS | {"orderId": 12, "clientId": 3, "parentId": 11}
    assert _changed(order, Order()) == expected
    assert order.transmit is True  # not on the wire: IB never echoes it
    assert _changed(state, OrderState()) == {
        "status": "Submitted",
        "commission": 1.25,
        "commissionCurrency": "USD",
        **dict.fromkeys(MARGIN_FIELDS, enc.UNSET_DOUBLE),  # unset, as IB sends them
    }
    assert state.numeric().initMarginChange is None


def test_open_order_lengths_follow_the_fa_profile_desupport() -> None:
    lengths = {v: len(enc.open_order(_order(), v)) for v in VERSIONS}
    assert lengths == {176: 128, 177: 127, 178: 127}


def test_open_order_of_a_stop_limit(h: Harness) -> None:
    stop = _order(
        order_type="STP LMT",
        lmt_price=Decimal("99"),
        aux_price=Decimal("100.5"),
        commission=None,
        status="PreSubmitted",
        outside_rth=False,
    )
    _, _, order, state = _args(h.feed(enc.open_order(stop, h.version)).openOrder)
    _check(order, orderType="STP LMT", lmtPrice=99.0, auxPrice=100.5, outsideRth=False)
    _check(state, status="PreSubmitted", commission=UNSET_DOUBLE, commissionCurrency="")


def test_open_order_of_a_trail(h: Harness) -> None:
    trail = _order(
        order_type="TRAIL",
        action="SELL",
        lmt_price=None,
        trailing_percent=Decimal("2.5"),
        trail_stop_price=Decimal("180.12"),
    )
    _, _, order, _ = _args(h.feed(enc.open_order(trail, h.version)).openOrder)
    _check(order, orderType="TRAIL", lmtPrice=UNSET_DOUBLE, auxPrice=UNSET_DOUBLE)
    _check(order, trailingPercent=2.5, trailStopPrice=180.12)


def test_open_order_of_a_market_order(h: Harness) -> None:
    market = _order(order_type="MKT", lmt_price=None, parent_id=0, oca_group="")
    _, _, order, _ = _args(h.feed(enc.open_order(market, h.version)).openOrder)
    _check(order, orderType="MKT", lmtPrice=UNSET_DOUBLE, parentId=0, ocaGroup="")
    _check(order, minQty=UNSET_INTEGER, volatilityType=UNSET_INTEGER, duration=UNSET_INTEGER)


def test_completed_order(h: Harness) -> None:
    done = _order(
        status="Filled",
        filled=Decimal("100"),
        completed_time="20261124-14:31:00",
        completed_status="Filled Size: 100",
    )
    contract, order, state = _args(h.feed(enc.completed_order(done, h.version)).completedOrder)
    _check(contract, conId=265598, symbol="AAPL", exchange="SMART")
    assert _changed(order, Order()) == ORDER_FIELDS | {"filledQuantity": 100.0}
    assert _changed(state, OrderState()) == {
        "status": "Filled",
        "completedTime": "20261124-14:31:00",
        "completedStatus": "Filled Size: 100",
    }
    assert _args(h.feed(enc.completed_orders_end()).completedOrdersEnd) == ()


def test_order_status(h: Harness) -> None:
    status = h.feed(enc.order_status(_order(why_held="locate"))).orderStatus
    # orderId, status, filled, remaining, avgFillPrice, permId, parentId, lastFillPrice ..
    assert _args(status)[:8] == (12, "Submitted", 40.0, 60.0, 189.2, 987654321, 11, 189.21)
    assert _args(status)[8:] == (3, "locate", 0.0)  # .. clientId, whyHeld, mktCapPrice
    assert _args(h.feed(enc.open_order_end()).openOrderEnd) == ()


# --- executions ----------------------------------------------------------------------


def test_exec_details(h: Harness) -> None:
    wrapper = h.feed(enc.exec_details(9, _execution(), h.version))
    req_id, contract, ex = _args(wrapper.execDetails)
    assert req_id == 9
    _check(contract, conId=265598, symbol="AAPL", exchange="ISLAND", currency="USD")
    assert isinstance(ex, Execution)
    assert _changed(ex, Execution()) == {
        "execId": "0000e0d5.65600d1c.01.01",
        "time": datetime(2026, 11, 24, 14, 30, 5, tzinfo=UTC),
        "acctNumber": "DU123",
        "exchange": "ISLAND",
        "side": "BOT",
        "shares": 40.0,
        "price": 189.2,
        "permId": 987654321,
        "clientId": 3,
        "orderId": 12,
        "cumQty": 40.0,
        "avgPrice": 189.2,
        "orderRef": "strat-1",
    }
    assert _args(h.feed(enc.exec_details_end(9)).execDetailsEnd) == (9,)


def test_exec_details_time_is_sent_in_utc(h: Harness) -> None:
    local = datetime(2026, 11, 24, 9, 30, tzinfo=UTC).astimezone()
    message = enc.exec_details(-1, _execution(time=local), h.version)
    assert "20261124 09:30:00 UTC" in message
    _, _, ex = _args(h.feed(message).execDetails)
    assert ex.time == datetime(2026, 11, 24, 9, 30, tzinfo=UTC)


def test_exec_details_pending_price_revision_from_178() -> None:
    lengths = {v: len(enc.exec_details(-1, _execution(), v)) for v in VERSIONS}
    assert lengths == {176: 31, 177: 31, 178: 32}


def test_commission_report(h: Harness) -> None:
    opening = IbCommission("e1", Decimal("1.0"))
    (report,) = _args(h.feed(enc.commission_report(opening)).commissionReport)
    assert report == CommissionReport("e1", 1.0, "USD", UNSET_DOUBLE, UNSET_DOUBLE, 0)
    closing = IbCommission("e2", Decimal("0.35"), realized_pnl=Decimal("-12.5"))
    (report,) = _args(h.feed(enc.commission_report(closing)).commissionReport)
    _check(report, commission=0.35, realizedPNL=-12.5)


# --- positions and accounts ----------------------------------------------------------


def test_position(h: Harness) -> None:
    account, contract, size, avg_cost = _args(h.feed(enc.position(POSITION)).position)
    assert (account, size, avg_cost) == ("DU123", 40.0, 189.23125)
    _check(contract, conId=265598, symbol="AAPL", exchange="NASDAQ", tradingClass="NMS")
    assert _args(h.feed(enc.position_end()).positionEnd) == ()


def test_update_portfolio(h: Harness) -> None:
    contract, *values = _args(h.feed(enc.update_portfolio(POSITION, h.version)).updatePortfolio)
    _check(contract, conId=265598, primaryExchange="NASDAQ", exchange="")
    assert values == [40.0, 190.5, 7620.0, 189.23125, 50.75, 0.0, "DU123"]


@pytest.mark.parametrize(
    ("message", "method", "args"),
    [
        (
            enc.update_account_value("NetLiquidation", "100000.5", "USD", "DU123"),
            "updateAccountValue",
            ("NetLiquidation", "100000.5", "USD", "DU123"),
        ),
        (enc.update_account_time("14:31"), "updateAccountTime", ("14:31",)),
        (enc.account_download_end("DU123"), "accountDownloadEnd", ("DU123",)),
        (
            enc.account_summary(5, "DU123", "BuyingPower", "4000", "USD"),
            "accountSummary",
            (5, "DU123", "BuyingPower", "4000", "USD"),
        ),
        (enc.account_summary_end(5), "accountSummaryEnd", (5,)),
        (
            enc.account_update_multi(6, "DU123", "", "CashBalance", "10", "USD"),
            "accountUpdateMulti",
            (6, "DU123", "", "CashBalance", "10", "USD"),
        ),
        (enc.account_update_multi_end(6), "accountUpdateMultiEnd", (6,)),
        (enc.position_multi_end(8), "positionMultiEnd", (8,)),
        (enc.tick_size(3, 8, Decimal("1234567")), "tickSize", (3, 8, 1234567.0)),
        (enc.tick_string(3, 45, "1795000000"), "tickString", (3, 45, "1795000000")),
        (enc.tick_snapshot_end(3), "tickSnapshotEnd", (3,)),
        (enc.market_data_type(3, 3), "marketDataType", (3, 3)),
        (
            enc.tick_req_params(3, Decimal("0.01"), "9c0001", 3),
            "tickReqParams",
            (3, 0.01, "9c0001", 3),
        ),
    ],
)
def test_short_messages(h: Harness, message: list[str], method: str, args: tuple[Any]) -> None:
    assert _args(getattr(h.feed(message), method)) == args


# --- market data ---------------------------------------------------------------------


def test_tick_price_carries_its_size(h: Harness) -> None:
    bid = enc.tick_price(3, 1, Decimal("189.10"), Decimal("300"), attrib_mask=4)
    assert _args(h.feed(bid).priceSizeTick) == (3, 1, 189.1, 300.0)
    close = enc.tick_price(3, 9, Decimal("188.5"), None)
    assert _args(h.feed(close).priceSizeTick) == (3, 9, 188.5, 0.0)


def test_historical_data(h: Harness) -> None:
    bars = [
        _bar("20261123", "188", "190.5", "187.25", "190", "1000000", "189.1234", count=5400),
        _bar("20261124", "190", "191", "189", "190.75", "2500.5", "190.2", count=12),
    ]
    start, end = "20261123 00:00:00 UTC", "20261125 00:00:00 UTC"
    wrapper = h.feed(enc.historical_data(4, bars, start, end, h.version))
    assert [c.args for c in wrapper.historicalData.call_args_list] == [
        (4, BarData("20261123", 188.0, 190.5, 187.25, 190.0, 1000000.0, 189.1234, 5400)),
        (4, BarData("20261124", 190.0, 191.0, 189.0, 190.75, 2500.5, 190.2, 12)),
    ]
    assert _args(wrapper.historicalDataEnd) == (4, start, end)
    empty = h.feed(enc.historical_data(5, [], "", "", h.version))
    assert _args(empty.historicalDataEnd) == (5, "", "")
    empty.historicalData.assert_not_called()


# --- through ib_async's real Wrapper: the requests its IB methods await complete -------


@pytest.fixture
def real(version: int) -> Iterator[IB]:
    ib = IB()
    ib.client.decoder.serverVersion = version
    yield ib
    ib.wrapper.reset()


async def test_real_wrapper_completes_requests(h: Harness, real: IB) -> None:
    decoder, w = real.client.decoder, real.wrapper
    details = w.startReq(7)
    h.feed(enc.contract_details(7, AAPL, h.version), decoder)
    h.feed(enc.contract_details_end(7), decoder)
    (cd,) = await details
    assert (cd.contract.conId, cd.minTick) == (265598, 0.01)

    bars = w.startReq(4, Contract(conId=265598))
    bar = _bar("1795000000", "1", "1", "1", "1", "1", "1", count=1)
    h.feed(enc.historical_data(4, [bar], "a", "b", h.version), decoder)
    assert [b.date for b in await bars] == [datetime.fromtimestamp(1795000000, UTC)]

    positions = w.startReq("positions")
    h.feed(enc.position(POSITION), decoder)
    h.feed(enc.position_end(), decoder)
    assert [(p.account, p.position) for p in await positions] == [("DU123", 40.0)]

    completed = w.startReq("completedOrders")
    h.feed(enc.completed_order(_order(status="Cancelled"), h.version), decoder)
    h.feed(enc.completed_orders_end(), decoder)
    assert [t.orderStatus.status for t in await completed] == ["Cancelled"]
    assert not _ib_errors(h.caplog)


async def test_real_wrapper_follows_an_order_to_its_fill(h: Harness, real: IB) -> None:
    decoder = real.client.decoder
    order = _order(status="Submitted", filled=Decimal(0), commission=None)
    h.feed(enc.open_order(order, h.version), decoder)
    (trade,) = real.trades()
    _check(trade.order, orderRef="strat-1", permId=987654321, lmtPrice=189.25)
    filled = replace(order, status="Filled", filled=Decimal(100), avg_fill_price=Decimal("189.2"))
    h.feed(enc.order_status(filled), decoder)
    h.feed(enc.exec_details(-1, _execution(shares=Decimal(100)), h.version), decoder)
    h.feed(enc.commission_report(IbCommission("0000e0d5.65600d1c.01.01", Decimal("1"))), decoder)
    _check(trade.orderStatus, status="Filled", filled=100.0, remaining=0.0, avgFillPrice=189.2)
    (fill,) = trade.fills
    _check(fill.execution, shares=100.0, orderRef="strat-1")
    _check(fill.commissionReport, commission=1.0, realizedPNL=0.0)
    assert trade.isDone()
    assert not _ib_errors(h.caplog)
