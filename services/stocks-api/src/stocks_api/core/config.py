"""Settings: one root object with nested groups, read from the environment and `.env`.

Each group reads its own variables under a prefix (`DATABASE_`, `SIM_`, ...), so the
environment stays flat (`DATABASE_URL`, `SIM_SEED`) while code reads
`settings.database.url`. Build it once with `get_settings()` at start-up and pass it on;
nothing reads the environment at import time.
"""

from __future__ import annotations

import enum
from decimal import Decimal
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from stocks_api.broker.sim.symbols import SymbolSpec, parse_symbols

ENV_FILE = ".env"


def _group_config(prefix: str) -> SettingsConfigDict:
    return SettingsConfigDict(
        env_prefix=prefix, env_file=ENV_FILE, extra="ignore", validate_default=True
    )


class Environment(enum.StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


class DatabaseSettings(BaseSettings):
    """Where orders, events and fills are stored."""

    model_config = _group_config("DATABASE_")

    url: str = "sqlite+aiosqlite:///./data/stocks.db"
    pool_size: int = Field(default=40, ge=1, le=200)
    echo: bool = False

    @field_validator("url")
    @classmethod
    def _supported_driver(cls, value: str) -> str:
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError(
                "DATABASE_URL must start with sqlite+aiosqlite:// or postgresql+asyncpg://"
            )
        return value

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite")


class SimSettings(BaseSettings):
    """The simulated broker: its symbols, random seed and clock."""

    model_config = _group_config("SIM_")

    seed: int = 42
    symbols: str = "AAPL,MSFT,GOOGL,AMZN,NVDA,META,TSLA,SPY,QQQ,IBM,AMD,NFLX"
    tick_interval_seconds: float = Field(default=0.25, gt=0, le=60)
    volatility: Decimal = Field(default=Decimal("0.001"), gt=0, lt=1)

    @field_validator("symbols")
    @classmethod
    def _parsable(cls, value: str) -> str:
        parse_symbols(value)  # raises ValueError with a clear message
        return value

    def symbol_specs(self) -> list[SymbolSpec]:
        return parse_symbols(self.symbols)


class LogSettings(BaseSettings):
    """Structured logging."""

    model_config = _group_config("LOG_")

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["json", "console"] = "json"

    @field_validator("level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value


class ApiSettings(BaseSettings):
    """The HTTP server."""

    model_config = _group_config("API_")

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)


class Settings(BaseSettings):
    """The root of every setting; see `.env.example` for each variable."""

    model_config = SettingsConfigDict(env_file=ENV_FILE, extra="ignore", validate_default=True)

    environment: Environment = Environment.DEVELOPMENT
    broker: Literal["sim"] = "sim"
    broker_timeout_seconds: float = Field(default=5.0, gt=0, le=120)

    api: ApiSettings = Field(default_factory=ApiSettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    sim: SimSettings = Field(default_factory=SimSettings)
    log: LogSettings = Field(default_factory=LogSettings)


def get_settings() -> Settings:
    """Read the settings from the environment and `.env`."""
    return Settings()
