"""The `stocks-api` command: serve the API, migrate the database."""

from __future__ import annotations

from typing import Annotated

import typer
from pydantic import ValidationError

from stocks_api.core.config import Settings, get_settings

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
    uvicorn.run(
        create_app(settings),
        host=host or settings.api.host,
        port=port or settings.api.port,
        log_config=None,  # our structlog set-up owns logging
        proxy_headers=True,
        server_header=False,
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


def main() -> None:
    app()
