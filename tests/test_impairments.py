"""Tests for L{emulator.impairments}: statistics of loss and burst loss against their
analytic values, outages, rate-limit timing and tail drop, duplication, reordering, jitter,
corruption, and validation of topology dicts."""

from __future__ import annotations

import math
import random

import pytest

from emulator.impairments import (Delivery, GilbertElliott, ImpairmentPath, ImpairmentSpec,
                                  flip_bits)


def _path(seed: int = 1, **kw) -> ImpairmentPath:
    return ImpairmentPath(ImpairmentSpec(**kw), random.Random(seed))


def test_no_impairment_delivers_everything_at_once():
    p = ImpairmentPath(None, random.Random(0))
    for i in range(100):
        assert p.decide(i * 0.1, 50) == [Delivery(0.0, ())]
    assert p.counts["sent"] == p.counts["delivered"] == 100
    assert ImpairmentSpec().is_null and not ImpairmentSpec(delay=0.1).is_null


def test_bernoulli_loss_rate_within_tolerance():
    n, p = 20000, 0.2
    path = _path(seed=3, loss=p)
    lost = sum(1 for i in range(n) if not path.decide(i * 0.001, 20))
    sigma = math.sqrt(n * p * (1 - p))
    assert abs(lost - n * p) < 4 * sigma
    assert path.counts["loss"] == lost and path.last_drop == "loss"


def _loss_runs(path: ImpairmentPath, n: int) -> tuple[float, list[int]]:
    runs, cur, lost = [], 0, 0
    for i in range(n):
        if path.decide(i * 0.001, 20):
            if cur:
                runs.append(cur)
            cur = 0
        else:
            cur += 1
            lost += 1
    return lost / n, runs


def test_gilbert_elliott_burstiness():
    p_gb, p_bg = 0.05, 0.25
    ge = GilbertElliott(p_good_to_bad=p_gb, p_bad_to_good=p_bg, loss_good=0.0, loss_bad=1.0)
    rate, runs = _loss_runs(ImpairmentPath(ImpairmentSpec(gilbert_elliott=ge), random.Random(5)), 50000)
    # stationary share of bad state = p_gb / (p_gb + p_bg); mean burst = 1 / p_bg
    assert rate == pytest.approx(p_gb / (p_gb + p_bg), rel=0.08)
    mean_burst = sum(runs) / len(runs)
    assert mean_burst == pytest.approx(1 / p_bg, rel=0.08)
    # Bernoulli loss with the same rate has much shorter bursts: 1 / (1 - p)
    b_rate, b_runs = _loss_runs(_path(seed=5, loss=rate), 50000)
    assert sum(b_runs) / len(b_runs) == pytest.approx(1 / (1 - rate), rel=0.08)
    assert mean_burst > 3 * (sum(b_runs) / len(b_runs))


def test_gilbert_elliott_counts_as_burst_loss():
    path = ImpairmentPath(ImpairmentSpec.from_dict(
        {"gilbert_elliott": {"p_good_to_bad": 1.0, "p_bad_to_good": 0.0}}), random.Random(1))
    assert path.decide(0, 10)            # first frame sent in the good state
    assert all(not path.decide(0, 10) for _ in range(10))
    assert path.counts["burst_loss"] == 10 and path.counts["loss"] == 0


def test_outages():
    path = _path(outages=[(10.0, 5.0), (2.0, 1.0)])
    assert path.spec.outages == ((2.0, 1.0), (10.0, 5.0))
    expect = {0.0: True, 1.999: True, 2.0: False, 2.999: False, 3.0: True, 9.99: True,
              10.0: False, 14.99: False, 15.0: True, 100.0: True}
    for t, delivered in expect.items():
        assert bool(path.decide(t, 10)) is delivered, t
    assert path.counts["outage"] == 4


def test_outages_count_from_the_run_start():
    # the clock's origin is a topology start_time; the outage is 10-15 s into the run
    start = 1772409600.0
    path = ImpairmentPath(ImpairmentSpec(outages=[(10.0, 5.0)]), random.Random(1), start)
    expect = {start: True, start + 9.99: True, start + 10.0: False, start + 14.99: False,
              start + 15.0: True, 10.0: True, 12.0: True}
    for t, delivered in expect.items():
        assert bool(path.decide(t, 10)) is delivered, t
    assert path.counts["outage"] == 2


def test_rate_limit_timing_and_tail_drop():
    # 8000 bit/s: a 100-byte frame takes 0.1 s to serialise
    path = _path(rate_bps=8000, queue_limit=3, delay=0.5)
    d = [path.decide(0.0, 100) for _ in range(4)]
    assert [x[0].delay for x in d[:3]] == pytest.approx([0.6, 0.7, 0.8])
    assert d[3] == [] and path.counts["queue_full"] == 1
    # at t=0.15 the first frame has left: one slot free, it waits for the other two
    got = path.decide(0.15, 100)
    assert got[0].delay == pytest.approx(0.3 - 0.15 + 0.1 + 0.5)
    assert path.decide(0.15, 100) == []
    # idle line later: only its own serialisation time
    assert path.decide(10.0, 50)[0].delay == pytest.approx(0.05 + 0.5)


