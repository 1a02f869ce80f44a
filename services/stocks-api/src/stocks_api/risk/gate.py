"""The risk gate: the one entry point an order (or a modification) passes before it is written.

`admit` takes the proposed order and answers with a verdict: admitted (its open quantity
is then reserved in the book, so the next order is judged with it) or refused, with every
failed check. It owns the whole judgement: the quantity increment of the symbol, the
covered sale of a cash account, the price marks, the checks against the book in memory,
the order pace, and the circuit breaker when the verdict finds today's loss at the limit.
Admissions run one at a time (the engine's lock) and read no database: the book, the
trading state and the limits are in memory (`engine`, `book`).

`load` fills the book from the database when this process takes the broker up.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import structlog
from sqlalchemy import select

from stocks_api.broker.protocol import (
    AccountType,
    BrokerAccount,
    BrokerClient,
    Contract,
    Quote,
    Side,
)
from stocks_api.core import metrics
from stocks_api.core.errors import BrokerNotSentAppError
from stocks_api.portfolio.models import Account, Position
from stocks_api.risk import service as risk_service
from stocks_api.risk.book import OpenOrder
from stocks_api.risk.checks import (
    ZERO,
    Exposure,
    Failure,
    ProposedOrder,
    RiskContext,
    evaluate,
    loss_breached,
    trading_state_failures,
)
from stocks_api.risk.engine import RiskEngine
from stocks_api.risk.exceptions import (
    AlreadyAdmittedError,
    InvalidQuantityError,
    ShortSaleNotAllowedError,
)
from stocks_api.risk.schemas import TradingState

log = structlog.get_logger(__name__)

LOAD_ATTEMPTS = 5


@dataclass(slots=True)
class Admission:
    """The gate's verdict on one order, and what it reserved in the book if admitted."""

    verdict: risk_service.Assessment
    # (client_order_id, the book's entry before the reservation) of each reserved order
    reserved: list[tuple[str, OpenOrder | None]] = field(default_factory=list)

    @property
    def admitted(self) -> bool:
        return not self.verdict.failures

    @property
    def details(self) -> list[dict[str, Any]]:
        return self.verdict.details


async def admit(
    *,
    engine: RiskEngine,
    broker: BrokerClient,
    proposed: ProposedOrder,
    quote: Quote | None,
    contract: Contract | None,
    account: BrokerAccount | None,
    reserve: Sequence[tuple[str, OpenOrder]],
    timeout: float,
    replacing: str | None = None,
) -> Admission:
    """Judge `proposed`; if admitted, reserve `reserve` (client_order_id, open order) in the book.

    `replacing` is the client_order_id of the order a modification changes: the book is
    read without it (`proposed` is the order as the change would leave it), and its entry
    is replaced. Another id of `reserve` already in the book belongs to an order admitted
    before (a concurrent request with the same client_order_id): AlreadyAdmittedError,
    judged and counted once only.
    Raises InvalidQuantityError and ShortSaleNotAllowedError (422s of their own, not risk
    refusals), and BrokerUnavailable/Timeout errors when a price cannot be had.
    """
    if not engine.book.loaded:  # connected a moment ago: the book is being read
        raise BrokerNotSentAppError("the order path is starting; nothing was placed, retry")
    if contract is not None:
        check_qty_increment(contract, proposed.qty)
    _check_not_admitted(engine, reserve, replacing)
    account_id = None if account is None else account.account_id
    marks = await risk_service.prefetch_marks(
        engine=engine, broker=broker, quote=quote, timeout=timeout, account_id=account_id
    )
    book = engine.book
    async with engine.exclusive():
        _check_not_admitted(engine, reserve, replacing)  # again: the marks were awaited
        if account is not None and account.account_type is AccountType.CASH:
            # Under the lock: two sells of one holding are judged one after the other.
            _check_covered_sale(engine, account.account_id, proposed, replacing)
        exposure = await risk_service.expose(
            engine=engine,
            broker=broker,
            account_id=account_id,
            open_qty=lambda symbol: book.open_qty(symbol, exclude=replacing),
            open_symbols=book.open_symbols(),
            positions=book.positions(account_id),
            cash=book.cash(account_id),
            marks=marks,
            timeout=timeout,
            strict=True,
        )
        limits = engine.limits
        context = RiskContext(
            state=engine.state,
            holdings=exposure.holdings,
            net_liquidation=exposure.net_liquidation,
            daily_pnl=exposure.daily_pnl,
            orders_last_second=engine.pace.last_second(),
            orders_last_minute=engine.pace.last_minute(),
        )
        failures: list[Failure] = evaluate(proposed, context, limits)
        admission = Admission(
            risk_service.Assessment(failures, exposure, loss_breached(limits, exposure.daily_pnl))
        )
        if not failures:
            engine.pace.record(proposed.messages)
            for client_order_id, entry in reserve:
                admission.reserved.append((client_order_id, book.entry(client_order_id)))
                book.note_order(client_order_id, entry)
    for failure in failures:
        metrics.RISK_REJECTIONS.labels(check=failure.check.value).inc()
    if exposure.daily_pnl is not None:
        metrics.RISK_DAILY_PNL.set(float(exposure.daily_pnl))
    await risk_service.trip_if_loss_breached(engine=engine, verdict=admission.verdict)
    return admission


