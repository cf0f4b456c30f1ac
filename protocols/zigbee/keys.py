"""ZigBee key material: AES-MMO hash, HMAC-MMO, derived keys, install codes.

Implements ZigBee PRO (05-3474) Annex B.6 (Matyas-Meyer-Oseas hash built on AES-128,
including the long-message padding form), B.1.4 (keyed hash for message authentication,
HMAC over MMO), the key-transport / key-load key derivation of 4.5.3 (HMAC of the link key
over the single byte 0x00 / 0x02), and the ZSE 1.x install-code rules (Smart Energy Profile
Annex C / ZigBee Base Device Behaviour 10.1: 6, 8, 12 or 16 code bytes followed by a
CRC-16 with the X.25 parameter set, appended little-endian; the preconfigured link key is
MMO(install code || CRC)).  See also han-zigbee-wireshark.md section 3.4.
"""

from __future__ import annotations

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from protocols.errors import CodecError
from protocols.ieee802154.frames import fcs

__all__ = [
    "BLOCK_SIZE",
    "ZIGBEE_ALLIANCE_09",
    "INSTALL_CODE_LENGTHS",
    "aes_mmo_hash",
    "hmac_mmo",
    "key_transport_key",
    "key_load_key",
    "install_code_crc",
    "append_install_code_crc",
    "validate_install_code",
    "install_code_to_link_key",
]

BLOCK_SIZE = 16

#: The well-known default trust-centre link key "ZigBeeAlliance09" (not allowed for SE joins).
ZIGBEE_ALLIANCE_09 = b"ZigBeeAlliance09"

#: Install-code lengths (without the 2 CRC bytes) allowed by ZSE / BDB.
INSTALL_CODE_LENGTHS = (6, 8, 12, 16)

_ZERO_BLOCK = bytes(BLOCK_SIZE)


def _aes_encrypt_block(key: bytes, block: bytes) -> bytes:
    enc = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    return enc.update(block) + enc.finalize()


def _mmo_pad(message: bytes) -> bytes:
    """Return C{message} padded per B.6 (bit '1', zeros, then the length in bits).

    Messages shorter than 2**16 bits get a 16-bit big-endian length in the last two
    bytes of the final block; longer ones (up to 2**32 - 1 bits) get a 32-bit length
    followed by 16 zero bits in the last six bytes.
    """
    n = len(message)
    bits = n * 8
    if bits < 1 << 16:
        # l + 1 + k = 7n - 16 (mod 128 bits): 14 mod 16 bytes before the length
        pad = (14 - (n + 1)) % BLOCK_SIZE
        return message + b"\x80" + bytes(pad) + bits.to_bytes(2, "big")
    if bits >= 1 << 32:
        raise CodecError("mmo.message", 0, "message longer than 2**32 - 1 bits")
    pad = (10 - (n + 1)) % BLOCK_SIZE
    return message + b"\x80" + bytes(pad) + bits.to_bytes(4, "big") + b"\x00\x00"


def aes_mmo_hash(message: bytes) -> bytes:
    """Return the 16-byte Matyas-Meyer-Oseas hash of C{message} (ZigBee B.6).

    H0 = 0^128; Hj = E(Hj-1, Mj) XOR Mj over the padded message.
    """
    padded = _mmo_pad(bytes(message))
    h = _ZERO_BLOCK
    for i in range(0, len(padded), BLOCK_SIZE):
        block = padded[i:i + BLOCK_SIZE]
        e = _aes_encrypt_block(h, block)
        h = (int.from_bytes(e, "big") ^ int.from_bytes(block, "big")).to_bytes(BLOCK_SIZE, "big")
    return h


def _check_key(key: bytes, field: str) -> bytes:
    key = bytes(key)
    if len(key) != BLOCK_SIZE:
        raise CodecError(field, 0, f"key must be 16 bytes, got {len(key)}")
    return key


def hmac_mmo(key: bytes, message: bytes) -> bytes:
    """Keyed hash HMAC(key, message) with the MMO hash (ZigBee B.1.4).

    Block size 16, ipad 0x36, opad 0x5C: H((K xor opad) || H((K xor ipad) || M)).
    Keys are 16 bytes (the only size ZigBee uses).
    """
    k = int.from_bytes(_check_key(key, "hmac.key"), "big")
    ipad = (k ^ int.from_bytes(b"\x36" * BLOCK_SIZE, "big")).to_bytes(BLOCK_SIZE, "big")
    opad = (k ^ int.from_bytes(b"\x5c" * BLOCK_SIZE, "big")).to_bytes(BLOCK_SIZE, "big")
    return aes_mmo_hash(opad + aes_mmo_hash(ipad + bytes(message)))


def key_transport_key(link_key: bytes) -> bytes:
    """Key-transport key = HMAC-MMO(link key, 0x00) (APS key identifier 2)."""
    return hmac_mmo(link_key, b"\x00")


def key_load_key(link_key: bytes) -> bytes:
    """Key-load key = HMAC-MMO(link key, 0x02) (APS key identifier 3)."""
    return hmac_mmo(link_key, b"\x02")


def install_code_crc(code: bytes) -> int:
    """CRC-16/X.25 (poly 0x1021 reflected, init 0xFFFF, xorout 0xFFFF) of the code bytes:
    the same reflected CRC-CCITT as the 802.15.4 FCS, with another init and final XOR."""
    return fcs(bytes(code), 0xFFFF) ^ 0xFFFF


def append_install_code_crc(code: bytes) -> bytes:
    """Return C{code} followed by its CRC, little-endian (the on-label/over-the-wire form)."""
    code = bytes(code)
    if len(code) not in INSTALL_CODE_LENGTHS:
        raise CodecError("install_code", 0, f"code length {len(code)} not in {INSTALL_CODE_LENGTHS}")
    return code + install_code_crc(code).to_bytes(2, "little")


def validate_install_code(code_with_crc: bytes) -> bytes:
    """Check an install code that carries its CRC; return it unchanged.

    @raise CodecError: length is not 6/8/12/16 + 2 (field C{install_code}) or the CRC
        does not match (field C{install_code.crc}).
    """
    data = bytes(code_with_crc)
    n = len(data) - 2
    if n not in INSTALL_CODE_LENGTHS:
        raise CodecError("install_code", 0,
                         f"length {len(data)} is not one of 8, 10, 14, 18 (code + 2-byte CRC)")
    expected = install_code_crc(data[:n])
    got = int.from_bytes(data[n:], "little")
    if got != expected:
        raise CodecError("install_code.crc", n, f"CRC 0x{got:04X} != computed 0x{expected:04X}")
    return data


def install_code_to_link_key(code_with_crc: bytes) -> bytes:
    """Derive the preconfigured TC link key: MMO(install code || CRC).

    The CRC is validated first (L{validate_install_code}).
    """
    return aes_mmo_hash(validate_install_code(code_with_crc))
