"""The auth service: API keys, the local user's password, and who a request is.

`Authenticator` lives on `app.state`. It checks an API key against its row (cached for a
few seconds, so a request costs no query; revoking through this process clears the
cache, and a revocation from the CLI takes effect within `CACHE_SECONDS`), or a bearer
token against the JWT secret. Key usage is written back at most once a minute per key.

Sign-ins (successful, failed, refused by the rate limits) and API key creations and
revocations go into the `auth_event` audit table, with who, when and from where, and into
the log; neither ever holds a password or a key's secret.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import structlog
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from stocks_api.auth.exceptions import (
    ApiKeyNotFoundError,
    NotAuthenticatedError,
    TooManyAttemptsError,
)
from stocks_api.auth.models import ApiKey, AuthEvent, AuthEventKind, LocalUser
from stocks_api.auth.ratelimit import SignInLimiter
from stocks_api.auth.schemas import AuthEventFilters
from stocks_api.auth.secret_file import load_or_create
from stocks_api.auth.security import (
    ALL_SCOPES,
    Scope,
    dummy_password_hash,
    format_scopes,
    hash_password,
    issue_token,
    new_api_key,
    parse_scopes,
    password_matches,
    password_needs_rehash,
    read_token,
    secret_matches,
    split_api_key,
)
from stocks_api.auth.settings import AuthSettings
from stocks_api.core.database import utcnow
from stocks_api.core.pagination import paginate

log = structlog.get_logger(__name__)

CACHE_SECONDS = 5.0
LAST_USED_EVERY_SECONDS = 60.0
BOOTSTRAP_KEY_NAME = "first-start admin"
BOOTSTRAP_ACTOR = "first start"
WRONG_CREDENTIALS = "wrong username or password"
_LOG_LEVELS = {
    AuthEventKind.SIGN_IN_FAILED: logging.WARNING,
    AuthEventKind.SIGN_IN_RATE_LIMITED: logging.WARNING,
}


@dataclass(frozen=True, slots=True)
class ClientInfo:
    """Where a request came from, for the audit trail (all unknown from the CLI)."""

    address: str | None = None
    user_agent: str | None = None
    request_id: str | None = None


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling, with what scopes, through which credential."""

    name: str
    scopes: frozenset[Scope]
    credential: str  # "api_key" or "token"

    def has(self, scope: Scope) -> bool:
        """Tell whether the caller holds `scope`."""
        return scope in self.scopes


@dataclass(frozen=True, slots=True)
class _CachedKey:
    row_id: int
    name: str
    secret_hash: str
    scopes: frozenset[Scope]
    revoked: bool
    fetched_at: float


# -- keys ---------------------------------------------------------------------------


async def create_key(
    *,
    session: AsyncSession,
    name: str,
    scopes: frozenset[Scope],
    actor: str,
    client: ClientInfo | None = None,
) -> tuple[ApiKey, str]:
    """Store a new key (its hash only) and its audit entry; return the row and the key."""
    made = new_api_key()
    row = ApiKey(
        key_id=made.key_id, name=name, scopes=format_scopes(scopes), secret_hash=made.secret_hash
    )
    session.add(row)
    record_event(
        session=session,
        kind=AuthEventKind.API_KEY_CREATED,
        actor=actor,
        client=client,
        key_id=made.key_id,
        reason=f"{name!r} with scopes {format_scopes(scopes)}",
    )
    await session.commit()
    return row, made.key


async def list_keys(*, session: AsyncSession) -> list[ApiKey]:
    """Return every key, newest first (revoked ones too, for the record)."""
    return list(await session.scalars(select(ApiKey).order_by(ApiKey.id.desc())))


async def revoke_key(
    *,
    session: AsyncSession,
    key_id: str,
    actor: str,
    client: ClientInfo | None = None,
) -> ApiKey:
    """Revoke a key by its id (audited); revoking twice keeps the first time."""
    row = await session.scalar(select(ApiKey).where(ApiKey.key_id == key_id))
    if row is None:
        raise ApiKeyNotFoundError(key_id)
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        record_event(
            session=session,
            kind=AuthEventKind.API_KEY_REVOKED,
            actor=actor,
            client=client,
            key_id=key_id,
            reason=repr(row.name),
        )
        await session.commit()
    return row


