"""The account service: managed accounts, their figures and P&L, and snapshots of both.

Cash and realized P&L come from our own ledger (the `account` row, moved by every fill
the consumer books); positions are valued at the broker's last prices. The trading day
begins at the calendar's last regular close, so daily P&L is net liquidation now minus
net liquidation then (the newest snapshot taken before it).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from stocks_api.broker.calls import call_broker
from stocks_api.broker.protocol import (
    AccountType,
    BrokerAccount,
    BrokerClient,
    is_paper_account,
)
from stocks_api.broker.valuation import Figures, MarkedPosition, account_figures
from stocks_api.core.calendar import SessionCalendar
from stocks_api.core.database import utcnow
from stocks_api.core.ledger import ZERO
from stocks_api.core.pagination import paginate
from stocks_api.portfolio import positions as position_service
from stocks_api.portfolio.day_start import day_start_of
from stocks_api.portfolio.exceptions import AccountNotFoundError
from stocks_api.portfolio.models import Account, AccountSnapshot, PositionSnapshot
from stocks_api.portfolio.positions import ValuedPosition
from stocks_api.portfolio.schemas import AccountHistoryFilters, AccountPnl, AccountSummary


@dataclass(frozen=True, slots=True)
class AccountState:
    """An account valued now: its figures and the positions behind them."""

    account: Account
    figures: Figures
    positions: list[ValuedPosition]
    unrealized_pnl: Decimal
    unpriced_symbols: list[str]
    as_of: datetime


async def sync_accounts(
    *, session: AsyncSession, broker: BrokerClient, timeout: float
) -> list[BrokerAccount]:
    """Register the broker's accounts; a new one starts the ledger at the broker's cash."""
    managed = await call_broker(broker.accounts(), timeout=timeout)
    ids = [account.account_id for account in managed]
    known = set(
        await session.scalars(select(Account.account_id).where(Account.account_id.in_(ids)))
    )
    for account in managed:
        if account.account_id not in known:
            session.add(
                Account(
                    account_id=account.account_id,
                    account_type=account.account_type.value,
                    currency=account.currency,
                    initial_cash=account.cash,
                    cash=account.cash,
                    realized_pnl=ZERO,
                )
            )
    await session.commit()
    return managed


async def stored_accounts(session: AsyncSession) -> list[BrokerAccount]:
    """Return the accounts `sync_accounts` registered, first registered first.

    What a read-only instance knows of the broker's accounts without connecting to it;
    `cash` is our ledger's.
    """
    rows = await session.scalars(select(Account).order_by(Account.created_at, Account.account_id))
    return [
        BrokerAccount(row.account_id, AccountType(row.account_type), row.currency, row.cash)
        for row in rows
    ]


async def list_managed(*, broker: BrokerClient, timeout: float) -> list[BrokerAccount]:
    """List the accounts the broker manages now."""
    return await call_broker(broker.accounts(), timeout=timeout)


async def all_accounts(session: AsyncSession) -> list[Account]:
    """Return every registered account."""
    return list(await session.scalars(select(Account).order_by(Account.account_id)))


async def get_or_raise(*, session: AsyncSession, account_id: str) -> Account:
    """Return the account `account_id` or raise `AccountNotFoundError`."""
    account = await session.get(Account, account_id)
    if account is None:
        raise AccountNotFoundError(account_id)
    return account


async def value_account(
    *, session: AsyncSession, broker: BrokerClient, account: Account, timeout: float
) -> AccountState:
    """Value an account's positions at market and compute its figures."""
    positions = await position_service.open_positions(session, account.account_id)
    await session.commit()  # end the read before waiting on the broker
    valued = await position_service.value_all(broker=broker, positions=positions, timeout=timeout)
    figures = account_figures(
        account.cash,
        [MarkedPosition(p.qty, p.market_price) for p in valued],
        AccountType(account.account_type),
    )
    unrealized = sum((p.unrealized_pnl for p in valued if p.unrealized_pnl is not None), ZERO)
    unpriced = [p.symbol for p in valued if p.market_price is None]
    return AccountState(account, figures, valued, unrealized, unpriced, utcnow())


