"""A home's HAN radio medium bridged to Ethernet frames as ZEP v2 over UDP/IPv4 (sans-IO).

Out: every transmission on the emulated air (L{emulator.medium.HanMedium.add_observer}) becomes
one Ethernet / IPv4 / UDP (17754 -> 17754) / ZEP v2 frame in CRC mode (the PSDU carries its
real FCS), with the medium's channel, the sending device's index in the topology as the ZEP
device id (0 for a frame of unknown origin), a fixed LQI, the emulated clock's time as the
NTP timestamp and a sequence number counting from 1.  It is sent from the bridge's synthetic
address (L{tap.zep.bridge_addresses}: a locally administered MAC and an IPv4 link-local
address derived from the home's name) to the link-local broadcast 169.254.255.255 (Ethernet
broadcast), so a sniffer sees it and any socket bound to UDP 17754 on that link receives it.

In: a ZEP frame sent to the bridge's IPv4 address (or a broadcast) on UDP 17754 is put on the
air with L{emulator.medium.HanMedium.inject}, as if a radio in the room had transmitted it; the
bridge answers ARP for its address, so an ordinary UDP socket can reach it.  Bad input for the
bridge (not ZEP, bad ZEP length, bad FCS, bad checksums, wrong channel...) is counted by
reason in L{HanZepBridge.dropped} and dropped; traffic that is not for the bridge at all (IPv6
neighbour discovery, other ports...) is counted in L{HanZepBridge.ignored}.  Nothing raises.

An injected frame waits for a clear channel, as a radio's CSMA-CA would: while a transmission
is on the air (seen through the observer) it is held, and tried again a turnaround time plus one
unit backoff period after the air went quiet, so that it neither destroys a frame in flight nor
the MAC Ack that follows it.  At most L{INJECT_QUEUE_LIMIT} frames wait (more: dropped as
C{queue_full}).  The bridge does not echo frames it injected itself: the tool that sent them
already put them on the interface.
"""

from __future__ import annotations

from collections import deque
from typing import Callable

from tap.zep import (BROADCAST_MAC, ETHERTYPE_ARP, ETHERTYPE_IPV4, IPPROTO_UDP, ZEP_PORT, ArpPacket,
                     EthernetFrame, Ipv4Packet, UdpDatagram, ZepAck, ZepError, ZepFrame, bridge_addresses,
                     decode_arp, decode_ethernet, decode_ipv4, decode_udp, decode_zep, encode_arp,
                     encode_ethernet, encode_ipv4, encode_udp, encode_zep, format_ip, format_mac)

__all__ = ["HanZepBridge", "LINK_LOCAL_BROADCAST", "ZEP_LQI", "INJECT_QUEUE_LIMIT", "CLEAR_CHANNEL_WAIT"]

#: where outgoing ZEP goes: the IPv4 link-local broadcast (RFC 3927 169.254.0.0/16)
LINK_LOCAL_BROADCAST = bytes((169, 254, 255, 255))
_LIMITED_BROADCAST = b"\xff" * 4
#: the LQI written in every outgoing ZEP header (the medium models loss per receiver, so the
#: frame as transmitted has no single link quality: report a perfect one)
ZEP_LQI = 255
#: frames from the interface waiting for a clear channel, at most
INJECT_QUEUE_LIMIT = 16
#: after the air goes quiet: aTurnaroundTime (12 symbols) + aUnitBackoffPeriod (20 symbols), 16 us each
CLEAR_CHANNEL_WAIT = (12 + 20) * 16e-6


