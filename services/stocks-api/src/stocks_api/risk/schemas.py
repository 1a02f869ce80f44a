"""Schemas of the risk domain: the limits (also the base of `RISK_*` settings) and the API.

Every limit is optional: `None` (an empty `RISK_*` variable, `null` in JSON) turns that
check off. The bounds are the same wherever a limit is set: in `.env`, or at run time
with `PUT /api/v1/risk/limits`.
"""

from __future__ import annotations

import enum
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    StringConstraints,
    field_validator,
    model_validator,
)
from pydantic_settings import NoDecode

from stocks_api.core.pagination import Cursor
from stocks_api.core.schemas import (
    SYMBOL_RE,
    ApiModel,
    DecimalStr,
    Page,
    Ratio,
    RequestModel,
    UTCDatetime,
)

# A figure of a response, to cents; `Money` below is a limit the trader sets, exact.
from stocks_api.core.schemas import Money as MoneyFigure

# IBKR paces API messages at 50 per second; our order rate can never be set above it.
IBKR_MESSAGES_PER_SECOND = 50
MAX_ORDERS_PER_MINUTE = IBKR_MESSAGES_PER_SECOND * 60
MAX_LISTED_SYMBOLS = 500
_OFF = frozenset({"", "off", "none", "null"})


class TradingState(enum.StrEnum):
    """What the risk engine lets through: everything checked, reductions only, or nothing."""

    ACTIVE = "active"
    REDUCING = "reducing"
    HALTED = "halted"


def _off_is_none(value: Any) -> Any:
    # `RISK_MAX_ORDER_VALUE=` or `=off` in the environment switches the check off.
    return None if isinstance(value, str) and value.strip().lower() in _OFF else value


def _symbol_list(value: Any) -> Any:
    if isinstance(value, str):
        value = value.split(",")
    # Only text is a symbol: anything else is left for validation to refuse (str(None) is not
    # a ticker called NONE).
    if isinstance(value, list | tuple | set | frozenset) and all(isinstance(v, str) for v in value):
        names = [str(v).strip().upper() for v in value]
        return tuple(sorted({name for name in names if name}))
    return value


Money = Annotated[DecimalStr, Field(gt=0, le=Decimal("1E12"), max_digits=20, decimal_places=2)]


def _valid_symbols(value: tuple[str, ...]) -> tuple[str, ...]:
    bad = [name for name in value if not SYMBOL_RE.match(name)]
    if bad:
        raise ValueError(f"not valid symbols: {', '.join(bad[:5])}")
    return value


Symbols = Annotated[
    tuple[str, ...],
    NoDecode,
    BeforeValidator(_symbol_list),
    AfterValidator(_valid_symbols),
    Field(max_length=MAX_LISTED_SYMBOLS),
]
OffMoney = Annotated[Money | None, BeforeValidator(_off_is_none)]
_Qty = Annotated[DecimalStr, Field(gt=0, le=Decimal("1E7"), max_digits=18, decimal_places=8)]
_Leverage = Annotated[DecimalStr, Field(gt=0, le=50, decimal_places=4)]
_Percent = Annotated[DecimalStr, Field(gt=0, le=100, decimal_places=4)]
_PerSecond = Annotated[int, Field(ge=1, le=IBKR_MESSAGES_PER_SECOND)]
_PerMinute = Annotated[int, Field(ge=1, le=MAX_ORDERS_PER_MINUTE)]
_Streak = Annotated[int, Field(ge=1, le=1000)]
Quantity = Annotated[_Qty | None, BeforeValidator(_off_is_none)]
Leverage = Annotated[_Leverage | None, BeforeValidator(_off_is_none)]
Percent = Annotated[_Percent | None, BeforeValidator(_off_is_none)]
PerSecond = Annotated[_PerSecond | None, BeforeValidator(_off_is_none)]
PerMinute = Annotated[_PerMinute | None, BeforeValidator(_off_is_none)]
Streak = Annotated[_Streak | None, BeforeValidator(_off_is_none)]

_DESCRIPTIONS = {
    "allowed_symbols": "only these symbols may be traded (empty: every symbol)",
    "denied_symbols": "these symbols may never be traded (wins over the allow list)",
    "max_order_qty": "largest quantity of one order",
    "max_order_value": "largest value of one order (market orders at the ask or bid)",
    "max_position_value": "largest value of one symbol's position after the order",
    "max_gross_exposure": "largest sum of all positions' absolute values after the order",
    "max_leverage": "largest gross exposure / net liquidation after the order",
    "daily_loss_limit": "loss since the session start (realized + unrealized) that halts trading",
    "max_orders_per_second": (
        f"orders and modifications per second (at most {IBKR_MESSAGES_PER_SECOND}, IBKR's pacing)"
    ),
    "max_orders_per_minute": "orders and modifications per minute",
    "price_band_percent": "largest distance of a limit or stop price from the last price, in %",
    "max_consecutive_rejections": "broker rejections in a row that trip the circuit breaker",
}


