"""WebSocket fan-out benchmark: events published on Redis, fanned out by the API to N clients.

Another API process publishes every domain event on Redis (`stocks:<topic>`); each API
process follows `stocks:*` and fans the events out to its WebSocket clients. This bench
plays the other process: it publishes order-shaped `order.updated` events straight into
Redis at a fixed rate while N WebSocket clients subscribed to `orders` receive them from
one `stocks-api serve` (simulated broker, Redis bus, a fresh SQLite database in a temporary
directory, LOG_LEVEL=WARNING). Redis is a private redis-server started for the run (unless
`--redis-url` names one), so that no other program's `stocks:*` traffic mixes with ours,
and ours reaches no other API process.

Each event carries its number and its publish time (`time.time_ns()`); each client counts
what it receives, checks that the `seq` of its frames has no gap, and records the latency
(receipt minus publish time) and how its connection ended (4408: too slow). The baseline,
measured in the same run with the same publisher and the same client processes, is N
plain Redis subscribers (redis-py asyncio) of `stocks:order.updated`: what Redis pub/sub
alone delivers to N Python clients on this machine, without the API.

Processes: the API (one), the client processes (`--procs`, asyncio on uvloop), and this
one, which publishes (pipelined PUBLISH over one raw Redis connection every `--tick`
ms) and reports. They all share the machine's cores with Redis; the CPU column shows how
much each used, and how much every other process on the machine did meanwhile.

Reading the figures: "delivered/s" is events received by all clients over the time from
the first publish to the last receipt; latencies are over every delivered event (clients
dropped later included), to 0.01 ms; "lost (connected)" counts the events that clients
still connected had not received when the drain ended (`--drain` after the last publish,
or 1 s without progress), so a server that only lags far behind shows them as lost too;
"dropped clients" are connections the server closed (4408: its queue for the client
overflowed). The SPEC target is met at a rate when p99 < 50 ms, nothing is lost, no
client is dropped and the publisher held the rate.

Run: ``make bench`` or ``.venv/bin/python bench/ws_fanout.py --help``.
"""

from __future__ import annotations

import argparse
import array
import asyncio
import contextlib
import datetime as dt
import json
import math
import multiprocessing
import os
import platform
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

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

# The API settings this bench sets itself (others are inherited and reported).
SET_BY_BENCH = ("DATABASE_URL", "REDIS_URL", "BROKER", "LOG_LEVEL")

VENV_BIN = Path(sys.executable).parent
HOST = "127.0.0.1"
CHANNEL = "stocks:order.updated"
EVENT_TYPE = "order.updated"
WS_PATH = "/api/v1/ws"
READY_PATH = "/health/ready"
SUBSCRIBE = '{"op":"subscribe","channels":["orders"]}'
START_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 15.0
CONNECT_TIMEOUT_SECONDS = 30.0
SETTLE_TIMEOUT_SECONDS = 15.0
BUCKET_NS = 10_000  # latency histogram resolution: 0.01 ms
TARGET_P99_MS = 50.0  # SPEC: p99 under 50 ms, nothing lost for clients that keep up
REPORTED_PACKAGES = ("uvicorn", "uvloop", "websockets", "starlette", "fastapi", "redis")
# -- command line --------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Read the command line."""
    parser = argparse.ArgumentParser(
        description="Benchmark the WebSocket fan-out of events published on Redis, "
        "against plain Redis subscribers."
    )
    parser.add_argument("--clients", type=positive_int, default=100, help="subscribed clients")
    parser.add_argument("--rate", type=positive_int, default=5000, help="events published per s")
    parser.add_argument(
        "--rates",
        type=_rate_list,
        default=None,
        help="comma-separated rates to run one after the other (a sweep); overrides --rate",
    )
    parser.add_argument("--seconds", type=_positive_float, default=10.0, help="publishing time")
    parser.add_argument(
        "--drain",
        type=_positive_float,
        default=5.0,
        help="at most this long after publishing, wait for the clients to receive the rest",
    )
    parser.add_argument(
        "--procs", type=positive_int, default=2, help="client processes (clients split evenly)"
    )
    parser.add_argument(
        "--compression",
        choices=("deflate", "none"),
        default="deflate",
        help="the clients' permessage-deflate offer (deflate: what browsers and websockets "
        "send by default; uvicorn accepts it)",
    )
    parser.add_argument(
        "--tick", type=_positive_float, default=2.0, help="publisher batch interval, ms"
    )
    parser.add_argument(
        "--redis-url",
        default=None,
        help="use this Redis (redis://host:port) instead of a private redis-server started "
        "for the run; a shared one also carries other programs' stocks:* traffic, and "
        "ours reaches every API process that follows it",
    )
    parser.add_argument(
        "--baseline",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="run the plain Redis subscribers (the baseline)",
    )
    parser.add_argument(
        "--api",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="run the API's WebSocket clients",
    )
    parser.add_argument(
        "--record",
        action=argparse.BooleanOptionalAction,
        default=True,
        help=f"append the results to {RESULTS_FILE.relative_to(REPO)}",
    )
    args = parser.parse_args(argv)
    args.rate_list = args.rates or [args.rate]
    return args


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be above 0, got {text}")
    return value


def _rate_list(text: str) -> list[int]:
    return [positive_int(part) for part in text.split(",") if part.strip()]


