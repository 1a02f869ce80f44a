"""Which trades IbkrBroker may forget: done at IB, every filled share passed on."""

from __future__ import annotations

from ib_async import IB, CommissionReport, Contract, Execution, Fill, Order, OrderStatus, Trade

from stocks_api.broker.ib.retention import FinishedTrades, finished


def _trade(order_id: int, status: str, filled: float = 0.0) -> Trade:
    order = Order(orderId=order_id, clientId=1, permId=1000 + order_id, orderRef=f"c{order_id}")
    return Trade(
        Contract(symbol="AAPL"), order, OrderStatus(orderId=order_id, status=status, filled=filled)
    )


def _fill(trade: Trade, exec_id: str, shares: float, *, reported: bool) -> Fill:
    execution = Execution(execId=exec_id, orderId=trade.order.orderId, shares=shares)
    report = CommissionReport(execId=exec_id if reported else "", commission=1.0)
    fill = Fill(trade.contract, execution, report, execution.time)
    trade.fills.append(fill)
    return fill


def test_a_working_order_is_not_finished() -> None:
    assert not finished(_trade(1, "Submitted"))


def test_filled_at_ib_is_finished_only_once_every_fill_has_its_commission() -> None:
    trade = _trade(1, "Filled", filled=10)
    assert not finished(trade)  # IB may report "Filled" before the execution itself
    _fill(trade, "e1", 4, reported=True)
    _fill(trade, "e2", 6, reported=False)  # execution seen, commission not yet
    assert not finished(trade)
    trade.fills[-1].commissionReport.execId = "e2"
    assert finished(trade)


def test_cancelled_with_a_partial_fill_is_finished_once_that_fill_is_passed_on() -> None:
    trade = _trade(1, "Cancelled", filled=3)
    assert not finished(trade)
    _fill(trade, "e1", 3, reported=True)
    assert finished(trade)
    assert finished(_trade(2, "Cancelled"))


def test_the_oldest_finished_trades_are_dropped_from_every_index() -> None:
    ib = IB()
    wrapper, ours = ib.wrapper, {}
    kept = FinishedTrades(ib, ours, kept=2, seconds=0)
    trades = []
    for order_id in (1, 2, 3):
        trade = _trade(order_id, "Filled", filled=1)
        fill = _fill(trade, f"e{order_id}", 1, reported=True)
        wrapper.trades[(1, order_id)] = trade
        wrapper.permId2Trade[trade.order.permId] = trade
        wrapper.fills[fill.execution.execId] = fill
        ours[str(order_id)] = trade
        trades.append(trade)
    working = _trade(4, "Submitted")
    wrapper.trades[(1, 4)] = working
    ours["4"] = working
    for trade in [*trades, working, trades[0]]:  # considered again: counted once
        kept.consider(trade)
    assert len(kept) == 2
    assert list(wrapper.trades) == [(1, 2), (1, 3), (1, 4)]
    assert list(wrapper.permId2Trade) == [1002, 1003]
    assert list(wrapper.fills) == ["e2", "e3"]
    assert list(ours) == ["2", "3", "4"]


def test_a_trade_finished_a_moment_ago_is_kept_beyond_the_count() -> None:
    """IB may report a fill just after a cancel: a young finished trade stays findable."""
    ib = IB()
    now = [100.0]
    ours: dict[str, Trade] = {}
    kept = FinishedTrades(ib, ours, kept=1, seconds=60, clock=lambda: now[0])
    first, second = _trade(1, "Cancelled"), _trade(2, "Cancelled")
    for trade in (first, second):
        ours[str(trade.order.orderId)] = trade
        ib.wrapper.trades[(1, trade.order.orderId)] = trade
    kept.consider(first)
    now[0] = 130.0
    kept.consider(second)
    assert len(kept) == 2  # the first finished 30 s ago: kept
    now[0] = 170.0
    third = _trade(3, "Cancelled")
    ours["3"] = third
    kept.consider(third)
    assert list(ours) == ["2", "3"]  # the first is 70 s old now: dropped
    assert list(ib.wrapper.trades) == [(1, 2)]
