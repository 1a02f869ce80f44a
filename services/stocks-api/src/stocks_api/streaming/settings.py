"""The WebSocket stream's settings (`WS_*`)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings

from stocks_api.core.config import group_config


class StreamSettings(BaseSettings):
    """The WebSocket stream at /api/v1/ws."""

    model_config = group_config("WS_")

    # A heartbeat message goes out after this many seconds without any other message.
    heartbeat_seconds: float = Field(default=15, gt=0, le=300)
    # Messages queued for one client before it counts as too slow and is closed with 4408.
    queue_size: int = Field(default=1000, ge=10, le=100_000)
    # Time a client has to authenticate (query, headers or an `auth` message) after connecting.
    auth_timeout_seconds: float = Field(default=5, gt=0, le=60)
    # Quotes of followed symbols are polled from the broker this often.
    quote_interval_seconds: float = Field(default=0.25, ge=0.05, le=60)
    # A held symbol's position is revalued at a new quote at most once per this many
    # seconds (the latest price is held, then sent, when quotes come faster).
    position_interval_seconds: float = Field(default=0.25, ge=0.05, le=60)
    # `quotes:SYMBOL` channels one connection may follow.
    max_quote_symbols: int = Field(default=50, ge=1, le=500)
    # Compress frames (permessage-deflate) when the client offers it. Off: compressing
    # each frame for each client was a third of the server's fan-out CPU (bench/RESULTS.md).
    per_message_deflate: bool = False
