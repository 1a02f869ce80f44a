"""Orders from gateway-sim's clients into the matching engine.

placeOrder places an order, or modifies it when the client used its order id already;
orders sent with transmit=False wait (bracket parts) until the last part transmits the
bracket; cancelOrder and reqGlobalCancel cancel. A failure is answered on the client's
connection as IB answers it (error, then orderStatus). The faults that bite on the way in
are applied here: an outage loses the request, and the next order may be rejected, lost,
or muted (it trades, but its client hears nothing). What the engine then does with an
order comes back as its events (`engine_events.py`).
"""

from __future__ import annotations

import contextlib
from typing import Protocol

import structlog

from stocks_api.broker.gateway import encoders
from stocks_api.broker.gateway.books import FINISHED, Books
from stocks_api.broker.gateway.codes import (
    CANNOT_CANCEL,
    CANNOT_MODIFY_FILLED,
    NO_SECURITY_DEFINITION,
    NO_SECURITY_DEFINITION_TEXT,
    ORDER_NOT_FOUND,
    ORDER_REJECTED,
    PRICE_VARIATION,
    PRICE_VARIATION_TEXT,
)
from stocks_api.broker.gateway.faults import Faults
from stocks_api.broker.gateway.model import IbContract, IbOrder
from stocks_api.broker.gateway.order_terms import engine_request, off_tick, unsupported
from stocks_api.broker.gateway.requests import PlaceOrder
from stocks_api.broker.gateway.session import Session
from stocks_api.broker.protocol import BrokerError, OrderChange
from stocks_api.broker.sim.broker import SimBroker

log = structlog.get_logger(__name__)


class ContractLookup(Protocol):
    """Where an order's contract is found (the gateway's contract lookups)."""

    def contract(self, symbol: str) -> IbContract | None: ...

    def contract_by_con_id(self, con_id: int) -> IbContract | None: ...


