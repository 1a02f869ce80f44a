"""The service frame: request ids, the error envelope for the unexpected, probes, metrics, logs."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY

from stocks_api.broker.protocol import Contract
from stocks_api.broker.sim.broker import SimBroker
from stocks_api.core.config import DatabaseSettings
from stocks_api.core.database import Database
from stocks_api.core.dependencies import get_database
from stocks_api.main import create_app
from stocks_api.settings import Settings
from tests.conftest import api_client, make_key, manual_sim_broker
from tests.factories import count_orders, order_body


async def test_request_id_is_generated_and_echoed(client: httpx.AsyncClient) -> None:
    generated = await client.get("/health/live")
    assert len(generated.headers["x-request-id"]) == 32
    echoed = await client.get("/health/live", headers={"X-Request-ID": "my-trace.42"})
    assert echoed.headers["x-request-id"] == "my-trace.42"
    # An id unsafe for logs and headers is replaced, not echoed.
    unsafe = await client.get("/health/live", headers={"X-Request-ID": "a\tb" + "x" * 200})
    assert unsafe.headers["x-request-id"] != "a\tb" + "x" * 200
    error = await client.get("/api/v1/orders/424242", headers={"X-Request-ID": "req-7"})
    assert error.json()["error"]["request_id"] == "req-7"
    assert error.headers["x-request-id"] == "req-7"


class ExplodingBroker(SimBroker):
    async def contract(self, symbol: str) -> Contract | None:
        raise RuntimeError("secret internals /etc/passwd")


async def test_unexpected_error_is_a_500_envelope_without_internals(settings: Settings) -> None:
    app = create_app(settings, broker_factory=lambda s: ExplodingBroker(s.sim, tick=False))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        headers = {"X-API-Key": await make_key(app)}
        async with httpx.AsyncClient(
            transport=transport, base_url="http://test", headers=headers
        ) as http:
            response = await http.post("/api/v1/orders", json=order_body())
    assert response.status_code == 500
    body = response.json()
    assert body["error"]["code"] == "INTERNAL"
    assert body["error"]["request_id"] == response.headers["x-request-id"]
    assert "secret" not in response.text
    assert "Traceback" not in response.text


async def test_health_reports_each_dependency(client: httpx.AsyncClient) -> None:
    health = (await client.get("/health")).json()
    assert health["status"] == "ok"
    assert health["checks"]["database"]["status"] == "up"
    assert health["checks"]["broker"] == {
        "status": "up",
        "kind": "sim",
        "latency_ms": health["checks"]["broker"]["latency_ms"],
    }
    assert (await client.get("/health/ready")).status_code == 200
    assert (await client.get("/health/live")).json() == {"status": "ok"}


async def test_ready_is_503_when_the_broker_is_down(app: Any, client: httpx.AsyncClient) -> None:
    await app.state.broker.close()
    ready = await client.get("/health/ready")
    assert ready.status_code == 503
    assert ready.json()["checks"]["broker"]["status"] == "down"
    assert (await client.get("/health/live")).status_code == 200
    # Trading without a broker is a clear 503, and no order is left pending.
    order = await client.post("/api/v1/orders", json=order_body())
    assert order.status_code == 503
    assert order.json()["error"]["code"] == "BROKER_UNAVAILABLE"
    assert await count_orders(client) == 0


async def test_ready_is_503_when_the_database_is_down(app: Any, client: httpx.AsyncClient) -> None:
    unreachable = Database(DatabaseSettings(url="postgresql+asyncpg://nobody@127.0.0.1:1/none"))
    app.dependency_overrides[get_database] = lambda: unreachable
    try:
        ready = await client.get("/health/ready")
    finally:
        app.dependency_overrides.clear()
        await unreachable.dispose()
    assert ready.status_code == 503
    assert ready.json()["checks"]["database"]["status"] == "down"


async def test_metrics_expose_the_named_series(client: httpx.AsyncClient) -> None:
    await client.post("/api/v1/orders", json=order_body())
    await client.get("/api/v1/orders/424242")
    text = (await client.get("/metrics")).text
    for name in (
        "api_requests_total",
        "api_request_duration_seconds_bucket",
        "api_errors_total",
        "orders_total",
        "order_latency_seconds_bucket",
    ):
        assert name in text, name
    assert 'orders_total{side="buy",status="filled",type="market"}' in text
    assert 'api_errors_total{code="ORDER_NOT_FOUND",status="404"}' in text
    assert 'route="/api/v1/orders/{order_id}"' in text


async def test_logs_are_json_with_request_and_order_ids(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    settings.log.level = "INFO"
    app = create_app(settings, broker_factory=manual_sim_broker)
    async with app.router.lifespan_context(app), api_client(app, await make_key(app)) as http:
        response = await http.post(
            "/api/v1/orders",
            json=order_body(client_order_id="log-1"),
            headers={"X-Request-ID": "log-req"},
        )
    lines = [
        json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")
    ]
    request_line = next(line for line in lines if line.get("event") == "request")
    assert request_line["request_id"] == "log-req"
    assert request_line["client_order_id"] == "log-1"
    assert request_line["order_id"] == response.json()["id"]
    assert request_line["status"] == 201


async def test_openapi_docs_are_served(client: httpx.AsyncClient) -> None:
    assert (await client.get("/docs")).status_code == 200
    schema = (await client.get("/openapi.json")).json()
    assert schema["paths"]["/api/v1/orders"]["post"]["operationId"] == "orders-place_order"


async def test_orders_sent_are_counted_on_the_simulated_broker_too(
    client: httpx.AsyncClient,
) -> None:
    # The counter was IbkrBroker's own: on the simulated broker it stayed 0 (an empty panel).
    before = REGISTRY.get_sample_value("broker_orders_sent_total") or 0.0
    assert (await client.post("/api/v1/orders", json=order_body())).status_code == 201
    assert REGISTRY.get_sample_value("broker_orders_sent_total") == before + 1
