"""HAN frame codec + security throughput, beside scapy measured in the same run.

Run from the repository root::

    python -m benchmarks.han [--seconds S]

The frame is a typical SMETS2 HAN unicast (ESME -> IHD): 802.15.4 data header (FCF 0x8861)
+ NWK header + NWK security (aux header with ext nonce, MIC-32) + APS data header + APS
security (link key, ext nonce, MIC-32) + a ZCL Read Attributes Response on Metering (0x0702:
CurrentSummationDelivered uint48, InstantaneousDemand int24, Status bitmap8) + FCS.

Our path per frame: build the ApsFrame / NwkFrame / MacFrame objects, secure_aps, secure_nwk,
encode_mac, then decode_mac, unsecure_nwk, unsecure_aps (4 AES-CCM* operations).  scapy has
no ZigBee crypto, so its side builds and dissects the *same on-air bytes*
(Dot15d4FCS / Dot15d4Data / ZigbeeNWK / ZigbeeSecurityHeader, the NWK ciphertext as opaque
data); a second scapy figure builds and dissects the whole stack in plaintext
(... / ZigbeeAppDataPayload / ZigbeeClusterLibrary / ReadAttributeResponse) for reference.
Rates are frames per CPU-second of this process (C{time.process_time}), best of 5 rounds
with all variants interleaved, so load from other processes disturbs the ratio little.

Flood figure (C{--flood-identities N}, default 20,000): a joined router behind a real MAC
takes N NWK-secured IEEE_addr_req frames from one sender, then N from N fresh identities
(each frame a new EUI-64 and address, as a node holding the network key can send them); the
per-frame CPU cost of both, their ratio (the bounded tables keep it near 1), and the table
sizes after the flood.  Prints figures only; asserts nothing about speed.
"""

from __future__ import annotations

import argparse
import struct
import sys
import time
import warnings

from protocols.zigbee.aps import ApsFrame
from protocols.zigbee.keys import install_code_to_link_key
from protocols.zigbee.nwk import NwkFrame
from protocols.zigbee import security as _security
from protocols.zigbee.security import (
    _ccm,
    ccm_nonce,
    secure_aps,
    secure_nwk,
    unsecure_aps,
    unsecure_nwk,
)

try:
    from protocols.ieee802154.frames import data_frame, decode_mac, encode_mac
except ImportError:  # pragma: no cover - C1's MAC codec not there yet
    data_frame = decode_mac = encode_mac = None

PAN = 0x1A62
ESME, IHD = 0x1234, 0x5678
ESME_EUI = 0x00124B0011223344
NWK_KEY = bytes.fromhex("00112233445566778899AABBCCDDEEFF")
LINK_KEY = install_code_to_link_key(bytes.fromhex("83FED3407A939723A5C639B26916D505C3B5"))
# ZCL: frame control 0x18 (global, server->client, no default response), tsn, 0x01 Read Attributes Response
ZCL = (bytes((0x18, 0x2A, 0x01))
       + struct.pack("<HBB", 0x0000, 0x00, 0x25) + (123456789).to_bytes(6, "little")
       + struct.pack("<HBB", 0x0400, 0x00, 0x2A) + (1500).to_bytes(3, "little", signed=True)
       + struct.pack("<HBBB", 0x0200, 0x00, 0x18, 0x00))


def _mac_encode(seq: int, payload: bytes) -> bytes:
    return encode_mac(data_frame(seq, PAN, IHD, ESME, payload))


def our_frame(i: int) -> bytes:
    """Build + secure one frame with our codecs; return the PSDU (with FCS)."""
    a = secure_aps(ApsFrame(0, 0, i & 0xFF, 1, None, 0x0702, 0x0109, 1, ZCL, False, True),
                   LINK_KEY, i, ESME_EUI)
    n = secure_nwk(NwkFrame(IHD, ESME, i & 0xFF, a), NWK_KEY, i, ESME_EUI, 0)
    return _mac_encode(i & 0xFF, n)


def our_parse(psdu: bytes) -> bytes:
    """Decode + unsecure one frame; return the ZCL payload."""
    m = decode_mac(psdu)
    nf, _ = unsecure_nwk(m.payload, NWK_KEY)
    af, _ = unsecure_aps(nf.payload, LINK_KEY)
    return af.payload


def our_roundtrip(n: int) -> None:
    for i in range(n):
        our_parse(our_frame(i))


