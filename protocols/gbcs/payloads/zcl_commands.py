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
from protocols.zcl.clusters import RAW_PAYLOAD, CommandDef, clusters
from protocols.zcl.foundation import GLOBAL_COMMANDS, Status
from protocols.zcl.frame import decode_header, encode_header
from protocols.zcl.types import DATA_TYPES, decode_json, encode_json

from ._wire import hexu, need, unhex

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


def _value(type_id: int, data: bytes, off: int, field: str) -> tuple[Any, int]:
    try:
        return decode_json(type_id, data, off)
    except CodecError as e:
        raise CodecError(field, e.offset, e.reason) from None


def _encode_value(type_id: int, value: Any, field: str) -> bytes:
    try:
        return encode_json(type_id, value)
    except CodecError as e:
        raise CodecError(field, 0, e.reason) from None


def _need(data: bytes, off: int, n: int, field: str) -> int:
    return need(data, off, n, field)


# ---------------------------------------------------------------------------------------
# profile-wide command payloads

def _dec_general(cluster_id: int, cmd: int, data: bytes, off: int, field: str) -> dict:
    end = len(data)
    cluster = clusters().get(cluster_id)
    names = cluster.attributes if cluster is not None else {}

    def attr(rec: dict, aid: int) -> None:
        rec["AttributeID"] = aid
        a = names.get(aid)
        if a is not None:
            rec["AttributeName"] = a.name

    def rd_u16(o: int, f: str) -> tuple[int, int]:
        e = _need(data, o, 2, f)
        return data[o] | (data[o + 1] << 8), e

    if cmd == 0x00:
        recs = []
        while off < end:
            aid, off = rd_u16(off, f"{field}.AttributeID")
            rec: dict = {}
            attr(rec, aid)
            recs.append(rec)
        return {"Attributes": recs}
    if cmd in (0x01, 0x02, 0x03, 0x05, 0x0A):
        recs = []
        while off < end:
            f = f"{field}.Records[{len(recs)}]"
            aid, off = rd_u16(off, f + ".AttributeID")
            rec = {}
            attr(rec, aid)
            if cmd == 0x01:
                e = _need(data, off, 1, f + ".Status")
                rec["Status"] = data[off]
                rec["StatusName"] = _status_name(data[off])
                off = e
                if rec["Status"] != 0:
                    recs.append(rec)
                    continue
            e = _need(data, off, 1, f + ".DataType")
            t = data[off]
            rec["DataType"] = t
            if t in DATA_TYPES:
                rec["DataTypeName"] = DATA_TYPES[t].name
            rec["Value"], off = _value(t, data, e, f + ".Value")
            recs.append(rec)
        return {"Records": recs}
    if cmd == 0x04:
        if end - off == 1:
            return {"Records": [{"Status": data[off], "StatusName": _status_name(data[off])}]}
        recs = []
        while off < end:
            f = f"{field}.Records[{len(recs)}]"
            e = _need(data, off, 3, f)
            rec = {"Status": data[off], "StatusName": _status_name(data[off])}
            attr(rec, data[off + 1] | (data[off + 2] << 8))
            recs.append(rec)
            off = e
        return {"Records": recs}
    if cmd == 0x0B:
        e = _need(data, off, 2, field)
        if e != end:
            raise CodecError(field, e, "trailing bytes after Default Response")
        return {"CommandID": data[off], "Status": data[off + 1],
                "StatusName": _status_name(data[off + 1])}
    if cmd == 0x0C:
        e = _need(data, off, 3, field)
        if e != end:
            raise CodecError(field, e, "trailing bytes after Discover Attributes")
        return {"StartAttributeID": data[off] | (data[off + 1] << 8),
                "MaximumAttributeIDs": data[off + 2]}
    if cmd == 0x0D:
        e = _need(data, off, 1, field)
        res: dict = {"DiscoveryComplete": data[off], "Attributes": []}
        off = e
        while off < end:
            e = _need(data, off, 3, field)
            rec = {}
            attr(rec, data[off] | (data[off + 1] << 8))
            rec["DataType"] = data[off + 2]
            res["Attributes"].append(rec)
            off = e
        return res
    return None  # type: ignore[return-value]


def _enc_general(cmd: int, p: dict, out: bytearray, field: str) -> bool:
    try:
        if cmd == 0x00:
            for r in p["Attributes"]:
                out += r["AttributeID"].to_bytes(2, "little")
            return True
        if cmd in (0x01, 0x02, 0x03, 0x05, 0x0A):
            for i, r in enumerate(p["Records"]):
                out += r["AttributeID"].to_bytes(2, "little")
                if cmd == 0x01:
                    out.append(r["Status"])
                    if r["Status"] != 0:
                        continue
                out.append(r["DataType"])
                out += _encode_value(r["DataType"], r.get("Value"), f"{field}.Records[{i}].Value")
            return True
        if cmd == 0x04:
            recs = p["Records"]
            if len(recs) == 1 and "AttributeID" not in recs[0]:
                out.append(recs[0]["Status"])
                return True
            for r in recs:
                out.append(r["Status"])
                out += r["AttributeID"].to_bytes(2, "little")
            return True
        if cmd == 0x0B:
            out += bytes((p["CommandID"], p["Status"]))
            return True
        if cmd == 0x0C:
            out += p["StartAttributeID"].to_bytes(2, "little")
            out.append(p["MaximumAttributeIDs"])
            return True
        if cmd == 0x0D:
            out.append(int(p["DiscoveryComplete"]))
            for r in p["Attributes"]:
                out += r["AttributeID"].to_bytes(2, "little")
                out.append(r["DataType"])
            return True
    except CodecError:
        raise
    except (KeyError, TypeError, ValueError, OverflowError, AttributeError) as e:
        raise CodecError(field, 0, f"cannot encode {_general_name(cmd)}: {e!r}") from None
    return False


# ---------------------------------------------------------------------------------------
# payloads and frames

def _command(cluster_id: int, frame_control: int, command_id: int) -> CommandDef | None:
    c = clusters().get(cluster_id)
    if c is None:
        return None
    return c.commands(1 if frame_control & 0x08 else 0).get(command_id)


def decode_zcl_payload(cluster_id: int, frame_control: int, command_id: int,
                       payload: bytes, field: str = "payload") -> dict:
    """Decode a ZCL command payload (the bytes after the ZCL header).

    Returns a dict of named fields; an unknown command gives C{{"raw_payload": hex}}.
    """
    if frame_control & 0x04:  # manufacturer specific: layout unknown
        return {RAW_PAYLOAD: hexu(payload)}
    if frame_control & 0x03 == 0:
        res = _dec_general(cluster_id, command_id, payload, 0, field)
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
        out = bytearray()
        if _enc_general(command_id, fields, out, field):
            return bytes(out)
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
