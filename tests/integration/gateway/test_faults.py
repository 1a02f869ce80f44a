"""Fault injection as unmodified ib_async sees it: in-process, and through the control port."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Protocol

import pytest
from ib_async import IB, LimitOrder, MarketOrder, Stock

from stocks_api.broker.gateway.control import ControlServer, send_command
from stocks_api.broker.gateway.server import GatewaySim
from tests.conftest import eventually
from tests.factories import set_market
from tests.redis_servers import free_port

CLI = str(Path(sys.executable).parent / "stocks-api")
CLIENT_ID = 3


class Faults(Protocol):
    """One way to inject the faults: GatewaySim's methods or the control port."""

    async def drop(self) -> None: ...
    async def refuse(self, seconds: float) -> None: ...
    async def reject(self, code: int, message: str) -> None: ...
    async def delay(self, seconds: float) -> None: ...
    async def lose(self) -> None: ...
    async def mute(self) -> None: ...
    async def connectivity(self, code: int) -> None: ...


class InProcess:
    def __init__(self, gateway: GatewaySim) -> None:
        self.gateway = gateway

    async def drop(self) -> None:
        self.gateway.drop_connections()

    async def refuse(self, seconds: float) -> None:
        self.gateway.refuse_connections(seconds)

    async def reject(self, code: int, message: str) -> None:
        self.gateway.reject_next_order(code, message)

    async def delay(self, seconds: float) -> None:
        self.gateway.delay_responses(seconds)

    async def lose(self) -> None:
        self.gateway.lose_next_orders(1)

    async def mute(self) -> None:
        self.gateway.mute_next_orders(1)

    async def connectivity(self, code: int) -> None:
        self.gateway.announce_connectivity(code)


class ControlPort:
    def __init__(self, control: ControlServer) -> None:
        self.port = control.port

    async def send(self, line: str) -> str:
        answer = await send_command(line, port=self.port)
        assert answer.startswith("ok "), answer
        return answer

    async def drop(self) -> None:
        await self.send("drop")

    async def refuse(self, seconds: float) -> None:
        await self.send(f"refuse {seconds}")

    async def reject(self, code: int, message: str) -> None:
        await self.send(f"reject {code} {message}")

    async def delay(self, seconds: float) -> None:
        await self.send(f"delay {seconds}")

    async def lose(self) -> None:
        await self.send("lose")

    async def mute(self) -> None:
        await self.send("mute")

    async def connectivity(self, code: int) -> None:
        await self.send(f"connectivity {code}")


@pytest.fixture
async def control(gateway: GatewaySim) -> AsyncIterator[ControlServer]:
    server = ControlServer(gateway, port=0)
    await server.start()
    try:
        yield server
    finally:
        await server.close()


@pytest.fixture(params=["in-process", "control-port"])
def faults(request: pytest.FixtureRequest, gateway: GatewaySim, control: ControlServer) -> Faults:
    return InProcess(gateway) if request.param == "in-process" else ControlPort(control)


@pytest.fixture
async def ib(gateway: GatewaySim) -> AsyncIterator[IB]:
    client = IB()
    await client.connectAsync("127.0.0.1", gateway.port, clientId=CLIENT_ID, timeout=5)
    try:
        yield client
    finally:
        client.disconnect()


def record_errors(ib: IB) -> list[tuple[int, int, str]]:
    errors: list[tuple[int, int, str]] = []
    ib.errorEvent += lambda req_id, code, message, contract: errors.append((req_id, code, message))
    return errors


# -- each fault, as ib_async sees it ----------------------------------------------------------


async def test_reject_fails_the_next_order_only(
    gateway: GatewaySim, ib: IB, faults: Faults
) -> None:
    errors = record_errors(ib)
    [aapl] = await ib.qualifyContractsAsync(Stock("AAPL", "SMART", "USD"))
    set_market(gateway.broker.engine, "189.99", "190.00", size=5000, last="190.00")
    await faults.reject(203, "The security is not available or allowed for this account")

    rejected = ib.placeOrder(aapl, LimitOrder("BUY", 5, 180.0))
    await eventually(rejected.isDone)
    assert (rejected.order.orderId, 203) in [(req_id, code) for req_id, code, _ in errors]
    # gateway-sim sends only the error; ib_async then cancels the trade itself.
    assert rejected.orderStatus.status == "Cancelled"
    assert rejected.log[-1].errorCode == 203
    assert "not available" in rejected.log[-1].message
    assert not ib.openOrders()

    accepted = ib.placeOrder(aapl, MarketOrder("BUY", 5))
    await eventually(accepted.isDone)
    assert accepted.orderStatus.status == "Filled"
    assert [code for _, code, _ in errors] == [203]


