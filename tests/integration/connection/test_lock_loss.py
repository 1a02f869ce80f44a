"""PostgreSQL: an owner whose lock connection dies gives the broker up; one owner remains."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from stocks_api.core.migrations import upgrade
from tests.conftest import eventually
from tests.databases import fresh_database
from tests.factories import place
from tests.integration.connection.conftest import (
    instance,
    instance_settings,
)
from tests.integration.connection.test_two_instances import assert_read_only

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_url(tmp_path: Path) -> Iterator[str]:
    with fresh_database("postgres", tmp_path) as url:
        upgrade(url)
        yield url


@pytest.fixture
async def admin(pg_url: str) -> AsyncIterator[asyncpg.Connection]:
    url = make_url(pg_url)
    conn = await asyncpg.connect(
        host=url.host, port=url.port, user=url.username, database=url.database
    )
    yield conn
    await conn.close()


async def kill_lock_session(admin: asyncpg.Connection) -> None:
    """End the session holding the broker lock (a database restart or a cut connection)."""
    pids = await admin.fetch(
        "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted"
        " AND classid = 184102705 AND objid = 2492333537 AND objsubid = 1"
        " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    )
    assert len(pids) == 1
    assert await admin.fetchval("SELECT pg_terminate_backend($1)", pids[0]["pid"])


async def test_an_owner_that_loses_its_lock_drops_the_broker_and_takes_it_back(
    pg_url: str, admin: asyncpg.Connection
) -> None:
    async with instance(instance_settings(pg_url)) as only:
        assert await only.role() == "owner"
        await kill_lock_session(admin)
        await eventually(
            lambda: only.broker.calls.count("connect") == 2 and only.broker.is_connected,
            what="demotion and promotion",
        )
        assert only.broker.calls[:3] == ["connect", "close", "connect"]

        async def owner_again() -> bool:  # once taking up trading (after the connect) is done
            return await only.role() == "owner"

        await eventually(owner_again, what="the owner role back")
        assert (await place(only.http, qty="1"))["status"] == "filled"


async def test_after_the_owners_lock_dies_exactly_one_instance_trades(
    pg_url: str, admin: asyncpg.Connection
) -> None:
    async with (
        instance(instance_settings(pg_url)) as first,
        instance(instance_settings(pg_url)) as second,
    ):
        assert (await first.role(), await second.role()) == ("owner", "standby")
        await kill_lock_session(admin)
        await eventually(lambda: "close" in first.broker.calls, what="the owner giving up")

        async def settled() -> bool:
            roles = {await first.role(), await second.role()}
            brokers = {first.broker.is_connected, second.broker.is_connected}
            return roles == {"owner", "standby"} and brokers == {True, False}

        await eventually(settled, what="one owner again")
        owner, standby = (first, second) if await first.role() == "owner" else (second, first)
        assert owner.broker.is_connected
        assert not standby.broker.is_connected
        assert (await place(owner.http, qty="1"))["status"] == "filled"
        assert_read_only(await standby.http.post("/api/v1/orders", json={"symbol": "AAPL"}))
