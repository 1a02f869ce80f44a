"""Tests for the simulated matching engine."""

from __future__ import annotations

import pytest

from stocks_api.broker.protocol import (
    BrokerEvent,
    BrokerRejectedError,
    Execution,
    OrderChange,
    OrderRequest,
    OrderStatusUpdate,
    OrderType,
    Side,
    TimeInForce,
)
from stocks_api.broker.sim.commission import order_commission
from stocks_api.broker.sim.engine import MatchingEngine
from stocks_api.broker.sim.symbols import SymbolSpec, parse_symbols
from tests.unit.broker.sim.support import (
    T0,
    D,
    FakeClock,
    S,
    execs,
    kinds,
    make_engine,
    req,
    set_book,
    updates,
)

# -- order types ---------------------------------------------------------------------------


def test_market_buy_fills_at_ask_with_full_event_sequence() -> None:
    engine, events = make_engine()
    set_book(engine)
    volume_before = engine.quote("AAPL").volume

    oid = engine.submit(req(qty="100"))

    assert oid == "SIM-1"
    assert kinds(events) == ["submitted", "exec", "filled"]
    ack, fill, done = events
    assert isinstance(ack, OrderStatusUpdate)
    assert (ack.filled_qty, ack.remaining_qty, ack.payload["order_type"]) == (
        D(0),
        D(100),
        "market",
    )
    assert fill == Execution(
        exec_id="SIM-1.01",
        client_order_id="c-1",
        broker_order_id="SIM-1",
        account_id="DU0000001",
        symbol="AAPL",
        side=Side.BUY,
        qty=D(100),
        price=D("100.02"),
        commission=D("1.00"),
        ts=T0,
    )
    assert isinstance(done, OrderStatusUpdate)
    assert (done.filled_qty, done.remaining_qty, done.ts) == (D(100), D(0), T0)
    quote = engine.quote("AAPL")
    assert quote.last == D("100.02")
    assert quote.volume == volume_before + 100
    assert quote.ask_size == D(400)
    assert engine.open_orders() == []


def test_market_sell_hits_bid() -> None:
    engine, events = make_engine()
    set_book(engine, bid="99.98", ask="100.01")

    engine.submit(req(side=Side.SELL, qty="200"))

    (fill,) = execs(events)
    assert (fill.side, fill.qty, fill.price) == (Side.SELL, D(200), D("99.98"))
    assert engine.quote("AAPL").bid_size == D(300)


def test_marketable_limit_buy_fills_at_ask_with_price_improvement() -> None:
    engine, events = make_engine()
    set_book(engine, ask="100.02")

    engine.submit(req(OrderType.LIMIT, limit="100.10"))

    (fill,) = execs(events)
    assert fill.price == D("100.02")
    assert updates(events)[-1].status is S.FILLED


def test_marketable_limit_sell_fills_at_bid() -> None:
    engine, events = make_engine()
    set_book(engine, bid="100.00")

    engine.submit(req(OrderType.LIMIT, side=Side.SELL, limit="99.90"))

    assert [e.price for e in execs(events)] == [D("100.00")]


def test_limit_buy_rests_then_fills_on_a_later_tick() -> None:
    clock = FakeClock()
    engine, events = make_engine(clock=clock)
    limit = engine.quote("AAPL").bid  # below the ask, so not marketable now

    oid = engine.submit(req(OrderType.LIMIT, limit=str(limit)))

    assert kinds(events) == ["submitted"]
    assert [o.broker_order_id for o in engine.open_orders()] == [oid]
    for _ in range(3000):
        clock.advance(seconds=1)
        engine.tick()
        if execs(events):
            break
    fill = execs(events)[0]
    assert fill.price <= limit
    assert fill.price == engine.quote("AAPL").ask
    assert updates(events)[-1].status in {S.FILLED, S.PARTIALLY_FILLED}


def test_resting_limit_sell_fills_when_bid_reaches_limit() -> None:
    engine, events = make_engine()
    set_book(engine, bid="100.00", ask="100.02")
    engine.submit(req(OrderType.LIMIT, side=Side.SELL, limit="100.05"))
    set_book(engine, bid="100.04", ask="100.06")
    assert execs(events) == []

    set_book(engine, bid="100.07", ask="100.09")

    assert [(e.qty, e.price) for e in execs(events)] == [(D(100), D("100.07"))]


