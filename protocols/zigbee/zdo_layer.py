"""The ZigBee Device Object of one node (ZigBee PRO 05-3474 2.4 ZDP, 2.5 ZDO) on endpoint 0.

Server: answers Match_Desc, Simple_Desc, Active_EP, Node_Desc and IEEE_addr from the
node's endpoint table; Device_annce updates the address map and is passed to
C{on_announce(nwk_addr, ieee)} (the trust centre waits for it).  Client: L{ZdoLayer.send}
numbers requests with a transaction sequence number and matches responses to it, with a
timeout.

Collaborators: the shared L{Nib} and the L{ApsLayer} below (C{send_data}, its endpoint table).
"""

from __future__ import annotations

from typing import Any, Callable

from protocols.errors import CodecError
from protocols.zigbee import aps as _aps
from protocols.zigbee import zdo as _zdo
from protocols.zigbee.nib import ROLE_COORDINATOR, ROLE_END_DEVICE, ROLE_ROUTER, Nib

_LOGICAL_TYPE = {ROLE_COORDINATOR: 0, ROLE_ROUTER: 1, ROLE_END_DEVICE: 2}


class ZdoLayer:
    """ZDP server and client.  See the module docstring."""

    def __init__(self, nib: Nib, aps, on_announce: Callable[[int, int], None] | None = None) -> None:
        self.nib = nib
        self.aps = aps
        self.on_announce = on_announce
        self._tsn = nib.rng.randrange(256)
        #: TSN -> (callback, timer, destination, response cluster)
        self._waiting: dict[int, tuple[Callable[[Any], None], Any, int, int]] = {}

    def send(self, dst_short: int, message, on_response: Callable[[Any], None] | None = None,
             timeout: float = 5.0) -> None:
        """Send a ZDP request or announcement from endpoint 0.

        C{on_response(message)} gets the response with the same TSN, or C{None} after
        C{timeout}.  For Match_Desc (usually broadcast, answered by several devices) every
        response is passed on as it comes and C{None} still follows at the timeout.
        """
        self._tsn = (self._tsn + 1) & 0xFF
        tsn = self._tsn
        if on_response is not None:
            old = self._waiting.pop(tsn, None)
            if old is not None and old[1].active():
                old[1].cancel()
            timer = self.nib.clock.callLater(timeout, self._timeout, tsn)
            self._waiting[tsn] = (on_response, timer, dst_short, message.CLUSTER_ID | 0x8000)
        broadcast = dst_short >= 0xFFF8
        self.aps.send_data(dst_short, 0, 0, message.CLUSTER_ID, _zdo.encode_zdp(tsn, message),
                           profile=_aps.PROFILE_ZDP, ack=not broadcast, aps_security=False)

    def _timeout(self, tsn: int) -> None:
        entry = self._waiting.pop(tsn, None)
        if entry is not None:
            entry[0](None)

    def receive(self, ind) -> None:
        """A ZDP frame for endpoint 0."""
        try:
            tsn, msg = _zdo.decode_zdp(ind.cluster, ind.payload)
        except CodecError:
            self.nib.count("zdo_malformed")
            return
        if ind.cluster & 0x8000:
            entry = self._waiting.get(tsn)
            if entry is not None and (ind.cluster != entry[3] or (entry[2] < 0xFFF8 and ind.src_short != entry[2])):
                # our TSN, but not the response to what we asked, or not from whom we asked
                self.nib.count("zdo_response_mismatch")
                return
            if entry is not None:
                if isinstance(msg, _zdo.MatchDescRsp):
                    entry[0](msg)  # several devices may answer a broadcast Match_Desc: keep waiting
                    return
                self._waiting.pop(tsn)
                if entry[1].active():
                    entry[1].cancel()
                entry[0](msg)
            return
        if isinstance(msg, _zdo.DeviceAnnce):
            # a claim (NWK security only): it fills in, never moves an authenticated address
            self.nib.learn(msg.nwk_addr, msg.ieee)
            if self.on_announce is not None:
                self.on_announce(msg.nwk_addr, msg.ieee)
            return
        reply = self.answer(msg)
        if reply is not None:
            # without an APS ack: a request anyone may forge from an address nobody has must
            # not cost us apscMaxFrameRetries retries of the answer (the requester asks again)
            self.aps.send_data(ind.src_short, 0, 0, reply.CLUSTER_ID, _zdo.encode_zdp(tsn, reply),
                               profile=_aps.PROFILE_ZDP, ack=False, aps_security=False)

    def node_descriptor(self) -> _zdo.NodeDescriptor:
        nib = self.nib
        return _zdo.NodeDescriptor(_LOGICAL_TYPE[nib.role], nib.capability(), nib.manufacturer_code,
                                   server_mask=0x0001 if nib.is_tc else 0)

    def answer(self, msg):
        """The ZDP response to a request, or None when this node does not answer it."""
        me = self.nib.short
        endpoints = self.aps.endpoints
        if isinstance(msg, _zdo.MatchDescReq):
            if msg.nwk_addr not in (me, 0xFFFF, 0xFFFD, 0xFFFC):
                return None
            eps = tuple(ep for ep, (d, _) in sorted(endpoints.items())
                        if (d.profile == msg.profile or msg.profile == 0xFFFF)
                        and (set(msg.in_clusters) & set(d.in_clusters) or set(msg.out_clusters) & set(d.out_clusters)))
            if not eps:
                return None
            return _zdo.MatchDescRsp(0, me, eps)
        if isinstance(msg, _zdo.SimpleDescReq):
            entry = endpoints.get(msg.endpoint)
            if entry is None:
                return _zdo.SimpleDescRsp(_zdo.ZDP_NOT_ACTIVE, me, None)
            return _zdo.SimpleDescRsp(0, me, entry[0])
        if isinstance(msg, _zdo.ActiveEpReq):
            return _zdo.ActiveEpRsp(0, me, tuple(sorted(endpoints)))
        if isinstance(msg, _zdo.NodeDescReq):
            return _zdo.NodeDescRsp(0, me, self.node_descriptor())
        if isinstance(msg, _zdo.IeeeAddrReq):
            if msg.nwk_addr != me:
                return None
            return _zdo.IeeeAddrRsp(0, self.nib.eui64, me)
        return None
