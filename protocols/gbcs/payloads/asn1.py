"""ASN.1 DER payloads of GBCS messages (security credentials, joining, firmware, clock, logs).

Implements GBCS wire-format notes §4.3 and §4.4 (ASN.1 part).  The schema is
C{gbcs.asn} beside this module, compiled once per process with C{asn1tools} (codec
C{der}).  Each message code maps to the candidate ASN.1 types of its command, response
and alert (a response may be one of several types, told apart by the DER tag); a
candidate is accepted only if it consumes every byte and re-encodes to the same bytes.

Byte equality with RTDS needs two things DER alone does not give:

* length forms: RTDS encodes lengths 0x80-0xFF outside certificates as C{82 00 nn}; the
  tree keeps C{"length_encoding"} = C{"der"} (minimal), C{"gbcs"} (that rule) or an
  explicit list of length-byte counts in pre-order;
* certificates are C{ANY} in the schema: their DER is kept verbatim (C{"der"}) and
  decoded with the C{cryptography} X.509 loader into named fields.

Payloads with no schema (unknown message codes) fall back to a structural DER decode
(C{"asn1_type": "generic-DER"}): every TLV with tag, length form and value, re-encodable.

Tree values: INTEGER -> int, OCTET STRING -> hex, BIT STRING -> C{{"bits", "value"}},
NULL -> None, ENUMERATED -> name, GeneralizedTime -> C{{"generalized_time": str}},
certificate -> C{{"der": hex, "subject": ..., "entity_id": ...}}.
"""

from __future__ import annotations

import datetime
import os
from typing import Any

from protocols.errors import CodecError

from ._wire import hexu, unhex

__all__ = [
    "SCHEMA_PATH", "MESSAGE_TYPES", "schema", "handles", "decode", "encode",
    "decode_type", "encode_type", "certificate_fields",
]

SCHEMA_PATH = os.path.join(os.path.dirname(__file__), "gbcs.asn")

_SPEC = None


def schema():
    """The compiled C{gbcs.asn} (asn1tools, DER), compiled once per process."""
    global _SPEC
    if _SPEC is None:
        import asn1tools
        spec = asn1tools.compile_files(SCHEMA_PATH, codec="der")
        _guard_sequence_of(spec)
        _SPEC = spec
    return _SPEC


def _guard_sequence_of(spec) -> None:
    """Make this spec's SEQUENCE OF decoders fail instead of looping.

    asn1tools' DER SEQUENCE OF decoder does not advance when an element's tag does not
    match (it returns a TAG_MISMATCH marker) and loops forever on such input.  Each
    SEQUENCE OF instance of this compiled spec (not the library class) gets a decoder
    that raises a DecodeError when an element makes no progress.
    """
    from asn1tools.codecs import BaseType, DecodeError, der
    from asn1tools.codecs.ber import TAG_MISMATCH

    def make(inst):
        def decode_content(data, offset, length):
            decoded = []
            end = offset + length
            while offset < end:
                element, new = inst.element_type.decode(data, offset)
                if element is TAG_MISMATCH or new <= offset:
                    raise DecodeError(f"{inst.name}: unexpected element at offset {offset}")
                decoded.append(element)
                offset = new
            return decoded, offset
        return decode_content

    seen: set[int] = set()
    stack = [t.type for t in spec.types.values()]
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, (der.SequenceOf, der.SetOf)):
            obj.decode_content = make(obj)
        for v in vars(obj).values():
            if isinstance(v, BaseType):
                stack.append(v)
            elif isinstance(v, (list, tuple)):
                stack.extend(x for x in v if isinstance(x, BaseType))
            elif isinstance(v, dict):
                stack.extend(x for x in v.values() if isinstance(x, BaseType))


_CMD, _RSP, _ALERT = "command", "response", "alert"

_CS02A = {_CMD: ("ProvideSecurityCredentialDetailsCommand",),
          _RSP: ("ProvideSecurityCredentialDetailsResponse",)}
