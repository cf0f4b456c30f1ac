"""The ZCL inside GBZ components, as JSON trees: a thin view over L{protocols.zcl}.

Implements GBCS wire-format notes §4.2 (ZCL part). Everything about ZCL itself - the frame
header (L{protocols.zcl.frame}), the data types (L{protocols.zcl.types}), the clusters with
their attributes and command layouts (L{protocols.zcl.clusters}, L{protocols.zcl.se}) - is
the one ZCL the HAN devices speak on the air; this module only turns it into the GBCS tree:

* the header as C{{"frame_control", "frame_type", "direction", ..., "command"}} (the frame
  control octet kept as sent);
* cluster-specific payloads as C{{FieldName: value}} with the ZSE's field names, values in
  their JSON form (L{protocols.zcl.types.decode_json}: octets as uppercase hex, Dates with
  C{null} for "any", ...), sub-payloads as nested objects and lists;
* the profile-wide commands GBCS carries (Read Attributes and its response, Write Attributes,
  Report Attributes, Default Response, Discover Attributes) as records naming each attribute
  from the cluster's attribute table.

A payload whose layout is unknown (manufacturer-specific, an unknown command, a sub-payload
type with no layout) is kept as C{{"raw_payload": hex}}, which
L{protocols.gbcs.payloads.payload_fully_decoded} reports as opaque.
"""

from __future__ import annotations

from typing import Any

from protocols.errors import CodecError
from protocols.zcl import foundation as f
from protocols.zcl.clusters import RAW_PAYLOAD, CommandDef, clusters
from protocols.zcl.foundation import GLOBAL_COMMANDS, Status
from protocols.zcl.frame import decode_header, encode_header
from protocols.zcl.types import DATA_TYPES

from ._wire import hexu, unhex

__all__ = [
    "CLUSTER_NAMES", "COMMANDS", "decode_zcl_frame", "encode_zcl_frame", "decode_zcl_payload",
    "encode_zcl_payload", "attribute_name", "command_name", "decode_zcl_header",
    "encode_zcl_header",
]

#: cluster id -> cluster name, from the registry
CLUSTER_NAMES: dict[int, str] = {cid: c.name for cid, c in clusters().items()}

#: (cluster id, server to client, command id) -> (command name, L{CommandDef}), from the registry
COMMANDS: dict[tuple[int, bool, int], tuple[str, CommandDef]] = {
    (cid, bool(direction), cmd_id): (d.name, d)
    for cid, c in clusters().items() for direction in (0, 1)
    for cmd_id, d in c.commands(direction).items()}


def _status_name(status: int) -> str:
    try:
        return Status(status).name
    except ValueError:
        return "unknown"


def _general_name(command_id: int) -> str | None:
    cls = GLOBAL_COMMANDS.get(command_id)
    return cls.__name__ if cls is not None else None


def attribute_name(cluster_id: int, attribute_id: int) -> str | None:
    """ZSE name of a server attribute, or None if the cluster or attribute is not defined."""
    c = clusters().get(cluster_id)
    a = c.attributes.get(attribute_id) if c is not None else None
    return a.name if a is not None else None


# ---------------------------------------------------------------------------------------
# profile-wide command payloads: decoded by L{protocols.zcl.foundation} (values in their JSON
# form), shown as records naming each attribute from the cluster's attribute table

def _attr(cluster_id: int, attribute_id: int) -> dict:
    rec: dict[str, Any] = {"AttributeID": attribute_id}
    name = attribute_name(cluster_id, attribute_id)
    if name:
        rec["AttributeName"] = name
    return rec


def _status(status: int) -> dict:
    return {"Status": int(status), "StatusName": _status_name(status)}


def _typed(type_id: int, value: Any) -> dict:
    rec: dict[str, Any] = {"DataType": type_id}
    if type_id in DATA_TYPES:
        rec["DataTypeName"] = DATA_TYPES[type_id].name
    rec["Value"] = value
    return rec


