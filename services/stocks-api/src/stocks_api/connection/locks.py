"""The lock backends: one lock per database, held by one API instance at a time.

The instance holding it owns the broker connection (`connection.ownership` keeps that role
and says why there is only one owner). `open_lock` chooses the backend for the database:

- PostgreSQL: a session advisory lock, `pg_try_advisory_lock(LOCK_KEY)`, held on one
  dedicated connection for the life of the process. PostgreSQL frees it the moment that
  connection ends, however the process died. The connection's `application_name`
  (`stocks-api <pid>@<host> <since>`) describes the holder to the others and in
  `pg_stat_activity`.
- SQLite file: `flock(LOCK_EX | LOCK_NB)` on `<database>.broker.lock` beside the database.
  flock belongs to an open file description, so two opens in one process conflict too,
  and the kernel frees it when the process ends, SIGKILL included. The file holds the
  holder's pid, host and start, for the others and for people.
- SQLite `:memory:`: every process has its own database, so there is nothing to share.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import hashlib
import json
import os
import re
import socket
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import structlog
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from stocks_api.core.config import DatabaseSettings

log = structlog.get_logger(__name__)

# The advisory lock's key: the first 8 bytes of sha256(LOCK_NAME) as a signed bigint,
# 790715099572469217 (0x0af92f31948dfde1). Fixed: every version of the API must use the
# same key. Advisory locks are per database, so instances on other databases of the same
# server do not meet. In pg_locks it shows as locktype 'advisory', classid 184102705,
# objid 2492333537, objsubid 1.
LOCK_NAME = "stocks-api:broker-connection"
LOCK_KEY = int.from_bytes(hashlib.sha256(LOCK_NAME.encode()).digest()[:8], "big", signed=True)
_LOCK_CLASSID = (LOCK_KEY >> 32) & 0xFFFFFFFF
_LOCK_OBJID = LOCK_KEY & 0xFFFFFFFF
LOCK_FILE_SUFFIX = ".broker.lock"
# PostgreSQL truncates application_name to 63 bytes.
_APPLICATION_NAME_MAX = 63
_APPLICATION_NAME = re.compile(r"^stocks-api (\d+)@(\S*)(?: (\S+))?$")


@dataclass(frozen=True, slots=True)
class Holder:
    """The API instance holding the broker connection, as far as it is known."""

    pid: int | None
    host: str | None
    since: datetime | None

    def describe(self) -> str:
        """Say which instance it is ("pid 4242 on host-a")."""
        parts = [f"pid {self.pid}" if self.pid is not None else None]
        parts.append(f"on {self.host}" if self.host else None)
        return " ".join(part for part in parts if part) or "unknown"

    def as_dict(self) -> dict[str, Any]:
        return {
            "pid": self.pid,
            "host": self.host,
            "since": None if self.since is None else self.since.isoformat(),
        }


def _now() -> datetime:
    # Whole seconds: the holder's start reads the same from the lock file and from
    # PostgreSQL's application_name, which has room for no more.
    return datetime.now(UTC).replace(microsecond=0)


def this_holder(since: datetime | None) -> Holder:
    """This API instance as a holder of the lock (taken at `since`)."""
    return Holder(os.getpid(), socket.gethostname(), since)


class OwnershipLock(Protocol):
    """A lock only one API instance per database holds; see the module docstring."""

    kind: str

    @property
    def held(self) -> bool:
        """Whether this instance holds the lock."""

    @property
    def since(self) -> datetime | None:
        """When this instance took the lock (None while it does not hold it)."""

    async def try_acquire(self) -> bool:
        """Take the lock unless another instance holds it; never waits for it."""

    async def check(self) -> bool:
        """Tell whether the lock is still held; when it is not, let go of what is left."""

    async def holder(self) -> Holder | None:
        """Describe the instance holding the lock now (None when free or unknown)."""

    async def release(self) -> None:
        """Let the lock go (idempotent)."""


class ProcessLock:
    """An in-memory SQLite database belongs to one process: its owner is always this one."""

    kind = "process"

    def __init__(self) -> None:
        self._since: datetime | None = None

    @property
    def held(self) -> bool:
        return self._since is not None

    @property
    def since(self) -> datetime | None:
        return self._since

    async def try_acquire(self) -> bool:
        self._since = self._since or _now()
        return True

    async def check(self) -> bool:
        return self.held

    async def holder(self) -> Holder | None:
        return this_holder(self._since) if self.held else None

    async def release(self) -> None:
        self._since = None


class FileLock:
    """`flock` on a file beside a SQLite database; see the module docstring.

    The file is never deleted: an instance that unlinked it could let a second one lock a
    new file of the same name while a third still holds the old one.
    """

    kind = "lock_file"

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None
        self._since: datetime | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    @property
    def since(self) -> datetime | None:
        return self._since

    async def try_acquire(self) -> bool:
        if self._fd is not None:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                return False
            raise
        if not self._names(fd):  # replaced between open and flock: try again next time
            os.close(fd)
            return False
        since = _now()
        data = json.dumps(this_holder(since).as_dict()).encode()
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, data, 0)
        except OSError:
            os.close(fd)
            raise
        self._fd, self._since = fd, since
        return True

    def _names(self, fd: int) -> bool:
        """Whether the lock file's path still names the file open at `fd`."""
        try:
            current = os.stat(self.path)
        except FileNotFoundError:
            return False
        opened = os.fstat(fd)
        return (opened.st_dev, opened.st_ino) == (current.st_dev, current.st_ino)

    async def check(self) -> bool:
        if self._fd is None:
            return False
        if self._names(self._fd):
            return True
        log.error("broker_lock_file_replaced", path=str(self.path))
        self._close()
        return False

    async def holder(self) -> Holder | None:
        if self._fd is not None:
            return this_holder(self._since)
        try:
            data = json.loads(self.path.read_text())
            since = data.get("since")
            return Holder(
                pid=int(data["pid"]) if data.get("pid") is not None else None,
                host=str(data["host"]) if data.get("host") else None,
                since=datetime.fromisoformat(since) if since else None,
            )
        except (OSError, ValueError, TypeError, KeyError, AttributeError):
            return None  # not written yet, or being rewritten

    async def release(self) -> None:
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            os.ftruncate(self._fd, 0)
        self._close()

    def _close(self) -> None:
        fd, self._fd, self._since = self._fd, None, None
        if fd is not None:
            os.close(fd)  # closing the last descriptor of the file frees the flock


