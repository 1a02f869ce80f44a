"""The pre-trade checks, each at, just under and just over its limit, in exact decimals.

Every test switches on only the limit under test (the others are `None` or empty), so a
failure list names exactly the check that refused the order.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal as D
from typing import Any

import pytest

from stocks_api.broker.protocol import Side
from stocks_api.risk.checks import (
    Check,
    Exposure,
    Failure,
    ProposedOrder,
    RiskContext,
    evaluate,
    is_reducing,
    loss_breached,
)
from stocks_api.risk.schemas import RiskLimits, TradingState

ALL_OFF: dict[str, Any] = {
    "allowed_symbols": (),
    "denied_symbols": (),
    "max_order_qty": None,
    "max_order_value": None,
    "max_position_value": None,
    "max_gross_exposure": None,
    "max_leverage": None,
    "daily_loss_limit": None,
    "max_orders_per_second": None,
    "max_orders_per_minute": None,
    "price_band_percent": None,
    "max_consecutive_rejections": None,
}


def only(**limits: Any) -> RiskLimits:
    """Limits with every check off except those given."""
    return RiskLimits(**(ALL_OFF | limits))


def order(
    side: Side = Side.BUY,
    qty: str | int = 10,
    price: str | int | None = 100,
    *,
    symbol: str = "AAPL",
    open_qty: str | int | None = None,
    prices: tuple[str | int, ...] = (),
    messages: int = 1,
    flatten: bool = False,
) -> ProposedOrder:
    return ProposedOrder(
        symbol=symbol,
        side=side,
        qty=D(qty),
        open_qty=D(qty if open_qty is None else open_qty),
        value_price=None if price is None else D(price),
        prices=tuple(D(p) for p in prices),
        messages=messages,
        flatten=flatten,
    )


def holding(
    qty: str | int = 0,
    mark: str | int | None = 100,
    *,
    open_buy: str | int = 0,
    open_sell: str | int = 0,
) -> Exposure:
    return Exposure(
        qty=D(qty),
        open_buy=D(open_buy),
        open_sell=D(open_sell),
        mark=None if mark is None else D(mark),
    )


def context(
    state: TradingState = TradingState.ACTIVE,
    holdings: Mapping[str, Exposure] | None = None,
    *,
    net_liquidation: str | int | None = None,
    daily_pnl: str | int | None = None,
    orders_last_second: int = 0,
    orders_last_minute: int = 0,
) -> RiskContext:
    return RiskContext(
        state=state,
        holdings=dict(holdings or {}),
        net_liquidation=None if net_liquidation is None else D(net_liquidation),
        daily_pnl=None if daily_pnl is None else D(daily_pnl),
        orders_last_second=orders_last_second,
        orders_last_minute=orders_last_minute,
    )


def names(failures: list[Failure]) -> list[str]:
    return [failure.check.value for failure in failures]


LONG_100 = {"AAPL": holding(100)}


# -- trading state ----------------------------------------------------------------------


def test_active_admits_an_opening_order() -> None:
    assert evaluate(order(Side.BUY, 10), context(TradingState.ACTIVE), only()) == []


@pytest.mark.parametrize(
    ("proposed", "holdings"),
    [
        (order(Side.BUY, 10), {}),  # opening
        (order(Side.BUY, 10), LONG_100),  # growing
        (order(Side.SELL, 50), LONG_100),  # reducing: still refused
        (order(Side.SELL, 100), LONG_100),  # closing: still refused
    ],
)
def test_halted_refuses_everything_even_reducing_orders(
    proposed: ProposedOrder, holdings: dict[str, Exposure]
) -> None:
    failures = evaluate(proposed, context(TradingState.HALTED, holdings), only())
    assert names(failures) == ["trading_state"]
    assert failures[0].value == "halted"


@pytest.mark.parametrize(
    ("proposed", "holdings"),
    [
        (order(Side.SELL, 50), LONG_100),
        (order(Side.SELL, 100), LONG_100),  # down to flat
        (order(Side.BUY, 100), {"AAPL": holding(-100)}),  # covering a short
    ],
)
def test_reducing_admits_orders_that_shrink_a_position(
    proposed: ProposedOrder, holdings: dict[str, Exposure]
) -> None:
    assert evaluate(proposed, context(TradingState.REDUCING, holdings), only()) == []


@pytest.mark.parametrize(
    ("proposed", "holdings"),
    [
        (order(Side.BUY, 10), {}),  # opening
        (order(Side.BUY, 1), LONG_100),  # growing a long
        (order(Side.SELL, 1), {"AAPL": holding(-100)}),  # growing a short
        (order(Side.SELL, 101), LONG_100),  # flipping to short
        (order(Side.SELL, 50), {"AAPL": holding(100, open_sell=60)}),  # with open sells, flips
    ],
)
def test_reducing_refuses_orders_that_open_grow_or_flip(
    proposed: ProposedOrder, holdings: dict[str, Exposure]
) -> None:
    failures = evaluate(proposed, context(TradingState.REDUCING, holdings), only())
    assert names(failures) == ["trading_state"]
    assert failures[0].value == "reducing"


@pytest.mark.parametrize("state", [TradingState.HALTED, TradingState.REDUCING])
def test_a_flatten_order_passes_a_halt_when_it_reduces(state: TradingState) -> None:
    proposed = order(Side.SELL, 100, flatten=True)
    assert evaluate(proposed, context(state, LONG_100), only()) == []


@pytest.mark.parametrize(
    ("proposed", "holdings"),
    [
        (order(Side.SELL, 10, flatten=True), {}),  # nothing to flatten
        (order(Side.BUY, 10, flatten=True), LONG_100),  # grows
        (order(Side.SELL, 101, flatten=True), LONG_100),  # flips
    ],
)
def test_a_flatten_order_that_does_not_reduce_is_refused_by_a_halt(
    proposed: ProposedOrder, holdings: dict[str, Exposure]
) -> None:
    failures = evaluate(proposed, context(TradingState.HALTED, holdings), only())
    assert names(failures) == ["trading_state"]


def test_a_flatten_order_is_not_held_by_symbol_lists_size_pace_or_band() -> None:
    limits = only(
        allowed_symbols="MSFT",
        denied_symbols="AAPL",
        max_order_qty=D(1),
        max_order_value=D(1),
        max_orders_per_second=1,
        max_orders_per_minute=1,
        price_band_percent=D(1),
    )
    proposed = order(Side.SELL, 100, prices=(500,), flatten=True)
    book = context(TradingState.HALTED, LONG_100, orders_last_second=1, orders_last_minute=1)
    assert evaluate(proposed, book, limits) == []


# -- symbol lists -----------------------------------------------------------------------


@pytest.mark.parametrize(("symbol", "passes"), [("AAPL", True), ("MSFT", True), ("TSLA", False)])
def test_allow_list(symbol: str, passes: bool) -> None:
    failures = evaluate(order(symbol=symbol), context(), only(allowed_symbols="AAPL,MSFT"))
    assert names(failures) == ([] if passes else ["symbol_allow_list"])


def test_an_empty_allow_list_allows_every_symbol() -> None:
    assert evaluate(order(symbol="ZZZZ"), context(), only(allowed_symbols="")) == []


@pytest.mark.parametrize(("symbol", "passes"), [("AAPL", True), ("GME", False), ("AMC", False)])
def test_deny_list(symbol: str, passes: bool) -> None:
    failures = evaluate(order(symbol=symbol), context(), only(denied_symbols="GME,AMC"))
    assert names(failures) == ([] if passes else ["symbol_deny_list"])
    if not passes:
        assert failures[0].value == symbol


def test_the_deny_list_wins_over_the_allow_list() -> None:
    limits = only(allowed_symbols="GME,AAPL", denied_symbols="GME")
    assert names(evaluate(order(symbol="GME"), context(), limits)) == ["symbol_deny_list"]
    assert evaluate(order(symbol="AAPL"), context(), limits) == []


# -- order size -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("qty", "passes"),
    [("99", True), ("99.9999", True), ("100", True), ("100.0001", False), ("101", False)],
)
def test_max_order_qty(qty: str, passes: bool) -> None:
    failures = evaluate(order(qty=qty), context(), only(max_order_qty=D(100)))
    assert names(failures) == ([] if passes else ["max_order_qty"])
    if not passes:
        assert (failures[0].limit, failures[0].value) == ("100", qty)


def test_max_order_qty_measures_the_whole_size_not_the_open_part() -> None:
    # A modification to 150 of an order with 100 filled: 50 left, but the order is 150.
    proposed = order(qty=150, open_qty=50)
    assert names(evaluate(proposed, context(), only(max_order_qty=D(100)))) == ["max_order_qty"]


@pytest.mark.parametrize(
    ("qty", "price", "passes"),
    [
        (100, "99.99", True),  # 9999
        (100, "100", True),  # 10000: at the limit
        (100, "100.01", False),  # 10001
        (99, "101", True),  # 9999
        (101, "100", False),  # 10100
    ],
)
def test_max_order_value(qty: int, price: str, passes: bool) -> None:
    failures = evaluate(order(qty=qty, price=price), context(), only(max_order_value=D(10000)))
    assert names(failures) == ([] if passes else ["max_order_value"])


def test_max_order_value_measures_the_whole_size_not_the_open_part() -> None:
    # A modification to 150 at 100 of an order with 100 filled: the order is worth 15000.
    proposed = order(qty=150, price=100, open_qty=50)
    failures = evaluate(proposed, context(), only(max_order_value=D(10000)))
    assert names(failures) == ["max_order_value"]
    assert failures[0].value == "15000"


def test_a_market_buy_is_valued_at_the_ask_not_the_last_price() -> None:
    # Last 100 (the mark), ask 100.01: 100 shares at the ask is 10001, over 10000.
    proposed = order(Side.BUY, 100, price="100.01")
    failures = evaluate(
        proposed, context(holdings={"AAPL": holding(0, 100)}), only(max_order_value=D(10000))
    )
    assert names(failures) == ["max_order_value"]
    assert (failures[0].limit, failures[0].value) == ("10000", "10001")


def test_an_order_without_a_price_to_value_it_at_fails_closed() -> None:
    failures = evaluate(order(price=None), context(), only(max_order_value=D(10000)))
    assert names(failures) == ["max_order_value"]


# -- position value ---------------------------------------------------------------------


@pytest.mark.parametrize(("qty", "passes"), [(49, True), (50, True), (51, False)])
def test_max_position_value(qty: int, passes: bool) -> None:
    # Long 50 at 100 (5000); buying `qty` more at 100 against a limit of 10000.
    book = context(holdings={"AAPL": holding(50, 100)})
    failures = evaluate(order(Side.BUY, qty, 100), book, only(max_position_value=D(10000)))
    assert names(failures) == ([] if passes else ["max_position_value"])


@pytest.mark.parametrize(("qty", "passes"), [(49, True), (50, True), (51, False)])
def test_max_position_value_of_a_short(qty: int, passes: bool) -> None:
    book = context(holdings={"AAPL": holding(-50, 100)})
    failures = evaluate(order(Side.SELL, qty, 100), book, only(max_position_value=D(10000)))
    assert names(failures) == ([] if passes else ["max_position_value"])


@pytest.mark.parametrize(("qty", "passes"), [(39, True), (40, True), (41, False)])
def test_max_position_value_counts_open_orders_on_the_same_side(qty: int, passes: bool) -> None:
    # Long 50 plus 10 open to buy: 60 if every buy fills.
    book = context(holdings={"AAPL": holding(50, 100, open_buy=10)})
    failures = evaluate(order(Side.BUY, qty, 100), book, only(max_position_value=D(10000)))
    assert names(failures) == ([] if passes else ["max_position_value"])


def test_max_position_value_ignores_open_orders_on_the_other_side() -> None:
    # Open sells only shrink a long: they do not lower the worst case of a buy.
    book = context(holdings={"AAPL": holding(50, 100, open_sell=30)})
    limits = only(max_position_value=D(10000))
    assert evaluate(order(Side.BUY, 50, 100), book, limits) == []
    assert names(evaluate(order(Side.BUY, 51, 100), book, limits)) == ["max_position_value"]


def test_max_position_value_values_the_position_at_the_higher_of_mark_and_order_price() -> None:
    # Long 50 at a mark of 100 + 50 at a limit of 100.02: all 100 valued at 100.02 = 10002.
    book = context(holdings={"AAPL": holding(50, 100)})
    failures = evaluate(order(Side.BUY, 50, "100.02"), book, only(max_position_value=D(10000)))
    assert names(failures) == ["max_position_value"]
    assert failures[0].value == "10002"
    # A limit below the market is valued at the market: 100 x 100 = 10000, at the limit.
    assert evaluate(order(Side.BUY, 50, "99"), book, only(max_position_value=D(10000))) == []


@pytest.mark.parametrize(
    "proposed",
    [
        order(Side.SELL, 50, 100),  # 20000 -> 15000
        order(Side.SELL, 200, 100),  # to flat
        order(Side.SELL, 350, 100),  # flips to a 15000 short: still less than 20000
    ],
)
def test_an_order_that_lowers_the_position_value_passes_above_the_limit(
    proposed: ProposedOrder,
) -> None:
    book = context(holdings={"AAPL": holding(200, 100)})  # 20000, over the limit
    assert evaluate(proposed, book, only(max_position_value=D(10000))) == []


def test_an_order_that_grows_a_position_already_above_the_limit_fails() -> None:
    book = context(holdings={"AAPL": holding(200, 100)})
    failures = evaluate(order(Side.BUY, 1, 100), book, only(max_position_value=D(10000)))
    assert names(failures) == ["max_position_value"]


def test_a_new_symbol_without_a_mark_is_valued_at_the_order_price() -> None:
    limits = only(max_position_value=D(10000))
    assert evaluate(order(Side.BUY, 100, 100), context(), limits) == []
    assert names(evaluate(order(Side.BUY, 101, 100), context(), limits)) == ["max_position_value"]


def test_an_order_that_closes_a_position_is_never_blocked_by_its_price() -> None:
    book = context(holdings={"AAPL": holding(100, 10)})  # 1000, under the limit
    # A take-profit far above the market: if it fills, the position is flat.
    proposed = order(Side.SELL, 100, 25)
    assert evaluate(proposed, book, only(max_position_value=D(1200))) == []


# -- gross exposure ---------------------------------------------------------------------


@pytest.mark.parametrize(("qty", "passes"), [(69, True), (70, True), (71, False)])
def test_max_gross_exposure_counts_the_other_symbols(qty: int, passes: bool) -> None:
    # MSFT short 30 at 100 (3000) + AAPL buy `qty` at 100, against 10000.
    book = context(holdings={"MSFT": holding(-30, 100)})
    failures = evaluate(order(Side.BUY, qty, 100), book, only(max_gross_exposure=D(10000)))
    assert names(failures) == ([] if passes else ["max_gross_exposure"])
    if not passes:
        assert failures[0].value == "10100"


@pytest.mark.parametrize(
    "other",
    [
        holding(20, 100, open_buy=10),  # long 20 that could become 30
        holding(-20, 100, open_sell=10),  # short 20 that could become 30
        holding(0, 100, open_buy=30),  # no position yet, 30 open to buy
        holding(10, 100, open_buy=5, open_sell=40),  # worst is the sell side: short 30
    ],
)
def test_max_gross_exposure_counts_other_symbols_at_their_worst_case(other: Exposure) -> None:
    assert other.gross() == D(3000)
    book = context(holdings={"MSFT": other})
    limits = only(max_gross_exposure=D(10000))
    assert evaluate(order(Side.BUY, 70, 100), book, limits) == []
    assert names(evaluate(order(Side.BUY, 71, 100), book, limits)) == ["max_gross_exposure"]


def test_max_gross_exposure_passes_an_order_that_lowers_it() -> None:
    book = context(holdings={"MSFT": holding(300, 100), "AAPL": holding(100, 100)})  # 40000
    failures = evaluate(order(Side.SELL, 50, 100), book, only(max_gross_exposure=D(10000)))
    assert failures == []


def test_max_gross_exposure_refuses_an_order_that_grows_it_above_the_limit() -> None:
    book = context(holdings={"MSFT": holding(300, 100)})
    failures = evaluate(order(Side.BUY, 1, 100), book, only(max_gross_exposure=D(10000)))
    assert names(failures) == ["max_gross_exposure"]


def test_an_unpriced_other_symbol_fails_the_gross_exposure_check_closed() -> None:
    book = context(holdings={"MSFT": holding(10, None)})
    failures = evaluate(order(Side.BUY, 1, 100), book, only(max_gross_exposure=D(10000)))
    assert names(failures) == ["max_gross_exposure"]
    assert "MSFT" in failures[0].message


def test_an_unpriced_other_symbol_without_a_position_or_orders_counts_zero() -> None:
    book = context(holdings={"MSFT": holding(0, None)})
    assert evaluate(order(Side.BUY, 1, 100), book, only(max_gross_exposure=D(10000))) == []


@pytest.mark.parametrize("state", [TradingState.ACTIVE, TradingState.HALTED])
def test_an_unpriced_other_symbol_does_not_block_an_order_that_lowers_exposure(
    state: TradingState,
) -> None:
    book = context(
        state,
        {"AAPL": holding(100, 100), "MSFT": holding(10, None)},
        net_liquidation=100000,
    )
    proposed = order(Side.SELL, 100, 100, flatten=True)
    limits = only(max_gross_exposure=D(1000000), max_leverage=D(2))
    assert evaluate(proposed, book, limits) == []


# -- leverage ---------------------------------------------------------------------------


@pytest.mark.parametrize(("qty", "passes"), [(199, True), (200, True), (201, False)])
def test_max_leverage_is_gross_after_over_net_liquidation(qty: int, passes: bool) -> None:
    # 2 x 10000 net liquidation = 20000 of gross exposure.
    book = context(net_liquidation=10000)
    failures = evaluate(order(Side.BUY, qty, 100), book, only(max_leverage=D(2)))
    assert names(failures) == ([] if passes else ["max_leverage"])
    if not passes:
        assert (failures[0].limit, failures[0].value) == ("2", "2.01")


def test_max_leverage_counts_the_other_symbols() -> None:
    book = context(holdings={"MSFT": holding(100, 100)}, net_liquidation=10000)  # 10000
    limits = only(max_leverage=D("1.5"))
    assert evaluate(order(Side.BUY, 50, 100), book, limits) == []
    assert names(evaluate(order(Side.BUY, 51, 100), book, limits)) == ["max_leverage"]


@pytest.mark.parametrize("net_liquidation", [0, -1, None])
def test_no_positive_net_liquidation_means_no_leverage(net_liquidation: int | None) -> None:
    book = context(net_liquidation=net_liquidation)
    failures = evaluate(order(Side.BUY, 1, 100), book, only(max_leverage=D(50)))
    assert names(failures) == ["max_leverage"]


def test_an_order_that_lowers_exposure_passes_the_leverage_check() -> None:
    book = context(holdings=LONG_100, net_liquidation=-5000)
    assert evaluate(order(Side.SELL, 50, 100), book, only(max_leverage=D(2))) == []


# -- daily loss -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pnl", "breached"),
    [
        (None, False),
        ("500", False),
        ("0", False),
        ("-999.99", False),
        ("-1000", True),  # reaching the limit is a breach
        ("-1000.01", True),
    ],
)
def test_loss_breached(pnl: str | None, breached: bool) -> None:
    limits = only(daily_loss_limit=D(1000))
    assert loss_breached(limits, None if pnl is None else D(pnl)) is breached


def test_loss_breached_is_never_true_without_a_limit() -> None:
    assert loss_breached(only(), D(-(10**9))) is False


@pytest.mark.parametrize(
    ("pnl", "passes"), [("-999", True), ("-999.99", True), ("-1000", False), ("-1000.01", False)]
)
def test_daily_loss_limit(pnl: str, passes: bool) -> None:
    failures = evaluate(order(), context(daily_pnl=pnl), only(daily_loss_limit=D(1000)))
    assert names(failures) == ([] if passes else ["daily_loss_limit"])
    if not passes:
        assert (failures[0].limit, failures[0].value) == ("1000", pnl.lstrip("-"))


@pytest.mark.parametrize("flatten", [False, True])
def test_a_reducing_order_passes_a_breached_daily_loss_limit(flatten: bool) -> None:
    book = context(holdings=LONG_100, daily_pnl=-5000)
    proposed = order(Side.SELL, 100, flatten=flatten)
    assert evaluate(proposed, book, only(daily_loss_limit=D(1000))) == []


def test_a_breached_daily_loss_limit_refuses_a_new_short() -> None:
    book = context(daily_pnl=-5000)
    failures = evaluate(order(Side.SELL, 10), book, only(daily_loss_limit=D(1000)))
    assert names(failures) == ["daily_loss_limit"]


# -- order rate -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("used", "messages", "passes"),
    [
        (8, 1, True),
        (9, 1, True),  # 10: at the limit
        (10, 1, False),  # 11
        (7, 3, True),  # a bracket: 10
        (8, 3, False),  # a bracket: 11
    ],
)
def test_order_rate_per_second(used: int, messages: int, passes: bool) -> None:
    proposed = order(messages=messages)
    failures = evaluate(proposed, context(orders_last_second=used), only(max_orders_per_second=10))
    assert names(failures) == ([] if passes else ["order_rate_per_second"])
    if not passes:
        assert (failures[0].limit, failures[0].value) == ("10", str(used + messages))


@pytest.mark.parametrize(
    ("used", "messages", "passes"),
    [
        (98, 1, True),
        (99, 1, True),  # 100: at the limit
        (100, 1, False),  # 101
        (97, 3, True),  # a bracket: 100
        (98, 3, False),  # a bracket: 101
    ],
)
def test_order_rate_per_minute(used: int, messages: int, passes: bool) -> None:
    proposed = order(messages=messages)
    failures = evaluate(proposed, context(orders_last_minute=used), only(max_orders_per_minute=100))
    assert names(failures) == ([] if passes else ["order_rate_per_minute"])
    if not passes:
        assert (failures[0].limit, failures[0].value) == ("100", str(used + messages))


def test_a_bracket_over_both_rates_fails_both() -> None:
    book = context(orders_last_second=9, orders_last_minute=99)
    limits = only(max_orders_per_second=10, max_orders_per_minute=100)
    failures = evaluate(order(messages=3), book, limits)
    assert names(failures) == ["order_rate_per_second", "order_rate_per_minute"]
    assert "3 broker messages" in failures[0].message


# -- price band -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("price", "passes"),
    [
        ("109.99", True),
        ("110", True),  # exactly 10% above
        ("110.01", False),
        ("90.01", True),
        ("90", True),  # exactly 10% below
        ("89.99", False),
    ],
)
def test_price_band(price: str, passes: bool) -> None:
    book = context(holdings={"AAPL": holding(0, 100)})
    failures = evaluate(order(prices=(price,)), book, only(price_band_percent=D(10)))
    assert names(failures) == ([] if passes else ["price_band"])
    if not passes:
        assert (failures[0].limit, failures[0].value) == ("10", "10.01")


def test_price_band_at_a_fractional_band_and_price() -> None:
    # 2.5% of 40.20 is 1.005: 41.205 is exactly on the band.
    book = context(holdings={"AAPL": holding(0, "40.20")})
    limits = only(price_band_percent=D("2.5"))
    assert evaluate(order(prices=("41.205", "39.195")), book, limits) == []
    assert names(evaluate(order(prices=("41.2051",)), book, limits)) == ["price_band"]


def test_price_band_checks_every_price_of_the_order() -> None:
    # A bracket: entry in the band, take-profit and stop-loss both out of it.
    book = context(holdings={"AAPL": holding(0, 100)})
    proposed = order(prices=("100", "111", "88"), messages=3)
    failures = evaluate(proposed, book, only(price_band_percent=D(10)))
    assert names(failures) == ["price_band", "price_band"]
    assert [failure.value for failure in failures] == ["11", "12"]


@pytest.mark.parametrize("mark", [None, 0])
def test_price_band_without_a_last_price_fails_closed(mark: int | None) -> None:
    book = context(holdings={"AAPL": holding(0, mark)})
    failures = evaluate(order(prices=("100",)), book, only(price_band_percent=D(10)))
    assert names(failures) == ["price_band"]


def test_an_order_without_prices_is_not_subject_to_the_band() -> None:
    # A market order: nothing to compare, even without a last price.
    assert evaluate(order(prices=()), context(), only(price_band_percent=D(10))) == []


# -- all together -----------------------------------------------------------------------


def test_every_failing_check_is_reported_not_only_the_first() -> None:
    limits = only(
        allowed_symbols="AAPL",
        denied_symbols="GME",
        max_order_qty=D(10),
        max_order_value=D(100),
        max_position_value=D(100),
        max_gross_exposure=D(100),
        max_leverage=D(1),
        daily_loss_limit=D(10),
        max_orders_per_second=1,
        max_orders_per_minute=1,
        price_band_percent=D(1),
    )
    book = context(
        TradingState.HALTED,
        {"GME": holding(0, 10)},
        net_liquidation=50,
        daily_pnl=-10,
        orders_last_second=1,
        orders_last_minute=1,
    )
    failures = evaluate(order(Side.BUY, 20, 20, symbol="GME", prices=("20",)), book, limits)
    assert sorted(names(failures)) == sorted(check.value for check in Check)
    assert len(failures) == len(Check)


def test_failures_become_api_details() -> None:
    failures = evaluate(order(qty=101), context(), only(max_order_qty=D(100)))
    assert failures[0].as_detail() == {
        "check": "max_order_qty",
        "message": "quantity 101 is above the limit 100",
        "limit": "100",
        "value": "101",
    }


HUGE = order(Side.BUY, 10**6, 10**4, symbol="GME", prices=("1",), messages=3)
HUGE_BOOK = context(
    holdings={"GME": holding(0, 100), "MSFT": holding(10**6, 100)},
    net_liquidation=1,
    daily_pnl=-(10**9),
    orders_last_second=10**4,
    orders_last_minute=10**6,
)
TIGHT: dict[str, Any] = {
    "allowed_symbols": "AAPL",
    "denied_symbols": "GME",
    "max_order_qty": D(1),
    "max_order_value": D(1),
    "max_position_value": D(1),
    "max_gross_exposure": D(1),
    "max_leverage": D(1),
    "daily_loss_limit": D(1),
    "max_orders_per_second": 1,
    "max_orders_per_minute": 1,
    "price_band_percent": D(1),
}


@pytest.mark.parametrize(
    ("limit", "check", "off"),
    [
        ("allowed_symbols", Check.SYMBOL_ALLOW_LIST, ""),
        ("denied_symbols", Check.SYMBOL_DENY_LIST, ()),
        ("max_order_qty", Check.MAX_ORDER_QTY, None),
        ("max_order_value", Check.MAX_ORDER_VALUE, None),
        ("max_position_value", Check.MAX_POSITION_VALUE, None),
        ("max_gross_exposure", Check.MAX_GROSS_EXPOSURE, None),
        ("max_leverage", Check.MAX_LEVERAGE, None),
        ("daily_loss_limit", Check.DAILY_LOSS_LIMIT, None),
        ("max_orders_per_second", Check.ORDER_RATE_PER_SECOND, None),
        ("max_orders_per_minute", Check.ORDER_RATE_PER_MINUTE, None),
        ("price_band_percent", Check.PRICE_BAND, None),
    ],
)
def test_a_none_or_empty_limit_switches_its_check_off(limit: str, check: Check, off: Any) -> None:
    assert check.value in names(evaluate(HUGE, HUGE_BOOK, only(**TIGHT)))
    remaining = names(evaluate(HUGE, HUGE_BOOK, only(**(TIGHT | {limit: off}))))
    assert check.value not in remaining
    assert len(remaining) == len(TIGHT) - 1


def test_every_check_off_admits_anything_while_active() -> None:
    assert evaluate(HUGE, HUGE_BOOK, only()) == []


# -- is_reducing ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("proposed", "position", "reducing"),
    [
        # a long
        (order(Side.SELL, 50), holding(100), True),
        (order(Side.SELL, 100), holding(100), True),  # to flat
        (order(Side.SELL, 101), holding(100), False),  # flips
        (order(Side.BUY, 1), holding(100), False),  # grows
        # a short
        (order(Side.BUY, 50), holding(-100), True),
        (order(Side.BUY, 100), holding(-100), True),
        (order(Side.BUY, 101), holding(-100), False),
        (order(Side.SELL, 1), holding(-100), False),
        # flat: nothing to reduce
        (order(Side.SELL, 1), holding(0), False),
        (order(Side.BUY, 1), holding(0), False),
        (order(Side.SELL, 1), holding(0, open_buy=100), False),
        # open orders on the same side count
        (order(Side.SELL, 50), holding(100, open_sell=50), True),  # together 100
        (order(Side.SELL, 50), holding(100, open_sell=51), False),  # together 101
        (order(Side.BUY, 40), holding(-100, open_buy=60), True),
        (order(Side.BUY, 41), holding(-100, open_buy=60), False),
        # ... and open orders on the other side do not
        (order(Side.SELL, 100), holding(100, open_buy=500), True),
        (order(Side.BUY, 100), holding(-100, open_sell=500), True),
        # the part still to fill is what moves the position
        (order(Side.SELL, 150, open_qty=100), holding(100), True),
        (order(Side.SELL, 150, open_qty=101), holding(100), False),
    ],
)
def test_is_reducing(proposed: ProposedOrder, position: Exposure, reducing: bool) -> None:
    assert is_reducing(proposed, position) is reducing


def test_an_unmeasurable_daily_pnl_refuses_everything_but_reductions() -> None:
    limits = only(daily_loss_limit=D(1000))
    failures = evaluate(order(Side.BUY, 10), context(holdings=LONG_100, daily_pnl=None), limits)
    assert names(failures) == ["daily_loss_limit"]
    assert "cannot be measured" in failures[0].message
    reducing = order(Side.SELL, 10)
    assert evaluate(reducing, context(holdings=LONG_100, daily_pnl=None), limits) == []
    assert evaluate(order(), context(daily_pnl=None), only()) == []  # no limit: no check
