"""gateway-sim's state file: what is saved and flushed comes back as it was (state.py)."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from stocks_api.broker.gateway.model import IbCommission, IbContract, IbExecution, IbOrder
from stocks_api.broker.gateway.state import StateFile, StateFileError
from stocks_api.core.ledger import Holding

D = Decimal
AAPL = IbContract(con_id=265_598, symbol="AAPL", min_tick=D("0.01"))


def order(**changes: object) -> IbOrder:
    base = IbOrder(
        order_id=3,
        client_id=7,
        perm_id=41_001,
        contract=AAPL,
        action="BUY",
        total_qty=D(10),
        order_type="STP LMT",
        account="DU1234567",
        order_ref="cid-1",
        lmt_price=D("190.5"),
        aux_price=D("190.25"),
        tif="GTC",
        oca_group="oca-1",
        parent_id=2,
        bracket_parent_perm_id=41_000,
        held=True,
        triggered=True,
        expires_at=datetime(2024, 3, 4, 21, tzinfo=UTC),
        trailing_percent=None,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def execution(exec_id: str = "0000e0d5.00000001.01.01") -> tuple[IbExecution, IbCommission]:
    fill = IbExecution(
        exec_id=exec_id,
        order_id=3,
        client_id=7,
        perm_id=41_001,
        contract=AAPL,
        time=datetime(2024, 3, 4, 15, 30, 1, tzinfo=UTC),
        account="DU1234567",
        side="BOT",
        shares=D(4),
        price=D("190.01"),
        cum_qty=D(4),
        avg_price=D("190.01"),
        order_ref="cid-1",
    )
    return fill, IbCommission(exec_id=exec_id, commission=D("1.00"), realized_pnl=None)


def test_a_new_file_holds_nothing(tmp_path: Path) -> None:
    state = StateFile(tmp_path / "gw.sqlite3")
    assert state.load() is None
    assert not state.dirty
    state.close()


def test_what_was_flushed_comes_back(tmp_path: Path) -> None:
    path = tmp_path / "gw.sqlite3"
    state = StateFile(path)
    state.save_meta(
        schema="1",
        account="DU1234567",
        cash=D("998099.9"),
        next_perm_id=41_002,
        exec_prefix=57,
        exec_seq=1,
    )
    state.save_client(7, 3)
    state.save_con_id("AAPL", 265_598)
    working = order()
    state.save_order(working)
    fill, report = execution()
    state.save_execution(1, fill, report)
    state.save_holding("AAPL", Holding(D(4), D("190.26"), D(0)))
    # The order changes after it was saved: the flush writes it as it is then.
    working.filled = D(4)
    working.avg_fill_price = D("190.01")
    working.commission = D("1.00")
    assert state.dirty
    state.flush()
    assert not state.dirty
    state.close()

    saved = StateFile(path).load()
    assert saved is not None
    assert (saved.account, saved.cash) == ("DU1234567", D("998099.9"))
    assert (saved.next_perm_id, saved.exec_prefix, saved.exec_seq) == (41_002, 57, 1)
    assert saved.highest_order_ids == {7: 3}
    assert saved.con_ids == {"AAPL": 265_598}
    assert saved.orders == [working]
    assert saved.executions == [(fill, report)]
    assert saved.holdings == {"AAPL": Holding(D(4), D("190.26"), D(0))}


def test_an_order_saved_again_is_one_row_with_its_latest_state(tmp_path: Path) -> None:
    state = StateFile(tmp_path / "gw.sqlite3")
    state.save_meta(schema="1", account="DU1", cash=1, next_perm_id=1, exec_prefix=1, exec_seq=0)
    first = order(perm_id=1, order_id=1)
    second = order(perm_id=2, order_id=2)
    state.save_order(first)
    state.save_order(second)
    state.flush()
    state.save_order(replace(first, status="Cancelled", held=False))
    state.flush()
    saved = state.load()
    assert saved is not None
    assert [(o.perm_id, o.status) for o in saved.orders] == [(1, "Cancelled"), (2, "PreSubmitted")]


def test_nothing_is_on_disk_before_the_flush(tmp_path: Path) -> None:
    path = tmp_path / "gw.sqlite3"
    state = StateFile(path)
    state.save_order(order())
    other = sqlite3.connect(path)
    assert other.execute("SELECT count(*) FROM ib_order").fetchone() == (0,)
    state.flush()
    assert other.execute("SELECT count(*) FROM ib_order").fetchone() == (1,)
    assert other.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    other.close()
    state.close()


def test_a_file_of_another_kind_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("not a database, but long enough to have a header of sorts " * 20)
    with pytest.raises(StateFileError, match="not a usable state file"):
        StateFile(path)

    newer = tmp_path / "newer.sqlite3"
    state = StateFile(newer)
    state.save_meta(schema="99", account="DU1")
    state.close()
    with pytest.raises(StateFileError, match="schema '99'"):
        StateFile(newer).load()
