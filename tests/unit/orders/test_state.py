"""The order state machine."""

from __future__ import annotations

import pytest

from stocks_api.orders.state import (
    OPEN,
    TERMINAL,
    TRANSITIONS,
    OrderStatus,
    can_transition,
)

S = OrderStatus


def test_every_status_has_a_rule_and_terminal_states_are_final() -> None:
    assert set(TRANSITIONS) == set(S)
    for status in TERMINAL:
        assert TRANSITIONS[status] == frozenset()
    # An unsent order is neither open (it works nowhere) nor final (a retry sends it).
    assert set(S) == OPEN | TERMINAL | {S.UNSENT}
    assert not OPEN & TERMINAL
    assert S.UNSENT not in OPEN | TERMINAL


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (S.PENDING_SUBMIT, S.SUBMITTED),
        (S.SUBMITTED, S.PARTIALLY_FILLED),
        (S.PARTIALLY_FILLED, S.PARTIALLY_FILLED),
        (S.PARTIALLY_FILLED, S.FILLED),
        (S.SUBMITTED, S.PENDING_CANCEL),
        (S.PENDING_CANCEL, S.FILLED),
        (S.PENDING_CANCEL, S.CANCELLED),
        (S.SUBMITTED, S.EXPIRED),
        (S.PENDING_SUBMIT, S.REJECTED),
        (S.PENDING_SUBMIT, S.UNSENT),
        (S.UNSENT, S.PENDING_SUBMIT),
        (S.UNSENT, S.CANCELLED),
        (S.UNSENT, S.REJECTED),
    ],
)
def test_legal_steps(current: OrderStatus, target: OrderStatus) -> None:
    assert can_transition(current, target)


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (S.FILLED, S.CANCELLED),
        (S.CANCELLED, S.FILLED),
        (S.REJECTED, S.SUBMITTED),
        (S.EXPIRED, S.SUBMITTED),
        (S.SUBMITTED, S.PENDING_SUBMIT),
        (S.PARTIALLY_FILLED, S.SUBMITTED),
        (S.PARTIALLY_FILLED, S.REJECTED),
        (S.SUBMITTED, S.SUBMITTED),
        (S.SUBMITTED, S.UNSENT),
        (S.UNSENT, S.SUBMITTED),
        (S.UNSENT, S.FILLED),
    ],
)
def test_illegal_steps(current: OrderStatus, target: OrderStatus) -> None:
    assert not can_transition(current, target)