class OrderEntry:
    """Places, modifies and cancels the clients' orders; see the module docstring.

    One per engine: a restart that reloads the state file makes a new one with the new
    engine and books.
    """

    def __init__(
        self,
        books: Books,
        broker: SimBroker,
        faults: Faults,
        contracts: ContractLookup,
        *,
        account: str,
    ) -> None:
        self._books = books
        self._broker = broker
        self._faults = faults
        self._contracts = contracts
        self._account = account

    async def place(self, session: Session, request: PlaceOrder) -> None:
        """Place (or, for a known order id, modify) an order of `session`."""
        assert session.client_id is not None
        books = self._books
        books.note_order_id(session.client_id, request.order_id)
        faults = self._faults
        if faults.outage:
            log.info("gateway_order_lost_in_outage", client_id=session.client_id)
            return
        key = books.by_client.get((session.client_id, request.order_id))
        if key is not None:
            await self._modify(session, books.orders[key], request)
            return
        contracts = self._contracts
        contract = contracts.contract(request.contract.symbol) if request.contract.symbol else None
        if contract is None and request.contract.con_id:
            contract = contracts.contract_by_con_id(request.contract.con_id)
        if contract is None:
            session.error(request.order_id, NO_SECURITY_DEFINITION, NO_SECURITY_DEFINITION_TEXT)
            return
        if faults.reject_next is not None:
            code, message = faults.reject_next
            faults.reject_next = None
            session.error(request.order_id, code, message)
            return
        if faults.lose_next > 0:
            faults.lose_next -= 1
            log.info("gateway_order_lost", client_id=session.client_id, order_id=request.order_id)
            return
        muted = faults.mute_next > 0
        faults.mute_next -= muted
        order = IbOrder(
            order_id=request.order_id,
            client_id=session.client_id,
            perm_id=books.new_perm_id(),
            contract=contract,
            action=request.action,
            total_qty=request.total_qty,
            order_type=request.order_type,
            account=request.account or self._account,
            order_ref=request.order_ref,
            lmt_price=request.lmt_price,
            aux_price=request.aux_price,
            tif=request.tif,
            oca_group=request.oca_group,
            parent_id=request.parent_id,
            outside_rth=request.outside_rth,
            transmit=request.transmit,
            trailing_percent=request.trailing_percent,
            trail_stop_price=request.trail_stop_price,
        )
        if muted:
            books.muted.add(f"gw{order.perm_id}")
        problem = unsupported(order)
        if problem:
            session.error(order.order_id, ORDER_REJECTED, f"Order rejected - reason:{problem}")
            return
        if self._refused_off_tick(session, order.order_id, order.order_type, request):
            return  # as IB: error 110, and the order is not placed
        if not request.transmit:
            books.held[(session.client_id, order.order_id)] = order
            return
        parent_key = (session.client_id, order.parent_id)
        if order.parent_id and parent_key in books.held:
            await self._place_bracket(session, books.held.pop(parent_key), order)
        else:
            await self._submit(session, [order])

    async def _place_bracket(self, session: Session, parent: IbOrder, last: IbOrder) -> None:
        assert session.client_id is not None
        held = self._books.held
        siblings = [
            held.pop(key)
            for key, waiting in list(held.items())
            if key[0] == session.client_id and waiting.parent_id == parent.order_id
        ]
        await self._submit(session, [parent, *siblings, last], bracket=True)

    async def _submit(
        self, session: Session, orders: list[IbOrder], *, bracket: bool = False
    ) -> None:
        books = self._books
        for i, order in enumerate(orders):
            if bracket and i:
                order.bracket_parent_perm_id = orders[0].perm_id
            books.add_order(order)
        requests = [
            engine_request(order, orders[0] if bracket and i else None)
            for i, order in enumerate(orders)
        ]
        try:
            if bracket:
                ids = await self._broker.place_bracket(requests[0], requests[1:])
            else:
                ids = [await self._broker.place_order(requests[0])]
        except BrokerError as exc:
            for order in orders:
                order.status = "Inactive"
                books.save_order(order)
                session.error(order.order_id, ORDER_REJECTED, f"Order rejected - reason:{exc}")
                session.send(encoders.order_status(order))
            return
        for order, broker_id in zip(orders, ids, strict=True):
            books.broker_ids[f"gw{order.perm_id}"] = broker_id

    async def _modify(self, session: Session, order: IbOrder, request: PlaceOrder) -> None:
        if order.status in FINISHED:
            session.error(order.order_id, CANNOT_MODIFY_FILLED, "Cannot modify a filled order.")
            return
        if self._refused_off_tick(session, order.order_id, order.order_type, request):
            return  # as IB: error 110, and the order works on unchanged
        change = OrderChange(
            qty=request.total_qty if request.total_qty != order.total_qty else None,
            limit_price=request.lmt_price if request.lmt_price != order.lmt_price else None,
            stop_price=request.aux_price
            if order.order_type in ("STP", "STP LMT") and request.aux_price != order.aux_price
            else None,
        )
        try:
            await self._broker.modify_order(self._books.broker_ids[f"gw{order.perm_id}"], change)
        except BrokerError as exc:
            session.error(order.order_id, ORDER_REJECTED, f"Order rejected - reason:{exc}")
            return
        order.total_qty = request.total_qty
        order.lmt_price = request.lmt_price
        order.aux_price = request.aux_price
        self._books.save_order(order)
        session.send(encoders.open_order(order, session.version))
        session.send(encoders.order_status(order))

    def _refused_off_tick(
        self, session: Session, order_id: int, order_type: str, request: PlaceOrder
    ) -> bool:
        """Answer IB's error 110 if a price of `request` is off the increment (`core.ticks`)."""
        problem = off_tick(
            order_type, request.lmt_price, request.aux_price, request.trailing_percent
        )
        if problem is None:
            return False
        log.info("gateway_price_off_tick", client_id=session.client_id, problem=problem)
        session.error(order_id, PRICE_VARIATION, PRICE_VARIATION_TEXT)
        return True

    async def cancel(self, session: Session, order_id: int) -> None:
        """Cancel an order of `session` (lost during an outage: IB cannot be reached)."""
        assert session.client_id is not None
        if self._faults.outage:
            log.info("gateway_cancel_lost_in_outage", client_id=session.client_id)
            return
        books = self._books
        held = books.held.pop((session.client_id, order_id), None)
        if held is not None:
            return
        key = books.by_client.get((session.client_id, order_id))
        if key is None or key not in books.broker_ids:
            session.error(order_id, ORDER_NOT_FOUND, f"Can't find order with id ={order_id}")
            return
        try:
            await self._broker.cancel_order(books.broker_ids[key])
        except BrokerError as exc:
            session.error(
                order_id,
                CANNOT_CANCEL,
                f"Cancel attempted when order is not in a cancellable state. {exc}",
            )

    async def cancel_all(self) -> None:
        """reqGlobalCancel: cancel every working order of every client (not in an outage)."""
        if self._faults.outage:
            return
        books = self._books
        for key, order in list(books.orders.items()):
            if order.status not in FINISHED and key in books.broker_ids:
                with contextlib.suppress(BrokerError):
                    await self._broker.cancel_order(books.broker_ids[key])
