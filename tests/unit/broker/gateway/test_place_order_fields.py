"""gateway-sim reads every placeOrder field as ibapi and ib_async send it, at 176-178."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import ib_async
import pytest
from ib_async.client import Client
from ibapi import order_condition
from ibapi.client import EClient
from ibapi.contract import Contract
from ibapi.order import Order
from ibapi.wrapper import EWrapper

from stocks_api.broker.gateway import requests as parse
from stocks_api.broker.gateway.order_terms import refused_terms
from stocks_api.broker.gateway.wire import Fields, split_fields

VERSIONS = (176, 177, 178)


def _ibapi_fields(version: int, order: Order) -> list[str]:
    """The fields ibapi's EClient.placeOrder sends (after the message id)."""
    sent: list[str] = []
    client = EClient(EWrapper())
    client.serverVersion_ = version
    client.connState = EClient.CONNECTED
    client.isConnected = lambda: True
    client.sendMsg = lambda _id, msg: sent.append(msg)
    contract = Contract()
    contract.symbol, contract.secType, contract.exchange, contract.currency = (
        "AAPL",
        "STK",
        "SMART",
        "USD",
    )
    client.placeOrder(3, contract, order)
    assert sent, "ibapi refused to send the order"
    return split_fields(sent[-1].encode())


def _ib_async_fields(version: int, order: ib_async.Order) -> list[str]:
    """The fields ib_async's Client.placeOrder sends (after the message id)."""
    sent: list[str] = []
    client = Client(ib_async.Wrapper(ib_async.IB()))
    client._serverVersion = version
    client.connState = Client.CONNECTED
    client.sendMsg = lambda msg: sent.append(msg)
    client.placeOrder(3, ib_async.Stock("AAPL", "SMART", "USD"), order)
    fields = sent[-1].split("\0")
    if fields and fields[-1] == "":
        fields.pop()
    assert fields[0] == "3"  # the message id
    return fields[1:]


def _ibapi_order(**fields: Any) -> Order:
    order = Order()
    order.action, order.orderType, order.totalQuantity, order.lmtPrice = "BUY", "LMT", 5, 100.5
    for name, value in fields.items():
        setattr(order, name, value)
    return order


def _price_condition() -> order_condition.PriceCondition:
    condition = order_condition.Create(order_condition.OrderCondition.Price)
    condition.conId, condition.exchange, condition.isMore = 265598, "SMART", True
    condition.price, condition.triggerMethod = 500.0, 0
    return condition


@pytest.mark.parametrize("version", VERSIONS)
def test_a_plain_order_has_no_refused_terms_from_either_client(version: int) -> None:
    for fields in (
        _ibapi_fields(version, _ibapi_order()),
        _ib_async_fields(version, ib_async.LimitOrder("BUY", 5, 100.5)),
    ):
        request = parse.place_order(Fields(fields), version)
        assert (request.order_type, request.total_qty, request.lmt_price) == (
            "LMT",
            Decimal(5),
            Decimal("100.5"),
        )
        assert not request.what_if
        assert request.extras == ()
        assert refused_terms(request) is None


@pytest.mark.parametrize("version", VERSIONS)
def test_what_if_oca_type_and_conditions_are_read_alike_from_both_clients(version: int) -> None:
    ibapi_order = _ibapi_order(
        whatIf=True, ocaType=2, conditions=[_price_condition()], conditionsCancelOrder=True
    )
    ib_async_order = ib_async.LimitOrder(
        "BUY",
        5,
        100.5,
        whatIf=True,
        ocaType=2,
        conditions=[ib_async.PriceCondition(isMore=True, price=500.0, conId=265598, exch="SMART")],
        conditionsCancelOrder=True,
    )
    read = [
        parse.place_order(Fields(_ibapi_fields(version, ibapi_order)), version),
        parse.place_order(Fields(_ib_async_fields(version, ib_async_order)), version),
    ]
    for request in read:
        assert request.what_if
        assert request.oca_type == 2
        assert [(c.kind, c.conjunction) for c in request.conditions] == [(1, "a")]
        assert request.conditions[0].values[1:3] == ("500.0", "265598")
        assert request.conditions_cancel_order
    assert read[0].conditions == read[1].conditions


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"allOrNone": True}, "allOrNone"),
        ({"minQty": 3}, "minQty"),
        ({"displaySize": 100}, "displaySize"),
        ({"discretionaryAmt": 0.5}, "discretionaryAmt"),
        ({"algoStrategy": "Adaptive", "algoParams": []}, "algoStrategy"),
        ({"cashQty": 1000.0}, "cashQty"),
    ],
)
def test_a_term_not_simulated_is_named_in_the_refusal(fields: dict[str, Any], named: str) -> None:
    request = parse.place_order(Fields(_ibapi_fields(178, _ibapi_order(**fields))), 178)
    problem = refused_terms(request)
    assert problem is not None
    assert named in problem
