"""The IBKR connection's settings (`IB_*`)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings

from stocks_api.core.config import group_config


class IbSettings(BaseSettings):
    """The IBKR connection (`BROKER=ibkr`): IB Gateway, TWS, or `stocks-api gateway-sim`."""

    model_config = group_config("IB_")

    host: str = "127.0.0.1"
    # IB Gateway: 4002 paper, 4001 live; TWS: 7497 paper, 7496 live (live ports need
    # ALLOW_LIVE_TRADING=true to trade).
    port: int = Field(default=4002, ge=1, le=65535)
    client_id: int = Field(default=1, ge=0, le=2**31 - 1)
    # The account to trade in when the login manages several (empty: the first).
    account: str = ""
    connect_timeout_seconds: float = Field(default=10, gt=0, le=120)
    # Reconnect attempts back off from 0.5 s (with jitter) up to this.
    reconnect_max_seconds: float = Field(default=30, ge=1, le=600)
    # Placing an order waits up to this long for IB's first answer (submitted, filled or
    # rejected), so the response shows IB's verdict; later changes arrive as events.
    ack_timeout_seconds: float = Field(default=2, ge=0, le=30)
    # IB answers clients sending more than 50 messages a second with error 100 (and may
    # disconnect them); requests above this rate wait their turn, a tenth of this every
    # tenth of a second, so no second at IB ever sees more than 50.
    max_messages_per_second: int = Field(default=40, ge=10, le=45)
    # Quotes come from streaming lines kept for this many symbols (broker/ib/quotes.py; IB
    # allows an account 100 lines by default, shared with TWS); 0: a snapshot per quote.
    max_quote_lines: int = Field(default=40, ge=0, le=100)
