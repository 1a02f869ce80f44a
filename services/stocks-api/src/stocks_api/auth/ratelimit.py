"""Rate limiting of sign-in attempts, against password guessing."""

from __future__ import annotations

import math
import time

from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter


class TokenRateLimiter:
    """Sign-in attempts per client address in a moving window (the `limits` library)."""

    def __init__(self, rate: str) -> None:
        self._item = parse(rate)
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    def hit(self, client: str) -> bool:
        """Count an attempt; False when the client is over its limit."""
        return self._limiter.hit(self._item, "auth-token", client)

    def retry_after(self, client: str) -> int:
        """Seconds until the client may try again."""
        stats = self._limiter.get_window_stats(self._item, "auth-token", client)
        return max(1, math.ceil(stats.reset_time - time.time()))