class RiskLimits(BaseModel):
    """The trader's limits; a `None` limit is switched off."""

    allowed_symbols: Symbols = Field(default=(), description=_DESCRIPTIONS["allowed_symbols"])
    denied_symbols: Symbols = Field(default=(), description=_DESCRIPTIONS["denied_symbols"])
    max_order_qty: Quantity = Field(
        default=Decimal(10000), description=_DESCRIPTIONS["max_order_qty"]
    )
    max_order_value: OffMoney = Field(
        default=Decimal(250000), description=_DESCRIPTIONS["max_order_value"]
    )
    max_position_value: OffMoney = Field(
        default=Decimal(500000), description=_DESCRIPTIONS["max_position_value"]
    )
    max_gross_exposure: OffMoney = Field(
        default=Decimal(2000000), description=_DESCRIPTIONS["max_gross_exposure"]
    )
    max_leverage: Leverage = Field(default=Decimal(2), description=_DESCRIPTIONS["max_leverage"])
    daily_loss_limit: OffMoney = Field(
        default=Decimal(20000), description=_DESCRIPTIONS["daily_loss_limit"]
    )
    max_orders_per_second: PerSecond = Field(
        default=20, description=_DESCRIPTIONS["max_orders_per_second"]
    )
    max_orders_per_minute: PerMinute = Field(
        default=600, description=_DESCRIPTIONS["max_orders_per_minute"]
    )
    price_band_percent: Percent = Field(
        default=Decimal(10), description=_DESCRIPTIONS["price_band_percent"]
    )
    max_consecutive_rejections: Streak = Field(
        default=5, description=_DESCRIPTIONS["max_consecutive_rejections"]
    )


LIMIT_NAMES: tuple[str, ...] = tuple(RiskLimits.model_fields)


# The limits as a request body gives them: JSON types only, taken strictly. The settings
# (`RiskLimits`) also read "off" and comma-separated lists, the forms of an environment
# variable; a body switches a check off with null and lists symbols in an array.
SYMBOL_INPUT_PATTERN = r"^[A-Za-z][A-Za-z0-9.]{0,11}$"  # any case: "gme" is GME


def _distinct_upper(value: list[str]) -> list[str]:
    return sorted({name.upper() for name in value})


_SymbolInput = Annotated[
    StrictStr, StringConstraints(strip_whitespace=False, pattern=SYMBOL_INPUT_PATTERN)
]
SymbolsInput = Annotated[
    list[_SymbolInput], Field(max_length=MAX_LISTED_SYMBOLS), AfterValidator(_distinct_upper)
]
_PerSecondInput = Annotated[StrictInt, Field(ge=1, le=IBKR_MESSAGES_PER_SECOND)]
_PerMinuteInput = Annotated[StrictInt, Field(ge=1, le=MAX_ORDERS_PER_MINUTE)]
_StreakInput = Annotated[StrictInt, Field(ge=1, le=1000)]


class RiskLimitsUpdate(RequestModel):
    """A change of limits: the fields given are set (`null` switches a check off)."""

    # At least one limit, not only a reason: `not` refuses an object that has no property
    # but `reason` (openapi-typescript ignores it, so the generated type stays a plain one).
    model_config = ConfigDict(
        json_schema_extra={
            "minProperties": 1,
            "not": {"additionalProperties": False, "properties": {"reason": {}}},
            # What Swagger UI sends: a valid change (its own sample would set every limit
            # to 0 and every symbol list to ["string"]).
            "examples": [{"max_order_qty": "500", "reason": "smaller orders this week"}],
        }
    )

    allowed_symbols: SymbolsInput | None = None
    denied_symbols: SymbolsInput | None = None
    max_order_qty: _Qty | None = None
    max_order_value: Money | None = None
    max_position_value: Money | None = None
    max_gross_exposure: Money | None = None
    max_leverage: _Leverage | None = None
    daily_loss_limit: Money | None = None
    max_orders_per_second: _PerSecondInput | None = None
    max_orders_per_minute: _PerMinuteInput | None = None
    price_band_percent: _Percent | None = None
    max_consecutive_rejections: _StreakInput | None = None
    reason: str | None = Field(default=None, max_length=500, description="kept in the audit trail")

    @model_validator(mode="after")
    def _changes_something(self) -> RiskLimitsUpdate:
        if not self.changes():
            raise ValueError(f"give at least one limit to change: {', '.join(LIMIT_NAMES)}")
        return self

    def changes(self) -> dict[str, Any]:
        """The limits this update sets, as given (JSON-ready values; None switches off)."""
        given = self.model_fields_set - {"reason"}
        dumped = self.model_dump(mode="json", include=given)
        # A list may be given as null too: that empties it.
        return {
            name: ([] if value is None and "symbols" in name else value)
            for name, value in dumped.items()
        }


