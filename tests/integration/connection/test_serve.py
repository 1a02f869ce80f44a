"""Two real `stocks-api serve` processes on one SQLite file: one trades, the other takes over."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx

from tests.databases import fresh_database
from tests.factories import order_body
from tests.redis_servers import free_port

CLI = str(Path(sys.executable).parent / "stocks-api")


def _env(database_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "LOG_LEVEL": "WARNING",
        "BROKER_LOCK_RETRY_SECONDS": "0.2",
        # Market orders fill at any hour.
        "SESSION_TIMEZONE": "UTC",
        "SESSION_OPEN": "00:00",
        "SESSION_CLOSE": "24:00",
        "SESSION_DAYS": "mon-sun",
        "SESSION_EXCHANGE": "none",
    }


def _until(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"{what} not within {seconds} s"
        time.sleep(0.05)


def _health(base: str) -> dict[str, Any] | None:
    try:
        response = httpx.get(f"{base}/health", timeout=2)
    except httpx.TransportError:
        return None
    data: dict[str, Any] = response.json()
    return data


@contextmanager
def serving(
    database_url: str, workdir: Path, name: str
) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """Run `stocks-api serve` until it answers /health; its output goes to `<name>.log`."""
    port = free_port()
    log = (workdir / f"{name}.log").open("a")
    process = subprocess.Popen(
        [CLI, "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=_env(database_url),
        cwd=workdir,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _until(
            lambda: process.poll() is not None or _health(base) is not None,
            30,
            f"{name} answering",
        )
        assert process.poll() is None, (workdir / f"{name}.log").read_text()
        yield base, process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                assert process.wait(timeout=15) == 0
            finally:
                process.kill()
        log.close()


def _broker_owner_gauge(base: str) -> float:
    for line in httpx.get(f"{base}/metrics", timeout=5).text.splitlines():
        if line.startswith("broker_owner "):
            return float(line.split()[1])
    raise AssertionError("no broker_owner gauge")


def test_only_one_serving_process_trades_and_the_other_takes_over_when_it_dies(
    tmp_path: Path,
) -> None:
    with fresh_database("sqlite", tmp_path) as url, ExitStack() as stack:
        subprocess.run([CLI, "migrate"], env=_env(url), cwd=tmp_path, check=True, timeout=60)
        owner, owner_process = stack.enter_context(serving(url, tmp_path, "owner"))
        _until(lambda: (_health(owner) or {}).get("ready") is True, 10, "owner ready")
        standby, _ = stack.enter_context(serving(url, tmp_path, "standby"))

        keys = [w for w in (tmp_path / "owner.log").read_text().split() if w.startswith("stk_")]
        assert len(keys) == 1, "the owner printed the first-start key"
        headers = {"X-API-Key": keys[0]}
        assert "stk_" not in (tmp_path / "standby.log").read_text()

        health = _health(standby)
        assert health is not None
        assert (health["role"], health["status"], health["ready"]) == (
            "standby",
            "read_only",
            False,
        )
        assert health["checks"]["broker"]["owner"]["pid"] == owner_process.pid
        assert httpx.get(f"{standby}/health/ready", timeout=5).status_code == 503
        assert (_broker_owner_gauge(owner), _broker_owner_gauge(standby)) == (1, 0)
        broker = httpx.get(f"{standby}/api/v1/broker", headers=headers, timeout=5).json()
        assert (broker["role"], broker["read_only"]) == ("standby", True)
        assert broker["owner"]["pid"] == owner_process.pid
        lock_file = Path(url.split(":///", 1)[1] + ".broker.lock")
        assert f'"pid": {owner_process.pid}' in lock_file.read_text()

        refused = httpx.post(
            f"{standby}/api/v1/orders", json=order_body(), headers=headers, timeout=10
        )
        assert refused.status_code == 503
        assert refused.json()["error"]["code"] == "READ_ONLY_INSTANCE"
        assert f"pid {owner_process.pid}" in refused.json()["error"]["message"]
        placed = httpx.post(
            f"{owner}/api/v1/orders", json=order_body(qty="2"), headers=headers, timeout=10
        )
        assert placed.status_code == 201, placed.text

        # The owner dies without any clean-up: the kernel frees the lock file's flock.
        owner_process.send_signal(signal.SIGKILL)
        owner_process.wait(timeout=10)
        _until(lambda: (_health(standby) or {}).get("role") == "owner", 5, "takeover")
        assert (_health(standby) or {})["ready"] is True
        assert _broker_owner_gauge(standby) == 1

        orders = httpx.get(f"{standby}/api/v1/orders", headers=headers, timeout=10).json()
        assert [o["id"] for o in orders["items"]] == [placed.json()["id"]]
        taken_over = httpx.post(
            f"{standby}/api/v1/orders", json=order_body(qty="3"), headers=headers, timeout=10
        )
        assert taken_over.status_code == 201, taken_over.text
        assert taken_over.json()["status"] == "filled"