# -- events --------------------------------------------------------------------------------


def event_template(run: str) -> str:
    """An `order.updated` payload as the API publishes it (an OrderRead), as a %-template.

    `%(n)d` is the event's number, `%(t)d` its publish time; `bench_run` tells this run's
    events from any other publisher's on the same Redis.
    """
    at = "2026-11-24T15:30:00.123456Z"
    order = {
        "id": "@N@",
        "client_order_id": "bench-@N@",
        "symbol": "AAPL",
        "side": "buy",
        "qty": "100",
        "type": "limit",
        "limit_price": "187.25",
        "stop_price": None,
        "trail_amount": None,
        "trail_percent": None,
        "oca_group": None,
        "tif": "day",
        "outside_rth": False,
        "status": "filled",
        "filled_qty": "100",
        "avg_fill_price": "187.2412",
        "broker_order_id": "sim-@N@",
        "perm_id": "@N@",
        "reject_reason": None,
        "parent_id": None,
        "created_at": at,
        "submitted_at": at,
        "filled_at": at,
        "cancelled_at": None,
        "updated_at": at,
        "legs": [],
        "bench_run": run,
        "bench_t": "@T@",
    }
    text = json.dumps(order, separators=(",", ":"))
    return text.replace('"@N@"', "%(n)d").replace("@N@", "%(n)d").replace('"@T@"', "%(t)d")


# -- Redis, spoken directly ----------------------------------------------------------------


class RedisWire:
    """One raw RESP connection: pipelined PUBLISH and a few admin commands, nothing more.

    The publisher shares the cores with everything it measures, so it should cost little:
    this packs a batch of PUBLISH commands into one write and reads the integer replies.
    """

    def __init__(self, url: str) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme != "redis":
            raise SystemExit(f"--redis-url: only redis://host:port URLs are supported, not {url}")
        self._sock = socket.create_connection(
            (parts.hostname or HOST, parts.port or 6379), timeout=10
        )
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._buffer = b""
        if parts.password:
            user = urllib.parse.unquote(parts.username or "default")
            self.command("AUTH", user, urllib.parse.unquote(parts.password))

    def close(self) -> None:
        self._sock.close()

    def command(self, *args: str | bytes) -> Any:
        """Send one command; return its reply (integers, bulk strings, arrays of them)."""
        self._sock.sendall(_pack(args))
        return self._reply()

    def publish(self, channel: bytes, messages: list[bytes]) -> list[int]:
        """PUBLISH each message (one write); return how many subscribers each reached."""
        head = b"*3\r\n$7\r\nPUBLISH\r\n$%d\r\n%s\r\n" % (len(channel), channel)
        self._sock.sendall(b"".join(b"%s$%d\r\n%s\r\n" % (head, len(m), m) for m in messages))
        return [self._reply() for _ in messages]

    def _line(self) -> bytes:
        while True:
            end = self._buffer.find(b"\r\n")
            if end >= 0:
                line, self._buffer = self._buffer[:end], self._buffer[end + 2 :]
                return line
            self._fill()

    def _fill(self) -> None:
        chunk = self._sock.recv(65536)
        if not chunk:
            raise ConnectionError("Redis closed the connection")
        self._buffer += chunk

    def _reply(self) -> Any:
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b":":
            return int(rest)
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise RuntimeError(f"Redis: {rest.decode(errors='replace')}")
        if kind == b"$":
            size = int(rest)
            if size < 0:
                return None
            while len(self._buffer) < size + 2:
                self._fill()
            data, self._buffer = self._buffer[:size], self._buffer[size + 2 :]
            return data
        if kind == b"*":
            return [self._reply() for _ in range(int(rest))]
        raise RuntimeError(f"unexpected Redis reply {line[:80]!r}")


def _pack(args: Sequence[str | bytes]) -> bytes:
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg.encode() if isinstance(arg, str) else arg
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


@dataclass(frozen=True)
class RedisInfo:
    version: str
    pid: int | None
    numpat: int  # pattern subscriptions (other API processes follow `stocks:*`)
    numsub: int  # subscribers of CHANNEL itself


def redis_info(url: str) -> RedisInfo:
    """Redis's version and pid, and whoever already listens to the bench channel."""
    wire = RedisWire(url)
    try:
        info = wire.command("INFO", "server").decode()
        fields = dict(
            line.split(":", 1) for line in info.splitlines() if ":" in line and line[0] != "#"
        )
        numsub = wire.command("PUBSUB", "NUMSUB", CHANNEL)
        numpat = wire.command("PUBSUB", "NUMPAT")
    finally:
        wire.close()
    pid = int(fields["process_id"]) if fields.get("process_id", "").isdigit() else None
    return RedisInfo(fields.get("redis_version", "?"), pid, int(numpat), int(numsub[1]))


class PrivateRedis:
    """A redis-server of our own on a spare port, without persistence, for one run."""

    def __init__(self, workdir: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise SystemExit("redis-server is not installed: install it or pass --redis-url")
        self.port = free_port()
        self.url = f"redis://{HOST}:{self.port}/0"
        command = [binary, "--port", str(self.port), "--bind", HOST, "--dir", str(workdir)]
        command += ["--save", "", "--appendonly", "no"]  # nothing on disk
        with (workdir / "redis.log").open("wb") as log:
            self.popen = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                wire = RedisWire(self.url)
                try:
                    if wire.command("PING") == "PONG":
                        return
                finally:
                    wire.close()
            if self.popen.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"redis-server did not start: see {workdir / 'redis.log'}")

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()


