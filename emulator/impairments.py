"""Link impairments: what a topology can do to frames on a link or radio pair.

Implements the impairment list of the HAN issue (issue 2, item 4) for the HAN radio medium
(L{emulator.medium}) and point-to-point links (L{emulator.links}): Bernoulli loss,
Gilbert-Elliott burst loss, fixed delay plus uniform jitter, duplication, reordering, bit
corruption (to be caught by the frame's own check, e.g. the 802.15.4 FCS), a serialisation
rate limit with a tail-drop FIFO queue, and scheduled outages.  The model follows Linux netem's
vocabulary (loss, delay/jitter, duplicate, reorder, corrupt, rate, limit).

L{ImpairmentSpec} is the validated, immutable description (from the topology YAML via
L{ImpairmentSpec.from_dict}); L{ImpairmentPath} is the per-direction state machine that turns
one frame into zero or more L{Delivery} items.  It is pure: time comes in as an argument and
randomness from the C{random.Random} it was given (L{emulator.rng}).

Time: C{now} is the clock's reading (the topology's C{start_time} is the virtual clock's
origin), while outages are given in run time (seconds after the run's start, as in the
topology's C{outages: [[start_s, duration_s]]}).  The path is given the clock reading at the
run's start once (C{run_start}) and is the one place that converts between the two.

Order of decisions for a frame sent at time C{now}:

 1. outage: sent during a scheduled outage -> dropped (C{"outage"});
 2. rate limit: the frame joins a FIFO queue served at C{rate_bps}; if C{queue_limit} frames
    are already held (in service or waiting) it is tail-dropped (C{"queue_full"}); otherwise
    its base delay is the time until its last bit is serialised;
 3. Gilbert-Elliott: lost with the current state's loss probability (C{"burst_loss"}), then
    the state moves (good->bad with C{p_good_to_bad}, bad->good with C{p_bad_to_good});
 4. Bernoulli loss (C{"loss"});
 5. delay + uniform jitter in [-jitter, +jitter] (never below the base delay);
 6. reordering: with probability C{reorder} the frame is held back C{reorder_delay} more;
 7. corruption: with probability C{corrupt}, 1 to 3 distinct random bits are flipped;
 8. duplication: with probability C{duplicate} a second copy is delivered (its own corruption
    draw, same delay).
"""

from __future__ import annotations

import math
import random
from collections import deque
from dataclasses import dataclass, field, fields
from typing import Any, Mapping

__all__ = ["GilbertElliott", "ImpairmentSpec", "Delivery", "ImpairmentPath", "DROP_REASONS"]

#: every reason L{ImpairmentPath} can drop a frame for
DROP_REASONS = ("loss", "burst_loss", "outage", "queue_full")


def _check_probability(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name}: must be a number in [0, 1], got {value!r}")
    value = float(value)
    if not 0.0 <= value <= 1.0:  # NaN fails too
        raise ValueError(f"{name}: probability must be in [0, 1], got {value!r}")
    return value


def _check_time(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name}: must be a number of seconds >= 0, got {value!r}")
    value = float(value)
    if not (value >= 0.0 and math.isfinite(value)):
        raise ValueError(f"{name}: must be a finite number of seconds >= 0, got {value!r}")
    return value


@dataclass(frozen=True, slots=True)
class GilbertElliott:
    """Two-state (good/bad) Markov burst-loss model, one transition per frame.

    Mean burst (bad-state run) length is C{1 / p_bad_to_good} frames; the stationary share of
    frames sent in the bad state is C{p_good_to_bad / (p_good_to_bad + p_bad_to_good)}.
    """

    p_good_to_bad: float
    p_bad_to_good: float
    loss_good: float = 0.0
    loss_bad: float = 1.0

    def __post_init__(self) -> None:
        for f in fields(self):
            object.__setattr__(self, f.name,
                               _check_probability(f"gilbert_elliott.{f.name}", getattr(self, f.name)))

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "GilbertElliott":
        """Build from a YAML mapping with keys C{p_good_to_bad}, C{p_bad_to_good}, and
        optionally C{loss_good} (default 0) and C{loss_bad} (default 1)."""
        if not isinstance(d, Mapping):
            raise ValueError(f"gilbert_elliott: must be a mapping, got {d!r}")
        known = {f.name for f in fields(cls)}
        for key in d:
            if key not in known:
                raise ValueError(f"gilbert_elliott: unknown key {key!r} "
                                 f"(known: {', '.join(sorted(known))})")
        for key in ("p_good_to_bad", "p_bad_to_good"):
            if key not in d:
                raise ValueError(f"gilbert_elliott.{key}: required")
        return cls(**dict(d))


