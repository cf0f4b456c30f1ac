"""Whole GBCS messages: decode, verify, decrypt, encode, and the JSON tree.

Ties together the framing (L{protocols.gbcs.framing}, C{spec/gbcs-wire-format.md} sections
1.2-1.5), the crypto (L{protocols.gbcs.crypto}, sections 2.2-2.4) and the payload codecs
(L{protocols.gbcs.payloads}, sections 3-4) the way a receiver does (Parse and Correlate):

  1. decode the DD/DF framing;
  2. verify the MAC (DD) and the signature (when present) with the key store;
  3. decode the payload, decrypting sensitive parts (section 2.3);
  4. present everything as a JSON-serialisable tree with spec names.

L{encode_message} goes back from such a tree to the exact bytes.  Rules for protections when
encoding (documented for C{smets gbcs encode}):

  - MAC (C{general_ciphering} present): recomputed whenever the key store can derive the
    MAC key (GMAC is deterministic, so this reproduces RTDS bytes); otherwise the tree's
    C{general_ciphering.mac} hex is emitted; with neither, L{CodecError}.
  - Signature (C{signature_field.form}): C{"absent"} emits no field (pre-commands),
    C{"null"} emits C{00}, C{"ecdsa"} emits C{signature_field.value} as given (ECDSA is
    randomised: RTDS signatures cannot be regenerated, so they are kept).  The message is
    (re-)signed with the originator's DS private key only when the tree asks for it:
    C{value} is missing / C{null} / C{"sign"}, or the caller passes C{resign=True}.
"""

from __future__ import annotations

import hmac
import json
from dataclasses import dataclass
from typing import Any, Callable, Protocol

from protocols.errors import CodecError
from protocols.gbcs import catalogue
from protocols.gbcs.crypto import GbcsCrypto, MessagePayloadCrypto, ecdsa_sign, ecdsa_verify
from protocols.gbcs.framing import (CRA_NAMES, SECURITY_CONTROL_AUTHENTICATION, Frame, GeneralCiphering,
                                    GeneralSigning, OtherInformation, decode_dlms_date_time, decode_frame,
                                    encode_general_signing, signed_bytes, wrap_general_ciphering)

__all__ = ["VERIFIED", "FAILED", "ABSENT", "NO_KEY", "PayloadCodec", "Verification", "DecodedMessage",
           "verify_frame", "decode_message", "encode_message", "message_to_tree", "tree_to_frame",
           "protect", "sign_precommand", "field_at", "first_difference", "ConformanceResult", "check_conformance"]

VERIFIED = "verified"
FAILED = "failed"
ABSENT = "absent"
NO_KEY = "no-key"

_CRA_BY_NAME = {v: k for k, v in CRA_NAMES.items()}


class PayloadCodec(Protocol):
    """The payload codec interface (helper B's C{protocols.gbcs.payloads} module)."""

    def decode_payload(self, message_code: int, cra: int, data: bytes, crypto: Any = None) -> dict: ...
    def encode_payload(self, tree: dict, crypto: Any = None) -> bytes: ...
    def payload_fully_decoded(self, tree: dict) -> list[str]: ...


_default_codec: Any = None


def _payloads(codec: PayloadCodec | None) -> PayloadCodec:
    global _default_codec
    if codec is not None:
        return codec
    if _default_codec is None:
        from protocols.gbcs import payloads as _p
        _default_codec = _p
    return _default_codec


# --------------------------------------------------------------------------- verification

@dataclass(frozen=True, slots=True)
class Verification:
    """Outcome of checking a message's protections.

    C{mac} and C{signature} are each L{VERIFIED}, L{FAILED}, L{ABSENT} or L{NO_KEY}; the
    C{*_detail} strings say which key was missing or what failed.
    """

    mac: str
    signature: str
    mac_detail: str = ""
    signature_detail: str = ""


