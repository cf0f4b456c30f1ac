"""What the layers of one ZigBee node share: the NWK information base (NIB, ZigBee PRO
05-3474 3.5.2) and the security material of the AIB (4.4.10), in one small object.

The NWK, APS and ZDO layers, the joiner and the trust centre of a node
(L{protocols.zigbee.stack}) each get this object instead of references to each other:
addresses (own short address, PAN, parent, the address map, the neighbour table), keys
(network key and its sequence number, link keys per peer) and frame counters.  The
address map is indexed both ways so that C{eui_of} and C{short_of} are O(1).
"""

from __future__ import annotations

import random
from collections import OrderedDict
from typing import Any, Callable

from protocols.ieee802154.commands import CAP_DEVICE_TYPE_FFD, CAP_RX_ON_WHEN_IDLE
from protocols.zigbee.limits import DEFAULT_LIMITS, HanLimits
from protocols.zigbee.security import FrameCounters

ROLE_COORDINATOR = "coordinator"
ROLE_ROUTER = "router"
ROLE_END_DEVICE = "end_device"

TC_SHORT = 0x0000

#: counter names for outgoing frame-counter handles (see L{Nib.network_handle} / L{Nib.link_handle})
_NWK = "nwk"
_LINK = "link"
_APS_NWK = "aps-nwk"


class Neighbor:
    """An entry of the neighbour table (3.6.1.5): a parent, child or other neighbour."""

    __slots__ = ("eui", "short", "rx_on", "child")

    def __init__(self, eui: int, short: int, rx_on: bool, child: bool) -> None:
        self.eui = eui
        self.short = short
        self.rx_on = rx_on
        self.child = child


class AddressMap:
    """nwkAddressMap: short address <-> EUI-64, one entry per device, O(1) both ways.

    An entry is I{authenticated} when it came from something a key only that device (or
    the trust centre) holds vouches for: the trust centre's own association / rejoin
    records, the trust centre's address, an APS frame secured with the device's link key.
    Anything else (the NWK header's IEEE fields, the NWK auxiliary header's source, a
    Device_annce: all forgeable by any node holding the network key) may only fill in
    addresses nothing authenticated has claimed, never move or remove an authenticated
    entry, and is kept in at most C{limit} entries, the oldest evicted first.
    """

    __slots__ = ("_by_short", "_by_eui", "_unauthenticated", "limit", "evicted")

    def __init__(self, limit: int | None = None) -> None:
        self._by_short: dict[int, int] = {}
        self._by_eui: dict[int, int] = {}
        #: EUI-64s whose entry no key vouched for, oldest first
        self._unauthenticated: OrderedDict[int, None] = OrderedDict()
        self.limit = limit
        self.evicted = 0

    def eui_of(self, short: int) -> int | None:
        return self._by_short.get(short)

    def short_of(self, eui: int) -> int | None:
        return self._by_eui.get(eui)

    def __contains__(self, short: int) -> bool:
        return short in self._by_short

    def __len__(self) -> int:
        return len(self._by_short)

    def authenticated(self, eui: int) -> bool:
        """Whether C{eui}'s entry is held and was authenticated."""
        return eui in self._by_eui and eui not in self._unauthenticated

    def set(self, short: int, eui: int) -> None:
        """Record (authenticated) that C{eui} now has C{short} (a device that changed address
        loses its old entry; an address taken over by another device loses its old owner)."""
        self._unauthenticated.pop(eui, None)
        if self._by_short.get(short) == eui:
            return
        self._remove_eui(eui)
        old_eui = self._by_short.get(short)
        if old_eui is not None:
            self._remove_eui(old_eui)
        self._by_short[short] = eui
        self._by_eui[eui] = short

    def learn_unauthenticated(self, short: int, eui: int) -> str | None:
        """A (short, EUI-64) pair from a field any network-key holder can forge: recorded only
        if it contradicts no authenticated entry.  Returns the reason it was not recorded
        (C{"address_conflict_unauthenticated"}) or C{None}."""
        by_short, by_eui, unauth = self._by_short, self._by_eui, self._unauthenticated
        known_short = by_eui.get(eui)
        if known_short == short:
            if eui in unauth:
                unauth.move_to_end(eui)
            return None
        if known_short is not None and eui not in unauth:
            return "address_conflict_unauthenticated"  # an authenticated device does not move on a claim
        holder = by_short.get(short)
        if holder is not None and holder not in unauth:
            return "address_conflict_unauthenticated"  # nor lose its address to one
        if known_short is not None:
            self._remove_eui(eui)
        if holder is not None:
            self._remove_eui(holder)
        by_short[short] = eui
        by_eui[eui] = short
        unauth[eui] = None
        if self.limit is not None and len(unauth) > self.limit:
            oldest, _ = unauth.popitem(last=False)
            old_short = by_eui.pop(oldest, None)
            if old_short is not None:
                by_short.pop(old_short, None)
            self.evicted += 1
        return None

    def _remove_eui(self, eui: int) -> None:
        short = self._by_eui.pop(eui, None)
        if short is not None:
            self._by_short.pop(short, None)
        self._unauthenticated.pop(eui, None)

    def remove_eui(self, eui: int) -> None:
        self._remove_eui(eui)


