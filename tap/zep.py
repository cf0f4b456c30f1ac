"""ZEP (ZigBee Encapsulation Protocol) in Ethernet / IPv4 / UDP: a sans-IO codec.

Byte layouts (han-zigbee-wireshark.md section 1.2, Wireshark's C{packet-zep.c}):

 - ZEP v2 data header, 32 bytes, big-endian: preamble C{"EX"}, version 2, type 1 (data),
   channel, device id (u16), CRC/LQI mode (1 = CRC mode: the last two bytes of the frame are
   a real 802.15.4 FCS; 0 = LQI mode: they are TI CC24xx metadata, RSSI then bit 7 "CRC OK"),
   LQI, NTP timestamp (u32 seconds since 1900 + u32 binary fraction), sequence number (u32),
   10 reserved bytes, length (the 802.15.4 PSDU including its two trailing bytes), then the PSDU;
 - ZEP v2 ack: C{"EX"}, 2, type 2, sequence number (8 bytes, no frame);
 - ZEP v1: C{"EX"}, 1, channel, device id, CRC/LQI mode, LQI, 7 reserved, length (16 bytes).

UDP port 17754 (0x455A) either way; Ethernet II (RFC 894), IPv4 (RFC 791, header checksum
RFC 1071), UDP (RFC 768, checksum over the IPv4 pseudo-header) and ARP (RFC 826, Ethernet/IPv4
only) are the minimal wrapping a Linux TAP interface carries.

Everything here is pure: bytes in, frozen dataclasses or bytes out.  Malformed input raises
L{ZepError}, a L{CodecError} with a short C{kind} that the bridge counts drops by.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass

from protocols.errors import CodecError
from protocols.ieee802154.frames import fcs
from protocols.inet import internet_checksum

__all__ = [
    "ZEP_PORT", "ZEP_V2_HEADER_SIZE", "ZEP_V1_HEADER_SIZE", "NTP_UNIX_OFFSET",
    "ZepError", "ZepFrame", "ZepAck", "encode_zep", "decode_zep",
    "EthernetFrame", "encode_ethernet", "decode_ethernet", "ETHERTYPE_IPV4", "ETHERTYPE_ARP", "IPPROTO_UDP",
    "Ipv4Packet", "encode_ipv4", "decode_ipv4", "UdpDatagram", "encode_udp", "decode_udp",
    "ArpPacket", "encode_arp", "decode_arp", "internet_checksum",
    "BROADCAST_MAC", "bridge_addresses", "format_mac", "format_ip",
]

#: Wireshark's registered UDP port for ZEP (C{udp.port 17754 zep})
ZEP_PORT = 17754
ZEP_V2_HEADER_SIZE = 32
ZEP_V1_HEADER_SIZE = 16
ZEP_ACK_SIZE = 8
#: seconds between 1900-01-01 (NTP era 0) and 1970-01-01 (Unix epoch)
NTP_UNIX_OFFSET = 2_208_988_800
#: aMaxPHYPacketSize (IEEE 802.15.4-2006 6.4.1)
_MAX_PSDU = 127
#: the shortest 802.15.4 frame: an Ack (frame control 2, sequence 1, FCS 2)
_MIN_PSDU = 5

ETHERTYPE_IPV4 = 0x0800
ETHERTYPE_ARP = 0x0806
IPPROTO_UDP = 17
BROADCAST_MAC = b"\xff" * 6


class ZepError(CodecError):
    """Malformed ZEP / UDP / IPv4 / Ethernet / ARP bytes.

    @ivar kind: the drop reason to count (C{truncated}, C{bad_ip_checksum},
        C{bad_udp_checksum}, C{ip_fragment}, C{not_zep}, C{bad_length}, C{bad_fcs}, ...).
    """

    def __init__(self, kind: str, field: str, offset: int, reason: str) -> None:
        super().__init__(field, offset, reason)
        self.kind = kind


# -- ZEP -------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class ZepFrame:
    """One 802.15.4 frame in ZEP (v2 data, or v1).

    @ivar psdu: the MPDU with its two trailing bytes as carried (FCS in CRC mode, CC24xx
        metadata in LQI mode).
    @ivar timestamp: Unix seconds (converted from NTP; v1 has none: 0.0).
    """

    channel: int
    device_id: int
    crc_mode: bool
    lqi: int
    timestamp: float
    sequence: int
    psdu: bytes
    version: int = 2

    def mpdu_with_fcs(self) -> bytes:
        """The frame as it goes on the air: MPDU + a valid FCS.

        In CRC mode the carried FCS must be correct; in LQI mode the CC24xx metadata must say
        "CRC OK" and the FCS is computed.

        @raise ZepError: C{bad_fcs} if the carried FCS is wrong or the metadata says the CRC failed.
        """
        psdu = self.psdu
        if self.crc_mode:
            if fcs(psdu) != 0:
                got = int.from_bytes(psdu[-2:], "little")
                want = fcs(psdu[:-2])
                raise ZepError("bad_fcs", "zep.fcs", len(psdu) - 2,
                               f"802.15.4 FCS 0x{got:04X} is wrong (0x{want:04X} expected)")
            return psdu
        if not psdu[-1] & 0x80:
            raise ZepError("bad_fcs", "zep.cc24xx.fcs_ok", len(psdu) - 1,
                           "TI CC24xx metadata says the frame's CRC failed")
        body = psdu[:-2]
        return body + fcs(body).to_bytes(2, "little")


@dataclass(frozen=True, slots=True)
class ZepAck:
    """A ZEP v2 ack (carries no 802.15.4 frame)."""

    sequence: int


def _ntp(unix_seconds: float) -> tuple[int, int]:
    ntp = unix_seconds + NTP_UNIX_OFFSET
    if not 0 <= ntp < 2 ** 32:
        raise ValueError(f"timestamp {unix_seconds!r} is outside NTP era 0")
    secs = int(ntp)
    frac = int(round((ntp - secs) * 2 ** 32))
    if frac >= 2 ** 32:
        secs, frac = secs + 1, 0
    return secs, frac


def encode_zep(frame: ZepFrame) -> bytes:
    """Encode a ZEP v2 data packet (C{frame.version} is ignored: we only write v2).

    @raise ValueError: a field does not fit (PSDU 5..127 bytes, channel/LQI a byte, ...).
    """
    n = len(frame.psdu)
    if not _MIN_PSDU <= n <= _MAX_PSDU:
        raise ValueError(f"an 802.15.4 PSDU is {_MIN_PSDU}..{_MAX_PSDU} bytes, got {n}")
    if not 0 <= frame.channel <= 255 or not 0 <= frame.lqi <= 255:
        raise ValueError("channel and LQI are one byte each")
    if not 0 <= frame.device_id <= 0xFFFF:
        raise ValueError(f"device id {frame.device_id!r} is not a u16")
    secs, frac = _ntp(frame.timestamp)
    head = struct.pack(">2sBBBHBBII", b"EX", 2, 1, frame.channel, frame.device_id,
                       1 if frame.crc_mode else 0, frame.lqi, secs, frac)
    return head + struct.pack(">I", frame.sequence & 0xFFFFFFFF) + bytes(10) + bytes((n,)) + frame.psdu


def _zep_length(data: bytes, header: int, version: int) -> bytes:
    length = data[header - 1] & 0x7F  # Wireshark uses the low 7 bits
    body = data[header:]
    if length != len(body) or data[header - 1] & 0x80:
        raise ZepError("bad_length", "zep.length", header - 1,
                       f"ZEP v{version} length {data[header - 1]} but {len(body)} bytes follow the header")
    if length < _MIN_PSDU:
        raise ZepError("bad_length", "zep.length", header - 1,
                       f"an 802.15.4 frame is at least {_MIN_PSDU} bytes, ZEP says {length}")
    return body


def decode_zep(data: bytes) -> ZepFrame | ZepAck:
    """Decode a ZEP packet (v1 or v2 data, v2 ack).

    @raise ZepError: C{not_zep} (no C{"EX"} preamble, unknown version), C{truncated},
        C{bad_length} (the length byte disagrees with the bytes that follow).
    """
    if len(data) < 4 or data[:2] != b"EX":
        raise ZepError("not_zep", "zep.preamble", 0, f"not ZEP: no 'EX' preamble in {bytes(data[:4])!r}")
    version = data[2]
    if version == 1:
        if len(data) < ZEP_V1_HEADER_SIZE:
            raise ZepError("truncated", "zep", len(data), f"ZEP v1 header is 16 bytes, got {len(data)}")
        channel, device_id, mode, lqi = struct.unpack_from(">BHBB", data, 3)
        psdu = _zep_length(data, ZEP_V1_HEADER_SIZE, 1)
        return ZepFrame(channel, device_id, bool(mode), lqi, 0.0, 0, bytes(psdu), version=1)
    if version < 2:
        raise ZepError("not_zep", "zep.version", 2, f"ZEP version {version} is unknown")
    ptype = data[3]
    if ptype == 2:
        if len(data) != ZEP_ACK_SIZE:
            raise ZepError("bad_length", "zep.ack", len(data), f"a ZEP v2 ack is 8 bytes, got {len(data)}")
        return ZepAck(struct.unpack_from(">I", data, 4)[0])
    if len(data) < ZEP_V2_HEADER_SIZE:
        raise ZepError("truncated", "zep", len(data), f"ZEP v2 header is 32 bytes, got {len(data)}")
    channel, device_id, mode, lqi, secs, frac, seq = struct.unpack_from(">BHBBIII", data, 4)
    psdu = _zep_length(data, ZEP_V2_HEADER_SIZE, 2)
    timestamp = secs - NTP_UNIX_OFFSET + frac / 2 ** 32
    return ZepFrame(channel, device_id, bool(mode), lqi, timestamp, seq, bytes(psdu))


# -- Ethernet / IPv4 / UDP / ARP --------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class EthernetFrame:
    dst: bytes
    src: bytes
    ethertype: int
    payload: bytes


def encode_ethernet(frame: EthernetFrame) -> bytes:
    return frame.dst + frame.src + frame.ethertype.to_bytes(2, "big") + frame.payload


def decode_ethernet(data: bytes) -> EthernetFrame:
    if len(data) < 14:
        raise ZepError("truncated", "eth", len(data), f"an Ethernet header is 14 bytes, got {len(data)}")
    return EthernetFrame(bytes(data[0:6]), bytes(data[6:12]), int.from_bytes(data[12:14], "big"),
                         bytes(data[14:]))


@dataclass(frozen=True, slots=True)
class Ipv4Packet:
    src: bytes
    dst: bytes
    protocol: int
    payload: bytes
    ttl: int = 64
    identification: int = 0


def encode_ipv4(packet: Ipv4Packet) -> bytes:
    """A 20-byte IPv4 header (no options, DF set) with its checksum, then the payload."""
    total = 20 + len(packet.payload)
    if total > 0xFFFF:
        raise ValueError(f"IPv4 packet of {total} bytes is too long")
    head = struct.pack(">BBHHHBBH4s4s", 0x45, 0, total, packet.identification & 0xFFFF, 0x4000,
                       packet.ttl, packet.protocol, 0, packet.src, packet.dst)
    csum = internet_checksum(head)
    return head[:10] + csum.to_bytes(2, "big") + head[12:] + packet.payload


def decode_ipv4(data: bytes) -> Ipv4Packet:
    """Decode an IPv4 packet, checking version, header length and checksum, total length.

    @raise ZepError: C{truncated}, C{bad_ip_header}, C{bad_ip_checksum}, C{ip_fragment}.
    """
    if len(data) < 20:
        raise ZepError("truncated", "ip", len(data), f"an IPv4 header is at least 20 bytes, got {len(data)}")
    ver_ihl = data[0]
    ihl = (ver_ihl & 0x0F) * 4
    if ver_ihl >> 4 != 4 or ihl < 20:
        raise ZepError("bad_ip_header", "ip.version", 0, f"not an IPv4 header (byte 0x{ver_ihl:02X})")
    total = int.from_bytes(data[2:4], "big")
    if total < ihl or total > len(data) or len(data) < ihl:
        raise ZepError("bad_ip_header", "ip.len", 2,
                       f"IPv4 total length {total} with a {ihl}-byte header, {len(data)} bytes present")
    if internet_checksum(bytes(data[:ihl])) != 0:
        raise ZepError("bad_ip_checksum", "ip.checksum", 10, "IPv4 header checksum is wrong")
    flags_frag = int.from_bytes(data[6:8], "big")
    if flags_frag & 0x3FFF:  # MF set or a non-zero fragment offset
        raise ZepError("ip_fragment", "ip.flags", 6, "IPv4 fragments are not reassembled")
    return Ipv4Packet(bytes(data[12:16]), bytes(data[16:20]), data[9], bytes(data[ihl:total]),
                      ttl=data[8], identification=int.from_bytes(data[4:6], "big"))


@dataclass(frozen=True, slots=True)
class UdpDatagram:
    src_port: int
    dst_port: int
    payload: bytes


def _pseudo_header(src: bytes, dst: bytes, length: int) -> bytes:
    return src + dst + struct.pack(">BBH", 0, IPPROTO_UDP, length)


def encode_udp(datagram: UdpDatagram, src_ip: bytes, dst_ip: bytes) -> bytes:
    """A UDP header with the checksum over the IPv4 pseudo-header (0 is sent as 0xFFFF)."""
    length = 8 + len(datagram.payload)
    head = struct.pack(">HHHH", datagram.src_port, datagram.dst_port, length, 0)
    csum = internet_checksum(_pseudo_header(src_ip, dst_ip, length) + head + datagram.payload) or 0xFFFF
    return head[:6] + csum.to_bytes(2, "big") + datagram.payload


def decode_udp(data: bytes, src_ip: bytes, dst_ip: bytes) -> UdpDatagram:
    """Decode UDP, checking the length and (when not 0) the checksum.

    @raise ZepError: C{truncated}, C{bad_udp_length}, C{bad_udp_checksum}.
    """
    if len(data) < 8:
        raise ZepError("truncated", "udp", len(data), f"a UDP header is 8 bytes, got {len(data)}")
    src_port, dst_port, length, csum = struct.unpack_from(">HHHH", data)
    if not 8 <= length <= len(data):
        raise ZepError("bad_udp_length", "udp.length", 4, f"UDP length {length} with {len(data)} bytes present")
    data = bytes(data[:length])
    if csum and internet_checksum(_pseudo_header(src_ip, dst_ip, length) + data) != 0:
        raise ZepError("bad_udp_checksum", "udp.checksum", 6, "UDP checksum is wrong")
    return UdpDatagram(src_port, dst_port, data[8:])


@dataclass(frozen=True, slots=True)
class ArpPacket:
    """An Ethernet/IPv4 ARP packet (C{operation} 1 request, 2 reply)."""

    operation: int
    sender_mac: bytes
    sender_ip: bytes
    target_mac: bytes
    target_ip: bytes


def encode_arp(packet: ArpPacket) -> bytes:
    return struct.pack(">HHBBH6s4s6s4s", 1, ETHERTYPE_IPV4, 6, 4, packet.operation, packet.sender_mac,
                       packet.sender_ip, packet.target_mac, packet.target_ip)


def decode_arp(data: bytes) -> ArpPacket:
    """@raise ZepError: C{truncated} or C{bad_arp} (not Ethernet/IPv4 ARP)."""
    if len(data) < 28:
        raise ZepError("truncated", "arp", len(data), f"an Ethernet/IPv4 ARP packet is 28 bytes, got {len(data)}")
    htype, ptype, hlen, plen, op, smac, sip, tmac, tip = struct.unpack_from(">HHBBH6s4s6s4s", data)
    if (htype, ptype, hlen, plen) != (1, ETHERTYPE_IPV4, 6, 4):
        raise ZepError("bad_arp", "arp.hw.type", 0, "not an Ethernet/IPv4 ARP packet")
    return ArpPacket(op, smac, sip, tmac, tip)


# -- addresses ---------------------------------------------------------------------------------

def bridge_addresses(name: str) -> tuple[bytes, bytes]:
    """The deterministic synthetic (MAC, IPv4) of the bridge of medium C{name}.

    MAC: locally administered unicast C{02:5A:45:xx:xx:xx} ("ZE"); IPv4: in the IPv4
    link-local range 169.254.1.0-169.254.254.255 (RFC 3927: the first and last /24 are
    reserved).  Both come from SHA-256 of the name, so a home keeps its addresses run to run.
    """
    h = hashlib.sha256(b"smets-tap\x00" + name.encode("utf-8")).digest()
    mac = b"\x02\x5a\x45" + h[:3]
    ip = bytes((169, 254, 1 + h[3] % 254, 1 + h[4] % 254))
    return mac, ip


def format_mac(mac: bytes) -> str:
    return ":".join(f"{b:02x}" for b in mac)


def format_ip(ip: bytes) -> str:
    return ".".join(str(b) for b in ip)
