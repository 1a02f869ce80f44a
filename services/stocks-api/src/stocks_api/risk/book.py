"""The book in memory: open-order quantities, positions and cash, as the checks see them.

Kept by the process that owns the broker connection (the only one that admits orders):
loaded from the database when it takes the broker up, then kept current by those who
write the rows it mirrors, right after each commit: the event consumer (fills move
positions and cash, broker events move orders), and the order path (a new order is
reserved here at admission, before its row is written, and released if the row is not
written). Admission then reads no database.

Writers report what they committed; a writer that read a row before another writer's
later report (`note_order(..., seen_at=)` older than the entry) may hold a stale copy, and
is told so (the report returns False) so that it reads the row again
(`orders.open_orders.resync`). Open orders are counted across accounts (orders do not name
their account yet); positions and cash are per account.
No I/O here.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from stocks_api.broker.protocol import Side
from stocks_api.risk.checks import ZERO

# Orders no longer open whose last report is remembered (for `seen_at`): a stale copy is
# at most a transaction old, so the most recent few thousand are plenty.
CLOSED_KEPT = 10_000


@dataclass(frozen=True, slots=True)
class OpenQty:
    """Quantity still to fill of a symbol's open orders, per side."""

    buy: Decimal = ZERO
    sell: Decimal = ZERO

    def on(self, side: Side) -> Decimal:
        return self.buy if side is Side.BUY else self.sell


@dataclass(frozen=True, slots=True)
class OpenOrder:
    """What an open order may still fill: symbol, side, remaining quantity, OCA group."""

    symbol: str
    side: Side
    remaining: Decimal
    oca_group: str | None = None

    @classmethod
    def of(
        cls, symbol: str, side: str, qty: Decimal, filled_qty: Decimal, oca_group: str | None
    ) -> OpenOrder:
        """An order row's columns as the book holds them: what it may still fill."""
        return cls(symbol, Side(side), max(qty - filled_qty, ZERO), oca_group)


