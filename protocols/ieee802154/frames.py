"""IEEE 802.15.4-2006 MAC frame codec: frame control, addressing fields, payload and FCS.

Implements IEEE 802.15.4-2006 clause 7.2 (general MAC frame format, 7.2.1) and the FCS of
7.2.1.9 as summarised in the HAN research notes (``han-zigbee-wireshark.md`` sections 2.1 and
2.2): a 2-byte little-endian Frame Control, the sequence number (DSN / BSN), the addressing
fields (PAN ids and short or extended addresses, extended addresses sent least-significant byte
first), the payload and a CRC-16/KERMIT FCS appended little-endian.

ZigBee PRO sends frame version 0 (802.15.4-2003) and never uses MAC security; frames of version
2 (802.15.4-2015, with sequence-number suppression and IEs) are rejected by the decoder.  When
the security-enabled bit is set the auxiliary security header is kept, unparsed, at the front
of L{MacFrame.payload} (so such frames still round-trip).

Extended addresses are Python ints holding the EUI-64 as printed (big-endian value); short
addresses are ints <= 0xFFFF.

The hot paths (L{encode_mac}, L{decode_mac}, L{fcs}) use precompiled C{struct.Struct}s cached
per Frame Control value and the C CRC in L{binascii}.
"""

from __future__ import annotations

import operator
import struct
from binascii import crc_hqx
from dataclasses import dataclass

from protocols.errors import CodecError

__all__ = [
    "FRAME_BEACON", "FRAME_DATA", "FRAME_ACK", "FRAME_COMMAND",
    "ADDR_NONE", "ADDR_SHORT", "ADDR_EXTENDED",
    "BROADCAST_ADDRESS", "BROADCAST_PAN_ID", "NO_SHORT_ADDRESS", "A_MAX_PHY_PACKET_SIZE",
    "MacFrame", "encode_mac", "decode_mac", "fcs", "fcs_table_driven",
    "address_mode", "data_frame", "encode_data_frame", "ack_frame", "encode_ack",
]

#: Frame Control frame-type values (802.15.4-2006 table 79).
FRAME_BEACON = 0
FRAME_DATA = 1
FRAME_ACK = 2
FRAME_COMMAND = 3

#: Addressing modes (802.15.4-2006 table 80); mode 1 is reserved.
ADDR_NONE = 0
ADDR_SHORT = 2
ADDR_EXTENDED = 3

#: Broadcast short address and PAN identifier.
BROADCAST_ADDRESS = 0xFFFF
BROADCAST_PAN_ID = 0xFFFF
#: macShortAddress value meaning "associated but use the extended address" (0xFFFE).
NO_SHORT_ADDRESS = 0xFFFE
#: aMaxPHYPacketSize: the largest PSDU (MPDU including FCS), in bytes.
A_MAX_PHY_PACKET_SIZE = 127

_FCF_SECURITY = 0x0008
_FCF_PENDING = 0x0010
_FCF_ACK_REQUEST = 0x0020
_FCF_PAN_ID_COMPRESSION = 0x0040


# --- FCS -------------------------------------------------------------------------------------

def _reflect8(value: int) -> int:
    result = 0
    for _ in range(8):
        result = (result << 1) | (value & 1)
        value >>= 1
    return result


_REFLECT = bytes(_reflect8(i) for i in range(256))


def _make_fcs_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x8408 if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


_FCS_TABLE = _make_fcs_table()