async def bootstrap_admin_key(*, session: AsyncSession) -> str | None:
    """On the very first start (no key was ever made), make an admin key and return it."""
    if await session.scalar(select(ApiKey.id).limit(1)) is not None:
        return None
    _, key = await create_key(
        session=session, name=BOOTSTRAP_KEY_NAME, scopes=ALL_SCOPES, actor=BOOTSTRAP_ACTOR
    )
    return key


# -- the audit trail ----------------------------------------------------------------


def record_event(
    *,
    session: AsyncSession,
    kind: AuthEventKind,
    actor: str,
    client: ClientInfo | None = None,
    key_id: str | None = None,
    reason: str | None = None,
) -> AuthEvent:
    """Add an audit entry to `session` (the caller commits) and log it."""
    client = client or ClientInfo()
    row = AuthEvent(
        kind=kind.value,
        actor=_storable(actor, 96) or "",
        key_id=key_id,
        client_address=_storable(client.address, 64),
        user_agent=_storable(client.user_agent, 255),
        request_id=_storable(client.request_id, 64),
        reason=_storable(reason, 500),
    )
    session.add(row)
    log.log(
        _LOG_LEVELS.get(kind, logging.INFO),
        kind.value,
        audit="auth",
        actor=row.actor,
        key_id=key_id,
        client=row.client_address,
        user_agent=row.user_agent,
        reason=reason,
    )
    return row


async def list_events(
    *, session: AsyncSession, filters: AuthEventFilters
) -> tuple[list[AuthEvent], str | None]:
    """List audit entries newest first; return a page and the cursor of the next one."""
    query = select(AuthEvent)
    if filters.kind is not None:
        query = query.where(AuthEvent.kind == filters.kind.value)
    return await paginate(session, query, AuthEvent.id, filters.cursor, filters.limit)


def _storable(value: str | None, length: int) -> str | None:
    """Text from a client, made storable: no NUL (PostgreSQL refuses it), within its column."""
    if value is None:
        return None
    return value.replace("\x00", "\N{REPLACEMENT CHARACTER}")[:length]


# -- signing in ---------------------------------------------------------------------


async def sign_in(
    *,
    session: AsyncSession,
    authenticator: Authenticator,
    limiter: SignInLimiter,
    username: str,
    password: str,
    client: ClientInfo,
) -> str:
    """Sign the local user in for an access token, within the rate limits; audit the attempt.

    Raises:
        TooManyAttemptsError: over a limit of `auth.ratelimit` (the password is not checked).
        NotAuthenticatedError: a wrong username or password.
    """
    refusal = await limiter.admit(address=client.address or "unknown", username=username)
    if refusal is not None:
        reason = f"too many attempts per {refusal.scope}"
        if refusal.audit:
            record_event(
                session=session,
                kind=AuthEventKind.SIGN_IN_RATE_LIMITED,
                actor=username,
                client=client,
                reason=reason,
            )
            await session.commit()
        else:  # logged only: a flood of refusals must not fill the table
            log.warning(
                AuthEventKind.SIGN_IN_RATE_LIMITED.value,
                audit="auth",
                actor=_storable(username, 96),
                client=client.address,
                reason=reason,
                recorded=False,
            )
        raise TooManyAttemptsError(refusal.retry_after, limit=refusal.scope)
    token = await authenticator.sign_in(username, password)
    if token is None:
        record_event(
            session=session,
            kind=AuthEventKind.SIGN_IN_FAILED,
            actor=username,
            client=client,
            reason=WRONG_CREDENTIALS,
        )
        await session.commit()
        raise NotAuthenticatedError(WRONG_CREDENTIALS)
    await limiter.succeeded(username)
    record_event(session=session, kind=AuthEventKind.SIGN_IN, actor=username, client=client)
    await session.commit()
    return token


# -- the local user -----------------------------------------------------------------


async def set_password(*, session: AsyncSession, username: str, password: str) -> None:
    """Store (or replace) the local user's password hash."""
    hashed = await asyncio.to_thread(hash_password, password)
    row = await session.get(LocalUser, username)
    if row is None:
        session.add(LocalUser(username=username, password_hash=hashed))
    else:
        row.password_hash = hashed
    await session.commit()


# -- who is calling -----------------------------------------------------------------


