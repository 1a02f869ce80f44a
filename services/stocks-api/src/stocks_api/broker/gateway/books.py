"""gateway-sim's books and the state file that keeps them across restarts.

`Books` is gateway-sim's own account of every order it took, every execution, the
holdings and the cash of the one account, with the id maps between IB's ids (clientId
and orderId, perm id, con id) and the engine's, each client's highest order id and the
perm-id and exec-id counters. Every change is saved to the state file
(`state.StateFile`, when there is one) and written before any message that tells of it
is sent (`flush`). A gateway started on an existing file loads them back and puts the
working orders back into the fresh engine (`restore_working`, through `restore.py`).
"""

from __future__ import annotations

import contextlib
import secrets
import sqlite3
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import structlog

from stocks_api.broker.gateway.model import IbCommission, IbExecution, IbOrder
from stocks_api.broker.gateway.order_terms import engine_request
from stocks_api.broker.gateway.restore import WorkingOrder, restore_working
from stocks_api.broker.gateway.state import SavedState, StateFile, StateFileError
from stocks_api.broker.protocol import BrokerError, Execution
from stocks_api.broker.sim.engine import MatchingEngine
from stocks_api.core.ledger import Holding, apply_fill, signed_qty

log = structlog.get_logger(__name__)

FIRST_ORDER_ID = 1
FINISHED = frozenset({"Filled", "Cancelled", "Inactive"})  # IB's final order statuses
FIRST_CON_ID = 265_598  # the first con id handed out (IB's AAPL, for familiar numbers)
CON_ID_STEP = 1_000


@dataclass
class Ledger:
    """Positions and cash of the one account, booked from the simulator's own fills."""

    cash: Decimal
    holdings: dict[str, Holding] = field(default_factory=dict)


