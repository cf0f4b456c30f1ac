"""The C{smets} console script: operators' tools beside the C{twistd smets} plugin.

Sub-commands are dispatched to their own modules, imported lazily so that one tool's
dependencies never slow down another:

    smets gbcs decode|encode|conformance|utrn ...   (L{emulator.gbcs_cli})

A sub-command module has C{main(argv) -> int}; it reports mistakes through
L{emulator.cli_errors} (one line naming the option, exit status 2).  Adding a sub-command
is one line in L{_COMMANDS}.
"""

from __future__ import annotations

import sys
from importlib import metadata
from typing import Callable, Sequence

from emulator.cli_errors import EXIT_USAGE, report, show_value

#: sub-command name -> (module path, one-line help)
_COMMANDS: dict[str, tuple[str, str]] = {
    "gbcs": ("emulator.gbcs_cli", "decode, encode and check GBCS messages (RTDS conformance)"),
    "duis": ("emulator.duis_cli", "send DUIS service requests to the DCC; sign them as a DCC User"),
    "rtds": ("emulator.rtds_replay", "replay DCC reference tests (RTDS) against emulated devices"),
    "soak": ("emulator.soak.cli", "drive a workload with faults in virtual time; ledger and report"),
}


def version() -> str:
    """The installed distribution's version (setup.cfg is the one place it is written)."""
    try:
        return metadata.version("smets-emulator")
    except metadata.PackageNotFoundError:
        return "unknown (not installed: pip install -e .)"


def _usage() -> str:
    lines = ["usage: smets [--version] COMMAND [ARGS...]", "", "commands:"]
    for name, (_, text) in sorted(_COMMANDS.items()):
        lines.append(f"  {name:<10} {text}")
    lines.append("")
    lines.append("The emulator itself runs under twistd: twistd -n smets --help")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one sub-command; return its exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args:
        report("smets", f"a command is required ({', '.join(sorted(_COMMANDS))}); smets --help lists them")
        return EXIT_USAGE
    if args[0] in ("-h", "--help"):
        print(_usage())
        return 0
    if args[0] in ("-V", "--version"):
        print(f"smets {version()}")
        return 0
    name, rest = args[0], args[1:]
    if name not in _COMMANDS:
        report("smets", f"unknown command {show_value(name)} (commands: {', '.join(sorted(_COMMANDS))})")
        return EXIT_USAGE
    module_name = _COMMANDS[name][0]
    module = __import__(module_name, fromlist=["main"])
    entry: Callable[[list[str]], int] = module.main
    return entry(rest)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
