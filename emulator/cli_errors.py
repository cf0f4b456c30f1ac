"""One error path for every command line of the project (C{smets ...} and C{twistd smets}).

A user mistake (a bad option value, a path that cannot be read or written, a port in use,
an unreadable key store, a bad JSON field) is a L{UsageError}: it is reported as one line
naming the option or field and why, and the process exits with status 2 before anything
runs.  A failure during a run is a L{RunError}: one line with the reason, exit status 1.
Anything else is a bug, and keeps its traceback.

Sub-commands use L{run_command}; option checks use the C{check_*} helpers so that the same
mistake gets the same words everywhere::

    from emulator.cli_errors import UsageError, run_command, check_output_file
    def main(argv): return run_command("smets rtds", _main, argv)
"""

from __future__ import annotations

import errno
import json
import math
import os
import socket
import sys
from pathlib import Path
from typing import Any, Callable

from twisted.python import usage

__all__ = ["EXIT_USAGE", "EXIT_FAILURE", "UsageError", "RunError", "report", "run_command",
           "check_finite_seconds", "check_int", "check_input_file", "check_directory",
           "check_output_file", "bind_tcp_port", "show_value"]

#: exit status of a user mistake (as argparse and the BSD sysexits convention of shells)
EXIT_USAGE = 2
#: exit status of a run that started and failed
EXIT_FAILURE = 1


class UsageError(usage.UsageError):
    """A user mistake: C{str()} is C{"<option or field>: <why>"}.

    A subclass of Twisted's C{usage.UsageError}, so C{twistd} option classes can raise it.
    """

    def __init__(self, option: str, reason: str) -> None:
        self.option = option
        self.reason = reason
        super().__init__(f"{option}: {reason}" if option else reason)


class RunError(Exception):
    """A run that started and could not go on: C{str()} is the reason."""


def show_value(value: Any) -> str:
    """A value as the user wrote it (JSON spelling: C{"abc"}, C{null}, C{1.5}), never a Python repr."""
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return str(value)


def report(prog: str, message: str) -> None:
    """Write one error line to stderr: C{<prog>: error: <message>}."""
    line = " ".join(str(message).split()) or "unknown error"
    sys.stdout.flush()
    print(f"{prog}: error: {line}", file=sys.stderr)
    sys.stderr.flush()


def run_command(prog: str, func: Callable[..., int], *args: Any) -> int:
    """Call C{func(*args)} and turn L{UsageError} / L{RunError} into one line and an exit status."""
    try:
        return func(*args)
    except UsageError as e:
        report(prog, str(e))
        return EXIT_USAGE
    except RunError as e:
        report(prog, str(e))
        return EXIT_FAILURE
    except KeyboardInterrupt:
        report(prog, "interrupted")
        return 130
    except BrokenPipeError:          # e.g. piped into head: not an error of ours
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
        return 0


def _why(e: OSError) -> str:
    return e.strerror or str(e)


def check_finite_seconds(option: str, text: Any, *, positive: bool = True) -> float:
    """A finite number of seconds (rejects nan, inf, words; and <= 0 unless C{positive} is False)."""
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise UsageError(option, f"must be a number of seconds, got {show_value(text)}") from None
    if not math.isfinite(value):
        raise UsageError(option, f"must be a finite number of seconds, got {text}")
    if positive and value <= 0:
        raise UsageError(option, f"must be positive, got {text}")
    return value


def check_int(option: str, text: Any, *, lo: int | None = None, hi: int | None = None,
              base: int = 10) -> int:
    """An integer (C{base} 0 accepts 0x.. / 0o.. / 0b..) within C{[lo, hi]}."""
    if isinstance(text, int) and not isinstance(text, bool):
        value = text
    else:
        try:
            value = int(str(text).strip(), base)
        except ValueError:
            kind = "an integer (decimal or 0x...)" if base == 0 else "an integer"
            raise UsageError(option, f"must be {kind}, got {show_value(text)}") from None
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise UsageError(option, f"must be {lo}-{hi}, got {text}" if lo is not None and hi is not None
                         else f"must be at least {lo}, got {text}" if lo is not None
                         else f"must be at most {hi}, got {text}")
    return value


def check_input_file(option: str, path: str) -> Path:
    """A regular file that exists and can be read."""
    p = Path(path)
    if not p.exists():
        raise UsageError(option, f"no such file: {path}")
    if p.is_dir():
        raise UsageError(option, f"{path} is a directory, not a file")
    if not p.is_file():
        raise UsageError(option, f"{path} is not a regular file")
    if not os.access(p, os.R_OK):
        raise UsageError(option, f"{path} is not readable (permission denied)")
    return p


def check_directory(option: str, path: str) -> Path:
    """A directory that exists and can be listed."""
    p = Path(path)
    if not p.exists():
        raise UsageError(option, f"no such directory: {path}")
    if not p.is_dir():
        raise UsageError(option, f"{path} is not a directory")
    if not os.access(p, os.R_OK | os.X_OK):
        raise UsageError(option, f"{path} is not readable (permission denied)")
    return p


def check_output_file(option: str, path: str, mode: str = "wb", **kwargs: Any):
    """Open an output file now (while options are parsed), naming the option if that fails."""
    p = Path(path)
    if not path:
        raise UsageError(option, "needs a file name")
    if p.is_dir():
        raise UsageError(option, f"{path} is a directory, not a file")
    parent = p.parent
    if not parent.exists():
        raise UsageError(option, f"directory {parent} does not exist (for {path})")
    if not parent.is_dir():
        raise UsageError(option, f"{parent} is not a directory (for {path})")
    try:
        return open(p, mode, **kwargs)
    except OSError as e:
        raise UsageError(option, f"cannot write {path}: {_why(e)}") from None


def bind_tcp_port(option: str, port: int, interface: str = "127.0.0.1") -> socket.socket:
    """A listening TCP socket on C{interface:port}, bound now so that a port in use is a usage error.

    The caller hands it to the reactor (C{AdoptedStreamServerEndpoint}), so nothing can take
    the port between the check and the listen.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        if os.name == "posix":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((interface, port))
        sock.listen(50)
        sock.setblocking(False)
    except OSError as e:
        sock.close()
        if e.errno == errno.EADDRINUSE:
            raise UsageError(option, f"{interface}:{port} is already in use") from None
        if e.errno == errno.EACCES:
            raise UsageError(option, f"{interface}:{port}: permission denied (ports below 1024 need root)") \
                from None
        raise UsageError(option, f"cannot listen on {interface}:{port}: {_why(e)}") from None
    return sock

