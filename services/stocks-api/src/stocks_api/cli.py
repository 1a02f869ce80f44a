"""The `stocks-api` command: serve, migrate, and manage API keys and the password."""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import os
import socket
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from stocks_api.settings import Settings, get_settings

T = TypeVar("T")
MIN_PASSWORD_LENGTH = 8

app = typer.Typer(
    help="stocks: a local trading API for Interactive Brokers.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def _load_settings() -> Settings:
    """Read settings; on a bad value, say which and exit instead of dumping a traceback."""
    try:
        return get_settings()
    except ValidationError as exc:
        for error in exc.errors():
            field = ".".join(str(part) for part in error["loc"])
            typer.echo(f"configuration error in {exc.title} {field}: {error['msg']}", err=True)
        raise typer.Exit(code=2) from None


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="bind address (default API_HOST)")] = None,
    port: Annotated[int | None, typer.Option(help="port (default API_PORT)")] = None,
) -> None:
    """Serve the API with uvicorn, using the settings from the environment and `.env`."""
    import uvicorn

    from stocks_api.main import create_app

    settings = _load_settings()
    # X-Forwarded-For is believed only from the proxies FORWARDED_ALLOW_IPS names; with
    # none (the default) the client address is always the connection's own. (uvicorn's own
    # default would trust 127.0.0.1, so anyone on this machine could pick their address.)
    proxies = settings.trusted_proxies()
    uvicorn.run(
        create_app(settings),
        host=host or settings.api.host,
        port=port or settings.api.port,
        log_config=None,  # our structlog set-up owns logging
        proxy_headers=bool(proxies),
        forwarded_allow_ips=proxies or "",
        server_header=False,
        ws_per_message_deflate=settings.stream.per_message_deflate,
    )


@app.command()
def migrate(
    revision: Annotated[str, typer.Argument(help="target revision")] = "head",
) -> None:
    """Apply the database migrations (Alembic) to DATABASE_URL."""
    from stocks_api.core.migrations import upgrade

    settings = _load_settings()
    upgrade(settings.database.url, revision)
    typer.echo(f"database migrated to {revision}")


def _cli_actor() -> str:
    """Who runs this command, for the auth audit trail: "cli:<os user>@<host>"."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a bare container)
        user = str(os.getuid()) if hasattr(os, "getuid") else "unknown"
    return f"cli:{user}@{socket.gethostname()}"


def _with_session(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run `work` with a database session (the CLI is synchronous; the database is not).

    Its log (the auth audit's lines, say) goes to standard error, apart from the output.
    """
    from stocks_api.core.database import Database
    from stocks_api.core.logging import configure_logging

    configure_logging(settings.log, stream=sys.stderr)

    async def run() -> T:
        db = Database(settings.database)
        try:
            async with db.sessionmaker() as session:
                return await work(session)
        finally:
            await db.dispose()

    return asyncio.run(run())


@app.command("create-api-key")
def create_api_key(
    name: Annotated[str, typer.Option(help="what the key is for, e.g. 'backtest bot'")],
    scopes: Annotated[str, typer.Option(help="comma-separated: read, trade, admin")] = "read",
) -> None:
    """Create an API key; the key itself is printed alone on the last line, once."""
    from stocks_api.auth import service
    from stocks_api.auth.security import format_scopes, parse_scopes

    settings = _load_settings()
    try:
        parsed = parse_scopes(scopes)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=2) from None
    if not name.strip() or len(name) > 64:
        typer.echo("error: --name must be 1-64 characters", err=True)
        raise typer.Exit(code=2)
    actor = _cli_actor()
    row, key = _with_session(
        settings,
        lambda session: service.create_key(session=session, name=name, scopes=parsed, actor=actor),
    )
    typer.echo(f"created API key {row.key_id} ({name}) with scopes: {format_scopes(parsed)}")
    typer.echo("it is shown only now and stored only as a hash:")
    typer.echo(key)


@app.command("revoke-api-key")
def revoke_api_key(
    key_id: Annotated[str, typer.Argument(help="the key's id (the part after stk_), or the key")],
) -> None:
    """Revoke an API key; the running API refuses it within seconds."""
    from stocks_api.auth import service
    from stocks_api.auth.exceptions import ApiKeyNotFoundError
    from stocks_api.auth.security import split_api_key

    settings = _load_settings()
    parts = split_api_key(key_id)
    wanted = parts[0] if parts else key_id
    actor = _cli_actor()
    try:
        row = _with_session(
            settings,
            lambda session: service.revoke_key(session=session, key_id=wanted, actor=actor),
        )
    except ApiKeyNotFoundError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(code=1) from None
    typer.echo(f"revoked API key {row.key_id} ({row.name})")


@app.command("rotate-jwt-secret")
def rotate_jwt_secret() -> None:
    """Give the API a new token-signing secret: every issued token stops working.

    Rotates the secret the embedded default keeps beside its SQLite database. With
    AUTH_JWT_SECRET set (the full stack), change that value and restart every API process.
    """
    from stocks_api.auth.secret_file import rotate, secret_path

    settings = _load_settings()
    if settings.auth.jwt_secret is not None:
        typer.echo(
            "AUTH_JWT_SECRET is set: change it (e.g. `openssl rand -hex 32`) and restart every"
            " API process; no file to rotate",
            err=True,
        )
        raise typer.Exit(code=1)
    path = secret_path(settings.database.url)
    if path is None:
        typer.echo(
            "the database is not a SQLite file: each API process makes its own secret at"
            " start (restart it to rotate); set AUTH_JWT_SECRET to share one",
            err=True,
        )
        raise typer.Exit(code=1)
    rotate(path)
    typer.echo(f"new token-signing secret in {path}: restart the API; everyone signs in again")


