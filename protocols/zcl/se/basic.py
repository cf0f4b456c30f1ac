"""Basic cluster (0x0000).

Implements ZigBee Cluster Library (07-5123) section 3.2, "Basic": the server attributes of
Table 3-7/3-8 (device information and settings) and the Reset to Factory Defaults command.
GBCS 10.2.2 requires PhysicalEnvironment (0x0011) to be supported with value 0x01.
"""

from __future__ import annotations

from protocols.zcl import types as t
from protocols.zcl.cluster_defs import ClusterDef
from protocols.zcl.se._util import attributes, cmd, commands

__all__ = ["BASIC", "BASIC_CLUSTER_ID"]

BASIC_CLUSTER_ID = 0x0000

#: The Basic cluster definition.
BASIC = ClusterDef(
    BASIC_CLUSTER_ID, "Basic",
    attributes([
        (0x0000, "ZCLVersion", t.UINT8, "r", 0x01),
        (0x0001, "ApplicationVersion", t.UINT8, "r", 0x00),
        (0x0002, "StackVersion", t.UINT8, "r", 0x00),
        (0x0003, "HWVersion", t.UINT8, "r", 0x00),
        (0x0004, "ManufacturerName", t.CHARACTER_STRING, "r", ""),
        (0x0005, "ModelIdentifier", t.CHARACTER_STRING, "r", ""),
        (0x0006, "DateCode", t.CHARACTER_STRING, "r", ""),
        (0x0007, "PowerSource", t.ENUM8, "r", 0x00),
        (0x0008, "GenericDeviceClass", t.ENUM8, "r", 0xFF),
        (0x0009, "GenericDeviceType", t.ENUM8, "r", 0xFF),
        (0x000A, "ProductCode", t.OCTET_STRING, "r", b""),
        (0x000B, "ProductURL", t.CHARACTER_STRING, "r", ""),
        (0x000C, "ManufacturerVersionDetails", t.CHARACTER_STRING, "r", ""),
        (0x000D, "SerialNumber", t.CHARACTER_STRING, "r", ""),
        (0x000E, "ProductLabel", t.CHARACTER_STRING, "r", ""),
        (0x0010, "LocationDescription", t.CHARACTER_STRING, "rw", ""),
        (0x0011, "PhysicalEnvironment", t.ENUM8, "rw", 0x00),
        (0x0012, "DeviceEnabled", t.BOOLEAN, "rw", True),
        (0x0013, "AlarmMask", t.BITMAP8, "rw", 0x00),
        (0x0014, "DisableLocalConfig", t.BITMAP8, "rw", 0x00),
        (0x4000, "SWBuildID", t.CHARACTER_STRING, "r", ""),
    ]),
    server_commands=commands(cmd(0x00, "ResetToFactoryDefaults")),
)
