"""Settings: flat environment variables, nested groups, clear errors."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from pydantic import ValidationError
from pydantic_settings import BaseSettings

from stocks_api.settings import Settings


def test_environment_variables_fill_the_groups(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://u@h:5432/db")
    monkeypatch.setenv("SIM_SEED", "99")
    monkeypatch.setenv("SIM_SYMBOLS", "AAPL,XYZ:12.5")
    monkeypatch.setenv("LOG_LEVEL", "debug")
    monkeypatch.setenv("BROKER_TIMEOUT_SECONDS", "2.5")
    settings = Settings()
    assert settings.database.url == "postgresql+asyncpg://u@h:5432/db"
    assert not settings.database.is_sqlite
    assert settings.sim.seed == 99
    assert [s.symbol for s in settings.sim.symbol_specs()] == ["AAPL", "XYZ"]
    assert settings.log.level == "DEBUG"
    assert settings.broker_timeout_seconds == 2.5


def test_defaults_are_the_embedded_mode(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    for name in ("DATABASE_URL", "BROKER", "SIM_SEED", "SIM_SYMBOLS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # type: ignore[arg-type]
    settings = Settings()
    assert settings.database.url == "sqlite+aiosqlite:///./data/stocks.db"
    assert settings.broker == "sim"
    assert (settings.api.host, settings.api.port) == ("127.0.0.1", 8000)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DATABASE_URL", "mysql://x"),
        ("SIM_SYMBOLS", "AAPL,,bad symbol"),
        ("SIM_SEED", "many"),
        ("BROKER", "etrade"),
        ("LOG_LEVEL", "LOUD"),
    ],
)
def test_bad_values_are_refused(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError):
        Settings()


def test_session_settings_build_the_calendar(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SESSION_TIMEZONE", "Europe/London")
    monkeypatch.setenv("SESSION_OPEN", "08:00")
    monkeypatch.setenv("SESSION_CLOSE", "16:30")
    monkeypatch.setenv("SESSION_DAYS", "mon,wed-fri")
    monkeypatch.setenv("SESSION_HOLIDAYS", "2026-12-25")
    monkeypatch.setenv("SESSION_EXCHANGE", "none")
    monkeypatch.setenv("SESSION_EXTENDED_OPEN", "07:00")
    monkeypatch.setenv("SESSION_EXTENDED_CLOSE", "18:00")
    calendar = Settings().session.calendar()
    assert (calendar.open_minute, calendar.close_minute) == (480, 990)
    assert (calendar.extended_open_minute, calendar.extended_close_minute) == (420, 1080)
    assert calendar.weekdays == frozenset({0, 2, 3, 4})
    assert len(calendar.holidays) == 1
    assert not calendar.early_closes


def test_the_nyse_calendar_is_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SESSION_HOLIDAYS", "2026-12-28")
    monkeypatch.setenv("SESSION_EARLY_CLOSE", "12:30")
    calendar = Settings().session.calendar()
    assert {date(2026, 12, 25), date(2026, 12, 28)} <= calendar.holidays
    assert date(2026, 11, 27) in calendar.early_closes
    assert calendar.early_close_minute == 750


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("SESSION_TIMEZONE", "Mars/Olympus", "unknown time zone"),
        ("SESSION_OPEN", "9.30", "expected HH:MM"),
        ("SESSION_CLOSE", "25:00", "between 00:00 and 24:00"),
        ("SESSION_DAYS", "mon-funday", "unknown weekday"),
        ("SESSION_HOLIDAYS", "25/12/2026", "expected YYYY-MM-DD"),
        ("SESSION_OPEN", "17:00", "SESSION_OPEN must be before SESSION_CLOSE"),
        ("SIM_FRACTIONAL_SYMBOLS", "AAPL,ZZZZ", "untraded symbols"),
        ("SIM_ACCOUNT_ID", "not an id", "SIM_ACCOUNT_ID|account_id"),
    ],
)
def test_bad_session_and_account_settings_are_refused(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError, match=message):
        Settings()


def test_every_setting_is_documented_in_env_example() -> None:
    documented = {
        line.split("=", 1)[0].lstrip("# ").strip()
        for line in (Path(__file__).parents[3] / ".env.example").read_text().splitlines()
        if "=" in line
    }
    names = set()
    for name, field in Settings.model_fields.items():
        group = field.annotation
        if isinstance(group, type) and issubclass(group, BaseSettings):
            prefix = group.model_config.get("env_prefix", "")
            names |= {f"{prefix}{sub}".upper() for sub in group.model_fields}
        else:
            names.add(name.upper())
    assert names - documented == set()


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "AUTH_JWT_SECRET must be set"),
        ({"AUTH_JWT_SECRET": "change-me"}, "AUTH_JWT_SECRET must be set"),
        ({"AUTH_JWT_SECRET": "short"}, "AUTH_JWT_SECRET must be set"),
        (
            {
                "AUTH_JWT_SECRET": "k" * 40,
                "DATABASE_URL": "postgresql+asyncpg://stocks:change-me@db:5432/stocks",
            },
            "password in DATABASE_URL",
        ),
        (
            {"AUTH_JWT_SECRET": "k" * 40, "DATABASE_URL": "postgresql+asyncpg://stocks@db/stocks"},
            "password in DATABASE_URL",
        ),
    ],
)
def test_production_refuses_missing_or_placeholder_secrets(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], message: str
) -> None:
    monkeypatch.setenv("ENVIRONMENT", "production")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError, match=message):
        Settings()


def test_production_starts_with_real_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.setenv("AUTH_JWT_SECRET", "k" * 40)
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://stocks:s3cr3t-Xy9@db:5432/stocks")
    settings = Settings()
    assert settings.auth.jwt_secret is not None
    assert "k" * 40 not in repr(settings)  # secrets never print


def test_development_needs_no_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ENVIRONMENT", raising=False)
    monkeypatch.setenv("AUTH_JWT_SECRET", "")
    assert Settings().auth.jwt_secret is None
