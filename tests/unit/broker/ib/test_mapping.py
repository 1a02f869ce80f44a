"""Pure mapping from ib_async's objects to ours: times, trailing stops, quantities."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from ib_async import Order, OrderStatus, Stock, Trade, TradeLogEntry

from stocks_api.broker.ib.mapping import execution_time, executions_since, status_update
from stocks_api.broker.protocol import BrokerOrderStatus

REPORTED = datetime(2026, 11, 24, 15, 30, 7, tzinfo=UTC)  # IB's times have whole seconds
AT = datetime(2026, 11, 24, 15, 30, 7, 400_000, tzinfo=UTC)


def test_an_execution_arriving_within_its_second_takes_the_arrival_time() -> None:
    assert execution_time(REPORTED, REPORTED + timedelta(milliseconds=350)) == REPORTED + timedelta(
        milliseconds=350
    )
    assert execution_time(REPORTED, REPORTED) == REPORTED


def test_a_replayed_or_odd_execution_keeps_ibs_time() -> None:
    assert execution_time(REPORTED, REPORTED + timedelta(seconds=1)) == REPORTED  # replayed
    assert execution_time(REPORTED, REPORTED + timedelta(hours=3)) == REPORTED
    assert execution_time(REPORTED, REPORTED - timedelta(milliseconds=1)) == REPORTED  # skew
    assert execution_time(REPORTED, None) == REPORTED


def _trade(status: str, *, order_type: str = "LMT", **order: object) -> Trade:
    ib_order = Order(
        orderId=7, orderRef="ours-1", orderType=order_type, totalQuantity=100.0, **order
    )
    return Trade(
        contract=Stock("AAPL", "SMART", "USD"),
        order=ib_order,
        orderStatus=OrderStatus(orderId=7, status=status, filled=0.0, remaining=100.0),
        fills=[],
        log=[],
    )


def test_a_working_order_reports_ibs_quantity_unless_we_are_changing_it() -> None:
    trade = _trade("Submitted")
    trade.order.totalQuantity = 60.0  # IB reduced it (a bracket sibling filled in part)
    update = status_update(trade, AT)
    assert update is not None
    assert (update.status, update.qty, update.stop_price) == (
        BrokerOrderStatus.SUBMITTED,
        Decimal(60),
        None,
    )
    changing = status_update(trade, AT, changing=True)
    assert changing is not None
    assert changing.qty is None  # IB's figure may predate our change


def test_a_trailing_stop_reports_its_level_only_once_ib_has_set_it() -> None:
    trail = _trade("Submitted", order_type="TRAIL", auxPrice=1.0, trailStopPrice=189.0)
    update = status_update(trail, AT)
    assert update is not None
    assert update.stop_price == Decimal(189)
    unset = _trade("Submitted", order_type="TRAIL", auxPrice=1.0)  # trailStopPrice unset
    assert status_update(unset, AT).stop_price is None  # type: ignore[union-attr]
    limit = _trade("Submitted", trailStopPrice=189.0)  # not a trailing order
    assert status_update(limit, AT).stop_price is None  # type: ignore[union-attr]


def test_a_cancellation_keeps_ibs_reason_and_an_error_is_a_rejection() -> None:
    cancelled = _trade("Cancelled")
    cancelled.log.append(
        TradeLogEntry(AT, "Cancelled", "Error 202, reqId 7: Order Canceled - reason:OCA", 202)
    )
    update = status_update(cancelled, AT)
    assert update is not None
    assert update.status is BrokerOrderStatus.CANCELLED
    assert update.reason is not None
    assert update.reason.endswith("reason:OCA")
    rejected = _trade("Cancelled")
    rejected.log.append(TradeLogEntry(AT, "Cancelled", "Error 201: no margin", 201))
    assert status_update(rejected, AT).status is BrokerOrderStatus.REJECTED  # type: ignore[union-attr]


def test_a_replay_asks_for_executions_since_a_minute_before_the_newest_known() -> None:
    assert executions_since(None).time == ""  # at start: every execution IB has
    assert executions_since(REPORTED).time == "20261124-15:29:07"
