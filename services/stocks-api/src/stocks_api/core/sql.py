"""`one_of(column, values)`: a membership test whose SQL does not depend on how many values.

`column.in_(values)` expands to one placeholder per value, so each batch size is a
statement of its own: PostgreSQL (through asyncpg) prepares each anew and keeps only the
last hundred. `one_of` binds the values as one parameter instead: `= ANY($1)` with an
array on PostgreSQL, `IN (SELECT value FROM json_each(?))` with a JSON list on SQLite
(whose JSON functions are built in). One statement, prepared once, for any batch.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Any

from sqlalchemy import String, bindparam
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Dialect
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


def one_of(column: Any, values: Collection[str]) -> Any:
    """`column IN values` (a mapped attribute or a column), the values bound as one parameter."""
    clause = column.__clause_element__() if hasattr(column, "__clause_element__") else column
    return _OneOf(clause, bindparam(None, sorted(values), type_=TextList()))


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
