"""The table of gateway-sim's request handlers (message id -> handler), and the handlers of
the connection and the account.

Here: startApi, reqCurrentTime, reqIds, reqManagedAccts, reqPositions, cancelPositions,
reqAccountUpdates, reqAccountUpdatesMulti, reqPositionsMulti, reqAccountSummary, and the
requests that are taken with nothing to answer. `table.py` maps every message id to its
handler. Every handler works on its `Session` and the session's `GatewayBackend` only,
so any backend serves the same requests the same way.
"""

from __future__ import annotations

import asyncio

from stocks_api.broker.gateway import encoders
from stocks_api.broker.gateway import encoders_market as multi
from stocks_api.broker.gateway.account import summary_values
from stocks_api.broker.gateway.codes import CLIENT_ID_IN_USE, CONNECTIVITY_TEXTS, IB_LOST
from stocks_api.broker.gateway.session import Session
from stocks_api.broker.gateway.wire import Fields

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
    session.send(encoders.current_time(int(session.backend.now().timestamp())))


async def request_ids(session: Session, fields: Fields) -> None:
    assert session.client_id is not None
    session.send(encoders.next_valid_id(session.backend.next_order_id(session.client_id)))


async def managed_accounts(session: Session, fields: Fields) -> None:
    session.send(encoders.managed_accounts([session.backend.account]))


async def nothing_to_answer(session: Session, fields: Fields) -> None:
    """A request IB answers with nothing: the cancel of something not streaming (any more),
    a setting (server log level), a subscription to what never comes here (news
    bulletins)."""
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
    for value in backend.account_values():
        session.send(
            encoders.account_update_multi(
                req_id, backend.account, "", value.tag, value.value, value.currency
            )
        )
    session.send(encoders.account_update_multi_end(req_id))


async def positions_multi(session: Session, fields: Fields) -> None:
    fields.skip(1)  # version
    req_id = fields.int()
    account = fields.str().strip()
    backend = session.backend
    if not account or account == backend.account:
        for position in backend.positions():
            session.send(multi.position_multi(req_id, position))
    session.send(encoders.position_multi_end(req_id))


async def account_summary(session: Session, fields: Fields) -> None:
    """reqAccountSummary: the values its tags ask for (`account.summary_values`)."""
    fields.skip(1)  # version
    req_id = fields.int()
    fields.skip(1)  # groupName: "All" (one account here)
    tags = fields.str()
    backend = session.backend
    for value in summary_values(backend.account_values(), tags):
        session.send(
            encoders.account_summary(
                req_id, backend.account, value.tag, value.value, value.currency
            )
        )
    session.send(encoders.account_summary_end(req_id))