def test_stop_buy_triggers_when_last_reaches_stop_then_fills_at_market() -> None:
    engine, events = make_engine()
    set_book(engine, last="100.01")
    oid = engine.submit(req(OrderType.STOP, stop="100.50"))
    set_book(engine, bid="100.40", ask="100.42", last="100.49")
    assert kinds(events) == ["submitted"]
    assert engine.open_orders()[0].triggered is False

    set_book(engine, bid="100.50", ask="100.52", last="100.50")

    assert kinds(events) == ["submitted", "submitted", "exec", "filled"]
    assert updates(events)[1].reason == "stop triggered"
    assert execs(events)[0].price == D("100.52")
    assert engine.get_order(oid).triggered is True


def test_stop_sell_triggers_when_last_falls_to_stop() -> None:
    engine, events = make_engine()
    set_book(engine, last="100.01")
    engine.submit(req(OrderType.STOP, side=Side.SELL, stop="99.50"))
    set_book(engine, bid="99.60", ask="99.62", last="99.51")
    assert execs(events) == []

    set_book(engine, bid="99.40", ask="99.42", last="99.45")

    assert [(e.side, e.price) for e in execs(events)] == [(Side.SELL, D("99.40"))]


def test_stop_already_through_at_submit_triggers_immediately() -> None:
    engine, events = make_engine()
    set_book(engine, last="100.01")

    engine.submit(req(OrderType.STOP, stop="100.00"))

    assert kinds(events) == ["submitted", "submitted", "exec", "filled"]


def test_stop_triggers_from_the_moving_market() -> None:
    clock = FakeClock()
    engine, events = make_engine(clock=clock)
    stop = engine.quote("AAPL").last + D("0.05")
    engine.submit(req(OrderType.STOP, stop=str(stop)))

    for _ in range(3000):
        clock.advance(seconds=1)
        engine.tick()
        if execs(events):
            break

    triggered = [u for u in updates(events) if u.reason == "stop triggered"]
    assert len(triggered) == 1
    assert D(triggered[0].payload["last"]) >= stop


def test_stop_limit_triggers_then_behaves_as_limit() -> None:
    engine, events = make_engine()
    set_book(engine, last="100.00")
    oid = engine.submit(req(OrderType.STOP_LIMIT, stop="100.50", limit="100.55"))

    set_book(engine, bid="100.58", ask="100.60", last="100.50")

    assert execs(events) == []
    (working,) = engine.open_orders()
    assert working.triggered is True
    assert working.status is S.SUBMITTED

    set_book(engine, bid="100.52", ask="100.54", last="100.53")

    assert [e.price for e in execs(events)] == [D("100.54")]
    assert engine.get_order(oid).status is S.FILLED


def test_untriggered_stop_limit_does_not_fill_even_if_limit_is_marketable() -> None:
    engine, events = make_engine()
    set_book(engine, last="100.00")

    engine.submit(req(OrderType.STOP_LIMIT, stop="101.00", limit="105.00"))

    assert execs(events) == []
    assert engine.open_orders()[0].triggered is False


# -- time in force --------------------------------------------------------------------------


def test_day_order_rests_and_expires() -> None:
    engine, events = make_engine()
    set_book(engine)
    oid = engine.submit(req(OrderType.LIMIT, limit="90.00", tif=TimeInForce.DAY))

    engine.expire_day_orders()

    assert kinds(events) == ["submitted", "expired"]
    assert updates(events)[-1].remaining_qty == D(100)
    assert engine.open_orders() == []
    with pytest.raises(BrokerRejectedError, match="expired"):
        engine.cancel(oid)


def test_gtc_order_survives_expire_day_orders() -> None:
    engine, events = make_engine()
    set_book(engine)
    gtc = engine.submit(req(OrderType.LIMIT, limit="90.00", tif=TimeInForce.GTC, coid="g"))
    engine.submit(req(OrderType.LIMIT, limit="90.00", tif=TimeInForce.DAY, coid="d"))

    engine.expire_day_orders()

    assert [o.broker_order_id for o in engine.open_orders()] == [gtc]
    assert [(u.client_order_id, u.status) for u in updates(events)][-1] == ("d", S.EXPIRED)


def test_ioc_fills_what_is_available_and_cancels_the_rest() -> None:
    engine, events = make_engine()
    set_book(engine, size="300")

    oid = engine.submit(req(OrderType.LIMIT, qty="500", limit="101.00", tif=TimeInForce.IOC))

    assert kinds(events) == ["submitted", "exec", "partially_filled", "cancelled"]
    assert execs(events)[0].qty == D(300)
    last = updates(events)[-1]
    assert (last.reason, last.filled_qty, last.remaining_qty) == (
        "IOC remainder cancelled",
        D(300),
        D(200),
    )
    assert engine.open_orders() == []
    assert engine.get_order(oid).status is S.CANCELLED


