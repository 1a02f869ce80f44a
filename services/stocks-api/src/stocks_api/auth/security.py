"""Credentials as data: API key format and hashing, password hashing, JWTs.

An API key is ``stk_<key id>_<secret>``: the key id finds the row, the secret (256 random
bits) is checked against its SHA-256. A slow hash adds nothing against a 256-bit random
secret and would cost tens of milliseconds on every request; passwords, which people
choose, get argon2 instead.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt
from argon2 import Parameters, PasswordHasher, Type, extract_parameters
from argon2.exceptions import InvalidHashError, VerificationError

KEY_PREFIX = "stk"
JWT_ALGORITHM = "HS256"
# argon2id at OWASP's recommended minimum (Password Storage Cheat Sheet: 19 MiB, 2 passes,
# one lane): about 25 ms a check on a quiet two-core machine, where argon2-cffi's default
# (64 MiB, 3 passes, 4 lanes: 170 ms there) queued behind the trading work and made a
# sign-in take over a second under load. A hash made with other parameters still verifies
# (they are in the hash) and is re-made with these at the next good sign-in.
PASSWORD_PARAMETERS = Parameters(
    type=Type.ID,
    version=19,
    salt_len=16,
    hash_len=32,
    time_cost=2,
    memory_cost=19_456,  # KiB
    parallelism=1,
)
_password_hasher = PasswordHasher.from_parameters(PASSWORD_PARAMETERS)


class Scope(enum.StrEnum):
    READ = "read"
    TRADE = "trade"
    ADMIN = "admin"


ALL_SCOPES = frozenset(Scope)


def parse_scopes(text: str) -> frozenset[Scope]:
    """Parse ``"read,trade"`` (commas or spaces) into scopes.

    Raises:
        ValueError: an unknown scope, or none at all.
    """
    names = [name for name in text.replace(",", " ").split() if name]
    unknown = sorted(set(names) - {scope.value for scope in Scope})
    if unknown:
        raise ValueError(f"unknown scope(s) {', '.join(unknown)}: use read, trade, admin")
    if not names:
        raise ValueError("give at least one scope: read, trade, admin")
    return frozenset(Scope(name) for name in names)


def format_scopes(scopes: frozenset[Scope]) -> str:
    """Write scopes in a stable order, space-separated."""
    return " ".join(scope.value for scope in Scope if scope in scopes)


@dataclass(frozen=True, slots=True)
class NewKey:
    """A freshly made key: the full key (shown once) and what is stored of it."""

    key: str
    key_id: str
    secret_hash: str


def new_api_key() -> NewKey:
    """Make a random API key."""
    key_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    return NewKey(f"{KEY_PREFIX}_{key_id}_{secret}", key_id, hash_secret(secret))


def split_api_key(key: str) -> tuple[str, str] | None:
    """Return (key id, secret) of a well-formed key, else None."""
    prefix, _, rest = key.partition("_")
    key_id, _, secret = rest.partition("_")
    if prefix != KEY_PREFIX or len(key_id) != 16 or not secret:
        return None
    return key_id, secret


def hash_secret(secret: str) -> str:
    """Return the stored form of a key's secret part."""
    return hashlib.sha256(secret.encode()).hexdigest()


def secret_matches(secret: str, stored_hash: str) -> bool:
    """Compare in constant time."""
    return hmac.compare_digest(hash_secret(secret), stored_hash)


def hash_password(password: str) -> str:
    """Hash a password with argon2id."""
    return _password_hasher.hash(password)


def dummy_password_hash(like: str | None = None) -> str:
    """A hash of a random password with the parameters of `like` (the real user's hash;
    None: today's), made once per process and parameter set.

    Checking a password for a username that does not exist against it takes as long as
    checking a wrong password of the real user, so the time of an answer does not tell
    whether a username exists, even while the real hash still has older parameters.
    """
    parameters = None
    if like is not None:
        try:
            parameters = extract_parameters(like)
        except InvalidHashError:
            parameters = None
    parameters = parameters or PASSWORD_PARAMETERS
    key = dataclasses.astuple(parameters)  # Parameters itself is not hashable
    made = _dummy_hashes.get(key)
    if made is None:
        made = PasswordHasher.from_parameters(parameters).hash(secrets.token_urlsafe(32))
        made = _dummy_hashes.setdefault(key, made)
    return made


_dummy_hashes: dict[tuple[object, ...], str] = {}


def password_needs_rehash(stored_hash: str) -> bool:
    """Whether a hash was made with other parameters than today's."""
    try:
        return _password_hasher.check_needs_rehash(stored_hash)
    except InvalidHashError:
        return False


def password_matches(password: str, stored_hash: str) -> bool:
    """Check a password against an argon2 hash (slow on purpose)."""
    try:
        return _password_hasher.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def issue_token(
    *,
    subject: str,
    scopes: frozenset[Scope],
    secret: str,
    ttl: timedelta,
    now: datetime | None = None,
) -> str:
    """Sign a short-lived access token."""
    issued = now or datetime.now(UTC)
    claims = {
        "sub": subject,
        "scopes": format_scopes(scopes),
        "iat": issued,
        "exp": issued + ttl,
        "jti": secrets.token_hex(8),
    }
    return jwt.encode(claims, secret, algorithm=JWT_ALGORITHM)


def read_token(token: str, secret: str) -> tuple[str, frozenset[Scope]] | None:
    """Return (subject, scopes) of a valid, unexpired token, else None."""
    try:
        claims = jwt.decode(
            token, secret, algorithms=[JWT_ALGORITHM], options={"require": ["exp", "sub"]}
        )
        return str(claims["sub"]), parse_scopes(str(claims.get("scopes", "")))
    except (jwt.PyJWTError, ValueError):
        return None
