"""Live position marks: open positions revalued at each quote the watchlist shows.

The quote feed publishes a symbol's quote when it changes; for every held symbol this
component publishes `position.updated` for each account holding it, valued (by
`positions.value`, the one valuation) at that quote's last price. The dashboard then shows
one price per symbol: the watchlist's and the position's come from the same quote.

It runs in the process that owns the broker connection (started and stopped with trading),
whose consumer is the only writer of positions: the consumer tells it of every position a
fill moved, right after the commit, so no update it publishes carries an older quantity
than the consumer's. The consumer announces that position itself (marked at the fill's
price); that announcement counts as the symbol's latest update, and the next one, at the
quote's price, follows a spacing later.

Updates are throttled per symbol to one per `spacing` seconds (a few a second): a quote
arriving sooner is held and its position sent when the spacing has passed, so the last
price always goes out and none in between is queued.

The held symbols are followed (the feed asks the broker for their quotes) only while
someone may listen (`EventBus.has_subscribers`: a WebSocket client of this process, or
anyone on Redis), checked every `FOLLOW_CHECK_SECONDS`: an API nobody watches puts no
quote requests on the broker's line (IB paces its clients' messages).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from stocks_api.broker.protocol import Quote
from stocks_api.events.bus import EventBus
from stocks_api.marketdata.feed import QuoteFeed
from stocks_api.portfolio.positions import ValuedPosition, open_positions, value
from stocks_api.portfolio.schemas import PositionRead

log = structlog.get_logger(__name__)

DEFAULT_SPACING_SECONDS = 0.25
FOLLOW_CHECK_SECONDS = 1.0


class LivePositionMarks:
    """Publishes positions revalued at live quotes; see the module docstring."""

    def __init__(
        self,
        *,
        sessionmaker: async_sessionmaker[AsyncSession],
        feed: QuoteFeed,
        bus: EventBus,
        spacing: float = DEFAULT_SPACING_SECONDS,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._feed = feed
        self._bus = bus
        self._spacing = spacing
        # symbol -> account_id -> the position as last booked (its market fields unused).
        self._held: dict[str, dict[str, ValuedPosition]] = {}
        # (symbol, account_id) -> updated_at of the last state the consumer booked, closed
        # ones too: a stored row read at start that is older must not come back.
        self._booked_at: dict[tuple[str, str], datetime] = {}
        self._prices: dict[str, Decimal] = {}
        self._sent_at: dict[str, float] = {}
        self._due: set[str] = set()
        self._wake = asyncio.Event()
        self._active = False
        self._following = False  # the held symbols are watched on the feed
        self._task: asyncio.Task[None] | None = None

    @property
    def held_symbols(self) -> list[str]:
        return sorted(self._held)

    async def start(self) -> None:
        """Load the open positions, follow their quotes, and start publishing."""
        if self._active:
            return
        self._active = True  # from now on `booked` keeps what the consumer tells
        async with self._sessionmaker() as session:
            stored = [value(p, None) for p in await open_positions(session)]
        # A fill booked while loading told `booked` already: that newer state stays (even
        # a closed position, which must not come back from the older row).
        for position in stored:
            booked_at = self._booked_at.get((position.symbol, position.account_id))
            if booked_at is None or booked_at < position.updated_at:
                self._keep(position)
        self._feed.on_quote(self.quoted)
        self._follow(self._bus.has_subscribers())
        self._task = asyncio.create_task(self._run(), name="live-position-marks")

    async def stop(self) -> None:
        """Stop publishing and stop following the held symbols' quotes."""
        if not self._active:
            return
        self._active = False
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._feed.off_quote(self.quoted)
        self._follow(False)
        self._held.clear()
        self._booked_at.clear()
        self._prices.clear()
        self._sent_at.clear()
        self._due.clear()

    # -- what changed -------------------------------------------------------------------------

    def booked(self, positions: Iterable[ValuedPosition]) -> None:
        """Take the positions a commit moved (called by the consumer, before it announces them).

        The consumer's announcement is the symbol's latest update: the next one waits a spacing.
        """
        if not self._active:
            return  # not trading: `start` loads the positions as stored
        loop = asyncio.get_running_loop()
        for position in positions:
            self._booked_at[(position.symbol, position.account_id)] = position.updated_at
            self._keep(position)
            if position.symbol in self._held:
                self._sent_at[position.symbol] = loop.time()
                self._mark_due(position.symbol)

    def quoted(self, quote: Quote) -> None:
        """Take a quote the feed published (called by the feed)."""
        if quote.symbol not in self._held or self._prices.get(quote.symbol) == quote.last:
            return
        self._prices[quote.symbol] = quote.last
        self._mark_due(quote.symbol)

    def _keep(self, position: ValuedPosition) -> None:
        accounts = self._held.get(position.symbol)
        if position.qty:
            if accounts is None:
                accounts = self._held[position.symbol] = {}
                if self._following:
                    self._feed.watch(position.symbol)
            accounts[position.account_id] = position
        elif accounts is not None:
            accounts.pop(position.account_id, None)
            if not accounts:
                del self._held[position.symbol]
                self._prices.pop(position.symbol, None)
                self._sent_at.pop(position.symbol, None)
                self._due.discard(position.symbol)
                if self._following:
                    self._feed.unwatch(position.symbol)

    def _follow(self, wanted: bool) -> None:
        """Watch the held symbols' quotes on the feed, or stop watching them."""
        if wanted == self._following:
            return
        self._following = wanted
        for symbol in self._held:
            if wanted:
                self._feed.watch(symbol)
            else:
                self._feed.unwatch(symbol)
                self._prices.pop(symbol, None)  # a price from then would be stale by now

    def _mark_due(self, symbol: str) -> None:
        if self._prices.get(symbol) is None:
            return  # no quote yet: the consumer's announcement is the latest there is
        self._due.add(symbol)
        self._wake.set()

    # -- publishing ---------------------------------------------------------------------------

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            # Sleep until something is due, until the earliest held update may go, or until
            # it is time to check whether anyone listens.
            earliest = min((self._next_at(s) for s in self._due), default=None)
            timeout = FOLLOW_CHECK_SECONDS
            if earliest is not None:
                timeout = min(max(earliest - loop.time(), 0.0), timeout)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)
            self._wake.clear()
            self._follow(self._bus.has_subscribers())
            now = loop.time()
            for symbol in [s for s in self._due if self._next_at(s) <= now]:
                self._due.discard(symbol)
                self._sent_at[symbol] = now
                try:
                    await self._publish(symbol)
                except Exception:  # one symbol's failure must not stop the marks
                    log.exception("position_mark_failed", symbol=symbol)

    def _next_at(self, symbol: str) -> float:
        sent = self._sent_at.get(symbol)
        return float("-inf") if sent is None else sent + self._spacing

    async def _publish(self, symbol: str) -> None:
        accounts, price = self._held.get(symbol), self._prices.get(symbol)
        if not accounts or price is None or not self._bus.has_subscribers():
            return
        for position in list(accounts.values()):
            data = PositionRead.model_validate(value(position, price)).model_dump(mode="json")
            await self._bus.publish("position.updated", data)
