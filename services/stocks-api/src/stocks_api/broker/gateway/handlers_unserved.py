"""The requests gateway-sim answers without simulating them, as IB answers an individual
paper account of US stocks that has no option contracts, no news or Wall Street Horizon
subscription, no fundamentals and no advisor (FA) setup.

A request with a request id gets IB's error with that id (which completes the awaiting
call in both client libraries); one without gets the reply message the library waits for,
empty (an error alone would leave such a call waiting), after IB's error where IB sends one.
"""

from __future__ import annotations

from stocks_api.broker.gateway import encoders_market as replies
from stocks_api.broker.gateway.codes import (
    FUNDAMENTALS_UNAVAILABLE,
    NO_SECURITY_DEFINITION,
    NOT_ALLOWED,
    OUT_OF_DATE,
    VALIDATION_ERROR,
)
from stocks_api.broker.gateway.session import Handler, Session
from stocks_api.broker.gateway.wire import Fields

NO_OPTIONS = "No security definition has been found for the request (options are not simulated)"
NO_FA = "FA data operations ignored for non FA customers."
DISPLAY_GROUPS = "1|2|3|4|5|6|7"


async def request_fa(session: Session, fields: Fields) -> None:
    fields.skip(1)  # version
    data_type = fields.int()
    session.error(-1, VALIDATION_ERROR, NO_FA)
    session.send(replies.receive_fa(data_type, ""))


async def replace_fa(session: Session, fields: Fields) -> None:
    fields.skip(3)  # version, faDataType, xml
    req_id = fields.int()
    session.error(req_id, VALIDATION_ERROR, NO_FA)
    session.send(replies.replace_fa_end(req_id, NO_FA))


def refuse_versioned(code: int, text: str) -> Handler:
    """A handler answering IB's error `code` to a request with a version field, then its id."""

    async def refuse(session: Session, fields: Fields) -> None:
        fields.skip(1)  # version
        session.error(fields.int(), code, text)

    return refuse


def refuse(code: int, text: str) -> Handler:
    """A handler answering IB's error `code` to a request whose id follows the message id."""

    async def refuse_request(session: Session, fields: Fields) -> None:
        session.error(fields.int(), code, text)

    return refuse_request


exercise_options = refuse_versioned(NO_SECURITY_DEFINITION, NO_OPTIONS)
implied_volatility = refuse_versioned(NO_SECURITY_DEFINITION, NO_OPTIONS)
option_price = refuse_versioned(NO_SECURITY_DEFINITION, NO_OPTIONS)
fundamental_data = refuse_versioned(
    FUNDAMENTALS_UNAVAILABLE,
    "We are sorry, but fundamentals data for the security specified is not available.",
)
news_article = refuse(NOT_ALLOWED, "News feed is not allowed.")
wsh_meta_data = refuse(NOT_ALLOWED, "News feed is not allowed (no Wall Street Horizon data).")
wsh_event_data = wsh_meta_data


async def scanner_subscription(session: Session, fields: Fields) -> None:
    """reqScannerSubscription: no scanner is simulated; the scan finds nothing."""
    session.send(replies.scanner_data_empty(fields.int()))


async def historical_news(session: Session, fields: Fields) -> None:
    """reqHistoricalNews: no news subscription, so no headlines."""
    session.send(replies.historical_news_end(fields.int()))


async def verify(session: Session, fields: Fields) -> None:
    session.send(replies.verify_completed(False, "API verification is not supported"))


async def verify_and_auth(session: Session, fields: Fields) -> None:
    session.send(replies.verify_and_auth_completed(False, "API verification is not supported"))


async def query_display_groups(session: Session, fields: Fields) -> None:
    fields.skip(1)  # version
    session.send(replies.display_group_list(fields.int(), DISPLAY_GROUPS))


async def subscribe_to_group_events(session: Session, fields: Fields) -> None:
    """subscribeToGroupEvents: no TWS window is linked, so the group shows no contract."""
    fields.skip(1)  # version
    session.send(replies.display_group_updated(fields.int(), ""))


async def update_display_group(session: Session, fields: Fields) -> None:
    fields.skip(1)  # version
    req_id = fields.int()
    session.send(replies.display_group_updated(req_id, fields.str()))


async def newer_than_served(session: Session, fields: Fields) -> None:
    """A request of a server version above 178: IB's "out of date" (ibapi says the same
    itself, without sending, to a gateway at 178)."""
    req_id = fields.int() if fields.remaining else -1
    session.error(req_id, OUT_OF_DATE, "The TWS is out of date and must be upgraded.")