class Nib:
    """The shared state of one node.  See the module docstring.

    @param count: C{count(reason)} for every dropped frame / notable event.
    @param key_sink: C{key_sink(key, label)} for every key that Wireshark should know.
    """

    __slots__ = ("clock", "rng", "eui64", "role", "rx_on_when_idle", "manufacturer_code", "count", "key_sink",
                 "short", "pan_id", "parent", "network_key", "network_keys", "key_seq", "joined", "tc_eui", "link_keys",
                 "addresses", "neighbors", "counters", "mac", "limits")

    def __init__(self, clock, rng: random.Random, eui64: int, *, role: str, rx_on_when_idle: bool,
                 manufacturer_code: int = 0x1234, count: Callable[[str], None] | None = None,
                 key_sink: Callable[[bytes, str], None] | None = None,
                 limits: HanLimits = DEFAULT_LIMITS) -> None:
        self.clock = clock
        self.limits = limits
        self.rng = rng
        self.eui64 = eui64
        self.role = role
        self.rx_on_when_idle = rx_on_when_idle
        self.manufacturer_code = manufacturer_code
        self.count: Callable[[str], None] = count or (lambda reason: None)
        self.key_sink: Callable[[bytes, str], None] = key_sink or (lambda key, label: None)
        self.mac: Any = None
        self.short: int | None = None
        self.pan_id: int | None = None
        self.parent: int | None = None
        self.network_key: bytes | None = None  # the active network key (nwkActiveKeySeqNumber)
        self.network_keys: dict[int, bytes] = {}  # nwkSecurityMaterialSet: key sequence number -> key
        self.key_seq = 0
        self.joined = False
        self.tc_eui: int | None = None
        self.link_keys: dict[int, bytes] = {}  # peer EUI-64 -> link key (the TC link key for the TC)
        self.addresses = AddressMap(limits.address_map)
        self.neighbors: dict[int, Neighbor] = {}  # short -> neighbour
        self.counters = FrameCounters(limits.nwk_counters)

    @property
    def is_tc(self) -> bool:
        return self.role == ROLE_COORDINATOR

    def capability(self) -> int:
        """MAC capability information of this node (association request)."""
        cap = 0x80  # allocate address
        if self.role != ROLE_END_DEVICE:
            cap |= CAP_DEVICE_TYPE_FFD | 0x04  # FFD, mains powered
        if self.rx_on_when_idle:
            cap |= CAP_RX_ON_WHEN_IDLE
        return cap

    def eui_of(self, short: int) -> int | None:
        if short == self.short:
            return self.eui64
        return self.addresses.eui_of(short)

    def short_of(self, eui: int) -> int | None:
        return self.addresses.short_of(eui)

    def learn(self, short: int, eui: int | None, *, authenticated: bool = False) -> None:
        """Note a (short, EUI-64) pair: C{authenticated} when the device's link key vouched for
        it (an APS frame it secured), otherwise a claim (see L{AddressMap})."""
        if eui is None or short >= 0xFFF8 or eui == self.eui64 or short == self.short:
            return
        addresses = self.addresses
        if authenticated:
            holder = addresses.eui_of(short)
            if holder is not None and holder != eui and addresses.authenticated(holder):
                # two authenticated devices on one address (ZigBee PRO 3.6.1.9): the last
                # one heard with its link key has it now; the other one will rejoin
                self.count("address_conflict")
            addresses.set(short, eui)
            return
        evicted = addresses.evicted
        reason = addresses.learn_unauthenticated(short, eui)
        if reason is not None:
            self.count(reason)
        elif addresses.evicted != evicted:
            self.count("address_map_evicted")

    # ---------------------------------------------------------------- frame counters

    @staticmethod
    def network_handle(key_seq: int) -> tuple[str, int]:
        """Frame-counter handle of the network key with sequence number C{key_seq}."""
        return (_NWK, key_seq)

    @staticmethod
    def aps_network_handle(key_seq: int) -> tuple[str, int]:
        """Incoming-counter handle of APS frames secured with the network key (key id 1): the
        sender's APS and NWK security draw from one outgoing counter, so an APS frame's counter
        is below that of the NWK frame carrying it and the two are checked separately."""
        return (_APS_NWK, key_seq)

    @staticmethod
    def link_handle(peer_eui: int) -> tuple[str, int]:
        """Frame-counter handle of the link key shared with C{peer_eui}."""
        return (_LINK, peer_eui)

    def set_link_key(self, peer_eui: int, key: bytes) -> None:
        """Install (or replace) the link key shared with C{peer_eui}; a different key starts
        fresh frame counters in both directions (4.4.1.2: counters belong to a key)."""
        if self.link_keys.get(peer_eui) != key:
            self.link_keys[peer_eui] = key
            self.counters.new_key(self.link_handle(peer_eui))

    def set_network_key(self, key: bytes, key_seq: int) -> None:
        """Install the network key with sequence number C{key_seq} and make it the active one."""
        self.add_network_key(key, key_seq)
        self.switch_network_key(key_seq)

    def add_network_key(self, key: bytes, key_seq: int) -> None:
        """Keep C{key} under C{key_seq} for incoming frames (4.6.3.4: a new key is delivered
        before the switch); a different key under that number starts fresh counters."""
        if self.network_keys.get(key_seq) != key:
            self.network_keys[key_seq] = key
            self.counters.new_key(self.network_handle(key_seq))
            self.counters.reset_incoming(self.aps_network_handle(key_seq))

    def switch_network_key(self, key_seq: int) -> bool:
        """Make the key with C{key_seq} the active one (Switch Key, 4.4.9.6); only it and the
        key it replaces are kept.  False if no such key is held."""
        key = self.network_keys.get(key_seq)
        if key is None:
            return False
        previous = self.key_seq if self.network_key is not None else None
        self.network_key = key
        self.key_seq = key_seq
        self.network_keys = {seq: k for seq, k in self.network_keys.items()
                             if seq in (key_seq, previous) or (seq - key_seq) & 0xFF < 0x80}
        return True

    def network_key_for(self, aux) -> bytes | None:
        """The network key an incoming frame names by its key sequence number."""
        return self.network_keys.get(aux.key_seq)