def verify_frame(frame: Frame, crypto: GbcsCrypto | None) -> Verification:
    """Verify the MAC (if DD-wrapped) and the signature (if one is present) of a decoded frame."""
    gs = frame.signing
    if frame.ciphering is None:
        mac, mac_detail = ABSENT, ""
    elif crypto is None:
        mac, mac_detail = NO_KEY, "no key store"
    else:
        lookup = crypto.mac_key(gs, catalogue.is_han_only(gs.message_code))
        if lookup.key is None:
            mac, mac_detail = NO_KEY, lookup.reason
        else:
            expected = crypto.compute_mac(lookup.key, gs, frame.apdu, frame.ciphering.invocation_counter)
            if hmac.compare_digest(expected, frame.ciphering.mac):
                mac, mac_detail = VERIFIED, ""
            else:
                mac, mac_detail = FAILED, "GMAC does not verify"
    if not gs.signature:
        sig, sig_detail = ABSENT, ""
    elif crypto is None:
        sig, sig_detail = NO_KEY, "no key store"
    else:
        pub = crypto.verification_key(gs)
        if pub is None:
            sig, sig_detail = NO_KEY, f"no DS certificate for {gs.originator:016X}"
        elif ecdsa_verify(pub, frame.signed_data, gs.signature):
            sig, sig_detail = VERIFIED, ""
        else:
            sig, sig_detail = FAILED, f"ECDSA signature does not verify with {gs.originator:016X}'s DS key"
    return Verification(mac, sig, mac_detail, sig_detail)


# --------------------------------------------------------------------------- decode

class DecodedMessage:
    """A message decoded completely: framing, verification and payload tree.

    @ivar frame: the decoded framing (L{Frame}).
    @ivar verification: MAC / signature outcome.
    @ivar payload: the payload tree from the payload codec (C{None} if not decoded).
    """

    __slots__ = ("frame", "verification", "payload", "_codec", "_crypto", "_opaque")

    def __init__(self, frame: Frame, verification: Verification, payload: dict | None,
                 codec: PayloadCodec | None = None, crypto: MessagePayloadCrypto | None = None) -> None:
        self.frame = frame
        self.verification = verification
        self.payload = payload
        self._codec = codec
        self._crypto = crypto
        self._opaque: list[str] | None = None

    @property
    def opaque(self) -> list[str]:
        """Payload parts left undecoded (C{payload_fully_decoded}); computed on first use."""
        if self._opaque is None:
            if self.payload is None or self._codec is None:
                self._opaque = []
            else:
                self._opaque = list(self._codec.payload_fully_decoded(self.payload))
        return self._opaque

    @property
    def encryption_detail(self) -> str:
        """Why encrypted parts could not be decrypted (a missing key), or ""."""
        if not self.opaque:
            return ""
        pc = self._crypto
        if pc is None:
            return "no key store"
        if pc.used and not pc.has_key:
            return pc.reason
        return ""

    def to_tree(self) -> dict:
        """The JSON-serialisable tree (see L{message_to_tree})."""
        return message_to_tree(self)


def decode_message(data: bytes, crypto: GbcsCrypto | None = None, *,
                   payloads: PayloadCodec | None = None, decode_payload: bool = True) -> DecodedMessage:
    """Decode, verify and (with keys) decrypt one GBCS message.

    A failed MAC or signature is reported in L{DecodedMessage.verification}, not raised;
    malformed bytes (framing or payload) and encrypted parts whose tag fails raise
    L{CodecError} with offsets relative to C{data}.
    """
    frame = decode_frame(data)
    verification = verify_frame(frame, crypto)
    if not decode_payload:
        return DecodedMessage(frame, verification, None)
    codec = _payloads(payloads)
    gs = frame.signing
    pc = crypto.payload_crypto(gs) if crypto is not None else None
    try:
        tree = codec.decode_payload(gs.message_code, gs.cra_flag, gs.content, pc)
    except CodecError as e:
        raise e.nested("payload", frame.content_offset) from None
    return DecodedMessage(frame, verification, tree, codec, pc)


def _eui(value: int | None) -> str | None:
    return None if value is None else f"{value:016X}"


