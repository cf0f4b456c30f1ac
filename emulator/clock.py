"""Virtual-time scheduler: a heap-based provider of Twisted's C{IReactorTime}.

Implements the time-injection rule of DESIGN.md ("Time is injected") and STYLE.md 3: every
protocol machine, device and link takes an C{IReactorTime}.  In real time that is the reactor;
for deterministic soak runs it is a L{VirtualClock}, which jumps from one pending call to the
next instead of waiting.

Why not C{twisted.internet.task.Clock}: it keeps a plain list and re-sorts it on every
C{callLater}/C{reset}, which collapses at tens of thousands of pending timers (see
C{python -m benchmarks.clock}).  L{VirtualClock} keeps binary heaps (C{heapq}) of
C{(time, seq, call)} entries:

 - C{seq} is a monotonically increasing sequence number given on every (re)scheduling, so
   calls due at the same time run FIFO in the order they were (re)scheduled;
 - C{cancel} is lazy deletion: the entry stays in the heap but no longer matches its call; the
   dead entries are counted and the heap is compacted when more than half of it is dead;
 - C{reset}/C{delay} to a later time only update the call (the stale entry is re-pushed when it
   reaches the top); to an earlier time they push a new entry and the old one becomes dead;
 - two levels keep the working heap small and cache-friendly with 100k+ timers: entries due in
   the current time bucket (C{bucket_width} seconds) are in the "near" heap; later ones wait,
   unsorted, in one list per bucket, and a heap of bucket numbers says which bucket comes next
   (it is heapified when time reaches it).  With every call in one bucket this is a plain heap.

A running call may schedule, cancel and reset calls but not drive the clock (C{run_until},
C{advance}, C{step} raise C{RuntimeError} from inside a call).

Exceptions raised by a call are logged through C{twisted.logger}, counted in
L{VirtualClock.errors} and never stop the run or corrupt the heap.
"""

from __future__ import annotations

import math
from heapq import heapify, heappop, heappush
from typing import Any, Callable

from twisted.internet.error import AlreadyCalled, AlreadyCancelled
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger
from zope.interface import implementer

__all__ = ["VirtualClock", "VirtualDelayedCall"]

_log = Logger()

#: compact the heap only above this size (small heaps are cheap to leave dirty)
_COMPACT_MIN = 64

_INF = float("inf")

