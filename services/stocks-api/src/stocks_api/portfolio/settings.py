"""The portfolio's settings (`PORTFOLIO_*`)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings

from stocks_api.core.config import group_config


class PortfolioSettings(BaseSettings):
    """Position and account snapshots (the history endpoints)."""

    model_config = group_config("PORTFOLIO_")

    # Besides one snapshot per fill, every open position and account is snapshotted this often.
    snapshot_interval_seconds: float = Field(default=60, ge=1, le=86400)
