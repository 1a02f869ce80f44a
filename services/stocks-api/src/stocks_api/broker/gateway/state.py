"""gateway-sim's state file: what IB keeps across a gateway restart, in one SQLite file.

Orders (working and finished, every `IbOrder` field), executions with their commission
reports, the account's holdings and cash, each client's highest order id, the perm-id and
exec-id counters and the con ids handed out: enough for a restarted gateway-sim to answer
reqOpenOrders, reqCompletedOrders, reqExecutions and reqPositions as before and to put the
working orders back into its engine.

Changes are collected as they happen (`save_*`) and written by `flush()` in one small
transaction: upserts of the changed rows only, so an order costs a few rows, not a
rewrite. The gateway flushes before it sends a client anything, and at the end of every
engine event and client request, so nothing a client heard is forgotten. WAL mode with
`synchronous=NORMAL`: a committed change survives the process being killed (SIGKILL);
a power cut may lose the last transactions.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import types
import typing
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from stocks_api.broker.gateway.model import IbCommission, IbContract, IbExecution, IbOrder
from stocks_api.core.ledger import Holding

SCHEMA_VERSION = "1"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS client (client_id INTEGER PRIMARY KEY, highest_order_id INTEGER);
CREATE TABLE IF NOT EXISTS con_id (symbol TEXT PRIMARY KEY, con_id INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS ib_order (perm_id INTEGER PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS execution (
    seq INTEGER PRIMARY KEY, exec_id TEXT NOT NULL UNIQUE, data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS holding (
    symbol TEXT PRIMARY KEY, qty TEXT NOT NULL, avg_cost TEXT NOT NULL, realized_pnl TEXT NOT NULL
);
"""


class StateFileError(RuntimeError):
    """A state file that cannot be used (another account's, a newer schema, not SQLite)."""


@dataclass
class SavedState:
    """Everything a state file holds, as the gateway keeps it in memory."""

    account: str
    cash: Decimal
    next_perm_id: int
    exec_prefix: int
    exec_seq: int  # the last exec-id sequence number used
    highest_order_ids: dict[int, int] = field(default_factory=dict)
    con_ids: dict[str, int] = field(default_factory=dict)
    orders: list[IbOrder] = field(default_factory=list)  # in placing order
    executions: list[tuple[IbExecution, IbCommission]] = field(default_factory=list)
    holdings: dict[str, Holding] = field(default_factory=dict)


def saved_seed(path: str | Path) -> int | None:
    """The market seed a state file keeps (None: no file, or none kept), read before the
    gateway starts its market so a restarted gateway shows the same market."""
    if not Path(path).exists():
        return None
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            row = db.execute("SELECT value FROM meta WHERE key = 'seed'").fetchone()
    except sqlite3.DatabaseError:
        return None  # not a state file (yet): opening it says so clearly later
    return int(row[0]) if row else None


