"""SimBroker: the async BrokerClient over the matching engine."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from stocks_api.broker.protocol import (
    AccountType,
    BarInterval,
    BrokerAccount,
    BrokerClient,
    BrokerEvent,
    BrokerUnavailableError,
    Contract,
    Execution,
    OrderType,
    Side,
)
from stocks_api.broker.sim.broker import SimBroker
from stocks_api.broker.sim.settings import SimSettings
from stocks_api.core.calendar import build_calendar
from tests.unit.broker.sim.support import req, set_book

D = Decimal


def sim_settings(**overrides: object) -> SimSettings:
    values: dict[str, object] = {
        "seed": 7,
        "symbols": "AAPL,SPY",
        "fractional_symbols": "",
        "account_id": "DU7654321",
        "account_type": "cash",
        "starting_cash": D("25000"),
        "bar_history_days": 1,
    }
    return SimSettings(**(values | overrides))  # type: ignore[arg-type]


async def connected(
    settings: SimSettings | None = None, **kwargs: object
) -> tuple[SimBroker, list[BrokerEvent]]:
    broker = SimBroker(settings or sim_settings(), tick=False, **kwargs)  # type: ignore[arg-type]
    events: list[BrokerEvent] = []
    await broker.connect(events.append)
    return broker, events


async def test_the_sim_broker_is_a_broker_client() -> None:
    broker = SimBroker(sim_settings(), tick=False)

    assert isinstance(broker, BrokerClient)
    assert not hasattr(broker, "is_tradable")


async def test_accounts_list_the_configured_paper_account() -> None:
    broker, _ = await connected()

    (account,) = await broker.accounts()

    assert account == BrokerAccount("DU7654321", AccountType.CASH, "USD", D("25000"))
    assert account.is_paper
    await broker.close()


async def test_calls_before_connect_are_refused() -> None:
    broker = SimBroker(sim_settings(), tick=False)

    with pytest.raises(BrokerUnavailableError):
        await broker.accounts()
    with pytest.raises(BrokerUnavailableError):
        await broker.contract("AAPL")


async def test_contract_reports_tick_and_quantity_steps() -> None:
    broker, _ = await connected(sim_settings(fractional_symbols="spy"))

    assert await broker.contract("AAPL") == Contract("AAPL", "USD", D("0.01"), D(1))
    assert await broker.contract("SPY") == Contract("SPY", "USD", D("0.01"), D("0.0001"))
    assert await broker.contract("ZZZZ") is None


async def test_executions_carry_the_account_id() -> None:
    broker, events = await connected()
    set_book(broker.engine)

    await broker.place_order(req())

    (fill,) = [e for e in events if isinstance(e, Execution)]
    assert fill.account_id == "DU7654321"


async def test_place_bracket_returns_the_ids_parent_first() -> None:
    broker, _ = await connected()
    set_book(broker.engine)
    parent = req(OrderType.LIMIT, limit="99.00", coid="p")
    child = req(OrderType.LIMIT, side=Side.SELL, limit="105", coid="c", parent="p", oca="g")

    ids = await broker.place_bracket(parent, [child])

    assert len(ids) == 2
    assert await broker.open_order_ids() == {"p", "c"}  # held children are open too
    await broker.cancel_order(ids[0])
    assert await broker.open_order_ids() == set()


async def test_get_bars_uses_the_configured_history() -> None:
    broker, _ = await connected()

    minutes = await broker.get_bars("AAPL", BarInterval.M1, limit=5000)
    (last_hour,) = await broker.get_bars("AAPL", BarInterval.H1, limit=1, end=minutes[-1].start)

    assert len(minutes) == 1440
    assert last_hour.start <= minutes[-1].start


async def test_the_calendar_reaches_the_engine() -> None:
    never_open = build_calendar(zone="UTC", open_at="00:00", close_at="00:01", weekdays="mon")
    broker, events = await connected(calendar=never_open)
    set_book(broker.engine)
    if never_open.is_regular_hours(datetime.now(UTC)):
        pytest.skip("the clock is inside the one-minute session")

    await broker.place_order(req())

    assert not [e for e in events if isinstance(e, Execution)]