def _dec_general(cluster_id: int, cmd: int, data: bytes, field: str) -> dict | None:
    """The tree of a profile-wide command GBCS carries, or None for the others."""
    cls = GLOBAL_COMMANDS.get(cmd)
    if cmd not in _GENERAL_IN_GBZ or cls is None:
        return None
    # octets a foundation decoder would not give back are refused, so every tree re-encodes
    # to the same octets
    if (cmd == 0x0B and len(data) != 2) or (cmd == 0x0C and len(data) != 3) or \
            (cmd == 0x0D and data[:1] not in (b"\x00", b"\x01")):
        raise CodecError(field, 0, f"{cls.__name__}: not a whole {cls.__name__} payload")
    try:
        c = cls.decode(data, js=True) if cmd in _WITH_VALUES else cls.decode(data)
    except CodecError as e:
        raise CodecError(f"{field}.{e.field}", e.offset, e.reason) from None
    if cmd == 0x00:
        return {"Attributes": [_attr(cluster_id, a) for a in c.attribute_ids]}
    if cmd == 0x01:
        return {"Records": [{**_attr(cluster_id, r.attribute_id), **_status(r.status),
                             **(_typed(r.type_id, r.value) if r.status == 0 else {})}
                            for r in c.records]}
    if cmd in (0x02, 0x03, 0x05, 0x0A):
        recs = c.reports if cmd == 0x0A else c.records
        return {"Records": [{**_attr(cluster_id, r.attribute_id), **_typed(r.type_id, r.value)}
                            for r in recs]}
    if cmd == 0x04:
        return {"Records": [{**_status(r.status), **({} if r.attribute_id is None else
                                                      _attr(cluster_id, r.attribute_id))}
                            for r in c.records]}
    if cmd == 0x0B:
        return {"CommandID": c.response_command_id, **_status(c.status)}
    if cmd == 0x0C:
        return {"StartAttributeID": c.start_attribute_id,
                "MaximumAttributeIDs": c.max_attribute_ids}
    return {"DiscoveryComplete": int(c.discovery_complete),
            "Attributes": [{**_attr(cluster_id, r.attribute_id), "DataType": r.type_id}
                           for r in c.records]}


def _enc_general(cmd: int, p: dict, field: str) -> bytes | None:
    """Encode the tree of L{_dec_general} (None for a command it does not show)."""
    cls = GLOBAL_COMMANDS.get(cmd)
    if cmd not in _GENERAL_IN_GBZ or cls is None:
        return None
    try:
        if cmd == 0x00:
            c = cls(tuple(r["AttributeID"] for r in p["Attributes"]))
        elif cmd == 0x01:
            c = cls(tuple(f.ReadAttributeStatusRecord(r["AttributeID"], r["Status"],
                                                      r.get("DataType"), r.get("Value"))
                          for r in p["Records"]))
        elif cmd in (0x02, 0x03, 0x05, 0x0A):
            rec = f.AttributeReport if cmd == 0x0A else f.WriteAttributeRecord
            c = cls(tuple(rec(r["AttributeID"], r["DataType"], r.get("Value"))
                          for r in p["Records"]))
        elif cmd == 0x04:
            c = cls(tuple(f.WriteAttributeStatusRecord(r["Status"], r.get("AttributeID"))
                          for r in p["Records"]))
        elif cmd == 0x0B:
            c = cls(p["CommandID"], p["Status"])
        elif cmd == 0x0C:
            c = cls(p["StartAttributeID"], p["MaximumAttributeIDs"])
        else:
            c = cls(p["DiscoveryComplete"], tuple(
                f.AttributeInformation(r["AttributeID"], r["DataType"]) for r in p["Attributes"]))
        return c.encode(js=True) if cmd in _WITH_VALUES else c.encode()
    except CodecError as e:
        raise CodecError(f"{field}.{e.field}", e.offset, e.reason) from None
    except (KeyError, TypeError, ValueError, OverflowError, AttributeError) as e:
        raise CodecError(field, 0, f"cannot encode {cls.__name__}: {e!r}") from None


#: the profile-wide commands shown as trees, and those of them that carry attribute values
_GENERAL_IN_GBZ = frozenset((0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x0A, 0x0B, 0x0C, 0x0D))
_WITH_VALUES = frozenset((0x01, 0x02, 0x03, 0x05, 0x0A))


# ---------------------------------------------------------------------------------------
# payloads and frames

_DEFS: dict[tuple[int, int, int], CommandDef] = {
    (cid, 0x08 if s2c else 0, cmd_id): d for (cid, s2c, cmd_id), (_, d) in COMMANDS.items()}


def _command(cluster_id: int, frame_control: int, command_id: int) -> CommandDef | None:
    return _DEFS.get((cluster_id, frame_control & 0x08, command_id))


