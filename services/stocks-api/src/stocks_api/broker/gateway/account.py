"""The account as IB reports it: account values, account summary tags and what-if margins.

All of them come from one computation, `broker.valuation.account_figures` (Reg T for US
stocks: 50% initial, 25%/30% maintenance, 2:1 buying power, a cash account fully paid),
the same arithmetic the API's account summary uses, so a program sees the same
NetLiquidation, margins and buying power from gateway-sim as from `GET /accounts/...`.

IB's tag names and their meaning (TWS API, "Account Summary Tags"): EquityWithLoanValue
is cash plus stock value for a stock account, RegTEquity the same, SMA the excess over Reg
T initial margin; "Full*" and "LookAhead*" equal the current figures, since the simulator
has no overnight margin changes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from stocks_api.broker.protocol import AccountType
from stocks_api.broker.sim.commission import order_commission
from stocks_api.broker.valuation import Figures, MarkedPosition, account_figures

ZERO = Decimal(0)
BASE = "USD"

# The tags reqAccountSummary serves, in the order IB lists them; each is one account value.
SUMMARY_TAGS = (
    "AccountType",
    "NetLiquidation",
    "TotalCashValue",
    "SettledCash",
    "AccruedCash",
    "BuyingPower",
    "EquityWithLoanValue",
    "PreviousDayEquityWithLoanValue",
    "GrossPositionValue",
    "RegTEquity",
    "RegTMargin",
    "SMA",
    "InitMarginReq",
    "MaintMarginReq",
    "AvailableFunds",
    "ExcessLiquidity",
    "Cushion",
    "FullInitMarginReq",
    "FullMaintMarginReq",
    "FullAvailableFunds",
    "FullExcessLiquidity",
    "LookAheadNextChange",
    "LookAheadInitMarginReq",
    "LookAheadMaintMarginReq",
    "LookAheadAvailableFunds",
    "LookAheadExcessLiquidity",
    "HighestSeverity",
    "DayTradesRemaining",
    "Leverage",
)
# "$LEDGER", "$LEDGER:USD" and "$LEDGER:ALL" ask for these, per currency.
LEDGER_TAGS = (
    "CashBalance",
    "TotalCashBalance",
    "NetLiquidationByCurrency",
    "StockMarketValue",
    "UnrealizedPnL",
    "RealizedPnL",
    "ExchangeRate",
)
_NO_CURRENCY = frozenset(
    {"AccountType", "Cushion", "LookAheadNextChange", "HighestSeverity", "DayTradesRemaining"}
)
_NO_CURRENCY |= {"Leverage"}


@dataclass(frozen=True, slots=True)
class AccountValue:
    """One of IB's account values: tag, text value, currency ("" for a plain number)."""

    tag: str
    value: str
    currency: str


@dataclass(frozen=True, slots=True)
class WhatIf:
    """A what-if order's answer (IB's OrderState margin fields and commission)."""

    init_before: Decimal
    maint_before: Decimal
    equity_before: Decimal
    init_after: Decimal
    maint_after: Decimal
    equity_after: Decimal
    commission: Decimal
    warning: str = ""

    @property
    def init_change(self) -> Decimal:
        return self.init_after - self.init_before

    @property
    def maint_change(self) -> Decimal:
        return self.maint_after - self.maint_before

    @property
    def equity_change(self) -> Decimal:
        return self.equity_after - self.equity_before


def _text(value: Decimal) -> str:
    return format(value.quantize(Decimal("0.01")), "f")


