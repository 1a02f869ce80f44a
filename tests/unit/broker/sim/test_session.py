"""The trading session in the matching engine: regular hours, outside_rth, DAY expiry."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from stocks_api.broker.protocol import (
    BrokerEvent,
    BrokerRejectedError,
    OrderChange,
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
    kinds,
    make_engine,
    nyse,
    req,
    set_book,
    trail,
    updates,
)

MONDAY_OPEN = datetime(2024, 3, 4, 14, 30, tzinfo=UTC)  # 09:30 in New York (EST)
MONDAY_CLOSE = datetime(2024, 3, 4, 21, 0, tzinfo=UTC)  # 16:00 in New York
EXPIRED = "day order expired at the session close"


def session_engine(
    at: datetime, holidays: str = ""
) -> tuple[MatchingEngine, list[BrokerEvent], FakeClock]:
    clock = FakeClock(at)
    engine, events = make_engine(clock=clock, calendar=nyse(holidays))
    set_book(engine)
    return engine, events, clock


# -- regular trading hours -------------------------------------------------------------------


def test_a_market_order_before_the_open_rests_until_the_session_opens() -> None:
    engine, events, clock = session_engine(datetime(2024, 3, 4, 13, 0, tzinfo=UTC))

    oid = engine.submit(req())
    engine.tick()
    assert kinds(events) == ["submitted"]
    assert engine.get_order(oid).status is S.SUBMITTED

    clock.set(MONDAY_OPEN)
    engine.tick()

    assert kinds(events) == ["submitted", "exec", "filled"]


def test_the_open_is_inclusive_and_the_close_exclusive() -> None:
    engine, events, clock = session_engine(MONDAY_CLOSE)
    engine.submit(req(coid="late", tif=TimeInForce.GTC))
    assert execs(events) == []

    clock.set(MONDAY_OPEN.replace(day=5))
    set_book(engine)

    assert [e.client_order_id for e in execs(events)] == ["late"]


def test_outside_rth_orders_work_in_the_extended_hours() -> None:
    after_hours = datetime(2024, 3, 4, 22, 0, tzinfo=UTC)  # 17:00 in New York
    engine, events, _ = session_engine(after_hours)

    engine.submit(req(coid="rth"))
    engine.submit(req(coid="extended", outside_rth=True))

    assert [e.client_order_id for e in execs(events)] == ["extended"]
    assert updates(events)[1].payload["outside_rth"] == "true"


@pytest.mark.parametrize(
    "closed",
    [
        datetime(2024, 3, 9, 18, 0, tzinfo=UTC),  # Saturday
        datetime(2024, 3, 5, 7, 0, tzinfo=UTC),  # Tuesday 02:00 in New York: the night
        datetime(2024, 3, 5, 1, 30, tzinfo=UTC),  # Monday 20:30: after-hours are over
    ],
)
def test_nothing_trades_when_the_market_is_closed_even_outside_rth(closed: datetime) -> None:
    engine, events, clock = session_engine(closed)

    engine.submit(req(coid="rth"))
    engine.submit(req(coid="extended", outside_rth=True))
    clock.advance(minutes=20)
    engine.tick()

    assert execs(events) == []
    assert len(engine.open_orders()) == 2


def test_an_ioc_order_outside_regular_hours_is_cancelled_at_once() -> None:
    engine, events, _ = session_engine(datetime(2024, 3, 4, 22, 0, tzinfo=UTC))

    oid = engine.submit(req(OrderType.LIMIT, limit="101.00", tif=TimeInForce.IOC))

    assert trail(events) == [
        ("c-1", "submitted", None),
        ("c-1", "cancelled", "IOC order cancelled: outside regular trading hours"),
    ]
    assert engine.get_order(oid).status is S.CANCELLED


def test_an_outside_rth_ioc_order_trades_outside_regular_hours() -> None:
    engine, events, _ = session_engine(datetime(2024, 3, 4, 22, 0, tzinfo=UTC))

    engine.submit(req(tif=TimeInForce.IOC, outside_rth=True))

    assert kinds(events) == ["submitted", "exec", "filled"]


def test_stops_do_not_trigger_outside_regular_hours() -> None:
    engine, events, clock = session_engine(datetime(2024, 3, 4, 23, 0, tzinfo=UTC))
    engine.submit(req(OrderType.STOP, side=Side.SELL, stop="99.50", tif=TimeInForce.GTC))

    set_book(engine, "99.00", "99.02", last="99.00")
    assert kinds(events) == ["submitted"]
    assert engine.open_orders()[0].triggered is False

    clock.set(MONDAY_OPEN.replace(day=5))
    engine.set_quote("AAPL", bid=D("99.00"), ask=D("99.02"), bid_size=D(500), ask_size=D(500))

    assert kinds(events) == ["submitted", "submitted", "exec", "filled"]


def test_a_holiday_is_outside_regular_hours() -> None:
    engine, events, _ = session_engine(MONDAY_OPEN, holidays="2024-03-04")

    engine.submit(req())

    assert kinds(events) == ["submitted"]


def test_a_modified_order_outside_regular_hours_does_not_trade() -> None:
    engine, events, _ = session_engine(datetime(2024, 3, 4, 22, 0, tzinfo=UTC))
    oid = engine.submit(req(OrderType.LIMIT, limit="99.00"))

    engine.modify(oid, OrderChange(limit_price=D("101.00")))

    assert execs(events) == []


# -- DAY expiry ------------------------------------------------------------------------------


def test_a_day_order_expires_at_the_close_of_its_session() -> None:
    engine, events, clock = session_engine(datetime(2024, 3, 4, 15, 30, tzinfo=UTC))
    day = engine.submit(req(OrderType.LIMIT, limit="90.00", coid="day"))
    gtc = engine.submit(req(OrderType.LIMIT, limit="90.00", coid="gtc", tif=TimeInForce.GTC))
    assert engine.get_order(day).expires_at == MONDAY_CLOSE
    assert engine.get_order(gtc).expires_at is None

    clock.set(datetime(2024, 3, 4, 20, 59, 59, tzinfo=UTC))
    engine.tick()
    assert engine.get_order(day).status is S.SUBMITTED

    clock.set(MONDAY_CLOSE)
    engine.tick()

    expired = updates(events)[-1]
    assert (expired.client_order_id, expired.status, expired.reason) == ("day", S.EXPIRED, EXPIRED)
    assert (expired.ts, expired.remaining_qty) == (MONDAY_CLOSE, D(100))
    assert [o.broker_order_id for o in engine.open_orders()] == [gtc]
    with pytest.raises(BrokerRejectedError, match="expired"):
        engine.cancel(day)


def test_expiry_happens_before_matching() -> None:
    engine, events, clock = session_engine(datetime(2024, 3, 4, 15, 30, tzinfo=UTC))
    day = engine.submit(req(OrderType.LIMIT, limit="90.00", outside_rth=True))

    clock.set(datetime(2024, 3, 4, 21, 5, tzinfo=UTC))
    set_book(engine, "89.00", "89.02")  # marketable, but the order's day is over

    assert engine.get_order(day).status is S.EXPIRED
    assert execs(events) == []


def test_a_day_order_after_the_close_lives_until_the_next_close() -> None:
    friday_evening = datetime(2024, 3, 8, 22, 0, tzinfo=UTC)
    engine, _, clock = session_engine(friday_evening)

    oid = engine.submit(req(OrderType.LIMIT, limit="90.00", outside_rth=True))

    # Across the weekend and into daylight saving time: 16:00 in New York is 20:00 UTC.
    expected = datetime(2024, 3, 11, 20, 0, tzinfo=UTC)
    assert engine.get_order(oid).expires_at == expected
    clock.set(datetime(2024, 3, 11, 19, 0, tzinfo=UTC))
    engine.tick()
    assert engine.get_order(oid).status is S.SUBMITTED
    clock.set(expected)
    engine.tick()
    assert engine.get_order(oid).status is S.EXPIRED


def test_a_day_order_skips_holidays() -> None:
    engine, _, _ = session_engine(datetime(2024, 3, 4, 22, 0, tzinfo=UTC), holidays="2024-03-05")

    oid = engine.submit(req(OrderType.LIMIT, limit="90.00"))

    assert engine.get_order(oid).expires_at == datetime(2024, 3, 6, 21, 0, tzinfo=UTC)


def test_orders_of_different_sessions_expire_each_at_their_close() -> None:
    engine, events, clock = session_engine(datetime(2024, 3, 4, 15, 0, tzinfo=UTC))
    first = engine.submit(req(OrderType.LIMIT, limit="90.00", coid="mon"))
    clock.set(datetime(2024, 3, 4, 22, 0, tzinfo=UTC))
    second = engine.submit(req(OrderType.LIMIT, limit="90.00", coid="tue"))

    engine.tick()

    assert engine.get_order(first).status is S.EXPIRED
    assert engine.get_order(second).status is S.SUBMITTED
    clock.set(datetime(2024, 3, 6, 0, 0, tzinfo=UTC))
    engine.tick()
    assert engine.get_order(second).status is S.EXPIRED
    assert [u.client_order_id for u in updates(events) if u.status is S.EXPIRED] == ["mon", "tue"]


def test_a_due_order_cannot_be_modified_or_cancelled() -> None:
    engine, events, clock = session_engine(datetime(2024, 3, 4, 15, 0, tzinfo=UTC))
    oid = engine.submit(req(OrderType.LIMIT, limit="90.00"))
    clock.set(MONDAY_CLOSE)

    with pytest.raises(BrokerRejectedError, match="expired"):
        engine.modify(oid, OrderChange(qty=D(5)))

    assert kinds(events) == ["submitted", "expired"]


def test_expire_day_orders_expires_every_day_order_now() -> None:
    engine, events, _ = session_engine(datetime(2024, 3, 4, 15, 0, tzinfo=UTC))
    engine.submit(req(OrderType.LIMIT, limit="90.00", coid="day"))
    engine.submit(req(OrderType.LIMIT, limit="90.00", coid="gtc", tif=TimeInForce.GTC))

    engine.expire_day_orders()

    assert trail(events)[2:] == [("day", "expired", "day order expired")]
    assert [o.request.client_order_id for o in engine.open_orders()] == ["gtc"]
