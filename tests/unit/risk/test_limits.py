"""Risk limits: their bounds, symbol lists, `RISK_*` settings and run-time updates."""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from stocks_api.risk.schemas import (
    IBKR_MESSAGES_PER_SECOND,
    LIMIT_NAMES,
    MAX_ORDERS_PER_MINUTE,
    RiskLimits,
    RiskLimitsUpdate,
)
from stocks_api.risk.settings import RiskSettings
from stocks_api.settings import Settings


def test_the_defaults_switch_every_check_on() -> None:
    limits = RiskLimits()
    assert limits.max_order_qty == D(10000)
    assert limits.max_order_value == D(250000)
    assert limits.max_position_value == D(500000)
    assert limits.max_gross_exposure == D(2000000)
    assert limits.max_leverage == D(2)
    assert limits.daily_loss_limit == D(20000)
    assert (limits.max_orders_per_second, limits.max_orders_per_minute) == (20, 600)
    assert limits.price_band_percent == D(10)
    assert (limits.allowed_symbols, limits.denied_symbols) == ((), ())


def test_the_pace_ceilings_are_ibkrs() -> None:
    assert IBKR_MESSAGES_PER_SECOND == 50
    assert MAX_ORDERS_PER_MINUTE == 3000


# -- bounds -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("max_orders_per_second", 1),
        ("max_orders_per_second", 50),
        ("max_orders_per_minute", 1),
        ("max_orders_per_minute", 3000),
        ("max_leverage", "0.0001"),
        ("max_leverage", "50"),
        ("max_leverage", "1.2345"),
        ("price_band_percent", "0.0001"),
        ("price_band_percent", "100"),
        ("max_order_qty", "0.00000001"),
        ("max_order_qty", "10000000"),
        ("max_order_value", "0.01"),
        ("max_order_value", "1000000000000"),
        ("daily_loss_limit", "20000.50"),
        ("max_consecutive_rejections", 1),
        ("max_consecutive_rejections", 1000),
    ],
)
def test_values_at_the_bounds_are_accepted(name: str, value: Any) -> None:
    limits = RiskLimits(**{name: value})
    assert getattr(limits, name) == (D(value) if isinstance(value, str) else value)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("max_orders_per_second", 0),
        ("max_orders_per_second", 51),  # above IBKR's 50 messages per second
        ("max_orders_per_minute", 0),
        ("max_orders_per_minute", 3001),
        ("max_leverage", "0"),
        ("max_leverage", "-1"),
        ("max_leverage", "50.0001"),
        ("max_leverage", "1.00001"),  # five decimals
        ("price_band_percent", "0"),
        ("price_band_percent", "100.0001"),
        ("max_order_qty", "0"),
        ("max_order_qty", "10000000.00000001"),
        ("max_order_qty", "1.000000001"),  # nine decimals
        ("max_order_value", "0"),
        ("max_order_value", "-100"),
        ("max_order_value", "1000000000000.01"),
        ("max_order_value", "100.001"),  # money has cents at most
        ("max_position_value", "0"),
        ("max_gross_exposure", "1E13"),
        ("daily_loss_limit", "-1"),
        ("max_consecutive_rejections", 0),
        ("max_consecutive_rejections", 1001),
        ("max_order_value", "lots"),
    ],
)
def test_values_out_of_bounds_are_refused(name: str, value: Any) -> None:
    with pytest.raises(ValidationError):
        RiskLimits(**{name: value})


@pytest.mark.parametrize("off", [None, "", " ", "off", "OFF", "none", "null"])
@pytest.mark.parametrize(
    "name",
    [
        "max_order_qty",
        "max_order_value",
        "max_position_value",
        "max_gross_exposure",
        "max_leverage",
        "daily_loss_limit",
        "max_orders_per_second",
        "max_orders_per_minute",
        "price_band_percent",
        "max_consecutive_rejections",
    ],
)
def test_every_limit_can_be_switched_off(name: str, off: str | None) -> None:
    assert getattr(RiskLimits(**{name: off}), name) is None


def test_decimals_are_kept_exact_and_normalised() -> None:
    limits = RiskLimits(max_order_value="250000.10", max_leverage="1.50")
    assert limits.max_order_value == D("250000.1")
    assert str(limits.max_order_value) == "250000.1"
    assert limits.model_dump(mode="json")["max_leverage"] == "1.5"


