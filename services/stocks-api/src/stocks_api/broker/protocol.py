"""The broker boundary: one typed interface and the neutral models that cross it.

Everything outside `stocks_api.broker` depends only on this module. Implementations
(`sim.SimBroker` today, `ib.IbkrBroker` later) are built in the app's lifespan and
injected; they report everything that happens at the broker (acknowledgements,
executions, cancels, rejections) as `BrokerEvent`s pushed into the sink given to
`connect`, which the single event consumer applies to the database.

All money, prices and quantities are `Decimal`; timestamps are timezone-aware UTC.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol, runtime_checkable


class Side(enum.StrEnum):
    BUY = "buy"
    SELL = "sell"


class OrderType(enum.StrEnum):
    MARKET = "market"
    LIMIT = "limit"
    STOP = "stop"
    STOP_LIMIT = "stop_limit"
    # A stop that follows the market by `trail_amount` or `trail_percent`, then trades at market.
    TRAILING_STOP = "trailing_stop"


class TimeInForce(enum.StrEnum):
    DAY = "day"
    GTC = "gtc"
    IOC = "ioc"


class AccountType(enum.StrEnum):
    MARGIN = "margin"
    CASH = "cash"


class BarInterval(enum.StrEnum):
    M1 = "1m"
    M5 = "5m"
    H1 = "1h"
    D1 = "1d"


class BrokerOrderStatus(enum.StrEnum):
    """Order states as the broker reports them (a subset of our own order statuses)."""

    SUBMITTED = "submitted"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELLED = "cancelled"
    REJECTED = "rejected"
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """A new order as sent to the broker; `client_order_id` travels with it (IB `orderRef`).

    A trailing stop gives exactly one of `trail_amount` (price distance) or `trail_percent`
    (0-100) and no prices. The children of a bracket name their parent in
    `parent_client_order_id` and share an `oca_group` (one cancels the other). Orders
    outside a bracket form an OCA group when they share an `oca_group` and give IB's
    `oca_type`: 1 a fill cancels the others, 2 and 3 reduce them in proportion (with and
    without IB's overfill block; fills here come one at a time, so both act alike).
    """

    client_order_id: str
    symbol: str
    side: Side
    qty: Decimal
    order_type: OrderType
    tif: TimeInForce = TimeInForce.DAY
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    outside_rth: bool = False
    trail_amount: Decimal | None = None
    trail_percent: Decimal | None = None
    parent_client_order_id: str | None = None
    oca_group: str | None = None
    oca_type: int | None = None


@dataclass(frozen=True, slots=True)
class OrderChange:
    """A modification of a working order; `None` leaves a field as it is."""

    qty: Decimal | None = None
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Contract:
    """What the broker says about a tradable symbol."""

    symbol: str
    currency: str
    tick_size: Decimal
    # The smallest quantity step: 1 for whole shares, 0.0001 where fractions are allowed.
    qty_increment: Decimal

    @property
    def fractional(self) -> bool:
        """Whether orders may use fractions of a share."""
        return self.qty_increment < 1


@dataclass(frozen=True, slots=True)
class BrokerAccount:
    """One account the broker manages for us; `cash` is its balance when first seen."""

    account_id: str
    account_type: AccountType
    currency: str
    cash: Decimal

    @property
    def is_paper(self) -> bool:
        """Whether this is a paper-trading account."""
        return is_paper_account(self.account_id)


def is_paper_account(account_id: str) -> bool:
    """Tell a paper account by its id: IBKR's paper account ids start with DU."""
    return account_id.startswith("DU")


class LinkState(enum.StrEnum):
    """The state of the link to the broker, as a trader needs to know it."""

    CONNECTED = "connected"  # orders can be placed
    DISCONNECTED = "disconnected"  # no connection to the broker (or to IB Gateway)
    # IB Gateway's socket is open, but the gateway has lost IB itself (IB's 1100):
    # nothing placed now reaches IB, and what IB does meanwhile is not reported.
    IB_UNREACHABLE = "ib_unreachable"


# IB Gateway and TWS listen for live accounts on these ports (paper: 4002, 7497).
LIVE_PORTS = frozenset({4001, 7496})


@dataclass(frozen=True, slots=True)
class ConnectionInfo:
    """Where the broker connection goes and since when (for `GET /api/v1/broker`)."""

    kind: str
    host: str | None
    port: int | None
    server_version: str | None
    connected_at: datetime | None
    last_reconnect_at: datetime | None = None
    # The link as a trader needs it (IB Gateway connected but IB unreachable is not
    # connected), and since when it has been so.
    state: LinkState = LinkState.CONNECTED
    state_since: datetime | None = None

    @property
    def on_live_port(self) -> bool:
        """Whether the connection targets a live-trading port."""
        return self.port in LIVE_PORTS


@dataclass(frozen=True, slots=True)
class Bar:
    """One OHLCV bar; `start` is the beginning of its interval (UTC)."""

    start: datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal


@dataclass(frozen=True, slots=True)
class Quote:
    symbol: str
    bid: Decimal
    ask: Decimal
    last: Decimal
    bid_size: Decimal
    ask_size: Decimal
    volume: Decimal
    ts: datetime


@dataclass(frozen=True, slots=True)
class OrderStatusUpdate:
    """The broker's view of an order changed (acknowledged, cancelled, rejected, ...).

    `filled_qty` is the broker's cumulative filled quantity; fills themselves arrive as
    `Execution`s, which are the source of truth for quantities and prices. `stop_price`
    is set when the broker moved an order's stop (a trailing stop's level on acceptance
    and when it triggers); `qty` when the broker changed the order's quantity (a bracket
    child reduced by its sibling's fill, or resized to a partly filled parent).
    """

    client_order_id: str
    broker_order_id: str
    status: BrokerOrderStatus
    filled_qty: Decimal
    remaining_qty: Decimal
    ts: datetime
    reason: str | None = None
    payload: dict[str, Any] = field(default_factory=dict)
    stop_price: Decimal | None = None
    qty: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Execution:
    """One fill; `exec_id` is unique per execution and stable across replays."""

    exec_id: str
    client_order_id: str
    broker_order_id: str
    account_id: str
    symbol: str
    side: Side
    qty: Decimal
    price: Decimal
    commission: Decimal
    ts: datetime
    currency: str = "USD"


@dataclass(frozen=True, slots=True)
class LinkEvent:
    """The link to the broker changed; pushed through the sink in order with the other events.

    A `CONNECTED` event comes after the broker has replayed what it knows (open and
    completed orders, executions) into the sink, so whoever acts on it (reconciliation)
    sees those applied first. `restored` is set when IB came back behind an open socket
    (IB's 1101, `data_lost` True, or 1102); `reconnect` when a dropped socket was made again.
    `reason` says why the link went down (DISCONNECTED: "socket_drop").
    """

    state: LinkState
    ts: datetime
    reason: str | None = None
    server_version: str | None = None
    account_id: str | None = None
    reconnect: bool = False
    restored: bool = False
    data_lost: bool = False


BrokerEvent = OrderStatusUpdate | Execution | LinkEvent
EventSink = Callable[[BrokerEvent], None]


class BrokerError(Exception):
    """Base of every error a broker call raises."""


class BrokerUnavailableError(BrokerError):
    """The broker is not connected or the call could not be delivered."""


class BrokerTimeoutError(BrokerError):
    """The broker did not answer within the configured timeout."""


class BrokerRejectedError(BrokerError):
    """The broker refused the request (unknown order, invalid change, ...)."""


class BrokerNotSentError(BrokerUnavailableError):
    """Nothing of the request was sent: the broker was unreachable before a byte was written.

    Only this error proves that an order never left the API, so that a retry may send it.
    """


@runtime_checkable
class BrokerClient(Protocol):
    """What the application needs from a broker."""

    kind: str

    @property
    def is_connected(self) -> bool:
        """Whether the broker link is up right now."""
        ...

    async def connect(self, sink: EventSink) -> None:
        """Connect and start reporting events.

        Args:
            sink: called (synchronously, never blocking) with every broker event in
                the order the broker produced them.

        Raises:
            BrokerUnavailableError: the broker cannot be reached.
        """
        ...

    def connection_info(self) -> ConnectionInfo:
        """Describe the connection: endpoint, server version, when it was made."""
        ...

    async def close(self) -> None:
        """Disconnect and stop reporting events; safe to call twice."""
        ...

    async def accounts(self) -> list[BrokerAccount]:
        """List the accounts this connection manages (one for the simulator).

        Raises:
            BrokerUnavailableError, BrokerTimeoutError.
        """
        ...

    async def contract(self, symbol: str) -> Contract | None:
        """Look up `symbol`.

        Returns:
            Its contract details, or None when the broker does not trade it.

        Raises:
            BrokerUnavailableError, BrokerTimeoutError.
        """
        ...

    async def place_order(self, order: OrderRequest) -> str:
        """Send a new order.

        Returns:
            The broker's order id. Acknowledgement and fills follow as events.

        Raises:
            BrokerNotSentError (nothing was sent: the order may be sent again),
            BrokerUnavailableError, BrokerTimeoutError (its fate is unknown),
            BrokerRejectedError.
        """
        ...

    async def place_bracket(
        self, parent: OrderRequest, children: Sequence[OrderRequest]
    ) -> list[str]:
        """Send a parent order with children that work only once it has filled.

        All or nothing: either every order is accepted or none is. The children name the
        parent in `parent_client_order_id` and share an `oca_group`: a fill of one reduces
        the other, and a complete fill cancels it. Cancelling the parent cancels them.

        Returns:
            The broker order ids, parent first, then the children in the given order.

        Raises:
            BrokerNotSentError (nothing was sent), BrokerUnavailableError,
            BrokerTimeoutError (part may have been sent: its fate is unknown),
            BrokerRejectedError.
        """
        ...

    async def modify_order(self, broker_order_id: str, change: OrderChange) -> None:
        """Change quantity or prices of a working order.

        Raises:
            BrokerUnavailableError, BrokerTimeoutError, BrokerRejectedError (not working,
            quantity below the filled quantity, ...).
        """
        ...

    async def cancel_order(self, broker_order_id: str) -> None:
        """Ask the broker to cancel a working order; the result arrives as an event.

        Raises:
            BrokerUnavailableError, BrokerTimeoutError, BrokerRejectedError.
        """
        ...

    async def open_order_ids(self) -> set[str]:
        """List the `client_order_id`s of the orders working at the broker (for reconciliation).

        Raises:
            BrokerUnavailableError, BrokerTimeoutError.
        """
        ...

    async def resync(self) -> None:
        """Replay what the broker knows (open and completed orders, executions) into the sink.

        Connecting does this by itself; reconciliation calls it to look again.

        Raises:
            BrokerUnavailableError, BrokerTimeoutError.
        """
        ...

    async def positions(self) -> dict[tuple[str, str], Decimal] | None:
        """Return the broker's own positions, by (account id, symbol), for reconciliation.

        Returns:
            Signed quantities, or None when the broker keeps no books of its own (the
            simulator: its positions are the ones booked from its fills).

        Raises:
            BrokerUnavailableError, BrokerTimeoutError.
        """
        ...

    async def get_quote(self, symbol: str) -> Quote:
        """Return the current quote of `symbol`.

        Raises:
            BrokerUnavailableError, BrokerTimeoutError, BrokerRejectedError (unknown symbol).
        """
        ...

    async def get_bars(
        self, symbol: str, interval: BarInterval, *, limit: int, end: datetime | None = None
    ) -> list[Bar]:
        """Return up to `limit` OHLCV bars of `symbol` that start before `end` (default now).

        Returns:
            Bars oldest first; intervals without trades have no bar.

        Raises:
            BrokerUnavailableError, BrokerTimeoutError, BrokerRejectedError (unknown symbol).
        """
        ...

    async def ping(self) -> float:
        """Measure a round trip to the broker.

        Returns:
            The latency in seconds.

        Raises:
            BrokerUnavailableError, BrokerTimeoutError.
        """
        ...
