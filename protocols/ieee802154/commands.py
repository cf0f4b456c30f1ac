"""IEEE 802.15.4-2006 MAC command frames (clause 7.3): command payload codecs and constructors.

Implements the command identifiers of 802.15.4-2006 table 82 and the payloads of 7.3.1 to 7.3.9
as listed in ``han-zigbee-wireshark.md`` section 2.3 (Association Request/Response, Disassociation
Notification, Data Request, PAN ID Conflict Notification, Orphan Notification, Beacon Request,
Coordinator Realignment, GTS Request), plus the MAC frames a ZigBee join uses, with the Frame
Control values of section 2.1 (0x0803 Beacon Request, 0xC823 Association Request, 0xCC63
Association Response, 0x8863 / 0xC863 Data Request).

A command payload (C{MacFrame.payload}) is the command frame identifier followed by the
command's fields; L{encode_command} / L{decode_command} convert it to and from the dataclasses.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import ClassVar, Union

from protocols.errors import CodecError
from protocols.ieee802154.frames import (
    ADDR_EXTENDED, ADDR_SHORT, BROADCAST_ADDRESS, BROADCAST_PAN_ID, FRAME_COMMAND, MacFrame,
    address_mode,
)

__all__ = [
    "CMD_ASSOCIATION_REQUEST", "CMD_ASSOCIATION_RESPONSE", "CMD_DISASSOCIATION_NOTIFICATION",
    "CMD_DATA_REQUEST", "CMD_PAN_ID_CONFLICT_NOTIFICATION", "CMD_ORPHAN_NOTIFICATION",
    "CMD_BEACON_REQUEST", "CMD_COORDINATOR_REALIGNMENT", "CMD_GTS_REQUEST",
    "CAP_ALTERNATE_PAN_COORDINATOR", "CAP_DEVICE_TYPE_FFD", "CAP_POWER_SOURCE_MAINS",
    "CAP_RX_ON_WHEN_IDLE", "CAP_SECURITY_CAPABLE", "CAP_ALLOCATE_ADDRESS",
    "ASSOCIATION_SUCCESS", "ASSOCIATION_PAN_AT_CAPACITY", "ASSOCIATION_PAN_ACCESS_DENIED",
    "DISASSOCIATE_COORDINATOR_WISHES", "DISASSOCIATE_DEVICE_WISHES",
    "AssociationRequest", "AssociationResponse", "DisassociationNotification", "DataRequest",
    "PanIdConflictNotification", "OrphanNotification", "BeaconRequest", "CoordinatorRealignment",
    "GtsRequest", "MacCommand", "encode_command", "decode_command",
    "beacon_request_frame", "association_request_frame", "association_response_frame",
    "data_request_frame", "disassociation_notification_frame", "orphan_notification_frame",
    "coordinator_realignment_frame",
]

#: Command frame identifiers (802.15.4-2006 table 82).
CMD_ASSOCIATION_REQUEST = 0x01
CMD_ASSOCIATION_RESPONSE = 0x02
CMD_DISASSOCIATION_NOTIFICATION = 0x03
CMD_DATA_REQUEST = 0x04
CMD_PAN_ID_CONFLICT_NOTIFICATION = 0x05
CMD_ORPHAN_NOTIFICATION = 0x06
CMD_BEACON_REQUEST = 0x07
CMD_COORDINATOR_REALIGNMENT = 0x08
CMD_GTS_REQUEST = 0x09

#: Capability Information bits (802.15.4-2006 figure 56).
CAP_ALTERNATE_PAN_COORDINATOR = 0x01
CAP_DEVICE_TYPE_FFD = 0x02
CAP_POWER_SOURCE_MAINS = 0x04
CAP_RX_ON_WHEN_IDLE = 0x08
CAP_SECURITY_CAPABLE = 0x40
CAP_ALLOCATE_ADDRESS = 0x80

#: Association Status values (802.15.4-2006 table 83).
ASSOCIATION_SUCCESS = 0x00
ASSOCIATION_PAN_AT_CAPACITY = 0x01
ASSOCIATION_PAN_ACCESS_DENIED = 0x02

#: Disassociation Reason values (802.15.4-2006 table 84).
DISASSOCIATE_COORDINATOR_WISHES = 0x01
DISASSOCIATE_DEVICE_WISHES = 0x02


@dataclass(frozen=True, slots=True)
class AssociationRequest:
    """Association Request (0x01): Capability Information (CAP_* bits)."""

    command_id: ClassVar[int] = CMD_ASSOCIATION_REQUEST
    capability_information: int


@dataclass(frozen=True, slots=True)
class AssociationResponse:
    """Association Response (0x02): the allocated short address and the Association Status."""

    command_id: ClassVar[int] = CMD_ASSOCIATION_RESPONSE
    short_address: int
    association_status: int


@dataclass(frozen=True, slots=True)
class DisassociationNotification:
    """Disassociation Notification (0x03): Disassociation Reason."""

    command_id: ClassVar[int] = CMD_DISASSOCIATION_NOTIFICATION
    disassociation_reason: int


@dataclass(frozen=True, slots=True)
class DataRequest:
    """Data Request (0x04): a poll for pending (indirect) data; no fields."""

    command_id: ClassVar[int] = CMD_DATA_REQUEST


@dataclass(frozen=True, slots=True)
class PanIdConflictNotification:
    """PAN ID Conflict Notification (0x05); no fields."""

    command_id: ClassVar[int] = CMD_PAN_ID_CONFLICT_NOTIFICATION


@dataclass(frozen=True, slots=True)
class OrphanNotification:
    """Orphan Notification (0x06); no fields."""

    command_id: ClassVar[int] = CMD_ORPHAN_NOTIFICATION


@dataclass(frozen=True, slots=True)
class BeaconRequest:
    """Beacon Request (0x07): the active-scan probe; no fields."""

    command_id: ClassVar[int] = CMD_BEACON_REQUEST


@dataclass(frozen=True, slots=True)
class CoordinatorRealignment:
    """Coordinator Realignment (0x08).

    @ivar channel_page: present only in frame version 1 (2006) frames; C{None} when absent.
    """

    command_id: ClassVar[int] = CMD_COORDINATOR_REALIGNMENT
    pan_identifier: int
    coordinator_short_address: int
    logical_channel: int
    short_address: int
    channel_page: int | None = None


@dataclass(frozen=True, slots=True)
class GtsRequest:
    """GTS Request (0x09): GTS Characteristics (length bits 0-3, direction bit 4, type bit 5)."""

    command_id: ClassVar[int] = CMD_GTS_REQUEST
    gts_characteristics: int


MacCommand = Union[AssociationRequest, AssociationResponse, DisassociationNotification, DataRequest,
                   PanIdConflictNotification, OrphanNotification, BeaconRequest,
                   CoordinatorRealignment, GtsRequest]

_ASSOC_RESPONSE = struct.Struct("<BHB")
_REALIGN = struct.Struct("<BHHBH")
_REALIGN_PAGE = struct.Struct("<BHHBHB")

_NAMES = {
    CMD_ASSOCIATION_REQUEST: "association_request", CMD_ASSOCIATION_RESPONSE: "association_response",
    CMD_DISASSOCIATION_NOTIFICATION: "disassociation_notification", CMD_DATA_REQUEST: "data_request",
    CMD_PAN_ID_CONFLICT_NOTIFICATION: "pan_id_conflict_notification",
    CMD_ORPHAN_NOTIFICATION: "orphan_notification", CMD_BEACON_REQUEST: "beacon_request",
    CMD_COORDINATOR_REALIGNMENT: "coordinator_realignment", CMD_GTS_REQUEST: "gts_request",
}
_FIXED = {
    CMD_DATA_REQUEST: DataRequest(), CMD_PAN_ID_CONFLICT_NOTIFICATION: PanIdConflictNotification(),
    CMD_ORPHAN_NOTIFICATION: OrphanNotification(), CMD_BEACON_REQUEST: BeaconRequest(),
}
_ONE_BYTE = {
    CMD_ASSOCIATION_REQUEST: AssociationRequest, CMD_DISASSOCIATION_NOTIFICATION: DisassociationNotification,
    CMD_GTS_REQUEST: GtsRequest,
}
# Payload lengths including the command identifier.
_LENGTHS = {
    CMD_ASSOCIATION_REQUEST: (2,), CMD_ASSOCIATION_RESPONSE: (4,), CMD_DISASSOCIATION_NOTIFICATION: (2,),
    CMD_DATA_REQUEST: (1,), CMD_PAN_ID_CONFLICT_NOTIFICATION: (1,), CMD_ORPHAN_NOTIFICATION: (1,),
    CMD_BEACON_REQUEST: (1,), CMD_COORDINATOR_REALIGNMENT: (8, 9), CMD_GTS_REQUEST: (2,),
}


def encode_command(command: MacCommand) -> bytes:
    """Encode a MAC command as a MAC payload (command identifier + fields).

    @raise CodecError: when a field value does not fit.
    """
    cid = command.command_id
    try:
        if cid in _FIXED:
            return bytes((cid,))
        if cid == CMD_ASSOCIATION_REQUEST:
            return bytes((cid, command.capability_information))
        if cid == CMD_DISASSOCIATION_NOTIFICATION:
            return bytes((cid, command.disassociation_reason))
        if cid == CMD_GTS_REQUEST:
            return bytes((cid, command.gts_characteristics))
        if cid == CMD_ASSOCIATION_RESPONSE:
            return _ASSOC_RESPONSE.pack(cid, command.short_address, command.association_status)
        if cid == CMD_COORDINATOR_REALIGNMENT:
            if command.channel_page is None:
                return _REALIGN.pack(cid, command.pan_identifier, command.coordinator_short_address,
                                     command.logical_channel, command.short_address)
            return _REALIGN_PAGE.pack(cid, command.pan_identifier, command.coordinator_short_address,
                                      command.logical_channel, command.short_address, command.channel_page)
    except (struct.error, ValueError, TypeError) as exc:
        raise CodecError(_NAMES[cid], 1, f"value does not fit: {exc}") from None
    raise CodecError("command_id", 0, f"unknown command {cid!r}")  # pragma: no cover


def decode_command(payload: bytes) -> MacCommand:
    """Decode a MAC command payload (command identifier first).

    @raise CodecError: on an empty payload, a reserved command identifier, or a payload of the
        wrong length for its command.
    """
    if not payload:
        raise CodecError("command_id", 0, "truncated: empty command payload")
    cid = payload[0]
    lengths = _LENGTHS.get(cid)
    if lengths is None:
        raise CodecError("command_id", 0, f"reserved command identifier 0x{cid:02x}")
    n = len(payload)
    if n not in lengths:
        if n < lengths[0]:
            raise CodecError(_NAMES[cid], n, f"truncated: {n} bytes, need {lengths[0]}")
        raise CodecError(_NAMES[cid], lengths[-1], f"{n - lengths[-1]} trailing bytes")
    fixed = _FIXED.get(cid)
    if fixed is not None:
        return fixed
    cls = _ONE_BYTE.get(cid)
    if cls is not None:
        return cls(payload[1])
    if cid == CMD_ASSOCIATION_RESPONSE:
        _, short, status = _ASSOC_RESPONSE.unpack(payload)
        return AssociationResponse(short, status)
    if n == 9:
        _, pan, coord, channel, short, page = _REALIGN_PAGE.unpack(payload)
        return CoordinatorRealignment(pan, coord, channel, short, page)
    _, pan, coord, channel, short = _REALIGN.unpack(payload)
    return CoordinatorRealignment(pan, coord, channel, short)


# --- frame constructors (FCF values from han-zigbee-wireshark.md 2.1) -------------------------

def beacon_request_frame(seq: int) -> MacFrame:
    """Beacon Request: broadcast to PAN 0xFFFF / 0xFFFF, no source, no ack (FCF 0x0803)."""
    return MacFrame(FRAME_COMMAND, seq=seq & 0xFF, dst_mode=ADDR_SHORT, dst_pan=BROADCAST_PAN_ID,
                    dst_addr=BROADCAST_ADDRESS, payload=bytes((CMD_BEACON_REQUEST,)))


def association_request_frame(seq: int, coord_pan_id: int, coord_addr: int, device_address: int,
                              capability_information: int) -> MacFrame:
    """Association Request to the coordinator, source extended with source PAN 0xFFFF, ack
    requested (FCF 0xC823 for a short coordinator address)."""
    return MacFrame(FRAME_COMMAND, ack_request=True, seq=seq & 0xFF,
                    dst_mode=address_mode(coord_addr), dst_pan=coord_pan_id, dst_addr=coord_addr,
                    src_mode=ADDR_EXTENDED, src_pan=BROADCAST_PAN_ID, src_addr=device_address,
                    payload=bytes((CMD_ASSOCIATION_REQUEST, capability_information)))


def association_response_frame(seq: int, pan_id: int, device_address: int, coord_address: int,
                               short_address: int, association_status: int) -> MacFrame:
    """Association Response, extended to extended, PAN ID compression, ack requested (FCF 0xCC63)."""
    return MacFrame(FRAME_COMMAND, ack_request=True, pan_id_compression=True, seq=seq & 0xFF,
                    dst_mode=ADDR_EXTENDED, dst_pan=pan_id, dst_addr=device_address,
                    src_mode=ADDR_EXTENDED, src_pan=pan_id, src_addr=coord_address,
                    payload=_ASSOC_RESPONSE.pack(CMD_ASSOCIATION_RESPONSE, short_address, association_status))


def data_request_frame(seq: int, pan_id: int, coord_addr: int, src_addr: int) -> MacFrame:
    """Data Request (poll) to the coordinator, PAN ID compression, ack requested.

    FCF 0x8863 from a short source, 0xC863 from an extended source (during association).
    """
    return MacFrame(FRAME_COMMAND, ack_request=True, pan_id_compression=True, seq=seq & 0xFF,
                    dst_mode=address_mode(coord_addr), dst_pan=pan_id, dst_addr=coord_addr,
                    src_mode=address_mode(src_addr), src_pan=pan_id, src_addr=src_addr,
                    payload=bytes((CMD_DATA_REQUEST,)))


def disassociation_notification_frame(seq: int, pan_id: int, dst_address: int, src_address: int,
                                      disassociation_reason: int) -> MacFrame:
    """Disassociation Notification, extended to extended addresses (the coordinator's and the
    device's EUI-64s, either direction), PAN ID compression, ack requested (FCF 0xCC63).

    Wireshark flags other addressing as invalid for this command.
    """
    return MacFrame(FRAME_COMMAND, ack_request=True, pan_id_compression=True, seq=seq & 0xFF,
                    dst_mode=ADDR_EXTENDED, dst_pan=pan_id, dst_addr=dst_address,
                    src_mode=ADDR_EXTENDED, src_pan=pan_id, src_addr=src_address,
                    payload=bytes((CMD_DISASSOCIATION_NOTIFICATION, disassociation_reason)))


def orphan_notification_frame(seq: int, device_address: int) -> MacFrame:
    """Orphan Notification: to 0xFFFF on PAN 0xFFFF from the extended address, no ack (FCF 0xC843)."""
    return MacFrame(FRAME_COMMAND, pan_id_compression=True, seq=seq & 0xFF,
                    dst_mode=ADDR_SHORT, dst_pan=BROADCAST_PAN_ID, dst_addr=BROADCAST_ADDRESS,
                    src_mode=ADDR_EXTENDED, src_pan=BROADCAST_PAN_ID, src_addr=device_address,
                    payload=bytes((CMD_ORPHAN_NOTIFICATION,)))


def coordinator_realignment_frame(seq: int, pan_id: int, coord_address: int,
                                  coordinator_short_address: int, logical_channel: int,
                                  short_address: int, dst_address: int | None = None,
                                  channel_page: int | None = None) -> MacFrame:
    """Coordinator Realignment from the coordinator's extended address (destination PAN 0xFFFF).

    Sent to an orphaned device's extended address (ack requested, C{short_address} = its short
    address) or, with C{dst_address} C{None}, broadcast (short address 0xFFFF).  A channel page
    makes it a frame version 1 (2006) frame.
    """
    unicast = dst_address is not None
    payload = encode_command(CoordinatorRealignment(pan_id, coordinator_short_address, logical_channel,
                                                    short_address, channel_page))
    return MacFrame(FRAME_COMMAND, ack_request=unicast, frame_version=0 if channel_page is None else 1,
                    seq=seq & 0xFF,
                    dst_mode=ADDR_EXTENDED if unicast else ADDR_SHORT, dst_pan=BROADCAST_PAN_ID,
                    dst_addr=dst_address if unicast else BROADCAST_ADDRESS,
                    src_mode=ADDR_EXTENDED, src_pan=pan_id, src_addr=coord_address, payload=payload)