@dataclass(frozen=True, slots=True)
class ImpairmentSpec:
    """What happens to frames in one direction of a link (all fields optional; default: none).

    @ivar loss: Bernoulli loss probability per frame.
    @ivar gilbert_elliott: burst-loss model, or C{None}.
    @ivar delay: fixed one-way delay in seconds.
    @ivar jitter: uniform jitter in seconds: each frame gets C{delay + U(-jitter, +jitter)}
        (clamped so it never arrives before it was serialised).
    @ivar duplicate: probability that a frame is delivered twice.
    @ivar reorder: probability that a frame is held back by C{reorder_delay} seconds.
    @ivar reorder_delay: hold-back time of a reordered frame, in seconds.
    @ivar corrupt: probability that a frame gets 1-3 bits flipped.
    @ivar rate_bps: serialisation rate in bit/s (C{None}: unlimited).
    @ivar queue_limit: frames the rate-limit queue holds (C{None}: unbounded).
    @ivar outages: C{(start_s, duration_s)} pairs in run time: everything sent during one is
        dropped.
    """

    loss: float = 0.0
    gilbert_elliott: GilbertElliott | None = None
    delay: float = 0.0
    jitter: float = 0.0
    duplicate: float = 0.0
    reorder: float = 0.0
    reorder_delay: float = 0.0
    corrupt: float = 0.0
    rate_bps: float | None = None
    queue_limit: int | None = None
    outages: tuple[tuple[float, float], ...] = field(default=())

    def __post_init__(self) -> None:
        s = object.__setattr__
        for name in ("loss", "duplicate", "reorder", "corrupt"):
            s(self, name, _check_probability(name, getattr(self, name)))
        for name in ("delay", "jitter", "reorder_delay"):
            s(self, name, _check_time(name, getattr(self, name)))
        ge = self.gilbert_elliott
        if ge is not None and not isinstance(ge, GilbertElliott):
            if isinstance(ge, Mapping):
                s(self, "gilbert_elliott", GilbertElliott.from_dict(ge))
            else:
                raise ValueError(f"gilbert_elliott: must be a GilbertElliott or a mapping, got {ge!r}")
        if self.rate_bps is not None:
            r = self.rate_bps
            if isinstance(r, bool) or not isinstance(r, (int, float)) or not (r > 0 and math.isfinite(r)):
                raise ValueError(f"rate_bps: must be a positive number of bit/s or None, got {r!r}")
            s(self, "rate_bps", float(r))
        if self.queue_limit is not None:
            q = self.queue_limit
            if isinstance(q, bool) or not isinstance(q, int) or q < 1:
                raise ValueError(f"queue_limit: must be an int >= 1 or None, got {q!r}")
        outages = []
        try:
            items = list(self.outages)
        except TypeError:
            raise ValueError(f"outages: must be a list of (start_s, duration_s), got {self.outages!r}") from None
        for i, item in enumerate(items):
            try:
                start, duration = item
            except (TypeError, ValueError):
                raise ValueError(f"outages[{i}]: must be a (start_s, duration_s) pair, got {item!r}") from None
            outages.append((_check_time(f"outages[{i}].start_s", start),
                            _check_time(f"outages[{i}].duration_s", duration)))
        s(self, "outages", tuple(sorted(outages)))

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> "ImpairmentSpec":
        """Build from a topology YAML mapping whose keys are the field names.

        C{gilbert_elliott} is a mapping (see L{GilbertElliott.from_dict}); C{outages} a list of
        C{[start_s, duration_s]} pairs.  C{None} or an empty mapping means no impairment.

        @raise ValueError: unknown key or invalid value (the message names the field).
        """
        if d is None:
            return cls()
        if not isinstance(d, Mapping):
            raise ValueError(f"impairments: must be a mapping, got {d!r}")
        known = {f.name for f in fields(cls)}
        for key in d:
            if key not in known:
                raise ValueError(f"impairments: unknown key {key!r} (known: {', '.join(sorted(known))})")
        kw = dict(d)
        if kw.get("gilbert_elliott") is not None:
            kw["gilbert_elliott"] = GilbertElliott.from_dict(kw["gilbert_elliott"])
        if "outages" in kw and kw["outages"] is None:
            kw["outages"] = ()
        return cls(**kw)

    @property
    def is_null(self) -> bool:
        """True when this spec changes nothing (every frame delivered at once, intact)."""
        return self == _NULL_SPEC


_NULL_SPEC = ImpairmentSpec()


@dataclass(frozen=True, slots=True)
class Delivery:
    """One copy of a frame to deliver.

    @ivar delay: seconds after the send time (or, on the radio medium, after the end of the
        airtime) at which the copy arrives.
    @ivar corrupt_bits: bit indices to flip in the receiver's copy (bit C{i} is
        C{1 << (i % 8)} of byte C{i // 8}); empty for an intact copy.
    @ivar duplicate: true for the extra copy made by duplication.
    """

    delay: float
    corrupt_bits: tuple[int, ...] = ()
    duplicate: bool = False


_INTACT_NOW = Delivery(0.0)


def flip_bits(data: bytes, bits: tuple[int, ...]) -> bytes:
    """Return a copy of C{data} with the given bit indices flipped (see L{Delivery})."""
    buf = bytearray(data)
    for i in bits:
        buf[i >> 3] ^= 1 << (i & 7)
    return bytes(buf)