class LimitsResetRequest(RequestModel):
    """Drop run-time changes so the `RISK_*` settings apply again."""

    limits: list[Annotated[str, Field(json_schema_extra={"enum": list(LIMIT_NAMES)})]] | None = (
        Field(default=None, description="the limits to reset (default: all)")
    )
    reason: str | None = Field(default=None, max_length=500)

    @field_validator("limits")
    @classmethod
    def _known(cls, value: list[str] | None) -> list[str] | None:
        unknown = sorted(set(value or ()) - set(LIMIT_NAMES))
        if unknown:
            raise ValueError(f"unknown limits: {', '.join(unknown)}")
        return value


class HaltRequest(RequestModel):
    """Stop trading now."""

    reason: str | None = Field(default=None, max_length=500)
    cancel_open_orders: StrictBool = Field(
        default=False, description="also cancel every open order"
    )
    flatten_positions: StrictBool = Field(
        default=False,
        description="also close every position with market orders (implies cancel_open_orders)",
    )


class ResumeRequest(RequestModel):
    """Trade again: fully (`active`) or reductions only (`reducing`)."""

    state: Literal[TradingState.ACTIVE, TradingState.REDUCING] = TradingState.ACTIVE
    reason: str | None = Field(default=None, max_length=500)

    @field_validator("state", mode="before")
    @classmethod
    def _resumable(cls, value: Any) -> Any:
        if value == TradingState.HALTED:
            raise ValueError("resume to active or reducing; halt with POST /api/v1/risk/halt")
        if value not in (TradingState.ACTIVE, TradingState.REDUCING):
            raise ValueError("state must be active or reducing")
        return value


class RiskUsage(ApiModel):
    """Where the account stands against the limits now."""

    account_id: str | None
    session_start: UTCDatetime
    daily_pnl: MoneyFigure | None = Field(description="net liquidation now minus at session start")
    daily_loss_limit_used: Ratio | None = Field(description="today's loss / the limit (0..1+)")
    net_liquidation: MoneyFigure | None
    gross_exposure: MoneyFigure | None = Field(description="sum of the positions' absolute values")
    gross_exposure_with_open_orders: MoneyFigure | None = Field(
        description="as the checks see it: as if every open order filled"
    )
    leverage: Ratio | None
    orders_last_second: int
    orders_last_minute: int
    consecutive_broker_rejections: int
    unpriced_symbols: list[str]


class RiskStateRead(ApiModel):
    """The trading state and the last change of it."""

    state: TradingState
    reason: str | None
    changed_by: str | None
    changed_at: UTCDatetime | None


class RiskStatus(RiskStateRead):
    """`GET /api/v1/risk`: state, limits, where each limit comes from, usage."""

    limits: RiskLimits
    limit_sources: dict[str, str] = Field(description="per limit: `settings` or `runtime`")
    usage: RiskUsage


class HaltResult(ApiModel):
    """What a halt did."""

    state: RiskStateRead
    cancel_requested: list[int] = Field(description="ids of orders asked to cancel")
    cancel_failed: list[dict[str, Any]]
    flatten_orders: list[int] = Field(description="ids of the closing market orders")
    flatten_failed: list[dict[str, Any]]


class RiskEventRead(ApiModel):
    """One entry of the risk audit trail: a state change or a change of limits."""

    id: int
    kind: str
    from_state: TradingState | None
    to_state: TradingState | None
    actor: str
    reason: str | None
    payload: dict[str, Any]
    created_at: UTCDatetime


class RiskEventPage(Page[RiskEventRead]):
    """A page of risk events, newest first."""


class RiskEventFilters(RequestModel):
    """Query parameters of `GET /api/v1/risk/events`."""

    limit: int = Field(default=100, ge=1, le=500)
    cursor: Cursor = None
