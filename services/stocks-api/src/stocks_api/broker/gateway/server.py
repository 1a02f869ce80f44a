"""gateway-sim: IB Gateway's TWS socket protocol over the simulated broker's matching engine.

One `SimBroker` (the same engine the embedded mode uses) serves every connected client.
Each connection is a `_Session`: handshake, `startApi` with its clientId (a clientId in
use is refused with IB's error 326), then requests. The engine's events for an order go
to the session that placed it, as IB sends them: openOrder, orderStatus, then for a fill
execDetails and commissionReport.

Like IB, a client sending more than 50 messages a second gets error 100 (counted in
`pacing_violations`).

State across restarts (`state_file`, `stocks-api gateway-sim --state-file PATH`): orders,
executions, holdings, cash, each client's highest order id, the perm-id and exec-id
counters and the con ids are kept in a SQLite file (`state.StateFile`), written before
any message that tells of them is sent. A gateway-sim started on an existing file answers
reqOpenOrders, reqCompletedOrders and reqExecutions as before, and its working orders
(bracket children held by their parent, OCA siblings) are back in the engine with their
remaining quantity, original order ids, perm ids and orderRef (`restore.py`). The market
itself starts afresh from the seed. Without a state file every start is a clean slate.

Fault injection for tests (`faults`): drop every connection, refuse new ones for a while,
reject the next order with an IB error code, lose the next order on the way in or keep
its client from hearing of it, delay every message, announce 1100/1102; an outage as IB
has them (`start_outage`, `end_outage`, `outage`: 1100, then nothing reaches the clients
and nothing they send reaches the engine, which trades on, then 1101 or 1102), and a
timed restart (`restart`: every client dropped, connections refused, back with its state).
`book()` is gateway-sim's own account of every order, execution, position and the cash.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import secrets
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

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
from stocks_api.broker.gateway.restore import WorkingOrder, restore_working
from stocks_api.broker.gateway.state import (
    SCHEMA_VERSION,
    SavedState,
    StateFile,
    StateFileError,
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
    BrokerUnavailableError,
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
from stocks_api.core.ledger import Holding, apply_fill, signed_qty

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
IB_LOST = 1100
IB_RESTORED_DATA_LOST = 1101
IB_RESTORED = 1102
CONNECTIVITY_TEXTS = {
    IB_LOST: "Connectivity between IB and Trader Workstation has been lost.",
    IB_RESTORED_DATA_LOST: "Connectivity between IB and TWS has been restored- data lost.",
    IB_RESTORED: "Connectivity between IB and TWS has been restored- data maintained.",
}
FINISHED = frozenset({"Filled", "Cancelled", "Inactive"})

_ORDER_TYPES = {
    "MKT": OrderType.MARKET,
    "LMT": OrderType.LIMIT,
    "STP": OrderType.STOP,
    "STP LMT": OrderType.STOP_LIMIT,
    "TRAIL": OrderType.TRAILING_STOP,
}
_TIFS = {"DAY": TimeInForce.DAY, "GTC": TimeInForce.GTC, "IOC": TimeInForce.IOC}
_WORKING = (BrokerOrderStatus.SUBMITTED, BrokerOrderStatus.PARTIALLY_FILLED)


@dataclass
class Faults:
    """What the simulator does wrong on purpose (tests and manual checks)."""

    refuse_until: float = 0.0  # monotonic time before which connections are refused
    reject_next: tuple[int, str] | None = None  # the next order gets this IB error
    delay_seconds: float = 0.0  # every outgoing message waits this long
    lose_next: int = 0  # orders lost on the way: the engine never sees them, nobody answers
    mute_next: int = 0  # orders that trade, but whose client hears nothing of them
    outage: bool = False  # IB unreachable: nothing reaches the clients, nor their orders IB
    outage_ends_at: float | None = None  # monotonic time a timed outage ends
    outage_code: int = IB_RESTORED  # how a timed outage ends: 1101 or 1102


@dataclass
class _Book:
    """Positions and cash of the one account, booked from the simulator's own fills."""

    cash: Decimal
    holdings: dict[str, Holding] = field(default_factory=dict)


