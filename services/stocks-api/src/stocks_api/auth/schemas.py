"""Schemas of authentication: tokens and API keys."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, Field

from stocks_api.auth.security import Scope
from stocks_api.core.schemas import ApiModel, RequestModel, UTCDatetime


class TokenRead(ApiModel):
    """An OAuth2 access token."""

    access_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret
    expires_in: int = Field(description="seconds until the token expires")


class ApiKeyCreate(RequestModel):
    """A new API key."""

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9 ._:\-]+$")
    scopes: list[Scope] = Field(min_length=1, examples=[["read", "trade"]])


def _split(value: Any) -> Any:
    return value.split() if isinstance(value, str) else value


class ApiKeyRead(ApiModel):
    """An API key as stored: never its secret."""

    key_id: str
    name: str
    scopes: Annotated[list[Scope], BeforeValidator(_split)]
    created_at: UTCDatetime
    last_used_at: UTCDatetime | None
    revoked_at: UTCDatetime | None


class ApiKeyCreated(ApiKeyRead):
    """A key just made: `key` is shown this once and never again."""

    key: str
