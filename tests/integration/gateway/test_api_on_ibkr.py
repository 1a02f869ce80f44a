"""The API with BROKER=ibkr: orders through ib_async and the TWS protocol to gateway-sim."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from stocks_api.broker.gateway.server import GatewaySim
from stocks_api.broker.ib import retention
from stocks_api.broker.ib.settings import IbSettings
from stocks_api.main import build_broker, create_app
from tests.conftest import api_client, make_key, make_settings
from tests.factories import order_body, set_market, wait_for_status


@pytest.fixture
async def api(
    clean_database: str, gateway: GatewaySim
) -> AsyncIterator[tuple[Any, httpx.AsyncClient]]:
    settings = make_settings(clean_database)
    settings.broker = "ibkr"
    settings.ib = IbSettings(port=gateway.port, client_id=11, connect_timeout_seconds=5)
    app = create_app(settings, broker_factory=build_broker)
    async with app.router.lifespan_context(app), api_client(app, await make_key(app)) as http:
        yield app, http


async def test_a_market_order_is_filled_through_ib_with_its_commission(
    api: tuple[Any, httpx.AsyncClient], gateway: GatewaySim
) -> None:
    _, http = api
    broker = (await http.get("/api/v1/broker")).json()
    assert (broker["kind"], broker["port"]) == ("ibkr", gateway.port)
    assert broker["server_version"] == "178"
    set_market(gateway.broker.engine, "189.99", "190.00", size=5000, last="190.00")

    response = await http.post("/api/v1/orders", json=order_body(qty="10"))
    assert response.status_code == 201, response.text
    order = await wait_for_status(http, response.json()["id"], "filled")
    assert Decimal(order["avg_fill_price"]) == Decimal("190")
    fills = (await http.get("/api/v1/fills", params={"order_id": order["id"]})).json()["items"]
    assert sum(Decimal(f["qty"]) for f in fills) == 10
    assert all(Decimal(f["commission"]) > 0 for f in fills)
    position = (await http.get("/api/v1/positions/AAPL")).json()
    assert Decimal(position["qty"]) == 10


async def test_a_resting_order_is_cancelled_and_a_rejection_keeps_ibs_reason(
    api: tuple[Any, httpx.AsyncClient], gateway: GatewaySim
) -> None:
    _, http = api
    set_market(gateway.broker.engine, "189.99", "190.00", size=5000, last="190.00")
    body = order_body(type="limit", limit_price="185.00", tif="gtc", qty="5")
    placed = (await http.post("/api/v1/orders", json=body)).json()
    await wait_for_status(http, placed["id"], "submitted")
    response = await http.delete(f"/api/v1/orders/{placed['id']}")
    assert response.status_code == 200, response.text
    await wait_for_status(http, placed["id"], "cancelled")

    gateway.reject_next_order(201, "Order rejected - reason:simulated margin deficit")
    refused = (await http.post("/api/v1/orders", json=order_body(qty="1"))).json()
    rejected = await wait_for_status(http, refused["id"], "rejected")
    assert "simulated margin deficit" in rejected["reject_reason"]

    unknown = await http.post("/api/v1/orders", json=order_body(symbol="NOPE"))
    assert unknown.status_code == 422
    assert unknown.json()["error"]["code"] == "UNKNOWN_SYMBOL"


async def test_a_bracket_and_a_stop_order_work_through_ib(
    api: tuple[Any, httpx.AsyncClient], gateway: GatewaySim
) -> None:
    _, http = api
    engine = gateway.broker.engine
    set_market(engine, "189.99", "190.00", size=5000, last="190.00")
    body = order_body(
        qty="4",
        take_profit={"limit_price": "200.00"},
        stop_loss={"stop_price": "185.00"},
    )
    response = await http.post("/api/v1/orders", json=body)
    assert response.status_code == 201, response.text
    parent = await wait_for_status(http, response.json()["id"], "filled")
    legs = parent["legs"]
    assert len(legs) == 2
    for leg in legs:
        await wait_for_status(http, leg["id"], "submitted")

    set_market(engine, "200.00", "200.02", size=5000, last="200.01")  # the take-profit fills
    profit = next(leg for leg in legs if leg["type"] == "limit")
    stop = next(leg for leg in legs if leg["type"] == "stop")
    await wait_for_status(http, profit["id"], "filled")
    await wait_for_status(http, stop["id"], "cancelled")  # one cancels the other
    position = (await http.get("/api/v1/positions/AAPL")).json()
    assert Decimal(position["qty"]) == 0


async def test_finished_trades_are_forgotten_beyond_the_ones_kept(
    clean_database: str, gateway: GatewaySim, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ib_async keeps every trade and fill of its connection: IbkrBroker drops finished
    ones beyond the most recent few, so memory does not grow with every order, and the
    orders still working are kept whatever their age."""
    monkeypatch.setattr(retention, "DONE_TRADES_KEPT", 3)
    monkeypatch.setattr(retention, "KEPT_SECONDS", 0.0)
    settings = make_settings(clean_database)
    settings.broker = "ibkr"
    settings.ib = IbSettings(port=gateway.port, client_id=12, connect_timeout_seconds=5)
    app = create_app(settings, broker_factory=build_broker)
    set_market(gateway.broker.engine, "189.99", "190.00", size=5000, last="190.00")
    async with app.router.lifespan_context(app), api_client(app, await make_key(app)) as http:
        resting = order_body(type="limit", limit_price="185.00", tif="gtc", qty="5")
        working = (await http.post("/api/v1/orders", json=resting)).json()
        await wait_for_status(http, working["id"], "submitted")
        placed = []
        for side in ["buy", "sell"] * 4:
            response = await http.post("/api/v1/orders", json=order_body(qty="2", side=side))
            assert response.status_code == 201, response.text
            placed.append(response.json()["id"])
        for order_id in placed:
            await wait_for_status(http, order_id, "filled")
        broker = app.state.broker
        await broker.ping()  # every commission report has arrived
        ib = broker._ib
        # The three most recent finished trades, and the working one.
        assert len(ib.wrapper.trades) == 4
        assert len(ib.wrapper.permId2Trade) == 4
        assert len(ib.wrapper.fills) == 3
        assert len(broker._trades) == 4
        assert [t.order.orderRef for t in ib.wrapper.trades.values() if not t.isDone()] == [
            working["client_order_id"]
        ]
        # The working order can still be changed and cancelled through IB.
        response = await http.delete(f"/api/v1/orders/{working['id']}")
        assert response.status_code == 200, response.text
        await wait_for_status(http, working["id"], "cancelled")
        fills = (await http.get("/api/v1/fills")).json()["items"]
        assert len(fills) == 8
