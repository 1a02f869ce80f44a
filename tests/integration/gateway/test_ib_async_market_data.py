"""Unmodified ib_async, written for IB Gateway, asking gateway-sim for market and reference
data: symbol search, market rules, history (bars, ticks, schedules, head timestamps),
streams (keepUpToDate bars, real-time bars, tick-by-tick, depth, P&L), market data types,
generic ticks, the account summary, and the requests IB answers without the service."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from ib_async import (
    IB,
    BarData,
    HistoricalTick,
    HistoricalTickBidAsk,
    HistoricalTickLast,
    MarketOrder,
    Option,
    PriceIncrement,
    RealTimeBar,
    ScannerSubscription,
    Stock,
    TickByTickAllLast,
    TickByTickBidAsk,
    TickByTickMidPoint,
    Ticker,
)

from stocks_api.broker.gateway.server import GatewaySim
from stocks_api.core.calendar import SessionCalendar, build_calendar
from tests.conftest import eventually, make_settings
from tests.factories import set_market
from tests.integration.gateway.support import client, gateway_on, record_errors

NEW_YORK = ZoneInfo("America/New_York")
HISTORICAL_DATA_ERROR = 162  # IB: "Historical Market Data Service error message"
NOT_SUBSCRIBED = 354  # IB: "Requested market data is not subscribed"
# A Wednesday afternoon in New York (14:00 EST), an ordinary NYSE trading day.
WEDNESDAY_AFTERNOON = datetime(2026, 11, 18, 14, 0, tzinfo=NEW_YORK)


def nyse() -> SessionCalendar:
    return build_calendar(
        zone="America/New_York",
        open_at="09:30",
        close_at="16:00",
        weekdays="mon-fri",
        exchange="nyse",
    )


@pytest.fixture
async def ib(gateway: GatewaySim) -> AsyncIterator[IB]:
    async with client(gateway) as connected:
        yield connected


@pytest.fixture
async def nyse_gateway() -> AsyncIterator[GatewaySim]:
    """A gateway on NYSE's calendar whose clock stands on a weekday afternoon."""
    now = WEDNESDAY_AFTERNOON.astimezone(UTC)
    async with gateway_on(None, calendar=nyse(), clock=lambda: now) as gateway:
        yield gateway


async def qualified(ib: IB, symbol: str = "AAPL") -> Stock:
    [contract] = await ib.qualifyContractsAsync(Stock(symbol, "SMART", "USD"))
    assert isinstance(contract, Stock)
    return contract


async def buy_filled(ib: IB, contract: Stock, qty: int) -> None:
    trade = ib.placeOrder(contract, MarketOrder("BUY", qty))
    await eventually(trade.isDone)
    assert trade.orderStatus.status == "Filled"


def collect_tick_by_ticks(ticker: Ticker) -> list[Any]:
    """Every tick-by-tick tick the ticker gets (ib_async clears `tickByTicks` per read)."""
    seen: list[Any] = []
    ticker.updateEvent += lambda t: seen.extend(t.tickByTicks)
    return seen


def new_york(bar: BarData) -> datetime:
    """When an intraday bar starts, New York time."""
    assert isinstance(bar.date, datetime)
    return bar.date.astimezone(NEW_YORK)


def time_of(bar: BarData) -> tuple[int, int]:
    local = new_york(bar)
    return local.hour, local.minute


# -- reference data ----------------------------------------------------------------------


async def test_matching_symbols_find_prefix_matches_and_nothing_for_empty_or_unknown(
    ib: IB,
) -> None:
    found = await ib.reqMatchingSymbolsAsync("AA")
    assert found is not None
    contracts = [d.contract for d in found if d.contract is not None]
    assert [(c.symbol, c.secType, c.currency) for c in contracts] == [("AAPL", "STK", "USD")]
    assert contracts[0].conId > 0
    assert await ib.reqMatchingSymbolsAsync("") == []
    assert await ib.reqMatchingSymbolsAsync("ZZQX") == []


async def test_market_rule_26_is_sub_penny_below_a_dollar_and_contract_details_name_it(
    ib: IB,
) -> None:
    assert await ib.reqMarketRuleAsync(26) == [
        PriceIncrement(0, 0.0001),
        PriceIncrement(1, 0.01),
    ]
    [details] = await ib.reqContractDetailsAsync(Stock("AAPL", "SMART", "USD"))
    assert details.marketRuleIds == "26,26"


# -- history -----------------------------------------------------------------------------


