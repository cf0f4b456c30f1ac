"""UTRN: the 20-digit prepayment top-up code (GBCS 14.3.4/14.3.5).

Implements C{spec/gbcs-wire-format.md} section 4.5:

  - PTUT (Prepayment Top-Up Token, 64 bits): high 32 bits = 7 zero bits || counter bits
    32..41 (10 bits) || value class (2 bits: 0 pennies, 1 pounds) || value (13 bits);
    low 32 bits = bytes 12..15 of the 16-byte AES-GCM tag;
  - the tag: key = KDF(supplier prepayment KA key x device KA key, originator = supplier,
    X = 01, counter = the 64-bit UTRN counter, recipient = device), IV = supplier || 0,
    empty plaintext, AAD = C{11 00 00 00 00 00} || originator || target || C{01} || counter
    || PTUT high 32 bits;
  - PPTD = PTUT + 7394156990786306048 (19 decimal digits), UTRN = PPTD || check digit, the
    check digit being the GBCS Verhoeff variant (left to right, permutation row starting at
    4, GBCS inverse table).

Pure functions: the key material (a shared secret or a L{GbcsCrypto}) is passed in.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from protocols.errors import CodecError
from protocols.gbcs.crypto import MAC_AAD_PREFIX, DerivedKey, GbcsCrypto, gcm_iv, kdf

__all__ = ["PPTD_OFFSET", "VALUE_CLASS_PENNIES", "VALUE_CLASS_POUNDS", "Utrn",
           "check_digit", "ptut_high", "utrn_tag_low", "make_utrn", "decode_utrn",
           "verify_utrn", "generate_utrn"]

PPTD_OFFSET = 7394156990786306048
VALUE_CLASS_PENNIES = 0
VALUE_CLASS_POUNDS = 1
_MAX_VALUE = 8191

# Verhoeff dihedral-group multiplication table and permutation table.
_D = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9), (1, 2, 3, 4, 0, 6, 7, 8, 9, 5),
    (2, 3, 4, 0, 1, 7, 8, 9, 5, 6), (3, 4, 0, 1, 2, 8, 9, 5, 6, 7),
    (4, 0, 1, 2, 3, 9, 5, 6, 7, 8), (5, 9, 8, 7, 6, 0, 4, 3, 2, 1),
    (6, 5, 9, 8, 7, 1, 0, 4, 3, 2), (7, 6, 5, 9, 8, 2, 1, 0, 4, 3),
    (8, 7, 6, 5, 9, 3, 2, 1, 0, 4), (9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
)
_P = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9), (1, 5, 7, 6, 2, 8, 3, 0, 9, 4),
    (5, 8, 0, 3, 7, 9, 6, 1, 4, 2), (8, 9, 1, 6, 0, 4, 3, 5, 2, 7),
    (9, 4, 5, 3, 1, 2, 6, 8, 7, 0), (4, 2, 8, 6, 5, 7, 3, 9, 0, 1),
    (2, 7, 9, 3, 8, 0, 6, 4, 1, 5), (7, 0, 4, 6, 9, 1, 3, 2, 5, 8),
)
#: GBCS-specific inverse table for the check digit.
_INV = (1, 2, 6, 7, 5, 8, 3, 0, 9, 4)


def check_digit(pptd: str) -> str:
    """The GBCS Verhoeff check digit of a 19-digit PPTD string."""
    if not pptd.isdigit():
        raise CodecError("utrn.pptd", 0, "PPTD must be decimal digits")
    c = 0
    for i, ch in enumerate(pptd):
        c = _D[c][_P[(i + 4) % 8][ord(ch) - 48]]
    return str(_INV[c])


@dataclass(frozen=True, slots=True)
class Utrn:
    """A decoded UTRN.

    @ivar ptut: the 64-bit Prepayment Top-Up Token.
    @ivar counter_high_bits: counter bits 32..41 carried in the token (10 bits).
    @ivar value_class: 0 pennies, 1 pounds.
    @ivar value: top-up value in units of C{value_class} (0..8191).
    @ivar tag_low: the 4 tag bytes (low 32 bits of the PTUT).
    """

    ptut: int
    counter_high_bits: int
    value_class: int
    value: int
    tag_low: bytes

    @property
    def amount_pence(self) -> int:
        """The top-up amount in pence."""
        return self.value * (100 if self.value_class == VALUE_CLASS_POUNDS else 1)


def ptut_high(counter: int, value_class: int, value: int) -> int:
    """The high 32 bits of the PTUT."""
    if value_class not in (VALUE_CLASS_PENNIES, VALUE_CLASS_POUNDS):
        raise CodecError("utrn.value_class", 0, f"value class must be 0 (pennies) or 1 (pounds), not {value_class}")
    if not 0 <= value <= _MAX_VALUE:
        raise CodecError("utrn.value", 0, f"value must be 0..8191, not {value}")
    if not 0 <= counter < 1 << 64:
        raise CodecError("utrn.counter", 0, "counter must be a 64-bit unsigned integer")
    return (((counter >> 32) & 0x3FF) << 15) | (value_class << 13) | value


def utrn_tag_low(key: DerivedKey, originator: int, target: int, counter: int, high: int) -> bytes:
    """Bytes 12..15 of the 16-byte GCM tag that authenticates a PTUT."""
    aad = (MAC_AAD_PREFIX + originator.to_bytes(8, "big") + target.to_bytes(8, "big") + b"\x01"
           + counter.to_bytes(8, "big") + high.to_bytes(4, "big"))
    return key.tag(gcm_iv(originator), aad)[12:16]


def utrn_key(shared_secret: bytes, originator: int, target: int, counter: int) -> DerivedKey:
    """The UTRN tag key (KDF X = 01 between the supplier's prepayment key and the device)."""
    return DerivedKey(kdf(shared_secret, originator, 0x01, counter, target))


def make_utrn(key: DerivedKey, originator: int, target: int, counter: int, value_class: int, value: int) -> str:
    """Build the 20-digit UTRN from its parts with an already derived tag key."""
    high = ptut_high(counter, value_class, value)
    low = utrn_tag_low(key, originator, target, counter, high)
    pptd = str((high << 32 | int.from_bytes(low, "big")) + PPTD_OFFSET)
    if len(pptd) != 19:
        raise CodecError("utrn.pptd", 0, f"PPTD {pptd} is not 19 digits")
    return pptd + check_digit(pptd)


def decode_utrn(utrn: str) -> Utrn:
    """Decode a UTRN (20 digits, optional spaces); L{CodecError} on a bad form or check digit."""
    digits = utrn.replace(" ", "")
    if len(digits) != 20 or not digits.isdigit():
        raise CodecError("utrn", 0, "a UTRN is 20 decimal digits")
    if check_digit(digits[:19]) != digits[19]:
        raise CodecError("utrn.check_digit", 19, "check digit does not match")
    ptut = int(digits[:19]) - PPTD_OFFSET
    if not 0 <= ptut < 1 << 64:
        raise CodecError("utrn.pptd", 0, "PPTD out of range")
    high = ptut >> 32
    if high >> 25:
        raise CodecError("utrn.ptut", 0, "the 7 high bits of the PTUT must be zero")
    return Utrn(ptut, (high >> 15) & 0x3FF, (high >> 13) & 0x3, high & 0x1FFF,
                (ptut & 0xFFFFFFFF).to_bytes(4, "big"))


def generate_utrn(crypto: GbcsCrypto, supplier: int, device: int, counter: int,
                  value_class: int, value: int) -> str:
    """UTRN for C{device} from C{supplier}, using the supplier's prepayment KA key (C{pp-ka}).

    Raises L{KeyError} when the key store lacks the supplier's pp-ka or the device's KA key.
    """
    z = crypto.shared_secret(supplier, device, "pp-ka", "ka")
    if z is None:
        raise KeyError(crypto.missing(supplier, device, "pp-ka", "ka"))
    return make_utrn(utrn_key(z, supplier, device, counter), supplier, device, counter, value_class, value)


def verify_utrn(crypto: GbcsCrypto, utrn: str, supplier: int, device: int, counter: int) -> Utrn:
    """Decode C{utrn} and check its tag for the full 64-bit C{counter}; L{CodecError} if wrong.

    The counter bits carried in the token must match bits 32..41 of C{counter}.
    """
    u = decode_utrn(utrn)
    if u.counter_high_bits != (counter >> 32) & 0x3FF:
        raise CodecError("utrn.counter", 0, "counter bits do not match the expected counter")
    z = crypto.shared_secret(supplier, device, "pp-ka", "ka")
    if z is None:
        raise KeyError(crypto.missing(supplier, device, "pp-ka", "ka"))
    key = utrn_key(z, supplier, device, counter)
    expected = utrn_tag_low(key, supplier, device, counter, u.ptut >> 32)
    if not hmac.compare_digest(expected, u.tag_low):
        raise CodecError("utrn.tag", 0, "UTRN authentication tag does not verify")
    return u
