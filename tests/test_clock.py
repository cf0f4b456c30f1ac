"""Tests for L{emulator.clock.VirtualClock}: IReactorTime semantics, FIFO, lazy cancel,
reset/delay, nested scheduling, exceptions, and a model check against a sorted list."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.internet import task
from twisted.internet.defer import Deferred
from twisted.internet.error import AlreadyCalled, AlreadyCancelled
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from zope.interface.verify import verifyObject

from emulator.clock import VirtualClock


def test_provides_interfaces():
    clock = VirtualClock(5.0)
    assert verifyObject(IReactorTime, clock)
    call = clock.callLater(1, lambda: None)
    assert verifyObject(IDelayedCall, call)
    assert clock.seconds() == 5.0
    assert call.getTime() == 6.0


def test_order_by_time_and_fifo_at_equal_times():
    clock = VirtualClock()
    out = []
    clock.callLater(2.0, out.append, "c")
    clock.callLater(1.0, out.append, "a1")
    clock.callLater(1.0, out.append, "a2")
    clock.callLater(1.5, out.append, "b")
    clock.callLater(1.0, out.append, "a3")
    times = []
    clock.callLater(1.5, lambda: times.append(clock.seconds()))
    assert clock.run_until(10) == 6
    assert out == ["a1", "a2", "a3", "b", "c"]
    assert times == [1.5]  # a call sees the time it was due, not the target time
    assert clock.seconds() == 10


def test_cancel_semantics():
    clock = VirtualClock()
    out = []
    call = clock.callLater(1, out.append, 1)
    assert call.active()
    call.cancel()
    assert not call.active()
    with pytest.raises(AlreadyCancelled):
        call.cancel()
    with pytest.raises(AlreadyCancelled):
        call.reset(1)
    with pytest.raises(AlreadyCancelled):
        call.delay(1)
    clock.advance(5)
    assert out == []
    done = clock.callLater(1, out.append, 2)
    clock.advance(1)
    assert out == [2] and not done.active()
    for op in (done.cancel, lambda: done.reset(1), lambda: done.delay(1)):
        with pytest.raises(AlreadyCalled):
            op()


def test_reset_and_delay():
    clock = VirtualClock()
    out = []
    a = clock.callLater(5, out.append, "a")
    b = clock.callLater(3, out.append, "b")
    clock.advance(1)
    a.reset(1)          # earlier: now due at 2
    assert a.getTime() == 2
    b.delay(4)          # later: due at 7
    assert b.getTime() == 7
    c = clock.callLater(9, out.append, "c")
    c.delay(-8.5)       # negative delay moves it earlier: due at 1.5
    assert c.getTime() == 1.5
    clock.run_until(6.9)
    assert out == ["c", "a"]
    clock.run_until(7)
    assert out == ["c", "a", "b"]
    assert clock.pending_count() == 0


def test_reset_to_later_keeps_fifo_by_reschedule_order():
    clock = VirtualClock()
    out = []
    x = clock.callLater(5, out.append, "x")
    y = clock.callLater(3, out.append, "y")
    x.reset(10)  # rescheduled first
    y.reset(10)  # rescheduled second
    clock.run_until(20)
    assert out == ["x", "y"]


def test_nested_zero_delay_runs_in_same_run_until():
    clock = VirtualClock()
    out = []

    def outer():
        out.append("outer")
        clock.callLater(0, out.append, "inner")
        clock.callLater(0.5, out.append, "later")

    clock.callLater(1, outer)
    clock.callLater(1, out.append, "sibling")
    clock.run_until(1)
    assert out == ["outer", "sibling", "inner"]
    clock.run_until(1.5)
    assert out[-1] == "later"


def test_exceptions_are_counted_and_do_not_stop_the_run():
    clock = VirtualClock()
    out = []
    clock.callLater(1, lambda: 1 / 0)
    clock.callLater(1, out.append, "after")
    clock.callLater(2, out.append, "later")
    clock.run_until(3)
    assert clock.errors == 1
    assert out == ["after", "later"]
    assert clock.pending_count() == 0


def test_a_call_cannot_drive_the_clock():
    clock = VirtualClock()
    clock.callLater(1, clock.advance, 1)
    clock.callLater(1, clock.step)
    after = []
    clock.callLater(1, after.append, "still running")
    clock.run_until(5)
    assert clock.errors == 2 and after == ["still running"] and clock.seconds() == 5


def test_get_delayed_calls_and_pending_count():
    clock = VirtualClock()
    calls = [clock.callLater(i, lambda: None) for i in range(10)]
    calls[3].cancel()
    calls[5].reset(100)
    pending = clock.getDelayedCalls()
    assert set(map(id, pending)) == {id(c) for i, c in enumerate(calls) if i != 3}
    assert clock.pending_count() == 9
    assert clock.next_time() == 0
    clock.advance(4.5)  # runs 0, 1, 2, 4 (3 cancelled, 5 moved to 100)
    assert clock.pending_count() == 5
    assert clock.next_time() == 6


@pytest.mark.parametrize("width", [1.0, 0.0001, 1e9])
def test_compaction_after_mass_cancel(width):
    clock = VirtualClock(bucket_width=width)
    out = []
    calls = [clock.callLater(i * 0.001, out.append, i) for i in range(1000)]
    for c in calls[::2]:
        c.cancel()
    for c in calls[1:400:2]:
        c.cancel()
    assert clock.pending_count() == 300
    assert clock._entries < 1000  # lazily deleted entries were compacted away
    clock.run_until_idle()
    assert out == list(range(401, 1000, 2))


def test_step_run_until_idle_limit_and_errors():
    clock = VirtualClock()
    assert clock.step() is False
    assert clock.next_time() is None

    def tick():
        clock.callLater(1, tick)

    clock.callLater(1, tick)
    assert clock.run_until_idle(limit=5) == 5
    assert clock.seconds() == 5
    with pytest.raises(ValueError):
        clock.run_until(1)
    with pytest.raises(ValueError):
        clock.advance(-1)
    with pytest.raises(ValueError):
        clock.callLater(-0.1, tick)
    with pytest.raises(ValueError):
        clock.callLater(float("inf"), tick)
    with pytest.raises(ValueError):
        clock.callLater(float("nan"), tick)


def test_twisted_helpers_work_on_it():
    """LoopingCall, deferLater and Deferred.addTimeout only use IReactorTime."""
    clock = VirtualClock()
    ticks = []
    loop = task.LoopingCall(lambda: ticks.append(clock.seconds()))
    loop.clock = clock
    loop.start(10, now=True)
    d = task.deferLater(clock, 25, lambda: "done")
    result = []
    d.addCallback(result.append)
    timed_out = []
    Deferred().addTimeout(3, clock).addErrback(lambda f: timed_out.append(clock.seconds()))
    clock.run_until(30)
    loop.stop()
    assert ticks == [0, 10, 20, 30]
    assert result == ["done"]
    assert timed_out == [3]


# -- model check: the clock must behave like a naive sorted list ------------------------------

_ops = st.lists(st.one_of(
    st.tuples(st.just("call"), st.integers(0, 20)),
    st.tuples(st.just("cancel"), st.integers(0, 1000)),
    st.tuples(st.just("reset"), st.integers(0, 1000), st.integers(0, 20)),
    st.tuples(st.just("delay"), st.integers(0, 1000), st.integers(-5, 20)),
    st.tuples(st.just("advance"), st.integers(0, 10)),
), max_size=80)


@settings(max_examples=200, deadline=None)
@given(_ops, st.sampled_from([1.0, 0.5, 7.0, 1e9]))
def test_matches_reference_model(ops, width):
    """Same ops on VirtualClock and on a reference (list of [time, seq, label], min() by
    (time, seq), seq renewed on every reschedule) give the same run order and times, whatever
    the bucket width."""
    clock = VirtualClock(bucket_width=width)
    ran: list[tuple[int, float]] = []
    calls = []
    model: dict[int, list] = {}  # label -> [time, seq]
    model_ran: list[tuple[int, float]] = []
    now = 0
    seq = 0

    def model_advance(t):
        nonlocal now
        while True:
            due = [(tm, sq, lab) for lab, (tm, sq) in model.items() if tm <= t]
            if not due:
                break
            tm, sq, lab = min(due)
            del model[lab]
            now = max(now, tm)
            model_ran.append((lab, now))
        now = t

    for op in ops:
        if op[0] == "call":
            label = len(calls)
            calls.append(clock.callLater(op[1], lambda label=label: ran.append((label, clock.seconds()))))
            seq += 1
            model[label] = [now + op[1], seq]
        elif op[0] == "advance":
            clock.advance(op[1])
            model_advance(now + op[1])
        elif calls:
            label = op[1] % len(calls)
            call = calls[label]
            if label not in model:
                with pytest.raises((AlreadyCalled, AlreadyCancelled)):
                    call.cancel()
                continue
            if op[0] == "cancel":
                call.cancel()
                del model[label]
            elif op[0] == "reset":
                call.reset(op[2])
                seq += 1
                model[label] = [now + op[2], seq]
            else:
                call.delay(op[2])
                seq += 1
                model[label] = [model[label][0] + op[2], seq]
        assert clock.pending_count() == len(model)
    clock.advance(1000)
    model_advance(now + 1000)
    assert ran == model_ran
    assert clock.pending_count() == 0
