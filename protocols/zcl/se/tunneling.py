"""Tunneling cluster (0x0704).

Implements ZigBee Smart Energy 1.4 (07-5356-19) Annex D.6, "Tunneling Cluster": attribute
CloseTunnelTimeout and the commands RequestTunnel, CloseTunnel, TransferData,
TransferDataError, AckTransferData, ReadyData, GetSupportedTunnelProtocols (client to server)
and RequestTunnelResponse, TransferData, TransferDataError, AckTransferData, ReadyData,
SupportedTunnelProtocolsResponse, TunnelClosureNotification (server to client).

GB smart metering carries GBCS in TransferData with protocol 6, GB-HRGP (see
L{protocols.hrgp}); the data field is the raw tunnelled octets.
"""

from __future__ import annotations

from protocols.zcl import types as t
from protocols.zcl.cluster_defs import ClusterDef, CountedBy, Named, Record, Rest
from protocols.zcl.se._util import attributes, cmd, commands

__all__ = ["TUNNELING", "TUNNELING_CLUSTER_ID", "PROTOCOL_GB_HRGP", "TUNNEL_STATUS_SUCCESS",
           "TUNNEL_STATUS_BUSY", "TUNNEL_STATUS_NO_MORE_TUNNEL_IDS",
           "TUNNEL_STATUS_PROTOCOL_NOT_SUPPORTED", "TUNNEL_STATUS_FLOW_CONTROL_NOT_SUPPORTED",
           "PROTOCOL_IDS", "TUNNEL_STATUS", "TRANSFER_DATA_STATUS"]

TUNNELING_CLUSTER_ID = 0x0704

#: ProtocolID of GB-HRGP, the GBCS tunnel protocol.
PROTOCOL_GB_HRGP = 6

# RequestTunnelResponse TunnelStatus values (D.6.2.4.1).
TUNNEL_STATUS_SUCCESS = 0
TUNNEL_STATUS_BUSY = 1
TUNNEL_STATUS_NO_MORE_TUNNEL_IDS = 2
TUNNEL_STATUS_PROTOCOL_NOT_SUPPORTED = 3
TUNNEL_STATUS_FLOW_CONTROL_NOT_SUPPORTED = 4

#: ProtocolID (D.6.2.4.1.2, Table D-128); 200-254 are manufacturer-defined.
PROTOCOL_IDS = {0: "DLMS/COSEM (IEC 62056)", 1: "IEC 61107", 2: "ANSI C12", 3: "M-BUS",
                4: "SML", 5: "ClimateTalk", 6: "GB-HRGP", 7: "IPv6", 8: "IPv4", 9: "null"}
#: TunnelStatus of RequestTunnelResponse (D.6.2.5.1.2, Table D-129).
TUNNEL_STATUS = {TUNNEL_STATUS_SUCCESS: "Success", TUNNEL_STATUS_BUSY: "Busy",
                 TUNNEL_STATUS_NO_MORE_TUNNEL_IDS: "No More Tunnel IDs",
                 TUNNEL_STATUS_PROTOCOL_NOT_SUPPORTED: "Protocol Not Supported",
                 TUNNEL_STATUS_FLOW_CONTROL_NOT_SUPPORTED: "Flow Control Not Supported"}
#: TransferDataStatus (D.6.2.4.4.1, Table D-131).
TRANSFER_DATA_STATUS = {0x00: "No such tunnel", 0x01: "Wrong device", 0x02: "Data overflow"}

U8, U16 = t.UINT8, t.UINT16
_ID = ("TunnelID", U16)

#: The Tunneling cluster definition.
TUNNELING = ClusterDef(
    TUNNELING_CLUSTER_ID, "Tunneling",
    attributes([(0x0000, "CloseTunnelTimeout", U16, "r", 0xFFFF)]),
    server_commands=commands(
        cmd(0x00, "RequestTunnel", ("ProtocolID", Named(t.ENUM8, PROTOCOL_IDS)),
            ("ManufacturerCode", U16), ("FlowControlSupport", t.BOOLEAN),
            ("MaximumIncomingTransferSize", U16)),
        cmd(0x01, "CloseTunnel", _ID),
        cmd(0x02, "TransferData", _ID, ("Data", Rest())),
        cmd(0x03, "TransferDataError", _ID, ("TransferDataStatus", Named(U8, TRANSFER_DATA_STATUS))),
        cmd(0x04, "AckTransferData", _ID, ("NumberOfBytesLeft", U16)),
        cmd(0x05, "ReadyData", _ID, ("NumberOfOctetsLeft", U16)),
        cmd(0x06, "GetSupportedTunnelProtocols", ("ProtocolOffset", U8)),
    ),
    client_commands=commands(
        cmd(0x00, "RequestTunnelResponse", _ID, ("TunnelStatus", Named(U8, TUNNEL_STATUS)),
            ("MaximumIncomingTransferSize", U16)),
        cmd(0x01, "TransferData", _ID, ("Data", Rest())),
        cmd(0x02, "TransferDataError", _ID, ("TransferDataStatus", Named(U8, TRANSFER_DATA_STATUS))),
        cmd(0x03, "AckTransferData", _ID, ("NumberOfBytesLeft", U16)),
        cmd(0x04, "ReadyData", _ID, ("NumberOfOctetsLeft", U16)),
        cmd(0x05, "SupportedTunnelProtocolsResponse", ("ProtocolListComplete", t.BOOLEAN),
            ("ProtocolCount", U8),
            ("ProtocolList", CountedBy("ProtocolCount", Record((
                ("ManufacturerCode", U16), ("ProtocolID", Named(t.ENUM8, PROTOCOL_IDS))))))),
        cmd(0x06, "TunnelClosureNotification", _ID),
    ),
)
