"""Virtual-time scheduler: a heap-based provider of Twisted's C{IReactorTime}.

Implements the time-injection rule of DESIGN.md ("Time is injected") and STYLE.md 3: every
protocol machine, device and link takes an C{IReactorTime}.  In real time that is the reactor;
for deterministic soak runs it is a L{VirtualClock}, which jumps from one pending call to the
next instead of waiting.

Why not C{twisted.internet.task.Clock}: it keeps a plain list and re-sorts it on every
C{callLater}/C{reset}, which collapses at tens of thousands of pending timers (see
C{python -m benchmarks.clock}).  L{VirtualClock} keeps a binary heap (C{heapq}) of
C{(time, seq, call)} entries:

 - C{seq} is a monotonically increasing sequence number given on every (re)scheduling, so
   calls due at the same time run FIFO in the order they were (re)scheduled;
 - C{cancel} is lazy deletion: the entry stays in the heap but no longer matches its call; the
   dead entries are counted and the heap is compacted when more than half of it is dead;
 - C{reset}/C{delay} to a later time only update the call (the stale entry is re-pushed when it
   reaches the top); to an earlier time they push a new entry and the old one becomes dead.

Exceptions raised by a call are logged through C{twisted.logger}, counted in
L{VirtualClock.errors} and never stop the run or corrupt the heap.
"""

from __future__ import annotations

import math
from heapq import heapify, heappop, heappush, heapreplace
from typing import Any, Callable

from twisted.internet.error import AlreadyCalled, AlreadyCancelled
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger
from zope.interface import implementer

__all__ = ["VirtualClock", "VirtualDelayedCall"]

_log = Logger()

#: compact the heap only above this size (small heaps are cheap to leave dirty)
_COMPACT_MIN = 64


@implementer(IDelayedCall)
class VirtualDelayedCall:
    """One scheduled call on a L{VirtualClock} (an C{IDelayedCall} provider).

    @ivar time: the virtual time at which the call is due.
    @ivar func: the callable (C{None} once cancelled).
    @ivar args: positional arguments.
    @ivar kw: keyword arguments.
    @ivar cancelled: true once L{cancel} was called.
    @ivar called: true once the call ran (or started running).
    """

    __slots__ = ("time", "seq", "func", "args", "kw", "cancelled", "called", "_clock", "_entry")

    def __init__(self, clock: "VirtualClock", time: float, seq: int,
                 func: Callable[..., Any], args: tuple, kw: dict) -> None:
        self._clock = clock
        self.time = time
        self.seq = seq
        self.func = func
        self.args = args
        self.kw = kw
        self.cancelled = False
        self.called = False
        self._entry: tuple | None = None

    def getTime(self) -> float:
        """Return the virtual time at which this call will run."""
        return self.time

    def active(self) -> bool:
        """Return whether this call is still pending (neither cancelled nor called)."""
        return not (self.cancelled or self.called)

    def _check(self) -> None:
        if self.cancelled:
            raise AlreadyCancelled()
        if self.called:
            raise AlreadyCalled()

    def cancel(self) -> None:
        """Unschedule this call.

        @raise AlreadyCancelled: it was already cancelled.
        @raise AlreadyCalled: it already ran.
        """
        self._check()
        self.cancelled = True
        self._entry = None
        self.func = None
        self.args = ()
        self.kw = {}
        self._clock._dead_added()

    def reset(self, secondsFromNow: float) -> None:
        """Reschedule this call to run C{secondsFromNow} after the clock's current time.

        @raise AlreadyCancelled: it was cancelled.
        @raise AlreadyCalled: it already ran.
        """
        self._check()
        self._clock._reschedule(self, self._clock._now + secondsFromNow)

    def delay(self, secondsLater: float) -> None:
        """Move this call C{secondsLater} after its currently scheduled time (may be negative).

        @raise AlreadyCancelled: it was cancelled.
        @raise AlreadyCalled: it already ran.
        """
        self._check()
        self._clock._reschedule(self, self.time + secondsLater)

    def __repr__(self) -> str:
        state = "cancelled" if self.cancelled else "called" if self.called else "pending"
        name = getattr(self.func, "__qualname__", repr(self.func))
        return f"<VirtualDelayedCall {state} at {self.time!r} {name}>"