async def test_head_timestamp_is_in_the_past_and_no_later_than_the_oldest_bar(ib: IB) -> None:
    aapl = await qualified(ib)
    head = await ib.reqHeadTimeStampAsync(aapl, "TRADES", True, 1)
    assert isinstance(head, datetime)
    head = head if head.tzinfo else head.replace(tzinfo=UTC)
    assert head < datetime.now(UTC)
    # gateway-sim keeps three days of minutes: ask for all of them, and for a year of days.
    for duration, bar_size in (("3 D", "1 min"), ("1 Y", "1 day")):
        bars = await ib.reqHistoricalDataAsync(aapl, "", duration, bar_size, "TRADES", False)
        assert bars, bar_size
        first = bars[0].date
        if isinstance(first, datetime):
            assert head <= first, bar_size
        else:
            assert head.date() <= first, bar_size


async def test_rth_bars_are_inside_nyse_regular_hours_and_extended_bars_are_not(
    nyse_gateway: GatewaySim,
) -> None:
    async with client(nyse_gateway) as ib:
        aapl = await qualified(ib)
        regular = await ib.reqHistoricalDataAsync(aapl, "", "1 D", "5 mins", "TRADES", True)
        extended = await ib.reqHistoricalDataAsync(aapl, "", "1 D", "5 mins", "TRADES", False)
    assert regular
    assert all(new_york(b).weekday() < 5 for b in regular)
    assert all((9, 30) <= time_of(b) < (16, 0) for b in regular)
    # Today's session is there from its opening bar.
    assert WEDNESDAY_AFTERNOON.replace(hour=9, minute=30) in {new_york(b) for b in regular}
    outside = [b for b in extended if not (9, 30) <= time_of(b) < (16, 0)]
    assert outside, "useRTH=False shows the pre-market and after-hours bars"
    assert all((4, 0) <= time_of(b) < (20, 0) for b in extended)


async def test_rth_hourly_bars_begin_each_session_with_a_bar_at_the_open(
    nyse_gateway: GatewaySim,
) -> None:
    async with client(nyse_gateway) as ib:
        aapl = await qualified(ib)
        hourly = await ib.reqHistoricalDataAsync(aapl, "", "1 D", "1 hour", "TRADES", True)
    today = [b for b in hourly if new_york(b).date() == WEDNESDAY_AFTERNOON.date()]
    # IB's first regular-hours bar of a session is labelled 09:30 and holds 09:30-10:00 (the
    # half hour is not dropped); the later bars start on the hour.
    assert today, "today's session has bars"
    assert [time_of(b) for b in today[:3]] == [(9, 30), (10, 0), (11, 0)]


async def test_bid_bars_get_error_162_and_midpoint_bars_are_served(ib: IB) -> None:
    aapl = await qualified(ib)
    errors = record_errors(ib)
    bid = await ib.reqHistoricalDataAsync(aapl, "", "1 D", "1 hour", "BID", False, timeout=5)
    assert list(bid) == []
    assert [code for req_id, code, _ in errors if req_id == bid.reqId] == [HISTORICAL_DATA_ERROR]
    midpoint = await ib.reqHistoricalDataAsync(aapl, "", "1 D", "1 hour", "MIDPOINT", False)
    assert midpoint
    assert all(b.low <= b.close <= b.high for b in midpoint)
    assert not [e for e in errors if e[0] == midpoint.reqId]


async def test_historical_schedule_has_only_nyse_trading_days(nyse_gateway: GatewaySim) -> None:
    calendar = nyse()
    # The Monday after Thanksgiving: the window reaches back over the weekend, the early
    # close of Friday 27th and the holiday of Thursday 26th.
    end = datetime(2026, 11, 30, 16, 0, tzinfo=NEW_YORK)
    async with client(nyse_gateway) as ib:
        aapl = await qualified(ib)
        schedule = await asyncio.wait_for(ib.reqHistoricalScheduleAsync(aapl, 5, end), 5)
    assert schedule.timeZone == "America/New_York"
    days = [datetime.strptime(s.refDate, "%Y%m%d").date() for s in schedule.sessions]
    assert days == sorted(days)
    assert {date(2026, 11, 27), date(2026, 11, 30)} <= set(days)
    assert all(day.weekday() < 5 and calendar.is_trading_day(day) for day in days)
    by_day = {s.refDate: s for s in schedule.sessions}
    assert by_day["20261130"].startDateTime.endswith("09:30:00")
    assert by_day["20261130"].endDateTime.endswith("16:00:00")
    assert by_day["20261127"].endDateTime.endswith("13:00:00")  # the early close


