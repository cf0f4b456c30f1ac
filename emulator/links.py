"""Point-to-point links between two emulated nodes, with per-direction impairments.

Implements the "links" part of the runtime (issue 2, item 4; DESIGN.md "emulator/ ... links"):
a full-duplex, frame-oriented link whose two directions each run an
L{emulator.impairments.ImpairmentPath} (loss, burst loss, delay/jitter, duplication,
reordering, bit corruption, rate limit, outages).  Deliveries are scheduled on the injected
clock (C{IReactorTime}), so the same link runs in real time or in virtual time.

Corruption flips bits in a copy of the frame: the receiver must detect it with the frame's own
check (FCS, MAC, CRC), as on a real link.  Nothing is ever delivered synchronously from
C{send}: even a zero-delay frame arrives from the clock, so a receiver that answers from
C{receiver(data)} never re-enters the sender.
"""

from __future__ import annotations

import random
from typing import Callable

from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from emulator.impairments import ImpairmentPath, ImpairmentSpec, flip_bits

__all__ = ["PointToPointLink", "LinkEndpoint"]

_log = Logger()

Receiver = Callable[[bytes], None]


class LinkEndpoint:
    """One end of a L{PointToPointLink}.

    @ivar name: C{"<link name>.a"} or C{"<link name>.b"}.
    @ivar path: the L{ImpairmentPath} for frames sent from this end.
    @ivar counts: per-reason counters for frames sent from this end: C{"sent"},
        C{"delivered"} (copies handed to the peer's receiver), the drop reasons of
        L{ImpairmentPath}, C{"duplicate"}, C{"reorder"}, C{"corrupt"}, C{"no_receiver"},
        C{"receiver_error"}.
    """

    __slots__ = ("name", "link", "path", "peer", "receiver", "counts")

    def __init__(self, link: "PointToPointLink", name: str, path: ImpairmentPath) -> None:
        self.link = link
        self.name = name
        self.path = path
        self.peer: LinkEndpoint | None = None
        self.receiver: Receiver | None = None
        self.counts: dict[str, int] = {"sent": 0, "delivered": 0, "no_receiver": 0,
                                       "receiver_error": 0}

    def connect(self, receiver: Receiver | None) -> None:
        """Set (or with C{None}, remove) the callable that gets every frame arriving here."""
        self.receiver = receiver

    def send(self, data: bytes) -> None:
        """Send one frame to the other end (subject to this direction's impairments)."""
        data = bytes(data)
        self.counts["sent"] += 1
        link = self.link
        clock = link.clock
        path = self.path
        deliveries = path.decide(clock.seconds(), len(data))
        if not deliveries:
            if link.on_drop is not None:
                link.on_drop(path.last_drop)
            return
        peer = self.peer
        for d in deliveries:
            payload = flip_bits(data, d.corrupt_bits) if d.corrupt_bits else data
            clock.callLater(d.delay, peer._arrive, self, payload)

    def _arrive(self, sender: "LinkEndpoint", data: bytes) -> None:
        receiver = self.receiver
        if receiver is None:
            sender.counts["no_receiver"] += 1
            if self.link.on_drop is not None:
                self.link.on_drop("no_receiver")
            return
        sender.counts["delivered"] += 1
        try:
            receiver(data)
        except Exception:
            sender.counts["receiver_error"] += 1
            _log.failure("receiver on {name} raised", name=self.name)

    def stats(self) -> dict[str, int]:
        """Return this direction's counters merged with its impairment path's counters."""
        out = dict(self.path.counts)
        out.update({k: v for k, v in self.counts.items() if k not in ("sent",)})
        out["sent"] = self.counts["sent"]
        return out


class PointToPointLink:
    """A full-duplex frame link between endpoints L{a} and L{b}.

    @param clock: the C{IReactorTime} deliveries are scheduled on.
    @param rng_a_to_b: random stream for the a->b direction (see L{emulator.rng.derive_rng}).
    @param rng_b_to_a: random stream for the b->a direction.
    @param name: the link's name (used in logs and endpoint names).
    @param spec_ab: impairments from C{a} to C{b} (C{None}: none).
    @param spec_ba: impairments from C{b} to C{a} (C{None}: none).
    @param on_drop: called with the reason (C{"loss"}, C{"burst_loss"}, C{"outage"},
        C{"queue_full"}, C{"no_receiver"}) each time a frame is dropped.
    @param run_start: the clock reading at the start of the run, from which the specs' outages
        count (default: the clock's reading when the link is made).
    """

    def __init__(self, clock: IReactorTime, rng_a_to_b: random.Random, rng_b_to_a: random.Random,
                 name: str, spec_ab: ImpairmentSpec | None, spec_ba: ImpairmentSpec | None, *,
                 on_drop: Callable[[str], None] | None = None, run_start: float | None = None) -> None:
        self.clock = clock
        self.name = name
        self.on_drop = on_drop
        if run_start is None:
            run_start = clock.seconds()
        self.a = LinkEndpoint(self, f"{name}.a", ImpairmentPath(spec_ab, rng_a_to_b, run_start))
        self.b = LinkEndpoint(self, f"{name}.b", ImpairmentPath(spec_ba, rng_b_to_a, run_start))
        self.a.peer = self.b
        self.b.peer = self.a

    def set_impairments(self, spec_ab: ImpairmentSpec | None, spec_ba: ImpairmentSpec | None) -> None:
        """Change both directions' impairments from now on (a scheduled fault starting or ending)."""
        self.a.path.set_spec(spec_ab)
        self.b.path.set_spec(spec_ba)

    @property
    def counts(self) -> dict[str, dict[str, int]]:
        """Counters per direction: C{{"a_to_b": {...}, "b_to_a": {...}}}."""
        return {"a_to_b": self.a.stats(), "b_to_a": self.b.stats()}

    def __repr__(self) -> str:
        return f"<PointToPointLink {self.name}>"
