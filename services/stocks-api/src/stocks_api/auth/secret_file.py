"""The token-signing secret of the embedded default, kept in the data directory.

Without `AUTH_JWT_SECRET` (development only: anywhere else the settings require it), the
API signs its access tokens with a secret generated on the first start and kept in a file
beside the SQLite database (`data/jwt-secret` by default), readable by its owner only, so a
restart does not sign everyone out and several API processes on one data directory share
it. `stocks-api rotate-jwt-secret` writes a new one (every token then dies). A database
that is not a SQLite file (PostgreSQL, or in memory) has no data directory here: such a
process makes a secret of its own, valid until it stops.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from pathlib import Path

import structlog

log = structlog.get_logger(__name__)

FILE_NAME = "jwt-secret"
SECRET_BYTES = 48  # token_urlsafe(48): 64 characters


class SecretFileError(Exception):
    """The secret file cannot be used (unreadable, empty, or open to other users)."""


def secret_path(database_url: str) -> Path | None:
    """Where the secret of a database's data directory is kept; None without one."""
    if not database_url.startswith("sqlite") or ":///" not in database_url:
        return None
    path = database_url.split(":///", 1)[1].split("?", 1)[0]
    if not path or path == ":memory:":
        return None
    return Path(path).parent / FILE_NAME


def load_or_create(path: Path) -> str:
    """The secret in `path`, written there first (owner-only) when there is none.

    Two processes starting at once agree: the file appears whole (a hard link of a
    complete temporary file) and the one that loses the race reads the winner's.

    Raises:
        SecretFileError: the file is empty, or readable by group or others.
    """
    try:
        return _read(path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    _write_new(path, replace=False)
    log.info("jwt_secret_created", path=str(path))
    return _read(path)


def rotate(path: Path) -> None:
    """Put a new secret in `path` (tokens signed with the old one stop working)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    _write_new(path, replace=True)


def _write_new(path: Path, *, replace: bool) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w") as file:
            file.write(secrets.token_urlsafe(SECRET_BYTES) + "\n")
        if replace:
            os.replace(temporary, path)
        else:
            with contextlib.suppress(FileExistsError):  # another process made it first
                os.link(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def _read(path: Path) -> str:
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SecretFileError(
            f"{path} is open to other users (mode {stat.filemode(mode)}): "
            f"`chmod 600 {path}`, or remove it to make a new one"
        )
    secret = path.read_text().strip()
    if len(secret) < 32:
        raise SecretFileError(f"{path} holds no usable secret: remove it to make a new one")
    return secret