class _NullCCM:
    """Stands in for a cached AESCCM object: same call shapes, no AES (tag = 4 zero bytes)."""

    @staticmethod
    def encrypt(nonce: bytes, data: bytes, aad: bytes) -> bytes:
        return data + b"\0\0\0\0"

    @staticmethod
    def decrypt(nonce: bytes, data: bytes, aad: bytes) -> bytes:
        return data[:-4]


def codec_only(n: int) -> None:
    """Exactly the round trip above with the two cached AESCCM objects swapped for a null
    cipher: everything but the AES work (headers, aux headers, nonces, AAD, objects)."""
    cache = _security._ccm4
    saved = {k: cache[k] for k in (NWK_KEY, LINK_KEY)}
    cache[NWK_KEY] = cache[LINK_KEY] = _NullCCM
    try:
        our_roundtrip(n)
    finally:
        cache.update(saved)


def crypto_only(n: int) -> None:
    """The 4 CCM* operations of a round trip (cached AESCCM, nonce + AAD built per frame)."""
    nk, lk = _ccm(NWK_KEY, 4), _ccm(LINK_KEY, 4)
    aad_a = bytes(8 + 13)
    aad_n = bytes(8 + 14)
    for i in range(n):
        nonce = ccm_nonce(ESME_EUI, i, 0x25)
        ca = lk.encrypt(nonce, ZCL, aad_a)
        nonce2 = ccm_nonce(ESME_EUI, i, 0x2D)
        cn = nk.encrypt(nonce2, aad_a + ca, aad_n)
        pa = nk.decrypt(nonce2, cn, aad_n)
        lk.decrypt(nonce, pa[21:], aad_a)


def _scapy_setup():
    warnings.filterwarnings("ignore")
    from scapy.config import conf
    conf.dot15d4_protocol = "zigbee"
    from scapy.layers import dot15d4, zigbee
    return dot15d4, zigbee


def scapy_same_bytes(n: int, reference: list[bytes]):
    """scapy builds and dissects the same on-air bytes (NWK payload opaque)."""
    d, z = _scapy_setup()
    # extract per-frame opaque NWK ciphertext+MIC from our frames (setup, not timed)
    opaque = [decode_mac(r).payload[8 + 14:] for r in reference]
    k = len(reference)

    def run(count: int) -> None:
        for i in range(count):
            p = (d.Dot15d4FCS(fcf_frametype=1, fcf_ackreq=1, fcf_panidcompress=1, fcf_destaddrmode=2,
                              fcf_srcaddrmode=2, fcf_framever=0, seqnum=i & 0xFF)
                 / d.Dot15d4Data(dest_panid=PAN, dest_addr=IHD, src_addr=ESME)
                 / z.ZigbeeNWK(frametype=0, proto_version=2, discover_route=0, flags="security",
                               destination=IHD, source=ESME, radius=30, seqnum=i & 0xFF)
                 / z.ZigbeeSecurityHeader(extended_nonce=1, key_type=1, nwk_seclevel=0, fc=i,
                                          source=ESME_EUI, key_seqnum=0, data=opaque[i % k]))
            raw = bytes(p)
            q = d.Dot15d4FCS(raw)
            q[z.ZigbeeSecurityHeader].fc  # noqa: B018 - touch the innermost layer
    return run


def scapy_plain_stack(n: int):
    """scapy builds and dissects MAC / NWK / APS / ZCL Read Attributes Response in plaintext."""
    d, z = _scapy_setup()

    def run(count: int) -> None:
        for i in range(count):
            p = (d.Dot15d4FCS(fcf_frametype=1, fcf_ackreq=1, fcf_panidcompress=1, fcf_destaddrmode=2,
                              fcf_srcaddrmode=2, fcf_framever=0, seqnum=i & 0xFF)
                 / d.Dot15d4Data(dest_panid=PAN, dest_addr=IHD, src_addr=ESME)
                 / z.ZigbeeNWK(frametype=0, proto_version=2, discover_route=0, destination=IHD, source=ESME,
                               radius=30, seqnum=i & 0xFF)
                 / z.ZigbeeAppDataPayload(aps_frametype=0, delivery_mode=0, frame_control="ack_req",
                                          dst_endpoint=1, cluster=0x0702, profile=0x0109, src_endpoint=1,
                                          counter=i & 0xFF)
                 / z.ZigbeeClusterLibrary(zcl_frametype=0, direction=1, disable_default_response=1,
                                          transaction_sequence=0x2A, command_identifier=1)
                 / z.ZCLGeneralReadAttributesResponse(read_attribute_status_record=[
                     z.ZCLReadAttributeStatusRecord(attribute_identifier=0x0000, status=0, attribute_data_type=0x25,
                                                    attribute_value=(123456789).to_bytes(6, "little")),
                 ]))
            raw = bytes(p)
            q = d.Dot15d4FCS(raw)
            q[z.ZigbeeClusterLibrary].command_identifier  # noqa: B018
    return run


