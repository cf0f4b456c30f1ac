"""SMWAN frame codec: the framing between the DCC's CSP gateway (DSP side) and a Communications Hub.

The real interface between a CSP and the DSP ("DCC SMWAN Gateway Interface", e2e architecture
4.2.5.3, flow WAN01 in table 4.3.2) is internal to DCC and unpublished; each CSP uses "a network
protocol specific to the respective WAN" to carry the 'HAN Ready' GBCS messages.  This module
defines the emulator's own framing for that flow (one layout for every CSP; the regions differ in
their link profiles, L{protocols.smwan.profiles}).

Layout (all integers big-endian), declared once in L{HEADER}::

    offset size field
         0    2 magic       0x53 0x57 ("SW")
         2    1 version     1
         3    1 type        FrameType
         4    1 flags       bit 0 MORE_SEGMENTS (DATA only)
         5    1 segment     index of this segment of the GBCS message (DATA only, else 0)
         6    2 length      number of payload octets that follow the header
         8    8 eui64       the Communications Hub's EUI-64 (both directions)
        16    4 seq         DATA: the message's per-direction sequence number
        20    4 ack         cumulative acknowledgement: next sequence number expected from the peer
        24    n payload     DATA: (a segment of) one GBCS message; DETACH: 1 octet reason
      24+n    4 crc32       CRC-32 (IEEE 802.3, as zlib.crc32) of every octet before it

Frame types: ATTACH (hub -> DCC: opens or resumes the hub's session; C{ack} says which downlink
messages the hub already has), ATTACH_ACK (DCC -> hub; C{ack} for the uplink), KEEPALIVE (hub ->
DCC, echoed by the DCC), DATA, DATA_ACK, DETACH (either side; graceful end of the attachment).

Over TCP the frames follow each other on the byte stream (L{FrameReader} splits them using the
length field); over an emulated WAN link each link frame is one SMWAN frame (L{decode_frame}).
"""

from __future__ import annotations

import enum
import struct
import zlib
from dataclasses import dataclass

from protocols._fast import fast_constructor
from protocols.errors import CodecError

__all__ = ["MAGIC", "VERSION", "HEADER", "HEADER_SIZE", "TRAILER_SIZE", "OVERHEAD", "MAX_PAYLOAD",
           "FrameType", "DetachReason", "FLAG_MORE_SEGMENTS", "Frame", "encode_frame", "decode_frame",
           "FrameReader"]

MAGIC = b"SW"
VERSION = 1
FLAG_MORE_SEGMENTS = 0x01
_KNOWN_FLAGS = FLAG_MORE_SEGMENTS

#: the header layout: (field, struct code, size); drives encode, decode and error offsets
HEADER: tuple[tuple[str, str, int], ...] = (
    ("magic", "2s", 2),
    ("version", "B", 1),
    ("type", "B", 1),
    ("flags", "B", 1),
    ("segment", "B", 1),
    ("length", "H", 2),
    ("eui64", "Q", 8),
    ("seq", "I", 4),
    ("ack", "I", 4),
)
_HEADER = struct.Struct(">" + "".join(code for _, code, _ in HEADER))
HEADER_SIZE = _HEADER.size
_OFFSETS = {}
_o = 0
for _name, _code, _size in HEADER:
    _OFFSETS[_name] = _o
    _o += _size
del _o, _name, _code, _size
TRAILER_SIZE = 4
OVERHEAD = HEADER_SIZE + TRAILER_SIZE
MAX_PAYLOAD = 0xFFFF
_CRC = struct.Struct(">I")


class FrameType(enum.IntEnum):
    ATTACH = 1
    ATTACH_ACK = 2
    KEEPALIVE = 3
    DATA = 4
    DATA_ACK = 5
    DETACH = 6


class DetachReason(enum.IntEnum):
    NORMAL = 0
    SHUTDOWN = 1
    PROTOCOL_ERROR = 2
    SUPERSEDED = 3  # the hub attached again on another connection


@dataclass(frozen=True, slots=True)
class Frame:
    """One SMWAN frame (see the module docstring for the layout)."""

    type: FrameType
    eui64: int
    seq: int = 0
    ack: int = 0
    payload: bytes = b""
    more_segments: bool = False
    segment: int = 0

    def __post_init__(self) -> None:
        _check(self)


def _check(f: Frame, base: int = 0) -> None:
    """Validate a frame being built (field ranges, then the per-type payload rules)."""
    if not isinstance(f.type, FrameType):
        raise CodecError("type", base + _OFFSETS["type"], f"unknown frame type {f.type!r}")
    if not 0 <= f.eui64 <= 0xFFFF_FFFF_FFFF_FFFF:
        raise CodecError("eui64", base + _OFFSETS["eui64"], f"EUI-64 out of range: {f.eui64!r}")
    for name in ("seq", "ack"):
        value = getattr(f, name)
        if not 0 <= value <= 0xFFFF_FFFF:
            raise CodecError(name, base + _OFFSETS[name], f"must fit 32 bits, got {value!r}")
    if not 0 <= f.segment <= 0xFF:
        raise CodecError("segment", base + _OFFSETS["segment"], f"must fit 8 bits, got {f.segment!r}")
    if len(f.payload) > MAX_PAYLOAD:
        raise CodecError("length", base + _OFFSETS["length"], f"payload of {len(f.payload)} octets exceeds {MAX_PAYLOAD}")
    _check_payload(f.type, f.payload, f.more_segments, f.segment, base)


