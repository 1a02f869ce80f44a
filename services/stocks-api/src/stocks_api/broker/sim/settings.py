"""The simulated broker's settings (`SIM_*`)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings

from stocks_api.broker.sim.symbols import SymbolSpec, parse_symbols
from stocks_api.core.config import group_config


class SimSettings(BaseSettings):
    """The simulated broker: its symbols, random seed, clock and paper account."""

    model_config = group_config("SIM_")

    # Unset: chosen at random at an installation's first start and kept in its database.
    seed: int | None = None
    symbols: str = "AAPL,MSFT,GOOGL,AMZN,NVDA,META,TSLA,SPY,QQQ,IBM,AMD,NFLX"
    # Symbols that trade in fractions of a share (0.0001 increments); others need whole shares.
    fractional_symbols: str = ""
    tick_interval_seconds: float = Field(default=0.25, gt=0, le=60)
    # Annualised volatility for every symbol (e.g. 0.30); unset: each symbol's documented
    # one; 0: a flat market at the reference prices (tests and demos that name prices).
    volatility: Decimal | None = Field(default=None, ge=0, le=5)
    # IBKR paper accounts start with DU; another id makes the simulator look live.
    account_id: str = Field(default="DU1234567", pattern=r"^[A-Z]{1,3}[0-9]{1,12}$")
    account_type: Literal["margin", "cash"] = "margin"
    starting_cash: Decimal = Field(default=Decimal("1000000"), ge=0, le=Decimal("1E12"))
    # Minute bars kept per symbol (history is back-filled on first use).
    bar_history_days: int = Field(default=3, ge=1, le=30)

    @field_validator("seed", "volatility", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("symbols")
    @classmethod
    def _parsable(cls, value: str) -> str:
        parse_symbols(value)  # raises ValueError with a clear message
        return value

    @field_validator("fractional_symbols")
    @classmethod
    def _known_symbols(cls, value: str) -> str:
        return ",".join(name.strip().upper() for name in value.split(",") if name.strip())

    @model_validator(mode="after")
    def _fractional_symbols_traded(self) -> SimSettings:
        self.symbol_specs()  # raises ValueError naming untraded fractional symbols
        return self

    def symbol_specs(self) -> list[SymbolSpec]:
        fractional = set(self.fractional_symbols.split(",")) if self.fractional_symbols else set()
        specs = parse_symbols(self.symbols)
        unknown = fractional - {spec.symbol for spec in specs}
        if unknown:
            raise ValueError(f"SIM_FRACTIONAL_SYMBOLS names untraded symbols: {sorted(unknown)}")
        return [
            replace(spec, fractional=True) if spec.symbol in fractional else spec for spec in specs
        ]
