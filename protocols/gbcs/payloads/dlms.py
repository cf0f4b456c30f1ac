"""DLMS/COSEM xDLMS payloads of GBCS messages (ESME, CHF).

Implements GBCS wire-format notes §4.1 (DLMS Green Book / IEC 62056-5-3 A-XDR):

* §4.1.3 the A-XDR C{Data} type system, all standard tags: null-data, array, structure,
  boolean, bit-string, double-long(-unsigned), octet-string, visible-string, utf8-string,
  bcd, integer, long, unsigned, long-unsigned, compact-array (with its TypeDescription),
  long64(-unsigned), enum, float32, float64, date-time, date, time, the delta types and
  dont-care;
* §4.1.1/§4.1.2 the xDLMS APDUs GBCS uses: Access-Request (0xD9), Access-Response (0xDA)
  and Data-Notification (0x0F) with Access-Request-Specification / Access-Response-
  Specification;
* §4.1.6 the protected-attributes structures (protection parameters followed by an
  octet-string C{31 00000000 || ciphertext || tag}), decrypted through a L{PayloadCrypto}.

Trees are JSON-serialisable dicts (bytes as uppercase hex) that re-encode to the exact
bytes: non-minimal A-XDR length forms are kept under C{"length_form"}.  A C{Data} node is
C{{"type": <Green Book name>, "value": ...}}; keys other than the ones the encoder reads
(C{type}, C{value}, C{bits}, C{length_form}, C{type_description}, C{protected}) are
annotations for readers (e.g. C{"date_time"} for 12-byte octet-strings).
"""

from __future__ import annotations

import functools
import math
import struct
from typing import Any

from protocols.errors import CodecError

from ._wire import hexu, need, read_length, unhex, write_length

__all__ = [
    "DATA_TAGS", "COSEM_CLASS_NAMES", "COSEM_OBJECT_NAMES", "DATA_ACCESS_RESULT",
    "ACTION_RESULT", "decode_data", "encode_data", "data_from_bytes", "data_to_bytes",
    "decode_apdu", "encode_apdu", "obis_to_str", "obis_from_str", "format_dlms_date_time",
    "SECURITY_HEADER", "make_data", "structure", "array", "octet_string",
    "access_request_item", "access_request", "access_response", "data_notification",
]

#: security control byte + invocation counter preceding encrypted GBCS parts (§2.3).
SECURITY_HEADER = b"\x31\x00\x00\x00\x00"

# ---------------------------------------------------------------------------------------
# Data type table (Green Book "Data" CHOICE)

_S_B = struct.Struct(">b")
_S_UB = struct.Struct(">B")
_S_H = struct.Struct(">h")
_S_UH = struct.Struct(">H")
_S_I = struct.Struct(">i")
_S_UI = struct.Struct(">I")
_S_Q = struct.Struct(">q")
_S_UQ = struct.Struct(">Q")
_S_F = struct.Struct(">f")
_S_D = struct.Struct(">d")

#: tag -> Green Book type name
DATA_TAGS: dict[int, str] = {
    0x00: "null-data", 0x01: "array", 0x02: "structure", 0x03: "boolean",
    0x04: "bit-string", 0x05: "double-long", 0x06: "double-long-unsigned",
    0x09: "octet-string", 0x0A: "visible-string", 0x0C: "utf8-string", 0x0D: "bcd",
    0x0F: "integer", 0x10: "long", 0x11: "unsigned", 0x12: "long-unsigned",
    0x13: "compact-array", 0x14: "long64", 0x15: "long64-unsigned", 0x16: "enum",
    0x17: "float32", 0x18: "float64", 0x19: "date-time", 0x1A: "date", 0x1B: "time",
    0x1C: "delta-integer", 0x1D: "delta-long", 0x1E: "delta-double-long",
    0x1F: "delta-unsigned", 0x20: "delta-long-unsigned", 0x21: "delta-double-long-unsigned",
    0xFF: "dont-care",
}
_NAME_TO_TAG = {v: k for k, v in DATA_TAGS.items()}

# integer types: tag -> struct
_INT_TYPES: dict[int, struct.Struct] = {
    0x05: _S_I, 0x06: _S_UI, 0x0D: _S_B, 0x0F: _S_B, 0x10: _S_H, 0x11: _S_UB,
    0x12: _S_UH, 0x14: _S_Q, 0x15: _S_UQ, 0x16: _S_UB, 0x1C: _S_B, 0x1D: _S_H,
    0x1E: _S_I, 0x1F: _S_UB, 0x20: _S_UH, 0x21: _S_UI,
}
_FLOAT_TYPES: dict[int, struct.Struct] = {0x17: _S_F, 0x18: _S_D}
# fixed-size octet types (value kept as hex): tag -> size
_FIXED_OCTETS = {0x19: 12, 0x1A: 5, 0x1B: 4}