def message_to_tree(msg: DecodedMessage) -> dict:
    """The JSON tree of a decoded message (header fields, verification, payload)."""
    frame = msg.frame
    gs = frame.signing
    oi = gs.other_information
    uc = catalogue.use_case(gs.message_code)
    tree: dict[str, Any] = {
        "message_code": gs.message_code,
        "message_code_hex": f"0x{gs.message_code:04X}",
        "use_case": uc.name if uc else None,
        "use_case_title": uc.title if uc else None,
        "criticality": uc.criticality if uc else None,
        "service_reference": uc.service_reference if uc else None,
        "cra": CRA_NAMES[gs.cra_flag],
        "originator_counter": gs.originator_counter,
        "originator": _eui(gs.originator),
        "recipient": _eui(gs.recipient),
        "date_time": None if gs.date_time is None else {"hex": gs.date_time.hex().upper(),
                                                        **decode_dlms_date_time(gs.date_time)},
        "other_information": {
            "supplementary_remote_party_id": _eui(oi.supplementary_remote_party_id),
            "supplementary_remote_party_counter": oi.supplementary_remote_party_counter,
            "supplementary_originator_counter": oi.supplementary_originator_counter,
            "supplementary_remote_party_ka_certificate":
                None if oi.supplementary_remote_party_ka_certificate is None
                else oi.supplementary_remote_party_ka_certificate.hex().upper(),
        },
        "mac": msg.verification.mac,
        "signature": msg.verification.signature,
    }
    if msg.verification.mac_detail:
        tree["mac_detail"] = msg.verification.mac_detail
    if msg.verification.signature_detail:
        tree["signature_detail"] = msg.verification.signature_detail
    gc = frame.ciphering
    tree["general_ciphering"] = None if gc is None else {
        "transaction_id": gc.transaction_id.hex().upper(),
        "originator_system_title": gc.originator_system_title.hex().upper(),
        "recipient_system_title": gc.recipient_system_title.hex().upper(),
        "date_time": gc.date_time.hex().upper(),
        "other_information": gc.other_information.hex().upper(),
        "security_control": gc.security_control,
        "invocation_counter": gc.invocation_counter,
        "mac": gc.mac.hex().upper(),
    }
    if gs.signature is None:
        tree["signature_field"] = {"form": "absent", "value": None}
    elif not gs.signature:
        tree["signature_field"] = {"form": "null", "value": None}
    else:
        tree["signature_field"] = {"form": "ecdsa", "value": gs.signature.hex().upper()}
    if msg.payload is None:
        tree["content"] = gs.content.hex().upper()
    else:
        tree["payload"] = msg.payload
    if msg.opaque:
        tree["payload_opaque"] = msg.opaque
        if msg.encryption_detail:
            tree["payload_opaque_detail"] = msg.encryption_detail
    return tree


# --------------------------------------------------------------------------- encode

def _json(value: Any) -> str:
    """A tree value as it is written in the JSON (error messages name JSON values, not Python ones)."""
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return str(value)


def _get(tree: dict, key: str, fld: str | None = None) -> Any:
    try:
        return tree[key]
    except (KeyError, TypeError):
        raise CodecError(fld or key, 0, "missing in the message tree") from None


def _int(value: Any, fld: str, bits: int = 64) -> int:
    if isinstance(value, bool):
        raise CodecError(fld, 0, "must be an integer")
    if isinstance(value, str):
        try:
            value = int(value, 0)
        except ValueError:
            raise CodecError(fld, 0, f"not an integer: {_json(value)}") from None
    if not isinstance(value, int) or not 0 <= value < 1 << bits:
        raise CodecError(fld, 0, f"must be an unsigned {bits}-bit integer, got {_json(value)}")
    return value