class HanZepBridge:
    """Bridges one L{emulator.medium.HanMedium} to Ethernet frames.

    @param medium: the home's medium (the bridge registers itself as an observer).
    @param write: called with each outgoing Ethernet frame (the TAP adapter's write).
    @param device_ids: radio name -> ZEP device id (e.g. 1-based index in the topology).
    @param on_drop: called with the reason of every dropped input frame (metrics).

    @ivar counts: C{out} frames written, C{in} frames injected, C{arp_replies}, C{write_errors}.
    @ivar dropped: bad frames meant for the bridge, by reason.
    @ivar ignored: frames not meant for the bridge, by reason.
    """

    def __init__(self, medium, write: Callable[[bytes], None], *, device_ids: dict[str, int] | None = None,
                 on_drop: Callable[[str], None] | None = None) -> None:
        self.medium = medium
        self.write = write
        self.device_ids = dict(device_ids or {})
        self.on_drop = on_drop
        self.mac, self.ip = bridge_addresses(medium.name)
        self.sequence = 0
        self.counts: dict[str, int] = {"out": 0, "in": 0, "arp_replies": 0, "write_errors": 0}
        self.dropped: dict[str, int] = {}
        self.ignored: dict[str, int] = {}
        self._injecting = False
        self._busy_until = float("-inf")
        self._waiting: deque[bytes] = deque()
        self._retry = None
        medium.add_observer(self.air_frame)

    # -- out: the air -> Ethernet ----------------------------------------------------------------

    def air_frame(self, now: float, sender: str, psdu: bytes) -> None:
        """Medium observer: send one transmission out as ZEP (not the ones we injected)."""
        self._busy_until = max(self._busy_until, now + self.medium.phy.airtime(len(psdu)))
        if self._injecting:
            return
        self.sequence = (self.sequence + 1) & 0xFFFFFFFF
        zep = ZepFrame(channel=self.medium.channel, device_id=self.device_ids.get(sender, 0), crc_mode=True,
                       lqi=ZEP_LQI, timestamp=now, sequence=self.sequence, psdu=psdu)
        try:
            frame = self.ethernet_for(encode_zep(zep))
        except ValueError:  # a PSDU too short to be 802.15.4 (only an injector can make one)
            self._count(self.dropped, "unencodable")
            return
        self._send(frame)

    def ethernet_for(self, zep: bytes) -> bytes:
        """The Ethernet frame carrying one ZEP packet from the bridge to the link's broadcast."""
        self.counts["out"] += 1
        udp = encode_udp(UdpDatagram(ZEP_PORT, ZEP_PORT, zep), self.ip, LINK_LOCAL_BROADCAST)
        ip = encode_ipv4(Ipv4Packet(self.ip, LINK_LOCAL_BROADCAST, IPPROTO_UDP, udp,
                                    identification=self.sequence))
        return encode_ethernet(EthernetFrame(BROADCAST_MAC, self.mac, ETHERTYPE_IPV4, ip))

    def _send(self, frame: bytes) -> None:
        try:
            self.write(frame)
        except OSError:
            self.counts["write_errors"] += 1

    # -- in: Ethernet -> the air ------------------------------------------------------------------

    def ethernet_received(self, data: bytes) -> None:
        """Handle one frame read from the interface (never raises on bad input)."""
        try:
            self._ethernet_received(data)
        except ZepError as e:
            self._drop(e.kind)

    def _ethernet_received(self, data: bytes) -> None:
        eth = decode_ethernet(data)
        if eth.dst != self.mac and eth.dst != BROADCAST_MAC:
            self._count(self.ignored, "other_mac")
            return
        if eth.ethertype == ETHERTYPE_ARP:
            self._arp(decode_arp(eth.payload))
            return
        if eth.ethertype != ETHERTYPE_IPV4:
            self._count(self.ignored, "not_ipv4")
            return
        ip = decode_ipv4(eth.payload)
        if ip.dst not in (self.ip, LINK_LOCAL_BROADCAST, _LIMITED_BROADCAST):
            self._count(self.ignored, "other_ip")
            return
        if ip.protocol != IPPROTO_UDP:
            self._count(self.ignored, "not_udp")
            return
        udp = decode_udp(ip.payload, ip.src, ip.dst)
        if udp.dst_port != ZEP_PORT:
            self._count(self.ignored, "other_port")
            return
        if ip.src == self.ip:
            self._count(self.ignored, "own_frame")
            return
        zep = decode_zep(udp.payload)
        if isinstance(zep, ZepAck):
            self._count(self.ignored, "zep_ack")
            return
        if zep.channel != self.medium.channel:
            self._drop("wrong_channel")
            return
        psdu = zep.mpdu_with_fcs()
        if len(self._waiting) >= INJECT_QUEUE_LIMIT:
            self._drop("queue_full")
            return
        self._waiting.append(psdu)
        if self._retry is None:
            self._inject_waiting()

    def _inject_waiting(self) -> None:
        """Put the waiting frames on the air, one at a time, each when the channel is clear."""
        self._retry = None
        clock = self.medium.clock
        while self._waiting:
            now = clock.seconds()
            if now < self._busy_until + CLEAR_CHANNEL_WAIT:
                self._retry = clock.callLater(self._busy_until + CLEAR_CHANNEL_WAIT - now, self._inject_waiting)
                return
            psdu = self._waiting.popleft()
            self.counts["in"] += 1
            self._injecting = True
            try:
                self.medium.inject(psdu)  # (the observer marks the air busy for its airtime)
            finally:
                self._injecting = False

    def _arp(self, arp: ArpPacket) -> None:
        if arp.operation != 1 or arp.target_ip != self.ip:
            self._count(self.ignored, "arp")
            return
        reply = encode_arp(ArpPacket(2, self.mac, self.ip, arp.sender_mac, arp.sender_ip))
        self.counts["arp_replies"] += 1
        self._send(encode_ethernet(EthernetFrame(arp.sender_mac, self.mac, ETHERTYPE_ARP, reply)))

    def _drop(self, reason: str) -> None:
        self._count(self.dropped, reason)
        if self.on_drop is not None:
            self.on_drop(reason)

    @staticmethod
    def _count(table: dict[str, int], reason: str) -> None:
        table[reason] = table.get(reason, 0) + 1

    # -- reporting ---------------------------------------------------------------------------------

    def describe(self) -> str:
        """Where the bridge lives on the link (for the log)."""
        return (f"ZEP v2 on UDP {ZEP_PORT}, bridge at {format_ip(self.ip)} ({format_mac(self.mac)}), "
                f"air frames to {format_ip(LINK_LOCAL_BROADCAST)}, channel {self.medium.channel}")

    def summary(self) -> str:
        """One line: frames out and in, drops and ignored frames by reason."""
        def fmt(table: dict[str, int]) -> str:
            return ", ".join(f"{k} {v}" for k, v in sorted(table.items())) or "none"
        return (f"{self.counts['out']} frame(s) out, {self.counts['in']} injected, "
                f"{self.counts['arp_replies']} ARP repl(ies), {self.counts['write_errors']} write error(s); "
                f"dropped: {fmt(self.dropped)}; ignored: {fmt(self.ignored)}")
