"""The `stocks-api` command as our printed hints name it: the way it runs from here."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from stocks_api.core.command_line import cli_command


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project folder whose `.venv/bin` holds the running Python and `stocks-api`."""
    bin_dir = tmp_path / "project" / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    program = bin_dir / "stocks-api"
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    monkeypatch.setattr(sys, "executable", str(bin_dir / "python"))
    return tmp_path / "project"


def test_from_the_project_folder_it_is_the_virtual_environments_path(project: Path) -> None:
    # As under `make run`: .venv/bin is not on PATH, a bare `stocks-api` would not be found.
    assert cli_command(cwd=project, path="/usr/bin:/bin") == ".venv/bin/stocks-api"


def test_it_is_bare_when_path_finds_this_very_program(project: Path) -> None:
    bin_dir = project / ".venv" / "bin"
    assert cli_command(cwd=project, path=f"{bin_dir}:/usr/bin") == "stocks-api"


def test_another_stocks_api_on_path_is_not_taken_for_it(project: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    (other / "stocks-api").write_text("#!/bin/sh\n")
    (other / "stocks-api").chmod(0o755)
    assert cli_command(cwd=project, path=str(other)) == ".venv/bin/stocks-api"


def test_elsewhere_it_is_the_absolute_path(project: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    assert cli_command(cwd=elsewhere, path="") == str(project / ".venv" / "bin" / "stocks-api")


def test_in_its_own_folder_it_runs_as_dot_slash(project: Path) -> None:
    assert cli_command(cwd=project / ".venv" / "bin", path="") == "./stocks-api"
