"""A real server on a loopback port and a real WebSocket client that checks `seq` as it reads."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from stocks_api.settings import Settings
from stocks_api.streaming.settings import StreamSettings
from tests.conftest import BROKERS, api_client, make_key, make_settings, running_app
from tests.redis_servers import free_port


def stream_settings(database_url: str, **stream: Any) -> Settings:
    """Test settings with WebSocket settings `stream` (e.g. queue_size=20)."""
    settings = make_settings(database_url)
    settings.stream = StreamSettings(**stream)
    return settings


@asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[str]:
    """Serve an app (whose lifespan already runs) with uvicorn; yield its ws:// base URL."""
    config = uvicorn.Config(
        app, host="127.0.0.1", port=free_port(), lifespan="off", log_level="warning"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        assert not task.done(), "uvicorn did not start"
        await asyncio.sleep(0.01)
    try:
        yield f"ws://127.0.0.1:{config.port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)


@asynccontextmanager
async def live_app(
    settings: Settings, broker_kind: str = "sim"
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient, str]]:
    """An app on `broker_kind`, an all-scope REST client and its ws:// URL."""
    async with running_app(settings, broker_kind) as app, serving(app) as base:
        key = await make_key(app)
        async with api_client(app, key) as http:
            http.headers["X-API-Key"] = key
            app.state.test_key = key
            yield app, http, base


class Stream:
    """One client connection: reads messages, asserting `seq` goes 1, 2, 3, ... without gaps
    (but the one a `resync` message skips)."""

    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection
        self.seq = 0
        self.received: list[dict[str, Any]] = []

    async def next(self, seconds: float = 5.0) -> dict[str, Any]:
        """The next message, whatever its type."""
        message: dict[str, Any] = json.loads(
            await asyncio.wait_for(self.connection.recv(), seconds)
        )
        # A resync skips one number on purpose: it stands for events lost on the way.
        step = 2 if message["type"] == "resync" else 1
        assert message["seq"] == self.seq + step, f"gap: {self.seq} then {message['seq']}"
        assert set(message) == {"type", "seq", "ts", "data"}
        self.seq = message["seq"]
        self.received.append(message)
        return message

    async def next_of(self, *types: str, seconds: float = 5.0) -> dict[str, Any]:
        """The next message of one of `types` (skipping others, such as quotes)."""
        deadline = asyncio.get_running_loop().time() + seconds
        while True:
            remaining = deadline - asyncio.get_running_loop().time()
            assert remaining > 0, f"no {types} message in {seconds} s"
            message = await self.next(remaining)
            if message["type"] in types:
                return message

    async def until(
        self, done: Callable[[dict[str, Any]], bool], *types: str, seconds: float = 5.0
    ) -> list[dict[str, Any]]:
        """Messages of `types` up to and including the first for which `done` holds."""
        messages = []
        deadline = asyncio.get_running_loop().time() + seconds
        while True:
            remaining = deadline - asyncio.get_running_loop().time()
            message = await self.next_of(*types, seconds=max(remaining, 0.001))
            messages.append(message)
            if done(message):
                return messages

    async def send(self, data: Any) -> None:
        await self.connection.send(data if isinstance(data, str) else json.dumps(data))

    async def subscribe(self, *channels: str) -> dict[str, Any]:
        await self.send({"op": "subscribe", "channels": list(channels)})
        return await self.next_of("subscribed", "error")

    async def closed_with(self, seconds: float = 5.0) -> int | None:
        """Read until the server closes; return the close code."""
        try:
            async with asyncio.timeout(seconds):
                while True:
                    await self.connection.recv()
        except ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd is not None else None


@asynccontextmanager
async def open_stream(url: str, **connect_args: Any) -> AsyncIterator[Stream]:
    """Connect to `url` (already carrying credentials as needed)."""
    async with connect(url, open_timeout=5, **connect_args) as connection:
        yield Stream(connection)


@asynccontextmanager
async def authenticated(base: str, key: str, **connect_args: Any) -> AsyncIterator[Stream]:
    """A stream authenticated with `key` in the query, past its `welcome` message."""
    async with open_stream(f"{base}/api/v1/ws?token={key}", **connect_args) as stream:
        welcome = await stream.next()
        assert welcome["type"] == "welcome", welcome
        yield stream


@pytest.fixture(params=BROKERS)
def broker_kind(request: pytest.FixtureRequest) -> str:
    """The stream's tests run on the simulated broker and through IB (gateway-sim)."""
    return str(request.param)


@pytest.fixture
async def live(
    clean_database: str, broker_kind: str
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient, str]]:
    async with live_app(make_settings(clean_database), broker_kind) as running:
        yield running
