"""BrokerSessionLog without a database: counting costs nothing, and no failure escapes."""

from __future__ import annotations

import asyncio
import os
import socket
from datetime import UTC, datetime
from typing import Any

import pytest

from stocks_api.connection.models import DisconnectReason
from stocks_api.connection.sessions import BrokerSessionLog, this_instance

T0 = datetime(2026, 12, 1, 14, 30, tzinfo=UTC)
ENDPOINT: dict[str, Any] = {
    "kind": "sim",
    "host": None,
    "port": None,
    "server_version": None,
    "account_id": "DU1234567",
}


class DeadDatabase:
    """A sessionmaker for a database that is down: every session fails, and is counted."""

    def __init__(self, error: BaseException | None = None) -> None:
        self.calls = 0
        self.error = error or OSError("connection refused")

    def __call__(self) -> Any:
        self.calls += 1
        raise self.error


class HangingDatabase:
    """A sessionmaker whose sessions never answer."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> Any:
        self.calls += 1
        return self

    async def __aenter__(self) -> Any:
        await asyncio.Event().wait()

    async def __aexit__(self, *exc: object) -> None:
        return None


def make_log(db: Any, **kwargs: Any) -> BrokerSessionLog:
    return BrokerSessionLog(sessionmaker=db, instance="1@host", **kwargs)


def test_this_instance_is_pid_at_host() -> None:
    assert this_instance() == f"{os.getpid()}@{socket.gethostname()}"


async def test_counting_never_touches_the_database() -> None:
    db = DeadDatabase()
    log = make_log(db)
    for _ in range(1000):
        log.note_orders_sent()
        log.note_fills(2)
    assert db.calls == 0


async def test_nothing_open_means_nothing_written() -> None:
    db = DeadDatabase()
    log = make_log(db)
    await log.closed(reason="shutdown", at=T0)
    await log.closed(reason=DisconnectReason.TAKEOVER, at=T0)
    await log.ib_unreachable(at=T0)
    await log.ib_restored(at=T0, data_lost=True)
    await log.flush()
    await log.stop()  # never started
    assert db.calls == 0
    assert log.current_id is None


async def test_a_database_that_is_down_never_raises() -> None:
    db = DeadDatabase()
    log = make_log(db)
    assert await log.opened(**ENDPOINT, at=T0) is None
    log.note_orders_sent()
    await log.ib_unreachable(at=T0)
    await log.ib_restored(at=T0, data_lost=False)
    await log.flush()
    await log.closed(reason="socket_drop", at=T0)
    await log.closed(reason="socket_drop", at=T0)
    assert db.calls >= 5  # each was tried


async def test_a_database_that_hangs_is_given_up_after_the_write_timeout() -> None:
    db = HangingDatabase()
    log = make_log(db, write_timeout=0.05)
    async with asyncio.timeout(2):
        assert await log.opened(**ENDPOINT, at=T0) is None
        await log.closed(reason="shutdown", at=T0)
    assert db.calls == 2


async def test_the_background_flush_outlives_failures_and_stops() -> None:
    db = DeadDatabase()
    log = make_log(db, flush_interval=0.01)
    await log.opened(**ENDPOINT, at=T0)
    log.start()
    await asyncio.sleep(0.1)
    await log.stop()
    calls = db.calls
    assert calls > 3  # kept trying on its interval
    await asyncio.sleep(0.05)
    assert db.calls == calls  # and stopped


async def test_an_unknown_reason_or_a_naive_time_is_a_programming_error() -> None:
    db = DeadDatabase()
    log = make_log(db)
    with pytest.raises(ValueError, match="lunch"):
        await log.closed(reason="lunch", at=T0)
    naive = T0.replace(tzinfo=None)
    with pytest.raises(ValueError, match="naive"):
        await log.opened(**ENDPOINT, at=naive)
    with pytest.raises(ValueError, match="naive"):
        await log.closed(reason="shutdown", at=naive)
    with pytest.raises(ValueError, match="naive"):
        await log.ib_unreachable(at=naive)
    with pytest.raises(ValueError, match="naive"):
        await log.ib_restored(at=naive, data_lost=False)
    assert db.calls == 0
    assert {reason.value for reason in DisconnectReason} == {
        "socket_drop",
        "shutdown",
        "takeover",
        "api_crash",
    }
