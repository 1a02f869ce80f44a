"""`one_of(column, values)`: a membership test whose SQL does not depend on how many values.

`column.in_(values)` expands to one placeholder per value, so each batch size is a
statement of its own: PostgreSQL (through asyncpg) prepares each anew and keeps only the
last hundred. `one_of` binds the values as one parameter instead: `= ANY($1)` with an
array on PostgreSQL, `IN (SELECT value FROM json_each(?))` with a JSON list on SQLite
(whose JSON functions are built in). One statement, prepared once, for any batch.

`insert_returning(connection, statement, rows)` does the same for a multi-row
`INSERT ... RETURNING`: SQLAlchemy renders an executemany with RETURNING as one
`VALUES (...), (...)` statement per batch size, each a prepared statement of its own on
every connection (and a SQL string kept in the caches of both SQLAlchemy and asyncpg).
It writes the rows in chunks whose sizes are powers of two up to `RETURNING_CHUNK`, so a
table has at most six such statements, whatever the batch sizes.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator, Mapping, Sequence
from typing import Any

from sqlalchemy import BigInteger, Insert, Integer, String, bindparam
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import BindParameter, ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal
from sqlalchemy.types import NullType, TypeDecorator


class TextList(TypeDecorator[list[str]]):
    """A list of strings bound as one parameter: an array, or a JSON list on SQLite."""

    impl = String
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(ARRAY(String()))
        return dialect.type_descriptor(String())

    def process_bind_param(self, value: list[str] | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        return list(value) if dialect.name == "postgresql" else json.dumps(list(value))


class IntList(TextList):
    """A list of integers bound as one parameter: a BIGINT array, or a JSON list on SQLite."""

    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(ARRAY(BigInteger()))
        return dialect.type_descriptor(String())


class _OneOf(ColumnElement[bool]):
    inherit_cache = True
    # Typeless, so that SQLite's compiler leaves it as it is (a Boolean would get "= 1",
    # which keeps SQLite from using the column's index).
    type = NullType()  # type: ignore[assignment]

    def __init__(self, column: ColumnElement[Any], values: BindParameter[list[str]]) -> None:
        self.column = column
        self.values = values

    # What the statement cache keys on: the column, and the parameter (its value apart).
    _traverse_internals = [
        ("column", InternalTraversal.dp_clauseelement),
        ("values", InternalTraversal.dp_clauseelement),
    ]


def one_of(column: Any, values: Collection[str] | Collection[int]) -> Any:
    """`column IN values` (a mapped attribute or a column), the values bound as one parameter.

    Text values, or integers for an integer column (ids).
    """
    clause = _clause(column)
    return _OneOf(clause, bindparam(None, sorted(values), type_=_list_type(clause)))


def one_of_param(column: Any, name: str) -> Any:
    """`column IN :name`, the list given when the statement is executed (`{name: [...]}`).

    For a statement built once and executed many times (no construction per call).
    """
    clause = _clause(column)
    return _OneOf(clause, bindparam(name, type_=_list_type(clause)))


def _clause(column: Any) -> Any:
    return column.__clause_element__() if hasattr(column, "__clause_element__") else column


def _list_type(clause: Any) -> TextList:
    return IntList() if isinstance(clause.type, Integer) else TextList()


@compiles(_OneOf, "postgresql")
def _compile_postgresql(element: _OneOf, compiler: SQLCompiler, **kw: Any) -> str:
    column = compiler.process(element.column, **kw)
    return f"{column} = ANY({compiler.process(element.values, **kw)})"


@compiles(_OneOf)
def _compile_default(element: _OneOf, compiler: SQLCompiler, **kw: Any) -> str:
    # Compiled SQL of a column and a placeholder, never of a value: nothing to inject.
    column = compiler.process(element.column, **kw)
    values = compiler.process(element.values, **kw)
    return f"{column} IN (SELECT value FROM json_each({values}))"  # noqa: S608


# Rows per `INSERT ... RETURNING` statement at most (chunks of 1, 2, 4, ... 32 rows).
RETURNING_CHUNK = 32


def chunk_sizes(count: int) -> Iterator[int]:
    """Split `count` rows into chunks of powers of two, none above `RETURNING_CHUNK`."""
    while count:
        size = min(RETURNING_CHUNK, 1 << (count.bit_length() - 1))
        yield size
        count -= size


async def insert_returning(
    connection: AsyncConnection | AsyncSession,
    statement: Insert,
    rows: Sequence[Mapping[str, Any]],
) -> list[tuple[Any, ...]]:
    """Execute `statement` (an INSERT with RETURNING) for `rows`; return what it returned.

    In chunks (see the module docstring): for any number of rows, the same few statements.
    """
    returned: list[tuple[Any, ...]] = []
    start = 0
    for size in chunk_sizes(len(rows)):
        chunk = rows[start : start + size]
        start += size
        result = await connection.execute(statement, chunk[0] if size == 1 else list(chunk))
        returned.extend(tuple(row) for row in result)
    return returned