def fcs(data: bytes, init: int = 0) -> int:
    """Return the 802.15.4 FCS of C{data}: ITU-T CRC-16 (CRC-16/KERMIT; reflected poly 0x8408,
    init 0, no final XOR).  Check value: C{fcs(b"123456789") == 0x2189}.

    C{init} (a palindromic 16-bit value such as 0 or 0xFFFF) gives the other members of the
    reflected CRC-CCITT family, e.g. the X.25 CRC of ZigBee install codes is
    C{fcs(code, 0xFFFF) ^ 0xFFFF}.

    Computed by the table-driven C CRC of L{binascii.crc_hqx} (the unreflected CRC-16/XMODEM with
    the same polynomial) on bit-reversed bytes, then bit-reversing the 16-bit result - the
    reflected CRC of the data.  L{fcs_table_driven} is the plain-Python equivalent.

    The FCS over a whole MPDU (FCS included, little-endian) is 0 when the frame is intact.
    """
    if not isinstance(data, (bytes, bytearray)):
        data = bytes(data)
    crc = crc_hqx(data.translate(_REFLECT), init)
    return _REFLECT[crc >> 8] | (_REFLECT[crc & 0xFF] << 8)


def fcs_table_driven(data: bytes) -> int:
    """Reference byte-wise table-driven CRC-16/KERMIT (same result as L{fcs}, slower)."""
    crc = 0
    table = _FCS_TABLE
    for byte in data:
        crc = (crc >> 8) ^ table[(crc ^ byte) & 0xFF]
    return crc


# --- the frame -------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class MacFrame:
    """One MAC frame (MPDU without the FCS).

    Addressing fields that are absent on air are C{None}.  With PAN ID compression the source
    PAN id is not sent; the decoder sets C{src_pan} to C{dst_pan} (the encoder ignores it).

    @ivar frame_type: L{FRAME_BEACON}, L{FRAME_DATA}, L{FRAME_ACK} or L{FRAME_COMMAND}.
    @ivar seq: DSN (data, command, ack) or BSN (beacon), 0..255.
    @ivar dst_mode: L{ADDR_NONE}, L{ADDR_SHORT} or L{ADDR_EXTENDED}; likewise C{src_mode}.
    @ivar dst_addr: short address (int <= 0xFFFF) or EUI-64 (int, big-endian value).
    @ivar payload: MAC payload (NWK frame, MAC command or beacon fields).
    """

    frame_type: int
    security_enabled: bool = False
    frame_pending: bool = False
    ack_request: bool = False
    pan_id_compression: bool = False
    frame_version: int = 0
    seq: int = 0
    dst_mode: int = ADDR_NONE
    dst_pan: int | None = None
    dst_addr: int | None = None
    src_mode: int = ADDR_NONE
    src_pan: int | None = None
    src_addr: int | None = None
    payload: bytes = b""

    @property
    def frame_control(self) -> int:
        """The 16-bit Frame Control value this frame is sent with."""
        return (self.frame_type
                | (_FCF_SECURITY if self.security_enabled else 0)
                | (_FCF_PENDING if self.frame_pending else 0)
                | (_FCF_ACK_REQUEST if self.ack_request else 0)
                | (_FCF_PAN_ID_COMPRESSION if self.pan_id_compression else 0)
                | (self.dst_mode << 10) | (self.frame_version << 12) | (self.src_mode << 14))

    @property
    def command_id(self) -> int | None:
        """The MAC command identifier of a command frame (first payload byte), else C{None}."""
        if self.frame_type == FRAME_COMMAND and self.payload:
            return self.payload[0]
        return None


# Decoding builds frames through the slot descriptors: the frozen dataclass __init__ (one
# object.__setattr__ call per field) costs twice as much, and decoding is on the hot path.
(_s_ft, _s_sec, _s_pend, _s_ar, _s_comp, _s_ver, _s_seq, _s_dm, _s_dp, _s_da, _s_sm, _s_sp, _s_sa,
 _s_payload) = (getattr(MacFrame, _name).__set__ for _name in MacFrame.__slots__)
_new = object.__new__


def _make_frame(ft, sec, pend, ar, comp, ver, seq, dm, dp, da, sm, sp, sa, payload) -> MacFrame:
    frame = _new(MacFrame)
    _s_ft(frame, ft)
    _s_sec(frame, sec)
    _s_pend(frame, pend)
    _s_ar(frame, ar)
    _s_comp(frame, comp)
    _s_ver(frame, ver)
    _s_seq(frame, seq)
    _s_dm(frame, dm)
    _s_dp(frame, dp)
    _s_da(frame, da)
    _s_sm(frame, sm)
    _s_sp(frame, sp)
    _s_sa(frame, sa)
    _s_payload(frame, payload)
    return frame


