"""A deterministic, synchronous matching engine over a random-walk market.

Each symbol has its own pseudo-random generator seeded from a digest of ``"{seed}:{symbol}"``,
so a symbol's price path depends only on the seed and its own history. Orders match against
the displayed top of book: buys take the ask, sells hit the bid, up to the displayed size,
which fills consume until the next `tick` refreshes it. Everything that happens is reported
synchronously through `on_event` as neutral `BrokerEvent`s. Plain Python on purpose: no I/O,
no asyncio, so the HTTP broker and the TWS protocol simulator can both drive it.
"""

from __future__ import annotations

import hashlib
import random
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal

from stocks_api.broker.protocol import (
    BrokerEvent,
    BrokerOrderStatus,
    BrokerRejectedError,
    Execution,
    OrderChange,
    OrderRequest,
    OrderStatusUpdate,
    OrderType,
    Quote,
    Side,
    TimeInForce,
)
from stocks_api.broker.sim.commission import execution_commission
from stocks_api.broker.sim.symbols import SymbolSpec

_ZERO = Decimal(0)
# Finished orders stay queryable (get_order) for a while; older ones are dropped.
FINISHED_ORDERS_KEPT = 10_000
_LIMIT_TYPES = frozenset({OrderType.LIMIT, OrderType.STOP_LIMIT})
_STOP_TYPES = frozenset({OrderType.STOP, OrderType.STOP_LIMIT})
_CHANGE_FIELDS = ("qty", "limit_price", "stop_price")
_WORKING = frozenset({BrokerOrderStatus.SUBMITTED, BrokerOrderStatus.PARTIALLY_FILLED})
_Payload = dict[str, str] | None


def _utc_now() -> datetime:
    """Return the current time in UTC."""
    return datetime.now(UTC)