def _check_not_admitted(
    engine: RiskEngine, reserve: Sequence[tuple[str, OpenOrder]], replacing: str | None
) -> None:
    for client_order_id, _ in reserve:
        if client_order_id != replacing and engine.book.entry(client_order_id) is not None:
            raise AlreadyAdmittedError(client_order_id)


def release(engine: RiskEngine, admission: Admission) -> None:
    """Undo an admission's reservations: its rows were not written (or not changed)."""
    for client_order_id, before in reversed(admission.reserved):
        engine.book.restore(client_order_id, before)
    admission.reserved.clear()


def forget(admission: Admission) -> list[str]:
    """Drop an admission's reservations without undoing them; return their ids.

    For rows that another request wrote (a duplicate client_order_id): the caller reads
    them again instead (`orders.open_orders.resync`).
    """
    ids = [client_order_id for client_order_id, _ in admission.reserved]
    admission.reserved.clear()
    return ids


def may_send(
    engine: RiskEngine, proposed: ProposedOrder, *, client_order_id: str, account_id: str | None
) -> list[Failure]:
    """The trading-state check again, just before sending: a halt since admission stops it.

    Called after the write-ahead commit with nothing awaited before the broker call, so
    an order either sees the halt here or is on its way when the halt drains the sender.
    """
    if engine.state is TradingState.ACTIVE:
        return []
    book = engine.book
    pending = book.open_qty(proposed.symbol, exclude=client_order_id)
    holding = Exposure(
        qty=book.positions(account_id).get(proposed.symbol, ZERO),
        open_buy=pending.buy,
        open_sell=pending.sell,
    )
    return trading_state_failures(proposed, engine.state, holding)


def check_qty_increment(contract: Contract, qty: Decimal) -> None:
    """Refuse a quantity the symbol does not trade in (fractions of whole-share symbols)."""
    if qty % contract.qty_increment == 0:
        return
    if contract.fractional:
        message = f"{contract.symbol} trades in steps of {contract.qty_increment} shares"
    else:
        message = f"{contract.symbol} trades in whole shares only; {qty} has a fraction"
    raise InvalidQuantityError(message)


def _check_covered_sale(
    engine: RiskEngine, account_id: str, proposed: ProposedOrder, replacing: str | None
) -> None:
    """In a cash account, refuse a sell beyond the shares held and not yet offered."""
    if proposed.side is not Side.SELL:
        return
    held = engine.book.positions(account_id).get(proposed.symbol, ZERO)
    offered = engine.book.open_qty(proposed.symbol, exclude=replacing).sell
    available = held - offered
    if proposed.open_qty > available:
        raise ShortSaleNotAllowedError(proposed.symbol, max(available, ZERO))


async def load(engine: RiskEngine) -> None:
    """Fill the book from the database: open orders, every account's positions and cash.

    Reports that arrive while it reads (the consumer applying the broker's replay) would be
    lost under an older read: then it reads again.
    """
    book = engine.book
    for attempt in range(LOAD_ATTEMPTS):
        clock = book.clock
        async with engine.sessionmaker() as session:
            orders = list(await session.execute(engine.open_orders(keyed=True)))
            positions = list(
                await session.execute(
                    select(Position.account_id, Position.symbol, Position.qty).where(
                        Position.qty != 0
                    )
                )
            )
            cash = list(await session.execute(select(Account.account_id, Account.cash)))
        if book.clock != clock and attempt < LOAD_ATTEMPTS - 1:
            continue
        book.replace(
            (
                (
                    row.client_order_id,
                    OpenOrder.of(row.symbol, row.side, row.qty, row.filled_qty, row.oca_group),
                )
                for row in orders
            ),
            ((row.account_id, row.symbol, row.qty) for row in positions),
            {row.account_id: row.cash for row in cash},
        )
        log.info("risk_book_loaded", open_orders=len(orders), positions=len(positions))
        return


def unload(engine: RiskEngine) -> None:
    """This process gave the broker up: admit nothing until `load` runs again."""
    engine.book.loaded = False
