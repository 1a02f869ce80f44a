"""A running stack like docker-compose.yml's, built from the machine's services.

`stack_database`: a throwaway database and two roles made by init.sql (as the postgres
image runs it), migrated by Alembic as the owner role. `stack`: on top of it, the way
compose wires the services: a private Redis, `stocks-api gateway-sim`, and
`stocks-api serve` in production mode as the least-privileged role, with BROKER=ibkr
against the gateway-sim. Both are made once per run; their processes log into one folder.
"""

from __future__ import annotations

import secrets
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.databases import PG_HOST, PG_PORT, PG_USER, _run_admin, require_postgres
from tests.integration.stack.helpers import (
    ALWAYS_OPEN,
    CLI,
    INIT_SQL,
    base_env,
    gateway_command,
    http_ok,
    process,
    require_program,
    tail,
    wait_for,
)
from tests.redis_servers import PrivateRedis, free_port


@dataclass(frozen=True)
class StackDatabase:
    name: str
    owner: str
    owner_password: str
    app: str
    app_password: str

    def url(self, role: str, password: str) -> str:
        return f"postgresql+asyncpg://{role}:{password}@{PG_HOST}:{PG_PORT}/{self.name}"

    @property
    def owner_url(self) -> str:
        return self.url(self.owner, self.owner_password)

    @property
    def app_url(self) -> str:
        return self.url(self.app, self.app_password)

    def init_env(self) -> dict[str, str]:
        """init.sql's parameters, as docker-compose.yml gives them to the postgres image."""
        return base_env(
            STOCKS_DB_NAME=self.name,
            STOCKS_DB_OWNER=self.owner,
            STOCKS_DB_OWNER_PASSWORD=self.owner_password,
            STOCKS_DB_USER=self.app,
            STOCKS_DB_PASSWORD=self.app_password,
        )


def run_init_sql(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run init.sql with psql as the superuser, like the postgres image's entrypoint."""
    psql = require_program("psql")
    args = [psql, "-X", "-q", "-h", PG_HOST, "-p", str(PG_PORT), "-U", PG_USER, "-d", "postgres"]
    return subprocess.run(
        [*args, "-v", "ON_ERROR_STOP=1", "-f", str(INIT_SQL)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def drop_database_and_roles(name: str, *roles: str) -> None:
    _run_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    for role in roles:
        _run_admin(f'DROP ROLE IF EXISTS "{role}"')


@pytest.fixture(scope="session")
def stack_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackDatabase]:
    require_postgres()
    suffix = uuid.uuid4().hex[:10]
    db = StackDatabase(
        name=f"stocks_stack_{suffix}",
        owner=f"stocks_owner_{suffix}",
        owner_password=secrets.token_hex(16),
        app=f"stocks_app_{suffix}",
        app_password=secrets.token_hex(16),
    )
    try:
        result = run_init_sql(db.init_env())
        assert result.returncode == 0, result.stdout + result.stderr
        migrate = subprocess.run(
            [CLI, "migrate"],
            env=base_env(DATABASE_URL=db.owner_url, LOG_LEVEL="WARNING"),
            cwd=tmp_path_factory.mktemp("migrate"),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert migrate.returncode == 0, migrate.stdout + migrate.stderr
        yield db
    finally:
        drop_database_and_roles(db.name, db.app, db.owner)


@dataclass(frozen=True)
class Stack:
    api: str
    api_port: int
    key: str
    control_port: int
    workdir: Path
    database: StackDatabase

    def logs(self) -> str:
        return "\n".join(tail(path) for path in sorted(self.workdir.glob("*.log")))


@pytest.fixture(scope="session")
def stack(
    stack_database: StackDatabase, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    workdir = tmp_path_factory.mktemp("stack")
    gateway_port, control_port, api_port = free_port(), free_port(), free_port()
    with ExitStack() as stack_:
        redis = PrivateRedis(workdir)
        redis.start()
        stack_.callback(redis.stop)

        market = {**ALWAYS_OPEN, "SIM_TICK_INTERVAL_SECONDS": "0.1", "LOG_LEVEL": "WARNING"}
        gateway = [CLI, "gateway-sim", "--port", str(gateway_port)]
        stack_.enter_context(
            process(
                [*gateway, "--control-port", str(control_port)],
                log=workdir / "gateway-sim.log",
                env=base_env(ENVIRONMENT="development", **market),
                cwd=workdir,
            )
        )
        wait_for(
            lambda: gateway_command(control_port, "status").startswith("ok"),
            timeout=30,
            what="gateway-sim did not answer on its control port",
            explain=lambda: tail(workdir / "gateway-sim.log"),
        )

        # As docker-compose.yml runs the API: production, the app role, Redis, IBKR.
        api_env = base_env(
            ENVIRONMENT="production",
            AUTH_JWT_SECRET=secrets.token_hex(32),
            DATABASE_URL=stack_database.app_url,
            REDIS_URL=redis.url,
            BROKER="ibkr",
            IB_HOST="127.0.0.1",
            IB_PORT=str(gateway_port),
            IB_CLIENT_ID="1",
            # A gateway told to answer late makes an order time out (504) within the test.
            BROKER_TIMEOUT_SECONDS="2",
            **market,
        )
        created = subprocess.run(
            [CLI, "create-api-key", "--name", "stack-test", "--scopes", "read,trade,admin"],
            env=api_env,
            cwd=workdir,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert created.returncode == 0, created.stdout + created.stderr
        key = created.stdout.strip().splitlines()[-1]

        stack_.enter_context(
            process(
                [CLI, "serve", "--host", "127.0.0.1", "--port", str(api_port)],
                log=workdir / "api.log",
                env=api_env,
                cwd=workdir,
            )
        )
        api = f"http://127.0.0.1:{api_port}"
        wait_for(
            http_ok(f"{api}/health/ready"),
            timeout=45,
            what="the API was not ready (database, broker)",
            explain=lambda: tail(workdir / "api.log") + "\n" + tail(workdir / "gateway-sim.log"),
        )
        assert httpx.get(f"{api}/api/v1/broker", headers={"X-API-Key": key}).json()["connected"]
        yield Stack(
            api=api,
            api_port=api_port,
            key=key,
            control_port=control_port,
            workdir=workdir,
            database=stack_database,
        )