class Books:
    """Orders, executions, holdings, cash, id maps and counters; see the module docstring.

    Orders are keyed by the engine's client_order_id, "gw" and the perm id.
    """

    def __init__(self, *, account: str, starting_cash: Decimal, state_file: Path | None) -> None:
        self.account = account
        self.state_file = state_file
        self._state: StateFile | None = None
        self.orders: dict[str, IbOrder] = {}  # by the engine's client_order_id (our key)
        self.by_client: dict[tuple[int, int], str] = {}  # (clientId, orderId) -> key
        self.broker_ids: dict[str, str] = {}  # key -> the engine's order id
        self.held: dict[tuple[int, int], IbOrder] = {}  # not transmitted yet (bracket parts)
        self.executions: list[tuple[IbExecution, IbCommission]] = []
        self.muted: set[str] = set()  # orders whose client is told nothing (a fault)
        # The engine's ids of orders a modification replaced: their events are not news.
        self.superseded: set[str] = set()
        self.con_ids: dict[str, int] = {}
        self.highest_order_id: dict[int, int] = {}  # per clientId, as IB remembers it
        self.ledger = Ledger(cash=starting_cash)
        self.next_perm_id = int(time.time()) % 100_000 * 1000 + 1
        # Exec ids look like IB's ("0000e0d5.65600d1c.01.01"): a prefix drawn once per
        # state (so two runs without a state file do not share ids), then a counter.
        self.exec_prefix = secrets.randbits(32)
        self.exec_seq = 0

    # -- the state file --------------------------------------------------------------------

    def open_state(self, traded: Callable[[], Iterable[str]]) -> SavedState | None:
        """Open the state file (if any) and read what it keeps; None for a fresh start.

        `traded` names the symbols traded now (asked only when there is a saved state).

        Raises:
            StateFileError: the state file cannot be used (another account's, not SQLite,
                working orders in a symbol `traded` does not name).
        """
        if self.state_file is None:
            return None
        state = StateFile(self.state_file)
        try:
            saved = state.load()
            if saved is not None:
                self._check_saved(saved, traded)
        except BaseException:
            state.close()
            raise
        self._state = state
        return saved

    def _check_saved(self, saved: SavedState, traded: Callable[[], Iterable[str]]) -> None:
        if saved.account != self.account:
            raise StateFileError(
                f"{self.state_file}: the state of account {saved.account}, not {self.account}"
            )
        working = {o.contract.symbol for o in saved.orders if o.status not in FINISHED}
        lost = sorted(working - set(traded()))
        if lost:
            raise StateFileError(
                f"{self.state_file}: working orders in symbols no longer traded: {lost}"
                " (trade them again, or start with another state file)"
            )

    def load(self, saved: SavedState) -> None:
        """Take the saved orders, executions, holdings, cash, ids and counters."""
        self.ledger = Ledger(cash=saved.cash, holdings=dict(saved.holdings))
        self.next_perm_id = saved.next_perm_id
        self.exec_prefix = saved.exec_prefix
        self.exec_seq = saved.exec_seq
        self.highest_order_id = dict(saved.highest_order_ids)
        self.con_ids = dict(saved.con_ids)
        for order in saved.orders:
            key = f"gw{order.perm_id}"
            self.orders[key] = order
            self.by_client[(order.client_id, order.order_id)] = key
        self.executions = list(saved.executions)

    def flush(self) -> None:
        """Write the changes not yet in the state file (before anything reaches a client)."""
        state = self._state
        if state is None or not state.dirty:
            return
        try:
            state.flush()
        except sqlite3.Error:  # kept pending: the next flush tries again
            log.exception("gateway_state_write_failed", state_file=str(self.state_file))

    def close(self) -> None:
        if self._state is not None:
            try:
                self._state.close()
            except sqlite3.Error:
                log.exception("gateway_state_close_failed", state_file=str(self.state_file))
            self._state = None

    def save_order(self, order: IbOrder) -> None:
        if self._state is not None:
            self._state.save_order(order)

    def save_meta(self, **values: object) -> None:
        if self._state is not None:
            self._state.save_meta(**values)

    def counters(self) -> dict[str, int]:
        return {
            "next_perm_id": self.next_perm_id,
            "exec_prefix": self.exec_prefix,
            "exec_seq": self.exec_seq,
        }

    # -- ids -------------------------------------------------------------------------------

    def new_perm_id(self) -> int:
        perm_id = self.next_perm_id
        self.next_perm_id += 1
        self.save_meta(next_perm_id=self.next_perm_id)
        return perm_id

    def new_exec_id(self) -> str:
        self.exec_seq += 1
        self.save_meta(exec_seq=self.exec_seq)
        return f"{self.exec_prefix:08x}.{self.exec_seq:08x}.01.01"

    def note_order_id(self, client_id: int, order_id: int) -> None:
        """Remember the highest order id `client_id` used (IB never hands it out again)."""
        if order_id > self.highest_order_id.get(client_id, 0):
            self.highest_order_id[client_id] = order_id
            if self._state is not None:
                self._state.save_client(client_id, order_id)

    def next_order_id(self, client_id: int) -> int:
        """The next order id `client_id` may use (above any it used before)."""
        return self.highest_order_id.get(client_id, FIRST_ORDER_ID - 1) + 1

    def con_id(self, symbol: str) -> int:
        """The con id of `symbol`, handed out on first use and kept from then on."""
        con_id = self.con_ids.get(symbol)
        if con_id is None:
            con_id = max(self.con_ids.values(), default=FIRST_CON_ID - CON_ID_STEP) + CON_ID_STEP
            self.con_ids[symbol] = con_id
            if self._state is not None:
                self._state.save_con_id(symbol, con_id)
        return con_id

    def symbol_of(self, con_id: int) -> str | None:
        """The symbol a con id was handed out for; None when none was."""
        for symbol, known in self.con_ids.items():
            if known == con_id:
                return symbol
        return None

    # -- orders and executions -------------------------------------------------------------

    def add_order(self, order: IbOrder) -> None:
        """Book an order on its way to the engine."""
        key = f"gw{order.perm_id}"
        self.orders[key] = order
        self.by_client[(order.client_id, order.order_id)] = key
        self.save_order(order)

    def open_orders(self, client_id: int | None) -> list[IbOrder]:
        """Working orders, of one client or (None) of all."""
        return [
            o
            for o in self.orders.values()
            if o.status not in FINISHED and (client_id is None or o.client_id == client_id)
        ]

    def completed_orders(self) -> list[IbOrder]:
        return [o for o in self.orders.values() if o.status in FINISHED]

    def executions_of(self, client_id: int) -> list[tuple[IbExecution, IbCommission]]:
        """Executions of `client_id` (0 or the master client: all), as reqExecutions replays."""
        return [e for e in self.executions if client_id in (0, e[0].client_id)]

    def add_execution(self, execution: IbExecution, report: IbCommission) -> None:
        """Book an execution (with the exec id `new_exec_id` gave it last)."""
        self.executions.append((execution, report))
        if self._state is not None:
            self._state.save_execution(self.exec_seq, execution, report)

    def book_fill(self, symbol: str, event: Execution) -> Decimal | None:
        """Book a fill into the holding and the cash; the P&L it realized, if any."""
        holdings = self.ledger.holdings
        holding = holdings.get(symbol, Holding(Decimal(0), Decimal(0), Decimal(0)))
        result = apply_fill(
            holding, signed_qty(event.side.value, event.qty), event.price, event.commission
        )
        holdings[symbol] = result.holding
        self.ledger.cash += result.cash_delta
        if self._state is not None:
            self._state.save_holding(symbol, result.holding)
            self._state.save_meta(cash=self.ledger.cash)
        return result.realized if result.realized else None

    # -- restoring -------------------------------------------------------------------------

    def restore_working(self, engine: MatchingEngine, clock: Callable[[], datetime]) -> None:
        """Put the working orders back into the (fresh) engine, as they were."""
        by_perm = {order.perm_id: order for order in self.orders.values()}
        fills: dict[int, tuple[int, Decimal]] = {}
        for execution, _ in self.executions:
            count, value = fills.get(execution.perm_id, (0, Decimal(0)))
            fills[execution.perm_id] = (count + 1, value + execution.shares * execution.price)
        restored = []
        for order in self.orders.values():
            if order.status in FINISHED or order.waiting_for_conditions:
                continue  # a conditional order waits at the gateway, not in the engine
            parent = by_perm.get(order.bracket_parent_perm_id)
            if order.held and (parent is None or parent.status in FINISHED):
                # The parent finished just before gateway-sim went down, before the engine
                # had told of its children: settle them as the engine does.
                if parent is None or parent.filled == 0:
                    self._finish_unrestored(order, "Cancelled", clock())
                    continue
                order.held = False
                order.total_qty = parent.filled
            count, value = fills.get(order.perm_id, (0, Decimal(0)))
            request = engine_request(order, parent if order.bracket_parent_perm_id else None)
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
        self.broker_ids.update(restore_working(engine, restored))
        # A DAY order whose close passed while gateway-sim was down has expired.
        now = clock()
        for key, broker_id in list(self.broker_ids.items()):
            order = self.orders[key]
            if order.expires_at is not None and order.expires_at <= now and not order.held:
                with contextlib.suppress(BrokerError):
                    engine.cancel(broker_id)

    def _finish_unrestored(self, order: IbOrder, status: str, at: datetime) -> None:
        order.status = status
        order.completed_status = status
        order.completed_time = ib_time(at)
        order.held = False
        self.save_order(order)

    # -- the control port's view -----------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """The books, JSON-ready (decimals as text): every order, every execution, the
        positions and the cash (the control port's `book`)."""
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
                for o in self.orders.values()
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
                for e, r in self.executions
            ],
            "positions": [
                {
                    "symbol": symbol,
                    "qty": _text(h.qty),
                    "avg_cost": _text(h.avg_cost),
                    "realized_pnl": _text(h.realized_pnl),
                }
                for symbol, h in self.ledger.holdings.items()
            ],
            "cash": _text(self.ledger.cash),
        }


def ib_time(at: datetime) -> str:
    """IB's time of a completed order, "YYYYMMDD-HH:MM:SS" (UTC)."""
    return at.astimezone(UTC).strftime("%Y%m%d-%H:%M:%S")


def _text(value: Decimal | None) -> str | None:
    """A decimal as plain text without trailing zeros ("190", "0.5"); None stays None."""
    if value is None:
        return None
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text