def test_ioc_market_order_remainder_cancelled() -> None:
    engine, events = make_engine()
    set_book(engine, size="100")

    engine.submit(req(qty="250", tif=TimeInForce.IOC))

    assert kinds(events) == ["submitted", "exec", "partially_filled", "cancelled"]


def test_non_marketable_ioc_is_cancelled_at_once() -> None:
    engine, events = make_engine()
    set_book(engine)

    engine.submit(req(OrderType.LIMIT, limit="99.00", tif=TimeInForce.IOC))

    assert kinds(events) == ["submitted", "cancelled"]
    assert updates(events)[-1].reason == "IOC remainder cancelled"
    engine.tick()
    assert len(events) == 2


# -- partial fills and liquidity ------------------------------------------------------------


def test_large_market_order_fills_in_several_executions_over_ticks() -> None:
    engine, events = make_engine()

    oid = engine.submit(req(qty="2500"))
    for _ in range(50):
        if not engine.open_orders():
            break
        engine.tick()

    fills = execs(events)
    assert len(fills) >= 3  # at most 1000 shares are displayed per tick
    assert sum(f.qty for f in fills) == D(2500)
    assert [f.exec_id for f in fills] == [f"SIM-1.{k:02d}" for k in range(1, len(fills) + 1)]
    progress = [u for u in updates(events) if u.status in {S.PARTIALLY_FILLED, S.FILLED}]
    assert [u.status for u in progress] == [S.PARTIALLY_FILLED] * (len(fills) - 1) + [S.FILLED]
    assert [u.filled_qty for u in progress] == [
        sum(f.qty for f in fills[: k + 1]) for k in range(len(fills))
    ]
    value = sum(f.qty * f.price for f in fills)
    order = engine.get_order(oid)
    assert order.avg_fill_price == value / D(2500)
    assert (
        sum(f.commission for f in fills) == order.commission == order_commission(D(2500), D(value))
    )


def test_displayed_size_is_shared_within_a_tick() -> None:
    clock = FakeClock()
    engine, events = make_engine(clock=clock)
    set_book(engine, size="300")

    engine.submit(req(qty="200", coid="a"))
    second = engine.submit(req(qty="200", coid="b"))

    assert [(e.client_order_id, e.qty) for e in execs(events)] == [("a", D(200)), ("b", D(100))]
    assert engine.quote("AAPL").ask_size == D(0)
    third = engine.submit(req(qty="100", coid="c"))
    assert len(execs(events)) == 2  # nothing left at the touch for "c"
    while engine.get_order(third).status is not S.FILLED:  # ticks refresh the displayed size
        clock.advance(seconds=1)
        engine.tick()
    assert engine.get_order(second).status is S.FILLED
    assert engine.get_order(third).status is S.FILLED
    assert [e.client_order_id for e in execs(events)][2:] == ["b", "c"]  # time priority


def test_fills_on_both_sides_do_not_share_liquidity() -> None:
    engine, events = make_engine()
    set_book(engine, size="100")

    engine.submit(req(qty="100", coid="buy"))
    engine.submit(req(side=Side.SELL, qty="100", coid="sell"))

    assert [e.qty for e in execs(events)] == [D(100), D(100)]


# -- commissions on fills -------------------------------------------------------------------


def test_commission_minimum_per_share_and_cap_on_fills() -> None:
    engine, events = make_engine()
    set_book(engine, size="1000")
    engine.submit(req(qty="100"))
    engine.submit(req(qty="201"))
    set_book(engine, bid="0.49", ask="0.50", size="1000")
    engine.submit(req(qty="100"))

    assert [e.commission for e in execs(events)] == [D("1.00"), D("1.005"), D("0.50")]


def test_partial_fill_commissions_charge_minimum_once() -> None:
    engine, events = make_engine()
    set_book(engine, size="100")
    engine.submit(req(qty="201"))
    set_book(engine, size="101")

    assert [(e.qty, e.commission) for e in execs(events)] == [
        (D(100), D("1.00")),
        (D(101), D("0.005")),
    ]


# -- modify and cancel ----------------------------------------------------------------------