class PostgresAdvisoryLock:
    """A session advisory lock on a connection of its own; see the module docstring."""

    kind = "advisory_lock"

    def __init__(self, url: str, *, timeout: float) -> None:
        self._timeout = timeout
        # One connection, outside the app's pool, in autocommit: a session lock does not
        # need a transaction, and an idle transaction would hold back vacuum.
        self._engine: AsyncEngine = create_async_engine(
            url,
            poolclass=NullPool,
            isolation_level="AUTOCOMMIT",
            connect_args={
                "server_settings": {"application_name": _application_name(None)},
                "timeout": timeout,
            },
        )
        self._conn: AsyncConnection | None = None
        self._since: datetime | None = None

    @property
    def held(self) -> bool:
        return self._since is not None

    @property
    def since(self) -> datetime | None:
        return self._since

    async def try_acquire(self) -> bool:
        if self.held:
            return True
        try:
            async with asyncio.timeout(self._timeout):
                conn = await self._connection()
                if not await conn.scalar(
                    text("SELECT pg_try_advisory_lock(:key)"), {"key": LOCK_KEY}
                ):
                    return False
                since = _now()
                await conn.execute(
                    text("SELECT set_config('application_name', :name, false)"),
                    {"name": _application_name(since)},
                )
        except Exception:
            # The database is out of reach; whatever this connection held is gone with it.
            await self._drop()
            raise
        self._since = since
        return True

    async def check(self) -> bool:
        if self._conn is None or not self.held:
            return False
        try:
            async with asyncio.timeout(self._timeout):
                held = await self._conn.scalar(
                    text(
                        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"
                        " AND pid = pg_backend_pid() AND classid = :classid"
                        " AND objid = :objid AND objsubid = 1 AND granted"
                    ),
                    {"classid": _LOCK_CLASSID, "objid": _LOCK_OBJID},
                )
        except Exception as exc:
            log.error("broker_lock_connection_lost", error=str(exc) or type(exc).__name__)
            await self._drop()
            return False
        if not held:
            await self._drop()
        return bool(held)

    async def holder(self) -> Holder | None:
        if self.held:
            return this_holder(self._since)
        try:
            async with asyncio.timeout(self._timeout):
                conn = await self._connection()
                row = (
                    await conn.execute(
                        text(
                            "SELECT a.application_name, host(a.client_addr), a.backend_start"
                            " FROM pg_locks AS l JOIN pg_stat_activity AS a ON a.pid = l.pid"
                            " WHERE l.locktype = 'advisory' AND l.database = (SELECT oid"
                            " FROM pg_database WHERE datname = current_database())"
                            " AND l.classid = :classid AND l.objid = :objid"
                            " AND l.objsubid = 1 AND l.granted"
                        ),
                        {"classid": _LOCK_CLASSID, "objid": _LOCK_OBJID},
                    )
                ).first()
        except Exception:
            await self._drop()
            return None
        if row is None:
            return None
        application_name, client_addr, backend_start = row
        match = _APPLICATION_NAME.match(application_name or "")
        if match is None:  # not one of ours (or an old version): what the server knows
            return Holder(pid=None, host=client_addr, since=backend_start)
        pid, host, since = match.groups()
        return Holder(int(pid), host or None, _parse_since(since) or backend_start)

    async def release(self) -> None:
        if self._conn is not None and self.held:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(self._timeout):
                    await self._conn.execute(
                        text("SELECT pg_advisory_unlock(:key)"), {"key": LOCK_KEY}
                    )
        await self._drop()  # NullPool: closing the connection leaves nothing behind

    async def _connection(self) -> AsyncConnection:
        if self._conn is None:
            self._conn = await self._engine.connect()
        return self._conn

    async def _drop(self) -> None:
        """Forget the connection (and with it the lock); close it if it still answers."""
        conn, self._conn, self._since = self._conn, None, None
        if conn is None:
            return
        with contextlib.suppress(Exception):
            await conn.invalidate()
        with contextlib.suppress(Exception):
            async with asyncio.timeout(self._timeout):
                await conn.close()