#: Data-Access-Result (Green Book) values
DATA_ACCESS_RESULT: dict[int, str] = {
    0: "success", 1: "hardware-fault", 2: "temporary-failure", 3: "read-write-denied",
    4: "object-undefined", 9: "object-class-inconsistent", 11: "object-unavailable",
    12: "type-unmatched", 13: "scope-of-access-violated", 14: "data-block-unavailable",
    15: "long-get-aborted", 16: "no-long-get-in-progress", 17: "long-set-aborted",
    18: "no-long-set-in-progress", 19: "data-block-number-invalid", 250: "other-reason",
}
#: Action-Result (Green Book) values
ACTION_RESULT: dict[int, str] = {
    0: "success", 1: "hardware-fault", 2: "temporary-failure", 3: "read-write-denied",
    4: "object-undefined", 9: "object-class-inconsistent", 11: "object-unavailable",
    12: "type-unmatched", 13: "scope-of-access-violated", 14: "data-block-unavailable",
    15: "long-action-aborted", 16: "no-long-action-in-progress", 250: "other-reason",
}

#: COSEM interface classes (Blue Book class id -> name; 9000 is the GBCS extension).
COSEM_CLASS_NAMES: dict[int, str] = {
    1: "Data", 3: "Register", 4: "Extended register", 5: "Demand register",
    6: "Register activation", 7: "Profile generic", 8: "Clock", 9: "Script table",
    10: "Schedule", 11: "Special days table", 15: "Association LN", 17: "SAP assignment",
    18: "Image transfer", 20: "Activity calendar", 21: "Register monitor",
    22: "Single action schedule", 26: "Utility tables", 30: "Data protection",
    40: "Push setup", 61: "Register table", 62: "Compact data", 63: "Status mapping",
    64: "Security setup", 70: "Disconnect control", 71: "Limiter",
    101: "ZigBee SAS startup", 102: "ZigBee SAS join", 103: "ZigBee SAS APS fragmentation",
    104: "ZigBee network control", 105: "ZigBee tunnel setup", 111: "Account",
    112: "Credit", 113: "Charge", 115: "Token gateway", 9000: "GBCS Extended Data",
}

#: Known GBCS COSEM instances (OBIS -> name), §4.1.5.  Decoding never depends on these.
COSEM_OBJECT_NAMES: dict[str, str] = {
    "0-0:94.44.3.1": "Disable Privacy PIN", "0-0:94.44.3.2": "Restrict Data Date Time",
    "0-0:94.44.10.0": "Sub GHz Configuration", "0-0:94.44.10.1": "Sub GHz Channel Scan",
    "0-0:94.44.10.2": "Sub GHz Operating Channel", "0-0:94.44.10.3": "Sub GHz Channel Log",
    "0-0:94.44.34.20": "Power Import Collection", "0-2:96.13.1.255": "Supplier Message",
    "1-0:2.8.0.255": "Active Export", "1-0:4.8.0.255": "Reactive Export",
    "1-0:1.8.0.255": "Active Import",
    "0-0:99.98.0.255": "Event Log", "0-17:99.98.2.255": "ALCS Event Log",
    "0-0:99.98.4.255": "Power Event Log",
    "0-0:10.0.100.255": "Tariff Block Counter Matrix TOU",
    "0-1:12.0.1.255": "Non-Disablement Calendar",
    "0-1:11.0.0.255": "Tariff Switching Table Special Days",
    "0-1:11.0.1.255": "Secondary Tariff Switching Table Special Days",
    "0-1:11.0.2.255": "Non-Disablement Special Days",
    "0-0:13.0.0.255": "Tariff Switching Table",
    "0-0:13.0.1.255": "Tariff Switching Table Secondary Element",
    "0-0:43.2.8.255": "Import Register Collection",
    "0-0:43.2.9.255": "Tariff TOU Register Collection",
    "0-0:43.2.10.255": "Tariff Block TOU Register Collection",
    "0-0:30.3.0.255": "CHF Device Log",
    "0-1:19.0.0.255": "Account", "0-0:19.10.0.255": "Meter Balance",
    "0-0:19.10.1.255": "Emergency Credit Balance", "0-0:19.10.2.255": "Accumulated Debt",
    "0-0:19.20.0.255": "Tariff Block Price Matrix TOU",
    "0-0:19.20.1.255": "Debt Recovery Rate 1", "0-0:19.20.2.255": "Debt Recovery Rate 2",
    "0-0:19.20.3.255": "Debt Recovery per Payment", "0-0:19.20.4.255": "Standing Charge",
    "0-0:19.20.5.255": "Secondary Tariff TOU Price Matrix",
    "0-0:19.40.0.255": "Prepayment Credit",
    "0-0:63.1.1.255": "Tariff Threshold Matrix", "0-0:94.44.2.0": "Currency Unit",
    "0-0:94.44.2.10": "Maximum Credit Threshold", "0-0:94.44.2.20": "Maximum Meter Balance",
    "0-0:94.44.128.2": "Emergency Credit Limit",
    "0-0:94.44.128.3": "Emergency Credit Threshold",
    "0-0:94.44.128.9": "Low Credit Threshold",
    "0-0:94.44.128.12": "Debt Recovery Rate Cap Amount",
    "0-0:94.44.128.13": "Debt Recovery Rate Cap Period",
    "0-0:94.44.128.22": "Disablement Threshold",
    "0-0:96.13.0.255": "Supplier Contact Phone", "0-0:96.13.1.255": "Supplier Contact Name",
    "0-0:1.0.0.255": "Clock",
}
for _i in range(8):
    COSEM_OBJECT_NAMES[f"0-0:16.1.{11 + _i}.255"] = f"Tariff Threshold Matrix Blocks TOU{_i + 1}"


