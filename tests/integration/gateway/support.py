"""Helpers for the gateway-sim tests that restart it or cut it off: gateways and clients."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from ib_async import IB, Trade

from stocks_api.broker.gateway.server import GatewaySim
from stocks_api.core.calendar import SessionCalendar
from tests.conftest import make_settings

SETTINGS = make_settings("sqlite+aiosqlite://")  # the market's settings, open around the clock


@asynccontextmanager
async def gateway_on(
    state_file: Path | None,
    *,
    calendar: SessionCalendar | None = None,
    clock: Callable[[], datetime] | None = None,
) -> AsyncIterator[GatewaySim]:
    """A gateway-sim on a spare port keeping its state in `state_file` (None: none)."""
    gateway = GatewaySim(
        SETTINGS.sim,
        port=0,
        calendar=calendar or SETTINGS.session.calendar(),
        tick=False,
        clock=clock,
        state_file=state_file,
    )
    await gateway.start()
    try:
        yield gateway
    finally:
        await gateway.close()


@asynccontextmanager
async def client(gateway: GatewaySim, client_id: int = 7) -> AsyncIterator[IB]:
    """An ib_async client connected to `gateway`."""
    ib = IB()
    await ib.connectAsync("127.0.0.1", gateway.port, clientId=client_id, timeout=5)
    try:
        yield ib
    finally:
        ib.disconnect()


def record_errors(ib: IB) -> list[tuple[int, int, str]]:
    errors: list[tuple[int, int, str]] = []
    ib.errorEvent += lambda req_id, code, message, contract: errors.append((req_id, code, message))
    return errors


def trade_of(ib: IB, perm_id: int) -> Trade:
    """The client's trade of the order with `perm_id` (restored trades have new objects)."""
    [trade] = [t for t in ib.trades() if t.order.permId == perm_id]
    return trade


def status_of(ib: IB, perm_id: int) -> str:
    trades = [t for t in ib.trades() if t.order.permId == perm_id]
    return trades[0].orderStatus.status if trades else ""


async def nothing_arrives(ib: IB, seconds: float = 0.3) -> None:
    """Wait `seconds` for an answer that must not come (the gateway withholds it)."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(ib.reqCurrentTimeAsync(), seconds)
        raise AssertionError("gateway-sim answered")


def cash(ib: IB) -> str:
    [value] = [v.value for v in ib.accountValues() if v.tag == "TotalCashValue"]
    return value


def positions(ib: IB) -> dict[str, float]:
    return {p.contract.symbol: p.position for p in ib.positions() if p.position}


def exec_ids(ib: IB) -> list[str]:
    return [fill.execution.execId for fill in ib.fills()]


def details(trades: list[Any]) -> list[tuple[int, str, str, str, float]]:
    """(permId, orderRef, action, status, totalQuantity) of trades, before and after."""
    return sorted(
        (
            t.order.permId,
            t.order.orderRef,
            t.order.action,
            t.orderStatus.status,
            t.order.totalQuantity,
        )
        for t in trades
    )


def order_ids(trades: list[Any]) -> list[tuple[int, int]]:
    """(permId, orderId) of trades (completed orders carry no order id at IB)."""
    return sorted((t.order.permId, t.order.orderId) for t in trades)
