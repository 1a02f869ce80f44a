"""IB's pacing limit (50 messages a second): gateway-sim enforces it, IbkrBroker keeps to it."""

from __future__ import annotations

import asyncio

from ib_async import IB, Stock

from stocks_api.broker.gateway.server import MAX_RATE_EXCEEDED, GatewaySim
from stocks_api.broker.ib.broker import IbkrBroker
from stocks_api.broker.ib.settings import IbSettings
from tests.conftest import eventually

BURST = 120  # requests fired at once: more than two seconds' worth at IB's limit
SYMBOLS = ("AAPL", "MSFT", "IBM")


async def test_a_client_sending_too_fast_gets_ibs_error_100(gateway: GatewaySim) -> None:
    ib = IB()
    ib.client.MaxRequests = 0  # ib_async's throttle off: every request goes out at once
    await ib.connectAsync("127.0.0.1", gateway.port, clientId=5, timeout=5)
    codes: list[int] = []
    ib.errorEvent += lambda req_id, code, message, contract: codes.append(code)
    try:
        for index in range(BURST):
            ib.client.reqContractDetails(1000 + index, Stock(SYMBOLS[index % 3], "SMART", "USD"))
        await eventually(lambda: MAX_RATE_EXCEEDED in codes)
    finally:
        ib.disconnect()
    assert gateway.pacing_violations > 0


async def test_with_pacing_off_a_fast_client_is_served_without_error_100(
    gateway: GatewaySim,
) -> None:
    gateway.pacing = False  # gateway-sim --no-pacing: benchmarks of the API, not of IB's pace
    ib = IB()
    ib.client.MaxRequests = 0
    await ib.connectAsync("127.0.0.1", gateway.port, clientId=7, timeout=5)
    codes: list[int] = []
    ib.errorEvent += lambda req_id, code, message, contract: codes.append(code)
    try:
        details = await asyncio.gather(
            *(
                ib.reqContractDetailsAsync(Stock(SYMBOLS[i % 3], "SMART", "USD"))
                for i in range(BURST)
            )
        )
    finally:
        ib.disconnect()
    assert all(len(found) == 1 for found in details)
    assert MAX_RATE_EXCEEDED not in codes
    assert gateway.pacing_violations == 0


async def test_ibkr_broker_stays_under_the_limit_however_many_calls_it_gets(
    gateway: GatewaySim,
) -> None:
    settings = IbSettings(port=gateway.port, client_id=6, connect_timeout_seconds=5)
    broker = IbkrBroker(settings, timeout=10)
    await broker.connect(lambda event: None)
    loop = asyncio.get_running_loop()
    try:
        started = loop.time()
        contracts = await asyncio.gather(
            *(broker.contract(SYMBOLS[index % 3]) for index in range(BURST))
        )
        elapsed = loop.time() - started
    finally:
        await broker.close()
    assert all(contract is not None for contract in contracts)
    assert gateway.pacing_violations == 0
    # 120 requests at 45 a second cannot all go out in under two seconds: they were paced.
    assert elapsed > (BURST - settings.max_messages_per_second) / settings.max_messages_per_second
