"""Queueing, retry and timeout of commands on their way to the CSPs (the ACB's delivery rules).

E2E architecture 4.2.3.1 (the ACB's "message queuing and retry processing") and 5.5 (every
request ends in success, failure or timeout), as sans-IO state machines on an injected clock
(C{IReactorTime}: C{seconds}, C{callLater}):

  - a command waits in its CSP's queue while that CSP's link is down, and goes out in
    admission order when the link is up;
  - a send the transport refuses is retried with exponential backoff (C{retry_base} doubling
    up to C{retry_cap}), never past the deadline;
  - the deadline is the command's target response time (from admission): a command not
    answered by then is timed out, wherever it is;
  - a response ends it (also one that arrives while a resend waits).

Per command, an C{automat} machine (L{CommandDelivery}) with the states C{queued},
C{in_flight}, C{backing_off}, C{answered} and C{timed_out}; L{DeliveryQueue} owns the machines,
the per-CSP link state and the timers.  Sends are outputs: the queue collects them while a
machine moves and hands them to C{transmit(csp, command)} afterwards (a transmit that raises is
a refused send); outcomes go to C{on_outcome}.  Nothing is dropped silently.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import Any, Callable, Hashable, Protocol

from automat import TypeMachineBuilder

__all__ = ["Outcome", "CommandDelivery", "DeliveryQueue", "ANSWERED", "TIMED_OUT"]

ANSWERED = "answered"
TIMED_OUT = "timed-out"


@dataclass(frozen=True, slots=True)
class Outcome:
    """How one command ended: C{ANSWERED} or C{TIMED_OUT}, after C{attempts} sends."""

    key: Hashable
    csp: str
    result: str
    attempts: int
    at: float


class CommandDelivery(Protocol):
    """Inputs of one command's delivery machine."""

    def dispatch(self) -> None:
        """The command's CSP link is up: send it if it is waiting."""

    def send_failed(self) -> None:
        """The transport refused the last send."""

    def retry_due(self) -> None:
        """The backoff after a refused send is over."""

    def response(self) -> None:
        """The device's response arrived."""

    def deadline(self) -> None:
        """The target response time has passed."""


class _Core:
    """Data of one command's delivery (shared by every state)."""

    __slots__ = ("queue", "key", "csp", "command", "attempts", "retry_call", "deadline_call", "done", "state")

    def __init__(self, queue: "DeliveryQueue", key: Hashable, csp: str, command: bytes) -> None:
        self.queue = queue
        self.key = key
        self.csp = csp
        self.command = command
        self.attempts = 0
        self.retry_call: Any = None
        self.deadline_call: Any = None
        self.done = False
        self.state = "queued"


def _cancel(call: Any) -> None:
    if call is not None and call.active():
        call.cancel()


def _build():
    b = TypeMachineBuilder(CommandDelivery, _Core)
    queued = b.state("queued")
    in_flight = b.state("in_flight")
    backing_off = b.state("backing_off")
    answered = b.state("answered")
    timed_out = b.state("timed_out")

    @queued.upon(CommandDelivery.dispatch).to(in_flight)
    def send(inputs: CommandDelivery, core: _Core) -> None:
        core.attempts += 1
        core.state = "in_flight"
        core.queue._outbox.append(core)

    @in_flight.upon(CommandDelivery.send_failed).to(backing_off)
    def back_off(inputs: CommandDelivery, core: _Core) -> None:
        q = core.queue
        delay = min(q.retry_base * (2 ** min(core.attempts - 1, 30)), q.retry_cap)
        core.state = "backing_off"
        core.retry_call = q.clock.callLater(delay, q._input, core.key, "retry_due")

    @backing_off.upon(CommandDelivery.retry_due).to(queued)
    def requeue(inputs: CommandDelivery, core: _Core) -> None:
        core.retry_call = None
        core.state = "queued"
        core.queue._wait(core)

    for state in (queued, in_flight, backing_off):
        @state.upon(CommandDelivery.response).to(answered)
        def finish(inputs: CommandDelivery, core: _Core) -> None:
            _cancel(core.retry_call)
            _cancel(core.deadline_call)
            core.queue._finish(core, ANSWERED)

        @state.upon(CommandDelivery.deadline).to(timed_out)
        def expire(inputs: CommandDelivery, core: _Core) -> None:
            _cancel(core.retry_call)
            core.queue._finish(core, TIMED_OUT)

    # inputs that do not apply in a state leave it unchanged (behaviours never raise)
    for state, ignored in ((queued, ("send_failed", "retry_due")),
                           (in_flight, ("dispatch", "retry_due")),
                           (backing_off, ("dispatch", "send_failed")),
                           (answered, ("dispatch", "send_failed", "retry_due", "response", "deadline")),
                           (timed_out, ("dispatch", "send_failed", "retry_due", "response", "deadline"))):
        for name in ignored:
            state.upon(getattr(CommandDelivery, name)).loop().returns(None)
    return b.build()


_Machine = _build()