# ---------------------------------------------------------------------------------------
# helpers

def obis_to_str(b: bytes) -> str:
    """Render 6 OBIS bytes as C{"A-B:C.D.E.F"} (e.g. C{"0-0:43.2.8.255"})."""
    return f"{b[0]}-{b[1]}:{b[2]}.{b[3]}.{b[4]}.{b[5]}"


def obis_from_str(s: Any, field: str = "obis") -> bytes:
    """Parse C{"A-B:C.D.E.F"} back into 6 bytes; raise L{CodecError} if malformed."""
    try:
        ab, cdef = s.split(":")
        a, b = ab.split("-")
        parts = [int(a), int(b)] + [int(x) for x in cdef.split(".")]
        if len(parts) != 6:
            raise ValueError
        return bytes(parts)
    except (ValueError, AttributeError, TypeError):
        raise CodecError(field, 0, f"invalid OBIS code {s!r}") from None


@functools.lru_cache(maxsize=4096)
def format_dlms_date_time(b: bytes) -> str:
    """Readable form of a 12-byte DLMS date-time (wildcards shown as C{*}); annotation only."""
    year = (b[0] << 8) | b[1]
    dev = (b[9] << 8) | b[10]
    dev = dev - 0x10000 if dev & 0x8000 else dev

    def f(v: int, width: int, wild: int) -> str:
        return "*" * width if v == wild else f"{v:0{width}d}"
    date = f"{f(year, 4, 0xFFFF)}-{f(b[2], 2, 0xFF)}-{f(b[3], 2, 0xFF)}"
    tm = f"{f(b[5], 2, 0xFF)}:{f(b[6], 2, 0xFF)}:{f(b[7], 2, 0xFF)}.{f(b[8], 2, 0xFF)}"
    devs = "unspecified" if dev == -0x8000 else str(dev)
    return f"{date}T{tm} dow={b[4]} deviation={devs} status=0x{b[11]:02X}"


# ---------------------------------------------------------------------------------------
# Data decoding

def _dec_octets(data: bytes, offset: int, field: str, tagname: str) -> tuple[bytes, int, int]:
    n, off, form = read_length(data, offset, field + ".length")
    end = off + n
    if end > len(data):
        raise CodecError(field, off, f"truncated {tagname}: {n} bytes declared, {len(data) - off} left")
    return data[off:end], end, form


def decode_data(data: bytes, offset: int = 0, crypto=None, field: str = "data",
                _depth: int = 0) -> tuple[dict, int]:
    """Decode one A-XDR C{Data} value at C{offset}.

    @param crypto: optional L{protocols.gbcs.payloads.PayloadCrypto} used to decrypt
        protected data (§4.1.6) found inside structures.
    @return: C{(node, new_offset)}.
    @raise CodecError: malformed or truncated input.
    """
    if _depth > 64:
        raise CodecError(field, offset, "nesting too deep")
    try:
        tag = data[offset]
    except IndexError:
        raise CodecError(field, offset, "truncated: Data tag expected") from None
    return _decode_value(tag, data, offset + 1, crypto, field, _depth)