# -- the publisher (this process) ----------------------------------------------------------


@dataclass
class Published:
    """What the publisher did in one run."""

    count: int
    seconds: float  # first to last publish
    started_ns: int
    ended_ns: int
    max_lag_ms: float  # the furthest a batch fell behind its schedule
    receivers: Counter[int]  # subscribers reached -> publishes

    @property
    def rate(self) -> float:
        return (self.count - 1) / self.seconds if self.seconds > 0 else 0.0


def publish(url: str, rate: int, seconds: float, template: str, tick_ms: float) -> Published:
    """Publish rate x seconds events, event n due at n / rate, in a batch every tick."""
    total = max(1, round(rate * seconds))
    channel = CHANNEL.encode()
    wire = RedisWire(url)
    receivers: Counter[int] = Counter()
    tick = tick_ms / 1000
    sent, ticks, max_lag = 0, 0, 0.0
    started_ns = time.time_ns()
    start = time.perf_counter()
    try:
        while sent < total:
            now = time.perf_counter()
            due = min(total, math.floor((now - start) * rate) + 1)
            if due > sent:
                max_lag = max(max_lag, now - start - sent / rate)
                t = time.time_ns()
                batch = [(template % {"n": n, "t": t}).encode() for n in range(sent, due)]
                receivers.update(wire.publish(channel, batch))
                sent = due
            ticks += 1
            delay = start + ticks * tick - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            else:  # behind: skip the missed ticks, the next batch catches up
                ticks = math.floor((time.perf_counter() - start) / tick)
        ended_ns = time.time_ns()
        elapsed = time.perf_counter() - start
    finally:
        wire.close()
    return Published(
        count=sent,
        seconds=elapsed,
        started_ns=started_ns,
        ended_ns=ended_ns,
        max_lag_ms=max_lag * 1000,
        receivers=receivers,
    )


# -- the clients (child processes) ---------------------------------------------------------


@dataclass(frozen=True)
class ClientSpec:
    """What one client process runs."""

    kind: str  # "api" (WebSocket) or "redis" (plain subscriber)
    url: str
    api_key: str
    clients: int
    capacity: int  # events published at most (latency slots per client)
    run: str
    compression: str | None
    drain_seconds: float
    idle_seconds: float = 1.0


class Tally:
    """One client's counts; the receive loop keeps the hot ones in locals."""

    __slots__ = (
        "close",
        "error",
        "event_gaps",
        "foreign",
        "last_ns",
        "latencies",
        "other",
        "received",
        "seq_gaps",
        "subscribed",
    )

    def __init__(self, capacity: int) -> None:
        self.latencies = array.array("q", bytes(8 * capacity))
        self.received = 0
        self.last_ns = 0
        self.seq_gaps = 0
        self.event_gaps = 0
        self.foreign = 0  # events of another publisher (another run, a real API)
        self.other = 0  # other messages (heartbeats)
        self.subscribed = False
        self.close: str | None = None  # how the connection ended before the bench closed it
        self.error: str | None = None  # why it never subscribed


