"""The gateway simulator's view of IB objects: what its messages are built from.

Plain data, in IB's vocabulary (actions BUY/SELL, order types MKT/LMT/..., statuses
Submitted/Filled/...), so the encoders can follow IB's field layouts one to one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class IbContract:
    """A US stock as IB describes it (SMART-routed, USD)."""

    con_id: int
    symbol: str
    min_tick: Decimal
    size_increment: Decimal = Decimal(1)  # fractional symbols trade in smaller steps
    sec_type: str = "STK"
    exchange: str = "SMART"
    primary_exchange: str = "NASDAQ"
    currency: str = "USD"
    long_name: str = ""

    @property
    def local_symbol(self) -> str:
        return self.symbol

    @property
    def trading_class(self) -> str:
        return "NMS"


@dataclass(slots=True)
class IbOrder:
    """A working or finished order at the gateway, with its latest state."""

    order_id: int
    client_id: int
    perm_id: int
    contract: IbContract
    action: str  # BUY, SELL
    total_qty: Decimal
    order_type: str  # MKT, LMT, STP, STP LMT, TRAIL
    account: str
    order_ref: str = ""
    lmt_price: Decimal | None = None
    aux_price: Decimal | None = None  # the stop price (STP, STP LMT), the trail amount (TRAIL)
    tif: str = "DAY"  # DAY, GTC, IOC, GTD
    good_till_date: str = ""  # a GTD order's goodTillDate, as the client sent it
    good_till: datetime | None = None  # ... and when that is (aware UTC)
    good_after_time: str = ""  # goodAfterTime as sent: the order waits until then
    good_after: datetime | None = None
    oca_group: str = ""
    oca_type: int = 0  # IB's ocaType as the client sent it (echoed back in openOrder)
    parent_id: int = 0
    outside_rth: bool = False
    transmit: bool = True
    trailing_percent: Decimal | None = None
    trail_stop_price: Decimal | None = None
    # Order conditions (`conditions.py`): (type, conjunction, values...) as the client sent
    # them; the order waits at the gateway, not in the engine, until they are met.
    conditions: tuple[tuple[str, ...], ...] = ()
    conditions_ignore_rth: bool = False
    conditions_cancel_order: bool = False
    waiting_for_conditions: bool = False
    placed_at: datetime | None = None
    # State, as orderStatus reports it.
    status: str = (
        "PreSubmitted"  # PendingSubmit, PreSubmitted, Submitted, Filled, Cancelled, Inactive
    )
    filled: Decimal = Decimal(0)
    avg_fill_price: Decimal = Decimal(0)
    last_fill_price: Decimal = Decimal(0)
    commission: Decimal | None = None  # total so far, once anything filled
    why_held: str = ""
    completed_time: str = ""  # "YYYYMMDD-HH:MM:SS" once finished (completed orders)
    completed_status: str = ""
    # How the engine holds it, kept so a restarted gateway-sim can put it back.
    bracket_parent_perm_id: int = 0  # a bracket child: its parent's perm id
    held: bool = False  # a bracket child waiting for its parent to fill
    triggered: bool = False  # a stop (or trailing stop) that has triggered
    expires_at: datetime | None = None  # a working DAY order: the close it expires at

    @property
    def remaining(self) -> Decimal:
        return self.total_qty - self.filled


@dataclass(frozen=True, slots=True)
class IbExecution:
    """One fill, as execDetails reports it."""

    exec_id: str
    order_id: int
    client_id: int
    perm_id: int
    contract: IbContract
    time: datetime  # aware UTC
    account: str
    side: str  # BOT, SLD
    shares: Decimal
    price: Decimal
    cum_qty: Decimal
    avg_price: Decimal
    order_ref: str
    exchange: str = "ISLAND"
    liquidation: int = 0


@dataclass(frozen=True, slots=True)
class IbCommission:
    """The commission report of one execution."""

    exec_id: str
    commission: Decimal
    currency: str = "USD"
    realized_pnl: Decimal | None = None  # None: IB's "unset" (max double)


@dataclass(frozen=True, slots=True)
class IbPosition:
    """A holding of one account, valued at the last price."""

    account: str
    contract: IbContract
    position: Decimal
    avg_cost: Decimal
    market_price: Decimal
    market_value: Decimal
    unrealized_pnl: Decimal
    realized_pnl: Decimal


@dataclass(frozen=True, slots=True)
class IbBar:
    """One historical bar."""

    date: str  # as IB formats it for the request (epoch seconds or YYYYMMDD)
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    wap: Decimal
    count: int