_CS02B = {_CMD: ("UpdateSecurityCredentialsCommand",),
          _RSP: ("UpdateSecurityCredentialsResponse",)}
_JOIN = {_CMD: ("JoinDeviceCommand",), _RSP: ("JoinDeviceResponse",)}
_UNJOIN = {_CMD: ("UnjoinDeviceCommand",), _RSP: ("UnjoinDeviceResponse",)}

#: message code -> {"command"|"response"|"alert": candidate type names}
MESSAGE_TYPES: dict[int, dict[str, tuple[str, ...]]] = {
    0x0008: _CS02A, 0x011B: _CS02A,
    **{code: _CS02B for code in range(0x0100, 0x010A)}, 0x0125: _CS02B, 0x0126: _CS02B,
    0x00CB: {_ALERT: ("FutureDatedUpdateSecurityCredentialsAlert",)},
    0x0124: {_ALERT: ("FutureDatedUpdateSecurityCredentialsAlert",)},
    0x000A: {_CMD: ("IssueSecurityCredentialsCommand",),
             _RSP: ("IssueSecurityCredentialsResponseCode", "CertificationRequest")},
    0x000B: {_CMD: ("Certificate",), _RSP: ("UpdateDeviceCertificateResponseCode",)},
    0x000C: {_CMD: ("ProvideDeviceCertificateCommand",),
             _RSP: ("ProvideDeviceCertificateResponseCode", "Certificate")},
    0x000D: _JOIN, 0x000E: _JOIN, 0x00AB: _JOIN, 0x00AF: _JOIN,
    0x000F: _UNJOIN, 0x0010: _UNJOIN,
    0x0012: {_CMD: ("ActivateFirmwareCommand",),
             _RSP: ("ActivateFirmwareAccepted", "ActivateFirmwareOutcome",
                    "ActivateFirmwareOutcomeVersionFirst")},
    0x00CA: {_ALERT: ("FutureDatedFirmwareActivationAlert",
                      "FutureDatedFirmwareActivationAlertVersionFirst",
                      "FutureDatedFirmwareActivationAlertFlat")},
    0x0013: {_CMD: ("ReadDeviceJoinDetailsCommand",), _RSP: ("ReadDeviceJoinDetailsResponse",)},
    0x007F: {_CMD: ("SetClockCommand",), _RSP: ("SetClockResponse",)},
    0x008C: {_CMD: ("RestoreGPFDeviceLogCommand",),
             _RSP: ("RestoreGPFDeviceLogResponse", "RestoreGPFDeviceLogResponseList")},
    0x00B2: {_ALERT: ("GPFDeviceLogBackupAlert",)},
    0x0128: {_ALERT: ("FirmwareTransferAlert",)},
    0x0129: {_CMD: ("ReadFirmwareVersionCommand",), _RSP: ("ReadFirmwareVersionResponse",),
             _ALERT: ("FirmwareActivationAlert",)},
    0x012B: {_ALERT: ("FirmwareActivationAlert",)},
}

_NATIVE = ("Certificate", "CertificationRequest")
# schema fields holding certificates (ANY) and ENUMERATED values
_CERT_KEYS = frozenset({"newRemotePartyCertificate", "certificationPathCertificates",
                        "otherDeviceCertificate"})
_ENUM_KEYS = frozenset({"status", "statusCode"})


def _role(cra: int) -> str:
    return _CMD if cra == 1 else (_ALERT if cra == 3 else _RSP)


def handles(message_code: int, cra: int, data: bytes) -> bool:
    """True if C{message_code} is an ASN.1 use case for this CRA flag (dispatch rule 1)."""
    entry = MESSAGE_TYPES.get(message_code)
    return entry is not None and _role(cra) in entry


# ---------------------------------------------------------------------------------------
# DER TLV walking and length forms