async def test_bars_kept_up_to_date_follow_the_market(gateway: GatewaySim, ib: IB) -> None:
    aapl = await qualified(ib)
    set_market(gateway.broker.engine, "189.99", "190.00", size=5000, last="190.00")
    bars = await ib.reqHistoricalDataAsync(
        aapl, "", "1800 S", "1 min", "TRADES", False, keepUpToDate=True
    )
    assert bars
    updates: list[tuple[bool, float]] = []
    bars.updateEvent += lambda b, has_new_bar: updates.append((has_new_bar, b[-1].close))
    set_market(gateway.broker.engine, "194.99", "195.00", size=5000, last="195.00")
    # The newest bar (updated, or a new minute's) closes where the market went.
    moved = pytest.approx(195.0, abs=0.05)
    await eventually(lambda: any(close == moved for _, close in updates), what="an update")
    assert bars[-1].close == moved
    ib.cancelHistoricalData(bars)


async def test_bars_kept_up_to_date_with_an_end_time_get_error_162(ib: IB) -> None:
    aapl = await qualified(ib)
    errors = record_errors(ib)
    end = datetime.now(UTC) - timedelta(hours=1)
    bars = await ib.reqHistoricalDataAsync(
        aapl, end, "1800 S", "1 min", "TRADES", False, keepUpToDate=True, timeout=5
    )
    assert list(bars) == []
    assert [code for req_id, code, _ in errors if req_id == bars.reqId] == [HISTORICAL_DATA_ERROR]


@pytest.mark.parametrize(
    ("what", "kind"),
    [
        ("TRADES", HistoricalTickLast),
        ("BID_ASK", HistoricalTickBidAsk),
        ("MIDPOINT", HistoricalTick),
    ],
)
async def test_historical_ticks_from_a_start_time_are_the_oldest_first(
    ib: IB, what: str, kind: type
) -> None:
    aapl = await qualified(ib)
    start = (datetime.now(UTC) - timedelta(minutes=10)).replace(microsecond=0)
    ticks = await asyncio.wait_for(
        ib.reqHistoricalTicksAsync(aapl, start, "", 50, what, useRth=False), 5
    )
    assert len(ticks) == 50
    assert all(isinstance(t, kind) for t in ticks)
    times = [t.time for t in ticks]
    assert times == sorted(times)
    assert len(set(times)) == 50
    assert start <= times[0] < start + timedelta(seconds=5)
    if what == "BID_ASK":
        assert all(0 < t.priceBid < t.priceAsk for t in ticks)
    else:
        assert all(t.price > 0 for t in ticks)


# -- streams -----------------------------------------------------------------------------


async def test_real_time_bars_arrive_every_five_seconds(ib: IB) -> None:
    aapl = await qualified(ib)
    bars = ib.reqRealTimeBars(aapl, 5, "TRADES", False)
    await eventually(lambda: len(bars) >= 1, seconds=11, what="a real-time bar")
    [bar, *_] = bars
    assert isinstance(bar, RealTimeBar)
    assert bar.time.timestamp() % 5 == 0
    assert bar.low <= bar.open_ <= bar.high
    assert bar.low <= bar.close <= bar.high
    ib.cancelRealTimeBars(bars)


async def test_real_time_bars_of_ten_seconds_get_an_error(ib: IB) -> None:
    aapl = await qualified(ib)
    errors = record_errors(ib)
    bars = ib.reqRealTimeBars(aapl, 10, "TRADES", False)
    await eventually(lambda: any(req_id == bars.reqId for req_id, _, _ in errors))
    assert list(bars) == []


@pytest.mark.parametrize(
    ("tick_type", "kind"),
    [
        ("BidAsk", TickByTickBidAsk),
        ("Last", TickByTickAllLast),
        ("MidPoint", TickByTickMidPoint),
    ],
)
async def test_tick_by_tick_data_follows_the_market(
    gateway: GatewaySim, ib: IB, tick_type: str, kind: type
) -> None:
    aapl = await qualified(ib)
    engine = gateway.broker.engine
    set_market(engine, "189.99", "190.01", size=5000, last="190.00")
    ticker = ib.reqTickByTickData(aapl, tick_type)
    seen = collect_tick_by_ticks(ticker)
    await ib.reqCurrentTimeAsync()  # the subscription is in
    await asyncio.sleep(0.3)
    set_market(engine, "191.99", "192.03", size=5000, last="192.02")

    def arrived() -> bool:
        if tick_type == "BidAsk":
            return any((t.bidPrice, t.askPrice) == (191.99, 192.03) for t in seen)
        if tick_type == "Last":
            return any(t.price == 192.02 for t in seen)
        return any(t.midPoint == pytest.approx(192.01) for t in seen)

    await eventually(arrived, what=f"a {tick_type} tick")
    assert seen
    assert all(isinstance(t, kind) for t in seen)
    ib.cancelTickByTickData(aapl, tick_type)