# --- per-FCF plans ---------------------------------------------------------------------------

class _Plan:
    """Precompiled layout of the MAC header for one Frame Control value."""

    __slots__ = ("struct", "header_len", "args", "getter", "fields")

    def __init__(self, st: struct.Struct, args: tuple, getter, fields: tuple) -> None:
        self.struct = st
        self.header_len = st.size
        self.args = args          # (ft, sec, pend, ar, comp, ver, dm, i_dp, i_da, sm, i_sp, i_sa)
        self.getter = getter      # attrgetter for encode
        self.fields = fields      # ((name, offset, size), ...) for error messages


_DECODE_PLANS: dict[int, _Plan] = {}


def _build_plan(fcf: int) -> _Plan:
    frame_type = fcf & 0x7
    if frame_type > FRAME_COMMAND:
        raise CodecError("frame_control.frame_type", 0, f"reserved frame type {frame_type}")
    version = (fcf >> 12) & 0x3
    if version > 1:
        raise CodecError("frame_control.frame_version", 0,
                         f"frame version {version} (802.15.4-2015) is not supported")
    dst_mode = (fcf >> 10) & 0x3
    src_mode = (fcf >> 14) & 0x3
    if dst_mode == 1:
        raise CodecError("frame_control.dst_addr_mode", 0, "reserved addressing mode 1")
    if src_mode == 1:
        raise CodecError("frame_control.src_addr_mode", 0, "reserved addressing mode 1")
    compression = bool(fcf & _FCF_PAN_ID_COMPRESSION)
    if compression and (dst_mode == ADDR_NONE or src_mode == ADDR_NONE):
        raise CodecError("frame_control.pan_id_compression", 0,
                         "PAN ID compression needs both addresses present")
    fmt = "<HB"
    fields = [("frame_control", 0, 2), ("seq", 2, 1)]
    attrs = []
    offset = 3
    index = 2
    i_dp = i_da = i_sp = i_sa = -1

    def add(name: str, code: str, size: int) -> int:
        nonlocal fmt, offset, index
        fmt += code
        fields.append((name, offset, size))
        attrs.append(name)
        offset += size
        index += 1
        return index - 1

    if dst_mode:
        i_dp = add("dst_pan", "H", 2)
        i_da = add("dst_addr", "H" if dst_mode == ADDR_SHORT else "Q", 2 if dst_mode == ADDR_SHORT else 8)
    if src_mode:
        if compression:
            i_sp = i_dp
        else:
            i_sp = add("src_pan", "H", 2)
        i_sa = add("src_addr", "H" if src_mode == ADDR_SHORT else "Q", 2 if src_mode == ADDR_SHORT else 8)
    getter = operator.attrgetter(*attrs) if len(attrs) > 1 else (
        (lambda f, a=attrs[0]: (getattr(f, a),)) if attrs else (lambda f: ()))
    args = (frame_type, bool(fcf & _FCF_SECURITY), bool(fcf & _FCF_PENDING),
            bool(fcf & _FCF_ACK_REQUEST), compression, version,
            dst_mode, i_dp, i_da, src_mode, i_sp, i_sa)
    return _Plan(struct.Struct(fmt), args, getter, tuple(fields))


def _plan_for(fcf: int) -> _Plan:
    plan = _DECODE_PLANS.get(fcf)
    if plan is None:
        plan = _DECODE_PLANS[fcf] = _build_plan(fcf)
    return plan


def _truncated(plan: _Plan, available: int) -> CodecError:
    for name, offset, size in plan.fields:
        if offset + size > available:
            return CodecError(name, offset, f"truncated: need {size} bytes, {max(available - offset, 0)} left")
    return CodecError("payload", available, "truncated")  # pragma: no cover


