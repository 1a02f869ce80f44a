"""Every message id a TWS API client can send, and how gateway-sim answers it.

`REQUESTS` is the one table: for each outgoing message id of ibapi 10.x (`message.OUT`)
and ib_async 2.1 (`client.py`), its EClient method, its handler, whether gateway-sim
serves it (`SERVED`), answers it the way IB answers an account without that service
(`ANSWERED`: IB's error with the request id, or the empty reply a call without one
waits for), or takes it with nothing to answer (`SILENT`: cancels, settings), and for
placeOrder which fields are honoured and which refused (`order_terms`). A test checks
that the table names every id both client libraries can send, so nothing is dropped: a
message id outside the table gets IB's error 505 (unknown message id).
"""

from __future__ import annotations

from dataclasses import dataclass

from stocks_api.broker.gateway import handlers as connection
from stocks_api.broker.gateway import handlers_data as data
from stocks_api.broker.gateway import handlers_orders as orders
from stocks_api.broker.gateway import handlers_reference as reference
from stocks_api.broker.gateway import handlers_streams as streams
from stocks_api.broker.gateway import handlers_unserved as unserved
from stocks_api.broker.gateway.order_terms import (
    HONOURED_FIELDS,
    NO_EFFECT_FIELDS,
    REFUSED_FIELDS,
)
from stocks_api.broker.gateway.session import START_API, Handler

SERVED = "served"
ANSWERED = "answered"  # IB's error, or the empty reply, for what is not simulated
SILENT = "silent"  # IB sends nothing back either


@dataclass(frozen=True, slots=True)
class Request:
    """One request of the TWS API and gateway-sim's answer to it."""

    method: str  # the EClient method that sends it
    handler: Handler
    kind: str  # SERVED, ANSWERED or SILENT
    answer: str  # what the client gets, in a few words
    honoured: tuple[str, ...] = ()  # fields acted on (placeOrder)
    no_effect: tuple[str, ...] = ()  # fields taken with no effect on one simulated venue
    refused: tuple[str, ...] = ()  # fields whose use gets the order refused


def _r(method: str, handler: Handler, kind: str, answer: str) -> Request:
    return Request(method, handler, kind, answer)


_NEWER = "503 (needs a server version above 178)"

