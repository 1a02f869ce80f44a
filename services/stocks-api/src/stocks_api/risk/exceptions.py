"""Errors of the risk domain."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from stocks_api.core.errors import UnprocessableError


class RiskRejectedError(UnprocessableError):
    """An order or a modification failed risk checks; `details` lists every failed check."""

    code = "RISK_REJECTED"

    def __init__(
        self, failures: Sequence[dict[str, Any]], *, order_id: int, what: str = "order"
    ) -> None:
        names = ", ".join(dict.fromkeys(str(f["check"]) for f in failures))
        super().__init__(
            f"the {what} failed risk checks: {names}",
            details=[{**failure, "order_id": order_id} for failure in failures],
        )
        self.order_id = order_id


class InvalidQuantityError(UnprocessableError):
    """A quantity the symbol does not trade in (a fraction of a whole-share symbol)."""

    code = "INVALID_QUANTITY"

    def __init__(self, message: str) -> None:
        super().__init__(
            message, details=[{"loc": ["body", "qty"], "msg": message, "type": "qty_increment"}]
        )


class ShortSaleNotAllowedError(UnprocessableError):
    """A cash account selling more than it holds and has not offered yet."""

    code = "SHORT_SALE_NOT_ALLOWED"

    def __init__(self, symbol: str, available: object) -> None:
        super().__init__(
            f"a cash account cannot sell short: {available} {symbol} available to sell",
            details=[{"loc": ["body", "qty"], "msg": "exceeds the shares held", "type": "short"}],
        )


class AlreadyAdmittedError(Exception):
    """An order with this client_order_id is admitted already (a concurrent duplicate).

    Not an answer of its own: the order path waits for that order's write and replays it.
    """

    def __init__(self, client_order_id: str) -> None:
        super().__init__(client_order_id)
        self.client_order_id = client_order_id