# --- decode ----------------------------------------------------------------------------------

#: the last PSDU decoded with its FCS checked, and its frame: every radio that hears one
#: transmission gets the same bytes object, so the second and later receivers reuse the
#: (immutable) result instead of decoding it again
_last_decoded: list = [None, None]


def decode_mac(data: bytes, check_fcs: bool = True) -> MacFrame:
    """Decode an MPDU (header, payload and the 2-byte FCS) into a L{MacFrame}.

    @param check_fcs: verify the FCS (raise L{CodecError} with field C{"fcs"} when wrong);
        when false the last two bytes are dropped unchecked.
    @raise CodecError: on a bad FCS, truncation, reserved frame type / addressing mode,
        unsupported frame version or an invalid PAN ID compression combination.
    """
    last = _last_decoded
    if data is last[0] and check_fcs:
        return last[1]
    frame = _decode_mac(data, check_fcs)
    if check_fcs and type(data) is bytes:
        last[0] = data
        last[1] = frame
    return frame


def _decode_mac(data: bytes, check_fcs: bool) -> MacFrame:
    n = len(data)
    if n < 5:
        if n < 2:
            raise CodecError("frame_control", 0, f"truncated: {n} bytes, a MAC frame has at least 5")
        raise CodecError("fcs" if n >= 3 else "seq", n, f"truncated: {n} bytes, a MAC frame has at least 5")
    if check_fcs:
        if type(data) is not bytes and type(data) is not bytearray:
            data = bytes(data)
        crc = crc_hqx(data.translate(_REFLECT), 0)
        if crc:
            raise CodecError("fcs", n - 2, "bad FCS")
    fcf = data[0] | (data[1] << 8)
    plan = _DECODE_PLANS.get(fcf)
    if plan is None:
        plan = _plan_for(fcf)
    end = n - 2
    hl = plan.header_len
    if end < hl:
        raise _truncated(plan, end)
    v = plan.struct.unpack_from(data)
    ft, sec, pend, ar, comp, ver, dm, i_dp, i_da, sm, i_sp, i_sa = plan.args
    return _make_frame(ft, sec, pend, ar, comp, ver, v[1],
                    dm, v[i_dp] if i_dp > 0 else None, v[i_da] if i_da > 0 else None,
                    sm, v[i_sp] if i_sp > 0 else None, v[i_sa] if i_sa > 0 else None,
                    bytes(data[hl:end]))


# --- encode ----------------------------------------------------------------------------------

def encode_mac(frame: MacFrame) -> bytes:
    """Encode C{frame} and append its FCS (little-endian); returns the PSDU.

    @raise CodecError: for a value that does not fit its field, a reserved mode, or an MPDU
        longer than aMaxPHYPacketSize (127 bytes).
    """
    fcf = frame.frame_control
    plan = _DECODE_PLANS.get(fcf)
    if plan is None:
        plan = _plan_for(fcf)
    try:
        body = plan.struct.pack(fcf, frame.seq, *plan.getter(frame)) + frame.payload
    except (struct.error, TypeError) as exc:
        raise _encode_error(frame, plan, exc) from None
    if len(body) > A_MAX_PHY_PACKET_SIZE - 2:
        raise CodecError("payload", plan.header_len,
                         f"MPDU of {len(body) + 2} bytes exceeds aMaxPHYPacketSize ({A_MAX_PHY_PACKET_SIZE})")
    crc = crc_hqx(body.translate(_REFLECT), 0)
    return body + bytes((_REFLECT[crc >> 8], _REFLECT[crc & 0xFF]))


def _encode_error(frame: MacFrame, plan: _Plan, exc: Exception) -> CodecError:
    if not isinstance(frame.payload, (bytes, bytearray)):
        return CodecError("payload", plan.header_len, "payload must be bytes")
    for name, offset, size in plan.fields:
        value = frame.seq if name == "seq" else (frame.frame_control if name == "frame_control"
                                                 else getattr(frame, name))
        if not isinstance(value, int) or not 0 <= value < (1 << (8 * size)):
            return CodecError(name, offset, f"value {value!r} does not fit {size} bytes")
    return CodecError("frame", 0, str(exc))


