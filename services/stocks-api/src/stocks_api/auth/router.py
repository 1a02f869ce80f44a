"""REST routes of authentication: sign in for a token; manage API keys; the audit (admin)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, status
from fastapi.security import OAuth2PasswordRequestForm

from stocks_api.auth import service
from stocks_api.auth.dependencies import (
    ClientDep,
    PrincipalDep,
    get_authenticator,
    get_sign_in_limiter,
)
from stocks_api.auth.ratelimit import SignInLimiter
from stocks_api.auth.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyRead,
    AuthEventFilters,
    AuthEventPage,
    AuthEventRead,
    TokenRead,
)
from stocks_api.auth.service import Authenticator
from stocks_api.core.dependencies import SessionDep
from stocks_api.core.json_body import ExactJsonRoute

token_router = APIRouter(prefix="/auth", tags=["auth"], route_class=ExactJsonRoute)
keys_router = APIRouter(prefix="/auth/keys", tags=["auth"], route_class=ExactJsonRoute)
events_router = APIRouter(prefix="/auth/events", tags=["auth"], route_class=ExactJsonRoute)

_ERRORS: dict[int | str, dict[str, object]] = {
    401: {"description": "missing or invalid credentials"},
    403: {"description": "missing scope"},
    429: {"description": "too many attempts"},
}


@token_router.post("/token", responses=_ERRORS)
async def issue_token(
    session: SessionDep,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    authenticator: Annotated[Authenticator, Depends(get_authenticator)],
    limiter: Annotated[SignInLimiter, Depends(get_sign_in_limiter)],
    client: ClientDep,
) -> TokenRead:
    """Sign in with the local user's password (OAuth2 password form) for an access token."""
    token = await service.sign_in(
        session=session,
        authenticator=authenticator,
        limiter=limiter,
        username=form.username,
        password=form.password,
        client=client,
    )
    return TokenRead(access_token=token, expires_in=authenticator.token_ttl_seconds)


@keys_router.get("", responses=_ERRORS)
async def list_api_keys(session: SessionDep) -> list[ApiKeyRead]:
    """List API keys (never their secrets), newest first."""
    return [ApiKeyRead.model_validate(k) for k in await service.list_keys(session=session)]


@keys_router.post("", status_code=status.HTTP_201_CREATED, responses=_ERRORS)
async def create_api_key(
    session: SessionDep, key_in: ApiKeyCreate, principal: PrincipalDep, client: ClientDep
) -> ApiKeyCreated:
    """Create an API key; the response holds the key, shown this once."""
    row, key = await service.create_key(
        session=session,
        name=key_in.name,
        scopes=frozenset(key_in.scopes),
        actor=principal.name,
        client=client,
    )
    return ApiKeyCreated.model_validate({**ApiKeyRead.model_validate(row).model_dump(), "key": key})


@keys_router.delete("/{key_id}", responses={404: {"description": "no such key"}, **_ERRORS})
async def revoke_api_key(
    session: SessionDep,
    authenticator: Annotated[Authenticator, Depends(get_authenticator)],
    key_id: Annotated[str, Path(min_length=1, max_length=32)],
    principal: PrincipalDep,
    client: ClientDep,
) -> ApiKeyRead:
    """Revoke an API key at once."""
    row = await service.revoke_key(
        session=session, key_id=key_id, actor=principal.name, client=client
    )
    authenticator.forget(key_id)
    return ApiKeyRead.model_validate(row)


@events_router.get("", responses=_ERRORS)
async def list_auth_events(
    session: SessionDep, filters: Annotated[AuthEventFilters, Query()]
) -> AuthEventPage:
    """List sign-ins (failed and refused ones too) and API key changes, newest first."""
    rows, next_cursor = await service.list_events(session=session, filters=filters)
    return AuthEventPage(
        items=[AuthEventRead.model_validate(r) for r in rows], next_cursor=next_cursor
    )
