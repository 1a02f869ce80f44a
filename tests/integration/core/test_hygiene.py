"""HTTP hygiene: security headers, the request-body limit and CORS for configured origins."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

import httpx
import pytest
from fastapi import Body, FastAPI, Request
from fastapi.responses import JSONResponse
from prometheus_client import REGISTRY

from stocks_api.core.config import ApiSettings
from stocks_api.core.handlers import install_exception_handlers
from stocks_api.core.hygiene import install_hygiene
from stocks_api.core.middleware import RequestContextMiddleware

LIMIT = 1024
UI_ORIGIN = "http://localhost:5173"
FOREIGN_ORIGIN = "https://evil.example"
OCTETS = {"Content-Type": "application/octet-stream"}
SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
}


def build_app(settings: ApiSettings) -> FastAPI:
    """A tiny app wired like create_app; `app.state.echoed` counts the echo handler's runs."""
    app = FastAPI()
    app.state.echoed = 0
    install_exception_handlers(app)
    install_hygiene(app, settings)
    app.add_middleware(RequestContextMiddleware)

    @app.post("/api/v1/echo")
    async def echo(payload: Annotated[bytes, Body(media_type="application/octet-stream")]) -> Any:
        app.state.echoed += 1
        return {"length": len(payload)}

    @app.post("/api/v1/lenient")
    async def lenient(request: Request) -> Any:
        # Swallows a failed read and answers as if all were well.
        try:
            await request.body()
        except Exception:
            return {"ok": True}
        return {"ok": True}

    @app.get("/api/v1/ping")
    async def ping() -> Any:
        return {"pong": True}

    @app.get("/api/v1/cached")
    async def cached() -> Any:
        return JSONResponse(
            {"cached": True},
            headers={"Cache-Control": "max-age=60", "X-Frame-Options": "SAMEORIGIN"},
        )

    @app.get("/health/live")
    async def live() -> Any:
        return {"status": "ok"}

    return app


async def _client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


@pytest.fixture
def app() -> FastAPI:
    return build_app(
        ApiSettings(cors_origins=f"{UI_ORIGIN}, http://127.0.0.1:8080", max_body_bytes=LIMIT)
    )


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async for http in _client(app):
        yield http


@pytest.fixture
async def no_cors_client() -> AsyncIterator[httpx.AsyncClient]:
    async for http in _client(build_app(ApiSettings(cors_origins="", max_body_bytes=LIMIT))):
        yield http


def chunked(sizes: list[int], sent: list[int] | None = None) -> Any:
    """A streamed body (httpx sends it chunked, without Content-Length)."""

    async def body() -> AsyncIterator[bytes]:
        for size in sizes:
            if sent is not None:
                sent.append(size)
            yield b"x" * size

    return body()


def too_large_errors() -> float:
    value = REGISTRY.get_sample_value(
        "api_errors_total", {"code": "PAYLOAD_TOO_LARGE", "status": "413"}
    )
    return value or 0.0


def assert_security_headers(response: httpx.Response) -> None:
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value, name


def assert_too_large(response: httpx.Response) -> None:
    assert response.status_code == 413
    error = response.json()["error"]
    assert error["code"] == "PAYLOAD_TOO_LARGE"
    assert str(LIMIT) in error["message"]
    assert error["request_id"] == response.headers["x-request-id"]
    assert_security_headers(response)


async def test_security_headers_on_success_and_not_found(client: httpx.AsyncClient) -> None:
    ok = await client.get("/api/v1/ping")
    assert ok.status_code == 200
    assert_security_headers(ok)
    assert ok.headers["cache-control"] == "no-store"

    missing = await client.get("/api/v1/nothing-here")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "NOT_FOUND"
    assert_security_headers(missing)
    assert missing.headers["cache-control"] == "no-store"


async def test_security_headers_keep_what_a_response_set(client: httpx.AsyncClient) -> None:
    cached = await client.get("/api/v1/cached")
    assert cached.headers.get_list("cache-control") == ["max-age=60"]
    assert cached.headers.get_list("x-frame-options") == ["SAMEORIGIN"]
    assert cached.headers["x-content-type-options"] == "nosniff"


async def test_no_store_outside_api_too(client: httpx.AsyncClient) -> None:
    # The probes (and /metrics, /openapi.json, /docs: test_cache_control.py) as well.
    live = await client.get("/health/live")
    assert_security_headers(live)
    assert live.headers["cache-control"] == "no-store"


