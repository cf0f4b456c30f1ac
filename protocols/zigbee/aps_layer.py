"""The APS layer of one node (ZigBee PRO 05-3474 chapter 2.2 and the APS part of 4.4).

 - APSDE-DATA (2.2.4.1): unicast and broadcast ASDUs, APS security with the link key shared
   with the peer (4.4.1.1: key id 0 data key, 2 key-transport key, 3 key-load key) or the
   network key (key id 1), a frame counter of the key used;
 - acknowledged delivery (2.2.8.3): apscMaxFrameRetries retries after apsAckWaitDuration,
   duplicate rejection (2.2.8.4.2), APS fragmentation with one-block windows (2.2.8.4.5);
 - incoming security (4.4.1.2): the key named by the auxiliary header, replay rejection per
   (sender, key), the key used is the key of the ack;
 - APS commands (4.4.9) go up to C{on_command(src_short, src_eui, frame, aux)}, ZDP frames
   (endpoint 0, profile 0x0000) to C{on_zdp(indication)}, the rest to the endpoint handlers.

Collaborators: the shared L{Nib}, the L{NwkLayer} below (C{send}), and from above
C{request_link_key(peer, on_done)} (used when a secured ASDU has no link key yet),
C{joining_key()} (the preconfigured TC link key while a joiner waits for the network key).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable

from protocols.errors import CodecError
from protocols.zigbee import aps as _aps
from protocols.zigbee import zdo as _zdo
from protocols.zigbee.cbke.messages import KEY_ESTABLISHMENT_CLUSTER_ID
from protocols.zigbee.fragmentation import FragmentSender, Reassembler
from protocols.zigbee.nib import Nib
from protocols.zigbee.security import KEY_ID_DATA, KEY_ID_KEY_TRANSPORT, KEY_ID_NETWORK, secure_aps, unsecure_aps

#: APS payload bytes that fit one secured frame (127 - MAC 9+2 - NWK 8+8 - NWK aux 14 - MIC 4
#: - APS 8+2 - APS aux 13 - MIC 4 = 55); larger ASDUs are fragmented.
MAX_APS_BLOCK = 55
APSC_MAX_FRAME_RETRIES = 3
APS_ACK_WAIT = 1.6  # s, to an rx-on-when-idle destination (apsAckWaitDuration)
APS_ACK_WAIT_SLEEPY = 9.0  # s, when the destination (or we) poll for frames
APS_DUPLICATE_TIME = 10.0  # s an (source, APS counter, cluster) is remembered
PROFILE_SE = _aps.PROFILE_SMART_ENERGY


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
    #: the APS key identifier the frame was secured with (None: not APS-secured).  With
    #: KEY_ID_DATA C{src_eui} is authenticated: only that device shares the key.
    key_id: int | None = None

    @property
    def link_key_secured(self) -> bool:
        """Secured with the link key of C{src_eui} (not the network key): the sender is C{src_eui}."""
        return self.aps_secured and self.key_id == KEY_ID_DATA and self.src_eui is not None


class _PendingAps:
    """An acknowledged APS transmission (one block of it when fragmented)."""

    __slots__ = ("dst", "counter", "build", "tries", "timer", "on_done", "sender", "blocks", "wait", "nwk_secure",
                 "peer_eui", "ack_key_id")

    def __init__(self, dst: int, counter: int, build, on_done, wait: float, nwk_secure: bool,
                 peer_eui: int | None = None, key_id: int | None = None) -> None:
        self.peer_eui = peer_eui
        #: the key identifier the ack must come under: an ack is secured as the frame it
        #: acknowledges was (a key-transport-key frame is acked with the data key of that link key)
        self.ack_key_id = KEY_ID_DATA if key_id == KEY_ID_KEY_TRANSPORT else key_id
        self.dst = dst
        self.counter = counter
        self.build = build  # block index -> on-air APS bytes
        self.tries = 0
        self.timer = None
        self.on_done = on_done
        self.sender: FragmentSender | None = None
        self.blocks = 1
        self.wait = wait
        self.nwk_secure = nwk_secure


class ApsLayer:
    """APSDE + the APS side of APSME security.  See the module docstring."""

    def __init__(self, nib: Nib, nwk, *, on_command: Callable[[int, int | None, Any, Any], None],
                 on_zdp: Callable[[ApsIndication], None],
                 request_link_key: Callable[[int, Callable[[bool], None]], None],
                 joining_key: Callable[[], bytes | None]) -> None:
        self.nib = nib
        self.nwk = nwk
        self.on_command = on_command
        self.on_zdp = on_zdp
        self.request_link_key = request_link_key
        self.joining_key = joining_key
        #: C{authenticated(eui)}: a frame that C{eui}'s link key authenticated arrived (the peer is
        #: really there: the trust centre weighs an unconfirmed NWK Leave of a child against it)
        self.authenticated: Callable[[int], None] | None = None
        self.endpoints: dict[int, tuple[_zdo.SimpleDescriptor, Callable[[ApsIndication], None]]] = {}
        self._counter = nib.rng.randrange(256)
        #: (source, APS counter, cluster, authenticated sender) -> time first seen, oldest first
        self._seen: OrderedDict[tuple[int, int, int], float] = OrderedDict()
        self._pending: dict[tuple[int, int], _PendingAps] = {}
        self._reassembler = Reassembler(timeout=12.0, limit=nib.limits.aps_reassembly)

    def add_endpoint(self, descriptor: _zdo.SimpleDescriptor, handler: Callable[[ApsIndication], None]) -> None:
        self.endpoints[descriptor.endpoint] = (descriptor, handler)

    # ---------------------------------------------------------------- security

    def _key(self, peer_eui: int | None, key_id: int) -> tuple[bytes | None, Any]:
        """(key, frame-counter handle) to secure a frame to C{peer_eui} with C{key_id}."""
        nib = self.nib
        if key_id == KEY_ID_NETWORK:
            return nib.network_key, nib.network_handle(nib.key_seq)
        if peer_eui is None:
            return None, None
        return nib.link_keys.get(peer_eui), nib.link_handle(peer_eui)

    def secure(self, frame: _aps.ApsFrame, peer_eui: int | None, key_id: int) -> bytes | None:
        """On-air bytes of C{frame}, secured when its security bit is set; None if refused."""
        if not frame.security:
            return _aps.encode_aps(frame)
        nib = self.nib
        key, handle = self._key(peer_eui, key_id)
        if key is None:
            nib.count("aps_no_link_key")
            return None
        counter = nib.counters.next(handle)
        if counter is None:
            nib.count("frame_counter_exhausted")
            return None
        return secure_aps(frame, key, counter, nib.eui64, key_id=key_id, ext_nonce=True,
                          key_seq=nib.key_seq if key_id == KEY_ID_NETWORK else None)

    # ---------------------------------------------------------------- transmit

    def next_counter(self) -> int:
        self._counter = (self._counter + 1) & 0xFF
        return self._counter

    def _ack_wait(self, dst: int) -> float:
        nb = self.nib.neighbors.get(dst)
        if not self.nib.rx_on_when_idle or (nb is not None and nb.child and not nb.rx_on):
            return APS_ACK_WAIT_SLEEPY
        return APS_ACK_WAIT

    def send_command(self, dst_short: int, dst_eui: int, cmd, *, key_id: int = KEY_ID_DATA,
                     nwk_secure: bool = True, ack: bool = True,
                     on_done: Callable[[bool], None] | None = None) -> None:
        """APSME command to C{dst_eui} (at C{dst_short}), APS-secured with C{key_id}."""
        counter = self.next_counter()
        frame = _aps.ApsFrame(_aps.APS_FRAME_COMMAND, counter=counter, payload=_aps.encode_aps_command(cmd),
                              security=True, ack_request=ack)
        if not ack:
            data = self.secure(frame, dst_eui, key_id)
            if data is not None:
                self.nwk.send(dst_short, data, secure=nwk_secure)
            if on_done is not None:
                on_done(data is not None)
            return
        pending = _PendingAps(dst_short, counter, lambda block: self.secure(frame, dst_eui, key_id),
                              on_done, self._ack_wait(dst_short), nwk_secure, dst_eui, key_id)
        self._pending[(dst_short, counter)] = pending
        self._transmit(pending)

    def _send_ack(self, dst_short: int, frame, key_id: int | None, src_eui: int | None, block_ack=None) -> None:
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
        if frame.security:
            if key_id is None:
                return
            # an ack of a key-transport-key frame is secured with the data key of the same link key
            data = self.secure(ack, src_eui, KEY_ID_DATA if key_id == KEY_ID_KEY_TRANSPORT else key_id)
            if data is None:
                return
        else:
            data = _aps.encode_aps(ack)
        self.nwk.send(dst_short, data)

    def send_data(self, dst_short: int, dst_endpoint: int, src_endpoint: int, cluster: int, payload: bytes, *,
                  profile: int = PROFILE_SE, ack: bool = True, aps_security: bool = True,
                  on_done: Callable[[bool], None] | None = None) -> None:
        """APSDE-DATA.request; C{on_done(success)} when acknowledged / given up (acked sends only).

        With C{aps_security} the frame is secured with the link key shared with the
        destination; if none exists yet one is requested from the trust centre first.
        """
        nib = self.nib
        broadcast = dst_short >= 0xFFF8
        peer = None if broadcast else nib.eui_of(dst_short)
        if aps_security and not broadcast:
            if peer is None:
                nib.count("aps_unknown_destination")
                if on_done:
                    on_done(False)
                return
            if peer not in nib.link_keys:
                self.request_link_key(peer, lambda ok: (
                    self.send_data(dst_short, dst_endpoint, src_endpoint, cluster, payload, profile=profile,
                                   ack=ack, aps_security=aps_security, on_done=on_done)
                    if ok else (on_done(False) if on_done else None)))
                return
        counter = self.next_counter()
        delivery = _aps.APS_DELIVERY_BROADCAST if broadcast else _aps.APS_DELIVERY_UNICAST
        security = aps_security and not broadcast
        ack_request = ack and not broadcast
        if len(payload) > MAX_APS_BLOCK:
            blocks = [payload[i:i + MAX_APS_BLOCK] for i in range(0, len(payload), MAX_APS_BLOCK)]
        else:
            blocks = [payload]

        def build(index: int) -> bytes | None:
            # every (re)transmission is secured afresh: a new frame counter, same APS counter
            if len(blocks) == 1:
                frame = _aps.ApsFrame(_aps.APS_FRAME_DATA, delivery, counter, dst_endpoint, None, cluster, profile,
                                      src_endpoint, payload, security, ack_request)
            else:
                frame = _aps.ApsFrame(_aps.APS_FRAME_DATA, delivery, counter, dst_endpoint, None, cluster, profile,
                                      src_endpoint, blocks[index], security, True,
                                      fragmentation=_aps.APS_FRAGMENTATION_FIRST if index == 0
                                      else _aps.APS_FRAGMENTATION_SUBSEQUENT,
                                      block_number=len(blocks) if index == 0 else index)
            return self.secure(frame, peer, KEY_ID_DATA)

        if not ack_request and len(blocks) == 1:
            data = build(0)
            if data is not None:
                self.nwk.send(dst_short, data)
            return
        pending = _PendingAps(dst_short, counter, build, on_done, self._ack_wait(dst_short), True, peer,
                              KEY_ID_DATA if security else None)
        if len(blocks) > 1:
            pending.sender = FragmentSender(len(blocks))
            pending.blocks = len(blocks)
        self._pending[(dst_short, counter)] = pending
        self._transmit(pending)

    def _transmit(self, pending: _PendingAps) -> None:
        index = pending.sender.window()[0] if pending.sender is not None else 0
        data = pending.build(index)
        if data is None:
            self._finish(pending, False)
            return
        pending.tries += 1
        self.nwk.send(pending.dst, data, secure=pending.nwk_secure)
        pending.timer = self.nib.clock.callLater(pending.wait, self._ack_timeout, pending)

    def _ack_timeout(self, pending: _PendingAps) -> None:
        pending.timer = None
        if pending.tries > APSC_MAX_FRAME_RETRIES:
            self.nib.count("aps_no_ack")
            self._finish(pending, False)
            return
        self.nib.count("aps_retry")
        self._transmit(pending)

    def _finish(self, pending: _PendingAps, ok: bool) -> None:
        if pending.timer is not None and pending.timer.active():
            pending.timer.cancel()
        pending.timer = None
        self._pending.pop((pending.dst, pending.counter), None)
        if pending.on_done is not None:
            pending.on_done(ok)

    def _ack_received(self, src_short: int, frame, key_id: int | None, auth_eui: int | None) -> None:
        pending = self._pending.get((src_short, frame.counter))
        if pending is None:
            self.nib.count("aps_ack_unexpected")
            return
        if key_id != pending.ack_key_id or (key_id in (KEY_ID_DATA, KEY_ID_KEY_TRANSPORT)
                                            and auth_eui != pending.peer_eui):
            # not under the security of the frame it would acknowledge (e.g. an unsecured or
            # network-key ack of a link-key frame): anyone could have sent it
            self.nib.count("aps_ack_security_mismatch")
            return
        if pending.sender is not None:
            if not frame.fragmentation:
                return
            missing = pending.sender.on_ack(frame.block_number, frame.ack_bitfield or 0)
            if pending.timer is not None and pending.timer.active():
                pending.timer.cancel()
            if pending.sender.done:
                self._finish(pending, True)
                return
            if not missing:
                pending.tries = 0
            self._transmit(pending)
            return
        self._finish(pending, True)

    # ---------------------------------------------------------------- receive

    def deliver(self, nwk_frame, broadcast: bool, origin=None) -> None:
        """A NWK data frame for us: APS processing (codec errors propagate to the NWK layer,
        which counts them).  C{origin} (a L{protocols.zigbee.nwk_layer.NwkOrigin}, for a
        NWK-secured frame): when the APS frame is authenticated by the link key of the NWK
        frame's claimed source, that source's NWK counter high-water mark moves."""
        nib = self.nib
        data = nwk_frame.payload
        head = _aps.decode_aps(data)
        src_short = nwk_frame.src
        src_eui = nib.eui_of(src_short)
        aux = None
        key_id = None
        auth_eui = None  # the sender, when a key only it shares with us authenticated the frame
        if head.security:
            def key_for(a):
                eui = a.source if a.source is not None else src_eui
                if a.key_id == KEY_ID_NETWORK:
                    return nib.network_keys.get(a.key_seq)
                if eui is not None and eui in nib.link_keys:
                    return nib.link_keys[eui]
                if a.key_id == KEY_ID_KEY_TRANSPORT:
                    return self.joining_key()
                return None
            try:
                frame, aux = unsecure_aps(data, key_for, source=src_eui)
            except CodecError as e:
                nib.count("aps_mic" if e.field == "mic" else ("aps_no_key" if e.field == "key" else "malformed"))
                return
            src_eui = aux.source if aux.source is not None else src_eui
            if aux.key_id == KEY_ID_NETWORK:
                handle = nib.aps_network_handle(aux.key_seq or 0)
            else:
                handle = nib.link_handle(src_eui)
                auth_eui = src_eui
            evicted = nib.counters.evicted
            if not nib.counters.check_incoming(src_eui, handle, aux.frame_counter,
                                               known=aux.key_id != KEY_ID_NETWORK):
                nib.count("aps_replay")
                return
            if nib.counters.evicted != evicted:
                nib.count("aps_counters_evicted")
            key_id = aux.key_id
        else:
            frame = head
        if auth_eui is not None and auth_eui in nib.link_keys:
            nib.learn(src_short, auth_eui, authenticated=True)
            if origin is not None and origin.source == auth_eui:
                nib.counters.nwk_authenticated(auth_eui, origin.handle, origin.frame_counter)
            if self.authenticated is not None:
                self.authenticated(auth_eui)
        if frame.frame_type == _aps.APS_FRAME_ACK:
            self._ack_received(src_short, frame, key_id, auth_eui)
            return
        if frame.frame_type == _aps.APS_FRAME_COMMAND:
            if not frame.security:
                nib.count("aps_command_unsecured")  # never acked: an ack would be an answer to anyone
                return
            if frame.ack_request and key_id != KEY_ID_NETWORK:
                # (no command is taken under the network key: no ack for one either)
                self._send_ack(src_short, frame, key_id, src_eui)
            self.on_command(src_short, src_eui, frame, aux)
            return
        if frame.frame_type != _aps.APS_FRAME_DATA:
            nib.count("aps_frame_type")
            return
        if frame.profile == PROFILE_SE and frame.cluster != KEY_ESTABLISHMENT_CLUSTER_ID:
            # ZSE 5.4.6: Smart Energy traffic only under the link key of the peer it comes
            # from (Key Establishment, which makes that key, is the exception); no ack either
            if not frame.security:
                nib.count("se_unsecured")
                return
            if key_id != KEY_ID_DATA:
                nib.count("se_not_link_key")
                return
        if frame.fragmentation:
            reassembler = self._reassembler
            evicted = reassembler.evicted
            result = reassembler.accept((src_short, frame.counter, auth_eui), frame.fragmentation,
                                        frame.block_number, frame.payload, nib.clock.seconds())
            if reassembler.evicted != evicted:
                nib.count("aps_reassembly_evicted")
            if result.ack is not None and frame.ack_request:
                self._send_ack(src_short, frame, key_id, src_eui, block_ack=result.ack)
            if result.status != "complete":
                if result.status == "rejected":
                    nib.count("aps_fragment_rejected")
                return
            payload = result.payload
        else:
            if frame.ack_request and not broadcast:
                self._send_ack(src_short, frame, key_id, src_eui)
            payload = frame.payload
        now = nib.clock.seconds()
        if not broadcast:
            seen_table = self._seen
            while seen_table:  # in time order: expire from the oldest
                first = next(iter(seen_table))
                if now - seen_table[first] < APS_DUPLICATE_TIME:
                    break
                del seen_table[first]
            # keyed by the authenticated sender too: a forged frame cannot shadow a real one
            dup_key = (src_short, frame.counter, frame.cluster, auth_eui)
            if dup_key in seen_table:
                nib.count("aps_duplicate")
                return
            seen_table[dup_key] = now
            if len(seen_table) > nib.limits.aps_duplicates:
                seen_table.popitem(last=False)
                nib.count("aps_duplicates_evicted")
        ind = ApsIndication(src_short, src_eui, frame.src_endpoint, frame.dst_endpoint, frame.cluster,
                            frame.profile, payload, frame.security, broadcast, key_id)
        if frame.dst_endpoint == 0 and frame.profile == _aps.PROFILE_ZDP:
            self.on_zdp(ind)
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
                                    payload, frame.security, broadcast, key_id)
            entry[1](ind)
        if not delivered:
            nib.count("aps_no_endpoint")
