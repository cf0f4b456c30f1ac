"""The sizes of a node's soft state: every table a frame from the air can add to is bounded.

A node holding the network key can be sent any number of correctly NWK-secured frames
from made-up identities.  Each table that such a frame may create an entry in has a limit
here; entries of peers the node has a link key with (or that authenticated themselves with
one) are kept first, so overflow evicts the oldest state that no link key vouched for, and
each eviction is counted (C{<table>_evicted}).

The defaults fit a home (a handful of devices) with a wide margin; a topology can set
others under C{han: {limits: {...}}}.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

__all__ = ["HanLimits", "DEFAULT_LIMITS"]


@dataclass(frozen=True, slots=True)
class HanLimits:
    """Per-node table limits (entries)."""

    #: NWK incoming frame counters of senders without a link key (per sender and key sequence)
    nwk_counters: int = 64
    #: address-map entries learnt from frames no link key authenticated
    address_map: int = 64
    #: MAC duplicate-rejection entries (last DSN per source address)
    mac_duplicates: int = 64
    #: unfinished (and recently finished) APS reassemblies
    aps_reassembly: int = 16
    #: APS duplicate-rejection entries (source, APS counter, cluster)
    aps_duplicates: int = 128
    #: NWK broadcast transaction table entries
    broadcast_transactions: int = 64
    #: reporting configurations per attribute server (both directions together)
    reporting_configurations: int = 32
    #: indirect frames waiting for one sleepy child
    indirect_per_child: int = 8

    @classmethod
    def from_dict(cls, values: dict) -> "HanLimits":
        """Limits from a topology mapping; unknown names or values < 1 raise ValueError naming them."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown limit {unknown[0]!r} (known: {', '.join(sorted(known))})")
        for name, value in values.items():
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        return cls(**values)


DEFAULT_LIMITS = HanLimits()
