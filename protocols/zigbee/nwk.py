"""ZigBee PRO network layer (NWK) frames and NWK commands.

Implements ZigBee PRO (05-3474) 3.3 "Frame formats" (general NWK frame: frame control,
destination / source short addresses, radius, sequence number, destination / source
IEEE addresses, multicast control, source route subframe) and 3.4 "Command frames"
(Route Request/Reply, Network Status, Leave, Route Record, Rejoin Request/Response,
Link Status, Network Report/Update are not covered, End Device Timeout Request/Response,
Link Power Delta is not covered).  Field layout as verified with tshark in
han-zigbee-wireshark.md section 3.1.

L{NwkFrame.payload} holds everything after the NWK header: for an unsecured frame the
APS frame or NWK command; for a secured frame (C{security} set) the auxiliary security
header, the encrypted payload and the MIC, exactly as on the air.  Use
L{protocols.zigbee.security.secure_nwk} / L{unsecure_nwk} to get at the plaintext.

Addresses are ints: short addresses as numbers, IEEE addresses (EUI-64) as the
big-endian "as printed" value; the codec writes them little-endian as on the air.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from protocols.errors import CodecError
from protocols._fast import fast_constructor, fast_init

__all__ = [
    "NWK_FRAME_DATA", "NWK_FRAME_COMMAND", "NWK_FRAME_INTERPAN",
    "NWK_PROTOCOL_VERSION",
    "BROADCAST_ALL", "BROADCAST_RX_ON_WHEN_IDLE", "BROADCAST_ROUTERS", "BROADCAST_LOW_POWER_ROUTERS",
    "SourceRoute", "NwkFrame", "encode_nwk", "encode_nwk_header", "decode_nwk", "nwk_header_length",
    "NWK_CMD_ROUTE_REQUEST", "NWK_CMD_ROUTE_REPLY", "NWK_CMD_NETWORK_STATUS", "NWK_CMD_LEAVE",
    "NWK_CMD_ROUTE_RECORD", "NWK_CMD_REJOIN_REQUEST", "NWK_CMD_REJOIN_RESPONSE",
    "NWK_CMD_LINK_STATUS", "NWK_CMD_NETWORK_REPORT", "NWK_CMD_NETWORK_UPDATE",
    "NWK_CMD_END_DEVICE_TIMEOUT_REQUEST", "NWK_CMD_END_DEVICE_TIMEOUT_RESPONSE",
    "NWK_CMD_LINK_POWER_DELTA",
    "RouteRequest", "RouteReply", "NetworkStatus", "Leave", "RouteRecord", "RejoinRequest",
    "RejoinResponse", "LinkStatusEntry", "LinkStatus", "EndDeviceTimeoutRequest",
    "EndDeviceTimeoutResponse", "encode_nwk_command", "decode_nwk_command",
]

NWK_FRAME_DATA = 0
NWK_FRAME_COMMAND = 1
NWK_FRAME_INTERPAN = 3
NWK_PROTOCOL_VERSION = 2

BROADCAST_ALL = 0xFFFF
BROADCAST_RX_ON_WHEN_IDLE = 0xFFFD
BROADCAST_ROUTERS = 0xFFFC
BROADCAST_LOW_POWER_ROUTERS = 0xFFFB

# frame control bits
_FC_MULTICAST = 1 << 8
_FC_SECURITY = 1 << 9
_FC_SOURCE_ROUTE = 1 << 10
_FC_DST_IEEE = 1 << 11
_FC_SRC_IEEE = 1 << 12
_FC_END_DEVICE_INITIATOR = 1 << 13

_HDR = struct.Struct("<HHHBB")  # frame control, destination, source, radius, sequence number
_Q = struct.Struct("<Q")
_H = struct.Struct("<H")


@dataclass(frozen=True, slots=True)
class SourceRoute:
    """Source route subframe: relay index and relay list (short addresses, 3.3.1.9)."""

    relay_index: int
    relays: tuple[int, ...]


@fast_init
@dataclass(frozen=True, slots=True)
class NwkFrame:
    """A NWK frame (3.3.1).  Optional fields are C{None} when absent.

    The frame-control presence bits (multicast, source route, destination / source IEEE)
    follow from the optional fields; C{security} is the security bit (C{payload} then
    starts with the auxiliary security header).
    """

    dst: int
    src: int
    seq: int
    payload: bytes = b""
    frame_type: int = NWK_FRAME_DATA
    protocol_version: int = NWK_PROTOCOL_VERSION
    discover_route: int = 0
    security: bool = False
    radius: int = 30
    dst_ieee: int | None = None
    src_ieee: int | None = None
    multicast_control: int | None = None
    source_route: SourceRoute | None = None
    end_device_initiator: bool = False

    def frame_control(self) -> int:
        """Return the 16-bit frame control value for this frame."""
        fc = (self.frame_type & 3) | ((self.protocol_version & 0xF) << 2) | ((self.discover_route & 3) << 6)
        if self.multicast_control is not None:
            fc |= _FC_MULTICAST
        if self.security:
            fc |= _FC_SECURITY
        if self.source_route is not None:
            fc |= _FC_SOURCE_ROUTE
        if self.dst_ieee is not None:
            fc |= _FC_DST_IEEE
        if self.src_ieee is not None:
            fc |= _FC_SRC_IEEE
        if self.end_device_initiator:
            fc |= _FC_END_DEVICE_INITIATOR
        return fc


#: Positional, unvalidated NwkFrame constructor for decoders (field order of NwkFrame).
_make_nwk = fast_constructor(NwkFrame)


def encode_nwk_header(frame: NwkFrame, force_security: bool = False) -> bytes:
    """Encode the NWK header only (everything before the payload).

    @param force_security: set the security bit even if C{frame.security} is false
        (used by L{protocols.zigbee.security.secure_nwk}).
    """
    dst_ieee = frame.dst_ieee
    src_ieee = frame.src_ieee
    mcast = frame.multicast_control
    sr = frame.source_route
    fc = ((frame.frame_type & 3) | ((frame.protocol_version & 0xF) << 2) | ((frame.discover_route & 3) << 6)
          | (_FC_SECURITY if (frame.security or force_security) else 0)
          | (_FC_END_DEVICE_INITIATOR if frame.end_device_initiator else 0))
    try:
        if dst_ieee is None and src_ieee is None and mcast is None and sr is None:
            return _HDR.pack(fc, frame.dst, frame.src, frame.radius, frame.seq)
        fc |= ((_FC_DST_IEEE if dst_ieee is not None else 0) | (_FC_SRC_IEEE if src_ieee is not None else 0)
               | (_FC_MULTICAST if mcast is not None else 0) | (_FC_SOURCE_ROUTE if sr is not None else 0))
        out = _HDR.pack(fc, frame.dst, frame.src, frame.radius, frame.seq)
        if dst_ieee is not None:
            out += _Q.pack(dst_ieee)
        if src_ieee is not None:
            out += _Q.pack(src_ieee)
        if mcast is not None:
            out += bytes((mcast,))
        if sr is not None:
            out += bytes((len(sr.relays), sr.relay_index)) + b"".join(_H.pack(r) for r in sr.relays)
    except (struct.error, ValueError, TypeError, OverflowError) as e:
        raise CodecError("nwk", 0, f"cannot encode: {e}") from None
    return out


def encode_nwk(frame: NwkFrame) -> bytes:
    """Encode a NWK frame: header followed by C{frame.payload} as is."""
    return encode_nwk_header(frame) + frame.payload


def _parse_header(data: bytes) -> tuple[tuple, int]:
    """Parse a NWK header; return (field tuple, header length).  Raises CodecError."""
    n = len(data)
    if n < 8:
        raise CodecError("nwk.header", 0, f"truncated: {n} < 8 bytes")
    fc, dst, src, radius, seq = _HDR.unpack_from(data, 0)
    ftype = fc & 3
    if ftype == 2:
        raise CodecError("nwk.frame_control.frame_type", 0, "reserved frame type 2")
    off = 8
    dst_ieee = src_ieee = mcast = sroute = None
    if fc & _FC_DST_IEEE:
        if off + 8 > n:
            raise CodecError("nwk.dst_ieee", off, "truncated")
        dst_ieee = _Q.unpack_from(data, off)[0]
        off += 8
    if fc & _FC_SRC_IEEE:
        if off + 8 > n:
            raise CodecError("nwk.src_ieee", off, "truncated")
        src_ieee = _Q.unpack_from(data, off)[0]
        off += 8
    if fc & _FC_MULTICAST:
        if off >= n:
            raise CodecError("nwk.multicast_control", off, "truncated")
        mcast = data[off]
        off += 1
    if fc & _FC_SOURCE_ROUTE:
        if off + 2 > n:
            raise CodecError("nwk.source_route", off, "truncated")
        count = data[off]
        index = data[off + 1]
        end = off + 2 + 2 * count
        if end > n:
            raise CodecError("nwk.source_route.relay_list", off + 2, "truncated")
        relays = struct.unpack_from(f"<{count}H", data, off + 2)
        sroute = SourceRoute(index, relays)
        off = end
    return (ftype, (fc >> 2) & 0xF, (fc >> 6) & 3, bool(fc & _FC_SECURITY), radius,
            dst, src, seq, dst_ieee, src_ieee, mcast, sroute, bool(fc & _FC_END_DEVICE_INITIATOR)), off


def nwk_header_length(data: bytes) -> int:
    """Return the length of the NWK header at the start of C{data}."""
    return _parse_header(data)[1]


def decode_nwk(data: bytes) -> NwkFrame:
    """Decode a NWK frame (header + raw payload).  Raises CodecError on bad input."""
    if type(data) is not bytes:
        data = bytes(data)
    (ftype, ver, disc, sec, radius, dst, src, seq, dst_ieee, src_ieee, mcast, sroute, edi), off = \
        _parse_header(data)
    return _make_nwk(dst, src, seq, data[off:], ftype, ver, disc, sec, radius,
                     dst_ieee, src_ieee, mcast, sroute, edi)


# --------------------------------------------------------------------------------------
# NWK commands (3.4)

NWK_CMD_ROUTE_REQUEST = 0x01
NWK_CMD_ROUTE_REPLY = 0x02
NWK_CMD_NETWORK_STATUS = 0x03
NWK_CMD_LEAVE = 0x04
NWK_CMD_ROUTE_RECORD = 0x05
NWK_CMD_REJOIN_REQUEST = 0x06
NWK_CMD_REJOIN_RESPONSE = 0x07
NWK_CMD_LINK_STATUS = 0x08
NWK_CMD_NETWORK_REPORT = 0x09
NWK_CMD_NETWORK_UPDATE = 0x0A
NWK_CMD_END_DEVICE_TIMEOUT_REQUEST = 0x0B
NWK_CMD_END_DEVICE_TIMEOUT_RESPONSE = 0x0C
NWK_CMD_LINK_POWER_DELTA = 0x0D


@dataclass(frozen=True, slots=True)
class RouteRequest:
    """Route Request (3.4.1): options bits 3-4 many-to-one, bit 5 destination IEEE present,
    bit 6 multicast; the IEEE bit follows from C{dst_ieee}."""

    COMMAND_ID = NWK_CMD_ROUTE_REQUEST
    route_request_id: int
    dst: int
    path_cost: int
    many_to_one: int = 0
    multicast: bool = False
    dst_ieee: int | None = None


@dataclass(frozen=True, slots=True)
class RouteReply:
    """Route Reply (3.4.2): options bit 4 originator IEEE, bit 5 responder IEEE, bit 6 multicast."""

    COMMAND_ID = NWK_CMD_ROUTE_REPLY
    route_request_id: int
    originator: int
    responder: int
    path_cost: int
    multicast: bool = False
    originator_ieee: int | None = None
    responder_ieee: int | None = None


@dataclass(frozen=True, slots=True)
class NetworkStatus:
    """Network Status (3.4.3): status code and the destination address it concerns."""

    COMMAND_ID = NWK_CMD_NETWORK_STATUS
    status: int
    dst: int


@dataclass(frozen=True, slots=True)
class Leave:
    """Leave (3.4.4): options bit 5 rejoin, bit 6 request, bit 7 remove children."""

    COMMAND_ID = NWK_CMD_LEAVE
    rejoin: bool = False
    request: bool = False
    remove_children: bool = False


@dataclass(frozen=True, slots=True)
class RouteRecord:
    """Route Record (3.4.5): relay list (short addresses)."""

    COMMAND_ID = NWK_CMD_ROUTE_RECORD
    relays: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class RejoinRequest:
    """Rejoin Request (3.4.6): capability information (same bits as MAC association)."""

    COMMAND_ID = NWK_CMD_REJOIN_REQUEST
    capability: int


@dataclass(frozen=True, slots=True)
class RejoinResponse:
    """Rejoin Response (3.4.7): new network address and rejoin status."""

    COMMAND_ID = NWK_CMD_REJOIN_RESPONSE
    network_address: int
    status: int


@dataclass(frozen=True, slots=True)
class LinkStatusEntry:
    """One link status entry: neighbour short address, incoming and outgoing cost (0-7)."""

    address: int
    incoming_cost: int
    outgoing_cost: int


@dataclass(frozen=True, slots=True)
class LinkStatus:
    """Link Status (3.4.8): options (count in bits 0-4, bit 5 first frame, bit 6 last frame)."""

    COMMAND_ID = NWK_CMD_LINK_STATUS
    entries: tuple[LinkStatusEntry, ...] = ()
    first_frame: bool = True
    last_frame: bool = True


@dataclass(frozen=True, slots=True)
class EndDeviceTimeoutRequest:
    """End Device Timeout Request (3.4.11): requested timeout enumeration and configuration."""

    COMMAND_ID = NWK_CMD_END_DEVICE_TIMEOUT_REQUEST
    requested_timeout: int
    configuration: int = 0


@dataclass(frozen=True, slots=True)
class EndDeviceTimeoutResponse:
    """End Device Timeout Response (3.4.12): status and parent information bitmap."""

    COMMAND_ID = NWK_CMD_END_DEVICE_TIMEOUT_RESPONSE
    status: int
    parent_information: int = 0


NwkCommand = (RouteRequest | RouteReply | NetworkStatus | Leave | RouteRecord | RejoinRequest
              | RejoinResponse | LinkStatus | EndDeviceTimeoutRequest | EndDeviceTimeoutResponse)


def encode_nwk_command(cmd: NwkCommand) -> bytes:
    """Encode a NWK command payload (command identifier first)."""
    try:
        cid = cmd.COMMAND_ID
        if isinstance(cmd, RouteRequest):
            opts = ((cmd.many_to_one & 3) << 3) | (0x20 if cmd.dst_ieee is not None else 0) \
                | (0x40 if cmd.multicast else 0)
            out = struct.pack("<BBBHB", cid, opts, cmd.route_request_id, cmd.dst, cmd.path_cost)
            if cmd.dst_ieee is not None:
                out += _Q.pack(cmd.dst_ieee)
            return out
        if isinstance(cmd, RouteReply):
            opts = (0x10 if cmd.originator_ieee is not None else 0) \
                | (0x20 if cmd.responder_ieee is not None else 0) | (0x40 if cmd.multicast else 0)
            out = struct.pack("<BBBHHB", cid, opts, cmd.route_request_id, cmd.originator,
                              cmd.responder, cmd.path_cost)
            if cmd.originator_ieee is not None:
                out += _Q.pack(cmd.originator_ieee)
            if cmd.responder_ieee is not None:
                out += _Q.pack(cmd.responder_ieee)
            return out
        if isinstance(cmd, NetworkStatus):
            return struct.pack("<BBH", cid, cmd.status, cmd.dst)
        if isinstance(cmd, Leave):
            opts = (0x20 if cmd.rejoin else 0) | (0x40 if cmd.request else 0) \
                | (0x80 if cmd.remove_children else 0)
            return bytes((cid, opts))
        if isinstance(cmd, RouteRecord):
            return struct.pack(f"<BB{len(cmd.relays)}H", cid, len(cmd.relays), *cmd.relays)
        if isinstance(cmd, RejoinRequest):
            return bytes((cid, cmd.capability))
        if isinstance(cmd, RejoinResponse):
            return struct.pack("<BHB", cid, cmd.network_address, cmd.status)
        if isinstance(cmd, LinkStatus):
            n = len(cmd.entries)
            if n > 31:
                raise CodecError("nwk.link_status.entries", 0, "more than 31 entries")
            opts = n | (0x20 if cmd.first_frame else 0) | (0x40 if cmd.last_frame else 0)
            out = bytearray((cid, opts))
            for e in cmd.entries:
                out += struct.pack("<HB", e.address, (e.incoming_cost & 7) | ((e.outgoing_cost & 7) << 4))
            return bytes(out)
        if isinstance(cmd, EndDeviceTimeoutRequest):
            return bytes((cid, cmd.requested_timeout, cmd.configuration))
        if isinstance(cmd, EndDeviceTimeoutResponse):
            return bytes((cid, cmd.status, cmd.parent_information))
    except (struct.error, ValueError, TypeError, OverflowError) as e:
        raise CodecError("nwk.command", 0, f"cannot encode: {e}") from None
    raise CodecError("nwk.command", 0, f"unsupported command object {type(cmd).__name__}")


def _need(data: bytes, end: int, fieldname: str, off: int) -> None:
    if end > len(data):
        raise CodecError(fieldname, off, f"truncated: need {end} bytes, have {len(data)}")


def decode_nwk_command(data: bytes) -> NwkCommand:
    """Decode a NWK command payload (plaintext, command identifier first)."""
    data = bytes(data)
    _need(data, 1, "nwk.command.id", 0)
    cid = data[0]
    if cid == NWK_CMD_ROUTE_REQUEST:
        _need(data, 6, "nwk.route_request", 1)
        opts, rid, dst, cost = struct.unpack_from("<BBHB", data, 1)
        ieee = None
        if opts & 0x20:
            _need(data, 14, "nwk.route_request.dst_ieee", 6)
            ieee = _Q.unpack_from(data, 6)[0]
        return RouteRequest(rid, dst, cost, (opts >> 3) & 3, bool(opts & 0x40), ieee)
    if cid == NWK_CMD_ROUTE_REPLY:
        _need(data, 8, "nwk.route_reply", 1)
        opts, rid, orig, resp, cost = struct.unpack_from("<BBHHB", data, 1)
        off = 8
        oi = ri = None
        if opts & 0x10:
            _need(data, off + 8, "nwk.route_reply.originator_ieee", off)
            oi = _Q.unpack_from(data, off)[0]
            off += 8
        if opts & 0x20:
            _need(data, off + 8, "nwk.route_reply.responder_ieee", off)
            ri = _Q.unpack_from(data, off)[0]
        return RouteReply(rid, orig, resp, cost, bool(opts & 0x40), oi, ri)
    if cid == NWK_CMD_NETWORK_STATUS:
        _need(data, 4, "nwk.network_status", 1)
        status, dst = struct.unpack_from("<BH", data, 1)
        return NetworkStatus(status, dst)
    if cid == NWK_CMD_LEAVE:
        _need(data, 2, "nwk.leave.options", 1)
        o = data[1]
        return Leave(bool(o & 0x20), bool(o & 0x40), bool(o & 0x80))
    if cid == NWK_CMD_ROUTE_RECORD:
        _need(data, 2, "nwk.route_record.relay_count", 1)
        count = data[1]
        _need(data, 2 + 2 * count, "nwk.route_record.relay_list", 2)
        return RouteRecord(struct.unpack_from(f"<{count}H", data, 2))
    if cid == NWK_CMD_REJOIN_REQUEST:
        _need(data, 2, "nwk.rejoin_request.capability", 1)
        return RejoinRequest(data[1])
    if cid == NWK_CMD_REJOIN_RESPONSE:
        _need(data, 4, "nwk.rejoin_response", 1)
        addr, status = struct.unpack_from("<HB", data, 1)
        return RejoinResponse(addr, status)
    if cid == NWK_CMD_LINK_STATUS:
        _need(data, 2, "nwk.link_status.options", 1)
        opts = data[1]
        count = opts & 0x1F
        _need(data, 2 + 3 * count, "nwk.link_status.entries", 2)
        entries = []
        for i in range(count):
            addr, costs = struct.unpack_from("<HB", data, 2 + 3 * i)
            entries.append(LinkStatusEntry(addr, costs & 7, (costs >> 4) & 7))
        return LinkStatus(tuple(entries), bool(opts & 0x20), bool(opts & 0x40))
    if cid == NWK_CMD_END_DEVICE_TIMEOUT_REQUEST:
        _need(data, 3, "nwk.end_device_timeout_request", 1)
        return EndDeviceTimeoutRequest(data[1], data[2])
    if cid == NWK_CMD_END_DEVICE_TIMEOUT_RESPONSE:
        _need(data, 3, "nwk.end_device_timeout_response", 1)
        return EndDeviceTimeoutResponse(data[1], data[2])
    raise CodecError("nwk.command.id", 0, f"unsupported NWK command 0x{cid:02X}")
