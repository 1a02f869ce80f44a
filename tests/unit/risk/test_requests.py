"""The kill switch's request bodies: what they document is what they take."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from stocks_api.risk.schemas import (
    LIMIT_NAMES,
    HaltRequest,
    LimitsResetRequest,
    ResumeRequest,
    RiskLimitsUpdate,
    TradingState,
)


@pytest.mark.parametrize("value", [0, 1, "true", "yes", None])
def test_halt_flags_are_json_booleans(value: Any) -> None:
    for flag in ("cancel_open_orders", "flatten_positions"):
        with pytest.raises(ValidationError):
            HaltRequest.model_validate({flag: value})
    assert HaltRequest.model_validate({"flatten_positions": True}).flatten_positions is True


def test_resume_documents_and_takes_only_active_and_reducing() -> None:
    schema = ResumeRequest.model_json_schema()["properties"]["state"]
    assert schema["enum"] == ["active", "reducing"]
    assert ResumeRequest.model_validate({"state": "reducing"}).state is TradingState.REDUCING
    with pytest.raises(ValidationError, match="halt with POST /api/v1/risk/halt"):
        ResumeRequest.model_validate({"state": "halted"})
    with pytest.raises(ValidationError, match="active or reducing"):
        ResumeRequest.model_validate({"state": "paused"})


def test_reset_documents_the_names_of_the_limits() -> None:
    schema = LimitsResetRequest.model_json_schema()["properties"]["limits"]
    assert schema["anyOf"][0]["items"]["enum"] == list(LIMIT_NAMES)
    assert LimitsResetRequest.model_validate({"limits": ["max_order_qty"]}).limits
    with pytest.raises(ValidationError, match="unknown limits"):
        LimitsResetRequest.model_validate({"limits": [""]})


def test_an_update_documents_that_it_needs_a_limit() -> None:
    schema = RiskLimitsUpdate.model_json_schema()
    # Not an object whose only property (if any) is `reason`.
    assert schema["not"] == {"additionalProperties": False, "properties": {"reason": {}}}
