"""JSON request bodies read exactly: numbers as decimals from their text, one value per key.

FastAPI reads a JSON body with `json.loads`, which turns every number with a fraction into a
binary float before any validation runs (`190.999999999999999999` arrives as 191.0) and lets
the last of two equal keys win silently. Every route of the API is an `ExactJsonRoute`, whose
requests parse their body with `parse_exact_json` instead: fractions and exponents become
`Decimal`s built from the literal's text, integers stay exact, a key given twice is refused.

A body that cannot be read is not refused here but handed on as an `UnreadableBody`, which
every request schema (`core.schemas.RequestModel`) refuses when it validates the body. FastAPI
validates the body after the route's dependencies, so a request without credentials gets its
401 before it hears about its JSON, as it would for any other mistake in the body.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute
from pydantic_core import PydanticCustomError

# Longer integer literals are refused rather than converted: Python caps int() of a string
# at 4,300 digits, and no field of the API is near this size.
_MAX_INT_DIGITS = 400


@dataclass(frozen=True, slots=True)
class UnreadableBody:
    """A body that is not JSON the API takes, and why; refused when the body is validated."""

    kind: str  # "json_invalid" (answered 400 MALFORMED_JSON) or "duplicate_key" (422)
    message: str

    def error(self) -> PydanticCustomError:
        """The validation error that refuses the body."""
        return PydanticCustomError(self.kind, self.message)


class _DuplicateKeyError(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _object_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKeyError(key)
        result[key] = value
    return result


def _exact_int(text: str) -> int:
    if len(text.lstrip("-")) > _MAX_INT_DIGITS:
        raise ValueError(f"an integer longer than {_MAX_INT_DIGITS} digits")
    return int(text)


def _not_json(name: str) -> Any:
    # json.loads accepts NaN, Infinity and -Infinity, which are not JSON (RFC 8259).
    raise ValueError(f"{name} is not a JSON value")


def parse_exact_json(body: bytes | str) -> Any:
    """Parse a JSON document exactly, or return an `UnreadableBody` saying why it cannot be."""
    try:
        return json.loads(
            body,
            parse_float=Decimal,
            parse_int=_exact_int,
            parse_constant=_not_json,
            object_pairs_hook=_object_without_duplicates,
        )
    except _DuplicateKeyError as exc:
        return UnreadableBody(
            "duplicate_key", f"the key {exc.key!r} appears more than once in the JSON body"
        )
    except json.JSONDecodeError as exc:
        return UnreadableBody("json_invalid", f"JSON decode error: {exc.msg} at position {exc.pos}")
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        return UnreadableBody("json_invalid", f"JSON decode error: {exc}")


class ExactJsonRequest(Request):
    """A request whose `json()` is `parse_exact_json` of its body."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = parse_exact_json(await self.body())
        return self._json


class ExactJsonRoute(APIRoute):
    """The route class of every API router: its handler reads JSON bodies exactly."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def exact_json_handler(request: Request) -> Response:
            return await handler(ExactJsonRequest(request.scope, request.receive))

        return exact_json_handler
