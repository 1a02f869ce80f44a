"""`Cache-Control: no-store` on every answer of the API, the probes, /metrics and the docs
included; only the dashboard's files are cached (index.html revalidated, assets for good)."""

from __future__ import annotations

from pathlib import Path

from stocks_api.core.config import ApiSettings
from stocks_api.main import create_app
from tests.conftest import api_client, make_key, make_settings, manual_sim_broker

NOT_CACHED = (
    "/health",
    "/health/live",
    "/health/ready",
    "/metrics",
    "/openapi.json",
    "/docs",
    "/docs/oauth2-redirect",
    "/docs/static/swagger-ui.css",
    "/docs/static/missing.js",
    "/api/v1/orders",
    "/api/v1/nothing-here",
    "/assets/missing-1a2b.js",
)


async def test_every_api_answer_is_no_store_and_the_ui_keeps_its_own(
    database_url: str, tmp_path: Path
) -> None:
    build = tmp_path / "dist"
    (build / "assets").mkdir(parents=True)
    (build / "index.html").write_text("<!doctype html><div id=root></div>")
    (build / "assets" / "index-1a2b3c.js").write_text("console.log('app')")
    (build / "favicon.svg").write_text("<svg/>")
    settings = make_settings(database_url)
    settings.api = ApiSettings(ui_dir=str(build))
    app = create_app(settings, broker_factory=manual_sim_broker)
    async with app.router.lifespan_context(app), api_client(app, await make_key(app)) as http:
        for path in NOT_CACHED:
            response = await http.get(path)
            assert response.headers.get_list("cache-control") == ["no-store"], (
                path,
                response.status_code,
            )
        async with api_client(app) as anonymous:
            unauthorized = await anonymous.get("/api/v1/orders")
        assert unauthorized.status_code == 401
        assert unauthorized.headers["cache-control"] == "no-store"
        refused = await http.post("/api/v1/orders", content=b"x" * 100_000)
        assert refused.status_code == 413
        assert refused.headers["cache-control"] == "no-store"

        # The dashboard: the app itself revalidated (a new build shows at once), the
        # hashed bundles kept for good, the unhashed top-level files revalidated.
        for path in ("/", "/orders", "/index.html"):
            assert (await http.get(path)).headers.get_list("cache-control") == ["no-cache"], path
        asset = await http.get("/assets/index-1a2b3c.js")
        assert asset.headers["cache-control"] == "public, max-age=31536000, immutable"
        favicon = await http.get("/favicon.svg")
        assert (favicon.status_code, favicon.headers["cache-control"]) == (200, "no-cache")
