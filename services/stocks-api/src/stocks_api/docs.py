"""The API's documentation page, /docs (Swagger UI), served without a CDN.

FastAPI's own pages load Swagger UI and ReDoc from a CDN, so they are blank without the
internet. /docs loads the copy of Swagger UI the `fastapi-offline` package ships, mounted
under `/docs/static/` (inside nginx's `/docs/` location), with FastAPI's page builder
`get_swagger_ui_html`. Nothing on it is fetched from elsewhere: no favicon, no fonts, no
validator badge (Swagger UI would send the document to validator.swagger.io).

There is no /redoc: ReDoc's bundle (shipped by the same package) loads its logo from
Redocly's CDN, hard-coded, which no option turns off.

Each page carries its own Content-Security-Policy: scripts from this origin only, plus
the inline script a page starts with (allowed by its hash, not with 'unsafe-inline');
nothing else of the API is loosened by it. Create the app with
`docs_url=None, redoc_url=None`, then call `install_docs`.
"""

from __future__ import annotations

import base64
import hashlib
import re
from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import (
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

DOCS_URL = "/docs"
OAUTH2_REDIRECT_URL = "/docs/oauth2-redirect"
STATIC_URL = "/docs/static"
# Where fastapi-offline keeps Swagger UI's bundle and stylesheet, and a favicon.
STATIC_DIR = Path(str(files("fastapi_offline") / "static"))
STATIC_FILES = ("swagger-ui-bundle.js", "swagger-ui.css", "favicon.png")
# Swagger UI sets inline styles (the dashboard's policy allows them for the same reason),
# shows its icons as data: images, and "Try it out" calls this origin.
_POLICY = (
    "default-src 'none'; script-src 'self'{scripts}; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


def install_docs(app: FastAPI) -> None:
    """Serve /docs and its OAuth2 redirect page from the installed static files."""
    missing = [name for name in STATIC_FILES if not (STATIC_DIR / name).is_file()]
    if missing:  # a fastapi-offline that moved its files: fail at start, not in a browser
        raise RuntimeError(f"fastapi-offline's static files are missing: {missing}")
    app.mount(STATIC_URL, StaticFiles(directory=STATIC_DIR), name="docs-static")

    # Plain routes, as FastAPI adds its own docs pages: they take no body and have no schema.
    async def swagger_ui(request: Request) -> Response:
        root = request.scope.get("root_path", "")
        page = get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} - Swagger UI",
            oauth2_redirect_url=f"{root}{OAUTH2_REDIRECT_URL}",
            swagger_js_url=f"{root}{STATIC_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{STATIC_URL}/swagger-ui.css",
            swagger_favicon_url=f"{root}{STATIC_URL}/favicon.png",
            # No badge that would send the document to validator.swagger.io.
            swagger_ui_parameters={"validatorUrl": None},
        )
        return _with_policy(page)

    async def swagger_ui_redirect(request: Request) -> Response:
        return _with_policy(get_swagger_ui_oauth2_redirect_html())

    app.add_route(DOCS_URL, swagger_ui, include_in_schema=False)
    app.add_route(OAUTH2_REDIRECT_URL, swagger_ui_redirect, include_in_schema=False)


def content_security_policy(html: str) -> str:
    """The policy of a docs page: this origin's scripts and the page's own inline ones."""
    hashes = "".join(
        f" 'sha256-{base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()}'"
        for script in _INLINE_SCRIPT.findall(html)
    )
    return _POLICY.format(scripts=hashes)


def _with_policy(page: HTMLResponse) -> HTMLResponse:
    html = bytes(page.body).decode()
    page.headers["Content-Security-Policy"] = content_security_policy(html)
    return page