def client_process(conn: Connection, spec: ClientSpec) -> None:
    """Entry point of a client process: connect, report ready, receive, drain, report."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops us
    try:
        import uvloop
    except ImportError:
        asyncio.run(_client_main(conn, spec))
    else:
        uvloop.run(_client_main(conn, spec))


async def _client_main(conn: Connection, spec: ClientSpec) -> None:
    loop = asyncio.get_running_loop()
    tallies = [Tally(spec.capacity) for _ in range(spec.clients)]
    ready = [loop.create_future() for _ in tallies]
    body = _api_client if spec.kind == "api" else _redis_client
    tasks = [asyncio.create_task(body(spec, t, f)) for t, f in zip(tallies, ready, strict=True)]
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.gather(*ready), CONNECT_TIMEOUT_SECONDS)
    for tally in tallies:
        if not tally.subscribed and tally.error is None:
            tally.error = "not subscribed in time"
    conn.send(("ready", sum(t.subscribed for t in tallies), [t.error for t in tallies if t.error]))
    message = await loop.run_in_executor(None, conn.recv)
    if message[0] == "stop":
        await _drain(tallies, message[1], spec)
    conn.send(("drained",))
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    conn.send(("result", _summary(tallies, message[1] if message[0] == "stop" else 0)))


async def _drain(tallies: list[Tally], published: int, spec: ClientSpec) -> None:
    """Wait until every connected client has every event, no progress for a while, or time."""
    deadline = time.monotonic() + spec.drain_seconds
    last_total, last_change = -1, time.monotonic()
    while True:
        live = [t for t in tallies if t.subscribed and t.close is None]
        if all(t.received >= published for t in live):
            return
        now = time.monotonic()
        total = sum(t.received for t in tallies)
        if total != last_total:
            last_total, last_change = total, now
        if now - last_change >= spec.idle_seconds or now >= deadline:
            return
        await asyncio.sleep(0.02)


async def _api_client(spec: ClientSpec, tally: Tally, ready: asyncio.Future[None]) -> None:
    """One WebSocket client of the API, subscribed to `orders`."""
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed, InvalidHandshake

    loads, now, run, capacity = json.loads, time.time_ns, spec.run, spec.capacity
    seq = 0
    try:
        async with connect(
            spec.url,
            additional_headers={"X-API-Key": spec.api_key},
            compression=spec.compression,
            ping_interval=None,  # no client keepalive: a late pong must not close a slow link
            open_timeout=CONNECT_TIMEOUT_SECONDS,
            close_timeout=2,
        ) as ws:
            while not tally.subscribed:
                message = loads(await ws.recv())
                seq = message["seq"]
                if message["type"] == "welcome":
                    await ws.send(SUBSCRIBE)
                elif message["type"] == "subscribed":
                    tally.subscribed = True
                elif message["type"] == "error":
                    raise RuntimeError(f"subscribe refused: {message['data']}")
            ready.set_result(None)
            lat, received, last_n = tally.latencies, 0, -1
            async for raw in ws:
                message = loads(raw)
                s = message["seq"]
                if s != seq + 1:
                    tally.seq_gaps += 1
                seq = s
                data = message["data"]
                if message["type"] != EVENT_TYPE:
                    tally.other += 1
                    continue
                if data.get("bench_run") != run:
                    tally.foreign += 1
                    continue
                t = now()
                if received < capacity:
                    lat[received] = t - data["bench_t"]
                received += 1
                n = data["id"]
                if n != last_n + 1:
                    tally.event_gaps += 1
                last_n = n
                tally.received = received
                tally.last_ns = t
    except ConnectionClosed as exc:
        close = exc.rcvd.code if exc.rcvd is not None else 1006
        if tally.subscribed:
            tally.close = str(close)
        else:
            tally.error = f"closed with {close} before subscribing"
    except (OSError, TimeoutError, InvalidHandshake, RuntimeError) as exc:
        tally.error = f"{type(exc).__name__}: {exc}"
    finally:
        if not ready.done():
            ready.set_result(None)


async def _redis_client(spec: ClientSpec, tally: Tally, ready: asyncio.Future[None]) -> None:
    """One plain Redis subscriber of CHANNEL (the baseline)."""
    from redis.asyncio import Redis
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff
    from redis.exceptions import RedisError

    loads, now, run, capacity = json.loads, time.time_ns, spec.run, spec.capacity
    # No silent reconnect: Redis dropping a subscriber that lags must show.
    client = Redis.from_url(spec.url, retry=Retry(NoBackoff(), 0))
    pubsub = client.pubsub()
    try:
        await pubsub.subscribe(CHANNEL)
        while not tally.subscribed:
            message = await pubsub.get_message(timeout=CONNECT_TIMEOUT_SECONDS)
            if message is None:
                raise TimeoutError("no subscribe confirmation")
            tally.subscribed = message["type"] == "subscribe"
        ready.set_result(None)
        lat, received, last_n = tally.latencies, 0, -1
        async for message in pubsub.listen():
            if message["type"] != "message":
                tally.other += 1
                continue
            data = loads(message["data"])
            if data.get("bench_run") != run:
                tally.foreign += 1
                continue
            t = now()
            if received < capacity:
                lat[received] = t - data["bench_t"]
            received += 1
            n = data["id"]
            if n != last_n + 1:
                tally.event_gaps += 1
            last_n = n
            tally.received = received
            tally.last_ns = t
        tally.close = "unsubscribed"
    except (RedisError, OSError, TimeoutError) as exc:
        if tally.subscribed:
            tally.close = f"Redis: {type(exc).__name__}"
        else:
            tally.error = f"{type(exc).__name__}: {exc}"
    finally:
        if not ready.done():
            ready.set_result(None)
        with contextlib.suppress(Exception):
            await pubsub.aclose()
        with contextlib.suppress(Exception):
            await client.aclose()


def _summary(tallies: list[Tally], published: int) -> dict[str, Any]:
    """Counts and a latency histogram (0.01 ms buckets) of one process's clients."""
    histogram: Counter[int] = Counter()
    max_ns = 0
    for tally in tallies:
        stored = tally.latencies[: min(tally.received, len(tally.latencies))]
        if stored:
            histogram.update(v // BUCKET_NS for v in stored)
            max_ns = max(max_ns, max(stored))
    live = [t for t in tallies if t.subscribed and t.close is None]
    closed = [t for t in tallies if t.subscribed and t.close is not None]
    return {
        "subscribed": sum(t.subscribed for t in tallies),
        "live": len(live),
        "received": sum(t.received for t in tallies),
        "lost_live": sum(max(0, published - t.received) for t in live),
        "lost_closed": sum(max(0, published - t.received) for t in closed),
        "extra": sum(max(0, t.received - published) for t in tallies),
        "closes": Counter(t.close for t in closed),
        "errors": [t.error for t in tallies if t.error],
        "seq_gaps": sum(t.seq_gaps for t in tallies),
        "event_gaps": sum(t.event_gaps for t in tallies),
        "foreign": sum(t.foreign for t in tallies),
        "other": sum(t.other for t in tallies),
        "last_ns": max((t.last_ns for t in tallies), default=0),
        "histogram": histogram,
        "max_ns": max_ns,
    }


# -- the API server ------------------------------------------------------------------------


@dataclass
class Server:
    """The API subprocess, its port, its log, and a key to read with."""

    popen: subprocess.Popen[bytes]
    port: int
    log_path: Path
    api_key: str = ""

    @property
    def pid(self) -> int:
        return self.popen.pid

    def log_tail(self, lines: int = 20) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        """SIGTERM (graceful), SIGKILL after STOP_TIMEOUT_SECONDS."""
        if self.popen.poll() is not None:
            return
        self.popen.send_signal(signal.SIGTERM)
        try:
            self.popen.wait(STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            print(f"  the API did not stop in {STOP_TIMEOUT_SECONDS:.0f} s; killing it")
            self.popen.kill()
            self.popen.wait()


def api_env(workdir: Path, redis_url: str) -> dict[str, str]:
    """Ours, plus a fresh SQLite database, the Redis bus and quiet logging."""
    return {
        "AUTH_BOOTSTRAP_ADMIN_KEY": "false",  # the bench makes its own key
        **os.environ,
        "DATABASE_URL": f"sqlite+aiosqlite:///{workdir / 'bench.db'}",
        "REDIS_URL": redis_url,
        "BROKER": "sim",
        "LOG_LEVEL": "WARNING",
    }


def start_api(workdir: Path, redis_url: str) -> Server:
    """Migrate a fresh database, make a read key, start `stocks-api serve`, wait until ready."""
    env = api_env(workdir, redis_url)
    cli = str(VENV_BIN / "stocks-api")
    subprocess.run([cli, "migrate"], cwd=workdir, env=env, check=True, stdout=subprocess.DEVNULL)
    made = subprocess.run(
        [cli, "create-api-key", "--name", "bench", "--scopes", "read"],
        cwd=workdir,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    port = free_port()
    log_path = workdir / "api.log"
    with log_path.open("wb") as log:
        popen = subprocess.Popen(
            [cli, "serve", "--host", HOST, "--port", str(port)],
            cwd=workdir,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = Server(popen, port, log_path, made.stdout.strip().splitlines()[-1])
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if popen.poll() is not None:
            raise RuntimeError(f"the API exited:\n{server.log_tail()}")
        with (
            contextlib.suppress(OSError, urllib.error.URLError),
            urllib.request.urlopen(f"http://{HOST}:{port}{READY_PATH}", timeout=2) as answer,
        ):
            if answer.status == 200:
                return server
        time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"the API was not ready after {START_TIMEOUT_SECONDS:.0f} s")


def all_processes_cpu() -> dict[int, float]:
    """CPU seconds used so far by every process on the machine, by pid."""
    usage = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            usage[int(entry.name)] = process_cpu_seconds(int(entry.name))
    return usage


@dataclass
class CpuWatch:
    """CPU used over a window by groups of our processes and by every other process.

    Per-process counters are exact; /proc/stat's machine-wide ones are sampled at ticks and
    miss most of the short bursts these processes run in. Processes that start and end
    inside the window, and the kernel's own work (loopback TCP in softirq), are not seen.
    """

    groups: dict[str, list[int | None]]
    before: dict[int, float] = field(default_factory=dict)

    def start(self) -> None:
        self.before = all_processes_cpu()

    def stop(self) -> dict[str, float]:
        after = all_processes_cpu()
        used = {pid: cpu - self.before.get(pid, 0.0) for pid, cpu in after.items()}
        result = {
            name: sum(used.get(pid, 0.0) for pid in group if pid is not None)
            for name, group in self.groups.items()
        }
        ours = {pid for group in self.groups.values() for pid in group}
        result["other"] = sum(cpu for pid, cpu in used.items() if pid not in ours)
        return result


def peak_rss_mb(pid: int) -> float:
    """VmHWM (peak resident memory) of a process, in MB (0 if gone)."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def settle(pid: int) -> None:
    """Wait until the API is idle again (it may still be sending a backlog or closing)."""
    deadline = time.monotonic() + SETTLE_TIMEOUT_SECONDS
    before = process_cpu_seconds(pid)
    while time.monotonic() < deadline:
        time.sleep(0.25)
        after = process_cpu_seconds(pid)
        if after - before < 0.025:  # under 10 % of a core
            return
        before = after


def log_events(path: Path, offset: int) -> tuple[Counter[str], int]:
    """The API's log events (by name) written since `offset`, and the new offset."""
    with path.open("rb") as log:
        log.seek(offset)
        text = log.read()
    events: Counter[str] = Counter()
    for line in text.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            events[line.decode(errors="replace")[:60]] += 1
            continue
        events[str(record.get("event", "?")) if isinstance(record, dict) else "?"] += 1
    return events, offset + len(text)


# -- one run -------------------------------------------------------------------------------


@dataclass
class RunResult:
    """Everything measured in one run (one target, one rate)."""

    label: str
    kind: str
    rate: int
    clients: int
    subscribed: int
    published: Published
    received: int
    lost_live: int
    lost_closed: int
    closes: Counter[str]
    errors: list[str]
    seq_gaps: int
    event_gaps: int
    foreign: int
    histogram: Counter[int]
    max_ns: int
    last_ns: int
    window_seconds: float  # first publish to the end of the drain
    cpu: dict[str, float]  # component -> CPU seconds in the window ("other": the rest)
    extra: int = 0
    log: Counter[str] = field(default_factory=Counter)

    @property
    def expected(self) -> int:
        return self.published.count * self.subscribed

    @property
    def delivery_seconds(self) -> float:
        """First publish to the last event received."""
        return max(self.last_ns - self.published.started_ns, 1) / 1e9

    @property
    def delivered_rate(self) -> float:
        return self.received / self.delivery_seconds if self.received else 0.0

    @property
    def drain_seconds(self) -> float:
        """Last publish to the last event received."""
        return max(0, self.last_ns - self.published.ended_ns) / 1e9

    def percentile_ms(self, fraction: float) -> float:
        """Nearest-rank percentile of every delivered event's latency (upper bucket edge)."""
        total = sum(self.histogram.values())
        if not total:
            return math.nan
        rank, seen = max(1, math.ceil(fraction * total)), 0
        for bucket in sorted(self.histogram):
            seen += self.histogram[bucket]
            if seen >= rank:
                return (bucket + 1) * BUCKET_NS / 1e6
        return math.nan

    @property
    def kept_up(self) -> bool:
        """SPEC: p99 under 50 ms, nothing lost, nobody dropped (and the rate was really run)."""
        return (
            self.published.rate >= 0.98 * self.rate
            and self.subscribed == self.clients
            and not self.closes
            and self.lost_live == 0
            and self.seq_gaps == 0
            and self.percentile_ms(0.99) < TARGET_P99_MS
        )


def run_once(
    label: str,
    kind: str,
    rate: int,
    args: argparse.Namespace,
    *,
    url: str,
    api_key: str,
    redis: RedisInfo,
    server_pid: int | None = None,
) -> RunResult:
    """Start the client processes, publish, drain, collect."""
    run = secrets.token_hex(4)
    capacity = max(1, round(rate * args.seconds))
    context = multiprocessing.get_context("spawn")
    shares = [
        args.clients // args.procs + (i < args.clients % args.procs) for i in range(args.procs)
    ]
    pipes: list[Connection] = []
    procs = []
    try:
        for share in filter(None, shares):
            spec = ClientSpec(
                kind=kind,
                url=url,
                api_key=api_key,
                clients=share,
                capacity=capacity,
                run=run,
                compression=None if args.compression == "none" else "deflate",
                drain_seconds=args.drain,
            )
            parent, child = context.Pipe()
            proc = context.Process(target=client_process, args=(child, spec), daemon=True)
            proc.start()
            child.close()
            pipes.append(parent)
            procs.append(proc)
        ready = [
            _expect(pipe, "ready", START_TIMEOUT_SECONDS + CONNECT_TIMEOUT_SECONDS)
            for pipe in pipes
        ]
        subscribed = sum(r[1] for r in ready)
        errors = [e for r in ready for e in r[2]]
        if not subscribed:
            raise RuntimeError(f"{label}: no client subscribed: {Counter(errors).most_common(3)}")
        watch = CpuWatch(
            {
                "API": [server_pid],
                "Redis": [redis.pid],
                "clients": [proc.pid for proc in procs],
                "publisher": [os.getpid()],
            }
        )
        watch.start()
        started = time.perf_counter()
        published = publish(args.redis_url, rate, args.seconds, event_template(run), args.tick)
        for pipe in pipes:
            pipe.send(("stop", published.count))
        for pipe in pipes:
            _expect(pipe, "drained", args.drain + 30)
        window = time.perf_counter() - started
        cpu = watch.stop()
        if server_pid is None:
            del cpu["API"]
        if redis.pid is None:
            del cpu["Redis"]
        summaries = [_expect(pipe, "result", 120)[1] for pipe in pipes]
    except BaseException:
        for proc in procs:
            proc.kill()
        raise
    finally:
        for proc in procs:
            proc.join(10)
            if proc.is_alive():
                proc.kill()
                proc.join()
    histogram: Counter[int] = Counter()
    closes: Counter[str] = Counter()
    for summary in summaries:
        histogram.update(summary["histogram"])
        closes.update(summary["closes"])
    return RunResult(
        label=label,
        kind=kind,
        rate=rate,
        clients=args.clients,
        subscribed=subscribed,
        published=published,
        received=sum(s["received"] for s in summaries),
        lost_live=sum(s["lost_live"] for s in summaries),
        lost_closed=sum(s["lost_closed"] for s in summaries),
        closes=closes,
        errors=errors,
        seq_gaps=sum(s["seq_gaps"] for s in summaries),
        event_gaps=sum(s["event_gaps"] for s in summaries),
        foreign=sum(s["foreign"] for s in summaries),
        histogram=histogram,
        max_ns=max(s["max_ns"] for s in summaries),
        last_ns=max(s["last_ns"] for s in summaries),
        window_seconds=window,
        cpu=cpu,
        extra=sum(s["extra"] for s in summaries),
    )


def _expect(pipe: Connection, what: str, timeout: float) -> Any:
    if not pipe.poll(timeout):
        raise RuntimeError(f"a client process sent no {what!r} within {timeout:.0f} s")
    message = pipe.recv()
    if message[0] != what:
        raise RuntimeError(f"a client process sent {message[0]!r} instead of {what!r}")
    return message


# -- report --------------------------------------------------------------------------------


RESULTS_HEADER = (
    "| run | events/s | published | achieved/s | clients | expected | delivered | delivered/s "
    "| p50 ms | p95 ms | p99 ms | max ms | lost (connected) | dropped clients | seq gaps "
    "| drain s | CPU % of a core: API / Redis / clients / publisher / other processes |\n"
    "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|"
)


def _cpu_cell(result: RunResult) -> str:
    parts = []
    for name in ("API", "Redis", "clients", "publisher", "other"):
        if name in result.cpu:
            parts.append(f"{100 * result.cpu[name] / result.window_seconds:.0f}")
        else:
            parts.append("-")
    return " / ".join(parts)


def _closes_cell(result: RunResult) -> str:
    dropped = sum(result.closes.values())
    if not dropped:
        return "0"
    codes = ", ".join(f"{code} x{count}" for code, count in result.closes.most_common())
    return f"{dropped} ({codes})"


def result_row(result: RunResult) -> str:
    """One row of the results table."""
    cells = [
        result.label,
        f"{result.rate:,}",
        f"{result.published.count:,}",
        f"{result.published.rate:,.0f}",
        f"{result.subscribed}"
        + ("" if result.subscribed == result.clients else f"/{result.clients}"),
        f"{result.expected:,}",
        f"{result.received:,}",
        f"{result.delivered_rate:,.0f}",
        *(f"{result.percentile_ms(q):.2f}" for q in (0.5, 0.95, 0.99)),
        f"{result.max_ns / 1e6:.2f}",
        f"{result.lost_live:,}",
        _closes_cell(result),
        f"{result.seq_gaps:,}" if result.kind == "api" else "-",
        f"{result.drain_seconds:.2f}",
        _cpu_cell(result),
    ]
    return "| " + " | ".join(cells) + " |"


def ratios_text(pairs: list[tuple[RunResult | None, RunResult | None]]) -> str:
    """The API against the baseline of the same rate."""
    lines = []
    for api, base in pairs:
        if api is None or base is None or not base.received:
            continue
        p99_api, p99_base = api.percentile_ms(0.99), base.percentile_ms(0.99)
        lines.append(
            f"- {api.rate:,} events/s: API delivered/s / baseline delivered/s "
            f"{api.delivered_rate / base.delivered_rate:.3f} (delivered events "
            f"{api.received / base.received:.3f}); API p99 / baseline p99 "
            f"{p99_api / p99_base:.2f}; client CPU per delivered event: API "
            f"{_per_delivery_us(api, 'clients')} us, baseline {_per_delivery_us(base, 'clients')} "
            f"us; API process CPU per delivered event {_per_delivery_us(api, 'API')} us"
        )
    return "\n".join(lines)


def _per_delivery_us(result: RunResult, component: str) -> str:
    cpu = result.cpu.get(component)
    if cpu is None or not result.received:
        return "-"
    return f"{cpu * 1e6 / result.received:.1f}"


def targets_text(results: list[RunResult]) -> str:
    """The SPEC target per rate, and the highest rate that met it."""
    lines = ["| SPEC target | run | events/s | measured | verdict |", "|---|---|--:|---|---|"]
    for result in results:
        dropped = sum(result.closes.values())
        measured = (
            f"p99 {result.percentile_ms(0.99):.2f} ms, {result.lost_live:,} lost by connected "
            f"clients, {dropped} clients dropped"
        )
        if result.kind == "api":
            measured += f", {result.seq_gaps} seq gaps"
        verdict = "met" if result.kept_up else "**missed**"
        lines.append(
            f"| p99 < {TARGET_P99_MS:.0f} ms, nothing lost, {result.clients} clients "
            f"| {result.label} | {result.rate:,} | {measured} | {verdict} |"
        )
    lines.append("")
    for label in dict.fromkeys(r.label for r in results):
        met = [r.rate for r in results if r.label == label and r.kept_up]
        best = f"{max(met):,} events/s" if met else "none of the rates run"
        lines.append(f"- highest rate met by {label} with {results[0].clients} clients: {best}")
    return "\n".join(lines)


def notes_text(results: list[RunResult]) -> str:
    """What else happened: publisher pace, other subscribers, errors, the API's log."""
    lines = []
    for result in results:
        pub = result.published
        reached = ", ".join(f"{n} x{count:,}" for n, count in sorted(pub.receivers.items()))
        notes = [
            f"publisher {pub.seconds:.2f} s, furthest behind schedule {pub.max_lag_ms:.1f} ms, "
            f"subscribers reached per PUBLISH: {reached}"
        ]
        if result.lost_closed:
            notes.append(f"{result.lost_closed:,} events not delivered to the dropped clients")
        if result.event_gaps:
            notes.append(f"{result.event_gaps:,} jumps in event numbers")
        if result.foreign or result.extra:
            notes.append(f"{result.foreign:,} foreign events, {result.extra:,} extra")
        if result.errors:
            common = "; ".join(f"{e} x{n}" for e, n in Counter(result.errors).most_common(3))
            notes.append(f"clients that never subscribed: {len(result.errors)} ({common})")
        if result.log:
            notes.append("API log: " + ", ".join(f"{e} x{n}" for e, n in result.log.most_common(6)))
        lines.append(f"- {result.label} {result.rate:,}/s: " + "; ".join(notes))
    return "\n".join(lines)


def machine_summary(
    args: argparse.Namespace, redis: RedisInfo, payload_bytes: int, private_redis: bool
) -> str:
    """Where and how the benchmark ran."""
    packages = ", ".join(f"{name} {package_version(name)}" for name in REPORTED_PACKAGES)
    settings = ", ".join(f"{k}={v}" for k, v in inherited_settings(SET_BY_BENCH).items()) or "none"
    return "\n".join(
        [
            f"- machine: {len(os.sched_getaffinity(0))} CPUs (nproc), {cpu_model()}, "
            f"Linux {platform.release()}",
            f"- Python {platform.python_version()}, Redis {redis.version} "
            + (
                "(a private redis-server started for the run)"
                if private_redis
                else f"at {args.redis_url}"
            ),
            f"- packages: {packages}",
            "- API: `stocks-api serve`, simulated broker, REDIS_URL set, a fresh SQLite "
            f"database, LOG_LEVEL=WARNING; others from the environment: {settings}",
            f"- clients: {args.clients} in {args.procs} processes (asyncio on uvloop); API: "
            f"websockets, compression {args.compression}, subscribed to `orders`; baseline: "
            f"redis-py asyncio subscribers of `{CHANNEL}`",
            f"- events: {payload_bytes}-byte order JSON on `{CHANNEL}`, PUBLISH pipelined "
            f"every {args.tick:g} ms, for {args.seconds:g} s, then at most {args.drain:g} s "
            "of drain",
        ]
    )


def report(
    args: argparse.Namespace,
    redis: RedisInfo,
    payload_bytes: int,
    pairs: list[tuple[RunResult | None, RunResult | None]],
    api_rss_mb: float | None,
    private_redis: bool,
) -> str:
    """The whole Markdown section of one run."""
    started = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    ordered = [r for api, base in pairs for r in (base, api) if r is not None]
    parts = [
        f"## {started}: WebSocket fan-out",
        machine_summary(args, redis, payload_bytes, private_redis),
        f"Command: `{command_line(SET_BY_BENCH)}`",
        "\n".join([RESULTS_HEADER, *map(result_row, ordered)]),
        ratios_text(pairs),
        targets_text(ordered),
        notes_text(ordered),
    ]
    if api_rss_mb is not None:
        parts[-1] += f"\n- API process peak RSS: {api_rss_mb:.0f} MB"
    return "\n\n".join(part for part in parts if part)


# -- main ----------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> int:
    """Baselines first (the API is not running then), then the API at each rate."""
    if not (VENV_BIN / "stocks-api").exists():
        print(f"no stocks-api beside {sys.executable}: run with the project's .venv/bin/python")
        return 2
    # One directory for Redis, the API's database and both logs; no `.env` applies in it.
    with tempfile.TemporaryDirectory(prefix="stocks-ws-bench-") as tmp:
        workdir = Path(tmp)
        private = None
        if args.redis_url is None:
            private = PrivateRedis(workdir)
            args.redis_url = private.url
        try:
            return bench(args, workdir, private is not None)
        finally:
            if private is not None:
                private.stop()


def bench(args: argparse.Namespace, workdir: Path, private_redis: bool) -> int:
    """Run every baseline, then start the API and run it at every rate; print the report."""
    redis = redis_info(args.redis_url)
    if redis.numpat or redis.numsub:
        print(
            f"note: Redis already has {redis.numpat} pattern and {redis.numsub} channel "
            f"subscriptions that receive {CHANNEL} (another API process, tests?)"
        )
    payload_bytes = len(event_template("0" * 8) % {"n": 10**6, "t": time.time_ns()})
    baselines: dict[int, RunResult] = {}
    apis: dict[int, RunResult] = {}
    api_rss_mb = None
    if args.baseline:
        for rate in args.rate_list:
            print(f"baseline: {args.clients} Redis subscribers, {rate:,} events/s ...", flush=True)
            baselines[rate] = run_once(
                "baseline", "redis", rate, args, url=args.redis_url, api_key="", redis=redis
            )
    if args.api:
        server = start_api(workdir, args.redis_url)
        try:
            offset = 0
            for rate in args.rate_list:
                print(f"API: {args.clients} WebSocket clients, {rate:,} events/s ...", flush=True)
                settle(server.pid)
                _, offset = log_events(server.log_path, offset)
                apis[rate] = run_once(
                    "API",
                    "api",
                    rate,
                    args,
                    url=f"ws://{HOST}:{server.port}{WS_PATH}",
                    api_key=server.api_key,
                    redis=redis,
                    server_pid=server.pid,
                )
                settle(server.pid)
                apis[rate].log, offset = log_events(server.log_path, offset)
                if server.popen.poll() is not None:
                    raise RuntimeError(f"the API exited:\n{server.log_tail()}")
            api_rss_mb = peak_rss_mb(server.pid)
        finally:
            server.stop()
    pairs = [(apis.get(rate), baselines.get(rate)) for rate in args.rate_list]
    section = report(args, redis, payload_bytes, pairs, api_rss_mb, private_redis)
    print(f"\n{section}\n")
    if args.record:
        record(section)
    return 0


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # SIGTERM too: every `finally` stops what it started


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `make bench`."""
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        return run(parse_args(argv))
    except KeyboardInterrupt:
        print("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
