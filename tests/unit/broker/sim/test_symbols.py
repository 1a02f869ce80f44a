"""Tests for parsing the simulated symbol list."""

from __future__ import annotations

from decimal import Decimal

import pytest

from stocks_api.broker.sim.symbols import (
    DEFAULT_PROFILE,
    PROFILES,
    REFERENCE_PRICES,
    SymbolSpec,
    parse_symbols,
)


def test_parses_mixed_list_with_prices_case_and_blanks() -> None:
    specs = parse_symbols("AAPL,MSFT:410.50, spy")

    assert [s.symbol for s in specs] == ["AAPL", "MSFT", "SPY"]
    assert specs[0].start_price == REFERENCE_PRICES["AAPL"]
    assert specs[1].start_price == Decimal("410.50")
    assert specs[2].start_price == REFERENCE_PRICES["SPY"]


def test_defaults_for_tick_and_lot_size() -> None:
    (spec,) = parse_symbols("IBM")

    assert spec == SymbolSpec(
        "IBM", REFERENCE_PRICES["IBM"], Decimal("0.01"), Decimal("100"), profile=PROFILES["IBM"]
    )


def test_every_reference_symbol_has_a_documented_profile_and_others_a_default() -> None:
    assert set(PROFILES) == set(REFERENCE_PRICES)
    for profile in PROFILES.values():
        assert Decimal("0.05") <= profile.annual_volatility <= Decimal("1")
        assert profile.daily_volume >= 1_000_000
    (unknown,) = parse_symbols("ZZZZ")
    assert unknown.profile == DEFAULT_PROFILE


def test_reference_table_covers_common_tickers() -> None:
    expected = {"AAPL", "MSFT", "GOOGL", "AMZN", "NVDA", "META"}
    expected |= {"TSLA", "SPY", "QQQ", "IBM", "AMD", "NFLX"}
    assert expected <= set(REFERENCE_PRICES)
    assert all(price > 0 for price in REFERENCE_PRICES.values())


def test_unknown_ticker_starts_at_100() -> None:
    (spec,) = parse_symbols("zzz")

    assert spec.symbol == "ZZZ"
    assert spec.start_price == Decimal("100.00")


def test_whitespace_around_symbol_and_price_and_trailing_comma() -> None:
    specs = parse_symbols("  brk.b : 12.5 ,\tX1 ,")

    assert [(s.symbol, s.start_price) for s in specs] == [
        ("BRK.B", Decimal("12.5")),
        ("X1", Decimal("100.00")),
    ]


def test_explicit_price_overrides_reference_table() -> None:
    (spec,) = parse_symbols("AAPL:1")

    assert spec.start_price == Decimal("1")


def test_a_symbol_may_name_its_own_volatility_with_or_without_a_price() -> None:
    moving, still, plain = parse_symbols("TSLA:250:0.9,AAPL::0,MSFT:410")

    assert (moving.start_price, moving.volatility) == (Decimal("250"), Decimal("0.9"))
    assert (still.start_price, still.volatility) == (REFERENCE_PRICES["AAPL"], Decimal("0"))
    assert (plain.start_price, plain.volatility) == (Decimal("410"), None)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        (" , ,", "empty"),
        ("1ABC", "invalid symbol"),
        ("AB-C", "invalid symbol"),
        ("ABCDEFGHIJKLM", "invalid symbol"),
        ("AAPL:", "invalid price"),
        ("AAPL:abc", "not a number"),
        ("AAPL:0", "positive"),
        ("AAPL:-5", "positive"),
        ("AAPL:NaN", "positive"),
        ("AAPL:Infinity", "positive"),
        ("AAPL:x:0.2", "not a number"),
        ("AAPL:1:", "invalid volatility"),
        ("AAPL:1:abc", "not a number"),
        ("AAPL:1:-0.1", "between 0 and 5"),
        ("AAPL:1:6", "between 0 and 5"),
        ("AAPL:1:0.2:3", "not a number"),
        ("AAPL,MSFT,aapl", "duplicate"),
        (":100", "invalid symbol"),
    ],
)
def test_rejects_bad_input(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_symbols(text)


def test_symbol_spec_validates_its_fields() -> None:
    with pytest.raises(ValueError, match="tick_size"):
        SymbolSpec("AAPL", Decimal("10"), tick_size=Decimal("0"))
    with pytest.raises(ValueError, match="invalid symbol"):
        SymbolSpec("aapl", Decimal("10"))
