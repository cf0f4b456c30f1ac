"""Service discovery as a display does it: Match_Desc broadcasts until the meters it needs have
answered, retried with a short, growing backoff (ZigBee PRO 2.4.3.1.7 Match_Desc_req; ZSE
5.3.4 service discovery).

One L{MeterDiscovery} machine (automat typed builder):

    idle --start--> searching --window_closed--> backing_off (timer: next backoff) --retry--> searching
    searching / backing_off --complete--> done

The first retry comes after L{FIRST_BACKOFF} seconds and each one after that L{GROWTH} times
later (with seeded jitter), up to L{MAX_BACKOFF}: a display that joined before the meter finds
it within seconds of the meter joining, and a HAN with nothing to find is not flooded.  The
machine drives a L{DiscoveryLower} (the device) and never builds frames itself.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Protocol

from automat import TypeMachineBuilder

from protocols._statetimer import StateTimer as _Timed

FIRST_BACKOFF = 2.0  # s
GROWTH = 1.6
MAX_BACKOFF = 300.0  # s
JITTER = 0.2  # +- fraction of each backoff


class DiscoveryLower(Protocol):
    def send_match_desc(self) -> None:
        "Broadcast one Match_Desc_req (its response window ends in window_closed)."


class MeterDiscoveryInputs(Protocol):
    def start(self) -> None:
        "Begin discovering (ignored unless idle)."

    def window_closed(self) -> None:
        "The Match_Desc response window ended."

    def retry(self) -> None:
        "The backoff timer expired."

    def complete(self) -> None:
        "Everything wanted has been found."


@dataclass
class DiscoveryCore:
    clock: Any
    rng: random.Random
    lower: DiscoveryLower
    attempts: int = 0

    def next_backoff(self) -> float:
        base = min(MAX_BACKOFF, FIRST_BACKOFF * GROWTH ** self.attempts)
        self.attempts += 1
        return base * self.rng.uniform(1.0 - JITTER, 1.0 + JITTER)


def _build():
    b = TypeMachineBuilder(MeterDiscoveryInputs, DiscoveryCore)

    def backoff_timer(inputs: MeterDiscoveryInputs, core: DiscoveryCore) -> _Timed:
        return _Timed(core.clock.callLater(core.next_backoff(), inputs.retry))

    idle = b.state("idle")
    searching = b.state("searching")
    backing_off = b.state("backing_off", backoff_timer)
    done = b.state("done")

    @idle.upon(MeterDiscoveryInputs.start).to(searching)
    def search(inputs: MeterDiscoveryInputs, core: DiscoveryCore) -> None:
        core.lower.send_match_desc()

    @backing_off.upon(MeterDiscoveryInputs.retry).to(searching)
    def search_again(inputs: MeterDiscoveryInputs, core: DiscoveryCore, data: _Timed) -> None:
        data.timer = None
        core.lower.send_match_desc()

    searching.upon(MeterDiscoveryInputs.window_closed).to(backing_off).returns(None)

    @backing_off.upon(MeterDiscoveryInputs.complete).to(done)
    def stop_waiting(inputs: MeterDiscoveryInputs, core: DiscoveryCore, data: _Timed) -> None:
        data.cancel()

    searching.upon(MeterDiscoveryInputs.complete).to(done).returns(None)
    idle.upon(MeterDiscoveryInputs.complete).to(done).returns(None)
    for state, names in ((idle, ("window_closed", "retry")), (searching, ("start", "retry")),
                         (backing_off, ("start", "window_closed")),
                         (done, ("start", "window_closed", "retry", "complete"))):
        for name in names:
            state.upon(getattr(MeterDiscoveryInputs, name)).loop().returns(None)
    return b.build()


MeterDiscovery = _build()


def make_discovery(clock, rng: random.Random, lower: DiscoveryLower) -> MeterDiscoveryInputs:
    return MeterDiscovery(DiscoveryCore(clock, rng, lower))
