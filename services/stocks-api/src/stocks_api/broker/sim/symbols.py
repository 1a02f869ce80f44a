"""Symbols the simulated market trades, and parsing of the setting that lists them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from types import MappingProxyType

from stocks_api.core.schemas import SYMBOL_RE

DEFAULT_START_PRICE = Decimal("100.00")
FRACTIONAL_INCREMENT = Decimal("0.0001")

# Plausible starting prices so a default setup looks like a real market; exactness is irrelevant.
REFERENCE_PRICES: Mapping[str, Decimal] = MappingProxyType(
    {
        "AAPL": Decimal("190.00"),
        "MSFT": Decimal("410.00"),
        "GOOGL": Decimal("170.00"),
        "AMZN": Decimal("180.00"),
        "NVDA": Decimal("120.00"),
        "META": Decimal("500.00"),
        "TSLA": Decimal("250.00"),
        "SPY": Decimal("520.00"),
        "QQQ": Decimal("440.00"),
        "IBM": Decimal("190.00"),
        "AMD": Decimal("160.00"),
        "NFLX": Decimal("620.00"),
    }
)


@dataclass(frozen=True, slots=True)
class Profile:
    """How a symbol trades: close-to-close annualised volatility and a typical day's volume."""

    kind: str
    annual_volatility: Decimal
    daily_volume: int  # shares, regular and extended sessions together


_LARGE_CAP = "large-cap stock"
_INDEX_ETF = "index ETF"
_VOLATILE = "volatile stock"
# Realistic for each kind (orders of magnitude of 2024-2025 figures); what the simulated
# market's statistics are calibrated to (`market.py`, measured by bench/market.py).
PROFILES: Mapping[str, Profile] = MappingProxyType(
    {
        "AAPL": Profile(_LARGE_CAP, Decimal("0.25"), 55_000_000),
        "MSFT": Profile(_LARGE_CAP, Decimal("0.22"), 20_000_000),
        "GOOGL": Profile(_LARGE_CAP, Decimal("0.28"), 25_000_000),
        "AMZN": Profile(_LARGE_CAP, Decimal("0.30"), 40_000_000),
        "META": Profile(_LARGE_CAP, Decimal("0.35"), 15_000_000),
        "IBM": Profile(_LARGE_CAP, Decimal("0.22"), 4_000_000),
        "NFLX": Profile(_LARGE_CAP, Decimal("0.35"), 4_000_000),
        "SPY": Profile(_INDEX_ETF, Decimal("0.15"), 60_000_000),
        "QQQ": Profile(_INDEX_ETF, Decimal("0.20"), 35_000_000),
        "NVDA": Profile(_VOLATILE, Decimal("0.50"), 250_000_000),
        "TSLA": Profile(_VOLATILE, Decimal("0.55"), 90_000_000),
        "AMD": Profile(_VOLATILE, Decimal("0.50"), 45_000_000),
    }
)
# The highest annualised volatility a setting may give (500 %).
MAX_VOLATILITY = Decimal(5)
# A ticker the table does not know trades like a mid-sized stock.
DEFAULT_PROFILE = Profile("stock", Decimal("0.30"), 5_000_000)


