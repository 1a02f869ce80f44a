"""Booking executions into positions and account cash, inside the event consumer's transaction.

The consumer calls `FillBook.load` once per batch (one query however many symbols it
touches), then `book` for each new execution, then `write`. Every booked execution also
leaves a position snapshot marked at its price (the position history), written by `write`
with one executemany. Booking takes the
broker's neutral `Execution` and answers with what changed (`Booked`): it knows nothing of
how the order domain stores fills.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import cast

import structlog
from sqlalchemy import Table, and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from stocks_api.broker.protocol import AccountType, Execution
from stocks_api.core.ledger import ZERO, Holding, apply_fill, signed_qty, unrealized_pnl
from stocks_api.core.sql import one_of
from stocks_api.portfolio.models import Account, Position, PositionSnapshot

log = structlog.get_logger(__name__)

_SNAPSHOT_TABLE = cast(Table, PositionSnapshot.__table__)


@dataclass(frozen=True, slots=True)
class Booked:
    """What booking one execution changed: the position as it now stands, the P&L it realized."""

    position: Position
    realized_pnl: Decimal


class FillBook:
    """The positions and accounts that one batch of executions touches."""

    def __init__(self, positions: dict[tuple[str, str], Position], accounts: dict[str, Account]):
        self._positions = positions
        self._accounts = accounts
        self._snapshots: list[dict[str, object]] = []  # position history rows to write

    @classmethod
    async def load(cls, session: AsyncSession, executions: Iterable[Execution]) -> FillBook:
        """Read the rows the executions will change."""
        keys = {(e.account_id, e.symbol) for e in executions}
        if not keys:
            return cls({}, {})
        ids = {account_id for account_id, _ in keys}
        # One statement: each account with its positions in the symbols (accounts and
        # symbols each bound as one parameter, so the statement is the same for any batch);
        # the pairs not asked for are left out here.
        rows = await session.execute(
            select(Account, Position)
            .outerjoin(
                Position,
                and_(
                    Position.account_id == Account.account_id,
                    one_of(Position.symbol, {symbol for _, symbol in keys}),
                ),
            )
            .where(one_of(Account.account_id, ids))
        )
        positions: dict[tuple[str, str], Position] = {}
        accounts: dict[str, Account] = {}
        for account, position in rows:
            accounts[account.account_id] = account
            if position is not None and (position.account_id, position.symbol) in keys:
                positions[(position.account_id, position.symbol)] = position
        return cls(positions, accounts)

    async def write(self, session: AsyncSession) -> None:
        """Write the position snapshots of the executions booked (one executemany)."""
        if self._snapshots:
            await session.execute(_SNAPSHOT_TABLE.insert(), self._snapshots)
            self._snapshots = []

    @property
    def accounts(self) -> dict[str, Decimal]:
        """The cash of every account this batch read or booked, as it now stands."""
        return {account_id: account.cash for account_id, account in self._accounts.items()}

    def book(self, session: AsyncSession, execution: Execution) -> Booked:
        """Apply `execution` to its position and its account's cash; snapshot the position."""
        at = execution.ts
        position = self._position(session, execution.account_id, execution.symbol)
        account = self._account(session, execution.account_id)
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
        account.cash += result.cash_delta
        account.realized_pnl += result.realized
        account.updated_at = at
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

    def _position(self, session: AsyncSession, account_id: str, symbol: str) -> Position:
        position = self._positions.get((account_id, symbol))
        if position is None:
            position = Position(
                account_id=account_id,
                symbol=symbol,
                qty=ZERO,
                avg_cost=ZERO,
                realized_pnl=ZERO,
            )
            session.add(position)
            self._positions[(account_id, symbol)] = position
        return position

    def _account(self, session: AsyncSession, account_id: str) -> Account:
        account = self._accounts.get(account_id)
        if account is None:
            # Accounts are registered at start-up; a fill for another one is still booked
            # (nothing is lost), against an account that starts from zero cash.
            log.warning("fill_for_unregistered_account", account_id=account_id)
            account = Account(
                account_id=account_id,
                account_type=AccountType.MARGIN.value,
                currency="USD",
                initial_cash=ZERO,
                cash=ZERO,
                realized_pnl=ZERO,
            )
            session.add(account)
            self._accounts[account_id] = account
        return account