async def test_market_depth_has_five_levels_each_side_that_follow_the_quote(
    gateway: GatewaySim, ib: IB
) -> None:
    aapl = await qualified(ib)
    engine = gateway.broker.engine
    set_market(engine, "189.99", "190.01", size=500, last="190.00")
    ticker = ib.reqMktDepth(aapl, 5)

    def book_at(bid: float, ask: float) -> bool:
        bids, asks = ticker.domBids, ticker.domAsks
        return len(bids) == 5 and len(asks) == 5 and bids[0].price == bid and asks[0].price == ask

    await eventually(lambda: book_at(189.99, 190.01), what="the book")
    check_book(ticker)
    set_market(engine, "150.00", "150.02", size=700, last="150.01")
    await eventually(lambda: book_at(150.0, 150.02), what="the new book")
    check_book(ticker)
    assert ticker.domBids[0].size == ticker.domAsks[0].size == 700
    ib.cancelMktDepth(aapl)


def check_book(ticker: Ticker) -> None:
    bids = [level.price for level in ticker.domBids]
    asks = [level.price for level in ticker.domAsks]
    assert bids == sorted(bids, reverse=True)
    assert asks == sorted(asks)
    assert len(set(bids)) == len(set(asks)) == 5
    assert bids[0] < asks[0]
    assert all(level.size > 0 for level in ticker.domBids + ticker.domAsks)


async def test_a_live_gateway_sends_live_data_to_a_client_asking_for_delayed(
    gateway: GatewaySim, ib: IB
) -> None:
    aapl = await qualified(ib)
    set_market(gateway.broker.engine, "150.00", "150.02", size=700, last="150.01")
    ib.reqMarketDataType(3)
    ticker = ib.reqMktData(aapl)
    await eventually(lambda: ticker.bid == 150.0, what="the quote")
    assert ticker.marketDataType == 1
    ib.cancelMktData(aapl)


async def test_a_gateway_without_live_data_refuses_live_and_sends_delayed_ticks() -> None:
    gateway = GatewaySim(
        make_settings("sqlite+aiosqlite://").sim,
        port=0,
        calendar=SessionCalendar.always_open(),
        tick=False,
        delayed_data=True,
    )
    await gateway.start()
    try:
        set_market(gateway.broker.engine, "150.00", "150.02", size=700, last="150.01")
        async with client(gateway) as ib:
            errors = record_errors(ib)
            msft = await qualified(ib, "MSFT")
            ib.reqMktData(msft)
            await eventually(lambda: any(code == NOT_SUBSCRIBED for _, code, _ in errors))

            ib.reqMarketDataType(3)
            aapl = await qualified(ib)
            ticker = ib.reqMktData(aapl)
            await eventually(
                lambda: (ticker.bid, ticker.ask, ticker.last) == (150.0, 150.02, 150.01),
                what="delayed prices",
            )
            assert ticker.marketDataType == 3
            assert [code for _, code, _ in errors].count(NOT_SUBSCRIBED) == 1
    finally:
        await gateway.close()


async def test_generic_ticks_233_and_236_give_rt_volume_and_shortable(
    gateway: GatewaySim, ib: IB
) -> None:
    aapl = await qualified(ib)
    set_market(gateway.broker.engine, "150.00", "150.02", size=700, last="150.01")
    ticker = ib.reqMktData(aapl, "233,236")
    await eventually(lambda: ticker.rtTime is not None and ticker.shortable == ticker.shortable)
    volume = gateway.broker.engine.quote("AAPL").volume
    assert ticker.rtVolume == float(volume)
    assert ticker.last == 150.01
    assert ticker.shortable > 2.5  # IB: more than 1000 shares available to borrow
    ib.cancelMktData(aapl)


