"""The API on BROKER=ibkr when things break: a dropped connection, a crash mid-order.

Orders carry their client_order_id to IB as orderRef, and every (re)connect replays IB's
open and completed orders and executions, so nothing is lost or recorded twice.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager, suppress
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from stocks_api.broker.gateway.server import GatewaySim
from stocks_api.core import metrics
from tests.conftest import (
    IB_CLIENT_ID,
    api_client,
    eventually,
    make_key,
    make_settings,
    running_app,
    running_gateway,
    settle_app,
)
from tests.factories import order_body, place, set_market, wait_for_status
from tests.redis_servers import free_port

CLI = str(Path(sys.executable).parent / "stocks-api")


def _reconnects() -> float:
    return metrics.BROKER_RECONNECTS._value.get()  # type: ignore[attr-defined,no-any-return]


async def _fills(http: httpx.AsyncClient, order_id: int) -> list[dict[str, Any]]:
    response = await http.get("/api/v1/fills", params={"order_id": order_id})
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_a_fill_made_while_disconnected_is_recorded_once(clean_database: str) -> None:
    settings = make_settings(clean_database)
    async with (
        running_app(settings, "ibkr") as app,
        api_client(app, await make_key(app)) as http,
    ):
        gateway: GatewaySim = app.state.gateway
        set_market(gateway.broker.engine, "189.99", "190.00", size=5000, last="190.00")
        order = await place(http, type="limit", limit_price="185.00", tif="gtc", qty="7")
        assert order["status"] == "submitted"
        before = _reconnects()

        # The connection drops after the order went in, and stays down for a second...
        gateway.refuse_connections(1.0)
        gateway.drop_connections()
        await eventually(lambda: not app.state.broker.is_connected)
        # ...during which the order fills at IB.
        set_market(gateway.broker.engine, "184.00", "184.02", size=5000, last="184.01")
        assert len(gateway.executions(0)) == 1

        filled = await wait_for_status(http, order["id"], "filled", seconds=20)
        assert Decimal(filled["avg_fill_price"]) == Decimal("184.02")
        assert len(await _fills(http, order["id"])) == 1
        await eventually(lambda: _reconnects() == before + 1)  # counted once replayed

        # Another reconnect replays the same execution: still one fill, one position.
        gateway.drop_connections()
        await eventually(lambda: not app.state.broker.is_connected)
        await eventually(lambda: _reconnects() == before + 2, seconds=20)
        await settle_app(app)
        assert len(await _fills(http, order["id"])) == 1
        position = (await http.get("/api/v1/positions/AAPL")).json()
        assert Decimal(position["qty"]) == 7
        broker = (await http.get("/api/v1/broker")).json()
        assert broker["connected"] is True
        assert broker["last_reconnect_at"] is not None


# -- a crash between the write-ahead and IB's answer -----------------------------------------


async def _cli(env: dict[str, str], cwd: Path, *args: str) -> str:
    process = await asyncio.create_subprocess_exec(
        CLI, *args, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    output, _ = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, output.decode()
    return output.decode()


@asynccontextmanager
async def api_process(
    database_url: str, gateway: GatewaySim, workdir: Path
) -> AsyncIterator[tuple[asyncio.subprocess.Process, httpx.AsyncClient]]:
    """`stocks-api serve` on BROKER=ibkr against `gateway`, and a client with a trade key.

    IB_ACK_TIMEOUT_SECONDS is long, so the server is still waiting for IB's answer to an
    order when a test kills it.
    """
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "BROKER": "ibkr",
        "IB_PORT": str(gateway.port),
        "IB_CLIENT_ID": str(IB_CLIENT_ID),
        "IB_ACK_TIMEOUT_SECONDS": "20",
        "SESSION_TIMEZONE": "UTC",
        "SESSION_OPEN": "00:00",
        "SESSION_CLOSE": "24:00",
        "SESSION_DAYS": "mon-sun",
        "SESSION_EXCHANGE": "none",
        "AUTH_BOOTSTRAP_ADMIN_KEY": "false",
        "LOG_LEVEL": "WARNING",
    }
    output = await _cli(env, workdir, "create-api-key", "--name", "crash", "--scopes", "read,trade")
    key = output.strip().splitlines()[-1]
    port = free_port()
    with (workdir / "server.log").open("a") as log:
        process = await asyncio.create_subprocess_exec(
            *(CLI, "serve", "--host", "127.0.0.1", "--port", str(port)),
            env=env,
            cwd=workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base, headers={"X-API-Key": key}) as http:
            deadline = asyncio.get_running_loop().time() + 30
            while True:
                with suppress(httpx.TransportError):
                    if (await http.get("/health/ready", timeout=1)).status_code == 200:
                        break
                log_text = (workdir / "server.log").read_text()
                assert process.returncode is None, f"the server stopped: {log_text}"
                assert asyncio.get_running_loop().time() < deadline, f"no start: {log_text}"
                await asyncio.sleep(0.1)
            yield process, http
    finally:
        if process.returncode is None:
            process.kill()
        await asyncio.wait_for(process.wait(), 10)


async def _killed_mid_order(
    process: asyncio.subprocess.Process,
    http: httpx.AsyncClient,
    body: dict[str, Any],
    ready: Callable[[], Awaitable[bool]],
) -> None:
    """POST `body`; SIGKILL the server once `ready()` holds, while it awaits IB's answer."""
    post = asyncio.create_task(http.post("/api/v1/orders", json=body, timeout=30))
    await eventually(ready, seconds=10, what="the order getting that far")
    assert not post.done(), "the server answered before it was killed"
    process.kill()  # SIGKILL: no shutdown, no last words
    assert await asyncio.wait_for(process.wait(), 10) == -9
    with suppress(httpx.TransportError):
        await post


