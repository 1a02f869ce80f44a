"""Authentication's settings (`AUTH_*`)."""

from __future__ import annotations

from limits import parse_many
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings

from stocks_api.core.config import group_config


class AuthSettings(BaseSettings):
    """Authentication: API keys, the local user's password and the JWTs it gets."""

    model_config = group_config("AUTH_")

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
