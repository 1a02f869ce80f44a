"""The pre-trade checks: pure functions of an order, the book it lands in, and the limits.

No I/O here, so each check can be tested at, under and over its limit. Every check that
fails is reported (not only the first), each under a stable name.

Exposure is measured as if every open order filled (the worst case in the order's
direction): that is what keeps concurrent orders from slipping past a limit together.
An exposure check never blocks an order that lowers the exposure it measures.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from stocks_api.broker.protocol import Side
from stocks_api.core.money import normalize_decimal
from stocks_api.risk.schemas import RiskLimits, TradingState

ZERO = Decimal(0)
HUNDRED = Decimal(100)


class Check(enum.StrEnum):
    """The stable name of each check, as it appears in a rejection's details."""

    TRADING_STATE = "trading_state"
    SYMBOL_ALLOW_LIST = "symbol_allow_list"
    SYMBOL_DENY_LIST = "symbol_deny_list"
    MAX_ORDER_QTY = "max_order_qty"
    MAX_ORDER_VALUE = "max_order_value"
    MAX_POSITION_VALUE = "max_position_value"
    MAX_GROSS_EXPOSURE = "max_gross_exposure"
    MAX_LEVERAGE = "max_leverage"
    DAILY_LOSS_LIMIT = "daily_loss_limit"
    ORDER_RATE_PER_SECOND = "order_rate_per_second"
    ORDER_RATE_PER_MINUTE = "order_rate_per_minute"
    PRICE_BAND = "price_band"


@dataclass(frozen=True, slots=True)
class Failure:
    """A check that refused the order: why, and the figures it compared."""

    check: Check
    message: str
    limit: str | None = None
    value: str | None = None

    def as_detail(self) -> dict[str, str | None]:
        return {
            "check": self.check.value,
            "message": self.message,
            "limit": self.limit,
            "value": self.value,
        }


@dataclass(frozen=True, slots=True)
class ProposedOrder:
    """An order (or an order as a modification would leave it) about to be admitted.

    `qty` is its size (what the size limits measure); `open_qty` the part still to fill,
    which moves the position. `value_price` values the order: the limit (or stop) price,
    or the ask (buy) / bid (sell) for orders that trade at the market. `prices` are every
    limit and stop price it carries, bracket legs included (the price band's subject).
    `messages` is what it costs in broker messages (a bracket is three orders).
    """

    symbol: str
    side: Side
    qty: Decimal
    open_qty: Decimal
    value_price: Decimal | None
    prices: tuple[Decimal, ...] = ()
    messages: int = 1
    flatten: bool = False  # the kill switch's own closing order

    @property
    def signed_open_qty(self) -> Decimal:
        return self.open_qty if self.side is Side.BUY else -self.open_qty


@dataclass(frozen=True, slots=True)
class Exposure:
    """One symbol's position, the open orders on each side, and its last price."""

    qty: Decimal = ZERO
    open_buy: Decimal = ZERO
    open_sell: Decimal = ZERO
    mark: Decimal | None = None

    def worst(self, side: Side) -> Decimal:
        """The position if every open order on `side` filled."""
        return self.qty + self.open_buy if side is Side.BUY else self.qty - self.open_sell

    def gross(self) -> Decimal | None:
        """The larger absolute value of the two worst cases (None without a price)."""
        if self.mark is None:
            return None if (self.qty or self.open_buy or self.open_sell) else ZERO
        return max(abs(self.worst(Side.BUY)), abs(self.worst(Side.SELL))) * self.mark


@dataclass(frozen=True, slots=True)
class RiskContext:
    """Everything the checks look at besides the order and the limits."""

    state: TradingState
    holdings: Mapping[str, Exposure] = field(default_factory=dict)
    net_liquidation: Decimal | None = None
    daily_pnl: Decimal | None = None
    orders_last_second: int = 0
    orders_last_minute: int = 0

    def holding(self, symbol: str) -> Exposure:
        return self.holdings.get(symbol, Exposure())


def is_reducing(order: ProposedOrder, holding: Exposure) -> bool:
    """Tell whether the order can only shrink the position, never flip or grow it.

    Open orders on the same side count against it: two sells of 100 against a long of 100
    would together leave a short, so the second one does not reduce.
    """
    if holding.qty == 0 or (holding.qty > 0) == (order.side is Side.BUY):
        return False
    already = holding.open_sell if order.side is Side.SELL else holding.open_buy
    return order.open_qty + already <= abs(holding.qty)


def loss_breached(limits: RiskLimits, daily_pnl: Decimal | None) -> bool:
    """Tell whether today's loss has reached the daily loss limit."""
    limit = limits.daily_loss_limit
    return limit is not None and daily_pnl is not None and -daily_pnl >= limit


def evaluate(order: ProposedOrder, context: RiskContext, limits: RiskLimits) -> list[Failure]:
    """Run every check; return the failures (empty: the order may go)."""
    holding = context.holding(order.symbol)
    reducing = is_reducing(order, holding)
    failures = _state_failures(order, context.state, reducing)
    if not order.flatten:
        failures += _symbol_failures(order, limits)
        failures += _size_failures(order, limits)
        failures += _rate_failures(order, context, limits)
        failures += _band_failures(order, holding, limits)
    failures += _exposure_failures(order, context, limits)
    if not reducing:
        failures += _loss_failures(context.daily_pnl, limits.daily_loss_limit)
    return failures


def _loss_failures(daily_pnl: Decimal | None, limit: Decimal | None) -> list[Failure]:
    if limit is None:
        return []
    if daily_pnl is None:
        message = "today's P&L cannot be measured (a holding has no price); only reductions pass"
        return [Failure(Check.DAILY_LOSS_LIMIT, message, _fmt(limit), None)]
    if -daily_pnl < limit:
        return []
    return [
        Failure(
            Check.DAILY_LOSS_LIMIT,
            f"today's loss {_fmt(-daily_pnl)} has reached the daily loss limit; "
            "only orders that reduce a position pass",
            _fmt(limit),
            _fmt(-daily_pnl),
        )
    ]


def trading_state_failures(
    order: ProposedOrder, state: TradingState, holding: Exposure
) -> list[Failure]:
    """The trading-state check alone (the sender's last look before the broker)."""
    return _state_failures(order, state, is_reducing(order, holding))


def _state_failures(order: ProposedOrder, state: TradingState, reducing: bool) -> list[Failure]:
    # The kill switch's closing orders pass a halt, as long as they only reduce.
    if state is TradingState.ACTIVE or (state is TradingState.REDUCING and reducing):
        return []
    if state is TradingState.HALTED and order.flatten and reducing:
        return []
    if state is TradingState.HALTED:
        message = "trading is halted; resume with POST /api/v1/risk/resume"
    else:
        message = "trading is reducing: only orders that shrink an existing position pass"
    return [Failure(Check.TRADING_STATE, message, None, state.value)]


def _symbol_failures(order: ProposedOrder, limits: RiskLimits) -> list[Failure]:
    failures = []
    if limits.allowed_symbols and order.symbol not in limits.allowed_symbols:
        failures.append(
            Failure(
                Check.SYMBOL_ALLOW_LIST,
                f"{order.symbol} is not on the allow list",
                None,
                order.symbol,
            )
        )
    if order.symbol in limits.denied_symbols:
        failures.append(
            Failure(
                Check.SYMBOL_DENY_LIST, f"{order.symbol} is on the deny list", None, order.symbol
            )
        )
    return failures


def _size_failures(order: ProposedOrder, limits: RiskLimits) -> list[Failure]:
    failures = []
    if limits.max_order_qty is not None and order.qty > limits.max_order_qty:
        failures.append(
            Failure(
                Check.MAX_ORDER_QTY,
                f"quantity {_fmt(order.qty)} is above the limit {_fmt(limits.max_order_qty)}",
                _fmt(limits.max_order_qty),
                _fmt(order.qty),
            )
        )
    if limits.max_order_value is not None:
        if order.value_price is None:
            failures.append(Failure(Check.MAX_ORDER_VALUE, "no price to value the order at"))
        elif (value := order.qty * order.value_price) > limits.max_order_value:
            failures.append(
                Failure(
                    Check.MAX_ORDER_VALUE,
                    f"order value {_fmt(value)} is above the limit {_fmt(limits.max_order_value)}",
                    _fmt(limits.max_order_value),
                    _fmt(value),
                )
            )
    return failures


def _rate_failures(order: ProposedOrder, context: RiskContext, limits: RiskLimits) -> list[Failure]:
    failures = []
    windows = (
        (
            Check.ORDER_RATE_PER_SECOND,
            limits.max_orders_per_second,
            context.orders_last_second,
            "second",
        ),
        (
            Check.ORDER_RATE_PER_MINUTE,
            limits.max_orders_per_minute,
            context.orders_last_minute,
            "minute",
        ),
    )
    for check, limit, used, window in windows:
        if limit is not None and used + order.messages > limit:
            failures.append(
                Failure(
                    check,
                    f"{used} orders in the last {window}; this one ({order.messages} broker "
                    f"message{'s' if order.messages > 1 else ''}) would exceed {limit}",
                    str(limit),
                    str(used + order.messages),
                )
            )
    return failures


def _band_failures(order: ProposedOrder, holding: Exposure, limits: RiskLimits) -> list[Failure]:
    band = limits.price_band_percent
    if band is None or not order.prices:
        return []
    last = holding.mark
    if last is None or last <= 0:
        return [Failure(Check.PRICE_BAND, "no last price to compare the order's prices with")]
    failures = []
    for price in order.prices:
        distance = abs(price - last) / last * HUNDRED
        if distance > band:
            failures.append(
                Failure(
                    Check.PRICE_BAND,
                    f"price {_fmt(price)} is {_pct(distance)}% from the last price {_fmt(last)}; "
                    f"the band is {_fmt(band)}%",
                    _fmt(band),
                    _pct(distance),
                )
            )
    return failures


def _exposure_failures(
    order: ProposedOrder, context: RiskContext, limits: RiskLimits
) -> list[Failure]:
    checks = (
        (Check.MAX_POSITION_VALUE, limits.max_position_value),
        (Check.MAX_GROSS_EXPOSURE, limits.max_gross_exposure),
        (Check.MAX_LEVERAGE, limits.max_leverage),
    )
    if all(limit is None for _, limit in checks):
        return []
    holding = context.holding(order.symbol)
    # The worst-case position in the order's direction, before and after it; the other
    # direction stays as it is. Growing or not is a matter of quantity, so an order that
    # shrinks the position passes whatever the prices (or their absence).
    before_qty = holding.worst(order.side)
    after_qty = before_qty + order.signed_open_qty
    other_qty = holding.worst(Side.SELL if order.side is Side.BUY else Side.BUY)
    if abs(after_qty) <= abs(before_qty):
        return []
    # One price for the whole position, the higher of the last price and the order's own:
    # an order at a limit above the market is valued at that limit, never below the market.
    prices = [p for p in (holding.mark, order.value_price) if p is not None]
    if not prices:
        return [
            Failure(check, "no price to value the position after the order at")
            for check, limit in checks
            if limit is not None
        ]
    price = max(prices)
    before, after = abs(before_qty) * price, abs(after_qty) * price
    failures = []
    if limits.max_position_value is not None and after > limits.max_position_value:
        failures.append(
            Failure(
                Check.MAX_POSITION_VALUE,
                f"{order.symbol} position value after the order {_fmt(after)} would be above "
                f"the limit {_fmt(limits.max_position_value)}",
                _fmt(limits.max_position_value),
                _fmt(after),
            )
        )
    other_side = abs(other_qty) * price
    if max(after, other_side) <= max(before, other_side):
        return failures  # the other direction's worst case still dominates: gross unchanged
    unpriced = sorted(
        s for s, h in context.holdings.items() if s != order.symbol and h.gross() is None
    )
    if unpriced:
        return failures + [
            Failure(check, f"no price for {', '.join(unpriced)} to measure exposure")
            for check, limit in checks[1:]
            if limit is not None
        ]
    rest = sum(
        (
            g
            for s, h in context.holdings.items()
            if s != order.symbol and (g := h.gross()) is not None
        ),
        ZERO,
    )
    gross_after = rest + max(after, other_side)
    if limits.max_gross_exposure is not None and gross_after > limits.max_gross_exposure:
        failures.append(
            Failure(
                Check.MAX_GROSS_EXPOSURE,
                f"gross exposure after the order {_fmt(gross_after)} would be above the limit "
                f"{_fmt(limits.max_gross_exposure)}",
                _fmt(limits.max_gross_exposure),
                _fmt(gross_after),
            )
        )
    if limits.max_leverage is not None:
        failures += _leverage_failures(gross_after, context.net_liquidation, limits.max_leverage)
    return failures


def _leverage_failures(
    gross_after: Decimal, net_liquidation: Decimal | None, limit: Decimal
) -> list[Failure]:
    if net_liquidation is None or net_liquidation <= 0:
        return [
            Failure(
                Check.MAX_LEVERAGE,
                "net liquidation is not positive, so no leverage is available",
                _fmt(limit),
                None,
            )
        ]
    leverage = gross_after / net_liquidation
    if leverage <= limit:
        return []
    return [
        Failure(
            Check.MAX_LEVERAGE,
            f"leverage after the order {_ratio(leverage)} would be above the limit {_fmt(limit)}",
            _fmt(limit),
            _ratio(leverage),
        )
    ]


def _fmt(value: Decimal) -> str:
    return format(normalize_decimal(value), "f")


def _pct(value: Decimal) -> str:
    return _fmt(value.quantize(Decimal("0.01")))


def _ratio(value: Decimal) -> str:
    return _fmt(value.quantize(Decimal("0.0001")))
