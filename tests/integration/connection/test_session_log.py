"""The trading-session audit trail as written by `BrokerSessionLog`, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from stocks_api.connection.models import BrokerSession
from stocks_api.connection.sessions import BrokerSessionLog
from stocks_api.core.config import DatabaseSettings
from stocks_api.core.database import Database
from tests.conftest import eventually

T0 = datetime(2026, 12, 1, 14, 30, tzinfo=UTC)
ENDPOINT: dict[str, Any] = {
    "kind": "ibkr",
    "host": "127.0.0.1",
    "port": 4002,
    "server_version": "178",
    "account_id": "DU1234567",
}


class Clock:
    """A clock the test moves by hand (the recorder's `last_seen_at`)."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


class Hiccups:
    """A sessionmaker whose sessions fail (as an unreachable database does) while `down`."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self._sessionmaker = sessionmaker
        self.down = False
        self.calls = 0

    def __call__(self) -> AsyncSession:
        self.calls += 1
        if self.down:
            raise ConnectionRefusedError("database unreachable")
        return self._sessionmaker()


@pytest.fixture
async def db(clean_database: str) -> AsyncIterator[Database]:
    database = Database(DatabaseSettings(url=clean_database))
    yield database
    await database.dispose()


@pytest.fixture
def clock() -> Clock:
    return Clock()


def make_log(db: Database | Hiccups, clock: Clock, instance: str = "4242@host-a") -> Any:
    sessionmaker: Any = db.sessionmaker if isinstance(db, Database) else db
    return BrokerSessionLog(sessionmaker=sessionmaker, instance=instance, clock=clock)


async def rows(db: Database) -> list[BrokerSession]:
    async with db.sessionmaker() as session:
        return list(await session.scalars(select(BrokerSession).order_by(BrokerSession.id)))


async def row(db: Database, row_id: int | None) -> BrokerSession:
    assert row_id is not None
    async with db.sessionmaker() as session:
        found = await session.get(BrokerSession, row_id)
    assert found is not None, f"no broker_session row {row_id}"
    return found


async def test_opened_then_closed_writes_the_row_with_every_field(
    db: Database, clock: Clock
) -> None:
    log = make_log(db, clock)
    row_id = await log.opened(**ENDPOINT, at=T0)
    assert row_id is not None
    assert log.current_id == row_id

    opened = await row(db, row_id)
    assert (opened.kind, opened.host, opened.port) == ("ibkr", "127.0.0.1", 4002)
    assert (opened.server_version, opened.account_id) == ("178", "DU1234567")
    assert opened.instance == "4242@host-a"
    assert opened.connected_at == T0
    assert opened.connected_at.tzinfo is not None
    assert opened.disconnected_at is None
    assert opened.disconnect_reason is None
    assert (opened.orders_sent, opened.fills_received, opened.reconnections) == (0, 0, 0)
    assert opened.ib_outage_seconds == 0
    assert opened.ib_unreachable_since is None
    assert opened.last_seen_at == T0

    log.note_orders_sent(3)
    log.note_fills(2)
    ended = T0 + timedelta(minutes=90)
    clock.now = ended + timedelta(seconds=1)
    await log.closed(reason="shutdown", at=ended)
    assert log.current_id is None

    closed = await row(db, row_id)
    assert closed.disconnected_at == ended
    assert closed.disconnect_reason == "shutdown"
    assert (closed.orders_sent, closed.fills_received) == (3, 2)
    assert closed.last_seen_at == clock.now
    assert closed.connected_at == T0  # untouched
    assert len(await rows(db)) == 1


async def test_a_row_left_open_is_closed_as_api_crash_at_its_last_flush(
    db: Database, clock: Clock
) -> None:
    crashed = make_log(db, clock, instance="111@host-a")
    crashed_id = await crashed.opened(**ENDPOINT, at=T0)
    crashed.note_orders_sent(5)
    last_flush = clock.advance(30)
    await crashed.flush()
    await crashed.ib_unreachable(at=clock.advance(5))  # IB was down when the process died
    clock.advance(600)  # the process is gone: nothing is written any more

    # The next owner (another process, on another host) starts.
    successor = make_log(db, clock, instance="222@host-b")
    new_id = await successor.opened(**ENDPOINT, at=clock.now)

    left = await row(db, crashed_id)
    assert left.disconnect_reason == "api_crash"
    assert left.disconnected_at == left.last_seen_at == last_flush + timedelta(seconds=5)
    assert left.orders_sent == 5
    assert left.ib_unreachable_since is None
    assert left.ib_outage_seconds == 0  # it ended at the last write: none seen after it
    fresh = await row(db, new_id)
    assert fresh.instance == "222@host-b"
    assert fresh.disconnected_at is None
    assert [r.id for r in await rows(db) if r.disconnected_at is None] == [new_id]


async def test_the_crash_leftover_counts_the_outage_until_its_last_flush(
    db: Database, clock: Clock
) -> None:
    crashed = make_log(db, clock, instance="111@host-a")
    crashed_id = await crashed.opened(**ENDPOINT, at=T0)
    await crashed.ib_unreachable(at=T0 + timedelta(seconds=10))
    clock.advance(40)
    await crashed.flush()  # last seen 30 s into the outage

    await make_log(db, clock, instance="222@host-b").opened(**ENDPOINT, at=clock.advance(60))

    left = await row(db, crashed_id)
    assert left.ib_outage_seconds == pytest.approx(30)
    assert left.ib_unreachable_since is None


async def test_counters_noted_in_memory_are_written_by_flush_and_closed(
    db: Database, clock: Clock
) -> None:
    log = make_log(db, clock)
    log.note_orders_sent()  # before the connection: goes to the next row
    log.note_fills(4)
    row_id = await log.opened(**ENDPOINT, at=T0)
    assert (await row(db, row_id)).orders_sent == 1

    log.note_orders_sent(2)
    log.note_fills()
    before = await row(db, row_id)
    assert (before.orders_sent, before.fills_received) == (1, 4)  # nothing written per order

    seen = clock.advance(5)
    await log.flush()
    flushed = await row(db, row_id)
    assert (flushed.orders_sent, flushed.fills_received) == (3, 5)
    assert flushed.last_seen_at == seen

    log.note_orders_sent(7)
    await log.closed(reason="socket_drop", at=clock.advance(5))
    closed = await row(db, row_id)
    assert (closed.orders_sent, closed.fills_received) == (10, 5)
    assert closed.disconnect_reason == "socket_drop"

    # Between two connections: counted for the next one, not the closed one.
    log.note_orders_sent(2)
    log.note_fills(1)
    await log.flush()
    assert (await row(db, row_id)).orders_sent == 10
    next_id = await log.opened(**ENDPOINT, at=clock.advance(1))
    await log.flush()
    following = await row(db, next_id)
    assert (following.orders_sent, following.fills_received) == (2, 1)


async def test_ib_outages_are_timed_and_restorations_counted(db: Database, clock: Clock) -> None:
    log = make_log(db, clock)
    row_id = await log.opened(**ENDPOINT, at=T0)

    await log.ib_unreachable(at=T0 + timedelta(seconds=10))  # 1100: written at once
    assert (await row(db, row_id)).ib_unreachable_since == T0 + timedelta(seconds=10)
    await log.ib_unreachable(at=T0 + timedelta(seconds=12))  # repeated: the outage began at 10
    await log.ib_restored(at=T0 + timedelta(seconds=40), data_lost=True)  # 1101
    first = await row(db, row_id)
    assert first.ib_unreachable_since is None
    assert first.ib_outage_seconds == pytest.approx(30)
    assert first.reconnections == 1

    await log.ib_unreachable(at=T0 + timedelta(seconds=100))
    await log.ib_restored(at=T0 + timedelta(seconds=102.5), data_lost=False)  # 1102
    second = await row(db, row_id)
    assert second.ib_outage_seconds == pytest.approx(32.5)
    assert second.reconnections == 2

    # The socket drops during a third outage: the outage ends with the socket.
    await log.ib_unreachable(at=T0 + timedelta(seconds=200))
    await log.closed(reason="socket_drop", at=T0 + timedelta(seconds=207.5))
    closed = await row(db, row_id)
    assert closed.ib_outage_seconds == pytest.approx(40)
    assert closed.ib_unreachable_since is None
    assert closed.reconnections == 2


async def test_calls_in_any_order_are_safe(db: Database, clock: Clock) -> None:
    log = make_log(db, clock)
    await log.closed(reason="shutdown", at=T0)  # nothing open: nothing happens
    await log.ib_unreachable(at=T0)
    await log.ib_restored(at=T0, data_lost=False)
    await log.flush()
    assert await rows(db) == []

    first = await log.opened(**ENDPOINT, at=T0)
    # Opened again without a close: the first connection ended when the second began.
    second = await log.opened(**ENDPOINT, at=T0 + timedelta(seconds=9))
    await log.closed(reason="takeover", at=T0 + timedelta(seconds=20))
    await log.closed(reason="shutdown", at=T0 + timedelta(seconds=30))  # twice: no-op

    written = await rows(db)
    assert [(r.id, r.disconnect_reason) for r in written] == [
        (first, "socket_drop"),
        (second, "takeover"),
    ]
    assert written[0].disconnected_at == T0 + timedelta(seconds=9)
    assert written[1].disconnected_at == T0 + timedelta(seconds=20)
    with pytest.raises(ValueError, match="tired"):
        await log.closed(reason="tired", at=T0)


async def test_a_database_hiccup_is_logged_and_written_later(db: Database, clock: Clock) -> None:
    flaky = Hiccups(db.sessionmaker)
    log = make_log(flaky, clock)
    flaky.down = True
    assert await log.opened(**ENDPOINT, at=T0) is None  # no exception: trading goes on
    log.note_orders_sent(2)
    await log.ib_unreachable(at=T0 + timedelta(seconds=1))
    await log.flush()
    assert flaky.calls > 0
    assert await rows(db) == []

    flaky.down = False
    await log.flush()  # the row is inserted now, with everything counted meanwhile
    row_id = log.current_id
    inserted = await row(db, row_id)
    assert inserted.connected_at == T0
    assert inserted.orders_sent == 2
    assert inserted.ib_unreachable_since == T0 + timedelta(seconds=1)

    flaky.down = True
    await log.closed(reason="shutdown", at=T0 + timedelta(seconds=60))
    assert (await row(db, row_id)).disconnected_at is None
    flaky.down = False
    await log.flush()  # the close is written at the next chance
    closed = await row(db, row_id)
    assert closed.disconnect_reason == "shutdown"
    assert closed.disconnected_at == T0 + timedelta(seconds=60)
    assert closed.ib_outage_seconds == pytest.approx(59)


async def test_a_connection_closed_before_its_row_was_written_is_written_whole(
    db: Database, clock: Clock
) -> None:
    flaky = Hiccups(db.sessionmaker)
    log = make_log(flaky, clock)
    flaky.down = True
    await log.opened(**ENDPOINT, at=T0)
    log.note_fills(3)
    await log.closed(reason="socket_drop", at=T0 + timedelta(seconds=5))
    flaky.down = False
    await log.opened(**ENDPOINT, at=T0 + timedelta(seconds=8))

    written = await rows(db)
    assert [(r.connected_at, r.disconnect_reason, r.fills_received) for r in written] == [
        (T0, "socket_drop", 3),
        (T0 + timedelta(seconds=8), None, 0),
    ]


async def test_a_flush_does_not_reopen_a_row_the_next_owner_closed(
    db: Database, clock: Clock
) -> None:
    old = make_log(db, clock, instance="111@host-a")
    old_id = await old.opened(**ENDPOINT, at=T0)
    # Another instance took the broker over before this one noticed it lost the lock.
    await make_log(db, clock, instance="222@host-b").opened(**ENDPOINT, at=clock.advance(10))
    await old.flush()
    assert (await row(db, old_id)).disconnect_reason == "api_crash"

    await old.closed(reason="takeover", at=T0 + timedelta(seconds=11))  # the real end
    ended = await row(db, old_id)
    assert ended.disconnect_reason == "takeover"
    assert ended.disconnected_at == T0 + timedelta(seconds=11)


async def test_the_background_task_flushes_on_its_interval_and_at_stop(
    db: Database, clock: Clock
) -> None:
    log = BrokerSessionLog(
        sessionmaker=db.sessionmaker, instance="4242@host-a", flush_interval=0.05, clock=clock
    )
    row_id = await log.opened(**ENDPOINT, at=T0)
    log.start()
    log.start()  # idempotent
    try:
        log.note_orders_sent(4)

        async def written() -> bool:
            return (await row(db, row_id)).orders_sent == 4

        await eventually(written, what="the periodic flush")
    finally:
        log.note_fills(6)
        await log.stop()
    assert (await row(db, row_id)).fills_received == 6


async def test_strings_are_stored_without_nul_and_within_their_columns(
    db: Database, clock: Clock
) -> None:
    log = make_log(db, clock, instance="1@" + "h" * 300)
    row_id = await log.opened(
        kind="ibkr",
        host="gate\x00way",
        port=None,
        server_version="1" * 40,
        account_id=None,
        at=T0,
    )
    stored = await row(db, row_id)
    assert stored.host == "gateway"
    assert stored.server_version == "1" * 32
    assert len(stored.instance) == 255
