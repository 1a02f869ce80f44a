"""gateway-sim: IB Gateway's TWS socket protocol over the simulated broker's matching engine.

One `SimBroker` (the same engine the embedded mode uses) serves every connected client.
Each connection is a `Session` (`session.py`): handshake, `startApi` with its clientId (a
clientId in use is refused with IB's error 326), then requests, each answered by its
handler (`handlers.py`, `handlers_orders.py`, `handlers_data.py`) through the
`GatewayBackend` interface (`backend.py`) that `GatewaySim` implements here. The engine's
events for an order go to the session that placed it, as IB sends them: openOrder,
orderStatus, then for a fill execDetails and commissionReport (`engine_events.py`).

Like IB, a client sending more than 50 messages a second gets error 100 (counted in
`pacing_violations`).

State across restarts (`state_file`, `stocks-api gateway-sim --state-file PATH`): orders,
executions, holdings, cash, each client's highest order id, the perm-id and exec-id
counters and the con ids are kept in a SQLite file (`state.StateFile`), written before
any message that tells of them is sent (`books.py`). A gateway-sim started on an existing
file answers reqOpenOrders, reqCompletedOrders and reqExecutions as before, and its
working orders (bracket children held by their parent, OCA siblings) are back in the
engine with their remaining quantity, original order ids, perm ids and orderRef
(`restore.py`). The market itself starts afresh from the seed. Without a state file every
start is a clean slate.

Fault injection for tests (`faults`, `faults.py`; the operations in `injection.py`): drop
every connection, refuse new ones for a while, reject the next order with an IB error code,
lose the next order on the way in or keep its client from hearing of it, delay every
message, announce 1100/1102; an outage as IB has them (`start_outage`, `end_outage`,
`outage`: 1100, then nothing reaches the clients and nothing they send reaches the engine,
which trades on, then 1101 or 1102), and a timed restart (`restart`: every client dropped,
connections refused, back with its state). `book()` is gateway-sim's own account of every
order, execution, position and the cash.

`GatewaySim` itself puts these together: the engine and the books (made afresh when a
restart reloads the state file), the port (`listener.py`), the account's valuation, the
quote stream, and its life cycle.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import structlog

from stocks_api.broker.gateway.account import (
    AccountValue,
    WhatIf,
    account_values,
    figures_of,
    what_if,
)
from stocks_api.broker.gateway.books import Books
from stocks_api.broker.gateway.codes import IB_RESTORED, MAX_RATE_EXCEEDED, ORDER_REJECTED
from stocks_api.broker.gateway.engine_events import EngineEvents
from stocks_api.broker.gateway.faults import Faults
from stocks_api.broker.gateway.injection import FaultInjector
from stocks_api.broker.gateway.listener import Listener
from stocks_api.broker.gateway.model import (
    IbCommission,
    IbContract,
    IbExecution,
    IbOrder,
    IbPosition,
)
from stocks_api.broker.gateway.order_entry import OrderEntry
from stocks_api.broker.gateway.requests import PlaceOrder
from stocks_api.broker.gateway.session import MAX_MESSAGES_PER_SECOND, Session
from stocks_api.broker.gateway.state import SCHEMA_VERSION, saved_seed
from stocks_api.broker.gateway.table import HANDLERS
from stocks_api.broker.protocol import (
    AccountType,
    Bar,
    BarInterval,
    BrokerUnavailableError,
    OrderType,
    Quote,
)
from stocks_api.broker.sim.broker import SimBroker
from stocks_api.broker.sim.settings import SimSettings
from stocks_api.core.calendar import SessionCalendar

# Names other code imports from here (they were defined here before the split).
__all__ = ["MAX_MESSAGES_PER_SECOND", "MAX_RATE_EXCEEDED", "Faults", "GatewaySim"]

log = structlog.get_logger(__name__)


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
        delayed_data: bool = False,
        pacing: bool = True,
    ) -> None:
        if settings.seed is None:
            # No installation database here: the state file's seed, or a new one for this
            # gateway (kept in the state file, if any, for its next start).
            kept = None if state_file is None else saved_seed(state_file)
            seed = kept if kept is not None else secrets.randbits(48)
            settings = settings.model_copy(update={"seed": seed})
        self._settings = settings
        self.account = settings.account_id
        self._calendar = calendar
        self._tick = tick
        self._clock = clock or _utc_now
        self.state_file = None if state_file is None else Path(state_file)
        # No live market data subscription: clients get delayed data (or error 354).
        self.delayed_data = delayed_data
        # IB's limit of 50 messages a second per client (error 100 above it); off for
        # benchmarks that measure the API rather than IB's pace.
        self.pacing = pacing
        self._vwaps: dict[str, tuple[int, Decimal]] = {}  # symbol -> (minute, today's VWAP)
        self.faults = Faults()
        self.pacing_violations = 0  # messages received above IB's rate limit
        self._listener = Listener(host, port, self._new_session)
        self._injector = FaultInjector(
            self.faults,
            self._listener,
            state_file=self.state_file,
            flush_state=self.flush_state,
            forget_untransmitted=self._forget_untransmitted,
            reload=self._reload,
        )
        self._ticker: asyncio.Task[None] | None = None
        self._fresh_state()

    def _fresh_state(self) -> None:
        """A new engine and empty books, with the order entry and the event sink on them."""
        self.broker = SimBroker(
            self._settings, calendar=self._calendar, tick=self._tick, clock=self._clock
        )
        self._books = Books(
            account=self.account,
            starting_cash=self._settings.starting_cash,
            state_file=self.state_file,
        )
        self._entry = OrderEntry(
            self._books,
            self.broker,
            self.faults,
            self,
            account=self.account,
            what_if=self.what_if,
            market=self,
            sessions=self._listener.sessions,
        )
        self._events = EngineEvents(
            self._books, self.broker, self._listener.sessions, self.positions
        )

    def _new_session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> Session:
        return Session(self, reader, writer, handlers=HANDLERS, faults=self.faults)

    @property
    def host(self) -> str:
        return self._listener.host

    @property
    def port(self) -> int:
        """The port listened on (the one picked, once started on port 0)."""
        return self._listener.port

    @property
    def _orders(self) -> dict[str, IbOrder]:
        # Kept for tests/integration/gateway/test_link_recovery.py, which reads the books'
        # orders directly; the books are `Books.orders`.
        return self._books.orders

    # -- life cycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Load the state file (if any), start the engine and listen.

        Raises:
            StateFileError: the state file cannot be used (another account's, not SQLite,
                working orders in a symbol no longer traded).
        """
        await self._open_books()
        await self._listener.start()
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
        books = self._books
        saved = books.open_state(self._traded_symbols)
        await self.broker.connect(self._events.on_event)
        self.broker.engine.on_market(self._push_quotes)
        if saved is None:
            books.save_meta(
                schema=SCHEMA_VERSION,
                account=self.account,
                cash=books.ledger.cash,
                **books.counters(),
            )
        else:
            books.load(saved)
            books.restore_working(self.broker.engine, self._clock)
            log.info(
                "gateway_sim_state_loaded",
                state_file=str(self.state_file),
                orders=len(books.orders),
                working=len(books.broker_ids),
                executions=len(books.executions),
            )
        books.save_meta(seed=self._settings.seed)  # the next start shows the same market
        self.flush_state()

    def _traded_symbols(self) -> set[str]:
        return {spec.symbol for spec in self._settings.symbol_specs()}

    async def _reload(self) -> None:
        """A restart with a state file: the engine and the books as a new process has them."""
        await self.broker.close()
        self._books.close()
        self._fresh_state()
        await self._open_books()

    def _forget_untransmitted(self) -> None:
        """A restart: the orders not transmitted yet (transmit=False) die with it."""
        self._books.held.clear()

    async def close(self) -> None:
        """Drop every client and stop."""
        self._listener.stop()
        self._injector.close()
        for task in (self._ticker, self._injector.restart_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await self._listener.close()
        await self.broker.close()
        self._books.close()

    async def serve_forever(self) -> None:
        """Wait until `close()` (the listening port may close and reopen meanwhile)."""
        await self._listener.stopped.wait()

    def flush_state(self) -> None:
        """Write the changes not yet in the state file (before anything reaches a client)."""
        self._books.flush()

    # -- fault injection (injection.py) ----------------------------------------------------

    def drop_connections(self) -> None:
        """Close every client connection at once (as a gateway restart would)."""
        self._injector.drop_connections()

    def refuse_connections(self, seconds: float) -> None:
        """Refuse new connections for `seconds` (0 listens again at once)."""
        self._injector.refuse_connections(seconds)

    def reject_next_order(self, code: int = ORDER_REJECTED, message: str = "") -> None:
        """Reject the next order placed with IB error `code`."""
        self._injector.reject_next_order(code, message)

    def lose_next_orders(self, count: int = 1) -> None:
        """Lose the next `count` orders on the way in (as a connection that died would)."""
        self._injector.lose_next_orders(count)

    def mute_next_orders(self, count: int = 1) -> None:
        """Let the next `count` orders trade while telling their client nothing of them."""
        self._injector.mute_next_orders(count)

    def delay_responses(self, seconds: float) -> None:
        """Hold every outgoing message for `seconds` (0 to stop)."""
        self._injector.delay_responses(seconds)

    def announce_connectivity(self, code: int) -> None:
        """Send IB's connectivity message 1100, 1101 or 1102 to everyone (the message only)."""
        self._injector.announce_connectivity(code)

    @property
    def in_outage(self) -> bool:
        """Whether IB is unreachable (an outage is in force)."""
        return self._injector.in_outage

    def start_outage(self) -> None:
        """IB is lost until `end_outage` (see `FaultInjector.start_outage`)."""
        self._injector.start_outage()

    def end_outage(self, code: int = IB_RESTORED) -> None:
        """IB is back with 1102 or 1101 (see `FaultInjector.end_outage`).

        Raises:
            ValueError: `code` is not 1101 or 1102, or no outage is in force.
        """
        self._injector.end_outage(code)

    def outage(self, seconds: float, code: int = IB_RESTORED) -> None:
        """An outage of `seconds` that ends with `code` (see `FaultInjector.outage`).

        Raises:
            ValueError: `code` is not 1101 or 1102, or `seconds` is negative.
        """
        self._injector.outage(seconds, code)

    @property
    def restarting(self) -> bool:
        """Whether a `restart` is under way."""
        return self._injector.restarting

    def restart(self, seconds: float) -> asyncio.Task[None]:
        """IB Gateway's daily restart, back in `seconds` (see `FaultInjector.restart`).

        Raises:
            RuntimeError: a restart is under way already.
            ValueError: `seconds` is negative.
        """
        return self._injector.restart(seconds)

    # -- the backend: connections ----------------------------------------------------------

    @property
    def client_ids(self) -> list[int]:
        """The clientIds of the connected API clients, in order."""
        return self._listener.client_ids

    def register(self, session: Session, client_id: int) -> bool:
        """Take `client_id` for `session`; False when another connection holds it."""
        return self._listener.register(session, client_id)

    def next_order_id(self, client_id: int) -> int:
        """The next order id `client_id` may use (above any it used before)."""
        return self._books.next_order_id(client_id)

    def note_pacing_violation(self) -> None:
        self.pacing_violations += 1

    # -- the backend: orders and executions ------------------------------------------------

    async def place(self, session: Session, request: PlaceOrder) -> None:
        """Place (or, for a known order id, modify) an order of `session`."""
        await self._entry.place(session, request)

    async def cancel(self, session: Session, order_id: int) -> None:
        """Cancel an order of `session` (lost during an outage: IB cannot be reached)."""
        await self._entry.cancel(session, order_id)

    async def cancel_all(self) -> None:
        """reqGlobalCancel: cancel every working order of every client (not in an outage)."""
        await self._entry.cancel_all()

    def open_orders(self, client_id: int | None) -> list[IbOrder]:
        """Working orders, of one client or (None) of all."""
        return self._books.open_orders(client_id)

    def completed_orders(self) -> list[IbOrder]:
        return self._books.completed_orders()

    def executions(self, client_id: int) -> list[tuple[IbExecution, IbCommission]]:
        """Executions of `client_id` (0 or the master client: all), as reqExecutions replays."""
        return self._books.executions_of(client_id)

    def book(self) -> dict[str, Any]:
        """gateway-sim's own books, JSON-ready (decimals as text): every order it took,
        every execution, the positions and the cash (the control port's `book`)."""
        return self._books.snapshot()

    # -- the backend: the account ----------------------------------------------------------

    def positions(self, symbol: str | None = None) -> list[IbPosition]:
        """The account's holdings (or the one in `symbol`) valued at the last price."""
        found = []
        for held, holding in self._books.ledger.holdings.items():
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

    def _holdings(self) -> dict[str, tuple[Decimal, Decimal]]:
        """symbol -> (signed quantity, last price) of every holding."""
        return {p.contract.symbol: (p.position, p.market_price) for p in self.positions()}

    def account_values(self) -> list[AccountValue]:
        """IB's account values (`account.py`), from the same Reg T figures as the API's."""
        positions = self.positions()
        figures = figures_of(
            self._books.ledger.cash,
            [(p.position, p.market_price) for p in positions],
            self._account_type,
        )
        return account_values(
            figures,
            account_type=self._account_type,
            unrealized=sum((p.unrealized_pnl for p in positions), Decimal(0)),
            realized=sum((p.realized_pnl for p in positions), Decimal(0)),
        )

    def what_if(self, order: IbOrder) -> WhatIf:
        """The margin, equity and commission impact of `order`, which is not placed."""
        symbol = order.contract.symbol
        quote = self.broker.engine.quote(symbol)
        buy = order.action == "BUY"
        price = order.lmt_price if order.order_type in ("LMT", "STP LMT") else None
        if order.order_type == "STP" and order.aux_price is not None:
            price = order.aux_price
        if price is None:
            price = quote.ask if buy else quote.bid
        return what_if(
            cash=self._books.ledger.cash,
            holdings=self._holdings(),
            account_type=self._account_type,
            symbol=symbol,
            signed_qty=order.total_qty if buy else -order.total_qty,
            price=price,
        )

    @property
    def _account_type(self) -> AccountType:
        return AccountType(self._settings.account_type)

    def pnl(self) -> tuple[Decimal, Decimal, Decimal]:
        """The account's (daily, unrealized, realized) P&L: the sum of its positions'."""
        daily = unrealized = realized = Decimal(0)
        for symbol in self._books.ledger.holdings:
            _, day, open_pnl, closed, _ = self.pnl_single(symbol)
            daily += day
            unrealized += open_pnl or 0
            realized += closed or 0
        return daily, unrealized, realized

    def pnl_single(
        self, symbol: str
    ) -> tuple[Decimal, Decimal, Decimal | None, Decimal | None, Decimal]:
        """(position, daily, unrealized, realized, value) of the holding in `symbol`.

        Daily P&L is IB's: the position's value now less its value at the previous close,
        less what today's fills paid (plus what they received), less their commissions;
        realized is what today's fills realized.
        """
        holding = self._books.ledger.holdings.get(symbol)
        qty = Decimal(0) if holding is None else holding.qty
        price = self.broker.engine.quote(symbol).last
        day_start = self._day_start()
        bought = commissions = realized = Decimal(0)
        traded = Decimal(0)
        for execution, report in self._books.executions:
            if execution.contract.symbol != symbol or execution.time < day_start:
                continue
            signed = execution.shares if execution.side == "BOT" else -execution.shares
            traded += signed
            bought += signed * execution.price
            commissions += report.commission
            realized += report.realized_pnl or 0
        start_qty = qty - traded
        daily = qty * price - start_qty * self._previous_close(symbol, day_start) - bought
        daily -= commissions
        unrealized = None if holding is None else (price - holding.avg_cost) * qty
        return qty, daily, unrealized, realized, qty * price

    # -- what order conditions are checked against (conditions.ConditionMarket) ------------

    def now(self) -> datetime:
        return self._clock()

    def symbol_of(self, con_id: int) -> str | None:
        return self._books.symbol_of(con_id)

    def previous_close(self, symbol: str) -> Decimal:
        return self._previous_close(symbol, self._day_start())

    def cushion(self) -> Decimal:
        holdings = self._holdings().values()
        return figures_of(self._books.ledger.cash, holdings, self._account_type).cushion

    def executed_since(self, symbol: str, since: datetime) -> bool:
        return any(
            e.contract.symbol == symbol and e.time >= since for e, _ in self._books.executions
        )

    def _day_start(self) -> datetime:
        """Midnight in the exchange's zone today: where IB's daily P&L starts."""
        calendar = self.calendar
        local = self._clock().astimezone(calendar.zone)
        return local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)

    def _previous_close(self, symbol: str, day_start: datetime) -> Decimal:
        days = self.broker.engine.bars(symbol, BarInterval.D1, 3)
        before = [bar for bar in days if bar.start < day_start]
        if before:
            return before[-1].close
        return self.broker.engine.quote(symbol).last

    # -- the backend: contracts and market data --------------------------------------------

    def contract(self, symbol: str) -> IbContract | None:
        found = self.broker.engine.contract(symbol)
        if found is None:
            return None
        return IbContract(
            con_id=self._books.con_id(symbol),
            symbol=symbol,
            min_tick=found.tick_size,
            size_increment=found.qty_increment,
        )

    def contract_by_con_id(self, con_id: int) -> IbContract | None:
        symbol = self._books.symbol_of(con_id)
        return None if symbol is None else self.contract(symbol)

    def symbols(self) -> list[str]:
        return self.broker.engine.symbols()

    @property
    def calendar(self) -> SessionCalendar:
        return self._calendar or SessionCalendar.always_open()

    def quote(self, symbol: str) -> Quote:
        return self.broker.engine.quote(symbol)

    def seconds(
        self, symbol: str, start: datetime, end: datetime, limit: int, *, from_start: bool = False
    ) -> list[Quote]:
        return self.broker.engine.seconds(symbol, start, end, limit, from_start=from_start)

    def first_bar_time(self, symbol: str) -> datetime:
        return self.broker.engine.first_bar_time(symbol)

    def day_vwap(self, symbol: str) -> Decimal:
        """Today's VWAP from the minute bars (each at its close), worked out once a minute."""
        minute = int(self._clock().timestamp()) // 60
        cached = self._vwaps.get(symbol)
        if cached is not None and cached[0] == minute:
            return cached[1]
        day_start = self._day_start()
        bars = self.broker.engine.bars(symbol, BarInterval.M1, 24 * 60)
        today = [bar for bar in bars if bar.start >= day_start and bar.volume > 0]
        volume = sum((bar.volume for bar in today), Decimal(0))
        if volume:
            vwap = sum((bar.close * bar.volume for bar in today), Decimal(0)) / volume
        else:
            vwap = self.broker.engine.quote(symbol).last
        vwap = vwap.quantize(Decimal("0.0001"))
        self._vwaps[symbol] = (minute, vwap)
        return vwap

    async def bars(
        self, symbol: str, interval: BarInterval, *, limit: int, end: datetime | None
    ) -> list[Bar]:
        return await self.broker.get_bars(symbol, interval, limit=limit, end=end)

    # -- the engine's ticks ----------------------------------------------------------------

    def _follow_trailing_stops(self) -> None:
        """Note where the engine's trailing stops have moved (it ratchets them silently), so
        openOrder tells it and a restart puts them back there, to within a tick."""
        books = self._books
        for working in self.broker.engine.open_orders():
            if working.request.order_type is not OrderType.TRAILING_STOP or working.held:
                continue
            order = books.orders.get(working.request.client_order_id)
            level = working.stop_price
            if order is not None and level is not None and order.trail_stop_price != level:
                order.trail_stop_price = level
                books.save_order(order)
        self.flush_state()

    def _push_quotes(self, symbols: Sequence[str]) -> None:
        """Send the quotes of `symbols` to every streaming line on them, now (IB sends a
        tick when the market moves, not on a timer)."""
        if self.faults.outage:
            return  # nothing reaches the clients
        wanted = set(symbols)
        engine = self.broker.engine
        for session in list(self._listener.sessions.values()):
            for req_id, symbol in list(session.market_data.items()):
                if symbol in wanted:
                    session.send_quote(req_id, engine.quote(symbol))

    async def _stream_quotes(self) -> None:
        interval = self._settings.tick_interval_seconds
        while True:
            await asyncio.sleep(interval)
            with contextlib.suppress(BrokerUnavailableError):  # the engine is being reloaded
                self._follow_trailing_stops()
                now = self._clock()
                await self._entry.expire_good_till(now)
                regular = self.calendar.is_regular_hours(now)
                await self._entry.activate_conditional(now, regular_hours=regular)
            if self.faults.outage:
                continue  # nothing reaches the clients
            for session in list(self._listener.sessions.values()):
                try:
                    # The quote lines get their ticks from the engine's changes
                    # (`_push_quotes`); the other streams tick here.
                    for req_id, stream in list(session.streams.items()):
                        try:
                            await stream.tick(session)
                        except BrokerUnavailableError:
                            raise
                        except Exception:  # one broken stream must not stop the others
                            log.exception("gateway_stream_failed", req_id=req_id)
                            session.streams.pop(req_id, None)
                except BrokerUnavailableError:  # the engine is being reloaded
                    break
