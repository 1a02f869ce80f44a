"""Every /api/v1 route refuses callers without credentials; scopes decide the rest."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute
from sqlalchemy import select

from stocks_api.auth.models import ApiKey
from tests.conftest import api_client, make_key
from tests.factories import order_body

PUBLIC = {("POST", "/api/v1/auth/token")}
_PATH_VALUES = {"order_id": "1", "symbol": "AAPL", "account_id": "DU1234567"}


def _every_route(app: Any) -> list[tuple[str, set[str]]]:
    """(path template, methods) of every HTTP route, inside included routers too."""
    found = []
    for route in app.routes:
        if isinstance(route, APIRoute):
            found.append((route.path, set(route.methods)))
        elif hasattr(route, "effective_route_contexts"):  # FastAPI keeps included routers nested
            found.extend((c.path_format, set(c.methods)) for c in route.effective_route_contexts())
    return found


def _api_routes(app: Any) -> list[tuple[str, str]]:
    routes = []
    for template, methods in _every_route(app):
        if template.startswith("/api/v1"):
            path = re.sub(r"{(\w+)}", lambda m: _PATH_VALUES.get(m.group(1), "x"), template)
            routes.extend((method, path) for method in sorted(methods))
    # The walk sees everything the OpenAPI schema documents.
    documented = {
        (method.upper(), re.sub(r"{(\w+)}", lambda m: _PATH_VALUES.get(m.group(1), "x"), path))
        for path, item in app.openapi()["paths"].items()
        if path.startswith("/api/v1")
        for method in item
    }
    assert documented <= set(routes)
    return routes


async def test_every_api_route_needs_credentials(app: Any, anonymous: httpx.AsyncClient) -> None:
    routes = _api_routes(app)
    assert len(routes) > 20, routes  # the enumeration itself works
    for method, path in routes:
        if (method, path) in PUBLIC:
            continue
        response = await anonymous.request(method, path, json={})
        assert response.status_code == 401, f"{method} {path} answered {response.status_code}"
        assert response.json()["error"]["code"] == "UNAUTHORIZED"
        assert "Bearer" in response.headers["www-authenticate"]


@pytest.mark.parametrize(
    "key",
    ["nonsense", "stk_0123456789abcdef_wrong-secret", "stk_short_x", ""],
)
async def test_wrong_keys_are_refused(app: Any, key: str) -> None:
    async with api_client(app) as http:
        response = await http.get("/api/v1/orders", headers={"X-API-Key": key})
    assert response.status_code == 401


async def test_a_right_key_id_with_a_wrong_secret_is_refused(app: Any) -> None:
    key = await make_key(app)
    forged = key[: key.rindex("_") + 1] + "A" * 43
    async with api_client(app, forged) as http:
        assert (await http.get("/api/v1/orders")).status_code == 401
    async with api_client(app, key) as http:
        assert (await http.get("/api/v1/orders")).status_code == 200


async def test_a_read_key_reads_but_cannot_trade(app: Any) -> None:
    async with api_client(app, await make_key(app, "read")) as http:
        assert (await http.get("/api/v1/orders")).status_code == 200
        assert (await http.get("/api/v1/positions")).status_code == 200
        refused = await http.post("/api/v1/orders", json=order_body())
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "FORBIDDEN"
        assert "trade" in refused.json()["error"]["message"]
        assert (await http.delete("/api/v1/orders")).status_code == 403
        assert (await http.get("/api/v1/auth/keys")).status_code == 403
    async with api_client(app) as http:
        # nothing was placed
        assert (
            len(
                (
                    await http.get("/api/v1/orders", headers={"X-API-Key": await make_key(app)})
                ).json()["items"]
            )
            == 0
        )


async def test_a_trade_key_trades_and_only_admin_manages_keys(app: Any) -> None:
    async with api_client(app, await make_key(app, "trade")) as http:
        assert (await http.post("/api/v1/orders", json=order_body())).status_code == 201
        assert (await http.get("/api/v1/orders")).status_code == 403  # reading needs read
        assert (
            await http.post("/api/v1/auth/keys", json={"name": "x", "scopes": ["read"]})
        ).status_code == 403
    async with api_client(app, await make_key(app, "admin")) as http:
        assert (await http.get("/api/v1/auth/keys")).status_code == 200
        assert (await http.post("/api/v1/orders", json=order_body())).status_code == 403


async def test_keys_are_created_listed_and_revoked_through_the_api(app: Any) -> None:
    async with api_client(app, await make_key(app, "admin")) as admin:
        created = await admin.post("/api/v1/auth/keys", json={"name": "bot", "scopes": ["read"]})
        assert created.status_code == 201, created.text
        body = created.json()
        new_key = body["key"]
        assert body["scopes"] == ["read"]
        assert new_key.startswith("stk_")
        listed = (await admin.get("/api/v1/auth/keys")).json()
        assert all("key" not in item and "secret_hash" not in item for item in listed)
        async with api_client(app, new_key) as bot:
            assert (await bot.get("/api/v1/orders")).status_code == 200
            revoked = await admin.delete(f"/api/v1/auth/keys/{body['key_id']}")
            assert revoked.status_code == 200
            assert revoked.json()["revoked_at"]
            after = await bot.get("/api/v1/orders")
            assert after.status_code == 401
        missing = await admin.delete("/api/v1/auth/keys/doesnotexist")
        assert missing.status_code == 404
        bad = await admin.post("/api/v1/auth/keys", json={"name": "x", "scopes": ["root"]})
        assert bad.status_code == 422
    async with app.state.db.sessionmaker() as session:
        stored = list(await session.scalars(select(ApiKey.secret_hash)))
    assert new_key.split("_", 2)[2] not in stored  # only a hash is kept
    assert all(len(value) == 64 for value in stored)


async def test_the_app_sends_security_headers_and_caps_bodies(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/orders")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    huge = await client.post(
        "/api/v1/orders",
        content=b"{" + b" " * 70000 + b"}",
        headers={"content-type": "application/json"},
    )
    assert huge.status_code == 413
    assert huge.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"
    assert (await client.get("/api/v1/orders")).json()["items"] == []
