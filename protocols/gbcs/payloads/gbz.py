"""GBZ payloads of GBCS messages (GSME, GPF, PPMID/HCALCS HAN use cases).

Implements GBCS wire-format notes §4.2 (GBZ part) and §4.4 (future dating):

* the GBZ header (profile id 0x0109, number of components) - big-endian;
* GBZ components: extended header control field (bit0 last component, bit1 ZCL payload
  encrypted, bit4 from-date-time present), cluster id, GBZ command length, optional
  from date-time, additional header control + additional frame counter (encrypted
  components), then a ZCL frame (L{protocols.zcl}, shown as JSON by
  L{protocols.gbcs.payloads.zcl_commands});
* encrypted ZCL payloads: ciphered-information length (2, BE) + C{31 00000000} +
  ciphertext + 12-byte tag, decrypted through a L{PayloadCrypto};
* the alert variant (CRA = 3): alert code, time stamp (UTC seconds since 2000-01-01, BE)
  and use-case data: components, or the future-dated alert (message code 0x00CD), the
  firmware distribution receipt (0x00CF) or the meter integrity warning (0x00F2) bodies.
"""

from __future__ import annotations

import datetime
import struct
from typing import Any

from protocols.errors import CodecError

from . import zcl_commands as zcl
from ._wire import hexu, unhex

__all__ = [
    "GBZ_PROFILE_ID", "decode_gbz", "encode_gbz", "decode_component", "encode_component",
    "build_component", "gbz_time_to_iso",
]

GBZ_PROFILE_ID = 0x0109
_EPOCH_2000 = datetime.datetime(2000, 1, 1, tzinfo=datetime.timezone.utc)
_BE16 = struct.Struct(">H")
_BE32 = struct.Struct(">I")
_COMP_HDR = struct.Struct(">BHH")

# message codes whose GBZ alert carries a use-case body instead of components
_FUTURE_DATED_ALERT = 0x00CD
_FIRMWARE_RECEIPT_ALERT = 0x00CF
_METER_INTEGRITY_ALERT = 0x00F2


