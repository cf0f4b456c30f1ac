"""The cluster registry: every ZCL cluster the project speaks, by identifier, and the codec of
cluster-specific command payloads that looks them up.

The definitions themselves (L{protocols.zcl.cluster_defs}: attributes, commands, the layout
grammar) are pure data in L{protocols.zcl.se}; this module gathers them and is the one place
that answers "which cluster is 0x0702?".  The definition classes are re-exported here so that a
caller needs one import.
"""

from __future__ import annotations

from typing import Any, Mapping

from protocols.errors import CodecError
from protocols.zcl.cluster_defs import (ABSENT, RAW_PAYLOAD, AttributeDef, BitSet, ClusterDef, CommandDef,
                                        CountedBy, FieldCodec, FixedBytes, ListOf, Named, Octets, OneOf,
                                        Record, Rest, Switch, TypeCodec, When)
from protocols.zcl.frame import DIRECTION_CLIENT_TO_SERVER, FRAME_TYPE_CLUSTER, ZclFrame
from protocols.zcl.se import SE_CLUSTERS

__all__ = [
    "AttributeDef", "CommandDef", "ClusterDef", "FieldCodec", "TypeCodec", "Rest", "ListOf",
    "FixedBytes", "CountedBy", "Switch", "RAW_PAYLOAD", "Record", "Octets",
    "When", "BitSet", "OneOf", "ABSENT", "Named", "get_cluster", "clusters", "encode_command",
    "decode_command", "cluster_frame",
]


_REGISTRY: dict[int, ClusterDef] = {}


def clusters() -> Mapping[int, ClusterDef]:
    """All cluster definitions shipped in L{protocols.zcl.se}, by cluster identifier."""
    if not _REGISTRY:
        _REGISTRY.update({c.cluster_id: c for c in SE_CLUSTERS})
    return _REGISTRY


def get_cluster(cluster_id: int) -> ClusterDef:
    """Return the definition of cluster C{cluster_id}.

    @raise CodecError: the cluster is not defined.
    """
    c = clusters().get(cluster_id)
    if c is None:
        raise CodecError("cluster_id", 0, f"unknown cluster 0x{cluster_id:04X}")
    return c


def _command(cluster_id: int, direction: int, command_id: "int | str") -> CommandDef:
    c = get_cluster(cluster_id)
    try:
        return c.command(direction, command_id)
    except KeyError:
        d = "client to server" if direction == DIRECTION_CLIENT_TO_SERVER else \
            "server to client"
        raise CodecError("command_id", 0,
                         f"{c.name} has no {d} command {command_id!r}") from None


def encode_command(cluster_id: int, direction: int, command_id: "int | str", /,
                   **fields: Any) -> bytes:
    """Encode the payload of a cluster-specific command from its field values.

    @param command_id: command identifier or the spec's command name.
    @raise CodecError: unknown command, missing or bad field.
    """
    return _command(cluster_id, direction, command_id).encode(fields)


def decode_command(cluster_id: int, direction: int, command_id: int,
                   payload: bytes) -> dict[str, Any]:
    """Decode the payload of a cluster-specific command into a C{dict} of fields.

    @raise CodecError: unknown command or malformed payload.
    """
    return _command(cluster_id, direction, command_id).decode(payload)


def cluster_frame(cluster_id: int, direction: int, command_id: "int | str", tsn: int, /,
                  fields: Mapping[str, Any] | None = None, *,
                  disable_default_response: bool = False,
                  manufacturer_code: int | None = None, **more_fields: Any) -> ZclFrame:
    """Build the L{ZclFrame} of a cluster-specific command from its field values.

    Field values come from the C{fields} mapping and keyword arguments; a command field whose
    name clashes with a parameter here (e.g. ConfigureNotificationFlags' C{manufacturer_code})
    must be given in C{fields}.
    """
    cmd = _command(cluster_id, direction, command_id)
    values = dict(fields or {})
    values.update(more_fields)
    return ZclFrame(FRAME_TYPE_CLUSTER, cmd.command_id, tsn, cmd.encode(values), direction,
                    disable_default_response, manufacturer_code)
