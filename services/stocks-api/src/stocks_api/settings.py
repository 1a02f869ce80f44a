"""The root `Settings`: its own variables and every group, read from the environment and `.env`.

Each group reads its own variables under a prefix (`DATABASE_`, `SIM_`, ...) and lives
beside the code it configures (the kernel's in `core/config.py`, `broker/sim/settings.py`,
`risk/settings.py`, ...); the root composes them, so the environment stays flat
(`DATABASE_URL`, `SIM_SEED`) while code reads `settings.database.url`. Build it once with
`get_settings()` at start-up and pass each part on; nothing reads the environment at import
time. Only the composition layer (`main`, `cli`) imports this module.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url

from stocks_api.auth.settings import AuthSettings
from stocks_api.broker.ib.settings import IbSettings
from stocks_api.broker.sim.settings import SimSettings
from stocks_api.core.config import (
    ENV_FILE,
    MIN_SECRET_LENGTH,
    PLACEHOLDER_SECRETS,
    ApiSettings,
    DatabaseSettings,
    Environment,
    LogSettings,
    MetricsSettings,
    SessionSettings,
    parse_addresses,
    placeholder_secret,
)
from stocks_api.portfolio.settings import PortfolioSettings
from stocks_api.risk.settings import RiskSettings
from stocks_api.streaming.settings import StreamSettings


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
