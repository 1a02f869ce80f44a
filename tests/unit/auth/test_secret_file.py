"""The embedded default's token-signing secret file: made once, owner-only, shared, rotated."""

from __future__ import annotations

import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from stocks_api.auth.secret_file import (
    SecretFileError,
    load_or_create,
    rotate,
    secret_path,
)


def test_the_secret_lives_beside_a_sqlite_file_and_nowhere_else() -> None:
    assert secret_path("sqlite+aiosqlite:///./data/stocks.db") == Path("data/jwt-secret")
    assert secret_path("sqlite+aiosqlite:////var/lib/stocks/s.db?mode=rwc") == Path(
        "/var/lib/stocks/jwt-secret"
    )
    assert secret_path("sqlite+aiosqlite://") is None
    assert secret_path("sqlite+aiosqlite:///:memory:") is None
    assert secret_path("postgresql+asyncpg://stocks:pw@db/stocks") is None


def test_a_first_start_makes_an_owner_only_secret_that_later_starts_read(tmp_path: Path) -> None:
    path = tmp_path / "data" / "jwt-secret"
    first = load_or_create(path)
    assert len(first) >= 64
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create(path) == first
    assert [p.name for p in path.parent.iterdir()] == ["jwt-secret"]  # no temporary left


def test_processes_starting_at_once_agree_on_one_secret(tmp_path: Path) -> None:
    path = tmp_path / "jwt-secret"
    with ThreadPoolExecutor(8) as pool:
        secrets = set(pool.map(lambda _: load_or_create(path), range(32)))
    assert len(secrets) == 1


def test_a_secret_file_open_to_others_or_empty_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "jwt-secret"
    load_or_create(path)
    path.chmod(0o644)
    with pytest.raises(SecretFileError, match="chmod 600"):
        load_or_create(path)
    path.write_text("")
    path.chmod(0o600)
    with pytest.raises(SecretFileError, match="no usable secret"):
        load_or_create(path)


def test_rotating_writes_a_new_owner_only_secret(tmp_path: Path) -> None:
    path = tmp_path / "jwt-secret"
    before = load_or_create(path)
    rotate(path)
    after = load_or_create(path)
    assert after != before
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
