"""The PostgreSQL advisory lock: one holder per database, freed with its connection."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from stocks_api.connection.locks import PostgresAdvisoryLock
from stocks_api.connection.ownership import BrokerOwnership
from tests.databases import fresh_database

pytestmark = pytest.mark.postgres

INTERVAL = 0.05


@pytest.fixture
def pg_url(tmp_path: Path) -> Iterator[str]:
    """An empty database of its own (advisory locks need no tables)."""
    with fresh_database("postgres", tmp_path) as url:
        yield url


@pytest.fixture
async def admin(pg_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A plain connection to the same database, to look at and kill the lock's session."""
    url = make_url(pg_url)
    conn = await asyncpg.connect(
        host=url.host, port=url.port, user=url.username, database=url.database
    )
    yield conn
    await conn.close()


async def holders(admin: asyncpg.Connection) -> list[asyncpg.Record]:
    """The sessions holding our advisory lock in this database, with their names."""
    rows: list[asyncpg.Record] = await admin.fetch(
        "SELECT a.pid, a.application_name FROM pg_locks AS l"
        " JOIN pg_stat_activity AS a ON a.pid = l.pid"
        " WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1"
        " AND l.classid = 184102705 AND l.objid = 2492333537"
        " AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    )
    return rows


async def kill_holder(admin: asyncpg.Connection) -> None:
    """End the holding session as a database restart or a network cut would."""
    (row,) = await holders(admin)
    assert await admin.fetchval("SELECT pg_terminate_backend($1)", row["pid"])
    for _ in range(500):  # the session ends a moment after it is told to
        if not await holders(admin):
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the lock's session did not end")


async def test_one_holder_per_database_described_to_the_others(
    pg_url: str, admin: asyncpg.Connection
) -> None:
    first = PostgresAdvisoryLock(pg_url, timeout=5)
    second = PostgresAdvisoryLock(pg_url, timeout=5)
    try:
        before = datetime.now(UTC) - timedelta(seconds=1)
        assert await first.try_acquire()
        assert not await second.try_acquire()
        assert not await second.try_acquire()
        assert await first.check()
        assert not await second.check()
        (row,) = await holders(admin)
        assert row["application_name"].startswith(f"stocks-api {os.getpid()}@")
        holder = await second.holder()
        assert holder is not None
        assert holder.pid == os.getpid()
        assert holder.host is not None
        assert socket.gethostname().startswith(holder.host)
        assert holder.since is not None
        assert before <= holder.since <= datetime.now(UTC)
        assert holder.since == first.since
    finally:
        await first.release()
        await second.release()
    assert await holders(admin) == []


async def test_release_frees_it_at_once(pg_url: str, admin: asyncpg.Connection) -> None:
    first = PostgresAdvisoryLock(pg_url, timeout=5)
    second = PostgresAdvisoryLock(pg_url, timeout=5)
    try:
        assert await first.try_acquire()
        await first.release()
        assert await second.holder() is None
        assert await second.try_acquire()
        assert not await first.try_acquire()
    finally:
        await first.release()
        await second.release()


async def test_another_database_has_its_own_lock(pg_url: str, tmp_path: Path) -> None:
    with fresh_database("postgres", tmp_path) as other_url:
        here = PostgresAdvisoryLock(pg_url, timeout=5)
        there = PostgresAdvisoryLock(other_url, timeout=5)
        try:
            assert await here.try_acquire()
            assert await there.try_acquire()
        finally:
            await here.release()
            await there.release()


async def test_a_lost_connection_loses_the_lock_and_it_can_be_taken_again(
    pg_url: str, admin: asyncpg.Connection
) -> None:
    first = PostgresAdvisoryLock(pg_url, timeout=5)
    second = PostgresAdvisoryLock(pg_url, timeout=5)
    try:
        assert await first.try_acquire()
        await kill_holder(admin)
        assert not await first.check()
        assert not first.held
        assert await second.try_acquire()  # PostgreSQL freed it with the session
        assert not await first.try_acquire()  # a new connection, but someone else has it
        await second.release()
        assert await first.try_acquire()
        assert await first.check()
    finally:
        await first.release()
        await second.release()


async def test_the_owner_goes_read_only_when_its_connection_dies_and_takes_over_again(
    pg_url: str, admin: asyncpg.Connection
) -> None:
    log: list[str] = []

    async def promote() -> None:
        log.append("promote")

    async def demote() -> None:
        log.append("demote")

    ownership = BrokerOwnership(PostgresAdvisoryLock(pg_url, timeout=5), interval=INTERVAL)
    assert await ownership.acquire(promote=promote)
    ownership.watch(promote=promote, demote=demote)
    try:
        await kill_holder(admin)
        deadline = asyncio.get_running_loop().time() + 5
        while log != ["promote", "demote", "promote"]:
            assert asyncio.get_running_loop().time() < deadline, log
            await asyncio.sleep(0.01)
        assert ownership.is_owner
        assert len(await holders(admin)) == 1
    finally:
        await ownership.release()
    assert await holders(admin) == []