async def test_a_lost_order_never_trades_and_a_muted_one_trades_unannounced(
    gateway: GatewaySim, ib: IB, faults: Faults
) -> None:
    [aapl] = await ib.qualifyContractsAsync(Stock("AAPL", "SMART", "USD"))
    engine = gateway.broker.engine
    set_market(engine, "189.99", "190.00", size=5000, last="190.00")

    await faults.lose()
    lost = ib.placeOrder(aapl, MarketOrder("BUY", 5))
    await faults.mute()
    muted = ib.placeOrder(aapl, MarketOrder("BUY", 3))
    await eventually(lambda: len(gateway.executions(0)) == 1)
    assert await ib.reqCurrentTimeAsync()  # anything about either order would be here by now
    assert (lost.orderStatus.status, muted.orderStatus.status) == ("PendingSubmit",) * 2
    assert not lost.fills
    assert not muted.fills
    [(execution, _)] = gateway.executions(0)
    assert (execution.order_id, execution.shares) == (muted.order.orderId, 3)

    # Asking again (as a client does after reconnecting) replays the muted order's fill.
    replayed = await ib.reqExecutionsAsync()
    assert [(f.execution.orderId, f.execution.shares) for f in replayed] == [
        (muted.order.orderId, 3)
    ]
    assert gateway.faults.lose_next == gateway.faults.mute_next == 0
    announced = ib.placeOrder(aapl, MarketOrder("BUY", 1))  # the next order is heard again
    await eventually(announced.isDone)
    assert announced.orderStatus.status == "Filled"


async def test_drop_disconnects_and_the_client_can_connect_again(
    gateway: GatewaySim, ib: IB, faults: Faults
) -> None:
    disconnected = asyncio.Event()
    ib.disconnectedEvent += disconnected.set
    assert gateway.client_ids == [CLIENT_ID]

    await faults.drop()
    await asyncio.wait_for(disconnected.wait(), 5)
    assert not ib.isConnected()
    await eventually(lambda: not gateway.client_ids)

    await ib.connectAsync("127.0.0.1", gateway.port, clientId=CLIENT_ID, timeout=5)
    assert ib.isConnected()
    assert gateway.client_ids == [CLIENT_ID]
    assert await ib.reqCurrentTimeAsync()


async def test_refuse_fails_connects_for_that_long_only(
    gateway: GatewaySim, ib: IB, faults: Faults
) -> None:
    await faults.refuse(1)
    started = time.monotonic()
    other = IB()
    # gateway-sim accepts and at once closes; ib_async notices only when its timeout runs out.
    with pytest.raises((ConnectionError, TimeoutError)):
        await other.connectAsync("127.0.0.1", gateway.port, clientId=4, timeout=0.8)
    assert time.monotonic() - started < 1.0
    assert not other.isConnected()
    assert ib.isConnected()  # who was connected stays connected

    await asyncio.sleep(started + 1.05 - time.monotonic())
    await other.connectAsync("127.0.0.1", gateway.port, clientId=4, timeout=5)
    try:
        assert other.isConnected()
        assert gateway.client_ids == [CLIENT_ID, 4]
    finally:
        other.disconnect()


async def test_delay_holds_every_answer(ib: IB, faults: Faults) -> None:
    await faults.delay(0.3)
    try:
        started = time.perf_counter()
        await ib.reqCurrentTimeAsync()
        assert time.perf_counter() - started >= 0.3
    finally:
        await faults.delay(0)
    started = time.perf_counter()
    await ib.reqCurrentTimeAsync()
    assert time.perf_counter() - started < 0.3


async def test_connectivity_messages_reach_ib_async_as_errors(ib: IB, faults: Faults) -> None:
    errors = record_errors(ib)
    await faults.connectivity(1100)
    await eventually(lambda: errors)
    assert errors[0][:2] == (-1, 1100)
    assert "lost" in errors[0][2]
    assert ib.isConnected()  # ib_async only reports it; IBC-style watchdogs act on it

    await faults.connectivity(1102)
    await eventually(lambda: len(errors) == 2)
    assert errors[1][:2] == (-1, 1102)
    assert ib.isConnected()


# -- the control port itself ------------------------------------------------------------------


async def test_status_and_help(gateway: GatewaySim, control: ControlServer, ib: IB) -> None:
    status = await send_command("status", port=control.port)
    assert status.startswith("ok ")
    assert json.loads(status.removeprefix("ok ")) == {
        "port": gateway.port,
        "clients": [CLIENT_ID],
        "refusing_seconds": 0.0,
        "reject_next": None,
        "delay_seconds": 0.0,
        "lose_next": 0,
        "mute_next": 0,
        "outage": False,
        "outage_ends_in_seconds": None,
        "outage_end_code": None,
        "restarting": False,
        "state_file": None,
    }
    for line in ("refuse 30", "reject 201 no  more  orders", "delay 0.25", "lose", "mute"):
        assert (await send_command(line, port=control.port)).startswith("ok ")
    state = json.loads((await send_command("STATUS", port=control.port)).removeprefix("ok "))
    assert 29 < state["refusing_seconds"] <= 30
    assert state["reject_next"] == {"code": 201, "message": "no more orders"}
    assert state["delay_seconds"] == 0.25
    assert (state["lose_next"], state["mute_next"]) == (1, 1)
    gateway.delay_responses(0)

    assert (await send_command("help", port=control.port)).startswith("ok commands: drop")


