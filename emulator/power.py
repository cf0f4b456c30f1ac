"""A node's power supply as seen by its timers: every call a powered node schedules dies with it.

L{PowerDomain} wraps the run's clock for one node: C{seconds()} is the clock's, C{callLater} goes
to the clock (same order, same times: a run without a power cut is unchanged) and is remembered
until it runs or is cancelled, and L{PowerDomain.cut} cancels every call still pending, as a power
cut ends whatever the node's processor was waiting for (MAC retransmissions, APS acknowledgements,
tunnel and key-establishment timers, ...).
"""

from __future__ import annotations

from typing import Any, Callable

__all__ = ["PowerDomain"]


class PowerDomain:
    """The clock of one node whose power can be cut (see the module docstring).

    @param clock: the run's C{IReactorTime}.
    """

    def __init__(self, clock) -> None:
        self.clock = clock
        self._pending: dict[int, Any] = {}
        self._next = 0
        #: calls cancelled by power cuts
        self.cut_calls = 0

    def seconds(self) -> float:
        return self.clock.seconds()

    def callLater(self, delay: float, f: Callable[..., Any], *args: Any, **kw: Any):
        key = self._next
        self._next += 1
        pending = self._pending

        def run() -> Any:
            pending.pop(key, None)
            return f(*args, **kw)

        call = self.clock.callLater(delay, run)
        pending[key] = call
        if len(pending) > 64 and key % 64 == 0:       # drop the cancelled ones now and then
            for k in [k for k, c in pending.items() if not c.active()]:
                del pending[k]
        return call

    def cut(self) -> int:
        """Cancel every call scheduled through this domain that has not run; how many."""
        n = 0
        for call in self._pending.values():
            if call.active():
                call.cancel()
                n += 1
        self._pending.clear()
        self.cut_calls += n
        return n

    def __getattr__(self, name: str) -> Any:
        return getattr(self.clock, name)