def _check_payload(ftype: FrameType, payload: bytes, more: bool, segment: int, base: int) -> None:
    """The per-type rules (also all a decoded frame needs: the header fields are in range)."""
    if ftype is FrameType.DATA:
        if not payload:
            raise CodecError("payload", base + HEADER_SIZE, "DATA frame without a GBCS message")
        return
    if more or segment:
        raise CodecError("flags", base + _OFFSETS["flags"], f"segmentation is only allowed on DATA, not {ftype.name}")
    if ftype is FrameType.DETACH:
        if len(payload) != 1:
            raise CodecError("payload", base + HEADER_SIZE, f"DETACH carries 1 reason octet, got {len(payload)}")
    elif payload:
        raise CodecError("payload", base + HEADER_SIZE, f"{ftype.name} carries no payload, got {len(payload)} octets")


_make_frame = fast_constructor(Frame)
_TYPES = {int(t): t for t in FrameType}


def encode_frame(f: Frame) -> bytes:
    """Return the bytes of C{f}, CRC included."""
    head = _HEADER.pack(MAGIC, VERSION, f.type, FLAG_MORE_SEGMENTS if f.more_segments else 0, f.segment,
                        len(f.payload), f.eui64, f.seq, f.ack)
    body = head + f.payload
    return body + _CRC.pack(zlib.crc32(body))


def _decode_at(buf: bytes, base: int) -> tuple[Frame, int]:
    """Decode the frame starting at C{buf[base]}; return it and the offset after it."""
    if len(buf) - base < HEADER_SIZE:
        raise CodecError("header", base + len(buf) - base, f"truncated: {len(buf) - base} of {HEADER_SIZE} header octets")
    magic, version, ftype, flags, segment, length, eui64, seq, ack = _HEADER.unpack_from(buf, base)
    if magic != MAGIC:
        raise CodecError("magic", base, f"expected {MAGIC.hex()}, got {magic.hex()}")
    if version != VERSION:
        raise CodecError("version", base + _OFFSETS["version"], f"unsupported version {version}")
    ftype = _TYPES.get(ftype)
    if ftype is None:
        raise CodecError("type", base + _OFFSETS["type"], f"unknown frame type {buf[base + 3]}")
    if flags & ~_KNOWN_FLAGS:
        raise CodecError("flags", base + _OFFSETS["flags"], f"unknown flag bits {flags & ~_KNOWN_FLAGS:#04x}")
    end = base + HEADER_SIZE + length
    if len(buf) < end + TRAILER_SIZE:
        raise CodecError("payload", base + HEADER_SIZE,
                         f"truncated: length says {length} payload octets + 4 CRC octets, "
                         f"{len(buf) - base - HEADER_SIZE} present")
    (crc,) = _CRC.unpack_from(buf, end)
    actual = zlib.crc32(memoryview(buf)[base:end])
    if crc != actual:
        raise CodecError("crc32", end, f"CRC-32 {crc:08x} does not match the frame ({actual:08x})")
    payload = bytes(buf[base + HEADER_SIZE:end])
    more = bool(flags & FLAG_MORE_SEGMENTS)
    _check_payload(ftype, payload, more, segment, base)
    return _make_frame(ftype, eui64, seq, ack, payload, more, segment), end + TRAILER_SIZE


def decode_frame(data: bytes) -> Frame:
    """Decode exactly one frame (a datagram from an emulated WAN link).

    @raise CodecError: malformed, truncated, trailing octets or a bad CRC.
    """
    frame, end = _decode_at(data, 0)
    if end != len(data):
        raise CodecError("crc32", end, f"{len(data) - end} octets after the frame")
    return frame


class FrameReader:
    """Split a byte stream (TCP) into frames.

    After a L{CodecError} the stream cannot be re-synchronised: the caller drops the connection.
    """

    __slots__ = ("_buf",)

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[Frame]:
        """Add received octets; return the frames they complete (possibly none)."""
        buf = self._buf
        buf += data
        out: list[Frame] = []
        start = 0
        while len(buf) > start:
            head = bytes(buf[start:start + 2])
            if head != MAGIC[:len(head)]:  # checked at once, so garbage never waits for a header
                raise CodecError("magic", start, f"expected {MAGIC.hex()}, got {head.hex()}")
            if len(buf) - start < HEADER_SIZE:
                break
            length = (buf[start + 6] << 8) | buf[start + 7]
            if len(buf) - start < HEADER_SIZE + length + TRAILER_SIZE:
                break
            n = HEADER_SIZE + length + TRAILER_SIZE
            out.append(_decode_at(bytes(buf[start:start + n]), 0)[0])
            start += n
        del buf[:start]
        return out

    @property
    def buffered(self) -> int:
        """Octets held waiting for the rest of a frame."""
        return len(self._buf)
