"""GBZ building blocks of the transform (GBCS 4.2 / wire-format notes 4.2 and 4.4).

A GBZ command is a list of components, each one ZCL frame addressed to a Smart Energy
cluster of the GSME or GPF; the last one carries the "last component" bit, and a future-dated
one the from-date-time.  Attribute reads name ZSE attributes (C{Divisor},
C{CurrentTier1SummationDelivered}, ...) and are resolved through the ZSE attribute tables
of the payload codec.
"""

from __future__ import annotations

import datetime

from protocols.gbcs.payloads import gbz
from protocols.zcl.clusters import clusters, get_cluster

from .dlms_items import utc_seconds
from .request import INVALID, RequestError, is_cancellation

__all__ = ["CLUSTERS", "attribute_id", "read_attributes", "cluster_command", "gbz_payload", "gbz_time",
           "NOW", "NEVER", "FROM_NOW"]

#: ZSE cluster ids by name, derived from the one ZCL registry (L{protocols.zcl.clusters.clusters}).
CLUSTERS = {c.name: c.cluster_id for c in clusters().values()}

#: ZCL frame control of a cluster-specific command client -> server (0x01) and server -> client (0x09).
CLIENT_TO_SERVER = 0x01
SERVER_TO_CLIENT = 0x09

#: GBZ times: 0 = now (immediately), 0xFFFFFFFF = never (cancels a future-dated command).
NOW = 0
NEVER = 0xFFFFFFFF
#: Start time "from now" of ZSE Publish commands (0xFFFFFFFE in some GBCS use cases).
FROM_NOW = 0xFFFFFFFE


def attribute_id(cluster: str, name: str) -> int:
    """The ZSE attribute id of C{name} in C{cluster}, from the one ZCL registry (KeyError if it lacks it)."""
    return get_cluster(_cluster_id(cluster)).attribute_id(name)


def _cluster_id(name: str) -> int:
    try:
        return CLUSTERS[name]
    except KeyError:
        raise KeyError(f"no ZCL cluster named {name!r} (known: {', '.join(sorted(CLUSTERS))})") from None


def read_attributes(cluster: str, *names: str) -> dict:
    """A ZCL Read Attributes component (profile-wide, client to server)."""
    return {"cluster_id": _cluster_id(cluster),
            "zcl": {"frame_control": 0x00, "transaction_sequence_number": 0, "command_id": 0x00,
                    "payload": {"Attributes": [{"AttributeID": attribute_id(cluster, n)} for n in names]}}}


def cluster_command(cluster: str, command_id: int, payload: dict, *, server_to_client: bool = False,
                    from_date_time: int | None = None) -> dict:
    """A cluster-specific ZCL command component."""
    comp: dict = {"cluster_id": _cluster_id(cluster),
                  "zcl": {"frame_control": SERVER_TO_CLIENT if server_to_client else CLIENT_TO_SERVER,
                          "transaction_sequence_number": 0, "command_id": command_id, "payload": payload}}
    if from_date_time is not None:
        comp["from_date_time"] = from_date_time
    return comp


def gbz_payload(*components: dict) -> dict:
    """The GBZ tree: header + components, the last one flagged, from-date-time bits set.

    The ZCL transaction sequence numbers count the components from 0.
    """
    if not components:
        raise RequestError(INVALID, "Body", "no GBZ component to send")
    out = []
    for i, c in enumerate(components):
        comp = dict(c)
        comp["zcl"] = dict(c["zcl"], transaction_sequence_number=i & 0xFF)
        comp["extended_header_control"] = (0x01 if i == len(components) - 1 else 0) | \
            (0x10 if "from_date_time" in comp else 0)
        out.append(comp)
    return {"kind": "gbz", "profile_id": gbz.GBZ_PROFILE_ID, "components": out}


def gbz_time(when: datetime.datetime | None) -> int:
    """UTC seconds since 2000 of an execution date-time: None = now (0), a cancellation = never."""
    if when is None:
        return NOW
    if is_cancellation(when):
        return NEVER
    return utc_seconds(when)
