"""Settings: one root object with nested groups, read from the environment and `.env`.

Each group reads its own variables under a prefix (`DATABASE_`, `SIM_`, ...), so the
environment stays flat (`DATABASE_URL`, `SIM_SEED`) while code reads
`settings.database.url`. Build it once with `get_settings()` at start-up and pass it on;
nothing reads the environment at import time.
"""

from __future__ import annotations

import enum
import ipaddress
from dataclasses import replace
from decimal import Decimal
from typing import Literal

from limits import parse_many
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url

from stocks_api.broker.sim.symbols import SymbolSpec, parse_symbols
from stocks_api.core.calendar import (
    SessionCalendar,
    build_calendar,
    load_zone,
    parse_dates,
    parse_time_of_day,
    parse_weekdays,
)
from stocks_api.risk.schemas import RiskLimits

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
    """The simulated broker: its symbols, random seed, clock and paper account."""

    model_config = _group_config("SIM_")

    seed: int = 42
    symbols: str = "AAPL,MSFT,GOOGL,AMZN,NVDA,META,TSLA,SPY,QQQ,IBM,AMD,NFLX"
    # Symbols that trade in fractions of a share (0.0001 increments); others need whole shares.
    fractional_symbols: str = ""
    tick_interval_seconds: float = Field(default=0.25, gt=0, le=60)
    volatility: Decimal = Field(default=Decimal("0.001"), gt=0, lt=1)
    # IBKR paper accounts start with DU; another id makes the simulator look live.
    account_id: str = Field(default="DU1234567", pattern=r"^[A-Z]{1,3}[0-9]{1,12}$")
    account_type: Literal["margin", "cash"] = "margin"
    starting_cash: Decimal = Field(default=Decimal("1000000"), ge=0, le=Decimal("1E12"))
    # Minute bars kept per symbol (history is back-filled on first use).
    bar_history_days: int = Field(default=3, ge=1, le=30)

    @field_validator("symbols")
    @classmethod
    def _parsable(cls, value: str) -> str:
        parse_symbols(value)  # raises ValueError with a clear message
        return value

    @field_validator("fractional_symbols")
    @classmethod
    def _known_symbols(cls, value: str) -> str:
        return ",".join(name.strip().upper() for name in value.split(",") if name.strip())

    @model_validator(mode="after")
    def _fractional_symbols_traded(self) -> SimSettings:
        self.symbol_specs()  # raises ValueError naming untraded fractional symbols
        return self

    def symbol_specs(self) -> list[SymbolSpec]:
        fractional = set(self.fractional_symbols.split(",")) if self.fractional_symbols else set()
        specs = parse_symbols(self.symbols)
        unknown = fractional - {spec.symbol for spec in specs}
        if unknown:
            raise ValueError(f"SIM_FRACTIONAL_SYMBOLS names untraded symbols: {sorted(unknown)}")
        return [
            replace(spec, fractional=True) if spec.symbol in fractional else spec for spec in specs
        ]


class SessionSettings(BaseSettings):
    """The regular trading session: DAY-order expiry, RTH-only matching, daily P&L reset."""

    model_config = _group_config("SESSION_")

    timezone: str = "America/New_York"
    open: str = "09:30"
    close: str = "16:00"
    days: str = "mon-fri"
    holidays: str = ""

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        load_zone(value)
        return value

    @field_validator("open", "close")
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
        return self

    def calendar(self) -> SessionCalendar:
        return build_calendar(
            zone=self.timezone,
            open_at=self.open,
            close_at=self.close,
            weekdays=self.days,
            holidays=self.holidays,
        )


class PortfolioSettings(BaseSettings):
    """Position and account snapshots (the history endpoints)."""

    model_config = _group_config("PORTFOLIO_")

    # Besides one snapshot per fill, every open position and account is snapshotted this often.
    snapshot_interval_seconds: float = Field(default=60, ge=1, le=86400)


