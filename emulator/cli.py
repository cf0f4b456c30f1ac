"""The C{smets} console script: operators' tools beside the C{twistd smets} plugin.

Sub-commands are dispatched to their own modules, imported lazily so that one tool's
dependencies never slow down another:

    smets gbcs decode|encode|conformance ...   (L{emulator.gbcs_cli})
"""

from __future__ import annotations

import sys
from typing import Callable, Sequence

#: sub-command name -> (module path, one-line help)
_COMMANDS: dict[str, tuple[str, str]] = {
    "gbcs": ("emulator.gbcs_cli", "decode, encode and check GBCS messages (RTDS conformance)"),
    "rtds": ("emulator.rtds_replay", "replay DCC reference tests (RTDS) against emulated devices"),
}


def _usage() -> str:
    lines = ["usage: smets COMMAND [ARGS...]", "", "commands:"]
    for name, (_, text) in sorted(_COMMANDS.items()):
        lines.append(f"  {name:<10} {text}")
    lines.append("")
    lines.append("The emulator itself runs under twistd: twistd -n smets --help")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one sub-command; return its exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(_usage())
        return 0 if args else 2
    name, rest = args[0], args[1:]
    if name not in _COMMANDS:
        print(f"smets: unknown command {name!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    module_name = _COMMANDS[name][0]
    module = __import__(module_name, fromlist=["main"])
    entry: Callable[[list[str]], int] = module.main
    return entry(rest)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
