"""IEEE 802.15.4-2006 MAC for the emulated ZigBee HAN (2.4 GHz O-QPSK, non-beacon-enabled).

Implements the parts of IEEE 802.15.4-2006 clause 7 that ZigBee PRO uses, as summarised in
``han-zigbee-wireshark.md`` section 2:

- L{frames}: the general MAC frame (7.2.1) and its FCS (CRC-16/KERMIT), L{MacFrame},
  L{encode_mac} / L{decode_mac}, data and ack constructors;
- L{commands}: MAC command payloads (7.3) and the command frames a join uses;
- L{beacon}: the beacon payload (7.2.2.1) and the 15-byte ZigBee beacon payload;
- L{mac}: L{MacLayer}, the sans-IO MAC sub-layer machine (acks, retries, unslotted CSMA-CA,
  duplicate rejection, indirect transmission, active scan, association, polling).
"""

from protocols.ieee802154.beacon import (
    Beacon, GtsDescriptor, SuperframeSpec, ZigbeeBeaconPayload, beacon_frame, decode_beacon,
    decode_zigbee_beacon_payload, encode_beacon, encode_zigbee_beacon_payload,
)
from protocols.ieee802154.commands import (
    ASSOCIATION_PAN_ACCESS_DENIED, ASSOCIATION_PAN_AT_CAPACITY, ASSOCIATION_SUCCESS,
    CAP_ALLOCATE_ADDRESS, CAP_ALTERNATE_PAN_COORDINATOR, CAP_DEVICE_TYPE_FFD, CAP_POWER_SOURCE_MAINS,
    CAP_RX_ON_WHEN_IDLE, CAP_SECURITY_CAPABLE, CMD_ASSOCIATION_REQUEST, CMD_ASSOCIATION_RESPONSE,
    CMD_BEACON_REQUEST, CMD_COORDINATOR_REALIGNMENT, CMD_DATA_REQUEST, CMD_DISASSOCIATION_NOTIFICATION,
    CMD_GTS_REQUEST, CMD_ORPHAN_NOTIFICATION, CMD_PAN_ID_CONFLICT_NOTIFICATION, AssociationRequest,
    AssociationResponse, BeaconRequest, CoordinatorRealignment, DataRequest, DisassociationNotification,
    GtsRequest, MacCommand, OrphanNotification, PanIdConflictNotification, association_request_frame,
    association_response_frame, beacon_request_frame, coordinator_realignment_frame, data_request_frame,
    decode_command, disassociation_notification_frame, encode_command, orphan_notification_frame,
)
from protocols.ieee802154.frames import (
    A_MAX_PHY_PACKET_SIZE, ADDR_EXTENDED, ADDR_NONE, ADDR_SHORT, BROADCAST_ADDRESS, BROADCAST_PAN_ID,
    FRAME_ACK, FRAME_BEACON, FRAME_COMMAND, FRAME_DATA, NO_SHORT_ADDRESS, MacFrame, ack_frame,
    address_mode, data_frame, decode_mac, encode_ack, encode_data_frame, encode_mac, fcs, fcs_table_driven,
)
from protocols.ieee802154.mac import (
    CHANNEL_ACCESS_FAILURE, FRAME_TOO_LONG, INVALID_PARAMETER, NO_ACK, NO_BEACON, NO_DATA, SUCCESS,
    TRANSACTION_EXPIRED, TRANSACTION_OVERFLOW, MacLayer, MacUser, PanDescriptor,
)

__all__ = [
    "MacLayer", "MacUser", "PanDescriptor", "SUCCESS", "CHANNEL_ACCESS_FAILURE", "FRAME_TOO_LONG",
    "INVALID_PARAMETER", "NO_ACK", "NO_BEACON", "NO_DATA", "TRANSACTION_EXPIRED", "TRANSACTION_OVERFLOW",
    "A_MAX_PHY_PACKET_SIZE", "ADDR_EXTENDED", "ADDR_NONE", "ADDR_SHORT", "BROADCAST_ADDRESS",
    "BROADCAST_PAN_ID", "FRAME_ACK", "FRAME_BEACON", "FRAME_COMMAND", "FRAME_DATA", "NO_SHORT_ADDRESS",
    "MacFrame", "ack_frame", "address_mode", "data_frame", "decode_mac", "encode_ack", "encode_data_frame",
    "encode_mac", "fcs",
    "fcs_table_driven",
    "ASSOCIATION_PAN_ACCESS_DENIED", "ASSOCIATION_PAN_AT_CAPACITY", "ASSOCIATION_SUCCESS",
    "CAP_ALLOCATE_ADDRESS", "CAP_ALTERNATE_PAN_COORDINATOR", "CAP_DEVICE_TYPE_FFD", "CAP_POWER_SOURCE_MAINS",
    "CAP_RX_ON_WHEN_IDLE", "CAP_SECURITY_CAPABLE", "CMD_ASSOCIATION_REQUEST", "CMD_ASSOCIATION_RESPONSE",
    "CMD_BEACON_REQUEST", "CMD_COORDINATOR_REALIGNMENT", "CMD_DATA_REQUEST", "CMD_DISASSOCIATION_NOTIFICATION",
    "CMD_GTS_REQUEST", "CMD_ORPHAN_NOTIFICATION", "CMD_PAN_ID_CONFLICT_NOTIFICATION", "AssociationRequest",
    "AssociationResponse", "BeaconRequest", "CoordinatorRealignment", "DataRequest", "DisassociationNotification",
    "GtsRequest", "MacCommand", "OrphanNotification", "PanIdConflictNotification", "association_request_frame",
    "association_response_frame", "beacon_request_frame", "coordinator_realignment_frame", "data_request_frame",
    "decode_command", "disassociation_notification_frame", "encode_command", "orphan_notification_frame",
    "Beacon", "GtsDescriptor", "SuperframeSpec", "ZigbeeBeaconPayload", "beacon_frame", "decode_beacon",
    "decode_zigbee_beacon_payload", "encode_beacon", "encode_zigbee_beacon_payload",
]