class RiskSettings(BaseSettings, RiskLimits):
    """The risk limits at start-up (`PUT /api/v1/risk/limits` changes them at run time).

    Every limit can be switched off with an empty value; lists are comma-separated.
    """

    model_config = _group_config("RISK_")


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
    # Browser origins allowed to call the API (comma-separated); empty means same origin only.
    cors_origins: str = ""
    # Request bodies larger than this are refused with 413 before they are read.
    max_body_bytes: int = Field(default=65536, ge=1024, le=10 * 1024 * 1024)
    # The dashboard's static build served at / (empty: services/stocks-webapp/dist of
    # this checkout, which `make run` builds).
    ui_dir: str = ""

    def cors_origin_list(self) -> list[str]:
        return [origin.strip() for origin in self.cors_origins.split(",") if origin.strip()]


class IbSettings(BaseSettings):
    """The IBKR connection (`BROKER=ibkr`): IB Gateway, TWS, or `stocks-api gateway-sim`."""

    model_config = _group_config("IB_")

    host: str = "127.0.0.1"
    # IB Gateway: 4002 paper, 4001 live; TWS: 7497 paper, 7496 live (live ports need
    # ALLOW_LIVE_TRADING=true to trade).
    port: int = Field(default=4002, ge=1, le=65535)
    client_id: int = Field(default=1, ge=0, le=2**31 - 1)
    # The account to trade in when the login manages several (empty: the first).
    account: str = ""
    connect_timeout_seconds: float = Field(default=10, gt=0, le=120)
    # Reconnect attempts back off from 0.5 s (with jitter) up to this.
    reconnect_max_seconds: float = Field(default=30, ge=1, le=600)
    # Placing an order waits up to this long for IB's first answer (submitted, filled or
    # rejected), so the response shows IB's verdict; later changes arrive as events.
    ack_timeout_seconds: float = Field(default=2, ge=0, le=30)
    # IB answers clients sending more than 50 messages a second with error 100 (and may
    # disconnect them); requests above this rate wait their turn, a tenth of this every
    # tenth of a second, so no second at IB ever sees more than 50.
    max_messages_per_second: int = Field(default=40, ge=10, le=45)


class StreamSettings(BaseSettings):
    """The WebSocket stream at /api/v1/ws."""

    model_config = _group_config("WS_")

    # A heartbeat message goes out after this many seconds without any other message.
    heartbeat_seconds: float = Field(default=15, gt=0, le=300)
    # Messages queued for one client before it counts as too slow and is closed with 4408.
    queue_size: int = Field(default=1000, ge=10, le=100_000)
    # Time a client has to authenticate (query, headers or an `auth` message) after connecting.
    auth_timeout_seconds: float = Field(default=5, gt=0, le=60)
    # Quotes of followed symbols are polled from the broker this often.
    quote_interval_seconds: float = Field(default=0.25, ge=0.05, le=60)
    # `quotes:SYMBOL` channels one connection may follow.
    max_quote_symbols: int = Field(default=50, ge=1, le=500)
    # Compress frames (permessage-deflate) when the client offers it. Off: compressing
    # each frame for each client was a third of the server's fan-out CPU (bench/RESULTS.md).
    per_message_deflate: bool = False


# Values that mean "someone forgot to set this" (from examples and tutorials).
PLACEHOLDER_SECRETS = frozenset(
    {"", "change-me", "changeme", "change_me", "secret", "password", "please-change", "xxx"}
)
MIN_SECRET_LENGTH = 32


