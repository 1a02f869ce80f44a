"""The ownership locks on SQLite files and in memory, and the role kept by `BrokerOwnership`."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from stocks_api.connection.ownership import (
    LOCK_KEY,
    LOCK_NAME,
    BrokerOwnership,
    FileLock,
    Holder,
    PostgresAdvisoryLock,
    ProcessLock,
    ReadOnlyInstanceError,
    Role,
    open_lock,
)
from stocks_api.core.config import DatabaseSettings

INTERVAL = 0.02
HERE = Holder(os.getpid(), socket.gethostname(), None)


# -- choosing the lock --------------------------------------------------------------------


def test_a_sqlite_file_is_locked_by_a_file_beside_it(tmp_path: Path) -> None:
    lock = open_lock(DatabaseSettings(url=f"sqlite+aiosqlite:///{tmp_path}/db/x.db"), timeout=1)
    assert isinstance(lock, FileLock)
    assert lock.path == tmp_path / "db" / "x.db.broker.lock"


def test_a_relative_sqlite_path_is_resolved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    lock = open_lock(DatabaseSettings(url="sqlite+aiosqlite:///./data/stocks.db"), timeout=1)
    assert isinstance(lock, FileLock)
    assert lock.path == tmp_path / "data" / "stocks.db.broker.lock"


@pytest.mark.parametrize(
    "url",
    [
        "sqlite+aiosqlite://",
        "sqlite+aiosqlite:///:memory:",
        "sqlite+aiosqlite:///file:mem?mode=memory&cache=shared&uri=true",
    ],
)
def test_an_in_memory_database_has_no_one_to_share_with(url: str) -> None:
    assert isinstance(open_lock(DatabaseSettings(url=url), timeout=1), ProcessLock)


def test_postgresql_takes_an_advisory_lock() -> None:
    url = "postgresql+asyncpg://u:p@127.0.0.1:5432/stocks"
    assert isinstance(open_lock(DatabaseSettings(url=url), timeout=1), PostgresAdvisoryLock)


def test_the_advisory_lock_key_is_fixed() -> None:
    # Every version of the API must meet on the same key: never change it.
    assert LOCK_NAME == "stocks-api:broker-connection"
    assert LOCK_KEY == 790715099572469217


async def test_an_in_memory_database_is_always_owned() -> None:
    lock = ProcessLock()
    assert await lock.try_acquire()
    assert await lock.try_acquire()
    assert await lock.check()
    assert await lock.holder() == Holder(HERE.pid, HERE.host, lock.since)


# -- the lock file ------------------------------------------------------------------------


async def test_a_second_open_of_the_lock_file_is_refused_even_in_one_process(
    tmp_path: Path,
) -> None:
    path = tmp_path / "stocks.db.broker.lock"
    first, second = FileLock(path), FileLock(path)
    assert await first.try_acquire()
    assert not await second.try_acquire()
    assert not await second.try_acquire()  # and again: nothing leaks between attempts
    assert first.held
    assert not second.held
    assert await first.check()


async def test_the_lock_file_names_its_holder(tmp_path: Path) -> None:
    path = tmp_path / "stocks.db.broker.lock"
    first, second = FileLock(path), FileLock(path)
    before = datetime.now(UTC) - timedelta(seconds=1)
    assert await first.try_acquire()
    written = json.loads(path.read_text())
    assert written["pid"] == os.getpid()
    assert written["host"] == socket.gethostname()
    holder = await second.holder()
    assert holder is not None
    assert (holder.pid, holder.host) == (os.getpid(), socket.gethostname())
    assert holder.since is not None
    assert before <= holder.since <= datetime.now(UTC)
    assert holder.since == first.since


async def test_releasing_lets_the_next_one_in(tmp_path: Path) -> None:
    path = tmp_path / "stocks.db.broker.lock"
    first, second = FileLock(path), FileLock(path)
    assert await first.try_acquire()
    await first.release()
    await first.release()  # idempotent
    assert not first.held
    assert await second.holder() is None  # nobody holds it: the description is gone
    assert await second.try_acquire()
    assert not await first.try_acquire()
    assert path.exists(), "the lock file is never deleted"


_HOLD = """
import asyncio, sys
from pathlib import Path
from stocks_api.connection.ownership import FileLock

async def main():
    lock = FileLock(Path(sys.argv[1]))
    print("locked" if await lock.try_acquire() else "refused", flush=True)
    await asyncio.sleep(60)

asyncio.run(main())
"""


async def test_a_killed_holder_frees_the_lock(tmp_path: Path) -> None:
    path = tmp_path / "stocks.db.broker.lock"
    holder = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _HOLD, str(path), stdout=asyncio.subprocess.PIPE
    )
    try:
        assert holder.stdout is not None
        line = await asyncio.wait_for(holder.stdout.readline(), 30)
        assert line.strip() == b"locked"
        mine = FileLock(path)
        assert not await mine.try_acquire()
        described = await mine.holder()
        assert described is not None
        assert described.pid == holder.pid
        holder.send_signal(signal.SIGKILL)  # no clean-up at all: the kernel frees the flock
        await asyncio.wait_for(holder.wait(), 10)
        assert await mine.try_acquire()
        assert (await mine.holder()) == Holder(os.getpid(), socket.gethostname(), mine.since)
    finally:
        if holder.returncode is None:
            holder.kill()
            await holder.wait()


async def test_a_replaced_lock_file_is_lost(tmp_path: Path) -> None:
    path = tmp_path / "stocks.db.broker.lock"
    lock = FileLock(path)
    assert await lock.try_acquire()
    path.unlink()  # someone deleted it: a new file of that name could be locked by another
    other = FileLock(path)
    assert await other.try_acquire()
    assert not await lock.check()
    assert not lock.held
    assert not await lock.try_acquire()


# -- the role -------------------------------------------------------------------------------


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