@app.command("set-password")
def set_password(
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="read the password from standard input")
    ] = False,
) -> None:
    """Set the local user's password (for POST /api/v1/auth/token and the UI)."""
    from stocks_api.auth import service

    settings = _load_settings()
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("new password", hide_input=True, confirmation_prompt=True)
    if len(password) < MIN_PASSWORD_LENGTH:
        typer.echo(f"error: use at least {MIN_PASSWORD_LENGTH} characters", err=True)
        raise typer.Exit(code=2)
    username = settings.auth.username
    _with_session(
        settings,
        lambda session: service.set_password(session=session, username=username, password=password),
    )
    typer.echo(f"password set for {username}")
    if settings.auth.password_hash is not None:
        typer.echo("note: AUTH_PASSWORD_HASH is set and takes precedence", err=True)


@app.command("gateway-sim")
def gateway_sim(
    host: Annotated[str, typer.Option(help="bind address")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port (IB Gateway paper: 4002)")] = 4002,
    seed: Annotated[int | None, typer.Option(help="price seed (default SIM_SEED)")] = None,
    account: Annotated[
        str | None, typer.Option(help="the paper account (default SIM_ACCOUNT_ID, DU...)")
    ] = None,
    control_port: Annotated[
        int,
        typer.Option(
            min=0,
            max=65535,
            help="fault-injection control port, on 127.0.0.1 only, for the gateway-ctl command"
            " (0: none; gateway-ctl expects 4003)",
        ),
    ] = 0,
    state_file: Annotated[
        Path | None,
        typer.Option(
            dir_okay=False,
            help="keep orders, executions, positions and cash in this SQLite file across"
            " restarts, as IB keeps them (created when missing; default: none, a clean slate"
            " every start)",
        ),
    ] = None,
    delayed_data: Annotated[
        bool,
        typer.Option(
            "--delayed-data",
            help="act as an account without live market data: reqMktData gets error 354,"
            " or delayed ticks and notice 10167 after reqMarketDataType(3)",
        ),
    ] = False,
    pacing: Annotated[
        bool,
        typer.Option(
            help="answer a client sending more than IB's 50 messages a second with error 100"
            " (--no-pacing: benchmarks of the API, not of IB's pace)",
        ),
    ] = True,
) -> None:
    """Serve IB Gateway's TWS socket protocol over the simulated market."""
    from stocks_api.broker.gateway.control import ControlServer
    from stocks_api.broker.gateway.server import GatewaySim
    from stocks_api.broker.gateway.state import StateFileError
    from stocks_api.core.logging import configure_logging

    settings = _load_settings()
    configure_logging(settings.log)
    overrides: dict[str, object] = {}
    if seed is not None:
        overrides["seed"] = seed
    if account is not None:
        overrides["account_id"] = account
    sim = settings.sim.model_copy(update=overrides)

    async def run() -> None:
        gateway = GatewaySim(
            sim,
            host=host,
            port=port,
            calendar=settings.session.calendar(),
            state_file=state_file,
            delayed_data=delayed_data,
            pacing=pacing,
        )
        control = ControlServer(gateway, port=control_port) if control_port else None
        try:
            await gateway.start()
        except StateFileError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(code=2) from None
        typer.echo(f"gateway-sim: TWS API on {host}:{gateway.port}, account {sim.account_id}")
        if state_file is not None:
            typer.echo(f"gateway-sim: state kept in {state_file}")
        try:
            if control is not None:
                try:
                    await control.start()
                except OSError as exc:
                    typer.echo(f"error: control port 127.0.0.1:{control_port}: {exc}", err=True)
                    raise typer.Exit(code=2) from None
                typer.echo(f"gateway-sim: control port on 127.0.0.1:{control.port}")
            await gateway.serve_forever()
        finally:
            if control is not None:
                await control.close()
            await gateway.close()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())


@app.command("gateway-ctl")
def gateway_ctl(
    command: Annotated[
        list[str],
        typer.Argument(
            help="one control command, e.g. status, book, drop, 'reject 201', 'outage 5 1101',"
            " 'restart 10', or help"
        ),
    ],
    control_port: Annotated[
        int, typer.Option(min=1, max=65535, help="the gateway-sim's --control-port")
    ] = 4003,
) -> None:
    """Send a running gateway-sim one fault-injection command; exit 1 when it answers error."""
    from stocks_api.broker.gateway.control import send_command

    try:
        answer = asyncio.run(send_command(" ".join(command), port=control_port))
    except (OSError, TimeoutError, ValueError) as exc:
        reason = str(exc) or type(exc).__name__
        typer.echo(f"error: gateway-sim control port 127.0.0.1:{control_port}: {reason}", err=True)
        raise typer.Exit(code=2) from None
    if not answer.startswith("ok"):
        typer.echo(answer, err=True)
        raise typer.Exit(code=1)
    typer.echo(answer)


def main() -> None:
    app()
