"""Run the project's commands as a user would: the console script and the Twisted runners of
this interpreter's environment (never whatever is first on PATH), with a time limit."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TOPOLOGIES = REPO / "topologies"
SINGLE_HOME = TOPOLOGIES / "single-home.yaml"
_BIN = Path(sys.executable).parent

#: C{twistd} of this interpreter (the plugin's pid file, daemon and log handling)
TWISTD = [sys.executable, "-c", "import sys; sys.argv[0] = 'twistd'; "
          "from twisted.scripts.twistd import run; run()"]
#: C{twist} of this interpreter (C{python -m twisted}: no pid file, JSON logs when not a tty)
TWIST = [sys.executable, "-m", "twisted"]


def smets_script() -> list[str]:
    """The C{smets} console script installed beside this interpreter (an install is required)."""
    script = _BIN / "smets"
    assert script.exists(), f"the smets console script is not installed next to {sys.executable}: pip install -e ."
    return [str(script)]


def run(argv: list[str], cwd: Path, timeout: float = 120, stdin: str | None = None) \
        -> subprocess.CompletedProcess[str]:
    """Run a command; a hang is a test failure (C{TimeoutExpired}), not a hung test run."""
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=timeout, input=stdin)


def error_lines(text: str, prog: str) -> list[str]:
    """The lines of C{text} that are our one-line error reports."""
    return [line for line in text.splitlines() if f"{prog}: error:" in line]
