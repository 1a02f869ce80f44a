"""Order schemas: exact decimals, normalised requests, stable fingerprints."""

from __future__ import annotations

import re
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
    # A JSON number arrives as a Decimal of its text (core.json_body), kept exactly; a binary
    # float is not the number that was written, so it is refused rather than guessed at.
    assert make(qty=Decimal("0.1")).qty == Decimal("0.1")
    with pytest.raises(ValidationError, match="binary floating-point"):
        make(qty=0.1)


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


def test_a_trailing_stop_takes_one_trail() -> None:
    order = make(type="trailing_stop", side="sell", trail_percent="1.5")
    assert order.trail_percent == Decimal("1.5")
    with pytest.raises(ValidationError, match="exactly one of trail_amount and trail_percent"):
        make(type="trailing_stop", trail_amount="1", trail_percent="1")
    with pytest.raises(ValidationError, match="not allowed for limit orders"):
        make(type="limit", limit_price="10", trail_amount="1")


@pytest.mark.parametrize(
    ("side", "legs", "problem"),
    [
        ("buy", {"take_profit": {"limit_price": "99"}}, "above the entry price of a buy"),
        ("buy", {"stop_loss": {"stop_price": "101"}}, "below the entry price of a buy"),
        ("sell", {"take_profit": {"limit_price": "101"}}, "below the entry price of a sell"),
        ("sell", {"stop_loss": {"stop_price": "99"}}, "above the entry price of a sell"),
    ],
)
def test_bracket_legs_sit_on_the_right_side_of_the_entry(
    side: str, legs: dict[str, object], problem: str
) -> None:
    with pytest.raises(ValidationError, match=problem):
        make(side=side, type="limit", limit_price="100", **legs)


def test_market_bracket_legs_are_checked_against_each_other() -> None:
    order = make(take_profit={"limit_price": "110"}, stop_loss={"stop_price": "90"})
    assert order.is_bracket
    with pytest.raises(ValidationError, match=r"above stop_loss\.stop_price"):
        make(take_profit={"limit_price": "90"}, stop_loss={"stop_price": "110"})
    with pytest.raises(ValidationError):
        make(take_profit={"limit_price": "110", "tif": "ioc"})
    with pytest.raises(ValidationError):
        make(take_profit={"limit_price": "110", "extra": 1})


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"type": "limit", "limit_price": "186.123"}, "limit_price 186.123"),
        ({"type": "stop", "stop_price": "180.005"}, "stop_price 180.005"),
        (
            {"type": "stop_limit", "stop_price": "180.00", "limit_price": "0.00005"},
            "limit_price 0.00005",
        ),
        ({"type": "trailing_stop", "trail_amount": "1.255"}, "trail_amount 1.255"),
        (
            {"type": "limit", "limit_price": "180", "take_profit": {"limit_price": "190.001"}},
            "take_profit.limit_price 190.001",
        ),
        (
            {"type": "limit", "limit_price": "180", "stop_loss": {"stop_price": "170.009"}},
            "stop_loss.stop_price 170.009",
        ),
        (
            {
                "type": "limit",
                "limit_price": "180",
                "stop_loss": {"stop_price": "170", "limit_price": "169.995"},
            },
            "stop_loss.limit_price 169.995",
        ),
    ],
)
def test_prices_off_the_increment_are_refused(overrides: dict[str, object], named: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(f"{named} is not a multiple of the price")):
        make(**overrides)


def test_prices_on_the_increment_are_taken() -> None:
    assert make(type="limit", limit_price="0.9999").limit_price == Decimal("0.9999")
    assert make(type="limit", limit_price="1.00").limit_price == Decimal("1")
    assert make(type="trailing_stop", trail_amount="0.25").trail_amount == Decimal("0.25")


def test_a_change_off_the_increment_is_refused() -> None:
    with pytest.raises(ValidationError, match=r"limit_price 1\.005 is not a multiple of the price"):
        OrderUpdate.model_validate({"limit_price": "1.005"})
    with pytest.raises(
        ValidationError, match=r"stop_price 0\.00005 is not a multiple of the price"
    ):
        OrderUpdate.model_validate({"stop_price": "0.00005"})
    assert OrderUpdate.model_validate({"limit_price": "0.9999"}).limit_price == Decimal("0.9999")
