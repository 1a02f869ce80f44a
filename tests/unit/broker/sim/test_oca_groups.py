"""OCA groups of orders outside a bracket (IB's ocaGroup with an ocaType) in the engine."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal as D

import pytest

from stocks_api.broker.protocol import BrokerOrderStatus, BrokerRejectedError, OrderType
from tests.unit.broker.sim.support import execs, make_engine, req, set_book, updates


def _grouped(coid: str, limit: str, qty: str, oca_type: int, symbol: str = "AAPL"):
    request = req(OrderType.LIMIT, coid=coid, limit=limit, qty=qty, symbol=symbol, oca="g")
    return replace(request, oca_type=oca_type)


def _status(events: list, coid: str) -> BrokerOrderStatus:  # type: ignore[type-arg]
    return [u for u in updates(events) if u.client_order_id == coid][-1].status


def test_an_oca_group_needs_an_oca_type_outside_a_bracket() -> None:
    engine, _ = make_engine()
    with pytest.raises(BrokerRejectedError, match="oca_type 1-3"):
        engine.submit(req(OrderType.LIMIT, limit="90.00", oca="g"))


def test_type_1_cancels_every_other_order_of_the_group_on_a_fill() -> None:
    engine, events = make_engine()
    set_book(engine, "100.00", "100.02")
    for coid, limit, symbol in (
        ("a", "95.00", "AAPL"),
        ("b", "1.00", "MSFT"),
        ("c", "94.00", "AAPL"),
    ):
        engine.submit(_grouped(coid, limit, "10", 1, symbol))
    engine.submit(req(OrderType.LIMIT, coid="outside", limit="94.00", qty="10"))
    set_book(engine, "94.98", "95.00", size="3")  # "a" fills 3 of its 10
    assert [e.client_order_id for e in execs(events)] == ["a"]
    assert _status(events, "b") is BrokerOrderStatus.CANCELLED
    assert _status(events, "c") is BrokerOrderStatus.CANCELLED
    assert _status(events, "a") is BrokerOrderStatus.PARTIALLY_FILLED
    assert _status(events, "outside") is BrokerOrderStatus.SUBMITTED


@pytest.mark.parametrize("oca_type", [2, 3])
def test_types_2_and_3_reduce_the_others_in_proportion(oca_type: int) -> None:
    engine, events = make_engine()
    set_book(engine, "100.00", "100.02")
    engine.submit(_grouped("a", "95.00", "100", oca_type))
    engine.submit(_grouped("b", "90.00", "200", oca_type))
    engine.submit(_grouped("c", "89.00", "15", oca_type))
    set_book(engine, "94.98", "95.00", size="40")  # 40 of a's 100: 60% is left
    by_id = {o.request.client_order_id: o for o in engine.open_orders()}
    assert by_id["b"].request.qty == D(120)
    assert by_id["c"].request.qty == D(9)  # 15 x 0.6, whole shares
    set_book(engine, "94.98", "95.00", size="60")  # the rest of a: nothing left for them
    assert _status(events, "a") is BrokerOrderStatus.FILLED
    assert _status(events, "b") is BrokerOrderStatus.CANCELLED
    assert _status(events, "c") is BrokerOrderStatus.CANCELLED
    assert engine.open_orders() == []


def test_a_finished_order_leaves_its_group() -> None:
    engine, events = make_engine()
    set_book(engine, "100.00", "100.02")
    engine.submit(_grouped("a", "95.00", "10", 1))
    engine.submit(_grouped("b", "90.00", "10", 1))
    engine.cancel(engine.open_orders()[0].broker_order_id)
    set_book(engine, "89.98", "90.00")
    assert _status(events, "b") is BrokerOrderStatus.FILLED
    assert engine._oca_groups == {}
