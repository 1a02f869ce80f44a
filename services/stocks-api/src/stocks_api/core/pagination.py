"""Cursor pagination over any table with an increasing integer id, newest first."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession

from stocks_api.core.errors import UnprocessableError
from stocks_api.core.schemas import decode_cursor, encode_cursor


async def paginate(
    session: AsyncSession, query: Select[Any], id_column: Any, cursor: str | None, limit: int
) -> tuple[list[Any], str | None]:
    """Return one page of `query` (newest id first) and the cursor of the next page."""
    if cursor is not None:
        try:
            last_id = decode_cursor(cursor)
        except ValueError as exc:
            raise UnprocessableError(
                "invalid cursor",
                details=[{"loc": ["query", "cursor"], "msg": str(exc), "type": "value_error"}],
            ) from exc
        query = query.where(id_column < last_id)
    rows = list(await session.scalars(query.order_by(id_column.desc()).limit(limit + 1)))
    if len(rows) > limit:
        rows = rows[:limit]
        return rows, encode_cursor(rows[-1].id)
    return rows, None
