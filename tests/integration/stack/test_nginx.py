"""nginx/nginx.conf, run by Debian's real nginx in front of a real API and a UI build.

The config is used as written, with three substitutions: the listen address (a loopback
port), the API's address (compose's `stocks-api:8000`) and the UI folder (the webapp's
dist, or a small stand-in when it is not built). It runs unprivileged-style: pid file and
temp folders under a prefix of its own, `-g 'daemon off;'`.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.factories import order_body
from tests.integration.stack.conftest import Stack
from tests.integration.stack.helpers import (
    NGINX_DIR,
    ROOT,
    base_env,
    http_ok,
    process,
    require_program,
    tail,
    wait_for,
)
from tests.redis_servers import free_port

pytestmark = pytest.mark.postgres

WEBAPP_DIST = ROOT / "services" / "stocks-webapp" / "dist"
# Debian's nginx package installs mime.types beside its own nginx.conf, as the image does.
MIME_TYPES = Path("/etc/nginx/mime.types")
SUBSTITUTIONS = ("listen 8080;", "http://stocks-api:8000", "root /usr/share/nginx/html;")


@dataclass(frozen=True)
class Front:
    url: str
    port: int
    ui: Path
    asset: str
    log: Path


def ui_folder(directory: Path) -> tuple[Path, str]:
    """A UI build to serve, and one of its assets: the webapp's dist if built, else a stand-in."""
    ui = directory / "ui"
    try:
        shutil.copytree(WEBAPP_DIST, ui)
        assets = sorted((ui / "assets").glob("*.js"))
        if (ui / "index.html").is_file() and assets:
            return ui, f"/assets/{assets[0].name}"
    except OSError:
        pass  # not built (or being rebuilt right now)
    shutil.rmtree(ui, ignore_errors=True)
    (ui / "assets").mkdir(parents=True)
    (ui / "index.html").write_text(
        '<!doctype html><html><head><script type="module" src="/assets/app-test.js">'
        '</script></head><body><div id="root"></div></body></html>\n'
    )
    # Larger than gzip_min_length, so it is compressed.
    (ui / "assets" / "app-test.js").write_text("console.log('stocks');\n" * 200)
    return ui, "/assets/app-test.js"


def nginx_config(directory: Path, *, port: int, upstream: str, ui: Path) -> Path:
    """nginx.conf and its includes in `directory`, pointed at this machine's addresses."""
    conf = directory / "conf"
    conf.mkdir()
    for path in NGINX_DIR.glob("*.conf"):
        shutil.copy(path, conf / path.name)
    assert MIME_TYPES.is_file(), "Debian's nginx installs /etc/nginx/mime.types"
    shutil.copy(MIME_TYPES, conf / "mime.types")
    text = (conf / "nginx.conf").read_text()
    for original, replacement in zip(
        SUBSTITUTIONS,
        (f"listen 127.0.0.1:{port};", f"http://{upstream}", f"root {ui};"),
        strict=True,
    ):
        assert text.count(original) == 1, f"nginx.conf should contain {original!r} once"
        text = text.replace(original, replacement)
    (conf / "nginx.conf").write_text(text)
    return conf / "nginx.conf"


@contextmanager
def running_nginx(directory: Path, *, upstream: str, ui: Path) -> Iterator[tuple[str, Path]]:
    nginx = require_program("nginx")
    directory.mkdir(parents=True, exist_ok=True)
    port = free_port()
    conf = nginx_config(directory, port=port, upstream=upstream, ui=ui)
    prefix = directory / "prefix"
    prefix.mkdir()
    # As root (a CI machine), nginx would hand its workers to `nobody`, who cannot read
    # the test's folders; unprivileged, as in the image, it keeps its own user.
    directives = "daemon off;" + (" user root;" if os.geteuid() == 0 else "")
    args = [nginx, "-p", f"{prefix}/", "-e", "stderr", "-c", str(conf), "-g", directives]
    check = subprocess.run([*args, "-t"], capture_output=True, text=True, timeout=30)
    assert check.returncode == 0, check.stderr
    log = directory / "nginx.log"
    with process(args, log=log, env=base_env(), cwd=directory, interrupt=False):
        url = f"http://127.0.0.1:{port}"
        wait_for(
            http_ok(f"{url}/healthz"),
            timeout=10,
            what="nginx did not start",
            explain=lambda: tail(log),
        )
        yield url, log


@pytest.fixture(scope="module")
def front(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Front]:
    directory = tmp_path_factory.mktemp("nginx")
    ui, asset = ui_folder(directory)
    with running_nginx(directory / "run", upstream=f"127.0.0.1:{stack.api_port}", ui=ui) as (
        url,
        log,
    ):
        yield Front(url=url, port=int(url.rsplit(":", 1)[1]), ui=ui, asset=asset, log=log)


def test_the_ui_is_served_with_a_fallback_for_client_routes(front: Front) -> None:
    index = (front.ui / "index.html").read_text()
    for path in ("/", "/orders", "/positions/AAPL"):
        response = httpx.get(front.url + path)
        assert response.status_code == 200, path
        assert response.headers["content-type"].startswith("text/html")
        assert response.text == index
        assert response.headers["cache-control"] == "no-cache"


def test_assets_are_cached_compressed_and_never_fall_back(front: Front) -> None:
    asset = httpx.get(front.url + front.asset, headers={"Accept-Encoding": "gzip"})
    assert asset.status_code == 200
    assert asset.headers["content-encoding"] == "gzip"
    assert "immutable" in asset.headers["cache-control"]
    assert asset.content == (front.ui / front.asset.lstrip("/")).read_bytes()
    missing = httpx.get(front.url + "/assets/no-such-bundle.js")
    assert missing.status_code == 404
    assert '<div id="root">' not in missing.text


