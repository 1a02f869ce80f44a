"""Forgetting finished trades, so a long-running IbkrBroker does not grow with every order.

ib_async keeps every trade and fill of its connection (`wrapper.trades`, `permId2Trade`,
`fills`: an ib_async `Order` alone has some two hundred fields), and IbkrBroker keeps its
own index of trades by IB order id: about 15 kB per order in the order benchmark, never
released (1,000 orders cost 15 MB, a day of a busy bot hundreds). Nothing needs a trade
once it is finished: done at IB (filled, cancelled) and every share it filled delivered
to the sink (IbkrBroker passes an execution on when its commission report arrives).
`FinishedTrades` keeps the most recent `DONE_TRADES_KEPT` finished trades, and every one
finished less than `KEPT_SECONDS` ago (a late message about one still finds it: IB may
report a fill just after a cancel), and drops older ones from all four indexes; orders
still working are kept, whatever their age. A late message about a dropped trade is harmless:
ib_async logs a status for an order it does not know, and an execution replayed after a
reconnect is one the consumer has already stored.

ib_async drops its indexes when the socket closes; IbkrBroker rebuilds its own from the
new connection's trades when it reconciles. The completed orders IB replays then come
without their older executions, so they do not count as finished: they stay until the
connection ends.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, MutableMapping
from decimal import Decimal
from typing import Any

from ib_async import IB, Trade

DONE_TRADES_KEPT = 200
KEPT_SECONDS = 10.0


class FinishedTrades:
    """The finished trades still kept, oldest first; see the module docstring."""

    def __init__(
        self,
        ib: IB,
        ours: dict[str, Trade],
        *,
        kept: int | None = None,
        seconds: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ib = ib
        self._ours = ours  # IbkrBroker's own index: IB order id (text) -> trade
        self._kept = DONE_TRADES_KEPT if kept is None else kept
        self._seconds = KEPT_SECONDS if seconds is None else seconds
        self._clock = clock
        # id(trade) -> (trade, when it was found finished), oldest first
        self._done: OrderedDict[int, tuple[Trade, float]] = OrderedDict()

    def reset(self) -> None:
        """Start afresh (a new connection: its trades are other objects)."""
        self._done.clear()

    def __len__(self) -> int:
        return len(self._done)

    def consider(self, trade: Trade) -> None:
        """Note `trade` if it is finished now; forget the oldest beyond the ones kept.

        Only a trade IbkrBroker indexes counts (one forgotten already is not taken back).
        """
        if id(trade) in self._done or self._ours.get(str(trade.order.orderId)) is not trade:
            return
        if not finished(trade):
            return
        now = self._clock()
        self._done[id(trade)] = (trade, now)
        while len(self._done) > self._kept:
            oldest, finished_at = next(iter(self._done.values()))
            if now - finished_at < self._seconds:
                break  # young enough to keep, and so is every one after it
            self._done.popitem(last=False)
            self._forget(oldest)

    def _forget(self, trade: Trade) -> None:
        order, wrapper = trade.order, self._ib.wrapper
        _drop(self._ours, str(order.orderId), trade)
        _drop(wrapper.trades, wrapper.orderKey(order.clientId, order.orderId, order.permId), trade)
        _drop(wrapper.permId2Trade, order.permId, trade)
        for fill in trade.fills:
            _drop(wrapper.fills, fill.execution.execId, fill)


def finished(trade: Trade) -> bool:
    """Done at IB, and every share it filled reported with its commission (so passed on)."""
    if not trade.isDone():
        return False
    reported = sum(
        (Decimal(str(f.execution.shares)) for f in trade.fills if f.commissionReport.execId),
        Decimal(0),
    )
    return reported >= Decimal(str(trade.orderStatus.filled))


def _drop(index: MutableMapping[Any, Any], key: object, value: object) -> None:
    """Remove `key` from `index` if it still maps to `value` (not to a newer object)."""
    if index.get(key) is value:
        del index[key]
