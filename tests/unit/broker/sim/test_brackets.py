"""Bracket orders in the matching engine: held children, activation, OCA, all or nothing."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from stocks_api.broker.protocol import (
    BrokerRejectedError,
    OrderChange,
    OrderRequest,
    OrderStatusUpdate,
    OrderType,
    Side,
    TimeInForce,
)
from stocks_api.broker.sim.engine import MatchingEngine
from tests.unit.broker.sim.support import (
    D,
    FakeClock,
    S,
    execs,
    make_engine,
    nyse,
    req,
    set_book,
    trail,
    updates,
)

HELD = "held until the parent fills"
ACTIVATED = "activated: parent filled"
OCA = "oca-1"


def parent(
    order_type: OrderType = OrderType.LIMIT,
    *,
    qty: str = "100",
    limit: str | None = "100.02",
    **kw: object,
) -> OrderRequest:
    if order_type is OrderType.MARKET:
        limit = None
    return req(order_type, qty=qty, limit=limit, coid="p", **kw)  # type: ignore[arg-type]


def take_profit(qty: str = "100", limit: str = "105.00", **kw: object) -> OrderRequest:
    fields = {
        "side": Side.SELL,
        "qty": qty,
        "limit": limit,
        "coid": "tp",
        "parent": "p",
        "oca": OCA,
    }
    return req(OrderType.LIMIT, **(fields | kw))  # type: ignore[arg-type]


def stop_loss(qty: str = "100", stop: str = "95.00", **kw: object) -> OrderRequest:
    fields = {"side": Side.SELL, "qty": qty, "stop": stop, "coid": "sl", "parent": "p", "oca": OCA}
    return req(OrderType.STOP, **(fields | kw))  # type: ignore[arg-type]


def bracket(
    engine: MatchingEngine, head: OrderRequest | None = None, kids: Sequence[OrderRequest] = ()
) -> list[str]:
    return engine.submit_bracket(head or parent(), list(kids) or [take_profit(), stop_loss()])


def status_of(engine: MatchingEngine, oid: str) -> S:
    return engine.get_order(oid).status


# -- the life cycle --------------------------------------------------------------------------


def test_a_filled_parent_activates_its_children() -> None:
    engine, events = make_engine()
    set_book(engine, last="100.01")

    ids = bracket(engine)

    assert ids == ["SIM-1", "SIM-2", "SIM-3"]
    assert trail(events) == [
        ("p", "submitted", None),
        ("tp", "submitted", HELD),
        ("sl", "submitted", HELD),
        ("p", "exec", None),
        ("p", "filled", None),
        ("tp", "submitted", ACTIVATED),
        ("sl", "submitted", ACTIVATED),
    ]
    held_ack = updates(events)[1]
    assert held_ack.payload["parent_broker_order_id"] == "SIM-1"
    assert held_ack.payload["oca_group"] == OCA
    children = engine.open_orders()
    assert [(o.broker_order_id, o.held) for o in children] == [("SIM-2", False), ("SIM-3", False)]
    assert {o.parent_broker_order_id for o in children} == {"SIM-1"}


def test_take_profit_fill_cancels_the_stop_loss() -> None:
    engine, events = make_engine()
    set_book(engine, last="100.01")
    _, tp, sl = bracket(engine)
    start = len(events)

    set_book(engine, "105.00", "105.02", last="105.00")

    assert trail(events[start:]) == [
        ("tp", "exec", None),
        ("tp", "filled", None),
        ("sl", "cancelled", "OCA sibling filled"),
    ]
    assert [(e.side, e.qty, e.price) for e in execs(events)[1:]] == [
        (Side.SELL, D(100), D("105.00"))
    ]
    assert (status_of(engine, tp), status_of(engine, sl)) == (S.FILLED, S.CANCELLED)
    assert engine.open_orders() == []


def test_stop_loss_fill_cancels_the_take_profit() -> None:
    engine, events = make_engine()
    set_book(engine, last="100.01")
    _, tp, sl = bracket(engine)

    set_book(engine, "94.90", "94.92", last="94.95")

    assert (status_of(engine, tp), status_of(engine, sl)) == (S.CANCELLED, S.FILLED)
    assert updates(events)[-1].reason == "OCA sibling filled"
    assert execs(events)[-1].price == D("94.90")


def test_a_partial_child_fill_reduces_the_sibling() -> None:
    engine, events = make_engine()
    set_book(engine, size="300", last="100.01")
    _, tp, sl = bracket(
        engine, parent(OrderType.MARKET, qty="300"), [take_profit("300"), stop_loss("300")]
    )
    start = len(events)

    set_book(engine, "105.00", "105.02", size="100", last="105.00")

    reduced = updates(events)[-1]
    assert trail(events[start:]) == [
        ("tp", "exec", None),
        ("tp", "partially_filled", None),
        ("sl", "submitted", "reduced by OCA sibling fill"),
    ]
    assert (reduced.qty, reduced.remaining_qty, reduced.filled_qty) == (D(200), D(200), D(0))
    assert engine.get_order(sl).request.qty == D(200)

    set_book(engine, "105.00", "105.02", size="500", last="105.00")

    assert execs(events)[-1].qty == D(200)
    assert (status_of(engine, tp), status_of(engine, sl)) == (S.FILLED, S.CANCELLED)


def test_fills_on_both_children_never_exceed_the_parent() -> None:
    engine, events = make_engine()
    set_book(engine, size="300", last="100.01")
    _, tp, sl = bracket(
        engine, parent(OrderType.MARKET, qty="300"), [take_profit("300"), stop_loss("300")]
    )

    set_book(engine, "94.90", "94.92", size="100", last="94.95")  # stop loss sells 100
    assert engine.get_order(tp).request.qty == D(200)
    set_book(engine, "105.00", "105.02", size="500", last="105.00")  # take profit sells 200

    sold = [(e.client_order_id, e.qty) for e in execs(events) if e.side is Side.SELL]
    assert sold == [("sl", D(100)), ("tp", D(200))]
    assert (status_of(engine, tp), status_of(engine, sl)) == (S.FILLED, S.CANCELLED)
    last = updates(events)[-1]
    assert (last.client_order_id, last.filled_qty, last.remaining_qty) == ("sl", D(100), D(200))


def test_held_children_never_match_while_the_parent_rests() -> None:
    engine, events = make_engine()
    set_book(engine, last="100.01")
    ids = bracket(engine, parent(limit="94.00", tif=TimeInForce.GTC))

    set_book(engine, "105.00", "105.02", last="105.00")  # through the take profit
    set_book(engine, "94.90", "94.92", last="94.90")  # through the stop loss, above the parent

    assert execs(events) == []
    assert [(o.broker_order_id, o.held) for o in engine.open_orders()] == [
        (ids[0], False),
        (ids[1], True),
        (ids[2], True),
    ]
    assert engine.get_order(ids[2]).triggered is False


def test_cancelling_the_parent_cancels_its_held_children() -> None:
    engine, events = make_engine()
    set_book(engine)
    head, _, _ = bracket(engine, parent(limit="99.00"))
    start = len(events)

    engine.cancel(head)

    assert trail(events[start:]) == [
        ("p", "cancelled", "cancelled by request"),
        ("tp", "cancelled", "parent order cancelled"),
        ("sl", "cancelled", "parent order cancelled"),
    ]
    assert engine.open_orders() == []


def test_a_parent_cancelled_after_a_partial_fill_resizes_and_activates_its_children() -> None:
    engine, events = make_engine()
    set_book(engine, size="40", last="100.01")
    head, tp, sl = bracket(engine)
    assert engine.get_order(head).filled_qty == D(40)
    start = len(events)

    engine.cancel(head)

    assert trail(events[start:]) == [
        ("p", "cancelled", "cancelled by request"),
        ("tp", "submitted", "resized to the parent's filled quantity"),
        ("sl", "submitted", "resized to the parent's filled quantity"),
        ("tp", "submitted", "activated: parent partly filled"),
        ("sl", "submitted", "activated: parent partly filled"),
    ]
    resized = updates(events)[start + 1]
    assert (resized.qty, resized.remaining_qty) == (D(40), D(40))
    assert [o.request.qty for o in engine.open_orders()] == [D(40), D(40)]

    set_book(engine, "105.00", "105.02", last="105.00")

    assert execs(events)[-1].qty == D(40)
    assert (status_of(engine, tp), status_of(engine, sl)) == (S.FILLED, S.CANCELLED)


def test_an_ioc_parent_partly_filled_activates_resized_children() -> None:
    engine, _ = make_engine()
    set_book(engine, size="60", last="100.01")

    head, tp, _ = bracket(engine, parent(tif=TimeInForce.IOC))

    assert status_of(engine, head) is S.CANCELLED
    assert engine.get_order(tp).request.qty == D(60)
    assert not engine.get_order(tp).held


def test_an_unfilled_ioc_parent_takes_its_children_along() -> None:
    engine, events = make_engine()
    set_book(engine)

    bracket(engine, parent(limit="99.00", tif=TimeInForce.IOC))

    assert trail(events)[3:] == [
        ("p", "cancelled", "IOC remainder cancelled"),
        ("tp", "cancelled", "parent order cancelled"),
        ("sl", "cancelled", "parent order cancelled"),
    ]


def test_an_expiring_parent_cancels_its_children() -> None:
    clock = FakeClock()
    engine, events = make_engine(clock=clock, calendar=nyse())
    set_book(engine)
    head, tp, _ = bracket(engine, parent(limit="99.00"))
    assert engine.get_order(tp).expires_at is None  # a held child's day has not begun

    clock.advance(hours=6)  # 16:30 in New York
    engine.tick()

    assert status_of(engine, head) is S.EXPIRED
    child = [u for u in updates(events) if u.client_order_id == "tp"][-1]
    assert (child.status, child.reason) == (S.CANCELLED, "parent order expired")


def test_children_are_activated_immediately_marketable() -> None:
    engine, events = make_engine()
    set_book(engine, "100.00", "100.02", last="100.01")

    bracket(engine, parent(OrderType.MARKET), [take_profit(limit="99.50"), stop_loss()])

    assert trail(events)[3:] == [
        ("p", "exec", None),
        ("p", "filled", None),
        ("tp", "submitted", ACTIVATED),
        ("sl", "submitted", ACTIVATED),
        ("tp", "exec", None),
        ("tp", "filled", None),
        ("sl", "cancelled", "OCA sibling filled"),
    ]


def test_activated_children_get_their_day_expiry() -> None:
    clock = FakeClock()
    engine, _ = make_engine(clock=clock, calendar=nyse())
    set_book(engine)
    _, tp, _ = bracket(engine, parent(limit="99.00", tif=TimeInForce.GTC))
    clock.advance(days=1)

    set_book(engine, "98.98", "99.00")

    expires = engine.get_order(tp).expires_at
    assert expires is not None
    assert expires == nyse().next_close(clock.now)
    assert expires.isoformat() == "2024-03-05T21:00:00+00:00"


def test_a_trailing_child_starts_trailing_when_activated() -> None:
    engine, events = make_engine()
    set_book(engine, last="100.01")
    trailing = req(
        OrderType.TRAILING_STOP,
        side=Side.SELL,
        trail_amount="1.00",
        coid="sl",
        parent="p",
        oca=OCA,
    )
    head, _, sl = bracket(engine, parent(limit="95.00"), [take_profit(), trailing])
    assert updates(events)[2].stop_price == D("99.01")

    set_book(engine, "94.98", "95.00", last="95.00")

    assert status_of(engine, head) is S.FILLED
    activation = [u for u in updates(events) if u.client_order_id == "sl"][-1]
    assert (activation.reason, activation.stop_price) == (ACTIVATED, D("94.00"))
    assert status_of(engine, sl) is S.SUBMITTED


# -- modifications ---------------------------------------------------------------------------


def test_modifying_the_parent_quantity_resizes_the_held_children() -> None:
    engine, events = make_engine()
    set_book(engine)
    head, tp, sl = bracket(engine, parent(limit="99.00"))
    start = len(events)

    engine.modify(head, OrderChange(qty=D(250)))

    changes = updates(events)[start:]
    assert [(u.client_order_id, u.reason, u.qty) for u in changes] == [
        ("p", "modified", None),
        ("tp", "resized with the parent", D(250)),
        ("sl", "resized with the parent", D(250)),
    ]
    assert [engine.get_order(oid).request.qty for oid in (tp, sl)] == [D(250), D(250)]


def test_a_held_child_keeps_its_parents_quantity_but_may_move_its_prices() -> None:
    engine, events = make_engine()
    set_book(engine)
    _, tp, sl = bracket(engine, parent(limit="99.00"))

    with pytest.raises(BrokerRejectedError, match="follows its parent's quantity"):
        engine.modify(tp, OrderChange(qty=D(50)))
    engine.modify(sl, OrderChange(stop_price=D("100.50")))  # through the market: still held

    assert execs(events) == []
    assert engine.get_order(sl).stop_price == D("100.50")
    assert engine.get_order(sl).held


def test_a_child_cancelled_while_held_stays_cancelled() -> None:
    engine, _ = make_engine()
    set_book(engine)
    head, tp, sl = bracket(engine, parent(limit="99.00"))

    engine.cancel(sl)
    set_book(engine, "98.98", "99.00")

    assert (status_of(engine, head), status_of(engine, tp), status_of(engine, sl)) == (
        S.FILLED,
        S.SUBMITTED,
        S.CANCELLED,
    )


# -- all or nothing --------------------------------------------------------------------------


def _bad_brackets() -> list[tuple[OrderRequest, list[OrderRequest], str]]:
    good = parent()
    return [
        (good, [], "1 or 2 children"),
        (good, [take_profit(), stop_loss(), take_profit(coid="tp2")], "1 or 2 children"),
        (good, [take_profit(side=Side.BUY)], "child 1: side must be sell"),
        (good, [take_profit(), stop_loss(qty="50")], "child 2: quantity 50 differs"),
        (good, [take_profit(parent="other")], "parent_client_order_id must be 'p'"),
        (good, [take_profit(oca=None)], "oca_group is required"),
        (good, [take_profit(oca="")], "oca_group is required"),
        (good, [take_profit(), stop_loss(oca="oca-2")], "share one oca_group"),
        (good, [take_profit(tif=TimeInForce.IOC)], "ioc is not allowed on a bracket child"),
        (good, [take_profit(), stop_loss(coid="tp")], "its own client_order_id"),
        (good, [take_profit(coid="p")], "its own client_order_id"),
        (good, [take_profit(symbol="MSFT")], "symbol MSFT differs"),
        (good, [take_profit(symbol="ZZZZ")], "unknown symbol"),
        (good, [take_profit(limit="-1")], "limit_price must be positive"),
        (good, [stop_loss(stop="0")], "stop_price must be positive"),
        (parent(qty="1.5"), [take_profit("1.5")], "whole shares"),
        (parent(oca=OCA), [take_profit()], "bracket parent cannot"),
        (parent(parent="x"), [take_profit()], "bracket parent cannot"),
        (parent(OrderType.STOP, limit=None), [take_profit()], "needs a stop_price"),
    ]


@pytest.mark.parametrize(("head", "kids", "message"), _bad_brackets())
def test_an_invalid_bracket_is_rejected_as_a_whole(
    head: OrderRequest, kids: list[OrderRequest], message: str
) -> None:
    engine, events = make_engine()
    set_book(engine)

    with pytest.raises(BrokerRejectedError, match=message):
        engine.submit_bracket(head, kids)

    assert events == []
    assert engine.open_orders() == []
    assert engine.submit(req()) == "SIM-1"  # no id was used up


@pytest.mark.parametrize(
    "order", [take_profit(), req(coid="x", oca="group"), req(coid="x", parent="p")]
)
def test_submit_refuses_bracket_children(order: OrderRequest) -> None:
    engine, events = make_engine()

    with pytest.raises(BrokerRejectedError, match="use submit_bracket"):
        engine.submit(order)

    assert events == []


def test_a_bracket_with_one_child() -> None:
    engine, events = make_engine()
    set_book(engine, last="100.01")

    ids = engine.submit_bracket(parent(), [stop_loss()])

    assert len(ids) == 2
    assert [u.reason for u in updates(events) if u.client_order_id == "sl"] == [HELD, ACTIVATED]


def test_a_sell_bracket_protects_a_short() -> None:
    engine, events = make_engine()
    set_book(engine, last="100.01")
    head = req(OrderType.MARKET, side=Side.SELL, coid="p")
    cover = req(OrderType.LIMIT, side=Side.BUY, limit="95.00", coid="tp", parent="p", oca=OCA)
    guard = req(OrderType.STOP, side=Side.BUY, stop="105.00", coid="sl", parent="p", oca=OCA)
    _, tp, sl = engine.submit_bracket(head, [cover, guard])

    set_book(engine, "105.00", "105.02", last="105.00")

    assert (status_of(engine, tp), status_of(engine, sl)) == (S.CANCELLED, S.FILLED)
    assert [(e.side, e.price) for e in execs(events)] == [
        (Side.SELL, D("100.00")),
        (Side.BUY, D("105.02")),
    ]
    assert isinstance(events[-1], OrderStatusUpdate)
