"""The fault campaign of bench/faults.py, quick: a small burst through three faults.

The campaign's own code runs here in-process; its servers are subprocesses on loopback
ports, as in `make bench`: gateway-sim with a control port and a state file, and
`stocks-api serve` on BROKER=ibkr, on a fresh PostgreSQL database per run (a clone of a
migrated template). One run each of a socket drop, an IB outage 1100 -> 1102 and a
gateway-sim SIGKILL and restart on its state file, 40 orders at concurrency 8: every count
(orders lost, unknown, duplicated, fills missing or doubled, positions, statuses, stuck,
unanswered, refused) must be 0 and the API must recover.
"""

from __future__ import annotations

import sys
from decimal import Decimal
from pathlib import Path

import pytest

from tests.databases import PG_HOST, PG_PORT, PG_USER, require_postgres

BENCH = Path(__file__).resolve().parents[3] / "bench"
sys.path.insert(0, str(BENCH))
import faults  # noqa: E402  (bench/ is a folder of scripts, not a package)

QUICK = [
    "--faults",
    "drop,outage-1102,gateway-kill",
    "--runs",
    "1",
    "--orders",
    "40",
    "--concurrency",
    "8",
    "--fault-seconds",
    "1",
    "--retry-seconds",
    "60",
    "--no-record",
]


@pytest.mark.postgres
@pytest.mark.ibkr
async def test_a_small_campaign_loses_duplicates_and_strands_nothing(tmp_path: Path) -> None:
    require_postgres()
    admin = f"postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}/postgres"
    args = faults.parse_args([*QUICK, "--admin-dsn", admin])
    results = await faults.campaign(args, tmp_path)

    assert [(r.fault, r.run) for r in results] == [
        ("drop", 1),
        ("outage-1102", 1),
        ("gateway-kill", 1),
    ]
    report = "\n\n".join(
        [faults.results_table(results), faults.traffic_table(results), faults.details_text(results)]
    )
    failed = [f"{r.fault} run {r.run}" for r in results if r.failed]
    assert failed == [], f"{report}\n\nservers' logs and requests.json in {tmp_path}"
    for result in results:
        assert result.orders == 40
        # The fault hit the burst: requests were refused or went unanswered, then retried.
        assert any(item.retried for item in result.items), report
        assert result.ib_orders >= 40 - result.counts.refused, report


def test_the_counts_see_what_they_are_meant_to() -> None:
    """The comparison itself, on made-up books: a 0 means nothing was found, not nothing looked."""
    quote = faults.Quote(bid=Decimal("100.00"), ask=Decimal("100.02"))

    def placed(cid: str, status: str, code: int = 201) -> faults.Item:
        item = faults.Item(0, "market", faults.order_body("market", "buy", "AAPL", 1, quote, cid))
        item.answers, item.status_code = [str(code)], code
        item.response = {"id": 1, "client_order_id": cid, "status": status, "legs": []}
        return item

    def api_order(id_: int, cid: str, status: str, filled: str) -> dict[str, object]:
        return {"id": id_, "client_order_id": cid, "status": status, "filled_qty": filled}

    def ib_order(cid: str, status: str, filled: str, perm: int) -> dict[str, object]:
        return {
            "order_ref": cid,
            "status": status,
            "filled": filled,
            "order_id": perm,
            "perm_id": perm,
        }

    def execution(exec_id: str, cid: str, shares: str) -> dict[str, str]:
        return {"exec_id": exec_id, "order_ref": cid, "shares": shares}

    items = [placed("a", "filled"), placed("b", "submitted"), placed("c", "pending_submit")]
    items.append(placed("f", "submitted"))  # acknowledged, but IB has no such order
    gave_up = placed("d", "filled")
    gave_up.status_code, gave_up.response, gave_up.gave_up = None, None, True
    refused = placed("e", "rejected", 422)
    refused.response = {"error": {"code": "RISK_REJECTED", "message": "no", "details": []}}
    items += [gave_up, refused]
    api = faults.ApiBooks(
        orders=[
            api_order(1, "a", "filled", "1"),
            api_order(2, "b", "submitted", "0"),
            api_order(3, "c", "pending_submit", "0"),
            api_order(4, "d", "filled", "2"),
            api_order(5, "f", "submitted", "0"),
        ],
        fills=[
            {"exec_id": "x1", "order_id": 1, "qty": "1"},
            {"exec_id": "x9", "order_id": 4, "qty": "2"},
        ],
        positions=[{"symbol": "AAPL", "qty": "3"}],
    )
    book = {
        "orders": [
            ib_order("a", "Filled", "1", 11),
            ib_order("b", "Filled", "1", 12),
            ib_order("d", "Filled", "1", 14),
            ib_order("d", "Filled", "1", 15),
            ib_order("z", "Submitted", "0", 16),
        ],
        "executions": [
            execution("x1", "a", "1"),
            execution("x2", "b", "1"),
            execution("x4", "d", "1"),
            execution("x5", "d", "1"),
        ],
        "positions": [{"symbol": "AAPL", "qty": "4"}],
    }
    counts = faults.compare(items, api, book)
    found = {name: getattr(counts, name) for name in faults.Counts.FIELDS}
    assert found == {
        # f: answered submitted, IB has none (c's pending_submit claims nothing: stuck)
        "acked_not_at_ib": 1,
        "at_ib_not_in_api": 1,  # z
        "duplicated": 1,  # d twice at IB
        "fills_missing": 4,  # x2, x4, x5 not stored; b filled 0 in the API, 1 at IB
        "fills_doubled": 1,  # x9 is not at IB
        "positions_differ": 1,  # AAPL 3 / 4
        "status_differs": 1,  # b submitted / Filled
        "stuck": 1,  # c pending_submit
        "unanswered": 1,  # d's request
        "refused": 1,  # e's 422
    }, counts.details
