"""The order pace: broker messages (new orders, modifications) sent in the last second and minute.

Counted with the `limits` library's moving windows, sized at IBKR's ceilings rather than
at the trader's limits, so changing a limit at run time keeps the count it is measured
against. Cancels are not counted: a cancel must never wait for the pace.
"""

from __future__ import annotations

from limits import RateLimitItemPerMinute, RateLimitItemPerSecond
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from stocks_api.risk.schemas import IBKR_MESSAGES_PER_SECOND, MAX_ORDERS_PER_MINUTE

_KEY = "broker-messages"


class OrderPace:
    """How many broker messages went out recently; `record` what is sent."""

    def __init__(self) -> None:
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self._second = RateLimitItemPerSecond(IBKR_MESSAGES_PER_SECOND)
        self._minute = RateLimitItemPerMinute(MAX_ORDERS_PER_MINUTE)

    def last_second(self) -> int:
        return self._used(self._second)

    def last_minute(self) -> int:
        return self._used(self._minute)

    def record(self, messages: int) -> None:
        """Count `messages` sent now (a window never counts past its ceiling)."""
        for item in (self._second, self._minute):
            room = item.amount - self._used(item)
            if room > 0:
                self._limiter.hit(item, _KEY, cost=min(messages, room))

    def _used(self, item: RateLimitItemPerSecond | RateLimitItemPerMinute) -> int:
        return item.amount - self._limiter.get_window_stats(item, _KEY).remaining
