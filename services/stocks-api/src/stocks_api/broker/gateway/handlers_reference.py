"""The request handlers of reference data: symbol search, market rules, and the lists IB
keeps for an account (depth exchanges, SMART components, news providers, family codes,
soft dollar tiers, option parameters, scanner parameters, user info).

What gateway-sim has, it serves (its symbols, its price rule); where IB would have
nothing for a paper account of US stocks (no options, no soft dollar tiers, no news
subscription), it sends the reply the client library waits for, empty, as IB does.
"""

from __future__ import annotations

from stocks_api.broker.gateway import encoders_market as reference
from stocks_api.broker.gateway.codes import NO_SECURITY_DEFINITION, NO_SECURITY_DEFINITION_TEXT
from stocks_api.broker.gateway.session import Session
from stocks_api.broker.gateway.wire import Fields
from stocks_api.core.ticks import PRICE_INCREMENTS

# The one market rule of US stocks here (`core.ticks`); contract details point to it.
MARKET_RULE_ID = 26
MAX_MATCHING_SYMBOLS = 16  # IB returns at most 16 matches
DEPTH_EXCHANGES = (("ISLAND", "STK", "NASDAQ", "Deep2", 1), ("SMART", "STK", "", "Deep", 1))
SMART_COMPONENTS = ((1, "ISLAND", "Q"), (2, "NYSE", "N"), (3, "ARCA", "P"))
SCANNER_PARAMETERS = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    "<ScanParameterResponse><InstrumentList><Instrument><name>US Stocks</name>"
    "<type>STK</type></Instrument></InstrumentList><LocationTree/><ScanTypeList/>"
    "</ScanParameterResponse>"
)


async def matching_symbols(session: Session, fields: Fields) -> None:
    """reqMatchingSymbols: the traded symbols that start with the pattern, then those that
    contain it (IB ranks prefix matches first), at most 16."""
    req_id = fields.int()
    pattern = fields.str().strip().upper()
    backend = session.backend
    symbols = sorted(backend.symbols())
    ranked = [s for s in symbols if s.startswith(pattern)]
    ranked += [s for s in symbols if pattern in s and not s.startswith(pattern)]
    contracts = [c for c in (backend.contract(s) for s in ranked) if c is not None]
    session.send(
        reference.symbol_samples(
            req_id, contracts[:MAX_MATCHING_SYMBOLS] if pattern else [], session.version
        )
    )


async def market_rule(session: Session, fields: Fields) -> None:
    """reqMarketRule: the price increments of a rule (an unknown rule has none)."""
    rule_id = fields.int()
    increments = PRICE_INCREMENTS if rule_id == MARKET_RULE_ID else ()
    session.send(reference.market_rule(rule_id, increments))


async def sec_def_opt_params(session: Session, fields: Fields) -> None:
    """reqSecDefOptParams: no options are simulated, so only the end of the answer (or, for
    an underlying gateway-sim does not trade, IB's error 200)."""
    req_id = fields.int()
    symbol = fields.str().strip().upper()
    if session.backend.contract(symbol) is None:
        session.error(req_id, NO_SECURITY_DEFINITION, NO_SECURITY_DEFINITION_TEXT)
        return
    session.send(reference.security_definition_option_parameter_end(req_id))


async def soft_dollar_tiers(session: Session, fields: Fields) -> None:
    session.send(reference.soft_dollar_tiers(fields.int()))


async def family_codes(session: Session, fields: Fields) -> None:
    """reqFamilyCodes: an individual account is its own family, with no code."""
    session.send(reference.family_codes([(session.backend.account, "")]))


async def mkt_depth_exchanges(session: Session, fields: Fields) -> None:
    session.send(reference.mkt_depth_exchanges(DEPTH_EXCHANGES))


async def smart_components(session: Session, fields: Fields) -> None:
    session.send(reference.smart_components(fields.int(), SMART_COMPONENTS))


async def news_providers(session: Session, fields: Fields) -> None:
    """reqNewsProviders: no news subscription, no providers."""
    session.send(reference.news_providers([]))


async def scanner_parameters(session: Session, fields: Fields) -> None:
    fields.skip(1)  # version
    session.send(reference.scanner_parameters(SCANNER_PARAMETERS))


async def user_info(session: Session, fields: Fields) -> None:
    session.send(reference.user_info(fields.int()))
