"""ZigBee Cluster Library (ZCL, 07-5123): the one ZCL of the project, spoken on the emulated
HAN and carried inside GBCS GBZ payloads. Frame codec (L{frame}), data types with a Python and a
JSON form of every value (L{types}), profile-wide commands and status codes (L{foundation}), the
cluster registry with its layout grammar (L{clusters}), a sans-IO attribute server (L{server}),
and the cluster definitions GBCS uses (L{se}: Basic, Identify, Time, OTA Upgrade, Price,
Metering, Messaging, Tunneling, Prepayment, Calendar, Device Management, Events, Key
Establishment). L{protocols.gbcs.payloads.zcl_commands} is only a JSON view over this.

Everything here is pure: bytes in, frozen dataclasses/dicts out; one exception type,
L{protocols.errors.CodecError}, for anything malformed.
"""

from protocols.zcl.clusters import (AttributeDef, ClusterDef, CommandDef, cluster_frame,
                                    decode_command, encode_command, get_cluster)
from protocols.zcl.foundation import (GlobalCommand, Status, decode_global, encode_global,
                                      global_frame)
from protocols.zcl.frame import (DIRECTION_CLIENT_TO_SERVER, DIRECTION_SERVER_TO_CLIENT,
                                 FRAME_TYPE_CLUSTER, FRAME_TYPE_GLOBAL, ZclFrame, decode_zcl,
                                 encode_zcl)
from protocols.zcl.server import AttributeServer, ReportingConfiguration, default_response
from protocols.zcl.types import DATA_TYPES, decode_value, encode_value

__all__ = [
    "ZclFrame", "encode_zcl", "decode_zcl", "FRAME_TYPE_GLOBAL", "FRAME_TYPE_CLUSTER",
    "DIRECTION_CLIENT_TO_SERVER", "DIRECTION_SERVER_TO_CLIENT",
    "DATA_TYPES", "encode_value", "decode_value",
    "Status", "GlobalCommand", "decode_global", "encode_global", "global_frame",
    "AttributeDef", "CommandDef", "ClusterDef", "get_cluster", "encode_command",
    "decode_command", "cluster_frame",
    "AttributeServer", "ReportingConfiguration", "default_response",
]
