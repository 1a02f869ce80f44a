"""The dashboard's static build, served by the API at / (same origin) in the embedded mode."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from stocks_api.core.config import ApiSettings
from stocks_api.main import create_app
from stocks_api.settings import Settings
from stocks_api.webui import CHECKOUT_UI_DIR
from tests.conftest import api_client, make_settings

INDEX = "<!doctype html><title>stocks</title><div id=root></div>"


def _app_with_ui(database_url: str, ui_dir: Path) -> object:
    settings: Settings = make_settings(database_url)
    settings.api = ApiSettings(ui_dir=str(ui_dir))
    return create_app(settings)


@pytest.fixture
def build(tmp_path: Path) -> Path:
    root = tmp_path / "dist"
    (root / "assets").mkdir(parents=True)
    (root / "index.html").write_text(INDEX)
    (root / "assets" / "index-1a2b3c.js").write_text("console.log('app')")
    (root / "favicon.svg").write_text("<svg/>")
    (tmp_path / "secret.txt").write_text("not for the browser")
    return root


@pytest.fixture
async def http(database_url: str, build: Path) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(_app_with_ui(database_url, build)) as client:
        yield client


async def test_the_app_and_its_routes_get_index_html(http: httpx.AsyncClient) -> None:
    for path in ("/", "/orders", "/orders/42/events", "/risk?tab=limits"):
        response = await http.get(path)
        assert response.status_code == 200, path
        assert response.text == INDEX
        assert response.headers["content-type"].startswith("text/html")
        assert response.headers["cache-control"] == "no-cache"
        assert "default-src 'self'" in response.headers["content-security-policy"]
        assert response.headers["x-frame-options"] == "DENY"
    assert (await http.head("/")).status_code == 200


async def test_assets_are_cached_for_good_and_a_missing_one_is_a_404(
    http: httpx.AsyncClient,
) -> None:
    asset = await http.get("/assets/index-1a2b3c.js")
    assert asset.status_code == 200
    assert asset.text == "console.log('app')"
    assert asset.headers["cache-control"] == "public, max-age=31536000, immutable"
    missing = await http.get("/assets/index-gone.js")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "NOT_FOUND"
    favicon = await http.get("/favicon.svg")
    assert (favicon.status_code, favicon.text) == (200, "<svg/>")
    # Nothing outside the build, however the path is spelled.
    for sneaky in ("/../secret.txt", "/%2e%2e/secret.txt", "/..%2fsecret.txt"):
        response = await http.get(sneaky)
        assert "not for the browser" not in response.text, sneaky


async def test_the_apis_own_errors_stay_as_they_are(http: httpx.AsyncClient) -> None:
    for method, path in (("GET", "/api/v1/nope"), ("POST", "/api/v1/nope"), ("GET", "/healthz")):
        response = await http.request(method, path)
        assert response.status_code == 404, (method, path)
        assert response.json()["error"]["code"] == "NOT_FOUND"
    wrong_method = await http.put("/api/v1/orders")
    assert wrong_method.status_code == 405
    assert wrong_method.json()["error"]["code"] == "METHOD_NOT_ALLOWED"
    posted = await http.post("/orders")  # a UI route, but not a GET: the API's 404
    assert posted.status_code == 404
    assert posted.json()["error"]["code"] == "NOT_FOUND"


async def test_without_a_build_the_root_says_how_to_make_one(
    database_url: str, tmp_path: Path
) -> None:
    async with api_client(_app_with_ui(database_url, tmp_path / "nothing")) as http:
        response = await http.get("/")
        assert response.status_code == 200
        assert "make run" in response.text
        assert (await http.get("/assets/x.js")).status_code == 404


def test_the_default_is_the_checkouts_build() -> None:
    checkout = Path(__file__).resolve().parents[3]
    assert checkout / "services" / "stocks-webapp" / "dist" == CHECKOUT_UI_DIR


async def test_assets_and_large_answers_go_gzipped_to_a_client_that_accepts_it(
    database_url: str, tmp_path: Path
) -> None:
    root = tmp_path / "dist"
    (root / "assets").mkdir(parents=True)
    (root / "index.html").write_text(INDEX)
    bundle = "console.log('a chart and an app');\n" * 400  # ~14 kB, like a real bundle
    (root / "assets" / "index-9f8e7d.js").write_text(bundle)
    async with api_client(_app_with_ui(database_url, root)) as client:
        zipped = await client.get("/assets/index-9f8e7d.js", headers={"Accept-Encoding": "gzip"})
        assert zipped.status_code == 200
        assert zipped.headers["content-encoding"] == "gzip"
        assert int(zipped.headers["content-length"]) < len(bundle) / 10
        assert zipped.text == bundle  # httpx undoes the gzip
        assert "accept-encoding" in zipped.headers["vary"].lower()
        plain = await client.get("/assets/index-9f8e7d.js", headers={"Accept-Encoding": "identity"})
        assert "content-encoding" not in plain.headers
        assert plain.text == bundle
        # The API's own large answers too; a small one (under a kilobyte) goes as it is.
        schema = await client.get("/openapi.json", headers={"Accept-Encoding": "gzip"})
        assert schema.headers["content-encoding"] == "gzip"
        small = await client.get("/health/live", headers={"Accept-Encoding": "gzip"})
        assert "content-encoding" not in small.headers