def _decode_value(tag: int, data: bytes, off: int, crypto, field: str,
                  _depth: int) -> tuple[dict, int]:
    """Decode the content of a Data value whose tag is C{tag} (already consumed)."""
    offset = off - 1
    st = _INT_TYPES.get(tag)
    if st is not None:
        end = off + st.size
        if end > len(data):
            raise CodecError(field, off, f"truncated {DATA_TAGS[tag]}")
        return {"type": DATA_TAGS[tag], "value": st.unpack_from(data, off)[0]}, end
    if tag == 0x09:
        raw, end, form = _dec_octets(data, off, field, "octet-string")
        node = {"type": "octet-string", "value": hexu(raw)}
        if form:
            node["length_form"] = form
        if len(raw) == 12:
            node["date_time"] = format_dlms_date_time(raw)
        return node, end
    if tag == 0x02 or tag == 0x01:
        count, off, form = read_length(data, off, field + ".count")
        items = []
        sub = field + ("[]" if tag == 0x01 else "{}")
        for _ in range(count):
            item, off = decode_data(data, off, crypto, sub, _depth + 1)
            items.append(item)
        node = {"type": DATA_TAGS[tag], "value": items}
        if form:
            node["length_form"] = form
        if tag == 0x02 and len(items) >= 2:
            _mark_protected(items, crypto, field)
        return node, off
    if tag == 0x00:
        return {"type": "null-data"}, off
    if tag == 0xFF:
        return {"type": "dont-care"}, off
    if tag == 0x03:
        if off >= len(data):
            raise CodecError(field, off, "truncated boolean")
        v = data[off]
        node = {"type": "boolean", "value": v != 0}
        if v not in (0, 1):
            node["raw"] = v
        return node, off + 1
    if tag == 0x0A or tag == 0x0C:
        raw, end, form = _dec_octets(data, off, field, DATA_TAGS[tag])
        node = _string_node(DATA_TAGS[tag], raw)
        if form:
            node["length_form"] = form
        return node, end
    if tag == 0x04:
        bits, off, form = read_length(data, off, field + ".bits")
        nbytes = (bits + 7) // 8
        end = need(data, off, nbytes, field)
        node = {"type": "bit-string", "bits": bits, "value": hexu(data[off:end])}
        if form:
            node["length_form"] = form
        return node, end
    size = _FIXED_OCTETS.get(tag)
    if size is not None:
        end = need(data, off, size, field)
        node = {"type": DATA_TAGS[tag], "value": hexu(data[off:end])}
        if tag == 0x19:
            node["date_time"] = format_dlms_date_time(data[off:end])
        return node, end
    st = _FLOAT_TYPES.get(tag)
    if st is not None:
        end = need(data, off, st.size, field)
        return _float_node(DATA_TAGS[tag], st, data[off:end]), end
    if tag == 0x13:
        return _decode_compact_array(data, off, field, _depth)
    raise CodecError(field, offset, f"unknown Data tag 0x{tag:02X}")


def _string_node(typename: str, raw: bytes) -> dict:
    if typename == "utf8-string":
        try:
            return {"type": typename, "value": raw.decode("utf-8")}
        except UnicodeDecodeError:
            return {"type": typename, "hex": hexu(raw)}
    # visible-string: ISO 646; latin-1 keeps any byte value reversible
    return {"type": typename, "value": raw.decode("latin-1")}


def _float_node(typename: str, st: struct.Struct, raw: bytes) -> dict:
    v = st.unpack(raw)[0]
    if math.isfinite(v):
        return {"type": typename, "value": v}
    return {"type": typename, "hex": hexu(raw)}


# -- protected data (§4.1.6) ------------------------------------------------------------

def _is_protection_params(node: dict) -> bool:
    if node.get("type") != "array" or not node["value"]:
        return False
    for p in node["value"]:
        v = p.get("value")
        if (p.get("type") != "structure" or len(v) != 2 or v[0].get("type") != "enum"
                or v[1].get("type") != "structure"):
            return False
    return True


def _mark_protected(items: list, crypto, field: str) -> None:
    """Turn octet-strings that follow protection parameters into protected-data nodes."""
    for i in range(1, len(items)):
        node = items[i]
        if node.get("type") != "octet-string" or "value" not in node:
            continue
        v = node["value"]
        if not v.startswith("3100000000") or len(v) < 2 * (5 + 12):
            continue
        if not _is_protection_params(items[i - 1]):
            continue
        blob = bytes.fromhex(v[10:])
        prot = {"security_control": 0x31, "invocation_counter": 0, "ciphertext": hexu(blob)}
        if crypto is not None:
            plain = crypto.decrypt(blob)
            if plain is not None:
                try:
                    pnode, end = decode_data(plain, 0, None, field + ".plaintext")
                    if end != len(plain):
                        raise CodecError(field + ".plaintext", end, "trailing bytes after Data")
                except CodecError as e:
                    raise CodecError(field + ".protected." + e.field, e.offset, e.reason) from None
                prot["plaintext"] = pnode
        new = {"type": "octet-string", "protected": prot}
        if "length_form" in node:
            new["length_form"] = node["length_form"]
        items[i] = new


# -- compact array ----------------------------------------------------------------------

def _decode_type_description(data: bytes, offset: int, field: str, depth: int) -> tuple[dict, int]:
    if depth > 32:
        raise CodecError(field, offset, "type description nesting too deep")
    try:
        tag = data[offset]
    except IndexError:
        raise CodecError(field, offset, "truncated type description") from None
    off = offset + 1
    name = DATA_TAGS.get(tag)
    if name is None or tag in (0x13, 0xFF):
        raise CodecError(field, offset, f"invalid type in type description 0x{tag:02X}")
    if tag == 0x01:
        end = need(data, off, 2, field)
        count = (data[off] << 8) | data[off + 1]
        elem, off = _decode_type_description(data, end, field, depth + 1)
        return {"type": "array", "count": count, "element": elem}, off
    if tag == 0x02:
        count, off, form = read_length(data, off, field + ".count")
        members = []
        for _ in range(count):
            m, off = _decode_type_description(data, off, field, depth + 1)
            members.append(m)
        td = {"type": "structure", "members": members}
        if form:
            td["length_form"] = form
        return td, off
    return {"type": name}, off


