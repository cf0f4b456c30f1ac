"""Identify cluster (0x0003).

Implements ZigBee Cluster Library (07-5123) section 3.5, "Identify": attribute IdentifyTime and
the commands Identify, Identify Query, Trigger Effect and Identify Query Response.
"""

from __future__ import annotations

from protocols.zcl import types as t
from protocols.zcl.cluster_defs import ClusterDef
from protocols.zcl.se._util import attributes, cmd, commands

__all__ = ["IDENTIFY", "IDENTIFY_CLUSTER_ID"]

IDENTIFY_CLUSTER_ID = 0x0003

#: The Identify cluster definition.
IDENTIFY = ClusterDef(
    IDENTIFY_CLUSTER_ID, "Identify",
    attributes([(0x0000, "IdentifyTime", t.UINT16, "rw", 0)]),
    server_commands=commands(
        cmd(0x00, "Identify", ("IdentifyTime", t.UINT16)),
        cmd(0x01, "IdentifyQuery"),
        cmd(0x40, "TriggerEffect", ("EffectIdentifier", t.ENUM8), ("EffectVariant", t.ENUM8)),
    ),
    client_commands=commands(cmd(0x00, "IdentifyQueryResponse", ("Timeout", t.UINT16))),
)
