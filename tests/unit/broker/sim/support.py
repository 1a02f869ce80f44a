"""Helpers for driving the matching engine in tests: a settable clock, orders, books, events."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from stocks_api.broker.protocol import (
    BrokerEvent,
    BrokerOrderStatus,
    Execution,
    OrderRequest,
    OrderStatusUpdate,
    OrderType,
    Side,
    TimeInForce,
)
from stocks_api.broker.sim.engine import MatchingEngine
from stocks_api.broker.sim.symbols import SymbolSpec, parse_symbols
from stocks_api.core.calendar import SessionCalendar, build_calendar

T0 = datetime(2024, 3, 4, 15, 30, tzinfo=UTC)  # a Monday, 10:30 in New York
D = Decimal
S = BrokerOrderStatus


@dataclass
class FakeClock:
    """A clock that stands still until a test moves it."""

    now: datetime = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)

    def set(self, now: datetime) -> None:
        self.now = now


def nyse(holidays: str = "") -> SessionCalendar:
    """New York regular hours, Monday to Friday, with optional holidays."""
    return build_calendar(
        zone="America/New_York",
        open_at="09:30",
        close_at="16:00",
        weekdays="mon-fri",
        holidays=holidays,
    )


def make_engine(
    *,
    seed: int = 7,
    symbols: str | Sequence[SymbolSpec] = "AAPL,MSFT",
    clock: Callable[[], datetime] | None = None,
    **kwargs: Any,
) -> tuple[MatchingEngine, list[BrokerEvent]]:
    """Build an engine on a fixed clock (T0 unless given) that records its events."""
    events: list[BrokerEvent] = []
    specs = parse_symbols(symbols) if isinstance(symbols, str) else list(symbols)
    engine = MatchingEngine(
        symbols=specs,
        seed=seed,
        on_event=events.append,
        clock=clock or FakeClock(),
        **kwargs,
    )
    return engine, events


def req(
    order_type: OrderType = OrderType.MARKET,
    *,
    side: Side = Side.BUY,
    qty: str = "100",
    tif: TimeInForce = TimeInForce.DAY,
    limit: str | None = None,
    stop: str | None = None,
    symbol: str = "AAPL",
    coid: str = "c-1",
    trail_amount: str | None = None,
    trail_percent: str | None = None,
    outside_rth: bool = False,
    parent: str | None = None,
    oca: str | None = None,
) -> OrderRequest:
    """Build an order request from short string arguments."""
    return OrderRequest(
        client_order_id=coid,
        symbol=symbol,
        side=side,
        qty=D(qty),
        order_type=order_type,
        tif=tif,
        limit_price=None if limit is None else D(limit),
        stop_price=None if stop is None else D(stop),
        outside_rth=outside_rth,
        trail_amount=None if trail_amount is None else D(trail_amount),
        trail_percent=None if trail_percent is None else D(trail_percent),
        parent_client_order_id=parent,
        oca_group=oca,
    )


def set_book(
    engine: MatchingEngine,
    bid: str = "100.00",
    ask: str = "100.02",
    size: str = "500",
    last: str | None = None,
    symbol: str = "AAPL",
) -> None:
    """Force a symbol's top of book (both sides the same size)."""
    engine.set_quote(
        symbol,
        bid=D(bid),
        ask=D(ask),
        bid_size=D(size),
        ask_size=D(size),
        last=None if last is None else D(last),
    )


def execs(events: Sequence[BrokerEvent]) -> list[Execution]:
    return [e for e in events if isinstance(e, Execution)]


def updates(events: Sequence[BrokerEvent]) -> list[OrderStatusUpdate]:
    return [e for e in events if isinstance(e, OrderStatusUpdate)]


def kinds(events: Sequence[BrokerEvent]) -> list[str]:
    return [e.status.value if isinstance(e, OrderStatusUpdate) else "exec" for e in events]


def trail(events: Sequence[BrokerEvent]) -> list[tuple[str, str, str | None]]:
    """Summarise events as (client order id, status or "exec", reason)."""
    return [
        (e.client_order_id, e.status.value, e.reason)
        if isinstance(e, OrderStatusUpdate)
        else (e.client_order_id, "exec", None)
        for e in events
    ]
