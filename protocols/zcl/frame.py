"""ZCL frame: header (frame control, manufacturer code, transaction sequence number, command
identifier) and payload.

Implements ZigBee Cluster Library (07-5123) section 2.4.1, "General ZCL Frame Format":

  frame control (1) | [manufacturer code (2, LE) if manufacturer-specific] | TSN (1) |
  command identifier (1) | payload

Frame control bits: 0-1 frame type (0 = profile-wide "global" command, 1 = cluster-specific
command, 2-3 reserved), 2 manufacturer-specific, 3 direction (0 = client to server, 1 = server
to client), 4 disable default response, 5-7 reserved (ignored on receipt, sent as zero).
"""

from __future__ import annotations

from dataclasses import dataclass

from protocols.errors import CodecError
from protocols._fast import fast_init

__all__ = [
    "ZclFrame", "encode_zcl", "decode_zcl", "decode_header", "encode_header",
    "FRAME_TYPE_GLOBAL", "FRAME_TYPE_CLUSTER",
    "DIRECTION_CLIENT_TO_SERVER", "DIRECTION_SERVER_TO_CLIENT",
]

FRAME_TYPE_GLOBAL = 0
FRAME_TYPE_CLUSTER = 1
DIRECTION_CLIENT_TO_SERVER = 0
DIRECTION_SERVER_TO_CLIENT = 1

_MANUFACTURER_SPECIFIC = 0x04
_DIRECTION = 0x08
_DISABLE_DEFAULT_RESPONSE = 0x10


@fast_init
@dataclass(frozen=True, slots=True)
class ZclFrame:
    """One ZCL frame.

    @ivar frame_type: L{FRAME_TYPE_GLOBAL} (profile-wide command) or L{FRAME_TYPE_CLUSTER}.
    @ivar command_id: the command identifier.
    @ivar tsn: transaction sequence number (0-255).
    @ivar payload: the command payload octets.
    @ivar direction: L{DIRECTION_CLIENT_TO_SERVER} or L{DIRECTION_SERVER_TO_CLIENT}.
    @ivar disable_default_response: the frame control's "disable default response" bit.
    @ivar manufacturer_code: the manufacturer code, or C{None} if the frame is not
        manufacturer-specific.
    """
    frame_type: int
    command_id: int
    tsn: int
    payload: bytes = b""
    direction: int = DIRECTION_CLIENT_TO_SERVER
    disable_default_response: bool = False
    manufacturer_code: int | None = None

    @property
    def frame_control(self) -> int:
        """The frame control octet."""
        fc = self.frame_type
        if self.manufacturer_code is not None:
            fc |= _MANUFACTURER_SPECIFIC
        if self.direction:
            fc |= _DIRECTION
        if self.disable_default_response:
            fc |= _DISABLE_DEFAULT_RESPONSE
        return fc

    @property
    def is_global(self) -> bool:
        """C{True} for a profile-wide (global) command."""
        return self.frame_type == FRAME_TYPE_GLOBAL

    @property
    def is_cluster_specific(self) -> bool:
        """C{True} for a cluster-specific command."""
        return self.frame_type == FRAME_TYPE_CLUSTER


def encode_zcl(frame: ZclFrame) -> bytes:
    """Encode a L{ZclFrame} to octets.

    @raise CodecError: a header field out of range.
    """
    ft = frame.frame_type
    fc = ft
    if frame.direction:
        fc |= _DIRECTION
    if frame.disable_default_response:
        fc |= _DISABLE_DEFAULT_RESPONSE
    tsn = frame.tsn
    cmd = frame.command_id
    if ft not in (0, 1) or frame.direction not in (0, 1):
        raise CodecError("frame_control", 0, "frame type and direction must be 0 or 1")
    if not (0 <= tsn <= 0xFF and 0 <= cmd <= 0xFF):
        raise CodecError("tsn" if not 0 <= tsn <= 0xFF else "command_id", 0,
                         "must be 0-255")
    mfr = frame.manufacturer_code
    if mfr is None:
        return bytes((fc, tsn, cmd)) + frame.payload
    if not 0 <= mfr <= 0xFFFF:
        raise CodecError("manufacturer_code", 1, "must be 0-0xFFFF")
    return bytes((fc | _MANUFACTURER_SPECIFIC, mfr & 0xFF, mfr >> 8, tsn, cmd)) + frame.payload


def decode_header(data: bytes, offset: int = 0) -> tuple[int, int | None, int, int, int]:
    """Decode the ZCL header at C{data[offset]} keeping the frame control octet as sent.

    For codecs that must give back the very same octets (GBCS GBZ components): reserved
    frame-control bits are kept.

    @return: C{(frame_control, manufacturer_code or None, tsn, command_id, payload offset)}.
    @raise CodecError: truncated header or reserved frame type.
    """
    n = len(data)
    if offset >= n:
        raise CodecError("frame_control", offset, "ZCL header truncated")
    fc = data[offset]
    if fc & 0x03 > 1:
        raise CodecError("frame_control", offset, f"reserved frame type in 0x{fc:02X}")
    pos = offset + 1
    mfr = None
    if fc & _MANUFACTURER_SPECIFIC:
        if pos + 2 > n:
            raise CodecError("manufacturer_code", pos, "ZCL header truncated")
        mfr = data[pos] | (data[pos + 1] << 8)
        pos += 2
    if pos + 2 > n:
        raise CodecError("command_id", pos, "ZCL header truncated")
    return fc, mfr, data[pos], data[pos + 1], pos + 2


def encode_header(frame_control: int, manufacturer_code: int | None, tsn: int,
                  command_id: int) -> bytes:
    """Encode a ZCL header from its frame control octet as given (inverse of
    L{decode_header}); the manufacturer code is sent when bit 2 of C{frame_control} is set."""
    if frame_control & _MANUFACTURER_SPECIFIC:
        return bytes((frame_control, manufacturer_code & 0xFF, manufacturer_code >> 8, tsn,
                      command_id))
    return bytes((frame_control, tsn, command_id))


def decode_zcl(data: bytes) -> ZclFrame:
    """Decode a ZCL frame (an APS data payload with a ZCL profile).

    @raise CodecError: truncated header or reserved frame type.
    """
    n = len(data)
    if n < 3:
        raise CodecError("frame_control", 0, f"ZCL header truncated ({n} octets)")
    fc = data[0]
    ft = fc & 0x03
    if ft > 1:
        raise CodecError("frame_control.frame_type", 0, f"reserved frame type {ft}")
    if fc & _MANUFACTURER_SPECIFIC:
        if n < 5:
            raise CodecError("manufacturer_code", 1,
                             f"manufacturer-specific ZCL header truncated ({n} octets)")
        return ZclFrame(ft, data[4], data[3], bytes(data[5:]), (fc >> 3) & 1,
                        bool(fc & _DISABLE_DEFAULT_RESPONSE), data[1] | (data[2] << 8))
    return ZclFrame(ft, data[2], data[1], bytes(data[3:]), (fc >> 3) & 1,
                    bool(fc & _DISABLE_DEFAULT_RESPONSE), None)
