"""Account figures: net liquidation, Reg T margins, buying power, cushion."""

from __future__ import annotations

from decimal import Decimal as D

from stocks_api.broker.protocol import AccountType
from stocks_api.broker.valuation import MarkedPosition, account_figures


def test_an_all_cash_margin_account_has_twice_its_cash_to_spend() -> None:
    figures = account_figures(D(100000), [], AccountType.MARGIN)
    assert figures.net_liquidation == D(100000)
    assert figures.buying_power == D(200000)
    assert figures.cushion == 1
    assert figures.leverage == 0


def test_reg_t_margins_on_a_long_and_a_short() -> None:
    positions = [MarkedPosition(D(100), D("50.00")), MarkedPosition(D(-20), D("100.00"))]
    figures = account_figures(D("10000.00"), positions, AccountType.MARGIN)
    assert figures.market_value == D("3000.00")  # 5000 long - 2000 short
    assert figures.gross_position_value == D("7000.00")
    assert figures.net_liquidation == D("13000.00")
    assert figures.initial_margin == D("3500.00")  # 50% of 7000
    assert figures.maintenance_margin == D("1850.00")  # 25% of 5000 + 30% of 2000
    assert figures.available_funds == D("9500.00")
    assert figures.excess_liquidity == D("11150.00")
    assert figures.buying_power == D("19000.00")
    assert figures.cushion == D("0.857692")  # 11150 / 13000
    assert figures.leverage == D("0.538462")  # 7000 / 13000


def test_a_fully_margined_account_has_no_buying_power_left() -> None:
    # 1,000,000 bought 2,000,000 of stock on margin
    positions = [MarkedPosition(D(10000), D(200))]
    figures = account_figures(D(-1000000), positions, AccountType.MARGIN)
    assert figures.net_liquidation == D(1000000)
    assert figures.available_funds == 0
    assert figures.buying_power == 0
    assert figures.leverage == 2


def test_a_cash_account_spends_only_its_cash() -> None:
    positions = [MarkedPosition(D(10), D("100.00"))]
    figures = account_figures(D("500.00"), positions, AccountType.CASH)
    assert figures.net_liquidation == D("1500.00")
    assert figures.buying_power == D("500.00")
    assert figures.excess_liquidity == D("500.00")


def test_unpriced_positions_are_left_out() -> None:
    figures = account_figures(D(100), [MarkedPosition(D(10), None)], AccountType.MARGIN)
    assert figures.net_liquidation == D(100)
    assert figures.gross_position_value == 0


def test_a_negative_net_liquidation_has_no_cushion() -> None:
    figures = account_figures(D(-100), [], AccountType.MARGIN)
    assert figures.cushion == 0
    assert figures.buying_power == 0