def test_modify_quantity_of_resting_order() -> None:
    engine, events = make_engine()
    set_book(engine)
    oid = engine.submit(req(OrderType.LIMIT, limit="99.00"))

    engine.modify(oid, OrderChange(qty=D(300)))

    update = updates(events)[-1]
    assert (update.status, update.reason, update.remaining_qty) == (S.SUBMITTED, "modified", D(300))
    assert update.payload == {"qty": "300", "remaining": "300"}
    assert engine.open_orders()[0].request.qty == D(300)
    assert engine.open_orders()[0].request.limit_price == D("99.00")


def test_modify_limit_through_the_market_fills() -> None:
    engine, events = make_engine()
    set_book(engine)
    oid = engine.submit(req(OrderType.LIMIT, limit="99.00"))

    engine.modify(oid, OrderChange(limit_price=D("100.05")))

    assert kinds(events) == ["submitted", "submitted", "exec", "filled"]
    assert updates(events)[1].payload["limit_price"] == "100.05"
    assert execs(events)[0].price == D("100.02")


def test_modify_partially_filled_order_reports_its_status() -> None:
    engine, events = make_engine()
    set_book(engine, size="100")
    oid = engine.submit(req(OrderType.LIMIT, qty="300", limit="100.02"))
    set_book(engine, ask="100.03", size="100")

    engine.modify(oid, OrderChange(qty=D(150)))

    update = updates(events)[-1]
    assert (update.status, update.filled_qty, update.remaining_qty) == (
        S.PARTIALLY_FILLED,
        D(100),
        D(50),
    )


def test_modify_stop_price_can_trigger() -> None:
    engine, events = make_engine()
    set_book(engine, last="100.00")
    oid = engine.submit(req(OrderType.STOP, side=Side.SELL, stop="95.00"))

    engine.modify(oid, OrderChange(stop_price=D("100.00")))

    assert kinds(events) == ["submitted", "submitted", "submitted", "exec", "filled"]


@pytest.mark.parametrize(
    ("order", "change", "message"),
    [
        (req(OrderType.LIMIT, limit="99.00"), OrderChange(), "changes nothing"),
        (req(OrderType.LIMIT, limit="99.00"), OrderChange(qty=D(0)), "quantity"),
        (req(OrderType.LIMIT, qty="300", limit="100.02"), OrderChange(qty=D(100)), "quantity"),
        (req(OrderType.LIMIT, limit="99.00"), OrderChange(limit_price=D(-1)), "positive"),
        (req(OrderType.LIMIT, limit="99.00"), OrderChange(stop_price=D(98)), "stop_price"),
        (req(OrderType.STOP, stop="200.00"), OrderChange(limit_price=D(98)), "limit_price"),
        (req(OrderType.STOP, stop="200.00"), OrderChange(stop_price=D(0)), "positive"),
        (
            req(OrderType.STOP_LIMIT, stop="90.00", limit="99.00"),
            OrderChange(stop_price=D("95.00")),
            "triggered",
        ),
    ],
)
def test_invalid_modifications_are_rejected_without_events(
    order: OrderRequest, change: OrderChange, message: str
) -> None:
    engine, events = make_engine()
    set_book(engine, size="100", last="100.00")
    oid = engine.submit(order)
    before = list(events)
    snapshot = engine.get_order(oid)

    with pytest.raises(BrokerRejectedError, match=message):
        engine.modify(oid, change)

    assert events == before
    assert engine.get_order(oid) == snapshot


def test_modify_rejects_unknown_and_finished_orders() -> None:
    engine, events = make_engine()
    set_book(engine)
    filled = engine.submit(req())
    count = len(events)

    with pytest.raises(BrokerRejectedError, match="unknown order"):
        engine.modify("SIM-99", OrderChange(qty=D(5)))
    with pytest.raises(BrokerRejectedError, match="filled"):
        engine.modify(filled, OrderChange(qty=D(500)))
    assert len(events) == count


def test_cancel_working_order() -> None:
    engine, events = make_engine()
    set_book(engine, size="100")
    oid = engine.submit(req(OrderType.LIMIT, qty="300", limit="100.02", coid="x"))

    engine.cancel(oid)

    update = updates(events)[-1]
    assert (update.client_order_id, update.status, update.reason) == (
        "x",
        S.CANCELLED,
        "cancelled by request",
    )
    assert (update.filled_qty, update.remaining_qty) == (D(100), D(200))
    assert engine.open_orders() == []
    with pytest.raises(BrokerRejectedError, match="cancelled"):
        engine.cancel(oid)


