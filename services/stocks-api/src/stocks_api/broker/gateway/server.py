"""gateway-sim: IB Gateway's TWS socket protocol over the simulated broker's matching engine.

One `SimBroker` (the same engine the embedded mode uses) serves every connected client.
Each connection is a `_Session`: handshake, `startApi` with its clientId (a clientId in
use is refused with IB's error 326), then requests. The engine's events for an order go
to the session that placed it, as IB sends them: openOrder, orderStatus, then for a fill
execDetails and commissionReport.

Like IB, a client sending more than 50 messages a second gets error 100 (counted in
`pacing_violations`).

Fault injection for tests (`faults`): drop every connection, refuse new ones for a while,
reject the next order with an IB error code, lose the next order on the way in or keep
its client from hearing of it, delay every message, announce 1100/1102.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

import structlog

from stocks_api.broker.gateway import encoders
from stocks_api.broker.gateway import requests as parse
from stocks_api.broker.gateway.model import (
    IbBar,
    IbCommission,
    IbContract,
    IbExecution,
    IbOrder,
    IbPosition,
)
from stocks_api.broker.gateway.wire import (
    HANDSHAKE_PREFIX,
    Fields,
    ProtocolViolationError,
    encode,
    parse_version_range,
    read_message,
    split_fields,
)
from stocks_api.broker.protocol import (
    BarInterval,
    BrokerError,
    BrokerEvent,
    BrokerOrderStatus,
    Execution,
    OrderChange,
    OrderRequest,
    OrderStatusUpdate,
    OrderType,
    Quote,
    Side,
    TimeInForce,
)
from stocks_api.broker.sim.broker import SimBroker
from stocks_api.core.calendar import SessionCalendar
from stocks_api.core.config import SimSettings
from stocks_api.positions.ledger import Holding, apply_fill, signed_qty

log = structlog.get_logger(__name__)

MIN_CLIENT_VERSION = 176
MAX_SERVER_VERSION = 178  # from 201 on the protocol turns to protobuf
FIRST_ORDER_ID = 1
ACCOUNT_SUMMARY_TAGS = ("NetLiquidation", "TotalCashValue", "BuyingPower", "GrossPositionValue")

# IB's error codes the simulator uses.
NO_SECURITY_DEFINITION = 200
ORDER_REJECTED = 201
ORDER_CANCELLED = 202
CLIENT_ID_IN_USE = 326
CANNOT_MODIFY_FILLED = 104
ORDER_NOT_FOUND = 135  # "Can't find order with id ="
NOT_CONNECTED = 504
MAX_RATE_EXCEEDED = 100
EXECUTION_FILTER_ERROR = 321  # IB's "Error validating request"
MAX_MESSAGES_PER_SECOND = 50  # IB's pacing limit for messages a client sends

_ORDER_TYPES = {
    "MKT": OrderType.MARKET,
    "LMT": OrderType.LIMIT,
    "STP": OrderType.STOP,
    "STP LMT": OrderType.STOP_LIMIT,
    "TRAIL": OrderType.TRAILING_STOP,
}
_TIFS = {"DAY": TimeInForce.DAY, "GTC": TimeInForce.GTC, "IOC": TimeInForce.IOC}


@dataclass
class Faults:
    """What the simulator does wrong on purpose (tests and manual checks)."""

    refuse_until: float = 0.0  # monotonic time before which connections are refused
    reject_next: tuple[int, str] | None = None  # the next order gets this IB error
    delay_seconds: float = 0.0  # every outgoing message waits this long
    lose_next: int = 0  # orders lost on the way: the engine never sees them, nobody answers
    mute_next: int = 0  # orders that trade, but whose client hears nothing of them


@dataclass
class _Book:
    """Positions and cash of the one account, booked from the simulator's own fills."""

    cash: Decimal
    holdings: dict[str, Holding] = field(default_factory=dict)
    realized: dict[str, Decimal] = field(default_factory=dict)


