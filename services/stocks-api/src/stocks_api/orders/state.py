"""The order status state machine: the only place that decides which transitions are legal."""

from __future__ import annotations

import enum


class OrderStatus(enum.StrEnum):
    # Written ahead, but provably never sent: the broker was unreachable before a byte
    # went out. Not final: a retry with the same client_order_id and body sends it.
    UNSENT = "unsent"
    PENDING_SUBMIT = "pending_submit"
    SUBMITTED = "submitted"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    PENDING_CANCEL = "pending_cancel"
    CANCELLED = "cancelled"
    REJECTED = "rejected"
    EXPIRED = "expired"


S = OrderStatus

TERMINAL: frozenset[OrderStatus] = frozenset({S.FILLED, S.CANCELLED, S.REJECTED, S.EXPIRED})
# Open: at the broker, or possibly so (pending_submit). An unsent order is neither open
# nor final: it works nowhere until a retry sends it.
OPEN: frozenset[OrderStatus] = frozenset(set(S) - TERMINAL - {S.UNSENT})

# A cancel asked for before the broker acknowledged the order is pending_cancel until the
# order is found at the broker (then cancelled there) or known never to have reached it.
# Fills may race a cancel request, so pending_cancel can still fill; a broker that
# refuses a cancel puts the order back to working. partially_filled -> partially_filled
# is legal: each further partial fill is a step of its own in the audit trail.
TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    S.UNSENT: frozenset({S.PENDING_SUBMIT, S.CANCELLED, S.REJECTED}),
    S.PENDING_SUBMIT: frozenset(
        {
            S.UNSENT,
            S.SUBMITTED,
            S.PARTIALLY_FILLED,
            S.FILLED,
            S.PENDING_CANCEL,
            S.CANCELLED,
            S.REJECTED,
        }
    ),
    S.SUBMITTED: frozenset(
        {S.PARTIALLY_FILLED, S.FILLED, S.PENDING_CANCEL, S.CANCELLED, S.REJECTED, S.EXPIRED}
    ),
    S.PARTIALLY_FILLED: frozenset(
        {S.PARTIALLY_FILLED, S.FILLED, S.PENDING_CANCEL, S.CANCELLED, S.EXPIRED}
    ),
    S.PENDING_CANCEL: frozenset(
        {S.SUBMITTED, S.PARTIALLY_FILLED, S.FILLED, S.CANCELLED, S.EXPIRED, S.REJECTED}
    ),
    S.FILLED: frozenset(),
    S.CANCELLED: frozenset(),
    S.REJECTED: frozenset(),
    S.EXPIRED: frozenset(),
}


def can_transition(current: OrderStatus, target: OrderStatus) -> bool:
    """Tell whether `current -> target` is a legal step."""
    return target in TRANSITIONS[current]
