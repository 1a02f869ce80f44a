"""GET /api/v1/broker/sessions and the current session in GET /api/v1/broker."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from stocks_api.connection.sessions import BrokerSessionLog
from stocks_api.core.dependencies import get_session
from tests.conftest import api_client, make_key

T0 = datetime(2026, 12, 1, 14, 30, tzinfo=UTC)


def session_log(app: Any, instance: str = "4242@host-a") -> BrokerSessionLog:
    """A recorder on the app's own database, as the owner's would be."""
    return BrokerSessionLog(sessionmaker=app.state.db.sessionmaker, instance=instance)


async def record(log: BrokerSessionLog, at: datetime, reason: str | None, **fields: Any) -> int:
    """Write one session: opened at `at`, and closed a minute later with `reason` if given."""
    endpoint = {
        "kind": "ibkr",
        "host": "127.0.0.1",
        "port": 4002,
        "server_version": "178",
        "account_id": "DU1234567",
    }
    row_id = await log.opened(**{**endpoint, **fields}, at=at)
    assert row_id is not None
    if reason is not None:
        await log.closed(reason=reason, at=at + timedelta(minutes=1))
    return row_id


async def all_ids(client: httpx.AsyncClient) -> list[int]:
    response = await client.get("/api/v1/broker/sessions", params={"limit": 500})
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


async def test_sessions_page_newest_first_with_a_working_cursor(
    app: Any, client: httpx.AsyncClient
) -> None:
    earlier = await all_ids(client)  # whatever the app itself recorded at start
    log = session_log(app)
    first = await record(log, T0, "socket_drop")
    second = await record(log, T0 + timedelta(hours=1), "takeover")
    third = await record(log, T0 + timedelta(hours=2), None, server_version="176")
    log.note_orders_sent(3)
    log.note_fills(1)
    await log.flush()

    page = await client.get("/api/v1/broker/sessions", params={"limit": 2})
    assert page.status_code == 200, page.text
    body = page.json()
    assert [item["id"] for item in body["items"]] == [third, second]
    newest = body["items"][0]
    assert newest == {
        "id": third,
        "kind": "ibkr",
        "host": "127.0.0.1",
        "port": 4002,
        "server_version": "176",
        "account_id": "DU1234567",
        "instance": "4242@host-a",
        "connected_at": "2026-12-01T16:30:00Z",
        "disconnected_at": None,
        "disconnect_reason": None,
        "orders_sent": 3,
        "fills_received": 1,
        "reconnections": 0,
        "ib_outage_seconds": 0.0,
        "ib_unreachable_since": None,
        "last_seen_at": newest["last_seen_at"],
    }
    assert datetime.fromisoformat(newest["last_seen_at"]).tzinfo is not None
    assert body["items"][1]["disconnect_reason"] == "takeover"
    assert body["items"][1]["disconnected_at"] == "2026-12-01T15:31:00Z"
    assert body["next_cursor"]

    rest = await client.get(
        "/api/v1/broker/sessions", params={"limit": 2, "cursor": body["next_cursor"]}
    )
    assert rest.status_code == 200, rest.text
    ids = [item["id"] for item in rest.json()["items"]]
    assert ids[0] == first
    assert rest.json()["items"][0]["disconnect_reason"] == "socket_drop"
    seen = [third, second, *ids]
    cursor = rest.json()["next_cursor"]
    while cursor:  # the app's own rows, if any, follow
        more = (
            await client.get("/api/v1/broker/sessions", params={"limit": 2, "cursor": cursor})
        ).json()
        seen += [item["id"] for item in more["items"]]
        cursor = more["next_cursor"]
    assert seen == sorted({*earlier, first, second, third}, reverse=True)


@pytest.mark.parametrize(
    "query",
    [
        "cursor=not-a-cursor",
        "cursor=%%%",
        "cursor=%00",
        "cursor=aWQ6MQ%00",
        "cursor=" + "x" * 201,
        "cursor=aWQ6LTE",  # "id:-1"
        "limit=0",
        "limit=501",
        "limit=ten",
        "limit=%00",
        "since=yesterday",  # unknown parameters are refused, not ignored
    ],
)
async def test_bad_queries_are_422_envelopes(client: httpx.AsyncClient, query: str) -> None:
    response = await client.get(f"/api/v1/broker/sessions?{query}")
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert set(error) == {"code", "message", "details", "request_id"}


async def test_sessions_need_a_credential_and_read_is_enough(
    app: Any, anonymous: httpx.AsyncClient
) -> None:
    refused = await anonymous.get("/api/v1/broker/sessions")
    assert refused.status_code == 401, refused.text
    assert refused.json()["error"]["code"] == "UNAUTHORIZED"
    assert (await anonymous.get("/api/v1/broker")).status_code == 401

    async with api_client(app, await make_key(app, "read", name="reader")) as reader:
        response = await reader.get("/api/v1/broker/sessions")
        assert response.status_code == 200, response.text
        assert set(response.json()) == {"items", "next_cursor"}


async def test_the_broker_shows_its_current_session(app: Any, client: httpx.AsyncClient) -> None:
    log = session_log(app)
    # A past session, closed: then nothing is open (the app's own leftover is swept too).
    await record(log, T0, "shutdown")
    status = await client.get("/api/v1/broker")
    assert status.status_code == 200, status.text
    assert status.json()["session"] is None
    assert status.json()["kind"] == "sim"  # the rest of the answer is unchanged

    current = await record(log, T0 + timedelta(hours=1), None, account_id="DU7654321")
    await log.ib_unreachable(at=T0 + timedelta(hours=1, minutes=5))
    log.note_orders_sent(2)
    await log.flush()
    shown = (await client.get("/api/v1/broker")).json()["session"]
    assert shown["id"] == current
    assert shown["account_id"] == "DU7654321"
    assert shown["server_version"] == "178"
    assert shown["connected_at"] == "2026-12-01T15:30:00Z"
    assert shown["disconnected_at"] is None
    assert shown["orders_sent"] == 2
    assert shown["ib_unreachable_since"] == "2026-12-01T15:35:00Z"

    await log.closed(reason="socket_drop", at=T0 + timedelta(hours=2))
    assert (await client.get("/api/v1/broker")).json()["session"] is None


async def test_the_broker_answers_without_its_session_when_the_database_cannot(
    app: Any, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    await record(session_log(app), T0, None)  # a session is open, but cannot be read
    unreachable = create_async_engine(f"sqlite+aiosqlite:///{tmp_path}/missing/dir/x.db")

    async def broken_session() -> AsyncIterator[AsyncSession]:
        async with async_sessionmaker(unreachable)() as session:
            yield session

    app.dependency_overrides[get_session] = broken_session
    try:
        response = await client.get("/api/v1/broker")
    finally:
        del app.dependency_overrides[get_session]
        await unreachable.dispose()
    assert response.status_code == 200, response.text
    assert response.json()["connected"] is True
    assert response.json()["session"] is None
    assert (await client.get("/api/v1/broker")).json()["session"] is not None
