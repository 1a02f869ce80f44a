"""Booking executions into positions and account cash, inside the event consumer's transaction.

The consumer calls `FillBook.load` once per batch (one query however many symbols it
touches), then `book` for each new execution, then `write`. Every booked execution also
leaves a position snapshot marked at its price (the position history). Booking takes the
broker's neutral `Execution` and answers with what changed (`Booked`): it knows nothing of
how the order domain stores fills.

No ORM unit of work: the rows are read with Core into plain records (`BookedPosition`,
`_BookedAccount`) and written back by `write` with one executemany per kind (positions
updated, positions inserted, accounts updated, accounts inserted, snapshots): statements
of one form each, whatever the batch.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, cast

import structlog
from sqlalchemy import Table, and_, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from stocks_api.broker.protocol import AccountType, Execution
from stocks_api.core.database import utcnow
from stocks_api.core.ledger import ZERO, Holding, apply_fill, signed_qty, unrealized_pnl
from stocks_api.core.sql import one_of_param
from stocks_api.portfolio.models import Account, Position, PositionSnapshot

log = structlog.get_logger(__name__)

_POSITION = cast(Table, Position.__table__)
_ACCOUNT = cast(Table, Account.__table__)
_SNAPSHOT = cast(Table, PositionSnapshot.__table__)

# Inserts are `inline` (no RETURNING of the new ids, which nobody reads): one row or many,
# the same statement. Updates are by key, their SET clause the columns of the parameters
# (the same for every row of a batch, and for every batch).
_UPDATE_POSITION = _POSITION.update().where(_POSITION.c.id == bindparam("key"))
_UPDATE_ACCOUNT = _ACCOUNT.update().where(_ACCOUNT.c.account_id == bindparam("key"))
# Each account with its positions in the symbols: accounts and symbols each bound as one
# parameter, so the statement is the same for any batch.
_ACCOUNTS_AND_POSITIONS = (
    select(
        _ACCOUNT.c.account_id,
        _ACCOUNT.c.cash,
        _ACCOUNT.c.realized_pnl,
        _POSITION.c.id,
        _POSITION.c.symbol,
        _POSITION.c.qty,
        _POSITION.c.avg_cost,
        _POSITION.c.realized_pnl.label("position_realized_pnl"),
        _POSITION.c.opened_at,
        _POSITION.c.updated_at,
    )
    .select_from(_ACCOUNT)
    .outerjoin(
        _POSITION,
        and_(
            _POSITION.c.account_id == _ACCOUNT.c.account_id,
            one_of_param(_POSITION.c.symbol, "symbols"),
        ),
    )
    .where(one_of_param(_ACCOUNT.c.account_id, "ids"))
)
_POSITION_COLUMNS = ("qty", "avg_cost", "realized_pnl", "opened_at", "updated_at")


@dataclass(slots=True)
class BookedPosition:
    """A position row as booking reads and writes it (a `Holding` for `positions.value`).

    `id` is None for a position this batch opens (inserted by `write`).
    """

    id: int | None
    account_id: str
    symbol: str
    qty: Decimal
    avg_cost: Decimal
    realized_pnl: Decimal
    opened_at: datetime | None
    updated_at: datetime
    changed: bool = False


@dataclass(slots=True)
class _BookedAccount:
    account_id: str
    cash: Decimal
    realized_pnl: Decimal
    new: bool = False  # not registered: inserted by `write`
    changed: bool = False


@dataclass(frozen=True, slots=True)
class Booked:
    """What booking one execution changed: the position as it now stands, the P&L it realized."""

    position: BookedPosition
    realized_pnl: Decimal


class FillBook:
    """The positions and accounts that one batch of executions touches."""

    def __init__(
        self,
        positions: dict[tuple[str, str], BookedPosition],
        accounts: dict[str, _BookedAccount],
    ) -> None:
        self._positions = positions
        self._accounts = accounts
        self._snapshots: list[dict[str, object]] = []  # position history rows to write
        self._at: dict[str, datetime] = {}  # account -> time of its last booked execution

    @classmethod
    async def load(cls, session: AsyncSession, executions: Iterable[Execution]) -> FillBook:
        """Read the rows the executions will change."""
        keys = {(e.account_id, e.symbol) for e in executions}
        if not keys:
            return cls({}, {})
        ids = {account_id for account_id, _ in keys}
        # One statement (`_ACCOUNTS_AND_POSITIONS`); the pairs not asked for are left out here.
        symbols = {symbol for _, symbol in keys}
        rows = await session.execute(_ACCOUNTS_AND_POSITIONS, {"ids": ids, "symbols": symbols})
        positions: dict[tuple[str, str], BookedPosition] = {}
        accounts: dict[str, _BookedAccount] = {}
        for row in rows:
            accounts[row.account_id] = _BookedAccount(row.account_id, row.cash, row.realized_pnl)
            if row.id is not None and (row.account_id, row.symbol) in keys:
                positions[(row.account_id, row.symbol)] = BookedPosition(
                    id=row.id,
                    account_id=row.account_id,
                    symbol=row.symbol,
                    qty=row.qty,
                    avg_cost=row.avg_cost,
                    realized_pnl=row.position_realized_pnl,
                    opened_at=row.opened_at,
                    updated_at=row.updated_at,
                )
        return cls(positions, accounts)

    async def write(self, session: AsyncSession) -> None:
        """Write what `book` changed: positions, accounts, snapshots (one executemany each)."""
        changed = [p for p in self._positions.values() if p.changed]
        updated = [_values(p, key=p.id) for p in changed if p.id is not None]
        if updated:
            await session.execute(_UPDATE_POSITION, updated)
        opened = [
            {"account_id": p.account_id, "symbol": p.symbol, **_values(p)}
            for p in changed
            if p.id is None
        ]
        if opened:
            await session.execute(_POSITION.insert().inline(), opened)
        accounts = [a for a in self._accounts.values() if a.changed]
        existing = [self._account_values(a, key=a.account_id) for a in accounts if not a.new]
        if existing:
            await session.execute(_UPDATE_ACCOUNT, existing)
        new = [self._new_account(a) for a in accounts if a.new]
        if new:
            await session.execute(_ACCOUNT.insert().inline(), new)
        if self._snapshots:
            await session.execute(_SNAPSHOT.insert().inline(), self._snapshots)
            self._snapshots = []
        for row in changed:
            row.changed = False
        for account in accounts:
            account.changed = account.new = False

    @property
    def accounts(self) -> dict[str, Decimal]:
        """The cash of every account this batch read or booked, as it now stands."""
        return {account_id: account.cash for account_id, account in self._accounts.items()}

    def book(self, execution: Execution) -> Booked:
        """Apply `execution` to its position and its account's cash; snapshot the position."""
        at = execution.ts
        position = self._position(execution.account_id, execution.symbol, at)
        account = self._account(execution.account_id)
        before = Holding(position.qty, position.avg_cost, position.realized_pnl)
        result = apply_fill(
            before,
            signed_qty(execution.side.value, execution.qty),
            execution.price,
            execution.commission,
        )
        after = result.holding
        if before.qty == 0 or (after.qty != 0 and (after.qty > 0) != (before.qty > 0)):
            position.opened_at = at  # a new position, or one flipped to the other side
        position.qty, position.avg_cost = after.qty, after.avg_cost
        position.realized_pnl = after.realized_pnl
        position.updated_at = at
        position.changed = True
        account.cash += result.cash_delta
        account.realized_pnl += result.realized
        account.changed = True
        self._at[account.account_id] = at
        self._snapshots.append(
            {
                "account_id": position.account_id,
                "symbol": position.symbol,
                "qty": after.qty,
                "avg_cost": after.avg_cost,
                "market_price": execution.price,
                "market_value": after.qty * execution.price,
                "unrealized_pnl": unrealized_pnl(after.qty, after.avg_cost, execution.price),
                "realized_pnl": after.realized_pnl,
                "reason": "fill",
                "taken_at": at,
            }
        )
        return Booked(position, result.realized)

    def _position(self, account_id: str, symbol: str, at: datetime) -> BookedPosition:
        position = self._positions.get((account_id, symbol))
        if position is None:
            position = BookedPosition(
                id=None,
                account_id=account_id,
                symbol=symbol,
                qty=ZERO,
                avg_cost=ZERO,
                realized_pnl=ZERO,
                opened_at=None,
                updated_at=at,
            )
            self._positions[(account_id, symbol)] = position
        return position

    def _account(self, account_id: str) -> _BookedAccount:
        account = self._accounts.get(account_id)
        if account is None:
            # Accounts are registered at start-up; a fill for another one is still booked
            # (nothing is lost), against an account that starts from zero cash.
            log.warning("fill_for_unregistered_account", account_id=account_id)
            account = _BookedAccount(account_id, ZERO, ZERO, new=True)
            self._accounts[account_id] = account
        return account

    def _account_values(self, account: _BookedAccount, **key: object) -> dict[str, Any]:
        return {
            "cash": account.cash,
            "realized_pnl": account.realized_pnl,
            "updated_at": self._at.get(account.account_id) or utcnow(),
            **key,
        }

    def _new_account(self, account: _BookedAccount) -> dict[str, Any]:
        at = self._at.get(account.account_id) or utcnow()
        return {
            "account_id": account.account_id,
            "account_type": AccountType.MARGIN.value,
            "currency": "USD",
            "initial_cash": ZERO,
            "cash": account.cash,
            "realized_pnl": account.realized_pnl,
            "created_at": utcnow(),
            "updated_at": at,
        }


def _values(position: BookedPosition, **key: object) -> dict[str, Any]:
    return {column: getattr(position, column) for column in _POSITION_COLUMNS} | key
