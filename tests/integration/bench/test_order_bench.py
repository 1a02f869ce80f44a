"""The order benchmark itself, tiny: three servers, its checks, ratios and stage table.

`make bench-quick` and `make bench` rely on bench/orders.py; this runs its own code
in-process with a few dozen orders on each broker (its servers are subprocesses on
loopback, on fresh PostgreSQL databases) and checks that what it reports is there and
consistent: every order stored and filled, the insert floor's rows, a ratio per target,
and each stage of the order path with time counted against it.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from tests.databases import PG_HOST, PG_PORT, PG_USER, require_postgres

BENCH = Path(__file__).resolve().parents[3] / "bench"
sys.path.insert(0, str(BENCH))
import orders  # noqa: E402  (bench/ is a folder of scripts, not a package)


def stage_cpu(table: str, stage: str) -> list[float]:
    row = next(line for line in table.splitlines() if line.startswith(f"| {stage} |"))
    cells = [cell.strip() for cell in row.strip("|").split("|")[1:]]
    return [float(cells[0]), float(cells[2])]  # CPU ms/order at c=32 and at c=1


@pytest.mark.postgres
@pytest.mark.parametrize("broker", ["sim", pytest.param("ibkr", marks=pytest.mark.ibkr)])
async def test_a_tiny_run_reports_both_baselines_the_targets_and_every_stage(
    broker: str, capsys: pytest.CaptureFixture[str]
) -> None:
    require_postgres()
    admin = f"postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}/postgres"
    args = orders.parse_args(
        [
            *("--broker", broker, "--orders", "40", "--warmup", "5", "--serial", "10"),
            *("--concurrency", "8", "--no-record", "--admin-dsn", admin),
        ]
    )
    assert await orders.run(args) == 0
    out = capsys.readouterr().out

    assert re.search(r"database check: OK: 55 orders stored of 55 sent", out), out
    assert "non-201 answers: API 0, insert 0, bare 0" in out
    for label in ("API c=8", "insert c=8", "bare c=8", "API c=1", "insert c=1"):
        assert f"| {label} |" in out
    for target in ("orders/s >= 0.4x the insert floor's", "p50 <= 4x", "p99 <= 4x", "MB RSS"):
        assert target in out
    assert "API req/s / insert req/s (c=8)" in out
    table = out[out.index("| stage |") :]
    for stage in orders.STAGES:
        concurrent, serial = stage_cpu(table, stage)
        assert concurrent > 0, (stage, table)
        assert serial > 0, (stage, table)
    assert f"the API's broker: {broker}" in out