def _decode_untagged(data: bytes, off: int, td: dict, field: str, depth: int) -> tuple[dict, int]:
    """Decode a compact-array element according to its type description (no tags)."""
    t = td["type"]
    tag = _NAME_TO_TAG[t]
    if tag == 0x02:
        items = []
        for m in td["members"]:
            item, off = _decode_untagged(data, off, m, field, depth + 1)
            items.append(item)
        return {"type": "structure", "value": items}, off
    if tag == 0x01:
        count = td["count"]
        if count:
            minsize = _td_min_size(td["element"])
            if minsize == 0:
                raise CodecError(field, off, "compact-array element of zero size")
            if count * minsize > len(data) - off:
                raise CodecError(field, off, f"truncated: {count} array elements described")
        items = []
        for _ in range(count):
            item, off = _decode_untagged(data, off, td["element"], field, depth + 1)
            items.append(item)
        return {"type": "array", "value": items}, off
    # every other type: same content encoding as the tagged form
    return _decode_value(tag, data, off, None, field, depth + 1)


def _td_min_size(td: dict) -> int:
    """Smallest number of content bytes an element of this type description can take."""
    t = td["type"]
    if t == "structure":
        return sum(_td_min_size(m) for m in td["members"])
    if t == "array":
        return td["count"] * _td_min_size(td["element"]) if td["count"] else 0
    tag = _NAME_TO_TAG[t]
    st = _INT_TYPES.get(tag) or _FLOAT_TYPES.get(tag)
    if st is not None:
        return st.size
    if tag in _FIXED_OCTETS:
        return _FIXED_OCTETS[tag]
    if tag in (0x00, 0xFF):
        return 0
    if tag == 0x03:
        return 1
    return 1  # length-prefixed types


def _decode_compact_array(data: bytes, off: int, field: str, depth: int) -> tuple[dict, int]:
    td, off = _decode_type_description(data, off, field + ".type_description", depth)
    n, off, form = read_length(data, off, field + ".array_contents.length")
    end = off + n
    if end > len(data):
        raise CodecError(field, off, "truncated compact-array contents")
    contents = data[:end]
    items = []
    pos = off
    while pos < end:
        item, newpos = _decode_untagged(contents, pos, td, field + ".array_contents", depth + 1)
        if newpos == pos:
            raise CodecError(field, pos, "compact-array element of zero size")
        items.append(item)
        pos = newpos
    node = {"type": "compact-array", "type_description": td, "value": items}
    if form:
        node["length_form"] = form
    return node, end


# ---------------------------------------------------------------------------------------
# Data encoding

def _tag_of(node: Any, field: str) -> int:
    try:
        return _NAME_TO_TAG[node["type"]]
    except (KeyError, TypeError):
        raise CodecError(field, 0, f"invalid Data node {node!r:.80}") from None


def encode_data(node: dict, crypto=None, field: str = "data") -> bytes:
    """Encode one C{Data} tree node (as produced by L{decode_data}) to A-XDR bytes."""
    out = bytearray()
    _enc(node, out, crypto, field, True)
    return bytes(out)


def _enc(node: dict, out: bytearray, crypto, field: str, tagged: bool) -> None:
    tag = _tag_of(node, field)
    if tagged:
        out.append(tag)
    try:
        st = _INT_TYPES.get(tag)
        if st is not None:
            v = node["value"]
            if isinstance(v, bool) or not isinstance(v, int):
                raise CodecError(field, 0, f"{node['type']} value must be an integer")
            out += st.pack(v)
            return
        if tag == 0x09:
            form = node.get("length_form", 0)
            if "protected" in node:
                raw = _encode_protected(node["protected"], crypto, field)
            else:
                raw = unhex(node["value"], field)
            out += write_length(len(raw), form)
            out += raw
            return
        if tag in (0x01, 0x02):
            items = node["value"]
            if not isinstance(items, list):
                raise CodecError(field, 0, "array/structure value must be a list")
            if tagged:
                out += write_length(len(items), node.get("length_form", 0))
            for i, item in enumerate(items):
                _enc(item, out, crypto, f"{field}[{i}]", tagged)
            return
        if tag == 0x00 or tag == 0xFF:
            return
        if tag == 0x03:
            if "raw" in node:
                out.append(node["raw"] & 0xFF)
            else:
                out.append(1 if node["value"] else 0)
            return
        if tag in (0x0A, 0x0C):
            if "hex" in node:
                raw = unhex(node["hex"], field)
            elif tag == 0x0C:
                raw = node["value"].encode("utf-8")
            else:
                raw = node["value"].encode("latin-1")
            out += write_length(len(raw), node.get("length_form", 0))
            out += raw
            return
        if tag == 0x04:
            raw = unhex(node["value"], field)
            bits = node["bits"]
            if (bits + 7) // 8 != len(raw):
                raise CodecError(field, 0, "bit-string: bits and value length disagree")
            out += write_length(bits, node.get("length_form", 0))
            out += raw
            return
        size = _FIXED_OCTETS.get(tag)
        if size is not None:
            raw = unhex(node["value"], field)
            if len(raw) != size:
                raise CodecError(field, 0, f"{node['type']} must be {size} bytes")
            out += raw
            return
        st = _FLOAT_TYPES.get(tag)
        if st is not None:
            if "hex" in node:
                raw = unhex(node["hex"], field)
                if len(raw) != st.size:
                    raise CodecError(field, 0, f"{node['type']} must be {st.size} bytes")
                out += raw
            else:
                out += st.pack(float(node["value"]))
            return
        if tag == 0x13:
            td = node["type_description"]
            _enc_td(td, out, field)
            body = bytearray()
            for i, item in enumerate(node["value"]):
                _check_td(item, td, f"{field}[{i}]")
                _enc(item, body, crypto, f"{field}[{i}]", False)
            out += write_length(len(body), node.get("length_form", 0))
            out += body
            return
    except CodecError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError, struct.error) as e:
        raise CodecError(field, 0, f"cannot encode {node.get('type')}: {e!r}") from None
    raise CodecError(field, 0, f"cannot encode type {node.get('type')}")