def account_values(
    figures: Figures, *, account_type: AccountType, unrealized: Decimal, realized: Decimal
) -> list[AccountValue]:
    """Every account value gateway-sim reports (reqAccountUpdates, the summary, ...)."""
    f = figures
    numbers = {
        "NetLiquidation": f.net_liquidation,
        "TotalCashValue": f.cash,
        "SettledCash": f.cash,
        "AccruedCash": ZERO,
        "BuyingPower": f.buying_power,
        "EquityWithLoanValue": f.net_liquidation,
        "PreviousDayEquityWithLoanValue": f.net_liquidation,
        "GrossPositionValue": f.gross_position_value,
        "RegTEquity": f.net_liquidation,
        "RegTMargin": f.initial_margin,
        "SMA": max(f.net_liquidation - f.initial_margin, ZERO),
        "InitMarginReq": f.initial_margin,
        "MaintMarginReq": f.maintenance_margin,
        "AvailableFunds": f.available_funds,
        "ExcessLiquidity": f.excess_liquidity,
        "FullInitMarginReq": f.initial_margin,
        "FullMaintMarginReq": f.maintenance_margin,
        "FullAvailableFunds": f.available_funds,
        "FullExcessLiquidity": f.excess_liquidity,
        "LookAheadInitMarginReq": f.initial_margin,
        "LookAheadMaintMarginReq": f.maintenance_margin,
        "LookAheadAvailableFunds": f.available_funds,
        "LookAheadExcessLiquidity": f.excess_liquidity,
        "CashBalance": f.cash,
        "TotalCashBalance": f.cash,
        "NetLiquidationByCurrency": f.net_liquidation,
        "StockMarketValue": f.market_value,
        "UnrealizedPnL": unrealized,
        "RealizedPnL": realized,
    }
    # Our adapter reads "CASH" as a cash account (no short sales), as IB names it.
    kind = "CASH" if account_type is AccountType.CASH else "INDIVIDUAL"
    values = [AccountValue("AccountType", kind, "")]
    values += [AccountValue(tag, _text(value), BASE) for tag, value in numbers.items()]
    values += [
        AccountValue("Cushion", format(f.cushion, "f"), ""),
        AccountValue("Leverage", format(f.leverage, "f"), ""),
        AccountValue("LookAheadNextChange", "0", ""),
        AccountValue("HighestSeverity", "0", ""),
        AccountValue("DayTradesRemaining", "-1", ""),  # IB's "unlimited" (no PDT count)
        AccountValue("ExchangeRate", "1.00", BASE),
    ]
    return values


def summary_values(values: Sequence[AccountValue], tags: str) -> list[AccountValue]:
    """The values reqAccountSummary's comma-separated `tags` ask for, in IB's order.

    A tag IB does not know is left out, as IB leaves it out.
    """
    wanted = {tag.strip() for tag in tags.split(",") if tag.strip()}
    by_tag = {value.tag: value for value in values}
    chosen = [by_tag[tag] for tag in SUMMARY_TAGS if tag in wanted and tag in by_tag]
    ledger = {tag for tag in wanted if tag.upper().startswith("$LEDGER")}
    if ledger:
        currencies = [BASE]
        if any(tag.upper() == "$LEDGER:ALL" for tag in ledger):
            currencies = [BASE, "BASE"]  # each currency, then the base-currency totals
        for currency in currencies:
            chosen += [
                AccountValue(tag, by_tag[tag].value, currency)
                for tag in LEDGER_TAGS
                if tag in by_tag
            ]
    return chosen


def figures_of(
    cash: Decimal, holdings: Iterable[tuple[Decimal, Decimal]], account_type: AccountType
) -> Figures:
    """The Reg T figures of `cash` and (signed quantity, price) holdings."""
    return account_figures(
        cash, [MarkedPosition(qty, price) for qty, price in holdings], account_type
    )


def what_if(
    *,
    cash: Decimal,
    holdings: dict[str, tuple[Decimal, Decimal]],
    account_type: AccountType,
    symbol: str,
    signed_qty: Decimal,
    price: Decimal,
) -> WhatIf:
    """The margin and equity before and after `signed_qty` of `symbol` trades at `price`,
    with the commission it would cost; `holdings` maps symbol -> (signed qty, price)."""
    before = figures_of(cash, holdings.values(), account_type)
    commission = order_commission(abs(signed_qty), abs(signed_qty) * price)
    held, _ = holdings.get(symbol, (ZERO, price))
    after_holdings = dict(holdings)
    after_holdings[symbol] = (held + signed_qty, price)
    cash_after = cash - signed_qty * price - commission
    after = figures_of(cash_after, after_holdings.values(), account_type)
    warning = ""
    if account_type is AccountType.CASH and cash_after < 0:
        warning = "A cash account cannot borrow: the order needs more cash than the account has."
    elif after.available_funds < 0:
        warning = "The order would leave negative available funds (insufficient margin)."
    return WhatIf(
        init_before=before.initial_margin,
        maint_before=before.maintenance_margin,
        equity_before=before.net_liquidation,
        init_after=after.initial_margin,
        maint_after=after.maintenance_margin,
        equity_after=after.net_liquidation,
        commission=commission,
        warning=warning,
    )
