"""Errors of the order domain."""

from __future__ import annotations

from stocks_api.core.errors import ConflictError, NotFoundError, UnprocessableError


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


class InvalidQuantityError(UnprocessableError):
    code = "INVALID_QUANTITY"

    def __init__(self, message: str) -> None:
        super().__init__(
            message, details=[{"loc": ["body", "qty"], "msg": message, "type": "qty_increment"}]
        )


class ShortSaleNotAllowedError(UnprocessableError):
    code = "SHORT_SALE_NOT_ALLOWED"

    def __init__(self, symbol: str, available: object) -> None:
        super().__init__(
            f"a cash account cannot sell short: {available} {symbol} available to sell",
            details=[{"loc": ["body", "qty"], "msg": "exceeds the shares held", "type": "short"}],
        )