def _application_name(since: datetime | None) -> str:
    """`stocks-api <pid>@<host>` and, while holding the lock, ` <since>`; 63 bytes at most."""
    head = f"stocks-api {os.getpid()}@"
    tail = "" if since is None else " " + since.strftime("%Y-%m-%dT%H:%M:%SZ")
    room = _APPLICATION_NAME_MAX - len(head) - len(tail)
    host = socket.gethostname().encode("ascii", "replace")[: max(room, 0)].decode()
    return head + host.replace(" ", "_") + tail


def _parse_since(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return None


def open_lock(settings: DatabaseSettings, *, timeout: float) -> OwnershipLock:
    """Choose the lock for the configured database (see the module docstring)."""
    url = make_url(settings.url)
    if url.get_backend_name() == "postgresql":
        return PostgresAdvisoryLock(settings.url, timeout=timeout)
    database = url.database or ""
    if database.startswith("file:"):  # a URI filename: file:path?mode=...
        if "mode=memory" in database or url.query.get("mode") == "memory":
            return ProcessLock()
        database = database.removeprefix("file:").split("?", 1)[0]
    if database in ("", ":memory:"):
        return ProcessLock()
    path = Path(database).resolve()
    return FileLock(path.with_name(path.name + LOCK_FILE_SUFFIX))
