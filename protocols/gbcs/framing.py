"""GBCS message framing: General-Ciphering (0xDD) wrapper and General-Signing (0xDF) APDU.

Implements GBCS section 7 (remote party message structure) as restated byte for byte in
C{spec/gbcs-wire-format.md}:

  - section 1.1: the BER-style definite length used by every "len" (minimal form only);
  - section 1.2: the DLMS General-Ciphering APDU (tag C{DD}) that carries the MAC: five empty
    octet strings, the absent key-info, the ciphered-content length, the 5-byte security
    header C{11 00000000}, the whole General-Signing APDU and the 12-byte GMAC tag;
  - section 1.3: the DLMS General-Signing APDU (tag C{DF}): transaction-id (CRA flag and
    originator counter), originator and recipient system titles, optional date-time,
    other-information, content and the signature field (absent / null / 64-byte ECDSA);
  - section 1.4: which bytes are signed;
  - section 1.5: the other-information variants (message code; supplementary remote party
    id, counter, supplementary originator counter, embedded key-agreement certificate).

Pure codec: bytes in, frozen dataclasses out (and back).  Every malformed or truncated input
raises L{protocols.errors.CodecError} naming the field and the byte offset.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from protocols.errors import CodecError

__all__ = [
    "CRA_COMMAND", "CRA_RESPONSE", "CRA_ALERT", "CRA_NAMES",
    "GENERAL_CIPHERING_TAG", "GENERAL_SIGNING_TAG", "SECURITY_CONTROL_AUTHENTICATION",
    "MAC_LENGTH", "SIGNATURE_LENGTH",
    "encode_length", "decode_length",
    "OtherInformation", "GeneralSigning", "GeneralCiphering", "Frame",
    "decode_frame", "encode_frame", "encode_general_signing",
    "signed_bytes", "decode_dlms_date_time",
]

#: CRA flag values in the transaction-id (GBCS 7.2.x: Command, Response, Alert).
CRA_COMMAND = 1
CRA_RESPONSE = 2
CRA_ALERT = 3
CRA_NAMES = {CRA_COMMAND: "command", CRA_RESPONSE: "response", CRA_ALERT: "alert"}

GENERAL_CIPHERING_TAG = 0xDD
GENERAL_SIGNING_TAG = 0xDF
#: Security control byte used by GBCS for the MAC wrapper: authentication only.
SECURITY_CONTROL_AUTHENTICATION = 0x11
MAC_LENGTH = 12
SIGNATURE_LENGTH = 64
_TRANSACTION_ID_LENGTH = 9
_SYSTEM_TITLE_LENGTH = 8
_DATE_TIME_LENGTH = 12

_U64 = struct.Struct(">Q")
_U16 = struct.Struct(">H")
_TXID = struct.Struct(">BBQ")          # 09, CRA flag, originator counter
_TITLE = struct.Struct(">BQ")          # 08, system title
_SEC_HEADER = struct.Struct(">BI")     # security control, invocation counter
_MAX_U64 = (1 << 64) - 1


# --------------------------------------------------------------------------- lengths

def encode_length(n: int) -> bytes:
    """Encode a definite length in the minimal BER form (section 1.1)."""
    if n < 0x80:
        if n < 0:
            raise CodecError("length", 0, f"negative length {n}")
        return bytes((n,))
    if n <= 0xFF:
        return bytes((0x81, n))
    if n <= 0xFFFF:
        return bytes((0x82, n >> 8, n & 0xFF))
    if n <= 0xFFFFFF:
        return bytes((0x83,)) + n.to_bytes(3, "big")
    if n <= 0xFFFFFFFF:
        return bytes((0x84,)) + n.to_bytes(4, "big")
    raise CodecError("length", 0, f"length {n} too large to encode")


def decode_length(buf: bytes, offset: int, field: str) -> tuple[int, int]:
    """Decode a definite length at C{offset}; return C{(length, offset after it)}.

    Only the minimal encoding is accepted (GBCS lengths are A-XDR / DER style).
    """
    try:
        first = buf[offset]
    except IndexError:
        raise CodecError(field, offset, "truncated: length byte missing") from None
    if first < 0x80:
        return first, offset + 1
    n = first & 0x7F
    if n == 0 or n > 4:
        raise CodecError(field, offset, f"unsupported length form 0x{first:02X}")
    end = offset + 1 + n
    if end > len(buf):
        raise CodecError(field, offset, f"truncated: {n}-byte length needs {end - len(buf)} more byte(s)")
    value = int.from_bytes(buf[offset + 1:end], "big")
    if value < 0x80 or (value >> (8 * (n - 1))) == 0:
        raise CodecError(field, offset, f"non-minimal length encoding of {value}")
    return value, end


def _need(buf: bytes, offset: int, n: int, field: str) -> None:
    if offset + n > len(buf):
        raise CodecError(field, offset, f"truncated: need {n} byte(s), {max(len(buf) - offset, 0)} left")


def _der_tlv_end(buf: bytes, offset: int, field: str) -> int:
    """Return the end offset of the DER TLV starting at C{offset} (tag 0x30 checked by caller)."""
    length, start = decode_length(buf, offset + 1, field)
    return start + length


# --------------------------------------------------------------------------- other-information

@dataclass(frozen=True, slots=True)
class OtherInformation:
    """The other-information field of the grouping header (section 1.5).

    @ivar message_code: 2-byte GBCS Message Code (the use case).
    @ivar supplementary_remote_party_id: EUI-64 of the party the ACB acts for (or the
        load controller of an ECS200 alert), or C{None}.
    @ivar supplementary_remote_party_counter: that party's counter, or C{None}.
    @ivar supplementary_originator_counter: counter chosen by the device for the
        encryption KDF (URP read responses), or C{None}.
    @ivar supplementary_remote_party_ka_certificate: DER X.509 key-agreement certificate
        of the supplementary remote party (URP read commands), or C{None}.
    """

    message_code: int
    supplementary_remote_party_id: int | None = None
    supplementary_remote_party_counter: int | None = None
    supplementary_originator_counter: int | None = None
    supplementary_remote_party_ka_certificate: bytes | None = None

    @classmethod
    def decode(cls, data: bytes, base: int = 0) -> "OtherInformation":
        """Decode the value bytes of other-information; C{base} is their offset for errors."""
        n = len(data)
        if n < 2:
            raise CodecError("other_information.message_code", base, f"need 2 bytes, have {n}")
        code = _U16.unpack_from(data, 0)[0]
        if n == 2:
            oi = _SIMPLE_OI.get(code)
            if oi is None:
                oi = _SIMPLE_OI[code] = cls(code)
            return oi
        if n < 10:
            raise CodecError("other_information.supplementary_remote_party_id", base + 2,
                             f"truncated: need 8 bytes, have {n - 2}")
        srp = _U64.unpack_from(data, 2)[0]
        if n == 10:
            return cls(code, srp)
        if n < 18:
            raise CodecError("other_information.supplementary_remote_party_counter", base + 10,
                             f"truncated: need 8 bytes, have {n - 10}")
        srp_counter = _U64.unpack_from(data, 10)[0]
        if n == 18:
            return cls(code, srp, srp_counter)
        if n == 26:
            return cls(code, srp, srp_counter, _U64.unpack_from(data, 18)[0])
        # > 18 and not 26: [supplementary originator counter] + DER certificate filling the rest
        for cert_at, sup_counter in ((18, None), (26, "counter")):
            if n > cert_at + 1 and data[cert_at] == 0x30:
                try:
                    end = _der_tlv_end(data, cert_at, "other_information.certificate")
                except CodecError:
                    continue
                if end == n:
                    counter = _U64.unpack_from(data, 18)[0] if sup_counter else None
                    return cls(code, srp, srp_counter, counter, bytes(data[cert_at:]))
        raise CodecError("other_information", base + 18,
                         f"{n - 18} byte(s) after the supplementary remote party counter are neither "
                         "a supplementary originator counter nor a DER certificate")

    def encode(self) -> bytes:
        """Encode the value bytes (without the length prefix)."""
        try:
            out = _U16.pack(self.message_code)
            if self.supplementary_remote_party_id is None:
                if (self.supplementary_remote_party_counter is not None
                        or self.supplementary_originator_counter is not None
                        or self.supplementary_remote_party_ka_certificate is not None):
                    raise CodecError("other_information.supplementary_remote_party_id", 2,
                                     "required when later supplementary fields are present")
                return out
            out += _U64.pack(self.supplementary_remote_party_id)
            if self.supplementary_remote_party_counter is None:
                if (self.supplementary_originator_counter is not None
                        or self.supplementary_remote_party_ka_certificate is not None):
                    raise CodecError("other_information.supplementary_remote_party_counter", 10,
                                     "required when later supplementary fields are present")
                return out
            out += _U64.pack(self.supplementary_remote_party_counter)
            if self.supplementary_originator_counter is not None:
                out += _U64.pack(self.supplementary_originator_counter)
            if self.supplementary_remote_party_ka_certificate is not None:
                out += self.supplementary_remote_party_ka_certificate
            return out
        except struct.error as e:
            raise CodecError("other_information", 0, f"value out of range: {e}") from None


#: shared OtherInformation objects for the common 2-byte form (at most 65,536; immutable)
_SIMPLE_OI: dict[int, OtherInformation] = {}


# --------------------------------------------------------------------------- General-Signing

@dataclass(frozen=True, slots=True)
class GeneralSigning:
    """The General-Signing APDU (tag 0xDF): grouping header, content and signature (section 1.3).

    @ivar cra_flag: 1 command, 2 response, 3 alert.
    @ivar originator_counter: 64-bit originator counter from the transaction-id.
    @ivar originator: originator-system-title (EUI-64 as an int, printed order).
    @ivar recipient: recipient-system-title (EUI-64 as an int).
    @ivar date_time: the 12-byte DLMS date-time, or C{None} when the field is empty (C{00}).
    @ivar other_information: L{OtherInformation} (message code and supplements).
    @ivar content: the payload bytes (DLMS, GBZ or ASN.1 DER).
    @ivar signature: C{None} when the signature field is absent (pre-commands), C{b""} for the
        null signature C{00}, or the 64-byte raw ECDSA signature r||s.
    """

    cra_flag: int
    originator_counter: int
    originator: int
    recipient: int
    date_time: bytes | None
    other_information: OtherInformation
    content: bytes
    signature: bytes | None = b""

    @property
    def message_code(self) -> int:
        """The GBCS message code (first two bytes of other-information)."""
        return self.other_information.message_code


@dataclass(frozen=True, slots=True)
class GeneralCiphering:
    """The General-Ciphering wrapper (tag 0xDD) around a General-Signing APDU (section 1.2).

    GBCS leaves every header octet string empty; they are kept so that any input round-trips.

    @ivar mac: the 12-byte GMAC tag that ends the ciphered content.
    """

    mac: bytes
    transaction_id: bytes = b""
    originator_system_title: bytes = b""
    recipient_system_title: bytes = b""
    date_time: bytes = b""
    other_information: bytes = b""
    security_control: int = SECURITY_CONTROL_AUTHENTICATION
    invocation_counter: int = 0

    def security_header(self) -> bytes:
        """The 5-byte security header (security control byte + invocation counter)."""
        return _SEC_HEADER.pack(self.security_control, self.invocation_counter)


@dataclass(frozen=True, slots=True)
class Frame:
    """A decoded GBCS message plus the positions a verifier needs.

    @ivar signing: the General-Signing APDU.
    @ivar ciphering: the General-Ciphering wrapper, or C{None} for a DF-only message.
    @ivar apdu: the raw General-Signing APDU bytes (C{DF} ... signature field): the MAC input.
    @ivar content_offset: offset of the content (payload) within the whole message.
    @ivar signed_length: number of bytes of L{apdu} covered by the signature, counted from
        the byte after the C{DF} tag (section 1.4): C{apdu[1:1 + signed_length]}.
    """

    signing: GeneralSigning
    ciphering: GeneralCiphering | None
    apdu: bytes
    content_offset: int
    signed_length: int

    @property
    def signed_data(self) -> bytes:
        """The bytes the ECDSA signature covers (transaction-id through content)."""
        return self.apdu[1:1 + self.signed_length]


def _decode_octet_string(buf: bytes, offset: int, field: str) -> tuple[bytes, int]:
    n, off = decode_length(buf, offset, field)
    _need(buf, off, n, field)
    return bytes(buf[off:off + n]), off + n


def _decode_general_signing(buf: bytes, start: int, end: int) -> tuple[GeneralSigning, int, int]:
    """Decode a DF APDU occupying C{buf[start:end]}; return it, content offset, content end."""
    if start >= end:
        raise CodecError("general_signing.tag", start, "truncated: no General-Signing APDU")
    if buf[start] != GENERAL_SIGNING_TAG:
        raise CodecError("general_signing.tag", start, f"expected 0xDF, found 0x{buf[start]:02X}")
    off = start + 1
    if off + 10 > end:
        raise CodecError("general_signing.transaction_id", off, "truncated")
    txlen, cra, counter = _TXID.unpack_from(buf, off)
    if txlen != _TRANSACTION_ID_LENGTH:
        raise CodecError("general_signing.transaction_id", off, f"length must be 9, found {txlen}")
    if cra not in CRA_NAMES:
        raise CodecError("general_signing.transaction_id.cra_flag", off + 1,
                         f"CRA flag must be 1, 2 or 3, found {cra}")
    off += 10
    titles = []
    for name in ("originator_system_title", "recipient_system_title"):
        if off + 9 > end:
            raise CodecError(f"general_signing.{name}", off, "truncated")
        tlen, title = _TITLE.unpack_from(buf, off)
        if tlen != _SYSTEM_TITLE_LENGTH:
            raise CodecError(f"general_signing.{name}", off, f"length must be 8, found {tlen}")
        titles.append(title)
        off += 9
    if off >= end:
        raise CodecError("general_signing.date_time", off, "truncated")
    dtlen = buf[off]
    if dtlen == 0:
        date_time = None
        off += 1
    elif dtlen == _DATE_TIME_LENGTH:
        if off + 13 > end:
            raise CodecError("general_signing.date_time", off, "truncated")
        date_time = bytes(buf[off + 1:off + 13])
        off += 13
    else:
        raise CodecError("general_signing.date_time", off, f"length must be 0 or 12, found {dtlen}")
    oilen, oi_start = decode_length(buf, off, "general_signing.other_information")
    if oi_start + oilen > end:
        raise CodecError("general_signing.other_information", off, "truncated")
    other = OtherInformation.decode(buf[oi_start:oi_start + oilen], oi_start)
    off = oi_start + oilen
    clen, content_start = decode_length(buf, off, "general_signing.content")
    content_end = content_start + clen
    if content_end > end:
        raise CodecError("general_signing.content", off,
                         f"truncated: length {clen} runs {content_end - end} byte(s) past the APDU")
    content = bytes(buf[content_start:content_end])
    remaining = end - content_end
    if remaining == 0:
        signature = None
    elif buf[content_end] == 0 and remaining == 1:
        signature = b""
    elif buf[content_end] == SIGNATURE_LENGTH and remaining == 1 + SIGNATURE_LENGTH:
        signature = bytes(buf[content_end + 1:end])
    else:
        raise CodecError("general_signing.signature", content_end,
                         f"expected absent, 00 or 40 + 64 bytes; found 0x{buf[content_end]:02X} "
                         f"with {remaining} byte(s) left")
    gs = GeneralSigning(cra, counter, titles[0], titles[1], date_time, other, content, signature)
    return gs, content_start, content_end


_EMPTY_DD_HEADER = bytes(6)
_EMPTY_FIELDS = (b"", b"", b"", b"", b"")


def decode_frame(data: bytes) -> Frame:
    """Decode a whole GBCS message (DD-wrapped or DF-only) into a L{Frame}."""
    if not data:
        raise CodecError("tag", 0, "empty message")
    tag = data[0]
    if tag == GENERAL_SIGNING_TAG:
        gs, cstart, cend = _decode_general_signing(data, 0, len(data))
        return Frame(gs, None, bytes(data), cstart, cend - 1)
    if tag != GENERAL_CIPHERING_TAG:
        raise CodecError("tag", 0, f"expected 0xDD (General-Ciphering) or 0xDF (General-Signing), found 0x{tag:02X}")
    if data[1:7] == _EMPTY_DD_HEADER:     # GBCS: every header field empty, key-info absent
        fields = _EMPTY_FIELDS
        off = 6
    else:
        off = 1
        fields = []
        for name in ("transaction_id", "originator_system_title", "recipient_system_title",
                     "date_time", "other_information"):
            value, off = _decode_octet_string(data, off, f"general_ciphering.{name}")
            fields.append(value)
        _need(data, off, 1, "general_ciphering.key_info")
    if data[off] != 0:
        raise CodecError("general_ciphering.key_info", off,
                         "key-info must be absent (00) in GBCS: keys are static, agreed per use case")
    off += 1
    clen, cstart = decode_length(data, off, "general_ciphering.ciphered_content")
    cend = cstart + clen
    if cend != len(data):
        if cend > len(data):
            raise CodecError("general_ciphering.ciphered_content", off,
                             f"truncated: length {clen} runs {cend - len(data)} byte(s) past the end")
        raise CodecError("general_ciphering.ciphered_content", cend,
                         f"{len(data) - cend} trailing byte(s) after the ciphered content")
    if clen < 5 + MAC_LENGTH + 1:
        raise CodecError("general_ciphering.ciphered_content", off, f"length {clen} too short")
    sc, ic = _SEC_HEADER.unpack_from(data, cstart)
    if sc != SECURITY_CONTROL_AUTHENTICATION:
        raise CodecError("general_ciphering.security_control", cstart,
                         f"expected 0x11 (authentication only), found 0x{sc:02X}")
    apdu_start = cstart + 5
    apdu_end = cend - MAC_LENGTH
    gs, pstart, pend = _decode_general_signing(data, apdu_start, apdu_end)
    gc = GeneralCiphering(bytes(data[apdu_end:cend]), *fields, sc, ic)
    return Frame(gs, gc, bytes(data[apdu_start:apdu_end]), pstart, pend - apdu_start - 1)


# --------------------------------------------------------------------------- encoding

def _signed_part(gs: GeneralSigning) -> bytes:
    """Transaction-id through content (the signed bytes, section 1.4)."""
    if gs.cra_flag not in CRA_NAMES:
        raise CodecError("general_signing.transaction_id.cra_flag", 2,
                         f"CRA flag must be 1, 2 or 3, found {gs.cra_flag}")
    try:
        parts = [_TXID.pack(9, gs.cra_flag, gs.originator_counter),
                 _TITLE.pack(8, gs.originator), _TITLE.pack(8, gs.recipient)]
    except struct.error as e:
        raise CodecError("general_signing.transaction_id", 1, f"value out of range: {e}") from None
    if gs.date_time is None:
        parts.append(b"\x00")
    else:
        if len(gs.date_time) != _DATE_TIME_LENGTH:
            raise CodecError("general_signing.date_time", 29, "date-time must be 12 bytes")
        parts.append(b"\x0c" + gs.date_time)
    oi = gs.other_information.encode()
    parts.append(encode_length(len(oi)))
    parts.append(oi)
    parts.append(encode_length(len(gs.content)))
    parts.append(gs.content)
    return b"".join(parts)


def signed_bytes(gs: GeneralSigning) -> bytes:
    """The bytes a signature over C{gs} covers (section 1.4)."""
    return _signed_part(gs)


def _signature_field(signature: bytes | None) -> bytes:
    if signature is None:
        return b""
    if not signature:
        return b"\x00"
    if len(signature) != SIGNATURE_LENGTH:
        raise CodecError("general_signing.signature", 0,
                         f"signature must be 64 bytes (r||s), found {len(signature)}")
    return b"\x40" + signature


def encode_general_signing(gs: GeneralSigning) -> bytes:
    """Encode the General-Signing APDU (C{DF} ... signature field)."""
    return b"\xdf" + _signed_part(gs) + _signature_field(gs.signature)


def encode_frame(signing: GeneralSigning, ciphering: GeneralCiphering | None) -> bytes:
    """Encode a whole message: DF only, or DF wrapped in DD with C{ciphering.mac}."""
    apdu = encode_general_signing(signing)
    if ciphering is None:
        return apdu
    return wrap_general_ciphering(apdu, ciphering)


def wrap_general_ciphering(apdu: bytes, ciphering: GeneralCiphering) -> bytes:
    """Wrap an encoded DF APDU in the DD General-Ciphering APDU with C{ciphering.mac}."""
    if len(ciphering.mac) != MAC_LENGTH:
        raise CodecError("general_ciphering.mac", 0, f"MAC must be 12 bytes, found {len(ciphering.mac)}")
    head = [b"\xdd"]
    for value in (ciphering.transaction_id, ciphering.originator_system_title,
                  ciphering.recipient_system_title, ciphering.date_time, ciphering.other_information):
        head.append(encode_length(len(value)))
        head.append(value)
    head.append(b"\x00")  # key-info absent
    head.append(encode_length(5 + len(apdu) + MAC_LENGTH))
    try:
        head.append(ciphering.security_header())
    except struct.error as e:
        raise CodecError("general_ciphering.security_header", 0, f"value out of range: {e}") from None
    return b"".join(head) + apdu + ciphering.mac


# --------------------------------------------------------------------------- date-time

_DLMS_DT = struct.Struct(">HBBBBBBBhB")


def decode_dlms_date_time(value: bytes) -> dict:
    """Decode a 12-byte DLMS date-time into named fields (for display; C{0xFF} = not specified)."""
    if len(value) != 12:
        raise CodecError("date_time", 0, f"must be 12 bytes, found {len(value)}")
    year, month, day, dow, hour, minute, second, hundredths, deviation, status = _DLMS_DT.unpack(value)
    out = {"year": year, "month": month, "day_of_month": day, "day_of_week": dow, "hour": hour,
           "minute": minute, "second": second, "hundredths": hundredths,
           "deviation": deviation, "clock_status": status}
    if year != 0xFFFF and 1 <= month <= 12 and 1 <= day <= 31 and hour < 24 and minute < 60 and second < 60:
        out["text"] = f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}"
    return out
