"""Schemas of authentication: tokens, API keys and the audit trail."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, Field

from stocks_api.auth.models import AuthEventKind
from stocks_api.auth.security import Scope
from stocks_api.core.pagination import Cursor
from stocks_api.core.schemas import ApiModel, Page, RequestModel, UTCDatetime


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


class AuthEventRead(ApiModel):
    """One entry of the authentication audit trail."""

    id: int
    kind: AuthEventKind
    actor: str = Field(
        description="the username a sign-in named (existing or not), or the credential that"
        " made or revoked the key: key:<name>, user:<name>, cli:<os user>@<host>, first start"
    )
    key_id: str | None = Field(description="the API key made or revoked")
    client_address: str | None = Field(
        description="the client's address as the API saw it (FORWARDED_ALLOW_IPS decides"
        " whether a proxy's X-Forwarded-For counts); null from the CLI"
    )
    user_agent: str | None
    request_id: str | None
    reason: str | None = Field(description="why a sign-in failed or was refused; the key's name")
    created_at: UTCDatetime


class AuthEventPage(Page[AuthEventRead]):
    """A page of the authentication audit trail, newest first."""


class AuthEventFilters(RequestModel):
    """Query parameters of `GET /api/v1/auth/events`."""

    kind: AuthEventKind | None = None
    limit: int = Field(default=100, ge=1, le=500)
    cursor: Cursor = None