#: shared stand-in for the keyword arguments of a finished call (saves an allocation per call)
_NO_KW: dict = {}


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
        self.kw = _NO_KW
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

    Internally the heap is split in two levels so that it stays small and cache-friendly with
    100k+ pending timers: calls due in the current time bucket (C{bucket_width} seconds wide)
    are in a binary heap of C{(time, seq, call)} entries; later calls wait, unsorted, in one
    list per bucket, and a heap of bucket numbers says which bucket comes next.  A bucket is
    heapified when time reaches it.  With every call in one bucket this is a plain heap.

    @param start: the initial time.
    @param bucket_width: width of a time bucket in seconds (a tuning knob, not a semantic one).

    @ivar errors: number of calls that raised an exception (each one is logged).
    @ivar calls_run: number of calls run so far.
    """

    def __init__(self, start: float = 0.0, *, bucket_width: float = 1.0) -> None:
        if not math.isfinite(start):
            raise ValueError(f"start must be a finite number, got {start!r}")
        if not (bucket_width > 0 and math.isfinite(bucket_width)):
            raise ValueError(f"bucket_width must be a positive number, got {bucket_width!r}")
        self._now = float(start)
        self._inv_w = 1.0 / float(bucket_width)
        self._near: list[tuple[float, int, VirtualDelayedCall]] = []
        self._far: dict[int, list[tuple[float, int, VirtualDelayedCall]]] = {}
        self._far_keys: list[int] = []
        self._cur = math.floor(self._now * self._inv_w)
        self._seq = 0
        self._entries = 0   # entries in near + far (live, postponed or dead)
        self._dead = 0      # entries that no longer match their call
        self._driving = False
        self.errors = 0
        self.calls_run = 0

    # -- IReactorTime -------------------------------------------------------------------------

    def seconds(self) -> float:
        """Return the current virtual time in seconds."""
        return self._now

    def callLater(self, delay: float, callable: Callable[..., Any], *args: Any,
                  **kw: Any) -> VirtualDelayedCall:
        """Schedule C{callable(*args, **kw)} to run C{delay} seconds from now.

        @raise ValueError: C{delay} is negative, infinite or not a number.
        """
        if not 0.0 <= delay < _INF:  # also catches NaN
            raise ValueError(f"delay must be a finite number of seconds >= 0, got {delay!r}")
        seq = self._seq = self._seq + 1
        when = self._now + delay
        call = VirtualDelayedCall(self, when, seq, callable, args, kw)
        entry = call._entry = (when, seq, call)
        self._entries += 1
        idx = math.floor(when * self._inv_w)
        if idx <= self._cur:
            heappush(self._near, entry)
        else:
            lst = self._far.get(idx)
            if lst is None:
                self._far[idx] = [entry]
                heappush(self._far_keys, idx)
            else:
                lst.append(entry)
        return call

    def getDelayedCalls(self) -> list[VirtualDelayedCall]:
        """Return all pending calls (in no particular order)."""
        out = [e[2] for e in self._near if e[2]._entry is e]
        for lst in self._far.values():
            out.extend(e[2] for e in lst if e[2]._entry is e)
        return out

    # -- scheduling internals -----------------------------------------------------------------

    def _push(self, entry: tuple[float, int, VirtualDelayedCall]) -> None:
        self._entries += 1
        idx = math.floor(entry[0] * self._inv_w)
        if idx <= self._cur:
            heappush(self._near, entry)
        else:
            lst = self._far.get(idx)
            if lst is None:
                self._far[idx] = [entry]
                heappush(self._far_keys, idx)
            else:
                lst.append(entry)

    def _reschedule(self, call: VirtualDelayedCall, when: float) -> None:
        if not math.isfinite(when):
            raise ValueError(f"new time must be finite, got {when!r}")
        seq = self._seq = self._seq + 1
        entry = call._entry
        call.seq = seq
        call.time = when
        if entry is not None and when >= entry[0]:
            return  # later than its entry: re-pushed lazily when the entry surfaces
        new = call._entry = (when, seq, call)
        self._push(new)
        self._dead_added()

    def _dead_added(self) -> None:
        self._dead += 1
        if self._dead > (self._entries >> 1) and self._entries > _COMPACT_MIN:
            self._compact()

    def _compact(self) -> None:
        near = [e for e in self._near if e[2]._entry is e]
        heapify(near)
        total = len(near)
        far = {}
        for idx, lst in self._far.items():
            live = [e for e in lst if e[2]._entry is e]
            if live:
                far[idx] = live
                total += len(live)
        keys = list(far)
        heapify(keys)
        self._near, self._far, self._far_keys = near, far, keys
        self._entries = total
        self._dead = 0

    def _top(self) -> tuple[float, int, VirtualDelayedCall] | None:
        """Drop dead entries, re-push postponed ones, pull buckets; return the live top entry."""
        while True:
            near = self._near
            while near:
                entry = near[0]
                call = entry[2]
                if call._entry is not entry:
                    heappop(near)
                    self._entries -= 1
                    self._dead -= 1
                    continue
                if call.seq != entry[1]:  # postponed
                    heappop(near)
                    self._entries -= 1
                    new = call._entry = (call.time, call.seq, call)
                    self._push(new)
                    continue
                return entry
            if not self._far_keys:
                return None
            self._pull()

    def _pull(self) -> None:
        idx = heappop(self._far_keys)
        lst = self._far.pop(idx)
        heapify(lst)
        self._near = lst
        self._cur = idx

    # -- driving ------------------------------------------------------------------------------

    def _run(self, call: VirtualDelayedCall) -> None:
        call.called = True
        call._entry = None
        func, args, kw = call.func, call.args, call.kw
        call.func = None
        call.args = ()
        call.kw = _NO_KW
        self.calls_run += 1
        self._driving = True
        try:
            func(*args, **kw)
        except Exception:  # a call must never stop the clock
            self.errors += 1
            _log.failure("Unhandled error in virtual delayed call {func!r}", func=func)
        finally:
            self._driving = False

    def run_until(self, t: float) -> int:
        """Run every pending call due at or before C{t} (including calls they schedule), then
        set the time to C{t}.  Return the number of calls run.

        @raise ValueError: C{t} is before the current time.
        @raise RuntimeError: called from inside a call running on this clock.
        """
        if not t >= self._now:
            raise ValueError(f"cannot run until {t!r}: the time is already {self._now!r}")
        if self._driving:
            raise RuntimeError("a call running on a VirtualClock cannot drive the clock")
        n = 0
        run = self._run
        while True:
            near = self._near
            if near:
                entry = near[0]
                if entry[0] > t:  # every other entry (near or far) is later still
                    break
                call = entry[2]
                heappop(near)
                self._entries -= 1
                if call._entry is not entry:
                    self._dead -= 1
                    continue
                if call.seq != entry[1]:  # postponed: re-push at its new time
                    new = call._entry = (call.time, call.seq, call)
                    self._push(new)
                    continue
                if entry[0] > self._now:
                    self._now = entry[0]
                run(call)
                n += 1
            elif self._far_keys:
                self._pull()
            else:
                break
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
        """Run the next pending call (moving time to it).  Return C{False} if none was pending.

        @raise RuntimeError: called from inside a call running on this clock.
        """
        if self._driving:
            raise RuntimeError("a call running on a VirtualClock cannot drive the clock")
        entry = self._top()
        if entry is None:
            return False
        heappop(self._near)
        self._entries -= 1
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
        return self._entries - self._dead

    def next_time(self) -> float | None:
        """Return the time of the next pending call, or C{None} when idle."""
        entry = self._top()
        return None if entry is None else entry[0]