BAD_LINES = [
    "",
    "   ",
    "bogus",
    "drop now",
    "status please",
    "refuse",
    "refuse 1 2",
    "refuse -1",
    "refuse 3601",
    "refuse nan",
    "refuse inf",
    "refuse 1e3",
    "refuse abc",
    "delay -0.5",
    "delay 99999",
    "reject",
    "reject 0",
    "reject -201",
    "reject 2.5",
    "reject 99999999999",
    "reject abc message",
    "lose 1",
    "mute now",
    "connectivity",
    "connectivity 1103",
    "connectivity 100",
    "connectivity x",
    "reject 201 tab\there",
    "reject 201 nul\0here",
]


async def test_bad_commands_get_error_answers_and_the_port_carries_on(
    gateway: GatewaySim, control: ControlServer
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", control.port)
    try:
        for line in BAD_LINES:
            writer.write(line.encode() + b"\n")
            answer = await asyncio.wait_for(reader.readline(), 2)
            assert answer.startswith(b"error "), (line, answer)
            assert answer.count(b"\n") == 1
        writer.write(b"\xff\xfe status\n")
        assert (await reader.readline()).startswith(b"error the line is not UTF-8")
        writer.write(b"status\r\n")
        assert (await reader.readline()).startswith(b"ok {")
        assert gateway.faults.reject_next is None
        assert gateway.faults.delay_seconds == 0
        assert gateway.faults.refuse_until == 0

        writer.write(b"x" * 10_000 + b"\n")  # too long: an answer, then the port hangs up
        assert (await reader.readline()).startswith(b"error a line is at most")
        assert await reader.read() == b""
    finally:
        writer.close()
    assert (await send_command("status", port=control.port)).startswith("ok ")


@pytest.mark.parametrize(
    "host", ["0.0.0.0", "::", "192.168.1.20", "10.0.0.1", "localhost", "example.com", ""]
)
def test_the_control_port_listens_on_loopback_only(gateway: GatewaySim, host: str) -> None:
    with pytest.raises(ValueError, match="loopback"):
        ControlServer(gateway, host=host, port=0)


# -- the programs -----------------------------------------------------------------------------


async def _ctl(port: int, *command: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        CLI,
        "gateway-ctl",
        *command,
        "--control-port",
        str(port),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 20)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_gateway_ctl_drives_a_gateway_sim_program(tmp_path: Path) -> None:
    port, control_port = free_port(), free_port()
    env = {**os.environ, "LOG_LEVEL": "WARNING"}
    process = subprocess.Popen(  # noqa: ASYNC220 - the server runs beside the test
        [CLI, "gateway-sim", "--port", str(port), "--control-port", str(control_port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        for _ in range(100):
            assert process.poll() is None, process.stdout.read() if process.stdout else ""
            try:
                await send_command("status", port=control_port, timeout=1)
                break
            except OSError:
                await asyncio.sleep(0.1)
        else:
            pytest.fail("gateway-sim's control port did not open")
        ib = IB()
        await ib.connectAsync("127.0.0.1", port, clientId=5, timeout=5)
        disconnected = asyncio.Event()
        ib.disconnectedEvent += disconnected.set
        try:
            code, out, _ = await _ctl(control_port, "status")
            assert code == 0
            assert out.startswith("ok ")
            assert json.loads(out.removeprefix("ok "))["clients"] == [5]

            code, out, _ = await _ctl(control_port, "drop")
            assert (code, out.split()[:2]) == (0, ["ok", "dropped"])
            await asyncio.wait_for(disconnected.wait(), 5)
            assert not ib.isConnected()

            code, out, err = await _ctl(control_port, "refuse", "soon")
            assert (code, out) == (1, "")
            assert err.startswith("error SECONDS must be")
        finally:
            ib.disconnect()
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    code, _, err = await _ctl(control_port, "status")  # nobody listens any more
    assert code == 2
    assert err.startswith("error: gateway-sim control port")


async def test_refusing_closes_the_port_like_a_gateway_that_is_down(gateway: GatewaySim) -> None:
    gateway.refuse_connections(0.5)
    with pytest.raises(ConnectionRefusedError):
        await asyncio.open_connection("127.0.0.1", gateway.port)
    await asyncio.sleep(0.7)
    _, writer = await asyncio.open_connection("127.0.0.1", gateway.port)
    writer.close()
