"""gateway-sim with a state file keeps what IB keeps across a restart, as ib_async sees it."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from ib_async import IB, LimitOrder, MarketOrder, Order, Stock

from stocks_api.broker.gateway.control import ControlServer, send_command
from stocks_api.core.calendar import build_calendar
from tests.conftest import eventually
from tests.factories import set_market
from tests.integration.gateway.support import (
    cash,
    client,
    details,
    exec_ids,
    gateway_on,
    order_ids,
    positions,
    status_of,
    trade_of,
)
from tests.redis_servers import free_port
from tests.unit.broker.sim.support import FakeClock

CLI = str(Path(sys.executable).parent / "stocks-api")
AAPL = Stock("AAPL", "SMART", "USD")


async def test_a_restart_keeps_orders_executions_positions_cash_and_ids(tmp_path: Path) -> None:
    state_file = tmp_path / "gateway.sqlite3"
    async with gateway_on(state_file) as gateway, client(gateway) as ib:
        [aapl] = await ib.qualifyContractsAsync(AAPL)
        set_market(gateway.broker.engine, "189.99", "190.00", size=5000, last="190.00")
        bought = ib.placeOrder(aapl, MarketOrder("BUY", 10, orderRef="cid-bought"))
        await eventually(bought.isDone)
        resting = ib.placeOrder(aapl, LimitOrder("BUY", 5, 180.0, tif="GTC", orderRef="cid-rest"))
        await eventually(lambda: resting.orderStatus.status == "Submitted")
        before_open = details(ib.openTrades())
        before_ids = order_ids(ib.openTrades())
        before_done = details([bought])
        before_fills = exec_ids(ib)
        before_cash = cash(ib)
        await eventually(lambda: positions(ib) == {"AAPL": 10})
        highest = max(bought.order.orderId, resting.order.orderId)

    async with gateway_on(state_file) as gateway, client(gateway) as ib:
        # ib_async asks for all of it when it connects, as after a real gateway restart.
        assert details(ib.openTrades()) == before_open
        assert order_ids(ib.openTrades()) == before_ids
        assert details(await ib.reqCompletedOrdersAsync(apiOnly=False)) == before_done
        assert exec_ids(ib) == before_fills
        assert positions(ib) == {"AAPL": 10}
        assert cash(ib) == before_cash
        [again] = await ib.qualifyContractsAsync(AAPL)
        assert again.conId == aapl.conId

        # The resting order works on: it fills, with an exec id never seen before.
        set_market(gateway.broker.engine, "179.98", "180.00", size=5000, last="180.00")
        await eventually(lambda: status_of(ib, resting.order.permId) == "Filled")
        assert len(exec_ids(ib)) == 2
        assert len(set(exec_ids(ib))) == 2
        await eventually(lambda: positions(ib) == {"AAPL": 15})
        assert float(cash(ib)) < float(before_cash)

        # New orders take ids above the old ones.
        later = ib.placeOrder(aapl, MarketOrder("SELL", 1))
        await eventually(later.isDone)
        assert later.order.orderId > highest
        assert later.order.permId > resting.order.permId
        ids = [f.execution.execId for f in await ib.reqExecutionsAsync()]
        assert len(ids) == len(set(ids)) == 3


async def test_a_restored_order_can_be_modified_and_cancelled(tmp_path: Path) -> None:
    state_file = tmp_path / "gateway.sqlite3"
    async with gateway_on(state_file) as gateway, client(gateway) as ib:
        set_market(gateway.broker.engine, "189.99", "190.00", size=5000, last="190.00")
        order = LimitOrder("BUY", 5, 180.0, tif="GTC", orderRef="cid-rest")
        trade = ib.placeOrder(AAPL, order)
        await eventually(lambda: trade.orderStatus.status == "Submitted")

    async with gateway_on(state_file) as gateway, client(gateway) as ib:
        restored = trade_of(ib, trade.order.permId)
        assert restored.order.orderId == order.orderId
        restored.order.lmtPrice = 181.0
        ib.placeOrder(restored.contract, restored.order)  # the same order id: a modification
        engine = gateway.broker.engine
        await eventually(lambda: engine.open_orders()[0].request.limit_price == 181)
        [again] = await ib.reqAllOpenOrdersAsync()
        assert (again.order.permId, again.order.lmtPrice) == (trade.order.permId, 181.0)

        ib.cancelOrder(restored.order)
        await eventually(lambda: status_of(ib, trade.order.permId) == "Cancelled")
        assert gateway.broker.engine.open_orders() == []

    async with gateway_on(state_file) as gateway, client(gateway) as ib:
        assert ib.openTrades() == []
        [done] = await ib.reqCompletedOrdersAsync(apiOnly=False)
        assert (done.order.permId, done.orderStatus.status) == (trade.order.permId, "Cancelled")


async def test_a_partly_filled_order_fills_its_remainder_after_a_restart(tmp_path: Path) -> None:
    state_file = tmp_path / "gateway.sqlite3"
    async with gateway_on(state_file) as gateway, client(gateway) as ib:
        set_market(gateway.broker.engine, "189.99", "190.00", size=100, last="190.00")
        trade = ib.placeOrder(AAPL, LimitOrder("BUY", 300, 190.0, tif="GTC", orderRef="part"))
        await eventually(lambda: trade.orderStatus.filled == 100)
        [first] = trade.fills
        await eventually(lambda: first.commissionReport.commission == 1.0)  # the minimum

    async with gateway_on(state_file) as gateway, client(gateway) as ib:
        restored = trade_of(ib, trade.order.permId)
        assert (restored.orderStatus.filled, restored.orderStatus.remaining) == (100, 200)
        set_market(gateway.broker.engine, "189.99", "190.00", size=1000, last="190.00")
        await eventually(lambda: restored.orderStatus.status == "Filled")
        assert restored.orderStatus.filled == 300
        await eventually(lambda: len(ib.fills()) == 2 and ib.fills()[1].commissionReport.execId)
        fills = ib.fills()
        assert [f.execution.shares for f in fills] == [100, 200]
        # 300 shares cost 1.50 in all: the minimum is not charged again after the restart.
        assert [f.commissionReport.commission for f in fills] == [1.0, pytest.approx(0.5)]
        assert positions(ib) == {"AAPL": 300}


async def test_brackets_come_back_held_and_then_as_oca_siblings(tmp_path: Path) -> None:
    state_file = tmp_path / "gateway.sqlite3"
    async with gateway_on(state_file) as gateway, client(gateway) as ib:
        set_market(gateway.broker.engine, "189.99", "190.00", size=5000, last="190.00")
        bracket = ib.bracketOrder("BUY", 10, 180.0, 200.0, 170.0, tif="GTC")
        trades = [ib.placeOrder(AAPL, order) for order in bracket]
        await eventually(lambda: all(t.orderStatus.status == "Submitted" for t in trades))
        parent, take_profit, stop_loss = (t.order.permId for t in trades)
        assert [o.held for o in gateway.broker.engine.open_orders()] == [False, True, True]

    # The parent still works, its children wait for it.
    async with gateway_on(state_file) as gateway, client(gateway) as ib:
        engine = gateway.broker.engine
        assert [o.held for o in engine.open_orders()] == [False, True, True]
        assert len(ib.openTrades()) == 3
        set_market(engine, "179.99", "180.00", size=5000, last="180.00")  # the parent fills
        await eventually(lambda: status_of(ib, parent) == "Filled")
        assert [o.held for o in engine.open_orders()] == [False, False]

    # The children work, one cancelling the other.
    async with gateway_on(state_file) as gateway, client(gateway) as ib:
        assert sorted(t.order.permId for t in ib.openTrades()) == [take_profit, stop_loss]
        set_market(gateway.broker.engine, "200.00", "200.02", size=5000, last="200.00")
        await eventually(lambda: status_of(ib, take_profit) == "Filled")
        await eventually(lambda: status_of(ib, stop_loss) == "Cancelled")
        assert positions(ib) == {}
        assert gateway.broker.engine.open_orders() == []


async def test_a_trailing_stop_comes_back_where_it_had_moved(tmp_path: Path) -> None:
    state_file = tmp_path / "gateway.sqlite3"
    async with gateway_on(state_file) as gateway, client(gateway) as ib:
        engine = gateway.broker.engine
        set_market(engine, "299.99", "300.00", size=5000, last="300.00")
        order = Order(action="SELL", totalQuantity=5, orderType="TRAIL", auxPrice=2.0, tif="GTC")
        trade = ib.placeOrder(AAPL, order)
        await eventually(lambda: trade.orderStatus.status == "Submitted")
        set_market(engine, "309.99", "310.00", size=5000, last="310.00")  # it ratchets up
        await eventually(lambda: engine.open_orders()[0].stop_price == 308)

        # The engine moves it silently; gateway-sim notes the move within a tick.
        [noted] = gateway.open_orders(None)
        await eventually(lambda: noted.trail_stop_price == 308)

    async with gateway_on(state_file) as gateway, client(gateway) as ib:
        engine = gateway.broker.engine
        set_market(engine, "308.99", "309.00", size=5000, last="309.00")
        assert engine.open_orders()[0].stop_price == 308  # not 307 from this market
        set_market(engine, "307.50", "307.52", size=5000, last="307.50")
        await eventually(lambda: status_of(ib, trade.order.permId) == "Filled")


async def test_a_day_order_whose_close_passed_meanwhile_has_expired(tmp_path: Path) -> None:
    state_file = tmp_path / "gateway.sqlite3"
    calendar = build_calendar(
        zone="UTC", open_at="00:00", close_at="21:00", weekdays="mon-sun", holidays=""
    )
    clock = FakeClock(datetime.now(UTC).replace(hour=12))
    async with (
        gateway_on(state_file, calendar=calendar, clock=clock) as gateway,
        client(gateway) as ib,
    ):
        set_market(gateway.broker.engine, "189.99", "190.00", size=5000, last="190.00")
        day = ib.placeOrder(AAPL, LimitOrder("BUY", 5, 180.0, tif="DAY"))
        gtc = ib.placeOrder(AAPL, LimitOrder("BUY", 5, 180.0, tif="GTC"))
        await eventually(lambda: day.orderStatus.status == gtc.orderStatus.status == "Submitted")

    clock.advance(hours=10)  # gateway-sim was down over the close
    async with (
        gateway_on(state_file, calendar=calendar, clock=clock) as gateway,
        client(gateway) as ib,
    ):
        assert [t.order.permId for t in ib.openTrades()] == [gtc.order.permId]
        [done] = await ib.reqCompletedOrdersAsync(apiOnly=False)
        assert (done.order.permId, done.orderStatus.status) == (day.order.permId, "Cancelled")


async def test_without_a_state_file_every_start_is_a_clean_slate() -> None:
    async with gateway_on(None) as gateway, client(gateway) as ib:
        set_market(gateway.broker.engine, "189.99", "190.00", size=5000, last="190.00")
        trade = ib.placeOrder(AAPL, MarketOrder("BUY", 10))
        await eventually(trade.isDone)
    async with gateway_on(None) as gateway, client(gateway) as ib:
        assert (ib.trades(), ib.fills(), positions(ib)) == ([], [], {})


# -- restart: in-process and through the control port -----------------------------------------


async def _refused(port: int) -> bool:
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
    except ConnectionRefusedError:
        return True
    writer.close()
    return False


@pytest.mark.parametrize("kept", ["state file", "memory"])
async def test_restart_drops_refuses_and_comes_back_with_the_state(
    tmp_path: Path, kept: str
) -> None:
    state_file = tmp_path / "gateway.sqlite3" if kept == "state file" else None
    async with gateway_on(state_file) as gateway:
        control = ControlServer(gateway, port=0)
        await control.start()
        try:
            async with client(gateway) as ib:
                disconnected = asyncio.Event()
                ib.disconnectedEvent += disconnected.set
                set_market(gateway.broker.engine, "189.99", "190.00", size=5000, last="190.00")
                resting = ib.placeOrder(AAPL, LimitOrder("BUY", 5, 180.0, tif="GTC"))
                await eventually(lambda: resting.orderStatus.status == "Submitted")
                old_engine = gateway.broker.engine

                answer = await send_command("restart 0.5", port=control.port)
                assert answer.startswith("ok restarting: dropped clients [7], back in 0.5 s")
                await asyncio.wait_for(disconnected.wait(), 5)
                assert await _refused(gateway.port)
                again = await send_command("restart 1", port=control.port)
                assert again == "error a restart is under way"
                status = await send_command("status", port=control.port)
                assert '"restarting": true' in status

            await eventually(lambda: not gateway.restarting)
            # Reloaded from the file: a new engine, which has the resting order again.
            assert (gateway.broker.engine is old_engine) == (state_file is None)
            async with client(gateway) as ib:
                assert [t.order.permId for t in ib.openTrades()] == [resting.order.permId]
                set_market(gateway.broker.engine, "179.99", "180.00", size=5000, last="180.00")
                await eventually(lambda: status_of(ib, resting.order.permId) == "Filled")
        finally:
            await control.close()


# -- the program, killed ----------------------------------------------------------------------


def _start(port: int, state_file: Path, cwd: Path) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "LOG_LEVEL": "WARNING",
        "SESSION_OPEN": "00:00",
        "SESSION_CLOSE": "24:00",
        "SESSION_DAYS": "mon-sun",
        "SESSION_EXCHANGE": "none",
    }
    command = [CLI, "gateway-sim", "--port", str(port), "--state-file", str(state_file)]
    return subprocess.Popen(
        command, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


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


def _stop(process: subprocess.Popen[str], sig: int) -> None:
    process.send_signal(sig)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


async def test_a_killed_gateway_sim_keeps_its_orders_fills_and_positions(tmp_path: Path) -> None:
    port, state_file = free_port(), tmp_path / "gateway.sqlite3"
    process = _start(port, state_file, tmp_path)
    try:
        ib = await _connect(port, process)
        try:
            bought = ib.placeOrder(Stock("MSFT", "SMART", "USD"), MarketOrder("BUY", 3))
            await eventually(lambda: bought.isDone() and bought.fills)
            resting = ib.placeOrder(
                Stock("MSFT", "SMART", "USD"), LimitOrder("BUY", 2, 1.0, tif="GTC", orderRef="r")
            )
            await eventually(lambda: resting.orderStatus.status == "Submitted")
            heard = exec_ids(ib)
        finally:
            ib.disconnect()
    finally:
        _stop(process, signal.SIGKILL)  # no chance to write anything more

    process = _start(port, state_file, tmp_path)
    try:
        ib = await _connect(port, process)
        try:
            assert [(t.order.permId, t.order.orderRef) for t in ib.openTrades()] == [
                (resting.order.permId, "r")
            ]
            assert exec_ids(ib) == heard
            assert positions(ib) == {"MSFT": 3}
        finally:
            ib.disconnect()
    finally:
        _stop(process, signal.SIGINT)


async def test_a_state_file_of_another_account_is_refused(tmp_path: Path) -> None:
    state_file = tmp_path / "gateway.sqlite3"
    async with gateway_on(state_file):
        pass
    process = await asyncio.create_subprocess_exec(
        CLI,
        "gateway-sim",
        "--port",
        str(free_port()),
        "--account",
        "DU7654321",
        "--state-file",
        str(state_file),
        env={**os.environ, "LOG_LEVEL": "WARNING"},
        stderr=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.DEVNULL,
    )
    _, err = await asyncio.wait_for(process.communicate(), 20)
    assert process.returncode == 2
    assert "the state of account DU1234567, not DU7654321" in err.decode()


async def test_an_unseeded_gateway_keeps_its_market_across_a_restart(tmp_path: Path) -> None:
    from stocks_api.broker.gateway.server import GatewaySim
    from stocks_api.broker.protocol import BarInterval
    from stocks_api.broker.sim.settings import SimSettings

    state = tmp_path / "state.db"
    clock = FakeClock(datetime(2026, 11, 24, 16, 0, tzinfo=UTC))
    calendar = build_calendar(
        zone="UTC", open_at="00:00", close_at="24:00", weekdays="mon-sun", exchange="none"
    )
    shown = []
    for _ in range(3):  # first start, a restart, and an unrelated gateway without the file
        gateway = GatewaySim(
            SimSettings(symbols="AAPL"),  # no SIM_SEED: a random one, kept in the state file
            port=0,
            calendar=calendar,
            tick=False,
            clock=clock,
            state_file=state if len(shown) < 2 else tmp_path / "other.db",
        )
        await gateway.start()
        try:
            shown.append(await gateway.broker.get_bars("AAPL", BarInterval.M1, limit=60, end=None))
        finally:
            await gateway.close()
    assert shown[0] == shown[1]
    assert shown[0] != shown[2]
