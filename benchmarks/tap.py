"""TAP bridge cost per frame: the sans-IO ZEP/UDP/IPv4/Ethernet work beside the bare MAC codec.

Run from the repository root::

    python -m benchmarks.tap [--seconds S]

Prints frames per wall second for:

  - out: one air frame (a 50-byte secured data frame) -> ZEP v2 -> UDP (checksum) -> IPv4
    (checksum) -> Ethernet, as L{tap.han.HanZepBridge} sends it;
  - in: one Ethernet frame carrying that ZEP -> checks (IPv4 and UDP checksums, ZEP length, FCS)
    -> on the air of a medium with one listening radio (the medium's own cost included);
  - baseline: C{decode_mac} + C{encode_mac} of the same 802.15.4 frame.

No asserts: figures only.
"""

from __future__ import annotations

import argparse
import time

from emulator.clock import VirtualClock
from emulator.medium import HanMedium
from protocols.ieee802154.frames import ADDR_SHORT, FRAME_DATA, MacFrame, decode_mac, encode_mac
from tap.han import HanZepBridge
from tap.zep import (ETHERTYPE_IPV4, IPPROTO_UDP, ZEP_PORT, EthernetFrame, Ipv4Packet, UdpDatagram,
                     ZepFrame, encode_ethernet, encode_ipv4, encode_udp, encode_zep)

PSDU = encode_mac(MacFrame(FRAME_DATA, ack_request=True, pan_id_compression=True, seq=7, dst_mode=ADDR_SHORT,
                           dst_pan=0x1234, dst_addr=0, src_mode=ADDR_SHORT, src_addr=0x0FAB, payload=bytes(41)))


def _rate(fn, seconds: float) -> float:
    n, start = 0, time.perf_counter()
    while True:
        for _ in range(200):
            fn()
        n += 200
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return n / elapsed


class _Radio:
    def frame_received(self, psdu: bytes) -> None:
        pass


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="wall seconds per figure")
    args = parser.parse_args(argv)

    clock = VirtualClock(start=1.7e9)
    medium = HanMedium(clock, 1, "home-0001", channel=15)
    medium.attach("esme", _Radio())
    sent: list[bytes] = []
    bridge = HanZepBridge(medium, sent.append, device_ids={"esme": 2})

    def out() -> None:
        bridge.air_frame(clock.seconds(), "esme", PSDU)
        sent.clear()

    src_ip = bytes((169, 254, 0, 1))
    zep = encode_zep(ZepFrame(15, 0, True, 255, 1.7e9, 1, PSDU))
    frame = encode_ethernet(EthernetFrame(bridge.mac, b"\x02\x00\x00\x00\x00\x01", ETHERTYPE_IPV4, encode_ipv4(
        Ipv4Packet(src_ip, bridge.ip, IPPROTO_UDP, encode_udp(UdpDatagram(40000, ZEP_PORT, zep), src_ip, bridge.ip)))))

    def inward() -> None:
        bridge.ethernet_received(frame)
        clock.advance(0.01)  # end of airtime: delivered to the radio

    def baseline() -> None:
        encode_mac(decode_mac(PSDU))

    print(f"frame: {len(PSDU)}-byte PSDU, {len(frame)}-byte Ethernet frame; {args.seconds:g} s per figure")
    print(f"  out (air -> ZEP/UDP/IPv4/Ethernet):         {_rate(out, args.seconds):>10,.0f} frames/s")
    print(f"  in  (Ethernet -> checks -> medium -> radio): {_rate(inward, args.seconds):>10,.0f} frames/s")
    print(f"  baseline decode_mac + encode_mac:            {_rate(baseline, args.seconds):>10,.0f} frames/s")
    print(f"  bridge: {bridge.summary()}")


if __name__ == "__main__":
    main()
