"""OTA Upgrade cluster (0x0019).

Implements ZigBee Cluster Library (07-5123) chapter 11, "OTA Upgrade": the server attributes
(11.10) and every command (11.13): ImageNotify, QueryNextImageResponse, ImageBlockResponse,
UpgradeEndResponse, QuerySpecificFileResponse (server to client) and QueryNextImageRequest,
ImageBlockRequest, ImagePageRequest, UpgradeEndRequest, QuerySpecificFileRequest (client to
server). Fields that the field control, payload type or status select are optional
(L{protocols.zcl.cluster_defs.When}). GBCS distributes device firmware to GSMEs, PPMIDs and HCALCS
this way.
"""

from __future__ import annotations

from protocols.zcl import types as t
from protocols.zcl.cluster_defs import BitSet, ClusterDef, Named, OneOf, Octets, When
from protocols.zcl.se._util import attributes, cmd, commands

__all__ = ["OTA_UPGRADE", "OTA_UPGRADE_CLUSTER_ID", "IMAGE_NOTIFY_PAYLOAD_TYPES"]

OTA_UPGRADE_CLUSTER_ID = 0x0019

U8, U16, U32, E8, B8, UTC, EUI64 = (t.UINT8, t.UINT16, t.UINT32, t.ENUM8, t.BITMAP8,
                                    t.UTC_TIME, t.IEEE_ADDRESS)
_SUCCESS, _WAIT_FOR_DATA = 0x00, 0x97  # ZCL status SUCCESS, WAIT_FOR_DATA

#: ImageNotify PayloadType (ZCL 11.13.3.2.1).
IMAGE_NOTIFY_PAYLOAD_TYPES = {
    0x00: "Query Jitter", 0x01: "Query Jitter and Manufacturer Code",
    0x02: "Query Jitter, Manufacturer Code and Image Type",
    0x03: "Query Jitter, Manufacturer Code, Image Type and File Version"}

_IMAGE = (("ManufacturerCode", U16), ("ImageType", U16), ("FileVersion", U32))


def _when_status(status: int, fields: tuple) -> tuple:
    """C{fields}, present only when the Status field is C{status}."""
    return tuple((name, When("Status", OneOf(frozenset({status})), codec))
                 for name, codec in fields)


_IMAGE_FOUND = (("Status", E8),) + _when_status(_SUCCESS, _IMAGE + (("ImageSize", U32),))
_REQUEST = (("FieldControl", B8),) + _IMAGE + (("FileOffset", U32), ("MaximumDataSize", U8))

#: The OTA Upgrade cluster definition.
OTA_UPGRADE = ClusterDef(
    OTA_UPGRADE_CLUSTER_ID, "OTA Upgrade",
    attributes([
        (0x0000, "UpgradeServerID", EUI64, "r", 0xFFFFFFFFFFFFFFFF),
        (0x0001, "FileOffset", U32, "r", 0xFFFFFFFF),
        (0x0002, "CurrentFileVersion", U32, "r", 0xFFFFFFFF),
        (0x0003, "CurrentZigBeeStackVersion", U16, "r", 0xFFFF),
        (0x0004, "DownloadedFileVersion", U32, "r", 0xFFFFFFFF),
        (0x0005, "DownloadedZigBeeStackVersion", U16, "r", 0xFFFF),
        (0x0006, "ImageUpgradeStatus", E8, "r", 0x00),
        (0x0007, "ManufacturerID", U16, "r", 0),
        (0x0008, "ImageTypeID", U16, "r", 0),
        (0x0009, "MinimumBlockPeriod", U16, "r", 0),
        (0x000A, "ImageStamp", U32, "r", 0),
        (0x000B, "UpgradeActivationPolicy", E8, "r", 0),
        (0x000C, "UpgradeTimeoutPolicy", E8, "r", 0),
    ]),
    server_commands=commands(
        cmd(0x01, "QueryNextImageRequest", ("FieldControl", B8), ("ManufacturerCode", U16),
            ("ImageType", U16), ("CurrentFileVersion", U32),
            ("HardwareVersion", When("FieldControl", BitSet(0), U16))),
        cmd(0x03, "ImageBlockRequest", *_REQUEST,
            ("RequestNodeAddress", When("FieldControl", BitSet(0), EUI64)),
            ("MinimumBlockPeriod", When("FieldControl", BitSet(1), U16))),
        cmd(0x04, "ImagePageRequest", *_REQUEST, ("PageSize", U16), ("ResponseSpacing", U16),
            ("RequestNodeAddress", When("FieldControl", BitSet(0), EUI64))),
        cmd(0x06, "UpgradeEndRequest", ("Status", E8), *_IMAGE),
        cmd(0x08, "QuerySpecificFileRequest", ("RequestNodeAddress", EUI64), *_IMAGE,
            ("CurrentZigBeeStackVersion", U16)),
    ),
    client_commands=commands(
        cmd(0x00, "ImageNotify", ("PayloadType", Named(E8, IMAGE_NOTIFY_PAYLOAD_TYPES)), ("QueryJitter", U8),
            ("ManufacturerCode", When("PayloadType", OneOf(frozenset({1, 2, 3})), U16)),
            ("ImageType", When("PayloadType", OneOf(frozenset({2, 3})), U16)),
            ("NewFileVersion", When("PayloadType", OneOf(frozenset({3})), U32))),
        cmd(0x02, "QueryNextImageResponse", *_IMAGE_FOUND),
        cmd(0x05, "ImageBlockResponse", ("Status", E8), *_when_status(_SUCCESS, _IMAGE + (
            ("FileOffset", U32), ("DataSize", U8), ("ImageData", Octets("DataSize")))),
            *_when_status(_WAIT_FOR_DATA, (("CurrentTime", UTC), ("RequestTime", UTC),
                                           ("MinimumBlockPeriod", U16)))),
        cmd(0x07, "UpgradeEndResponse", *_IMAGE, ("CurrentTime", UTC), ("UpgradeTime", UTC)),
        cmd(0x09, "QuerySpecificFileResponse", *_IMAGE_FOUND),
    ),
)
