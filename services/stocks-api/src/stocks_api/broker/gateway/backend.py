"""What a client connection and its request handlers need from the gateway behind them.

`GatewayBackend` names exactly that, and nothing of how it is done: the handlers
(`handlers.py`) and the session (`session.py`) are written against it, never against
`GatewaySim`'s attributes. Today `server.GatewaySim` implements it over the simulator's
matching engine; a TWS front door over the API's own services can implement the same
interface and serve the same wire protocol with the same session and handlers.

A backend answers a client's order requests through the session it is given (errors,
openOrder, orderStatus, ...), as IB answers on the connection the request came on. The
interface is generic in that session's type, so this module needs nothing of the session
(`session.Session` holds a `GatewayBackend[Session]`) and the two never import each other.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Protocol, TypeVar

from stocks_api.broker.gateway.account import AccountValue
from stocks_api.broker.gateway.model import (
    IbCommission,
    IbContract,
    IbExecution,
    IbOrder,
    IbPosition,
)
from stocks_api.broker.gateway.requests import PlaceOrder
from stocks_api.broker.protocol import Bar, BarInterval, Quote
from stocks_api.core.calendar import SessionCalendar

# The connection a backend answers on (a backend takes it, so the parameter is contravariant).
SessionT = TypeVar("SessionT", contravariant=True)


class GatewayBackend(Protocol[SessionT]):
    """The gateway as its client connections see it."""

    # -- the connection ----------------------------------------------------------------

    @property
    def account(self) -> str:
        """The one account the gateway trades (managedAccounts)."""
        ...

    @property
    def in_outage(self) -> bool:
        """Whether IB is unreachable: a client connecting now is told 1100."""
        ...

    def register(self, session: SessionT, client_id: int) -> bool:
        """Take `client_id` for `session`; False when another connection holds it."""
        ...

    def next_order_id(self, client_id: int) -> int:
        """The next order id `client_id` may use (nextValidId)."""
        ...

    def flush_state(self) -> None:
        """Make durable what requests changed; called before any message reaches a client."""
        ...

    def note_pacing_violation(self) -> None:
        """Count a message a client sent above IB's rate limit."""
        ...

    # -- orders and executions ---------------------------------------------------------

    async def place(self, session: SessionT, request: PlaceOrder) -> None:
        """placeOrder: place (or, for an order id `session` used already, modify) an order."""
        ...

    async def cancel(self, session: SessionT, order_id: int) -> None:
        """cancelOrder: cancel an order of `session`."""
        ...

    async def cancel_all(self) -> None:
        """reqGlobalCancel: cancel every working order of every client."""
        ...

    def open_orders(self, client_id: int | None) -> list[IbOrder]:
        """Working orders, of one client or (None) of all."""
        ...

    def completed_orders(self) -> list[IbOrder]:
        """Finished orders (filled, cancelled, inactive)."""
        ...

    def executions(self, client_id: int) -> list[tuple[IbExecution, IbCommission]]:
        """Executions of `client_id` (0: all), with their commission reports."""
        ...

    # -- the account -------------------------------------------------------------------

    def positions(self, symbol: str | None = None) -> list[IbPosition]:
        """The account's holdings (or the one in `symbol`), valued at the last price."""
        ...

    def account_values(self) -> list[AccountValue]:
        """IB's account values (NetLiquidation, TotalCashValue, ...), as text."""
        ...

    def pnl(self) -> tuple[Decimal, Decimal, Decimal]:
        """The account's (daily, unrealized, realized) P&L, as reqPnL reports it."""
        ...

    def pnl_single(
        self, symbol: str
    ) -> tuple[Decimal, Decimal, Decimal | None, Decimal | None, Decimal]:
        """One position's (position, daily, unrealized, realized, value), as reqPnLSingle."""
        ...

    # -- contracts and market data -----------------------------------------------------

    def contract(self, symbol: str) -> IbContract | None:
        """The contract of `symbol`; None when it is not traded."""
        ...

    def contract_by_con_id(self, con_id: int) -> IbContract | None:
        """The contract with IB's `con_id`; None when there is none."""
        ...

    def now(self) -> datetime:
        """The gateway's time (its market's clock)."""
        ...

    def symbols(self) -> list[str]:
        """Every symbol traded (reqMatchingSymbols searches them)."""
        ...

    @property
    def calendar(self) -> SessionCalendar:
        """The exchange's trading sessions."""
        ...

    @property
    def delayed_data(self) -> bool:
        """Whether the gateway has only delayed market data (no live subscription)."""
        ...

    @property
    def pacing(self) -> bool:
        """Whether clients sending more than IB's 50 messages a second get error 100."""
        ...

    def quote(self, symbol: str) -> Quote:
        """The current quote of a traded `symbol`."""
        ...

    def day_vwap(self, symbol: str) -> Decimal:
        """The volume-weighted average price of `symbol` today (RTVolume's VWAP)."""
        ...

    def seconds(
        self, symbol: str, start: datetime, end: datetime, limit: int, *, from_start: bool = False
    ) -> list[Quote]:
        """The market of each open second in [start, end): at most `limit`, the newest (or,
        `from_start`, the oldest)."""
        ...

    def first_bar_time(self, symbol: str) -> datetime:
        """When the oldest bar of `symbol` starts (reqHeadTimeStamp)."""
        ...

    async def bars(
        self, symbol: str, interval: BarInterval, *, limit: int, end: datetime | None
    ) -> list[Bar]:
        """Up to `limit` bars of `symbol` ending at `end` (None: now), oldest first."""
        ...
