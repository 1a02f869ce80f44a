"""gateway-sim's control port: its fault injection driven by lines of text, for manual checks.

A tiny line-based server on the loopback interface only (anything else is refused). Each
command line is answered with one line, `ok ...` or `error ...`; bad input gets an `error`
answer and the server carries on:

    drop                      close every client connection (as a gateway restart would)
    refuse SECONDS            refuse new connections for SECONDS (0..3600; 0 ends it)
    reject CODE [MESSAGE...]  the next order fails with IB error CODE (a positive integer)
    delay SECONDS             hold every outgoing message SECONDS (0..3600; 0 ends it)
    lose                      the next order is lost on the way: never traded, never answered
    mute                      the next order trades, but its client hears nothing of it
                              (until it reconnects and the order is replayed)
    connectivity CODE         send IB's 1100 (lost), 1101 or 1102 (restored) to every client
                              (the message only; `outage` makes IB unreachable as well)
    outage SECONDS [CODE]     IB unreachable for SECONDS (0..3600): 1100 to every client, then
                              every message to clients is lost and every order, modification
                              and cancel they send never reaches the engine (which trades on),
                              then CODE: 1102 (data maintained, the default) or 1101 (data
                              lost: streaming subscriptions dropped); again: ends SECONDS
                              from now instead
    outage start              the same, until `outage end`
    outage end [CODE]         end the outage now with 1102 (the default) or 1101
    restart SECONDS           IB Gateway's daily restart: drop every client, refuse
                              connections for SECONDS (0..3600), come back with the state
                              (reloaded from the state file when there is one)
    book                      `ok {json}`: gateway-sim's own books, every order, execution,
                              position and the cash (for a fault campaign to count against)
    status                    `ok {json}`: connected client ids, the faults in force, whether
                              an outage is in force (and when it ends), a restart under way,
                              the state file
    help                      the commands

`stocks-api gateway-ctl COMMAND...` sends one command; `nc 127.0.0.1 4003` works as well.
Tests call `GatewaySim`'s own methods (`drop_connections()`, `outage()`, `restart()`,
`book()`, ...) instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import structlog

if TYPE_CHECKING:
    from stocks_api.broker.gateway.server import GatewaySim

log = structlog.get_logger(__name__)

CONTROL_HOST = "127.0.0.1"
DEFAULT_CONTROL_PORT = 4003
MAX_SECONDS = 3600.0
MAX_CODE = 2**31 - 1  # an IB error code travels as a 32-bit int
MAX_LINE = 4096
CONNECTIVITY_CODES = (1100, 1101, 1102)
OUTAGE_END_CODES = (1101, 1102)
MAX_ANSWER = 64 * 1024 * 1024  # `book` is one line however many orders it lists
HELP = (
    "commands: drop | refuse SECONDS | reject CODE [MESSAGE...] | delay SECONDS | lose"
    " | mute | connectivity 1100|1101|1102 | outage SECONDS [1101|1102] | outage start"
    " | outage end [1101|1102] | restart SECONDS | book | status | help"
)
_DECIMAL = re.compile(r"[0-9]+(\.[0-9]*)?|\.[0-9]+")


class CommandError(ValueError):
    """A command that cannot be carried out; its text is the reason given in the answer."""


def _shown(text: str) -> str:
    """`text` quoted for an answer line: escaped (so on one line) and cut short."""
    return repr(text if len(text) <= 40 else text[:40] + "...")


def _seconds(text: str) -> float:
    if not _DECIMAL.fullmatch(text):
        raise CommandError(f"SECONDS must be a number of seconds, not {_shown(text)}")
    seconds = float(text)
    if seconds > MAX_SECONDS:
        raise CommandError(f"SECONDS must be 0..{MAX_SECONDS:g}, not {text}")
    return seconds


def _code(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or not 0 < int(text) <= MAX_CODE:
        raise CommandError(f"CODE must be a positive integer, not {_shown(text)}")
    return int(text)


def _end_code(args: list[str]) -> int:
    """The optional code an outage ends with (1102 when none is given)."""
    if not args:
        return 1102
    if len(args) > 1 or args[0] not in {str(code) for code in OUTAGE_END_CODES}:
        raise CommandError(f"an outage ends with 1101 or 1102, not {_shown(' '.join(args))}")
    return int(args[0])


def _arguments(name: str, args: list[str], wanted: int) -> list[str]:
    if len(args) != wanted:
        usage = {0: "takes no arguments", 1: "takes one argument"}[wanted]
        raise CommandError(f"{name} {usage}; try help")
    return args


class ControlServer:
    """The control port of one `GatewaySim`; see the module docstring."""

    def __init__(
        self, gateway: GatewaySim, *, host: str = CONTROL_HOST, port: int = DEFAULT_CONTROL_PORT
    ) -> None:
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            raise ValueError(f"the control port listens on loopback addresses only, not {host!r}")
        self.gateway = gateway
        self.host = host
        self.port = port
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._commands: dict[str, Callable[[list[str]], str]] = {
            "drop": self._drop,
            "refuse": self._refuse,
            "reject": self._reject,
            "delay": self._delay,
            "lose": self._lose,
            "mute": self._mute,
            "connectivity": self._connectivity,
            "outage": self._outage,
            "restart": self._restart,
            "book": self._book,
            "status": self._status,
            "help": self._help,
        }

    async def start(self) -> None:
        """Listen (port 0: a spare one, then in `port`)."""
        self._server = await asyncio.start_server(self._serve, self.host, self.port, limit=MAX_LINE)
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("gateway_control_listening", host=self.host, port=self.port)

    async def close(self) -> None:
        """Stop listening and close the open control connections."""
        if self._server is None:
            return
        self._server.close()
        for writer in list(self._writers):
            writer.close()
        with contextlib.suppress(Exception):
            await self._server.wait_closed()
        self._server = None

    def execute(self, line: str) -> str:
        """Carry out one command line; the answer, `ok ...` or `error ...`, on one line."""
        line = line.strip()
        if not line.isprintable():
            return "error control characters are not allowed"
        words = line.split()
        if not words:
            return "error empty command; try help"
        name, args = words[0].lower(), words[1:]
        command = self._commands.get(name)
        if command is None:
            return f"error unknown command {_shown(words[0])}; try help"
        try:
            answer = command(args)
        except CommandError as exc:
            return f"error {exc}"
        except Exception as exc:  # the control port outlives any mistake of ours
            log.exception("gateway_control_failed", command=name)
            return f"error {name} failed: {type(exc).__name__}"
        if name not in ("status", "help", "book"):
            log.info("gateway_control", command=name, args=args)
        return f"ok {answer}"

    # -- the commands ------------------------------------------------------------------------

    def _drop(self, args: list[str]) -> str:
        _arguments("drop", args, 0)
        clients = self.gateway.client_ids
        self.gateway.drop_connections()
        return f"dropped every connection (clients {clients})"

    def _refuse(self, args: list[str]) -> str:
        seconds = _seconds(*_arguments("refuse", args, 1))
        self.gateway.refuse_connections(seconds)
        return f"refusing new connections for {seconds:g} s"

    def _reject(self, args: list[str]) -> str:
        if not args:
            raise CommandError("reject takes CODE [MESSAGE...]; try help")
        code = _code(args[0])
        self.gateway.reject_next_order(code, " ".join(args[1:]))
        return f"the next order gets error {code}"

    def _delay(self, args: list[str]) -> str:
        seconds = _seconds(*_arguments("delay", args, 1))
        self.gateway.delay_responses(seconds)
        return f"delaying every message by {seconds:g} s"

    def _lose(self, args: list[str]) -> str:
        _arguments("lose", args, 0)
        self.gateway.lose_next_orders(1)
        return "the next order will be lost on the way"

    def _mute(self, args: list[str]) -> str:
        _arguments("mute", args, 0)
        self.gateway.mute_next_orders(1)
        return "the next order will trade unannounced"

    def _connectivity(self, args: list[str]) -> str:
        [text] = _arguments("connectivity", args, 1)
        if text not in {str(code) for code in CONNECTIVITY_CODES}:
            raise CommandError(f"CODE must be 1100, 1101 or 1102, not {_shown(text)}")
        clients = self.gateway.client_ids
        self.gateway.announce_connectivity(int(text))
        return f"sent {text} to clients {clients}"

    def _outage(self, args: list[str]) -> str:
        if not args:
            raise CommandError("outage takes SECONDS [1101|1102], start or end [1101|1102]")
        gateway = self.gateway
        clients = gateway.client_ids
        if args[0].lower() == "start":
            _arguments("outage start", args[1:], 0)
            if gateway.in_outage:
                raise CommandError("an outage is in force already")
            gateway.start_outage()
            return f"sent 1100 to clients {clients}; IB unreachable until outage end"
        if args[0].lower() == "end":
            code = _end_code(args[1:])
            if not gateway.in_outage:
                raise CommandError("no outage is in force")
            gateway.end_outage(code)
            return f"sent {code} to clients {clients}"
        seconds = _seconds(args[0])
        code = _end_code(args[1:])
        again = gateway.in_outage
        gateway.outage(seconds, code)
        started = "outage goes on" if again else f"sent 1100 to clients {clients}"
        return f"{started}; {code} in {seconds:g} s"

    def _restart(self, args: list[str]) -> str:
        seconds = _seconds(*_arguments("restart", args, 1))
        if self.gateway.restarting:
            raise CommandError("a restart is under way")
        clients = self.gateway.client_ids
        self.gateway.restart(seconds)
        kept = "reloaded from the state file" if self.gateway.state_file else "kept in memory"
        return f"restarting: dropped clients {clients}, back in {seconds:g} s, state {kept}"

    def _book(self, args: list[str]) -> str:
        _arguments("book", args, 0)
        return json.dumps(self.gateway.book(), separators=(",", ":"))

    def _status(self, args: list[str]) -> str:
        _arguments("status", args, 0)
        gateway = self.gateway
        faults = gateway.faults
        reject = faults.reject_next
        now = time.monotonic()
        ends_at = faults.outage_ends_at if faults.outage else None
        return json.dumps(
            {
                "port": gateway.port,
                "clients": gateway.client_ids,
                "refusing_seconds": round(max(faults.refuse_until - now, 0.0), 3),
                "reject_next": None
                if reject is None
                else {"code": reject[0], "message": reject[1]},
                "delay_seconds": faults.delay_seconds,
                "lose_next": faults.lose_next,
                "mute_next": faults.mute_next,
                "outage": faults.outage,
                "outage_ends_in_seconds": None
                if ends_at is None
                else round(max(ends_at - now, 0.0), 3),
                "outage_end_code": faults.outage_code if ends_at is not None else None,
                "restarting": gateway.restarting,
                "state_file": None if gateway.state_file is None else str(gateway.state_file),
            }
        )

    def _help(self, args: list[str]) -> str:
        return HELP

    # -- connections -------------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while True:
                try:
                    raw = await reader.readline()
                except ValueError:  # no newline within MAX_LINE bytes
                    writer.write(f"error a line is at most {MAX_LINE} bytes\n".encode())
                    await writer.drain()
                    return
                if not raw:
                    return
                try:
                    answer = self.execute(raw.decode())
                except UnicodeDecodeError:
                    answer = "error the line is not UTF-8 text"
                writer.write(answer.encode() + b"\n")
                await writer.drain()
        except ConnectionError:
            return
        finally:
            self._writers.discard(writer)
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()


async def send_command(
    line: str, *, port: int = DEFAULT_CONTROL_PORT, host: str = CONTROL_HOST, timeout: float = 5.0
) -> str:
    """Send one command line to a control port and return its one-line answer."""
    if "\n" in line or "\r" in line:
        raise ValueError("a command is one line")
    async with asyncio.timeout(timeout):
        reader, writer = await asyncio.open_connection(host, port, limit=MAX_ANSWER)
        try:
            writer.write(line.encode() + b"\n")
            await writer.drain()
            answer = await reader.readline()
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
    if not answer.endswith(b"\n"):
        raise ConnectionError("the control port closed without an answer")
    return answer.decode(errors="replace").rstrip("\r\n")
