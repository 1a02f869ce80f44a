"""Errors of the order domain."""

from __future__ import annotations

from stocks_api.core.errors import ConflictError, NotFoundError, UnprocessableError

# Refused at the risk gate (which owns these checks); named here too for the order domain.
from stocks_api.risk.exceptions import InvalidQuantityError, ShortSaleNotAllowedError

__all__ = [
    "IdempotencyConflictError",
    "InvalidModificationError",
    "InvalidQuantityError",
    "OrderNotFoundError",
    "OrderNotOpenError",
    "ShortSaleNotAllowedError",
    "UnknownSymbolError",
]


class OrderNotFoundError(NotFoundError):
    code = "ORDER_NOT_FOUND"

    def __init__(self, key: str) -> None:
        super().__init__(f"order {key} not found")


class OrderNotOpenError(ConflictError):
    code = "ORDER_NOT_OPEN"

    def __init__(self, order_id: int, status: str) -> None:
        super().__init__(f"order {order_id} is {status}; only open orders can change")


class IdempotencyConflictError(ConflictError):
    code = "IDEMPOTENCY_CONFLICT"

    def __init__(self, client_order_id: str) -> None:
        super().__init__(
            f"client_order_id {client_order_id!r} was already used for a different order"
        )


class UnknownSymbolError(UnprocessableError):
    code = "UNKNOWN_SYMBOL"

    def __init__(self, symbol: str) -> None:
        super().__init__(
            f"symbol {symbol!r} is not tradable at the broker",
            details=[
                {"loc": ["body", "symbol"], "msg": "unknown symbol", "type": "unknown_symbol"}
            ],
        )


class InvalidModificationError(UnprocessableError):
    code = "INVALID_MODIFICATION"
