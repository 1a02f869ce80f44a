"""An order as the risk checks see it: what it may add to the book, at what price.

The checks (`risk.checks`) know nothing of order requests or rows; these functions
describe a new order, or an open order as a modification would leave it, in their terms.
"""

from __future__ import annotations

from decimal import Decimal

from stocks_api.broker.protocol import OrderType, Quote, Side
from stocks_api.orders.models import Order
from stocks_api.orders.schemas import OrderCreate, OrderUpdate
from stocks_api.risk.checks import ProposedOrder


def _market_price(side: Side, quote: Quote | None) -> Decimal | None:
    if quote is None:
        return None
    price = quote.ask if side is Side.BUY else quote.bid
    return price if price > 0 else None


def _value_price(
    order_type: OrderType,
    side: Side,
    limit_price: Decimal | None,
    stop_price: Decimal | None,
    quote: Quote | None,
) -> Decimal | None:
    if order_type in (OrderType.LIMIT, OrderType.STOP_LIMIT):
        return limit_price
    if order_type is OrderType.STOP:
        return stop_price
    return _market_price(side, quote)  # market and trailing stop orders trade at the market


def propose_new(
    order_in: OrderCreate, quote: Quote | None, *, flatten: bool = False
) -> ProposedOrder:
    """Describe a new order (a bracket with its legs) for the checks."""
    prices = [order_in.limit_price, order_in.stop_price]
    if order_in.take_profit is not None:
        prices.append(order_in.take_profit.limit_price)
    if order_in.stop_loss is not None:
        prices += [order_in.stop_loss.stop_price, order_in.stop_loss.limit_price]
    legs = (order_in.take_profit is not None) + (order_in.stop_loss is not None)
    return ProposedOrder(
        symbol=order_in.symbol,
        side=order_in.side,
        qty=order_in.qty,
        open_qty=order_in.qty,
        value_price=_value_price(
            order_in.type, order_in.side, order_in.limit_price, order_in.stop_price, quote
        ),
        prices=tuple(p for p in prices if p is not None),
        messages=1 + legs,
        flatten=flatten,
    )


def propose_change(order: Order, change: OrderUpdate, quote: Quote | None) -> ProposedOrder:
    """Describe an open order as the modification would leave it."""
    side, order_type = Side(order.side), OrderType(order.order_type)
    qty = change.qty if change.qty is not None else order.qty
    limit_price = change.limit_price if change.limit_price is not None else order.limit_price
    stop_price = change.stop_price if change.stop_price is not None else order.stop_price
    # Only the prices the modification sets are new; a resting price was checked already.
    prices = tuple(p for p in (change.limit_price, change.stop_price) if p is not None)
    return ProposedOrder(
        symbol=order.symbol,
        side=side,
        qty=qty,
        open_qty=qty - order.filled_qty,
        value_price=_value_price(order_type, side, limit_price, stop_price, quote),
        prices=prices,
    )