class ImpairmentPath:
    """The state of one direction of a link: turns each frame into a list of L{Delivery}.

    @ivar spec: the L{ImpairmentSpec}.
    @ivar run_start: the clock reading at the start of the run (outage times count from it).
    @ivar counts: frames dropped per reason (L{DROP_REASONS}) and the other events
        (C{"sent"}, C{"delivered"}, C{"duplicate"}, C{"reorder"}, C{"corrupt"}).
    @ivar bad: current Gilbert-Elliott state (C{True} = bad).
    @ivar last_drop: the reason the most recently dropped frame was dropped for.
    """

    __slots__ = ("spec", "rng", "run_start", "counts", "bad", "last_drop", "_null", "_busy_until", "_queue")

    def __init__(self, spec: ImpairmentSpec | None, rng: random.Random, run_start: float = 0.0) -> None:
        self.spec = spec if spec is not None else _NULL_SPEC
        self.rng = rng
        #: the clock's reading at the start of the run: outages are relative to it
        self.run_start = float(run_start)
        self.counts: dict[str, int] = dict.fromkeys(
            ("sent", "delivered", *DROP_REASONS, "duplicate", "reorder", "corrupt"), 0)
        self.bad = False
        self.last_drop: str | None = None
        self._null = self.spec == _NULL_SPEC
        self._busy_until = 0.0
        # finish times of frames held by the rate limiter (only a rate-limited path has one:
        # an empty deque is ~600 bytes, and a home has a path per device pair)
        self._queue: deque[float] | None = deque() if self.spec.rate_bps is not None else None

    def set_spec(self, spec: ImpairmentSpec | None) -> None:
        """Change what happens to frames from now on (a scheduled fault starting or ending);
        the random stream and the counts go on, a burst in progress ends."""
        self.spec = spec if spec is not None else _NULL_SPEC
        self._null = self.spec == _NULL_SPEC
        self.bad = False

    def in_outage(self, now: float) -> bool:
        """Return whether the clock reading C{now} falls inside a scheduled outage."""
        now -= self.run_start
        for start, duration in self.spec.outages:
            if start > now:
                return False
            if now < start + duration:
                return True
        return False

    def _drop(self, reason: str) -> list[Delivery]:
        self.counts[reason] += 1
        self.last_drop = reason
        return []

    def decide(self, now: float, nbytes: int) -> list[Delivery]:
        """Decide the fate of a frame of C{nbytes} bytes sent at clock reading C{now}.

        @return: the copies to deliver (empty: dropped, the reason counted in L{counts}).
        """
        counts = self.counts
        counts["sent"] += 1
        if self._null:
            counts["delivered"] += 1
            return [_INTACT_NOW]
        spec = self.spec
        rng = self.rng
        if spec.outages and self.in_outage(now):
            return self._drop("outage")
        base = 0.0
        if spec.rate_bps is not None:
            queue = self._queue
            while queue and queue[0] <= now:
                queue.popleft()
            if spec.queue_limit is not None and len(queue) >= spec.queue_limit:
                return self._drop("queue_full")
            start = self._busy_until if self._busy_until > now else now
            finish = start + nbytes * 8.0 / spec.rate_bps
            self._busy_until = finish
            queue.append(finish)
            base = finish - now
        ge = spec.gilbert_elliott
        if ge is not None:
            if self.bad:
                lost = ge.loss_bad > 0.0 and rng.random() < ge.loss_bad
                if rng.random() < ge.p_bad_to_good:
                    self.bad = False
            else:
                lost = ge.loss_good > 0.0 and rng.random() < ge.loss_good
                if rng.random() < ge.p_good_to_bad:
                    self.bad = True
            if lost:
                return self._drop("burst_loss")
        if spec.loss > 0.0 and rng.random() < spec.loss:
            return self._drop("loss")
        delay = base + spec.delay
        if spec.jitter > 0.0:
            delay += rng.uniform(-spec.jitter, spec.jitter)
            if delay < base:
                delay = base
        if spec.reorder > 0.0 and rng.random() < spec.reorder:
            counts["reorder"] += 1
            delay += spec.reorder_delay
        out = [Delivery(delay, self._corruption(nbytes))]
        if spec.duplicate > 0.0 and rng.random() < spec.duplicate:
            counts["duplicate"] += 1
            out.append(Delivery(delay, self._corruption(nbytes), True))
        counts["delivered"] += 1
        return out

    def _corruption(self, nbytes: int) -> tuple[int, ...]:
        spec = self.spec
        if spec.corrupt <= 0.0 or nbytes <= 0 or not self.rng.random() < spec.corrupt:
            return ()
        self.counts["corrupt"] += 1
        nbits = nbytes * 8
        k = min(self.rng.randint(1, 3), nbits)
        return tuple(sorted(self.rng.sample(range(nbits), k)))