def _utc_now() -> datetime:
    return datetime.now(UTC)


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
        state_file: str | Path | None = None,
    ) -> None:
        self._settings = settings
        self.host = host
        self.port = port
        self.account = settings.account_id
        self._calendar = calendar
        self._tick = tick
        self._clock = clock or _utc_now
        self.state_file = None if state_file is None else Path(state_file)
        self._state: StateFile | None = None
        self.broker = self._new_broker()
        self.faults = Faults()
        self._server: asyncio.Server | None = None
        self._sessions: dict[int, _Session] = {}
        self._connections: set[_Session] = set()
        self.pacing_violations = 0  # messages received above IB's rate limit
        self._ticker: asyncio.Task[None] | None = None
        self._reopen: asyncio.TimerHandle | None = None
        self._outage_timer: asyncio.TimerHandle | None = None
        self._restarting: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[None]] = set()
        self._stopped = asyncio.Event()
        self._reset_books()

    def _new_broker(self) -> SimBroker:
        return SimBroker(
            self._settings, calendar=self._calendar, tick=self._tick, clock=self._clock
        )

    def _reset_books(self) -> None:
        """Forget every order, execution and holding (a fresh start)."""
        self._orders: dict[str, IbOrder] = {}  # by the engine's client_order_id (our key)
        self._by_client: dict[tuple[int, int], str] = {}  # (clientId, orderId) -> key
        self._broker_ids: dict[str, str] = {}  # key -> the engine's order id
        self._held: dict[tuple[int, int], IbOrder] = {}  # not transmitted yet (bracket parts)
        self._executions: list[tuple[IbExecution, IbCommission]] = []
        self._muted: set[str] = set()  # orders whose client is told nothing (a fault)
        self._con_ids: dict[str, int] = {}
        self._highest_order_id: dict[int, int] = {}  # per clientId, as IB remembers it
        self._book = _Book(cash=self._settings.starting_cash)
        self._next_perm_id = int(time.time()) % 100_000 * 1000 + 1
        # Exec ids look like IB's ("0000e0d5.65600d1c.01.01"): a prefix drawn once per
        # state (so two runs without a state file do not share ids), then a counter.
        self._exec_prefix = secrets.randbits(32)
        self._exec_seq = 0

    # -- life cycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Load the state file (if any), start the engine and listen.

        Raises:
            StateFileError: the state file cannot be used (another account's, not SQLite,
                working orders in a symbol no longer traded).
        """
        await self._open_books()
        self._server = await asyncio.start_server(
            self._accept, self.host, self.port, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]
        self._ticker = asyncio.create_task(self._stream_quotes(), name="gateway-quotes")
        log.info(
            "gateway_sim_listening",
            host=self.host,
            port=self.port,
            account=self.account,
            state_file=None if self.state_file is None else str(self.state_file),
        )

    async def _open_books(self) -> None:
        """Start the engine, with the state file's orders, executions and holdings if any."""
        saved = None
        if self.state_file is not None:
            state = StateFile(self.state_file)
            try:
                saved = state.load()
                if saved is not None:
                    self._check_saved(saved)
            except BaseException:
                state.close()
                raise
            self._state = state
        await self.broker.connect(self._on_engine_event)
        if saved is None:
            self._save_meta(
                schema=SCHEMA_VERSION,
                account=self.account,
                cash=self._book.cash,
                **self._counters(),
            )
        else:
            self._load(saved)
            self._restore_working()
            log.info(
                "gateway_sim_state_loaded",
                state_file=str(self.state_file),
                orders=len(self._orders),
                working=len(self._broker_ids),
                executions=len(self._executions),
            )
        self.flush_state()

    def _check_saved(self, saved: SavedState) -> None:
        if saved.account != self.account:
            raise StateFileError(
                f"{self.state_file}: the state of account {saved.account}, not {self.account}"
            )
        traded = {spec.symbol for spec in self._settings.symbol_specs()}
        lost = sorted(
            {o.contract.symbol for o in saved.orders if o.status not in FINISHED} - traded
        )
        if lost:
            raise StateFileError(
                f"{self.state_file}: working orders in symbols no longer traded: {lost}"
                " (trade them again, or start with another state file)"
            )

    def _load(self, saved: SavedState) -> None:
        self._book = _Book(cash=saved.cash, holdings=dict(saved.holdings))
        self._next_perm_id = saved.next_perm_id
        self._exec_prefix = saved.exec_prefix
        self._exec_seq = saved.exec_seq
        self._highest_order_id = dict(saved.highest_order_ids)
        self._con_ids = dict(saved.con_ids)
        for order in saved.orders:
            key = f"gw{order.perm_id}"
            self._orders[key] = order
            self._by_client[(order.client_id, order.order_id)] = key
        self._executions = list(saved.executions)

    def _restore_working(self) -> None:
        """Put the working orders back into the (fresh) engine, as they were."""
        by_perm = {order.perm_id: order for order in self._orders.values()}
        fills: dict[int, tuple[int, Decimal]] = {}
        for execution, _ in self._executions:
            count, value = fills.get(execution.perm_id, (0, Decimal(0)))
            fills[execution.perm_id] = (count + 1, value + execution.shares * execution.price)
        restored = []
        for order in self._orders.values():
            if order.status in FINISHED:
                continue
            parent = by_perm.get(order.bracket_parent_perm_id)
            if order.held and (parent is None or parent.status in FINISHED):
                # The parent finished just before gateway-sim went down, before the engine
                # had told of its children: settle them as the engine does.
                if parent is None or parent.filled == 0:
                    self._finish_unrestored(order, "Cancelled")
                    continue
                order.held = False
                order.total_qty = parent.filled
            count, value = fills.get(order.perm_id, (0, Decimal(0)))
            request = _engine_request(order, parent if order.bracket_parent_perm_id else None)
            trailing = order.order_type == "TRAIL" and not order.held
            restored.append(
                WorkingOrder(
                    request=request,
                    filled_qty=order.filled,
                    filled_value=value,
                    commission=order.commission or Decimal(0),
                    executions=count,
                    triggered=order.triggered,
                    stop_price=order.trail_stop_price if trailing else None,
                    held=order.held,
                )
            )
        self._broker_ids.update(restore_working(self.broker.engine, restored))
        # A DAY order whose close passed while gateway-sim was down has expired.
        now = self._clock()
        for key, broker_id in list(self._broker_ids.items()):
            order = self._orders[key]
            if order.expires_at is not None and order.expires_at <= now and not order.held:
                with contextlib.suppress(BrokerError):
                    self.broker.engine.cancel(broker_id)

    def _finish_unrestored(self, order: IbOrder, status: str) -> None:
        order.status = status
        order.completed_status = status
        order.completed_time = _ib_time(self._clock())
        order.held = False
        self._save_order(order)

    async def close(self) -> None:
        """Drop every client and stop."""
        self._stopped.set()
        if self._reopen is not None:
            self._reopen.cancel()
        if self._outage_timer is not None:
            self._outage_timer.cancel()
        for task in (self._ticker, self._restarting):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self._server is not None:
            self._server.close()
        self.drop_connections()
        if self._server is not None:
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
        await self.broker.close()
        self._close_state()

    def _close_state(self) -> None:
        if self._state is not None:
            try:
                self._state.close()
            except sqlite3.Error:
                log.exception("gateway_state_close_failed", state_file=str(self.state_file))
            self._state = None

    async def serve_forever(self) -> None:
        """Wait until `close()` (the listening port may close and reopen meanwhile)."""
        await self._stopped.wait()

    # -- the state file --------------------------------------------------------------------

    def flush_state(self) -> None:
        """Write the changes not yet in the state file (before anything reaches a client)."""
        state = self._state
        if state is None or not state.dirty:
            return
        try:
            state.flush()
        except sqlite3.Error:  # kept pending: the next flush tries again
            log.exception("gateway_state_write_failed", state_file=str(self.state_file))

    def _save_order(self, order: IbOrder) -> None:
        if self._state is not None:
            self._state.save_order(order)

    def _save_meta(self, **values: object) -> None:
        if self._state is not None:
            self._state.save_meta(**values)

    def _counters(self) -> dict[str, int]:
        return {
            "next_perm_id": self._next_perm_id,
            "exec_prefix": self._exec_prefix,
            "exec_seq": self._exec_seq,
        }

    def _new_perm_id(self) -> int:
        perm_id = self._next_perm_id
        self._next_perm_id += 1
        self._save_meta(next_perm_id=self._next_perm_id)
        return perm_id

    def _new_exec_id(self) -> str:
        self._exec_seq += 1
        self._save_meta(exec_seq=self._exec_seq)
        return f"{self._exec_prefix:08x}.{self._exec_seq:08x}.01.01"

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
        if self._server is None and not self.restarting:
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
        """Send IB's connectivity message 1100 (lost), 1101 or 1102 (restored) to everyone
        (the message only: `start_outage` makes IB unreachable as well)."""
        for session in list(self._sessions.values()):
            session.error(-1, code, CONNECTIVITY_TEXTS.get(code, "connectivity"))

    @property
    def in_outage(self) -> bool:
        """Whether IB is unreachable (an outage is in force)."""
        return self.faults.outage

    def start_outage(self) -> None:
        """IB is lost: send 1100 to every client, then withhold every message to clients
        (dropped, not queued: lost, as at IB) and every order, modification and cancel they
        send (never reaching the engine, never answered) until `end_outage`. The engine
        trades on: resting orders fill, and the fills are booked (reqExecutions and the
        order requests tell of them after the outage). Nothing happens if one is in force."""
        if self.faults.outage:
            return
        self.flush_state()
        for session in list(self._sessions.values()):
            session.error(-1, IB_LOST, CONNECTIVITY_TEXTS[IB_LOST], through_outage=True)
        self.faults.outage = True
        log.info("gateway_outage_started", clients=self.client_ids)

    def end_outage(self, code: int = IB_RESTORED) -> None:
        """IB is back: 1102 (data maintained), or 1101 (data lost: every client's market
        data, account updates and positions subscriptions are dropped, as IB drops them, and
        must be made again) to every client.

        Raises:
            ValueError: `code` is not 1101 or 1102, or no outage is in force.
        """
        if code not in (IB_RESTORED_DATA_LOST, IB_RESTORED):
            raise ValueError(f"an outage ends with 1101 or 1102, not {code}")
        if not self.faults.outage:
            raise ValueError("no outage is in force")
        self._cancel_outage_timer()
        self.faults.outage = False
        for session in list(self._sessions.values()):
            if code == IB_RESTORED_DATA_LOST:
                session.drop_subscriptions()
            session.error(-1, code, CONNECTIVITY_TEXTS[code])
        log.info("gateway_outage_ended", code=code, clients=self.client_ids)

    def outage(self, seconds: float, code: int = IB_RESTORED) -> None:
        """An outage of `seconds` that ends with `code` (1101 or 1102); while one is in
        force, it ends `seconds` from now instead.

        Raises:
            ValueError: `code` is not 1101 or 1102, or `seconds` is negative.
        """
        if code not in (IB_RESTORED_DATA_LOST, IB_RESTORED):
            raise ValueError(f"an outage ends with 1101 or 1102, not {code}")
        if seconds < 0:
            raise ValueError(f"seconds must not be negative, got {seconds}")
        self.start_outage()
        self._cancel_outage_timer()
        self.faults.outage_ends_at = time.monotonic() + seconds
        self.faults.outage_code = code
        self._outage_timer = asyncio.get_running_loop().call_later(seconds, self.end_outage, code)

    def _cancel_outage_timer(self) -> None:
        if self._outage_timer is not None:
            self._outage_timer.cancel()
            self._outage_timer = None
        self.faults.outage_ends_at = None
        self.faults.outage_code = IB_RESTORED

    @property
    def restarting(self) -> bool:
        """Whether a `restart` is under way."""
        return self._restarting is not None and not self._restarting.done()

    def restart(self, seconds: float) -> asyncio.Task[None]:
        """Restart as IB Gateway does every day: drop every client, refuse connections for
        `seconds`, then listen again with the state kept (orders keep working meanwhile).

        With a state file the engine and the books are reloaded from it (proving what a
        killed process would keep; the market starts afresh from the seed, as a new
        process does); without, they stay in memory. Untransmitted orders (transmit=False)
        and an outage in force end with the restart. Returns the task that ends when the
        gateway listens again.

        Raises:
            RuntimeError: a restart is under way already.
            ValueError: `seconds` is negative.
        """
        if self.restarting:
            raise RuntimeError("a restart is under way")
        if seconds < 0:
            raise ValueError(f"seconds must not be negative, got {seconds}")
        self._cancel_outage_timer()
        self.faults.outage = False
        self.faults.refuse_until = time.monotonic() + seconds
        if self._reopen is not None:
            self._reopen.cancel()
            self._reopen = None
        if self._server is not None:
            self._server.close()
            self._server = None
        for session in list(self._connections):
            session.abort(discard=True)  # what it sent but was not read yet dies with it
        self._sessions.clear()
        self._held.clear()
        log.info("gateway_restarting", seconds=seconds, reload=self.state_file is not None)
        self._restarting = asyncio.get_running_loop().create_task(
            self._come_back(seconds), name="gateway-restart"
        )
        return self._restarting

    async def _come_back(self, seconds: float) -> None:
        loop = asyncio.get_running_loop()
        back_at = loop.time() + seconds
        try:
            if self.state_file is not None:
                await self.broker.close()
                self._close_state()
                self._reset_books()
                self.broker = self._new_broker()
                await self._open_books()
            await asyncio.sleep(max(back_at - loop.time(), 0))
            await self._listen()
        except Exception:  # stays down, as a gateway that cannot start does
            log.exception("gateway_restart_failed", state_file=str(self.state_file))
            raise
        log.info("gateway_restarted", port=self.port)

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
        con_id = self._con_ids.get(symbol)
        if con_id is None:
            con_id = max(self._con_ids.values(), default=265_598 - 1_000) + 1_000
            self._con_ids[symbol] = con_id
            if self._state is not None:
                self._state.save_con_id(symbol, con_id)
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
        if request.order_id > highest:
            self._highest_order_id[session.client_id] = request.order_id
            if self._state is not None:
                self._state.save_client(session.client_id, request.order_id)
        if self.faults.outage:
            log.info("gateway_order_lost_in_outage", client_id=session.client_id)
            return
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
            perm_id=self._new_perm_id(),
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
        for i, order in enumerate(orders):
            key = f"gw{order.perm_id}"
            if bracket and i:
                order.bracket_parent_perm_id = orders[0].perm_id
            self._orders[key] = order
            self._by_client[(order.client_id, order.order_id)] = key
            self._save_order(order)
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
                self._save_order(order)
                session.error(order.order_id, ORDER_REJECTED, f"Order rejected - reason:{exc}")
                session.send(encoders.order_status(order))
            return
        for order, broker_id in zip(orders, ids, strict=True):
            self._broker_ids[f"gw{order.perm_id}"] = broker_id

    async def _modify(self, session: _Session, order: IbOrder, request: parse.PlaceOrder) -> None:
        if order.status in FINISHED:
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
        self._save_order(order)
        session.send(encoders.open_order(order, session.version))
        session.send(encoders.order_status(order))

    async def cancel(self, session: _Session, order_id: int) -> None:
        """Cancel an order of `session` (lost during an outage: IB cannot be reached)."""
        assert session.client_id is not None
        if self.faults.outage:
            log.info("gateway_cancel_lost_in_outage", client_id=session.client_id)
            return
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
        """reqGlobalCancel: cancel every working order of every client (not in an outage)."""
        if self.faults.outage:
            return
        for key, order in list(self._orders.items()):
            if order.status not in FINISHED and key in self._broker_ids:
                with contextlib.suppress(BrokerError):
                    await self.broker.cancel_order(self._broker_ids[key])

    def open_orders(self, client_id: int | None) -> list[IbOrder]:
        """Working orders, of one client or (None) of all."""
        return [
            o
            for o in self._orders.values()
            if o.status not in FINISHED and (client_id is None or o.client_id == client_id)
        ]

    def completed_orders(self) -> list[IbOrder]:
        return [o for o in self._orders.values() if o.status in FINISHED]

    def executions(self, client_id: int) -> list[tuple[IbExecution, IbCommission]]:
        """Executions of `client_id` (0 or the master client: all), as reqExecutions replays."""
        return [e for e in self._executions if client_id in (0, e[0].client_id)]

    def book(self) -> dict[str, Any]:
        """gateway-sim's own books, JSON-ready (decimals as text): every order it took,
        every execution, the positions and the cash (the control port's `book`)."""
        return {
            "account": self.account,
            "orders": [
                {
                    "client_id": o.client_id,
                    "order_id": o.order_id,
                    "perm_id": o.perm_id,
                    "order_ref": o.order_ref,
                    "symbol": o.contract.symbol,
                    "action": o.action,
                    "total_qty": _text(o.total_qty),
                    "order_type": o.order_type,
                    "lmt_price": _text(o.lmt_price),
                    "aux_price": _text(o.aux_price),
                    "tif": o.tif,
                    "status": o.status,
                    "filled": _text(o.filled),
                    "avg_fill_price": _text(o.avg_fill_price),
                    "commission": _text(o.commission),
                    "parent_id": o.parent_id,
                    "oca_group": o.oca_group,
                }
                for o in self._orders.values()
            ],
            "executions": [
                {
                    "exec_id": e.exec_id,
                    "client_id": e.client_id,
                    "order_id": e.order_id,
                    "perm_id": e.perm_id,
                    "order_ref": e.order_ref,
                    "symbol": e.contract.symbol,
                    "side": e.side,
                    "shares": _text(e.shares),
                    "price": _text(e.price),
                    "commission": _text(r.commission),
                    "time": e.time.isoformat(),
                }
                for e, r in self._executions
            ],
            "positions": [
                {
                    "symbol": symbol,
                    "qty": _text(h.qty),
                    "avg_cost": _text(h.avg_cost),
                    "realized_pnl": _text(h.realized_pnl),
                }
                for symbol, h in self._book.holdings.items()
            ],
            "cash": _text(self._book.cash),
        }

    # -- engine events -------------------------------------------------------------------

    def _on_engine_event(self, event: BrokerEvent) -> None:
        if not isinstance(event, Execution | OrderStatusUpdate):
            return  # the engine's own link events: the gateway is the link here
        order = self._orders.get(event.client_order_id)
        if order is None:
            return
        muted = event.client_order_id in self._muted
        session = None if muted else self._sessions.get(order.client_id)
        if isinstance(event, Execution):
            self._on_execution(order, event, session)
        else:
            self._on_status(order, event, session)
        self.flush_state()  # also when no client is told (muted, an outage, nobody connected)

    def _on_status(
        self, order: IbOrder, event: OrderStatusUpdate, session: _Session | None
    ) -> None:
        if event.stop_price is not None and order.order_type == "TRAIL":
            order.trail_stop_price = event.stop_price
        if event.qty is not None:
            order.total_qty = event.qty
        if event.status in _WORKING:
            # How the engine holds the order now, for a restart to put it back so.
            held = self.broker.engine.get_order(event.broker_order_id)
            order.held, order.triggered, order.expires_at = (
                held.held,
                held.triggered,
                held.expires_at,
            )
        else:
            order.held, order.expires_at = False, None
        self._save_order(order)
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
        exec_id = self._new_exec_id()
        execution = IbExecution(
            exec_id=exec_id,
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
        report = IbCommission(exec_id=exec_id, commission=event.commission, realized_pnl=realized)
        self._executions.append((execution, report))
        self._save_order(order)
        if self._state is not None:
            self._state.save_execution(self._exec_seq, execution, report)
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
        if self._state is not None:
            self._state.save_holding(symbol, result.holding)
            self._state.save_meta(cash=self._book.cash)
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

    def _follow_trailing_stops(self) -> None:
        """Note where the engine's trailing stops have moved (it ratchets them silently), so
        openOrder tells it and a restart puts them back there, to within a tick."""
        for working in self.broker.engine.open_orders():
            if working.request.order_type is not OrderType.TRAILING_STOP or working.held:
                continue
            order = self._orders.get(working.request.client_order_id)
            level = working.stop_price
            if order is not None and level is not None and order.trail_stop_price != level:
                order.trail_stop_price = level
                self._save_order(order)
        self.flush_state()

    # -- market data ---------------------------------------------------------------------

    async def _stream_quotes(self) -> None:
        interval = self._settings.tick_interval_seconds
        while True:
            await asyncio.sleep(interval)
            with contextlib.suppress(BrokerUnavailableError):  # the engine is being reloaded
                self._follow_trailing_stops()
            if self.faults.outage:
                continue  # nothing reaches the clients
            for session in list(self._sessions.values()):
                for req_id, symbol in list(session.market_data.items()):
                    try:
                        quote = self.broker.engine.quote(symbol)
                    except BrokerUnavailableError:  # the engine is being reloaded
                        break
                    session.send_quote(req_id, quote)


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
        # IB makes a bracket's children one-cancels-other without a group of their own.
        oca_group=order.oca_group or (None if parent is None else f"gw-bracket{parent.perm_id}"),
    )