def _enc_td(td: dict, out: bytearray, field: str) -> None:
    tag = _tag_of(td, field)
    out.append(tag)
    if tag == 0x01:
        out += _S_UH.pack(td["count"])
        _enc_td(td["element"], out, field)
    elif tag == 0x02:
        out += write_length(len(td["members"]), td.get("length_form", 0))
        for m in td["members"]:
            _enc_td(m, out, field)


def _check_td(node: dict, td: dict, field: str) -> None:
    if node.get("type") != td.get("type"):
        raise CodecError(field, 0, f"compact-array element type {node.get('type')} "
                                   f"does not match description {td.get('type')}")
    if td["type"] == "structure":
        if len(node["value"]) != len(td["members"]):
            raise CodecError(field, 0, "compact-array structure member count mismatch")
        for n, m in zip(node["value"], td["members"]):
            _check_td(n, m, field)
    elif td["type"] == "array":
        if len(node["value"]) != td["count"]:
            raise CodecError(field, 0, "compact-array array element count mismatch")
        for n in node["value"]:
            _check_td(n, td["element"], field)


def _encode_protected(prot: dict, crypto, field: str) -> bytes:
    header = bytes((prot.get("security_control", 0x31),)) + \
        int(prot.get("invocation_counter", 0)).to_bytes(4, "big")
    if "plaintext" in prot and crypto is not None:
        blob = crypto.encrypt(encode_data(prot["plaintext"], None, field + ".plaintext"))
        if blob is not None:
            return header + blob
    return header + unhex(prot["ciphertext"], field + ".ciphertext")


def data_from_bytes(data: bytes, crypto=None) -> dict:
    """Decode bytes holding exactly one C{Data} value (raise L{CodecError} on leftovers)."""
    node, end = decode_data(data, 0, crypto)
    if end != len(data):
        raise CodecError("data", end, f"{len(data) - end} trailing bytes after Data")
    return node


def data_to_bytes(node: dict, crypto=None) -> bytes:
    """Alias of L{encode_data}: bytes of one C{Data} tree node."""
    return encode_data(node, crypto)


# ---------------------------------------------------------------------------------------
# xDLMS APDUs

_REQ_CHOICES = {1: "access-request-get", 2: "access-request-set", 3: "access-request-action",
                4: "access-request-get-with-selection", 5: "access-request-set-with-selection"}
_REQ_CHOICE_IDS = {v: k for k, v in _REQ_CHOICES.items()}
_RSP_CHOICES = {1: "access-response-get", 2: "access-response-set", 3: "access-response-action"}
_RSP_CHOICE_IDS = {v: k for k, v in _RSP_CHOICES.items()}
_DESC = struct.Struct(">H6sB")
_APDU_NAMES = {0xD9: "Access-Request", 0xDA: "Access-Response", 0x0F: "Data-Notification"}


def _dec_spec(data: bytes, off: int, field: str) -> tuple[dict, int]:
    try:
        choice = data[off]
    except IndexError:
        raise CodecError(field, off, "truncated access-request-specification") from None
    name = _REQ_CHOICES.get(choice)
    if name is None:
        raise CodecError(field, off, f"unknown access-request-specification choice {choice}")
    off += 1
    end = need(data, off, 9, field)
    class_id, obis_b, item_id = _DESC.unpack_from(data, off)
    obis = obis_to_str(obis_b)
    spec = {"choice": name, "class_id": class_id}
    cname = COSEM_CLASS_NAMES.get(class_id)
    if cname:
        spec["class_name"] = cname
    spec["obis"] = obis
    oname = COSEM_OBJECT_NAMES.get(obis)
    if oname:
        spec["object_name"] = oname
    spec["method_id" if choice == 3 else "attribute_id"] = item_id
    off = end
    if choice in (4, 5):
        end = need(data, off, 1, field + ".access_selector")
        spec["access_selector"] = data[off]
        spec["access_parameters"], off = decode_data(data, end, None, field + ".access_parameters")
    return spec, off


