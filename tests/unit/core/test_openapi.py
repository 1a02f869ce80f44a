"""The OpenAPI document: every error in the envelope, and only JSON Schema in it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from stocks_api.auth.settings import AuthSettings
from stocks_api.core.config import DatabaseSettings
from stocks_api.main import create_app
from stocks_api.settings import Settings

PUBLIC = {("post", "/api/v1/auth/token")}
METHODS = {"get", "post", "put", "patch", "delete"}


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    settings = Settings(
        database=DatabaseSettings(url="sqlite+aiosqlite:///:memory:"),
        auth=AuthSettings(bootstrap_admin_key=False),
    )
    return create_app(settings).openapi()


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


def test_every_error_is_the_envelope(document: dict[str, Any]) -> None:
    envelope = {"$ref": "#/components/schemas/ErrorResponse"}
    for method, path, operation in _operations(document):
        for status, response in operation["responses"].items():
            if status[0] not in "45" or (path, status) == ("/health/ready", "503"):
                continue
            schema = response["content"]["application/json"]["schema"]
            assert schema == envelope, f"{method} {path} {status}"
    schemas = document["components"]["schemas"]
    assert "HTTPValidationError" not in schemas
    assert set(schemas["ErrorBody"]["required"]) == {"code", "message", "details", "request_id"}


def test_the_errors_every_operation_can_answer_are_documented(document: dict[str, Any]) -> None:
    for method, path, operation in _operations(document):
        statuses = set(operation["responses"])
        assert "422" in statuses, f"{method} {path}"  # the NUL check, and validation
        if "requestBody" in operation:
            assert {"400", "413"} <= statuses, f"{method} {path}"
        if path.startswith("/api/v1") and (method, path) not in PUBLIC:
            assert {"401", "403"} <= statuses, f"{method} {path}"
        if path.startswith("/api/v1") and method != "get" and (method, path) not in PUBLIC:
            assert "503" in statuses, f"{method} {path}"  # the read-only standby


def test_only_json_schema_keywords(document: dict[str, Any]) -> None:
    text = json.dumps(document)
    for keyword in ("decimal_places", "max_digits", '"gt"', '"le"', '"lt"', '"ge"'):
        assert keyword not in text, keyword


def test_bodies_that_need_a_change_say_so(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    assert schemas["OrderUpdate"]["minProperties"] == 1
    assert "not" in schemas["OrderUpdate"]
    assert schemas["RiskLimitsUpdate"]["minProperties"] == 1
    assert "not" in schemas["RiskLimitsUpdate"]
    assert schemas["ResumeRequest"]["properties"]["state"]["enum"] == ["active", "reducing"]


def test_every_cursor_has_its_pattern(document: dict[str, Any]) -> None:
    cursors = [
        parameter
        for _, _, operation in _operations(document)
        for parameter in operation.get("parameters", [])
        if parameter["name"] == "cursor"
    ]
    assert len(cursors) >= 6
    for parameter in cursors:
        branches = parameter["schema"]["anyOf"]
        assert branches[0]["pattern"].startswith("^aWQ6"), parameter
