"""/docs works without internet: Swagger UI from the installed package, under its own CSP."""

from __future__ import annotations

import base64
import hashlib
import re

import httpx
import pytest

from stocks_api.docs import STATIC_FILES


@pytest.mark.parametrize("path", ["/docs", "/docs/oauth2-redirect"])
async def test_the_docs_pages_name_no_other_origin(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 200
    assert "http://" not in response.text
    assert "https://" not in response.text


async def test_swagger_ui_comes_from_the_api(client: httpx.AsyncClient) -> None:
    page = (await client.get("/docs")).text
    assert '<script src="/docs/static/swagger-ui-bundle.js">' in page
    assert 'href="/docs/static/swagger-ui.css"' in page
    for name in STATIC_FILES:
        response = await client.get(f"/docs/static/{name}")
        assert response.status_code == 200, name
        assert len(response.content) > 1000, name
    missing = await client.get("/docs/static/missing.js")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"]  # the API's envelope, not the dashboard


@pytest.mark.parametrize("path", ["/docs", "/docs/oauth2-redirect"])
async def test_a_docs_page_allows_only_its_own_inline_script(
    client: httpx.AsyncClient, path: str
) -> None:
    response = await client.get(path)
    policy = response.headers["content-security-policy"]
    assert "default-src 'none'" in policy
    assert "frame-ancestors 'none'" in policy
    assert "'unsafe-inline'" not in policy.split("script-src", 1)[1].split(";", 1)[0]
    [script] = re.findall(r"<script>(.*?)</script>", response.text, re.DOTALL)
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    assert f"script-src 'self' 'sha256-{digest}';" in policy


async def test_the_rest_of_the_api_keeps_its_headers(client: httpx.AsyncClient) -> None:
    for path in ("/openapi.json", "/api/v1/orders", "/health/live"):
        response = await client.get(path)
        assert "content-security-policy" not in response.headers, path
