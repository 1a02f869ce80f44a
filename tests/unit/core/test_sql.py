"""`one_of`: the same SQL for any number of values, on both backends."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect

from stocks_api.core.sql import one_of
from stocks_api.orders.models import Order

POSTGRESQL: Dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
SQLITE: Dialect = sqlite.dialect()


@pytest.mark.parametrize(
    ("dialect", "expected"),
    [
        (POSTGRESQL, '"order".client_order_id = ANY(%(param_1)s::VARCHAR[])'),
        (SQLITE, '"order".client_order_id IN (SELECT value FROM json_each(?))'),
    ],
)
def test_one_statement_for_any_batch_size(dialect: Dialect, expected: str) -> None:
    sql = {
        str(
            select(Order.id)
            .where(one_of(Order.client_order_id, [f"c{i}" for i in range(n)]))
            .compile(dialect=dialect)
        )
        for n in (1, 2, 50)
    }
    assert len(sql) == 1
    assert expected in sql.pop()


def test_the_values_are_bound_as_one_list() -> None:
    query = select(Order.id).where(one_of(Order.client_order_id, {"b", "a"}))
    params = query.compile(dialect=POSTGRESQL).params
    assert list(params.values()) == [["a", "b"]]


def test_the_cache_key_tells_columns_apart() -> None:
    by_id = select(Order.id).where(one_of(Order.client_order_id, ["a"]))
    by_symbol = select(Order.id).where(one_of(Order.symbol, ["a"]))
    assert by_id._generate_cache_key() != by_symbol._generate_cache_key()
