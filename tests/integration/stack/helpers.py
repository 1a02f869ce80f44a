"""The full stack's test kit: the repository's stack files, Debian's programs, processes.

Debian's programs (docker-compose, nginx, prometheus/promtool, psql) are installed by the
project's set-up; where one is missing the test skips, except in CI (CI=true), where it
fails, like a missing PostgreSQL (tests/databases.py).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from stocks_api.broker.gateway.control import send_command
from tests.databases import IN_CI

ROOT = Path(__file__).resolve().parents[3]
COMPOSE_FILE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
INIT_SQL = ROOT / "init.sql"
NGINX_DIR = ROOT / "nginx"
PROMETHEUS_DIR = ROOT / "monitoring" / "prometheus"
GRAFANA_DIR = ROOT / "monitoring" / "grafana"
DOCS = ROOT / "docs" / "full-stack.md"
CLI = str(Path(sys.executable).parent / "stocks-api")

# The Debian package that brings each program (the Makefile's install step names them).
PACKAGES = {
    "docker-compose": "docker-compose",
    "nginx": "nginx",
    "prometheus": "prometheus",
    "promtool": "prometheus",
    "psql": "postgresql-client",
}

# Trading at any hour: the simulated market's regular session runs around the clock.
ALWAYS_OPEN = {
    "SESSION_TIMEZONE": "UTC",
    "SESSION_OPEN": "00:00",
    "SESSION_CLOSE": "24:00",
    "SESSION_DAYS": "mon-sun",
    "SESSION_EXCHANGE": "none",
}


def require_program(name: str) -> str:
    """The program's path; skip without it, except in CI, where it is a failure."""
    path = shutil.which(name)
    if path is not None:
        return path
    message = f"{name} is not installed (Debian package {PACKAGES.get(name, name)})"
    if IN_CI:
        pytest.fail(f"{message}; CI=true: a missing program fails the run")
    pytest.skip(message)


def base_env(**settings: str) -> dict[str, str]:
    """A process environment with only the basics and `settings`.

    Nothing else of the caller's environment (a developer's DATABASE_URL, RISK_*, ...)
    leaks into the processes under test; they run in a folder without a .env file.
    """
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "TZ")
    env = {name: os.environ[name] for name in keep if name in os.environ}
    env.update(settings)
    return env


def wait_for(
    check: Callable[[], bool], *, timeout: float, what: str, explain: Callable[[], str] = str
) -> None:
    """Poll `check` until it is true; fail after `timeout` seconds with `explain()`."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():
                return
        except (httpx.HTTPError, OSError):
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} within {timeout:g} s\n{explain()}")
        time.sleep(0.05)


def http_ok(url: str, **kwargs: object) -> Callable[[], bool]:
    def check() -> bool:
        return httpx.get(url, timeout=1, **kwargs).status_code == 200  # type: ignore[arg-type]

    return check


def gateway_command(port: int, line: str) -> str:
    """Send gateway-sim's control port one command; return its answer."""
    return asyncio.run(send_command(line, port=port))


@contextmanager
def process(
    args: list[str], *, log: Path, env: dict[str, str], cwd: Path, interrupt: bool = True
) -> Iterator[subprocess.Popen[bytes]]:
    """Run a program for the block, its output in `log`; stop it (SIGINT or SIGTERM) after."""
    with log.open("ab") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=cwd)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT if interrupt else signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)


def tail(path: Path, lines: int = 40) -> str:
    if not path.exists():
        return f"({path.name}: no output)"
    text = path.read_text(errors="replace").splitlines()[-lines:]
    return f"--- {path.name} ---\n" + "\n".join(text)
