"""`stocks-api gateway-sim` as a program: an ib_async script written for IB Gateway trades on it."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from ib_async import IB, MarketOrder, Stock

from tests.redis_servers import free_port

CLI = str(Path(sys.executable).parent / "stocks-api")


async def _connect(port: int, process: subprocess.Popen[str]) -> IB:
    ib = IB()
    for _ in range(100):
        assert process.poll() is None, process.stdout.read() if process.stdout else ""
        try:
            await ib.connectAsync("127.0.0.1", port, clientId=1, timeout=3)
            return ib
        except (ConnectionRefusedError, OSError, TimeoutError):
            await asyncio.sleep(0.1)
    pytest.fail("gateway-sim did not accept connections")


async def test_gateway_sim_serves_an_unmodified_ib_async_script(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "LOG_LEVEL": "WARNING",
        # Open around the clock, so a market order fills at any hour.
        "SESSION_OPEN": "00:00",
        "SESSION_CLOSE": "24:00",
        "SESSION_DAYS": "mon-sun",
        "SESSION_EXCHANGE": "none",
    }
    process = subprocess.Popen(  # noqa: ASYNC220 - the server runs beside the test
        [CLI, "gateway-sim", "--port", str(port), "--seed", "3", "--account", "DU7654321"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        ib = await _connect(port, process)
        try:
            assert ib.managedAccounts() == ["DU7654321"]
            [msft] = await ib.qualifyContractsAsync(Stock("MSFT", "SMART", "USD"))
            trade = ib.placeOrder(msft, MarketOrder("BUY", 3))
            for _ in range(250):
                if trade.isDone():
                    break
                await asyncio.sleep(0.02)
            assert trade.orderStatus.status == "Filled"
            assert sum(f.execution.shares for f in trade.fills) == 3
            assert all(f.commissionReport.commission > 0 for f in trade.fills)
        finally:
            ib.disconnect()
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
