"""Internet checksum (RFC 1071), the one the IPv4, TCP and UDP codecs of captures and TAPs share,
and the pcap link type of raw IPv4 packets they are captured as."""

from __future__ import annotations

import struct

__all__ = ["internet_checksum", "LINKTYPE_IPV4"]

#: pcap link type: raw IPv4 packets, no link-layer header
LINKTYPE_IPV4 = 228


def internet_checksum(data: bytes) -> int:
    """The 16-bit ones' complement of the ones' complement sum of C{data}'s 16-bit words
    (odd length padded with a zero byte): IPv4 header, TCP and UDP checksums."""
    if len(data) % 2:
        data = data + b"\x00"
    total = sum(struct.unpack(f">{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF
