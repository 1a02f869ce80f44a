"""Order conditions, as IB holds a conditional order until they are met.

An order placed with conditions waits at the gateway (PreSubmitted, not in the matching
engine) and is checked on every tick; once its conditions hold it is transmitted, or,
with `conditionsCancelOrder`, cancelled. Outside the regular session the conditions are
not checked unless `conditionsIgnoreRth` is set, as at IB.

The six condition types of the TWS API (ib_async `order.py`, ibapi `order_condition.py`),
each with `isMore` (at or above; else at or below) where it has a value:

- price (1): the contract's price by its trigger method: 0, 2 and 3 the last price, 1 and
  4 the bid for "at or above" and the ask for "at or below" (the side that must have
  crossed), 7 the last or that side, 8 the midpoint;
- time (3): the time now against "YYYYMMDD HH:MM:SS [zone]";
- margin (4): the account's cushion, in percent;
- execution (5): an execution of the symbol in the account since the order was placed;
- volume (6): the contract's volume today;
- percent change (7): the contract's change since the previous close, in percent.

Conditions are read left to right: each one's conjunction ("a" and, "o" or) joins it to
the next, as TWS shows them. A condition gateway-sim cannot read (an unknown contract, a
malformed number or time) makes the order refused when it is placed (`problem`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Protocol

from stocks_api.broker.gateway.requests import CONDITION_FIELDS, Condition, parse_time
from stocks_api.broker.protocol import Quote

PRICE, TIME, MARGIN, EXECUTION, VOLUME, PERCENT_CHANGE = 1, 3, 4, 5, 6, 7

# A condition as an order keeps it (and the state file stores it): type, conjunction, values.
Stored = Sequence[str]


class ConditionMarket(Protocol):
    """What conditions are checked against."""

    def now(self) -> datetime: ...

    def symbol_of(self, con_id: int) -> str | None: ...

    def quote(self, symbol: str) -> Quote: ...

    def previous_close(self, symbol: str) -> Decimal: ...

    def cushion(self) -> Decimal: ...

    def executed_since(self, symbol: str, since: datetime) -> bool: ...


def stored(conditions: Sequence[Condition]) -> tuple[tuple[str, ...], ...]:
    return tuple((str(c.kind), c.conjunction, *c.values) for c in conditions)


def _values(condition: Stored) -> dict[str, str]:
    kind = int(condition[0])
    return dict(zip(CONDITION_FIELDS[kind], condition[2:], strict=True))


def problem(conditions: Sequence[Stored], market: ConditionMarket) -> str | None:
    """Why these conditions cannot be checked; None when they can."""
    for number, condition in enumerate(conditions, start=1):
        kind = int(condition[0])
        values = _values(condition)
        try:
            if kind in (PRICE, VOLUME, PERCENT_CHANGE):
                con_id = int(values["conId"])
                if market.symbol_of(con_id) is None:
                    return f"condition {number}: no contract with conId {con_id}"
                Decimal(values[{PRICE: "price", VOLUME: "volume"}.get(kind, "changePercent")])
            elif kind == TIME:
                if parse_time(values["time"]) is None:
                    return f"condition {number}: a time is needed"
            elif kind == MARGIN:
                Decimal(values["percent"])
        except (ValueError, InvalidOperation):
            return f"condition {number}: {values} cannot be read"
    return None


def met(
    conditions: Sequence[Stored], market: ConditionMarket, *, placed: datetime, now: datetime
) -> bool:
    """Whether `conditions`, joined by their conjunctions, hold now."""
    result = False
    joiner = "o"
    for condition in conditions:
        holds = _holds(condition, market, placed=placed, now=now)
        result = (result and holds) if joiner == "a" else (result or holds)
        joiner = condition[1]
    return result


def _holds(condition: Stored, market: ConditionMarket, *, placed: datetime, now: datetime) -> bool:
    kind = int(condition[0])
    values = _values(condition)
    more = values.get("isMore", "1") not in ("0", "False", "false", "")
    if kind == EXECUTION:
        return market.executed_since(values["symbol"].upper(), placed)
    if kind == TIME:
        at = parse_time(values["time"])
        assert at is not None  # `problem` checked it
        return now >= at if more else now <= at
    if kind == MARGIN:
        cushion = market.cushion() * 100
        return _compare(cushion, Decimal(values["percent"]), more)
    symbol = market.symbol_of(int(values["conId"]))
    assert symbol is not None  # `problem` checked it
    quote = market.quote(symbol)
    if kind == VOLUME:
        return _compare(quote.volume, Decimal(values["volume"]), more)
    if kind == PERCENT_CHANGE:
        close = market.previous_close(symbol)
        change = (quote.last - close) / close * 100 if close else Decimal(0)
        return _compare(change, Decimal(values["changePercent"]), more)
    return _compare(
        _price(quote, int(values["triggerMethod"] or 0), more), Decimal(values["price"]), more
    )


def _price(quote: Quote, method: int, more: bool) -> Decimal:
    side = quote.bid if more else quote.ask
    if method in (1, 4):
        return side
    if method == 8:
        return (quote.bid + quote.ask) / 2
    if method == 7:
        return max(quote.last, side) if more else min(quote.last, side)
    return quote.last


def _compare(value: Decimal, threshold: Decimal, more: bool) -> bool:
    return value >= threshold if more else value <= threshold
