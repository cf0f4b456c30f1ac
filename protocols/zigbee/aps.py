"""ZigBee PRO application support sub-layer (APS) frames and APS commands.

Implements ZigBee PRO (05-3474) 2.2.5 "Frame formats" (APS data, command and
acknowledgement frames; unicast / broadcast / group delivery; the extended header with
the fragmentation sub-field, block number and ack bitfield) and 4.4.9-4.4.10 "Command
frames" (Transport Key for the network key, the trust-centre link key and an application
link key; Update Device; Remove Device; Request Key; Switch Key; Tunnel; Verify Key;
Confirm Key).  Layout as verified with tshark in han-zigbee-wireshark.md section 3.2.

L{ApsFrame.payload} is everything after the APS header: for a data frame the ASDU
(ZCL / ZDP), for a command frame the command identifier + payload (use
L{encode_aps_command} / L{decode_aps_command}); for a secured frame the auxiliary
security header, ciphertext and MIC (see L{protocols.zigbee.security}).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from protocols.errors import CodecError
from protocols._fast import fast_constructor, fast_init

__all__ = [
    "APS_FRAME_DATA", "APS_FRAME_COMMAND", "APS_FRAME_ACK", "APS_FRAME_INTERPAN",
    "APS_DELIVERY_UNICAST", "APS_DELIVERY_BROADCAST", "APS_DELIVERY_GROUP",
    "APS_FRAGMENTATION_NONE", "APS_FRAGMENTATION_FIRST", "APS_FRAGMENTATION_SUBSEQUENT",
    "PROFILE_ZDP", "PROFILE_SMART_ENERGY",
    "ApsFrame", "encode_aps", "encode_aps_header", "decode_aps", "aps_header_length",
    "APS_CMD_TRANSPORT_KEY", "APS_CMD_UPDATE_DEVICE", "APS_CMD_REMOVE_DEVICE", "APS_CMD_REQUEST_KEY",
    "APS_CMD_SWITCH_KEY", "APS_CMD_TUNNEL", "APS_CMD_VERIFY_KEY", "APS_CMD_CONFIRM_KEY",
    "KEY_TYPE_STANDARD_NETWORK", "KEY_TYPE_APP_MASTER", "KEY_TYPE_APP_LINK", "KEY_TYPE_TC_LINK",
    "KEY_TYPE_HIGH_SECURITY_NETWORK",
    "TransportKey", "UpdateDevice", "RemoveDevice", "RequestKey", "SwitchKey", "Tunnel",
    "VerifyKey", "ConfirmKey", "encode_aps_command", "decode_aps_command",
]

APS_FRAME_DATA = 0
APS_FRAME_COMMAND = 1
APS_FRAME_ACK = 2
APS_FRAME_INTERPAN = 3

APS_DELIVERY_UNICAST = 0
APS_DELIVERY_BROADCAST = 2
APS_DELIVERY_GROUP = 3

APS_FRAGMENTATION_NONE = 0
APS_FRAGMENTATION_FIRST = 1
APS_FRAGMENTATION_SUBSEQUENT = 2

PROFILE_ZDP = 0x0000
PROFILE_SMART_ENERGY = 0x0109

_FC_ACK_FORMAT = 0x10
_FC_SECURITY = 0x20
_FC_ACK_REQUEST = 0x40
_FC_EXT_HEADER = 0x80

_Q = struct.Struct("<Q")


@fast_init
@dataclass(frozen=True, slots=True)
class ApsFrame:
    """An APS frame (2.2.5.1).  Fields that a frame type does not carry are C{None}.

    Data frames and data acks carry C{dst_endpoint} (unicast/broadcast delivery) or
    C{group} (group delivery, as Wireshark reads it); data frames and data acks carry C{cluster}, C{profile}, C{src_endpoint};
    command frames and command acks (C{ack_format}) carry only the counter.
    C{fragmentation} other than 0 adds the extended header with C{block_number} and, on
    acks, C{ack_bitfield}; C{extended_header} forces an extended header without
    fragmentation (the decoder sets it only in that case).
    """

    frame_type: int = APS_FRAME_DATA
    delivery_mode: int = APS_DELIVERY_UNICAST
    counter: int = 0
    dst_endpoint: int | None = None
    group: int | None = None
    cluster: int | None = None
    profile: int | None = None
    src_endpoint: int | None = None
    payload: bytes = b""
    security: bool = False
    ack_request: bool = False
    ack_format: bool = False
    extended_header: bool = False
    fragmentation: int = APS_FRAGMENTATION_NONE
    block_number: int | None = None
    ack_bitfield: int | None = None

    def frame_control(self) -> int:
        """Return the APS frame control byte."""
        fc = (self.frame_type & 3) | ((self.delivery_mode & 3) << 2)
        if self.ack_format:
            fc |= _FC_ACK_FORMAT
        if self.security:
            fc |= _FC_SECURITY
        if self.ack_request:
            fc |= _FC_ACK_REQUEST
        if self.extended_header or self.fragmentation:
            fc |= _FC_EXT_HEADER
        return fc


#: Positional, unvalidated ApsFrame constructor for decoders (field order of ApsFrame).
_make_aps = fast_constructor(ApsFrame)

_UNICAST_HDR = struct.Struct("<BBHHBB")  # fc, dst endpoint, cluster, profile, src endpoint, counter
_GROUP_HDR = struct.Struct("<BHHHBB")    # fc, group, cluster, profile, src endpoint, counter


def encode_aps_header(frame: ApsFrame, force_security: bool = False) -> bytes:
    """Encode the APS header (frame control .. extended header), without payload."""
    ftype = frame.frame_type
    frag = frame.fragmentation
    fc = ((ftype & 3) | ((frame.delivery_mode & 3) << 2) | (_FC_ACK_FORMAT if frame.ack_format else 0)
          | (_FC_SECURITY if (frame.security or force_security) else 0)
          | (_FC_ACK_REQUEST if frame.ack_request else 0)
          | (_FC_EXT_HEADER if (frag or frame.extended_header) else 0))
    try:
        if ftype == APS_FRAME_DATA or (ftype == APS_FRAME_ACK and not frame.ack_format):
            if frame.delivery_mode == APS_DELIVERY_GROUP:
                out = _GROUP_HDR.pack(fc, frame.group, frame.cluster, frame.profile, frame.src_endpoint,
                                      frame.counter)
            else:
                out = _UNICAST_HDR.pack(fc, frame.dst_endpoint, frame.cluster, frame.profile, frame.src_endpoint,
                                        frame.counter)
        else:
            out = bytes((fc, frame.counter))
        if fc & _FC_EXT_HEADER:
            out += bytes((frag & 3,))
            if frag:
                out += bytes((frame.block_number,))
                if ftype == APS_FRAME_ACK:
                    out += bytes((frame.ack_bitfield,))
    except (struct.error, ValueError, TypeError, OverflowError) as e:
        raise CodecError("aps", 0, f"cannot encode: {e}") from None
    return out


def encode_aps(frame: ApsFrame) -> bytes:
    """Encode an APS frame: header followed by C{frame.payload} as is."""
    return encode_aps_header(frame) + frame.payload


def _parse_header(data: bytes) -> tuple[tuple, int]:
    n = len(data)
    if n < 2:
        raise CodecError("aps.header", 0, f"truncated: {n} < 2 bytes")
    fc = data[0]
    ftype = fc & 3
    delivery = (fc >> 2) & 3
    ack_format = bool(fc & _FC_ACK_FORMAT)
    if ftype == APS_FRAME_INTERPAN:
        raise CodecError("aps.frame_control.frame_type", 0, "inter-PAN APS frames are not supported")
    if delivery == 1:
        raise CodecError("aps.frame_control.delivery_mode", 0, "reserved delivery mode 1")
    dst_ep = group = cluster = profile = src_ep = None
    if ftype == APS_FRAME_DATA or (ftype == APS_FRAME_ACK and not ack_format):
        if delivery == APS_DELIVERY_GROUP:
            if n < 9:
                raise CodecError("aps.header", 1, "truncated group addressing fields")
            _, group, cluster, profile, src_ep, counter = _GROUP_HDR.unpack_from(data)
            off = 9
        else:
            if n < 8:
                raise CodecError("aps.header", 1, "truncated endpoint/cluster/profile fields")
            _, dst_ep, cluster, profile, src_ep, counter = _UNICAST_HDR.unpack_from(data)
            off = 8
    else:
        counter = data[1]
        off = 2
    frag = 0
    block = bitfield = None
    ext = bool(fc & _FC_EXT_HEADER)
    if ext:
        if off >= n:
            raise CodecError("aps.extended_frame_control", off, "truncated")
        efc = data[off]
        off += 1
        frag = efc & 3
        if frag == 3:
            raise CodecError("aps.extended_frame_control.fragmentation", off - 1, "reserved value 3")
        if frag:
            if off >= n:
                raise CodecError("aps.block_number", off, "truncated")
            block = data[off]
            off += 1
            if ftype == APS_FRAME_ACK:
                if off >= n:
                    raise CodecError("aps.ack_bitfield", off, "truncated")
                bitfield = data[off]
                off += 1
    return (ftype, delivery, counter, dst_ep, group, cluster, profile, src_ep,
            bool(fc & _FC_SECURITY), bool(fc & _FC_ACK_REQUEST), ack_format, ext and not frag, frag, block,
            bitfield), off


def aps_header_length(data: bytes) -> int:
    """Return the length of the APS header at the start of C{data}."""
    return _parse_header(data)[1]


def decode_aps(data: bytes) -> ApsFrame:
    """Decode an APS frame (header + raw payload).  Raises CodecError on bad input."""
    if type(data) is not bytes:
        data = bytes(data)
    f, off = _parse_header(data)
    return _make_aps(f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7], data[off:], f[8], f[9], f[10],
                     f[11], f[12], f[13], f[14])


# --------------------------------------------------------------------------------------
# APS commands (4.4.9 / 4.4.10)

APS_CMD_TRANSPORT_KEY = 0x05
APS_CMD_UPDATE_DEVICE = 0x06
APS_CMD_REMOVE_DEVICE = 0x07
APS_CMD_REQUEST_KEY = 0x08
APS_CMD_SWITCH_KEY = 0x09
APS_CMD_TUNNEL = 0x0E
APS_CMD_VERIFY_KEY = 0x0F
APS_CMD_CONFIRM_KEY = 0x10

KEY_TYPE_STANDARD_NETWORK = 0x01
KEY_TYPE_APP_MASTER = 0x02
KEY_TYPE_APP_LINK = 0x03
KEY_TYPE_TC_LINK = 0x04
KEY_TYPE_HIGH_SECURITY_NETWORK = 0x05

_NETWORK_KEY_TYPES = (KEY_TYPE_STANDARD_NETWORK, KEY_TYPE_HIGH_SECURITY_NETWORK)


@dataclass(frozen=True, slots=True)
class TransportKey:
    """Transport Key (4.4.9.2).

    Key descriptor by C{key_type}:
      - network key (0x01): key, C{key_seq}, C{dst_ieee}, C{src_ieee};
      - trust-centre link key (0x04): key, C{dst_ieee}, C{src_ieee};
      - application link key (0x03): key, C{partner_ieee}, C{initiator}.
    The key bytes go on the air as given (same order as the AES key).
    """

    COMMAND_ID = APS_CMD_TRANSPORT_KEY
    key_type: int
    key: bytes
    key_seq: int | None = None
    dst_ieee: int | None = None
    src_ieee: int | None = None
    partner_ieee: int | None = None
    initiator: bool | None = None


@dataclass(frozen=True, slots=True)
class UpdateDevice:
    """Update Device (4.4.9.3): device IEEE / short address and status
    (0 secured rejoin, 1 unsecured join, 2 device left, 3 TC rejoin)."""

    COMMAND_ID = APS_CMD_UPDATE_DEVICE
    device_ieee: int
    device_short: int
    status: int


@dataclass(frozen=True, slots=True)
class RemoveDevice:
    """Remove Device (4.4.9.4): IEEE address of the device to remove."""

    COMMAND_ID = APS_CMD_REMOVE_DEVICE
    target_ieee: int


@dataclass(frozen=True, slots=True)
class RequestKey:
    """Request Key (4.4.9.5): key type (2/3 application key, with partner; 4 TC link key)."""

    COMMAND_ID = APS_CMD_REQUEST_KEY
    key_type: int
    partner_ieee: int | None = None


@dataclass(frozen=True, slots=True)
class SwitchKey:
    """Switch Key (4.4.9.6): sequence number of the network key to switch to."""

    COMMAND_ID = APS_CMD_SWITCH_KEY
    key_seq: int


@dataclass(frozen=True, slots=True)
class Tunnel:
    """Tunnel (4.4.9.8): destination IEEE address and the tunnelled APS command frame
    (its APS header, auxiliary header and secured payload, as raw bytes)."""

    COMMAND_ID = APS_CMD_TUNNEL
    dst_ieee: int
    tunneled_frame: bytes


@dataclass(frozen=True, slots=True)
class VerifyKey:
    """Verify Key (4.4.9.9): key type, source IEEE and the 16-byte initiator verify-key hash."""

    COMMAND_ID = APS_CMD_VERIFY_KEY
    key_type: int
    src_ieee: int
    key_hash: bytes


@dataclass(frozen=True, slots=True)
class ConfirmKey:
    """Confirm Key (4.4.9.10): status, key type and destination IEEE."""

    COMMAND_ID = APS_CMD_CONFIRM_KEY
    status: int
    key_type: int
    dst_ieee: int


ApsCommand = (TransportKey | UpdateDevice | RemoveDevice | RequestKey | SwitchKey | Tunnel
              | VerifyKey | ConfirmKey)


def _key16(key: bytes, fieldname: str) -> bytes:
    key = bytes(key)
    if len(key) != 16:
        raise CodecError(fieldname, 0, f"key must be 16 bytes, got {len(key)}")
    return key


def encode_aps_command(cmd: ApsCommand) -> bytes:
    """Encode an APS command payload (command identifier first)."""
    try:
        cid = cmd.COMMAND_ID
        if isinstance(cmd, TransportKey):
            out = bytes((cid, cmd.key_type)) + _key16(cmd.key, "aps.transport_key.key")
            if cmd.key_type in _NETWORK_KEY_TYPES:
                return out + struct.pack("<BQQ", cmd.key_seq, cmd.dst_ieee, cmd.src_ieee)
            if cmd.key_type == KEY_TYPE_TC_LINK:
                return out + struct.pack("<QQ", cmd.dst_ieee, cmd.src_ieee)
            if cmd.key_type in (KEY_TYPE_APP_LINK, KEY_TYPE_APP_MASTER):
                return out + struct.pack("<QB", cmd.partner_ieee, 1 if cmd.initiator else 0)
            raise CodecError("aps.transport_key.key_type", 1, f"unsupported key type {cmd.key_type}")
        if isinstance(cmd, UpdateDevice):
            return struct.pack("<BQHB", cid, cmd.device_ieee, cmd.device_short, cmd.status)
        if isinstance(cmd, RemoveDevice):
            return struct.pack("<BQ", cid, cmd.target_ieee)
        if isinstance(cmd, RequestKey):
            if cmd.key_type in (KEY_TYPE_APP_MASTER, KEY_TYPE_APP_LINK):
                return struct.pack("<BBQ", cid, cmd.key_type, cmd.partner_ieee)
            return bytes((cid, cmd.key_type))
        if isinstance(cmd, SwitchKey):
            return bytes((cid, cmd.key_seq))
        if isinstance(cmd, Tunnel):
            return struct.pack("<BQ", cid, cmd.dst_ieee) + bytes(cmd.tunneled_frame)
        if isinstance(cmd, VerifyKey):
            h = bytes(cmd.key_hash)
            if len(h) != 16:
                raise CodecError("aps.verify_key.key_hash", 10, "hash must be 16 bytes")
            return struct.pack("<BBQ", cid, cmd.key_type, cmd.src_ieee) + h
        if isinstance(cmd, ConfirmKey):
            return struct.pack("<BBBQ", cid, cmd.status, cmd.key_type, cmd.dst_ieee)
    except (struct.error, ValueError, TypeError, OverflowError) as e:
        raise CodecError("aps.command", 0, f"cannot encode: {e}") from None
    raise CodecError("aps.command", 0, f"unsupported command object {type(cmd).__name__}")


def _need(data: bytes, end: int, fieldname: str, off: int) -> None:
    if end > len(data):
        raise CodecError(fieldname, off, f"truncated: need {end} bytes, have {len(data)}")


def decode_aps_command(data: bytes) -> ApsCommand:
    """Decode a (plaintext) APS command payload, command identifier first."""
    data = bytes(data)
    _need(data, 1, "aps.command.id", 0)
    cid = data[0]
    if cid == APS_CMD_TRANSPORT_KEY:
        _need(data, 18, "aps.transport_key.key", 1)
        kt = data[1]
        key = data[2:18]
        if kt in _NETWORK_KEY_TYPES:
            _need(data, 35, "aps.transport_key.key_descriptor", 18)
            seq, dst, src = struct.unpack_from("<BQQ", data, 18)
            return TransportKey(kt, key, key_seq=seq, dst_ieee=dst, src_ieee=src)
        if kt == KEY_TYPE_TC_LINK:
            _need(data, 34, "aps.transport_key.key_descriptor", 18)
            dst, src = struct.unpack_from("<QQ", data, 18)
            return TransportKey(kt, key, dst_ieee=dst, src_ieee=src)
        if kt in (KEY_TYPE_APP_LINK, KEY_TYPE_APP_MASTER):
            _need(data, 27, "aps.transport_key.key_descriptor", 18)
            partner, init = struct.unpack_from("<QB", data, 18)
            return TransportKey(kt, key, partner_ieee=partner, initiator=bool(init))
        raise CodecError("aps.transport_key.key_type", 1, f"unsupported key type {kt}")
    if cid == APS_CMD_UPDATE_DEVICE:
        _need(data, 12, "aps.update_device", 1)
        ieee, short, status = struct.unpack_from("<QHB", data, 1)
        return UpdateDevice(ieee, short, status)
    if cid == APS_CMD_REMOVE_DEVICE:
        _need(data, 9, "aps.remove_device.target_ieee", 1)
        return RemoveDevice(_Q.unpack_from(data, 1)[0])
    if cid == APS_CMD_REQUEST_KEY:
        _need(data, 2, "aps.request_key.key_type", 1)
        kt = data[1]
        if kt in (KEY_TYPE_APP_MASTER, KEY_TYPE_APP_LINK):
            _need(data, 10, "aps.request_key.partner_ieee", 2)
            return RequestKey(kt, _Q.unpack_from(data, 2)[0])
        return RequestKey(kt)
    if cid == APS_CMD_SWITCH_KEY:
        _need(data, 2, "aps.switch_key.key_seq", 1)
        return SwitchKey(data[1])
    if cid == APS_CMD_TUNNEL:
        _need(data, 9, "aps.tunnel.dst_ieee", 1)
        return Tunnel(_Q.unpack_from(data, 1)[0], data[9:])
    if cid == APS_CMD_VERIFY_KEY:
        _need(data, 26, "aps.verify_key", 1)
        kt, src = struct.unpack_from("<BQ", data, 1)
        return VerifyKey(kt, src, data[10:26])
    if cid == APS_CMD_CONFIRM_KEY:
        _need(data, 11, "aps.confirm_key", 1)
        status, kt, dst = struct.unpack_from("<BBQ", data, 1)
        return ConfirmKey(status, kt, dst)
    raise CodecError("aps.command.id", 0, f"unsupported APS command 0x{cid:02X}")