def _read_tlv(data: bytes, off: int, end: int, field: str) -> tuple[int, int, int, int]:
    """Return (tag_end, length_bytes, content_start, content_end); length_bytes 0 = short."""
    if off >= end:
        raise CodecError(field, off, "truncated: tag expected")
    p = off + 1
    if data[off] & 0x1F == 0x1F:
        while True:
            if p >= end:
                raise CodecError(field, off, "truncated high tag number")
            b = data[p]
            p += 1
            if not b & 0x80:
                break
            if p - off > 6:
                raise CodecError(field, off, "tag number too long")
    tag_end = p
    if p >= end:
        raise CodecError(field, p, "truncated: length expected")
    first = data[p]
    if first < 0x80:
        n, k, cs = first, 0, p + 1
    else:
        k = first & 0x7F
        if k == 0 or k > 4:
            raise CodecError(field, p, f"unsupported length form 0x{first:02X}")
        if p + 1 + k > end:
            raise CodecError(field, p, "truncated length")
        n = int.from_bytes(data[p + 1:p + 1 + k], "big")
        cs = p + 1 + k
    ce = cs + n
    if ce > end:
        raise CodecError(field, cs, f"truncated: {n} content bytes declared, {end - cs} left")
    return tag_end, k, cs, ce


def _minimal_form(n: int) -> int:
    return 0 if n < 0x80 else (n.bit_length() + 7) // 8