def decode_zcl_payload(cluster_id: int, frame_control: int, command_id: int,
                       payload: bytes, field: str = "payload") -> dict:
    """Decode a ZCL command payload (the bytes after the ZCL header).

    Returns a dict of named fields; an unknown command gives C{{"raw_payload": hex}}.
    """
    if frame_control & 0x04:  # manufacturer specific: layout unknown
        return {RAW_PAYLOAD: hexu(payload)}
    if frame_control & 0x03 == 0:
        res = _dec_general(cluster_id, command_id, payload, field)
        if res is None:
            return {RAW_PAYLOAD: hexu(payload)}
        return res
    d = _command(cluster_id, frame_control, command_id)
    if d is None:
        return {RAW_PAYLOAD: hexu(payload)}
    try:
        return d.decode(payload, js=True)
    except CodecError as e:
        raise CodecError(f"{field}.{e.field}", e.offset, e.reason) from None


def encode_zcl_payload(cluster_id: int, frame_control: int, command_id: int,
                       fields: dict, field: str = "payload") -> bytes:
    """Encode a ZCL command payload tree produced by L{decode_zcl_payload}."""
    if not isinstance(fields, dict):
        raise CodecError(field, 0, "payload must be an object")
    if RAW_PAYLOAD in fields:
        return unhex(fields[RAW_PAYLOAD], field)
    if frame_control & 0x03 == 0:
        raw = _enc_general(command_id, fields, field)
        if raw is not None:
            return raw
        raise CodecError(field, 0, f"no layout for general command 0x{command_id:02X}")
    d = _command(cluster_id, frame_control, command_id)
    if d is None:
        raise CodecError(field, 0, f"no layout for command 0x{command_id:02X}")
    try:
        return d.encode(fields, js=True)
    except CodecError as e:
        raise CodecError(f"{field}.{e.field}", e.offset, e.reason) from None


def command_name(cluster_id: int, frame_control: int, command_id: int) -> str | None:
    """ZCL/ZSE name of a command given the frame control (type and direction bits)."""
    if frame_control & 0x03 == 0:
        return _general_name(command_id)
    if frame_control & 0x04:
        return None
    d = _command(cluster_id, frame_control, command_id)
    return d.name if d is not None else None


def decode_zcl_header(data: bytes, off: int, field: str = "zcl") -> tuple[dict, int]:
    """Decode a ZCL frame header (frame control, [manufacturer code], TSN, command id)."""
    try:
        fc, mfr, tsn, cmd, end = decode_header(data, off)
    except CodecError as e:
        raise CodecError(f"{field}.{e.field}", e.offset, e.reason) from None
    hdr: dict[str, Any] = {"frame_control": fc,
                           "frame_type": "cluster-specific" if fc & 0x03 == 1 else "profile-wide",
                           "direction": "server-to-client" if fc & 0x08 else "client-to-server",
                           "disable_default_response": bool(fc & 0x10)}
    if mfr is not None:
        hdr["manufacturer_code"] = mfr
    hdr["transaction_sequence_number"] = tsn
    hdr["command_id"] = cmd
    return hdr, end


def encode_zcl_header(hdr: dict, field: str = "zcl") -> bytes:
    """Encode the ZCL frame header fields of C{hdr}."""
    try:
        return encode_header(hdr["frame_control"], hdr.get("manufacturer_code"),
                             hdr["transaction_sequence_number"], hdr["command_id"])
    except (KeyError, TypeError, ValueError, OverflowError, AttributeError) as e:
        raise CodecError(field, 0, f"cannot encode ZCL header: {e!r}") from None


def decode_zcl_frame(cluster_id: int, data: bytes, field: str = "zcl") -> dict:
    """Decode a complete plaintext ZCL frame (header + payload) for C{cluster_id}."""
    hdr, off = decode_zcl_header(data, 0, field)
    name = command_name(cluster_id, hdr["frame_control"], hdr["command_id"])
    if name:
        hdr["command"] = name
    hdr["payload"] = decode_zcl_payload(cluster_id, hdr["frame_control"], hdr["command_id"],
                                        data[off:], field + ".payload")
    return hdr


def encode_zcl_frame(cluster_id: int, tree: dict, field: str = "zcl") -> bytes:
    """Encode a tree produced by L{decode_zcl_frame}."""
    return encode_zcl_header(tree, field) + encode_zcl_payload(
        cluster_id, tree["frame_control"], tree["command_id"], tree.get("payload", {}),
        field + ".payload")
