"""The browser dashboard, served by the API itself in the embedded mode (same origin).

The UI is a static build (`services/stocks-webapp/dist`, or `API_UI_DIR`). Its hashed
files under `/assets/` are cached for good; `index.html` and the other unhashed files are
`no-cache` (kept, but revalidated, so a new build shows at once); everything else the
API answers is `no-store` (`core.hygiene`). A GET that no API route answers gets the
build's file of that name or else `index.html`, so the single-page app's own routes
survive a reload; it is done where a 404 would be answered, so the API's own errors (a
404 under /api/, a 405 for a wrong method) stay as they are. Without a build, `/` says how
to make one.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from stocks_api.core.handlers import http_error

# Where `npm run build` puts the UI in a checkout: services/stocks-webapp/dist.
CHECKOUT_UI_DIR = Path(__file__).resolve().parents[3] / "stocks-webapp" / "dist"
# Paths the UI never answers: the API's, and the build's assets (a missing one is a 404).
# /docs/ includes Swagger UI's own files (`docs`, under /docs/static/).
NOT_UI = ("api/", "health", "metrics", "docs", "openapi.json", "assets/")
# The app and its assets come from this origin only; the stream is a same-origin WebSocket.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; "
    "style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; base-uri 'self'"
)
NOT_BUILT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>stocks</title></head>
<body><h1>stocks API</h1>
<p>The dashboard is not built. <code>make run</code> builds it; or run
<code>npm ci &amp;&amp; npm run build</code> in <code>services/stocks-webapp</code>.</p>
<p>In the full stack (<code>docker compose up</code>) nginx serves it on port 8080.</p>
<p>The API works without it: <a href="/docs">/docs</a>.</p></body></html>
"""


def install_ui(app: FastAPI, directory: Path | None) -> None:
    """Serve the UI build in `directory` (None: the checkout's) where the API has no route."""
    root = (directory or CHECKOUT_UI_DIR).resolve()
    if (root / "assets").is_dir():
        app.mount("/assets", _ImmutableFiles(directory=root / "assets"), name="ui-assets")

    async def ui_or_error(request: Request, exc: Exception) -> Response:
        path = request.url.path.lstrip("/")
        if (
            isinstance(exc, StarletteHTTPException)
            and exc.status_code == 404
            and request.method in ("GET", "HEAD")
            and not path.startswith(NOT_UI)
        ):
            return _ui_file(root, path)
        return await http_error(request, exc)

    app.add_exception_handler(StarletteHTTPException, ui_or_error)


def _ui_file(root: Path, path: str) -> Response:
    index = root / "index.html"
    if not index.is_file():
        return HTMLResponse(NOT_BUILT, headers={"Cache-Control": "no-store"})
    wanted = (root / path).resolve()
    if path and wanted.is_file() and wanted.is_relative_to(root):
        # A file at the top of the build (favicon.svg): unhashed, so revalidated each time.
        return FileResponse(wanted, headers={"Cache-Control": "no-cache"})
    # The app's own routes (/orders, /risk, ...) load the app, which routes itself.
    headers = {"Cache-Control": "no-cache", "Content-Security-Policy": CONTENT_SECURITY_POLICY}
    return FileResponse(index, headers=headers)


class _ImmutableFiles(StaticFiles):
    """The build's assets: their names carry their content's hash, so they never change."""

    def file_response(self, *args: object, **kwargs: object) -> Response:
        response = super().file_response(*args, **kwargs)  # type: ignore[arg-type]
        response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
        return response