def test_cancel_rejected_for_filled_and_unknown_orders() -> None:
    engine, events = make_engine()
    set_book(engine)
    oid = engine.submit(req())
    count = len(events)

    with pytest.raises(BrokerRejectedError, match="filled"):
        engine.cancel(oid)
    with pytest.raises(BrokerRejectedError, match="unknown order"):
        engine.cancel("nope")
    assert len(events) == count


# -- rejections -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("order", "message"),
    [
        (req(symbol="ZZZZ"), "unknown symbol"),
        (req(qty="0"), "quantity"),
        (req(qty="-5"), "quantity"),
        (req(qty="NaN"), "quantity"),
        (req(OrderType.LIMIT), "needs a limit_price"),
        (req(OrderType.STOP_LIMIT, stop="100"), "needs a limit_price"),
        (req(OrderType.STOP_LIMIT, limit="100"), "needs a stop_price"),
        (req(OrderType.STOP), "needs a stop_price"),
        (req(OrderType.MARKET, limit="100"), "limit_price is not allowed"),
        (req(OrderType.MARKET, stop="100"), "stop_price is not allowed"),
        (req(OrderType.LIMIT, limit="-1"), "positive"),
        (req(OrderType.STOP, stop="0"), "positive"),
        (req(OrderType.STOP, stop="100", tif=TimeInForce.IOC), "ioc"),
        (req(OrderType.STOP_LIMIT, stop="100", limit="100", tif=TimeInForce.IOC), "ioc"),
    ],
)
def test_bad_submissions_are_rejected_and_emit_nothing(order: OrderRequest, message: str) -> None:
    engine, events = make_engine()

    with pytest.raises(BrokerRejectedError, match=message):
        engine.submit(order)

    assert events == []
    assert engine.open_orders() == []
    set_book(engine)
    assert engine.submit(req()) == "SIM-1"  # rejected orders use up no id


def test_quote_for_unknown_symbol_is_rejected() -> None:
    engine, _ = make_engine()

    assert engine.symbols() == ["AAPL", "MSFT"]
    assert engine.has_symbol("MSFT")
    assert not engine.has_symbol("ZZZZ")
    with pytest.raises(BrokerRejectedError, match="unknown symbol"):
        engine.quote("ZZZZ")


def test_id_prefix_keeps_ids_apart() -> None:
    engine, events = make_engine(id_prefix="SIM7")
    set_book(engine)

    assert engine.submit(req()) == "SIM7-1"
    assert engine.submit(req()) == "SIM7-2"
    assert [e.exec_id for e in execs(events)] == ["SIM7-1.01", "SIM7-2.01"]


def test_set_quote_validates_its_input() -> None:
    engine, _ = make_engine()

    with pytest.raises(ValueError, match="multiples"):
        set_book(engine, bid="100.001")
    with pytest.raises(ValueError, match="bid < ask"):
        set_book(engine, bid="100.02", ask="100.02")


# -- market simulation ----------------------------------------------------------------------


def scripted_run(seed: int) -> tuple[list[BrokerEvent], list[object]]:
    engine, events = make_engine(seed=seed, symbols="AAPL,MSFT,SPY")
    quotes: list[object] = []
    aapl = engine.quote("AAPL")
    engine.submit(req(qty="1700", coid="m"))
    resting = engine.submit(req(OrderType.LIMIT, side=Side.SELL, limit=str(aapl.ask), coid="l"))
    engine.submit(req(OrderType.STOP, symbol="MSFT", stop="412.00", coid="s"))
    engine.submit(
        req(OrderType.LIMIT, symbol="SPY", qty="3000", limit="525.00", tif=TimeInForce.GTC)
    )
    for step in range(200):
        engine.tick()
        if step == 50 and engine.get_order(resting).status in {S.SUBMITTED, S.PARTIALLY_FILLED}:
            engine.modify(resting, OrderChange(qty=D(150)))
        if step == 100:
            engine.expire_day_orders()
        quotes.append([engine.quote(s) for s in engine.symbols()])
    return events, quotes


def test_same_seed_and_calls_give_identical_events_and_quotes() -> None:
    events_a, quotes_a = scripted_run(42)
    events_b, quotes_b = scripted_run(42)

    assert len(execs(events_a)) >= 3  # the script really trades
    assert events_a == events_b
    assert quotes_a == quotes_b


def test_different_seed_gives_different_market() -> None:
    _, quotes_a = scripted_run(42)
    _, quotes_c = scripted_run(43)

    assert quotes_a != quotes_c


