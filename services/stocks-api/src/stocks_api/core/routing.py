"""Which HTTP methods a path answers, for the `Allow` header of a 405.

Starlette answers 405 from the first route whose path matches, so its `Allow` lists only
that route's methods: `OPTIONS /api/v1/orders/1` said `Allow: GET` although the path also
takes PATCH and DELETE. `allowed_methods` looks at every route of the app instead.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from re import Pattern
from typing import Any

from starlette.routing import BaseRoute
from starlette.types import Scope

# The order methods are listed in; others follow alphabetically.
_ORDER = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def allowed_methods(routes: Sequence[BaseRoute], scope: Scope) -> list[str]:
    """Every method that some route of `routes` answers at the request's path, in order."""
    path: str = scope["path"]
    root_path: str = scope.get("root_path", "")
    if root_path and path.startswith(root_path):  # as Starlette's routes match it
        path = path[len(root_path) :]
    methods: set[str] = set()
    for path_regex, route_methods in _http_routes(routes):
        if path_regex.match(path):
            methods |= route_methods
    return sorted(methods, key=lambda m: (_ORDER.index(m) if m in _ORDER else len(_ORDER), m))


def _http_routes(routes: Sequence[BaseRoute]) -> Iterator[tuple[Pattern[str], set[str]]]:
    """(path regex, methods) of each HTTP route, inside included routers too."""
    for route in routes:
        contexts = getattr(route, "effective_route_contexts", None)
        # FastAPI keeps an included router as one entry; its contexts are its routes.
        candidates: list[Any] = list(contexts()) if contexts is not None else [route]
        for candidate in candidates:
            for target in (candidate, getattr(candidate, "starlette_route", None)):
                path_regex = getattr(target, "path_regex", None)
                methods = getattr(target, "methods", None)
                if path_regex is not None and methods:
                    yield path_regex, set(methods)
                    break
