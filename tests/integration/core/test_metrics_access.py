"""/metrics on the API's own port: open by default; METRICS_TOKEN and METRICS_ALLOW_IPS
close it to anyone without the token or outside the addresses."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from pydantic import SecretStr

from stocks_api.core.config import MetricsSettings
from stocks_api.main import create_app
from tests.conftest import make_settings, manual_sim_broker

TOKEN = "m" * 40


@asynccontextmanager
async def _app(database_url: str, **metrics: Any) -> AsyncIterator[Any]:
    settings = make_settings(database_url)
    settings.metrics = MetricsSettings(**metrics)
    app = create_app(settings, broker_factory=manual_sim_broker)
    async with app.router.lifespan_context(app):
        yield app


async def _scrape(app: Any, address: str = "127.0.0.1", token: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        return await http.get("/metrics", headers=headers)


async def test_metrics_are_open_when_nothing_is_set(database_url: str) -> None:
    async with _app(database_url) as app:
        for address in ("127.0.0.1", "203.0.113.9"):
            response = await _scrape(app, address)
            assert response.status_code == 200
            assert "api_requests_total" in response.text
        # A stray Authorization header (Prometheus sends an empty one) does no harm.
        assert (await _scrape(app, token="anything")).status_code == 200


async def test_a_token_closes_metrics_to_those_without_it(database_url: str) -> None:
    async with _app(database_url, token=SecretStr(TOKEN)) as app:
        missing = await _scrape(app)
        assert missing.status_code == 401
        assert missing.json()["error"]["code"] == "UNAUTHORIZED"
        assert missing.headers["www-authenticate"].startswith("Bearer")
        assert (await _scrape(app, token=TOKEN + "x")).status_code == 401
        assert (await _scrape(app, token=TOKEN[:-1])).status_code == 401
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            basic = await http.get("/metrics", auth=("prometheus", TOKEN))
            assert basic.status_code == 401  # only as a bearer token
            assert (await http.get("/health/live")).status_code == 200  # probes stay open
        ok = await _scrape(app, "203.0.113.9", token=TOKEN)
        assert ok.status_code == 200
        assert "api_requests_total" in ok.text


async def test_an_allow_list_closes_metrics_to_other_addresses(database_url: str) -> None:
    async with _app(database_url, allow_ips="127.0.0.1,172.29.71.0/24") as app:
        assert (await _scrape(app, "127.0.0.1")).status_code == 200
        assert (await _scrape(app, "172.29.71.3")).status_code == 200
        refused = await _scrape(app, "203.0.113.9")
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "FORBIDDEN"
        assert "203.0.113.9" in refused.json()["error"]["message"]
        assert (await _scrape(app, "::ffff:172.29.71.3")).status_code == 200  # IPv4 over IPv6
        assert (await _scrape(app, "testclient")).status_code == 403  # not an address


async def test_with_both_a_scrape_needs_both(database_url: str) -> None:
    async with _app(database_url, token=SecretStr(TOKEN), allow_ips="172.29.71.0/24") as app:
        assert (await _scrape(app, "172.29.71.3", TOKEN)).status_code == 200
        assert (await _scrape(app, "172.29.71.3")).status_code == 401
        assert (await _scrape(app, "203.0.113.9", TOKEN)).status_code == 403