def test_security_headers_are_sent_once_on_everything(front: Front) -> None:
    ui = httpx.get(front.url + "/")
    assert "default-src 'self'" in ui.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in ui.headers["content-security-policy"]
    for path in ("/", front.asset, "/health", "/api/v1/orders", "/assets/missing.js"):
        headers = httpx.get(front.url + path).headers
        assert headers.get_list("x-content-type-options") == ["nosniff"], path
        assert headers.get_list("x-frame-options") == ["DENY"], path
        assert headers.get_list("referrer-policy") == ["no-referrer"], path
        assert "camera=()" in headers["permissions-policy"], path
        assert "server" not in headers or "/" not in headers["server"], "nginx version shown"
    # The API's own cache rule comes through: account data is never cached.
    assert httpx.get(front.url + "/api/v1/orders").headers["cache-control"] == "no-store"


def test_api_docs_and_health_are_proxied_with_the_request_id(front: Front, stack: Stack) -> None:
    request_id = f"stack-{uuid.uuid4().hex[:12]}"
    health = httpx.get(front.url + "/health", headers={"X-Request-ID": request_id})
    assert health.status_code == 200
    assert health.json()["status"] == "ok"
    assert health.headers["x-request-id"] == request_id
    # nginx makes one when the client sent none; the API echoes what it received.
    made = httpx.get(front.url + "/health/live").headers["x-request-id"]
    assert len(made) == 32
    assert made in front.log.read_text()  # the same id in nginx's access log
    spec = httpx.get(front.url + "/openapi.json", headers={"Accept-Encoding": "gzip"})
    assert spec.status_code == 200
    assert spec.headers["content-encoding"] == "gzip"
    assert "/api/v1/orders" in spec.json()["paths"]
    docs = httpx.get(front.url + "/docs")
    assert docs.status_code == 200
    assert "swagger" in docs.text.lower()
    # Swagger UI's own files come through nginx from the API (no CDN), with its CSP.
    assert "script-src 'self' 'sha256-" in docs.headers["content-security-policy"]
    bundle = httpx.get(front.url + "/docs/static/swagger-ui-bundle.js")
    assert bundle.status_code == 200
    assert "javascript" in bundle.headers["content-type"]
    unauthorized = httpx.get(front.url + "/api/v1/orders")
    assert unauthorized.status_code == 401
    assert unauthorized.json()["error"]["code"] == "UNAUTHORIZED"


def test_metrics_only_for_internal_addresses(front: Front) -> None:
    inside = httpx.get(front.url + "/metrics")
    assert inside.status_code == 200
    assert "api_requests_total" in inside.text
    # 127.0.0.2 stands for any address outside loopback and Docker's networks.
    outside = httpx.HTTPTransport(local_address="127.0.0.2")
    with httpx.Client(transport=outside) as client:
        refused = client.get(front.url + "/metrics")
        assert refused.status_code == 403
        assert client.get(front.url + "/health").status_code == 200  # only /metrics is kept in


def test_bodies_over_the_limit_are_refused_by_nginx(front: Front, stack: Stack) -> None:
    response = httpx.post(
        front.url + "/api/v1/orders",
        content=b"{" + b" " * (2 * 1024 * 1024) + b"}",
        headers={"X-API-Key": stack.key, "Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"


async def test_rest_and_the_websocket_work_through_nginx(front: Front, stack: Stack) -> None:
    ws_url = f"ws://127.0.0.1:{front.port}/api/v1/ws"
    client_order_id = f"nginx-{uuid.uuid4().hex[:12]}"
    # As a browser on the UI's page: its Origin must match the Host nginx passes on.
    async with connect(
        ws_url,
        additional_headers={"X-API-Key": stack.key},
        origin=f"http://127.0.0.1:{front.port}",  # type: ignore[arg-type]
    ) as ws:
        welcome = json.loads(await ws.recv())
        assert welcome["type"] == "welcome"
        await ws.send(json.dumps({"op": "subscribe", "channels": ["orders", "fills"]}))
        assert json.loads(await ws.recv())["type"] == "subscribed"
        async with httpx.AsyncClient(base_url=front.url, headers={"X-API-Key": stack.key}) as http:
            placed = await http.post(
                "/api/v1/orders",
                json=order_body(client_order_id=client_order_id, outside_rth=True),
            )
            assert placed.status_code == 201, placed.text
            listed = await http.get("/api/v1/orders", params={"status": "all"})
            assert client_order_id in {o["client_order_id"] for o in listed.json()["items"]}

        async def order_event() -> dict[str, object]:
            while True:
                message = json.loads(await ws.recv())
                if (
                    message["type"] == "order.updated"
                    and message["data"]["client_order_id"] == client_order_id
                ):
                    return message  # type: ignore[no-any-return]

        event = await asyncio.wait_for(order_event(), timeout=10)
        assert event["seq"]

    # Another site's page may not open the stream with the user's credentials (4403).
    async with connect(
        ws_url,
        additional_headers={"X-API-Key": stack.key},
        origin="http://evil.example",  # type: ignore[arg-type]
    ) as ws:
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), timeout=10)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4403


def test_an_unreachable_api_is_answered_in_the_error_envelope(tmp_path: Path, front: Front) -> None:
    with running_nginx(tmp_path, upstream=f"127.0.0.1:{free_port()}", ui=front.ui) as (url, _):
        response = httpx.get(url + "/api/v1/orders", headers={"X-Request-ID": "down-1"})
        assert response.status_code == 502
        body = response.json()["error"]
        assert (body["code"], body["request_id"]) == ("API_UNAVAILABLE", "down-1")
        assert httpx.get(url + "/").status_code == 200  # the UI itself still loads
