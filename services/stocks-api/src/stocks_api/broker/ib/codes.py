"""What IB and ib_async say about orders and the link, as codes and statuses the adapter reads."""

from __future__ import annotations

# Statuses ib_async gives an order before IB has answered a request about it.
AWAITING_IB = frozenset({"PendingSubmit", "ApiPending", "PendingCancel"})
ORDER_CANCELLED_CODE = 202  # IB's "Order Canceled", which follows a real cancellation
VALIDATION_ERROR = "ValidationError"  # ib_async's status after IB's warning on a live order
# The warnings that refuse a change: 105 (does not match the original order), 110 (a price
# off the minimum price variation), 321 (the request failed validation: ib_async keeps the
# order live on it, "if the message is the result of a MODIFY, the order is still live"),
# 329 (cannot change to the new order type).
REFUSED_CHANGE_WARNINGS = frozenset({105, 110, 321, 329})
IB_LOST = 1100  # "Connectivity between IB and Trader Workstation has been lost."
IB_RESTORED_DATA_LOST = 1101  # "...restored- data lost." (subscriptions must be made again)
IB_RESTORED = 1102  # "...restored- data maintained."
