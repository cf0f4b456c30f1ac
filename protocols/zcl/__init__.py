"""ZigBee Cluster Library (ZCL, 07-5123) for the emulated HAN: frame codec (L{frame}), data
types (L{types}), profile-wide commands and status codes (L{foundation}), the cluster registry
and generic cluster-command codec (L{clusters}), a sans-IO attribute server (L{server}), and the
Smart Energy cluster definitions (L{se}: Basic, Identify, Time, Price, Metering, Tunneling,
Key Establishment).

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
