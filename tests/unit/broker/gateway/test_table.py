"""The request table names every message id ibapi and ib_async can send."""

from __future__ import annotations

import ast
import inspect

import ib_async.client
from ibapi.message import OUT

from stocks_api.broker.gateway.table import ANSWERED, HANDLERS, REQUESTS, SERVED, SILENT


def _ib_async_message_ids() -> set[int]:
    """The message ids ib_async's Client sends: the first number of each `self.send(...)`
    and of each `fields = [...]` list it builds for one."""
    tree = ast.parse(inspect.getsource(ib_async.client))
    found: set[int] = set()
    for node in ast.walk(tree):
        first = None
        if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "send" and node.args:
            first = node.args[0]
        elif isinstance(node, ast.Assign) and isinstance(node.value, ast.List) and node.value.elts:
            target = node.targets[0]
            if isinstance(target, ast.Name) and target.id == "fields":
                first = node.value.elts[0]
        if isinstance(first, ast.Constant) and isinstance(first.value, int):
            found.add(first.value)
    return found


def test_every_ibapi_message_id_is_in_the_table() -> None:
    sent = {value for name, value in vars(OUT).items() if name.isupper()}
    assert len(sent) > 80  # the parse found the table
    assert sent - set(REQUESTS) == set()


def test_every_ib_async_message_id_is_in_the_table() -> None:
    sent = _ib_async_message_ids()
    assert {1, 3, 20, 71, 104} <= sent  # the parse found the sends
    assert sent - set(REQUESTS) == set()


def test_each_request_has_a_handler_a_kind_and_an_answer() -> None:
    for message_id, request in REQUESTS.items():
        assert HANDLERS[message_id] is request.handler
        assert request.kind in (SERVED, ANSWERED, SILENT), message_id
        if request.kind != SILENT:
            assert request.answer, f"{request.method}: say what the client gets"


def test_place_order_says_which_fields_are_honoured_and_which_refused() -> None:
    place = REQUESTS[3]
    assert place.method == "placeOrder"
    assert any("whatIf" in field for field in place.honoured)
    assert any("conditions" in field for field in place.honoured)
    assert any("goodAfterTime" in field for field in place.honoured)
    assert any("allOrNone" in field for field in place.refused)
