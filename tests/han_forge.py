"""Forged HAN frames for the security tests: what any node holding the network key can put
on the air (correct NWK security, any claimed identity and frame counter, APS frames
unsecured or secured with the network key, key id 1).  Built with the project's codecs; the
tests judge the receivers' reactions, not these bytes."""

from __future__ import annotations

from protocols.ieee802154.frames import data_frame, encode_mac
from protocols.zcl.frame import encode_zcl
from protocols.zigbee import aps as _aps
from protocols.zigbee import nwk as _nwk
from protocols.zigbee import zdo as _zdo
from protocols.zigbee.security import KEY_ID_NETWORK, secure_aps, secure_nwk

__all__ = ["Forger", "FAKE_EUI"]

#: s between two injected frames (room for the receiver's ack and an answer)
GAP = 0.02
#: an identity no device has
FAKE_EUI = 0x00DB0BADC0FFEE01


class Forger:
    """Injects frames into a running home, as a node holding the network key would."""

    def __init__(self, home, counter: int = 0x100000) -> None:
        self.home = home
        ch = home.nodes["ch"].stack
        self.key = ch.network_key
        self.key_seq = ch.key_seq
        self.pan = ch.pan_id
        self.counter = counter
        self.seq = 0
        self.injected = 0
        self._free_at = 0.0  # frames go on the air one after the other, never colliding

    def short(self, name: str) -> int:
        return self.home.nodes[name].stack.short

    def eui(self, name: str) -> int:
        return self.home.nodes[name].spec.eui64

    def _next(self) -> int:
        self.counter += 1
        return self.counter

    def aps_data(self, cluster: int, payload: bytes, *, dst_endpoint: int = 1, src_endpoint: int = 1,
                 profile: int = _aps.PROFILE_SMART_ENERGY, key_id: int | None = None, source: int = FAKE_EUI,
                 ack: bool = True, counter: int = 1) -> bytes:
        """An APS data frame: unsecured (C{key_id} None) or secured with the network key (key id 1)."""
        frame = _aps.ApsFrame(_aps.APS_FRAME_DATA, _aps.APS_DELIVERY_UNICAST, counter & 0xFF, dst_endpoint, None,
                              cluster, profile, src_endpoint, payload, key_id is not None, ack)
        if key_id is None:
            return _aps.encode_aps(frame)
        return secure_aps(frame, self.key, self._next(), source, key_id=KEY_ID_NETWORK, key_seq=self.key_seq)

    def zcl(self, cluster: int, zcl_frame, **kw) -> bytes:
        return self.aps_data(cluster, encode_zcl(zcl_frame), **kw)

    def aps_command(self, cmd, *, source: int = FAKE_EUI, counter: int = 1) -> bytes:
        """An APS command secured with the network key (key id 1), naming C{source}."""
        frame = _aps.ApsFrame(_aps.APS_FRAME_COMMAND, counter=counter & 0xFF, payload=_aps.encode_aps_command(cmd),
                              security=True, ack_request=True)
        return secure_aps(frame, self.key, self._next(), source, key_id=KEY_ID_NETWORK, key_seq=self.key_seq)

    def aps_ack(self, counter: int, cluster: int, *, dst_endpoint: int = 1, src_endpoint: int = 1) -> bytes:
        """An unsecured APS data ack."""
        return _aps.encode_aps(_aps.ApsFrame(_aps.APS_FRAME_ACK, counter=counter, dst_endpoint=dst_endpoint,
                                             cluster=cluster, profile=_aps.PROFILE_SMART_ENERGY,
                                             src_endpoint=src_endpoint))

    def zdp(self, message, tsn: int, *, cluster: int | None = None) -> bytes:
        cluster = message.CLUSTER_ID if cluster is None else cluster
        return _aps.encode_aps(_aps.ApsFrame(_aps.APS_FRAME_DATA, _aps.APS_DELIVERY_UNICAST, tsn, 0, None, cluster,
                                             _aps.PROFILE_ZDP, 0, _zdo.encode_zdp(tsn, message), False, False))

    def send(self, dst_short: int, aps_bytes: bytes, *, src_short: int, source: int = FAKE_EUI,
             mac_src: int | None = None, mac_dst: int | None = None, counter: int | None = None,
             frame_type: int = _nwk.NWK_FRAME_DATA) -> None:
        """One NWK-secured frame (counter and claimed EUI-64 as given) on the air."""
        self.seq = (self.seq + 1) & 0xFF
        broadcast = dst_short >= 0xFFF8
        nwk = _nwk.NwkFrame(dst_short, src_short, self.seq, aps_bytes, frame_type, security=True, radius=1,
                            discover_route=0 if broadcast else 1, src_ieee=source)
        data = secure_nwk(nwk, self.key, self._next() if counter is None else counter, source, self.key_seq)
        mac_dst = (0xFFFF if broadcast else dst_short) if mac_dst is None else mac_dst
        psdu = encode_mac(data_frame(self.seq, self.pan, mac_dst, src_short if mac_src is None else mac_src, data))
        clock = self.home.clock
        now = clock.seconds()
        at = max(now, self._free_at)
        self._free_at = at + GAP
        clock.callLater(at - now, self.home.medium.inject, psdu)
        self.injected += 1
