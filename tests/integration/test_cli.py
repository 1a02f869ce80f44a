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


def cli(database_url: str, cwd: Path, *args: str, stdin: str | None = None) -> str:
    """Run a `stocks-api` command that must succeed; return its standard output."""
    result = subprocess.run(
        [CLI, *args],
        env=_env(database_url),
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@contextmanager
def serving(database_url: str, cwd: Path) -> Iterator[str]:
    """Migrate, then run `stocks-api serve --port P` until the block ends.

    The server's output goes to `server.log` in `cwd` (read it to see what it printed).
    """
    subprocess.run([CLI, "migrate"], env=_env(database_url), cwd=cwd, check=True, timeout=60)
    port = _free_port()
    log = (cwd / "server.log").open("a")
    process = subprocess.Popen(
        [CLI, "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=_env(database_url),
        cwd=cwd,
        stdout=log,
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
                raise AssertionError(f"server did not start: {(cwd / 'server.log').read_text()}")
            time.sleep(0.1)
        yield base
    finally:
        process.send_signal(signal.SIGINT)
        try:
            assert process.wait(timeout=15) == 0
        finally:
            process.kill()
            log.close()


def test_two_instances_differ_only_by_database_url_and_port(tmp_path: Path) -> None:
    with ExitStack() as stack:
        sqlite_url = stack.enter_context(fresh_database("sqlite", tmp_path))
        backends = [sqlite_url]
        with suppress(pytest.skip.Exception):
            backends.append(stack.enter_context(fresh_database("postgres", tmp_path)))
        bases = []
        for index, url in enumerate(backends):
            workdir = tmp_path / f"instance{index}"
            workdir.mkdir()
            bases.append(stack.enter_context(serving(url, workdir)))
        for index, base in enumerate(bases):
            key = _first_start_key(tmp_path / f"instance{index}")
            headers = {"X-API-Key": key}
            response = httpx.post(
                f"{base}/api/v1/orders",
                json={"symbol": "AAPL", "side": "buy", "qty": str(index + 1), "type": "market"},
                headers=headers,
                timeout=10,
            )
            assert response.status_code == 201, response.text
            orders = httpx.get(f"{base}/api/v1/orders", headers=headers, timeout=10).json()["items"]
            assert [o["qty"] for o in orders] == [str(index + 1)], "each instance has its own data"
        assert httpx.get(f"{bases[0]}/docs", timeout=10).status_code == 200


def _first_start_key(workdir: Path) -> str:
    keys = [w for w in (workdir / "server.log").read_text().split() if w.startswith("stk_")]
    assert len(keys) == 1, "the first start prints exactly one key"
    return keys[0]


def test_first_start_key_and_cli_keys_guard_the_api(tmp_path: Path) -> None:
    with fresh_database("sqlite", tmp_path) as url:
        with serving(url, tmp_path) as base:
            admin = _first_start_key(tmp_path)
            order = {"symbol": "AAPL", "side": "buy", "qty": "1", "type": "market"}
            assert httpx.post(f"{base}/api/v1/orders", json=order, timeout=10).status_code == 401
            placed = httpx.post(
                f"{base}/api/v1/orders", json=order, headers={"X-API-Key": admin}, timeout=10
            )
            assert placed.status_code == 201

            out = cli(url, tmp_path, "create-api-key", "--name", "reader", "--scopes", "read")
            reader = out.strip().splitlines()[-1]
            assert reader.startswith("stk_")
            assert reader != admin
            headers = {"X-API-Key": reader}
            assert (
                httpx.get(f"{base}/api/v1/orders", headers=headers, timeout=10).status_code == 200
            )
            refused = httpx.post(f"{base}/api/v1/orders", json=order, headers=headers, timeout=10)
            assert refused.status_code == 403

            assert "revoked" in cli(url, tmp_path, "revoke-api-key", reader)
            deadline = time.monotonic() + 10  # the server caches a key for a few seconds
            while (
                httpx.get(f"{base}/api/v1/orders", headers=headers, timeout=10).status_code != 401
            ):
                assert time.monotonic() < deadline, "revoked key still accepted"
                time.sleep(0.5)

            cli(url, tmp_path, "set-password", "--password-stdin", stdin="a long password\n")
            token = httpx.post(
                f"{base}/api/v1/auth/token",
                data={"username": "admin", "password": "a long password"},
                timeout=10,
            )
            assert token.status_code == 200, token.text
        first_log = (tmp_path / "server.log").read_text()
        with serving(url, tmp_path):
            pass
        assert (tmp_path / "server.log").read_text().count("stk_") == first_log.count("stk_")


def test_cli_refuses_bad_scopes(tmp_path: Path) -> None:
    with fresh_database("sqlite", tmp_path) as url:
        subprocess.run([CLI, "migrate"], env=_env(url), cwd=tmp_path, check=True, timeout=60)
        result = subprocess.run(
            [CLI, "create-api-key", "--name", "x", "--scopes", "read,root"],
            env=_env(url),
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 2
        assert "unknown scope(s) root" in result.stderr


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