async def test_killed_while_ib_holds_its_answer_the_order_is_found_by_order_ref(
    clean_database: str, tmp_path: Path
) -> None:
    settings = make_settings(clean_database)
    async with running_gateway(settings) as gateway:
        set_market(gateway.broker.engine, "189.99", "190.00", size=5000, last="190.00")
        async with api_process(clean_database, gateway, tmp_path) as (process, http):
            # IB takes and fills the order, but the answer never reaches the API.
            gateway.mute_next_orders(1)
            body = order_body(qty="3", client_order_id="crash-after-send")

            async def traded() -> bool:
                return bool(gateway.executions(0))

            await _killed_mid_order(process, http, body, traded)
        await eventually(lambda: not gateway.client_ids)

        async with (
            running_app(settings, "ibkr", gateway=gateway) as app,
            api_client(app, await make_key(app)) as http,
        ):
            order = (await http.get("/api/v1/orders/by-client-id/crash-after-send")).json()
            assert order["status"] == "filled"
            fills = await _fills(http, order["id"])
            assert [Decimal(f["qty"]) for f in fills] == [3]
            assert Decimal((await http.get("/api/v1/positions/AAPL")).json()["qty"]) == 3
            events = (await http.get(f"/api/v1/orders/{order['id']}/events")).json()
            assert events[0]["to_status"] == "pending_submit"  # the write-ahead row
            assert events[-1]["to_status"] == "filled"
            await settle_app(app)
        # IB has the order once: nothing was sent again.
        assert len(gateway.executions(0)) == 1
        assert len(gateway.completed_orders()) == 1


