"""`one_of`: the same SQL for any number of values, on both backends."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect

from stocks_api.core.sql import RETURNING_CHUNK, chunk_sizes, one_of
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


@pytest.mark.parametrize("count", [0, 1, 2, 3, 31, 32, 33, 64, 65, 200, 1000])
def test_chunks_are_powers_of_two_up_to_the_limit(count: int) -> None:
    sizes = list(chunk_sizes(count))
    assert sum(sizes) == count
    assert all(size & (size - 1) == 0 and size <= RETURNING_CHUNK for size in sizes)
    # Largest first, and no more small chunks than the binary digits of the rest.
    assert sizes == sorted(sizes, reverse=True)
    assert len(sizes) == count // RETURNING_CHUNK + bin(count % RETURNING_CHUNK).count("1")


def test_an_integer_column_binds_an_integer_array() -> None:
    sql = str(select(Order.id).where(one_of(Order.parent_id, [3, 1])).compile(dialect=POSTGRESQL))
    assert '"order".parent_id = ANY(%(param_1)s::BIGINT[])' in sql
