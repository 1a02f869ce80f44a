"""How the person at this terminal runs the `stocks-api` command, for the hints we print.

`make run` starts `.venv/bin/stocks-api` without putting `.venv/bin` on PATH, so a bare
`stocks-api` in a hint would be "command not found". The hint names the command the way
it works from here: bare only when PATH finds this very program (an activated virtual
environment, the container image), else its path, relative to the current directory
when it lies below it (`.venv/bin/stocks-api` from the project's folder).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

COMMAND = "stocks-api"


def cli_command(*, cwd: Path | None = None, path: str | None = None) -> str:
    """Return how to invoke `stocks-api` from `cwd` (default: the current directory).

    `path` is the PATH to search (default: the environment's), for tests.
    """
    program = Path(sys.executable).parent / COMMAND
    found = shutil.which(COMMAND, path=path)
    if found is not None and Path(found).absolute() == program.absolute():
        return COMMAND
    here = (cwd or Path.cwd()).absolute()
    if program.absolute().is_relative_to(here):
        relative = program.absolute().relative_to(here)
        # A name without a slash is looked up on PATH: `./stocks-api` runs the file here.
        return str(relative) if relative.parent != Path(".") else f"./{relative}"
    return str(program)
