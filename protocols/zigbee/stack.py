"""The ZigBee PRO network (NWK) and application-support (APS/ZDO) layers of one node.

Implements, on top of the IEEE 802.15.4 MAC (L{protocols.ieee802154.mac}):

 - NWK data service with NWK security on every frame (ZigBee PRO 05-3474 4.3: key id 1,
   extended nonce, per-sender frame counters with replay rejection), broadcast
   transaction table and rebroadcast by routers/coordinator (3.6.5), address map from
   the NWK source IEEE / aux-header source.
 - APS data service (2.2.8): APS security with link keys (4.4: key id 0 data key, 2
   key-transport key, 3 key-load key), acknowledged delivery with apscMaxFrameRetries
   retries, duplicate rejection, APS fragmentation with one-block windows (2.2.8.4.5).
 - Trust centre and joining (4.6.3 with the SE rule that the preconfigured link key
   comes from the install code): association decided by the CH's device log, the
   network key sent in an APS Transport Key secured with the key-transport key derived
   from the joiner's install-code link key (NWK unsecured), Device_annce, application
   link keys handed out on Request Key.
 - ZDO server on endpoint 0: Device_annce, Match_Desc, Simple_Desc, Active_EP,
   Node_Desc, IEEE_addr; and a client with response matching by TSN.

Sans-IO in the sense of DESIGN.md: time comes from the injected clock (C{IReactorTime}),
randomness from the injected C{random.Random}, frames go to the injected MAC; nothing
raises out of the receive path (every malformed or unverifiable frame is counted with a
reason and dropped).  The application sits above (L{StackUser}).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Callable, Protocol

from protocols.errors import CodecError
from protocols.ieee802154.commands import CAP_DEVICE_TYPE_FFD, CAP_RX_ON_WHEN_IDLE
from protocols.ieee802154.frames import ADDR_SHORT
from protocols.zigbee import aps as _aps
from protocols.zigbee import nwk as _nwk
from protocols.zigbee import zdo as _zdo
from protocols.zigbee.fragmentation import FragmentSender, Reassembler
from protocols.zigbee.security import (
    KEY_ID_DATA,
    KEY_ID_KEY_TRANSPORT,
    KEY_ID_NETWORK,
    FrameCounters,
    secure_aps,
    secure_nwk,
    unsecure_aps,
    unsecure_nwk,
)

ROLE_COORDINATOR = "coordinator"
ROLE_ROUTER = "router"
ROLE_END_DEVICE = "end_device"

TC_SHORT = 0x0000
#: APS payload bytes that fit one secured frame (127 - MAC 9+2 - NWK 8+8 - NWK aux 14 - MIC 4
#: - APS 8+2 - APS aux 13 - MIC 4 = 55); larger ASDUs are fragmented.
MAX_APS_BLOCK = 55
APSC_MAX_FRAME_RETRIES = 3
APS_ACK_WAIT = 1.6  # s, to an rx-on-when-idle destination (apsAckWaitDuration)
APS_ACK_WAIT_SLEEPY = 9.0  # s, when the destination (or we) poll for frames
NWK_MAX_BROADCAST_JITTER = 0.064  # s (nwkcMaxBroadcastJitter)
BTT_TIMEOUT = 9.0  # s (nwkBroadcastDeliveryTime)
NWK_SCAN_ATTEMPTS = 3  # active scans (each one Beacon Request) before giving up
SCAN_DURATION = 0.25  # s listening for beacons per scan
JOIN_KEY_TIMEOUT = 10.0  # s a joiner waits for the Transport Key after associating
TC_ANNOUNCE_TIMEOUT = 20.0  # s the TC waits for Device_annce after sending the key
PROFILE_SE = _aps.PROFILE_SMART_ENERGY


class StackUser(Protocol):
    """What the application (device) above a L{ZigbeeStack} provides."""

    def stack_joined(self) -> None: ...
    def stack_join_failed(self, reason: str) -> None: ...
    def aps_data_indication(self, ind: "ApsIndication") -> None: ...


@dataclass(frozen=True, slots=True)
class ApsIndication:
    """An ASDU delivered to an application endpoint."""

    src_short: int
    src_eui: int | None
    src_endpoint: int
    dst_endpoint: int
    cluster: int
    profile: int
    payload: bytes
    aps_secured: bool
    broadcast: bool


class _Neighbor:
    __slots__ = ("eui", "short", "rx_on", "child")

    def __init__(self, eui: int, short: int, rx_on: bool, child: bool) -> None:
        self.eui = eui
        self.short = short
        self.rx_on = rx_on
        self.child = child


class _PendingAps:
    """An acknowledged APS transmission (one block of it when fragmented)."""

    __slots__ = ("dst", "counter", "build", "tries", "timer", "on_done", "sender", "blocks", "wait")

    def __init__(self, dst: int, counter: int, build, on_done, wait: float) -> None:
        self.dst = dst
        self.counter = counter
        self.build = build  # block index -> on-air APS bytes
        self.tries = 0
        self.timer = None
        self.on_done = on_done
        self.sender: FragmentSender | None = None
        self.blocks = 1
        self.wait = wait


class ZigbeeStack:
    """NWK + APS + ZDO of one node.  See the module docstring.

    @param role: L{ROLE_COORDINATOR} (the CH: trust centre too), L{ROLE_ROUTER} or
        L{ROLE_END_DEVICE}.
    @param count: C{count(reason)} for every dropped frame / notable event.
    @param key_sink: C{key_sink(key, label)} for every key that Wireshark should know.
    """

    def __init__(self, clock, rng: random.Random, eui64: int, *, role: str, rx_on_when_idle: bool,
                 user: StackUser, manufacturer_code: int = 0x1234,
                 count: Callable[[str], None] | None = None,
                 key_sink: Callable[[bytes, str], None] | None = None) -> None:
        self.clock = clock
        self.rng = rng
        self.eui64 = eui64
        self.role = role
        self.rx_on_when_idle = rx_on_when_idle
        self.user = user
        self.manufacturer_code = manufacturer_code
        self._count = count or (lambda reason: None)
        self._key_sink = key_sink or (lambda key, label: None)
        self.mac: Any = None
        self.short: int | None = None
        self.pan_id: int | None = None
        self.parent: int | None = None
        self.network_key: bytes | None = None
        self.key_seq = 0
        self.joined = False
        self.counters = FrameCounters()
        self.link_keys: dict[int, bytes] = {}  # peer EUI-64 -> link key (TC link key for the TC)
        self.tc_eui: int | None = None
        self.address_map: dict[int, int] = {}  # short -> EUI-64
        self.neighbors: dict[int, _Neighbor] = {}  # short -> neighbour
        self.endpoints: dict[int, tuple[_zdo.SimpleDescriptor, Callable[[ApsIndication], None]]] = {}
        self._nwk_seq = rng.randrange(256)
        self._aps_counter = rng.randrange(256)
        self._zdo_tsn = rng.randrange(256)
        self._btt: dict[tuple[int, int], float] = {}
        self._aps_seen: dict[tuple[int, int, int], float] = {}
        self._pending: dict[tuple[int, int], _PendingAps] = {}
        self._reassembler = Reassembler(timeout=12.0)
        self._zdo_waiting: dict[int, tuple[Callable[[Any], None], Any]] = {}
        self._key_waiters: dict[int, list[Callable[[bool], None]]] = {}
        # joining (non-TC) state
        self._join_state = "idle"
        self._scans_left = 0
        self._join_timer = None
        self._poll_call = None
        self._poll_interval = 0.0
        # trust centre state
        self._authorize: Callable[[int], bytes | None] | None = None
        self._tc_pending: dict[int, Any] = {}  # EUI -> timer awaiting Device_annce
        self._on_device_joined: Callable[[int, int, str], None] | None = None

    # ---------------------------------------------------------------- wiring / state

    def attach_mac(self, mac) -> None:
        """Give the stack its MAC (constructed with this stack as its user)."""
        self.mac = mac

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

    def add_endpoint(self, descriptor: _zdo.SimpleDescriptor, handler: Callable[[ApsIndication], None]) -> None:
        """Register an application endpoint and its ASDU handler."""
        self.endpoints[descriptor.endpoint] = (descriptor, handler)

    def eui_of(self, short: int) -> int | None:
        """EUI-64 of a short address, if known."""
        if short == self.short:
            return self.eui64
        return self.address_map.get(short)

    def short_of(self, eui: int) -> int | None:
        """Short address of an EUI-64, if known."""
        for short, e in self.address_map.items():
            if e == eui:
                return short
        return None

    def _learn(self, short: int, eui: int | None) -> None:
        if eui is None or short >= 0xFFF8 or eui == self.eui64:
            return
        old = self.address_map.get(short)
        if old != eui:
            # a device that changed address: forget its old one
            for s in [s for s, e in self.address_map.items() if e == eui and s != short]:
                del self.address_map[s]
            self.address_map[short] = eui

    # ---------------------------------------------------------------- trust centre

    def form_network(self, pan_id: int, network_key: bytes, *, authorize: Callable[[int], bytes | None],
                     on_device_joined: Callable[[int, int, str], None], beacon_payload: bytes,
                     key_seq: int = 0) -> None:
        """Start as coordinator and trust centre of a new PAN.

        @param authorize: C{authorize(eui) -> install-code link key or None}: the CHF device
            log lookup; C{None} refuses the association (PAN access denied).
        @param on_device_joined: C{(eui, short, outcome)} with outcome C{"joined"},
            C{"denied"} or C{"no_announce"}.
        """
        self.short = TC_SHORT
        self.pan_id = pan_id
        self.network_key = network_key
        self.key_seq = key_seq
        self.tc_eui = self.eui64
        self.joined = True
        self._authorize = authorize
        self._on_device_joined = on_device_joined
        self.mac.set_association_permit(True)
        self.mac.mlme_start(pan_id, TC_SHORT, beacon_payload)

    def mlme_associate_indication(self, ext_addr: int, capability: int) -> tuple[int, int]:
        """MAC asks whether C{ext_addr} may associate (we are the coordinator)."""
        if not self.is_tc or self._authorize is None:
            return 0xFFFF, 2
        link_key = self._authorize(ext_addr)
        if link_key is None:
            self._count("join_denied")
            if self._on_device_joined is not None:
                self._on_device_joined(ext_addr, 0xFFFF, "denied")
            return 0xFFFF, 2  # PAN access denied
        short = self.short_of(ext_addr)
        if short is None:
            while True:
                short = self.rng.randrange(0x0001, 0xFFF8)
                if short not in self.address_map and short != self.short:
                    break
        self.link_keys[ext_addr] = link_key
        self.address_map[short] = ext_addr
        self.neighbors[short] = _Neighbor(ext_addr, short, bool(capability & CAP_RX_ON_WHEN_IDLE), True)
        # incoming counters restart for a device that (re)joins
        self.counters.reset_incoming(("aps", ext_addr))
        return short, 0

    def mlme_comm_status(self, ext_addr: int, status: int, *args: Any) -> None:
        """The indirect Association Response reached the joiner (status 0) or expired."""
        if not self.is_tc or ext_addr not in self.link_keys:
            return
        short = self.short_of(ext_addr)
        if short is None:
            return
        if status != 0:
            # the joiner may have heard the response even though its ack was lost: send the
            # key anyway (a joiner that did not hear it simply times out and tries again)
            self._count("assoc_response_unacknowledged")
        self._send_transport_network_key(ext_addr, short)

    def _send_transport_network_key(self, eui: int, short: int) -> None:
        cmd = _aps.TransportKey(_aps.KEY_TYPE_STANDARD_NETWORK, self.network_key, key_seq=self.key_seq,
                                dst_ieee=eui, src_ieee=self.eui64)
        self._send_aps_command(short, eui, cmd, key_id=KEY_ID_KEY_TRANSPORT, nwk_secure=False, ack=False)
        old = self._tc_pending.pop(eui, None)
        if old is not None and old.active():
            old.cancel()
        self._tc_pending[eui] = self.clock.callLater(TC_ANNOUNCE_TIMEOUT, self._tc_no_announce, eui, short)

    def _tc_no_announce(self, eui: int, short: int) -> None:
        self._tc_pending.pop(eui, None)
        self._count("join_no_announce")
        if self._on_device_joined is not None:
            self._on_device_joined(eui, short, "no_announce")

    def _tc_request_key(self, requester_short: int, requester_eui: int, cmd: _aps.RequestKey) -> None:
        if cmd.key_type not in (_aps.KEY_TYPE_APP_MASTER, _aps.KEY_TYPE_APP_LINK) or cmd.partner_ieee is None:
            self._count("request_key_unsupported")
            return
        partner = cmd.partner_ieee
        partner_short = self.short_of(partner)
        if partner_short is None or partner not in self.link_keys or requester_eui not in self.link_keys:
            self._count("request_key_unknown_partner")
            return
        key = bytes(self.rng.getrandbits(8) for _ in range(16))
        names = sorted((f"{requester_eui:016X}", f"{partner:016X}"))
        self._key_sink(key, f"application link key {names[0]}-{names[1]}")
        self._send_aps_command(requester_short, requester_eui,
                               _aps.TransportKey(_aps.KEY_TYPE_APP_LINK, key, partner_ieee=partner, initiator=True),
                               key_id=KEY_ID_KEY_TRANSPORT)
        self._send_aps_command(partner_short, partner,
                               _aps.TransportKey(_aps.KEY_TYPE_APP_LINK, key, partner_ieee=requester_eui,
                                                 initiator=False),
                               key_id=KEY_ID_KEY_TRANSPORT)

    # ---------------------------------------------------------------- joining

    def set_trust_center_link_key(self, key: bytes) -> None:
        """The preconfigured TC link key (SE: derived from the install code)."""
        self._preconfigured = key

    def join(self) -> None:
        """Scan, associate, wait for the network key, announce (retries on failure)."""
        if self._join_state != "idle" or self.joined:
            return
        self._join_state = "scanning"
        self._scans_left = NWK_SCAN_ATTEMPTS - 1
        self._count("join_attempt")
        self.mac.mlme_scan_request(SCAN_DURATION)

    def mlme_scan_confirm(self, pan_descriptors) -> None:
        if self._join_state != "scanning":
            return
        for desc in pan_descriptors:
            if desc.superframe.association_permit and desc.zigbee is not None:
                self._join_state = "associating"
                self.pan_id = desc.coord_pan_id
                self.mac.mlme_associate_request(desc.coord_address, desc.coord_pan_id, self.capability())
                return
        if self._scans_left > 0:
            self._scans_left -= 1
            self.mac.mlme_scan_request(SCAN_DURATION)
            return
        self._join_failed("no_network")

    def mlme_associate_confirm(self, short: int, status: int) -> None:
        if self._join_state != "associating":
            return
        if status != 0:
            self._join_failed("denied" if status == 2 else "association_failed")
            return
        self.short = short
        self.parent = TC_SHORT
        self._join_state = "authenticating"
        self._join_timer = self.clock.callLater(JOIN_KEY_TIMEOUT, self._join_failed, "no_network_key")
        if not self.rx_on_when_idle:
            self.start_polling(0.5)

    def _join_failed(self, reason: str) -> None:
        if self._join_timer is not None and self._join_timer.active():
            self._join_timer.cancel()
        self._join_timer = None
        self._join_state = "idle"
        self.short = None
        self.pan_id = None
        self.stop_polling()
        self.mac.set_short_address(0xFFFF)
        self.user.stack_join_failed(reason)

    def _got_network_key(self, cmd: _aps.TransportKey, tc_eui: int) -> None:
        if self._join_state != "authenticating":
            return
        if self._join_timer is not None and self._join_timer.active():
            self._join_timer.cancel()
        self._join_timer = None
        self.network_key = cmd.key
        self.key_seq = cmd.key_seq or 0
        self.tc_eui = tc_eui
        self.link_keys[tc_eui] = self._preconfigured
        self.address_map[TC_SHORT] = tc_eui
        self.neighbors[TC_SHORT] = _Neighbor(tc_eui, TC_SHORT, True, False)
        self.joined = True
        self._join_state = "joined"
        if not self.rx_on_when_idle:
            self.stop_polling()
        announce = _zdo.DeviceAnnce(self.short, self.eui64, self.capability())
        self.zdo_send(_nwk.BROADCAST_RX_ON_WHEN_IDLE, announce)
        self.user.stack_joined()

    # ---------------------------------------------------------------- polling (rx-off)

    def start_polling(self, interval: float) -> None:
        """Poll the parent every C{interval} s (an awake sleepy device)."""
        self._poll_interval = interval
        if self._poll_call is None or not self._poll_call.active():
            self._poll_call = self.clock.callLater(0, self._poll)

    def stop_polling(self) -> None:
        if self._poll_call is not None and self._poll_call.active():
            self._poll_call.cancel()
        self._poll_call = None

    def _poll(self) -> None:
        self.mac.mlme_poll_request()
        self._poll_call = self.clock.callLater(self._poll_interval, self._poll)

    def mlme_poll_confirm(self, status: int, *args: Any) -> None:
        pass

    # ---------------------------------------------------------------- NWK transmit

    def _next_hop(self, nwk_dst: int) -> tuple[int, bool, bool]:
        """(MAC destination, ack request, indirect) for a NWK destination."""
        if self.role == ROLE_END_DEVICE:
            return self.parent if self.parent is not None else TC_SHORT, True, False
        if nwk_dst >= 0xFFF8:
            return 0xFFFF, False, False
        nb = self.neighbors.get(nwk_dst)
        indirect = nb is not None and nb.child and not nb.rx_on
        return nwk_dst, True, indirect

    def _nwk_send(self, nwk_dst: int, payload: bytes, *, secure: bool = True, frame_type: int = _nwk.NWK_FRAME_DATA,
                  radius: int = 30, src: int | None = None, seq: int | None = None, src_ieee: int | None = -1) -> None:
        if self.short is None:
            self._count("tx_not_joined")
            return
        if seq is None:
            self._nwk_seq = (self._nwk_seq + 1) & 0xFF
            seq = self._nwk_seq
        if src_ieee == -1:
            src_ieee = self.eui64
        frame = _nwk.NwkFrame(nwk_dst, self.short if src is None else src, seq, payload, frame_type,
                              discover_route=0 if nwk_dst >= 0xFFF8 else 1, security=secure, radius=radius,
                              src_ieee=src_ieee,
                              end_device_initiator=self.role == ROLE_END_DEVICE and src is None)
        if secure:
            if self.network_key is None:
                self._count("tx_no_network_key")
                return
            data = secure_nwk(frame, self.network_key, self.counters.next(("nwk", self.key_seq)), self.eui64,
                              self.key_seq)
        else:
            data = _nwk.encode_nwk(frame)
        mac_dst, ack, indirect = self._next_hop(nwk_dst)
        self.mac.mcps_data_request(mac_dst, data, ack_request=ack, indirect=indirect)

    def mcps_data_confirm(self, handle, status, *args: Any) -> None:
        if status:
            self._count("mac_tx_failed")

    # ---------------------------------------------------------------- NWK receive

    def mcps_data_indication(self, frame) -> None:
        """A MAC data frame for us (or broadcast): NWK processing.  Never raises."""
        try:
            self._nwk_receive(frame)
        except CodecError as e:
            self._count("malformed")
            self._count(f"malformed:{e.field.split('.')[0]}")

    def _nwk_receive(self, mac_frame) -> None:
        data = mac_frame.payload
        head = _nwk.decode_nwk(data)
        if head.frame_type == _nwk.NWK_FRAME_INTERPAN:
            self._count("interpan_ignored")
            return
        if head.security:
            if self.network_key is None:
                self._count("no_network_key")
                return
            try:
                frame, aux = unsecure_nwk(data, self.network_key)
            except CodecError as e:
                self._count("nwk_mic" if e.field == "mic" else "malformed")
                return
            if aux.source is None or not self.counters.check_incoming(aux.source, ("nwk", aux.key_seq),
                                                                      aux.frame_counter):
                self._count("nwk_replay")
                return
            if mac_frame.src_mode == ADDR_SHORT:
                self._learn(mac_frame.src_addr, aux.source)  # the previous hop secured it
        else:
            # Unsecured NWK frames are accepted only by a joiner, and only to carry the APS
            # Transport Key (itself APS-secured with the key-transport key): ZigBee PRO 4.6.3.
            frame = head
            if self.joined or len(frame.payload) < 1 or frame.payload[0] & 0x03 != _aps.APS_FRAME_COMMAND:
                self._count("nwk_unsecured")
                return
        if frame.src_ieee is not None:
            self._learn(frame.src, frame.src_ieee)
        if frame.src == self.short:
            return  # our own broadcast coming back
        dst = frame.dst
        if dst >= 0xFFF8:
            key = (frame.src, frame.seq)
            now = self.clock.seconds()
            seen = self._btt.get(key)
            if seen is not None and now - seen < BTT_TIMEOUT:
                self._count("broadcast_duplicate")
                return
            self._btt[key] = now
            if len(self._btt) > 64:
                self._btt = {k: t for k, t in self._btt.items() if now - t < BTT_TIMEOUT}
            if self.role != ROLE_END_DEVICE and frame.radius > 1 and self.network_key is not None \
                    and frame.security:
                delay = self.rng.uniform(0.002, NWK_MAX_BROADCAST_JITTER)
                self.clock.callLater(delay, self._nwk_send, dst, frame.payload, frame_type=frame.frame_type,
                                     radius=frame.radius - 1, src=frame.src, seq=frame.seq,
                                     src_ieee=frame.src_ieee)
            if not self._broadcast_for_me(dst):
                return
        elif dst != self.short:
            self._count("nwk_not_for_us")
            return
        if frame.frame_type == _nwk.NWK_FRAME_COMMAND:
            self._count("nwk_command")
            return
        self._aps_receive(frame, dst >= 0xFFF8)

    def _broadcast_for_me(self, dst: int) -> bool:
        if dst == 0xFFFF:
            return True
        if dst == 0xFFFD:
            return self.rx_on_when_idle
        return self.role != ROLE_END_DEVICE

    # ---------------------------------------------------------------- APS receive

    def _aps_receive(self, nwk_frame, broadcast: bool) -> None:
        data = nwk_frame.payload
        head = _aps.decode_aps(data)
        src_short = nwk_frame.src
        src_eui = self.eui_of(src_short)
        key_used: bytes | None = None
        aux = None
        if head.security:
            def key_for(a):
                eui = a.source if a.source is not None else src_eui
                if a.key_id == KEY_ID_NETWORK:
                    return self.network_key
                if eui is not None and eui in self.link_keys:
                    return self.link_keys[eui]
                if a.key_id == KEY_ID_KEY_TRANSPORT and self._join_state == "authenticating":
                    return getattr(self, "_preconfigured", None)
                return None
            try:
                frame, aux = unsecure_aps(data, key_for, source=src_eui)
            except CodecError as e:
                self._count("aps_mic" if e.field == "mic" else ("aps_no_key" if e.field == "key" else "malformed"))
                return
            src_eui = aux.source if aux.source is not None else src_eui
            if not self.counters.check_incoming(src_eui, ("aps", aux.key_id), aux.frame_counter):
                self._count("aps_replay")
                return
            key_used = key_for(aux)
        else:
            frame = head
        if frame.frame_type == _aps.APS_FRAME_ACK:
            self._aps_ack_received(src_short, frame)
            return
        if frame.frame_type == _aps.APS_FRAME_COMMAND:
            if frame.ack_request:
                self._send_aps_ack(src_short, frame, key_used, aux)
            if not frame.security:
                self._count("aps_command_unsecured")
                return
            self._aps_command(src_short, src_eui, frame, aux)
            return
        if frame.frame_type != _aps.APS_FRAME_DATA:
            self._count("aps_frame_type")
            return
        # data
        if frame.fragmentation:
            result = self._reassembler.accept((src_short, frame.counter), frame.fragmentation,
                                              frame.block_number, frame.payload, self.clock.seconds())
            if result.ack is not None and frame.ack_request:
                self._send_aps_ack(src_short, frame, key_used, aux, block_ack=result.ack)
            if result.status != "complete":
                if result.status == "rejected":
                    self._count("aps_fragment_rejected")
                return
            payload = result.payload
        else:
            if frame.ack_request and not broadcast:
                self._send_aps_ack(src_short, frame, key_used, aux)
            payload = frame.payload
        now = self.clock.seconds()
        dup_key = (src_short, frame.counter, frame.cluster)
        if not broadcast:
            seen = self._aps_seen.get(dup_key)
            if seen is not None and now - seen < 10.0:
                self._count("aps_duplicate")
                return
            self._aps_seen[dup_key] = now
            if len(self._aps_seen) > 128:
                self._aps_seen = {k: t for k, t in self._aps_seen.items() if now - t < 10.0}
        ind = ApsIndication(src_short, src_eui, frame.src_endpoint, frame.dst_endpoint, frame.cluster,
                            frame.profile, payload, frame.security, broadcast)
        if frame.dst_endpoint == 0 and frame.profile == _aps.PROFILE_ZDP:
            self._zdo_receive(ind)
            return
        targets = list(self.endpoints) if frame.dst_endpoint == 0xFF else [frame.dst_endpoint]
        delivered = False
        for ep in targets:
            entry = self.endpoints.get(ep)
            if entry is None or (entry[0].profile != frame.profile and frame.dst_endpoint != 0xFF):
                continue
            delivered = True
            if ep != frame.dst_endpoint:
                ind = ApsIndication(src_short, src_eui, frame.src_endpoint, ep, frame.cluster, frame.profile,
                                    payload, frame.security, broadcast)
            entry[1](ind)
        if not delivered:
            self._count("aps_no_endpoint")

    def _aps_command(self, src_short: int, src_eui: int | None, frame, aux) -> None:
        cmd = _aps.decode_aps_command(frame.payload)
        if isinstance(cmd, _aps.TransportKey):
            if aux is None or aux.key_id not in (KEY_ID_KEY_TRANSPORT, KEY_ID_DATA):
                self._count("transport_key_rejected")
                return
            if cmd.key_type in (_aps.KEY_TYPE_STANDARD_NETWORK, _aps.KEY_TYPE_HIGH_SECURITY_NETWORK):
                if cmd.dst_ieee not in (None, self.eui64):
                    return
                self._got_network_key(cmd, cmd.src_ieee if cmd.src_ieee is not None else src_eui)
            elif cmd.key_type == _aps.KEY_TYPE_APP_LINK and cmd.partner_ieee is not None:
                if src_eui != self.tc_eui:
                    self._count("transport_key_not_from_tc")
                    return
                self.link_keys[cmd.partner_ieee] = cmd.key
                for waiter in self._key_waiters.pop(cmd.partner_ieee, []):
                    waiter(True)
            elif cmd.key_type == _aps.KEY_TYPE_TC_LINK:
                if src_eui == self.tc_eui:
                    self.link_keys[self.tc_eui] = cmd.key
            return
        if isinstance(cmd, _aps.RequestKey) and self.is_tc and src_eui is not None:
            self._tc_request_key(src_short, src_eui, cmd)
            return
        self._count("aps_command_ignored")

    # ---------------------------------------------------------------- APS transmit

    def _next_aps_counter(self) -> int:
        self._aps_counter = (self._aps_counter + 1) & 0xFF
        return self._aps_counter

    def _ack_wait(self, dst: int) -> float:
        nb = self.neighbors.get(dst)
        if not self.rx_on_when_idle or (nb is not None and nb.child and not nb.rx_on):
            return APS_ACK_WAIT_SLEEPY
        return APS_ACK_WAIT

    def _secure_or_encode(self, frame: _aps.ApsFrame, peer_eui: int | None, key_id: int) -> bytes | None:
        if not frame.security:
            return _aps.encode_aps(frame)
        key = self.link_keys.get(peer_eui) if peer_eui is not None else None
        if key_id == KEY_ID_NETWORK:
            key = self.network_key
        if key is None:
            self._count("aps_no_link_key")
            return None
        counter = self.counters.next(("aps", "out"))
        return secure_aps(frame, key, counter, self.eui64, key_id=key_id, ext_nonce=True,
                          key_seq=self.key_seq if key_id == KEY_ID_NETWORK else None)

    def _send_aps_command(self, dst_short: int, dst_eui: int, cmd, *, key_id: int = KEY_ID_DATA,
                          nwk_secure: bool = True, ack: bool = True) -> None:
        counter = self._next_aps_counter()
        frame = _aps.ApsFrame(_aps.APS_FRAME_COMMAND, counter=counter, payload=_aps.encode_aps_command(cmd),
                              security=True, ack_request=ack)
        if not ack:
            data = self._secure_or_encode(frame, dst_eui, key_id)
            if data is not None:
                self._nwk_send(dst_short, data, secure=nwk_secure)
            return
        pending = _PendingAps(dst_short, counter, lambda block: self._secure_or_encode(frame, dst_eui, key_id),
                              None, self._ack_wait(dst_short))
        self._pending[(dst_short, counter)] = pending
        self._transmit_pending(pending, nwk_secure)

    def _send_aps_ack(self, dst_short: int, frame, key: bytes | None, aux, block_ack=None) -> None:
        if frame.frame_type == _aps.APS_FRAME_COMMAND:
            ack = _aps.ApsFrame(_aps.APS_FRAME_ACK, counter=frame.counter, ack_format=True,
                                security=frame.security)
        else:
            ack = _aps.ApsFrame(_aps.APS_FRAME_ACK, counter=frame.counter, dst_endpoint=frame.src_endpoint,
                                cluster=frame.cluster, profile=frame.profile, src_endpoint=frame.dst_endpoint,
                                security=frame.security,
                                fragmentation=block_ack.fragmentation if block_ack is not None else 0,
                                block_number=block_ack.block_number if block_ack is not None else None,
                                ack_bitfield=block_ack.ack_bitfield if block_ack is not None else None)
        if frame.security and key is not None:
            key_id = aux.key_id if aux is not None and aux.key_id != KEY_ID_KEY_TRANSPORT else KEY_ID_DATA
            data = secure_aps(ack, key, self.counters.next(("aps", "out")), self.eui64, key_id=key_id,
                              ext_nonce=True, key_seq=self.key_seq if key_id == KEY_ID_NETWORK else None)
        else:
            data = _aps.encode_aps(ack)
        self._nwk_send(dst_short, data)

    def send_data(self, dst_short: int, dst_endpoint: int, src_endpoint: int, cluster: int, payload: bytes, *,
                  profile: int = PROFILE_SE, ack: bool = True, aps_security: bool = True,
                  on_done: Callable[[bool], None] | None = None) -> None:
        """Send an ASDU; C{on_done(success)} when acknowledged / given up (acked sends only).

        With C{aps_security} the frame is secured with the link key shared with the
        destination; if none exists yet one is requested from the trust centre first.
        """
        broadcast = dst_short >= 0xFFF8
        if aps_security and not broadcast:
            peer = self.eui_of(dst_short)
            if peer is None:
                self._count("aps_unknown_destination")
                if on_done:
                    on_done(False)
                return
            if peer not in self.link_keys:
                self.request_link_key(peer, lambda ok: (
                    self.send_data(dst_short, dst_endpoint, src_endpoint, cluster, payload, profile=profile,
                                   ack=ack, aps_security=aps_security, on_done=on_done)
                    if ok else (on_done(False) if on_done else None)))
                return
        counter = self._next_aps_counter()
        template = _aps.ApsFrame(_aps.APS_FRAME_DATA,
                                 _aps.APS_DELIVERY_BROADCAST if broadcast else _aps.APS_DELIVERY_UNICAST,
                                 counter, dst_endpoint, None, cluster, profile, src_endpoint, b"",
                                 security=aps_security and not broadcast, ack_request=ack and not broadcast)
        peer = None if broadcast else self.eui_of(dst_short)
        if len(payload) > MAX_APS_BLOCK:
            blocks = [payload[i:i + MAX_APS_BLOCK] for i in range(0, len(payload), MAX_APS_BLOCK)]
        else:
            blocks = [payload]
        def build(index: int) -> bytes | None:
            # every (re)transmission is secured afresh: a new frame counter, same APS counter
            if len(blocks) == 1:
                frame = _aps.ApsFrame(template.frame_type, template.delivery_mode, counter, dst_endpoint, None,
                                      cluster, profile, src_endpoint, payload, template.security,
                                      template.ack_request)
            else:
                frame = _aps.ApsFrame(template.frame_type, template.delivery_mode, counter, dst_endpoint, None,
                                      cluster, profile, src_endpoint, blocks[index], template.security, True,
                                      fragmentation=_aps.APS_FRAGMENTATION_FIRST if index == 0
                                      else _aps.APS_FRAGMENTATION_SUBSEQUENT,
                                      block_number=len(blocks) if index == 0 else index)
            return self._secure_or_encode(frame, peer, KEY_ID_DATA)

        if not template.ack_request and len(blocks) == 1:
            data = build(0)
            if data is not None:
                self._nwk_send(dst_short, data)
            return
        pending = _PendingAps(dst_short, counter, build, on_done, self._ack_wait(dst_short))
        if len(blocks) > 1:
            pending.sender = FragmentSender(len(blocks))
            pending.blocks = len(blocks)
        self._pending[(dst_short, counter)] = pending
        self._transmit_pending(pending)

    def _transmit_pending(self, pending: _PendingAps, nwk_secure: bool = True) -> None:
        index = pending.sender.window()[0] if pending.sender is not None else 0
        data = pending.build(index)
        if data is None:
            self._finish_pending(pending, False)
            return
        pending.tries += 1
        self._nwk_send(pending.dst, data, secure=nwk_secure)
        pending.timer = self.clock.callLater(pending.wait, self._aps_ack_timeout, pending, nwk_secure)

    def _aps_ack_timeout(self, pending: _PendingAps, nwk_secure: bool) -> None:
        pending.timer = None
        if pending.tries > APSC_MAX_FRAME_RETRIES:
            self._count("aps_no_ack")
            self._finish_pending(pending, False)
            return
        self._count("aps_retry")
        self._transmit_pending(pending, nwk_secure)

    def _finish_pending(self, pending: _PendingAps, ok: bool) -> None:
        if pending.timer is not None and pending.timer.active():
            pending.timer.cancel()
        pending.timer = None
        self._pending.pop((pending.dst, pending.counter), None)
        if pending.on_done is not None:
            pending.on_done(ok)

    def _aps_ack_received(self, src_short: int, frame) -> None:
        pending = self._pending.get((src_short, frame.counter))
        if pending is None:
            self._count("aps_ack_unexpected")
            return
        if pending.sender is not None:
            if not frame.fragmentation:
                return
            missing = pending.sender.on_ack(frame.block_number, frame.ack_bitfield or 0)
            if pending.timer is not None and pending.timer.active():
                pending.timer.cancel()
            if pending.sender.done:
                self._finish_pending(pending, True)
                return
            if not missing:
                pending.tries = 0
            self._transmit_pending(pending)
            return
        self._finish_pending(pending, True)

    def request_link_key(self, partner_eui: int, on_done: Callable[[bool], None]) -> None:
        """Ask the trust centre for an application link key shared with C{partner_eui}."""
        waiters = self._key_waiters.setdefault(partner_eui, [])
        waiters.append(on_done)
        if len(waiters) > 1:
            return
        if self.tc_eui is None:
            self._key_waiters.pop(partner_eui, None)
            on_done(False)
            return
        self._send_aps_command(TC_SHORT, self.tc_eui, _aps.RequestKey(_aps.KEY_TYPE_APP_LINK, partner_eui))
        self.clock.callLater(15.0, self._key_request_timeout, partner_eui)

    def _key_request_timeout(self, partner_eui: int) -> None:
        for waiter in self._key_waiters.pop(partner_eui, []):
            self._count("link_key_timeout")
            waiter(False)

    # ---------------------------------------------------------------- ZDO

    def zdo_send(self, dst_short: int, message, on_response: Callable[[Any], None] | None = None,
                 timeout: float = 5.0) -> None:
        """Send a ZDP request or announcement from endpoint 0.

        C{on_response(message)} gets the response with the same TSN, or C{None} after
        C{timeout}.  For Match_Desc (usually broadcast, answered by several devices) every
        response is passed on as it comes and C{None} still follows at the timeout.
        """
        self._zdo_tsn = (self._zdo_tsn + 1) & 0xFF
        tsn = self._zdo_tsn
        if on_response is not None:
            timer = self.clock.callLater(timeout, self._zdo_timeout, tsn)
            self._zdo_waiting[tsn] = (on_response, timer)
        broadcast = dst_short >= 0xFFF8
        self.send_data(dst_short, 0, 0, message.CLUSTER_ID, _zdo.encode_zdp(tsn, message), profile=_aps.PROFILE_ZDP,
                       ack=not broadcast, aps_security=False)

    def _zdo_timeout(self, tsn: int) -> None:
        entry = self._zdo_waiting.pop(tsn, None)
        if entry is not None:
            entry[0](None)

    def _zdo_receive(self, ind: ApsIndication) -> None:
        try:
            tsn, msg = _zdo.decode_zdp(ind.cluster, ind.payload)
        except CodecError:
            self._count("zdo_malformed")
            return
        if ind.cluster & 0x8000:
            entry = self._zdo_waiting.get(tsn)
            if entry is not None:
                if isinstance(msg, _zdo.MatchDescRsp):
                    entry[0](msg)  # several devices may answer a broadcast Match_Desc: keep waiting
                    return
                self._zdo_waiting.pop(tsn)
                if entry[1].active():
                    entry[1].cancel()
                entry[0](msg)
            return
        if isinstance(msg, _zdo.DeviceAnnce):
            self._learn(msg.nwk_addr, msg.ieee)
            if self.is_tc:
                timer = self._tc_pending.pop(msg.ieee, None)
                if timer is not None:
                    if timer.active():
                        timer.cancel()
                    if self._on_device_joined is not None:
                        self._on_device_joined(msg.ieee, msg.nwk_addr, "joined")
            return
        reply = self._zdo_answer(msg)
        if reply is not None:
            self._zdo_tsn_reply(ind.src_short, tsn, reply)

    def _zdo_tsn_reply(self, dst: int, tsn: int, message) -> None:
        self.send_data(dst, 0, 0, message.CLUSTER_ID, _zdo.encode_zdp(tsn, message), profile=_aps.PROFILE_ZDP,
                       ack=True, aps_security=False)

    def _zdo_answer(self, msg):
        me = self.short
        if isinstance(msg, _zdo.MatchDescReq):
            if msg.nwk_addr not in (me, 0xFFFF, 0xFFFD, 0xFFFC):
                return None
            eps = tuple(ep for ep, (d, _) in sorted(self.endpoints.items())
                        if (d.profile == msg.profile or msg.profile == 0xFFFF)
                        and (set(msg.in_clusters) & set(d.in_clusters) or set(msg.out_clusters) & set(d.out_clusters)))
            if not eps:
                return None
            return _zdo.MatchDescRsp(0, me, eps)
        if isinstance(msg, _zdo.SimpleDescReq):
            entry = self.endpoints.get(msg.endpoint)
            if entry is None:
                return _zdo.SimpleDescRsp(_zdo.ZDP_NOT_ACTIVE, me, None)
            return _zdo.SimpleDescRsp(0, me, entry[0])
        if isinstance(msg, _zdo.ActiveEpReq):
            return _zdo.ActiveEpRsp(0, me, tuple(sorted(self.endpoints)))
        if isinstance(msg, _zdo.NodeDescReq):
            logical = {ROLE_COORDINATOR: 0, ROLE_ROUTER: 1, ROLE_END_DEVICE: 2}[self.role]
            desc = _zdo.NodeDescriptor(logical, self.capability(), self.manufacturer_code,
                                       server_mask=0x0001 if self.is_tc else 0)
            return _zdo.NodeDescRsp(0, me, desc)
        if isinstance(msg, _zdo.IeeeAddrReq):
            if msg.nwk_addr != me:
                return None
            return _zdo.IeeeAddrRsp(0, self.eui64, me)
        return None
