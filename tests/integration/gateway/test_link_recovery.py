"""No order stuck, lost or silently refused, whatever the link to IB does (issue 17).

The API on BROKER=ibkr (IbkrBroker over ib_async) against gateway-sim: an order lost on
its way to IB, a retry after 503, a cancel before IB's answer, and IB's own outage (1100)
behind an open socket.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from ib_async import IB, MarketOrder, Stock

from stocks_api.broker.gateway.server import GatewaySim
from stocks_api.broker.ib.settings import IbSettings
from stocks_api.main import build_broker, create_app
from stocks_api.settings import Settings
from tests.conftest import IB_CLIENT_ID, api_client, eventually, make_key, make_settings
from tests.factories import order_body, set_market, wait_for_status
from tests.integration.gateway.support import gateway_on
from tests.redis_servers import free_port


def _settings(database_url: str, gateway: GatewaySim, **ib: Any) -> Settings:
    settings = make_settings(database_url)
    settings.broker = "ibkr"
    settings.ib = IbSettings(
        port=gateway.port, client_id=IB_CLIENT_ID, connect_timeout_seconds=5, **ib
    )
    # A quick sweep, so a test sees it within seconds (the defaults are 5 s and 20 s).
    settings.reconcile_interval_seconds = 0.2
    settings.reconcile_grace_seconds = 1.0
    return settings


@asynccontextmanager
async def _api(settings: Settings) -> AsyncIterator[tuple[Any, httpx.AsyncClient]]:
    app = create_app(settings, broker_factory=build_broker)
    async with app.router.lifespan_context(app), api_client(app, await make_key(app)) as http:
        yield app, http


async def _events(http: httpx.AsyncClient, order_id: int) -> list[dict[str, Any]]:
    response = await http.get(f"/api/v1/orders/{order_id}/events")
    assert response.status_code == 200
    events: list[dict[str, Any]] = response.json()
    return events


def _reconciled(app: Any, trigger: str) -> bool:
    """Whether the app's newest reconciliation ran for `trigger`."""
    last = app.state.reconciler.last
    return last is not None and bool(last.trigger == trigger)