async def test_pnl_follows_a_position_and_its_price(gateway: GatewaySim, ib: IB) -> None:
    aapl = await qualified(ib)
    engine = gateway.broker.engine
    set_market(engine, "189.99", "190.00", size=5000, last="190.00")
    pnl = ib.reqPnL(gateway.account)
    await eventually(lambda: pnl.dailyPnL == pnl.dailyPnL, what="the P&L")
    assert isinstance(pnl.dailyPnL, float)
    assert isinstance(pnl.unrealizedPnL, float)

    await buy_filled(ib, aapl, 10)
    # The position is in: unrealized is its value less its cost (the commission included).
    await eventually(lambda: pnl.unrealizedPnL == pytest.approx(-1.0), what="the position")
    before = pnl.unrealizedPnL
    set_market(engine, "190.99", "191.00", size=5000, last="191.00")
    await eventually(lambda: pnl.unrealizedPnL == pytest.approx(before + 10), what="+$10")

    single = ib.reqPnLSingle(gateway.account, "", aapl.conId)
    await eventually(lambda: single.position == 10, what="the single P&L")
    assert single.value == pytest.approx(10 * 191.0)
    assert single.unrealizedPnL == pytest.approx(9.0)
    ib.cancelPnL(gateway.account)
    ib.cancelPnLSingle(gateway.account, "", aapl.conId)


async def test_account_summary_margins_and_cushion_are_consistent(
    gateway: GatewaySim, ib: IB
) -> None:
    aapl = await qualified(ib)
    set_market(gateway.broker.engine, "189.99", "190.00", size=5000, last="190.00")
    await buy_filled(ib, aapl, 10)
    await asyncio.wait_for(ib.reqAccountSummaryAsync(), 5)
    values = {v.tag: v.value for v in await ib.accountSummaryAsync(gateway.account)}
    tags = (
        "NetLiquidation",
        "AvailableFunds",
        "ExcessLiquidity",
        "InitMarginReq",
        "MaintMarginReq",
        "Cushion",
        "GrossPositionValue",
    )
    assert set(tags) <= set(values)
    n = {tag: Decimal(values[tag]) for tag in tags}
    assert n["GrossPositionValue"] == Decimal("1900.00")
    assert n["InitMarginReq"] == n["GrossPositionValue"] / 2  # Reg T: 50% initial
    assert 0 < n["MaintMarginReq"] <= n["InitMarginReq"]
    assert n["AvailableFunds"] == n["NetLiquidation"] - n["InitMarginReq"]
    assert n["ExcessLiquidity"] == n["NetLiquidation"] - n["MaintMarginReq"]
    assert float(n["Cushion"]) == pytest.approx(
        float(n["ExcessLiquidity"] / n["NetLiquidation"]), abs=1e-6
    )


# -- requests IB answers without the service ---------------------------------------------

AAPL_OPTION = Option("AAPL", "20261218", 200, "C", "SMART", currency="USD")
Call = Callable[[IB, Stock], Awaitable[Any]]
UNSERVED: dict[str, Call] = {
    "reqFundamentalData": lambda ib, c: ib.reqFundamentalDataAsync(c, "ReportsFinSummary"),
    "calculateImpliedVolatility": lambda ib, c: ib.calculateImpliedVolatilityAsync(
        AAPL_OPTION, 5.0, 190.0
    ),
    "reqNewsArticle": lambda ib, c: ib.reqNewsArticleAsync("BRFG", "BRFG$04fb9da2"),
    "requestFA": lambda ib, c: ib.requestFAAsync(1),
    "getWshMetaData": lambda ib, c: ib.getWshMetaDataAsync(),
    "reqScannerData": lambda ib, c: ib.reqScannerDataAsync(
        ScannerSubscription(instrument="STK", locationCode="STK.US.MAJOR", scanCode="TOP_PERC_GAIN")
    ),
    "reqScannerParameters": lambda ib, c: ib.reqScannerParametersAsync(),
    "reqSecDefOptParams": lambda ib, c: ib.reqSecDefOptParamsAsync("AAPL", "", "STK", c.conId),
    "reqNewsProviders": lambda ib, c: ib.reqNewsProvidersAsync(),
    "reqHistoricalNews": lambda ib, c: ib.reqHistoricalNewsAsync(c.conId, "BRFG", "", "", 10),
    "reqSmartComponents": lambda ib, c: ib.reqSmartComponentsAsync(  # type: ignore[no-untyped-call]
        "9c0001"
    ),
    "reqMktDepthExchanges": lambda ib, c: ib.reqMktDepthExchangesAsync(),
    "reqHistogramData": lambda ib, c: ib.reqHistogramDataAsync(c, False, "1 day"),
    "reqUserInfo": lambda ib, c: ib.reqUserInfoAsync(),  # type: ignore[no-untyped-call]
}


@pytest.mark.parametrize("method", list(UNSERVED))
async def test_a_request_without_a_service_completes_promptly(ib: IB, method: str) -> None:
    aapl = await qualified(ib)
    started = time.perf_counter()
    await asyncio.wait_for(UNSERVED[method](ib, aapl), 5)
    # ib_async gives up on some of these after 4 s by itself: an answer comes well before.
    assert time.perf_counter() - started < 2.0