def _symbol_rng(seed: int, symbol: str) -> random.Random:
    """Return the symbol's generator; hashlib (not hash()) keeps it stable across processes."""
    digest = hashlib.sha256(f"{seed}:{symbol}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))  # noqa: S311 - simulation only


def _positive(value: Decimal) -> bool:
    """Tell whether `value` is a finite number above zero."""
    return value.is_finite() and value > 0


@dataclass(frozen=True, slots=True)
class EngineOrder:
    """A snapshot of an order as the engine sees it; `request` reflects modifications."""

    broker_order_id: str
    request: OrderRequest
    filled_qty: Decimal
    avg_fill_price: Decimal | None
    status: BrokerOrderStatus
    triggered: bool
    commission: Decimal

    @property
    def remaining_qty(self) -> Decimal:
        """Quantity still to fill."""
        return self.request.qty - self.filled_qty


@dataclass(slots=True)
class _Book:
    """The simulated top of book of one symbol; prices are kept as integer tick counts."""

    spec: SymbolSpec
    rng: random.Random
    mid: int
    bid: int
    ask: int
    bid_size: Decimal
    ask_size: Decimal
    last: Decimal
    volume: Decimal

    def price(self, ticks: int) -> Decimal:
        """Convert a tick count to a price."""
        return self.spec.tick_size * ticks

    def ticks(self, price: Decimal) -> int:
        """Convert a price to the nearest tick count."""
        return int((price / self.spec.tick_size).to_integral_value(ROUND_HALF_EVEN))


def _new_book(spec: SymbolSpec, seed: int) -> _Book:
    """Create the opening book of a symbol around its start price."""
    mid = (spec.start_price / spec.tick_size).to_integral_value(ROUND_HALF_EVEN)
    book = _Book(
        spec,
        _symbol_rng(seed, spec.symbol),
        max(1, int(mid)),
        0,
        0,
        _ZERO,
        _ZERO,
        last=_ZERO,
        volume=_ZERO,
    )
    _refresh_touch(book)
    book.last = book.price(book.mid)
    book.volume = book.rng.randint(100, 5000) * spec.lot_size
    return book


def _refresh_touch(book: _Book) -> None:
    """Draw a new 1-3 tick spread around the mid and new displayed sizes."""
    spread = book.rng.randint(1, 3)
    book.bid = max(1, book.mid - spread // 2)
    book.ask = book.bid + spread
    book.bid_size = book.rng.randint(1, 10) * book.spec.lot_size
    book.ask_size = book.rng.randint(1, 10) * book.spec.lot_size


def _step_book(book: _Book, volatility: float) -> None:
    """Move the mid by a Gaussian number of ticks and refresh the touch."""
    sigma_ticks = max(1.0, book.mid * volatility)
    book.mid = max(1, book.mid + round(book.rng.gauss(0.0, sigma_ticks)))
    _refresh_touch(book)
    # The rest of the market trades too, so `last` (and with it stop triggers) follows prices
    # even when nobody here trades.
    book.last = book.price(book.ask if book.rng.random() < 0.5 else book.bid)
    book.volume += book.rng.randint(1, 10) * book.spec.lot_size


@dataclass(slots=True)
class _Order:
    """Mutable engine-side state of one order."""

    broker_order_id: str
    request: OrderRequest
    status: BrokerOrderStatus = BrokerOrderStatus.SUBMITTED
    filled_qty: Decimal = _ZERO
    filled_value: Decimal = _ZERO
    commission: Decimal = _ZERO
    executions: int = 0
    triggered: bool = False

    @property
    def remaining(self) -> Decimal:
        """Quantity still to fill."""
        return self.request.qty - self.filled_qty

    @property
    def working(self) -> bool:
        """Whether the order can still fill."""
        return self.status in _WORKING

    def snapshot(self) -> EngineOrder:
        """Return an immutable view of the order."""
        avg = self.filled_value / self.filled_qty if self.filled_qty else None
        return EngineOrder(
            self.broker_order_id,
            self.request,
            self.filled_qty,
            avg,
            self.status,
            self.triggered,
            self.commission,
        )


def _request_problem(order: OrderRequest) -> str | None:
    """Return why a new order is invalid, or None when it is acceptable."""
    kind = order.order_type.value
    if not _positive(order.qty):
        return f"quantity must be positive, got {order.qty}"
    if order.order_type in _LIMIT_TYPES and order.limit_price is None:
        return f"a {kind} order needs a limit_price"
    if order.order_type not in _LIMIT_TYPES and order.limit_price is not None:
        return f"limit_price is not allowed on a {kind} order"
    if order.order_type in _STOP_TYPES and order.stop_price is None:
        return f"a {kind} order needs a stop_price"
    if order.order_type not in _STOP_TYPES and order.stop_price is not None:
        return f"stop_price is not allowed on a {kind} order"
    for name, price in (("limit_price", order.limit_price), ("stop_price", order.stop_price)):
        if price is not None and not _positive(price):
            return f"{name} must be positive, got {price}"
    if order.tif is TimeInForce.IOC and order.order_type in _STOP_TYPES:
        return f"time in force ioc is not allowed on a {kind} order"
    return None


def _terms(request: OrderRequest) -> dict[str, str]:
    """Describe an order's terms as JSON-safe strings."""
    terms: dict[str, object] = {"order_type": request.order_type, "side": request.side}
    terms |= {"tif": request.tif, "qty": request.qty}
    terms |= {"limit_price": request.limit_price, "stop_price": request.stop_price}
    return {name: str(value) for name, value in terms.items() if value is not None}


def _change_problem(order: _Order, change: OrderChange) -> str | None:
    """Return why a modification of a working order is invalid, or None."""
    kind = order.request.order_type
    if change.qty is None and change.limit_price is None and change.stop_price is None:
        return "the modification changes nothing"
    if change.qty is not None and not (_positive(change.qty) and change.qty > order.filled_qty):
        return f"quantity must be above the filled quantity {order.filled_qty}, got {change.qty}"
    if change.limit_price is not None:
        if kind not in _LIMIT_TYPES:
            return f"limit_price cannot be set on a {kind.value} order"
        if not _positive(change.limit_price):
            return f"limit_price must be positive, got {change.limit_price}"
    if change.stop_price is not None:
        if kind not in _STOP_TYPES:
            return f"stop_price cannot be set on a {kind.value} order"
        if order.triggered:
            return "stop_price cannot be changed after the stop triggered"
        if not _positive(change.stop_price):
            return f"stop_price must be positive, got {change.stop_price}"
    return None


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
        volatility: Decimal = Decimal("0.001"),
    ) -> None:
        """Open the market for `symbols`; `seed` fixes every random draw."""
        names = [spec.symbol for spec in symbols]
        if not names:
            raise ValueError("the engine needs at least one symbol")
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate symbols: {names}")
        if not volatility.is_finite() or volatility < 0:
            raise ValueError(f"volatility must be a non-negative number, got {volatility}")
        self._books = {spec.symbol: _new_book(spec, seed) for spec in symbols}
        self._on_event = on_event
        self._clock = clock
        self._id_prefix = id_prefix
        # Only the width of the random step is a float; prices stay Decimal.
        self._volatility = float(volatility)
        self._orders: dict[str, _Order] = {}  # working orders and the recently finished
        self._finished: deque[str] = deque()
        self._submitted = 0
        self._working: dict[str, _Order] = {}  # insertion order is time priority

    # -- market data ---------------------------------------------------------------------

    def symbols(self) -> list[str]:
        """Return the traded symbols in configuration order."""
        return list(self._books)

    def has_symbol(self, symbol: str) -> bool:
        """Tell whether `symbol` is traded."""
        return symbol in self._books

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

    def tick(self) -> None:
        """Advance every symbol by one price step, then trigger and match resting orders."""
        for book in self._books.values():
            _step_book(book, self._volatility)
        self._match_working()

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
        Later ticks random-walk on from the new mid.
        """
        book = self._book(symbol)
        bid_ticks, ask_ticks = book.ticks(bid), book.ticks(ask)
        if book.price(bid_ticks) != bid or book.price(ask_ticks) != ask:
            raise ValueError(f"{symbol}: prices must be multiples of {book.spec.tick_size}")
        if not 0 < bid_ticks < ask_ticks or bid_size < 0 or ask_size < 0:
            raise ValueError(f"{symbol}: need 0 < bid < ask and sizes >= 0")
        if last is not None and not _positive(last):
            raise ValueError(f"{symbol}: last must be positive, got {last}")
        book.bid, book.ask, book.bid_size, book.ask_size = bid_ticks, ask_ticks, bid_size, ask_size
        book.mid = (bid_ticks + ask_ticks) // 2
        if last is not None:
            book.last = last
        self._match_working()

    # -- orders --------------------------------------------------------------------------

    def submit(self, order: OrderRequest) -> str:
        """Accept a new order, acknowledge it and match it at once; return its broker id."""
        if not self.has_symbol(order.symbol):
            raise BrokerRejectedError(f"unknown symbol {order.symbol!r}")
        problem = _request_problem(order)
        if problem is not None:
            raise BrokerRejectedError(problem)
        self._submitted += 1
        broker_order_id = f"{self._id_prefix}-{self._submitted}"
        state = _Order(broker_order_id, order)
        self._orders[broker_order_id] = state
        self._working[broker_order_id] = state
        self._emit_status(state, payload=_terms(order))
        self._match(state)
        if order.tif is TimeInForce.IOC and state.working:
            self._finish(state, BrokerOrderStatus.CANCELLED, "IOC remainder cancelled")
        return broker_order_id

    def modify(self, broker_order_id: str, change: OrderChange) -> None:
        """Change quantity or prices of a working order, then re-match it."""
        state = self._working_order(broker_order_id)
        problem = _change_problem(state, change)
        if problem is not None:
            raise BrokerRejectedError(f"cannot modify {broker_order_id}: {problem}")
        request = state.request
        state.request = replace(
            request,
            qty=request.qty if change.qty is None else change.qty,
            limit_price=request.limit_price if change.limit_price is None else change.limit_price,
            stop_price=request.stop_price if change.stop_price is None else change.stop_price,
        )
        terms = _terms(state.request)
        payload = {
            name: terms[name] for name in _CHANGE_FIELDS if getattr(change, name) is not None
        }
        self._emit_status(state, reason="modified", payload=payload)
        self._match(state)

    def cancel(self, broker_order_id: str) -> None:
        """Cancel a working order."""
        state = self._working_order(broker_order_id)
        self._finish(state, BrokerOrderStatus.CANCELLED, "cancelled by request")

    def expire_day_orders(self) -> None:
        """Expire every working DAY order (end of the trading day)."""
        for state in list(self._working.values()):
            if state.request.tif is TimeInForce.DAY:
                self._finish(state, BrokerOrderStatus.EXPIRED, "day order expired")

    def open_orders(self) -> list[EngineOrder]:
        """Return the working orders in submission order."""
        return [state.snapshot() for state in self._working.values()]

    def get_order(self, broker_order_id: str) -> EngineOrder:
        """Return any order this engine accepted, working or finished."""
        state = self._orders.get(broker_order_id)
        if state is None:
            raise BrokerRejectedError(f"unknown order {broker_order_id!r}")
        return state.snapshot()

    # -- internals -----------------------------------------------------------------------

    def _book(self, symbol: str) -> _Book:
        """Return the book of `symbol` or reject an unknown symbol."""
        book = self._books.get(symbol)
        if book is None:
            raise BrokerRejectedError(f"unknown symbol {symbol!r}")
        return book

    def _working_order(self, broker_order_id: str) -> _Order:
        """Return a working order or reject an unknown or finished one."""
        state = self._orders.get(broker_order_id)
        if state is None:
            raise BrokerRejectedError(f"unknown order {broker_order_id!r}")
        if not state.working:
            raise BrokerRejectedError(f"order {broker_order_id} is {state.status.value}")
        return state

    def _match_working(self) -> None:
        """Trigger and match every working order in time priority."""
        for state in list(self._working.values()):
            if state.working:
                self._match(state)

    def _match(self, state: _Order) -> None:
        """Check the stop trigger of an order, then fill what the touch allows."""
        request = state.request
        book = self._books[request.symbol]
        if request.order_type in _STOP_TYPES and not state.triggered:
            assert request.stop_price is not None  # validated at submit
            buy = request.side is Side.BUY
            if not (book.last >= request.stop_price if buy else book.last <= request.stop_price):
                return
            state.triggered = True
            payload = {"stop_price": str(request.stop_price), "last": str(book.last)}
            self._emit_status(state, reason="stop triggered", payload=payload)
        self._fill_at_touch(state, book)

    def _fill_at_touch(self, state: _Order, book: _Book) -> None:
        """Fill as much as the displayed size on the order's side allows, if marketable."""
        request = state.request
        limit = request.limit_price if request.order_type in _LIMIT_TYPES else None
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
        self._record_fill(state, qty, price)

    def _record_fill(self, state: _Order, qty: Decimal, price: Decimal) -> None:
        """Book a fill on the order and report the execution, then the new status."""
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

    def _finish(
        self, state: _Order, status: BrokerOrderStatus, reason: str | None, payload: _Payload = None
    ) -> None:
        """Move an order to a final status and report it."""
        state.status = status
        del self._working[state.broker_order_id]
        self._forget_old_finished(state.broker_order_id)
        self._emit_status(state, reason=reason, payload=payload)

    def _forget_old_finished(self, broker_order_id: str) -> None:
        """Keep only the newest finished orders, so memory does not grow with every order."""
        self._finished.append(broker_order_id)
        while len(self._finished) > FINISHED_ORDERS_KEPT:
            self._orders.pop(self._finished.popleft(), None)

    def _emit_status(
        self, state: _Order, *, reason: str | None = None, payload: _Payload = None
    ) -> None:
        """Report the order's current status."""
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
            )
        )
