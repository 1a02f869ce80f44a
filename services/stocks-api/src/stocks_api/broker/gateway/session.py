"""One client connection of gateway-sim: framing, handshake, pacing, dispatch.

A `Session` reads the client's framed messages (`wire.py`), agrees a server version in
the handshake, answers more than IB's 50 messages a second with error 100, and hands each
request to the handler its message id names in the table it was given (`handlers.py`).
Nothing is served before startApi names the clientId. It sends through the faults in force
(`faults.py`): during an outage messages are lost, with a delay they wait.

The session knows the gateway only as a `GatewayBackend`, so another backend can serve
the same protocol over the same sessions and handlers.
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Protocol

import structlog

from stocks_api.broker.gateway import encoders
from stocks_api.broker.gateway.backend import GatewayBackend
from stocks_api.broker.gateway.codes import (
    BAD_MESSAGE,
    MAX_RATE_EXCEEDED,
    UNKNOWN_MESSAGE,
    UNSUPPORTED_VERSION,
)
from stocks_api.broker.gateway.faults import Faults
from stocks_api.broker.gateway.wire import (
    HANDSHAKE_PREFIX,
    Fields,
    ProtocolViolationError,
    encode,
    parse_version_range,
    read_message,
    split_fields,
)
from stocks_api.broker.protocol import Quote

log = structlog.get_logger(__name__)

MIN_CLIENT_VERSION = 176
MAX_SERVER_VERSION = 178  # from 201 on the protocol turns to protobuf
MAX_MESSAGES_PER_SECOND = 50  # IB's pacing limit for messages a client sends
START_API = 71  # the one request served before the client has named its clientId

MAX_MARKET_DATA_LINES = 100  # IB's default market data lines: more get error 101

# A request handler: the session it came on and its fields after the message id.
Handler = Callable[["Session", Fields], Awaitable[None]]


class Stream(Protocol):
    """A streaming subscription (`streams.py`), updated on each of the gateway's ticks."""

    async def tick(self, session: Session) -> None: ...


class Session:
    """One client connection; see the module docstring."""

    def __init__(
        self,
        backend: GatewayBackend[Session],
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        handlers: Mapping[int, Handler],
        faults: Faults,
    ) -> None:
        self.backend = backend
        self.reader = reader
        self.writer = writer
        self.version = MAX_SERVER_VERSION
        self.client_id: int | None = None
        self.account_updates = False
        self.positions_subscribed = False
        self.market_data: dict[int, str] = {}  # req id -> symbol of a streaming subscription
        self.generic_ticks: dict[int, frozenset[str]] = {}  # req id -> its genericTickList
        self.market_data_type = 1  # reqMarketDataType: 1 live, 2 frozen, 3 delayed, 4 both
        self.streams: dict[int, Stream] = {}  # req id -> the other streaming subscriptions
        self._rt_volume: dict[int, Decimal] = {}  # req id -> day volume last told (RTVolume)
        self.discarded = False  # aborted by a restart: nothing more it sent is acted on
        self._handlers = handlers
        self._faults = faults
        self._arrivals: collections.deque[float] = collections.deque()

    # -- sending ---------------------------------------------------------------------------

    def send(self, fields: list[str], *, through_outage: bool = False) -> None:
        """Send one message, after the state file has everything it tells of; during an
        outage it is dropped (lost, as at IB) unless it goes `through_outage`."""
        self.backend.flush_state()
        if self._faults.outage and not through_outage:
            return
        data = encode(fields)
        delay = self._faults.delay_seconds
        if delay > 0:
            asyncio.get_running_loop().call_later(delay, self._write, data, through_outage)
        else:
            self._write(data, through_outage)

    def _write(self, data: bytes, through_outage: bool) -> None:
        if self._faults.outage and not through_outage:
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
        self.generic_ticks.clear()
        self._rt_volume.clear()
        self.streams.clear()
        self.account_updates = False
        self.positions_subscribed = False

    def send_portfolio(self) -> None:
        """The account updates: every account value, every position, the time."""
        backend = self.backend
        for value in backend.account_values():
            self.send(
                encoders.update_account_value(
                    value.tag, value.value, value.currency, backend.account
                )
            )
        for position in backend.positions():
            self.send(encoders.update_portfolio(position, self.version))
        self.send(encoders.update_account_time(datetime.now(UTC).strftime("%H:%M")))

    def send_quote(self, req_id: int, quote: Quote) -> None:
        """The quote's ticks: bid, ask, last and volume (IB's delayed tick types 66-68, 74
        when the data is delayed), and the generic ticks the request asked for."""
        delayed = self.backend.delayed_data
        bid, ask, last, volume = (66, 67, 68, 74) if delayed else (1, 2, 4, 8)
        self.send(encoders.tick_price(req_id, bid, quote.bid, quote.bid_size))
        self.send(encoders.tick_price(req_id, ask, quote.ask, quote.ask_size))
        self.send(encoders.tick_price(req_id, last, quote.last, None))
        self.send(encoders.tick_size(req_id, volume, quote.volume))
        generic = self.generic_ticks.get(req_id, frozenset())
        if "233" in generic:
            self._send_rt_volume(req_id, quote)
        if "236" in generic:
            # Shortable (generic tick 46): above 2.5 means at least 1000 shares to borrow.
            self.send(encoders.tick_generic(req_id, 46, Decimal(3)))

    def _send_rt_volume(self, req_id: int, quote: Quote) -> None:
        """RTVolume (tick string 48: last;size;time in ms;day volume;VWAP;single trade), on
        the first quote and then when something traded: the size is what traded since the
        last one sent on this request (ticks may gather several trades: not single)."""
        before = self._rt_volume.get(req_id)
        self._rt_volume[req_id] = quote.volume
        size = max(quote.volume - (before or 0), Decimal(0)) if before is not None else 0
        if before is not None and size == 0:
            return
        millis = int(quote.ts.timestamp() * 1000)
        vwap = self.backend.day_vwap(quote.symbol)
        text = f"{quote.last};{size};{millis};{quote.volume};{vwap};false"
        self.send(encoders.tick_string(req_id, 48, text))

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
            self.writer.write(encode(encoders.error(-1, UNSUPPORTED_VERSION, message)))
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
            self.backend.note_pacing_violation()
            self.error(
                -1,
                MAX_RATE_EXCEEDED,
                "Max rate of messages per second has been exceeded:"
                f"max={MAX_MESSAGES_PER_SECOND} rec={len(arrivals)} (1)",
            )

    async def _dispatch(self, fields: list[str]) -> None:
        if not fields:
            return
        if self.backend.pacing:
            self._check_pace()
        reader = Fields(fields)
        message_id = reader.int()
        if self.client_id is None and message_id != START_API:
            return  # nothing is served before startApi
        handler = self._handlers.get(message_id)
        if handler is None:
            # IB's answer to a message id it does not know; the connection stays.
            log.info("gateway_unknown_message", message_id=message_id)
            self.error(-1, UNKNOWN_MESSAGE, f"Fatal Error: Unknown message id {message_id}.")
            return
        try:
            await handler(self, reader)
        except ProtocolViolationError as exc:
            # A request whose fields cannot be read: IB's 320, and the session goes on.
            log.info("gateway_bad_request", message_id=message_id, why=str(exc))
            self.error(-1, BAD_MESSAGE, f"Error reading request: message id {message_id}: {exc}")
        self.backend.flush_state()  # what the request changed, even when nothing was sent