def _eui_in(value: Any, fld: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return _int(value, fld)
    if not isinstance(value, str):
        raise CodecError(fld, 0, "must be 16 hex digits")
    digits = value.replace(":", "").replace("-", "").replace(" ", "")
    if len(digits) != 16:
        raise CodecError(fld, 0, f"must be 16 hex digits, got {_json(value)}")
    try:
        return int(digits, 16)
    except ValueError:
        raise CodecError(fld, 0, f"not hex: {_json(value)}") from None


def _hex(value: Any, fld: str) -> bytes:
    if not isinstance(value, str):
        raise CodecError(fld, 0, "must be a hex string")
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise CodecError(fld, 0, "not a hex string") from None


def _opt(d: dict, key: str) -> Any:
    return d.get(key) if isinstance(d, dict) else None


def tree_to_frame(tree: dict, payloads: PayloadCodec | None = None,
                  payload_crypto_for: Callable[[GeneralSigning], Any] | None = None
                  ) -> tuple[GeneralSigning, GeneralCiphering | None]:
    """Rebuild the framing objects from a message tree.

    The content comes from C{payload} (re-encoded by the payload codec, re-encrypting
    sensitive parts through C{payload_crypto_for(header)} when given) or from C{content} hex.
    C{general_ciphering.mac} and the signature are taken from the tree as they are.
    """
    if not isinstance(tree, dict):
        raise CodecError("message", 0, "the message tree must be a JSON object")
    code = _int(_get(tree, "message_code"), "message_code", 16)
    cra_name = _get(tree, "cra")
    cra = _CRA_BY_NAME.get(cra_name) if isinstance(cra_name, str) else cra_name
    if isinstance(cra, bool) or not isinstance(cra, int) or cra not in CRA_NAMES:
        raise CodecError("cra", 0, f"must be one of {', '.join(sorted(_CRA_BY_NAME))}, got {_json(cra_name)}")
    oi_tree = tree.get("other_information") or {}
    srp = _opt(oi_tree, "supplementary_remote_party_id")
    srpc = _opt(oi_tree, "supplementary_remote_party_counter")
    soc = _opt(oi_tree, "supplementary_originator_counter")
    cert = _opt(oi_tree, "supplementary_remote_party_ka_certificate")
    oi = OtherInformation(
        code,
        None if srp is None else _eui_in(srp, "other_information.supplementary_remote_party_id"),
        None if srpc is None else _int(srpc, "other_information.supplementary_remote_party_counter"),
        None if soc is None else _int(soc, "other_information.supplementary_originator_counter"),
        None if cert is None else _hex(cert, "other_information.supplementary_remote_party_ka_certificate"))
    dt = tree.get("date_time")
    if dt is not None:
        dt = _hex(dt.get("hex") if isinstance(dt, dict) else dt, "date_time")
        if len(dt) != 12:
            raise CodecError("date_time", 0, "must be 12 bytes")
    sig_field = tree.get("signature_field") or {"form": "null"}
    form = _opt(sig_field, "form")
    value = _opt(sig_field, "value")
    if form == "absent":
        signature = None
    elif form == "null":
        signature = b""
    elif form == "ecdsa":
        signature = b"" if value in (None, "sign") else _hex(value, "signature_field.value")
        if signature and len(signature) != 64:
            raise CodecError("signature_field.value", 0, "an ECDSA signature is 64 bytes (r||s)")
    else:
        raise CodecError("signature_field.form", 0, f"must be absent, null or ecdsa, got {_json(form)}")
    header = GeneralSigning(cra, _int(_get(tree, "originator_counter"), "originator_counter"),
                            _eui_in(_get(tree, "originator"), "originator"),
                            _eui_in(_get(tree, "recipient"), "recipient"), dt, oi, b"", signature)
    payload = tree.get("payload")
    if payload is not None:
        pc = payload_crypto_for(header) if payload_crypto_for is not None else None
        try:
            content = _payloads(payloads).encode_payload(payload, pc)
        except CodecError as e:
            raise e.nested("payload", 0) from None
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as e:
            raise CodecError("payload", 0, f"cannot encode payload tree: {type(e).__name__}: {e}") from None
    else:
        content = _hex(_get(tree, "content", "payload"), "content")
    gs = GeneralSigning(cra, header.originator_counter, header.originator, header.recipient, dt, oi,
                        content, signature)
    gc_tree = tree.get("general_ciphering")
    gc = None
    if gc_tree is not None:
        if not isinstance(gc_tree, dict):
            raise CodecError("general_ciphering", 0, "must be an object or null")
        mac_hex = gc_tree.get("mac")
        gc = GeneralCiphering(
            b"" if mac_hex in (None, "compute") else _hex(mac_hex, "general_ciphering.mac"),
            *(_hex(gc_tree.get(k, ""), f"general_ciphering.{k}") for k in
              ("transaction_id", "originator_system_title", "recipient_system_title", "date_time",
               "other_information")),
            _int(gc_tree.get("security_control", SECURITY_CONTROL_AUTHENTICATION),
                 "general_ciphering.security_control", 8),
            _int(gc_tree.get("invocation_counter", 0), "general_ciphering.invocation_counter", 32))
    return gs, gc


def _needs_signature(tree: dict) -> bool:
    sf = tree.get("signature_field") or {}
    return sf.get("form") == "ecdsa" and sf.get("value") in (None, "sign")


def protect(gs: GeneralSigning, crypto: GbcsCrypto | None, ciphering: GeneralCiphering | None, *,
            sign: bool = False) -> bytes:
    """Encode a message, signing it (C{sign}) and computing its MAC (if C{ciphering}) as needed.

    With C{ciphering} the MAC is recomputed when C{crypto} can derive the key, otherwise the
    MAC in C{ciphering.mac} is used (L{CodecError} if it has none).
    """
    if sign:
        key = crypto.signing_key(gs) if crypto is not None else None
        if key is None:
            raise CodecError("signature_field", 0, f"no DS private key for {gs.originator:016X} to sign with")
        gs = GeneralSigning(gs.cra_flag, gs.originator_counter, gs.originator, gs.recipient, gs.date_time,
                            gs.other_information, gs.content, ecdsa_sign(key, signed_bytes(gs)))
    apdu = encode_general_signing(gs)
    if ciphering is None:
        return apdu
    mac = ciphering.mac
    if crypto is not None:
        lookup = crypto.mac_key(gs, catalogue.is_han_only(gs.message_code))
        if lookup.key is not None:
            mac = crypto.compute_mac(lookup.key, gs, apdu, ciphering.invocation_counter)
    if not mac:
        raise CodecError("general_ciphering.mac", 0, "no MAC given and no key to compute it")
    return wrap_general_ciphering(apdu, GeneralCiphering(
        mac, ciphering.transaction_id, ciphering.originator_system_title, ciphering.recipient_system_title,
        ciphering.date_time, ciphering.other_information, ciphering.security_control,
        ciphering.invocation_counter))


def encode_message(tree: dict, crypto: GbcsCrypto | None = None, *, payloads: PayloadCodec | None = None,
                   resign: bool = False) -> bytes:
    """The exact bytes of a message tree (see the module docstring for MAC/signature rules)."""
    pc_for = crypto.payload_crypto if crypto is not None else None
    gs, gc = tree_to_frame(tree, payloads, pc_for)
    return protect(gs, crypto, gc, sign=resign or _needs_signature(tree))


def sign_precommand(precommand: bytes, crypto: GbcsCrypto) -> bytes:
    """Sign a DF pre-command (signature field absent, or null as DCC Boxed < 1.4.1 varies).

    Returns the DF APDU with C{40} + the originator's ECDSA signature (section 1.4).
    """
    frame = decode_frame(precommand)
    if frame.ciphering is not None:
        raise CodecError("tag", 0, "a pre-command is a bare General-Signing APDU (DF)")
    if frame.signing.signature:
        raise CodecError("general_signing.signature", len(precommand) - 65, "already signed")
    return protect(frame.signing, crypto, None, sign=True)


# --------------------------------------------------------------------------- diagnostics

def field_at(frame: Frame, offset: int, total_length: int) -> str:
    """Name the field of a message (laid out like C{frame}) that holds byte C{offset}."""
    gs = frame.signing
    if frame.ciphering is not None:
        apdu_start = total_length - 12 - len(frame.apdu)
        if offset >= total_length - 12:
            return "general_ciphering.mac"
        if offset < apdu_start:
            return "general_ciphering" if offset < apdu_start - 5 else "general_ciphering.security_header"
    else:
        apdu_start = 0
    rel = offset - apdu_start
    content_rel = frame.content_offset - apdu_start
    content_end = content_rel + len(gs.content)
    if rel == 0:
        return "general_signing.tag"
    if rel < 11:
        return "general_signing.transaction_id"
    if rel < 20:
        return "general_signing.originator_system_title"
    if rel < 29:
        return "general_signing.recipient_system_title"
    dt_end = 30 if gs.date_time is None else 42
    if rel < dt_end:
        return "general_signing.date_time"
    if rel < content_rel:
        oi_len = len(gs.other_information.encode())
        return "general_signing.other_information" if rel < dt_end + 1 + oi_len + (oi_len > 127) + (oi_len > 255) \
            else "general_signing.content.length"
    if rel < content_end:
        return f"payload (payload offset {rel - content_rel})"
    return "general_signing.signature"


def first_difference(a: bytes, b: bytes) -> int | None:
    """Offset of the first differing byte (or the shorter length), C{None} if equal."""
    if a == b:
        return None
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return i
    return min(len(a), len(b))


# --------------------------------------------------------------------------- conformance

@dataclass(frozen=True, slots=True)
class ConformanceResult:
    """Outcome of L{check_conformance}: C{status} is C{"passed"}, C{"failed"} or C{"skipped"}.

    For failures C{field}/C{offset}/C{reason} locate the problem in the message bytes; for
    skips C{reason} names the missing key.
    """

    status: str
    field: str = ""
    offset: int = 0
    reason: str = ""

    def line(self, name: str) -> str:
        """The one-line report for file C{name}."""
        if self.status == "failed":
            return f"{name}: {self.field} at offset {self.offset}: {self.reason}"
        if self.status == "skipped":
            return f"{name}: skipped: {self.reason}"
        return f"{name}: passed"


def check_conformance(data: bytes, crypto: GbcsCrypto | None, *,
                      payloads: PayloadCodec | None = None) -> ConformanceResult:
    """Check one message the way the conformance runner does.

    Parse; verify MAC and signature where keys exist; decode the payload completely
    (decrypting sensitive parts); rebuild the message from its JSON tree (recomputing the MAC
    and re-encrypting where keys exist) and compare byte for byte.  A protection that cannot
    be checked because a key is genuinely absent from the key store makes the result
    C{"skipped"} (if nothing else failed); a protection that does not verify is a failure.
    """
    import json

    def fail(e: CodecError) -> ConformanceResult:
        return ConformanceResult("failed", e.field, e.offset, e.reason)

    try:
        msg = decode_message(data, crypto, payloads=payloads)
    except CodecError as e:
        return fail(e)
    except Exception as e:  # a codec bug must show up as a failure of this file, not end the run
        return ConformanceResult("failed", "decode", 0, f"unexpected {type(e).__name__}: {e}")
    frame = msg.frame
    v = msg.verification
    if v.mac == FAILED:
        return ConformanceResult("failed", "general_ciphering.mac", len(data) - 12, v.mac_detail)
    if v.signature == FAILED:
        sig_off = len(data) - 64 - (12 if frame.ciphering is not None else 0)
        return ConformanceResult("failed", "general_signing.signature", sig_off, v.signature_detail)
    skips = []
    if v.mac == NO_KEY:
        skips.append(f"no key for MAC ({v.mac_detail})")
    if v.signature == NO_KEY:
        skips.append(f"no key for signature ({v.signature_detail})")
    if msg.opaque:
        if msg.encryption_detail:
            skips.append(f"no key for payload decryption ({msg.encryption_detail})")
        else:
            return ConformanceResult("failed", "payload", frame.content_offset,
                                     "not fully decoded: " + ", ".join(msg.opaque))
    try:
        tree = json.loads(json.dumps(message_to_tree(msg)))
        rebuilt = encode_message(tree, crypto, payloads=payloads)
    except CodecError as e:
        return ConformanceResult("failed", f"rebuild.{e.field}", e.offset, e.reason)
    except (TypeError, ValueError) as e:
        return ConformanceResult("failed", "rebuild", 0, f"tree not JSON-serialisable: {e}")
    except Exception as e:  # as above: report, do not crash the run
        return ConformanceResult("failed", "rebuild", 0, f"unexpected {type(e).__name__}: {e}")
    diff = first_difference(data, rebuilt)
    if diff is not None:
        where = field_at(frame, diff, len(data)) if diff < len(data) else "end"
        got = f"0x{rebuilt[diff]:02X}" if diff < len(rebuilt) else "end of data"
        want = f"0x{data[diff]:02X}" if diff < len(data) else "end of data"
        return ConformanceResult("failed", where, diff,
                                 f"rebuilt message differs: expected {want}, rebuilt {got} "
                                 f"(lengths {len(data)} / {len(rebuilt)})")
    if skips:
        return ConformanceResult("skipped", "", 0, "; ".join(skips))
    return ConformanceResult("passed")
