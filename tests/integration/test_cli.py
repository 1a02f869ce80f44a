"""`stocks-api migrate` and `stocks-api serve` read the same settings from the environment."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path

import httpx
import pytest

from tests.databases import fresh_database

CLI = str(Path(sys.executable).parent / "stocks-api")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _env(database_url: str) -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": database_url, "LOG_LEVEL": "WARNING"}


@contextmanager
def serving(database_url: str, cwd: Path) -> Iterator[str]:
    """Migrate, then run `stocks-api serve --port P` until the block ends."""
    subprocess.run([CLI, "migrate"], env=_env(database_url), cwd=cwd, check=True, timeout=60)
    port = _free_port()
    process = subprocess.Popen(
        [CLI, "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=_env(database_url),
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/health/ready", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"server did not start: {process.communicate()[0]}")
            time.sleep(0.1)
        yield base
    finally:
        process.send_signal(signal.SIGINT)
        try:
            assert process.wait(timeout=15) == 0
        finally:
            process.kill()


def test_two_instances_differ_only_by_database_url_and_port(tmp_path: Path) -> None:
    with ExitStack() as stack:
        sqlite_url = stack.enter_context(fresh_database("sqlite", tmp_path))
        backends = [sqlite_url]
        with suppress(pytest.skip.Exception):
            backends.append(stack.enter_context(fresh_database("postgres", tmp_path)))
        bases = [stack.enter_context(serving(url, tmp_path)) for url in backends]
        for index, base in enumerate(bases):
            response = httpx.post(
                f"{base}/api/v1/orders",
                json={"symbol": "AAPL", "side": "buy", "qty": str(index + 1), "type": "market"},
                timeout=10,
            )
            assert response.status_code == 201, response.text
        for index, base in enumerate(bases):
            orders = httpx.get(f"{base}/api/v1/orders", timeout=10).json()["items"]
            assert [o["qty"] for o in orders] == [str(index + 1)], "each instance has its own data"
        assert httpx.get(f"{bases[0]}/docs", timeout=10).status_code == 200


def test_default_database_is_a_file_under_data(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DATABASE_")}
    subprocess.run([CLI, "migrate"], env=env, cwd=tmp_path, check=True, timeout=60)
    assert (tmp_path / "data" / "stocks.db").is_file()


def test_bad_settings_fail_with_a_clear_message(tmp_path: Path) -> None:
    result = subprocess.run(
        [CLI, "migrate"],
        env={**os.environ, "DATABASE_URL": "mysql://nope"},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "DATABASE_URL must start with" in result.stdout + result.stderr
