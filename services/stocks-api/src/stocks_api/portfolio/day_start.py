"""Where an account's trading day began: its figures at the last session boundary."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from stocks_api.core.ledger import ZERO
from stocks_api.portfolio.models import Account, AccountSnapshot


@dataclass(frozen=True, slots=True)
class DayStart:
    """Where the trading day began: net liquidation and realized P&L to date."""

    net_liquidation: Decimal
    realized_pnl: Decimal


async def day_start_of(session: AsyncSession, account: Account, moment: datetime) -> DayStart:
    """Return the account at `moment`: its newest snapshot before it, else its initial cash."""
    row = (
        await session.execute(
            select(AccountSnapshot.net_liquidation, AccountSnapshot.realized_pnl)
            .where(
                AccountSnapshot.account_id == account.account_id, AccountSnapshot.taken_at < moment
            )
            .order_by(AccountSnapshot.taken_at.desc(), AccountSnapshot.id.desc())
            .limit(1)
        )
    ).first()
    # No snapshot before the boundary: nothing traded before it, so the account held cash.
    if row is None:
        return DayStart(account.initial_cash, ZERO)
    return DayStart(row.net_liquidation, row.realized_pnl)
