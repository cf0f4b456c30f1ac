"""Where the shared DCC reference data is, and a framing-independent splitter for it.

The paths come from C{tests/conftest.py} (defined once; missing data fails under CI).
L{split_rtds} is deliberately a second, minimal reading of the
GBCS framing (gbcs-wire-format.md 1.2/1.3), independent of L{protocols.gbcs.framing}, so the
payload tests do not depend on the code they are not testing.
"""

from __future__ import annotations

import contextlib
import signal

from tests.conftest import KEYSTORE, RTDS, SHARED, needs_keys, needs_rtds, needs_shared

__all__ = ["KEYSTORE", "RTDS", "SHARED", "needs_keys", "needs_rtds", "needs_shared", "split_rtds", "time_limit",
           "DecoderHang"]


def split_rtds(hexstr: str) -> tuple[int, int, bytes, int]:
    """(message code, CRA flag, payload, originator counter) of one RTDS message in hex."""
    b = bytes.fromhex(hexstr.strip())

    def length(i: int) -> tuple[int, int]:
        x = b[i]
        if x < 0x80:
            return x, i + 1
        return int.from_bytes(b[i + 1:i + 1 + (x & 0x7F)], "big"), i + 1 + (x & 0x7F)

    i = 0
    if b[0] == 0xDD:
        _, i = length(7)
        i += 5
    cra, counter = b[i + 2], int.from_bytes(b[i + 3:i + 11], "big")
    i += 1 + 10 + 9 + 9
    i += 1 + b[i]
    n, i = length(i)
    code = int.from_bytes(b[i:i + 2], "big")
    i += n
    n, i = length(i)
    return code, cra, b[i:i + n], counter


class DecoderHang(BaseException):
    """Raised by L{time_limit}; a BaseException so that no codec's C{except Exception} hides it."""


@contextlib.contextmanager
def time_limit(seconds: float):
    """Turn a decoder that never finishes into a test failure instead of a hung test run."""
    if not hasattr(signal, "setitimer"):
        yield
        return

    def expired(signum, frame):
        raise DecoderHang(f"decoder still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