def _text(value: Decimal | None) -> str | None:
    """A decimal as plain text without trailing zeros ("190", "0.5"); None stays None."""
    if value is None:
        return None
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


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
        self.discarded = False  # aborted by a restart: nothing more it sent is acted on
        self._arrivals: collections.deque[float] = collections.deque()

    # -- sending ---------------------------------------------------------------------------

    def send(self, fields: list[str], *, through_outage: bool = False) -> None:
        """Send one message, after the state file has everything it tells of; during an
        outage it is dropped (lost, as at IB) unless it goes `through_outage`."""
        gateway = self.gateway
        gateway.flush_state()
        if gateway.faults.outage and not through_outage:
            return
        data = encode(fields)
        delay = gateway.faults.delay_seconds
        if delay > 0:
            asyncio.get_running_loop().call_later(delay, self._write, data, through_outage)
        else:
            self._write(data, through_outage)

    def _write(self, data: bytes, through_outage: bool) -> None:
        if self.gateway.faults.outage and not through_outage:
            return  # held back by the delay fault, then lost in an outage
        if not self.writer.is_closing():
            self.writer.write(data)

    def error(self, req_id: int, code: int, message: str, *, through_outage: bool = False) -> None:
        self.send(
            encoders.error(req_id, code, message, server_version=self.version),
            through_outage=through_outage,
        )

    def abort(self, *, discard: bool = False) -> None:
        """Close the connection at once; with `discard`, what the client sent that was not
        read yet is never acted on (the gateway that got it is gone)."""
        self.discarded = self.discarded or discard
        transport = self.writer.transport
        transport.abort()

    def drop_subscriptions(self) -> None:
        """Forget the streaming subscriptions (IB's 1101: they must be made again)."""
        self.market_data.clear()
        self.account_updates = False
        self.positions_subscribed = False

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
                fields = split_fields(await read_message(self.reader))
                if self.discarded:
                    return
                await self._dispatch(fields)
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
        self.gateway.flush_state()  # what the request changed, even when nothing was sent


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
    # The gateway's own knowledge: a client connecting during an outage gets it, then 1100.
    outage = session.gateway.in_outage
    session.send(encoders.managed_accounts([session.gateway.account]), through_outage=outage)
    session.send(
        encoders.next_valid_id(session.gateway.next_order_id(client_id)), through_outage=outage
    )
    if outage:
        session.error(-1, IB_LOST, CONNECTIVITY_TEXTS[IB_LOST], through_outage=True)


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