async def test_declared_large_body_is_refused_before_the_app_runs(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    before = too_large_errors()
    response = await client.post(
        "/api/v1/echo",
        content=b"x" * (LIMIT + 1),
        headers={**OCTETS, "X-Request-ID": "big-1"},
    )
    assert_too_large(response)
    assert response.json()["error"]["request_id"] == "big-1"
    assert response.headers["cache-control"] == "no-store"
    assert app.state.echoed == 0
    assert too_large_errors() == before + 1


async def test_chunked_large_body_is_refused_while_it_streams(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    before = too_large_errors()
    sent: list[int] = []
    response = await client.post("/api/v1/echo", content=chunked([512] * 100, sent), headers=OCTETS)
    assert "content-length" not in response.request.headers
    assert_too_large(response)
    assert app.state.echoed == 0
    # Reading stopped at the chunk that passed the limit.
    assert sum(sent) <= LIMIT + 512
    assert too_large_errors() == before + 1


async def test_swallowed_overflow_is_still_a_413(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/lenient", content=chunked([LIMIT, 1]), headers=OCTETS)
    assert_too_large(response)


async def test_body_at_exactly_the_limit_passes(app: FastAPI, client: httpx.AsyncClient) -> None:
    declared = await client.post("/api/v1/echo", content=b"x" * LIMIT, headers=OCTETS)
    assert declared.status_code == 200
    assert declared.json() == {"length": LIMIT}
    streamed = await client.post("/api/v1/echo", content=chunked([LIMIT - 24, 24]), headers=OCTETS)
    assert streamed.status_code == 200
    assert streamed.json() == {"length": LIMIT}
    assert app.state.echoed == 2


async def test_allowed_origin_gets_cors_on_preflight_simple_and_413(
    client: httpx.AsyncClient,
) -> None:
    preflight = await client.options(
        "/api/v1/echo",
        headers={
            "Origin": UI_ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "X-API-Key, Content-Type",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == UI_ORIGIN
    assert "POST" in preflight.headers["access-control-allow-methods"]
    assert "x-api-key" in preflight.headers["access-control-allow-headers"].lower()
    assert "access-control-allow-credentials" not in preflight.headers
    assert_security_headers(preflight)
    assert "x-request-id" in preflight.headers

    simple = await client.get("/api/v1/ping", headers={"Origin": UI_ORIGIN})
    assert simple.headers["access-control-allow-origin"] == UI_ORIGIN
    assert simple.headers["access-control-expose-headers"] == "X-Request-ID"
    assert "access-control-allow-credentials" not in simple.headers

    # A browser can read why its upload was refused.
    refused = await client.post(
        "/api/v1/echo", content=b"x" * (LIMIT + 1), headers={**OCTETS, "Origin": UI_ORIGIN}
    )
    assert_too_large(refused)
    assert refused.headers["access-control-allow-origin"] == UI_ORIGIN


async def test_foreign_origin_gets_no_cors(client: httpx.AsyncClient) -> None:
    preflight = await client.options(
        "/api/v1/echo",
        headers={"Origin": FOREIGN_ORIGIN, "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in preflight.headers
    assert_security_headers(preflight)
    simple = await client.get("/api/v1/ping", headers={"Origin": FOREIGN_ORIGIN})
    assert simple.status_code == 200
    assert "access-control-allow-origin" not in simple.headers


async def test_no_configured_origins_means_no_cors(no_cors_client: httpx.AsyncClient) -> None:
    preflight = await no_cors_client.options(
        "/api/v1/echo",
        headers={"Origin": UI_ORIGIN, "Access-Control-Request-Method": "POST"},
    )
    assert preflight.status_code == 405
    assert not any(name.startswith("access-control-") for name in preflight.headers)
    assert_security_headers(preflight)
    simple = await no_cors_client.get("/api/v1/ping", headers={"Origin": UI_ORIGIN})
    assert simple.status_code == 200
    assert not any(name.startswith("access-control-") for name in simple.headers)


def test_request_context_must_stay_outermost() -> None:
    app = FastAPI()
    app.add_middleware(RequestContextMiddleware)
    with pytest.raises(RuntimeError, match="before adding RequestContextMiddleware"):
        install_hygiene(app, ApiSettings())
