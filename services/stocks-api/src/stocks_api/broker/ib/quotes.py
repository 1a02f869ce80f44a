"""Streaming quote lines: a symbol's quote read from a live IB subscription, not asked for.

A snapshot request per quote (ib_async's `reqTickers`) costs one message of IB's 50 a
second each time: the order path asks for the order's quote and the marks of every symbol
in the book, and the quote feed polls each watched symbol four times a second, so orders
waited behind quotes in the pacing queue and a dozen watched symbols used up the line.
Here the first quote of a symbol opens a streaming subscription (`reqMktData`, one message)
and every later quote reads its `Ticker`, which ib_async keeps up to date: no message at all.

At most `max_lines` symbols are followed (IB counts market data lines per account, 100 by
default, shared with TWS and other programs); opening one more cancels the least recently
read. A new line is ready once its last price (or the close) is in: IB sends a quote's
ticks one by one. A line that sends nothing within `first_tick_seconds` (no permissions,
error 354) is cancelled and the quote comes from a snapshot, as before; that symbol gets
snapshots for `SILENT_RETRY_SECONDS` before a line is tried again (no wait on every quote).
The lines end with the connection and after IB's 1101 (restored, data lost): `reset`
forgets them, the next quote opens them again. A quote's `ts` is when IB last updated it,
so a quote IB stopped updating shows its age.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import structlog

from stocks_api.broker.protocol import Quote

log = structlog.get_logger(__name__)

SILENT_RETRY_SECONDS = 300.0


def _number(value: float | None) -> Decimal:
    if value is None or not math.isfinite(value) or value < 0:
        return Decimal(0)  # IB's "no value" is NaN, or -1 for a side without a quote
    return Decimal(str(value))


def has_data(ticker: Any) -> bool:
    """Whether IB has sent anything a quote can show (a price on some side, or the close)."""
    return any(_number(getattr(ticker, name, None)) > 0 for name in ("bid", "ask", "last", "close"))


def has_price(ticker: Any) -> bool:
    """Whether IB has sent the price a position is valued at (the last trade, or the close).

    Its ticks arrive one by one (bid, ask, last, ...): a line is ready for its first quote
    once this one is in, or the risk checks would find no price to value an order at.
    """
    return any(_number(getattr(ticker, name, None)) > 0 for name in ("last", "close"))


def quote_of(symbol: str, ticker: Any) -> Quote:
    """Our quote from ib_async's ticker (its `last`, or the close when nothing traded)."""
    return Quote(
        symbol=symbol,
        bid=_number(ticker.bid),
        ask=_number(ticker.ask),
        last=_number(ticker.last) or _number(ticker.close),
        bid_size=_number(ticker.bidSize),
        ask_size=_number(ticker.askSize),
        volume=_number(ticker.volume),
        ts=ticker.time or datetime.now(UTC),
    )


class QuoteLines:
    """The open streaming lines, least recently read first; see the module docstring."""

    def __init__(
        self,
        ib: Any,
        *,
        pace: Callable[[], Awaitable[None]],
        max_lines: int,
        first_tick_seconds: float,
    ) -> None:
        self._ib = ib
        self._pace = pace  # waits for IB's pacing to allow one more message
        self._max_lines = max_lines
        self._first_tick_seconds = first_tick_seconds
        self._lines: OrderedDict[str, Any] = OrderedDict()  # symbol -> ib_async's Ticker
        self._opening: dict[str, asyncio.Future[Any | None]] = {}
        self._generation = 0  # counts resets: a line opened across one is not kept
        self._silent: dict[str, float] = {}  # symbol -> when a line may be tried again

    @property
    def symbols(self) -> list[str]:
        return list(self._lines)

    def reset(self) -> None:
        """Forget every line (the connection ended, or IB lost its data: 1101)."""
        self._generation += 1
        self._lines.clear()
        self._silent.clear()
        for opening in self._opening.values():
            if not opening.done():
                opening.set_result(None)
        self._opening.clear()

    async def quote(self, symbol: str, contract: Any) -> Quote | None:
        """The quote of `symbol` from its line (opened now if need be); None: no line works."""
        ticker = self._lines.get(symbol)
        if ticker is not None:
            self._lines.move_to_end(symbol)
            return quote_of(symbol, ticker)
        loop = asyncio.get_running_loop()
        if self._silent.get(symbol, 0.0) > loop.time():
            return None  # its line sent nothing a moment ago: a snapshot, without the wait
        opening = self._opening.get(symbol)
        if opening is None:  # the first asker opens it; others wait for the same line
            opening = loop.create_future()
            self._opening[symbol] = opening
            try:
                ticker = await self._open(symbol, contract)
            finally:
                if self._opening.get(symbol) is opening:
                    del self._opening[symbol]
                if not opening.done():
                    opening.set_result(ticker)
        else:
            ticker = await asyncio.shield(opening)
        return None if ticker is None else quote_of(symbol, ticker)

    async def _open(self, symbol: str, contract: Any) -> Any | None:
        generation = self._generation
        while len(self._lines) >= self._max_lines:
            oldest, ticker = self._lines.popitem(last=False)
            await self._cancel(ticker.contract)
            log.info("ibkr_quote_line_closed", symbol=oldest, reason="least recently read")
        await self._pace()
        ticker = self._ib.reqMktData(contract, "", False, False)
        arrived = asyncio.Event()

        def on_update(_: Any) -> None:
            if has_price(ticker):
                arrived.set()

        ticker.updateEvent += on_update
        try:
            if not has_price(ticker):
                await asyncio.wait_for(arrived.wait(), self._first_tick_seconds)
        except TimeoutError:
            if not has_data(ticker):
                log.warning(
                    "ibkr_quote_line_silent", symbol=symbol, seconds=self._first_tick_seconds
                )
                self._silent[symbol] = asyncio.get_running_loop().time() + SILENT_RETRY_SECONDS
                await self._cancel(contract)
                return None
            # Quotes, but nothing traded nor closed yet: the line works all the same.
        finally:
            ticker.updateEvent -= on_update
        if generation == self._generation:  # no reset meanwhile: the line is live
            self._lines[symbol] = ticker
        return ticker

    async def _cancel(self, contract: Any) -> None:
        await self._pace()
        with contextlib.suppress(ConnectionError):  # gone with the connection anyway
            self._ib.cancelMktData(contract)