class DeliveryQueue:
    """Every command the ACB has sent and not yet seen end, per CSP.

    @param clock: C{IReactorTime} (C{seconds}, C{callLater}).
    @param transmit: C{transmit(csp, command)} hands a command to a CSP; raising means refused.
    @param on_outcome: called with each L{Outcome}.
    @param retry_base: first backoff after a refused send (s); doubles per attempt.
    @param retry_cap: longest backoff (s).
    @param max_commands: bound of the table (L{enqueue} refuses beyond it).
    @param on_depth: called with C{(csp, commands)} whenever a CSP's number of commands in
        delivery changes (for a queue-depth gauge).
    """

    def __init__(self, clock: Any, transmit: Callable[[str, bytes], None],
                 on_outcome: Callable[[Outcome], None], *, retry_base: float = 5.0, retry_cap: float = 300.0,
                 max_commands: int = 100_000, on_depth: Callable[[str, int], None] | None = None) -> None:
        self.clock = clock
        self.on_depth = on_depth
        #: per CSP, the commands in delivery (any state)
        self._depth: dict[str, int] = {}
        self.transmit = transmit
        self.on_outcome = on_outcome
        self.retry_base = retry_base
        self.retry_cap = retry_cap
        self.max_commands = max_commands
        self._machines: "OrderedDict[Hashable, tuple[CommandDelivery, _Core]]" = OrderedDict()
        self._link_up: dict[str, bool] = {}
        self._outbox: list[_Core] = []
        #: CSPs to look at, in the order they became ready (a dict: ordered, unlike a set)
        self._ready: dict[str, None] = {}
        #: per CSP, the commands waiting to be sent, in admission (or requeue) order
        self._waiting: dict[str, deque[_Core]] = {}
        self._busy = False

    # ------------------------------------------------------------------ inputs

    def enqueue(self, key: Hashable, csp: str, command: bytes, deadline: float) -> bool:
        """Take a command for delivery until C{deadline} (clock seconds); False if full or known."""
        if key in self._machines or len(self._machines) >= self.max_commands:
            return False
        core = _Core(self, key, csp, command)
        machine = _Machine(core)
        self._machines[key] = (machine, core)
        self._depth_change(csp, 1)
        core.deadline_call = self.clock.callLater(max(0.0, deadline - self.clock.seconds()),
                                                  self._input, key, "deadline")
        self._wait(core)
        self._drain()
        return True

    def link(self, csp: str, up: bool) -> None:
        """The CSP link went up or down."""
        self._link_up[csp] = up
        if up:
            self._ready[csp] = None
            self._drain()

    def response(self, key: Hashable) -> bool:
        """The response to C{key} arrived; False if the command is not in delivery."""
        if key not in self._machines:
            return False
        self._input(key, "response")
        return True

    def send_failed(self, key: Hashable) -> None:
        """The transport reports (later) that the send of C{key} failed."""
        if key in self._machines:
            self._input(key, "send_failed")

    # ------------------------------------------------------------------ state

    def state_of(self, key: Hashable) -> str | None:
        """Name of the command's current state, or None once it has ended."""
        entry = self._machines.get(key)
        return None if entry is None else entry[1].state

    def __len__(self) -> int:
        return len(self._machines)

    def depth(self, csp: str) -> int:
        """Commands in delivery for C{csp} (waiting, sent or backing off)."""
        return self._depth.get(csp, 0)

    def _depth_change(self, csp: str, delta: int) -> None:
        n = self._depth[csp] = self._depth.get(csp, 0) + delta
        if self.on_depth is not None:
            self.on_depth(csp, n)

    # ------------------------------------------------------------------ internals

    def _wait(self, core: _Core) -> None:
        self._waiting.setdefault(core.csp, deque()).append(core)
        self._ready[core.csp] = None

    def _input(self, key: Hashable, name: str) -> None:
        entry = self._machines.get(key)
        if entry is None:
            return
        getattr(entry[0], name)()
        self._drain()

    def _finish(self, core: _Core, result: str) -> None:
        core.done = True
        if self._machines.pop(core.key, None) is not None:
            self._depth_change(core.csp, -1)
        waiting = self._waiting.get(core.csp)
        if waiting is not None and len(waiting) > 2 * len(self._machines) + 64:
            # commands that ended while waiting (a long outage): drop them from the queue
            self._waiting[core.csp] = deque(c for c in waiting if not c.done)
        self.on_outcome(Outcome(core.key, core.csp, result, core.attempts, self.clock.seconds()))

    def _drain(self) -> None:
        """Dispatch waiting commands of CSPs whose link is up, then hand the sends over."""
        if self._busy:
            return
        self._busy = True
        try:
            while self._ready or self._outbox:
                while self._ready:
                    csp = next(iter(self._ready))
                    del self._ready[csp]
                    waiting = self._waiting.get(csp)
                    if not waiting or not self._link_up.get(csp, False):
                        continue
                    while waiting:
                        core = waiting.popleft()
                        entry = self._machines.get(core.key)
                        if entry is not None and entry[1] is core:
                            entry[0].dispatch()
                while self._outbox:
                    core = self._outbox.pop(0)
                    if core.done:
                        continue
                    try:
                        self.transmit(core.csp, core.command)
                    except Exception:
                        entry = self._machines.get(core.key)
                        if entry is not None:
                            entry[0].send_failed()
        finally:
            self._busy = False