class StateFile:
    """One open state file; see the module docstring."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
        except (OSError, sqlite3.DatabaseError) as exc:
            raise StateFileError(f"{self.path}: not a usable state file ({exc})") from exc
        self._meta: dict[str, str] = {}
        self._clients: dict[int, int] = {}
        self._con_ids: dict[str, int] = {}
        self._orders: dict[int, IbOrder] = {}
        self._executions: list[tuple[int, IbExecution, IbCommission]] = []
        self._holdings: dict[str, Holding] = {}

    # -- reading ---------------------------------------------------------------------------

    def load(self) -> SavedState | None:
        """What the file holds, or None for a new (empty) file."""
        db = self._db
        meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
        if not meta:
            return None
        if meta.get("schema") != SCHEMA_VERSION:
            raise StateFileError(
                f"{self.path}: state file schema {meta.get('schema')!r}, this gateway-sim "
                f"reads {SCHEMA_VERSION!r}"
            )
        orders = [
            _decode(IbOrder, json.loads(data))
            for (data,) in db.execute("SELECT data FROM ib_order ORDER BY rowid")
        ]
        executions = []
        for (data,) in db.execute("SELECT data FROM execution ORDER BY seq"):
            row = json.loads(data)
            executions.append(
                (_decode(IbExecution, row["execution"]), _decode(IbCommission, row["commission"]))
            )
        holdings = {
            symbol: Holding(Decimal(qty), Decimal(avg), Decimal(realized))
            for symbol, qty, avg, realized in db.execute(
                "SELECT symbol, qty, avg_cost, realized_pnl FROM holding"
            )
        }
        return SavedState(
            account=meta["account"],
            cash=Decimal(meta["cash"]),
            next_perm_id=int(meta["next_perm_id"]),
            exec_prefix=int(meta["exec_prefix"]),
            exec_seq=int(meta["exec_seq"]),
            highest_order_ids=dict(db.execute("SELECT client_id, highest_order_id FROM client")),
            con_ids=dict(db.execute("SELECT symbol, con_id FROM con_id")),
            orders=orders,
            executions=executions,
            holdings=holdings,
        )

    # -- changes -----------------------------------------------------------------------------

    def save_meta(self, **values: object) -> None:
        self._meta.update({key: str(value) for key, value in values.items()})

    def save_client(self, client_id: int, highest_order_id: int) -> None:
        self._clients[client_id] = highest_order_id

    def save_con_id(self, symbol: str, con_id: int) -> None:
        self._con_ids[symbol] = con_id

    def save_order(self, order: IbOrder) -> None:
        """Remember `order` as it is when the next flush runs (it may change until then)."""
        self._orders[order.perm_id] = order

    def save_execution(self, seq: int, execution: IbExecution, report: IbCommission) -> None:
        self._executions.append((seq, execution, report))

    def save_holding(self, symbol: str, holding: Holding) -> None:
        self._holdings[symbol] = holding

    @property
    def dirty(self) -> bool:
        """Whether changes wait for `flush()`."""
        return bool(
            self._meta
            or self._clients
            or self._con_ids
            or self._orders
            or self._executions
            or self._holdings
        )

    def flush(self) -> None:
        """Write the changes saved since the last flush, in one transaction."""
        if not self.dirty:
            return
        db = self._db
        db.execute("BEGIN")
        try:
            if self._meta:
                db.executemany(
                    "INSERT INTO meta (key, value) VALUES (?, ?)"
                    " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    self._meta.items(),
                )
            if self._clients:
                db.executemany(
                    "INSERT INTO client (client_id, highest_order_id) VALUES (?, ?)"
                    " ON CONFLICT (client_id) DO UPDATE"
                    " SET highest_order_id = excluded.highest_order_id",
                    self._clients.items(),
                )
            if self._con_ids:
                db.executemany(
                    "INSERT OR IGNORE INTO con_id (symbol, con_id) VALUES (?, ?)",
                    self._con_ids.items(),
                )
            if self._orders:
                db.executemany(
                    "INSERT INTO ib_order (perm_id, data) VALUES (?, ?)"
                    " ON CONFLICT (perm_id) DO UPDATE SET data = excluded.data",
                    [(perm, _dump(order)) for perm, order in self._orders.items()],
                )
            if self._executions:
                db.executemany(
                    "INSERT INTO execution (seq, exec_id, data) VALUES (?, ?, ?)",
                    [
                        (
                            seq,
                            e.exec_id,
                            _dumps({"execution": _encode(e), "commission": _encode(r)}),
                        )
                        for seq, e, r in self._executions
                    ],
                )
            if self._holdings:
                db.executemany(
                    "INSERT INTO holding (symbol, qty, avg_cost, realized_pnl) VALUES (?, ?, ?, ?)"
                    " ON CONFLICT (symbol) DO UPDATE SET qty = excluded.qty,"
                    " avg_cost = excluded.avg_cost, realized_pnl = excluded.realized_pnl",
                    [
                        (symbol, str(h.qty), str(h.avg_cost), str(h.realized_pnl))
                        for symbol, h in self._holdings.items()
                    ],
                )
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        self._meta.clear()
        self._clients.clear()
        self._con_ids.clear()
        self._orders.clear()
        self._executions.clear()
        self._holdings.clear()

    def close(self) -> None:
        """Write what is pending and close the file."""
        self.flush()
        self._db.close()


# -- (de)serialisation of the model's dataclasses --------------------------------------------


def _plain(value: object) -> object:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _encode(value)
    return value


def _encode(obj: Any) -> dict[str, object]:
    """A model dataclass as JSON-ready values (decimals and times as text)."""
    return {f.name: _plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}


def _dumps(value: object) -> str:
    return json.dumps(value, separators=(",", ":"))


def _dump(order: IbOrder) -> str:
    return _dumps(_encode(order))


_T = typing.TypeVar("_T")
_HINTS: dict[type, dict[str, Any]] = {}


def _decode(cls: type[_T], data: dict[str, Any]) -> _T:
    """A model dataclass back from `_encode`'s values; unknown keys are ignored."""
    hints = _HINTS.get(cls)
    if hints is None:
        hints = _HINTS[cls] = typing.get_type_hints(cls)
    values = {name: _typed(hints[name], value) for name, value in data.items() if name in hints}
    return cls(**values)


def _typed(kind: Any, value: Any) -> Any:
    if value is None:
        return None
    if isinstance(kind, types.UnionType) or typing.get_origin(kind) is typing.Union:
        kind = next(arg for arg in typing.get_args(kind) if arg is not type(None))
    if kind is Decimal:
        return Decimal(value)
    if kind is datetime:
        return datetime.fromisoformat(value)
    if kind is IbContract:
        return _decode(IbContract, value)
    if typing.get_origin(kind) is tuple:  # JSON keeps tuples (order conditions) as lists
        return tuple(tuple(item) if isinstance(item, list) else item for item in value)
    return value
