"""The security settings: trusted proxies, /metrics protection, sign-in limits."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from stocks_api.settings import Settings


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no .env
    for name in (
        "FORWARDED_ALLOW_IPS",
        "METRICS_TOKEN",
        "METRICS_ALLOW_IPS",
        "AUTH_TOKEN_RATE_LIMIT",
        "AUTH_USERNAME_RATE_LIMIT",
    ):
        monkeypatch.delenv(name, raising=False)


def test_the_defaults_trust_no_proxy_and_leave_metrics_open() -> None:
    settings = Settings()
    assert settings.trusted_proxies() == []
    assert settings.metrics.token is None
    assert settings.metrics.allowed_networks() == []
    assert settings.auth.token_rate_limit == "5/minute"
    assert settings.auth.username_rate_limit == "3/10seconds;10/minute"


def test_proxies_and_metrics_addresses_are_parsed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", " 172.29.71.10, 10.0.0.0/8 ,::1")
    monkeypatch.setenv("METRICS_ALLOW_IPS", "127.0.0.1,172.29.71.0/24")
    monkeypatch.setenv("METRICS_TOKEN", "t" * 40)
    settings = Settings()
    assert settings.trusted_proxies() == ["172.29.71.10", "10.0.0.0/8", "::1"]
    assert [str(n) for n in settings.metrics.allowed_networks()] == [
        "127.0.0.1/32",
        "172.29.71.0/24",
    ]
    assert settings.metrics.token is not None
    assert "t" * 40 not in repr(settings)  # a secret


def test_any_proxy_can_be_trusted_explicitly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", "*")
    assert Settings().trusted_proxies() == ["*"]


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("FORWARDED_ALLOW_IPS", "nginx", "not an IP address or network"),
        ("FORWARDED_ALLOW_IPS", "10.0.0.0/33", "not an IP address or network"),
        ("METRICS_ALLOW_IPS", "*", "not an IP address or network"),
        ("METRICS_TOKEN", "change-me", "METRICS_TOKEN must be a random value"),
        ("METRICS_TOKEN", "short", "METRICS_TOKEN must be a random value"),
        ("AUTH_USERNAME_RATE_LIMIT", "often", "invalid rate limit"),
        ("AUTH_TOKEN_RATE_LIMIT", "5/fortnight", "invalid rate limit"),
    ],
)
def test_bad_values_are_refused(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError, match=message):
        Settings()


def test_an_empty_token_means_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("METRICS_TOKEN", "  ")
    assert Settings().metrics.token is None