# -- symbol lists -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("", ()),
        (" , ,", ()),
        ("aapl", ("AAPL",)),
        ("msft, aapl ,AAPL,,Aapl", ("AAPL", "MSFT")),
        ("BRK.B,spy", ("BRK.B", "SPY")),
        (["tsla", "TSLA", " nvda "], ("NVDA", "TSLA")),
        (("GME",), ("GME",)),
        ({"amc", "gme"}, ("AMC", "GME")),
    ],
)
def test_symbol_lists_are_parsed_upper_cased_deduplicated_and_sorted(
    value: Any, expected: tuple[str, ...]
) -> None:
    limits = RiskLimits(allowed_symbols=value, denied_symbols=value)
    assert limits.allowed_symbols == expected
    assert limits.denied_symbols == expected


@pytest.mark.parametrize(
    "value",
    [
        "AAPL,BAD SYMBOL",
        "1ABC",
        ".SPY",
        "AAPL;MSFT",
        "ABCDEFGHIJKLM",  # 13 characters
        "A-B",
        "ÄPPL",
    ],
)
@pytest.mark.parametrize("name", ["allowed_symbols", "denied_symbols"])
def test_invalid_symbols_are_refused(name: str, value: str) -> None:
    with pytest.raises(ValidationError, match="not valid symbols"):
        RiskLimits(**{name: value})


def test_a_twelve_character_symbol_is_the_longest() -> None:
    assert RiskLimits(denied_symbols="ABCDEFGHIJKL").denied_symbols == ("ABCDEFGHIJKL",)


def test_a_symbol_list_holds_at_most_500_symbols() -> None:
    names = [f"S{i:04d}" for i in range(501)]
    assert len(RiskLimits(allowed_symbols=names[:500]).allowed_symbols) == 500
    with pytest.raises(ValidationError):
        RiskLimits(allowed_symbols=names)


# -- RISK_* settings --------------------------------------------------------------------


