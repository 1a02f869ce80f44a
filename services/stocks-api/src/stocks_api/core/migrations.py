"""Apply the Alembic migrations that own the schema (`stocks-api migrate`, tests)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from stocks_api.core.database import ensure_sqlite_directory

# services/stocks-api/alembic.ini, next to src/ (the package is installed editable).
SERVICE_DIR = Path(__file__).resolve().parents[3]
ALEMBIC_INI = SERVICE_DIR / "alembic.ini"


def alembic_config(url: str) -> Config:
    """An Alembic config for `url`, independent of the current directory."""
    config = Config(str(ALEMBIC_INI))
    config.set_main_option("script_location", str(SERVICE_DIR / "migrations"))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Migrate the database at `url` (runs its own event loop; not for async callers)."""
    if url.startswith("sqlite"):
        ensure_sqlite_directory(url)
    command.upgrade(alembic_config(url), revision)


async def upgrade_async(engine: AsyncEngine, revision: str = "head") -> None:
    """Migrate through an existing async engine (for callers already in an event loop)."""
    config = alembic_config(engine.url.render_as_string(hide_password=False))

    def run(connection: Connection) -> None:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)

    async with engine.begin() as conn:
        await conn.run_sync(run)
