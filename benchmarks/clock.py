"""Scheduler benchmark: L{emulator.clock.VirtualClock} against C{twisted.internet.task.Clock}.

Run as C{python -m benchmarks.clock [--pending N] [--rounds N] [--seconds S]}.  Prints figures,
asserts nothing (STYLE.md 12).

Workload, the same for both clocks, measured in the same run: C{N} pending timers (default
100,000) with delays uniform in [0, 1000) s, then rounds of a realistic mix seen by protocol
machines (retransmission timers re-armed, timeouts cancelled, new timers, time moving on):

    callLater(new timer)   cancel(random timer) + callLater(replacement)
    reset(random timer)    advance(0.01 s)  -> about one timer expires per round

i.e. 5 API operations per round (expiries run as a side effect of advance and are not counted
as operations; their number is printed).  task.Clock re-sorts its whole list on each
operation, so it only gets a small number of rounds (C{--baseline-rounds}, bounded by
C{--baseline-seconds}) and its rate is reported from those.  Preloading task.Clock's 100k timers
uses its own C{callLater} with the per-call sort suspended and one sort at the end (otherwise the
setup alone would take minutes).
"""

from __future__ import annotations

import argparse
import gc
import random
import sys
import time

from twisted.internet import task

from emulator.clock import VirtualClock

OPS_PER_ROUND = 5


def _noop() -> None:
    pass


def _preload(clock, n: int, rng: random.Random) -> list:
    return [clock.callLater(rng.random() * 1000.0, _noop) for _ in range(n)]


def _run_rounds(clock, calls: list, rounds: int, rng: random.Random, deadline: float,
                check_mask: int = 63) -> tuple[int, float]:
    """Run up to C{rounds} rounds (stops early past C{deadline}); return (rounds, seconds)."""
    n = len(calls)
    # pre-draw random numbers so both clocks pay the same (small) bookkeeping cost
    idx = [rng.randrange(n) for _ in range(2 * rounds)]
    delays = [rng.random() * 1000.0 for _ in range(3 * rounds)]
    call_later = clock.callLater
    advance = clock.advance
    done = 0
    t0 = time.process_time()
    for r in range(rounds):
        i, j = idx[2 * r], idx[2 * r + 1]
        d0, d1, d2 = delays[3 * r], delays[3 * r + 1], delays[3 * r + 2]
        call_later(d0, _noop)                       # 1 new timer (not tracked)
        h = calls[i]
        if h.active():
            h.cancel()                              # 2 cancel ...
        calls[i] = call_later(d1, _noop)            # 3 ... and replace
        h = calls[j]
        if h.active():
            h.reset(d2)                             # 4 reset
        else:
            calls[j] = call_later(d2, _noop)        #   (or re-arm an expired one)
        advance(0.01)                               # 5 time moves on
        done += 1
        if (r & check_mask) == 0 and time.process_time() > deadline:
            break
    return done, time.process_time() - t0


def _pending(clock) -> int:
    if isinstance(clock, VirtualClock):
        return clock.pending_count()
    return len(clock.getDelayedCalls())


def _measure_ours(args, gc_enabled: bool) -> float:
    rng = random.Random(args.seed)
    vc = VirtualClock()
    gc.collect()
    t0 = time.process_time()
    calls = _preload(vc, args.pending, rng)
    setup = time.process_time() - t0
    ran_before = vc.calls_run
    gc.collect()
    if not gc_enabled:
        gc.disable()
    try:
        rounds, secs = _run_rounds(vc, calls, args.rounds, rng, time.process_time() + args.seconds)
    finally:
        gc.enable()
    rate = rounds * OPS_PER_ROUND / secs
    label = "VirtualClock" if gc_enabled else "  (GC off)  "
    print(f"{label} : {rounds:>8,} rounds in {secs:6.2f} s -> {rate:>12,.0f} ops/s "
          f"(preload {args.pending / setup:,.0f} callLater/s; {vc.calls_run - ran_before:,} expiries; "
          f"{_pending(vc):,} pending at end)")
    return rate


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.clock", description=__doc__.split("\n\n")[0])
    ap.add_argument("--pending", type=int, default=100_000, help="pending timers (default 100000)")
    ap.add_argument("--rounds", type=int, default=200_000, help="rounds for VirtualClock")
    ap.add_argument("--seconds", type=float, default=6.0, help="CPU-time budget for VirtualClock")
    ap.add_argument("--baseline-rounds", type=int, default=300, help="rounds for task.Clock")
    ap.add_argument("--baseline-seconds", type=float, default=12.0, help="CPU-time budget for task.Clock")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)

    print(f"scheduler benchmark: {args.pending:,} pending timers; "
          f"round = callLater, cancel+callLater, reset, advance(0.01 s)")
    print(f"python {sys.version.split()[0]}; rates use this process's CPU time (time.process_time)")

    # ours, with the interpreter's default garbage-collector settings (the figure that counts)
    ours = _measure_ours(args, gc_enabled=True)
    # ours again with the cyclic GC off: the scheduler's own cost (100k long-lived timers make
    # CPython's full collections expensive; a soak runner can tune gc thresholds or gc.freeze())
    _measure_ours(args, gc_enabled=False)

    # baseline: twisted.internet.task.Clock, same workload, same random draws
    rng = random.Random(args.seed)
    tc = task.Clock()
    tc._sortCalls = lambda: None  # suspend the per-call sort during preload only
    calls = _preload(tc, args.pending, rng)
    del tc._sortCalls
    tc._sortCalls()
    expired_before = args.pending  # count what ran: task.Clock has no counter
    rounds_b, secs_b = _run_rounds(tc, calls, args.baseline_rounds, rng,
                                   time.process_time() + args.baseline_seconds, check_mask=0)
    theirs = rounds_b * OPS_PER_ROUND / secs_b
    print(f"task.Clock   : {rounds_b:>8,} rounds in {secs_b:6.2f} s -> {theirs:>12,.0f} ops/s "
          f"({_pending(tc):,} pending at end; {expired_before:,} preloaded)")
    print(f"speed-up     : {ours / theirs:,.0f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
