"""Per-region link profiles of the Communications Service Providers' wide-area networks.

GB has three CSP regions (e2e architecture 3.4.2, 4.2.2.1): north (long-range radio) and centre
and south (cellular).  A L{LinkProfile} says what the region's WAN link does (rate, one-way delay,
jitter, largest frame, so the north's small frames force segmentation) and how the transport
machines on it behave (keep-alive, attach and retransmission timers, reconnect backoff, window,
store bound).  The topology's C{csps:} section can override any field
(L{LinkProfile.with_overrides}); values are validated here so a bad one names its field.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from typing import Any, Mapping

from protocols.smwan.frames import OVERHEAD

__all__ = ["LinkProfile", "DEFAULT_PROFILES", "REGIONS"]

_FLOAT_FIELDS = ("rate_bps", "delay", "jitter", "keepalive_interval", "keepalive_timeout", "attach_timeout",
                 "rto_initial", "rto_max", "backoff_initial", "backoff_max")
_INT_FIELDS = ("max_frame", "max_retransmits", "window", "store_limit")


@dataclass(frozen=True, slots=True)
class LinkProfile:
    """How one CSP's WAN behaves.

    @ivar name: the CSP region (C{north}, C{centre}, C{south} or a topology-defined name).
    @ivar technology: a description (C{"long-range radio"}, C{"cellular"}).
    @ivar rate_bps: serialisation rate of the link in bit/s.
    @ivar delay: one-way latency in seconds.
    @ivar jitter: uniform jitter (+/-) in seconds.
    @ivar max_frame: largest SMWAN frame in octets (header and CRC included); longer GBCS
        messages are segmented.
    @ivar keepalive_interval: seconds between the hub's KEEPALIVE frames while attached.
    @ivar keepalive_timeout: seconds without any frame from the peer after which the attachment
        is considered dead (hub: reconnect; DCC: hub unreachable).
    @ivar attach_timeout: seconds the hub waits for ATTACH_ACK.
    @ivar rto_initial: first retransmission timeout for unacknowledged DATA, seconds.
    @ivar rto_max: cap of the doubling retransmission timeout.
    @ivar max_retransmits: consecutive timeouts without progress before the link is declared dead.
    @ivar backoff_initial: first reconnect delay after a failure, seconds (doubled per failure).
    @ivar backoff_max: cap of the reconnect delay.
    @ivar backoff_jitter: the reconnect delay is multiplied by C{1 - backoff_jitter * U(0, 1)}.
    @ivar window: unacknowledged messages in flight per direction.
    @ivar store_limit: messages one end holds for the other (sent-unacknowledged plus waiting)
        before new ones are refused and counted as overflow.
    """

    name: str
    technology: str
    rate_bps: float
    delay: float
    jitter: float
    max_frame: int
    keepalive_interval: float
    keepalive_timeout: float
    attach_timeout: float
    rto_initial: float
    rto_max: float
    max_retransmits: int
    backoff_initial: float
    backoff_max: float
    backoff_jitter: float
    window: int
    store_limit: int

    def __post_init__(self) -> None:
        for name in _FLOAT_FIELDS:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f"{name}: must be a finite number, got {value!r}")
            if value < 0 or (value == 0 and name not in ("delay", "jitter")):
                raise ValueError(f"{name}: must be {'>= 0' if name in ('delay', 'jitter') else '> 0'}, got {value!r}")
            object.__setattr__(self, name, float(value))
        for name in _INT_FIELDS:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name}: must be an integer >= 1, got {value!r}")
        if self.max_frame < OVERHEAD + 1 or self.max_frame > OVERHEAD + 0xFFFF:
            raise ValueError(f"max_frame: must be {OVERHEAD + 1}-{OVERHEAD + 0xFFFF} octets "
                             f"({OVERHEAD} of framing), got {self.max_frame}")
        b = self.backoff_jitter
        if isinstance(b, bool) or not isinstance(b, (int, float)) or not 0.0 <= b < 1.0:
            raise ValueError(f"backoff_jitter: must be a number in [0, 1), got {b!r}")
        object.__setattr__(self, "backoff_jitter", float(b))
        if self.keepalive_timeout <= self.keepalive_interval:
            raise ValueError(f"keepalive_timeout: must exceed keepalive_interval ({self.keepalive_interval}), "
                             f"got {self.keepalive_timeout}")
        if self.rto_max < self.rto_initial:
            raise ValueError(f"rto_max: must be >= rto_initial ({self.rto_initial}), got {self.rto_max}")
        if self.backoff_max < self.backoff_initial:
            raise ValueError(f"backoff_max: must be >= backoff_initial ({self.backoff_initial}), got {self.backoff_max}")
        if self.window > self.store_limit:
            raise ValueError(f"window: must be <= store_limit ({self.store_limit}), got {self.window}")

    @property
    def max_segment(self) -> int:
        """Largest GBCS octet count one DATA frame carries."""
        return self.max_frame - OVERHEAD

    @classmethod
    def overridable(cls) -> tuple[str, ...]:
        """Field names a topology may set (all but C{name})."""
        return tuple(f.name for f in fields(cls) if f.name != "name")

    def with_overrides(self, name: str, overrides: Mapping[str, Any]) -> "LinkProfile":
        """Return a copy named C{name} with the given fields replaced.

        @raise ValueError: unknown field or invalid value (the message starts with the field).
        """
        known = self.overridable()
        for key in overrides:
            if key not in known:
                raise ValueError(f"{key}: unknown link profile field (known: {', '.join(known)})")
        return replace(self, name=name, **dict(overrides))


_CELLULAR = dict(technology="cellular", rate_bps=256_000.0, delay=0.25, jitter=0.1, max_frame=1400,
                 keepalive_interval=120.0, keepalive_timeout=400.0, attach_timeout=10.0,
                 rto_initial=3.0, rto_max=60.0, max_retransmits=6,
                 backoff_initial=5.0, backoff_max=300.0, backoff_jitter=0.25, window=32, store_limit=1000)

#: the three GB regions; north is long-range radio (low rate, high latency, small frames)
DEFAULT_PROFILES: dict[str, LinkProfile] = {
    "north": LinkProfile(name="north", technology="long-range radio", rate_bps=9_600.0, delay=2.0, jitter=0.5,
                         max_frame=160, keepalive_interval=300.0, keepalive_timeout=960.0, attach_timeout=30.0,
                         rto_initial=10.0, rto_max=120.0, max_retransmits=6,
                         backoff_initial=30.0, backoff_max=600.0, backoff_jitter=0.25, window=8, store_limit=1000),
    "centre": LinkProfile(name="centre", **_CELLULAR),
    "south": LinkProfile(name="south", **{**_CELLULAR, "delay": 0.3}),
}
REGIONS = tuple(DEFAULT_PROFILES)
