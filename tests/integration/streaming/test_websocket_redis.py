"""The stream over Redis: two API processes share events; Redis restarting mid-stream."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import make_settings
from tests.factories import place
from tests.integration.streaming.conftest import Stream, authenticated, live_app
from tests.redis_servers import private_redis, shared_redis_url


async def _life_of(stream: Stream, order_id: int) -> list[dict[str, Any]]:
    """The order's updates on the stream until it is filled (other orders' are skipped)."""
    messages = await stream.until(
        lambda m: m["data"]["id"] == order_id and m["data"]["status"] == "filled",
        "order.updated",
        seconds=10,
    )
    return [m for m in messages if m["data"]["id"] == order_id]


async def test_an_order_placed_on_one_api_process_streams_from_another(
    clean_database: str,
) -> None:
    url = shared_redis_url()
    first, second = make_settings(clean_database), make_settings(clean_database)
    first.redis_url = second.redis_url = url
    async with live_app(first) as (_, http, _), live_app(second) as (other, _, other_base):  # noqa: SIM117
        async with authenticated(other_base, other.state.test_key) as stream:
            await stream.subscribe("orders", "fills")
            order = await place(http, qty="3")
            life = await _life_of(stream, order["id"])
            statuses = [m["data"]["status"] for m in life]
            assert statuses[0] == "pending_submit"
            assert statuses[-1] == "filled"
            assert any(
                m["type"] == "fill.created" and m["data"]["order_id"] == order["id"]
                for m in stream.received
            )


async def _bus_status(http: httpx.AsyncClient) -> str:
    status: str = (await http.get("/health")).json()["checks"]["bus"]["status"]
    return status


async def _until_bus(http: httpx.AsyncClient, wanted: str, seconds: float = 15.0) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while await _bus_status(http) != wanted:
        assert asyncio.get_running_loop().time() < deadline, f"bus never became {wanted}"
        await asyncio.sleep(0.05)


async def test_the_stream_survives_redis_restarting_and_tells_the_client_to_resync(
    clean_database: str, tmp_path: Path
) -> None:
    with private_redis(tmp_path) as redis:
        settings = make_settings(clean_database)
        settings.redis_url = redis.url
        async with live_app(settings) as (app, http, base):  # noqa: SIM117 - needs `base`
            async with authenticated(base, app.state.test_key) as stream:
                await stream.subscribe("orders")
                lives = [await _life_of(stream, (await place(http, qty="1"))["id"])]

                redis.stop()
                await _until_bus(http, "degraded")
                order = await place(http, qty="1")  # trading goes on without Redis
                lives.append(await _life_of(stream, order["id"]))

                redis.start()  # same port: the bus reconnects by itself
                await _until_bus(http, "up")
                # Other processes' events of the outage are lost to us: the client is told.
                resync = await stream.next_of("resync")
                assert resync["data"] == {"reason": "the event bus reconnected"}
                lives.append(await _life_of(stream, (await place(http, qty="1"))["id"]))

                for life in lives:
                    assert life[0]["data"]["status"] == "pending_submit"
                    assert life[-1]["data"]["status"] == "filled"
                    payloads = [m["data"] for m in life]
                    assert all(a != b for a, b in itertools.pairwise(payloads))
                # `Stream` checked every seq on the way: 1, 2, 3, ... with no gap but the
                # one the resync skips.
                assert stream.seq == stream.received[-1]["seq"]
