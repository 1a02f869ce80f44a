"""What the benchmark scripts share: paths, the machine and settings they report, recording."""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import os
import platform
import shlex
import socket
import subprocess
import sys
from collections.abc import Collection
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RESULTS_FILE = REPO / "bench" / "RESULTS.md"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# Environment variables that configure the API (stocks_api.settings), reported with a
# run because they change what is measured.
SETTING_PREFIXES = (
    "DATABASE_",
    "REDIS_",
    "BROKER",
    "IB_",
    "SIM_",
    "SESSION_",
    "PORTFOLIO_",
    "RISK_",
    "WS_",
    "AUTH_",
    "ALLOW_",
    "LOG_",
    "API_",
    "ENVIRONMENT",
    "RECONCILE_",
)


def positive_int(text: str) -> int:
    """argparse type: an integer above zero."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def process_cpu_seconds(pid: int | str | None) -> float:
    """CPU time (user + system) a process has used so far; 0 if it is gone or unknown."""
    if pid is None:
        return 0.0
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()  # the name in parentheses may hold spaces
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


def package_version(package: str) -> str:
    """The installed version of `package`, or "absent"."""
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "absent"


def cpu_model() -> str:
    """The CPU's model name."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def memory_gb() -> str:
    """The machine's memory, e.g. "23.5 GB"."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024**2:.1f} GB"
    return "unknown"


def git_commit() -> str:
    """The checkout's commit, and whether files differ from it (read-only git calls)."""

    def git(*args: str) -> str:
        # --no-optional-locks: `git status` must not refresh (write) the index.
        result = subprocess.run(
            ["git", "--no-optional-locks", *args],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=False,
            timeout=30,
        )
        return result.stdout.strip() if result.returncode == 0 else ""

    commit = git("rev-parse", "--short=12", "HEAD")
    if not commit:
        return "unknown (not a git checkout)"
    changed = [line for line in git("status", "--porcelain").splitlines() if line.strip()]
    return f"{commit} with {len(changed)} files changed or new" if changed else commit


def inherited_settings(set_by_bench: Collection[str]) -> dict[str, str]:
    """API settings the API takes from our environment (beyond those the bench sets)."""
    return {
        name: value
        for name, value in sorted(os.environ.items())
        if name.startswith(SETTING_PREFIXES) and name not in set_by_bench
    }


def command_line(set_by_bench: Collection[str]) -> str:
    """How this run was started (with the API settings it inherited), paths repo-relative."""
    executable = Path(sys.executable)
    with contextlib.suppress(ValueError):
        executable = executable.relative_to(REPO)
    settings = [f"{name}={value}" for name, value in inherited_settings(set_by_bench).items()]
    return shlex.join([*settings, str(executable), *sys.argv])


def record(section: str) -> None:
    """Append a run's section to RESULTS.md."""
    with RESULTS_FILE.open("a", encoding="utf-8") as results:
        results.write(f"\n{section}\n")
    print(f"recorded in {RESULTS_FILE.relative_to(REPO)}")
