"""On/Off cluster (0x0006).

Implements ZigBee Cluster Library (07-5123) section 3.8, "On/Off": the attributes (OnOff and the
ZCL 6 lighting set) and the commands Off, On, Toggle, Off With Effect, On With Recall Global
Scene and On With Timed Off (the server is the switch; the HCALCS serves it and its ESME drives
it as client).
"""

from __future__ import annotations

from protocols.zcl import types as t
from protocols.zcl.cluster_defs import ClusterDef
from protocols.zcl.se._util import attributes, cmd, commands

__all__ = ["ON_OFF", "ON_OFF_CLUSTER_ID"]

ON_OFF_CLUSTER_ID = 0x0006

#: The On/Off cluster definition.
ON_OFF = ClusterDef(
    ON_OFF_CLUSTER_ID, "OnOff",
    attributes([(0x0000, "OnOff", t.BOOLEAN, "rp", False),
                (0x4000, "GlobalSceneControl", t.BOOLEAN, "r", True),
                (0x4001, "OnTime", t.UINT16, "rw", 0),
                (0x4002, "OffWaitTime", t.UINT16, "rw", 0),
                (0x4003, "StartUpOnOff", t.ENUM8, "rw", 0)]),
    server_commands=commands(
        cmd(0x00, "Off"), cmd(0x01, "On"), cmd(0x02, "Toggle"),
        cmd(0x40, "OffWithEffect", ("EffectIdentifier", t.ENUM8), ("EffectVariant", t.ENUM8)),
        cmd(0x41, "OnWithRecallGlobalScene"),
        cmd(0x42, "OnWithTimedOff", ("OnOffControl", t.BITMAP8), ("OnTime", t.UINT16),
            ("OffWaitTime", t.UINT16))),
)
