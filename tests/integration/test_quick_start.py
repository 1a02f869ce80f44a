"""The README's quick start, run as written against a fresh `stocks-api serve`, at any hour.

The commands come from README.md itself (the `sh` block between the `<!-- quick-start`
markers of "Trade in one minute"), so the README cannot drift from what the API answers.
Each command's expected status is the one its comment names ("201 Created", "401
UNAUTHORIZED"; 200 OK when the comment names none): a trailing comment speaks for its own
line, a comment block for the command right under it. bash runs the block with `curl`
wrapped in a function that notes the status of each call and the line it came from.

It runs once on a market open around the clock (market orders fill), once on a market
closed all day (every order waits), and once with only the extended hours open (the
`outside_rth` orders trade, the others wait): each time every answer must be the promised
one, and at the end no order is left working and no position is short.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api_servers import api_server
from tests.integration.stack.helpers import ROOT, base_env

README = ROOT / "README.md"
START_MARKER = "<!-- quick-start"
END_MARKER = "<!-- /quick-start -->"
# A status as the comments write it: the code, then its name ("201 Created", "401 UNAUTHORIZED").
STATUS = re.compile(r"\b([1-5]\d\d) (?=[A-Z])")
# Run before the block: stop at the first failing command, and note each curl's status and
# answer with the line of the README block it was called from (the block starts on the
# script's line 2).
PRELUDE = (
    "set -euo pipefail; "
    'curl() { local body status; body=$(mktemp -p "$QUICK_START_ANSWERS"); '
    'status=$(command curl -o "$body" -w \'%{http_code}\' "$@"); cat "$body"; '
    'echo "$((BASH_LINENO[0] - 1)) $status $body" >> "$QUICK_START_ANSWERS/statuses"; }\n'
)
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class Command:
    """One shell command of the block: its lines (1-based, inclusive), text and comments."""

    first: int
    last: int
    text: str
    comment: str

    @property
    def calls_curl(self) -> bool:
        return re.search(r"(^|[\s$(|])curl\s", self.text) is not None

    @property
    def expected_status(self) -> int:
        codes = {int(code) for code in STATUS.findall(self.comment)}
        assert len(codes) <= 1, f"line {self.first}: the comment names {sorted(codes)}"
        return codes.pop() if codes else 200


def quick_start_block(readme: str) -> str:
    """The `sh` block between the quick-start markers."""
    start = readme.index(START_MARKER)
    end = readme.index(END_MARKER, start)
    section = readme[start:end]
    fence = section.index("```sh\n") + len("```sh\n")
    return section[fence : section.rindex("```")]


def _split_comment(line: str, state: str) -> tuple[str, str, str]:
    """(code, trailing comment, quote state at the end) of one line; `state` at its start.

    The state is "" outside quotes, "'" or '"' inside them; a `#` starting a word outside
    quotes starts a comment, as in bash.
    """
    escaped = False
    for index, char in enumerate(line):
        if escaped:
            escaped = False
        elif char == "\\" and state != "'":
            escaped = True
        elif state:
            if char == state:
                state = ""
        elif char in "'\"":
            state = char
        elif char == "#" and (index == 0 or line[index - 1].isspace()):
            return line[:index], line[index + 1 :].strip(), state
    return line, "", state


def parse_commands(block: str) -> list[Command]:
    """Split the block into commands: continued lines joined, quoted newlines kept."""
    commands: list[Command] = []
    above: list[str] = []  # the comment block right above the next command
    lines: list[str] = []
    trailing: list[str] = []
    first = 0
    state = ""
    for number, line in enumerate(block.splitlines(), start=1):
        if not lines:
            stripped = line.strip()
            if not stripped:
                above = []
                continue
            if stripped.startswith("#"):
                above.append(stripped.lstrip("#").strip())
                continue
            first = number
        code, comment, state = _split_comment(line, state)
        lines.append(code)
        if comment:
            trailing.append(comment)
        if state or code.rstrip().endswith("\\"):
            continue
        own = " ".join(trailing) if STATUS.search(" ".join(trailing)) else ""
        commands.append(Command(first, number, "\n".join(lines), own or " ".join(above + trailing)))
        above, lines, trailing = [], [], []
    assert not lines, "the block ends inside a command"
    return commands


def _first_start_key(log: Path) -> str:
    keys = [word for word in log.read_text().split() if word.startswith("stk_")]
    assert len(keys) == 1, f"the first start printed no single key:\n{log.read_text()}"
    return keys[0]


def _path_without_the_virtual_environment() -> str:
    """PATH as in a fresh terminal: `make run` puts no .venv/bin on it."""
    venv_bin = Path(sys.executable).parent.absolute()
    entries = os.environ.get("PATH", "").split(os.pathsep)
    return os.pathsep.join(entry for entry in entries if Path(entry).absolute() != venv_bin)


def _check_banner_commands(log: Path, directory: Path, env: dict[str, str]) -> None:
    """The first-start banner's commands run as printed, from where the server runs."""
    text = log.read_text()
    more_keys = re.search(r"More keys: (.+) create-api-key --name NAME (--scopes \S+)", text)
    password = re.search(r"The dashboard's password: (.+) set-password", text)
    assert more_keys is not None, text
    assert password is not None, text
    command = more_keys.group(1)
    assert password.group(1) == command
    # Not a bare `stocks-api`, which this PATH (a fresh terminal's) does not find.
    assert command.endswith(".venv/bin/stocks-api"), command
    made = subprocess.run(
        ["bash", "-c", f"{command} create-api-key --name 'from the banner' {more_keys.group(2)}"],
        env=env,
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert made.returncode == 0, made.stdout + made.stderr
    assert made.stdout.splitlines()[-1].startswith("stk_")


def _check_modify_and_cancel(
    curls: list[Command], answers: dict[int, list[tuple[int, str]]]
) -> None:
    """The resting order is really modified (8 shares) and then cancelled, as promised."""
    patch = next(c for c in curls if "-X PATCH" in c.text)
    cancel = next(c for c in curls if re.search(r"-X DELETE \S+/orders/\$ID\b", c.text))
    modified = json.loads(answers[patch.first][0][1])
    assert (modified["qty"], modified["status"]) == ("8", "submitted"), modified
    cancelled = json.loads(answers[cancel.first][0][1])
    assert (cancelled["id"], cancelled["status"]) == (modified["id"], "cancelled"), cancelled


def _script(block: str, *, port: int, key: str) -> str:
    """The block as bash runs it here: this server's port, the key it printed."""
    script, keys = re.subn(r"^KEY=stk_\.\.\.", f"KEY={key}", block, flags=re.MULTILINE)
    assert keys == 1, "the block sets KEY=stk_... once"
    assert "localhost:8000" in script
    return PRELUDE + script.replace("localhost:8000", f"127.0.0.1:{port}")


def _open_session() -> dict[str, str]:
    """The regular session around the clock, every day: market orders fill at once."""
    return {
        "SESSION_TIMEZONE": "UTC",
        "SESSION_OPEN": "00:00",
        "SESSION_CLOSE": "24:00",
        "SESSION_DAYS": "mon-sun",
        "SESSION_EXCHANGE": "none",
    }


def _closed_session() -> dict[str, str]:
    """No trading today or tomorrow (UTC; tomorrow in case the run crosses midnight)."""
    today = datetime.now(UTC).weekday()
    days = [day for n, day in enumerate(WEEKDAYS) if n not in (today, (today + 1) % 7)]
    return {**_open_session(), "SESSION_DAYS": ",".join(days)}


def _extended_only_session() -> dict[str, str]:
    """Only the extended hours now: the regular session is a short window 12 hours away."""
    opens = (datetime.now(UTC) + timedelta(hours=12)).hour
    return {
        **_open_session(),
        "SESSION_OPEN": f"{opens:02d}:00",
        "SESSION_CLOSE": f"{opens + 1:02d}:00",
        "SESSION_EXTENDED_OPEN": "00:00",
        "SESSION_EXTENDED_CLOSE": "24:00",
    }


SESSIONS = {
    "open": _open_session,
    "closed": _closed_session,
    "extended_hours": _extended_only_session,
}


def _get(base: str, key: str, path: str) -> Any:
    response = httpx.get(f"{base}{path}", headers={"X-API-Key": key}, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def test_the_parser_reads_statuses_from_the_comments() -> None:
    commands = parse_commands(
        "A=1\n"
        "curl -s x    # without the key: 401 UNAUTHORIZED\n"
        "# Buy: 201 Created, filled.\n"
        "curl -s -X POST x \\\n"
        '  -d \'{"a":\n'
        '  "#b"}\'\n'
        "curl -s y  # the open orders\n"
        "\n"
        "# Risk: its state\n"
        "curl -s z\n"
    )
    assert [(c.first, c.last, c.calls_curl, c.expected_status) for c in commands] == [
        (1, 1, False, 200),
        (2, 2, True, 401),
        (4, 6, True, 201),
        (7, 7, True, 200),
        (10, 10, True, 200),
    ]


@pytest.mark.parametrize("session", list(SESSIONS))
def test_the_readme_quick_start_runs_clean(tmp_path: Path, session: str) -> None:
    block = quick_start_block(README.read_text())
    commands = parse_commands(block)
    curls = [command for command in commands if command.calls_curl]
    assert len(curls) >= 20, "the quick start block was not found whole"
    path = _path_without_the_virtual_environment()
    settings = {**SESSIONS[session](), "AUTH_BOOTSTRAP_ADMIN_KEY": "true", "SIM_SEED": "7"}
    with api_server(tmp_path / "api", PATH=path, **settings) as server:
        key = _first_start_key(server.log)
        if session == "open":
            _check_banner_commands(server.log, server.directory, {**server.env, "PATH": path})
        answers_dir = tmp_path / "answers"
        answers_dir.mkdir()
        ran = subprocess.run(
            ["bash", "--noprofile", "--norc", "-c", _script(block, port=server.port, key=key)],
            env=base_env(PATH=path, QUICK_START_ANSWERS=str(answers_dir)),
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
        # The whole output is kept beside the test's server log; the failures quote its end.
        (tmp_path / "quick-start.out").write_text(ran.stdout + "\n" + ran.stderr)
        output = f"stdout (end):\n{ran.stdout[-3000:]}\nstderr (end):\n{ran.stderr[-3000:]}"
        assert ran.returncode == 0, output

        answers: dict[int, list[tuple[int, str]]] = {}
        for line in (answers_dir / "statuses").read_text().splitlines():
            at, status, body = line.split(maxsplit=2)
            command = next(c for c in curls if c.first <= int(at) <= c.last)
            answers.setdefault(command.first, []).append((int(status), Path(body).read_text()))
        for command in curls:
            statuses = [status for status, _ in answers.get(command.first, [])]
            assert statuses == [command.expected_status], (
                f"README line {command.first} of the block:\n{command.text}\n"
                f"answered {statuses}, its comment promises {command.expected_status}\n{output}"
            )
        _check_modify_and_cancel(curls, answers)
        buy = next(c for c in curls if '"side":"buy","qty":"10","type":"market"' in c.text)
        bought = json.loads(answers[buy.first][0][1])
        # A closed market: the buy waits, and its answer says until when (a notice).
        assert bool(bought["notice"]) == (session == "closed"), bought

        open_orders = _get(server.url, key, "/api/v1/orders?status=open")["items"]
        assert open_orders == [], "the quick start leaves orders working"
        positions = _get(server.url, key, "/api/v1/positions")
        assert [p for p in positions if Decimal(p["qty"]) < 0] == [], "a short was opened"
        assert [p for p in positions if Decimal(p["qty"]) != 0] == [], "it ends holding"
        fills = _get(server.url, key, "/api/v1/fills")["items"]
        # Which market the run met: the AAPL buy and sell fill unless the market is closed.
        filled = {fill["order_id"] for fill in fills}
        assert len(filled) == (0 if session == "closed" else 2), fills
