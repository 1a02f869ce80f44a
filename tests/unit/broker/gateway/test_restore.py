"""Working orders put back into a fresh engine keep filling as they would have (restore.py)."""

from __future__ import annotations

import pytest

from stocks_api.broker.gateway.restore import WorkingOrder, restore_working
from stocks_api.broker.protocol import OrderChange, OrderType, Side, TimeInForce
from tests.unit.broker.sim.support import D, S, execs, make_engine, req, set_book, trail

GTC = TimeInForce.GTC


def test_nothing_is_reported_or_matched_until_the_market_moves() -> None:
    engine, events = make_engine()
    set_book(engine, "100.00", "100.02")
    ids = restore_working(
        engine, [WorkingOrder(req(OrderType.LIMIT, limit="100.02", coid="a", tif=GTC))]
    )
    assert events == []
    [working] = engine.open_orders()
    assert working.broker_order_id == ids["a"]
    assert working.request.client_order_id == "a"

    set_book(engine, "100.00", "100.02")  # a quote: matching as at any tick
    assert [e.qty for e in execs(events)] == [D(100)]


def test_a_partly_filled_order_fills_only_its_remainder_and_pays_the_minimum_once() -> None:
    engine, events = make_engine()
    order = WorkingOrder(
        req(OrderType.LIMIT, qty="300", limit="100.02", coid="a", tif=GTC),
        filled_qty=D(100),
        filled_value=D("10002"),
        commission=D("1.00"),
        executions=1,
    )
    ids = restore_working(engine, [order])
    assert engine.get_order(ids["a"]).status is S.PARTIALLY_FILLED

    set_book(engine, "100.00", "100.02", size="1000")
    [fill] = execs(events)
    assert fill.qty == D(200)
    # 300 shares cost 1.50 in all; 1.00 was paid for the first 100 before the restart.
    assert fill.commission == D("0.50")
    assert fill.exec_id.endswith(".02")  # the order's second execution
    finished = engine.get_order(ids["a"])
    assert (finished.status, finished.filled_qty) == (S.FILLED, D(300))
    assert finished.avg_fill_price == D("100.02")


def bracket(held: bool, qty: str = "100") -> list[WorkingOrder]:
    """A take-profit and a stop-loss under parent "p"."""
    tp = req(
        OrderType.LIMIT, side=Side.SELL, qty=qty, limit="105.00", coid="tp", parent="p", oca="o"
    )
    sl = req(OrderType.STOP, side=Side.SELL, qty=qty, stop="95.00", coid="sl", parent="p", oca="o")
    return [WorkingOrder(tp, held=held), WorkingOrder(sl, held=held)]


def test_held_children_of_a_partly_filled_parent_protect_its_whole_quantity() -> None:
    engine, events = make_engine()
    parent = WorkingOrder(
        req(OrderType.LIMIT, qty="100", limit="100.02", coid="p"),
        filled_qty=D(40),
        filled_value=D("4000.80"),
        commission=D("1.00"),
        executions=1,
    )
    ids = restore_working(engine, [*bracket(held=True), parent])  # any order will do
    assert [o.held for o in engine.open_orders()] == [False, True, True]

    # Until the parent fills, its children follow its quantity.
    engine.modify(ids["p"], OrderChange(qty=D(120)))
    assert {o.request.client_order_id: o.request.qty for o in engine.open_orders()} == {
        "p": D(120),
        "tp": D(120),
        "sl": D(120),
    }
    set_book(engine, "100.00", "100.02", size="1000")
    assert [(e.client_order_id, e.qty) for e in execs(events)] == [("p", D(80))]
    assert ("tp", "submitted", "activated: parent filled") in trail(events)
    set_book(engine, "105.00", "105.02", size="1000")
    assert [(e.client_order_id, e.qty) for e in execs(events)][-1] == ("tp", D(120))
    assert engine.get_order(ids["sl"]).status is S.CANCELLED  # one cancels the other
    assert engine.open_orders() == []


def test_children_whose_parent_filled_come_back_as_oca_siblings() -> None:
    engine, events = make_engine()
    ids = restore_working(engine, bracket(held=False))
    assert [o.held for o in engine.open_orders()] == [False, False]

    set_book(engine, "105.00", "105.02", size="30")  # the take-profit fills in part
    assert [(e.client_order_id, e.qty) for e in execs(events)] == [("tp", D(30))]
    assert engine.get_order(ids["sl"]).request.qty == D(70)  # reduced by its sibling's fill
    set_book(engine, "105.00", "105.02", size="500")
    assert engine.get_order(ids["tp"]).status is S.FILLED
    assert engine.get_order(ids["sl"]).status is S.CANCELLED


def test_a_triggered_stop_limit_stays_triggered() -> None:
    engine, events = make_engine()
    stop_limit = req(OrderType.STOP_LIMIT, stop="101.00", limit="101.50", coid="s", tif=GTC)
    restore_working(engine, [WorkingOrder(stop_limit, triggered=True)])
    # The last trade is below the stop: an untriggered buy stop would wait.
    set_book(engine, "101.00", "101.20", last="99.00")
    assert [(e.client_order_id, e.price) for e in execs(events)] == [("s", D("101.20"))]


def test_an_untriggered_stop_waits_for_its_stop() -> None:
    engine, events = make_engine()
    stop_limit = req(OrderType.STOP_LIMIT, stop="101.00", limit="101.50", coid="s", tif=GTC)
    restore_working(engine, [WorkingOrder(stop_limit)])
    set_book(engine, "101.00", "101.20", last="99.00")
    assert execs(events) == []


def test_a_trailing_stop_keeps_its_level() -> None:
    engine, events = make_engine()
    set_book(engine, "99.99", "100.01", last="100.00")
    trailing = req(OrderType.TRAILING_STOP, side=Side.SELL, trail_amount="2.00", coid="t", tif=GTC)
    ids = restore_working(engine, [WorkingOrder(trailing, stop_price=D("99.00"))])
    set_book(engine, "99.99", "100.01", last="100.00")
    assert engine.get_order(ids["t"]).stop_price == D("99.00")  # not 98.00 from the last
    set_book(engine, "98.90", "98.92", last="98.90")
    assert [e.client_order_id for e in execs(events)] == ["t"]


def test_a_held_child_needs_its_parent() -> None:
    engine, _ = make_engine()
    with pytest.raises(ValueError, match="its parent is not working"):
        restore_working(engine, bracket(held=True))
