"""Fault campaign: nothing lost, duplicated or stuck when the link to IB breaks mid-burst.

For every fault and run it clones a fresh PostgreSQL database from one migrated template
(which holds the campaign's API key), starts gateway-sim (`stocks-api gateway-sim` with a
control port and a `--state-file`) and the API on it (`stocks-api serve`, BROKER=ibkr),
both as subprocesses on loopback ports, and fires a burst of orders of mixed types at a
fixed concurrency, each with its own `client_order_id`: market orders, limits that fill,
limits that rest, stops, a few brackets, and a few cancels of resting orders. Once a
third of the burst is under way (`--inject-at`) it injects the fault:

- `drop`: gateway-sim closes every connection and refuses new ones for `--fault-seconds`;
- `outage-1102`, `outage-1101`: IB Gateway loses IB behind the open socket (1100: every
  message withheld while the engine trades on) for `--fault-seconds`, then 1102 (data
  maintained) or 1101 (data lost);
- `gateway-kill`: gateway-sim is SIGKILLed and started again `--fault-seconds` later on the
  same ports and state file (IB keeps its books across a restart);
- `api-kill`: the API is SIGKILLed and started again at once (as a supervisor would);
- `both-kill`: both at once; the API is started again at once (and again whenever it exits
  on its own, as `restart: unless-stopped` would), gateway-sim `--fault-seconds` later.

Every request that got no answer (a transport error, a timeout), a 503 (nothing was
sent) or a 504 (fate unknown: a retry answers the order's state) is retried with the same
`client_order_id` and body, with exponential backoff, for at most `--retry-seconds`. Once
the API is ready again with its broker link up (the recovery time is measured from the
fault), the campaign waits until no order is in a transitional state (pending_submit,
pending_cancel, unsent), at most `--settle-seconds` after the recovery, and then counts,
against gateway-sim's own books (its control port's `book`):

- acked, not at IB: orders (bracket legs too) answered 201/200 with a status that says
  the broker has them (not rejected, and not pending_submit or unsent, which say it has
  not acknowledged them yet) that IB has no order for (orderRef = client_order_id); an
  order answered pending_submit must instead be settled by reconciliation (else "stuck");
- at IB, not in API: orders at IB whose orderRef no API order has;
- duplicated: a client_order_id twice at IB or twice in the API;
- fills missing / fills doubled: executions at IB (by exec id) the API has not stored, or
  stored on another order or with another quantity; fills the API has that IB does not
  (or once more), and orders whose filled quantity differs from IB's;
- positions differ: symbols whose quantity in GET /api/v1/positions differs from IB's;
- status differs: orders in both whose API status does not match IB's (filled/Filled,
  cancelled/Cancelled, rejected/Inactive, working/Submitted);
- stuck: orders still pending_submit, pending_cancel or unsent when the settling ended;
- unanswered: requests that had no definite answer when their retries ran out;
- refused: orders answered with a 4xx (every order of the burst passes the risk checks, so
  a refusal is a defect, e.g. a 422 for want of a price while the link is down), and
  cancels answered with a 4xx other than 409 (the order had ended meanwhile).

The comparison is taken between two identical reads of the books (nothing traded in
between), and repeated for a few seconds while it finds differences, so a fill on its way
is not counted. Every count should be 0 in every run. The table, with the recovery time
and the outage the API itself recorded (GET /api/v1/broker/sessions), is printed and
appended to bench/RESULTS.md with the date, commit, machine and settings.

Run: ``make bench`` or ``.venv/bin/python bench/faults.py --help``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import itertools
import json
import os
import platform
import random
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections import Counter
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from _common import (
    REPO,
    RESULTS_FILE,
    command_line,
    cpu_model,
    free_port,
    git_commit,
    inherited_settings,
    memory_gb,
    package_version,
    positive_int,
    record,
)

from stocks_api.broker.gateway.control import send_command

VENV_BIN = Path(sys.executable).parent
CLI = str(VENV_BIN / "stocks-api")
HOST = "127.0.0.1"
IB_CLIENT_ID = 1
# Every order prices the symbols held (the risk checks), one IB request each, within IB's
# pacing: three symbols keep a burst short.
SYMBOLS = ("AAPL", "MSFT", "NVDA")
# The API settings this bench sets itself (others are inherited and reported).
SET_BY_BENCH = (
    "DATABASE_URL",
    "BROKER",
    "IB_HOST",
    "IB_PORT",
    "IB_CLIENT_ID",
    "LOG_LEVEL",
    "AUTH_BOOTSTRAP_ADMIN_KEY",
)
# The market is open around the clock, and the order-rate limits are off (they cap orders
# at IBKR's pacing, which the adapter's own throttle keeps anyway), unless the
# environment says otherwise; every other risk check runs.
DEFAULT_ENV = {
    "SESSION_TIMEZONE": "UTC",
    "SESSION_OPEN": "00:00",
    "SESSION_CLOSE": "24:00",
    "SESSION_DAYS": "mon-sun",
    "SESSION_EXCHANGE": "none",
    "RISK_MAX_ORDERS_PER_SECOND": "",
    "RISK_MAX_ORDERS_PER_MINUTE": "",
}
REPORTED_PACKAGES = ("fastapi", "uvicorn", "sqlalchemy", "asyncpg", "ib_async", "httpx")

REQUEST_TIMEOUT_SECONDS = 15.0
RETRY_FIRST_SECONDS = 0.25
RETRY_MAX_SECONDS = 3.0
START_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 15.0
RECOVERY_TIMEOUT_SECONDS = 120.0
POLL_SECONDS = 0.1
COMPARE_SECONDS = 10.0
SUPERVISOR_DELAY_SECONDS = 1.0
DETAILS_SHOWN = 8

# Answers after which a request is not retried: placed or replayed, or refused for good.
DEFINITE = frozenset({200, 201, 400, 401, 403, 404, 409, 422})
TRANSITIONAL = frozenset({"pending_submit", "pending_cancel", "unsent"})
# Answers that do not claim the broker has the order (rejected: it has not; pending_submit
# and unsent: not yet known, or never sent).
NOT_ACKED = frozenset({"rejected", "pending_submit", "unsent"})
WORKING = frozenset({"pending_submit", "submitted", "partially_filled"})
# IB's status for each final or working API status (a book order's `status`).
IB_STATUS = {
    "submitted": {"Submitted", "PreSubmitted"},
    "partially_filled": {"Submitted", "PreSubmitted"},
    "filled": {"Filled"},
    "cancelled": {"Cancelled"},
    "expired": {"Cancelled"},
    "rejected": {"Inactive"},
}


# -- command line --------------------------------------------------------------------------


@dataclass(frozen=True)
class Fault:
    """One kind of failure the campaign injects."""

    name: str
    label: str
    description: str


FAULTS = {
    fault.name: fault
    for fault in (
        Fault("drop", "socket drop", "connections dropped, refused for the fault's seconds"),
        Fault("outage-1102", "IB outage 1100→1102", "1100, messages withheld, then 1102"),
        Fault("outage-1101", "IB outage 1100→1101", "1100, messages withheld, then 1101"),
        Fault("gateway-kill", "gateway SIGKILL", "SIGKILL, restarted on its state file"),
        Fault("api-kill", "API SIGKILL", "SIGKILL, restarted at once"),
        Fault("both-kill", "both SIGKILL", "API and gateway SIGKILLed together"),
    )
}


def fault_list(text: str) -> list[str]:
    """argparse type: comma-separated fault names (or `all`)."""
    if text.strip() == "all":
        return list(FAULTS)
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in FAULTS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown faults {unknown}; choose from {', '.join(FAULTS)} or all"
        )
    return names


def seconds(text: str) -> float:
    """argparse type: a non-negative number of seconds."""
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be at least 0, got {value}")
    return value


def fraction(text: str) -> float:
    """argparse type: a fraction strictly between 0 and 1."""
    value = float(text)
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {value}")
    return value


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Read the command line."""
    parser = argparse.ArgumentParser(
        description="Fault campaign: bursts of orders through BROKER=ibkr and gateway-sim while"
        " the link breaks; counts what was lost, duplicated or stuck against IB's own books."
    )
    parser.add_argument(
        "--faults",
        type=fault_list,
        default=list(FAULTS),
        help=f"comma-separated, from: {', '.join(FAULTS)} (default: all)",
    )
    parser.add_argument("--runs", type=positive_int, default=3, help="runs per fault")
    parser.add_argument("--orders", type=positive_int, default=200, help="orders per burst")
    parser.add_argument("--concurrency", type=positive_int, default=16, help="requests in flight")
    parser.add_argument(
        "--fault-seconds",
        type=seconds,
        default=3.0,
        help="how long a drop refuses connections, an IB outage lasts, a killed gateway stays down",
    )
    parser.add_argument(
        "--inject-at",
        type=fraction,
        default=1 / 3,
        help="inject the fault once this share of the burst has been sent",
    )
    parser.add_argument(
        "--retry-seconds",
        type=seconds,
        default=120.0,
        help="how long one request is retried before it counts as unanswered",
    )
    parser.add_argument(
        "--settle-seconds",
        type=seconds,
        default=30.0,
        help="orders still transitional this long after the recovery count as stuck",
    )
    parser.add_argument(
        "--admin-dsn",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="PostgreSQL database to connect to when creating and dropping the run databases",
    )
    parser.add_argument(
        "--log-level",
        choices=("DEBUG", "INFO", "WARNING", "ERROR"),
        default="WARNING",
        help="LOG_LEVEL of both servers (their logs are kept when a count is not 0)",
    )
    parser.add_argument(
        "--keep-logs",
        action="store_true",
        help="keep the servers' logs (always kept when a count is not 0)",
    )
    parser.add_argument(
        "--record",
        action=argparse.BooleanOptionalAction,
        default=True,
        help=f"append the results to {RESULTS_FILE.relative_to(REPO)}",
    )
    return parser.parse_args(argv)