def test_unbounded_queue_is_fifo():
    path = _path(rate_bps=1000)
    delays = [path.decide(0.0, 10)[0].delay for _ in range(50)]
    assert delays == pytest.approx([0.08 * (i + 1) for i in range(50)])


def test_duplicate_and_reorder():
    path = _path(duplicate=1.0, reorder=1.0, reorder_delay=0.25, delay=0.01)
    out = path.decide(0.0, 10)
    assert len(out) == 2 and out[1].duplicate and not out[0].duplicate
    assert all(d.delay == pytest.approx(0.26) for d in out)
    path = _path(seed=9, duplicate=0.3)
    n = 10000
    dups = sum(len(path.decide(0, 10)) - 1 for _ in range(n))
    assert abs(dups - 0.3 * n) < 4 * math.sqrt(n * 0.3 * 0.7)


def test_jitter_bounds_and_mean():
    path = _path(seed=2, delay=0.1, jitter=0.05)
    delays = [path.decide(i, 10)[0].delay for i in range(5000)]
    assert min(delays) >= 0.05 and max(delays) <= 0.15
    assert sum(delays) / len(delays) == pytest.approx(0.1, abs=0.002)
    # jitter larger than the delay never makes a negative delay
    path = _path(seed=2, delay=0.01, jitter=0.05)
    assert min(path.decide(i, 10)[0].delay for i in range(1000)) == 0.0


def test_corruption_flips_one_to_three_distinct_bits():
    path = _path(seed=4, corrupt=1.0)
    seen = set()
    for _ in range(300):
        (d,) = path.decide(0, 5)
        bits = d.corrupt_bits
        assert 1 <= len(bits) <= 3 and len(set(bits)) == len(bits)
        assert all(0 <= b < 40 for b in bits)
        seen.add(len(bits))
        data = bytes(5)
        flipped = flip_bits(data, bits)
        assert sum(bin(x).count("1") for x in flipped) == len(bits)
    assert seen == {1, 2, 3}
    assert flip_bits(b"\x00\x00", (0, 15)) == b"\x01\x80"


def test_same_seed_same_decisions():
    spec = ImpairmentSpec(loss=0.1, jitter=0.01, duplicate=0.1, corrupt=0.1, reorder=0.1,
                          reorder_delay=0.02)
    a = ImpairmentPath(spec, random.Random(11))
    b = ImpairmentPath(spec, random.Random(11))
    assert [a.decide(i, 30) for i in range(500)] == [b.decide(i, 30) for i in range(500)]


@pytest.mark.parametrize("d, field", [
    ({"loss": 1.5}, "loss"),
    ({"loss": -0.1}, "loss"),
    ({"duplicate": "x"}, "duplicate"),
    ({"delay": -1}, "delay"),
    ({"jitter": float("inf")}, "jitter"),
    ({"reorder_delay": -0.5}, "reorder_delay"),
    ({"corrupt": 2}, "corrupt"),
    ({"rate_bps": 0}, "rate_bps"),
    ({"queue_limit": 0}, "queue_limit"),
    ({"outages": [(1, -2)]}, "outages[0].duration_s"),
    ({"outages": [(1,)]}, "outages[0]"),
    ({"gilbert_elliott": {"p_good_to_bad": 0.1}}, "gilbert_elliott.p_bad_to_good"),
    ({"gilbert_elliott": {"p_good_to_bad": 0.1, "p_bad_to_good": 3}}, "gilbert_elliott.p_bad_to_good"),
    ({"gilbert_elliott": {"p_good_to_bad": 0.1, "p_bad_to_good": 0.3, "oops": 1}}, "oops"),
    ({"lossy": 0.1}, "lossy"),
])
def test_validation_names_the_field(d, field):
    with pytest.raises(ValueError) as info:
        ImpairmentSpec.from_dict(d)
    assert field in str(info.value)


def test_from_dict_full():
    spec = ImpairmentSpec.from_dict({
        "loss": 0.01, "delay": 0.02, "jitter": 0.005, "duplicate": 0.001, "reorder": 0.01,
        "reorder_delay": 0.03, "corrupt": 0.001, "rate_bps": 250000, "queue_limit": 16,
        "outages": [[60, 30]],
        "gilbert_elliott": {"p_good_to_bad": 0.01, "p_bad_to_good": 0.5, "loss_bad": 0.9}})
    assert spec.gilbert_elliott == GilbertElliott(0.01, 0.5, 0.0, 0.9)
    assert spec.outages == ((60.0, 30.0),) and spec.rate_bps == 250000.0
    assert ImpairmentSpec.from_dict(None) == ImpairmentSpec.from_dict({}) == ImpairmentSpec()