class Authenticator:
    """Turns credentials into a `Principal`; see the module docstring."""

    def __init__(
        self,
        *,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: AuthSettings,
        secret_file: Path | None = None,
    ):
        """`secret_file`: where the signing secret is kept when AUTH_JWT_SECRET is not set
        (`secret_file.py`); without one either, tokens are valid until the process stops."""
        self._sessionmaker = sessionmaker
        self._settings = settings
        configured = settings.jwt_secret
        if configured is not None:
            self._jwt_secret = configured.get_secret_value()
        elif secret_file is not None:
            self._jwt_secret = load_or_create(secret_file)
        else:
            self._jwt_secret = secrets.token_urlsafe(48)
        self._keys: dict[str, _CachedKey] = {}
        self._last_used_written: dict[int, float] = {}

    async def from_api_key(self, key: str) -> Principal:
        """Authenticate an `X-API-Key` value."""
        parts = split_api_key(key)
        if parts is None:
            raise NotAuthenticatedError("malformed API key")
        key_id, secret = parts
        cached = await self._lookup(key_id)
        if cached is None or cached.revoked or not secret_matches(secret, cached.secret_hash):
            raise NotAuthenticatedError("invalid or revoked API key")
        await self._note_use(cached.row_id)
        return Principal(name=f"key:{cached.name}", scopes=cached.scopes, credential="api_key")

    def from_token(self, token: str) -> Principal:
        """Authenticate a bearer token."""
        claims = read_token(token, self._jwt_secret)
        if claims is None:
            raise NotAuthenticatedError("invalid or expired token")
        subject, scopes = claims
        return Principal(name=f"user:{subject}", scopes=scopes, credential="token")

    async def sign_in(self, username: str, password: str) -> str | None:
        """Check the local user's password; return an access token, or None.

        A username that does not exist (or a user without a password) still costs one
        password check, against a dummy hash, so the answer takes as long as for a wrong
        password and its timing does not tell which usernames exist.
        """
        stored = await self._password_hash(username)
        if stored is None:
            like = await self._password_hash(self._settings.username)
            await asyncio.to_thread(password_matches, password, dummy_password_hash(like))
            return None
        if not await asyncio.to_thread(password_matches, password, stored):
            return None
        if self._settings.password_hash is None and password_needs_rehash(stored):
            await self._rehash(username, password)
        return issue_token(
            subject=username,
            scopes=ALL_SCOPES,
            secret=self._jwt_secret,
            ttl=timedelta(seconds=self._settings.token_ttl_seconds),
        )

    @property
    def token_ttl_seconds(self) -> int:
        return self._settings.token_ttl_seconds

    def forget(self, key_id: str) -> None:
        """Drop a key from the cache (after revoking it)."""
        self._keys.pop(key_id, None)

    async def _rehash(self, username: str, password: str) -> None:
        """Store the stored user's hash again with today's parameters (`security.py`)."""
        hashed = await asyncio.to_thread(hash_password, password)
        async with self._sessionmaker() as session:
            row = await session.get(LocalUser, username)
            if row is not None:
                row.password_hash = hashed
                await session.commit()
        log.info("password_rehashed", username=username)

    async def _password_hash(self, username: str) -> str | None:
        if username != self._settings.username:
            return None
        if self._settings.password_hash is not None:
            return self._settings.password_hash.get_secret_value()
        async with self._sessionmaker() as session:
            row = await session.get(LocalUser, username)
            return None if row is None else row.password_hash

    async def _lookup(self, key_id: str) -> _CachedKey | None:
        cached = self._keys.get(key_id)
        now = time.monotonic()
        if cached is not None and now - cached.fetched_at < CACHE_SECONDS:
            return cached
        async with self._sessionmaker() as session:
            row = await session.scalar(select(ApiKey).where(ApiKey.key_id == key_id))
        if row is None:
            self._keys.pop(key_id, None)
            return None
        cached = _CachedKey(
            row.id,
            row.name,
            row.secret_hash,
            parse_scopes(row.scopes),
            row.revoked_at is not None,
            now,
        )
        if len(self._keys) > 10_000:  # many distinct forged ids must not grow memory
            self._keys.clear()
        self._keys[key_id] = cached
        return cached

    async def _note_use(self, row_id: int) -> None:
        now = time.monotonic()
        if (
            now - self._last_used_written.get(row_id, -LAST_USED_EVERY_SECONDS)
            < LAST_USED_EVERY_SECONDS
        ):
            return
        self._last_used_written[row_id] = now
        async with self._sessionmaker() as session, session.begin():
            await session.execute(
                update(ApiKey).where(ApiKey.id == row_id).values(last_used_at=utcnow())
            )
