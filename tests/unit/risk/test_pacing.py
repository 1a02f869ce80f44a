"""The order pace: broker messages counted over the last second and minute."""

from __future__ import annotations

import time

from stocks_api.risk.pacing import OrderPace
from stocks_api.risk.schemas import IBKR_MESSAGES_PER_SECOND, MAX_ORDERS_PER_MINUTE


def test_a_new_pace_has_counted_nothing() -> None:
    pace = OrderPace()
    assert (pace.last_second(), pace.last_minute()) == (0, 0)


def test_each_record_counts_in_both_windows() -> None:
    pace = OrderPace()
    pace.record(1)
    assert (pace.last_second(), pace.last_minute()) == (1, 1)
    pace.record(1)
    assert (pace.last_second(), pace.last_minute()) == (2, 2)


def test_a_bracket_counts_its_three_messages() -> None:
    pace = OrderPace()
    pace.record(3)
    assert (pace.last_second(), pace.last_minute()) == (3, 3)
    pace.record(1)
    assert (pace.last_second(), pace.last_minute()) == (4, 4)


def test_paces_are_independent() -> None:
    first, second = OrderPace(), OrderPace()
    first.record(5)
    assert (second.last_second(), second.last_minute()) == (0, 0)


def test_the_second_never_counts_past_ibkrs_ceiling() -> None:
    pace = OrderPace()
    pace.record(IBKR_MESSAGES_PER_SECOND - 1)
    pace.record(3)  # only one more fits in the second
    assert pace.last_second() == IBKR_MESSAGES_PER_SECOND
    assert pace.last_minute() == IBKR_MESSAGES_PER_SECOND + 2
    pace.record(1)  # the second is full: recording still works and counts the minute
    assert pace.last_second() == IBKR_MESSAGES_PER_SECOND
    assert pace.last_minute() == IBKR_MESSAGES_PER_SECOND + 3


def test_the_minute_never_counts_past_its_ceiling() -> None:
    pace = OrderPace()
    pace.record(MAX_ORDERS_PER_MINUTE - 10)
    pace.record(100)
    assert pace.last_minute() == MAX_ORDERS_PER_MINUTE
    assert pace.last_second() == IBKR_MESSAGES_PER_SECOND
    pace.record(MAX_ORDERS_PER_MINUTE)
    assert (pace.last_second(), pace.last_minute()) == (
        IBKR_MESSAGES_PER_SECOND,
        MAX_ORDERS_PER_MINUTE,
    )


def test_the_second_window_moves_on_while_the_minute_keeps_counting() -> None:
    pace = OrderPace()
    pace.record(3)
    time.sleep(1.05)  # the only real wait in this file
    assert pace.last_second() == 0
    assert pace.last_minute() == 3
    pace.record(2)
    assert (pace.last_second(), pace.last_minute()) == (2, 5)