async def test_killed_before_the_order_reached_ib_it_is_closed_not_sent_again(
    clean_database: str, tmp_path: Path
) -> None:
    settings = make_settings(clean_database)
    async with running_gateway(settings) as gateway:
        set_market(gateway.broker.engine, "189.99", "190.00", size=5000, last="190.00")
        async with api_process(clean_database, gateway, tmp_path) as (process, http):
            # The order is written ahead, but never reaches IB.
            gateway.lose_next_orders(1)
            body = order_body(qty="4", client_order_id="crash-before-send")

            async def written_ahead() -> bool:
                response = await http.get("/api/v1/orders/by-client-id/crash-before-send")
                return response.status_code == 200

            await _killed_mid_order(process, http, body, written_ahead)
        await eventually(lambda: not gateway.client_ids)

        async with (
            running_app(settings, "ibkr", gateway=gateway) as app,
            api_client(app, await make_key(app)) as http,
        ):
            order = (await http.get("/api/v1/orders/by-client-id/crash-before-send")).json()
            assert order["status"] == "rejected"
            assert order["reject_reason"] == (
                "never reached the broker: unknown to it when reconciled after a restart"
            )
            assert await _fills(http, order["id"]) == []
            await settle_app(app)
        assert gateway.executions(0) == []
        assert gateway.open_orders(None) == []
        assert gateway.completed_orders() == []


# -- two API instances on one database and one gateway -----------------------------------------


async def test_of_two_instances_only_the_owner_connects_to_ib_and_trades(
    clean_database: str,
) -> None:
    settings = make_settings(clean_database)
    settings.broker_lock_retry_seconds = 0.2
    async with running_gateway(settings) as gateway:
        set_market(gateway.broker.engine, "189.99", "190.00", size=5000, last="190.00")
        async with AsyncExitStack() as owner_stack:
            owner = await owner_stack.enter_async_context(
                running_app(settings, "ibkr", gateway=gateway)
            )
            owner_http = await owner_stack.enter_async_context(
                api_client(owner, await make_key(owner))
            )
            async with (
                running_app(settings, "ibkr", gateway=gateway) as standby,
                api_client(standby, await make_key(standby, name="standby")) as standby_http,
            ):
                # One IB session: the owner's. The standby never connects.
                assert gateway.client_ids == [IB_CLIENT_ID]
                assert standby.state.broker.is_connected is False
                refused = await standby_http.post("/api/v1/orders", json=order_body(qty="2"))
                assert refused.status_code == 503
                assert refused.json()["error"]["code"] == "READ_ONLY_INSTANCE"
                broker = (await standby_http.get("/api/v1/broker")).json()
                assert (broker["role"], broker["read_only"]) == ("standby", True)

                order = await place(owner_http, qty="5")
                assert order["status"] == "filled"
                # The standby reads the owner's order from the database.
                seen = (await standby_http.get(f"/api/v1/orders/{order['id']}")).json()
                assert seen["status"] == "filled"
                assert len(gateway.executions(0)) == 1

                await owner_stack.aclose()  # the owner stops: the standby takes over
                await eventually(lambda: standby.state.ownership.is_owner, seconds=10)
                assert gateway.client_ids == [IB_CLIENT_ID]
                taken_over = await place(standby_http, qty="1")
                assert taken_over["status"] == "filled"
        assert [e.shares for e, _ in gateway.executions(0)] == [5, 1]


async def test_while_ib_is_unreachable_orders_get_503_and_nothing_is_written(
    clean_database: str,
) -> None:
    settings = make_settings(clean_database)
    async with (
        running_app(settings, "ibkr") as app,
        api_client(app, await make_key(app)) as http,
    ):
        gateway: GatewaySim = app.state.gateway
        set_market(gateway.broker.engine, "189.99", "190.00", size=5000, last="190.00")
        resting = await place(http, type="limit", limit_price="185.00", tif="gtc", qty="2")
        gateway.refuse_connections(30)
        gateway.drop_connections()
        await eventually(lambda: not app.state.broker.is_connected)

        for symbol in ("AAPL", "MSFT"):  # AAPL's contract is cached, MSFT's is not
            refused = await http.post("/api/v1/orders", json=order_body(symbol=symbol))
            assert refused.status_code == 503, refused.text
            assert refused.json()["error"]["code"] == "BROKER_UNAVAILABLE"
        cancel = await http.delete(f"/api/v1/orders/{resting['id']}")
        assert cancel.status_code == 503, cancel.text
        orders = (await http.get("/api/v1/orders")).json()["items"]
        assert [(o["id"], o["status"]) for o in orders] == [(resting["id"], "submitted")]