@pytest.fixture
def no_env_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Read only the variables a test sets: no `.env`, no stray `RISK_*`."""
    monkeypatch.chdir(tmp_path)
    for name in LIMIT_NAMES:
        monkeypatch.delenv(f"RISK_{name.upper()}", raising=False)


@pytest.mark.usefixtures("no_env_file")
def test_risk_settings_default_to_the_limits_defaults() -> None:
    assert RiskSettings().model_dump() == RiskLimits().model_dump()


@pytest.mark.usefixtures("no_env_file")
def test_risk_settings_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RISK_MAX_ORDER_VALUE", "")
    monkeypatch.setenv("RISK_MAX_LEVERAGE", "off")
    monkeypatch.setenv("RISK_DENIED_SYMBOLS", "gme,amc")
    monkeypatch.setenv("RISK_ALLOWED_SYMBOLS", "")
    monkeypatch.setenv("RISK_MAX_ORDER_QTY", "500.5")
    monkeypatch.setenv("RISK_MAX_ORDERS_PER_SECOND", "50")
    monkeypatch.setenv("RISK_MAX_ORDERS_PER_MINUTE", "3000")
    monkeypatch.setenv("RISK_DAILY_LOSS_LIMIT", "1500.25")
    settings = RiskSettings()
    assert settings.max_order_value is None
    assert settings.max_leverage is None
    assert settings.denied_symbols == ("AMC", "GME")
    assert settings.allowed_symbols == ()
    assert settings.max_order_qty == D("500.5")
    assert (settings.max_orders_per_second, settings.max_orders_per_minute) == (50, 3000)
    assert settings.daily_loss_limit == D("1500.25")
    assert settings.max_position_value == D(500000)  # unset: the default


@pytest.mark.usefixtures("no_env_file")
def test_the_root_settings_carry_the_risk_group(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RISK_DENIED_SYMBOLS", "tsla")
    monkeypatch.setenv("RISK_PRICE_BAND_PERCENT", "")
    risk = Settings().risk
    assert risk.denied_symbols == ("TSLA",)
    assert risk.price_band_percent is None


@pytest.mark.usefixtures("no_env_file")
def test_the_risk_settings_are_limits() -> None:
    limits = RiskLimits.model_validate(RiskSettings().model_dump())
    assert limits == RiskLimits()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("RISK_MAX_ORDERS_PER_SECOND", "51"),
        ("RISK_MAX_ORDERS_PER_MINUTE", "3001"),
        ("RISK_MAX_LEVERAGE", "51"),
        ("RISK_PRICE_BAND_PERCENT", "101"),
        ("RISK_MAX_ORDER_VALUE", "-1"),
        ("RISK_DENIED_SYMBOLS", "gme,not a symbol"),
        ("RISK_ALLOWED_SYMBOLS", '["AAPL"]'),  # comma-separated, not JSON
    ],
)
@pytest.mark.usefixtures("no_env_file")
def test_bad_risk_settings_are_refused(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError):
        RiskSettings()


# -- run-time updates -------------------------------------------------------------------


def test_an_update_changes_only_the_limits_given() -> None:
    update = RiskLimitsUpdate.model_validate(
        {"max_order_value": "1000.50", "max_orders_per_second": 5, "reason": "tighter"}
    )
    assert update.changes() == {"max_order_value": "1000.5", "max_orders_per_second": 5}
    assert update.reason == "tighter"


def test_null_in_an_update_switches_a_check_off() -> None:
    update = RiskLimitsUpdate.model_validate({"max_leverage": None, "daily_loss_limit": None})
    assert update.changes() == {"max_leverage": None, "daily_loss_limit": None}


def test_symbol_lists_in_an_update_are_parsed_and_null_empties_them() -> None:
    update = RiskLimitsUpdate.model_validate(
        {"denied_symbols": ["gme", "amc", "GME"], "allowed_symbols": None}
    )
    assert update.changes() == {"denied_symbols": ["AMC", "GME"], "allowed_symbols": []}


@pytest.mark.parametrize(
    "body",
    [
        # The forms of an environment variable are not JSON's: a body says null, and lists.
        {"daily_loss_limit": "off"},
        {"max_orders_per_second": ""},
        {"denied_symbols": "gme,amc"},
        # A value of another JSON type is refused, not converted (null is not "NONE").
        {"denied_symbols": [None, None]},
        {"allowed_symbols": ["AAPL", 1]},
        {"allowed_symbols": [" AAPL"]},
        {"allowed_symbols": [""]},
        {"max_orders_per_second": True},
        {"max_orders_per_second": "5"},
        {"max_consecutive_rejections": 2.5},
    ],
)
def test_an_update_takes_json_types_strictly(body: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        RiskLimitsUpdate.model_validate(body)


def test_settings_symbol_lists_take_only_text() -> None:
    with pytest.raises(ValidationError):
        RiskLimits.model_validate({"denied_symbols": [None]})


def test_an_update_applies_over_the_limits() -> None:
    base = RiskLimits()
    update = RiskLimitsUpdate.model_validate({"max_order_qty": "5", "max_leverage": None})
    limits = RiskLimits.model_validate(base.model_dump(mode="json") | update.changes())
    assert limits.max_order_qty == D(5)
    assert limits.max_leverage is None
    assert limits.max_order_value == base.max_order_value


@pytest.mark.parametrize("body", [{}, {"reason": "nothing really"}])
def test_an_empty_update_is_refused(body: dict[str, Any]) -> None:
    with pytest.raises(ValidationError, match="give at least one limit to change"):
        RiskLimitsUpdate.model_validate(body)


def test_an_update_with_an_unknown_field_is_refused() -> None:
    with pytest.raises(ValidationError, match="max_order_size"):
        RiskLimitsUpdate.model_validate({"max_order_qty": "5", "max_order_size": "5"})


@pytest.mark.parametrize(
    "body",
    [
        {"max_orders_per_second": 51},
        {"max_orders_per_minute": 3001},
        {"max_leverage": "0"},
        {"price_band_percent": "100.5"},
        {"denied_symbols": "gme,bad symbol"},
        {"max_order_qty": "5", "reason": "x" * 501},
    ],
)
def test_an_update_keeps_the_bounds(body: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        RiskLimitsUpdate.model_validate(body)


def test_an_update_knows_every_limit() -> None:
    fields = set(RiskLimitsUpdate.model_fields) - {"reason"}
    assert fields == set(LIMIT_NAMES)
