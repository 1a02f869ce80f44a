"""Tests for the IBKR fixed-tier commission model."""

from __future__ import annotations

from decimal import Decimal

import pytest

from stocks_api.broker.sim.commission import execution_commission, order_commission


@pytest.mark.parametrize(
    ("qty", "value", "expected"),
    [
        # Minimum: 100 shares * 0.005 = 0.50, raised to 1.00.
        ("100", "10000", "1.00"),
        ("1", "190", "1.00"),
        # Per share: above 200 shares the per-share rate exceeds the minimum.
        ("201", "2010", "1.005"),
        ("1000", "190000", "5.000"),
        # 1% cap: 100 shares at 0.50 is worth 50, capped at 0.50 (below the minimum).
        ("100", "50", "0.50"),
        # 1% cap on the per-share rate: 10000 shares at 0.20 = 2000 -> 20.00 instead of 50.
        ("10000", "2000", "20.00"),
        ("0", "0", "0"),
    ],
)
def test_order_commission(qty: str, value: str, expected: str) -> None:
    result = order_commission(Decimal(qty), Decimal(value))

    assert isinstance(result, Decimal)
    assert result == Decimal(expected)


def test_exact_decimal_value_for_201_shares() -> None:
    assert str(order_commission(Decimal("201"), Decimal("20100.00"))) == "1.005"


def test_partial_fills_charge_the_minimum_once_and_sum_to_order_total() -> None:
    fills = [(Decimal("100"), Decimal("10.00")), (Decimal("101"), Decimal("10.01"))]
    filled_qty = filled_value = Decimal(0)
    charged = []
    for qty, price in fills:
        charged.append(execution_commission(filled_qty, filled_value, qty, price))
        filled_qty += qty
        filled_value += qty * price

    assert charged == [Decimal("1.00"), Decimal("0.005")]
    assert sum(charged) == order_commission(filled_qty, filled_value) == Decimal("1.005")


def test_per_execution_commissions_are_never_negative_and_sum_exactly() -> None:
    fills = [(Decimal(q), Decimal(p)) for q, p in [("3", "0.40"), ("50", "0.41"), ("900", "0.39")]]
    filled_qty = filled_value = Decimal(0)
    total = Decimal(0)
    for qty, price in fills:
        fee = execution_commission(filled_qty, filled_value, qty, price)
        assert fee >= 0
        total += fee
        filled_qty += qty
        filled_value += qty * price

    assert total == order_commission(filled_qty, filled_value)
