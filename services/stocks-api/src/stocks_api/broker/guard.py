"""The live-trading guard: paper by default, live only when explicitly allowed.

The broker is live when any account it manages is not a paper account (IBKR paper ids
start with DU) or when the connection targets a live port (4001 for IB Gateway, 7496 for
TWS). Then placing and modifying orders is refused unless `ALLOW_LIVE_TRADING=true`;
cancelling stays allowed, so a live order can always be pulled.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from stocks_api.broker.protocol import BrokerAccount, ConnectionInfo
from stocks_api.core.errors import AppError


class LiveTradingDisabledError(AppError):
    status_code = 403
    code = "LIVE_TRADING_DISABLED"

    def __init__(self, reasons: Sequence[str]) -> None:
        super().__init__(
            "the broker is live ("
            + "; ".join(reasons)
            + "); set ALLOW_LIVE_TRADING=true to trade real money",
            details=[{"reason": reason} for reason in reasons],
        )


@dataclass(frozen=True, slots=True)
class LiveTradingGuard:
    """Whether the broker is live, why, and whether that is allowed."""

    live_reasons: tuple[str, ...]
    allow_live: bool

    @classmethod
    def assess(
        cls, *, accounts: Sequence[BrokerAccount], info: ConnectionInfo, allow_live: bool
    ) -> LiveTradingGuard:
        """Judge the broker from its accounts and its connection."""
        reasons = [
            f"account {a.account_id} is not a paper account" for a in accounts if not a.is_paper
        ]
        if info.on_live_port:
            reasons.append(f"port {info.port} is a live-trading port")
        return cls(tuple(reasons), allow_live)

    @property
    def is_live(self) -> bool:
        """Whether orders would trade real money."""
        return bool(self.live_reasons)

    def check(self) -> None:
        """Refuse to send or change an order to a live broker unless allowed."""
        if self.is_live and not self.allow_live:
            raise LiveTradingDisabledError(self.live_reasons)