REQUESTS: dict[int, Request] = {
    1: Request(
        "reqMktData",
        data.market_data,
        SERVED,
        "ticks (generic 233, 236), 101, 354/10167",
        honoured=("contract", "genericTickList 233 and 236", "snapshot", "regulatorySnapshot"),
        no_effect=("other generic ticks: no data, as IB sends none a contract lacks",),
    ),
    2: _r("cancelMktData", data.cancel_market_data, SILENT, "stops the ticks"),
    3: Request(
        "placeOrder",
        orders.place_order,
        SERVED,
        "openOrder, orderStatus, fills; whatIf answered; refusals 201, 110, 105/321/329",
        honoured=HONOURED_FIELDS,
        no_effect=NO_EFFECT_FIELDS,
        refused=REFUSED_FIELDS,
    ),
    4: _r("cancelOrder", orders.cancel_order, SERVED, "202 then Cancelled; 10147, 10148"),
    5: _r("reqOpenOrders", orders.open_orders, SERVED, "this client's working orders"),
    6: _r("reqAccountUpdates", connection.account_updates, SERVED, "values, portfolio, time"),
    7: _r("reqExecutions", orders.executions, SERVED, "filtered executions, commissions"),
    8: _r("reqIds", connection.request_ids, SERVED, "nextValidId"),
    9: _r("reqContractDetails", data.contract_details, SERVED, "details with marketRuleIds"),
    10: Request(
        "reqMktDepth",
        streams.market_depth,
        SERVED,
        "up to 10 levels each side",
        honoured=("contract", "numRows (1-10)", "isSmartDepth (level-2 messages)"),
        no_effect=("mktDepthOptions",),
    ),
    11: _r("cancelMktDepth", streams.cancel_stream_versioned, SILENT, "stops the depth"),
    12: _r("reqNewsBulletins", connection.nothing_to_answer, SILENT, "no bulletins here"),
    13: _r("cancelNewsBulletins", connection.nothing_to_answer, SILENT, ""),
    14: _r("setServerLogLevel", connection.nothing_to_answer, SILENT, ""),
    15: _r("reqAutoOpenOrders", connection.nothing_to_answer, SILENT, "no TWS orders here"),
    16: _r("reqAllOpenOrders", orders.all_open_orders, SERVED, "every client's working orders"),
    17: _r("reqManagedAccts", connection.managed_accounts, SERVED, "managedAccounts"),
    18: _r("requestFA", unserved.request_fa, ANSWERED, "321, then an empty receiveFA"),
    19: _r("replaceFA", unserved.replace_fa, ANSWERED, "321, then replaceFAEnd"),
    20: Request(
        "reqHistoricalData",
        data.historical_data,
        SERVED,
        "bars (TRADES, MIDPOINT, ADJUSTED_LAST; useRTH; keepUpToDate), SCHEDULE; else 162",
        honoured=(
            "endDateTime (with a zone)",
            "durationStr (S, D, W, M, Y)",
            "barSizeSetting (1 min, 5 mins, 1 hour, 1 day)",
            "whatToShow (TRADES, MIDPOINT, ADJUSTED_LAST, SCHEDULE)",
            "useRTH",
            "formatDate (1, 2)",
            "keepUpToDate (an endDateTime with it: 162)",
        ),
        no_effect=("chartOptions",),
        refused=("other bar sizes and whatToShow values (BID, ASK, ...): 162",),
    ),
    21: _r("exerciseOptions", unserved.exercise_options, ANSWERED, "200 (no options)"),
    22: _r("reqScannerSubscription", unserved.scanner_subscription, ANSWERED, "no results"),
    23: _r("cancelScannerSubscription", connection.nothing_to_answer, SILENT, ""),
    24: _r("reqScannerParameters", reference.scanner_parameters, SERVED, "a minimal XML"),
    25: _r("cancelHistoricalData", data.cancel_historical_data, SILENT, "stops updates"),
    49: _r("reqCurrentTime", connection.current_time, SERVED, "currentTime"),
    50: Request(
        "reqRealTimeBars",
        streams.real_time_bars,
        SERVED,
        "5-second bars",
        honoured=("barSize 5", "whatToShow (TRADES, MIDPOINT, BID, ASK)", "useRTH"),
        refused=("other bar sizes or whatToShow values: 321",),
    ),
    51: _r("cancelRealTimeBars", streams.cancel_stream_versioned, SILENT, "stops the bars"),
    52: _r("reqFundamentalData", unserved.fundamental_data, ANSWERED, "430"),
    53: _r("cancelFundamentalData", connection.nothing_to_answer, SILENT, ""),
    54: _r("calculateImpliedVolatility", unserved.implied_volatility, ANSWERED, "200"),
    55: _r("calculateOptionPrice", unserved.option_price, ANSWERED, "200"),
    56: _r("cancelCalculateImpliedVolatility", connection.nothing_to_answer, SILENT, ""),
    57: _r("cancelCalculateOptionPrice", connection.nothing_to_answer, SILENT, ""),
    58: _r("reqGlobalCancel", orders.global_cancel, SERVED, "cancels every working order"),
    59: _r("reqMarketDataType", data.market_data_type, SERVED, "marketDataType per ticker"),
    61: _r("reqPositions", connection.positions, SERVED, "positions, then as they change"),
    62: Request(
        "reqAccountSummary",
        connection.account_summary,
        SERVED,
        "the tags asked for",
        honoured=("tags (account.SUMMARY_TAGS, $LEDGER, $LEDGER:USD, $LEDGER:ALL)",),
        no_effect=("groupName: one account here", "tags IB does not know: left out"),
    ),
    63: _r("cancelAccountSummary", connection.nothing_to_answer, SILENT, ""),
    64: _r("cancelPositions", connection.cancel_positions, SILENT, "stops the positions"),
    65: _r("verifyRequest", unserved.verify, ANSWERED, "verifyCompleted(false)"),
    66: _r("verifyMessage", unserved.verify, ANSWERED, "verifyCompleted(false)"),
    67: _r("queryDisplayGroups", unserved.query_display_groups, ANSWERED, "groups 1-7"),
    68: _r("subscribeToGroupEvents", unserved.subscribe_to_group_events, ANSWERED, "empty"),
    69: _r("updateDisplayGroup", unserved.update_display_group, ANSWERED, "echoed"),
    70: _r("unsubscribeFromGroupEvents", connection.nothing_to_answer, SILENT, ""),
    START_API: _r("startApi", connection.start_api, SERVED, "managedAccounts, nextValidId"),
    72: _r("verifyAndAuthRequest", unserved.verify_and_auth, ANSWERED, "completed(false)"),
    73: _r("verifyAndAuthMessage", unserved.verify_and_auth, ANSWERED, "completed(false)"),
    74: _r("reqPositionsMulti", connection.positions_multi, SERVED, "positions of the account"),
    75: _r("cancelPositionsMulti", connection.nothing_to_answer, SILENT, ""),
    76: _r("reqAccountUpdatesMulti", connection.account_updates_multi, SERVED, "values"),
    77: _r("cancelAccountUpdatesMulti", connection.nothing_to_answer, SILENT, ""),
    78: _r("reqSecDefOptParams", reference.sec_def_opt_params, ANSWERED, "end (no options)"),
    79: _r("reqSoftDollarTiers", reference.soft_dollar_tiers, ANSWERED, "no tiers"),
    80: _r("reqFamilyCodes", reference.family_codes, SERVED, "the account, no code"),
    81: _r("reqMatchingSymbols", reference.matching_symbols, SERVED, "up to 16 symbols"),
    82: _r("reqMktDepthExchanges", reference.mkt_depth_exchanges, SERVED, "ISLAND, SMART"),
    83: _r("reqSmartComponents", reference.smart_components, SERVED, "three venues"),
    84: _r("reqNewsArticle", unserved.news_article, ANSWERED, "10276"),
    85: _r("reqNewsProviders", reference.news_providers, ANSWERED, "no providers"),
    86: _r("reqHistoricalNews", unserved.historical_news, ANSWERED, "no headlines"),
    87: _r("reqHeadTimeStamp", data.head_timestamp, SERVED, "the oldest bar's time"),
    88: _r("reqHistogramData", data.histogram_data, SERVED, "minute closes by price"),
    89: _r("cancelHistogramData", connection.nothing_to_answer, SILENT, ""),
    90: _r("cancelHeadTimeStamp", connection.nothing_to_answer, SILENT, ""),
    91: _r("reqMarketRule", reference.market_rule, SERVED, "rule 26: 0.0001 below $1, 0.01"),
    92: _r("reqPnL", streams.pnl, SERVED, "daily, unrealized, realized each second"),
    93: _r("cancelPnL", streams.cancel_stream, SILENT, "stops the P&L"),
    94: _r("reqPnLSingle", streams.pnl_single, SERVED, "one position's P&L each second"),
    95: _r("cancelPnLSingle", streams.cancel_stream, SILENT, "stops the P&L"),
    96: Request(
        "reqHistoricalTicks",
        data.historical_ticks,
        SERVED,
        "up to 1000 ticks",
        honoured=("startDateTime or endDateTime", "numberOfTicks (1-1000)", "useRth"),
        no_effect=("ignoreSize: one tick per second", "miscOptions"),
        refused=("whatToShow other than TRADES, BID_ASK, MIDPOINT: 162",),
    ),
    97: Request(
        "reqTickByTickData",
        streams.tick_by_tick,
        SERVED,
        "Last, AllLast, BidAsk, MidPoint",
        honoured=("tickType", "numberOfTicks (history first)", "ignoreSize (BidAsk)"),
    ),
    98: _r("cancelTickByTickData", streams.cancel_stream, SILENT, "stops the ticks"),
    99: _r("reqCompletedOrders", orders.completed_orders, SERVED, "finished orders"),
    100: _r("reqWshMetaData", unserved.wsh_meta_data, ANSWERED, "10276"),
    101: _r("cancelWshMetaData", connection.nothing_to_answer, SILENT, ""),
    102: _r("reqWshEventData", unserved.wsh_event_data, ANSWERED, "10276"),
    103: _r("cancelWshEventData", connection.nothing_to_answer, SILENT, ""),
    104: _r("reqUserInfo", reference.user_info, SERVED, "userInfo (no white branding)"),
    105: _r("reqCurrentTimeInMillis", unserved.newer_than_served, ANSWERED, _NEWER),
    106: _r("cancelContractData", unserved.newer_than_served, ANSWERED, _NEWER),
    107: _r("cancelHistoricalTicks", unserved.newer_than_served, ANSWERED, _NEWER),
    108: _r("reqConfig", unserved.newer_than_served, ANSWERED, _NEWER),
    109: _r("updateConfig", unserved.newer_than_served, ANSWERED, _NEWER),
}

# The ids of the requests clients send, by EClient method: what a session dispatches on.
HANDLERS: dict[int, Handler] = {message_id: r.handler for message_id, r in REQUESTS.items()}