class GatewaySim:
    """The TWS protocol server; see the module docstring."""

    def __init__(
        self,
        settings: SimSettings,
        *,
        host: str = "127.0.0.1",
        port: int = 4002,
        calendar: SessionCalendar | None = None,
        tick: bool = True,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._settings = settings
        self.host = host
        self.port = port
        self.account = settings.account_id
        self.broker = SimBroker(settings, calendar=calendar, tick=tick, clock=clock)
        self.faults = Faults()
        self._server: asyncio.Server | None = None
        self._sessions: dict[int, _Session] = {}
        self._connections: set[_Session] = set()
        self._orders: dict[str, IbOrder] = {}  # by the engine's client_order_id (our key)
        self._by_client: dict[tuple[int, int], str] = {}  # (clientId, orderId) -> key
        self._broker_ids: dict[str, str] = {}  # key -> the engine's order id
        self._held: dict[tuple[int, int], IbOrder] = {}  # not transmitted yet (bracket parts)
        self._executions: list[tuple[IbExecution, IbCommission]] = []
        self._muted: set[str] = set()  # orders whose client is told nothing (a fault)
        self.pacing_violations = 0  # messages received above IB's rate limit
        self._perm_ids = itertools.count(int(time.time()) % 100_000 * 1000 + 1)
        self._con_ids: dict[str, int] = {}
        self._highest_order_id: dict[int, int] = {}  # per clientId, as IB remembers it
        self._book = _Book(cash=settings.starting_cash)
        self._ticker: asyncio.Task[None] | None = None
        self._reopen: asyncio.TimerHandle | None = None
        self._background: set[asyncio.Task[None]] = set()
        self._stopped = asyncio.Event()

    # -- life cycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the engine and listen."""
        await self.broker.connect(self._on_engine_event)
        self._server = await asyncio.start_server(
            self._accept, self.host, self.port, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]
        self._ticker = asyncio.create_task(self._stream_quotes(), name="gateway-quotes")
        log.info("gateway_sim_listening", host=self.host, port=self.port, account=self.account)

    async def close(self) -> None:
        """Drop every client and stop."""
        self._stopped.set()
        if self._reopen is not None:
            self._reopen.cancel()
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
        if self._server is not None:
            self._server.close()
        self.drop_connections()
        if self._server is not None:
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
        await self.broker.close()

    async def serve_forever(self) -> None:
        """Wait until `close()` (the listening port may close and reopen meanwhile)."""
        await self._stopped.wait()

    # -- fault injection -----------------------------------------------------------------------

    def drop_connections(self) -> None:
        """Close every client connection at once (as a gateway restart would)."""
        for session in list(self._connections):
            session.abort()

    def refuse_connections(self, seconds: float) -> None:
        """Refuse new connections for `seconds`: the port stops listening, as a gateway
        that is down does (0 listens again at once). Connected clients stay."""
        self.faults.refuse_until = time.monotonic() + seconds
        if self._reopen is not None:
            self._reopen.cancel()
            self._reopen = None
        loop = asyncio.get_running_loop()
        if seconds > 0 and self._server is not None:
            self._server.close()
            self._server = None
        if self._server is None:
            self._reopen = loop.call_later(max(seconds, 0), self._listen_again)

    def _listen_again(self) -> None:
        self._reopen = None
        task = asyncio.get_running_loop().create_task(self._listen())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _listen(self) -> None:
        if self._server is None and not self._stopped.is_set():
            self._server = await asyncio.start_server(
                self._accept, self.host, self.port, reuse_address=True
            )

    def reject_next_order(self, code: int = ORDER_REJECTED, message: str = "") -> None:
        """Reject the next order placed with IB error `code`."""
        self.faults.reject_next = (code, message or "Order rejected - reason:simulated rejection")

    def lose_next_orders(self, count: int = 1) -> None:
        """Lose the next `count` orders on the way in (as a connection that died would)."""
        self.faults.lose_next = count

    def mute_next_orders(self, count: int = 1) -> None:
        """Let the next `count` orders trade while telling their client nothing about them
        (as if its connection died just after sending); reconnecting replays them."""
        self.faults.mute_next = count

    def delay_responses(self, seconds: float) -> None:
        """Hold every outgoing message for `seconds` (0 to stop)."""
        self.faults.delay_seconds = seconds

    def announce_connectivity(self, code: int) -> None:
        """Send IB's connectivity message 1100 (lost), 1101 or 1102 (restored) to everyone."""
        texts = {
            1100: "Connectivity between IB and Trader Workstation has been lost.",
            1101: "Connectivity between IB and TWS has been restored- data lost.",
            1102: "Connectivity between IB and TWS has been restored- data maintained.",
        }
        for session in list(self._sessions.values()):
            session.error(-1, code, texts.get(code, "connectivity"))

    # -- connections -----------------------------------------------------------------------

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session = _Session(self, reader, writer)
        self._connections.add(session)
        try:
            await session.run()
        finally:
            self._connections.discard(session)
            if session.client_id is not None and self._sessions.get(session.client_id) is session:
                del self._sessions[session.client_id]

    @property
    def client_ids(self) -> list[int]:
        """The clientIds of the connected API clients, in order."""
        return sorted(self._sessions)

    def next_order_id(self, client_id: int) -> int:
        """The next order id `client_id` may use (above any it used before)."""
        return self._highest_order_id.get(client_id, FIRST_ORDER_ID - 1) + 1

    def register(self, session: _Session, client_id: int) -> bool:
        """Take `client_id` for `session`; False when another connection holds it."""
        if client_id in self._sessions:
            return False
        self._sessions[client_id] = session
        return True

    # -- contracts ---------------------------------------------------------------------------

    def contract(self, symbol: str) -> IbContract | None:
        found = self.broker.engine.contract(symbol)
        if found is None:
            return None
        con_id = self._con_ids.setdefault(symbol, 265_598 + 1_000 * len(self._con_ids))
        return IbContract(
            con_id=con_id,
            symbol=symbol,
            min_tick=found.tick_size,
            size_increment=found.qty_increment,
        )

    def contract_by_con_id(self, con_id: int) -> IbContract | None:
        for symbol, known in self._con_ids.items():
            if known == con_id:
                return self.contract(symbol)
        return None

    # -- orders ------------------------------------------------------------------------------

    async def place(self, session: _Session, request: parse.PlaceOrder) -> None:
        """Place (or, for a known order id, modify) an order of `session`."""
        assert session.client_id is not None
        highest = self._highest_order_id.get(session.client_id, 0)
        self._highest_order_id[session.client_id] = max(highest, request.order_id)
        key = self._by_client.get((session.client_id, request.order_id))
        if key is not None:
            await self._modify(session, self._orders[key], request)
            return
        contract = self.contract(request.contract.symbol) if request.contract.symbol else None
        if contract is None and request.contract.con_id:
            contract = self.contract_by_con_id(request.contract.con_id)
        if contract is None:
            session.error(
                request.order_id,
                NO_SECURITY_DEFINITION,
                "No security definition has been found for the request",
            )
            return
        if self.faults.reject_next is not None:
            code, message = self.faults.reject_next
            self.faults.reject_next = None
            session.error(request.order_id, code, message)
            return
        if self.faults.lose_next > 0:
            self.faults.lose_next -= 1
            log.info("gateway_order_lost", client_id=session.client_id, order_id=request.order_id)
            return
        muted = self.faults.mute_next > 0
        self.faults.mute_next -= muted
        order = IbOrder(
            order_id=request.order_id,
            client_id=session.client_id,
            perm_id=next(self._perm_ids),
            contract=contract,
            action=request.action,
            total_qty=request.total_qty,
            order_type=request.order_type,
            account=request.account or self.account,
            order_ref=request.order_ref,
            lmt_price=request.lmt_price,
            aux_price=request.aux_price,
            tif=request.tif,
            oca_group=request.oca_group,
            parent_id=request.parent_id,
            outside_rth=request.outside_rth,
            transmit=request.transmit,
            trailing_percent=request.trailing_percent,
            trail_stop_price=request.trail_stop_price,
        )
        if muted:
            self._muted.add(f"gw{order.perm_id}")
        problem = _unsupported(order)
        if problem:
            session.error(order.order_id, ORDER_REJECTED, f"Order rejected - reason:{problem}")
            return
        if not request.transmit:
            self._held[(session.client_id, order.order_id)] = order
            return
        parent_key = (session.client_id, order.parent_id)
        if order.parent_id and parent_key in self._held:
            await self._place_bracket(session, self._held.pop(parent_key), order)
        else:
            await self._submit(session, [order])

    async def _place_bracket(self, session: _Session, parent: IbOrder, last: IbOrder) -> None:
        assert session.client_id is not None
        siblings = [
            self._held.pop(key)
            for key, held in list(self._held.items())
            if key[0] == session.client_id and held.parent_id == parent.order_id
        ]
        await self._submit(session, [parent, *siblings, last], bracket=True)

    async def _submit(
        self, session: _Session, orders: list[IbOrder], *, bracket: bool = False
    ) -> None:
        for order in orders:
            key = f"gw{order.perm_id}"
            self._orders[key] = order
            self._by_client[(order.client_id, order.order_id)] = key
        requests = [
            _engine_request(order, orders[0] if bracket and i else None)
            for i, order in enumerate(orders)
        ]
        try:
            if bracket:
                ids = await self.broker.place_bracket(requests[0], requests[1:])
            else:
                ids = [await self.broker.place_order(requests[0])]
        except BrokerError as exc:
            for order in orders:
                order.status = "Inactive"
                session.error(order.order_id, ORDER_REJECTED, f"Order rejected - reason:{exc}")
                session.send(encoders.order_status(order))
            return
        for order, broker_id in zip(orders, ids, strict=True):
            self._broker_ids[f"gw{order.perm_id}"] = broker_id

    async def _modify(self, session: _Session, order: IbOrder, request: parse.PlaceOrder) -> None:
        if order.status in ("Filled", "Cancelled", "Inactive"):
            session.error(order.order_id, CANNOT_MODIFY_FILLED, "Cannot modify a filled order.")
            return
        change = OrderChange(
            qty=request.total_qty if request.total_qty != order.total_qty else None,
            limit_price=request.lmt_price if request.lmt_price != order.lmt_price else None,
            stop_price=request.aux_price
            if order.order_type in ("STP", "STP LMT") and request.aux_price != order.aux_price
            else None,
        )
        try:
            await self.broker.modify_order(self._broker_ids[f"gw{order.perm_id}"], change)
        except BrokerError as exc:
            session.error(order.order_id, ORDER_REJECTED, f"Order rejected - reason:{exc}")
            return
        order.total_qty = request.total_qty
        order.lmt_price = request.lmt_price
        order.aux_price = request.aux_price
        session.send(encoders.open_order(order, session.version))
        session.send(encoders.order_status(order))

    async def cancel(self, session: _Session, order_id: int) -> None:
        """Cancel an order of `session`."""
        assert session.client_id is not None
        held = self._held.pop((session.client_id, order_id), None)
        if held is not None:
            return
        key = self._by_client.get((session.client_id, order_id))
        if key is None or key not in self._broker_ids:
            session.error(order_id, ORDER_NOT_FOUND, f"Can't find order with id ={order_id}")
            return
        try:
            await self.broker.cancel_order(self._broker_ids[key])
        except BrokerError as exc:
            session.error(
                order_id, 161, f"Cancel attempted when order is not in a cancellable state. {exc}"
            )

    async def cancel_all(self) -> None:
        """reqGlobalCancel: cancel every working order of every client."""
        for key, order in list(self._orders.items()):
            if order.status not in ("Filled", "Cancelled", "Inactive") and key in self._broker_ids:
                with contextlib.suppress(BrokerError):
                    await self.broker.cancel_order(self._broker_ids[key])

    def open_orders(self, client_id: int | None) -> list[IbOrder]:
        """Working orders, of one client or (None) of all."""
        return [
            o
            for o in self._orders.values()
            if o.status not in ("Filled", "Cancelled", "Inactive")
            and (client_id is None or o.client_id == client_id)
        ]

    def completed_orders(self) -> list[IbOrder]:
        return [o for o in self._orders.values() if o.status in ("Filled", "Cancelled", "Inactive")]

    def executions(self, client_id: int) -> list[tuple[IbExecution, IbCommission]]:
        """Executions of `client_id` (0 or the master client: all), as reqExecutions replays."""
        return [e for e in self._executions if client_id in (0, e[0].client_id)]

    # -- engine events -------------------------------------------------------------------

    def _on_engine_event(self, event: BrokerEvent) -> None:
        order = self._orders.get(event.client_order_id)
        if order is None:
            return
        muted = event.client_order_id in self._muted
        session = None if muted else self._sessions.get(order.client_id)
        if isinstance(event, Execution):
            self._on_execution(order, event, session)
        else:
            self._on_status(order, event, session)

    def _on_status(
        self, order: IbOrder, event: OrderStatusUpdate, session: _Session | None
    ) -> None:
        if event.stop_price is not None and order.order_type == "TRAIL":
            order.trail_stop_price = event.stop_price
        if event.qty is not None:
            order.total_qty = event.qty
        if event.status is BrokerOrderStatus.SUBMITTED:
            order.status = "Submitted"
        elif event.status in (BrokerOrderStatus.CANCELLED, BrokerOrderStatus.EXPIRED):
            order.status = "Cancelled"
            order.completed_status = "Cancelled"
            order.completed_time = _ib_time(event.ts)
        elif event.status is BrokerOrderStatus.REJECTED:
            order.status = "Inactive"
            order.completed_status = "Rejected"
            order.completed_time = _ib_time(event.ts)
        else:
            return  # fill states follow executions
        if session is None:
            return
        # As IB does, the error telling why comes before the final status.
        if event.status is BrokerOrderStatus.REJECTED:
            session.error(
                order.order_id, ORDER_REJECTED, f"Order rejected - reason:{event.reason or ''}"
            )
        elif event.status in (BrokerOrderStatus.CANCELLED, BrokerOrderStatus.EXPIRED):
            session.error(
                order.order_id, ORDER_CANCELLED, f"Order Canceled - reason:{event.reason or ''}"
            )
        session.send(encoders.open_order(order, session.version))
        session.send(encoders.order_status(order))

    def _on_execution(self, order: IbOrder, event: Execution, session: _Session | None) -> None:
        before = order.filled
        order.filled = before + event.qty
        order.avg_fill_price = (
            order.avg_fill_price * before + event.price * event.qty
        ) / order.filled
        order.last_fill_price = event.price
        order.commission = (order.commission or Decimal(0)) + event.commission
        if order.filled >= order.total_qty:
            order.status = "Filled"
            order.completed_status = "Filled"
            order.completed_time = _ib_time(event.ts)
        else:
            order.status = "Submitted"
        realized = self._book_fill(order.contract.symbol, event)
        execution = IbExecution(
            exec_id=event.exec_id,
            order_id=order.order_id,
            client_id=order.client_id,
            perm_id=order.perm_id,
            contract=order.contract,
            time=event.ts.astimezone(UTC),
            account=order.account,
            side="BOT" if event.side is Side.BUY else "SLD",
            shares=event.qty,
            price=event.price,
            cum_qty=order.filled,
            avg_price=order.avg_fill_price,
            order_ref=order.order_ref,
        )
        report = IbCommission(
            exec_id=event.exec_id, commission=event.commission, realized_pnl=realized
        )
        self._executions.append((execution, report))
        if session is not None:
            session.send(encoders.open_order(order, session.version))
            session.send(encoders.order_status(order))
            session.send(encoders.exec_details(-1, execution, session.version))
            session.send(encoders.commission_report(report))
        # Positions and the portfolio are the account's: every subscriber hears of them.
        changed = self.positions(order.contract.symbol)
        for other in list(self._sessions.values()):
            if other.positions_subscribed:
                for position in changed:
                    other.send(encoders.position(position))
            if other.account_updates:
                other.send_portfolio(self)

    def _book_fill(self, symbol: str, event: Execution) -> Decimal | None:
        holding = self._book.holdings.get(symbol, Holding(Decimal(0), Decimal(0), Decimal(0)))
        result = apply_fill(
            holding, signed_qty(event.side.value, event.qty), event.price, event.commission
        )
        self._book.holdings[symbol] = result.holding
        self._book.cash += result.cash_delta
        return result.realized if result.realized else None

    # -- portfolio -----------------------------------------------------------------------

    def positions(self, symbol: str | None = None) -> list[IbPosition]:
        """The account's holdings (or the one in `symbol`) valued at the last price."""
        found = []
        for held, holding in self._book.holdings.items():
            if symbol is not None and held != symbol:
                continue
            contract = self.contract(held)
            if contract is None:
                continue
            price = self.broker.engine.quote(held).last
            found.append(
                IbPosition(
                    account=self.account,
                    contract=contract,
                    position=holding.qty,
                    avg_cost=holding.avg_cost,
                    market_price=price,
                    market_value=holding.qty * price,
                    unrealized_pnl=(price - holding.avg_cost) * holding.qty,
                    realized_pnl=holding.realized_pnl,
                )
            )
        return found

    def account_values(self) -> dict[str, str]:
        """A few of IB's account values (the keys clients most often read), as IB sends them."""
        positions = self.positions()
        gross = sum((abs(p.market_value) for p in positions), Decimal(0))
        net = self._book.cash + sum((p.market_value for p in positions), Decimal(0))
        numbers = {
            "NetLiquidation": net,
            "TotalCashValue": self._book.cash,
            "CashBalance": self._book.cash,
            "GrossPositionValue": gross,
            "BuyingPower": max(net * 2 - gross, Decimal(0)) * 2,
            "AvailableFunds": net - gross / 2,
            "UnrealizedPnL": sum((p.unrealized_pnl for p in positions), Decimal(0)),
            "RealizedPnL": sum((p.realized_pnl for p in positions), Decimal(0)),
        }
        # Our adapter takes "CASH" for a cash account (no short sales).
        kind = "CASH" if self._settings.account_type == "cash" else "INDIVIDUAL"
        return {"AccountType": kind} | {key: format(value, "f") for key, value in numbers.items()}

    # -- market data ---------------------------------------------------------------------

    async def _stream_quotes(self) -> None:
        interval = self._settings.tick_interval_seconds
        while True:
            await asyncio.sleep(interval)
            for session in list(self._sessions.values()):
                for req_id, symbol in list(session.market_data.items()):
                    session.send_quote(req_id, self.broker.engine.quote(symbol))


def _unsupported(order: IbOrder) -> str | None:
    if order.contract.sec_type != "STK":
        return "only stocks are simulated"
    if order.order_type not in _ORDER_TYPES:
        return f"order type {order.order_type} is not simulated"
    if order.tif not in _TIFS:
        return f"time in force {order.tif} is not simulated"
    if order.action not in ("BUY", "SELL"):
        return f"action {order.action} is not supported"
    if order.total_qty <= 0:
        return "quantity must be positive"
    return None


def _engine_request(order: IbOrder, parent: IbOrder | None) -> OrderRequest:
    order_type = _ORDER_TYPES[order.order_type]
    trailing = order_type is OrderType.TRAILING_STOP
    return OrderRequest(
        client_order_id=f"gw{order.perm_id}",
        symbol=order.contract.symbol,
        side=Side.BUY if order.action == "BUY" else Side.SELL,
        qty=order.total_qty,
        order_type=order_type,
        tif=_TIFS[order.tif],
        limit_price=order.lmt_price
        if order_type in (OrderType.LIMIT, OrderType.STOP_LIMIT)
        else None,
        stop_price=order.aux_price
        if order_type in (OrderType.STOP, OrderType.STOP_LIMIT)
        else None,
        outside_rth=order.outside_rth,
        trail_amount=order.aux_price if trailing and order.trailing_percent is None else None,
        trail_percent=order.trailing_percent if trailing else None,
        parent_client_order_id=None if parent is None else f"gw{parent.perm_id}",
        oca_group=order.oca_group or None,
    )


def _ib_time(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y%m%d-%H:%M:%S")


class _Session:
    """One client connection."""

    def __init__(
        self, gateway: GatewaySim, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.gateway = gateway
        self.reader = reader
        self.writer = writer
        self.version = MAX_SERVER_VERSION
        self.client_id: int | None = None
        self.account_updates = False
        self.positions_subscribed = False
        self.market_data: dict[int, str] = {}
        self._arrivals: collections.deque[float] = collections.deque()

    # -- sending ---------------------------------------------------------------------------

    def send(self, fields: list[str]) -> None:
        data = encode(fields)
        delay = self.gateway.faults.delay_seconds
        if delay > 0:
            asyncio.get_running_loop().call_later(delay, self._write, data)
        else:
            self._write(data)

    def _write(self, data: bytes) -> None:
        if not self.writer.is_closing():
            self.writer.write(data)

    def error(self, req_id: int, code: int, message: str) -> None:
        self.send(encoders.error(req_id, code, message, server_version=self.version))

    def abort(self) -> None:
        transport = self.writer.transport
        transport.abort()

    def send_portfolio(self, gateway: GatewaySim) -> None:
        for key, value in gateway.account_values().items():
            self.send(encoders.update_account_value(key, value, "USD", gateway.account))
        for position in gateway.positions():
            self.send(encoders.update_portfolio(position, self.version))
        self.send(encoders.update_account_time(datetime.now(UTC).strftime("%H:%M")))

    def send_quote(self, req_id: int, quote: Quote) -> None:
        self.send(encoders.tick_price(req_id, 1, quote.bid, quote.bid_size))
        self.send(encoders.tick_price(req_id, 2, quote.ask, quote.ask_size))
        self.send(encoders.tick_price(req_id, 4, quote.last, None))
        self.send(encoders.tick_size(req_id, 8, quote.volume))

    # -- the connection --------------------------------------------------------------------

    async def run(self) -> None:
        try:
            await self._handshake()
            while True:
                await self._dispatch(split_fields(await read_message(self.reader)))
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the client went away (or was dropped)
        except ProtocolViolationError as exc:
            log.info("gateway_session_ended", client_id=self.client_id, why=str(exc))
        finally:
            if not self.writer.is_closing():
                self.writer.close()

    async def _handshake(self) -> None:
        if await self.reader.readexactly(len(HANDSHAKE_PREFIX)) != HANDSHAKE_PREFIX:
            raise ProtocolViolationError("the client did not start with API\\0")
        payload = await read_message(self.reader)
        low, high = parse_version_range(payload.split(b"\0")[0])
        chosen = min(high, MAX_SERVER_VERSION)
        if chosen < MIN_CLIENT_VERSION or low > MAX_SERVER_VERSION:
            # IB answers an unsupported client with an error and closes.
            message = (
                f"client versions {low}..{high} are not supported: gateway-sim serves "
                f"{MIN_CLIENT_VERSION}..{MAX_SERVER_VERSION}"
            )
            self.writer.write(encode(encoders.error(-1, 530, message)))
            raise ProtocolViolationError(f"unsupported client versions {low}..{high}")
        self.version = chosen
        connection_time = datetime.now(UTC).strftime("%Y%m%d %H:%M:%S UTC")
        self.writer.write(encode([str(chosen), connection_time]))

    def _check_pace(self) -> None:
        """Answer a client sending more than IB allows per second with IB's error 100."""
        now = time.monotonic()
        arrivals = self._arrivals
        arrivals.append(now)
        while arrivals[0] <= now - 1:
            arrivals.popleft()
        if len(arrivals) > MAX_MESSAGES_PER_SECOND:
            self.gateway.pacing_violations += 1
            self.error(
                -1,
                MAX_RATE_EXCEEDED,
                "Max rate of messages per second has been exceeded:"
                f"max={MAX_MESSAGES_PER_SECOND} rec={len(arrivals)} (1)",
            )

    async def _dispatch(self, fields: list[str]) -> None:
        if not fields:
            return
        self._check_pace()
        reader = Fields(fields)
        message_id = reader.int()
        if self.client_id is None and message_id != 71:
            return  # nothing is served before startApi
        handler = _HANDLERS.get(message_id)
        if handler is None:
            log.debug("gateway_unhandled_message", message_id=message_id)
            return
        await handler(self, reader)


async def _start_api(session: _Session, fields: Fields) -> None:
    fields.skip(1)  # version
    client_id = fields.int()
    if session.client_id is not None:
        return
    if not session.gateway.register(session, client_id):
        session.error(
            -1,
            CLIENT_ID_IN_USE,
            "Unable to connect as the client id is already in use. Retry with a unique client id.",
        )
        await asyncio.sleep(0)
        session.abort()
        return
    session.client_id = client_id
    session.send(encoders.managed_accounts([session.gateway.account]))
    session.send(encoders.next_valid_id(session.gateway.next_order_id(client_id)))


async def _current_time(session: _Session, fields: Fields) -> None:
    session.send(encoders.current_time(int(time.time())))


async def _contract_details(session: _Session, fields: Fields) -> None:
    fields.skip(1)  # version
    req_id = fields.int()
    wanted = parse.contract(fields)
    contract = session.gateway.contract(wanted.symbol) if wanted.symbol else None
    if contract is None and wanted.con_id:
        contract = session.gateway.contract_by_con_id(wanted.con_id)
    if contract is None or wanted.sec_type not in ("", "STK") or wanted.currency not in ("", "USD"):
        session.error(
            req_id, NO_SECURITY_DEFINITION, "No security definition has been found for the request"
        )
        return
    session.send(
        encoders.contract_details(
            req_id, contract, session.version, size_increment=contract.size_increment
        )
    )
    session.send(encoders.contract_details_end(req_id))


async def _place_order(session: _Session, fields: Fields) -> None:
    request = parse.place_order(fields, session.version)
    await session.gateway.place(session, request)


async def _cancel_order(session: _Session, fields: Fields) -> None:
    fields.skip(1)  # version
    await session.gateway.cancel(session, fields.int())


async def _open_orders(session: _Session, fields: Fields) -> None:
    for order in session.gateway.open_orders(session.client_id):
        session.send(encoders.open_order(order, session.version))
        session.send(encoders.order_status(order))
    session.send(encoders.open_order_end())


async def _all_open_orders(session: _Session, fields: Fields) -> None:
    for order in session.gateway.open_orders(None):
        session.send(encoders.open_order(order, session.version))
        session.send(encoders.order_status(order))
    session.send(encoders.open_order_end())


async def _completed_orders(session: _Session, fields: Fields) -> None:
    for order in session.gateway.completed_orders():
        session.send(encoders.completed_order(order, session.version))
    session.send(encoders.completed_orders_end())


async def _executions(session: _Session, fields: Fields) -> None:
    req_id, wanted = parse.execution_filter(fields)
    assert session.client_id is not None
    try:
        after = _parse_end(wanted.time)
    except ValueError:
        session.error(
            req_id, EXECUTION_FILTER_ERROR, f"Invalid execution filter time {wanted.time!r}"
        )
        session.send(encoders.exec_details_end(req_id))
        return
    for execution, report in session.gateway.executions(session.client_id):
        if _matches(execution, wanted, after):
            session.send(encoders.exec_details(req_id, execution, session.version))
            session.send(encoders.commission_report(report))
    session.send(encoders.exec_details_end(req_id))


def _matches(execution: IbExecution, wanted: parse.ExecutionFilter, after: datetime | None) -> bool:
    """Whether an execution passes reqExecutions' filter (as IB applies it)."""
    side = {"BUY": "BOT", "SELL": "SLD"}.get(wanted.side.upper(), wanted.side.upper())
    return (
        (not wanted.client_id or execution.client_id == wanted.client_id)
        and (not wanted.account or execution.account == wanted.account)
        and (after is None or execution.time >= after)
        and (not wanted.symbol or execution.contract.symbol == wanted.symbol.upper())
        and (not wanted.sec_type or wanted.sec_type.upper() == execution.contract.sec_type)
        and (
            not wanted.exchange or wanted.exchange.upper() in ("SMART", execution.contract.exchange)
        )
        and (not side or execution.side == side)
    )


async def _positions(session: _Session, fields: Fields) -> None:
    session.positions_subscribed = True
    for position in session.gateway.positions():
        session.send(encoders.position(position))
    session.send(encoders.position_end())


async def _cancel_positions(session: _Session, fields: Fields) -> None:
    session.positions_subscribed = False


async def _account_updates(session: _Session, fields: Fields) -> None:
    fields.skip(1)  # version
    subscribe = fields.bool()
    session.account_updates = subscribe
    if subscribe:
        session.send_portfolio(session.gateway)
        session.send(encoders.account_download_end(session.gateway.account))


async def _account_updates_multi(session: _Session, fields: Fields) -> None:
    fields.skip(1)  # version
    req_id = fields.int()
    gateway = session.gateway
    for key, value in gateway.account_values().items():
        session.send(encoders.account_update_multi(req_id, gateway.account, "", key, value, "USD"))
    session.send(encoders.account_update_multi_end(req_id))


async def _positions_multi(session: _Session, fields: Fields) -> None:
    fields.skip(1)  # version
    session.send(encoders.position_multi_end(fields.int()))


async def _account_summary(session: _Session, fields: Fields) -> None:
    fields.skip(1)  # version
    req_id = fields.int()
    gateway = session.gateway
    values = gateway.account_values()
    for tag in ACCOUNT_SUMMARY_TAGS:
        session.send(encoders.account_summary(req_id, gateway.account, tag, values[tag], "USD"))
    session.send(encoders.account_summary_end(req_id))


async def _request_ids(session: _Session, fields: Fields) -> None:
    assert session.client_id is not None
    session.send(encoders.next_valid_id(session.gateway.next_order_id(session.client_id)))


async def _market_data(session: _Session, fields: Fields) -> None:
    fields.skip(1)  # version
    req_id = fields.int()
    wanted = parse.contract(fields)
    if fields.bool():  # a delta-neutral contract follows
        fields.skip(3)
    fields.skip(1)  # genericTickList
    snapshot = fields.bool()
    contract = session.gateway.contract(wanted.symbol)
    if contract is None:
        session.error(
            req_id, NO_SECURITY_DEFINITION, "No security definition has been found for the request"
        )
        return
    session.send_quote(req_id, session.gateway.broker.engine.quote(contract.symbol))
    if snapshot:
        session.send(encoders.tick_snapshot_end(req_id))
    else:
        session.market_data[req_id] = contract.symbol


async def _cancel_market_data(session: _Session, fields: Fields) -> None:
    fields.skip(1)  # version
    session.market_data.pop(fields.int(), None)


async def _global_cancel(session: _Session, fields: Fields) -> None:
    await session.gateway.cancel_all()


async def _ignore(session: _Session, fields: Fields) -> None:
    return None


# reqHistoricalData's bar sizes and duration units (IB's notation).
_BAR_SIZES = {
    "1 min": (BarInterval.M1, 60),
    "5 mins": (BarInterval.M5, 300),
    "1 hour": (BarInterval.H1, 3600),
    "1 day": (BarInterval.D1, 86400),
}
_DURATION_UNITS = {"S": 1, "D": 86400, "W": 7 * 86400, "M": 30 * 86400, "Y": 365 * 86400}
MAX_BARS = 5000
HISTORICAL_DATA_ERROR = 162


async def _historical_data(session: _Session, fields: Fields) -> None:
    req_id = fields.int()
    wanted = parse.contract(fields)
    fields.skip(1)  # includeExpired
    end_text = fields.str()
    bar_size = fields.str()
    duration = fields.str()
    fields.skip(2)  # useRTH, whatToShow
    format_date = fields.int(default=1)
    contract = session.gateway.contract(wanted.symbol)
    if contract is None:
        session.error(
            req_id, NO_SECURITY_DEFINITION, "No security definition has been found for the request"
        )
        return
    size = _BAR_SIZES.get(bar_size.strip())
    seconds = _duration_seconds(duration)
    try:
        end = _parse_end(end_text)
    except ValueError:
        size = None
    if size is None or seconds is None:
        why = f"bar size {bar_size!r}, duration {duration!r}, end {end_text!r}"
        session.error(
            req_id,
            HISTORICAL_DATA_ERROR,
            f"Historical Market Data Service error message:invalid request ({why})",
        )
        return
    interval, bar_seconds = size
    limit = max(1, min(MAX_BARS, seconds // bar_seconds))
    bars = await session.gateway.broker.get_bars(
        contract.symbol, interval, limit=limit, end=end or None
    )
    daily = interval is BarInterval.D1
    ib_bars = [
        IbBar(
            date=_bar_date(bar.start, daily=daily, epoch=format_date == 2),
            open=bar.open,
            high=bar.high,
            low=bar.low,
            close=bar.close,
            volume=bar.volume,
            wap=bar.close,
            count=1,
        )
        for bar in bars
    ]
    first = bars[0].start if bars else datetime.now(UTC)
    last = end or datetime.now(UTC)
    session.send(
        encoders.historical_data(
            req_id, ib_bars, _ib_stamp(first), _ib_stamp(last), session.version
        )
    )


def _duration_seconds(text: str) -> int | None:
    amount, _, unit = text.strip().partition(" ")
    if not amount.isdigit() or unit.upper() not in _DURATION_UNITS:
        return None
    return int(amount) * _DURATION_UNITS[unit.upper()]


def _parse_end(text: str) -> datetime | None:
    """The request's end time (UTC), None for "now".

    Raises:
        ValueError: not IB's "YYYYMMDD HH:MM:SS" (or "YYYYMMDD-HH:MM:SS").
    """
    text = text.strip()
    if not text:
        return None
    stamp = text[:17].replace("-", " ")
    return datetime.strptime(stamp, "%Y%m%d %H:%M:%S").replace(tzinfo=UTC)


def _bar_date(start: datetime, *, daily: bool, epoch: bool) -> str:
    if daily:
        return start.astimezone(UTC).strftime("%Y%m%d")
    if epoch:
        return str(int(start.timestamp()))
    return _ib_stamp(start)


def _ib_stamp(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y%m%d %H:%M:%S UTC")


_HANDLERS = {
    71: _start_api,
    20: _historical_data,
    49: _current_time,
    9: _contract_details,
    3: _place_order,
    4: _cancel_order,
    5: _open_orders,
    16: _all_open_orders,
    15: _ignore,  # reqAutoOpenOrders
    99: _completed_orders,
    7: _executions,
    61: _positions,
    64: _cancel_positions,
    6: _account_updates,
    76: _account_updates_multi,
    77: _ignore,  # cancelAccountUpdatesMulti
    74: _positions_multi,
    75: _ignore,  # cancelPositionsMulti
    62: _account_summary,
    63: _ignore,  # cancelAccountSummary
    8: _request_ids,
    1: _market_data,
    2: _cancel_market_data,
    59: _ignore,  # reqMarketDataType
    58: _global_cancel,
}
