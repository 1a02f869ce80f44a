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
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime
from typing import Protocol

import structlog

from stocks_api.broker.gateway import encoders
from stocks_api.broker.gateway.account import WhatIf
from stocks_api.broker.gateway.books import FINISHED, Books, ib_time
from stocks_api.broker.gateway.codes import (
    CANCEL_NOT_CANCELLABLE,
    CANCEL_NOT_FOUND,
    CANNOT_CHANGE_ORDER_TYPE,
    CANNOT_MODIFY_FILLED,
    NO_SECURITY_DEFINITION,
    NO_SECURITY_DEFINITION_TEXT,
    ORDER_CANCELLED,
    ORDER_MODIFY_MISMATCH,
    ORDER_REJECTED,
    PRICE_VARIATION,
    PRICE_VARIATION_TEXT,
    VALIDATION_ERROR,
)
from stocks_api.broker.gateway.conditions import ConditionMarket, stored
from stocks_api.broker.gateway.conditions import met as conditions_met
from stocks_api.broker.gateway.conditions import problem as conditions_problem
from stocks_api.broker.gateway.faults import Faults
from stocks_api.broker.gateway.model import IbContract, IbOrder
from stocks_api.broker.gateway.order_terms import (
    TIFS,
    engine_request,
    off_tick,
    refused_terms,
    unsupported,
)
from stocks_api.broker.gateway.requests import PlaceOrder, parse_time
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
        what_if: Callable[[IbOrder], WhatIf],
        market: ConditionMarket,
        sessions: Mapping[int, Session],
    ) -> None:
        self._what_if = what_if
        self._market = market
        self._sessions = sessions
        self._books = books
        self._broker = broker
        self._faults = faults
        self._contracts = contracts
        self._account = account

    async def place(self, session: Session, request: PlaceOrder) -> None:
        """Place (or, for a known order id, modify) an order of `session`."""
        assert session.client_id is not None
        books = self._books
        if not request.what_if:
            books.note_order_id(session.client_id, request.order_id)
        faults = self._faults
        if faults.outage:
            log.info("gateway_order_lost_in_outage", client_id=session.client_id)
            return
        key = books.by_client.get((session.client_id, request.order_id))
        if key is not None and not request.what_if:
            await self._modify(session, books.orders[key], request)
            return
        contracts = self._contracts
        contract = contracts.contract(request.contract.symbol) if request.contract.symbol else None
        if contract is None and request.contract.con_id:
            contract = contracts.contract_by_con_id(request.contract.con_id)
        if contract is None:
            session.error(request.order_id, NO_SECURITY_DEFINITION, NO_SECURITY_DEFINITION_TEXT)
            return
        refused = refused_terms(request)
        if refused:
            session.error(request.order_id, ORDER_REJECTED, f"Order rejected - reason:{refused}")
            return
        if request.what_if:
            self._answer_what_if(session, request, contract)
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
        order = self._new_order(session.client_id, request, contract, books.new_perm_id())
        if muted:
            books.muted.add(f"gw{order.perm_id}")
        problem = unsupported(order)
        if problem:
            session.error(order.order_id, ORDER_REJECTED, f"Order rejected - reason:{problem}")
            return
        if self._refused_off_tick(session, order.order_id, order.order_type, request):
            return  # as IB: error 110, and the order is not placed
        if order.conditions or order.good_after_time:
            self._hold_for_conditions(session, order)
            return
        if not request.transmit:
            books.held[(session.client_id, order.order_id)] = order
            return
        parent_key = (session.client_id, order.parent_id)
        if order.parent_id and parent_key in books.held:
            await self._place_bracket(session, books.held.pop(parent_key), order)
        elif order.parent_id:
            # A child whose parent is not waiting to be transmitted with it: refused (IB
            # would attach it to a working parent; the engine takes brackets whole).
            known = parent_key in books.by_client
            why = "is already transmitted" if known else "is not known (refused, or never sent)"
            text = f"Order rejected - reason:parent order {order.parent_id} {why}"
            session.error(order.order_id, ORDER_REJECTED, text)
        else:
            await self._submit(session, [order])

    def _new_order(
        self, client_id: int, request: PlaceOrder, contract: IbContract, perm_id: int
    ) -> IbOrder:
        return IbOrder(
            order_id=request.order_id,
            client_id=client_id,
            perm_id=perm_id,
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
            oca_type=request.oca_type,
            good_till_date=request.good_till_date if request.tif == "GTD" else "",
            good_till=_good_till(request),
            conditions=stored(request.conditions),
            good_after_time=request.good_after_time,
            good_after=_good_after(request),
            conditions_ignore_rth=request.conditions_ignore_rth,
            conditions_cancel_order=request.conditions_cancel_order,
        )

    def _hold_for_conditions(self, session: Session, order: IbOrder) -> None:
        """Book an order to wait at the gateway (PreSubmitted) for its conditions and its
        goodAfterTime."""
        problem = None
        if order.parent_id or not order.transmit or order.oca_group:
            problem = "conditions or goodAfterTime on a bracket's order, an OCA group's or one"
            problem += " not transmitted are not simulated"
        elif order.good_after_time and order.good_after is None:
            problem = f"goodAfterTime {order.good_after_time!r} cannot be read"
            problem += " (YYYYMMDD HH:MM:SS [zone])"
        problem = problem or conditions_problem(order.conditions, self._market)
        if problem:
            session.error(order.order_id, ORDER_REJECTED, f"Order rejected - reason:{problem}")
            return
        order.waiting_for_conditions = True
        order.placed_at = self._market.now()
        order.status = "PreSubmitted"
        self._books.add_order(order)
        self._send_order(session, order)

    async def activate_conditional(self, now: datetime, *, regular_hours: bool) -> None:
        """Transmit (or cancel) the conditional orders whose conditions are met now."""
        books = self._books
        for order in list(books.orders.values()):
            if not order.waiting_for_conditions or order.status in FINISHED:
                continue
            if order.good_after is not None and now < order.good_after:
                continue
            if order.conditions and not self._conditions_hold(order, now, regular_hours):
                continue
            order.waiting_for_conditions = False
            session = self._sessions.get(order.client_id)
            if order.conditions and order.conditions_cancel_order:
                order.status = order.completed_status = "Cancelled"
                order.completed_time = ib_time(now)
                books.save_order(order)
                if session is not None:
                    text = "Order Canceled - reason:its conditions are met (conditionsCancelOrder)"
                    session.error(order.order_id, ORDER_CANCELLED, text)
                    self._send_order(session, order)
                continue
            log.info("gateway_conditions_met", client_id=order.client_id, order_id=order.order_id)
            await self._submit(session, [order])

    def _answer_what_if(self, session: Session, request: PlaceOrder, contract: IbContract) -> None:
        """A what-if order: checked as an order is, answered with its margin and commission
        impact in one openOrder (whatIf set, status PreSubmitted), and never placed."""
        assert session.client_id is not None
        order = self._new_order(session.client_id, request, contract, 0)
        problem = unsupported(order)
        if problem:
            session.error(order.order_id, ORDER_REJECTED, f"Order rejected - reason:{problem}")
            return
        if self._refused_off_tick(session, order.order_id, order.order_type, request):
            return
        order.status = "PreSubmitted"
        session.send(encoders.open_order(order, session.version, self._what_if(order)))

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
        self, session: Session | None, orders: list[IbOrder], *, bracket: bool = False
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
                if session is not None:
                    text = f"Order rejected - reason:{exc}"
                    session.error(order.order_id, ORDER_REJECTED, text)
                    session.send(encoders.order_status(order))
            return
        for order, broker_id in zip(orders, ids, strict=True):
            books.broker_ids[f"gw{order.perm_id}"] = broker_id

    async def _modify(self, session: Session, order: IbOrder, request: PlaceOrder) -> None:
        """placeOrder with the order id of a working order: change its quantity, prices,
        order type, time in force, outside-RTH flag or trailing terms, as IB does.

        A change the engine can make in place (quantity, limit price, stop price) is made
        there; one of the order type or other terms replaces the engine's order by a new
        one for the remaining quantity, under the same IB ids (the client sees one order).
        A refused change leaves the order working unchanged: IB's warning (105, 110, 321,
        329: ib_async and ibapi keep the order live on those), then the order as it is.
        """
        if order.status in FINISHED:
            session.error(order.order_id, CANNOT_MODIFY_FILLED, "Cannot modify a filled order.")
            return
        if order.waiting_for_conditions:
            text = "Order modify failed: an order waiting for its conditions cannot be changed"
            self._refuse_change(session, order, VALIDATION_ERROR, f"{text} (cancel, place again)")
            return
        mismatch = _mismatch(order, request)
        if mismatch:
            text = f"Order being modified does not match original order: {mismatch}"
            self._refuse_change(session, order, ORDER_MODIFY_MISMATCH, text)
            return
        problem = refused_terms(request)
        candidate = replace(
            order,
            total_qty=request.total_qty,
            order_type=request.order_type,
            lmt_price=request.lmt_price,
            aux_price=request.aux_price,
            tif=request.tif,
            good_till_date=request.good_till_date if request.tif == "GTD" else "",
            good_till=_good_till(request),
            outside_rth=request.outside_rth,
            trailing_percent=request.trailing_percent,
            trail_stop_price=request.trail_stop_price or order.trail_stop_price,
            oca_type=request.oca_type or order.oca_type,
            order_ref=request.order_ref or order.order_ref,
        )
        problem = problem or unsupported(candidate)
        if problem is None and candidate.total_qty <= order.filled:
            problem = f"quantity must be above the filled quantity {order.filled}"
        if problem:
            self._refuse_change(session, order, VALIDATION_ERROR, f"Order modify failed: {problem}")
            return
        if self._refused_off_tick(session, order.order_id, candidate.order_type, request):
            self._send_order(session, order)  # as IB: error 110, the order works on unchanged
            return
        in_place = (
            candidate.order_type == order.order_type
            and TIFS[candidate.tif] == TIFS[order.tif]
            and candidate.outside_rth == order.outside_rth
            and (order.order_type != "TRAIL" or _same_trail(order, candidate))
        )
        if in_place:
            await self._change_in_place(session, order, candidate)
        else:
            await self._replace(session, order, candidate)

    async def _change_in_place(self, session: Session, order: IbOrder, new: IbOrder) -> None:
        stop_order = order.order_type in ("STP", "STP LMT")
        change = OrderChange(
            qty=new.total_qty if new.total_qty != order.total_qty else None,
            limit_price=new.lmt_price if new.lmt_price != order.lmt_price else None,
            stop_price=new.aux_price if stop_order and new.aux_price != order.aux_price else None,
        )
        if change != OrderChange():
            kept = replace(order)
            _take_terms(order, new)  # what the engine's "modified" status will show
            try:
                await self._broker.modify_order(
                    self._books.broker_ids[f"gw{order.perm_id}"], change
                )
            except BrokerError as exc:
                _take_terms(order, kept)
                text = f"Order modify failed: {exc}"
                self._refuse_change(session, order, VALIDATION_ERROR, text)
                return
        _take_terms(order, new)
        self._books.save_order(order)
        self._send_order(session, order)

    async def _replace(self, session: Session, order: IbOrder, new: IbOrder) -> None:
        """Make the engine's order of `order` one on `new`'s terms (its remaining quantity)."""
        books = self._books
        key = f"gw{order.perm_id}"
        # The engine's order changes places; one linked to others (a bracket, whose
        # children follow their parent's quantity, or an OCA group, whose reductions the
        # engine reports on its own quantity) keeps its terms.
        linked = (
            order.parent_id
            or order.bracket_parent_perm_id
            or order.oca_group
            or any(other.bracket_parent_perm_id == order.perm_id for other in books.orders.values())
        )
        if linked:
            text = (
                "Order modify failed. Cannot change to the new order type"
                " (a bracket's or an OCA group's order)."
            )
            self._refuse_change(session, order, CANNOT_CHANGE_ORDER_TYPE, text)
            return
        old_id = books.broker_ids[key]
        kept = replace(order)
        _take_terms(order, new)
        request = engine_request(replace(order, total_qty=order.total_qty - order.filled), None)
        books.superseded.add(old_id)
        try:
            # The new order first: if the engine refuses it, the old one still works. Both
            # calls run without a pause in between, so no tick trades the two at once.
            books.broker_ids[key] = await self._broker.place_order(request)
        except BrokerError as exc:
            books.superseded.discard(old_id)
            _take_terms(order, kept)
            self._refuse_change(session, order, VALIDATION_ERROR, f"Order modify failed: {exc}")
            return
        with contextlib.suppress(BrokerError):
            await self._broker.cancel_order(old_id)
        books.save_order(order)
        if order.status not in FINISHED:
            self._send_order(session, order)

    def _refuse_change(self, session: Session, order: IbOrder, code: int, text: str) -> None:
        log.info("gateway_modify_refused", client_id=session.client_id, code=code, why=text)
        session.error(order.order_id, code, text)
        self._send_order(session, order)  # it works on as it was: the client must see so

    @staticmethod
    def _send_order(session: Session, order: IbOrder) -> None:
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
        order = books.orders.get(key or "")
        if order is None:
            text = f"OrderId {order_id} that needs to be cancelled is not found."
            session.error(order_id, CANCEL_NOT_FOUND, text)
            return
        if order.status in FINISHED:
            text = (
                f"OrderId {order_id} that needs to be cancelled cannot be cancelled, "
                f"state: {order.status}."
            )
            session.error(order_id, CANCEL_NOT_CANCELLABLE, text)
            return
        if order.waiting_for_conditions:
            order.waiting_for_conditions = False
            order.status = order.completed_status = "Cancelled"
            order.completed_time = ib_time(self._market.now())
            books.save_order(order)
            session.error(order_id, ORDER_CANCELLED, "Order Canceled - reason:")
            self._send_order(session, order)
            return
        assert key is not None
        if key not in books.broker_ids:
            text = f"OrderId {order_id} that needs to be cancelled is not found."
            session.error(order_id, CANCEL_NOT_FOUND, text)
            return
        try:
            await self._broker.cancel_order(books.broker_ids[key])
        except BrokerError as exc:
            text = (
                f"OrderId {order_id} that needs to be cancelled cannot be cancelled, "
                f"state: {order.status}. {exc}"
            )
            session.error(order_id, CANCEL_NOT_CANCELLABLE, text)

    def _conditions_hold(self, order: IbOrder, now: datetime, regular_hours: bool) -> bool:
        if not (regular_hours or order.conditions_ignore_rth):
            return False  # IB checks conditions in the regular session only, by default
        assert order.placed_at is not None
        return conditions_met(order.conditions, self._market, placed=order.placed_at, now=now)

    async def expire_good_till(self, now: datetime) -> None:
        """Cancel the GTD orders whose goodTillDate has come (IB: Cancelled at that time)."""
        books = self._books
        for key, order in list(books.orders.items()):
            due = order.good_till is not None and order.good_till <= now
            if due and order.status not in FINISHED and key in books.broker_ids:
                with contextlib.suppress(BrokerError):
                    self._broker.engine.cancel(
                        books.broker_ids[key], f"good till date {order.good_till_date} reached"
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


def _good_till(request: PlaceOrder) -> datetime | None:
    """When a GTD order expires (None: not GTD, or no readable goodTillDate)."""
    if request.tif != "GTD":
        return None
    try:
        return parse_time(request.good_till_date)
    except ValueError:
        return None


def _good_after(request: PlaceOrder) -> datetime | None:
    """When an order with a goodAfterTime may work (None: none, or not readable)."""
    try:
        return parse_time(request.good_after_time)
    except ValueError:
        return None


def _mismatch(order: IbOrder, request: PlaceOrder) -> str:
    """What a modification changes that IB does not let change (error 105); "" if nothing."""
    wanted = request.contract
    if wanted.symbol and wanted.symbol != order.contract.symbol:
        return f"symbol {wanted.symbol} is not {order.contract.symbol}"
    if wanted.con_id and wanted.con_id != order.contract.con_id:
        return f"conId {wanted.con_id} is not {order.contract.con_id}"
    if request.action != order.action:
        return f"action {request.action} is not {order.action}"
    return ""


def _same_trail(order: IbOrder, new: IbOrder) -> bool:
    return order.aux_price == new.aux_price and order.trailing_percent == new.trailing_percent


def _take_terms(order: IbOrder, terms: IbOrder) -> None:
    """Give `order` the terms a modification may change (its state stays its own)."""
    order.total_qty = terms.total_qty
    order.order_type = terms.order_type
    order.lmt_price = terms.lmt_price
    order.aux_price = terms.aux_price
    order.tif = terms.tif
    order.good_till_date = terms.good_till_date
    order.good_till = terms.good_till
    order.outside_rth = terms.outside_rth
    order.trailing_percent = terms.trailing_percent
    order.trail_stop_price = terms.trail_stop_price
    order.oca_type = terms.oca_type
    order.order_ref = terms.order_ref
