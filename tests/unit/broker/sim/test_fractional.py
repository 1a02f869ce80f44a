"""Quantities and contracts: whole-share and fractional symbols in the matching engine."""

from __future__ import annotations

from dataclasses import replace

import pytest

from stocks_api.broker.protocol import (
    BrokerEvent,
    BrokerRejectedError,
    Contract,
    OrderChange,
    OrderType,
    Side,
)
from stocks_api.broker.sim.engine import MatchingEngine
from stocks_api.broker.sim.symbols import parse_symbols
from tests.unit.broker.sim.support import D, S, execs, kinds, make_engine, req, set_book


def fractional_engine() -> tuple[MatchingEngine, list[BrokerEvent]]:
    aapl, spy = parse_symbols("AAPL,SPY")
    engine, events = make_engine(symbols=[aapl, replace(spy, fractional=True)])
    set_book(engine)
    set_book(engine, symbol="SPY")
    return engine, events


def test_contracts_describe_tick_and_quantity_steps() -> None:
    engine, _ = fractional_engine()

    assert engine.contract("AAPL") == Contract("AAPL", "USD", D("0.01"), D(1))
    spy = engine.contract("SPY")
    assert spy == Contract("SPY", "USD", D("0.01"), D("0.0001"))
    assert spy is not None
    assert spy.fractional
    assert engine.contract("ZZZZ") is None


def test_a_fraction_of_a_whole_share_symbol_is_refused() -> None:
    engine, events = fractional_engine()

    with pytest.raises(BrokerRejectedError) as refused:
        engine.submit(req(qty="1.5"))

    assert str(refused.value) == "AAPL trades in whole shares: quantity 1.5 refused"
    assert events == []
    assert engine.submit(req(qty="2.000")) == "SIM-1"  # a whole number written with decimals


def test_a_fractional_symbol_trades_fractions() -> None:
    engine, events = fractional_engine()

    oid = engine.submit(req(symbol="SPY", qty="0.5"))

    assert kinds(events) == ["submitted", "exec", "filled"]
    (fill,) = execs(events)
    assert (fill.qty, fill.price, fill.commission) == (D("0.5"), D("100.02"), D("0.5001"))
    assert engine.get_order(oid).status is S.FILLED
    assert engine.quote("SPY").ask_size == D("499.5")


@pytest.mark.parametrize("qty", ["0.00001", "1.23456"])
def test_a_fractional_symbol_refuses_steps_finer_than_its_increment(qty: str) -> None:
    engine, events = fractional_engine()

    with pytest.raises(
        BrokerRejectedError, match=rf"SPY trades in steps of 0.0001 shares: quantity {qty}"
    ):
        engine.submit(req(symbol="SPY", qty=qty))

    assert events == []


def test_an_absurdly_precise_quantity_is_refused_not_crashed() -> None:
    engine, _ = fractional_engine()

    with pytest.raises(BrokerRejectedError, match="whole shares"):
        engine.submit(req(qty="1E+40"))


def test_modify_checks_the_quantity_step() -> None:
    engine, events = fractional_engine()
    whole = engine.submit(req(OrderType.LIMIT, limit="99.00", coid="w"))
    fraction = engine.submit(req(OrderType.LIMIT, symbol="SPY", limit="99.00", coid="f"))
    count = len(events)

    with pytest.raises(BrokerRejectedError, match=r"whole shares: quantity 2\.5 refused"):
        engine.modify(whole, OrderChange(qty=D("2.5")))
    assert len(events) == count
    engine.modify(fraction, OrderChange(qty=D("2.5")))

    assert engine.get_order(fraction).request.qty == D("2.5")


def test_a_fractional_bracket_is_refused_on_a_whole_share_symbol() -> None:
    engine, _ = fractional_engine()
    parent = req(OrderType.LIMIT, qty="0.5", limit="100.02", coid="p")
    child = req(
        OrderType.LIMIT, side=Side.SELL, qty="0.5", limit="105", coid="c", parent="p", oca="g"
    )

    with pytest.raises(BrokerRejectedError, match="whole shares"):
        engine.submit_bracket(parent, [child])
    ids = engine.submit_bracket(replace(parent, symbol="SPY"), [replace(child, symbol="SPY")])

    assert len(ids) == 2
    assert engine.get_order(ids[1]).request.qty == D("0.5")
