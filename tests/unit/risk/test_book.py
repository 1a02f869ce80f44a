"""The risk book in memory: open quantities per side, OCA groups, stale reports, bounds."""

from __future__ import annotations

from decimal import Decimal

from stocks_api.broker.protocol import Side
from stocks_api.risk.book import CLOSED_KEPT, OpenOrder, OpenQty, TradingBook

D = Decimal


def _book() -> TradingBook:
    book = TradingBook()
    book.replace(
        [
            ("a", OpenOrder("AAPL", Side.BUY, D("10"))),
            ("b", OpenOrder("AAPL", Side.SELL, D("4"))),
            # A bracket's two children: they fill once between them, the larger counts.
            ("tp", OpenOrder("AAPL", Side.SELL, D("6"), "oca-1")),
            ("sl", OpenOrder("AAPL", Side.SELL, D("5"), "oca-1")),
            ("m", OpenOrder("MSFT", Side.BUY, D("1.5"))),
        ],
        [("DU1", "AAPL", D("20")), ("DU1", "TSLA", D("0")), ("DU2", "MSFT", D("-3"))],
        {"DU1": D("1000.00")},
    )
    return book


def test_open_quantities_sum_per_side_with_oca_groups_counted_once() -> None:
    book = _book()
    assert book.open_qty("AAPL") == OpenQty(D("10"), D("10"))
    assert book.open_qty("MSFT") == OpenQty(D("1.5"), D("0"))
    assert book.open_qty("NVDA") == OpenQty()
    assert book.open_qty("AAPL", exclude="a") == OpenQty(D("0"), D("10"))
    assert book.open_qty("AAPL", exclude="tp") == OpenQty(D("10"), D("9"))
    assert book.open_symbols() == {"AAPL", "MSFT"}


def test_positions_and_cash_per_account_zero_positions_left_out() -> None:
    book = _book()
    assert book.positions("DU1") == {"AAPL": D("20")}
    assert book.positions("DU2") == {"MSFT": D("-3")}
    assert book.positions(None) == {}
    assert book.cash("DU1") == D("1000.00")
    assert book.cash("DU2") is None
    book.note_position("DU1", "AAPL", D("0"))
    book.note_cash("DU1", D("999.99"))
    assert book.positions("DU1") == {}
    assert book.cash("DU1") == D("999.99")


def test_reports_move_orders_in_and_out_and_the_totals_follow() -> None:
    book = _book()
    assert book.open_qty("AAPL").buy == D("10")  # computed and kept
    assert book.note_order("a", OpenOrder("AAPL", Side.BUY, D("7")))
    assert book.open_qty("AAPL").buy == D("7")
    assert book.note_order("a", None)
    assert book.open_qty("AAPL").buy == D("0")
    assert book.note_order("m", None)
    assert "MSFT" not in book.open_symbols()


def test_a_report_from_a_read_older_than_the_last_report_is_refused() -> None:
    book = _book()
    seen_at = book.clock  # a writer reads the row now
    assert book.note_order("a", OpenOrder("AAPL", Side.BUY, D("3")))  # another reports later
    # The first writer's copy is older than that report: refused, nothing changed.
    assert not book.note_order("a", OpenOrder("AAPL", Side.BUY, D("10")), seen_at=seen_at)
    assert book.entry("a") == OpenOrder("AAPL", Side.BUY, D("3"))
    # A read after the last report is taken.
    assert book.note_order("a", None, seen_at=book.clock)
    assert book.entry("a") is None
    # So is a stale copy of a closed order once refused... as long as it is remembered.
    stale = book.clock - 1
    assert not book.note_order("a", OpenOrder("AAPL", Side.BUY, D("1")), seen_at=stale)


def test_restoring_a_reservation_puts_back_what_was_there() -> None:
    book = _book()
    book.note_order("new", OpenOrder("AAPL", Side.BUY, D("5")))
    assert book.open_qty("AAPL").buy == D("15")
    book.restore("new", None)
    assert book.open_qty("AAPL").buy == D("10")
    book.restore("a", OpenOrder("AAPL", Side.BUY, D("2")))
    assert book.open_qty("AAPL").buy == D("2")


def test_closed_orders_are_remembered_only_up_to_a_bound() -> None:
    book = TradingBook()
    book.replace([], [], {})
    for n in range(CLOSED_KEPT + 500):
        book.note_order(f"o{n}", OpenOrder("AAPL", Side.BUY, D("1")))
        book.note_order(f"o{n}", None)
    assert len(book._closed_at) == CLOSED_KEPT
    assert not book._noted_at
    assert book.open_orders() == {}
