"""Per-state data that holds a state's timer, for the automat machines (internal).

STYLE.md 2: timers are per-state data, cancelled on exit.  automat's typed builder calls a
state's data factory on entry and C{cancel()}s nothing by itself, so each machine's
transitions out of a timed state call L{StateTimer.cancel}.  One class for every machine
(joiner, trust centre, key request, discovery, the GSME's wake cycle).
"""

from __future__ import annotations

__all__ = ["StateTimer"]


class StateTimer:
    """Per-state data holding the state's timer (an C{IDelayedCall}, or None)."""

    __slots__ = ("timer",)

    def __init__(self, timer) -> None:
        self.timer = timer

    def cancel(self) -> None:
        """Cancel the timer if it is still pending (idempotent)."""
        if self.timer is not None and self.timer.active():
            self.timer.cancel()
        self.timer = None
