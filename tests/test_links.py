"""Tests for L{emulator.links.PointToPointLink} on a virtual clock."""

from __future__ import annotations

import pytest

from emulator.clock import VirtualClock
from emulator.impairments import ImpairmentSpec
from emulator.links import PointToPointLink
from emulator.rng import derive_rng


def _link(spec_ab=None, spec_ba=None, seed=1, on_drop=None):
    clock = VirtualClock()
    link = PointToPointLink(clock, derive_rng(seed, "l", "ab"), derive_rng(seed, "l", "ba"), "l",
                            spec_ab, spec_ba, on_drop=on_drop)
    got_a, got_b = [], []
    link.a.connect(lambda d: got_a.append((clock.seconds(), d)))
    link.b.connect(lambda d: got_b.append((clock.seconds(), d)))
    return clock, link, got_a, got_b


def test_delivery_is_scheduled_never_synchronous():
    clock, link, got_a, got_b = _link()
    link.a.send(b"hello")
    assert got_b == []           # not re-entrant: arrives from the clock
    clock.run_until(0)
    assert got_b == [(0.0, b"hello")] and got_a == []
    link.b.send(bytearray(b"back"))
    clock.run_until_idle()
    assert got_a == [(0.0, b"back")] and isinstance(got_a[0][1], bytes)


def test_per_direction_delay_and_fifo():
    clock, link, got_a, got_b = _link(ImpairmentSpec(delay=0.5), ImpairmentSpec(delay=0.1))
    for i in range(3):
        link.a.send(bytes([i]))
        link.b.send(bytes([10 + i]))
    clock.run_until(0.2)
    assert [d for _, d in got_a] == [b"\x0a", b"\x0b", b"\x0c"] and got_b == []
    clock.run_until(1)
    assert got_b == [(0.5, b"\x00"), (0.5, b"\x01"), (0.5, b"\x02")]


def test_rate_limit_serialises_frames():
    clock, link, _, got_b = _link(ImpairmentSpec(rate_bps=8000, delay=0.01))
    for _ in range(3):
        link.a.send(bytes(100))
    clock.run_until_idle()
    assert [t for t, _ in got_b] == pytest.approx([0.11, 0.21, 0.31])


def test_reordering_holds_frames_back():
    clock, link, _, got_b = _link(ImpairmentSpec(reorder=0.5, reorder_delay=1.0), seed=3)
    for i in range(40):
        clock.run_until(i * 0.01)
        link.a.send(bytes([i]))
    clock.run_until_idle()
    order = [d[0] for _, d in got_b]
    assert sorted(order) == list(range(40)) and order != list(range(40))
    held = link.a.path.counts["reorder"]
    assert 0 < held < 40
    assert order[-held:] == sorted(order[-held:])   # the held-back ones arrive last, in order


def test_corruption_applies_to_the_receivers_copy_only():
    clock, link, _, got_b = _link(ImpairmentSpec(corrupt=1.0, duplicate=1.0))
    frame = bytes(range(16))
    link.a.send(frame)
    clock.run_until_idle()
    assert frame == bytes(range(16))
    assert len(got_b) == 2
    for _, d in got_b:
        diff = sum(bin(x ^ y).count("1") for x, y in zip(frame, d))
        assert 1 <= diff <= 3
    assert link.counts["a_to_b"]["corrupt"] == 2 and link.counts["a_to_b"]["duplicate"] == 1


def test_drops_are_counted_and_reported():
    reasons = []
    clock, link, got_a, got_b = _link(ImpairmentSpec(outages=[(1.0, 1.0)], loss=0.0),
                                      ImpairmentSpec(loss=1.0), on_drop=reasons.append)
    link.a.send(b"x")
    clock.run_until(1.5)
    link.a.send(b"y")            # in the outage
    link.b.send(b"z")            # always lost
    link.a.connect(None)
    clock.run_until(3)
    link.b.send(b"w")            # lost too
    clock.run_until_idle()
    assert [d for _, d in got_b] == [b"x"]
    assert reasons == ["outage", "loss", "loss"]
    c = link.counts
    assert c["a_to_b"]["outage"] == 1 and c["a_to_b"]["sent"] == 2 and c["a_to_b"]["delivered"] == 1
    assert c["b_to_a"]["loss"] == 2


def test_no_receiver_and_receiver_errors():
    reasons = []
    clock, link, _, _ = _link(on_drop=reasons.append)
    link.b.connect(None)
    link.a.send(b"x")
    clock.run_until_idle()
    assert reasons == ["no_receiver"] and link.a.counts["no_receiver"] == 1

    def boom(data):
        raise RuntimeError("receiver bug")

    link.b.connect(boom)
    link.a.send(b"y")
    link.a.send(b"z")
    clock.run_until_idle()
    assert link.a.counts["receiver_error"] == 2 and clock.errors == 0


def test_same_seed_same_run():
    def run(seed):
        clock, link, _, got_b = _link(ImpairmentSpec(loss=0.2, jitter=0.01, delay=0.02, corrupt=0.1),
                                      seed=seed)
        for i in range(200):
            clock.run_until(i * 0.005)
            link.a.send(bytes([i % 256]) * 8)
        clock.run_until_idle()
        return got_b

    assert run(5) == run(5)
    assert run(5) != run(6)


def test_outages_count_from_the_run_start():
    """A link made when the clock reads a topology's start_time: its outage is in run time."""
    start = 1772409600.0
    clock = VirtualClock(start=start)
    spec = ImpairmentSpec(outages=[(60.0, 30.0)])
    link = PointToPointLink(clock, derive_rng(1, "l", "ab"), derive_rng(1, "l", "ba"), "l", spec, spec)
    got = []
    link.b.connect(lambda d: got.append(d))
    for t, data in ((10.0, b"before"), (70.0, b"during"), (95.0, b"after")):
        clock.run_until(start + t)
        link.a.send(data)
    clock.run_until_idle()
    assert got == [b"before", b"after"] and link.counts["a_to_b"]["outage"] == 1
    # an explicit run start: the same outage, counted from it
    late = PointToPointLink(clock, derive_rng(1, "l", "ab"), derive_rng(1, "l", "ba"), "l", spec, None,
                            run_start=clock.seconds() - 65.0)
    assert late.a.path.in_outage(clock.seconds()) and not late.b.path.in_outage(clock.seconds())
