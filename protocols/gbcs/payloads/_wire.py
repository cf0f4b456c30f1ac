"""Shared low-level helpers for the GBCS payload codecs.

BER/A-XDR definite lengths (GBCS wire-format notes §1.1, §4.1: a value < 0x80 is one byte,
otherwise ``0x80 | n`` followed by an n-byte big-endian length) and uppercase-hex helpers.
Private to L{protocols.gbcs.payloads}.
"""

from __future__ import annotations

from protocols.errors import CodecError

__all__ = ["read_length", "write_length", "need", "hexu", "unhex"]


def read_length(data: bytes, offset: int, field: str) -> tuple[int, int, int]:
    """Read a BER-style definite length at C{offset}.

    @return: C{(value, new_offset, form)} where C{form} is 0 for the minimal encoding,
        otherwise the number of length bytes used (so non-minimal forms can be re-emitted).
    @raise CodecError: truncated or unsupported length form.
    """
    try:
        first = data[offset]
    except IndexError:
        raise CodecError(field, offset, "truncated: length expected") from None
    if first < 0x80:
        return first, offset + 1, 0
    n = first & 0x7F
    if n == 0 or n > 4:
        raise CodecError(field, offset, f"unsupported length form 0x{first:02X}")
    end = offset + 1 + n
    if end > len(data):
        raise CodecError(field, offset, "truncated length")
    value = int.from_bytes(data[offset + 1:end], "big")
    minimal = value >= 0x80 and (value.bit_length() + 7) // 8 == n
    return value, end, 0 if minimal else n


def write_length(value: int, form: int = 0) -> bytes:
    """Encode a BER-style definite length (minimal unless C{form} gives the byte count)."""
    if value < 0:
        raise CodecError("length", 0, f"negative length {value}")
    if form:
        if value >= 1 << (8 * form):
            raise CodecError("length", 0, f"length {value} does not fit in {form} bytes")
        return bytes([0x80 | form]) + value.to_bytes(form, "big")
    if value < 0x80:
        return bytes((value,))
    n = (value.bit_length() + 7) // 8
    if n > 4:
        raise CodecError("length", 0, f"length {value} too large")
    return bytes([0x80 | n]) + value.to_bytes(n, "big")


def need(data: bytes, offset: int, n: int, field: str) -> int:
    """Check that C{n} bytes are available at C{offset}; return the end offset."""
    end = offset + n
    if end > len(data):
        raise CodecError(field, offset, f"truncated: {n} bytes needed, {len(data) - offset} left")
    return end


def hexu(b: bytes) -> str:
    """Uppercase hex of C{b} (the tree's representation of raw bytes)."""
    return b.hex().upper()


def unhex(s, field: str) -> bytes:
    """Parse a hex string from a tree; raise L{CodecError} if it is not one."""
    if not isinstance(s, str):
        raise CodecError(field, 0, f"expected a hex string, got {type(s).__name__}")
    try:
        return bytes.fromhex(s)
    except ValueError:
        raise CodecError(field, 0, "invalid hex string") from None
