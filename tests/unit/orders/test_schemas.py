"""Order schemas: exact decimals, normalised requests, stable fingerprints."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError

from stocks_api.orders.schemas import OrderCreate, OrderUpdate


def make(**overrides: object) -> OrderCreate:
    body: dict[str, object] = {"symbol": "AAPL", "side": "buy", "qty": "10", "type": "market"}
    body.update(overrides)
    return OrderCreate.model_validate(body)


def test_decimals_are_exact_and_serialised_as_strings() -> None:
    order = make(type="limit", limit_price="190.10", qty="0.1")
    assert order.limit_price == Decimal("190.1")
    dumped = order.model_dump(mode="json")
    assert dumped["limit_price"] == "190.1"
    assert dumped["qty"] == "0.1"
    # A JSON float arrives as its decimal text, not as a binary fraction.
    assert make(qty=0.1).qty == Decimal("0.1")


def test_equivalent_requests_have_the_same_fingerprint() -> None:
    a = make(qty="10", symbol="aapl")
    b = make(qty="10.000", symbol="AAPL", tif="day")
    assert a.request_hash("c1") == b.request_hash("c1")
    assert a.request_hash("c1") != make(qty="11").request_hash("c1")
    assert a.request_hash("c1") != a.request_hash("c2")


def test_all_price_problems_are_reported_together() -> None:
    with pytest.raises(ValidationError) as info:
        make(type="stop_limit")
    message = str(info.value)
    assert "limit_price is required" in message
    assert "stop_price is required" in message


def test_update_needs_a_change() -> None:
    with pytest.raises(ValidationError):
        OrderUpdate.model_validate({})
    assert OrderUpdate.model_validate({"qty": "5"}).qty == Decimal(5)
