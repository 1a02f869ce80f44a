"""Trailing stops in the matching engine: starting level, ratchet, trigger, rules."""

from __future__ import annotations

import pytest

from stocks_api.broker.protocol import (
    BrokerRejectedError,
    OrderChange,
    OrderRequest,
    OrderType,
    Side,
    TimeInForce,
)
from stocks_api.broker.sim.trailing import ratchet, stop_reached, trail_stop
from tests.unit.broker.sim.support import (
    D,
    FakeClock,
    S,
    execs,
    kinds,
    make_engine,
    nyse,
    req,
    set_book,
    updates,
)

TRAILING = OrderType.TRAILING_STOP


def trailing_sell(**kwargs: object) -> OrderRequest:
    return req(TRAILING, side=Side.SELL, qty="10", **kwargs)  # type: ignore[arg-type]


def trailing_buy(**kwargs: object) -> OrderRequest:
    return req(TRAILING, side=Side.BUY, qty="10", **kwargs)  # type: ignore[arg-type]


# -- the stop level --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("side", "last", "amount", "percent", "expected"),
    [
        (Side.SELL, "190.00", "1.00", None, "189.00"),
        (Side.BUY, "190.00", "1.00", None, "191.00"),
        # Off-grid distances round away from the market: down for sells, up for buys.
        (Side.SELL, "100.00", "0.005", None, "99.99"),
        (Side.BUY, "100.00", "0.005", None, "100.01"),
        (Side.SELL, "100.00", None, "2", "98.00"),
        (Side.BUY, "100.00", None, "2", "102.00"),
        (Side.SELL, "100.01", None, "1", "99.00"),  # 99.0099
        (Side.BUY, "100.01", None, "1", "101.02"),  # 101.0101
        (Side.SELL, "90.00", None, "2", "88.20"),
        (Side.BUY, "90.00", None, "2", "91.80"),
    ],
)
def test_trail_stop_levels(
    side: Side, last: str, amount: str | None, percent: str | None, expected: str
) -> None:
    stop = trail_stop(
        side,
        D(last),
        D("0.01"),
        amount=None if amount is None else D(amount),
        percent=None if percent is None else D(percent),
    )

    assert stop == D(expected)
    assert str(stop) == expected


def test_ratchet_moves_only_towards_the_market() -> None:
    assert ratchet(Side.SELL, D("189.00"), D("194.00")) == D("194.00")
    assert ratchet(Side.SELL, D("194.00"), D("193.50")) == D("194.00")
    assert ratchet(Side.BUY, D("102.00"), D("91.80")) == D("91.80")
    assert ratchet(Side.BUY, D("91.80"), D("92.00")) == D("91.80")


def test_stop_reached_on_either_side() -> None:
    assert stop_reached(Side.SELL, D("194.00"), D("194.00"))
    assert not stop_reached(Side.SELL, D("194.00"), D("194.01"))
    assert stop_reached(Side.BUY, D("91.80"), D("91.80"))
    assert not stop_reached(Side.BUY, D("91.80"), D("91.79"))


# -- in the engine ---------------------------------------------------------------------------


def test_sell_by_amount_ratchets_up_and_triggers_on_the_way_down() -> None:
    engine, events = make_engine()
    set_book(engine, "189.99", "190.00", last="190.00")

    oid = engine.submit(trailing_sell(trail_amount="1.00"))

    (ack,) = updates(events)
    assert (ack.status, ack.stop_price) == (S.SUBMITTED, D("189.00"))
    assert ack.payload["trail_amount"] == "1.00"
    assert engine.get_order(oid).stop_price == D("189.00")

    set_book(engine, "194.99", "195.00", last="195.00")
    assert engine.get_order(oid).stop_price == D("194.00")
    set_book(engine, "194.49", "194.50", last="194.50")
    assert engine.get_order(oid).stop_price == D("194.00")  # never back down
    assert len(events) == 1  # ratchets are silent

    set_book(engine, "193.99", "194.00", last="194.00")

    assert kinds(events) == ["submitted", "submitted", "exec", "filled"]
    trigger = updates(events)[1]
    assert (trigger.reason, trigger.stop_price) == ("stop triggered", D("194.00"))
    assert trigger.payload == {"stop_price": "194.00", "last": "194.00", "remaining": "10"}
    (fill,) = execs(events)
    assert (fill.side, fill.qty, fill.price) == (Side.SELL, D(10), D("193.99"))
    order = engine.get_order(oid)
    assert (order.status, order.triggered, order.stop_price) == (S.FILLED, True, D("194.00"))


def test_buy_by_percent_follows_the_market_down_and_triggers_on_the_way_up() -> None:
    engine, events = make_engine()
    set_book(engine, "99.99", "100.00", last="100.00")

    oid = engine.submit(trailing_buy(trail_percent="2"))

    assert updates(events)[0].stop_price == D("102.00")
    set_book(engine, "89.99", "90.00", last="90.00")
    assert engine.get_order(oid).stop_price == D("91.80")
    set_book(engine, "90.99", "91.00", last="91.00")
    assert engine.get_order(oid).stop_price == D("91.80")  # 92.82 would move it away
    assert execs(events) == []

    set_book(engine, "91.79", "91.80", last="91.80")

    trigger = updates(events)[1]
    assert (trigger.reason, trigger.stop_price) == ("stop triggered", D("91.80"))
    assert [(e.side, e.price) for e in execs(events)] == [(Side.BUY, D("91.80"))]
    assert engine.get_order(oid).status is S.FILLED