def test_symbol_path_does_not_depend_on_other_symbols() -> None:
    clock = FakeClock()
    alone, _ = make_engine(seed=5, symbols="AAPL", clock=clock)
    crowd, _ = make_engine(seed=5, symbols="MSFT,SPY,AAPL,QQQ", clock=clock)

    path_alone, path_crowd = [], []
    for _ in range(200):
        clock.advance(seconds=1)
        alone.tick()
        crowd.tick()
        path_alone.append(alone.quote("AAPL"))
        path_crowd.append(crowd.quote("AAPL"))

    assert path_alone == path_crowd
    assert len({q.bid for q in path_alone}) > 10  # the price really moves


def test_prices_stay_positive_and_on_tick_over_many_ticks() -> None:
    spec = SymbolSpec("PENNY", D("0.05"), tick_size=D("0.01"), lot_size=D("100"))
    clock = FakeClock()
    engine = MatchingEngine(
        symbols=[spec, *parse_symbols("NVDA")],
        seed=3,
        on_event=lambda _: None,
        clock=clock,
        volatility=D("2"),  # 200 % a year: a wild market still stays on the grid
    )

    for _ in range(2000):
        clock.advance(seconds=97)
        engine.tick()
        for symbol in engine.symbols():
            q = engine.quote(symbol)
            assert D("0.01") <= q.bid < q.ask <= q.bid + D("0.03")
            for price in (q.bid, q.ask, q.last):
                assert price % D("0.01") == 0
                assert price > 0
            for size in (q.bid_size, q.ask_size):
                assert size % 100 == 0
                assert D(100) <= size <= D(1000)
            assert q.ts == clock.now


def test_every_execution_is_followed_by_its_status_update() -> None:
    events, _ = scripted_run(42)

    for index, event in enumerate(events):
        if isinstance(event, Execution):
            follower = events[index + 1]
            assert isinstance(follower, OrderStatusUpdate)
            assert follower.broker_order_id == event.broker_order_id
            assert follower.status in {S.PARTIALLY_FILLED, S.FILLED}
            filled = sum(
                e.qty
                for e in events[: index + 1]
                if isinstance(e, Execution) and e.broker_order_id == event.broker_order_id
            )
            assert follower.filled_qty == filled


def test_volume_grows_with_the_market_and_with_fills() -> None:
    clock = FakeClock()
    engine, _ = make_engine(clock=clock)
    start = engine.quote("AAPL").volume

    clock.advance(seconds=5)
    engine.tick()
    after_tick = engine.quote("AAPL").volume
    set_book(engine, size="500")
    engine.submit(req(qty="300"))

    assert after_tick > start
    assert engine.quote("AAPL").volume == after_tick + 300


def test_engine_rejects_empty_or_duplicate_symbols() -> None:
    with pytest.raises(ValueError, match="at least one"):
        MatchingEngine(symbols=[], seed=1, on_event=lambda _: None)
    with pytest.raises(ValueError, match="duplicate"):
        MatchingEngine(symbols=parse_symbols("AAPL") * 2, seed=1, on_event=lambda _: None)


def test_finished_orders_are_forgotten_after_a_while(monkeypatch: pytest.MonkeyPatch) -> None:
    from stocks_api.broker.sim import engine as engine_module

    monkeypatch.setattr(engine_module, "FINISHED_ORDERS_KEPT", 3)
    engine, _ = make_engine()
    ids = [engine.submit(req(qty="1", coid=f"c-{n}")) for n in range(5)]
    assert engine.get_order(ids[-1]).status is S.FILLED
    with pytest.raises(BrokerRejectedError):
        engine.get_order(ids[0])
    # Ids keep counting even though old orders are gone.
    assert engine.submit(req(qty="1", coid="c-6")).endswith("-6")


def test_a_symbols_own_volatility_wins_over_the_one_set_for_every_symbol() -> None:
    clock = FakeClock()
    engine, _ = make_engine(symbols="AAPL,TSLA::2", clock=clock, volatility=D("0"))
    seen: dict[str, set[D]] = {"AAPL": set(), "TSLA": set()}

    for _ in range(200):
        clock.advance(seconds=5)
        engine.tick()
        for symbol, prices in seen.items():
            prices.add(engine.quote(symbol).bid)

    # Flat, as SIM_VOLATILITY=0 says (the book may still sit a tick either way).
    assert max(seen["AAPL"]) - min(seen["AAPL"]) <= D("0.01")
    assert len(seen["TSLA"]) > 10  # its own 200 % a year
