"""The trader's Grafana board reads series the API counts itself, whichever the broker.

`tests/integration/stack/test_monitoring.py` proves every panel has data through IbkrBroker
and gateway-sim; this proves the same series move on the simulated broker: fills by side,
the broker's rejections (pushed or at once), equity, and exposure per symbol (whose series
goes when the position closes).
"""

from __future__ import annotations

from decimal import Decimal

from prometheus_client import REGISTRY

from tests.factories import order_body, place, set_market, wait_for_status
from tests.integration.risk.conftest import refusing_sim, risk_settings, running


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_fills_rejections_equity_and_exposure_are_counted_on_the_simulated_broker(
    clean_database: str,
) -> None:
    settings = risk_settings(clean_database)
    async with running(settings, refusing_sim) as (app, http):
        engine = app.state.broker.engine
        set_market(engine, "189.99", "190.00", size=5000, last="190.00")
        buys, sells = sample("fills_total", side="buy"), sample("fills_total", side="sell")
        rejected = sample("broker_order_errors_total", reason="rejected")

        await place(http, qty="10")
        await place(http, side="sell", qty="4")
        assert sample("fills_total", side="buy") == buys + 1
        assert sample("fills_total", side="sell") == sells + 1

        await app.state.snapshots.record(None)  # the valuation pass (every 5 s, after fills)
        account = (await http.get("/api/v1/accounts")).json()[0]["account_id"]
        summary = (await http.get(f"/api/v1/accounts/{account}/summary")).json()
        equity = sample("account_equity", account=account)
        assert Decimal(str(equity)) == Decimal(summary["net_liquidation"])
        exposure = sample("position_market_value", account=account, symbol="AAPL")
        position = (await http.get("/api/v1/positions/AAPL")).json()
        assert position["qty"] == "6"
        assert Decimal(str(exposure)) == Decimal(position["market_value"])

        app.state.broker.refuse = "event"  # rejected later, by an event, as IB does
        response = await http.post("/api/v1/orders", json=order_body())
        await wait_for_status(http, response.json()["id"], "rejected")
        app.state.broker.refuse = "raise"  # rejected at once
        response = await http.post("/api/v1/orders", json=order_body())
        assert response.status_code == 422, response.text
        assert sample("broker_order_errors_total", reason="rejected") == rejected + 2

        app.state.broker.refuse = None
        await place(http, side="sell", qty="6")
        await app.state.snapshots.record(None)
        labels = {"account": account, "symbol": "AAPL"}
        assert REGISTRY.get_sample_value("position_market_value", labels) is None
