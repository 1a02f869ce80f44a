"""Cursor pagination over any table with an increasing integer id, newest first."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field
from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession

from stocks_api.core.errors import UnprocessableError
from stocks_api.core.schemas import decode_cursor, encode_cursor

# Exactly the cursors `encode_cursor` makes for ids below 10**18: "id:<digits>" in unpadded
# base64url. "id:" is the 4 characters aWQ6; then every 3 ASCII digits are 4 characters,
# and 1 or 2 left over are 2 or 3 (the first two characters of a group carry one digit
# between them, so they are listed in pairs). Documented, so that a client (or a schema-based
# test) can tell a cursor from any other string without asking the server.
_DIGITS_3 = r"(?:[MN][DTjz]|O[DT])[AEIMQUYcgk][w-z0-5]"
_DIGITS_2 = r"(?:[MN][DTjz]|O[DT])[AEIMQUYcgk]"
_DIGITS_1 = r"(?:[MN][AQgw]|O[AQ])"
CURSOR_PATTERN = rf"^aWQ6(?:{_DIGITS_3}){{0,5}}(?:{_DIGITS_3}|{_DIGITS_2}|{_DIGITS_1})$"

# The `cursor` query parameter of every paginated list (absent: the first page).
Cursor = Annotated[
    str | None,
    Field(
        pattern=CURSOR_PATTERN,
        max_length=28,
        description="`next_cursor` of the previous page (opaque)",
        examples=["aWQ6MTAw"],
    ),
]


async def paginate(
    session: AsyncSession, query: Select[Any], id_column: Any, cursor: str | None, limit: int
) -> tuple[list[Any], str | None]:
    """Return one page of `query` (newest id first) and the cursor of the next page."""
    if cursor is not None:
        try:
            last_id = decode_cursor(cursor)
            if last_id >= 2**63:  # past any id, and past what PostgreSQL's bigint compares
                raise ValueError("malformed cursor")
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
