"""Frames an outside tool would inject through a TAP: built from the spec layouts with the
project's codecs and the network key an operator finds in the C{--keys} table."""

from __future__ import annotations

from pathlib import Path

from protocols.ieee802154.frames import ADDR_SHORT, FRAME_DATA, MacFrame, encode_mac
from protocols.zigbee import aps as _aps
from protocols.zigbee import nwk as _nwk
from protocols.zigbee import zdo as _zdo
from protocols.zigbee.security import secure_nwk

#: the intruder's NWK short address and EUI-64 (not in any device log)
INTRUDER_SHORT = 0x7A7A
INTRUDER_EUI = 0x02AABBCCDDEEFF01


def network_key_from(keys_file: Path) -> bytes:
    """The network key row of a C{zigbee_pc_keys} table written by C{--keys}."""
    for line in keys_file.read_text().splitlines():
        key, _, label = (f.strip('"') for f in line.split(",", 2))
        if "network key" in label:
            return bytes.fromhex(key)
    raise AssertionError(f"no network key in {keys_file}")


def active_ep_request(pan_id: int, network_key: bytes, dst: int = 0x0000, *, tsn: int = 0x31,
                      frame_counter: int = 1) -> bytes:
    """A ZDP Active_EP_req for C{dst}, NWK-secured with the network key, from the intruder, as
    an 802.15.4 data frame (FCF 0x8861) with FCS."""
    zdp = _zdo.encode_zdp(tsn, _zdo.ActiveEpReq(dst))
    aps = _aps.encode_aps(_aps.ApsFrame(_aps.APS_FRAME_DATA, _aps.APS_DELIVERY_UNICAST, counter=0x44, dst_endpoint=0,
                                        cluster=_zdo.ActiveEpReq.CLUSTER_ID, profile=_aps.PROFILE_ZDP, src_endpoint=0,
                                        payload=zdp))
    nwk = secure_nwk(_nwk.NwkFrame(dst, INTRUDER_SHORT, 0x10, aps, discover_route=1, security=True,
                                   src_ieee=INTRUDER_EUI), network_key, frame_counter, INTRUDER_EUI, 0)
    return encode_mac(MacFrame(FRAME_DATA, ack_request=True, pan_id_compression=True, seq=0x21,
                               dst_mode=ADDR_SHORT, dst_pan=pan_id, dst_addr=dst, src_mode=ADDR_SHORT,
                               src_addr=INTRUDER_SHORT, payload=nwk))
