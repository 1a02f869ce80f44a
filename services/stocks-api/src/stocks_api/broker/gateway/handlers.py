"""The table of gateway-sim's request handlers (message id -> handler), and the handlers of
the connection and the account.

Here: startApi, reqCurrentTime, reqIds, reqPositions, cancelPositions, reqAccountUpdates,
reqAccountUpdatesMulti, reqPositionsMulti, reqAccountSummary, and the requests that are
taken and ignored. The handlers of orders are in `handlers_orders.py`, those of contracts
and market data in `handlers_data.py`. Every handler works on its `Session` and the
session's `GatewayBackend` only, so any backend serves the same requests the same way.
"""

from __future__ import annotations

import asyncio
import time

from stocks_api.broker.gateway import encoders
from stocks_api.broker.gateway import handlers_data as data
from stocks_api.broker.gateway import handlers_orders as orders
from stocks_api.broker.gateway.codes import CLIENT_ID_IN_USE, CONNECTIVITY_TEXTS, IB_LOST
from stocks_api.broker.gateway.session import START_API, Handler, Session
from stocks_api.broker.gateway.wire import Fields

ACCOUNT_SUMMARY_TAGS = ("NetLiquidation", "TotalCashValue", "BuyingPower", "GrossPositionValue")


# -- the connection ----------------------------------------------------------------------------


async def start_api(session: Session, fields: Fields) -> None:
    fields.skip(1)  # version
    client_id = fields.int()
    if session.client_id is not None:
        return
    backend = session.backend
    if not backend.register(session, client_id):
        session.error(
            -1,
            CLIENT_ID_IN_USE,
            "Unable to connect as the client id is already in use. Retry with a unique client id.",
        )
        await asyncio.sleep(0)
        session.abort()
        return
    session.client_id = client_id
    # The gateway's own knowledge: a client connecting during an outage gets it, then 1100.
    outage = backend.in_outage
    session.send(encoders.managed_accounts([backend.account]), through_outage=outage)
    session.send(encoders.next_valid_id(backend.next_order_id(client_id)), through_outage=outage)
    if outage:
        session.error(-1, IB_LOST, CONNECTIVITY_TEXTS[IB_LOST], through_outage=True)


async def current_time(session: Session, fields: Fields) -> None:
    session.send(encoders.current_time(int(time.time())))


async def request_ids(session: Session, fields: Fields) -> None:
    assert session.client_id is not None
    session.send(encoders.next_valid_id(session.backend.next_order_id(session.client_id)))


async def ignore(session: Session, fields: Fields) -> None:
    """A request gateway-sim takes and leaves unanswered: the cancel of something it does
    not stream, or a setting it has no use for."""
    return None


# -- the account -------------------------------------------------------------------------------


async def positions(session: Session, fields: Fields) -> None:
    session.positions_subscribed = True
    for position in session.backend.positions():
        session.send(encoders.position(position))
    session.send(encoders.position_end())


async def cancel_positions(session: Session, fields: Fields) -> None:
    session.positions_subscribed = False


async def account_updates(session: Session, fields: Fields) -> None:
    fields.skip(1)  # version
    subscribe = fields.bool()
    session.account_updates = subscribe
    if subscribe:
        session.send_portfolio()
        session.send(encoders.account_download_end(session.backend.account))


async def account_updates_multi(session: Session, fields: Fields) -> None:
    fields.skip(1)  # version
    req_id = fields.int()
    backend = session.backend
    for key, value in backend.account_values().items():
        session.send(encoders.account_update_multi(req_id, backend.account, "", key, value, "USD"))
    session.send(encoders.account_update_multi_end(req_id))


async def positions_multi(session: Session, fields: Fields) -> None:
    fields.skip(1)  # version
    session.send(encoders.position_multi_end(fields.int()))


async def account_summary(session: Session, fields: Fields) -> None:
    fields.skip(1)  # version
    req_id = fields.int()
    backend = session.backend
    values = backend.account_values()
    for tag in ACCOUNT_SUMMARY_TAGS:
        session.send(encoders.account_summary(req_id, backend.account, tag, values[tag], "USD"))
    session.send(encoders.account_summary_end(req_id))


# -- the table ---------------------------------------------------------------------------------

# The ids of the requests clients send (ibapi's `message.OUT`), by EClient method.
HANDLERS: dict[int, Handler] = {
    START_API: start_api,  # startApi (71)
    20: data.historical_data,  # reqHistoricalData
    49: current_time,  # reqCurrentTime
    9: data.contract_details,  # reqContractDetails
    3: orders.place_order,  # placeOrder
    4: orders.cancel_order,  # cancelOrder
    5: orders.open_orders,  # reqOpenOrders
    16: orders.all_open_orders,  # reqAllOpenOrders
    15: ignore,  # reqAutoOpenOrders
    99: orders.completed_orders,  # reqCompletedOrders
    7: orders.executions,  # reqExecutions
    61: positions,  # reqPositions
    64: cancel_positions,  # cancelPositions
    6: account_updates,  # reqAccountUpdates
    76: account_updates_multi,  # reqAccountUpdatesMulti
    77: ignore,  # cancelAccountUpdatesMulti
    74: positions_multi,  # reqPositionsMulti
    75: ignore,  # cancelPositionsMulti
    62: account_summary,  # reqAccountSummary
    63: ignore,  # cancelAccountSummary
    8: request_ids,  # reqIds
    1: data.market_data,  # reqMktData
    2: data.cancel_market_data,  # cancelMktData
    59: ignore,  # reqMarketDataType
    58: orders.global_cancel,  # reqGlobalCancel
}
