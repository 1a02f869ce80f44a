"""schemathesis against the real server: the OpenAPI document says what the API does.

`stocks-api serve` (uvicorn, the simulated broker) on a fresh PostgreSQL database, on a
loopback port, tested by the schemathesis CLI twice: with an admin key (every operation
can succeed; schemathesis's `ignored_auth` check also tries each without it) and without
credentials (what such a caller meets, 401s in the envelope, as documented). The settings
of both runs, and the reasons for anything left out, are in `schemathesis.toml` beside
this file. A real server rather than the ASGI app in-process: the run then covers what a
client meets (uvicorn's HTTP parsing, the middlewares' raw ASGI answers, the lifespan as
`serve` starts it), and schemathesis's synchronous client and Hypothesis stay out of the
test's event loop.

The run changes what it likes (limits, halts, orders, API keys): the database and the
simulated account are thrown away afterwards, and no other test shares them.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from stocks_api.core.migrations import upgrade
from tests.databases import fresh_database
from tests.redis_servers import free_port

pytestmark = pytest.mark.postgres

BIN = Path(sys.executable).parent
CONFIG = Path(__file__).with_name("schemathesis.toml")
SCOPES = "read,trade,admin"
# Each pass takes about half a minute; this only stops a hung one.
RUN_TIMEOUT_SECONDS = 300


def _env(database_url: str) -> dict[str, str]:
    # The settings that matter here, whatever the developer's shell exports.
    keep = {"PATH", "HOME", "LANG", "TMPDIR", "SYSTEMROOT"}
    return {
        **{name: value for name, value in os.environ.items() if name in keep},
        "DATABASE_URL": database_url,
        "LOG_LEVEL": "WARNING",
        "AUTH_BOOTSTRAP_ADMIN_KEY": "false",
        # Market orders fill at any hour, so orders reach every state.
        "SESSION_TIMEZONE": "UTC",
        "SESSION_OPEN": "00:00",
        "SESSION_CLOSE": "24:00",
        "SESSION_DAYS": "mon-sun",
        "SESSION_EXCHANGE": "none",
    }


def _admin_key(env: dict[str, str], cwd: Path) -> str:
    done = subprocess.run(
        [str(BIN / "stocks-api"), "create-api-key", "--name", "schemathesis", "--scopes", SCOPES],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return done.stdout.strip().splitlines()[-1]


def _answers(base: str) -> bool:
    try:
        return httpx.get(f"{base}/health/live", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, Path]]:
    """(base URL, admin key, work directory) of `stocks-api serve` on a fresh database."""
    workdir = tmp_path_factory.mktemp("schemathesis")
    with fresh_database("postgres", workdir) as database_url:
        upgrade(database_url)
        env = _env(database_url)
        key = _admin_key(env, workdir)
        port = free_port()
        log_path = workdir / "server.log"
        with log_path.open("a") as log:
            process = subprocess.Popen(
                [str(BIN / "stocks-api"), "serve", "--host", "127.0.0.1", "--port", str(port)],
                env=env,
                cwd=workdir,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 30
            while not _answers(base):
                assert process.poll() is None, log_path.read_text()
                assert time.monotonic() < deadline, "the server did not answer in 30 s"
                time.sleep(0.1)
            yield base, key, workdir
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)


@pytest.mark.parametrize("caller", ["admin", "anonymous"])
def test_the_api_does_what_its_openapi_document_says(
    server: tuple[str, str, Path], caller: str
) -> None:
    base, key, workdir = server
    command = [
        str(BIN / "schemathesis"),
        "--config-file",
        str(CONFIG),
        "--no-color",
        "run",
        f"{base}/openapi.json",
        "--report",
        "junit",
        "--report-junit-path",
        str(workdir / f"junit-{caller}.xml"),
    ]
    if caller == "admin":
        command += ["--header", f"X-API-Key: {key}"]
    started = time.monotonic()
    done = subprocess.run(
        command,
        cwd=workdir,
        env={**os.environ, "NO_COLOR": "1"},
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_SECONDS,
    )
    seconds = time.monotonic() - started
    output = done.stdout + done.stderr
    summary = re.search(r"^ *(\d+) generated, .*$", output, re.MULTILINE)
    # Shown with `pytest -s` (or -rP): how much the run tried.
    print(f"\nschemathesis ({caller}, {seconds:.0f} s): {summary[0].strip() if summary else '?'}")
    assert done.returncode == 0, output[-20000:]
    assert summary is not None, output[-5000:]
    # Nothing went wrong inside either, not even where the answer still looked right.
    log = (workdir / "server.log").read_text()
    assert "unhandled_exception" not in log, log[-5000:]
