"""A deterministic, synchronous matching engine over a simulated market.

Each symbol's market is a function of the seed, the symbol and the time (`market.py`): a
tick shows the second the clock is in, so the path does not depend on how often the
engine ticked, and history, live quotes and a restart's history agree. Orders match against
the displayed top of book: buys take the ask, sells hit the bid, up to the displayed size,
which fills consume until the next `tick` refreshes it. Everything that happens is reported
synchronously through `on_event` as neutral `BrokerEvent`s. Plain Python on purpose: no I/O,
no asyncio, so the HTTP broker and the TWS protocol simulator can both drive it.

Time comes from the injected clock and the session calendar: in the regular session every
order works; in the extended hours (pre-market and after-hours) only `outside_rth` orders
work; when the market is closed (nights, weekends, holidays) nothing trades, the quote
stays where the market closed and no bar is made. DAY orders expire at the first regular
close after they were accepted. Bracket children are held until their parent has
filled and then work as one-cancels-other (OCA) siblings.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

from stocks_api.broker.protocol import (
    Bar,
    BarInterval,
    BrokerEvent,
    BrokerOrderStatus,
    BrokerRejectedError,
    Contract,
    Execution,
    OrderChange,
    OrderRequest,
    OrderStatusUpdate,
    OrderType,
    Quote,
    Side,
    TimeInForce,
)
from stocks_api.broker.sim.bars import volume_units
from stocks_api.broker.sim.book import Book, new_book
from stocks_api.broker.sim.commission import execution_commission
from stocks_api.broker.sim.market import SymbolMarket
from stocks_api.broker.sim.oca import OCA_TYPES, group_changes
from stocks_api.broker.sim.orders import (
    LIMIT_TYPES,
    STOP_TYPES,
    TRIGGERED_TYPES,
    EngineOrder,
    OrderState,
    bracket_problem,
    change_problem,
    positive,
    qty_problem,
    request_problem,
    terms,
)
from stocks_api.broker.sim.seconds import market_seconds
from stocks_api.broker.sim.symbols import SymbolSpec
from stocks_api.broker.sim.tape import Tape
from stocks_api.broker.sim.trailing import ratchet, stop_reached, trail_stop
from stocks_api.core.calendar import SessionCalendar

__all__ = ["FINISHED_ORDERS_KEPT", "EngineOrder", "MatchingEngine"]

# Finished orders stay queryable (get_order) for a while; older ones are dropped.
FINISHED_ORDERS_KEPT = 10_000
_CHANGE_FIELDS = ("qty", "limit_price", "stop_price")
_Payload = dict[str, str] | None

HELD = "held until the parent fills"
ACTIVATED = "activated: parent filled"
ACTIVATED_PARTLY = "activated: parent partly filled"
RESIZED = "resized to the parent's filled quantity"
RESIZED_WITH_PARENT = "resized with the parent"
OCA_REDUCED = "reduced by OCA sibling fill"
OCA_FILLED = "OCA sibling filled"
DAY_EXPIRED_AT_CLOSE = "day order expired at the session close"
IOC_OUTSIDE_RTH = "IOC order cancelled: outside regular trading hours"


def _volatility_of(spec: SymbolSpec, everywhere: Decimal | None) -> Decimal:
    """A symbol's own volatility, else the one set for every symbol, else its profile's."""
    if spec.volatility is not None:
        return spec.volatility
    return spec.profile.annual_volatility if everywhere is None else everywhere


def _utc_now() -> datetime:
    """Return the current time in UTC."""
    return datetime.now(UTC)


class MatchingEngine:
    """Simulated market plus order matching; every effect is reported through `on_event`."""

    def __init__(
        self,
        *,
        symbols: Sequence[SymbolSpec],
        seed: int,
        on_event: Callable[[BrokerEvent], None],
        clock: Callable[[], datetime] = _utc_now,
        id_prefix: str = "SIM",
        volatility: Decimal | None = None,
        calendar: SessionCalendar | None = None,
        account_id: str = "DU0000001",
        bar_history_minutes: int = 3 * 1440,
    ) -> None:
        """Open the market for `symbols`; `seed` fixes every random draw.

        `volatility` overrides the annualised volatility of every symbol whose spec names
        none (None: each symbol's documented profile, `symbols.PROFILES`).
        """
        names = [spec.symbol for spec in symbols]
        if not names:
            raise ValueError("the engine needs at least one symbol")
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate symbols: {names}")
        if volatility is not None and (not volatility.is_finite() or volatility < 0):
            raise ValueError(f"volatility must be a non-negative number, got {volatility}")
        if bar_history_minutes < 1:
            raise ValueError(f"bar_history_minutes must be at least 1, got {bar_history_minutes}")
        self._on_event = on_event
        # Told the symbols whose market may have changed (a tick, a forced quote, a trade):
        # gateway-sim streams their quotes at once, as IB sends a tick when it happens.
        self._market_listeners: list[Callable[[Sequence[str]], None]] = []
        self._clock = clock
        self._calendar = calendar or SessionCalendar.always_open()
        # Only the random path is float (market.py); prices stay Decimal.
        self._markets = {
            spec.symbol: SymbolMarket(
                spec,
                seed,
                self._calendar,
                annual_volatility=float(_volatility_of(spec, volatility)),
                daily_volume=spec.profile.daily_volume,
            )
            for spec in symbols
        }
        now = clock()
        self._books = {
            name: new_book(market.spec, market.state_at(now))
            for name, market in self._markets.items()
        }
        self._account_id = account_id
        self._id_prefix = id_prefix
        self._orders: dict[str, OrderState] = {}  # working orders and the recently finished
        self._finished: deque[str] = deque()
        self._submitted = 0
        self._working: dict[str, OrderState] = {}  # insertion order is time priority
        # OCA groups of orders outside brackets (IB's ocaGroup with an ocaType), by name.
        self._oca_groups: dict[str, list[OrderState]] = {}
        # DAY orders by expiry: orders accepted in one session share one close, so this
        # stays a handful of buckets and expiring is a look at their keys.
        self._expiries: dict[datetime, dict[str, OrderState]] = {}
        self._close_cache: tuple[datetime, datetime] | None = None  # (asked at, next close)
        self._rth_cache: tuple[datetime, tuple[bool, bool]] | None = None
        self._tape = Tape(
            self._markets,
            self._books,
            calendar=self._calendar,
            clock=clock,
            history_minutes=bar_history_minutes,
        )

    # -- market data ---------------------------------------------------------------------

    def symbols(self) -> list[str]:
        """Return the traded symbols in configuration order."""
        return list(self._books)

    def has_symbol(self, symbol: str) -> bool:
        """Tell whether `symbol` is traded."""
        return symbol in self._books

    def contract(self, symbol: str) -> Contract | None:
        """Return the contract details of `symbol`, or None when it is not traded."""
        book = self._books.get(symbol)
        if book is None:
            return None
        spec = book.spec
        return Contract(symbol, "USD", spec.tick_size, spec.qty_increment)

    def quote(self, symbol: str) -> Quote:
        """Return the current top of book of `symbol`."""
        book = self._book(symbol)
        return Quote(
            symbol=symbol,
            bid=book.price(book.bid),
            ask=book.price(book.ask),
            last=book.last,
            bid_size=book.bid_size,
            ask_size=book.ask_size,
            volume=book.volume,
            ts=self._clock(),
        )

    def bars(
        self, symbol: str, interval: BarInterval, limit: int, end: datetime | None = None
    ) -> list[Bar]:
        """Return up to `limit` newest bars of `symbol` starting before `end`, oldest first.

        Without `end`, the bar of the current minute is the newest. Prices are on the tick
        grid. History is the market model's, back-filled as deep as asked (`tape.py`).
        """
        self._book(symbol)  # an unknown symbol is refused
        if limit < 1:
            raise BrokerRejectedError(f"limit must be at least 1, got {limit}")
        return self._tape.bars(symbol, interval, limit, end)

    def seconds(
        self,
        symbol: str,
        start: datetime,
        end: datetime,
        limit: int,
        *,
        from_start: bool = False,
    ) -> list[Quote]:
        """The market of each open second in [`start`, `end`) of `symbol`, oldest first:
        at most `limit`, the newest ones (or, `from_start`, the oldest); see
        `seconds.market_seconds`. Nothing after the clock's second is shown."""
        return market_seconds(
            self._markets[symbol],
            self._book(symbol),
            self._calendar,
            first=int(start.timestamp()),
            last=min(int(end.timestamp()), int(self._clock().timestamp()) + 1),
            limit=limit,
            from_start=from_start,
        )

    def first_bar_time(self, symbol: str) -> datetime:
        """When the oldest bar `bars` can give of `symbol` starts (IB's head timestamp)."""
        self._book(symbol)  # an unknown symbol is refused
        return self._tape.first_bar_time(symbol)

    def on_market(self, listener: Callable[[Sequence[str]], None]) -> None:
        """Call `listener` with the symbols whose quote may have changed, after each change."""
        self._market_listeners.append(listener)

    def _market_changed(self, symbols: Sequence[str]) -> None:
        for listener in self._market_listeners:
            listener(symbols)

    def tick(self) -> None:
        """Expire due DAY orders, show every symbol's market at the clock's time, then match."""
        self._expire_due()
        now = self._clock()
        for symbol, book in self._books.items():
            book.show(self._markets[symbol].state_at(now))
            self._tape.record(symbol, now)
        self._match_working()
        self._market_changed(list(self._books))

    def set_quote(
        self,
        symbol: str,
        *,
        bid: Decimal,
        ask: Decimal,
        bid_size: Decimal,
        ask_size: Decimal,
        last: Decimal | None = None,
    ) -> None:
        """Force the top of book (for tests and scripted scenarios), then match like a tick.

        Prices must be on the symbol's tick grid with 0 < bid < ask; sizes must be >= 0.
        Later ticks follow the market from the new mid: the model's path, moved by the
        difference (until the process ends; a restart shows the model's own path).
        """
        book = self._book(symbol)
        bid_ticks, ask_ticks = book.ticks(bid), book.ticks(ask)
        if book.price(bid_ticks) != bid or book.price(ask_ticks) != ask:
            raise ValueError(f"{symbol}: prices must be multiples of {book.spec.tick_size}")
        if not 0 < bid_ticks < ask_ticks or bid_size < 0 or ask_size < 0:
            raise ValueError(f"{symbol}: need 0 < bid < ask and sizes >= 0")
        if last is not None and not positive(last):
            raise ValueError(f"{symbol}: last must be positive, got {last}")
        book.bid, book.ask, book.bid_size, book.ask_size = bid_ticks, ask_ticks, bid_size, ask_size
        mid = (bid_ticks + ask_ticks) // 2
        book.shift += mid - book.mid
        book.mid = mid
        if last is not None and last != book.last:
            book.last = last
            self._tape.note_own_trade(symbol, book.ticks(last), 0)
        self._match_working()
        self._market_changed([symbol])

    # -- orders --------------------------------------------------------------------------

    def submit(self, order: OrderRequest) -> str:
        """Accept a new order, acknowledge it and match it at once; return its broker id."""
        self._validate(order)
        standalone_oca = order.oca_group is not None and order.oca_type in OCA_TYPES
        if order.parent_client_order_id is not None or (
            order.oca_group is not None and not standalone_oca
        ):
            raise BrokerRejectedError(
                "an order with parent_client_order_id or oca_group is a bracket child: "
                "use submit_bracket (an OCA group outside a bracket needs an oca_type 1-3)"
            )
        self._expire_due()
        state = self._accept(order)
        self._emit_status(state, payload=terms(order), stop_price=self._trail_level(state))
        self._start(state)
        self._market_changed([order.symbol])  # a fill is a trade: the last price moved
        return state.broker_order_id

    def submit_bracket(self, parent: OrderRequest, children: Sequence[OrderRequest]) -> list[str]:
        """Accept a parent with 1-2 OCA children held until it fills; return the broker ids.

        All or nothing: every request is validated before any is accepted. The ids come
        parent first, then the children in the given order.
        """
        for request in (parent, *children):
            self._validate(request)
        problem = bracket_problem(parent, children)
        if problem is not None:
            raise BrokerRejectedError(problem)
        self._expire_due()
        head = self._accept(parent)
        head.children = tuple(self._accept(child, parent=head) for child in children)
        self._emit_status(head, payload=terms(parent), stop_price=self._trail_level(head))
        for child in head.children:
            payload = terms(child.request) | {"parent_broker_order_id": head.broker_order_id}
            stop = self._trail_level(child)
            self._emit_status(child, reason=HELD, payload=payload, stop_price=stop)
        self._start(head)
        self._market_changed([parent.symbol])
        return [head.broker_order_id, *(child.broker_order_id for child in head.children)]

    def modify(self, broker_order_id: str, change: OrderChange) -> None:
        """Change quantity or prices of a working order, then re-match it."""
        self._expire_due()
        state = self._working_order(broker_order_id)
        problem = change_problem(state, change)
        if problem is None and change.qty is not None:
            problem = qty_problem(self._books[state.request.symbol].spec, change.qty)
        if problem is not None:
            raise BrokerRejectedError(f"cannot modify {broker_order_id}: {problem}")
        request = state.request
        state.request = replace(
            request,
            qty=request.qty if change.qty is None else change.qty,
            limit_price=request.limit_price if change.limit_price is None else change.limit_price,
            stop_price=request.stop_price if change.stop_price is None else change.stop_price,
        )
        if change.stop_price is not None:
            state.stop_price = change.stop_price
        described = terms(state.request)
        payload = {
            name: described[name] for name in _CHANGE_FIELDS if getattr(change, name) is not None
        }
        self._emit_status(state, reason="modified", payload=payload)
        if change.qty is not None:
            # Until the parent fills, its children protect exactly what it will buy or sell.
            for child in self._held_children(state):
                child.request = replace(child.request, qty=change.qty)
                self._emit_status(child, reason=RESIZED_WITH_PARENT, qty=change.qty)
        self._work(state)

    def cancel(self, broker_order_id: str, reason: str = "cancelled by request") -> None:
        """Cancel a working order (a bracket parent takes its held children along)."""
        self._expire_due()
        state = self._working_order(broker_order_id)
        self._finish(state, BrokerOrderStatus.CANCELLED, reason)

    def expire_day_orders(self) -> None:
        """Expire every working DAY order now (end of the trading day).

        Held bracket children are left alone: their day starts when their parent fills.
        """
        due = [
            state
            for state in self._working.values()
            if state.request.tif is TimeInForce.DAY and not state.held
        ]
        for state in due:
            if state.working:
                self._finish(state, BrokerOrderStatus.EXPIRED, "day order expired")

    def open_orders(self) -> list[EngineOrder]:
        """Return the working orders (held bracket children included) in submission order."""
        return [state.snapshot() for state in self._working.values()]

    def get_order(self, broker_order_id: str) -> EngineOrder:
        """Return any order this engine accepted, working or finished."""
        state = self._orders.get(broker_order_id)
        if state is None:
            raise BrokerRejectedError(f"unknown order {broker_order_id!r}")
        return state.snapshot()

    # -- acceptance and the session ------------------------------------------------------

    def _book(self, symbol: str) -> Book:
        """Return the book of `symbol` or reject an unknown symbol."""
        book = self._books.get(symbol)
        if book is None:
            raise BrokerRejectedError(f"unknown symbol {symbol!r}")
        return book

    def _validate(self, order: OrderRequest) -> None:
        """Reject an order the engine cannot accept, before anything is registered."""
        book = self._book(order.symbol)
        problem = request_problem(order) or qty_problem(book.spec, order.qty)
        trailing = order.order_type is OrderType.TRAILING_STOP
        if problem is None and trailing and self._trail_from_last(order, book) <= 0:
            problem = f"the trailing stop would start at or below zero (last {book.last})"
        if problem is not None:
            raise BrokerRejectedError(problem)

    def _accept(self, order: OrderRequest, *, parent: OrderState | None = None) -> OrderState:
        """Register a validated order; a bracket child is held and not yet on the clock."""
        self._submitted += 1
        broker_order_id = f"{self._id_prefix}-{self._submitted}"
        state = OrderState(broker_order_id, order, held=parent is not None, parent=parent)
        if order.order_type in STOP_TYPES:
            state.stop_price = order.stop_price
        elif order.order_type is OrderType.TRAILING_STOP:
            state.stop_price = self._trail_from_last(order, self._books[order.symbol])
        self._orders[state.broker_order_id] = state
        self._working[state.broker_order_id] = state
        if parent is None and order.oca_group is not None and order.oca_type in OCA_TYPES:
            self._oca_groups.setdefault(order.oca_group, []).append(state)
        if not state.held:
            self._schedule_expiry(state)
        return state

    def _start(self, state: OrderState) -> None:
        """Match a just accepted or activated order; IOC orders never outlive this call."""
        ioc = state.request.tif is TimeInForce.IOC
        if ioc and not self._can_work(state.request):
            self._finish(state, BrokerOrderStatus.CANCELLED, IOC_OUTSIDE_RTH)
            return
        self._work(state)
        if ioc and state.working:
            self._finish(state, BrokerOrderStatus.CANCELLED, "IOC remainder cancelled")

    def _can_work(self, request: OrderRequest) -> bool:
        """Tell whether an order may trigger and trade right now: any order in the regular
        session, an `outside_rth` one in the extended hours too."""
        regular, extended = self._session_now()
        return regular or (request.outside_rth and extended)

    def _session_now(self) -> tuple[bool, bool]:
        """(regular session open, extended hours open) now, asked once per clock reading."""
        now = self._clock()
        if self._rth_cache is None or self._rth_cache[0] != now:
            regular = self._calendar.is_regular_hours(now)
            self._rth_cache = (now, (regular, regular or self._calendar.is_extended_hours(now)))
        return self._rth_cache[1]

    def _schedule_expiry(self, state: OrderState) -> None:
        """Give a DAY order its expiry: the first regular close after now."""
        if state.request.tif is not TimeInForce.DAY:
            return
        now = self._clock()
        cached = self._close_cache
        if cached is None or not cached[0] <= now < cached[1]:
            # No close lies between the cached moment and its next close, so the answer
            # holds for every moment in between.
            cached = self._close_cache = (now, self._calendar.next_close(now))
        state.expires_at = cached[1]
        self._expiries.setdefault(cached[1], {})[state.broker_order_id] = state

    def _unschedule_expiry(self, state: OrderState) -> None:
        """Forget a finished order's expiry."""
        if state.expires_at is None:
            return
        bucket = self._expiries.get(state.expires_at)
        if bucket is not None:
            bucket.pop(state.broker_order_id, None)
            if not bucket:
                del self._expiries[state.expires_at]

    def _expire_due(self) -> None:
        """Expire the working DAY orders whose session has closed."""
        if not self._expiries:
            return
        now = self._clock()
        for at in sorted(at for at in self._expiries if at <= now):
            for state in list(self._expiries.get(at, {}).values()):
                if state.working:
                    self._finish(state, BrokerOrderStatus.EXPIRED, DAY_EXPIRED_AT_CLOSE)

    def _working_order(self, broker_order_id: str) -> OrderState:
        """Return a working order or reject an unknown or finished one."""
        state = self._orders.get(broker_order_id)
        if state is None:
            raise BrokerRejectedError(f"unknown order {broker_order_id!r}")
        if not state.working:
            raise BrokerRejectedError(f"order {broker_order_id} is {state.status.value}")
        return state

    # -- matching ------------------------------------------------------------------------

    def _match_working(self) -> None:
        """Expire due DAY orders, then trigger and match every working order in time priority."""
        self._expire_due()
        regular, extended = self._session_now()  # asked once: one pass sees one session state
        for state in list(self._working.values()):
            if not state.working or state.held:
                continue
            if regular or (extended and state.request.outside_rth):
                self._match(state)

    def _work(self, state: OrderState) -> None:
        """Match an order if it may trade now; held children and closed sessions wait."""
        if state.held or not self._can_work(state.request):
            return
        self._match(state)

    def _match(self, state: OrderState) -> None:
        """Follow and check the stop of an order, then fill what the touch allows."""
        request = state.request
        book = self._books[request.symbol]
        if request.order_type in TRIGGERED_TYPES and not state.triggered:
            assert state.stop_price is not None  # set on acceptance
            if state.trailing:
                candidate = self._trail_from_last(request, book)
                state.stop_price = ratchet(request.side, state.stop_price, candidate)
            if not stop_reached(request.side, state.stop_price, book.last):
                return
            state.triggered = True
            payload = {"stop_price": str(state.stop_price), "last": str(book.last)}
            stop = self._trail_level(state)
            self._emit_status(state, reason="stop triggered", payload=payload, stop_price=stop)
        self._fill_at_touch(state, book)

    def _fill_at_touch(self, state: OrderState, book: Book) -> None:
        """Fill as much as the displayed size on the order's side allows, if marketable."""
        request = state.request
        limit = request.limit_price if request.order_type in LIMIT_TYPES else None
        if request.side is Side.BUY:
            price, available = book.price(book.ask), book.ask_size
            marketable = limit is None or price <= limit
        else:
            price, available = book.price(book.bid), book.bid_size
            marketable = limit is None or price >= limit
        qty = min(state.remaining, available)
        if not marketable or qty <= 0:
            return
        # Displayed liquidity is consumed so later orders in the same tick see what is left.
        if request.side is Side.BUY:
            book.ask_size -= qty
        else:
            book.bid_size -= qty
        book.last = price
        book.volume += qty
        book.own_volume += qty
        self._tape.note_own_trade(request.symbol, book.ticks(price), volume_units(qty))
        self._record_fill(state, qty, price)

    def _record_fill(self, state: OrderState, qty: Decimal, price: Decimal) -> None:
        """Book a fill, report the execution and the new status, then tell OCA siblings."""
        commission = execution_commission(state.filled_qty, state.filled_value, qty, price)
        state.filled_qty += qty
        state.filled_value += qty * price
        state.commission += commission
        state.executions += 1
        request = state.request
        self._on_event(
            Execution(
                exec_id=f"{state.broker_order_id}.{state.executions:02d}",
                client_order_id=request.client_order_id,
                broker_order_id=state.broker_order_id,
                account_id=self._account_id,
                symbol=request.symbol,
                side=request.side,
                qty=qty,
                price=price,
                commission=commission,
                ts=self._clock(),
            )
        )
        avg = state.filled_value / state.filled_qty
        payload = {"last_fill_price": str(price), "avg_fill_price": str(avg)}
        if state.remaining > 0:
            state.status = BrokerOrderStatus.PARTIALLY_FILLED
            self._emit_status(state, payload=payload)
        else:
            self._finish(state, BrokerOrderStatus.FILLED, None, payload)
        if state.parent is not None:
            self._reduce_siblings(state, qty)
        elif request.oca_group is not None and request.oca_type in OCA_TYPES:
            self._apply_oca_group(state, qty)

    def _trail_from_last(self, request: OrderRequest, book: Book) -> Decimal:
        """Return where a trailing stop would sit given the current last price."""
        return trail_stop(
            request.side,
            book.last,
            book.spec.tick_size,
            amount=request.trail_amount,
            percent=request.trail_percent,
        )

    def _trail_level(self, state: OrderState) -> Decimal | None:
        """Return the stop to report in an update: a trailing stop's level, else None."""
        return state.stop_price if state.trailing else None

    # -- brackets ------------------------------------------------------------------------

    def _held_children(self, state: OrderState) -> list[OrderState]:
        """Return the children of a bracket parent still waiting for it."""
        return [child for child in state.children if child.working and child.held]

    def _settle_children(self, parent: OrderState) -> None:
        """Act on a finished parent: cancel its held children, or resize and activate them."""
        held = self._held_children(parent)
        if not held:
            return
        if parent.filled_qty == 0:
            reason = f"parent order {parent.status.value}"
            payload = {"parent_broker_order_id": parent.broker_order_id}
            for child in held:
                self._finish(child, BrokerOrderStatus.CANCELLED, reason, payload)
            return
        reason = ACTIVATED
        if parent.remaining > 0:
            # The parent bought or sold less than planned: protect only what it did.
            reason = ACTIVATED_PARTLY
            for child in held:
                child.request = replace(child.request, qty=parent.filled_qty)
                self._emit_status(child, reason=RESIZED, qty=parent.filled_qty)
        for child in held:
            child.held = False
            self._schedule_expiry(child)
            if child.trailing:
                # The trail starts from the market of now, not from when it was accepted.
                child.stop_price = self._trail_from_last(
                    child.request, self._books[child.request.symbol]
                )
            self._emit_status(child, reason=reason, stop_price=self._trail_level(child))
        for child in held:
            if child.working:
                self._start(child)

    def _reduce_siblings(self, child: OrderState, qty: Decimal) -> None:
        """Apply one child's fill of `qty` to its OCA siblings: reduce, or cancel when done."""
        assert child.parent is not None
        for sibling in child.parent.children:
            if sibling is child or not sibling.working:
                continue
            reduced = sibling.request.qty - qty
            if child.remaining == 0 or reduced <= sibling.filled_qty:
                payload = {"oca_group": str(child.request.oca_group)}
                self._finish(sibling, BrokerOrderStatus.CANCELLED, OCA_FILLED, payload)
            else:
                sibling.request = replace(sibling.request, qty=reduced)
                self._emit_status(sibling, reason=OCA_REDUCED, qty=reduced)

    def _apply_oca_group(self, filled: OrderState, qty: Decimal) -> None:
        """Apply a fill of `qty` of an order outside a bracket to its OCA group
        (`oca.group_changes`): cancel the others, or reduce them."""
        group = filled.request.oca_group
        assert group is not None
        payload = {"oca_group": group}
        members = list(self._oca_groups.get(group, []))
        for other, reduced in group_changes(filled, qty, members, self._qty_step):
            if reduced is None:
                self._finish(other, BrokerOrderStatus.CANCELLED, OCA_FILLED, payload)
            else:
                other.request = replace(other.request, qty=reduced)
                self._emit_status(other, reason=OCA_REDUCED, qty=reduced, payload=payload)

    def _qty_step(self, symbol: str) -> Decimal:
        return self._books[symbol].spec.qty_increment

    # -- reporting -----------------------------------------------------------------------

    def _finish(
        self,
        state: OrderState,
        status: BrokerOrderStatus,
        reason: str | None,
        payload: _Payload = None,
    ) -> None:
        """Move an order to a final status and report it, then settle its bracket children."""
        state.status = status
        del self._working[state.broker_order_id]
        group = state.request.oca_group
        if group is not None and group in self._oca_groups:
            members = [m for m in self._oca_groups[group] if m is not state]
            if members:
                self._oca_groups[group] = members
            else:
                del self._oca_groups[group]
        self._unschedule_expiry(state)
        self._forget_old_finished(state.broker_order_id)
        self._emit_status(state, reason=reason, payload=payload)
        if state.children:
            self._settle_children(state)

    def _forget_old_finished(self, broker_order_id: str) -> None:
        """Keep only the newest finished orders, so memory does not grow with every order."""
        self._finished.append(broker_order_id)
        while len(self._finished) > FINISHED_ORDERS_KEPT:
            self._orders.pop(self._finished.popleft(), None)

    def _emit_status(
        self,
        state: OrderState,
        *,
        reason: str | None = None,
        payload: _Payload = None,
        stop_price: Decimal | None = None,
        qty: Decimal | None = None,
    ) -> None:
        """Report the order's current status (with a stop or quantity the engine moved)."""
        self._on_event(
            OrderStatusUpdate(
                client_order_id=state.request.client_order_id,
                broker_order_id=state.broker_order_id,
                status=state.status,
                filled_qty=state.filled_qty,
                remaining_qty=state.remaining,
                ts=self._clock(),
                reason=reason,
                payload={**(payload or {}), "remaining": str(state.remaining)},
                stop_price=stop_price,
                qty=qty,
            )
        )
