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