# -- processes -----------------------------------------------------------------------------


class Service:
    """A server subprocess that can be killed, restarted and (optionally) supervised."""

    def __init__(self, name: str, command: list[str], env: dict[str, str], workdir: Path) -> None:
        self.name = name
        self.command = command
        self.env = env
        self.workdir = workdir
        self.log_path = workdir / f"{name}.log"
        self.process: asyncio.subprocess.Process | None = None
        self.starts = 0
        self.unexpected_exits = 0
        self._killed: set[int] = set()
        self._running = asyncio.Event()
        self._stopping = False
        self._supervisor: asyncio.Task[None] | None = None

    @property
    def pid(self) -> int | None:
        return None if self.process is None else self.process.pid

    async def start(self) -> None:
        """Start the process (its output appended to its log)."""
        with self.log_path.open("ab") as log:
            log.write(f"--- start {self.starts + 1} at {_now_text()}\n".encode())
            log.flush()
            self.process = await asyncio.create_subprocess_exec(
                *self.command,
                cwd=self.workdir,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.starts += 1
        self._running.set()

    def kill(self) -> None:
        """SIGKILL: no shutdown, no last words."""
        process = self.process
        if process is None or process.returncode is not None:
            return
        self._killed.add(process.pid)
        self._running.clear()
        process.kill()

    def supervise(self) -> None:
        """Start it again whenever it exits on its own (not killed by us, not stopped)."""
        self._supervisor = asyncio.create_task(self._watch(), name=f"supervise-{self.name}")

    async def _watch(self) -> None:
        while not self._stopping:
            process = self.process
            assert process is not None
            await process.wait()
            if self._stopping:
                return
            if process.pid in self._killed:
                await self._running.wait()  # the fault starts it again
                continue
            if process is not self.process:
                continue
            self.unexpected_exits += 1
            print(f"    {self.name} exited with {process.returncode}; starting it again")
            await asyncio.sleep(SUPERVISOR_DELAY_SECONDS)
            if not self._stopping:
                await self.start()

    async def stop(self) -> None:
        """SIGTERM, then SIGKILL after STOP_TIMEOUT_SECONDS."""
        self._stopping = True
        if self._supervisor is not None:
            self._supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._supervisor
        process = self.process
        if process is None or process.returncode is not None:
            return
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), STOP_TIMEOUT_SECONDS)
        except TimeoutError:
            process.kill()
            await process.wait()

    def log_tail(self, lines: int = 30) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""


def _now_text() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


@dataclass
class Ports:
    """Where the servers of a run listen (kept across restarts)."""

    api: int
    gateway: int
    control: int


