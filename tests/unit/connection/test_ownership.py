"""The role kept by `BrokerOwnership`: owner or standby, on a lock a test controls."""

from __future__ import annotations

import asyncio
import os
import socket
from datetime import UTC, datetime

import pytest
from prometheus_client import REGISTRY

from stocks_api.connection.locks import Holder
from stocks_api.connection.ownership import BrokerOwnership, ReadOnlyInstanceError, Role

INTERVAL = 0.02
HERE = Holder(os.getpid(), socket.gethostname(), None)


class FakeLock:
    """A lock a test hands out and takes away."""

    kind = "fake"

    def __init__(self, *, free: bool = True, other: Holder | None = None) -> None:
        self.free = free
        self.other = other
        self.fail: Exception | None = None
        self._since: datetime | None = None
        self.releases = 0

    @property
    def held(self) -> bool:
        return self._since is not None

    @property
    def since(self) -> datetime | None:
        return self._since

    async def try_acquire(self) -> bool:
        if self.fail is not None:
            raise self.fail
        if self.held:
            return True
        if not self.free:
            return False
        self.free, self._since = False, datetime.now(UTC)
        return True

    async def check(self) -> bool:
        return self.held

    async def holder(self) -> Holder | None:
        return Holder(HERE.pid, HERE.host, self._since) if self.held else self.other

    async def release(self) -> None:
        self.releases += 1
        if self.held:
            self.free, self._since = True, None

    def lose(self, to: Holder) -> None:
        """The lock is gone (a dead connection) and `to` took it."""
        self._since, self.other = None, to


class Steps:
    """Records promotions and demotions; a promotion may be made to fail."""

    def __init__(self) -> None:
        self.log: list[str] = []
        self.fail_promotion = False

    async def promote(self) -> None:
        self.log.append("promote")
        if self.fail_promotion:
            raise RuntimeError("broker down")

    async def demote(self) -> None:
        self.log.append("demote")


async def until(condition: object, seconds: float = 2.0) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not callable(condition) or not condition():
        assert asyncio.get_running_loop().time() < deadline, "not so in time"
        await asyncio.sleep(0.005)


def owner_gauge() -> float | None:
    return REGISTRY.get_sample_value("broker_owner")


async def test_a_free_lock_makes_the_owner() -> None:
    steps, lock = Steps(), FakeLock()
    ownership = BrokerOwnership(lock, interval=INTERVAL)
    assert await ownership.acquire(promote=steps.promote)
    assert ownership.role is Role.OWNER
    assert ownership.is_owner
    assert steps.log == ["promote"]
    assert owner_gauge() == 1
    ownership.check()  # the owner may change things
    assert ownership.owner == Holder(HERE.pid, HERE.host, lock.since)
    await ownership.release()
    assert owner_gauge() == 0
    assert not lock.held


async def test_a_standby_refuses_changes_naming_the_owner() -> None:
    other = Holder(4242, "host-a", datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))
    steps = Steps()
    ownership = BrokerOwnership(FakeLock(free=False, other=other), interval=INTERVAL)
    assert not await ownership.acquire(promote=steps.promote)
    assert ownership.role is Role.STANDBY
    assert steps.log == []
    assert owner_gauge() == 0
    assert ownership.owner == other
    with pytest.raises(ReadOnlyInstanceError) as refused:
        ownership.check()
    assert refused.value.status_code == 503
    assert refused.value.code == "READ_ONLY_INSTANCE"
    assert refused.value.message == (
        "another API instance (pid 4242 on host-a) owns the broker connection;"
        " this one is read-only"
    )
    assert refused.value.details == [
        {"owner": {"pid": 4242, "host": "host-a", "since": "2026-01-02T03:04:05+00:00"}}
    ]


async def test_an_unknown_owner_is_still_refused() -> None:
    ownership = BrokerOwnership(FakeLock(free=False), interval=INTERVAL)
    assert not await ownership.acquire(promote=Steps().promote)
    with pytest.raises(ReadOnlyInstanceError, match=r"^another API instance owns the broker"):
        ownership.check()


async def test_a_standby_takes_over_when_the_lock_comes_free() -> None:
    steps, lock = Steps(), FakeLock(free=False, other=Holder(1, "a", None))
    ownership = BrokerOwnership(lock, interval=INTERVAL)
    assert not await ownership.acquire(promote=steps.promote)
    ownership.watch(promote=steps.promote, demote=steps.demote)
    try:
        await asyncio.sleep(3 * INTERVAL)
        assert ownership.role is Role.STANDBY
        lock.free = True
        await until(lambda: ownership.is_owner)
        assert steps.log == ["promote"]
        assert owner_gauge() == 1
    finally:
        await ownership.release()


async def test_an_owner_that_loses_the_lock_is_read_only_at_once_then_takes_it_back() -> None:
    steps, lock = Steps(), FakeLock()
    ownership = BrokerOwnership(lock, interval=INTERVAL)
    assert await ownership.acquire(promote=steps.promote)
    ownership.watch(promote=steps.promote, demote=steps.demote)
    try:
        other = Holder(7, "b", None)
        lock.lose(to=other)
        await until(lambda: not ownership.is_owner)
        await until(lambda: steps.log == ["promote", "demote"])
        assert owner_gauge() == 0
        assert ownership.owner == other
        with pytest.raises(ReadOnlyInstanceError):
            ownership.check()
        lock.free = True  # the other one went away
        await until(lambda: ownership.is_owner)
        assert steps.log == ["promote", "demote", "promote"]
    finally:
        await ownership.release()


async def test_a_failed_takeover_gives_the_lock_back_and_tries_again() -> None:
    steps, lock = Steps(), FakeLock(free=False)
    ownership = BrokerOwnership(lock, interval=INTERVAL)
    assert not await ownership.acquire(promote=steps.promote)
    steps.fail_promotion = True
    ownership.watch(promote=steps.promote, demote=steps.demote)
    try:
        lock.free = True
        await until(lambda: steps.log.count("promote") >= 2)
        assert not ownership.is_owner
        assert steps.log[:2] == ["promote", "demote"]  # whatever was started is stopped
        assert lock.releases >= 1
        steps.fail_promotion = False
        await until(lambda: ownership.is_owner)
    finally:
        await ownership.release()


async def test_a_failed_start_releases_the_lock_and_raises() -> None:
    steps, lock = Steps(), FakeLock()
    steps.fail_promotion = True
    ownership = BrokerOwnership(lock, interval=INTERVAL)
    with pytest.raises(RuntimeError, match="broker down"):
        await ownership.acquire(promote=steps.promote)
    assert not lock.held
    assert lock.free
    assert not ownership.is_owner


async def test_an_unreachable_lock_keeps_a_standby_trying() -> None:
    steps, lock = Steps(), FakeLock()
    lock.fail = OSError("database down")
    ownership = BrokerOwnership(lock, interval=INTERVAL)
    with pytest.raises(OSError, match="database down"):  # at start-up it is an error
        await ownership.acquire(promote=steps.promote)
    ownership.watch(promote=steps.promote, demote=steps.demote)
    try:
        await asyncio.sleep(3 * INTERVAL)
        assert not ownership.is_owner  # in the watch it only means "not now"
        lock.fail = None
        await until(lambda: ownership.is_owner)
    finally:
        await ownership.release()
