"""Rate limits of signing in, against password guessing (the `limits` library).

Every attempt at `POST /api/v1/auth/token` is counted, before its password is checked, in
moving windows of two kinds:

- per client address (`AUTH_TOKEN_RATE_LIMIT`, 5 a minute): one address cannot guess fast;
- per username, from any address (`AUTH_USERNAME_RATE_LIMIT`, 3 in 10 seconds and 10 a
  minute): guesses spread over many addresses are limited as well.

An attempt over any window is refused (429 with Retry-After) and not counted, so waiting
is enough to get in again. The per-username windows are short on purpose: guessing stays
slow (at most 10 a minute for a name, whatever the number of addresses), while the real
user, should someone be guessing their password, waits seconds, at most a minute, and is
never locked out for long; their successful sign-in clears the username's count.

With `REDIS_URL` the counts live in Redis, so every API process shares them; without it
they live in this process. Should Redis fail, this process's own counts stand in for it
until it answers again (logged), so signing in never depends on Redis being up.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal, TypeVar

import structlog
from limits import RateLimitItem, parse, parse_many
from limits.aio.storage import RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter as AsyncMovingWindowRateLimiter
from limits.errors import StorageError
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

log = structlog.get_logger(__name__)

T = TypeVar("T")
KEY_PREFIX = "stocks:sign-in"
# Redis answers a sign-in's few commands in well under a millisecond; past this, it is
# treated as down and the process's own counts are used.
REDIS_TIMEOUT_SECONDS = 1.0
# A refused attempt is written to the audit table at most this often per address (or
# username), so a flood of refused attempts cannot fill the database; each is logged.
REFUSAL_AUDIT_RATE = parse("1/minute")

Scope = Literal["address", "username"]


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why an attempt is refused: which limit, and the seconds until one more is allowed."""

    scope: Scope
    retry_after: int
    # Whether this refusal is the first of its address (or username) in REFUSAL_AUDIT_RATE's
    # window, and so goes into the audit table.
    audit: bool


class _Counts:
    """One storage's moving windows, with async methods whatever the storage."""

    def __init__(
        self,
        memory: MovingWindowRateLimiter | None = None,
        shared: AsyncMovingWindowRateLimiter | None = None,
    ) -> None:
        self._memory, self._shared = memory, shared

    async def test(self, item: RateLimitItem, *key: str) -> bool:
        if self._shared is not None:
            return await self._shared.test(item, *key)
        assert self._memory is not None
        return self._memory.test(item, *key)

    async def hit(self, item: RateLimitItem, *key: str) -> bool:
        if self._shared is not None:
            return await self._shared.hit(item, *key)
        assert self._memory is not None
        return self._memory.hit(item, *key)

    async def reset_time(self, item: RateLimitItem, *key: str) -> float:
        if self._shared is not None:
            return (await self._shared.get_window_stats(item, *key)).reset_time
        assert self._memory is not None
        return self._memory.get_window_stats(item, *key).reset_time

    async def clear(self, item: RateLimitItem, *key: str) -> None:
        if self._shared is not None:
            await self._shared.clear(item, *key)
            return
        assert self._memory is not None
        self._memory.clear(item, *key)


def limits_redis_uri(redis_url: str) -> str:
    """The `limits` async storage URI of a REDIS_URL (redis://, rediss:// or unix://)."""
    if redis_url.startswith("unix://"):
        return "async+redis+unix://" + redis_url.removeprefix("unix://")
    return "async+" + redis_url


class SignInLimiter:
    """The sign-in limits of the module docstring, in memory or in Redis."""

    def __init__(
        self,
        *,
        per_address: str,
        per_username: str,
        redis_url: str | None = None,
        key_prefix: str = KEY_PREFIX,
    ) -> None:
        # Shortest window first: a refusal is found by the cheapest check.
        self._per_address = sorted(parse_many(per_address), key=_seconds)
        self._per_username = sorted(parse_many(per_username), key=_seconds)
        self._local = _Counts(memory=MovingWindowRateLimiter(MemoryStorage()))
        self._storage: RedisStorage | None = None
        self._shared: _Counts | None = None
        if redis_url:
            self._storage = RedisStorage(
                limits_redis_uri(redis_url),
                wrap_exceptions=True,
                implementation="redispy",
                key_prefix=key_prefix,
                socket_timeout=REDIS_TIMEOUT_SECONDS,
                socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
            )
            self._shared = _Counts(shared=AsyncMovingWindowRateLimiter(self._storage))
        self._redis_failing = False

    @property
    def backend(self) -> Literal["redis", "memory"]:
        return "memory" if self._shared is None else "redis"

    async def admit(self, *, address: str, username: str) -> Refusal | None:
        """Count an attempt by `address` for `username`; return why it is refused, or None."""
        checks: list[tuple[Scope, RateLimitItem, tuple[str, ...]]] = [
            *(("address", item, ("address", address)) for item in self._per_address),
            *(("username", item, ("username", _name_key(username))) for item in self._per_username),
        ]
        # Test all first, count only then: a refused attempt takes nothing from any window.
        for scope, item, key in checks:
            if not await self._test(item, key):
                return await self._refusal(scope, checks)
        for scope, item, key in checks:
            if not await self._hit(item, key):  # another attempt took the last one
                return await self._refusal(scope, checks)
        return None

    async def succeeded(self, username: str) -> None:
        """Clear the username's count: its real user got in."""
        key = ("username", _name_key(username))
        for item in self._per_username:
            await self._clear(item, key)

    async def close(self) -> None:
        """Close the connections to Redis, if any."""
        if self._storage is not None:
            client = getattr(getattr(self._storage, "bridge", None), "storage", None)
            close = getattr(client, "aclose", None)
            if close is not None:
                await close()

    async def _refusal(
        self, scope: Scope, checks: list[tuple[Scope, RateLimitItem, tuple[str, ...]]]
    ) -> Refusal:
        now = time.time()
        waits = [1.0]
        for check_scope, item, key in checks:
            if check_scope == scope and not await self._test(item, key):
                waits.append(await self._reset_time(item, key) - now)
        key = next(k for s, _, k in checks if s == scope)
        audit = await self._hit(REFUSAL_AUDIT_RATE, ("refused", *key))
        return Refusal(scope=scope, retry_after=math.ceil(max(waits)), audit=audit)

    async def _test(self, item: RateLimitItem, key: tuple[str, ...]) -> bool:
        return await self._call(lambda counts: counts.test(item, *key))

    async def _hit(self, item: RateLimitItem, key: tuple[str, ...]) -> bool:
        return await self._call(lambda counts: counts.hit(item, *key))

    async def _reset_time(self, item: RateLimitItem, key: tuple[str, ...]) -> float:
        return await self._call(lambda counts: counts.reset_time(item, *key))

    async def _clear(self, item: RateLimitItem, key: tuple[str, ...]) -> None:
        await self._call(lambda counts: counts.clear(item, *key))

    async def _call(self, work: Callable[[_Counts], Awaitable[T]]) -> T:
        if self._shared is None:
            return await work(self._local)
        try:
            result = await work(self._shared)
        except StorageError as exc:
            if not self._redis_failing:
                log.warning("sign_in_limits_redis_failed", error=str(exc.storage_error))
                self._redis_failing = True
            return await work(self._local)
        if self._redis_failing:
            log.info("sign_in_limits_redis_back")
            self._redis_failing = False
        return result


def _name_key(username: str) -> str:
    # Any text a client sends, of any length: stored as a fixed-size digest.
    return hashlib.sha256(username.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _seconds(item: RateLimitItem) -> int:
    return item.get_expiry()