async def summary(
    *, session: AsyncSession, broker: BrokerClient, account_id: str, timeout: float
) -> AccountSummary:
    """Return net liquidation, cash, margins, buying power and cushion of an account."""
    account = await get_or_raise(session=session, account_id=account_id)
    state = await value_account(session=session, broker=broker, account=account, timeout=timeout)
    return summary_of(state)


def summary_of(state: AccountState) -> AccountSummary:
    """The summary resource of a valued account."""
    account = state.account
    return AccountSummary(
        account_id=account.account_id,
        account_type=AccountType(account.account_type),
        currency=account.currency,
        is_paper=is_paper_account(account.account_id),
        unrealized_pnl=state.unrealized_pnl,
        realized_pnl=account.realized_pnl,
        unpriced_symbols=state.unpriced_symbols,
        as_of=state.as_of,
        **asdict(state.figures),
    )


async def pnl(
    *,
    session: AsyncSession,
    broker: BrokerClient,
    calendar: SessionCalendar,
    account_id: str,
    timeout: float,
) -> AccountPnl:
    """Return today's P&L of an account: daily, unrealized, and realized since the boundary."""
    account = await get_or_raise(session=session, account_id=account_id)
    session_start = calendar.last_close(utcnow())
    day_start = await day_start_of(session, account, session_start)
    state = await value_account(session=session, broker=broker, account=account, timeout=timeout)
    return AccountPnl(
        account_id=account_id,
        daily_pnl=state.figures.net_liquidation - day_start.net_liquidation,
        unrealized_pnl=state.unrealized_pnl,
        realized_pnl=account.realized_pnl - day_start.realized_pnl,
        session_start=session_start,
        as_of=state.as_of,
    )


async def list_history(
    *, session: AsyncSession, account_id: str, filters: AccountHistoryFilters
) -> tuple[list[AccountSnapshot], str | None]:
    """List an account's snapshots newest first; return a page and the next cursor."""
    await get_or_raise(session=session, account_id=account_id)
    query = select(AccountSnapshot).where(AccountSnapshot.account_id == account_id)
    if filters.since:
        query = query.where(AccountSnapshot.taken_at >= filters.since)
    if filters.until:
        query = query.where(AccountSnapshot.taken_at < filters.until)
    return await paginate(session, query, AccountSnapshot.id, filters.cursor, filters.limit)


async def record_snapshots(
    *,
    session: AsyncSession,
    broker: BrokerClient,
    reason: str,
    with_positions: bool,
    timeout: float,
) -> list[AccountState]:
    """Snapshot every account (and, if asked, each open position) valued now.

    An account with an unpriced position is not snapshotted: a figure that leaves out a
    holding would be wrong, and history should rather have a gap.
    """
    states = []
    for account in await all_accounts(session):
        state = await value_account(
            session=session, broker=broker, account=account, timeout=timeout
        )
        states.append(state)
        if state.unpriced_symbols:
            continue
        session.add(
            AccountSnapshot(
                account_id=account.account_id,
                cash=account.cash,
                gross_position_value=state.figures.gross_position_value,
                net_liquidation=state.figures.net_liquidation,
                unrealized_pnl=state.unrealized_pnl,
                realized_pnl=account.realized_pnl,
                reason=reason,
                taken_at=state.as_of,
            )
        )
        if with_positions:
            session.add_all(_position_snapshot(p, reason, state.as_of) for p in state.positions)
    await session.commit()
    return states


def _position_snapshot(position: ValuedPosition, reason: str, at: datetime) -> PositionSnapshot:
    return PositionSnapshot(
        account_id=position.account_id,
        symbol=position.symbol,
        qty=position.qty,
        avg_cost=position.avg_cost,
        market_price=position.market_price,
        market_value=position.market_value,
        unrealized_pnl=position.unrealized_pnl,
        realized_pnl=position.realized_pnl,
        reason=reason,
        taken_at=at,
    )