def test_buy_by_amount_and_sell_by_percent() -> None:
    engine, events = make_engine()
    set_book(engine, "49.99", "50.00", last="50.00")
    buy = engine.submit(trailing_buy(trail_amount="0.50", coid="b"))
    sell = engine.submit(trailing_sell(trail_percent="1.5", coid="s"))
    assert [u.stop_price for u in updates(events)] == [D("50.50"), D("49.25")]

    set_book(engine, "49.69", "49.70", last="49.70")  # buy stop 50.20, sell stop stays
    assert engine.get_order(buy).stop_price == D("50.20")
    assert engine.get_order(sell).stop_price == D("49.25")
    set_book(engine, "50.29", "50.30", last="50.30")  # buy triggers; sell stop 49.54 (49.5455)

    assert engine.get_order(buy).status is S.FILLED
    assert execs(events)[0].price == D("50.30")
    assert engine.get_order(sell).stop_price == D("49.54")


def test_a_one_tick_trail_triggers_on_the_next_downtick() -> None:
    engine, events = make_engine()
    set_book(engine, "99.99", "100.00", last="100.00")

    engine.submit(trailing_sell(trail_amount="0.01"))
    set_book(engine, "99.98", "99.99", last="99.99")

    assert kinds(events) == ["submitted", "submitted", "exec", "filled"]
    assert execs(events)[0].price == D("99.98")


def test_trailing_stop_rests_and_does_not_ratchet_outside_regular_hours() -> None:
    saturday = FakeClock()
    saturday.set(saturday.now.replace(day=9))  # 2024-03-09 is a Saturday
    engine, events = make_engine(clock=saturday, calendar=nyse())
    set_book(engine, "99.99", "100.00", last="100.00")
    oid = engine.submit(trailing_sell(trail_amount="1.00"))

    set_book(engine, "109.99", "110.00", last="110.00")
    assert engine.get_order(oid).stop_price == D("99.00")
    set_book(engine, "94.99", "95.00", last="95.00")
    assert kinds(events) == ["submitted"]  # below the stop, but the market is closed

    saturday.advance(days=2)  # Monday 10:30 in New York
    set_book(engine, "95.99", "96.00", last="96.00")

    assert kinds(events) == ["submitted", "submitted", "exec", "filled"]
    assert updates(events)[1].stop_price == D("99.00")


def test_outside_rth_trailing_stop_works_after_hours() -> None:
    evening = FakeClock()
    evening.set(evening.now.replace(hour=22))  # 17:00 in New York
    engine, _ = make_engine(clock=evening, calendar=nyse())
    set_book(engine, "99.99", "100.00", last="100.00")
    oid = engine.submit(trailing_sell(trail_amount="1.00", outside_rth=True))

    set_book(engine, "109.99", "110.00", last="110.00")

    assert engine.get_order(oid).stop_price == D("109.00")


def test_modify_quantity_of_a_trailing_stop_keeps_the_stop() -> None:
    engine, events = make_engine()
    set_book(engine, "99.99", "100.00", last="100.00")
    oid = engine.submit(trailing_sell(trail_amount="1.00"))
    set_book(engine, "101.99", "102.00", last="102.00")

    engine.modify(oid, OrderChange(qty=D(25)))

    update = updates(events)[-1]
    assert (update.reason, update.remaining_qty) == ("modified", D(25))
    order = engine.get_order(oid)
    assert (order.request.qty, order.stop_price) == (D(25), D("101.00"))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (OrderChange(stop_price=D("95.00")), "stop_price cannot be set on a trailing_stop"),
        (OrderChange(limit_price=D("95.00")), "limit_price cannot be set on a trailing_stop"),
    ],
)
def test_prices_of_a_trailing_stop_cannot_be_modified(change: OrderChange, message: str) -> None:
    engine, events = make_engine()
    set_book(engine, last="100.00")
    oid = engine.submit(trailing_sell(trail_amount="1.00"))

    with pytest.raises(BrokerRejectedError, match=message):
        engine.modify(oid, change)

    assert len(events) == 1


@pytest.mark.parametrize(
    ("order", "message"),
    [
        (trailing_sell(), "exactly one of trail_amount and trail_percent"),
        (trailing_sell(trail_amount="1", trail_percent="1"), "exactly one of"),
        (trailing_sell(trail_amount="0"), "trail_amount must be positive"),
        (trailing_sell(trail_amount="-1"), "trail_amount must be positive"),
        (trailing_sell(trail_amount="Infinity"), "trail_amount must be positive"),
        (trailing_sell(trail_percent="0"), "between 0 and 100"),
        (trailing_sell(trail_percent="100"), "between 0 and 100"),
        (trailing_sell(trail_percent="NaN"), "between 0 and 100"),
        (trailing_sell(trail_amount="1", limit="99"), "limit_price is not allowed"),
        (trailing_sell(trail_amount="1", stop="99"), "stop_price is not allowed"),
        (trailing_sell(trail_amount="1", tif=TimeInForce.IOC), "ioc is not allowed"),
        (req(trail_amount="1"), "only allowed on a trailing_stop order"),
        (req(OrderType.LIMIT, limit="99", trail_percent="1"), "only allowed on a trailing_stop"),
        (trailing_sell(trail_amount="100.00"), "at or below zero"),
    ],
)
def test_bad_trailing_stops_are_rejected_without_events(order: OrderRequest, message: str) -> None:
    engine, events = make_engine()
    set_book(engine, last="100.00")

    with pytest.raises(BrokerRejectedError, match=message):
        engine.submit(order)

    assert events == []
    assert engine.open_orders() == []


def test_a_trailing_buy_may_trail_by_more_than_the_price() -> None:
    engine, events = make_engine()
    set_book(engine, last="100.00")

    engine.submit(trailing_buy(trail_amount="150.00"))

    assert updates(events)[0].stop_price == D("250.00")
