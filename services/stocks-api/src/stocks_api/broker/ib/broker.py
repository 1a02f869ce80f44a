"""IbkrBroker: the `BrokerClient` over ib_async, for IB Gateway, TWS or our gateway-sim.

ib_async's events are turned into ours by `mapping` and handed to the sink: order
statuses, and each fill once its commission report is in (so a fill always carries its
commission). Every call uses ib_async's `*Async` API under a timeout that raises our
typed errors. When the connection drops, it reconnects with backoff and jitter; after
every (re)connect, executions, open and completed orders are replayed to the sink, which
applies them idempotently (fills by execution id), so a fill made while disconnected is
recorded exactly once.

IB Gateway may keep the socket open while it has lost IB itself: it then sends 1100, and
1101 (restored, data lost) or 1102 (restored, data maintained) when IB is back. Between
the two nothing placed reaches IB and nothing IB does is reported, so the link counts as
down (`is_connected` False: orders are refused before they are written), and on 1101/1102
the same replay runs as after a reconnect. Every change of the link goes to the sink as
a `LinkEvent`, after the replay it caused.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from functools import partial
from typing import Any, TypeVar

import structlog
from aiolimiter import AsyncLimiter
from ib_async import IB, Fill, Trade

from stocks_api.broker.ib import codes, mapping
from stocks_api.broker.ib.quotes import QuoteLines, quote_of
from stocks_api.broker.ib.retention import FinishedTrades
from stocks_api.broker.ib.settings import IbSettings
from stocks_api.broker.protocol import (
    AccountType,
    Bar,
    BarInterval,
    BrokerAccount,
    BrokerNotSentError,
    BrokerRejectedError,
    BrokerTimeoutError,
    BrokerUnavailableError,
    ConnectionInfo,
    Contract,
    EventSink,
    LinkEvent,
    LinkState,
    OrderChange,
    OrderRequest,
    Quote,
)
from stocks_api.core import metrics

log = structlog.get_logger(__name__)

T = TypeVar("T")
BACKOFF_FIRST_SECONDS = 0.5
PACING_SLOTS = 10  # the throttle's window: a tenth of a second
FIRST_TICK_SECONDS = 2.0  # a new quote line that sends nothing in this time is given up


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
        self._contracts: dict[str, Any] = {}  # symbol -> ib_async's qualified contract
        self._contract_details: dict[str, Contract] = {}  # symbol -> ours, asked once
        self._trades: dict[str, Trade] = {}  # broker order id -> the trade
        self._finished = FinishedTrades(self._ib, self._trades)  # forgets old finished ones
        self._answers: dict[int, asyncio.Future[None]] = {}  # IB order id -> its next answer
        self._modifying: dict[int, str] = {}  # IB order id -> its status before the change
        self._ping: asyncio.Future[Any] | None = None
        self._last_execution: datetime | None = None  # the newest execution seen, IB's time
        self._unreachable_since: datetime | None = None  # IB lost behind an open socket (1100)
        self._disconnected_at: datetime | None = None
        self._restoring: asyncio.Task[None] | None = None
        # IB's pacing limit (50 messages a second), kept in tenths of a second rather than
        # whole seconds (a burst of a whole second's worth, then another a second later,
        # could land inside one second at IB), and awaited before a message is written:
        # ib_async's own throttle would queue a message and report it sent, and drop the
        # queue when the connection goes, losing orders it had said were on their way.
        self._pace = AsyncLimiter(
            max(1, settings.max_messages_per_second // PACING_SLOTS), 1 / PACING_SLOTS
        )
        self._ib.client.MaxRequests = 0  # ib_async's throttle off: ours comes first
        self._quote_lines = QuoteLines(
            self._ib,
            pace=self._pace.acquire,
            max_lines=settings.max_quote_lines,
            first_tick_seconds=min(FIRST_TICK_SECONDS, timeout / 2),
        )
        self._ib.orderStatusEvent += self._on_status
        self._ib.commissionReportEvent += self._on_commission
        self._ib.disconnectedEvent += self._on_disconnected
        self._ib.errorEvent += self._on_error
        # ib_async copies only some fields of an updated openOrder onto its trade, not a
        # trailing stop's level; read that from the message itself.
        self._ib_open_order = self._ib.wrapper.openOrder
        self._ib.wrapper.openOrder = self._on_open_order  # type: ignore[method-assign,assignment]

    # -- connection ------------------------------------------------------------------------

    @property
    def is_connected(self) -> bool:
        """Whether orders can reach IB now: the socket is up and IB Gateway has IB (no 1100)."""
        return self._socket_up and self._unreachable_since is None

    @property
    def _socket_up(self) -> bool:
        return bool(self._ib.isConnected())

    @property
    def link_state(self) -> LinkState:
        if not self._socket_up:
            return LinkState.DISCONNECTED
        if self._unreachable_since is not None:
            return LinkState.IB_UNREACHABLE
        return LinkState.CONNECTED

    async def connect(self, sink: EventSink) -> None:
        """Connect, then replay what the broker knows (see the module docstring)."""
        self._sink = sink
        self._closing = False
        await self._connect_once()

    async def _connect_once(self, *, reconnect: bool = False) -> None:
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
        metrics.BROKER_CONNECTED.set(int(self.is_connected))
        server_version = self._ib.client.serverVersion()
        log.info(
            "ibkr_connected", host=settings.host, port=settings.port, server_version=server_version
        )
        if self._unreachable_since is None:
            await self._reconcile()
        # else IB Gateway answered 1100 at once (it has not reached IB yet): the replay
        # runs when IB is there (1101/1102), and until then the link is not usable.
        self._disconnected_at = None
        self._emit_link(
            LinkState.CONNECTED, reconnect=reconnect, server_version=str(server_version)
        )

    async def _reconcile(self) -> None:
        """Replay open and completed orders and executions through the sink.

        Executions are asked for since shortly before the newest one this process has
        seen (all of IB's, at start); the consumer ignores those it already has.
        """
        await self._call(lambda: self._ib.reqCompletedOrdersAsync(False))
        trades = self._ib.trades()  # the open ones included
        # This connection's trades are the index now: those of the connection before (other
        # objects, which ib_async dropped with it) would only be kept forever.
        self._trades.clear()
        self._finished.reset()
        for trade in trades:
            self._remember(trade)
            self._on_status(trade)
        wanted = mapping.executions_since(self._last_execution)
        for fill in await self._call(lambda: self._ib.reqExecutionsAsync(wanted)):
            known = self._trade_of(fill)
            if known is not None:
                self._emit_fill(known, fill)

    def _on_disconnected(self) -> None:
        metrics.BROKER_CONNECTED.set(0)
        self._quote_lines.reset()  # the subscriptions ended with the socket
        # What IB said about its own link ended with the socket; a new socket starts afresh.
        unreachable_since, self._unreachable_since = self._unreachable_since, None
        metrics.BROKER_IB_UNREACHABLE.set(0)
        if self._closing or self._reconnect is not None:
            return
        now = datetime.now(UTC)
        # The link has been down since the outage that preceded the drop, if there was one.
        self._disconnected_at = min(now, unreachable_since or now)
        log.warning("ibkr_disconnected")
        self._emit_link(LinkState.DISCONNECTED, reason="socket_drop")
        self._reconnect = asyncio.get_running_loop().create_task(self._reconnect_forever())

    def _on_error(self, req_id: int, code: int, message: str, contract: Any) -> None:
        if code == codes.IB_LOST:
            if self._unreachable_since is None:
                self._unreachable_since = datetime.now(UTC)
                metrics.BROKER_CONNECTED.set(0)
                metrics.BROKER_IB_UNREACHABLE.set(1)
                metrics.BROKER_IB_OUTAGES.inc()
                log.warning("ibkr_ib_unreachable", code=code, message=message)
                self._emit_link(LinkState.IB_UNREACHABLE, reason=f"IB {code}: {message}")
        elif code in (codes.IB_RESTORED_DATA_LOST, codes.IB_RESTORED) and (
            self._restoring is None or self._restoring.done()
        ):
            self._restoring = asyncio.get_running_loop().create_task(
                self._restore(data_lost=code == codes.IB_RESTORED_DATA_LOST)
            )

    async def _restore(self, *, data_lost: bool) -> None:
        """IB is back behind the open socket: replay what happened in the gap, then trade on.

        With 1101 (data lost) the account subscription is made again, and the quote lines
        are forgotten (the next quote of each symbol opens its line again).
        """
        down_since, self._unreachable_since = self._unreachable_since, None
        metrics.BROKER_IB_UNREACHABLE.set(0)
        log.info("ibkr_ib_restored", data_lost=data_lost, down_since=down_since)
        if data_lost:
            self._quote_lines.reset()
        delay = BACKOFF_FIRST_SECONDS
        account = self._settings.account or next(iter(self._ib.managedAccounts()), "")
        while True:
            try:
                if data_lost:
                    await self._call(partial(self._ib.reqAccountUpdatesAsync, account))
                    await self._call(self._ib.reqPositionsAsync)
                await self._reconcile()
                break
            except Exception as exc:
                if not self.is_connected:
                    # Dropped (the reconnect replays) or lost again (the next 1101/1102 does).
                    log.warning("ibkr_restore_replay_failed", error=str(exc))
                    return
                # IB slow to answer after its outage: the gap's fills must not be skipped.
                log.warning("ibkr_restore_replay_retry", error=str(exc), seconds=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._settings.reconnect_max_seconds)
        metrics.BROKER_CONNECTED.set(int(self.is_connected))
        self._emit_link(
            LinkState.CONNECTED,
            restored=True,
            data_lost=data_lost,
            server_version=str(self._ib.client.serverVersion()),
        )

    def _emit_link(self, state: LinkState, **fields: Any) -> None:
        if self._sink is None:
            return
        account = self._settings.account or next(iter(self._ib.managedAccounts()), None)
        self._sink(LinkEvent(state, datetime.now(UTC), account_id=account, **fields))

    async def _reconnect_forever(self) -> None:
        backoff = BACKOFF_FIRST_SECONDS
        try:
            while not self._closing:
                # Jitter: several API processes do not hammer the gateway in step.
                await asyncio.sleep(backoff * random.uniform(0.5, 1.5))  # noqa: S311
                try:
                    await self._connect_once(reconnect=True)
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
            state=self.link_state,
            state_since=self._unreachable_since or self._disconnected_at or self._connected_at,
        )

    async def close(self) -> None:
        self._closing = True
        for task in (self._reconnect, self._restoring):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._reconnect = self._restoring = None
        self._unreachable_since = None
        metrics.BROKER_IB_UNREACHABLE.set(0)
        self._ib.disconnect()
        self._quote_lines.reset()
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
        known = self._contract_details.get(symbol)
        if known is not None:
            return known  # a contract's terms do not change within a session
        details = await self._call(lambda: self._ib.reqContractDetailsAsync(mapping.stock(symbol)))
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
        found = Contract(
            symbol=symbol,
            currency=detail.contract.currency or "USD",
            tick_size=Decimal(str(detail.minTick)).normalize(),
            qty_increment=increment,
        )
        self._contract_details[symbol] = found
        return found

    async def get_quote(self, symbol: str) -> Quote:
        contract = await self._qualified(symbol)
        if self._settings.max_quote_lines:
            self._require_connection()
            try:
                async with asyncio.timeout(self._timeout):
                    quote = await self._quote_lines.quote(symbol, contract)
            except TimeoutError as exc:
                raise BrokerTimeoutError(f"IB did not answer within {self._timeout:g} s") from exc
            except ConnectionError as exc:
                raise BrokerUnavailableError(f"not connected to IB: {exc}") from exc
            if quote is not None:
                return quote
        # No line (off, or IB sent nothing on it): one snapshot, as IB answers it.
        [ticker] = await self._call(lambda: self._ib.reqTickersAsync(contract))
        return quote_of(symbol, ticker)

    async def get_bars(
        self, symbol: str, interval: BarInterval, *, limit: int, end: datetime | None = None
    ) -> list[Bar]:
        contract = await self._qualified(symbol)
        bars = await self._call(
            lambda: self._ib.reqHistoricalDataAsync(
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
        # What IB lists in its answer, not ib_async's own trades: those include orders it
        # sent that IB never received (lost on the way), still "PendingSubmit" locally.
        listed = await self._call(self._ib.reqAllOpenOrdersAsync)
        return {t.order.orderRef for t in listed if t.order.orderRef and not t.isDone()}

    async def resync(self) -> None:
        await self._reconcile()

    async def positions(self) -> dict[tuple[str, str], Decimal] | None:
        found: dict[tuple[str, str], Decimal] = {}
        for position in await self._call(self._ib.reqPositionsAsync):
            if position.contract.secType != "STK" or not position.position:
                continue
            key = (position.account, position.contract.symbol)
            found[key] = found.get(key, Decimal(0)) + Decimal(str(position.position))
        return found

    async def ping(self) -> float:
        # ib_async keeps one pending currentTime request: concurrent pings share it.
        if self._ping is None or self._ping.done():
            self._ping = asyncio.ensure_future(self._call(self._ib.reqCurrentTimeAsync))
        loop = asyncio.get_running_loop()
        started = loop.time()
        await asyncio.shield(self._ping)
        return loop.time() - started

    # -- orders ------------------------------------------------------------------------------

    async def place_order(self, order: OrderRequest) -> str:
        contract = await self._qualified_before_sending(order.symbol)
        await self._paced_before_sending(1)
        trade = self._send(lambda: self._ib.placeOrder(contract, mapping.ib_order(order)))
        self._remember(trade)
        await self._answered([trade])
        return str(trade.order.orderId)

    async def place_bracket(
        self, parent: OrderRequest, children: Sequence[OrderRequest]
    ) -> list[str]:
        contract = await self._qualified_before_sending(parent.symbol)
        head = mapping.ib_order(parent, order_id=self._ib.client.getReqId())
        head.transmit = False
        orders = [head]
        for index, child in enumerate(children):
            ib_child = mapping.ib_order(
                child, order_id=self._ib.client.getReqId(), parent_id=head.orderId
            )
            ib_child.transmit = index == len(children) - 1  # the last one sends them all
            orders.append(ib_child)
        await self._paced_before_sending(len(orders))  # then all of it at once
        ids: list[str] = []
        trades: list[Trade] = []
        for ib_order in orders:
            try:
                trade = self._send(partial(self._ib.placeOrder, contract, ib_order))
            except BrokerNotSentError as exc:
                if not trades:
                    raise  # nothing of the bracket left: it may be sent again
                # Part of it is at IB Gateway (held, untransmitted): its fate is IB's.
                raise BrokerTimeoutError(
                    f"the connection dropped after {len(trades)} of {len(orders)} orders"
                    " of the bracket were sent"
                ) from exc
            self._remember(trade)
            ids.append(str(trade.order.orderId))
            trades.append(trade)
        await self._answered(trades)
        return ids

    async def modify_order(self, broker_order_id: str, change: OrderChange) -> None:
        self._working(broker_order_id)
        await self._paced_before_sending(1)
        # Looked up again: the order may have ended during the wait (a cancel or a fill that
        # won the race), and ib_async's placeOrder asserts on a done trade.
        trade = self._working(broker_order_id)
        self._modifying[trade.order.orderId] = trade.orderStatus.status
        changed = mapping.changed_order(trade.order, change)
        self._send(lambda: self._ib.placeOrder(trade.contract, changed))
        await self._answered([trade])

    async def cancel_order(self, broker_order_id: str) -> None:
        trade = self._working(broker_order_id)
        await self._paced_before_sending(1)
        self._send(lambda: self._ib.cancelOrder(trade.order))
        await self._answered([trade])

    # -- events ------------------------------------------------------------------------------

    def _on_status(self, trade: Trade) -> None:
        if trade.orderStatus.status in codes.AWAITING_IB:
            pass
        elif self._refused_change(trade):
            return  # the order works on unchanged: nothing to tell the sink
        else:
            self._answer(trade.order.orderId, None)
        if self._sink is None or not trade.order.orderRef:
            return  # not ours (placed by another program through the same gateway)
        self._remember(trade)
        changing = trade.order.orderId in self._modifying
        update = mapping.status_update(trade, datetime.now(UTC), changing=changing)
        if update is not None:
            self._sink(update)  # a rejection is counted by the consumer, as for every broker
        self._finished.consider(trade)

    def _on_commission(self, trade: Trade, fill: Fill, report: Any) -> None:
        self._emit_fill(trade, fill)
        self._finished.consider(trade)  # its last fill may have been this one

    def _emit_fill(self, trade: Trade, fill: Fill) -> None:
        if self._sink is None or not (trade.order.orderRef or fill.execution.orderRef):
            return
        account = self._settings.account or next(iter(self._ib.managedAccounts()), "")
        at = mapping.aware(fill.execution.time)
        if self._last_execution is None or at > self._last_execution:
            self._last_execution = at
        self._sink(mapping.execution(trade, fill, account, received=datetime.now(UTC)))

    def _on_open_order(self, order_id: int, contract: Any, order: Any, state: Any) -> None:
        self._ib_open_order(order_id, contract, order, state)
        trade = self._trades.get(str(order.orderId))
        if trade is None or order.orderType != "TRAIL" or trade.isDone():
            return
        if trade.order.trailStopPrice != order.trailStopPrice:
            trade.order.trailStopPrice = order.trailStopPrice
            # The stop moved: tell the sink, unless IB's answer to our change (which
            # carries the level) is what comes next.
            if order.orderId not in self._modifying:
                self._on_status(trade)

    def _refused_change(self, trade: Trade) -> bool:
        """Whether this status is IB refusing a modification (then undo ib_async's "Cancelled").

        IB answers a refused change with an error for the order, which ib_async takes for
        the order's end (or, for the codes it deems warnings, such as 110 for a price off
        the minimum price variation, marks "ValidationError"); but the order keeps
        working unchanged at IB.
        """
        before = self._modifying.pop(trade.order.orderId, None)
        last = trade.log[-1] if trade.log else None
        if before is None or last is None:
            return False
        status = trade.orderStatus.status
        refused = status == "Cancelled" or (
            status == codes.VALIDATION_ERROR and last.errorCode in codes.REFUSED_CHANGE_WARNINGS
        )
        if not refused:
            return False
        if last.errorCode in (0, codes.ORDER_CANCELLED_CODE):
            return False  # a real cancellation
        trade.orderStatus.status = before
        self._answer(trade.order.orderId, BrokerRejectedError(last.message))
        return True

    def _answer(self, order_id: int, refusal: BrokerRejectedError | None) -> None:
        answer = self._answers.pop(order_id, None)
        if answer is None or answer.done():
            return
        if refusal is None:
            answer.set_result(None)
        else:
            answer.set_exception(refusal)

    # -- helpers -----------------------------------------------------------------------------

    async def _answered(self, trades: Sequence[Trade]) -> None:
        """Wait (at most IB_ACK_TIMEOUT_SECONDS) for IB's next answer about each of `trades`.

        The answer's events reach the sink before this returns, so the caller's response
        shows IB's verdict. Without an answer in time the order stays as it is (for a new
        one, pending_submit) and IB's answer arrives later as an event.
        """
        limit = self._settings.ack_timeout_seconds
        if limit <= 0:
            return
        loop = asyncio.get_running_loop()
        waits = {
            t.order.orderId: self._answers.setdefault(t.order.orderId, loop.create_future())
            for t in trades
        }
        try:
            async with asyncio.timeout(limit):
                await asyncio.gather(*waits.values())
        except TimeoutError:
            log.warning("ibkr_no_answer", order_ids=sorted(waits), seconds=limit)
        finally:
            for order_id, answer in waits.items():
                if self._answers.get(order_id) is answer:
                    del self._answers[order_id]

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

    async def _paced_before_sending(self, messages: int) -> None:
        """Wait for IB's pacing to allow `messages` more; too long a wait sends nothing.

        Half the broker timeout at most, so the caller's own timeout (which would leave the
        order's fate unknown) never strikes while it only waited here.
        """
        try:
            async with asyncio.timeout(self._timeout / 2):
                for _ in range(messages):
                    await self._pace.acquire()
        except TimeoutError as exc:
            raise BrokerNotSentError(
                f"IB's pacing limit ({self._settings.max_messages_per_second} messages a"
                " second) held the request too long; nothing was sent"
            ) from exc

    async def _qualified_before_sending(self, symbol: str) -> Any:
        """The contract of an order about to be sent; unreachable here means nothing was sent."""
        self._require_connection()
        try:
            return await self._qualified(symbol)
        except BrokerNotSentError:
            raise
        except BrokerUnavailableError as exc:
            raise BrokerNotSentError(str(exc)) from exc

    async def _qualified(self, symbol: str) -> Any:
        contract = self._contracts.get(symbol)
        if contract is not None:
            return contract
        if await self.contract(symbol) is None:
            raise BrokerRejectedError(f"IB does not know {symbol}")
        return self._contracts[symbol]

    def _require_connection(self) -> None:
        state = self.link_state
        if state is LinkState.IB_UNREACHABLE:
            raise BrokerNotSentError(
                "IB Gateway is connected but has lost its connection to IB (1100)"
            )
        if state is not LinkState.CONNECTED:
            raise BrokerNotSentError("not connected to IB")

    async def _call(self, request: Callable[[], Awaitable[T]]) -> T:
        """Make an ib_async request under the timeout, with our typed errors.

        `request` is called here, not by the caller: ib_async raises "Not connected" as
        soon as a request is made on a dropped connection, before anything is awaited.
        """
        self._require_connection()
        try:
            async with asyncio.timeout(self._timeout):
                await self._pace.acquire()
                self._require_connection()  # the link may have gone while waiting
                return await request()
        except TimeoutError as exc:
            raise BrokerTimeoutError(f"IB did not answer within {self._timeout:g} s") from exc
        except ConnectionError as exc:
            raise BrokerUnavailableError(f"not connected to IB: {exc}") from exc

    def _send(self, action: Callable[[], T]) -> T:
        """Send an order message (placeOrder, cancelOrder), with our typed errors."""
        self._require_connection()
        try:
            return action()
        except ConnectionError as exc:  # dropped since the check; ib_async wrote nothing
            raise BrokerNotSentError(f"not connected to IB: {exc}") from exc
