"""GBCS payloads: dispatch, decode to a JSON-serialisable tree, re-encode byte for byte.

Implements GBCS wire-format notes §3 (payload dispatch) on top of the payload codecs:

* L{dlms} - DLMS/COSEM xDLMS (Access-Request/-Response, Data-Notification, A-XDR Data,
  protected attributes), §4.1;
* L{gbz} - GBZ components, §4.2, with their ZCL frames decoded by L{protocols.zcl} (the same
  ZCL the HAN devices speak) through the JSON view L{zcl_commands};
* L{asn1} - the ASN.1 DER use cases (schema C{gbcs.asn} compiled by asn1tools), §4.3.

Dispatch order (§3): the message code first (ASN.1 use cases and special alerts), then
the first payload bytes (C{01 09} GBZ, C{D9}/C{DA}/C{0F} DLMS), then a DER TLV guess.
Every tree has a top-level C{"kind"}: C{"dlms"}, C{"gbz"} or C{"asn1"}.
"""

from __future__ import annotations

import typing

from protocols.errors import CodecError

from . import asn1, dlms, gbz, zcl_commands

__all__ = [
    "PayloadCrypto", "decode_payload", "encode_payload", "payload_fully_decoded",
    "dlms", "gbz", "zcl_commands", "asn1",
]


class PayloadCrypto(typing.Protocol):
    """Decrypts/encrypts the sensitive parts of one GBCS message (§2.3)."""

    def decrypt(self, blob: bytes) -> bytes | None:
        """C{blob} = ciphertext || 12-byte GCM tag (after the C{31 00000000} header).

        Return the plaintext, or None when no key is available; raise L{CodecError} if
        the tag does not verify.
        """

    def encrypt(self, plaintext: bytes) -> bytes | None:
        """Return ciphertext || 12-byte tag, or None when no key is available."""


def decode_payload(message_code: int, cra: int, data: bytes,
                   crypto: PayloadCrypto | None = None) -> dict:
    """Decode a GBCS payload completely (see module docstring).

    @param message_code: the use case's message code (other-information bytes 0-1).
    @param cra: 1 command, 2 response, 3 alert.
    @param crypto: decrypts encrypted parts; without it they stay as C{"ciphertext"}.
    @raise CodecError: malformed input (offsets relative to C{data}).
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise CodecError("payload", 0, "payload must be bytes")
    data = bytes(data)
    if not data:
        raise CodecError("payload", 0, "empty payload")
    if asn1.handles(message_code, cra, data):
        tree = asn1.decode(message_code, cra, data)
    elif data[0] == 0x01 and len(data) >= 2 and data[1] == 0x09:
        tree = gbz.decode_gbz(data, cra, message_code, crypto)
    elif data[0] in (0xD9, 0xDA, 0x0F):
        tree = dlms.decode_apdu(data, crypto)
    else:
        # not DLMS/GBZ and no schema for this message code: structural DER
        tree = asn1.decode(message_code, cra, data)
    if cra == 3:
        _annotate_alert(tree, message_code)
    return tree


def _alert_name(code: int) -> str | None:
    try:
        from protocols.gbcs.catalogue import alert_name
    except ImportError:  # pragma: no cover - the catalogue is optional for annotations
        return None
    try:
        return alert_name(code)
    except Exception:  # pragma: no cover - annotation only, never fail a decode
        return None


def _annotate_alert(tree: dict, message_code: int) -> None:
    """Add readable alert fields (alert code name, §4.1.4 use-case data); encoders ignore them."""
    code = None
    if tree["kind"] == "gbz":
        code = tree.get("alert_code")
        if code is not None:
            name = _alert_name(code)
            if name:
                tree["alert_name"] = name
        return
    if tree["kind"] == "asn1":
        v = tree.get("value")
        if isinstance(v, dict) and isinstance(v.get("alertCode"), int):
            name = _alert_name(v["alertCode"])
            if name:
                tree["alert_name"] = name
        return
    body = tree.get("notification_body") or {}
    members = body.get("value") if body.get("type") == "structure" else None
    if (not members or len(members) < 2 or members[0].get("type") != "long-unsigned"
            or members[1].get("type") != "octet-string"):
        return
    alert: dict = {"alert_code": members[0]["value"]}
    name = _alert_name(members[0]["value"])
    if name:
        alert["alert_name"] = name
    if "date_time" in members[1]:
        alert["time_stamp"] = members[1]["date_time"]
    if message_code == 0x00CC and len(members) == 3 and "value" in members[2] \
            and len(members[2]["value"]) == 38:
        raw = bytes.fromhex(members[2]["value"])
        # §4.1.4: message code, originator counter, COSEM attribute descriptor
        alert["future_dated"] = {
            "message_code": int.from_bytes(raw[0:2], "big"),
            "originator_counter": int.from_bytes(raw[2:10], "big"),
            "class_id": int.from_bytes(raw[10:12], "big"),
            "obis": dlms.obis_to_str(raw[12:18]), "attribute_id": raw[18]}
    tree["alert"] = alert


def encode_payload(tree: dict, crypto: PayloadCrypto | None = None) -> bytes:
    """Rebuild the payload bytes from a tree produced by L{decode_payload}.

    Encrypted parts with a decoded plaintext are re-encrypted when C{crypto.encrypt}
    returns bytes; otherwise the stored ciphertext is emitted.
    @raise CodecError: the tree cannot be encoded.
    """
    if not isinstance(tree, dict):
        raise CodecError("payload", 0, "tree must be a dict")
    kind = tree.get("kind")
    if kind == "dlms":
        return dlms.encode_apdu(tree, crypto)
    if kind == "gbz":
        return gbz.encode_gbz(tree, crypto)
    if kind == "asn1":
        return asn1.encode(tree)
    raise CodecError("kind", 0, f"unknown payload kind {kind!r}")


def payload_fully_decoded(tree: typing.Any) -> list[str]:
    """Paths of the parts of C{tree} left opaque; C{[]} means fully decoded.

    Opaque parts: encrypted parts without a decoded C{"plaintext"}, ZCL payloads kept as
    C{"raw_payload"} (unknown or manufacturer-specific commands, unknown snapshot types).
    """
    out: list[str] = []
    _walk_opaque(tree, "", out)
    return out


def _walk_opaque(node: typing.Any, path: str, out: list[str]) -> None:
    if isinstance(node, dict):
        if "ciphertext" in node and "plaintext" not in node:
            out.append(path or "/")
        if "raw_payload" in node:
            out.append(f"{path}/raw_payload")
        for k, v in node.items():
            if isinstance(v, (dict, list)) and k != "plaintext_bytes":
                _walk_opaque(v, f"{path}/{k}", out)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            if isinstance(v, (dict, list)):
                _walk_opaque(v, f"{path}/{i}", out)
