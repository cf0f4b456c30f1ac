"""ZigBee Device Profile (ZDP) messages used by the ZigBee Device Object (ZDO).

Implements ZigBee PRO (05-3474) 2.4.3 / 2.4.4 "Client / Server Services" for the messages a
joining SE device and its trust centre exchange: Device_annce, NWK_addr_req/rsp,
IEEE_addr_req/rsp, Node_Desc_req/rsp (node descriptor, 2.3.2.3), Simple_Desc_req/rsp
(simple descriptor, 2.3.2.5), Active_EP_req/rsp, Match_Desc_req/rsp, Mgmt_Leave_req/rsp,
Mgmt_Permit_Joining_req/rsp.  ZDP frames travel in APS data frames with profile 0x0000,
endpoints 0 -> 0, the cluster id naming the message (responses have bit 15 set).

A ZDP frame is the transaction sequence number followed by the message payload:
C{encode_zdp(tsn, message) -> bytes} and C{decode_zdp(cluster_id, data) -> (tsn, message)}.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from protocols.errors import CodecError

__all__ = [
    "ZDP_SUCCESS", "ZDP_INV_REQUESTTYPE", "ZDP_DEVICE_NOT_FOUND", "ZDP_INVALID_EP",
    "ZDP_NOT_ACTIVE", "ZDP_NOT_SUPPORTED", "ZDP_TIMEOUT", "ZDP_NO_MATCH", "ZDP_NO_DESCRIPTOR",
    "NodeDescriptor", "SimpleDescriptor",
    "NwkAddrReq", "IeeeAddrReq", "NwkAddrRsp", "IeeeAddrRsp", "NodeDescReq", "NodeDescRsp",
    "SimpleDescReq", "SimpleDescRsp", "ActiveEpReq", "ActiveEpRsp", "MatchDescReq", "MatchDescRsp",
    "DeviceAnnce", "MgmtLeaveReq", "MgmtLeaveRsp", "MgmtPermitJoiningReq", "MgmtPermitJoiningRsp",
    "ZDP_MESSAGES", "encode_zdp", "decode_zdp",
]

ZDP_SUCCESS = 0x00
ZDP_INV_REQUESTTYPE = 0x80
ZDP_DEVICE_NOT_FOUND = 0x81
ZDP_INVALID_EP = 0x82
ZDP_NOT_ACTIVE = 0x83
ZDP_NOT_SUPPORTED = 0x84
ZDP_TIMEOUT = 0x85
ZDP_NO_MATCH = 0x86
ZDP_NO_DESCRIPTOR = 0x89

_Q = struct.Struct("<Q")
_H = struct.Struct("<H")


class _Reader:
    """Bounds-checked little-endian reader that raises CodecError naming the field."""

    __slots__ = ("data", "off", "prefix")

    def __init__(self, data: bytes, off: int, prefix: str) -> None:
        self.data = data
        self.off = off
        self.prefix = prefix

    def _take(self, n: int, name: str) -> int:
        off = self.off
        if off + n > len(self.data):
            raise CodecError(f"{self.prefix}.{name}", off,
                             f"truncated: need {n} bytes, have {len(self.data) - off}")
        self.off = off + n
        return off

    def u8(self, name: str) -> int:
        return self.data[self._take(1, name)]

    def u16(self, name: str) -> int:
        return _H.unpack_from(self.data, self._take(2, name))[0]

    def u64(self, name: str) -> int:
        return _Q.unpack_from(self.data, self._take(8, name))[0]

    def u16_list(self, count: int, name: str) -> tuple[int, ...]:
        return struct.unpack_from(f"<{count}H", self.data, self._take(2 * count, name))

    def raw(self, n: int, name: str) -> bytes:
        off = self._take(n, name)
        return self.data[off:off + n]

    def remaining(self) -> int:
        return len(self.data) - self.off

    def end(self) -> None:
        if self.off != len(self.data):
            raise CodecError(f"{self.prefix}", self.off, f"{len(self.data) - self.off} unexpected trailing bytes")


def _u16_list(values: tuple[int, ...]) -> bytes:
    return bytes((len(values),)) + struct.pack(f"<{len(values)}H", *values)


# --------------------------------------------------------------------------------------
# descriptors

@dataclass(frozen=True, slots=True)
class NodeDescriptor:
    """Node descriptor (2.3.2.3), 13 bytes.

    C{logical_type}: 0 coordinator, 1 router, 2 end device.  C{frequency_band} is the
    5-bit field (bit 3 of it = 2400 MHz, i.e. 0x08).  C{mac_capability} uses the MAC
    capability-information bits.  C{server_mask} bit 0 primary trust centre.
    """

    logical_type: int
    mac_capability: int
    manufacturer_code: int
    complex_descriptor_available: bool = False
    user_descriptor_available: bool = False
    aps_flags: int = 0
    frequency_band: int = 0x08
    max_buffer_size: int = 82
    max_incoming_transfer_size: int = 82
    server_mask: int = 0
    max_outgoing_transfer_size: int = 82
    descriptor_capability: int = 0

    def encode(self) -> bytes:
        """Encode the 13-byte descriptor."""
        b0 = (self.logical_type & 7) | (0x08 if self.complex_descriptor_available else 0) \
            | (0x10 if self.user_descriptor_available else 0)
        b1 = (self.aps_flags & 7) | ((self.frequency_band & 0x1F) << 3)
        return struct.pack("<BBBHBHHHB", b0, b1, self.mac_capability, self.manufacturer_code,
                           self.max_buffer_size, self.max_incoming_transfer_size, self.server_mask,
                           self.max_outgoing_transfer_size, self.descriptor_capability)

    @classmethod
    def read(cls, r: _Reader) -> "NodeDescriptor":
        """Read a node descriptor from a reader."""
        b0 = r.u8("node_descriptor.logical_type")
        b1 = r.u8("node_descriptor.frequency_band")
        cap = r.u8("node_descriptor.mac_capability")
        manu = r.u16("node_descriptor.manufacturer_code")
        buf = r.u8("node_descriptor.max_buffer_size")
        inc = r.u16("node_descriptor.max_incoming_transfer_size")
        mask = r.u16("node_descriptor.server_mask")
        out = r.u16("node_descriptor.max_outgoing_transfer_size")
        dcap = r.u8("node_descriptor.descriptor_capability")
        return cls(b0 & 7, cap, manu, bool(b0 & 0x08), bool(b0 & 0x10), b1 & 7, b1 >> 3,
                   buf, inc, mask, out, dcap)


@dataclass(frozen=True, slots=True)
class SimpleDescriptor:
    """Simple descriptor (2.3.2.5): endpoint, profile, device id/version, cluster lists."""

    endpoint: int
    profile: int
    device_id: int
    device_version: int = 0
    in_clusters: tuple[int, ...] = ()
    out_clusters: tuple[int, ...] = ()

    def encode(self) -> bytes:
        """Encode the descriptor (without the ZDP length byte)."""
        return (struct.pack("<BHHB", self.endpoint, self.profile, self.device_id, self.device_version & 0x0F)
                + _u16_list(tuple(self.in_clusters)) + _u16_list(tuple(self.out_clusters)))

    @classmethod
    def read(cls, r: _Reader) -> "SimpleDescriptor":
        """Read a simple descriptor from a reader."""
        ep = r.u8("simple_descriptor.endpoint")
        profile = r.u16("simple_descriptor.profile")
        dev = r.u16("simple_descriptor.device_id")
        ver = r.u8("simple_descriptor.device_version") & 0x0F
        n = r.u8("simple_descriptor.in_cluster_count")
        inc = r.u16_list(n, "simple_descriptor.in_cluster_list")
        n = r.u8("simple_descriptor.out_cluster_count")
        outc = r.u16_list(n, "simple_descriptor.out_cluster_list")
        return cls(ep, profile, dev, ver, inc, outc)


# --------------------------------------------------------------------------------------
# messages.  Each has CLUSTER_ID, payload() and a classmethod read(reader).

@dataclass(frozen=True, slots=True)
class NwkAddrReq:
    """NWK_addr_req (0x0000): IEEE address of interest, request type (0 single, 1 extended), start index."""

    CLUSTER_ID = 0x0000
    ieee: int
    request_type: int = 0
    start_index: int = 0

    def payload(self) -> bytes:
        return struct.pack("<QBB", self.ieee, self.request_type, self.start_index)

    @classmethod
    def read(cls, r: _Reader) -> "NwkAddrReq":
        return cls(r.u64("ieee"), r.u8("request_type"), r.u8("start_index"))


@dataclass(frozen=True, slots=True)
class IeeeAddrReq:
    """IEEE_addr_req (0x0001): NWK address of interest, request type, start index."""

    CLUSTER_ID = 0x0001
    nwk_addr: int
    request_type: int = 0
    start_index: int = 0

    def payload(self) -> bytes:
        return struct.pack("<HBB", self.nwk_addr, self.request_type, self.start_index)

    @classmethod
    def read(cls, r: _Reader) -> "IeeeAddrReq":
        return cls(r.u16("nwk_addr"), r.u8("request_type"), r.u8("start_index"))


def _addr_rsp_payload(self) -> bytes:
    out = struct.pack("<BQH", self.status, self.ieee, self.nwk_addr)
    if self.assoc_dev_list is not None:
        lst = tuple(self.assoc_dev_list)
        out += struct.pack(f"<BB{len(lst)}H", len(lst), self.start_index, *lst)
    return out


def _addr_rsp_read(cls, r: _Reader):
    status, ieee, nwk = r.u8("status"), r.u64("ieee"), r.u16("nwk_addr")
    if r.remaining() == 0:
        return cls(status, ieee, nwk)
    n = r.u8("num_assoc_dev")
    start = r.u8("start_index")
    return cls(status, ieee, nwk, start, r.u16_list(n, "nwk_addr_assoc_dev_list"))


@dataclass(frozen=True, slots=True)
class NwkAddrRsp:
    """NWK_addr_rsp (0x8000): status, IEEE and NWK address of the remote device, and for an
    extended request the associated-device list (C{assoc_dev_list} not C{None})."""

    CLUSTER_ID = 0x8000
    status: int
    ieee: int
    nwk_addr: int
    start_index: int = 0
    assoc_dev_list: tuple[int, ...] | None = None

    payload = _addr_rsp_payload
    read = classmethod(_addr_rsp_read)


@dataclass(frozen=True, slots=True)
class IeeeAddrRsp:
    """IEEE_addr_rsp (0x8001): same layout as NWK_addr_rsp."""

    CLUSTER_ID = 0x8001
    status: int
    ieee: int
    nwk_addr: int
    start_index: int = 0
    assoc_dev_list: tuple[int, ...] | None = None

    payload = _addr_rsp_payload
    read = classmethod(_addr_rsp_read)


@dataclass(frozen=True, slots=True)
class NodeDescReq:
    """Node_Desc_req (0x0002): NWK address of interest."""

    CLUSTER_ID = 0x0002
    nwk_addr: int

    def payload(self) -> bytes:
        return _H.pack(self.nwk_addr)

    @classmethod
    def read(cls, r: _Reader) -> "NodeDescReq":
        return cls(r.u16("nwk_addr"))


@dataclass(frozen=True, slots=True)
class NodeDescRsp:
    """Node_Desc_rsp (0x8002): status, NWK address, node descriptor (success only)."""

    CLUSTER_ID = 0x8002
    status: int
    nwk_addr: int
    descriptor: NodeDescriptor | None = None

    def payload(self) -> bytes:
        out = struct.pack("<BH", self.status, self.nwk_addr)
        if self.descriptor is not None:
            out += self.descriptor.encode()
        return out

    @classmethod
    def read(cls, r: _Reader) -> "NodeDescRsp":
        status, nwk = r.u8("status"), r.u16("nwk_addr")
        desc = NodeDescriptor.read(r) if status == ZDP_SUCCESS or r.remaining() else None
        return cls(status, nwk, desc)


@dataclass(frozen=True, slots=True)
class SimpleDescReq:
    """Simple_Desc_req (0x0004): NWK address of interest and endpoint."""

    CLUSTER_ID = 0x0004
    nwk_addr: int
    endpoint: int

    def payload(self) -> bytes:
        return struct.pack("<HB", self.nwk_addr, self.endpoint)

    @classmethod
    def read(cls, r: _Reader) -> "SimpleDescReq":
        return cls(r.u16("nwk_addr"), r.u8("endpoint"))


@dataclass(frozen=True, slots=True)
class SimpleDescRsp:
    """Simple_Desc_rsp (0x8004): status, NWK address, length, simple descriptor (success only)."""

    CLUSTER_ID = 0x8004
    status: int
    nwk_addr: int
    descriptor: SimpleDescriptor | None = None

    def payload(self) -> bytes:
        body = self.descriptor.encode() if self.descriptor is not None else b""
        return struct.pack("<BHB", self.status, self.nwk_addr, len(body)) + body

    @classmethod
    def read(cls, r: _Reader) -> "SimpleDescRsp":
        status, nwk = r.u8("status"), r.u16("nwk_addr")
        length = r.u8("length")
        if length == 0:
            return cls(status, nwk)
        start = r.off
        r.raw(length, "simple_descriptor")  # bounds check
        sub = _Reader(r.data[:start + length], start, r.prefix)
        desc = SimpleDescriptor.read(sub)
        if sub.off != start + length:
            raise CodecError(f"{r.prefix}.length", start - 1,
                             f"length {length} but descriptor is {sub.off - start} bytes")
        return cls(status, nwk, desc)


@dataclass(frozen=True, slots=True)
class ActiveEpReq:
    """Active_EP_req (0x0005): NWK address of interest."""

    CLUSTER_ID = 0x0005
    nwk_addr: int

    def payload(self) -> bytes:
        return _H.pack(self.nwk_addr)

    @classmethod
    def read(cls, r: _Reader) -> "ActiveEpReq":
        return cls(r.u16("nwk_addr"))


def _endpoint_list_payload(self) -> bytes:
    """Status, NWK address, endpoint count and list: Active_EP_rsp and Match_Desc_rsp."""
    eps = bytes(self.endpoints)
    return struct.pack("<BHB", self.status, self.nwk_addr, len(eps)) + eps


def _endpoint_list_read(cls, r: _Reader, count_name: str, list_name: str):
    status, nwk = r.u8("status"), r.u16("nwk_addr")
    n = r.u8(count_name)
    return cls(status, nwk, tuple(r.raw(n, list_name)))


@dataclass(frozen=True, slots=True)
class ActiveEpRsp:
    """Active_EP_rsp (0x8005): status, NWK address, active endpoint list."""

    CLUSTER_ID = 0x8005
    status: int
    nwk_addr: int
    endpoints: tuple[int, ...] = ()

    def payload(self) -> bytes:
        return _endpoint_list_payload(self)

    @classmethod
    def read(cls, r: _Reader) -> "ActiveEpRsp":
        return _endpoint_list_read(cls, r, "active_ep_count", "active_ep_list")


@dataclass(frozen=True, slots=True)
class MatchDescReq:
    """Match_Desc_req (0x0006): NWK address of interest, profile, in / out cluster lists."""

    CLUSTER_ID = 0x0006
    nwk_addr: int
    profile: int
    in_clusters: tuple[int, ...] = ()
    out_clusters: tuple[int, ...] = ()

    def payload(self) -> bytes:
        return (struct.pack("<HH", self.nwk_addr, self.profile)
                + _u16_list(tuple(self.in_clusters)) + _u16_list(tuple(self.out_clusters)))

    @classmethod
    def read(cls, r: _Reader) -> "MatchDescReq":
        nwk, profile = r.u16("nwk_addr"), r.u16("profile")
        inc = r.u16_list(r.u8("num_in_clusters"), "in_cluster_list")
        outc = r.u16_list(r.u8("num_out_clusters"), "out_cluster_list")
        return cls(nwk, profile, inc, outc)


@dataclass(frozen=True, slots=True)
class MatchDescRsp:
    """Match_Desc_rsp (0x8006): status, NWK address, matching endpoints."""

    CLUSTER_ID = 0x8006
    status: int
    nwk_addr: int
    endpoints: tuple[int, ...] = ()

    def payload(self) -> bytes:
        return _endpoint_list_payload(self)

    @classmethod
    def read(cls, r: _Reader) -> "MatchDescRsp":
        return _endpoint_list_read(cls, r, "match_length", "match_list")


@dataclass(frozen=True, slots=True)
class DeviceAnnce:
    """Device_annce (0x0013): NWK address, IEEE address, MAC capability information."""

    CLUSTER_ID = 0x0013
    nwk_addr: int
    ieee: int
    capability: int

    def payload(self) -> bytes:
        return struct.pack("<HQB", self.nwk_addr, self.ieee, self.capability)

    @classmethod
    def read(cls, r: _Reader) -> "DeviceAnnce":
        return cls(r.u16("nwk_addr"), r.u64("ieee"), r.u8("capability"))


@dataclass(frozen=True, slots=True)
class MgmtLeaveReq:
    """Mgmt_Leave_req (0x0034): device address (EUI-64, 0 = the receiver itself), flags
    (bit 6 remove children, bit 7 rejoin, as Wireshark 4.0 decodes them)."""

    CLUSTER_ID = 0x0034
    device_address: int
    remove_children: bool = False
    rejoin: bool = False

    def payload(self) -> bytes:
        flags = (0x40 if self.remove_children else 0) | (0x80 if self.rejoin else 0)
        return struct.pack("<QB", self.device_address, flags)

    @classmethod
    def read(cls, r: _Reader) -> "MgmtLeaveReq":
        addr = r.u64("device_address")
        flags = r.u8("flags")
        return cls(addr, bool(flags & 0x40), bool(flags & 0x80))


@dataclass(frozen=True, slots=True)
class MgmtLeaveRsp:
    """Mgmt_Leave_rsp (0x8034): status."""

    CLUSTER_ID = 0x8034
    status: int

    def payload(self) -> bytes:
        return bytes((self.status,))

    @classmethod
    def read(cls, r: _Reader) -> "MgmtLeaveRsp":
        return cls(r.u8("status"))


@dataclass(frozen=True, slots=True)
class MgmtPermitJoiningReq:
    """Mgmt_Permit_Joining_req (0x0036): permit duration (s, 0xFF = forever), TC significance."""

    CLUSTER_ID = 0x0036
    permit_duration: int
    tc_significance: int = 1

    def payload(self) -> bytes:
        return bytes((self.permit_duration, self.tc_significance))

    @classmethod
    def read(cls, r: _Reader) -> "MgmtPermitJoiningReq":
        return cls(r.u8("permit_duration"), r.u8("tc_significance"))


@dataclass(frozen=True, slots=True)
class MgmtPermitJoiningRsp:
    """Mgmt_Permit_Joining_rsp (0x8036): status."""

    CLUSTER_ID = 0x8036
    status: int

    def payload(self) -> bytes:
        return bytes((self.status,))

    @classmethod
    def read(cls, r: _Reader) -> "MgmtPermitJoiningRsp":
        return cls(r.u8("status"))


#: Cluster id -> message class.
ZDP_MESSAGES: dict[int, type] = {cls.CLUSTER_ID: cls for cls in (
    NwkAddrReq, IeeeAddrReq, NwkAddrRsp, IeeeAddrRsp, NodeDescReq, NodeDescRsp, SimpleDescReq,
    SimpleDescRsp, ActiveEpReq, ActiveEpRsp, MatchDescReq, MatchDescRsp, DeviceAnnce,
    MgmtLeaveReq, MgmtLeaveRsp, MgmtPermitJoiningReq, MgmtPermitJoiningRsp)}

_NAMES = {0x0000: "nwk_addr_req", 0x0001: "ieee_addr_req", 0x8000: "nwk_addr_rsp",
          0x8001: "ieee_addr_rsp", 0x0002: "node_desc_req", 0x8002: "node_desc_rsp",
          0x0004: "simple_desc_req", 0x8004: "simple_desc_rsp", 0x0005: "active_ep_req",
          0x8005: "active_ep_rsp", 0x0006: "match_desc_req", 0x8006: "match_desc_rsp",
          0x0013: "device_annce", 0x0034: "mgmt_leave_req", 0x8034: "mgmt_leave_rsp",
          0x0036: "mgmt_permit_joining_req", 0x8036: "mgmt_permit_joining_rsp"}


def encode_zdp(tsn: int, message) -> bytes:
    """Encode a ZDP frame: transaction sequence number + the message payload.

    The APS cluster id to send it with is C{message.CLUSTER_ID}.
    """
    try:
        return bytes((tsn,)) + message.payload()
    except (struct.error, ValueError, TypeError, OverflowError, AttributeError) as e:
        raise CodecError(f"zdp.{_NAMES.get(getattr(message, 'CLUSTER_ID', -1), 'message')}", 0,
                         f"cannot encode: {e}") from None


def decode_zdp(cluster_id: int, data: bytes, strict: bool = False):
    """Decode a ZDP frame received on C{cluster_id}; return (tsn, message).

    @param strict: reject trailing bytes (by default they are ignored, as later ZigBee
        revisions may append fields).
    @raise CodecError: unknown cluster (field C{zdp.cluster_id}) or malformed payload.
    """
    cls = ZDP_MESSAGES.get(cluster_id)
    if cls is None:
        raise CodecError("zdp.cluster_id", 0, f"unsupported ZDP cluster 0x{cluster_id:04X}")
    data = bytes(data)
    if not data:
        raise CodecError("zdp.tsn", 0, "truncated: empty ZDP frame")
    r = _Reader(data, 1, f"zdp.{_NAMES[cluster_id]}")
    msg = cls.read(r)
    if strict:
        r.end()
    return data[0], msg
