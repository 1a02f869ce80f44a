"""Live position marks: what the consumer books wins over what start-up read from the table."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from stocks_api.portfolio import live_marks
from stocks_api.portfolio.live_marks import LivePositionMarks
from stocks_api.portfolio.positions import ValuedPosition

T0 = datetime(2026, 12, 3, 15, 0, tzinfo=UTC)


class FakeFeed:
    def __init__(self) -> None:
        self.watched: list[str] = []
        self.listeners: list[Any] = []

    def watch(self, symbol: str) -> None:
        self.watched.append(symbol)

    def unwatch(self, symbol: str) -> None:
        self.watched.remove(symbol)

    def on_quote(self, listener: Any) -> None:
        self.listeners.append(listener)

    def off_quote(self, listener: Any) -> None:
        self.listeners.remove(listener)


class FakeBus:
    def has_subscribers(self) -> bool:
        return True

    async def publish(self, topic: str, data: dict[str, Any]) -> None:
        pass


def held(symbol: str, qty: str, at: datetime) -> ValuedPosition:
    return ValuedPosition(
        account_id="DU1",
        symbol=symbol,
        qty=Decimal(qty),
        avg_cost=Decimal(100),
        cost_basis=Decimal(qty) * 100,
        market_price=None,
        market_value=None,
        unrealized_pnl=None,
        realized_pnl=Decimal(0),
        opened_at=at,
        updated_at=at,
    )


@asynccontextmanager
async def no_session() -> AsyncIterator[None]:
    yield None


async def test_a_position_closed_while_start_up_reads_the_table_does_not_come_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    feed = FakeFeed()
    marks = LivePositionMarks(sessionmaker=no_session, feed=feed, bus=FakeBus())  # type: ignore[arg-type]

    async def stored_then_closed(session: Any) -> list[Any]:
        # The read saw AAPL open; meanwhile the consumer booked the fill that closed it,
        # and MSFT is open in both.
        marks.booked([held("AAPL", "0", T0 + timedelta(seconds=1))])
        return [held("AAPL", "10", T0), held("MSFT", "5", T0)]

    monkeypatch.setattr(live_marks, "open_positions", stored_then_closed)
    monkeypatch.setattr(live_marks, "value", lambda position, price: position)
    await marks.start()
    try:
        assert marks.held_symbols == ["MSFT"]
        assert feed.watched == ["MSFT"]
    finally:
        await marks.stop()
    assert feed.watched == []
