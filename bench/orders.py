"""Order-placement benchmark: how fast the API places market orders, against two baselines.

It creates a fresh PostgreSQL database, migrates it, starts `stocks-api serve` on it, then
two baselines under the same uvicorn settings: a bare FastAPI app (bench/_bare_app.py, no
database) and the database's own floor (bench/_insert_app.py: validate the same body and
insert one row with asyncpg, on a fresh database of its own). It sends each the same stream
of order bodies from one lean asyncio load generator: a warm-up, then a fixed number of
requests at a fixed concurrency (closed loop), then a serial pass (one request at a time)
that shows the latency of a single order on an idle server. Afterwards it checks in the
database that every order was stored and filled, prints the figures, the API's ratios to
both baselines with SPEC's targets (ratios to the insert floor: the machine's speed drifts,
ratios within one run do not), the order path's time per order split by stage (read from
the API's `order_stage_seconds_total`, core/stages.py), appends it all to bench/RESULTS.md,
and drops the databases.

Run: ``make bench`` or ``.venv/bin/python bench/orders.py --help``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import math
import os
import platform
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import asyncpg
import httpx
from _common import (
    REPO,
    RESULTS_FILE,
    command_line,
    cpu_model,
    free_port,
    inherited_settings,
    package_version,
    positive_int,
    process_cpu_seconds,
    record,
)
from prometheus_client.parser import text_string_to_metric_families

from stocks_api.core.stages import STAGES  # the stages the API counts, in order

BARE_APP = REPO / "bench" / "_bare_app.py"
INSERT_APP = REPO / "bench" / "_insert_app.py"
INSERT_PATH = "/orders"
METRICS_PATH = "/metrics"
STAGE_METRIC = "order_stage_seconds_total"

# The API settings this bench sets itself (others are inherited and reported).
SET_BY_BENCH = ("DATABASE_URL", "LOG_LEVEL")

VENV_BIN = Path(sys.executable).parent
HOST = "127.0.0.1"
ORDERS_PATH = "/api/v1/orders"
ECHO_PATH = "/echo"
READY_PATH = "/health/ready"
SYMBOLS = ("AAPL", "MSFT", "GOOGL", "AMZN", "NVDA", "META", "TSLA", "SPY")
SIDES = ("buy", "sell")
REQUEST_TIMEOUT_SECONDS = 30.0
START_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 15.0
FILLED_MARK = b'"status":"filled"'
MAX_FAILURES_SHOWN = 10
# Environment variables that configure the API (stocks_api.settings).
# Market orders must fill whatever the hour, so the simulated session is open around the
# clock unless the environment says otherwise.
ALWAYS_OPEN_SESSION = {
    "SESSION_OPEN": "00:00",
    "SESSION_CLOSE": "24:00",
    "SESSION_DAYS": "mon-sun",
    "SESSION_EXCHANGE": "none",
}
# Every risk check runs, except the order-rate limits: they cap orders at IBKR's pacing
# (50/s at most), ten times below the throughput this bench measures. The environment
# may set them back.
UNPACED = {"RISK_MAX_ORDERS_PER_SECOND": "", "RISK_MAX_ORDERS_PER_MINUTE": ""}
REPORTED_PACKAGES = (
    "fastapi",
    "starlette",
    "uvicorn",
    "uvloop",
    "httptools",
    "pydantic",
    "sqlalchemy",
    "asyncpg",
)

# SPEC targets of order placement, as ratios to the insert floor of the same run.
TARGET_THROUGHPUT_RATIO = 0.4  # at c=32: at least this share of the floor's orders/s
TARGET_LATENCY_RATIO = 4.0  # at c=1: p50 and p99 each at most this many times the floor's
TARGET_RSS_MB = 150.0


# -- command line --------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Read the command line."""
    parser = argparse.ArgumentParser(
        description="Benchmark order placement (POST /api/v1/orders) against a bare endpoint."
    )
    parser.add_argument("--orders", type=positive_int, default=5000, help="measured requests")
    parser.add_argument("--concurrency", type=positive_int, default=32, help="requests in flight")
    parser.add_argument("--warmup", type=_non_negative_int, default=300, help="warm-up requests")
    parser.add_argument(
        "--serial",
        type=_non_negative_int,
        default=500,
        help="requests of the serial pass (concurrency 1) after the main one; 0 skips it",
    )
    parser.add_argument(
        "--broker",
        choices=("sim", "ibkr"),
        default="sim",
        help="the API's broker: the simulated one in process, or IbkrBroker over the TWS"
        " protocol to a gateway-sim started for the run (with IB's pacing off)",
    )
    parser.add_argument(
        "--client",
        choices=("raw", "httpx"),
        default="raw",
        help="load generator: a minimal HTTP/1.1 client over asyncio streams, or httpx",
    )
    parser.add_argument(
        "--admin-dsn",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="PostgreSQL database to connect to when creating and dropping the bench database",
    )
    parser.add_argument(
        "--record",
        action=argparse.BooleanOptionalAction,
        default=True,
        help=f"append the results to {RESULTS_FILE.relative_to(REPO)}",
    )
    return parser.parse_args(argv)


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be at least 0, got {value}")
    return value


