"""Anomaly detection and quarantine of the Access Control Broker (sans-IO).

E2E architecture 4.2.3.1: the DSP "is responsible for providing a rules-based pattern matching
service to inspect all service requests. Where abnormal request patterns are found, e.g.
Critical Command thresholds are exceeded, to place these service requests into a holding queue
for analysis and validation before release"; glossary: "the identification of either spurious
transaction volumes or inappropriate command sequences based upon defined thresholds".

The rule here is the volume one: per DCC User and per service reference, the requests admitted
in a rolling window (L{Thresholds.window} seconds) are counted; one that takes the count past
the limit (per service reference, or per User and service reference, else the critical or
non-critical default) is anomalous and goes into the L{Quarantine}, where it waits to be
released or rejected; one held past L{Thresholds.hold} seconds comes out as expired (the DCC
rejects it: nothing waits forever).

  - L{AnomalyDetector.observe}: count one request; the limit it exceeds, or C{None};
  - L{Quarantine}: the holding queue (bounded; C{hold}, C{release}, C{reject}, C{expire}).

Time is a number of seconds passed in (the injected clock's); nothing here does I/O.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any, Hashable, Mapping

__all__ = ["Thresholds", "AnomalyDetector", "Held", "Quarantine", "QuarantineFull"]

#: sub-windows a rolling window is counted in (memory per key is bounded by this)
_SLOTS = 60


@dataclass(frozen=True)
class Thresholds:
    """Anomaly detection limits (requests per User and service reference per C{window}).

    @ivar window: the rolling window, in seconds.
    @ivar non_critical: default limit of a non-critical service reference.
    @ivar critical: default limit of a critical one (DCC: "Critical Command thresholds").
    @ivar services: service reference (e.g. C{"4.1"}) -> limit, for every User.
    @ivar users: User EUI-64 -> (service reference or C{"*"} -> limit): one User's own limits.
    @ivar hold: seconds a quarantined request waits for a release before it is rejected.
    @ivar max_held: bound of the holding queue.
    """

    window: float = 3600.0
    non_critical: int = 10_000
    critical: int = 1_000
    services: Mapping[str, int] = field(default_factory=dict)
    users: Mapping[int, Mapping[str, int]] = field(default_factory=dict)
    hold: float = 24 * 3600.0
    max_held: int = 10_000

    def __post_init__(self) -> None:
        if not self.window > 0:
            raise ValueError(f"window must be > 0 seconds, got {self.window!r}")
        if not self.hold > 0:
            raise ValueError(f"hold must be > 0 seconds, got {self.hold!r}")
        for name, value in (("non_critical", self.non_critical), ("critical", self.critical),
                            ("max_held", self.max_held)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a whole number >= 1, got {value!r}")
        limits = list(self.services.values()) + [v for m in self.users.values() for v in m.values()]
        for value in limits:
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"a limit must be a whole number >= 1, got {value!r}")

    def limit(self, user: int, service_reference: str, critical: bool) -> int:
        """The limit for C{user} sending C{service_reference}."""
        own = self.users.get(user)
        if own is not None:
            if service_reference in own:
                return own[service_reference]
            if "*" in own:
                return own["*"]
        found = self.services.get(service_reference)
        if found is not None:
            return found
        return self.critical if critical else self.non_critical


class AnomalyDetector:
    """Rolling per-(User, service reference) request counts against L{Thresholds}.

    The window is counted in C{_SLOTS} sub-windows, so a key costs a bounded deque whatever
    the rate; keys are (User, service reference) pairs, bounded by the DCC's Users and the
    request matrix.
    """

    def __init__(self, thresholds: Thresholds | None = None) -> None:
        self.thresholds = thresholds or Thresholds()
        self._slot = self.thresholds.window / _SLOTS
        #: (user, service reference) -> deque of [slot number, count], oldest first
        self._counts: dict[tuple[int, str], deque] = {}

    def count(self, user: int, service_reference: str, now: float) -> int:
        """Requests of C{user} for C{service_reference} in the window ending at C{now}."""
        slots = self._counts.get((user, service_reference))
        if not slots:
            return 0
        self._trim(slots, int(now // self._slot))
        return sum(c for _, c in slots)

    @staticmethod
    def _trim(slots: deque, current: int) -> None:
        while slots and slots[0][0] <= current - _SLOTS:
            slots.popleft()

    def observe(self, user: int, service_reference: str, critical: bool, now: float) -> int | None:
        """Count one request at C{now}; the limit it goes past (anomalous), or C{None}."""
        key = (user, service_reference)
        current = int(now // self._slot)
        slots = self._counts.get(key)
        if slots is None:
            slots = self._counts[key] = deque()
        self._trim(slots, current)
        if slots and slots[-1][0] == current:
            slots[-1][1] += 1
        else:
            slots.append([current, 1])
        limit = self.thresholds.limit(user, service_reference, critical)
        return limit if sum(c for _, c in slots) > limit else None


class QuarantineFull(Exception):
    """The holding queue is full (the request is refused, not held)."""


@dataclass(frozen=True, slots=True)
class Held:
    """One quarantined request.

    @ivar key: its identity (the DUIS RequestID).
    @ivar user: the DCC User; C{service_reference} what it asked for.
    @ivar count: requests in the window when it was held; C{limit} the limit it went past.
    @ivar since: when it was held; C{until}: when it expires if nobody releases it.
    @ivar item: the caller's data (what to do on release).
    """

    key: Hashable
    user: int
    service_reference: str
    count: int
    limit: int
    since: float
    until: float
    item: Any


class Quarantine:
    """The ACB's holding queue for anomalous requests, oldest first."""

    def __init__(self, hold: float = 24 * 3600.0, max_held: int = 10_000) -> None:
        self.hold_seconds = hold
        self.max_held = max_held
        self._held: OrderedDict[Hashable, Held] = OrderedDict()

    def hold(self, key: Hashable, user: int, service_reference: str, count: int, limit: int, now: float,
             item: Any) -> Held:
        """Put a request on hold; L{QuarantineFull} if the queue is full, ValueError if the key is held."""
        if key in self._held:
            raise ValueError(f"{key!r} is already quarantined")
        if len(self._held) >= self.max_held:
            raise QuarantineFull(f"{self.max_held} requests are already quarantined")
        held = Held(key, user, service_reference, count, limit, now, now + self.hold_seconds, item)
        self._held[key] = held
        return held

    def release(self, key: Hashable) -> Held | None:
        """Take a request out to be carried out (None if it is not held)."""
        return self._held.pop(key, None)

    def reject(self, key: Hashable) -> Held | None:
        """Take a request out to be refused (None if it is not held)."""
        return self._held.pop(key, None)

    def expire(self, now: float) -> list[Held]:
        """Take out every request held until C{now} or earlier."""
        out = []
        while self._held:
            held = next(iter(self._held.values()))
            if held.until > now:
                break
            del self._held[held.key]
            out.append(held)
        return out

    def get(self, key: Hashable) -> Held | None:
        return self._held.get(key)

    def __iter__(self):
        return iter(list(self._held.values()))

    def __len__(self) -> int:
        return len(self._held)
