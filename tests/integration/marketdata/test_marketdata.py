"""Quotes and bars from the simulated broker."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import httpx
import pytest

from stocks_api.broker.sim.engine import MatchingEngine
from tests.factories import set_market


async def test_quotes_come_per_symbol_and_unknown_ones_are_reported(
    client: httpx.AsyncClient, engine: MatchingEngine
) -> None:
    set_market(engine, "189.99", "190.00", last="190.00", size=300)
    response = await client.get(
        "/api/v1/marketdata/quotes", params={"symbols": "aapl, MSFT,NOPE,AAPL,1BAD"}
    )
    assert response.status_code == 200, response.text
    data = response.json()
    assert [q["symbol"] for q in data["quotes"]] == ["AAPL", "MSFT"]
    aapl = data["quotes"][0]
    assert (Decimal(aapl["bid"]), Decimal(aapl["ask"]), Decimal(aapl["last"])) == (
        Decimal("189.99"),
        Decimal("190.00"),
        Decimal("190.00"),
    )
    assert Decimal(aapl["bid_size"]) == 300
    assert Decimal(aapl["volume"]) > 0
    assert aapl["ts"].endswith("Z") or aapl["ts"].endswith("+00:00")
    assert {(e["symbol"], e["code"]) for e in data["errors"]} == {
        ("NOPE", "UNKNOWN_SYMBOL"),
        ("1BAD", "INVALID_SYMBOL"),
    }


@pytest.mark.parametrize(
    ("symbols", "code"),
    [
        ("", "VALIDATION_ERROR"),
        (" , ", "VALIDATION_ERROR"),
        (",".join(f"S{i}" for i in range(51)), "TOO_MANY_SYMBOLS"),
        # The cap counts what is listed (as the documented pattern does), repeats too.
        (",".join(["AAPL"] * 51), "TOO_MANY_SYMBOLS"),
    ],
)
async def test_bad_symbol_lists_are_refused(
    client: httpx.AsyncClient, symbols: str, code: str
) -> None:
    response = await client.get("/api/v1/marketdata/quotes", params={"symbols": symbols})
    assert response.status_code == 422
    assert response.json()["error"]["code"] == code


async def test_a_missing_symbols_parameter_is_a_422(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/marketdata/quotes")
    assert response.status_code == 422


@pytest.mark.parametrize("interval", ["1m", "5m", "1h", "1d"])
async def test_bars_cover_each_interval_oldest_first(
    client: httpx.AsyncClient, interval: str
) -> None:
    response = await client.get(
        "/api/v1/marketdata/bars/aapl", params={"interval": interval, "limit": 50}
    )
    assert response.status_code == 200, response.text
    data = response.json()
    assert (data["symbol"], data["interval"]) == ("AAPL", interval)
    bars = data["bars"]
    assert 1 <= len(bars) <= 50
    starts = [datetime.fromisoformat(b["start"]) for b in bars]
    assert starts == sorted(starts)
    assert len(set(starts)) == len(starts)
    for bar in bars:
        low, high = Decimal(bar["low"]), Decimal(bar["high"])
        assert low <= Decimal(bar["open"]) <= high
        assert low <= Decimal(bar["close"]) <= high
        assert Decimal(bar["volume"]) >= 0


async def test_bars_of_an_unknown_symbol_or_interval_are_refused(
    client: httpx.AsyncClient,
) -> None:
    unknown = await client.get("/api/v1/marketdata/bars/NOPE")
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "UNKNOWN_SYMBOL"
    bad_interval = await client.get("/api/v1/marketdata/bars/AAPL", params={"interval": "2m"})
    assert bad_interval.status_code == 422
    too_many = await client.get("/api/v1/marketdata/bars/AAPL", params={"limit": 100000})
    assert too_many.status_code == 422
