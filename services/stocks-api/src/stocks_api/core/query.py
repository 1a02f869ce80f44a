"""Types of query and path parameters shared by the endpoints."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import Path
from pydantic import BeforeValidator
from pydantic_core import PydanticCustomError

from stocks_api.core.schemas import UTCDatetime

# A symbol in a path (`/positions/{symbol}`), either case; routes upper-case it.
SymbolPath = Annotated[str, Path(pattern=r"^[A-Za-z][A-Za-z0-9.]{0,11}$", examples=["AAPL"])]

# The start of an ISO 8601 (RFC 3339) time: a date, "T" (or a space), hours and minutes.
_ISO_8601_START = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}", re.ASCII)


def _iso_8601_text(value: Any) -> Any:
    # pydantic would also read "0.5" or "1700000000" as Unix seconds, and "2024-05-01" as its
    # midnight: a filter documented as an ISO 8601 time takes only that.
    if isinstance(value, str) and not _ISO_8601_START.match(value):
        raise PydanticCustomError(
            "datetime_iso_8601",
            "must be a time in ISO 8601, e.g. 2024-05-01T14:30:00Z (UTC when no offset)",
        )
    return value


# A point in time in a query string (`since`, `until`, `end`): ISO 8601, aware UTC after.
QueryDatetime = Annotated[UTCDatetime, BeforeValidator(_iso_8601_text)]