class AuthSettings(BaseSettings):
    """Authentication: API keys, the local user's password and the JWTs it gets."""

    model_config = _group_config("AUTH_")

    # Signs access tokens. Development without one uses a random secret per process
    # (tokens die with a restart); anywhere else it is required.
    jwt_secret: SecretStr | None = None
    token_ttl_seconds: int = Field(default=900, ge=60, le=86400)
    username: str = Field(default="admin", min_length=1, max_length=64)
    # An argon2 hash (`stocks-api hash-password`); when unset, `stocks-api set-password` decides.
    password_hash: SecretStr | None = None
    # Development only: on the first start (no API key exists) print a new admin key once.
    bootstrap_admin_key: bool = True
    # Attempts per client address on POST /api/v1/auth/token (limits' notation; several
    # windows separated by ";").
    token_rate_limit: str = "5/minute"  # noqa: S105 - a rate, not a password
    # Attempts per username, from any address, in the same notation: short windows, so
    # the real user waits seconds (at most a minute), never hours; a successful sign-in
    # clears the username's count (auth.ratelimit).
    username_rate_limit: str = "3/10seconds;10/minute"

    @field_validator("jwt_secret", "password_hash", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("token_rate_limit", "username_rate_limit")
    @classmethod
    def _parsable_limit(cls, value: str) -> str:
        try:
            parse_many(value)
        except ValueError:
            raise ValueError(
                f"invalid rate limit {value!r}: use e.g. 5/minute or 3/10seconds;10/minute"
            ) from None
        return value


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

    model_config = _group_config("METRICS_")

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


class Settings(BaseSettings):
    """The root of every setting; see `.env.example` for each variable."""

    model_config = SettingsConfigDict(env_file=ENV_FILE, extra="ignore", validate_default=True)

    environment: Environment = Environment.DEVELOPMENT
    broker: Literal["sim", "ibkr"] = "sim"
    broker_timeout_seconds: float = Field(default=5.0, gt=0, le=120)
    # One instance per database owns the broker connection (a database lock); another
    # runs read-only and tries to take over this often, and the owner checks it still
    # holds the lock this often.
    broker_lock_retry_seconds: float = Field(default=5.0, gt=0, le=300)
    # Reconciliation runs after every (re)connect; besides, every interval it looks for
    # orders that have waited longer than the grace for the broker's acknowledgement, asks
    # the broker to replay, and resolves those the broker does not know.
    reconcile_interval_seconds: float = Field(default=5.0, gt=0, le=300)
    reconcile_grace_seconds: float = Field(default=20.0, gt=0, le=3600)
    # Orders to a live account (or a live IBKR port) are refused unless this is true.
    allow_live_trading: bool = False
    # Redis for the event bus (redis://host:port/db) and the sign-in rate limits' counts;
    # unset keeps both in this process.
    redis_url: str | None = None
    # Proxies whose X-Forwarded-For (and -Proto) uvicorn believes: comma-separated addresses
    # or networks, `*` for any. Empty (the default) believes no one, so the client address
    # (sign-in limits, the auth audit, logs) is always the connection's own.
    forwarded_allow_ips: str = ""

    api: ApiSettings = Field(default_factory=ApiSettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    sim: SimSettings = Field(default_factory=SimSettings)
    ib: IbSettings = Field(default_factory=IbSettings)
    session: SessionSettings = Field(default_factory=SessionSettings)
    portfolio: PortfolioSettings = Field(default_factory=PortfolioSettings)
    risk: RiskSettings = Field(default_factory=RiskSettings)
    log: LogSettings = Field(default_factory=LogSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    stream: StreamSettings = Field(default_factory=StreamSettings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)

    @field_validator("redis_url", mode="before")
    @classmethod
    def _redis_url(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        if isinstance(value, str) and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("REDIS_URL must start with redis://, rediss:// or unix://")
        return value

    @field_validator("forwarded_allow_ips")
    @classmethod
    def _proxies(cls, value: str) -> str:
        parse_addresses(value, allow_any=True)
        return value

    def trusted_proxies(self) -> list[str]:
        """FORWARDED_ALLOW_IPS as a list (empty: trust no forwarded header)."""
        return parse_addresses(self.forwarded_allow_ips, allow_any=True)

    @model_validator(mode="after")
    def _real_secrets_outside_development(self) -> Settings:
        if self.environment is Environment.DEVELOPMENT:
            return self
        secret = self.auth.jwt_secret
        if placeholder_secret(None if secret is None else secret.get_secret_value()):
            raise ValueError(
                f"AUTH_JWT_SECRET must be set to a random value of at least {MIN_SECRET_LENGTH} "
                "characters outside development (e.g. `openssl rand -hex 32`)"
            )
        if not self.database.is_sqlite:
            password = make_url(self.database.url).password
            if password is None or str(password).strip().lower() in PLACEHOLDER_SECRETS:
                raise ValueError(
                    "the password in DATABASE_URL is missing or a placeholder; "
                    "set a real one outside development"
                )
        return self


def get_settings() -> Settings:
    """Read the settings from the environment and `.env`."""
    return Settings()
