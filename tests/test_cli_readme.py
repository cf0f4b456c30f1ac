"""The README documents every command and option that exists, and its first run command works."""

from __future__ import annotations

import argparse
import re
import shlex

from emulator.cli import _COMMANDS
from emulator.gbcs_cli import _parser
from emulator.service import Options
from tests.cli_helpers import REPO, TWISTD, run

README = (REPO / "README.md").read_text()


def _gbcs_options() -> dict[str, list[str]]:
    sub = next(a for a in _parser()._actions if isinstance(a, argparse._SubParsersAction))
    return {name: [s for a in p._actions for s in a.option_strings if s.startswith("--") and s != "--help"]
            for name, p in sub.choices.items()}


def test_every_command_is_documented() -> None:
    for name in _COMMANDS:
        assert f"smets {name}" in README, name
    for command in _gbcs_options():
        assert re.search(rf"smets gbcs {command}\b", README), command
    assert "smets --version" in README


def test_every_option_is_documented() -> None:
    missing = [f"--{o[0]}" for o in Options.optParameters + Options.optFlags if f"`--{o[0]}" not in README]
    missing += [f"--version ({c})" for c in ["twistd"] if "`--version`" not in README]
    for command, options in _gbcs_options().items():
        # each sub-command's synopsis line lists its options
        synopsis = " ".join(line for line in README.splitlines() if f"smets gbcs {command} " in line)
        missing += [f"{command} {o}" for o in options if o not in synopsis or f"`{o}" not in README]
    assert not missing, missing


def test_first_readme_command_runs(tmp_path) -> None:
    """The README's first command after the install: as written, from a directory with topologies/."""
    first = next(line.strip() for line in README.splitlines() if line.startswith("    pip install -e . "))
    command = shlex.split(first.split("&&", 1)[1])
    assert command[:3] == ["twistd", "-n", "--pidfile="], command
    (tmp_path / "topologies").symlink_to(REPO / "topologies")
    proc = run([*TWISTD, *command[1:]], cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr
    assert (tmp_path / "a.pcapng").stat().st_size > 0 and (tmp_path / "keys").read_text().count("Normal") >= 5
    assert not (tmp_path / "twistd.pid").exists()