_ACK_HEADER = struct.Struct("<HB")


def encode_ack(seq: int, frame_pending: bool = False) -> bytes:
    """Fast path for the 5-byte Ack frame (FCF 0x0002, or 0x0012 with frame pending)."""
    body = _ACK_HEADER.pack(0x0012 if frame_pending else 0x0002, seq)
    crc = crc_hqx(body.translate(_REFLECT), 0)
    return body + bytes((_REFLECT[crc >> 8], _REFLECT[crc & 0xFF]))


# --- constructors ----------------------------------------------------------------------------

def address_mode(addr: int) -> int:
    """Addressing mode for an address value: short (<= 0xFFFF) or extended (EUI-64)."""
    return ADDR_SHORT if addr <= 0xFFFF else ADDR_EXTENDED


def data_frame(seq: int, pan_id: int, dst_addr: int, src_addr: int, payload: bytes, *,
               ack_request: bool = True, frame_pending: bool = False) -> MacFrame:
    """An intra-PAN data frame (PAN ID compression), version 2003.

    Short to short unicast gives FCF 0x8861; to the broadcast address 0xFFFF the ack request is
    forced off (FCF 0x8841).  Extended addresses give the matching extended modes.
    """
    if dst_addr == BROADCAST_ADDRESS:
        ack_request = False
    return _make_frame(FRAME_DATA, False, frame_pending, ack_request, True, 0, seq & 0xFF,
                       ADDR_SHORT if dst_addr <= 0xFFFF else ADDR_EXTENDED, pan_id, dst_addr,
                       ADDR_SHORT if src_addr <= 0xFFFF else ADDR_EXTENDED, pan_id, src_addr, payload)


def encode_data_frame(seq: int, pan_id: int, dst_addr: int, src_addr: int, payload: bytes, *,
                      ack_request: bool = True, frame_pending: bool = False) -> bytes:
    """Fast path: the PSDU of C{encode_mac(data_frame(...))} with the same arguments, without
    building the L{MacFrame}.

    @raise CodecError: as L{encode_mac}.
    """
    dst_mode = ADDR_SHORT if dst_addr <= 0xFFFF else ADDR_EXTENDED
    src_mode = ADDR_SHORT if src_addr <= 0xFFFF else ADDR_EXTENDED
    if dst_addr == BROADCAST_ADDRESS:
        ack_request = False
    fcf = (FRAME_DATA | _FCF_PAN_ID_COMPRESSION | (_FCF_ACK_REQUEST if ack_request else 0)
           | (_FCF_PENDING if frame_pending else 0) | (dst_mode << 10) | (src_mode << 14))
    plan = _DECODE_PLANS.get(fcf)
    if plan is None:
        plan = _plan_for(fcf)
    try:
        body = plan.struct.pack(fcf, seq & 0xFF, pan_id, dst_addr, src_addr) + payload
    except (struct.error, TypeError):
        return encode_mac(data_frame(seq, pan_id, dst_addr, src_addr, payload, ack_request=ack_request,
                                     frame_pending=frame_pending))      # raises the precise CodecError
    if len(body) > A_MAX_PHY_PACKET_SIZE - 2:
        raise CodecError("payload", plan.header_len,
                         f"MPDU of {len(body) + 2} bytes exceeds aMaxPHYPacketSize ({A_MAX_PHY_PACKET_SIZE})")
    crc = crc_hqx(body.translate(_REFLECT), 0)
    return body + bytes((_REFLECT[crc >> 8], _REFLECT[crc & 0xFF]))


def ack_frame(seq: int, frame_pending: bool = False) -> MacFrame:
    """The Ack frame (FCF 0x0002; 5 bytes on air with the FCS)."""
    return MacFrame(FRAME_ACK, False, frame_pending, False, False, 0, seq & 0xFF)
