"""The ownership locks on SQLite files and in memory (`connection.locks`)."""

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

from stocks_api.connection.locks import (
    LOCK_KEY,
    LOCK_NAME,
    FileLock,
    Holder,
    PostgresAdvisoryLock,
    ProcessLock,
    open_lock,
)
from stocks_api.core.config import DatabaseSettings

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
from stocks_api.connection.locks import FileLock

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