#: CPU time of this process: other processes on a busy machine do not count against us.
_now = time.process_time


class _Radio:
    """The receiving node's radio: what it sends is dropped (its airtime is still counted)."""

    @staticmethod
    def transmit(psdu: bytes) -> float:
        return (6 + len(psdu)) * 32e-6

    @staticmethod
    def set_rx_enabled(on: bool) -> None: ...

    @staticmethod
    def channel_busy_since(t: float) -> bool:
        return False


def _receiver():
    """A joined router (the ESME's place) behind a real MAC, on a virtual clock."""
    import random as _random

    from emulator.clock import VirtualClock
    from protocols.ieee802154.mac import MacLayer
    from protocols.zigbee.stack import ZigbeeStack

    class _User:
        def stack_joined(self) -> None: ...
        def stack_join_failed(self, reason: str) -> None: ...
        def aps_data_indication(self, ind) -> None: ...

    clock = VirtualClock(start=0.0)
    counts: dict[str, int] = {}

    def count(reason: str) -> None:
        counts[reason] = counts.get(reason, 0) + 1

    stack = ZigbeeStack(clock, _random.Random(1), ESME_EUI, role="router", rx_on_when_idle=True, user=_User(),
                        count=count)
    mac = MacLayer(clock, _random.Random(2), _Radio(), ESME_EUI, stack, rx_on_when_idle=True, counters=count)
    stack.attach_mac(mac)
    mac.pan_id, mac.short_address = PAN, ESME
    nib = stack.nib
    nib.short, nib.pan_id, nib.parent, nib.joined = ESME, PAN, 0x0000, True
    nib.set_network_key(NWK_KEY, 0)
    return clock, stack, mac, counts


def _zdo_request(seq: int, src_short: int, src_eui: int, counter: int) -> bytes:
    """A NWK-secured IEEE_addr_req to the receiver (it answers each one)."""
    from protocols.zigbee import zdo as _zdo
    zdp = _zdo.encode_zdp(seq & 0xFF, _zdo.IeeeAddrReq(ESME))
    aps = ApsFrame(0, 0, seq & 0xFF, 0, None, 0x0001, 0x0000, 0, zdp, False, False)
    from protocols.zigbee.aps import encode_aps
    nwk = NwkFrame(ESME, src_short, seq & 0xFF, encode_aps(aps), security=True, radius=1, src_ieee=src_eui)
    return encode_mac(data_frame(seq & 0xFF, PAN, ESME, src_short, secure_nwk(nwk, NWK_KEY, counter, src_eui, 0)))


def _feed(frames: list[bytes]) -> tuple[float, object]:
    """CPU seconds for the receiver to take C{frames} (one per 50 ms of virtual time)."""
    clock, stack, mac, counts = _receiver()
    t0 = _now()
    for psdu in frames:
        mac.frame_received(psdu)
        clock.advance(0.05)
    return _now() - t0, (stack, mac, counts)


def flood_figures(identities: int) -> None:
    """Per-frame receive cost: the same request from one sender (quiet) and from C{identities}
    fresh identities (each frame a new EUI-64 and address), and the tables after the flood."""
    quiet = [_zdo_request(i, IHD, 0x00124B00AA000001, 1000 + i) for i in range(identities)]
    flood = [_zdo_request(i, 0x1000 + i % 0xE000, 0x00124B0100000000 + i, 1000) for i in range(identities)]
    best_quiet = best_flood = float("inf")
    for _ in range(3):
        tq, _ = _feed(quiet)
        tf, (stack, mac, counts) = _feed(flood)
        best_quiet, best_flood = min(best_quiet, tq), min(best_flood, tf)
    nib = stack.nib
    uq, uf = 1e6 * best_quiet / identities, 1e6 * best_flood / identities
    print(f"receive, one sender (quiet)           : {uq:8.1f} us/frame  ({identities:,} frames)")
    print(f"receive, {identities:,} fresh identities : {uf:8.1f} us/frame  (ratio {uf / uq:.2f}x, aim <= 2x)")
    print(f"tables after the flood: NWK counters {nib.counters.incoming_entries()} "
          f"(unknown senders {nib.counters.unknown_entries()}, limit {nib.limits.nwk_counters}), "
          f"address map {len(nib.addresses)} (limit {nib.limits.address_map}), "
          f"MAC duplicates {len(mac._last_dsn)} (limit {mac.duplicate_limit}), "
          f"APS duplicates {len(stack.aps._seen)}, evicted: NWK counters {counts.get('nwk_counters_evicted', 0)}, "
          f"address map {counts.get('address_map_evicted', 0)}")