class Servers:
    """gateway-sim and the API of one run."""

    def __init__(
        self, workdir: Path, database_url: str, ports: Ports, *, log_level: str = "WARNING"
    ) -> None:
        self.ports = ports
        base = {**DEFAULT_ENV, **os.environ, "LOG_LEVEL": log_level}
        gateway_env = {**base}
        self.gateway = Service(
            "gateway",
            [
                CLI,
                "gateway-sim",
                "--port",
                str(ports.gateway),
                "--control-port",
                str(ports.control),
                "--state-file",
                str(workdir / "gateway-state.sqlite"),
            ],
            gateway_env,
            workdir,
        )
        api_env = {
            **base,
            "DATABASE_URL": database_url,
            "BROKER": "ibkr",
            "IB_HOST": HOST,
            "IB_PORT": str(ports.gateway),
            "IB_CLIENT_ID": str(IB_CLIENT_ID),
            "AUTH_BOOTSTRAP_ADMIN_KEY": "false",
        }
        self.api = Service(
            "api", [CLI, "serve", "--host", HOST, "--port", str(ports.api)], api_env, workdir
        )

    async def control(self, command: str, *, timeout: float = 10.0) -> str:
        """Send gateway-sim a control command; return what follows `ok`."""
        answer = await send_command(command, port=self.ports.control, timeout=timeout)
        if not answer.startswith("ok"):
            raise RuntimeError(f"gateway-sim answered {command!r} with {answer!r}")
        return answer[3:]

    async def book(self) -> dict[str, Any]:
        """gateway-sim's own books."""
        book: dict[str, Any] = json.loads(await self.control("book", timeout=30))
        return book

    async def wait_gateway(self) -> None:
        """Until gateway-sim answers on its control port (it listens on its TWS port first)."""
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while True:
            process = self.gateway.process
            if process is not None and process.returncode is not None:
                raise RuntimeError(f"gateway-sim exited:\n{self.gateway.log_tail()}")
            with contextlib.suppress(OSError, TimeoutError, RuntimeError):
                await self.control("status", timeout=1)
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"gateway-sim did not start:\n{self.gateway.log_tail()}")
            await asyncio.sleep(POLL_SECONDS)

    async def wait_api(self, http: httpx.AsyncClient) -> None:
        """Until the API is ready (database and broker up)."""
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not await api_recovered(http):
            process = self.api.process
            if process is not None and process.returncode is not None and not self.api.starts:
                raise RuntimeError(f"the API exited:\n{self.api.log_tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the API did not get ready:\n{self.api.log_tail()}")
            await asyncio.sleep(POLL_SECONDS)

    async def stop(self) -> None:
        await self.api.stop()
        await self.gateway.stop()


async def api_recovered(http: httpx.AsyncClient) -> bool:
    """Whether the API is ready (/health/ready) and says its broker link is connected."""
    try:
        ready = await http.get("/health/ready", timeout=1.0)
        if ready.status_code != 200:
            return False
        broker = await http.get("/api/v1/broker", timeout=1.0)
        return broker.status_code == 200 and broker.json().get("connected") is True
    except (httpx.HTTPError, ValueError):
        return False


# -- databases -----------------------------------------------------------------------------


def database_dsn(admin_dsn: str, name: str) -> str:
    """The DSN of database `name` on the server of `admin_dsn` (same user, host, options)."""
    return urllib.parse.urlsplit(admin_dsn)._replace(path=f"/{name}").geturl()


def async_url(dsn: str) -> str:
    return dsn.replace("postgresql://", "postgresql+asyncpg://", 1)


async def admin_execute(admin_dsn: str, sql: str) -> None:
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def postgres_version(admin_dsn: str) -> str:
    conn = await asyncpg.connect(admin_dsn)
    try:
        version: str = await conn.fetchval("SHOW server_version")
    finally:
        await conn.close()
    return version