def gbz_time_to_iso(v: int) -> str:
    """UTC seconds since 2000-01-01 as ISO 8601 (annotation only); FFFFFFFF is 'never'."""
    if v == 0xFFFFFFFF:
        return "never"
    return (_EPOCH_2000 + datetime.timedelta(seconds=v)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _need(data: bytes, off: int, n: int, field: str) -> int:
    end = off + n
    if end > len(data):
        raise CodecError(field, off, f"truncated: {n} bytes needed, {len(data) - off} left")
    return end


def decode_component(data: bytes, off: int, crypto=None, field: str = "component") -> tuple[dict, int]:
    """Decode one GBZ component at C{off}; return C{(tree, new_offset)}."""
    start = _need(data, off, 5, field + ".extended_header")
    ctl, cluster, length = _COMP_HDR.unpack_from(data, off)
    end = _need(data, start, length, field + ".gbz_command")
    comp: dict[str, Any] = {
        "extended_header_control": ctl, "last_component": bool(ctl & 0x01),
        "encrypted": bool(ctl & 0x02), "cluster_id": cluster,
    }
    cname = zcl.CLUSTER_NAMES.get(cluster)
    if cname:
        comp["cluster_name"] = cname
    body = data[:end]
    pos = start
    if ctl & 0x10:
        e = _need(body, pos, 4, field + ".from_date_time")
        comp["from_date_time"] = _BE32.unpack_from(body, pos)[0]
        comp["from_date_time_iso"] = gbz_time_to_iso(comp["from_date_time"])
        pos = e
    if ctl & 0x02:
        e = _need(body, pos, 2, field + ".additional_header")
        comp["additional_header_control"] = body[pos]
        comp["additional_frame_counter"] = body[pos + 1]
        pos = e
    hdr, pos = zcl.decode_zcl_header(body, pos, field + ".zcl")
    name = zcl.command_name(cluster, hdr["frame_control"], hdr["command_id"])
    if name:
        hdr["command"] = name
    if ctl & 0x02:
        e = _need(body, pos, 2, field + ".ciphered_information_length")
        clen = _BE16.unpack_from(body, pos)[0]
        if e + clen != end:
            raise CodecError(field + ".ciphered_information_length", pos,
                             f"length {clen} disagrees with the {end - e} bytes left")
        if clen < 17 or body[e] != 0x31:
            raise CodecError(field + ".ciphered_information", e,
                             "expected security header 0x31 + invocation counter + tag")
        blob = body[e + 5:end]
        ci: dict[str, Any] = {"security_control": body[e],
                              "invocation_counter": _BE32.unpack_from(body, e + 1)[0],
                              "ciphertext": hexu(blob)}
        if crypto is not None:
            plain = crypto.decrypt(blob)
            if plain is not None:
                try:
                    ci["plaintext"] = zcl.decode_zcl_payload(
                        cluster, hdr["frame_control"], hdr["command_id"], plain, "plaintext")
                except CodecError as err:
                    raise CodecError(f"{field}.zcl.ciphered_information.{err.field}",
                                     err.offset, err.reason) from None
        hdr["ciphered_information"] = ci
    else:
        try:
            hdr["payload"] = zcl.decode_zcl_payload(cluster, hdr["frame_control"],
                                                    hdr["command_id"], body[pos:end], "payload")
        except CodecError as err:
            raise CodecError(f"{field}.zcl.{err.field}", pos + err.offset, err.reason) from None
    comp["zcl"] = hdr
    return comp, end


def encode_component(comp: dict, crypto=None, field: str = "component") -> bytes:
    """Encode one GBZ component tree (see L{decode_component})."""
    try:
        ctl = comp["extended_header_control"]
        cluster = comp["cluster_id"]
        hdr = comp["zcl"]
        body = bytearray()
        if ctl & 0x10:
            body += _BE32.pack(comp["from_date_time"])
        if ctl & 0x02:
            body += bytes((comp.get("additional_header_control", 0),
                           comp.get("additional_frame_counter", 0)))
        body += zcl.encode_zcl_header(hdr, field + ".zcl")
        if ctl & 0x02:
            ci = hdr["ciphered_information"]
            blob = None
            if "plaintext" in ci and crypto is not None:
                plain = zcl.encode_zcl_payload(cluster, hdr["frame_control"], hdr["command_id"],
                                               ci["plaintext"], field + ".plaintext")
                blob = crypto.encrypt(plain)
            if blob is None:
                blob = unhex(ci["ciphertext"], field + ".ciphertext")
            sec = bytes((ci.get("security_control", 0x31),)) + \
                _BE32.pack(ci.get("invocation_counter", 0))
            body += _BE16.pack(len(sec) + len(blob)) + sec + blob
        else:
            body += zcl.encode_zcl_payload(cluster, hdr["frame_control"], hdr["command_id"],
                                           hdr.get("payload", {}), field + ".payload")
        return _COMP_HDR.pack(ctl, cluster, len(body)) + bytes(body)
    except CodecError:
        raise
    except (KeyError, TypeError, ValueError, struct.error, AttributeError) as e:
        raise CodecError(field, 0, f"cannot encode GBZ component: {e!r}") from None


def build_component(cluster_id: int, frame_control: int, transaction_sequence_number: int,
                    command_id: int, payload: dict, *, last: bool = False,
                    from_date_time: int | None = None) -> dict:
    """Build a plaintext GBZ component tree (for devices and the DSP building GBZ).

    @param payload: the named ZCL payload fields (as L{zcl_commands.decode_zcl_payload}
        returns them).
    """
    ctl = (0x01 if last else 0) | (0x10 if from_date_time is not None else 0)
    comp: dict[str, Any] = {"extended_header_control": ctl, "cluster_id": cluster_id}
    if from_date_time is not None:
        comp["from_date_time"] = from_date_time
    comp["zcl"] = {"frame_control": frame_control,
                   "transaction_sequence_number": transaction_sequence_number,
                   "command_id": command_id, "payload": payload}
    return comp


def decode_gbz(data: bytes, cra: int = 1, message_code: int | None = None,
               crypto=None) -> dict:
    """Decode a complete GBZ payload.

    @param cra: 1 command, 2 response, 3 alert (alerts carry alert code and time stamp).
    @param message_code: selects the use-case body of special alerts (0x00CD/0x00CF/0x00F2).
    @raise CodecError: malformed input or trailing bytes.
    """
    end = _need(data, 0, 3, "gbz_header")
    profile = _BE16.unpack_from(data, 0)[0]
    if profile != GBZ_PROFILE_ID:
        raise CodecError("gbz_header.profile_id", 0, f"expected 0x0109, got 0x{profile:04X}")
    count = data[2]
    tree: dict[str, Any] = {"kind": "gbz", "profile_id": profile}
    off = end
    if cra == 3:
        e = _need(data, off, 6, "alert")
        tree["number_of_components"] = count
        tree["alert_code"] = _BE16.unpack_from(data, off)[0]
        ts = _BE32.unpack_from(data, off + 2)[0]
        tree["time_stamp"] = ts
        tree["time_stamp_iso"] = gbz_time_to_iso(ts)
        off = e
        # use-case data of the special alerts (§4.2); the component count byte is kept
        # as sent but does not describe them
        rest = len(data) - off
        if message_code == _FUTURE_DATED_ALERT and rest:
            tree["future_dated_alert"], off = _dec_future_dated(data, off)
            count = 0
        elif message_code == _FIRMWARE_RECEIPT_ALERT and rest:
            e = _need(data, off, 2, "firmware_receipt")
            if data[off] != 0x09:
                raise CodecError("firmware_receipt", off, "expected octet-string tag 0x09")
            n = data[off + 1]
            stop = _need(data, e, n, "firmware_receipt.calculated_manufacturer_image_hash")
            tree["calculated_manufacturer_image_hash"] = hexu(data[e:stop])
            off = stop
            count = 0
        elif message_code == _METER_INTEGRITY_ALERT and rest == 2:
            tree["other_information"] = _BE16.unpack_from(data, off)[0]
            off += 2
            count = 0
    comps = []
    for i in range(count):
        comp, off = decode_component(data, off, crypto, f"components[{i}]")
        comps.append(comp)
    if cra != 3 or comps or count:
        tree["components"] = comps
    if off != len(data):
        raise CodecError("gbz", off, f"{len(data) - off} trailing bytes after the GBZ payload")
    return tree


def _dec_future_dated(data: bytes, off: int) -> tuple[dict, int]:
    e = _need(data, off, 1, "future_dated_alert.length")
    n = data[off]
    if n != 14:
        raise CodecError("future_dated_alert.length", off, f"expected 14, got {n}")
    stop = _need(data, e, 14, "future_dated_alert")
    fd = {"message_code": _BE16.unpack_from(data, e)[0],
          "originator_counter": int.from_bytes(data[e + 2:e + 10], "big"),
          "cluster_id": _BE16.unpack_from(data, e + 10)[0],
          "frame_control": data[e + 12], "command_id": data[e + 13]}
    name = zcl.command_name(fd["cluster_id"], fd["frame_control"], fd["command_id"])
    if name:
        fd["command"] = name
    return fd, stop


def encode_gbz(tree: dict, crypto=None) -> bytes:
    """Encode a GBZ tree produced by L{decode_gbz}."""
    try:
        out = bytearray(_BE16.pack(tree.get("profile_id", GBZ_PROFILE_ID)))
        comps = tree.get("components", [])
        if "alert_code" in tree:
            out.append(tree.get("number_of_components", len(comps)))
            out += _BE16.pack(tree["alert_code"]) + _BE32.pack(tree["time_stamp"])
            if "future_dated_alert" in tree:
                fd = tree["future_dated_alert"]
                out.append(14)
                out += _BE16.pack(fd["message_code"]) + fd["originator_counter"].to_bytes(8, "big")
                out += _BE16.pack(fd["cluster_id"]) + bytes((fd["frame_control"], fd["command_id"]))
            elif "calculated_manufacturer_image_hash" in tree:
                h = unhex(tree["calculated_manufacturer_image_hash"], "calculated_manufacturer_image_hash")
                out += bytes((0x09, len(h))) + h
            elif "other_information" in tree:
                out += _BE16.pack(tree["other_information"])
            elif tree.get("number_of_components", len(comps)) != len(comps):
                raise CodecError("number_of_components", 2, "disagrees with the component list")
        else:
            out.append(len(comps))
        for i, c in enumerate(comps):
            out += encode_component(c, crypto, f"components[{i}]")
        return bytes(out)
    except CodecError:
        raise
    except (KeyError, TypeError, ValueError, struct.error, OverflowError, AttributeError) as e:
        raise CodecError("gbz", 0, f"cannot encode GBZ tree: {e!r}") from None
