"""Authentication and scope checks as FastAPI dependencies.

`main` hangs every `/api/v1` router below one of these: `authorize_by_method` (`read`
for GET, `trade` for anything that changes something) or `require(Scope.ADMIN)`. The
OpenAPI schema shows both credentials (X-API-Key, OAuth2 bearer), so /docs can use them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

import structlog
from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, OAuth2PasswordBearer

from stocks_api.auth.exceptions import MissingScopeError, NotAuthenticatedError
from stocks_api.auth.ratelimit import SignInLimiter
from stocks_api.auth.security import Scope
from stocks_api.auth.service import Authenticator, ClientInfo, Principal

TOKEN_URL = "/api/v1/auth/token"  # noqa: S105 - a URL, not a secret
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="an API key")
_bearer = OAuth2PasswordBearer(tokenUrl=TOKEN_URL, auto_error=False)
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def get_authenticator(request: Request) -> Authenticator:
    authenticator: Authenticator = request.app.state.authenticator
    return authenticator


async def get_sign_in_limiter(request: Request) -> SignInLimiter:
    limiter: SignInLimiter = request.app.state.sign_in_limiter
    return limiter


async def client_info(request: Request) -> ClientInfo:
    """Where the request came from: the address uvicorn saw (FORWARDED_ALLOW_IPS decides
    whether a proxy's X-Forwarded-For counts), the user agent, the request id."""
    return ClientInfo(
        address=request.client.host if request.client else None,
        user_agent=request.headers.get("user-agent"),
        request_id=getattr(request.state, "request_id", None),
    )


ClientDep = Annotated[ClientInfo, Depends(client_info)]


async def authenticate(
    authenticator: Annotated[Authenticator, Depends(get_authenticator)],
    api_key: Annotated[str | None, Security(_api_key)] = None,
    token: Annotated[str | None, Security(_bearer)] = None,
) -> Principal:
    """Return who is calling, from an API key or a bearer token; 401 without either."""
    if api_key:
        principal = await authenticator.from_api_key(api_key)
    elif token:
        principal = authenticator.from_token(token)
    else:
        raise NotAuthenticatedError()
    structlog.contextvars.bind_contextvars(principal=principal.name)
    return principal


PrincipalDep = Annotated[Principal, Depends(authenticate)]


def require(scope: Scope) -> Callable[[Principal], Awaitable[Principal]]:
    """Build a dependency that admits only callers holding `scope`."""

    async def check(principal: PrincipalDep) -> Principal:
        if not principal.has(scope):
            raise MissingScopeError(scope.value)
        return principal

    check.__name__ = f"require_{scope.value}"
    return check


async def authorize_by_method(request: Request, principal: PrincipalDep) -> Principal:
    """Admit `read` callers to reads and `trade` callers to everything else."""
    scope = Scope.READ if request.method in READ_METHODS else Scope.TRADE
    if not principal.has(scope):
        raise MissingScopeError(scope.value)
    return principal