def _enc_spec(spec: dict, out: bytearray, field: str) -> None:
    try:
        choice = _REQ_CHOICE_IDS[spec["choice"]]
        out.append(choice)
        item = spec["method_id"] if choice == 3 else spec["attribute_id"]
        out += _DESC.pack(spec["class_id"], obis_from_str(spec["obis"], field + ".obis"), item)
        if choice in (4, 5):
            out.append(spec["access_selector"])
            out += encode_data(spec["access_parameters"], None, field + ".access_parameters")
    except CodecError:
        raise
    except (KeyError, TypeError, struct.error, ValueError) as e:
        raise CodecError(field, 0, f"invalid access-request-specification: {e!r}") from None


def _dec_list(data: bytes, off: int, field: str, item_dec) -> tuple[list, int, int]:
    count, off, form = read_length(data, off, field + ".count")
    items = []
    for i in range(count):
        item, off = item_dec(data, off, f"{field}[{i}]")
        items.append(item)
    return items, off, form


def decode_apdu(data: bytes, crypto=None) -> dict:
    """Decode a complete GBCS xDLMS APDU (Access-Request, Access-Response, Data-Notification).

    @return: a tree with C{"apdu"} naming the APDU (see module docstring).
    @raise CodecError: malformed input or trailing bytes.
    """
    if len(data) < 6:
        raise CodecError("apdu", 0, "truncated xDLMS APDU header")
    tag = data[0]
    name = _APDU_NAMES.get(tag)
    if name is None:
        raise CodecError("apdu", 0, f"unsupported xDLMS APDU tag 0x{tag:02X}")
    tree: dict[str, Any] = {"kind": "dlms", "apdu": name,
                            "long_invoke_id_and_priority": _S_UI.unpack_from(data, 1)[0]}
    dt, off, form = _dec_octets(data, 5, "date_time", "date-time")
    tree["date_time"] = hexu(dt)
    if form:
        tree["date_time_length_form"] = form

    def dec_data_item(d, o, f):
        return decode_data(d, o, crypto, f)

    if tag == 0xD9:
        specs, off, form = _dec_list(data, off, "access_request_specification", _dec_spec)
        tree["access_request_specification"] = specs
        if form:
            tree["access_request_specification_length_form"] = form
        items, off, form = _dec_list(data, off, "access_request_list_of_data", dec_data_item)
        tree["access_request_list_of_data"] = items
        if form:
            tree["access_request_list_of_data_length_form"] = form
    elif tag == 0xDA:
        end = need(data, off, 1, "access_request_specification")
        present = data[off]
        if present == 0:
            tree["access_request_specification"] = None
            off = end
        elif present == 1:
            specs, off, form = _dec_list(data, end, "access_request_specification", _dec_spec)
            tree["access_request_specification"] = specs
            if form:
                tree["access_request_specification_length_form"] = form
        else:
            raise CodecError("access_request_specification", off,
                             f"invalid OPTIONAL presence flag {present}")
        items, off, form = _dec_list(data, off, "access_response_list_of_data", dec_data_item)
        tree["access_response_list_of_data"] = items
        if form:
            tree["access_response_list_of_data_length_form"] = form

        def dec_rsp(d, o, f):
            end = need(d, o, 2, f)
            choice = d[o]
            cname = _RSP_CHOICES.get(choice)
            if cname is None:
                raise CodecError(f, o, f"unknown access-response-specification choice {choice}")
            table = ACTION_RESULT if choice == 3 else DATA_ACCESS_RESULT
            return {"choice": cname, "result": d[o + 1],
                    "result_name": table.get(d[o + 1], "unknown")}, end
        specs, off, form = _dec_list(data, off, "access_response_specification", dec_rsp)
        tree["access_response_specification"] = specs
        if form:
            tree["access_response_specification_length_form"] = form
    else:
        tree["notification_body"], off = decode_data(data, off, crypto, "notification_body")
    if off != len(data):
        raise CodecError("apdu", off, f"{len(data) - off} trailing bytes after {name}")
    return tree