@dataclass(frozen=True, slots=True)
class SymbolSpec:
    """One simulated instrument: where its price starts and how it is quoted."""

    symbol: str
    start_price: Decimal
    tick_size: Decimal = Decimal("0.01")
    lot_size: Decimal = Decimal("100")
    # Fractional symbols trade in 0.0001-share increments, the others in whole shares.
    fractional: bool = False
    profile: Profile = DEFAULT_PROFILE
    # Annualised volatility named for this symbol in the list (``SYMBOL:PRICE:VOLATILITY``):
    # wins over the profile and over a volatility set for every symbol.
    volatility: Decimal | None = None

    @property
    def qty_increment(self) -> Decimal:
        """The smallest quantity step an order may use."""
        return FRACTIONAL_INCREMENT if self.fractional else Decimal(1)

    def __post_init__(self) -> None:
        """Reject specs the engine could not quote sensibly."""
        if not SYMBOL_RE.match(self.symbol):
            raise ValueError(f"invalid symbol {self.symbol!r}: must match {SYMBOL_RE.pattern}")
        for name in ("start_price", "tick_size", "lot_size"):
            value: Decimal = getattr(self, name)
            if not value.is_finite() or value <= 0:
                raise ValueError(f"{self.symbol}: {name} must be a positive number, got {value}")
        if self.volatility is not None and (
            not self.volatility.is_finite() or not 0 <= self.volatility <= MAX_VOLATILITY
        ):
            raise ValueError(
                f"{self.symbol}: volatility must be between 0 and {MAX_VOLATILITY}, "
                f"got {self.volatility}"
            )


def parse_symbols(text: str) -> list[SymbolSpec]:
    """Parse a setting like ``"AAPL,MSFT:410.50, spy"`` into symbol specs.

    Entries are separated by commas, upper-cased and stripped; blank entries (e.g. from a
    trailing comma) are skipped. ``SYMBOL:PRICE`` sets the start price, otherwise the
    reference table (or 100.00 for unknown tickers) is used; ``SYMBOL:PRICE:VOLATILITY``
    (``SYMBOL::VOLATILITY`` keeps the reference price) also sets its annualised volatility.

    Raises:
        ValueError: no symbols, an invalid symbol or price, or a duplicate symbol.
    """
    specs: list[SymbolSpec] = []
    seen: set[str] = set()
    for raw in text.split(","):
        entry = raw.strip()
        if not entry:
            continue
        spec = _parse_entry(entry)
        if spec.symbol in seen:
            raise ValueError(f"duplicate symbol {spec.symbol!r} in symbol list {text!r}")
        seen.add(spec.symbol)
        specs.append(spec)
    if not specs:
        raise ValueError(f"symbol list is empty: {text!r}")
    return specs


def _parse_entry(entry: str) -> SymbolSpec:
    """Parse one ``SYMBOL``, ``SYMBOL:PRICE`` or ``SYMBOL:PRICE:VOLATILITY`` entry."""
    name, sep, terms = entry.partition(":")
    price_text, has_volatility, volatility_text = terms.partition(":")
    symbol = name.strip().upper()
    if not SYMBOL_RE.match(symbol):
        raise ValueError(
            f"invalid symbol {name.strip()!r} in {entry!r}: expected 1-12 characters, "
            "a letter followed by letters, digits or dots"
        )
    profile = PROFILES.get(symbol, DEFAULT_PROFILE)
    # The price may be left out only before a volatility: "AAPL::0.5", never "AAPL:".
    keeps_price = not sep or (has_volatility and not price_text.strip())
    price = (
        REFERENCE_PRICES.get(symbol, DEFAULT_START_PRICE)
        if keeps_price
        else _parse_price(price_text.strip(), entry)
    )
    volatility = _parse_volatility(volatility_text.strip(), entry) if has_volatility else None
    return SymbolSpec(symbol, price, profile=profile, volatility=volatility)


def _parse_price(text: str, entry: str) -> Decimal:
    """Parse a start price, which must be a finite positive number."""
    try:
        price = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"invalid price {text!r} in {entry!r}: not a number") from None
    if not price.is_finite() or price <= 0:
        raise ValueError(f"invalid price {text!r} in {entry!r}: must be a positive number")
    return price


def _parse_volatility(text: str, entry: str) -> Decimal:
    """Parse an annualised volatility (0.30 is 30 %), between 0 and `MAX_VOLATILITY`."""
    try:
        volatility = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"invalid volatility {text!r} in {entry!r}: not a number") from None
    if not volatility.is_finite() or not 0 <= volatility <= MAX_VOLATILITY:
        raise ValueError(
            f"invalid volatility {text!r} in {entry!r}: must be between 0 and {MAX_VOLATILITY}"
        )
    return volatility
