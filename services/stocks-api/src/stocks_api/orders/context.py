"""What an order operation works with besides its database session: the `TradingContext`.

Placing, changing, cancelling, closing a position and the kill switch all need the same
running parts; routers get them as one dependency (`orders.dependencies.TradingDep`).
"""

from __future__ import annotations

from dataclasses import dataclass

from stocks_api.broker.guard import LiveTradingGuard
from stocks_api.broker.protocol import BrokerAccount, BrokerClient
from stocks_api.orders.consumer import BrokerEventConsumer
from stocks_api.orders.write_ahead import WriteAhead
from stocks_api.risk.engine import RiskEngine


@dataclass(frozen=True, slots=True)
class TradingContext:
    """The broker, the consumer of its events, the live-trading guard, the risk engine, and
    the group commit of new orders (`write_ahead`).

    `account` is the account orders trade in (None before the broker reported one; its
    type decides whether short sales are allowed). `timeout` bounds every broker call
    (BROKER_TIMEOUT_SECONDS).
    """

    broker: BrokerClient
    consumer: BrokerEventConsumer
    guard: LiveTradingGuard
    risk: RiskEngine
    account: BrokerAccount | None
    timeout: float
    write_ahead: WriteAhead

    @property
    def account_id(self) -> str | None:
        return None if self.account is None else self.account.account_id