def _calibrate(fn, seconds: float) -> int:
    """Number of frames that takes about C{seconds}."""
    n = 50
    while True:
        t0 = _now()
        fn(n)
        dt = _now() - t0
        if dt > 0.05:
            return max(1, int(n * seconds / dt))
        n *= 4


def _rates(fns: dict, seconds: float, rounds: int = 5) -> dict:
    """Frames/s per function: best of C{rounds} runs, the functions interleaved round by
    round so that a load change on the machine hits all of them alike."""
    sizes = {name: _calibrate(fn, seconds / rounds) for name, fn in fns.items()}
    best = dict.fromkeys(fns, 0.0)
    for _ in range(rounds):
        for name, fn in fns.items():
            t0 = _now()
            fn(sizes[name])
            best[name] = max(best[name], sizes[name] / (_now() - t0))
    return best


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=3.0, help="time budget per measurement (default 3)")
    ap.add_argument("--flood-identities", type=int, default=20000,
                    help="fresh identities of the flood figure (default 20000; 0 skips it)")
    args = ap.parse_args(argv)
    if args.flood_identities < 0:
        ap.error("--flood-identities must be >= 0")
    if encode_mac is None:
        print("protocols.ieee802154.frames is not available; cannot run", file=sys.stderr)
        return 1

    frames = [our_frame(i) for i in range(256)]
    assert all(our_parse(f) == ZCL for f in frames)
    _, z = _scapy_setup()
    from scapy.layers import dot15d4 as d
    same = scapy_same_bytes(0, frames)
    # check that scapy really builds the bytes we send (setup, not timed)
    for i in (0, 1, 255):
        opaque = decode_mac(frames[i]).payload[22:]
        p = (d.Dot15d4FCS(fcf_frametype=1, fcf_ackreq=1, fcf_panidcompress=1, fcf_destaddrmode=2,
                          fcf_srcaddrmode=2, fcf_framever=0, seqnum=i)
             / d.Dot15d4Data(dest_panid=PAN, dest_addr=IHD, src_addr=ESME)
             / z.ZigbeeNWK(frametype=0, proto_version=2, discover_route=0, flags="security",
                           destination=IHD, source=ESME, radius=30, seqnum=i)
             / z.ZigbeeSecurityHeader(extended_nonce=1, key_type=1, nwk_seclevel=0, fc=i,
                                      source=ESME_EUI, key_seqnum=0, data=opaque))
        if bytes(p) != frames[i]:
            print(f"warning: scapy bytes differ from ours for frame {i}", file=sys.stderr)

    print(f"HAN frame: {len(frames[0])} bytes on air (MAC 9 + NWK 8 + NWK aux 14 + APS 8 + APS aux 13 + "
          f"ZCL {len(ZCL)} + 2 MIC-32 + FCS 2)")
    r = _rates({"ours": our_roundtrip, "codec": codec_only, "crypto": crypto_only,
                "scapy_same": same, "scapy_plain": scapy_plain_stack(0)}, args.seconds)
    ours, codec, crypto, sc_same, sc_plain = (r["ours"], r["codec"], r["crypto"], r["scapy_same"],
                                              r["scapy_plain"])
    print(f"ours   encode+secure+decode+unsecure : {ours:12,.0f} frames/s  ({1e6 / ours:6.1f} us/frame)")
    print(f"  breakdown: codec only (null cipher) : {codec:12,.0f} frames/s  ({1e6 / codec:6.1f} us/frame)")
    print(f"  breakdown: crypto only (4x CCM*)    : {crypto:12,.0f} frames/s  ({1e6 / crypto:6.1f} us/frame)")
    print(f"scapy  build+dissect, same bytes     : {sc_same:12,.0f} frames/s  ({1e6 / sc_same:6.1f} us/frame)")
    print(f"scapy  build+dissect, plaintext stack: {sc_plain:12,.0f} frames/s  ({1e6 / sc_plain:6.1f} us/frame)")
    print(f"ratio ours / scapy (same bytes)      : {ours / sc_same:8.1f}x   (aim >= 50x)")
    print(f"ratio ours / scapy (plaintext stack) : {ours / sc_plain:8.1f}x")
    if args.flood_identities:
        flood_figures(args.flood_identities)
    return 0


if __name__ == "__main__":
    sys.exit(main())
