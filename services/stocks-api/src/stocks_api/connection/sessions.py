"""The trading-session audit trail: one `broker_session` row per broker connection.

`BrokerSessionLog` is the writer. Only the instance that owns the broker connection (see
`connection.ownership`) has one connected, so at most one instance writes at a time, and
a row still open when an owner opens a new one was left by an owner that died: it is
closed as `api_crash` at the time that owner last wrote it (`last_seen_at`).

Counting must cost the order path nothing: orders sent and fills received are counted in
memory and written with `last_seen_at` every `flush_interval` seconds by a background
task, and when the row closes. IB's connectivity changes (1100, 1101/1102) are rare and
written at once.

An audit trail must never break trading: every write is bounded by a timeout, and a
write that fails is logged and kept in memory, to be tried again at the next write (a
row that could not be inserted is inserted then; a close that could not be written is
written then). The methods may be called in any order: closing without an open row does
nothing, and what is counted while no row is open goes to the next one.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import structlog
from sqlalchemy import select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from stocks_api.connection.models import BrokerSession, DisconnectReason
from stocks_api.connection.schemas import BrokerSessionFilters
from stocks_api.core.database import utcnow
from stocks_api.core.pagination import paginate

log = structlog.get_logger(__name__)

# How long GET /api/v1/broker waits for the open session before showing none.
READ_TIMEOUT_SECONDS = 2.0
# Column widths of `broker_session` (PostgreSQL enforces them; SQLite would not).
_WIDTHS = {"kind": 16, "host": 255, "server_version": 32, "account_id": 32, "instance": 255}


def this_instance() -> str:
    """Name this API instance as the audit trail does: "pid@hostname"."""
    return f"{os.getpid()}@{socket.gethostname()}"


def _clean(value: str | None, column: str) -> str | None:
    """Make a string storable: no NUL (PostgreSQL refuses it in text), within its column."""
    if value is None:
        return None
    return value.replace("\x00", "")[: _WIDTHS[column]]


def _aware(at: datetime) -> datetime:
    """Refuse a naive time at once: written later, it would fail every write of its row."""
    if at.tzinfo is None:
        raise ValueError("naive datetime; use an aware UTC datetime")
    return at


@dataclass(slots=True, eq=False)  # rows compare by identity
class _Row:
    """A broker_session row as this instance knows it; `id` is None until inserted."""

    kind: str
    host: str | None
    port: int | None
    server_version: str | None
    account_id: str | None
    instance: str
    connected_at: datetime
    id: int | None = None
    orders_sent: int = 0
    fills_received: int = 0
    reconnections: int = 0
    ib_outage_seconds: float = 0.0
    ib_unreachable_since: datetime | None = None
    disconnected_at: datetime | None = None
    disconnect_reason: DisconnectReason | None = None

    def end_outage(self, at: datetime) -> None:
        """Count the IB outage in progress up to `at`, and end it."""
        if self.ib_unreachable_since is not None:
            gap = (at - self.ib_unreachable_since).total_seconds()
            self.ib_outage_seconds += max(gap, 0.0)
            self.ib_unreachable_since = None

    def values(self, last_seen_at: datetime) -> dict[str, object]:
        return {
            "kind": self.kind,
            "host": self.host,
            "port": self.port,
            "server_version": self.server_version,
            "account_id": self.account_id,
            "instance": self.instance,
            "connected_at": self.connected_at,
            "disconnected_at": self.disconnected_at,
            "disconnect_reason": (
                None if self.disconnect_reason is None else self.disconnect_reason.value
            ),
            "orders_sent": self.orders_sent,
            "fills_received": self.fills_received,
            "reconnections": self.reconnections,
            "ib_outage_seconds": self.ib_outage_seconds,
            "ib_unreachable_since": self.ib_unreachable_since,
            "last_seen_at": last_seen_at,
        }


class BrokerSessionLog:
    """Writes the broker_session rows of this instance (the owner of the connection)."""

    def __init__(
        self,
        *,
        sessionmaker: async_sessionmaker[AsyncSession],
        instance: str,
        flush_interval: float = 5.0,
        write_timeout: float = 5.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._instance = _clean(instance, "instance") or "unknown"
        self._flush_interval = flush_interval
        self._write_timeout = write_timeout
        self._clock = clock
        # The open row, and rows closed in memory whose close is not written yet.
        self._row: _Row | None = None
        self._closing: list[_Row] = []
        # Counted while no row is open: they go to the next row.
        self._orders_ahead = 0
        self._fills_ahead = 0
        self._lock = asyncio.Lock()  # one write at a time, in call order
        self._task: asyncio.Task[None] | None = None
        self._failing = False

    @property
    def current_id(self) -> int | None:
        """The id of the open row (None when no row is open, or it is not written yet)."""
        return None if self._row is None else self._row.id

    async def opened(
        self,
        *,
        kind: str,
        host: str | None,
        port: int | None,
        server_version: str | None,
        account_id: str | None,
        at: datetime,
    ) -> int | None:
        """Record a new broker connection; return its row id (None if not written yet).

        Before the insert, every row still open in the database, of any instance, is
        closed as `api_crash` at its `last_seen_at`: only the owner writes, so such a row
        was left by an owner that died. A row of this instance still open is closed first
        as `socket_drop` at `at` (its connection cannot outlive the new one).
        """
        at = _aware(at)
        if self._row is not None:
            log.warning("broker_session_opened_twice", session_id=self._row.id)
            self._close_in_memory(DisconnectReason.SOCKET_DROP, at)
        self._row = _Row(
            kind=_clean(kind, "kind") or "unknown",
            host=_clean(host, "host"),
            port=port,
            server_version=_clean(server_version, "server_version"),
            account_id=_clean(account_id, "account_id"),
            instance=self._instance,
            connected_at=at,
            orders_sent=self._orders_ahead,
            fills_received=self._fills_ahead,
        )
        self._orders_ahead = self._fills_ahead = 0
        row = self._row
        await self._write()
        return row.id

    async def closed(self, *, reason: DisconnectReason | str, at: datetime) -> None:
        """Close the open row with `reason` at `at`, writing its counters (no-op without one).

        Raises:
            ValueError: `reason` is not a `DisconnectReason`, or `at` is naive (programming
                errors; every method taking `at` refuses a naive one).
        """
        why, at = DisconnectReason(reason), _aware(at)
        if self._row is None:
            if self._closing:  # a close not written yet: try again
                await self._write()
            return
        self._close_in_memory(why, at)
        await self._write()

    def note_orders_sent(self, count: int = 1) -> None:
        """Count orders sent to the broker (in memory; written at the next flush)."""
        if self._row is None:
            self._orders_ahead += count
        else:
            self._row.orders_sent += count

    def note_fills(self, count: int = 1) -> None:
        """Count fills received from the broker (in memory; written at the next flush)."""
        if self._row is None:
            self._fills_ahead += count
        else:
            self._row.fills_received += count

    async def ib_unreachable(self, *, at: datetime) -> None:
        """Record that IB became unreachable behind the open socket (IB's 1100)."""
        at, row = _aware(at), self._row
        if row is None:
            log.info("broker_session_outage_without_session")
            return
        if row.ib_unreachable_since is None:  # a repeated 1100 does not restart the outage
            row.ib_unreachable_since = at
        await self._write()

    async def ib_restored(self, *, at: datetime, data_lost: bool) -> None:
        """Record that IB is reachable again (1101: data lost, 1102: data kept)."""
        at, row = _aware(at), self._row
        if row is None:
            log.info("broker_session_restore_without_session")
            return
        row.reconnections += 1
        row.end_outage(at)
        log.info("broker_session_ib_restored", session_id=row.id, data_lost=data_lost)
        await self._write()

    async def flush(self) -> None:
        """Write the counters and `last_seen_at` of the open row (and any close pending)."""
        if self._row is not None or self._closing:
            await self._write()

    def start(self) -> None:
        """Flush every `flush_interval` seconds in the background (idempotent)."""
        if self._task is None:
            self._task = asyncio.create_task(self._flush_forever(), name="broker-session-log")

    async def stop(self) -> None:
        """Stop the background flushes, and flush once more."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.flush()

    async def _flush_forever(self) -> None:
        while True:
            await asyncio.sleep(self._flush_interval)
            try:
                await self.flush()
            except Exception:  # the loop must outlive any one failure
                log.exception("broker_session_flush_failed")

    def _close_in_memory(self, reason: DisconnectReason, at: datetime) -> None:
        row, self._row = self._row, None
        if row is None:
            return
        row.end_outage(at)
        row.disconnected_at, row.disconnect_reason = at, reason
        self._closing.append(row)

    async def _write(self) -> None:
        """Write what memory holds: pending closes, then the open row. Never raises."""
        async with self._lock:
            closing, row = list(self._closing), self._row
            if not closing and row is None:
                return
            try:
                async with asyncio.timeout(self._write_timeout):
                    inserted = await self._store(closing, row)
            except Exception as exc:
                if not self._failing:  # once per outage, not at every flush
                    log.error(
                        "broker_session_write_failed",
                        error=str(exc) or type(exc).__name__,
                        session_id=None if row is None else row.id,
                    )
                self._failing = True
                return
            if self._failing:
                log.info("broker_session_write_recovered")
            self._failing = False
            for written, new_id in inserted:
                written.id = new_id
            self._closing = [r for r in self._closing if all(r is not c for c in closing)]

    async def _store(self, closing: list[_Row], row: _Row | None) -> list[tuple[_Row, int]]:
        """One transaction; return the rows inserted with their new ids (set after commit)."""
        now = self._clock()
        inserted: list[tuple[_Row, int]] = []
        async with self._sessionmaker() as session, session.begin():
            for done in closing:  # a close written ahead of the sweep is not a crash
                new_id = await self._upsert(session, done, now)
                if new_id is not None:
                    inserted.append((done, new_id))
            if row is not None:
                if row.id is None:
                    await _close_crashed(session)
                new_id = await self._upsert(session, row, now)
                if new_id is not None:
                    inserted.append((row, new_id))
        return inserted

    @staticmethod
    async def _upsert(session: AsyncSession, row: _Row, now: datetime) -> int | None:
        """Insert `row` (returning its id) or update it by id (returning None)."""
        values = row.values(now)
        if row.id is None:
            record = BrokerSession(**values)
            session.add(record)
            await session.flush()
            return record.id
        statement = update(BrokerSession).where(BrokerSession.id == row.id).values(**values)
        if row.disconnected_at is None:
            # A flush must not reopen a row another instance closed as a crash leftover
            # (it took the broker over while this one had not noticed yet); this
            # instance's own close, written later, does overwrite it with the real end.
            statement = statement.where(BrokerSession.disconnected_at.is_(None))
        result = await session.execute(statement)
        if row.disconnected_at is None and getattr(result, "rowcount", 1) == 0:
            log.warning("broker_session_closed_elsewhere", session_id=row.id)
        return None


async def _close_crashed(session: AsyncSession) -> None:
    """Close every open row as `api_crash` at the time its owner last wrote it."""
    for leftover in await session.scalars(
        select(BrokerSession).where(BrokerSession.disconnected_at.is_(None))
    ):
        ended = leftover.last_seen_at
        if leftover.ib_unreachable_since is not None:
            gap = (ended - leftover.ib_unreachable_since).total_seconds()
            leftover.ib_outage_seconds += max(gap, 0.0)
            leftover.ib_unreachable_since = None
        leftover.disconnected_at = ended
        leftover.disconnect_reason = DisconnectReason.API_CRASH.value
        log.warning(
            "broker_session_crash_closed", session_id=leftover.id, instance=leftover.instance
        )
    await session.flush()


async def list_sessions(
    *, session: AsyncSession, filters: BrokerSessionFilters
) -> tuple[list[BrokerSession], str | None]:
    """List broker sessions newest first; return a page and the cursor of the next one."""
    return await paginate(
        session, select(BrokerSession), BrokerSession.id, filters.cursor, filters.limit
    )


async def current_session(
    *, session: AsyncSession, timeout: float = READ_TIMEOUT_SECONDS
) -> BrokerSession | None:
    """Return the open session (the newest row not yet closed), or None.

    None as well when the database cannot answer within `timeout`: the broker's status
    must not depend on the audit trail (`/health` reports the database).
    """
    try:
        async with asyncio.timeout(timeout):
            row: BrokerSession | None = await session.scalar(
                select(BrokerSession)
                .where(BrokerSession.disconnected_at.is_(None))
                .order_by(BrokerSession.id.desc())
                .limit(1)
            )
    except (SQLAlchemyError, OSError, TimeoutError) as exc:
        log.warning("broker_session_unreadable", error=str(exc) or type(exc).__name__)
        return None
    return row
