"""A 405 names every method its path takes, whichever route Starlette tried first."""

from __future__ import annotations

import httpx
import pytest

from stocks_api.auth.settings import AuthSettings
from stocks_api.core.config import DatabaseSettings
from stocks_api.main import create_app
from stocks_api.settings import Settings


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("OPTIONS", "/api/v1/orders", "GET, POST, DELETE"),
        ("PUT", "/api/v1/orders/7", "GET, PATCH, DELETE"),
        ("OPTIONS", "/api/v1/positions/AAPL", "GET, DELETE"),
        ("PUT", "/api/v1/positions", "GET, DELETE"),
        ("PATCH", "/api/v1/auth/keys", "GET, POST"),
        ("GET", "/api/v1/risk/halt", "POST"),
        ("POST", "/health", "GET"),
    ],
)
async def test_allow_lists_every_method_of_the_path(method: str, path: str, allow: str) -> None:
    settings = Settings(
        database=DatabaseSettings(url="sqlite+aiosqlite:///:memory:"),
        auth=AuthSettings(bootstrap_admin_key=False),
    )
    transport = httpx.ASGITransport(app=create_app(settings))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        response = await http.request(method, path)
    assert response.status_code == 405
    assert response.headers["allow"] == allow
    assert response.json()["error"]["code"] == "METHOD_NOT_ALLOWED"
