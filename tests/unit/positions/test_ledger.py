"""IBKR average-cost arithmetic against hand-worked scenarios, in exact decimals."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from stocks_api.core.ledger import (
    Holding,
    apply_fill,
    market_value,
    signed_qty,
    unrealized_pnl,
)


def test_a_buy_opens_a_long_whose_cost_includes_the_commission() -> None:
    result = apply_fill(Holding(), D(100), D("10.00"), D("1.00"))
    # (100 x 10.00 + 1.00) / 100
    assert result.holding == Holding(D(100), D("10.01"), D(0))
    assert result.realized == 0
    assert result.cash_delta == D("-1001.00")


def test_scaling_in_averages_the_cost_of_both_buys() -> None:
    first = apply_fill(Holding(), D(100), D("10.00"), D("1.00")).holding
    second = apply_fill(first, D(50), D("13.00"), D("1.00"))
    # (1001.00 + 650.00 + 1.00) / 150 = 11.0133333333...
    assert second.holding.qty == 150
    assert second.holding.avg_cost == D("11.0133333333")
    assert second.cash_delta == D("-651.00")


def test_a_partial_close_realizes_against_the_average_and_keeps_it() -> None:
    long = Holding(D(100), D("10.01"), D(0))
    result = apply_fill(long, D(-40), D("12.00"), D("1.00"))
    # 40 x (12.00 - 10.01) - 1.00 = 78.60
    assert result.realized == D("78.60")
    assert result.holding == Holding(D(60), D("10.01"), D("78.60"))
    assert result.cash_delta == D("479.00")


def test_closing_the_rest_goes_flat_with_zero_cost() -> None:
    long = Holding(D(60), D("10.01"), D("78.60"))
    result = apply_fill(long, D(-60), D("9.50"), D("1.00"))
    # 60 x (9.50 - 10.01) - 1.00 = -31.60
    assert result.realized == D("-31.60")
    assert result.holding == Holding(D(0), D(0), D("47.00"))


def test_a_short_sale_averages_the_net_proceeds() -> None:
    result = apply_fill(Holding(), D(-100), D("10.00"), D("1.00"))
    assert result.holding == Holding(D(-100), D("9.99"), D(0))
    assert result.cash_delta == D("999.00")


def test_covering_a_short_realizes_the_difference() -> None:
    short = Holding(D(-100), D("9.99"), D(0))
    result = apply_fill(short, D(100), D("9.00"), D("1.00"))
    # sold for 999.00 net, bought back for 901.00
    assert result.realized == D("98.00")
    assert result.holding == Holding(D(0), D(0), D("98.00"))


def test_a_flip_closes_the_long_and_opens_a_short_sharing_the_commission() -> None:
    long = Holding(D(100), D("10.01"), D(0))
    result = apply_fill(long, D(-150), D("11.00"), D("1.50"))
    # closing 100 takes 100/150 of the commission (1.00): 100 x (11.00 - 10.01) - 1.00 = 98.00
    assert result.realized == D("98.00")
    # opening 50 short with the other 0.50: (50 x 11.00 - 0.50) / 50 = 10.99
    assert result.holding == Holding(D(-50), D("10.99"), D("98.00"))
    assert result.cash_delta == D("1648.50")


def test_a_flip_from_short_to_long() -> None:
    short = Holding(D(-10), D("20.00"), D(0))
    result = apply_fill(short, D(30), D("19.00"), D("3.00"))
    # closing 10 carries 1.00: 10 x (20.00 - 19.00) - 1.00 = 9.00; opening 20 carries 2.00
    assert result.realized == D("9.00")
    assert result.holding == Holding(D(20), D("19.10"), D("9.00"))


def test_fractional_quantities_stay_exact() -> None:
    result = apply_fill(Holding(), D("0.5"), D("500.00"), D("1.00"))
    assert result.holding.avg_cost == D("502.00")
    result = apply_fill(result.holding, D("-0.25"), D("510.00"), D("1.00"))
    assert result.realized == D("1.00")  # 0.25 x 8.00 - 1.00


def test_a_zero_quantity_fill_is_refused() -> None:
    with pytest.raises(ValueError, match="non-zero"):
        apply_fill(Holding(), D(0), D(10), D(1))


def test_valuation_helpers_are_signed() -> None:
    assert signed_qty("buy", D(5)) == 5
    assert signed_qty("sell", D(5)) == -5
    assert market_value(D(-50), D("11.00")) == D("-550.00")
    assert unrealized_pnl(D(-50), D("10.99"), D("10.00")) == D("49.50")
    assert unrealized_pnl(D(60), D("10.01"), D("11.00")) == D("59.40")
