"""The Redis event bus against real Redis: channels, two processes' buses, Redis going away."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from typing import Any

import httpx
from redis.asyncio import Redis

from stocks_api.events.bus import GAP_TOPIC, Event
from stocks_api.events.redis_bus import RedisEventBus
from stocks_api.main import create_app
from tests.conftest import api_client, make_key, make_settings, manual_sim_broker
from tests.factories import order_body
from tests.redis_servers import private_redis, shared_redis_url


async def _next(queue: asyncio.Queue[Event], seconds: float = 3.0) -> Event:
    return await asyncio.wait_for(queue.get(), seconds)


async def _until(condition: Any, seconds: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def test_events_go_out_on_documented_channels_as_resource_json() -> None:
    url = shared_redis_url()
    bus = RedisEventBus(url)
    outsider = Redis.from_url(url)  # another program, as redis-cli would be
    pubsub = outsider.pubsub(ignore_subscribe_messages=True)
    await pubsub.psubscribe("stocks:*")
    await bus.start()
    try:
        assert bus.status()["status"] == "up"
        queue = bus.subscribe()
        marker = uuid.uuid4().hex
        await bus.publish("order.updated", {"id": 1, "status": "filled", "marker": marker})
        topic, data = await _next(queue)
        assert (topic, data["marker"]) == ("order.updated", marker)
        message: dict[str, Any] | None = None
        deadline = asyncio.get_running_loop().time() + 5
        while message is None or json.loads(message["data"]).get("marker") != marker:
            assert asyncio.get_running_loop().time() < deadline, "the outsider saw nothing"
            message = await pubsub.get_message(timeout=1)  # None for the subscribe reply
        assert message["channel"] == b"stocks:order.updated"
        assert json.loads(message["data"]) == {"id": 1, "status": "filled", "marker": marker}
    finally:
        await bus.close()
        await pubsub.aclose()
        await outsider.aclose()


async def test_an_event_from_one_process_reaches_the_subscribers_of_another() -> None:
    url = shared_redis_url()
    first, second = RedisEventBus(url), RedisEventBus(url)
    await first.start()
    await second.start()
    try:
        theirs, ours = second.subscribe(), first.subscribe()
        marker = uuid.uuid4().hex
        await first.publish("fill.created", {"marker": marker})
        for queue in (theirs, ours):
            topic, data = await _next(queue)
            assert (topic, data) == ("fill.created", {"marker": marker})
    finally:
        await first.close()
        await second.close()


async def test_without_redis_events_still_reach_this_process_and_the_bus_recovers(
    tmp_path: Path,
) -> None:
    with private_redis(tmp_path) as server:
        bus, other = RedisEventBus(server.url), RedisEventBus(server.url)
        await bus.start()
        await other.start()
        try:
            queue, remote = bus.subscribe(), other.subscribe()
            server.stop()
            await _until(lambda: bus.status()["status"] == "degraded")
            assert "error" in bus.status()
            await bus.publish("order.updated", {"n": 1})  # never raises
            assert await _next(queue) == ("order.updated", {"n": 1})

            server.start()  # same port: the listeners reconnect by themselves
            await _until(lambda: bus.status()["status"] == other.status()["status"] == "up")
            # Each process learns that what others published meanwhile is lost to it.
            gap = (GAP_TOPIC, {"reason": "the event bus reconnected"})
            assert await _next(queue) == gap
            assert await _next(remote) == gap
            await bus.publish("order.updated", {"n": 2})
            assert await _next(queue) == ("order.updated", {"n": 2})
            assert await _next(remote) == ("order.updated", {"n": 2})
            assert queue.empty()  # delivered once, not twice
        finally:
            await bus.close()
            await other.close()


async def test_the_api_publishes_through_redis_and_reports_the_bus(clean_database: str) -> None:
    settings = make_settings(clean_database)
    settings.redis_url = shared_redis_url()
    app = create_app(settings, broker_factory=manual_sim_broker)
    async with app.router.lifespan_context(app):
        listener = RedisEventBus(settings.redis_url)  # a second API process, in effect
        await listener.start()
        try:
            queue = listener.subscribe()
            http: httpx.AsyncClient
            async with api_client(app, await make_key(app)) as http:
                health = (await http.get("/health")).json()
                assert health["checks"]["bus"] == {
                    "status": "up",
                    "kind": "redis",
                    "channels": "stocks:*",
                }
                order = (await http.post("/api/v1/orders", json=order_body())).json()
                seen: dict[str, list[dict[str, Any]]] = {}
                while (
                    "fill.created" not in seen
                    or seen.get("order.updated", [{}])[-1].get("status") != "filled"
                ):
                    topic, data = await _next(queue)
                    if data.get("order_id", data.get("id")) == order["id"]:
                        seen.setdefault(topic, []).append(data)
                assert seen["fill.created"][0]["order_id"] == order["id"]
                metrics = (await http.get("/metrics")).text
                assert 'events_published_total{topic="order.updated"}' in metrics
                assert 'redis_operations_total{operation="publish",result="ok"}' in metrics
        finally:
            await listener.close()