@implementer(IReactorTime)
class VirtualClock:
    """A deterministic virtual-time C{IReactorTime}: time only moves when driven.

    Drive it with L{advance}, L{run_until}, L{run_until_idle} or L{step}.  The time seen by a
    call while it runs (L{seconds}) is the time it was due.

    @ivar errors: number of calls that raised an exception (each one is logged).
    @ivar calls_run: number of calls run so far.
    """

    def __init__(self, start: float = 0.0) -> None:
        if not math.isfinite(start):
            raise ValueError(f"start must be a finite number, got {start!r}")
        self._now = float(start)
        self._heap: list[tuple[float, int, VirtualDelayedCall]] = []
        self._seq = 0
        self._dead = 0
        self.errors = 0
        self.calls_run = 0

    # -- IReactorTime -------------------------------------------------------------------------

    def seconds(self) -> float:
        """Return the current virtual time in seconds."""
        return self._now

    def callLater(self, delay: float, callable: Callable[..., Any], *args: Any,
                  **kw: Any) -> VirtualDelayedCall:
        """Schedule C{callable(*args, **kw)} to run C{delay} seconds from now.

        @raise ValueError: C{delay} is negative or not a number.
        """
        if not delay >= 0.0:  # also catches NaN
            raise ValueError(f"delay must be >= 0 seconds, got {delay!r}")
        seq = self._seq = self._seq + 1
        when = self._now + delay
        call = VirtualDelayedCall(self, when, seq, callable, args, kw)
        entry = (when, seq, call)
        call._entry = entry
        heappush(self._heap, entry)
        return call

    def getDelayedCalls(self) -> list[VirtualDelayedCall]:
        """Return all pending calls (in no particular order)."""
        return [e[2] for e in self._heap if e[2]._entry is e]

    # -- scheduling internals -----------------------------------------------------------------

    def _reschedule(self, call: VirtualDelayedCall, when: float) -> None:
        if not math.isfinite(when):
            raise ValueError(f"new time must be finite, got {when!r}")
        seq = self._seq = self._seq + 1
        entry = call._entry
        call.seq = seq
        if entry is not None and when >= entry[0]:
            # later than (or equal to) the heap entry: lazily re-pushed when it surfaces
            call.time = when
            return
        call.time = when
        new = (when, seq, call)
        call._entry = new
        heappush(self._heap, new)
        self._dead_added()

    def _dead_added(self) -> None:
        self._dead += 1
        heap = self._heap
        if self._dead > (len(heap) >> 1) and len(heap) > _COMPACT_MIN:
            live = [e for e in heap if e[2]._entry is e]
            heapify(live)
            self._heap = live
            self._dead = 0

    def _settle(self) -> tuple[float, int, VirtualDelayedCall] | None:
        """Drop dead entries and re-push postponed ones at the top; return the live top."""
        heap = self._heap
        while heap:
            entry = heap[0]
            call = entry[2]
            if call._entry is not entry:
                heappop(heap)
                self._dead -= 1
                continue
            if call.seq != entry[1]:
                new = (call.time, call.seq, call)
                call._entry = new
                heapreplace(heap, new)
                continue
            return entry
        return None

    # -- driving ------------------------------------------------------------------------------

    def _run(self, call: VirtualDelayedCall) -> None:
        call.called = True
        call._entry = None
        func, args, kw = call.func, call.args, call.kw
        call.func = None
        call.args = ()
        call.kw = {}
        self.calls_run += 1
        try:
            func(*args, **kw)
        except BaseException as e:  # noqa: BLE001 - a call must never stop the clock
            if isinstance(e, (KeyboardInterrupt, SystemExit)):
                raise
            self.errors += 1
            _log.failure("Unhandled error in virtual delayed call {func!r}", func=func)

    def run_until(self, t: float) -> int:
        """Run every pending call due at or before C{t} (including calls they schedule), then
        set the time to C{t}.  Return the number of calls run.

        @raise ValueError: C{t} is before the current time.
        """
        if not t >= self._now:
            raise ValueError(f"cannot run until {t!r}: the time is already {self._now!r}")
        heap = self._heap
        n = 0
        while heap:
            entry = heap[0]
            if entry[0] > t:
                break
            call = entry[2]
            if call._entry is not entry:
                heappop(heap)
                self._dead -= 1
                continue
            if call.seq != entry[1]:  # postponed: re-push at its new time
                new = (call.time, call.seq, call)
                call._entry = new
                heapreplace(heap, new)
                continue
            heappop(heap)
            if entry[0] > self._now:
                self._now = entry[0]
            self._run(call)
            n += 1
            heap = self._heap
        self._now = t
        return n

    def advance(self, seconds: float) -> int:
        """Move time forward by C{seconds}, running every call that falls due.

        Return the number of calls run.
        """
        if not seconds >= 0.0:
            raise ValueError(f"cannot advance by {seconds!r} seconds")
        return self.run_until(self._now + seconds)

    def step(self) -> bool:
        """Run the next pending call (moving time to it).  Return C{False} if none was pending."""
        entry = self._settle()
        if entry is None:
            return False
        heappop(self._heap)
        if entry[0] > self._now:
            self._now = entry[0]
        self._run(entry[2])
        return True

    def run_until_idle(self, limit: int | None = None) -> int:
        """Run pending calls until none is left (time jumps to each one).

        @param limit: stop after this many calls even if more are pending (a guard against
            periodic timers that never let the clock become idle); C{None} = no limit.
        @return: the number of calls run.
        """
        n = 0
        while limit is None or n < limit:
            if not self.step():
                break
            n += 1
        return n

    def pending_count(self) -> int:
        """Return the number of pending (not cancelled, not yet run) calls."""
        return len(self._heap) - self._dead

    def next_time(self) -> float | None:
        """Return the time of the next pending call, or C{None} when idle."""
        entry = self._settle()
        return None if entry is None else entry[0]
