"""REST routes of authentication: sign in for a token; manage API keys (admin)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, status
from fastapi.security import OAuth2PasswordRequestForm

from stocks_api.auth import service
from stocks_api.auth.dependencies import get_authenticator
from stocks_api.auth.exceptions import NotAuthenticatedError, TooManyAttemptsError
from stocks_api.auth.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyRead, TokenRead
from stocks_api.auth.service import Authenticator
from stocks_api.core.dependencies import SessionDep

token_router = APIRouter(prefix="/auth", tags=["auth"])
keys_router = APIRouter(prefix="/auth/keys", tags=["auth"])

_ERRORS: dict[int | str, dict[str, object]] = {
    401: {"description": "missing or invalid credentials"},
    403: {"description": "missing scope"},
    429: {"description": "too many attempts"},
}


@token_router.post("/token", responses=_ERRORS)
async def issue_token(
    request: Request,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    authenticator: Annotated[Authenticator, Depends(get_authenticator)],
) -> TokenRead:
    """Sign in with the local user's password (OAuth2 password form) for an access token."""
    limiter = request.app.state.token_limiter
    client = request.client.host if request.client else "unknown"
    if not limiter.hit(client):
        raise TooManyAttemptsError(limiter.retry_after(client))
    token = await authenticator.sign_in(form.username, form.password)
    if token is None:
        raise NotAuthenticatedError("wrong username or password")
    return TokenRead(access_token=token, expires_in=authenticator.token_ttl_seconds)


@keys_router.get("", responses=_ERRORS)
async def list_api_keys(session: SessionDep) -> list[ApiKeyRead]:
    """List API keys (never their secrets), newest first."""
    return [ApiKeyRead.model_validate(k) for k in await service.list_keys(session=session)]


@keys_router.post("", status_code=status.HTTP_201_CREATED, responses=_ERRORS)
async def create_api_key(session: SessionDep, key_in: ApiKeyCreate) -> ApiKeyCreated:
    """Create an API key; the response holds the key, shown this once."""
    row, key = await service.create_key(
        session=session, name=key_in.name, scopes=frozenset(key_in.scopes)
    )
    return ApiKeyCreated.model_validate({**ApiKeyRead.model_validate(row).model_dump(), "key": key})


@keys_router.delete("/{key_id}", responses={404: {"description": "no such key"}, **_ERRORS})
async def revoke_api_key(
    session: SessionDep,
    authenticator: Annotated[Authenticator, Depends(get_authenticator)],
    key_id: Annotated[str, Path(min_length=1, max_length=32)],
) -> ApiKeyRead:
    """Revoke an API key at once."""
    row = await service.revoke_key(session=session, key_id=key_id)
    authenticator.forget(key_id)
    return ApiKeyRead.model_validate(row)
