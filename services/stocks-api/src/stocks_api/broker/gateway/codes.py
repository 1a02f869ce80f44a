"""IB's message codes and texts that gateway-sim answers with, in one place.

The session (pacing), the request handlers, the order entry and the fault injection all
send them; the numbers and wording are IB's own, so clients react to them as to IB.
"""

from __future__ import annotations

# Errors about a request or an order.
NO_SECURITY_DEFINITION = 200
NO_SECURITY_DEFINITION_TEXT = "No security definition has been found for the request"
ORDER_REJECTED = 201
PRICE_VARIATION = 110  # a price off the contract's minimum price variation (core.ticks)
PRICE_VARIATION_TEXT = (
    "The price does not conform to the minimum price variation for this contract."
)
ORDER_CANCELLED = 202
CLIENT_ID_IN_USE = 326
CANNOT_MODIFY_FILLED = 104
ORDER_NOT_FOUND = 135  # "Can't find order with id ="
CANNOT_CANCEL = 161  # "Cancel attempted when order is not in a cancellable state."
NOT_CONNECTED = 504
MAX_RATE_EXCEEDED = 100
EXECUTION_FILTER_ERROR = 321  # IB's "Error validating request"
HISTORICAL_DATA_ERROR = 162
VALIDATION_ERROR = 321  # "Error validating request": a modification refused, bad values
MAX_TICKERS = 101  # "Max number of tickers has been reached"
NO_MARKET_DATA_SUBSCRIPTION = 354  # "Requested market data is not subscribed."
DELAYED_DATA_SHOWN = 10167  # "...Displaying delayed market data." (a notice)
ORDER_MODIFY_MISMATCH = 105  # "Order being modified does not match original order"
CANNOT_CHANGE_ORDER_TYPE = 329  # "Order modify failed. Cannot change to the new order type."
CANCEL_NOT_FOUND = 10147  # "OrderId ... that needs to be cancelled is not found."
CANCEL_NOT_CANCELLABLE = 10148  # "OrderId ... that needs to be cancelled cannot be cancelled"
OUT_OF_DATE = 503  # "The TWS is out of date and must be upgraded." (a newer request)
NOT_ALLOWED = 10276  # "News feed is not allowed" (no news or WSH subscription)
FUNDAMENTALS_UNAVAILABLE = 430  # "...fundamentals data for the security ... is not available"
UNKNOWN_MESSAGE = 505  # "Fatal Error: Unknown message id."
BAD_MESSAGE = 320  # "Server error when reading an API client request."
UNSUPPORTED_VERSION = 530  # a client whose version range the gateway does not serve

# Connectivity between IB and the gateway (sent with request id -1).
IB_LOST = 1100
IB_RESTORED_DATA_LOST = 1101
IB_RESTORED = 1102
CONNECTIVITY_TEXTS = {
    IB_LOST: "Connectivity between IB and Trader Workstation has been lost.",
    IB_RESTORED_DATA_LOST: "Connectivity between IB and TWS has been restored- data lost.",
    IB_RESTORED: "Connectivity between IB and TWS has been restored- data maintained.",
}
