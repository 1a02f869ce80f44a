"""This instance's role: owner of the broker connection, or a read-only standby.

Two API instances pointed at the same database must never both send orders: each would
write its own rows ahead and reach the broker, and nothing could tell the duplicates
apart. So the database hands out one lock (an `OwnershipLock` of `connection.locks`), and
only the instance holding it connects the broker; any other runs read-only (a "standby")
until the lock comes free.

`BrokerOwnership` keeps the instance's role: it takes the lock at start-up when it can,
and a watch task then, every `interval` seconds, checks that the owner still holds it
(a lost PostgreSQL connection loses the lock: the instance goes read-only at once and
gives up the broker) or lets a standby try again, promoting it when it gets the lock.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
from collections.abc import Awaitable, Callable

import structlog

from stocks_api.connection.locks import Holder, OwnershipLock, open_lock, this_holder
from stocks_api.core import metrics
from stocks_api.core.errors import ServiceUnavailableError

# Importers of this module (main, health) take the lock's names from here too.
__all__ = [
    "BrokerOwnership",
    "Holder",
    "OwnershipLock",
    "ReadOnlyInstanceError",
    "Role",
    "open_lock",
]

log = structlog.get_logger(__name__)


class Role(enum.StrEnum):
    OWNER = "owner"
    STANDBY = "standby"


class ReadOnlyInstanceError(ServiceUnavailableError):
    """A change refused because another API instance owns the broker connection."""

    code = "READ_ONLY_INSTANCE"

    def __init__(self, owner: Holder | None) -> None:
        who = "another API instance"
        if owner is not None and (owner.pid is not None or owner.host):
            who += f" ({owner.describe()})"
        super().__init__(
            f"{who} owns the broker connection; this one is read-only",
            details=[{"owner": None if owner is None else owner.as_dict()}],
        )


Step = Callable[[], Awaitable[None]]


class BrokerOwnership:
    """This instance's role (owner or standby) and the watch that keeps it current."""

    def __init__(self, lock: OwnershipLock, *, interval: float) -> None:
        self.lock = lock
        self._interval = interval
        self._role = Role.STANDBY
        self._owner: Holder | None = None
        self._task: asyncio.Task[None] | None = None
        self._unreachable = False
        metrics.BROKER_OWNER.set(0)

    @property
    def role(self) -> Role:
        return self._role

    @property
    def is_owner(self) -> bool:
        return self._role is Role.OWNER

    @property
    def owner(self) -> Holder | None:
        """The instance that owns the broker connection: this one, or the last one seen."""
        if self.is_owner:
            return this_holder(self.lock.since)
        return self._owner

    def check(self) -> None:
        """Refuse to change anything the owner holds unless this instance is the owner.

        Raises:
            ReadOnlyInstanceError: another instance owns the broker connection.
        """
        if not self.is_owner:
            raise ReadOnlyInstanceError(self._owner)

    async def acquire(self, *, promote: Step) -> bool:
        """Try once to become the owner (at start-up); `promote` takes up trading.

        Returns whether this instance is now the owner. If `promote` fails, the lock is
        released and the error raised: an owner that cannot trade must not keep others out.
        """
        if not await self._try_lock(quiet=False):
            return False
        try:
            await promote()
        except BaseException:
            await self.lock.release()
            raise
        self._become_owner()
        return True

    def watch(self, *, promote: Step, demote: Step) -> None:
        """Start checking the lock every interval: keep it, lose it, or take it over."""
        if self._task is None:
            self._task = asyncio.create_task(self._watch(promote, demote), name="broker-ownership")

    async def stop(self) -> None:
        """Stop the watch (first thing at shutdown, so nothing is promoted meanwhile)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def release(self) -> None:
        """Give the broker connection up for another instance (after the broker closed)."""
        await self.stop()
        was_owner = self.is_owner
        self._role = Role.STANDBY
        metrics.BROKER_OWNER.set(0)
        await self.lock.release()
        if was_owner:
            log.info("broker_ownership_released")

    async def _watch(self, promote: Step, demote: Step) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                if self.is_owner:
                    if not await self.lock.check():
                        await self._lose(demote)
                elif await self._try_lock():
                    try:
                        await promote()
                    except Exception:
                        log.exception("broker_promotion_failed")
                        await self._step_down(demote)
                        await self.lock.release()
                        continue
                    self._become_owner()
            except Exception:  # the watch must outlive any one failure
                log.exception("broker_ownership_watch_failed")

    async def _try_lock(self, *, quiet: bool = True) -> bool:
        """Take the lock if free; otherwise note who holds it (logged when it changes).

        `quiet`: a failure to reach the lock is logged (once per outage) and counts as not
        getting it; at start-up it is raised instead, as any database failure is there.
        """
        try:
            if await self.lock.try_acquire():
                self._unreachable = False
                return True
        except Exception as exc:
            if not quiet:
                raise
            if not self._unreachable:  # once per outage, not every interval
                log.warning("broker_lock_unavailable", error=str(exc) or type(exc).__name__)
            self._unreachable = True
            return False
        self._unreachable = False
        owner = await self.lock.holder()
        if owner != self._owner:
            log.warning(
                "broker_standby",
                owner=None if owner is None else owner.describe(),
                lock=self.lock.kind,
                detail="another API instance owns the broker connection; this one is read-only",
            )
        self._owner = owner
        return False

    def _become_owner(self) -> None:
        self._role, self._owner = Role.OWNER, None
        metrics.BROKER_OWNER.set(1)
        log.info("broker_owner", lock=self.lock.kind, owner=this_holder(self.lock.since).describe())

    async def _lose(self, demote: Step) -> None:
        # Read-only before anything else: no request may reach the broker from here on.
        self._role = Role.STANDBY
        metrics.BROKER_OWNER.set(0)
        log.error("broker_ownership_lost", lock=self.lock.kind)
        await self._step_down(demote)
        await self.lock.release()
        with contextlib.suppress(Exception):  # who took it, if anyone did already
            self._owner = await self.lock.holder()

    @staticmethod
    async def _step_down(demote: Step) -> None:
        try:
            await demote()
        except Exception:
            log.exception("broker_demotion_failed")