def _gbcs_form(n: int) -> int:
    return 0 if n < 0x80 else max(2, (n.bit_length() + 7) // 8)


def _collect_forms(data: bytes, off: int, end: int, blobs: frozenset, forms: list,
                   depth: int = 0) -> None:
    if depth > 40:
        raise CodecError("asn1", off, "nesting too deep")
    while off < end:
        tag_end, k, cs, ce = _read_tlv(data, off, end, "asn1")
        if blobs and data[off:ce] in blobs:
            off = ce
            continue
        forms.append((k, ce - cs))
        if data[off] & 0x20:
            _collect_forms(data, cs, ce, blobs, forms, depth + 1)
        off = ce


def _check_structure(data: bytes, off: int, end: int, depth: int = 0) -> None:
    """Check that C{data[off:end]} is a sequence of well-nested DER TLVs.

    Run before asn1tools sees the bytes: its DER decoder can loop forever on SEQUENCE OF
    contents whose element lengths overrun their parent.
    """
    if depth > 40:
        raise CodecError("asn1", off, "nesting too deep")
    while off < end:
        _tag_end, _k, cs, ce = _read_tlv(data, off, end, "asn1")
        if data[off] & 0x20:
            _check_structure(data, cs, ce, depth + 1)
        off = ce


def _summarise_forms(forms: list) -> Any:
    if all(k == _minimal_form(n) for k, n in forms):
        return "der"
    if all(k == _gbcs_form(n) for k, n in forms):
        return "gbcs"
    return [k for k, _ in forms]


def _write_len(n: int, k: int) -> bytes:
    if k == 0:
        if n >= 0x80:
            k = _minimal_form(n)
        else:
            return bytes((n,))
    if n >= 1 << (8 * k):
        k = _minimal_form(n)
    return bytes((0x80 | k,)) + n.to_bytes(k, "big")


def _reform(data: bytes, off: int, end: int, rule: Any, blobs: frozenset, idx: list) -> bytes:
    out = bytearray()
    while off < end:
        tag_end, _k, cs, ce = _read_tlv(data, off, end, "asn1")
        if blobs and data[off:ce] in blobs:
            out += data[off:ce]
            off = ce
            continue
        i = idx[0]
        idx[0] += 1
        if data[off] & 0x20:
            content = _reform(data, cs, ce, rule, blobs, idx)
        else:
            content = data[cs:ce]
        n = len(content)
        if rule == "gbcs":
            k = _gbcs_form(n)
        elif isinstance(rule, list) and i < len(rule):
            k = rule[i]
        else:
            k = _minimal_form(n)
        out += data[off:tag_end] + _write_len(n, k) + content
        off = ce
    return bytes(out)


def _apply_length_encoding(der: bytes, rule: Any, blobs: frozenset) -> bytes:
    if rule == "der" or rule is None:
        return der
    if rule != "gbcs" and not (isinstance(rule, list) and all(
            type(k) is int and 0 <= k <= 126 for k in rule)):
        # a list gives, per TLV, the octets of a long-form length (0: short form); 0x80 | k
        # must be a long-form length octet (127 is reserved)
        raise CodecError("length_encoding", 0,
                         f"expected 'der', 'gbcs' or a list of length octet counts 0-126, got {rule!r}")
    return _reform(der, 0, len(der), rule, blobs, [0])


# ---------------------------------------------------------------------------------------
# certificates

_EPOCH_FMT = "%Y-%m-%dT%H:%M:%SZ"


def certificate_fields(der: bytes) -> dict:
    """Decode an X.509 certificate (DER) into named fields, keeping its DER for encoding.

    Fields: subject, issuer, serial_number, not_valid_before/after, entity_id (the EUI-64
    from x500UniqueIdentifier or the hardwareModuleName hwSerialNum), key_usage,
    public_key (uncompressed point), signature_algorithm.
    @raise CodecError: not a certificate.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    try:
        cert = x509.load_der_x509_certificate(der)
        node: dict[str, Any] = {"der": hexu(der)}
        node["subject"] = cert.subject.rfc4514_string()
        node["issuer"] = cert.issuer.rfc4514_string()
        node["serial_number"] = hexu(cert.serial_number.to_bytes(
            (cert.serial_number.bit_length() + 8) // 8, "big", signed=True))
        node["not_valid_before"] = cert.not_valid_before_utc.strftime(_EPOCH_FMT)
        node["not_valid_after"] = cert.not_valid_after_utc.strftime(_EPOCH_FMT)
        eid = _entity_id(cert)
        if eid is not None:
            node["entity_id"] = eid
        try:
            ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
            names = []
            for name in ("digital_signature", "content_commitment", "key_encipherment",
                         "data_encipherment", "key_agreement", "key_cert_sign", "crl_sign"):
                if getattr(ku, name):
                    names.append(name)
            node["key_usage"] = names
        except x509.ExtensionNotFound:
            pass
        try:
            node["public_key"] = hexu(cert.public_key().public_bytes(
                serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint))
        except (ValueError, TypeError, AttributeError):
            pass
        node["signature_algorithm"] = cert.signature_algorithm_oid.dotted_string
        return node
    except CodecError:
        raise
    except Exception as e:  # cryptography raises ValueError and friends on bad DER
        raise CodecError("certificate", 0, f"not an X.509 certificate: {e}") from None


def _entity_id(cert) -> str | None:
    from cryptography import x509
    from cryptography.x509.oid import ObjectIdentifier
    for attr in cert.subject.get_attributes_for_oid(ObjectIdentifier("2.5.4.45")):
        v = attr.value
        if isinstance(v, (bytes, bytearray)):
            v = bytes(v)
            # BIT STRING content: the first octet counts the unused bits
            return hexu(v[1:] if len(v) == 9 and v[0] == 0 else v)
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None
    for other in san.get_values_for_type(x509.OtherName):
        if other.type_id.dotted_string == "1.3.6.1.5.5.7.8.4":
            # HardwareModuleName ::= SEQUENCE { hwType OID, hwSerialNum OCTET STRING }
            v = other.value
            try:
                _te, _k, cs, ce = _read_tlv(v, 0, len(v), "hardwareModuleName")
                off = cs
                while off < ce:
                    _te2, _k2, cs2, ce2 = _read_tlv(v, off, ce, "hardwareModuleName")
                    if v[off] == 0x04:
                        return hexu(v[cs2:ce2])
                    off = ce2
            except CodecError:
                return None
    return None


def _csr_fields(der: bytes) -> dict:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    try:
        csr = x509.load_der_x509_csr(der)
        node: dict[str, Any] = {"der": hexu(der), "subject": csr.subject.rfc4514_string()}
        try:
            node["public_key"] = hexu(csr.public_key().public_bytes(
                serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint))
        except (ValueError, TypeError, AttributeError):
            pass
        node["signature_algorithm"] = csr.signature_algorithm_oid.dotted_string
        return node
    except Exception as e:
        raise CodecError("certification_request", 0, f"not a PKCS#10 request: {e}") from None


# ---------------------------------------------------------------------------------------
# asn1tools value <-> JSON tree

def _to_json(v: Any, key: str | None, certs: list) -> Any:
    if isinstance(v, dict):
        return {k: _to_json(x, k, certs) for k, x in v.items()}
    if isinstance(v, list):
        return [_to_json(x, key, certs) for x in v]
    if isinstance(v, tuple) and len(v) == 2 and isinstance(v[1], int):
        return {"bits": v[1], "value": hexu(bytes(v[0]))}
    if isinstance(v, (bytes, bytearray)):
        b = bytes(v)
        if key in _CERT_KEYS:
            certs.append(b)
            return certificate_fields(b)
        return hexu(b)
    if isinstance(v, datetime.datetime):
        return {"generalized_time": v.strftime("%Y%m%d%H%M%S") + "Z"}
    return v


def _from_json(v: Any, key: str | None, field: str) -> Any:
    if isinstance(v, dict):
        if "der" in v and key in _CERT_KEYS:
            return unhex(v["der"], field)
        if set(v) == {"bits", "value"}:
            return (unhex(v["value"], field), v["bits"])
        if set(v) == {"generalized_time"}:
            try:
                return datetime.datetime.strptime(v["generalized_time"], "%Y%m%d%H%M%SZ")
            except (ValueError, TypeError):
                raise CodecError(field, 0, "invalid GeneralizedTime") from None
        return {k: _from_json(x, k, f"{field}.{k}") for k, x in v.items()}
    if isinstance(v, list):
        return [_from_json(x, key, f"{field}[{i}]") for i, x in enumerate(v)]
    if isinstance(v, str) and key not in _ENUM_KEYS:
        return unhex(v, field)
    return v


# ---------------------------------------------------------------------------------------
# public API

def decode_type(type_name: str, data: bytes) -> dict:
    """Decode C{data} as the named type of C{gbcs.asn} (or Certificate/CertificationRequest).

    @return: C{{"asn1_type", "value", "length_encoding"}}.
    @raise CodecError: the bytes are not exactly one value of that type.
    """
    if type_name in _NATIVE:
        _te, _k, _cs, ce = _read_tlv(data, 0, len(data), type_name)
        if ce != len(data) or not data or data[0] != 0x30:
            raise CodecError(type_name, ce, "expected exactly one DER SEQUENCE")
        value = certificate_fields(data) if type_name == "Certificate" else _csr_fields(data)
        return {"asn1_type": type_name, "value": value, "length_encoding": "der"}
    if not data:
        raise CodecError(type_name, 0, "empty payload")
    _check_structure(data, 0, len(data))
    spec = schema()
    try:
        decoded, length = spec.decode_with_length(type_name, data)
    except Exception as e:  # asn1tools raises its own error family
        raise CodecError(type_name, 0, f"DER decode failed: {e}") from None
    if length != len(data):
        raise CodecError(type_name, length, f"{len(data) - length} trailing bytes")
    certs: list = []
    value = _to_json(decoded, None, certs)
    blobs = frozenset(certs)
    forms: list = []
    _collect_forms(data, 0, len(data), blobs, forms)
    tree = {"asn1_type": type_name, "value": value, "length_encoding": _summarise_forms(forms)}
    if encode_type(tree) != data:
        raise CodecError(type_name, 0, "value does not re-encode to the same bytes")
    return tree


def encode_type(tree: dict) -> bytes:
    """Encode C{{"asn1_type", "value", "length_encoding"}} back to bytes."""
    try:
        type_name = tree["asn1_type"]
        value = tree["value"]
    except (KeyError, TypeError):
        raise CodecError("asn1", 0, "tree needs asn1_type and value") from None
    if type_name in _NATIVE:
        if not isinstance(value, dict):
            raise CodecError(type_name, 0, "expected an object with 'der'")
        return unhex(value.get("der"), type_name + ".der")
    if type_name == "generic-DER":
        return _encode_generic(value, "tlvs")
    py = _from_json(value, None, type_name)
    certs: list = []
    _find_certs(value, None, certs)
    try:
        der = schema().encode(type_name, py)
    except Exception as e:
        raise CodecError(type_name, 0, f"DER encode failed: {e}") from None
    return _apply_length_encoding(der, tree.get("length_encoding", "der"), frozenset(certs))


def _find_certs(v: Any, key: str | None, out: list) -> None:
    if isinstance(v, dict):
        if "der" in v and key in _CERT_KEYS:
            out.append(unhex(v["der"], "der"))
            return
        for k, x in v.items():
            _find_certs(x, k, out)
    elif isinstance(v, list):
        for x in v:
            _find_certs(x, key, out)


def decode(message_code: int, cra: int, data: bytes) -> dict:
    """Decode an ASN.1 payload of the given message code and CRA flag (§3, §4.3).

    Tries the candidate types of the use case; falls back to a structural DER decode.
    """
    if not data:
        raise CodecError("asn1", 0, "empty payload")
    _check_structure(data, 0, len(data))
    candidates = MESSAGE_TYPES.get(message_code, {}).get(_role(cra), ())
    errors = []
    for name in candidates:
        try:
            tree = decode_type(name, data)
        except CodecError as e:
            errors.append(e)
            continue
        return {"kind": "asn1", **tree}
    value = _decode_generic(data, 0, len(data), 0)
    return {"kind": "asn1", "asn1_type": "generic-DER", "value": value}


def encode(tree: dict) -> bytes:
    """Encode an ASN.1 payload tree produced by L{decode}."""
    return encode_type(tree)


# ---------------------------------------------------------------------------------------
# structural DER (no schema)

_CLASSES = ("universal", "application", "context", "private")


def _decode_generic(data: bytes, off: int, end: int, depth: int) -> list:
    if depth > 40:
        raise CodecError("asn1", off, "nesting too deep")
    out = []
    if off >= end:
        if depth == 0:
            raise CodecError("asn1", off, "empty payload")
        return out
    while off < end:
        tag_end, k, cs, ce = _read_tlv(data, off, end, "asn1")
        node: dict[str, Any] = {"tag": hexu(data[off:tag_end]),
                                "class": _CLASSES[data[off] >> 6]}
        if k != _minimal_form(ce - cs):
            node["length_form"] = k
        if data[off] & 0x20:
            node["children"] = _decode_generic(data, cs, ce, depth + 1)
        else:
            raw = data[cs:ce]
            node["value"] = hexu(raw)
            t = data[off]
            if t == 0x02 and raw:
                node["integer"] = int.from_bytes(raw, "big", signed=True)
            elif t == 0x06:
                node["oid"] = _oid_str(raw)
            elif t in (0x0C, 0x13, 0x16, 0x17, 0x18, 0x1A):
                node["text"] = raw.decode("latin-1")
        out.append(node)
        off = ce
    return out


def _oid_str(raw: bytes) -> str:
    parts, v = [], 0
    for b in raw:
        v = (v << 7) | (b & 0x7F)
        if not b & 0x80:
            parts.append(v)
            v = 0
    if not parts:
        return ""
    first = parts[0]
    head = [min(first // 40, 2), first - 40 * min(first // 40, 2)]
    return ".".join(str(x) for x in head + parts[1:])


def _encode_generic(nodes: Any, field: str) -> bytes:
    if not isinstance(nodes, list):
        raise CodecError(field, 0, "expected a list of TLVs")
    out = bytearray()
    for i, n in enumerate(nodes):
        f = f"{field}[{i}]"
        try:
            tag = unhex(n["tag"], f + ".tag")
            if "children" in n:
                content = _encode_generic(n["children"], f + ".children")
            else:
                content = unhex(n["value"], f + ".value")
            out += tag + _write_len(len(content), n.get("length_form", 0)) + content
        except (KeyError, TypeError):
            raise CodecError(f, 0, "TLV needs tag and children or value") from None
    return bytes(out)
