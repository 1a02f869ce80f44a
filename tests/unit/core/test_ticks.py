"""The US-equity price increment (Reg NMS Rule 612): 0.01 at or above $1.00, 0.0001 below."""

from __future__ import annotations

from decimal import Decimal

import pytest

from stocks_api.core.ticks import (
    off_tick_price,
    off_tick_trail_amount,
    price_increment,
)


@pytest.mark.parametrize(
    ("price", "increment"),
    [
        ("0.9999", "0.0001"),
        ("0.0001", "0.0001"),
        ("1.00", "0.01"),
        ("1", "0.01"),
        ("186.12", "0.01"),
    ],
)
def test_the_increment_steps_at_one_dollar(price: str, increment: str) -> None:
    assert price_increment(Decimal(price)) == Decimal(increment)


@pytest.mark.parametrize("price", ["0.9999", "0.0001", "0.5", "1.00", "1", "186.12", "1000000"])
def test_prices_on_the_grid_pass(price: str) -> None:
    assert off_tick_price("limit_price", Decimal(price)) is None


@pytest.mark.parametrize(
    ("price", "increment"),
    [
        ("1.005", "0.01"),  # at or above $1: pennies only
        ("186.123", "0.01"),
        ("1.0001", "0.01"),
        ("0.00005", "0.0001"),  # below $1: hundredths of a cent
        ("0.99995", "0.0001"),
    ],
)
def test_prices_off_the_grid_are_named_with_their_increment(price: str, increment: str) -> None:
    problem = off_tick_price("limit_price", Decimal(price))
    assert problem == (
        f"limit_price {price} is not a multiple of the price increment {increment} "
        "(prices at or above 1.00 move in steps of 0.01, below 1.00 in steps of 0.0001)"
    )


def test_no_price_is_no_problem() -> None:
    assert off_tick_price("stop_price", None) is None
    assert off_tick_trail_amount("trail_amount", None) is None


@pytest.mark.parametrize(("amount", "ok"), [("0.01", True), ("2.50", True), ("0.005", False)])
def test_a_trailing_amount_moves_in_cents(amount: str, ok: bool) -> None:
    problem = off_tick_trail_amount("trail_amount", Decimal(amount))
    assert (problem is None) is ok
    if not ok:
        assert problem is not None
        assert "trail_amount 0.005 is not a multiple of the price increment 0.01" in problem
