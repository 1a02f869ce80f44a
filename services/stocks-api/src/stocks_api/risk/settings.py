"""The risk limits at start-up (`RISK_*`)."""

from __future__ import annotations

from pydantic_settings import BaseSettings

from stocks_api.core.config import group_config
from stocks_api.risk.schemas import RiskLimits


class RiskSettings(BaseSettings, RiskLimits):
    """The risk limits at start-up (`PUT /api/v1/risk/limits` changes them at run time).

    Every limit can be switched off with an empty value; lists are comma-separated.
    """

    model_config = group_config("RISK_")
