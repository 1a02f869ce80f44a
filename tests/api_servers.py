"""A real `stocks-api serve` process on a loopback port (uvicorn as `make run` starts it).

For what only a real server shows: how uvicorn reads X-Forwarded-For (FORWARDED_ALLOW_IPS),
what Prometheus sends. The process gets only the basic environment plus the settings given,
runs in its own folder (its `.env`, if a test writes one, is read from there), on a fresh
migrated SQLite database with the simulated broker.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.integration.stack.helpers import ALWAYS_OPEN, base_env, process, tail, wait_for
from tests.redis_servers import free_port

CLI = str(Path(sys.executable).parent / "stocks-api")


@dataclass(frozen=True)
class ApiServer:
    url: str
    port: int
    directory: Path
    log: Path

    def cli(self, *args: str, stdin: str | None = None) -> str:
        """Run a `stocks-api` command on this server's database; return its output."""
        result = subprocess.run(
            [CLI, *args],
            env=self.env,
            cwd=self.directory,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    @property
    def env(self) -> dict[str, str]:
        return base_env(**_settings(self.directory))

    def admin_key(self) -> str:
        return self.cli("create-api-key", "--name", "test admin", "--scopes", "read,admin").split()[
            -1
        ]


def _settings(directory: Path, **extra: str) -> dict[str, str]:
    return {
        "DATABASE_URL": f"sqlite+aiosqlite:///{directory / 'stocks.db'}",
        "LOG_LEVEL": "WARNING",
        "AUTH_BOOTSTRAP_ADMIN_KEY": "false",
        **ALWAYS_OPEN,
        **extra,
    }


@contextmanager
def api_server(directory: Path, **settings: str) -> Iterator[ApiServer]:
    """Migrate a fresh database in `directory` and serve it with `settings` (env vars)."""
    directory.mkdir(parents=True, exist_ok=True)
    env = base_env(**_settings(directory, **settings))
    migrated = subprocess.run(
        [CLI, "migrate"], env=env, cwd=directory, capture_output=True, text=True, timeout=120
    )
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr
    port = free_port()
    log = directory / "api.log"
    args = [CLI, "serve", "--host", "127.0.0.1", "--port", str(port)]
    with process(args, log=log, env=env, cwd=directory) as proc:
        url = f"http://127.0.0.1:{port}"

        def live() -> bool:
            assert proc.poll() is None, tail(log)
            return httpx.get(f"{url}/health/live", timeout=1).status_code == 200

        wait_for(
            live, timeout=30, what="stocks-api serve did not answer", explain=lambda: tail(log)
        )
        yield ApiServer(url=url, port=port, directory=directory, log=log)
