"""IbkrBroker: the `BrokerClient` over ib_async, for IB Gateway, TWS or our gateway-sim.

ib_async's events are turned into ours by `mapping` and handed to the sink: order
statuses, and each fill once its commission report is in (so a fill always carries its
commission). Every call uses ib_async's `*Async` API under a timeout that raises our
typed errors. When the connection drops, it reconnects with backoff and jitter; after
every (re)connect, executions, open and completed orders are replayed to the sink, which
applies them idempotently (fills by execution id), so a fill made while disconnected is
recorded exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Awaitable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar

import structlog
from ib_async import IB, Fill, Trade

from stocks_api.broker.ib import mapping
from stocks_api.broker.protocol import (
    AccountType,
    Bar,
    BarInterval,
    BrokerAccount,
    BrokerRejectedError,
    BrokerTimeoutError,
    BrokerUnavailableError,
    ConnectionInfo,
    Contract,
    EventSink,
    OrderChange,
    OrderRequest,
    Quote,
)
from stocks_api.core import metrics
from stocks_api.core.config import IbSettings

log = structlog.get_logger(__name__)

T = TypeVar("T")
BACKOFF_FIRST_SECONDS = 0.5


class IbkrBroker:
    """The broker over the TWS socket API; see the module docstring."""

    kind = "ibkr"

    def __init__(self, settings: IbSettings, *, timeout: float) -> None:
        self._settings = settings
        self._timeout = timeout
        self._ib = IB()
        self._sink: EventSink | None = None
        self._closing = False
        self._connected_at: datetime | None = None
        self._last_reconnect_at: datetime | None = None
        self._reconnect: asyncio.Task[None] | None = None
        self._contracts: dict[str, Any] = {}
        self._trades: dict[str, Trade] = {}  # broker order id -> the trade
        self._ib.orderStatusEvent += self._on_status
        self._ib.commissionReportEvent += self._on_commission
        self._ib.disconnectedEvent += self._on_disconnected

    # -- connection ------------------------------------------------------------------------

    @property
    def is_connected(self) -> bool:
        return bool(self._ib.isConnected())

    async def connect(self, sink: EventSink) -> None:
        """Connect, then replay what the broker knows (see the module docstring)."""
        self._sink = sink
        self._closing = False
        await self._connect_once()

    async def _connect_once(self) -> None:
        settings = self._settings
        try:
            await self._ib.connectAsync(
                settings.host,
                settings.port,
                clientId=settings.client_id,
                timeout=settings.connect_timeout_seconds,
                account=settings.account,
            )
        except (OSError, TimeoutError, ConnectionError) as exc:
            metrics.BROKER_CONNECTED.set(0)
            raise BrokerUnavailableError(
                f"cannot reach IB at {settings.host}:{settings.port}: {exc or type(exc).__name__}"
            ) from exc
        self._connected_at = datetime.now(UTC)
        metrics.BROKER_CONNECTED.set(1)
        log.info(
            "ibkr_connected",
            host=settings.host,
            port=settings.port,
            server_version=self._ib.client.serverVersion(),
        )
        await self._reconcile()

    async def _reconcile(self) -> None:
        """Replay open and completed orders and executions through the sink."""
        await self._call(self._ib.reqCompletedOrdersAsync(False))
        for trade in self._ib.trades():  # the open ones included
            self._remember(trade)
            self._on_status(trade)
        for fill in await self._call(self._ib.reqExecutionsAsync()):
            known = self._trade_of(fill)
            if known is not None:
                self._emit_fill(known, fill)

    def _on_disconnected(self) -> None:
        metrics.BROKER_CONNECTED.set(0)
        if self._closing or self._reconnect is not None:
            return
        log.warning("ibkr_disconnected")
        self._reconnect = asyncio.get_running_loop().create_task(self._reconnect_forever())

    async def _reconnect_forever(self) -> None:
        backoff = BACKOFF_FIRST_SECONDS
        try:
            while not self._closing:
                # Jitter: several API processes do not hammer the gateway in step.
                await asyncio.sleep(backoff * random.uniform(0.5, 1.5))  # noqa: S311
                try:
                    await self._connect_once()
                except Exception as exc:  # keep trying whatever went wrong
                    log.warning("ibkr_reconnect_failed", error=str(exc))
                    backoff = min(backoff * 2, self._settings.reconnect_max_seconds)
                    continue
                metrics.BROKER_RECONNECTS.inc()
                self._last_reconnect_at = datetime.now(UTC)
                log.info("ibkr_reconnected")
                return
        finally:
            self._reconnect = None

    def connection_info(self) -> ConnectionInfo:
        version = self._ib.client.serverVersion() if self.is_connected else None
        return ConnectionInfo(
            kind=self.kind,
            host=self._settings.host,
            port=self._settings.port,
            server_version=None if version is None else str(version),
            connected_at=self._connected_at,
            last_reconnect_at=self._last_reconnect_at,
        )

    async def close(self) -> None:
        self._closing = True
        task, self._reconnect = self._reconnect, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._ib.disconnect()
        metrics.BROKER_CONNECTED.set(0)

    # -- reading ---------------------------------------------------------------------------

    async def accounts(self) -> list[BrokerAccount]:
        self._require_connection()
        found = []
        for account_id in self._ib.managedAccounts():
            values = {
                v.tag: v.value
                for v in self._ib.accountValues(account_id)
                if v.currency in ("USD", "BASE", "")
            }
            account_type = (
                AccountType.CASH
                if values.get("AccountType", "").upper() == "CASH"
                else AccountType.MARGIN
            )
            cash = Decimal(values.get("TotalCashValue") or values.get("CashBalance") or "0")
            found.append(BrokerAccount(account_id, account_type, "USD", cash))
        return found

    async def contract(self, symbol: str) -> Contract | None:
        details = await self._call(self._ib.reqContractDetailsAsync(mapping.stock(symbol)))
        if not details:
            return None
        detail = details[0]
        if detail.contract is None:
            return None
        self._contracts[symbol] = detail.contract
        increment = (
            Decimal(str(detail.sizeIncrement or 1)).normalize()
            if detail.sizeIncrement
            else Decimal(1)
        )
        return Contract(
            symbol=symbol,
            currency=detail.contract.currency or "USD",
            tick_size=Decimal(str(detail.minTick)).normalize(),
            qty_increment=increment,
        )

    async def get_quote(self, symbol: str) -> Quote:
        contract = await self._qualified(symbol)
        [ticker] = await self._call(self._ib.reqTickersAsync(contract))

        def number(value: float | None) -> Decimal:
            return Decimal(str(value)) if value is not None and value == value else Decimal(0)

        return Quote(
            symbol=symbol,
            bid=number(ticker.bid),
            ask=number(ticker.ask),
            last=number(ticker.last) or number(ticker.close),
            bid_size=number(ticker.bidSize),
            ask_size=number(ticker.askSize),
            volume=number(ticker.volume),
            ts=ticker.time or datetime.now(UTC),
        )

    async def get_bars(
        self, symbol: str, interval: BarInterval, *, limit: int, end: datetime | None = None
    ) -> list[Bar]:
        contract = await self._qualified(symbol)
        bars = await self._call(
            self._ib.reqHistoricalDataAsync(
                contract,
                endDateTime=end.astimezone(UTC).strftime("%Y%m%d %H:%M:%S UTC") if end else "",
                durationStr=mapping.duration_for(interval, limit),
                barSizeSetting=mapping.BAR_SIZES[interval][0],
                whatToShow="TRADES",
                useRTH=False,
            )
        )
        return [mapping.bar(b) for b in bars][-limit:]

    async def open_order_ids(self) -> set[str]:
        await self._call(self._ib.reqAllOpenOrdersAsync())
        return {t.order.orderRef for t in self._ib.openTrades() if t.order.orderRef}

    async def ping(self) -> float:
        loop = asyncio.get_running_loop()
        started = loop.time()
        await self._call(self._ib.reqCurrentTimeAsync())
        return loop.time() - started

    # -- orders ------------------------------------------------------------------------------

    async def place_order(self, order: OrderRequest) -> str:
        contract = await self._qualified(order.symbol)
        trade = self._ib.placeOrder(contract, mapping.ib_order(order))
        self._remember(trade)
        metrics.BROKER_ORDERS_SENT.inc()
        return str(trade.order.orderId)

    async def place_bracket(
        self, parent: OrderRequest, children: Sequence[OrderRequest]
    ) -> list[str]:
        contract = await self._qualified(parent.symbol)
        head = mapping.ib_order(parent, order_id=self._ib.client.getReqId())
        head.transmit = False
        orders = [head]
        for index, child in enumerate(children):
            ib_child = mapping.ib_order(
                child, order_id=self._ib.client.getReqId(), parent_id=head.orderId
            )
            ib_child.transmit = index == len(children) - 1  # the last one sends them all
            orders.append(ib_child)
        ids = []
        for ib_order in orders:
            trade = self._ib.placeOrder(contract, ib_order)
            self._remember(trade)
            ids.append(str(trade.order.orderId))
        metrics.BROKER_ORDERS_SENT.inc(len(orders))
        return ids

    async def modify_order(self, broker_order_id: str, change: OrderChange) -> None:
        trade = self._working(broker_order_id)
        self._ib.placeOrder(trade.contract, mapping.changed_order(trade.order, change))

    async def cancel_order(self, broker_order_id: str) -> None:
        trade = self._working(broker_order_id)
        self._ib.cancelOrder(trade.order)

    # -- events ------------------------------------------------------------------------------

    def _on_status(self, trade: Trade) -> None:
        if self._sink is None or not trade.order.orderRef:
            return  # not ours (placed by another program through the same gateway)
        self._remember(trade)
        update = mapping.status_update(trade, datetime.now(UTC))
        if update is not None:
            if update.status.value == "rejected":
                metrics.BROKER_ORDER_ERRORS.labels(reason="rejected").inc()
            self._sink(update)

    def _on_commission(self, trade: Trade, fill: Fill, report: Any) -> None:
        self._emit_fill(trade, fill)

    def _emit_fill(self, trade: Trade, fill: Fill) -> None:
        if self._sink is None or not (trade.order.orderRef or fill.execution.orderRef):
            return
        account = self._settings.account or next(iter(self._ib.managedAccounts()), "")
        self._sink(mapping.execution(trade, fill, account))

    # -- helpers -----------------------------------------------------------------------------

    def _remember(self, trade: Trade) -> None:
        if trade.order.orderId:
            self._trades[str(trade.order.orderId)] = trade

    def _trade_of(self, fill: Fill) -> Trade | None:
        trade = self._trades.get(str(fill.execution.orderId))
        if trade is not None:
            return trade
        return next((t for t in self._ib.trades() if t.order.permId == fill.execution.permId), None)

    def _working(self, broker_order_id: str) -> Trade:
        self._require_connection()
        trade = self._trades.get(broker_order_id)
        if trade is None or trade.isDone():
            raise BrokerRejectedError(f"order {broker_order_id} is not working at IB")
        return trade

    async def _qualified(self, symbol: str) -> Any:
        contract = self._contracts.get(symbol)
        if contract is not None:
            return contract
        if await self.contract(symbol) is None:
            raise BrokerRejectedError(f"IB does not know {symbol}")
        return self._contracts[symbol]

    def _require_connection(self) -> None:
        if not self.is_connected:
            raise BrokerUnavailableError("not connected to IB")

    async def _call(self, call: Awaitable[T]) -> T:
        self._require_connection()
        try:
            async with asyncio.timeout(self._timeout):
                return await call
        except TimeoutError as exc:
            raise BrokerTimeoutError(f"IB did not answer within {self._timeout:g} s") from exc
        except ConnectionError as exc:
            raise BrokerUnavailableError(str(exc)) from exc
