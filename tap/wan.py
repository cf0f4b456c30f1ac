"""One CSP's SMWAN traffic on a Linux TAP interface as Ethernet / IPv4 / TCP (sans-IO).

L{WanTapSink} is a L{emulator.capture.CaptureSink}: L{emulator.wan.Smwan} hands it the same
IPv4/TCP packets it writes to the pcapng (L{emulator.wan.WanCapture}: the hub at
C{100.64.0.0/10}, the DCC's gateway at C{198.51.100.<CSP index>}, TCP port
L{emulator.wan.SMWAN_PORT}), and it puts each one on the interface in an Ethernet II frame.  The
Ethernet addresses are synthetic and deterministic: locally administered unicast
C{02:57:<the four octets of the IPv4 address>}, so every hub and gateway has its own MAC and a
sniffer's "Endpoints" view lists them.  The packets are addressed to nobody on the host: the
kernel drops them (they are not for its MAC), a sniffer in promiscuous mode sees them.

The WAN tap is an observation point: frames the kernel or a tool writes into the interface
(IPv6 neighbour discovery, anything else) are counted by kind in L{WanTapSink.ignored} and do
not reach the emulated WAN.
"""

from __future__ import annotations

from typing import Callable

from protocols.inet import LINKTYPE_IPV4
from tap.zep import ETHERTYPE_IPV4, EthernetFrame, ZepError, decode_ethernet, encode_ethernet

__all__ = ["WanTapSink", "mac_for"]


def mac_for(ipv4: bytes) -> bytes:
    """The synthetic MAC of an emulated WAN endpoint: C{02:57} ("W") then its IPv4 address."""
    return b"\x02\x57" + ipv4


class WanTapSink:
    """Writes one CSP's WAN packets to a TAP (see the module docstring).

    @param write: sends one Ethernet frame on the interface (the C{TuntapPort}'s C{write}).
    @ivar sent: frames written to the interface.
    @ivar ignored: frames read from the interface, by kind (they are not injected).
    """

    def __init__(self, write: Callable[[bytes], None]) -> None:
        self.write = write
        self.sent = 0
        self.ignored: dict[str, int] = {}
        self._interfaces = 0

    def add_interface(self, name: str, description: str = "", linktype: int = LINKTYPE_IPV4,
                      snaplen: int = 65535) -> int:
        if linktype != LINKTYPE_IPV4:
            raise ValueError(f"a WAN TAP carries IPv4 packets (link type {LINKTYPE_IPV4}), not link type {linktype}")
        self._interfaces += 1
        return self._interfaces - 1

    def capture(self, interface_id: int, time_s: float, data: bytes) -> None:
        src, dst = data[12:16], data[16:20]
        self.write(encode_ethernet(EthernetFrame(mac_for(dst), mac_for(src), ETHERTYPE_IPV4, data)))
        self.sent += 1

    def ethernet_received(self, data: bytes) -> None:
        """A frame read from the interface: counted, never delivered (nothing raises)."""
        try:
            kind = f"ethertype 0x{decode_ethernet(data).ethertype:04x}"
        except ZepError:
            kind = "truncated"
        self.ignored[kind] = self.ignored.get(kind, 0) + 1

    def summary(self) -> str:
        ignored = ", ".join(f"{k} {v}" for k, v in sorted(self.ignored.items())) or "none"
        return f"{self.sent} frame(s) sent; read from the interface and ignored: {ignored}"
