"""Time cluster (0x000A).

Implements ZigBee Cluster Library (07-5123) section 3.12, "Time" (Table 3-60 attributes). Time,
LastSetTime and ValidUntilTime are UTCTime (seconds since 2000-01-01 UTC); TimeStatus is a
bitmap (bit 0 Master, bit 1 Synchronized, bit 2 MasterZoneDst, bit 3 Superseding). In GB smart
metering the Communications Hub is the time master and answers with TimeStatus 0x09
(Master | Superseding). The cluster has no commands.
"""

from __future__ import annotations

from protocols.zcl import types as t
from protocols.zcl.cluster_defs import ClusterDef
from protocols.zcl.se._util import attributes

__all__ = ["TIME", "TIME_CLUSTER_ID", "TIME_STATUS_MASTER", "TIME_STATUS_SYNCHRONIZED",
           "TIME_STATUS_MASTER_ZONE_DST", "TIME_STATUS_SUPERSEDING"]

TIME_CLUSTER_ID = 0x000A

TIME_STATUS_MASTER = 0x01
TIME_STATUS_SYNCHRONIZED = 0x02
TIME_STATUS_MASTER_ZONE_DST = 0x04
TIME_STATUS_SUPERSEDING = 0x08

#: The Time cluster definition.
TIME = ClusterDef(
    TIME_CLUSTER_ID, "Time",
    attributes([
        (0x0000, "Time", t.UTC_TIME, "rw", 0xFFFFFFFF),
        (0x0001, "TimeStatus", t.BITMAP8, "rw", 0x00),
        (0x0002, "TimeZone", t.INT32, "rw", 0),
        (0x0003, "DstStart", t.UINT32, "rw", 0xFFFFFFFF),
        (0x0004, "DstEnd", t.UINT32, "rw", 0xFFFFFFFF),
        (0x0005, "DstShift", t.INT32, "rw", 0),
        (0x0006, "StandardTime", t.UINT32, "r", 0xFFFFFFFF),
        (0x0007, "LocalTime", t.UINT32, "r", 0xFFFFFFFF),
        (0x0008, "LastSetTime", t.UTC_TIME, "r", 0xFFFFFFFF),
        (0x0009, "ValidUntilTime", t.UTC_TIME, "rw", 0xFFFFFFFF),
    ]),
)