# -- request bodies ------------------------------------------------------------------------


def order_body(index: int) -> bytes:
    """The JSON body of request `index`: sides alternate, each symbol gets both in turn."""
    body = {
        "symbol": SYMBOLS[(index // len(SIDES)) % len(SYMBOLS)],
        "side": SIDES[index % len(SIDES)],
        "qty": "1",
        "type": "market",
    }
    return json.dumps(body, separators=(",", ":")).encode()


# -- HTTP clients --------------------------------------------------------------------------


class PostClient(Protocol):
    """One keep-alive connection (or a share of a pool) that POSTs JSON to one path."""

    async def post(self, body: bytes) -> tuple[int, bytes]:
        """Send `body`; return the status code and the response body."""
        ...

    async def aclose(self) -> None:
        """Release the connection."""
        ...


class RawHttpClient:
    """A minimal HTTP/1.1 client over one persistent asyncio stream.

    It writes pre-rendered request heads and reads responses by Content-Length (or
    chunks), nothing more, so that the load generator spends as little CPU as possible
    of the two cores it shares with the server.
    """

    def __init__(self, host: str, port: int, path: str, headers: dict[str, str]) -> None:
        self._host, self._port = host, port
        extra = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        self._head = (
            f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\n{extra}"
            "Content-Type: application/json\r\nContent-Length: "
        ).encode()
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def connect(self) -> None:
        """Open the connection (asyncio sets TCP_NODELAY on it)."""
        self._reader, self._writer = await asyncio.open_connection(self._host, self._port)

    async def post(self, body: bytes) -> tuple[int, bytes]:
        """Send `body`; return the status code and the response body."""
        if self._writer is None or self._writer.is_closing():
            await self.connect()
        assert self._reader is not None
        assert self._writer is not None
        self._writer.write(b"%s%d\r\n\r\n%s" % (self._head, len(body), body))
        try:
            head = await self._reader.readuntil(b"\r\n\r\n")
            headers = head.lower()
            if b"transfer-encoding: chunked" in headers:
                content = await _read_chunked(self._reader)
            else:
                content = await self._reader.readexactly(_content_length(headers))
        except (asyncio.IncompleteReadError, ConnectionError):
            await self.aclose()
            raise
        if b"connection: close" in headers:
            await self.aclose()
        return int(head[9:12]), content

    async def aclose(self) -> None:
        """Close the connection; the next `post` opens a new one."""
        writer, self._writer, self._reader = self._writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()


def _content_length(headers: bytes) -> int:
    start = headers.find(b"content-length:")
    if start < 0:
        return 0
    end = headers.find(b"\r\n", start)
    return int(headers[start + len(b"content-length:") : end])


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    parts: list[bytes] = []
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
        if size == 0:
            await reader.readuntil(b"\r\n")  # no trailers expected
            return b"".join(parts)
        parts.append(await reader.readexactly(size))
        await reader.readexactly(2)


class HttpxClient:
    """POSTs through a shared `httpx.AsyncClient` whose pool holds one connection per worker."""

    def __init__(self, client: httpx.AsyncClient, path: str) -> None:
        self._client, self._path = client, path

    async def post(self, body: bytes) -> tuple[int, bytes]:
        """Send `body`; return the status code and the response body."""
        response = await self._client.post(
            self._path, content=body, headers={"content-type": "application/json"}
        )
        return response.status_code, response.content

    async def aclose(self) -> None:
        """Nothing per worker: the pool is closed by its owner."""


@contextlib.asynccontextmanager
async def open_clients(
    kind: str, port: int, path: str, count: int, headers: dict[str, str]
) -> AsyncIterator[list[PostClient]]:
    """Open `count` clients (one connection each) before any request is timed."""
    if kind == "httpx":
        limits = httpx.Limits(max_connections=count, max_keepalive_connections=count)
        timeout = httpx.Timeout(REQUEST_TIMEOUT_SECONDS)
        async with httpx.AsyncClient(
            base_url=f"http://{HOST}:{port}", limits=limits, timeout=timeout, headers=headers
        ) as shared:
            yield [HttpxClient(shared, path) for _ in range(count)]
        return
    clients = [RawHttpClient(HOST, port, path, headers) for _ in range(count)]
    try:
        await asyncio.gather(*(client.connect() for client in clients))
        yield list(clients)
    finally:
        await asyncio.gather(*(client.aclose() for client in clients))


# -- load ----------------------------------------------------------------------------------


@dataclass
class Failure:
    """A request that did not answer 201."""

    index: int
    status: int
    detail: str


@dataclass
class PhaseResult:
    """What one timed pass of requests measured."""

    label: str
    concurrency: int
    latencies: list[float] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    filled_in_response: int = 0
    seconds: float = 0.0
    server_cpu_seconds: float = 0.0
    postgres_cpu_seconds: float = 0.0
    client_cpu_seconds: float = 0.0
    # (stage, clock) -> seconds the pass added to order_stage_seconds_total.
    stage_seconds: dict[tuple[str, str], float] = field(default_factory=dict)
    # The server's RSS (kB) when half the pass's requests were answered: growth from there
    # to the end is what orders cost once the server is warm (its bounded caches full).
    halfway_rss_kb: int = 0
    halfway_requests: int = 0

    @property
    def requests(self) -> int:
        return len(self.latencies)

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile_ms(self, fraction: float) -> float:
        """The nearest-rank percentile of the latencies, in milliseconds."""
        ordered = sorted(self.latencies)
        rank = max(1, math.ceil(fraction * len(ordered)))
        return ordered[rank - 1] * 1000


@dataclass(frozen=True)
class Target:
    """A running server to load: where it listens, which path, which process."""

    label: str
    port: int
    path: str
    pid: int
    headers: dict[str, str] = field(default_factory=dict)
    # Read the API's stage counters before and after each pass (the API only).
    stages: bool = False


async def run_phase(
    target: Target,
    *,
    label: str,
    first_index: int,
    count: int,
    concurrency: int,
    client_kind: str,
) -> PhaseResult:
    """Send `count` requests with `concurrency` in flight; time each and the whole pass."""
    result = PhaseResult(label=label, concurrency=concurrency)
    workers = min(concurrency, count)
    bodies = iter([(i, order_body(i)) for i in range(first_index, first_index + count)])
    async with open_clients(
        client_kind, target.port, target.path, workers, target.headers
    ) as clients:
        stages_before = await stage_seconds(target) if target.stages else {}
        postgres_cpu, server_cpu = postgres_cpu_seconds(), process_cpu_seconds(target.pid)
        client_cpu, started = time.process_time(), time.perf_counter()
        halfway = (target.pid, count // 2)
        await asyncio.gather(*(_worker(client, bodies, result, halfway) for client in clients))
        result.seconds = time.perf_counter() - started
        result.client_cpu_seconds = time.process_time() - client_cpu
        result.server_cpu_seconds = process_cpu_seconds(target.pid) - server_cpu
        result.postgres_cpu_seconds = postgres_cpu_seconds() - postgres_cpu
        if target.stages:
            # The consumer may still apply the last fills: let it finish before reading.
            await asyncio.sleep(0.5)
            after = await stage_seconds(target)
            result.stage_seconds = {
                key: after.get(key, 0.0) - stages_before.get(key, 0.0) for key in after
            }
    return result


async def stage_seconds(target: Target) -> dict[tuple[str, str], float]:
    """The API's `order_stage_seconds_total` counters now: (stage, clock) -> seconds."""
    async with httpx.AsyncClient(base_url=f"http://{HOST}:{target.port}", timeout=10) as client:
        response = await client.get(METRICS_PATH, headers=target.headers)
    response.raise_for_status()
    values: dict[tuple[str, str], float] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            if sample.name == STAGE_METRIC:
                values[(sample.labels["stage"], sample.labels["clock"])] = sample.value
    return values


async def _worker(
    client: PostClient,
    bodies: Iterator[tuple[int, bytes]],
    result: PhaseResult,
    halfway: tuple[int, int],
) -> None:
    # Workers share one iterator: with one event loop, `next` needs no lock.
    for index, body in bodies:
        started = time.perf_counter()
        try:
            async with asyncio.timeout(REQUEST_TIMEOUT_SECONDS):
                status, content = await client.post(body)
        except (OSError, TimeoutError, asyncio.IncompleteReadError, httpx.HTTPError) as exc:
            status, content = 0, f"{type(exc).__name__}: {exc}".encode()
            await client.aclose()  # a late answer must not be read as the next one's
        result.latencies.append(time.perf_counter() - started)
        pid, half = halfway
        if len(result.latencies) == half:
            result.halfway_rss_kb = memory_kb(pid).get("VmRSS", 0)
            result.halfway_requests = half
        if status != 201:
            result.failures.append(Failure(index, status, content[:300].decode(errors="replace")))
        elif FILLED_MARK in content:
            result.filled_in_response += 1


@dataclass
class ServerRun:
    """Every pass run on one server, and its memory afterwards."""

    label: str
    warmup: PhaseResult | None
    concurrent: PhaseResult
    serial: PhaseResult | None
    memory_kb: dict[str, int] = field(default_factory=dict)
    # After the warm-up: the RSS growth from there to the end is what the orders cost.
    warm_memory_kb: dict[str, int] = field(default_factory=dict)

    def phases(self) -> list[PhaseResult]:
        return [p for p in (self.warmup, self.concurrent, self.serial) if p is not None]

    def failures(self) -> list[Failure]:
        return [failure for phase in self.phases() for failure in phase.failures]


async def load_target(target: Target, args: argparse.Namespace) -> ServerRun:
    """Warm `target` up, then run the concurrent pass and the serial pass on it."""
    first_index = 0

    async def phase(name: str, count: int, concurrency: int) -> PhaseResult | None:
        nonlocal first_index
        if count == 0:
            return None
        label = f"{target.label} {name}"
        print(f"  {label}: {count} requests at concurrency {concurrency} ...", flush=True)
        result = await run_phase(
            target,
            label=label,
            first_index=first_index,
            count=count,
            concurrency=concurrency,
            client_kind=args.client,
        )
        first_index += count
        print(
            f"    {result.rate:,.0f} req/s, p50 {result.percentile_ms(0.5):.2f} ms, "
            f"p99 {result.percentile_ms(0.99):.2f} ms, {len(result.failures)} failed",
            flush=True,
        )
        return result

    warmup = await phase("warm-up", args.warmup, args.concurrency)
    warm = memory_kb(target.pid)
    concurrent = await phase(f"c={args.concurrency}", args.orders, args.concurrency)
    assert concurrent is not None  # --orders is at least 1
    serial = await phase("c=1", args.serial, 1)
    return ServerRun(target.label, warmup, concurrent, serial, memory_kb(target.pid), warm)


# -- processes -----------------------------------------------------------------------------


@dataclass
class Process:
    """A server subprocess and its log."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path

    def log_tail(self, lines: int = 20) -> str:
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def stop(self) -> None:
        """Ask for a graceful shutdown (SIGTERM), kill after STOP_TIMEOUT_SECONDS."""
        if self.popen.poll() is not None:
            return
        self.popen.send_signal(signal.SIGTERM)
        try:
            self.popen.wait(STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            print(f"  {self.name} did not stop in {STOP_TIMEOUT_SECONDS:.0f} s; killing it")
            self.popen.kill()
            self.popen.wait()


def start_server(command: list[str], env: dict[str, str], workdir: Path, name: str) -> Process:
    """Start a server process whose output goes to a log file in `workdir`."""
    log_path = workdir / f"{name}.log"
    with log_path.open("wb") as log:
        popen = subprocess.Popen(
            command, cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    return Process(name=name, popen=popen, log_path=log_path)


async def wait_ready(process: Process, port: int, method: str, path: str, body: bytes) -> None:
    """Poll the server until `method path` answers 2xx; fail if it exits or takes too long."""
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    async with httpx.AsyncClient(base_url=f"http://{HOST}:{port}", timeout=2.0) as client:
        while time.monotonic() < deadline:
            if process.popen.poll() is not None:
                raise RuntimeError(f"{process.name} exited:\n{process.log_tail()}")
            with contextlib.suppress(httpx.TransportError):
                response = await client.request(
                    method, path, content=body or None, headers={"content-type": "application/json"}
                )
                if response.is_success:
                    return
            await asyncio.sleep(0.1)
    raise RuntimeError(f"{process.name} not ready after {START_TIMEOUT_SECONDS:.0f} s")


def memory_kb(pid: int) -> dict[str, int]:
    """VmRSS (resident now) and VmHWM (peak resident) of a process, in kB ({} if gone)."""
    values: dict[str, int] = {}
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            name, _, rest = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                values[name] = int(rest.split()[0])
    return values


def postgres_cpu_seconds() -> float:
    """CPU time used so far by the PostgreSQL processes alive now (all of this machine's)."""
    total = 0.0
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if (proc / "comm").read_text().strip() == "postgres":
                total += process_cpu_seconds(proc.name)
    return total


# -- database ------------------------------------------------------------------------------


async def create_database(admin_dsn: str) -> str:
    """Create an empty database with a random name; return its name."""
    name = f"stocks_bench_{secrets.token_hex(4)}"
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return name


async def drop_database(admin_dsn: str, name: str) -> None:
    """Drop the bench database, disconnecting whoever is still on it."""
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def database_dsn(admin_dsn: str, name: str) -> str:
    """The DSN of database `name` on the server of `admin_dsn` (same user, host, options)."""
    return urllib.parse.urlsplit(admin_dsn)._replace(path=f"/{name}").geturl()


def migrate(env: dict[str, str], workdir: Path) -> None:
    """Run `stocks-api migrate` on the bench database."""
    subprocess.run(
        [str(VENV_BIN / "stocks-api"), "migrate"],
        cwd=workdir,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )


def create_api_key(env: dict[str, str], workdir: Path) -> str:
    """Make a trading key for the load (the CLI prints it alone on its last line)."""
    result = subprocess.run(
        [str(VENV_BIN / "stocks-api"), "create-api-key", "--name", "bench", "--scopes", "trade"],
        cwd=workdir,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return result.stdout.strip().splitlines()[-1]


@dataclass(frozen=True)
class OrderCheck:
    """What the database holds after the run."""

    expected: int
    orders: int
    filled: int
    fills: int
    without_fill: int
    fill_qty_mismatch: int
    # Connections opened to the database over the run (migration, probes and this check
    # included): shows whether the API's connection pool keeps its connections.
    sessions: int

    @property
    def ok(self) -> bool:
        return (
            self.orders == self.expected == self.filled == self.fills
            and self.without_fill == 0
            and self.fill_qty_mismatch == 0
        )


CHECK_QUERIES = {
    "orders": 'SELECT count(*) FROM "order"',
    "filled": "SELECT count(*) FROM \"order\" WHERE status = 'filled'",
    "fills": "SELECT count(*) FROM fill",
    "without_fill": (
        'SELECT count(*) FROM "order" o '
        "WHERE NOT EXISTS (SELECT 1 FROM fill f WHERE f.order_id = o.id)"
    ),
    "fill_qty_mismatch": (
        'SELECT count(*) FROM "order" o WHERE o.qty <> o.filled_qty OR o.qty <> '
        "(SELECT coalesce(sum(f.qty), 0) FROM fill f WHERE f.order_id = o.id)"
    ),
    "sessions": "SELECT sessions FROM pg_stat_database WHERE datname = current_database()",
}


async def check_orders(dsn: str, expected: int) -> OrderCheck:
    """Count orders and fills: each request must have left one filled order with its fill."""
    conn = await asyncpg.connect(dsn)
    try:
        counts = {name: await conn.fetchval(query) for name, query in CHECK_QUERIES.items()}
    finally:
        await conn.close()
    return OrderCheck(expected=expected, **counts)


async def postgres_version(admin_dsn: str) -> str:
    """The server's version string, e.g. '15.20 (Debian 15.20-0+deb12u1)'."""
    conn = await asyncpg.connect(admin_dsn)
    try:
        version: str = await conn.fetchval("SHOW server_version")
    finally:
        await conn.close()
    return version


# -- the two servers -----------------------------------------------------------------------


def api_env(database_url: str) -> dict[str, str]:
    """The API's environment: ours, plus the bench database and quiet logging."""
    return {
        **ALWAYS_OPEN_SESSION,
        **UNPACED,
        "AUTH_BOOTSTRAP_ADMIN_KEY": "false",  # the bench makes its own key
        **os.environ,
        "DATABASE_URL": database_url,
        "LOG_LEVEL": "WARNING",
    }


async def bench_api(
    args: argparse.Namespace, db_name: str, workdir: Path
) -> tuple[ServerRun, OrderCheck]:
    """Migrate, start the API, load it, stop it gracefully, then check the database."""
    dsn = database_dsn(args.admin_dsn, db_name)
    env = api_env(dsn.replace("postgresql://", "postgresql+asyncpg://", 1))
    migrate(env, workdir)
    gateway = None
    if args.broker == "ibkr":
        gateway_port = free_port()
        gateway = start_server(
            [
                str(VENV_BIN / "stocks-api"),
                "gateway-sim",
                "--port",
                str(gateway_port),
                "--no-pacing",
            ],
            env,
            workdir,
            "gateway-sim",
        )
        env |= {
            "BROKER": "ibkr",
            "IB_HOST": HOST,
            "IB_PORT": str(gateway_port),
            "IB_CLIENT_ID": "1",
        }
    port = free_port()
    command = [str(VENV_BIN / "stocks-api"), "serve", "--host", HOST, "--port", str(port)]
    process = start_server(command, env, workdir, "api")
    try:
        await wait_ready(process, port, "GET", READY_PATH, b"")
        headers = {"X-API-Key": create_api_key(env, workdir)}
        target = Target("API", port, ORDERS_PATH, process.popen.pid, headers, stages=True)
        run = await load_target(target, args)
    finally:
        process.stop()  # graceful: the broker-event consumer drains its queue first
        if gateway is not None:
            gateway.stop()
    check = await check_orders(dsn, sum(phase.requests for phase in run.phases()))
    return run, check


async def bench_bare(args: argparse.Namespace, workdir: Path) -> ServerRun:
    """Start the bare app and load it exactly like the API."""
    port = free_port()
    command = [sys.executable, str(BARE_APP), "--host", HOST, "--port", str(port)]
    process = start_server(command, dict(os.environ), workdir, "bare")
    try:
        await wait_ready(process, port, "POST", ECHO_PATH, order_body(0))
        return await load_target(Target("bare", port, ECHO_PATH, process.popen.pid), args)
    finally:
        process.stop()


async def bench_insert(args: argparse.Namespace, workdir: Path) -> tuple[ServerRun, int]:
    """Start the insert floor on a fresh database of its own, load it like the API; return
    the run and the rows it stored."""
    db_name = await create_database(args.admin_dsn)
    try:
        dsn = database_dsn(args.admin_dsn, db_name)
        port = free_port()
        command = [
            sys.executable,
            str(INSERT_APP),
            "--dsn",
            dsn,
            "--host",
            HOST,
            "--port",
            str(port),
        ]
        process = start_server(command, dict(os.environ), workdir, "insert")
        try:
            await wait_ready(process, port, "POST", INSERT_PATH, order_body(0))
            run = await load_target(Target("insert", port, INSERT_PATH, process.popen.pid), args)
        finally:
            process.stop()
        conn = await asyncpg.connect(dsn)
        try:
            rows: int = await conn.fetchval("SELECT count(*) FROM bench_order")
        finally:
            await conn.close()
    finally:
        await drop_database(args.admin_dsn, db_name)
    return run, rows


# -- report --------------------------------------------------------------------------------


def _per_request_ms(seconds: float, requests: int) -> str:
    return f"{seconds * 1000 / requests:.2f}" if requests else "-"


def phase_row(phase: PhaseResult) -> str:
    """One row of the results table."""
    cells = [
        phase.label,
        f"{phase.requests:,}",
        f"{phase.seconds:.2f}",
        f"{phase.rate:,.0f}",
        *(f"{phase.percentile_ms(q):.2f}" for q in (0.5, 0.9, 0.99, 1.0)),
        _per_request_ms(phase.server_cpu_seconds, phase.requests),
        _per_request_ms(phase.postgres_cpu_seconds, phase.requests),
        _per_request_ms(phase.client_cpu_seconds, phase.requests),
        f"{len(phase.failures)}",
    ]
    return "| " + " | ".join(cells) + " |"


RESULTS_HEADER = (
    "| run | requests | seconds | req/s | p50 ms | p90 ms | p99 ms | max ms "
    "| server CPU ms/req | PostgreSQL CPU ms/req | client CPU ms/req | failed |\n"
    "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"
)


def results_table(servers: Sequence[ServerRun]) -> str:
    """The measured passes (warm-ups left out) of every server as a Markdown table."""
    rows = [phase_row(server.concurrent) for server in servers]
    rows += [phase_row(server.serial) for server in servers if server.serial is not None]
    return "\n".join([RESULTS_HEADER, *rows])


def _verdict(met: bool) -> str:
    return "met" if met else "**missed**"


def _mb(kb: int) -> float:
    return kb / 1024


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else math.inf


def targets_table(api: ServerRun, floor: ServerRun) -> str:
    """SPEC's targets (ratios to the insert floor of the same run) beside what the API did."""
    main, serial = api.concurrent, api.serial
    rss_mb = _mb(api.memory_kb.get("VmRSS", 0))
    throughput = _ratio(main.rate, floor.concurrent.rate)
    rows = [
        (
            f"c={main.concurrency} orders/s >= {TARGET_THROUGHPUT_RATIO}x the insert floor's",
            f"{main.rate:,.0f}/s vs {floor.concurrent.rate:,.0f}/s = {throughput:.3f}x",
            _verdict(throughput >= TARGET_THROUGHPUT_RATIO),
        ),
    ]
    if serial is not None and floor.serial is not None:
        for name, fraction in (("p50", 0.5), ("p99", 0.99)):
            value, base = serial.percentile_ms(fraction), floor.serial.percentile_ms(fraction)
            ratio = _ratio(value, base)
            rows.append(
                (
                    f"c=1 {name} <= {TARGET_LATENCY_RATIO:.0f}x the insert floor's",
                    f"{value:.2f} ms vs {base:.2f} ms = {ratio:.1f}x",
                    _verdict(ratio <= TARGET_LATENCY_RATIO),
                )
            )
    orders = sum(phase.requests for phase in api.phases())
    measured = sum(phase.requests for phase in (api.concurrent, api.serial) if phase is not None)
    warm_mb = _mb(api.warm_memory_kb.get("VmRSS", 0))
    growth = (rss_mb - warm_mb) * 1024 * 1000 / measured if measured and warm_mb else 0.0
    concurrent = api.concurrent
    halfway_mb = _mb(concurrent.halfway_rss_kb)
    later = measured - concurrent.halfway_requests  # answered after the half-way sample
    late_growth = (rss_mb - halfway_mb) * 1024 * 1000 / later if later and halfway_mb else 0.0
    rows.append(
        (
            f"API process < {TARGET_RSS_MB:.0f} MB RSS (SPEC: after 50,000 orders), flat",
            f"{rss_mb:.0f} MB after {orders:,} orders (peak "
            f"{_mb(api.memory_kb.get('VmHWM', 0)):.0f} MB); {warm_mb:.0f} MB after the "
            f"warm-up: {growth:+.1f} kB per 1,000 orders since; {halfway_mb:.0f} MB half-way "
            f"through c={concurrent.concurrency}: {late_growth:+.1f} kB per 1,000 orders since",
            _verdict(rss_mb < TARGET_RSS_MB),
        )
    )
    lines = ["| SPEC target | API measured | verdict |", "|---|---|---|"]
    lines += [f"| {target} | {measured} | {verdict} |" for target, measured, verdict in rows]
    return "\n".join(lines)


def ratios_text(api: ServerRun, bare: ServerRun, floor: ServerRun) -> str:
    """The API relative to both baselines, and every process's memory."""
    lines = []
    for base in (floor, bare):
        lines.append(
            f"- API req/s / {base.label} req/s (c={api.concurrent.concurrency}): "
            f"{_ratio(api.concurrent.rate, base.concurrent.rate):.3f}"
        )
        lines.append(
            f"- API p50 / {base.label} p50 (c={api.concurrent.concurrency}): "
            f"{_ratio(api.concurrent.percentile_ms(0.5), base.concurrent.percentile_ms(0.5)):.1f}"
        )
        if api.serial is not None and base.serial is not None:
            for name, fraction in (("p50", 0.5), ("p99", 0.99)):
                ratio = _ratio(
                    api.serial.percentile_ms(fraction), base.serial.percentile_ms(fraction)
                )
                lines.append(f"- API {name} / {base.label} {name} (c=1): {ratio:.1f}")
    for run in (api, floor, bare):
        lines.append(
            f"- {run.label} process RSS at the end: {_mb(run.memory_kb.get('VmRSS', 0)):.0f} MB "
            f"(peak {_mb(run.memory_kb.get('VmHWM', 0)):.0f} MB)"
        )
    return "\n".join(lines)


def stages_table(api: ServerRun) -> str:
    """The order path's time per order by stage, for each measured pass of the API."""
    passes = [phase for phase in (api.concurrent, api.serial) if phase is not None]
    header = "| stage | " + " | ".join(
        f"CPU ms/order c={p.concurrency} | wall ms/order c={p.concurrency}" for p in passes
    )
    lines = [header + " |", "|---|" + "--:|--:|" * len(passes)]
    for name in STAGES:
        cells = []
        for phase in passes:
            for clock in ("cpu", "wall"):
                seconds = phase.stage_seconds.get((name, clock), 0.0)
                cells.append(_per_request_ms(seconds, phase.requests))
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    cells = []
    for phase in passes:
        staged = sum(phase.stage_seconds.get((name, "cpu"), 0.0) for name in STAGES)
        cells += [_per_request_ms(phase.server_cpu_seconds - staged, phase.requests), ""]
    lines.append(
        "| outside the stages (HTTP, FastAPI, middleware, background) | " + " | ".join(cells) + " |"
    )
    note = (
        "CPU is the API's event-loop thread per stage, each stage counting only what no other "
        "claimed (core/stages.py): exact at c=1, approximate under concurrency; wall time "
        "includes every wait (the admission lock, the database, the broker). The consumer's "
        "batches run beside the requests (their wall time overlaps the response's wait)."
    )
    return "\n".join(lines) + "\n\n" + note


def check_text(check: OrderCheck, api: ServerRun, baselines: Sequence[ServerRun]) -> str:
    """The integrity check: nothing lost, everything filled, every request answered 201."""
    requests = sum(phase.requests for phase in api.phases())
    filled = sum(phase.filled_in_response for phase in api.phases())
    failed = api.failures() or any(base.failures() for base in baselines)
    verdict = "OK" if check.ok and not failed else "FAILED"
    return "\n".join(
        [
            f"- database check: {verdict}: {check.orders:,} orders stored of {check.expected:,} "
            f"sent (warm-up included), {check.filled:,} filled, {check.fills:,} fills, "
            f"{check.without_fill} orders without a fill, {check.fill_qty_mismatch} whose "
            "filled quantity differs from the order's or its fills'",
            "- non-201 answers: "
            + ", ".join(f"{run.label} {len(run.failures())}" for run in (api, *baselines)),
            f"- PostgreSQL connections opened on the bench database: {check.sessions:,} "
            f"(one per {check.expected / max(check.sessions, 1):.1f} orders)",
            f"- API answers already showing `status: filled`: {filled:,} of {requests:,}",
        ]
    )


def failures_text(run: ServerRun) -> str:
    """The first failed requests of a server, for the console."""
    failures = run.failures()
    shown = [f"  #{f.index}: status {f.status}: {f.detail}" for f in failures[:MAX_FAILURES_SHOWN]]
    more = len(failures) - len(shown)
    if more:
        shown.append(f"  ... and {more} more")
    return "\n".join([f"{run.label}: {len(failures)} requests did not answer 201", *shown])


def _memory_gb() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024**2:.1f} GB"
    return "unknown"


def machine_summary(pg_version: str, args: argparse.Namespace) -> str:
    """Where and how the benchmark ran."""
    packages = ", ".join(f"{name} {package_version(name)}" for name in REPORTED_PACKAGES)
    settings = ", ".join(f"{k}={v}" for k, v in inherited_settings(SET_BY_BENCH).items()) or "none"
    return "\n".join(
        [
            f"- machine: {len(os.sched_getaffinity(0))} CPUs (nproc), {cpu_model()}, "
            f"{_memory_gb()} RAM, Linux {platform.release()}",
            f"- Python {platform.python_version()}, PostgreSQL {pg_version}",
            f"- packages: {packages}",
            "- API settings: defaults, with DATABASE_URL (a fresh database) and "
            f"LOG_LEVEL=WARNING; others from the environment: {settings}",
            f"- the API's broker: {args.broker}"
            + (" (IbkrBroker to gateway-sim --no-pacing)" if args.broker == "ibkr" else ""),
            f"- load generator: {args.client} client, one process, asyncio, "
            f"{args.concurrency} keep-alive connections",
        ]
    )


def report(
    api: ServerRun,
    bare: ServerRun,
    floor: ServerRun,
    check: OrderCheck,
    pg_version: str,
    args: argparse.Namespace,
) -> str:
    """The whole Markdown section of one run."""
    started = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return "\n\n".join(
        [
            f"## {started}",
            machine_summary(pg_version, args),
            f"Command: `{command_line(SET_BY_BENCH)}`",
            results_table([api, floor, bare]),
            ratios_text(api, bare, floor),
            targets_table(api, floor),
            "Time per order by stage (API):\n\n" + stages_table(api),
            check_text(check, api, [floor, bare]),
        ]
    )


# -- main ----------------------------------------------------------------------------------


async def run(args: argparse.Namespace) -> int:
    """Run both benchmarks; return the exit status (1 when a request or the check failed)."""
    if not (VENV_BIN / "stocks-api").exists():
        print(f"no stocks-api beside {sys.executable}: run with the project's .venv/bin/python")
        return 2
    _cancel_on_signals()
    pg_version = await postgres_version(args.admin_dsn)
    db_name = await create_database(args.admin_dsn)
    print(f"database {db_name} created")
    # The servers run in an empty directory so that no `.env` changes their settings.
    with tempfile.TemporaryDirectory(prefix="stocks-bench-") as tmp:
        workdir = Path(tmp)
        try:
            print("API (POST /api/v1/orders):")
            api, check = await bench_api(args, db_name, workdir)
        finally:
            await drop_database(args.admin_dsn, db_name)
            print(f"database {db_name} dropped")
        print("insert floor (POST /orders: validate, insert one row with asyncpg):")
        floor, stored = await bench_insert(args, workdir)
        print("bare FastAPI (POST /echo):")
        bare = await bench_bare(args, workdir)
    section = report(api, bare, floor, check, pg_version, args)
    return conclude(section, [api, floor, bare], check, floor_stored=stored, args=args)


def conclude(
    section: str,
    servers: Sequence[ServerRun],
    check: OrderCheck,
    *,
    floor_stored: int,
    args: argparse.Namespace,
) -> int:
    """Print the run's section, its failures, and record it if the run is valid."""
    print(f"\n{section}\n")
    for server in servers:
        if server.failures():
            print(failures_text(server))
    floor = next(server for server in servers if server.label == "insert")
    sent = sum(phase.requests for phase in floor.phases())
    if floor_stored < sent:
        print(f"the insert floor stored {floor_stored:,} rows of {sent:,} sent")
    if not check.ok or any(server.failures() for server in servers) or floor_stored < sent:
        print("not recorded: a run that loses or fails requests is not a result")
        return 1
    if args.record:
        record(section)
    return 0


def _cancel_on_signals() -> None:
    # SIGTERM (a CI timeout, say) and SIGINT cancel the run, so that every `finally` stops
    # the servers and drops the database instead of leaving them behind.
    loop, task = asyncio.get_running_loop(), asyncio.current_task()
    assert task is not None
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, task.cancel)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `make bench`."""
    try:
        return asyncio.run(run(parse_args(argv)))
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
