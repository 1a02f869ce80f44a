"""The live-trading guard judges accounts and ports."""

from __future__ import annotations

from decimal import Decimal

import pytest

from stocks_api.broker.guard import LiveTradingDisabledError, LiveTradingGuard
from stocks_api.broker.protocol import AccountType, BrokerAccount, ConnectionInfo


def _account(account_id: str) -> BrokerAccount:
    return BrokerAccount(account_id, AccountType.MARGIN, "USD", Decimal(0))


def _info(port: int | None) -> ConnectionInfo:
    return ConnectionInfo("ibkr", "127.0.0.1", port, "178", None)


def test_paper_account_on_a_paper_port_trades() -> None:
    guard = LiveTradingGuard.assess(accounts=[_account("DU1")], info=_info(4002), allow_live=False)
    assert not guard.is_live
    guard.check()


@pytest.mark.parametrize("port", [4001, 7496])
def test_a_live_port_is_live_even_with_a_paper_id(port: int) -> None:
    guard = LiveTradingGuard.assess(accounts=[_account("DU1")], info=_info(port), allow_live=False)
    assert guard.live_reasons == (f"port {port} is a live-trading port",)
    with pytest.raises(LiveTradingDisabledError) as caught:
        guard.check()
    assert caught.value.status_code == 403
    assert caught.value.code == "LIVE_TRADING_DISABLED"


def test_a_live_account_is_allowed_only_when_configured() -> None:
    accounts = [_account("DU1"), _account("U2")]
    guard = LiveTradingGuard.assess(accounts=accounts, info=_info(7497), allow_live=True)
    assert guard.is_live
    guard.check()  # explicitly allowed