def _connection_dies_before_the_next_order(app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The connection dies after the next order's write-ahead commit, before IB gets a byte."""
    ib = app.state.broker._ib
    send = ib.placeOrder

    def dies_first(*args: Any) -> Any:
        monkeypatch.setattr(ib, "placeOrder", send)
        ib.disconnect()
        return send(*args)

    monkeypatch.setattr(ib, "placeOrder", dies_first)


def _at_gateway(gateway: GatewaySim, client_order_id: str) -> list[Any]:
    return [o for o in gateway._orders.values() if o.order_ref == client_order_id]


@pytest.fixture
def market(gateway: GatewaySim) -> GatewaySim:
    set_market(gateway.broker.engine, "189.99", "190.00", size=5000, last="190.00")
    return gateway


# -- an order lost on its way ------------------------------------------------------------


async def test_an_order_lost_in_flight_is_resolved_after_the_reconnect(
    clean_database: str, market: GatewaySim
) -> None:
    gateway = market
    async with _api(_settings(clean_database, gateway, ack_timeout_seconds=0.3)) as (app, http):
        gateway.lose_next_orders(1)
        response = await http.post("/api/v1/orders", json=order_body(client_order_id="lost-1"))
        assert response.status_code == 201, response.text
        order = response.json()
        assert order["status"] == "pending_submit"  # no answer from IB
        # A cancel now cannot go to IB (no IB order id yet): it is recorded as intent.
        cancel = await http.delete(f"/api/v1/orders/{order['id']}")
        assert cancel.status_code == 200, cancel.text
        assert cancel.json()["status"] == "pending_cancel"

        gateway.drop_connections()
        await eventually(lambda: not app.state.broker.is_connected)
        # After the reconnect the replay does not know it: IB never had it.
        done = await wait_for_status(http, order["id"], "cancelled", seconds=15)
        assert done["filled_qty"] == "0"
        last = (await _events(http, order["id"]))[-1]
        assert last["from_status"] == "pending_cancel"
        assert "never had it" in last["reason"]
        assert _at_gateway(gateway, "lost-1") == []


async def test_an_order_lost_while_the_link_stays_up_is_rejected_by_the_sweep(
    clean_database: str, market: GatewaySim
) -> None:
    gateway = market
    async with _api(_settings(clean_database, gateway, ack_timeout_seconds=0.3)) as (_, http):
        gateway.lose_next_orders(1)
        order = (await http.post("/api/v1/orders", json=order_body(qty="2"))).json()
        assert order["status"] == "pending_submit"
        rejected = await wait_for_status(http, order["id"], "rejected", seconds=10)
        assert rejected["reject_reason"].startswith("never reached the broker")
        # The next order goes through as usual (and the sweep leaves it alone).
        placed = (await http.post("/api/v1/orders", json=order_body(qty="3"))).json()
        assert (await wait_for_status(http, placed["id"], "filled"))["filled_qty"] == "3"


async def test_a_cancel_before_ibs_answer_is_carried_out_when_ib_answers(
    clean_database: str, market: GatewaySim
) -> None:
    gateway = market
    settings = _settings(clean_database, gateway, ack_timeout_seconds=0.2)
    async with _api(settings) as (_, http):
        body = order_body(type="limit", limit_price="185.00", tif="gtc", client_order_id="slow")
        gateway.delay_responses(1.5)  # IB takes the order; its answer is late
        order = (await http.post("/api/v1/orders", json=body)).json()
        assert order["status"] == "pending_submit"
        cancel = await http.delete(f"/api/v1/orders/{order['id']}")
        assert cancel.json()["status"] == "pending_cancel"
        gateway.delay_responses(0)
        done = await wait_for_status(http, order["id"], "cancelled", seconds=10)
        assert done["broker_order_id"] is not None
        [at_ib] = _at_gateway(gateway, "slow")
        assert at_ib.status == "Cancelled"  # cancelled at IB, not only in our database


# -- retries ----------------------------------------------------------------------------


async def test_a_retry_after_503_places_the_order_once(
    clean_database: str, market: GatewaySim, monkeypatch: pytest.MonkeyPatch
) -> None:
    gateway = market
    async with _api(_settings(clean_database, gateway)) as (app, http):
        _connection_dies_before_the_next_order(app, monkeypatch)
        body = order_body(qty="4", client_order_id="retry-1")
        first = await http.post("/api/v1/orders", json=body)
        assert first.status_code == 503, first.text
        assert first.json()["error"]["code"] == "BROKER_UNAVAILABLE"
        stored = (await http.get("/api/v1/orders/by-client-id/retry-1")).json()
        assert stored["status"] == "unsent"
        assert _at_gateway(gateway, "retry-1") == []

        await eventually(lambda: app.state.broker.is_connected, seconds=10)
        second = await http.post("/api/v1/orders", json=body)
        assert second.status_code == 201, second.text
        assert second.json()["id"] == stored["id"]
        await wait_for_status(http, stored["id"], "filled")
        third = await http.post("/api/v1/orders", json=body)  # now a plain replay
        assert third.status_code == 200
        assert len(_at_gateway(gateway, "retry-1")) == 1  # sent once
        kinds = [(e["kind"], e["to_status"]) for e in await _events(http, stored["id"])]
        assert kinds[:3] == [
            ("created", "pending_submit"),
            ("not_sent", "unsent"),
            ("resubmitted", "pending_submit"),
        ]
        assert kinds[-1][1] == "filled"
        fills = (await http.get("/api/v1/fills", params={"order_id": stored["id"]})).json()
        assert [Decimal(f["qty"]) for f in fills["items"]] == [4]


async def test_an_unsent_order_can_be_cancelled_and_a_different_body_conflicts(
    clean_database: str, market: GatewaySim, monkeypatch: pytest.MonkeyPatch
) -> None:
    gateway = market
    async with _api(_settings(clean_database, gateway)) as (app, http):
        _connection_dies_before_the_next_order(app, monkeypatch)
        body = order_body(qty="4", client_order_id="retry-2")
        assert (await http.post("/api/v1/orders", json=body)).status_code == 503
        other = await http.post("/api/v1/orders", json={**body, "qty": "5"})
        assert other.status_code == 409
        assert other.json()["error"]["code"] == "IDEMPOTENCY_CONFLICT"
        stored = (await http.get("/api/v1/orders/by-client-id/retry-2")).json()
        listed = (await http.get("/api/v1/orders", params={"status": "open"})).json()
        assert stored["id"] not in [o["id"] for o in listed["items"]]  # works nowhere
        cancelled = await http.delete(f"/api/v1/orders/{stored['id']}")
        assert cancelled.status_code == 200, cancelled.text
        assert cancelled.json()["status"] == "cancelled"
        await eventually(lambda: app.state.broker.is_connected, seconds=10)
        again = await http.post("/api/v1/orders", json=body)
        assert again.status_code == 200  # final now: replayed, never sent
        assert again.json()["status"] == "cancelled"
        assert _at_gateway(gateway, "retry-2") == []


# -- IB's connectivity codes -------------------------------------------------------------


async def test_while_ib_is_unreachable_orders_are_refused_before_any_row_is_written(
    clean_database: str, market: GatewaySim
) -> None:
    gateway = market
    async with _api(_settings(clean_database, gateway)) as (app, http):
        gateway.announce_connectivity(1100)
        await eventually(lambda: not app.state.broker.is_connected)
        health = (await http.get("/health")).json()
        assert health["checks"]["broker"]["status"] == "down"
        assert health["checks"]["broker"]["link"] == "ib_unreachable"
        assert (await http.get("/health/ready")).status_code == 503
        broker = (await http.get("/api/v1/broker")).json()
        assert broker["connected"] is False
        assert broker["link"]["state"] == "ib_unreachable"

        refused = await http.post("/api/v1/orders", json=order_body(client_order_id="gap-1"))
        assert refused.status_code == 503
        assert "1100" in refused.json()["error"]["message"]
        missing = await http.get("/api/v1/orders/by-client-id/gap-1")
        assert missing.status_code == 404  # nothing written: nothing to resolve

        gateway.announce_connectivity(1102)
        await eventually(lambda: app.state.broker.is_connected)
        placed = await http.post("/api/v1/orders", json=order_body(client_order_id="gap-1"))
        assert placed.status_code == 201, placed.text
        assert (await http.get("/api/v1/broker")).json()["link"]["state"] == "connected"


async def test_after_1101_quotes_and_account_values_come_back_without_a_restart(
    clean_database: str, market: GatewaySim
) -> None:
    gateway = market
    async with _api(_settings(clean_database, gateway)) as (app, http):
        gateway.announce_connectivity(1100)
        await eventually(lambda: not app.state.broker.is_connected)
        refused = await http.get("/api/v1/marketdata/quotes", params={"symbols": "AAPL"})
        assert refused.json()["errors"]  # no quote while IB is unreachable
        gateway.announce_connectivity(1101)  # restored, data lost
        await eventually(lambda: app.state.broker.is_connected)
        set_market(gateway.broker.engine, "191.00", "191.02", size=5000, last="191.01")

        async def quoted() -> bool:
            response = await http.get("/api/v1/marketdata/quotes", params={"symbols": "AAPL"})
            quotes = response.json()["quotes"]
            return bool(quotes) and Decimal(quotes[0]["last"]) == Decimal("191.01")

        await eventually(quoted, seconds=10, what="a fresh quote after 1101")
        placed = await http.post("/api/v1/orders", json=order_body(qty="1"))
        assert placed.status_code == 201, placed.text


async def test_a_position_that_differs_from_ibs_is_reported_not_overwritten(
    clean_database: str, market: GatewaySim
) -> None:
    gateway = market
    async with _api(_settings(clean_database, gateway)) as (app, http):
        placed = await http.post("/api/v1/orders", json=order_body(qty="5"))
        await wait_for_status(http, placed.json()["id"], "filled")
        # Another program trades the same account at IB, without an orderRef of ours.
        other = IB()
        await other.connectAsync("127.0.0.1", gateway.port, clientId=77, timeout=5)
        try:
            trade = other.placeOrder(Stock("AAPL", "SMART", "USD"), MarketOrder("BUY", 3))
            await eventually(lambda: trade.isDone(), what="the other program's fill")
        finally:
            other.disconnect()

        gateway.drop_connections()  # a reconnect reconciles
        await eventually(lambda: not app.state.broker.is_connected)

        async def reported() -> bool:
            broker = (await http.get("/api/v1/broker")).json()
            rec = broker.get("reconciliation") or {}
            return rec.get("trigger") == "reconnect" and bool(rec.get("position_differences"))

        await eventually(reported, seconds=15, what="the difference in GET /api/v1/broker")
        broker = (await http.get("/api/v1/broker")).json()
        [difference] = broker["reconciliation"]["position_differences"]
        assert difference["symbol"] == "AAPL"
        assert (Decimal(difference["ours"]), Decimal(difference["broker"])) == (5, 8)
        position = (await http.get("/api/v1/positions/AAPL")).json()
        assert Decimal(position["qty"]) == 5  # ours, never silently overwritten
        metrics_text = (await http.get("/metrics")).text
        assert "broker_position_differences 1.0" in metrics_text


async def test_the_session_audit_trail_records_each_connection_and_ibs_outages(
    clean_database: str, market: GatewaySim
) -> None:
    gateway = market
    async with _api(_settings(clean_database, gateway)) as (app, http):
        placed = await http.post("/api/v1/orders", json=order_body(qty="2"))
        await wait_for_status(http, placed.json()["id"], "filled")
        gateway.announce_connectivity(1100)
        await eventually(lambda: not app.state.broker.is_connected)
        gateway.announce_connectivity(1102)
        await eventually(lambda: _reconciled(app, "restored"), what="the replay after 1102")
        gateway.drop_connections()
        await eventually(lambda: not app.state.broker.is_connected)
        await eventually(lambda: _reconciled(app, "reconnect"), seconds=15)

        async def two_rows() -> bool:
            items = (await http.get("/api/v1/broker/sessions")).json()["items"]
            return len(items) == 2 and items[1]["disconnect_reason"] == "socket_drop"

        await eventually(two_rows, seconds=10, what="two sessions, the first ended by the drop")
        await app.state.session_log.flush()
        newest, first = (await http.get("/api/v1/broker/sessions")).json()["items"]
        assert (first["kind"], first["port"], first["server_version"]) == (
            "ibkr",
            gateway.port,
            "178",
        )
        assert first["account_id"] == gateway.account
        assert first["orders_sent"] == 1
        assert first["fills_received"] == 1
        assert first["reconnections"] == 1  # the 1100 -> 1102 behind the open socket
        assert first["ib_outage_seconds"] > 0
        assert first["ib_unreachable_since"] is None
        assert newest["disconnected_at"] is None
        assert newest["connected_at"] >= first["disconnected_at"]
        broker = (await http.get("/api/v1/broker")).json()
        assert broker["session"]["id"] == newest["id"]


# -- IB's outage behind an open socket, and a gateway restart with its state ------------------


@pytest.mark.parametrize("restored_with", [1102, 1101])
async def test_a_fill_during_an_ib_outage_is_recorded_once_when_ib_is_back(
    clean_database: str, market: GatewaySim, restored_with: int
) -> None:
    gateway = market
    async with _api(_settings(clean_database, gateway)) as (app, http):
        body = order_body(type="limit", limit_price="185.00", tif="gtc", qty="6")
        resting = (await http.post("/api/v1/orders", json=body)).json()
        assert resting["status"] == "submitted"

        gateway.start_outage()  # 1100, then IB Gateway tells its clients nothing
        await eventually(lambda: not app.state.broker.is_connected)
        # IB goes on trading: the order fills, and the messages about it are lost.
        set_market(gateway.broker.engine, "184.00", "184.02", size=5000, last="184.01")
        assert len(gateway.executions(0)) == 1
        refused = await http.post("/api/v1/orders", json=order_body(qty="1"))
        assert refused.status_code == 503
        stored = (await http.get(f"/api/v1/orders/{resting['id']}")).json()
        assert stored["status"] == "submitted"  # nothing heard during the gap

        gateway.end_outage(restored_with)
        filled = await wait_for_status(http, resting["id"], "filled", seconds=15)
        assert Decimal(filled["avg_fill_price"]) == Decimal("184.02")
        fills = (await http.get("/api/v1/fills", params={"order_id": resting["id"]})).json()
        assert [Decimal(f["qty"]) for f in fills["items"]] == [6]
        position = (await http.get("/api/v1/positions/AAPL")).json()
        assert Decimal(position["qty"]) == 6
        await eventually(lambda: app.state.broker.is_connected)
        placed = await http.post("/api/v1/orders", json=order_body(qty="1"))
        assert placed.status_code == 201, placed.text
        await wait_for_status(http, placed.json()["id"], "filled")
        # Another replay of the same execution changes nothing.
        await app.state.reconciler.run("sweep", before=datetime.now(UTC), sweep=True)
        fills = (await http.get("/api/v1/fills", params={"order_id": resting["id"]})).json()
        assert len(fills["items"]) == 1


async def test_a_gateway_restart_with_its_state_keeps_orders_and_loses_no_fill(
    clean_database: str, tmp_path: Path
) -> None:
    async with gateway_on(tmp_path / "gateway.sqlite3") as gateway:
        set_market(gateway.broker.engine, "189.99", "190.00", size=5000, last="190.00")
        async with _api(_settings(clean_database, gateway)) as (app, http):
            bought = (await http.post("/api/v1/orders", json=order_body(qty="4"))).json()
            await wait_for_status(http, bought["id"], "filled")
            body = order_body(type="limit", limit_price="185.00", tif="gtc", qty="6")
            resting = (await http.post("/api/v1/orders", json=body)).json()
            assert resting["status"] == "submitted"

            await gateway.restart(1.0)  # IB Gateway's daily restart, reloading its state file
            await eventually(lambda: app.state.broker.is_connected, seconds=20)
            # The resting order is still working at IB after the restart: not closed here.
            await eventually(lambda: _reconciled(app, "reconnect"), seconds=10)
            stored = (await http.get(f"/api/v1/orders/{resting['id']}")).json()
            assert stored["status"] == "submitted"
            assert app.state.reconciler.last.resolved == []
            assert app.state.reconciler.last.position_differences == []

            set_market(gateway.broker.engine, "184.00", "184.02", size=5000, last="184.01")
            filled = await wait_for_status(http, resting["id"], "filled", seconds=10)
            assert filled["filled_qty"] == "6"
            position = (await http.get("/api/v1/positions/AAPL")).json()
            assert Decimal(position["qty"]) == 10
            fills = (await http.get("/api/v1/fills")).json()["items"]
            assert sorted(f["exec_id"] for f in fills) == sorted(
                e[0].exec_id for e in gateway.executions(0)
            )


async def test_the_api_starts_without_ib_gateway_and_trades_once_it_is_there(
    clean_database: str,
) -> None:
    port = free_port()
    settings = make_settings(clean_database)
    settings.broker = "ibkr"
    settings.ib = IbSettings(port=port, client_id=IB_CLIENT_ID, connect_timeout_seconds=2)
    async with _api(settings) as (app, http):
        health = (await http.get("/health")).json()
        assert health["checks"]["broker"]["status"] == "down"
        refused = await http.post("/api/v1/orders", json=order_body(client_order_id="early"))
        assert refused.status_code == 503  # nothing written: nothing to resolve later
        assert (await http.get("/api/v1/orders/by-client-id/early")).status_code == 404

        gateway = GatewaySim(
            settings.sim, port=port, calendar=settings.session.calendar(), tick=False
        )
        await gateway.start()
        try:
            set_market(gateway.broker.engine, "189.99", "190.00", size=5000, last="190.00")
            await eventually(lambda: app.state.broker.is_connected, seconds=20)
            await eventually(lambda: _reconciled(app, "start"), seconds=10)
            placed = await http.post("/api/v1/orders", json=order_body(client_order_id="early"))
            assert placed.status_code == 201, placed.text
            await wait_for_status(http, placed.json()["id"], "filled")
            broker = (await http.get("/api/v1/broker")).json()
            assert broker["accounts"][0]["account_id"] == gateway.account
        finally:
            await gateway.close()