def encode_apdu(tree: dict, crypto=None) -> bytes:
    """Encode a tree produced by L{decode_apdu} back into bytes."""
    try:
        name = tree["apdu"]
        tag = {v: k for k, v in _APDU_NAMES.items()}[name]
        out = bytearray((tag,))
        out += _S_UI.pack(tree["long_invoke_id_and_priority"])
        dt = unhex(tree.get("date_time", ""), "date_time")
        out += write_length(len(dt), tree.get("date_time_length_form", 0)) + dt
        if tag == 0xD9:
            specs = tree["access_request_specification"]
            out += write_length(len(specs), tree.get("access_request_specification_length_form", 0))
            for i, s in enumerate(specs):
                _enc_spec(s, out, f"access_request_specification[{i}]")
            items = tree["access_request_list_of_data"]
            out += write_length(len(items), tree.get("access_request_list_of_data_length_form", 0))
            for i, d in enumerate(items):
                out += encode_data(d, crypto, f"access_request_list_of_data[{i}]")
        elif tag == 0xDA:
            specs = tree.get("access_request_specification")
            if specs is None:
                out.append(0)
            else:
                out.append(1)
                out += write_length(len(specs), tree.get("access_request_specification_length_form", 0))
                for i, s in enumerate(specs):
                    _enc_spec(s, out, f"access_request_specification[{i}]")
            items = tree["access_response_list_of_data"]
            out += write_length(len(items), tree.get("access_response_list_of_data_length_form", 0))
            for i, d in enumerate(items):
                out += encode_data(d, crypto, f"access_response_list_of_data[{i}]")
            rsps = tree["access_response_specification"]
            out += write_length(len(rsps), tree.get("access_response_specification_length_form", 0))
            for r in rsps:
                out.append(_RSP_CHOICE_IDS[r["choice"]])
                out.append(r["result"])
        else:
            out += encode_data(tree["notification_body"], crypto, "notification_body")
        return bytes(out)
    except CodecError:
        raise
    except (KeyError, TypeError, ValueError, struct.error, AttributeError) as e:
        raise CodecError("apdu", 0, f"cannot encode DLMS tree: {e!r}") from None


# ---------------------------------------------------------------------------------------
# builders (for devices and the DSP building DLMS payloads)

def make_data(type_name: str, value: Any = None) -> dict:
    """A C{Data} node, e.g. C{make_data("double-long-unsigned", 1000)}."""
    if type_name not in _NAME_TO_TAG:
        raise CodecError("data", 0, f"unknown Data type {type_name!r}")
    if type_name in ("null-data", "dont-care"):
        return {"type": type_name}
    return {"type": type_name, "value": value}


def structure(*members: dict) -> dict:
    """A C{structure} node of the given member nodes."""
    return {"type": "structure", "value": list(members)}


def array(*items: dict) -> dict:
    """An C{array} node of the given item nodes."""
    return {"type": "array", "value": list(items)}


def octet_string(raw: bytes) -> dict:
    """An C{octet-string} node holding C{raw}."""
    return {"type": "octet-string", "value": hexu(raw)}


def access_request_item(kind: str, class_id: int, obis: str, item_id: int,
                        access_selector: int | None = None,
                        access_parameters: dict | None = None) -> dict:
    """One Access-Request-Specification: C{kind} is get, set, action, get-with-selection
    or set-with-selection; C{item_id} is the attribute (or method) id."""
    choice = f"access-request-{kind}"
    if choice not in _REQ_CHOICE_IDS:
        raise CodecError("access_request_specification", 0, f"unknown kind {kind!r}")
    spec: dict[str, Any] = {"choice": choice, "class_id": class_id, "obis": obis,
                            ("method_id" if kind == "action" else "attribute_id"): item_id}
    if kind.endswith("with-selection"):
        spec["access_selector"] = access_selector
        spec["access_parameters"] = access_parameters
    return spec


def access_request(originator_counter: int, specs: list[dict], data: list[dict]) -> dict:
    """An Access-Request tree; the invoke id follows the GBCS rule (0x20 + counter low 24 bits)."""
    return {"kind": "dlms", "apdu": "Access-Request",
            "long_invoke_id_and_priority": 0x20000000 | (originator_counter & 0xFFFFFF),
            "date_time": "", "access_request_specification": specs,
            "access_request_list_of_data": data}


def access_response(originator_counter: int, data: list[dict],
                    results: list[tuple[str, int]]) -> dict:
    """An Access-Response tree; C{results} are (get|set|action, result code) pairs."""
    specs = []
    for kind, result in results:
        table = ACTION_RESULT if kind == "action" else DATA_ACCESS_RESULT
        specs.append({"choice": f"access-response-{kind}", "result": result,
                      "result_name": table.get(result, "unknown")})
    return {"kind": "dlms", "apdu": "Access-Response",
            "long_invoke_id_and_priority": 0x20000000 | (originator_counter & 0xFFFFFF),
            "date_time": "", "access_request_specification": None,
            "access_response_list_of_data": data, "access_response_specification": specs}


def data_notification(originator_counter: int, body: dict) -> dict:
    """A Data-Notification (alert) tree with the given notification body."""
    return {"kind": "dlms", "apdu": "Data-Notification",
            "long_invoke_id_and_priority": 0x20000000 | (originator_counter & 0xFFFFFF),
            "date_time": "", "notification_body": body}
