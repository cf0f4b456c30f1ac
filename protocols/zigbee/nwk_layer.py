"""The NWK layer of one node (ZigBee PRO 05-3474 chapter 3) on top of the 802.15.4 MAC.

 - NLDE-DATA (3.2.1): every frame NWK-secured with the current network key (4.3.1.1: key id
   1, extended nonce, a frame counter of that key), sent to the next hop: the parent for an
   end device, the destination itself in a star home, indirect (MAC transaction queue) for a
   child that sleeps; broadcasts to the MAC broadcast address;
 - incoming security (4.3.1.2): MIC check and replay rejection per (sender, key sequence
   number); the address map learns from the auxiliary header's source address;
 - broadcast transaction table (3.6.5) and rebroadcast with nwkcMaxBroadcastJitter by
   routers and the coordinator;
 - unsecured NWK frames only while joining, and only carrying an APS command (the APS
   Transport Key, itself APS-secured: 4.6.3);
 - NWK commands (3.4) are handed to C{on_command} (counted otherwise);
 - polling of the parent by an rx-off end device (MLME-POLL at a given interval).

Collaborators: the shared L{Nib} (addresses, keys, counters, the MAC) and two upward
callables, C{deliver(frame, broadcast)} for NWK data frames and C{on_command(frame,
broadcast)} for NWK command frames.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Callable, NamedTuple

from protocols.errors import CodecError
from protocols.ieee802154.frames import ADDR_SHORT
from protocols.zigbee import aps as _aps
from protocols.zigbee import nwk as _nwk
from protocols.zigbee.nib import ROLE_END_DEVICE, TC_SHORT, Nib
from protocols.zigbee.security import secure_nwk, unsecure_nwk

NWK_MAX_BROADCAST_JITTER = 0.064  # s (nwkcMaxBroadcastJitter)
BTT_TIMEOUT = 9.0  # s (nwkBroadcastDeliveryTime)


class NwkOrigin(NamedTuple):
    """Who a NWK-secured frame claims to come from, and its frame counter: when the APS layer
    authenticates what it carries with that sender's link key, the sender's NWK counter
    high-water mark moves (L{protocols.zigbee.security.FrameCounters.nwk_authenticated})."""

    source: int
    handle: Any
    frame_counter: int


class NwkLayer:
    """NLDE data service + broadcast handling + polling.  See the module docstring."""

    __slots__ = ("nib", "deliver", "on_command", "_seq", "_btt", "_poll_call", "_poll_interval")

    def __init__(self, nib: Nib, deliver: Callable[[Any, bool], None],
                 on_command: Callable[[Any, bool], None] | None = None) -> None:
        self.nib = nib
        self.deliver = deliver
        self.on_command = on_command
        self._seq = nib.rng.randrange(256)
        self._btt: OrderedDict[tuple[int, int], float] = OrderedDict()  # (source, seq) -> time, oldest first
        self._poll_call = None
        self._poll_interval = 0.0

    # ---------------------------------------------------------------- transmit

    def next_hop(self, nwk_dst: int) -> tuple[int, bool, bool]:
        """(MAC destination, ack request, indirect) for a NWK destination."""
        nib = self.nib
        if nib.role == ROLE_END_DEVICE:
            return nib.parent if nib.parent is not None else TC_SHORT, True, False
        if nwk_dst >= 0xFFF8:
            return 0xFFFF, False, False
        nb = nib.neighbors.get(nwk_dst)
        indirect = nb is not None and nb.child and not nb.rx_on
        return nwk_dst, True, indirect

    def send(self, nwk_dst: int, payload: bytes, *, secure: bool = True, frame_type: int = _nwk.NWK_FRAME_DATA,
             radius: int = 30, src: int | None = None, seq: int | None = None, src_ieee: int | None = -1,
             dst_ieee: int | None = None) -> bool:
        """NLDE-DATA.request (or a NWK command when C{frame_type} says so); False if refused."""
        nib = self.nib
        if nib.short is None:
            nib.count("tx_not_joined")
            return False
        if seq is None:
            self._seq = (self._seq + 1) & 0xFF
            seq = self._seq
        if src_ieee == -1:
            src_ieee = nib.eui64
        frame = _nwk.NwkFrame(nwk_dst, nib.short if src is None else src, seq, payload, frame_type,
                              discover_route=0 if nwk_dst >= 0xFFF8 else 1, security=secure, radius=radius,
                              dst_ieee=dst_ieee, src_ieee=src_ieee,
                              end_device_initiator=nib.role == ROLE_END_DEVICE and src is None)
        if secure:
            if nib.network_key is None:
                nib.count("tx_no_network_key")
                return False
            counter = nib.counters.next(nib.network_handle(nib.key_seq))
            if counter is None:
                nib.count("frame_counter_exhausted")
                return False
            data = secure_nwk(frame, nib.network_key, counter, nib.eui64, nib.key_seq)
        else:
            data = _nwk.encode_nwk(frame)
        mac_dst, ack, indirect = self.next_hop(nwk_dst)
        nib.mac.mcps_data_request(mac_dst, data, ack_request=ack, indirect=indirect)
        return True

    def mcps_data_confirm(self, handle, status, *args: Any) -> None:
        if status:
            self.nib.count("mac_tx_failed")

    # ---------------------------------------------------------------- receive

    def mcps_data_indication(self, frame) -> None:
        """A MAC data frame for us (or broadcast).  Never raises a codec error."""
        try:
            self._receive(frame)
        except CodecError as e:
            self.nib.count("malformed")
            self.nib.count(f"malformed:{e.field.split('.')[0]}")

    def _receive(self, mac_frame) -> None:
        nib = self.nib
        data = mac_frame.payload
        origin = None
        # frame control: bits 0-1 frame type, bit 9 security (3.3.1.1)
        if len(data) >= 2 and data[1] & 0x02 and data[0] & 0x03 != _nwk.NWK_FRAME_INTERPAN:
            if nib.network_key is None:
                nib.count("no_network_key")
                return
            try:
                frame, aux = unsecure_nwk(data, nib.network_key_for)
            except CodecError as e:
                if e.field == "mic":
                    nib.count("nwk_mic")
                elif e.field == "key":
                    nib.count("nwk_unknown_key")
                else:
                    raise  # a malformed header: counted by field in mcps_data_indication
                return
            if aux.source is None:
                nib.count("nwk_no_source")
                return
            counters = nib.counters
            handle = nib.network_handle(aux.key_seq)
            evicted = counters.evicted
            if not counters.check_nwk(aux.source, handle, aux.frame_counter, known=aux.source in nib.link_keys):
                nib.count("nwk_replay")
                return
            origin = NwkOrigin(aux.source, handle, aux.frame_counter)
            if counters.evicted != evicted:
                nib.count("nwk_counters_evicted")
            if mac_frame.src_mode == ADDR_SHORT and (mac_frame.src_addr != frame.src or aux.source != frame.src_ieee):
                nib.learn(mac_frame.src_addr, aux.source)  # the previous hop secured it (a claim)
        else:
            frame = _nwk.decode_nwk(data)
            if frame.frame_type == _nwk.NWK_FRAME_INTERPAN:
                nib.count("interpan_ignored")
                return
            # Unsecured NWK frames are accepted only by a joiner, and only to carry the APS
            # Transport Key (itself APS-secured with the key-transport key): 4.6.3.
            if nib.joined or len(frame.payload) < 1 or frame.payload[0] & 0x03 != _aps.APS_FRAME_COMMAND:
                nib.count("nwk_unsecured")
                return
        if frame.src_ieee is not None:
            nib.learn(frame.src, frame.src_ieee)
        if frame.src == nib.short:
            return  # our own broadcast coming back
        nb = nib.neighbors.get(frame.src)
        if nb is not None and nb.child and not nb.rx_on and mac_frame.src_addr != frame.src and frame.dst < 0xFFF8:
            # a sleepy child sends its unicasts to its parent only: "its" unicast relayed by
            # another node is forged (its broadcasts are rebroadcast by every router, though)
            nib.count("nwk_child_relayed")
            return
        dst = frame.dst
        broadcast = dst >= 0xFFF8
        if broadcast:
            key = (frame.src, frame.seq)
            now = nib.clock.seconds()
            btt = self._btt
            while btt:  # entries are in time order: expire from the oldest
                first = next(iter(btt))
                if now - btt[first] < BTT_TIMEOUT:
                    break
                del btt[first]
            seen = btt.get(key)
            if seen is not None:
                nib.count("broadcast_duplicate")
                return
            btt[key] = now
            if len(btt) > nib.limits.broadcast_transactions:
                btt.popitem(last=False)
                nib.count("broadcast_transactions_evicted")
            if nib.role != ROLE_END_DEVICE and frame.radius > 1 and nib.network_key is not None \
                    and frame.security:
                delay = nib.rng.uniform(0.002, NWK_MAX_BROADCAST_JITTER)
                nib.clock.callLater(delay, self.send, dst, frame.payload, frame_type=frame.frame_type,
                                    radius=frame.radius - 1, src=frame.src, seq=frame.seq,
                                    src_ieee=frame.src_ieee)
            if not self._broadcast_for_me(dst):
                return
        elif dst != nib.short:
            nib.count("nwk_not_for_us")
            return
        if frame.frame_type == _nwk.NWK_FRAME_COMMAND:
            if mac_frame.src_mode == ADDR_SHORT and mac_frame.src_addr != frame.src:
                # the NWK commands of a ZigBee PRO home (Leave, Rejoin, Link Status, End Device
                # Timeout) travel one hop: one "from" a node but relayed by another is forged
                nib.count("nwk_command_relayed")
                return
            nib.count("nwk_command")
            if self.on_command is not None:
                self.on_command(frame, broadcast)
            return
        self.deliver(frame, broadcast, origin)

    def _broadcast_for_me(self, dst: int) -> bool:
        if dst == 0xFFFF:
            return True
        if dst == 0xFFFD:
            return self.nib.rx_on_when_idle
        return self.nib.role != ROLE_END_DEVICE

    # ---------------------------------------------------------------- polling (rx-off)

    def start_polling(self, interval: float) -> None:
        """Poll the parent every C{interval} s (an awake sleepy device)."""
        self._poll_interval = interval
        if self._poll_call is None or not self._poll_call.active():
            self._poll_call = self.nib.clock.callLater(0, self._poll)

    def stop_polling(self) -> None:
        if self._poll_call is not None and self._poll_call.active():
            self._poll_call.cancel()
        self._poll_call = None

    def _poll(self) -> None:
        self.nib.mac.mlme_poll_request()
        self._poll_call = self.nib.clock.callLater(self._poll_interval, self._poll)