class TradingBook:
    """See the module docstring."""

    def __init__(self) -> None:
        self._orders: dict[str, OpenOrder] = {}  # by client_order_id
        # client_order_id -> clock of its last report: of open orders, and of the last
        # CLOSED_KEPT orders that closed
        self._noted_at: dict[str, int] = {}
        self._closed_at: OrderedDict[str, int] = OrderedDict()
        self._by_symbol: dict[str, set[str]] = {}
        self._totals: dict[str, OpenQty] = {}  # per symbol, computed when first asked
        self._positions: dict[str, dict[str, Decimal]] = {}  # account -> symbol -> qty
        self._cash: dict[str, Decimal] = {}
        self.clock = 0  # counts reports; a writer reads it before reading a row
        self.loaded = False

    # -- loading ------------------------------------------------------------------------

    def replace(
        self,
        orders: Iterable[tuple[str, OpenOrder]],
        positions: Iterable[tuple[str, str, Decimal]],
        cash: Mapping[str, Decimal],
    ) -> None:
        """Start over from a database read: (client_order_id, order), (account, symbol, qty)."""
        self._orders, self._noted_at, self._by_symbol, self._totals = {}, {}, {}, {}
        self._closed_at = OrderedDict()
        self.clock += 1
        for client_order_id, order in orders:
            self._put(client_order_id, order)
        self._positions = {}
        for account_id, symbol, qty in positions:
            if qty != 0:
                self._positions.setdefault(account_id, {})[symbol] = qty
        self._cash = dict(cash)
        self.loaded = True

    # -- reports ------------------------------------------------------------------------

    def note_order(
        self, client_order_id: str, order: OpenOrder | None, *, seen_at: int | None = None
    ) -> bool:
        """Record an order as committed: open (`order`) or not (None).

        `seen_at` is the clock when the writer read the row (None: it wrote the row whole,
        as a new order). False, and nothing recorded, when another report came since: the
        writer's copy may be stale and the row is to be read again.
        """
        if seen_at is not None and self._last_noted(client_order_id) > seen_at:
            return False
        self.clock += 1
        self._drop(client_order_id)
        if order is not None:
            self._put(client_order_id, order)
        return True

    def restore(self, client_order_id: str, order: OpenOrder | None) -> None:
        """Undo a reservation (its row was not written): back to what it was before."""
        self.note_order(client_order_id, order)

    def entry(self, client_order_id: str) -> OpenOrder | None:
        return self._orders.get(client_order_id)

    def note_position(self, account_id: str, symbol: str, qty: Decimal) -> None:
        held = self._positions.setdefault(account_id, {})
        if qty == 0:
            held.pop(symbol, None)
        else:
            held[symbol] = qty

    def note_cash(self, account_id: str, cash: Decimal) -> None:
        self._cash[account_id] = cash

    # -- reading ------------------------------------------------------------------------

    def open_qty(self, symbol: str, *, exclude: str | None = None) -> OpenQty:
        """What the open orders in `symbol` may still fill, per side (`exclude` left out).

        Orders of one OCA group fill only once between them: a group counts with its
        largest member.
        """
        if exclude is not None and exclude in self._by_symbol.get(symbol, ()):
            return sum_open(self._orders[cid] for cid in self._by_symbol[symbol] if cid != exclude)
        total = self._totals.get(symbol)
        if total is None:
            total = self._totals[symbol] = sum_open(
                self._orders[cid] for cid in self._by_symbol.get(symbol, ())
            )
        return total

    def open_symbols(self) -> frozenset[str]:
        return frozenset(self._by_symbol)

    def positions(self, account_id: str | None) -> Mapping[str, Decimal]:
        if account_id is None:
            return {}
        return self._positions.get(account_id, {})

    def cash(self, account_id: str | None) -> Decimal | None:
        return None if account_id is None else self._cash.get(account_id)

    def open_orders(self) -> dict[str, OpenOrder]:
        """Every open order by client_order_id (a copy, for comparing with the database)."""
        return dict(self._orders)

    # -- inside -------------------------------------------------------------------------

    def _put(self, client_order_id: str, order: OpenOrder) -> None:
        self._orders[client_order_id] = order
        self._noted_at[client_order_id] = self.clock
        self._closed_at.pop(client_order_id, None)
        self._by_symbol.setdefault(order.symbol, set()).add(client_order_id)
        self._totals.pop(order.symbol, None)

    def _last_noted(self, client_order_id: str) -> int:
        noted = self._noted_at.get(client_order_id)
        return self._closed_at.get(client_order_id, -1) if noted is None else noted

    def _drop(self, client_order_id: str) -> None:
        self._noted_at.pop(client_order_id, None)
        self._closed_at[client_order_id] = self.clock
        self._closed_at.move_to_end(client_order_id)
        if len(self._closed_at) > CLOSED_KEPT:
            self._closed_at.popitem(last=False)
        order = self._orders.pop(client_order_id, None)
        if order is None:
            return
        ids = self._by_symbol[order.symbol]
        ids.discard(client_order_id)
        if not ids:
            del self._by_symbol[order.symbol]
        self._totals.pop(order.symbol, None)


def sum_open(orders: Iterable[OpenOrder]) -> OpenQty:
    """What `orders` (of one symbol) may still fill per side, an OCA group once (its largest)."""
    buy = sell = ZERO
    groups: dict[tuple[Side, str], Decimal] = {}
    for order in orders:
        if order.oca_group is None:
            if order.side is Side.BUY:
                buy += order.remaining
            else:
                sell += order.remaining
        else:
            key = (order.side, order.oca_group)
            groups[key] = max(groups.get(key, ZERO), order.remaining)
    for (side, _), remaining in groups.items():
        if side is Side.BUY:
            buy += remaining
        else:
            sell += remaining
    return OpenQty(buy, sell)
