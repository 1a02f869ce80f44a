"""The kernel's settings groups and the helpers every group uses.

Each group reads its own variables under a prefix (`DATABASE_`, `SIM_`, ...), so the
environment stays flat (`DATABASE_URL`, `SIM_SEED`) while code reads
`settings.database.url`. The groups of the kernel live here; each domain keeps its own
group beside its code (`broker/sim/settings.py`, `risk/settings.py`, ...), built with
`group_config`. The root `Settings` that composes them all, and `get_settings()`, are in
`stocks_api.settings` (the composition layer); nothing reads the environment at import time.
"""

from __future__ import annotations

import enum
import ipaddress
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from stocks_api.core.calendar import (
    SessionCalendar,
    build_calendar,
    load_zone,
    parse_dates,
    parse_time_of_day,
    parse_weekdays,
)

ENV_FILE = ".env"


def group_config(prefix: str) -> SettingsConfigDict:
    """The configuration of a settings group reading the variables under `prefix`."""
    return SettingsConfigDict(
        env_prefix=prefix, env_file=ENV_FILE, extra="ignore", validate_default=True
    )


class Environment(enum.StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


class DatabaseSettings(BaseSettings):
    """Where orders, events and fills are stored."""

    model_config = group_config("DATABASE_")

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


class SessionSettings(BaseSettings):
    """The trading sessions: DAY-order expiry, RTH-only matching, daily P&L reset, /clock."""

    model_config = group_config("SESSION_")

    timezone: str = "America/New_York"
    open: str = "09:30"
    close: str = "16:00"
    days: str = "mon-fri"
    # The exchange whose holidays and early closes apply ("none": only `holidays` below).
    exchange: Literal["nyse", "none"] = "nyse"
    # Extra closures on top of the exchange's table.
    holidays: str = ""
    # The regular close on the exchange's early-close days.
    early_close: str = "13:00"
    # The extended window, where outside_rth orders work (it contains the regular session).
    extended_open: str = "04:00"
    extended_close: str = "20:00"

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        load_zone(value)
        return value

    @field_validator("open", "close", "early_close", "extended_open", "extended_close")
    @classmethod
    def _time(cls, value: str) -> str:
        parse_time_of_day(value)
        return value

    @field_validator("days")
    @classmethod
    def _days(cls, value: str) -> str:
        parse_weekdays(value)
        return value

    @field_validator("holidays")
    @classmethod
    def _holidays(cls, value: str) -> str:
        parse_dates(value)
        return value

    @model_validator(mode="after")
    def _opens_before_close(self) -> SessionSettings:
        if parse_time_of_day(self.open) >= parse_time_of_day(self.close):
            raise ValueError("SESSION_OPEN must be before SESSION_CLOSE")
        if parse_time_of_day(self.extended_open) >= parse_time_of_day(self.extended_close):
            raise ValueError("SESSION_EXTENDED_OPEN must be before SESSION_EXTENDED_CLOSE")
        if self.exchange != "none" and parse_time_of_day(self.early_close) <= parse_time_of_day(
            self.open
        ):
            raise ValueError("SESSION_EARLY_CLOSE must be after SESSION_OPEN")
        return self

    def calendar(self) -> SessionCalendar:
        return build_calendar(
            zone=self.timezone,
            open_at=self.open,
            close_at=self.close,
            weekdays=self.days,
            holidays=self.holidays,
            exchange=self.exchange,
            early_close_at=self.early_close,
            extended_open_at=self.extended_open,
            extended_close_at=self.extended_close,
        )


class LogSettings(BaseSettings):
    """Structured logging."""

    model_config = group_config("LOG_")

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["json", "console"] = "json"

    @field_validator("level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value


class ApiSettings(BaseSettings):
    """The HTTP server."""

    model_config = group_config("API_")

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    # Browser origins allowed to call the API (comma-separated); empty means same origin only.
    cors_origins: str = ""
    # Request bodies larger than this are refused with 413 before they are read.
    max_body_bytes: int = Field(default=65536, ge=1024, le=10 * 1024 * 1024)
    # The dashboard's static build served at / (empty: services/stocks-webapp/dist of
    # this checkout, which `make run` builds).
    ui_dir: str = ""

    def cors_origin_list(self) -> list[str]:
        return [origin.strip() for origin in self.cors_origins.split(",") if origin.strip()]


# Values that mean "someone forgot to set this" (from examples and tutorials).
PLACEHOLDER_SECRETS = frozenset(
    {"", "change-me", "changeme", "change_me", "secret", "password", "please-change", "xxx"}
)
MIN_SECRET_LENGTH = 32


def parse_addresses(text: str, *, allow_any: bool = False) -> list[str]:
    """Parse a comma-separated list of IP addresses and networks (CIDR), as given.

    Raises:
        ValueError: an entry is neither (or is `*` where `allow_any` is false).
    """
    entries = [entry.strip() for entry in text.split(",") if entry.strip()]
    for entry in entries:
        if entry == "*" and allow_any:
            continue
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            raise ValueError(
                f"{entry!r} is not an IP address or network (e.g. 10.0.0.5, 172.18.0.0/16)"
            ) from None
    return entries


class MetricsSettings(BaseSettings):
    """Who may read /metrics on the API's own port (unset: anyone who reaches the port)."""

    model_config = group_config("METRICS_")

    # A bearer token Prometheus must send (`Authorization: Bearer <token>`).
    token: SecretStr | None = None
    # Client addresses and networks allowed to read /metrics (comma-separated).
    allow_ips: str = ""

    @field_validator("token", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("token")
    @classmethod
    def _real_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and placeholder_secret(value.get_secret_value()):
            raise ValueError(
                f"METRICS_TOKEN must be a random value of at least {MIN_SECRET_LENGTH} "
                "characters (e.g. `openssl rand -hex 32`), or empty"
            )
        return value

    @field_validator("allow_ips")
    @classmethod
    def _addresses(cls, value: str) -> str:
        parse_addresses(value)
        return value

    def allowed_networks(self) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        entries = parse_addresses(self.allow_ips)
        return [ipaddress.ip_network(entry, strict=False) for entry in entries]


def placeholder_secret(value: str | None) -> bool:
    """Tell whether a secret is missing, a known placeholder, or too short to be one."""
    return (
        value is None
        or value.strip().lower() in PLACEHOLDER_SECRETS
        or len(value) < MIN_SECRET_LENGTH
    )
