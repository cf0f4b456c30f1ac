"""IEEE 802.15.4-2006 beacon frame payload and the ZigBee PRO beacon payload.

Implements the beacon MAC payload of 802.15.4-2006 7.2.2.1 (Superframe Specification, GTS
fields, Pending Address fields, beacon payload) and the 15-byte ZigBee beacon payload of
ZigBee PRO (05-3474) 3.6.7 / table 3.56, as summarised in ``han-zigbee-wireshark.md`` section
2.3: protocol ID 0, stack profile 2 / nwkProtocolVersion 2 (byte 0x22), router capacity, device
depth, end device capacity, nwkExtendedPANId (little-endian on air), TxOffset 0xFFFFFF and
nwkUpdateId.  A non-beacon-enabled ZigBee network sends Superframe Specification 0xCFFF (PAN
coordinator, association permitted) or 0x4FFF / 0x8FFF / 0x0FFF.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from protocols.errors import CodecError
from protocols.ieee802154.frames import FRAME_BEACON, MacFrame, address_mode

__all__ = [
    "SuperframeSpec", "GtsDescriptor", "Beacon", "ZigbeeBeaconPayload",
    "encode_beacon", "decode_beacon", "encode_zigbee_beacon_payload", "decode_zigbee_beacon_payload",
    "beacon_frame", "ZIGBEE_BEACON_PAYLOAD_LENGTH",
]

ZIGBEE_BEACON_PAYLOAD_LENGTH = 15


@dataclass(frozen=True, slots=True)
class SuperframeSpec:
    """Superframe Specification field (802.15.4-2006 figure 47), 2 bytes little-endian."""

    beacon_order: int = 15
    superframe_order: int = 15
    final_cap_slot: int = 15
    battery_life_extension: bool = False
    pan_coordinator: bool = False
    association_permit: bool = False

    def to_int(self) -> int:
        """The 16-bit field value (e.g. 0xCFFF for a permitting PAN coordinator)."""
        return ((self.beacon_order & 0xF) | (self.superframe_order & 0xF) << 4
                | (self.final_cap_slot & 0xF) << 8 | (0x1000 if self.battery_life_extension else 0)
                | (0x4000 if self.pan_coordinator else 0) | (0x8000 if self.association_permit else 0))

    @classmethod
    def from_int(cls, value: int) -> "SuperframeSpec":
        """Parse the 16-bit field value (bit 13 is reserved and ignored)."""
        return cls(value & 0xF, (value >> 4) & 0xF, (value >> 8) & 0xF, bool(value & 0x1000),
                   bool(value & 0x4000), bool(value & 0x8000))


@dataclass(frozen=True, slots=True)
class GtsDescriptor:
    """One GTS descriptor: device short address, GTS starting slot, GTS length, direction
    (True = receive-only, from the GTS Directions mask)."""

    short_address: int
    starting_slot: int
    length: int
    receive_only: bool = False


@dataclass(frozen=True, slots=True)
class Beacon:
    """The MAC payload of a beacon frame.

    @ivar payload: the beacon payload (for ZigBee, the 15-byte L{ZigbeeBeaconPayload}).
    """

    superframe: SuperframeSpec = SuperframeSpec()
    gts_permit: bool = False
    gts: tuple[GtsDescriptor, ...] = ()
    pending_short: tuple[int, ...] = ()
    pending_extended: tuple[int, ...] = ()
    payload: bytes = b""


_U16 = struct.Struct("<H")
_U64 = struct.Struct("<Q")
_SIMPLE_HEADER = struct.Struct("<HBB")


def encode_beacon(beacon: Beacon) -> bytes:
    """Encode the beacon MAC payload (superframe spec, GTS, pending addresses, payload).

    @raise CodecError: if a list is too long (7 GTS descriptors / 7 short / 7 extended pending
        addresses) or a value does not fit.
    """
    gts = beacon.gts
    if len(gts) > 7:
        raise CodecError("gts.descriptor_count", 2, "at most 7 GTS descriptors")
    if len(beacon.pending_short) > 7 or len(beacon.pending_extended) > 7:
        raise CodecError("pending_address_spec", 3, "at most 7 short and 7 extended pending addresses")
    try:
        gts_spec = len(gts) | (0x80 if beacon.gts_permit else 0)
        if not gts and not beacon.pending_short and not beacon.pending_extended:
            return _SIMPLE_HEADER.pack(beacon.superframe.to_int(), gts_spec, 0) + beacon.payload
        parts = [_U16.pack(beacon.superframe.to_int()), bytes((gts_spec,))]
        if gts:
            directions = 0
            for i, d in enumerate(gts):
                if d.receive_only:
                    directions |= 1 << i
            parts.append(bytes((directions,)))
            for d in gts:
                parts.append(_U16.pack(d.short_address)
                             + bytes(((d.starting_slot & 0xF) | (d.length & 0xF) << 4,)))
        parts.append(bytes((len(beacon.pending_short) | len(beacon.pending_extended) << 4,)))
        parts.extend(_U16.pack(a) for a in beacon.pending_short)
        parts.extend(_U64.pack(a) for a in beacon.pending_extended)
        parts.append(beacon.payload)
        return b"".join(parts)
    except (struct.error, TypeError, ValueError) as exc:
        raise CodecError("beacon", 0, f"value does not fit: {exc}") from None


def decode_beacon(data: bytes) -> Beacon:
    """Decode a beacon MAC payload.

    @raise CodecError: on truncation (field and offset named).
    """
    n = len(data)
    if n < 4:
        field = "superframe_spec" if n < 2 else ("gts_spec" if n < 3 else "pending_address_spec")
        raise CodecError(field, n, "truncated beacon")
    superframe = SuperframeSpec.from_int(data[0] | data[1] << 8)
    gts_spec = data[2]
    count = gts_spec & 0x7
    offset = 3
    gts: tuple[GtsDescriptor, ...] = ()
    if count:
        if n < offset + 1 + 3 * count:
            raise CodecError("gts.descriptors" if n > offset else "gts.directions", n, "truncated GTS list")
        directions = data[offset]
        offset += 1
        items = []
        for i in range(count):
            short = data[offset] | data[offset + 1] << 8
            slot = data[offset + 2]
            items.append(GtsDescriptor(short, slot & 0xF, slot >> 4, bool(directions >> i & 1)))
            offset += 3
        gts = tuple(items)
    if offset >= n:
        raise CodecError("pending_address_spec", offset, "truncated beacon")
    pending = data[offset]
    offset += 1
    n_short = pending & 0x7
    n_ext = (pending >> 4) & 0x7
    need = offset + 2 * n_short + 8 * n_ext
    if n < need:
        raise CodecError("pending_address_list", n, "truncated pending address list")
    pending_short = tuple(_U16.unpack_from(data, offset + 2 * i)[0] for i in range(n_short))
    offset += 2 * n_short
    pending_ext = tuple(_U64.unpack_from(data, offset + 8 * i)[0] for i in range(n_ext))
    offset += 8 * n_ext
    return Beacon(superframe, bool(gts_spec & 0x80), gts, pending_short, pending_ext, bytes(data[offset:]))


@dataclass(frozen=True, slots=True)
class ZigbeeBeaconPayload:
    """The ZigBee PRO beacon payload (15 bytes).

    @ivar extended_pan_id: nwkExtendedPANId as an int (EUI-64 style big-endian value).
    """

    extended_pan_id: int
    router_capacity: bool = True
    end_device_capacity: bool = True
    device_depth: int = 0
    nwk_update_id: int = 0
    tx_offset: int = 0xFFFFFF
    protocol_id: int = 0
    stack_profile: int = 2
    nwk_protocol_version: int = 2


_ZB_BEACON = struct.Struct("<BBBQHBB")   # tx offset split into u16 + u8 (24-bit little-endian)


def encode_zigbee_beacon_payload(p: ZigbeeBeaconPayload) -> bytes:
    """Encode the 15-byte ZigBee beacon payload."""
    if not 0 <= p.device_depth <= 15:
        raise CodecError("device_depth", 2, f"depth {p.device_depth} does not fit 4 bits")
    if not (0 <= p.stack_profile <= 15 and 0 <= p.nwk_protocol_version <= 15):
        raise CodecError("stack_profile", 1, "stack profile / protocol version do not fit 4 bits")
    try:
        return _ZB_BEACON.pack(
            p.protocol_id, p.stack_profile | p.nwk_protocol_version << 4,
            (0x04 if p.router_capacity else 0) | p.device_depth << 3 | (0x80 if p.end_device_capacity else 0),
            p.extended_pan_id, p.tx_offset & 0xFFFF, p.tx_offset >> 16, p.nwk_update_id)
    except struct.error as exc:
        raise CodecError("zigbee_beacon", 0, f"value does not fit: {exc}") from None


def decode_zigbee_beacon_payload(data: bytes) -> ZigbeeBeaconPayload:
    """Decode the 15-byte ZigBee beacon payload.

    @raise CodecError: if shorter than 15 bytes (bytes beyond 15 are ignored, as Wireshark does).
    """
    if len(data) < ZIGBEE_BEACON_PAYLOAD_LENGTH:
        fields = ("protocol_id", "stack_profile", "device_depth") + ("extended_pan_id",) * 8 + (
            "tx_offset",) * 3 + ("nwk_update_id",)
        raise CodecError(fields[len(data)], len(data), f"truncated ZigBee beacon payload ({len(data)} bytes)")
    protocol_id, profile, caps, epid, tx_lo, tx_hi, update_id = _ZB_BEACON.unpack_from(data)
    return ZigbeeBeaconPayload(epid, bool(caps & 0x04), bool(caps & 0x80), (caps >> 3) & 0xF, update_id,
                               tx_lo | tx_hi << 16, protocol_id, profile & 0xF, profile >> 4)


def beacon_frame(bsn: int, pan_id: int, src_addr: int, beacon: Beacon) -> MacFrame:
    """A beacon frame: no destination, source PAN + address (FCF 0x8000 from a short address)."""
    return MacFrame(FRAME_BEACON, seq=bsn & 0xFF, src_mode=address_mode(src_addr), src_pan=pan_id,
                    src_addr=src_addr, payload=encode_beacon(beacon))