async def run_cli(env: dict[str, str], workdir: Path, *args: str) -> str:
    process = await asyncio.create_subprocess_exec(
        CLI, *args, cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    output, _ = await asyncio.wait_for(process.communicate(), 120)
    if process.returncode != 0:
        raise RuntimeError(f"stocks-api {' '.join(args)} failed:\n{output.decode()}")
    return output.decode()


@dataclass
class Template:
    """A migrated database with the campaign's API key; every run gets a clone of it."""

    admin_dsn: str
    name: str
    api_key: str

    @classmethod
    async def create(cls, admin_dsn: str, workdir: Path) -> Template:
        name = f"stocks_faults_{secrets.token_hex(4)}"
        await admin_execute(admin_dsn, f'CREATE DATABASE "{name}"')
        template = cls(admin_dsn, name, "")
        env = {**os.environ, "DATABASE_URL": async_url(database_dsn(admin_dsn, name))}
        env["LOG_LEVEL"] = "WARNING"
        await run_cli(env, workdir, "migrate")
        output = await run_cli(
            env, workdir, "create-api-key", "--name", "faults", "--scopes", "read,trade"
        )
        template.api_key = output.strip().splitlines()[-1]
        return template

    @contextlib.asynccontextmanager
    async def clone(self, label: str) -> AsyncIterator[str]:
        """A fresh database for one run (its async URL), dropped afterwards."""
        name = f"{self.name}_{label}"
        await admin_execute(self.admin_dsn, f'CREATE DATABASE "{name}" TEMPLATE "{self.name}"')
        try:
            yield async_url(database_dsn(self.admin_dsn, name))
        finally:
            await admin_execute(self.admin_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    async def drop(self) -> None:
        await admin_execute(self.admin_dsn, f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


# -- the burst -----------------------------------------------------------------------------


CENT = Decimal("0.01")


def _price(value: Decimal) -> str:
    return str(value.quantize(CENT, rounding=ROUND_HALF_UP))


# The order slots of a block of 20: 8 market, 4 limits that fill at once, 5 limits that
# rest (far from the market), 2 stops (far from it), 1 bracket whose entry fills and whose
# legs rest; the resting limits of slots 2 and 10 are cancelled a few slots later.
BLOCK = (
    ("market", "buy"),
    ("limit_fill", "buy"),
    ("rest", "buy"),
    ("market", "sell"),
    ("stop", "buy"),
    ("limit_fill", "sell"),
    ("rest", "sell"),
    ("market", "buy"),
    ("bracket", "buy"),
    ("market", "sell"),
    ("rest", "buy"),
    ("limit_fill", "buy"),
    ("stop", "sell"),
    ("market", "buy"),
    ("rest", "sell"),
    ("market", "sell"),
    ("limit_fill", "sell"),
    ("market", "buy"),
    ("rest", "buy"),
    ("market", "sell"),
)
CANCELS = {9: 2, 17: 10}  # after slot 9 cancel slot 2's order, after slot 17 slot 10's
AWAY = Decimal("0.06")  # resting prices: 6% from the market (the price band is 10%)
THROUGH = Decimal("0.01")  # limits that fill: 1% through the market


@dataclass
class Quote:
    bid: Decimal
    ask: Decimal


def order_body(
    kind: str, side: str, symbol: str, qty: int, quote: Quote, cid: str
) -> dict[str, Any]:
    """The JSON body of one order."""
    buy = side == "buy"
    body: dict[str, Any] = {"symbol": symbol, "side": side, "qty": str(qty), "client_order_id": cid}
    if kind == "market":
        body["type"] = "market"
    elif kind == "limit_fill":
        limit = quote.ask * (1 + THROUGH) if buy else quote.bid * (1 - THROUGH)
        body |= {"type": "limit", "limit_price": _price(limit)}
    elif kind == "rest":
        limit = quote.bid * (1 - AWAY) if buy else quote.ask * (1 + AWAY)
        body |= {"type": "limit", "limit_price": _price(limit), "tif": "gtc"}
    elif kind == "stop":
        stop = quote.ask * (1 + AWAY) if buy else quote.bid * (1 - AWAY)
        body |= {"type": "stop", "stop_price": _price(stop), "tif": "gtc"}
    elif kind == "bracket":
        entry = quote.ask * (1 + THROUGH)
        body |= {
            "type": "limit",
            "limit_price": _price(entry),
            "tif": "gtc",
            "take_profit": {"limit_price": _price(entry * (1 + AWAY - THROUGH))},
            "stop_loss": {"stop_price": _price(entry * (1 - AWAY + THROUGH))},
        }
    else:  # pragma: no cover - BLOCK names only the kinds above
        raise ValueError(kind)
    return body


@dataclass
class Item:
    """One request of the burst (an order, or the cancel of an earlier resting order)."""

    index: int
    kind: str
    body: dict[str, Any] | None = None
    target: Item | None = None  # the order a cancel cancels
    answers: list[str] = field(default_factory=list)
    status_code: int | None = None  # the definite answer's
    response: dict[str, Any] | None = None
    gave_up: bool = False
    skipped: str | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def client_order_id(self) -> str | None:
        return None if self.body is None else str(self.body["client_order_id"])

    @property
    def retried(self) -> bool:
        return len(self.answers) > 1

    @property
    def acknowledged(self) -> list[tuple[str, str]]:
        """(client_order_id, status) of each order (legs too) the answer acknowledged."""
        if self.kind == "cancel" or self.status_code not in (200, 201) or not self.response:
            return []
        orders = [self.response, *self.response.get("legs", [])]
        # pending_submit (and unsent) say the broker has not acknowledged the order yet:
        # its fate is open, and reconciliation must settle it (counted as "stuck" if not).
        return [(o["client_order_id"], o["status"]) for o in orders if o["status"] not in NOT_ACKED]


def build_burst(count: int, quotes: dict[str, Quote], prefix: str) -> list[Item]:
    """`count` orders in blocks of 20 (see BLOCK), with the cancels between them."""
    items: list[Item] = []
    by_slot: dict[int, Item] = {}
    for n in range(count):
        kind, side = BLOCK[n % len(BLOCK)]
        symbol = SYMBOLS[n % len(SYMBOLS)]
        qty = n % 5 + 1
        cid = f"{prefix}-{n:04d}"
        item = Item(len(items), kind, order_body(kind, side, symbol, qty, quotes[symbol], cid))
        items.append(item)
        by_slot[n] = item
        target_slot = CANCELS.get(n % len(BLOCK))
        if target_slot is not None:
            target = by_slot[n - n % len(BLOCK) + target_slot]
            items.append(Item(len(items), "cancel", target=target))
    return items


@dataclass
class Burst:
    """The burst of one run: its items, and when it started and ended."""

    items: list[Item]
    concurrency: int
    retry_seconds: float
    inject_after: int
    injected: asyncio.Event = field(default_factory=asyncio.Event)
    started_count: int = 0
    started_at: float = 0.0
    ended_at: float = 0.0

    async def run(self, http: httpx.AsyncClient) -> None:
        self.started_at = time.monotonic()
        queue = iter(self.items)
        await asyncio.gather(*(self._worker(http, queue) for _ in range(self.concurrency)))
        self.ended_at = time.monotonic()

    async def _worker(self, http: httpx.AsyncClient, queue: Iterator[Item]) -> None:
        for item in queue:  # one event loop: the shared iterator needs no lock
            self.started_count += 1
            if self.started_count >= self.inject_after:
                self.injected.set()
            try:
                if item.kind == "cancel":
                    await self._cancel(http, item)
                else:
                    assert item.body is not None
                    await self._send(http, item, "POST", "/api/v1/orders", item.body)
            finally:
                item.done.set()

    async def _cancel(self, http: httpx.AsyncClient, item: Item) -> None:
        target = item.target
        assert target is not None
        await target.done.wait()
        response = target.response or {}
        if target.status_code not in (200, 201) or response.get("status") not in WORKING:
            item.skipped = f"its order is {response.get('status', target.status_code)}"
            return
        await self._send(http, item, "DELETE", f"/api/v1/orders/{response['id']}", None)

    async def _send(
        self,
        http: httpx.AsyncClient,
        item: Item,
        method: str,
        path: str,
        body: dict[str, Any] | None,
    ) -> None:
        """Send until a definite answer, retrying what may not have arrived or been sent."""
        deadline = time.monotonic() + self.retry_seconds
        delay = RETRY_FIRST_SECONDS
        while True:
            try:
                response = await http.request(method, path, json=body)
            except httpx.TransportError as exc:  # timeouts included
                item.answers.append(f"no answer ({type(exc).__name__})")
            else:
                code = response.status_code
                item.answers.append(f"{code} {_error_code(response)}".rstrip())
                if code in DEFINITE:
                    item.status_code = code
                    with contextlib.suppress(ValueError):
                        item.response = response.json()
                    return
            if time.monotonic() + delay > deadline:
                item.gave_up = True
                return
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))
            delay = min(delay * 2, RETRY_MAX_SECONDS)


def _error_code(response: httpx.Response) -> str:
    if response.status_code < 400:
        return ""
    try:
        return str(response.json()["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return ""


# -- faults --------------------------------------------------------------------------------


@dataclass
class FaultTimes:
    """When the fault was injected, when it was over, when the API had recovered."""

    injected_at: float = 0.0
    over_at: float | None = None
    down_seen_at: float | None = None
    recovered_at: float | None = None

    @property
    def recovery_seconds(self) -> float | None:
        if self.recovered_at is None:
            return None
        return self.recovered_at - self.injected_at

    @property
    def after_fault_seconds(self) -> float | None:
        if self.recovered_at is None or self.over_at is None:
            return None
        return max(self.recovered_at - self.over_at, 0.0)


async def inject(fault: str, servers: Servers, pause: float) -> None:
    """Cause `fault`; return once it is over (the broken part is back or restarting)."""
    if fault == "drop":
        await servers.control(f"refuse {pause:g}")
        await servers.control("drop")
        await asyncio.sleep(pause)
    elif fault in ("outage-1102", "outage-1101"):
        await servers.control(f"outage {pause:g} {fault[-4:]}")
        await asyncio.sleep(pause)
    elif fault == "gateway-kill":
        servers.gateway.kill()
        await asyncio.sleep(pause)
        await servers.gateway.start()
        await servers.wait_gateway()
    elif fault == "api-kill":
        servers.api.kill()
        await _wait_exit(servers.api)
        await servers.api.start()
    elif fault == "both-kill":
        servers.api.kill()
        servers.gateway.kill()
        await _wait_exit(servers.api)
        await servers.api.start()
        await asyncio.sleep(pause)
        await servers.gateway.start()
        await servers.wait_gateway()
    else:  # pragma: no cover - parse_args allows only FAULTS
        raise ValueError(fault)


async def _wait_exit(service: Service) -> None:
    if service.process is not None:
        await asyncio.wait_for(service.process.wait(), STOP_TIMEOUT_SECONDS)


async def fault_and_recovery(
    fault: str, servers: Servers, burst: Burst, pause: float, http: httpx.AsyncClient
) -> FaultTimes:
    """Wait for the burst to get far enough, inject `fault`, and time the recovery."""
    await burst.injected.wait()
    times = FaultTimes(injected_at=time.monotonic())
    print(f"    fault injected after {burst.started_count} requests", flush=True)
    watching = asyncio.create_task(_watch_recovery(http, times))
    try:
        await inject(fault, servers, pause)
        times.over_at = time.monotonic()
        await watching
    finally:
        watching.cancel()
    return times


async def _watch_recovery(http: httpx.AsyncClient, times: FaultTimes) -> None:
    """Poll the API until it was seen down and then recovered (or the timeout passes)."""
    deadline = times.injected_at + RECOVERY_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        up = await api_recovered(http)
        now = time.monotonic()
        if not up and times.down_seen_at is None:
            times.down_seen_at = now
        # Recovered: up again after it was seen down, and the fault itself is over.
        if up and times.down_seen_at is not None and times.over_at is not None:
            times.recovered_at = now
            return
        await asyncio.sleep(POLL_SECONDS)


# -- the books -----------------------------------------------------------------------------


async def _paginate(http: httpx.AsyncClient, path: str, params: dict[str, Any]) -> list[Any]:
    items: list[Any] = []
    cursor = None
    while True:
        query = {**params, "limit": 500} | ({"cursor": cursor} if cursor else {})
        response = await http.get(path, params=query, timeout=30)
        response.raise_for_status()
        page = response.json()
        items += page["items"]
        cursor = page.get("next_cursor")
        if not cursor:
            return items


@dataclass
class ApiBooks:
    """What the API has: every order, fill and position, and its broker sessions."""

    orders: list[dict[str, Any]]
    fills: list[dict[str, Any]]
    positions: list[dict[str, Any]]

    @classmethod
    async def read(cls, http: httpx.AsyncClient) -> ApiBooks:
        orders = await _paginate(http, "/api/v1/orders", {"status": "all"})
        fills = await _paginate(http, "/api/v1/fills", {})
        positions = await http.get("/api/v1/positions", timeout=30)
        positions.raise_for_status()
        return cls(orders, fills, positions.json())


def _books_signature(book: dict[str, Any]) -> tuple[Any, ...]:
    """What must not change between two reads of IB's books for a comparison to hold."""
    return (
        tuple(sorted(e["exec_id"] for e in book["executions"])),
        tuple(sorted((o["perm_id"], o["status"], o["filled"]) for o in book["orders"])),
    )


@dataclass
class Counts:
    """What one run found wrong (every count should be 0) and what it noticed besides."""

    acked_not_at_ib: int = 0
    at_ib_not_in_api: int = 0
    duplicated: int = 0
    fills_missing: int = 0
    fills_doubled: int = 0
    positions_differ: int = 0
    status_differs: int = 0
    stuck: int = 0
    unanswered: int = 0
    refused: int = 0
    details: dict[str, list[str]] = field(default_factory=dict)

    FIELDS = (
        "acked_not_at_ib",
        "at_ib_not_in_api",
        "duplicated",
        "fills_missing",
        "fills_doubled",
        "positions_differ",
        "status_differs",
        "stuck",
        "unanswered",
        "refused",
    )

    def note(self, name: str, text: str, count: int = 1) -> None:
        setattr(self, name, getattr(self, name) + count)
        self.details.setdefault(name, []).append(text)

    @property
    def total(self) -> int:
        return sum(getattr(self, name) for name in self.FIELDS)


def _qty(text: str | None) -> Decimal:
    return Decimal(text) if text not in (None, "") else Decimal(0)


def compare(items: list[Item], api: ApiBooks, book: dict[str, Any]) -> Counts:
    """Count every difference between what the client was told, the API and IB."""
    counts = Counts()
    api_orders = {o["client_order_id"]: o for o in api.orders}
    ib_orders: dict[str, list[dict[str, Any]]] = {}
    for order in book["orders"]:
        ib_orders.setdefault(order["order_ref"] or "", []).append(order)
    api_by_id = {o["id"]: o for o in api.orders}

    def ours(order: dict[str, Any] | None) -> str:
        if order is None:
            return "API: none"
        reason = f" ({order['reject_reason']})" if order.get("reject_reason") else ""
        return f"API id {order['id']} {order['status']}{reason}"

    def theirs(ref: str) -> str:
        found = ib_orders.get(ref, [])
        if not found:
            return "IB: none"
        return "IB: " + ", ".join(
            f"order {o['order_id']} perm {o['perm_id']} {o['status']} filled {o['filled']}"
            for o in found
        )

    # Orders the client was told about that IB does not have.
    for item in items:
        for cid, status in item.acknowledged:
            if cid not in ib_orders:
                answers = " / ".join(item.answers)
                counts.note(
                    "acked_not_at_ib",
                    f"{cid}: answered [{answers}] as {status}; now {ours(api_orders.get(cid))}",
                )
    # Orders at IB the API does not know, and client_order_ids twice anywhere.
    for ref, orders in ib_orders.items():
        if ref not in api_orders:
            counts.note("at_ib_not_in_api", f"orderRef {ref!r}: {theirs(ref)}", len(orders))
        if len(orders) > 1:
            counts.note("duplicated", f"orderRef {ref!r} {len(orders)} times: {theirs(ref)}")
    for cid, seen in Counter(o["client_order_id"] for o in api.orders).items():
        if seen > 1:
            counts.note("duplicated", f"client_order_id {cid!r} {seen} times in the API")

    # Fills: by exec id, then quantities per order.
    ib_execs = {e["exec_id"]: e for e in book["executions"]}
    api_fills: dict[str, list[dict[str, Any]]] = {}
    for fill in api.fills:
        api_fills.setdefault(fill["exec_id"], []).append(fill)
    for exec_id, execution in ib_execs.items():
        stored = api_fills.get(exec_id, [])
        ref = execution["order_ref"]
        if not stored:
            counts.note(
                "fills_missing",
                f"exec {exec_id} ({execution['shares']} of {ref!r}): not in the API;"
                f" {ours(api_orders.get(ref))}",
            )
            continue
        fill = stored[0]
        owner = api_by_id.get(fill["order_id"])
        if (
            owner is None
            or owner["client_order_id"] != ref
            or _qty(fill["qty"]) != _qty(execution["shares"])
        ):
            counts.note(
                "fills_missing",
                f"exec {exec_id}: IB {execution['shares']} of {ref!r}, API {fill['qty']} of"
                f" order {fill['order_id']}",
            )
    for exec_id, stored in api_fills.items():
        if exec_id not in ib_execs:
            counts.note(
                "fills_doubled", f"fill {exec_id} (order {stored[0]['order_id']}) not at IB"
            )
        if len(stored) > 1:
            counts.note("fills_doubled", f"exec {exec_id} stored {len(stored)} times")
    ib_filled: Counter[str] = Counter()
    for execution in book["executions"]:
        ib_filled[execution["order_ref"]] += _qty(execution["shares"])  # type: ignore[assignment]
    for cid, order in api_orders.items():
        api_filled, at_ib = _qty(order["filled_qty"]), Decimal(ib_filled.get(cid, 0))
        if api_filled < at_ib:
            counts.note("fills_missing", f"{cid}: filled {api_filled} in the API, {at_ib} at IB")
        elif api_filled > at_ib:
            counts.note("fills_doubled", f"{cid}: filled {api_filled} in the API, {at_ib} at IB")

    # Positions.
    api_positions: Counter[str] = Counter()
    for position in api.positions:
        api_positions[position["symbol"]] += _qty(position["qty"])  # type: ignore[assignment]
    ib_positions = {p["symbol"]: _qty(p["qty"]) for p in book["positions"]}
    for symbol in sorted(set(api_positions) | set(ib_positions)):
        ours_qty = Decimal(api_positions.get(symbol, 0))
        at_ib = ib_positions.get(symbol, Decimal(0))
        if ours_qty != at_ib:
            counts.note("positions_differ", f"{symbol}: {ours_qty} in the API, {at_ib} at IB")

    # Statuses of orders both have, and orders in no state to stay in.
    for cid, order in api_orders.items():
        status = order["status"]
        if status in TRANSITIONAL:
            counts.note("stuck", f"{cid}: {ours(order)}; {theirs(cid)}")
            continue
        found = ib_orders.get(cid)
        if found and len(found) == 1 and found[0]["status"] not in IB_STATUS.get(status, set()):
            counts.note("status_differs", f"{cid}: {ours(order)}; {theirs(cid)}")
    for item in items:
        refused = item.status_code is not None and item.status_code >= 400
        if refused and not (item.kind == "cancel" and item.status_code == 409):
            counts.note("refused", f"{item.client_order_id or item.kind}: {_refusal(item)}")
        if item.gave_up:
            what = (
                item.client_order_id or f"cancel of {item.target and item.target.client_order_id}"
            )
            counts.note("unanswered", f"{what}: [{' / '.join(item.answers)}]")
    return counts


def _refusal(item: Item) -> str:
    """Why the API refused a request, from its error envelope."""
    error = (item.response or {}).get("error") or {}
    checks = "; ".join(
        f"{d.get('check')}: {d.get('message')}" for d in error.get("details") or [] if "check" in d
    )
    what = f"{item.status_code} {error.get('code', '')} {error.get('message', '')}".strip()
    target = f" (cancel of {item.target.client_order_id})" if item.target is not None else ""
    return f"{what}{target}" + (f" [{checks}]" if checks else "")


async def settle(http: httpx.AsyncClient, until: float) -> float:
    """Wait until no order is transitional, at most until `until`; return when that was."""
    while True:
        with contextlib.suppress(httpx.HTTPError):
            orders = await _paginate(http, "/api/v1/orders", {"status": "all"})
            if not any(o["status"] in TRANSITIONAL for o in orders):
                return time.monotonic()
        if time.monotonic() >= until:
            return time.monotonic()
        await asyncio.sleep(0.5)


async def compare_books(items: list[Item], servers: Servers, http: httpx.AsyncClient) -> Counts:
    """Compare on a quiet moment of IB's books; differences must show twice in a row.

    A fill or status on its way from IB to the API's database shows once; what shows in
    two comparisons a second apart (or still after COMPARE_SECONDS) is counted.
    """
    deadline = time.monotonic() + COMPARE_SECONDS
    last: Counts | None = None
    while True:
        before = await servers.book()
        api = await ApiBooks.read(http)
        after = await servers.book()
        if _books_signature(before) == _books_signature(after):
            counts = compare(items, api, after)
            if counts.total == 0 or (last is not None and counts.details == last.details):
                return counts
            last = counts
        if time.monotonic() >= deadline:
            # Differences that kept changing: the last quiet comparison (or this one, if
            # IB's books never held still for a whole read).
            return last if last is not None else compare(items, api, after)
        await asyncio.sleep(1.0)


def api_outage_seconds(sessions: list[dict[str, Any]]) -> float:
    """The outage the API recorded: IB outages behind open sockets plus gaps between them."""
    total = 0.0
    ordered = sorted(sessions, key=lambda s: s["connected_at"])
    for earlier, later in itertools.pairwise(ordered):
        if earlier["disconnected_at"]:
            gap = _timestamp(later["connected_at"]) - _timestamp(earlier["disconnected_at"])
            total += max(gap, 0.0)
    return total + sum(float(s.get("ib_outage_seconds") or 0) for s in sessions)


def _timestamp(text: str) -> float:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


# -- one run -------------------------------------------------------------------------------


@dataclass
class RunResult:
    fault: str
    run: int
    items: list[Item]
    counts: Counts
    times: FaultTimes
    api_outage: float | None
    sessions: int
    ib_orders: int
    ib_executions: int
    reconciled: int
    api_restarts: int
    seconds: float
    phases: dict[str, float] = field(default_factory=dict)
    logs: Path | None = None
    error: str | None = None  # the run could not be carried out

    @property
    def failed(self) -> bool:
        return bool(self.error or self.counts.total or self.times.recovered_at is None)

    @property
    def orders(self) -> int:
        return sum(1 for item in self.items if item.kind != "cancel")

    @property
    def answers(self) -> Counter[str]:
        """How often each answer came (a request retried counts each of its answers)."""
        return Counter(_answer_class(answer) for item in self.items for answer in item.answers)


def _broken_run(fault: str, run: int, root: Path, exc: BaseException) -> RunResult:
    """A run that could not be carried out (a server did not start, the books unreadable)."""
    return RunResult(
        fault=fault,
        run=run,
        items=[],
        counts=Counts(),
        times=FaultTimes(),
        api_outage=None,
        sessions=0,
        ib_orders=0,
        ib_executions=0,
        reconciled=0,
        api_restarts=0,
        seconds=0.0,
        logs=root / f"{fault}-{run}",
        error=f"{type(exc).__name__}: {str(exc)[:2000]}",
    )


def _answer_class(answer: str) -> str:
    return "no answer" if answer.startswith("no answer") else answer.split()[0]


async def run_once(
    fault: str, run: int, args: argparse.Namespace, template: Template, root: Path
) -> RunResult:
    """One run: fresh database and servers, a burst with `fault` in it, the count."""
    started = time.monotonic()
    phases: dict[str, float] = {}
    label = f"{fault.replace('-', '_')}_{run}"
    workdir = root / f"{fault}-{run}"
    workdir.mkdir()
    ports = Ports(api=free_port(), gateway=free_port(), control=free_port())
    async with template.clone(label) as database_url:
        servers = Servers(workdir, database_url, ports, log_level=args.log_level)
        headers = {"X-API-Key": template.api_key}
        base = f"http://{HOST}:{ports.api}"
        limits = httpx.Limits(
            max_connections=args.concurrency, max_keepalive_connections=args.concurrency
        )
        timeout = httpx.Timeout(REQUEST_TIMEOUT_SECONDS)
        try:
            async with (
                httpx.AsyncClient(
                    base_url=base, headers=headers, limits=limits, timeout=timeout
                ) as load,
                httpx.AsyncClient(base_url=base, headers=headers, timeout=timeout) as watch,
            ):
                await servers.gateway.start()
                await servers.wait_gateway()
                await servers.api.start()
                await servers.wait_api(watch)
                servers.api.supervise()
                quotes = await _quotes(watch)
                items = build_burst(args.orders, quotes, f"{label}-{secrets.token_hex(3)}")
                burst = Burst(
                    items,
                    args.concurrency,
                    args.retry_seconds,
                    inject_after=max(1, round(len(items) * args.inject_at)),
                )
                faulting = asyncio.create_task(
                    fault_and_recovery(fault, servers, burst, args.fault_seconds, watch)
                )
                phases["setup"] = time.monotonic() - started
                try:
                    await burst.run(load)
                    times = await faulting
                finally:
                    faulting.cancel()
                phases["burst"] = burst.ended_at - burst.started_at
                recovered = times.recovered_at or time.monotonic()
                settled_from = time.monotonic()
                await settle(watch, max(recovered + args.settle_seconds, burst.ended_at + 5))
                phases["settle"] = time.monotonic() - settled_from
                compared_from = time.monotonic()
                counts = await compare_books(items, servers, watch)
                sessions = await _paginate(watch, "/api/v1/broker/sessions", {})
                book = await servers.book()
                api = await ApiBooks.read(watch)
                phases["compare"] = time.monotonic() - compared_from
        finally:
            await servers.stop()
    reconciled = sum(
        1 for o in api.orders if "never reached the broker" in (o.get("reject_reason") or "")
    )
    _write_requests(workdir / "requests.json", items)
    return RunResult(
        fault=fault,
        run=run,
        items=items,
        counts=counts,
        times=times,
        api_outage=api_outage_seconds(sessions) if sessions else None,
        sessions=len(sessions),
        ib_orders=len(book["orders"]),
        ib_executions=len(book["executions"]),
        reconciled=reconciled,
        api_restarts=servers.api.unexpected_exits,
        seconds=time.monotonic() - started,
        phases=phases,
        logs=workdir,
    )


def _write_requests(path: Path, items: list[Item]) -> None:
    """Every request of the burst with its answers, beside the servers' logs."""
    rows = [
        {
            "index": item.index,
            "kind": item.kind,
            "client_order_id": item.client_order_id,
            "target": None if item.target is None else item.target.client_order_id,
            "body": item.body,
            "answers": item.answers,
            "response": item.response,
            "gave_up": item.gave_up,
            "skipped": item.skipped,
        }
        for item in items
    ]
    path.write_text(json.dumps(rows, indent=1))


async def _quotes(http: httpx.AsyncClient) -> dict[str, Quote]:
    response = await http.get("/api/v1/marketdata/quotes", params={"symbols": ",".join(SYMBOLS)})
    response.raise_for_status()
    return {
        q["symbol"]: Quote(Decimal(q["bid"]), Decimal(q["ask"])) for q in response.json()["quotes"]
    }


# -- report --------------------------------------------------------------------------------


COUNT_HEADERS = (
    "acked, not at IB",
    "at IB, not in API",
    "duplicated",
    "fills missing",
    "fills doubled",
    "positions differ",
    "status differs",
    "stuck",
    "unanswered",
    "refused",
)


def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def results_table(results: list[RunResult]) -> str:
    """The campaign's counts, one row per run."""
    header = ["fault", "run", "orders", *COUNT_HEADERS, "recovery s", "API-recorded outage s"]
    lines = [
        "| " + " | ".join(header) + " |",
        "|---|--:|" + "--:|" * (len(header) - 2),
    ]
    for r in results:
        counts = [str(getattr(r.counts, name)) for name in Counts.FIELDS]
        if r.error:
            recovery = "**run failed**"
        elif r.times.recovered_at is None:
            recovery = "**not recovered**"
        else:
            recovery = _s(r.times.recovery_seconds)
        cells = [FAULTS[r.fault].label, str(r.run), str(r.orders), *counts]
        cells += [recovery, _s(r.api_outage)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def traffic_table(results: list[RunResult]) -> str:
    """What the client saw and what the servers did, one row per run."""
    header = [
        "fault",
        "run",
        "requests retried",
        "answers",
        "cancels",
        "rejected by reconciliation",
        "IB orders",
        "IB executions",
        "broker sessions",
        "API restarts by supervisor",
        "recovery after the fault s",
        "run s",
    ]
    lines = ["| " + " | ".join(header) + " |", "|---|--:|--:|---|---|" + "--:|" * 7]
    for r in results:
        answers = ", ".join(f"{name}: {n}" for name, n in sorted(r.answers.items()))
        cancels = Counter(
            (item.skipped and "skipped") or str(item.status_code or "none")
            for item in r.items
            if item.kind == "cancel"
        )
        cells = [
            FAULTS[r.fault].label,
            str(r.run),
            str(sum(item.retried for item in r.items)),
            answers,
            ", ".join(f"{name}: {n}" for name, n in sorted(cancels.items())),
            str(r.reconciled),
            str(r.ib_orders),
            str(r.ib_executions),
            str(r.sessions),
            str(r.api_restarts),
            _s(r.times.after_fault_seconds),
            f"{r.seconds:.0f}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def details_text(results: list[RunResult]) -> str:
    """The first few cases behind every count that is not 0."""
    lines = []
    for r in results:
        if r.error:
            first = r.error.splitlines()[0]
            lines.append(f"- {FAULTS[r.fault].label}, run {r.run}: **the run failed**: {first}")
        for name, header in zip(Counts.FIELDS, COUNT_HEADERS, strict=True):
            shown = r.counts.details.get(name, [])
            if not shown:
                continue
            lines.append(f"- {FAULTS[r.fault].label}, run {r.run}, {header}:")
            lines += [f"  - {text}" for text in shown[:DETAILS_SHOWN]]
            if len(shown) > DETAILS_SHOWN:
                lines.append(f"  - ... and {len(shown) - DETAILS_SHOWN} more")
    return "\n".join(lines)


def machine_summary(pg_version: str, args: argparse.Namespace) -> str:
    packages = ", ".join(f"{name} {package_version(name)}" for name in REPORTED_PACKAGES)
    settings = ", ".join(f"{k}={v}" for k, v in inherited_settings(SET_BY_BENCH).items()) or "none"
    defaults = ", ".join(f"{k}={v or '(off)'}" for k, v in DEFAULT_ENV.items())
    return "\n".join(
        [
            f"- commit {git_commit()}",
            f"- machine: {len(os.sched_getaffinity(0))} CPUs (nproc), {cpu_model()}, "
            f"{memory_gb()} RAM, Linux {platform.release()}",
            f"- Python {platform.python_version()}, PostgreSQL {pg_version}",
            f"- packages: {packages}",
            "- servers: `stocks-api gateway-sim` (control port, state file) and `stocks-api"
            " serve` with BROKER=ibkr, a fresh database per run (a clone of a migrated"
            f" template), LOG_LEVEL={args.log_level}, {defaults}; others from the environment:"
            f" {settings}",
            f"- burst: {args.orders} orders per run in blocks of 20 (8 market, 4 limits that"
            f" fill, 5 resting limits, 2 stops, 1 bracket) over {', '.join(SYMBOLS)}, and 2"
            f" cancels of resting orders per block, at concurrency {args.concurrency}; fault"
            f" after {args.inject_at:.0%} of the requests, lasting {args.fault_seconds:g} s;"
            f" retries for up to {args.retry_seconds:g} s; stuck = transitional"
            f" {args.settle_seconds:g} s after the recovery",
        ]
    )


def report(results: list[RunResult], pg_version: str, args: argparse.Namespace, took: float) -> str:
    started = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    failed = [r for r in results if r.failed]
    verdict = (
        f"every count 0 in all {len(results)} runs"
        if not failed
        else f"**{len(failed)} of {len(results)} runs with a count above 0 or no recovery**"
    )
    parts = [
        f"## {started}: fault campaign",
        machine_summary(pg_version, args),
        f"Command: `{command_line(SET_BY_BENCH)}`",
        results_table(results),
        traffic_table(results),
        f"- verdict: {verdict}; the campaign took {took / 60:.1f} min",
    ]
    details = details_text(results)
    if details:
        parts.append(details)
    return "\n\n".join(parts)


# -- main ----------------------------------------------------------------------------------


async def campaign(args: argparse.Namespace, root: Path) -> list[RunResult]:
    """Every run of every fault asked for; the servers' logs stay under `root`."""
    template = await Template.create(args.admin_dsn, root)
    results = []
    try:
        for fault in args.faults:
            for run in range(1, args.runs + 1):
                print(f"{FAULTS[fault].label}, run {run}:", flush=True)
                try:
                    result = await run_once(fault, run, args, template, root)
                except (OSError, RuntimeError, httpx.HTTPError, asyncpg.PostgresError) as exc:
                    result = _broken_run(fault, run, root, exc)
                    print(f"    the run failed: {result.error}", flush=True)
                counts = ", ".join(
                    f"{name} {getattr(result.counts, name)}" for name in Counts.FIELDS
                )
                phases = ", ".join(f"{name} {value:.1f} s" for name, value in result.phases.items())
                print(
                    f"    {counts}; recovery {_s(result.times.recovery_seconds)} s;"
                    f" {result.seconds:.0f} s ({phases})",
                    flush=True,
                )
                results.append(result)
    finally:
        await template.drop()
    return results


async def run(args: argparse.Namespace) -> int:
    """Run the campaign; return the exit status (1 when a count is not 0)."""
    _cancel_on_signals()
    started = time.monotonic()
    pg_version = await postgres_version(args.admin_dsn)
    root = Path(tempfile.mkdtemp(prefix="stocks-faults-"))
    results: list[RunResult] = []
    try:
        results = await campaign(args, root)
    finally:
        failed = any(r.failed for r in results)
        if args.keep_logs or failed or len(results) < len(args.faults) * args.runs:
            print(f"servers' logs kept in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    section = report(results, pg_version, args, time.monotonic() - started)
    print(f"\n{section}\n")
    if args.record:
        record(section)
    return 1 if failed else 0


def _cancel_on_signals() -> None:
    # SIGTERM and SIGINT cancel the run, so every `finally` stops the servers and drops
    # the databases instead of leaving them behind.
    loop, task = asyncio.get_running_loop(), asyncio.current_task()
    assert task is not None
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, task.cancel)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `make bench`."""
    if not Path(CLI).exists():
        print(f"no stocks-api beside {sys.executable}: run with the project's .venv/bin/python")
        return 2
    try:
        return asyncio.run(run(parse_args(argv)))
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
