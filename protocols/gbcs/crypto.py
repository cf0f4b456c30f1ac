"""GBCS cryptography: static-static ECDH, the Concat KDF, GMAC, AES-GCM and ECDSA (P-256).

Implements GBCS section 5 / 7 crypto as restated in C{spec/gbcs-wire-format.md}:

  - section 2.1: ECDH P-256 shared secret Z (x-coordinate); NIST SP 800-56A single-step
    Concat KDF with SHA-256, OtherInfo = AlgorithmID C{60 85 74 06 08 03 00} || originator
    system title || C{09} || X || counter || recipient system title; X = C{01} command MAC,
    C{02} response MAC, C{03} alert MAC, C{04} payload encryption; AES-128-GCM with IV =
    grouping-header originator || invocation counter (0) and 12-byte tags;
  - section 2.2: the message MAC (GMAC over C{11 00000000 00} || the General-Signing APDU)
    and which key pair it uses (the ACB for commands from remote parties, the device and the
    grouping-header recipient for responses and alerts, the two devices for HAN-only
    messages);
  - section 2.3: encryption of sensitive payload parts (AAD C{31}, KDF X = 04, recipient =
    supplementary remote party if any, counter = supplementary originator counter if any),
    exposed to the payload codecs as a L{PayloadCrypto} object;
  - section 2.4: ECDSA P-256 / SHA-256 signatures carried raw (r || s) over the signed bytes.

ECDH is symmetric, so a shared secret is computed with whichever side's private key the key
store holds.  Shared secrets are cached per key pair and derived AES keys per (pair, purpose,
originator, counter, recipient); only C{cryptography} does the maths.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from protocols.errors import CodecError
from protocols.gbcs.framing import (CRA_ALERT, CRA_COMMAND, CRA_RESPONSE, MAC_LENGTH,
                                    GeneralSigning)
from protocols.gbcs.keystore import KeyStore, format_eui

__all__ = [
    "ALGORITHM_ID", "KDF_COMMAND", "KDF_RESPONSE", "KDF_ALERT", "KDF_ENCRYPTION",
    "DEFAULT_ACB_EUI", "MAC_AAD_PREFIX", "ENCRYPTION_AAD",
    "kdf_other_info", "kdf", "ecdh", "gcm_iv", "gmac_tag", "gcm_encrypt", "gcm_decrypt",
    "ecdsa_sign", "ecdsa_verify",
    "DerivedKey", "KeyLookup", "GbcsCrypto", "MessagePayloadCrypto",
]

#: AlgorithmID of the KDF OtherInfo (section 2.1).
ALGORITHM_ID = bytes.fromhex("60857406080300")
KDF_COMMAND = 0x01
KDF_RESPONSE = 0x02
KDF_ALERT = 0x03
KDF_ENCRYPTION = 0x04
_MAC_KDF_BYTE = {CRA_COMMAND: KDF_COMMAND, CRA_RESPONSE: KDF_RESPONSE, CRA_ALERT: KDF_ALERT}

#: The DCC Access Control Broker of the test PKI (RTDS, DCC Boxed).
DEFAULT_ACB_EUI = 0x90B3D51F30000002
#: AAD prefix of the message MAC: security control 0x11 and five zero bytes (section 2.2).
MAC_AAD_PREFIX = b"\x11\x00\x00\x00\x00\x00"
#: AAD of encrypted payload parts: the security control byte 0x31 (section 2.3).
ENCRYPTION_AAD = b"\x31"

_COUNTER_PREFIX = b"\x00\x00\x00\x01"
_ECDH = ec.ECDH()
_ZERO4 = b"\x00\x00\x00\x00"


# --------------------------------------------------------------------------- primitives

def kdf_other_info(originator: int, x: int, counter: int, recipient: int) -> bytes:
    """The 33-byte KDF OtherInfo (section 2.1)."""
    return (ALGORITHM_ID + originator.to_bytes(8, "big") + bytes((0x09, x))
            + counter.to_bytes(8, "big") + recipient.to_bytes(8, "big"))


def kdf(shared_secret: bytes, originator: int, x: int, counter: int, recipient: int) -> bytes:
    """Concat KDF (SHA-256, one round): the 16-byte AES-128 key for one message/purpose."""
    return hashlib.sha256(_COUNTER_PREFIX + shared_secret
                          + kdf_other_info(originator, x, counter, recipient)).digest()[:16]


def ecdh(private_key: ec.EllipticCurvePrivateKey, public_key: ec.EllipticCurvePublicKey) -> bytes:
    """Static-static ECDH on P-256: the 32-byte shared secret Z."""
    return private_key.exchange(_ECDH, public_key)


def gcm_iv(originator: int, invocation_counter: int = 0) -> bytes:
    """GCM IV: originator system title || 4-byte invocation counter (always 0 in GBCS)."""
    return originator.to_bytes(8, "big") + invocation_counter.to_bytes(4, "big")


def gmac_tag(key: bytes, iv: bytes, aad: bytes) -> bytes:
    """The full 16-byte GCM tag over C{aad} with an empty plaintext (GMAC)."""
    return AESGCM(key).encrypt(iv, b"", aad)


def gcm_encrypt(key: bytes, iv: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """AES-128-GCM encrypt: ciphertext || 12-byte tag."""
    out = AESGCM(key).encrypt(iv, plaintext, aad)
    return out[:-4]


def gcm_decrypt(key: bytes, iv: bytes, blob: bytes, aad: bytes, field: str = "ciphertext") -> bytes:
    """AES-128-GCM decrypt C{blob} = ciphertext || 12-byte tag; L{CodecError} if the tag fails."""
    if len(blob) < MAC_LENGTH:
        raise CodecError(field, 0, f"encrypted part shorter than its 12-byte tag ({len(blob)} bytes)")
    ct, tag = blob[:-MAC_LENGTH], blob[-MAC_LENGTH:]
    dec = Cipher(algorithms.AES(key), modes.GCM(iv, tag, min_tag_length=MAC_LENGTH)).decryptor()
    dec.authenticate_additional_data(aad)
    try:
        return dec.update(ct) + dec.finalize()
    except InvalidTag:
        raise CodecError(field, len(ct), "GCM authentication tag does not verify") from None


def ecdsa_sign(private_key: ec.EllipticCurvePrivateKey, data: bytes) -> bytes:
    """ECDSA P-256/SHA-256 signature as raw r || s (64 bytes).

    Deterministic (RFC 6979) so that a seeded emulator run is reproducible.
    """
    der = private_key.sign(data, ec.ECDSA(hashes.SHA256(), deterministic_signing=True))
    r, s = decode_dss_signature(der)
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def ecdsa_verify(public_key: ec.EllipticCurvePublicKey, data: bytes, signature: bytes) -> bool:
    """Verify a raw r || s ECDSA P-256/SHA-256 signature."""
    if len(signature) != 64:
        return False
    der = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
    try:
        public_key.verify(der, data, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True


# --------------------------------------------------------------------------- derived keys

class DerivedKey:
    """One derived AES-128 key with its (cached) AEAD object."""

    __slots__ = ("key", "_aead")

    def __init__(self, key: bytes) -> None:
        self.key = key
        self._aead: AESGCM | None = None

    def tag(self, iv: bytes, aad: bytes) -> bytes:
        """Full 16-byte GMAC tag over C{aad}."""
        aead = self._aead
        if aead is None:
            aead = self._aead = AESGCM(self.key)
        return aead.encrypt(iv, b"", aad)

    def mac(self, iv: bytes, aad: bytes) -> bytes:
        """12-byte GMAC tag over C{aad} (the GBCS message MAC)."""
        return self.tag(iv, aad)[:MAC_LENGTH]

    def encrypt(self, iv: bytes, plaintext: bytes, aad: bytes) -> bytes:
        """ciphertext || 12-byte tag."""
        aead = self._aead
        if aead is None:
            aead = self._aead = AESGCM(self.key)
        return aead.encrypt(iv, plaintext, aad)[:-4]

    def decrypt(self, iv: bytes, blob: bytes, aad: bytes, field: str = "ciphertext") -> bytes:
        """Decrypt ciphertext || 12-byte tag; L{CodecError} if the tag fails."""
        return gcm_decrypt(self.key, iv, blob, aad, field)


@dataclass(frozen=True, slots=True)
class KeyLookup:
    """Result of looking for a key: C{key} when found, else C{reason} says what is missing."""

    key: DerivedKey | None
    reason: str = ""


class GbcsCrypto:
    """Key selection and caches for GBCS messages, over one L{KeyStore}.

    @param keystore: where certificates and private keys come from.
    @param acb_eui: the Access Control Broker whose KA key MACs commands from remote parties.
    """

    def __init__(self, keystore: KeyStore, acb_eui: int = DEFAULT_ACB_EUI, max_cached: int = 8192) -> None:
        self.keystore = keystore
        self.acb_eui = acb_eui
        self._max = max_cached
        self._secrets: dict[tuple, bytes | None] = {}
        self._derived: dict[tuple, DerivedKey] = {}

    # ------------------------------------------------------------------ ECDH + KDF

    def shared_secret(self, a: int, b: int, usage_a: str = "ka", usage_b: str = "ka") -> bytes | None:
        """Z between (a, usage_a) and (b, usage_b) using whichever private key exists; cached."""
        key = (a, usage_a, b, usage_b) if (a, usage_a) <= (b, usage_b) else (b, usage_b, a, usage_a)
        try:
            return self._secrets[key]
        except KeyError:
            pass
        ks = self.keystore
        z = None
        for (p, pu), (q, qu) in (((a, usage_a), (b, usage_b)), ((b, usage_b), (a, usage_a))):
            if ks.has_private_key(p, pu) and ks.has_public_key(q, qu):
                priv, pub = ks.private_key(p, pu), ks.public_key(q, qu)
                if priv is not None and pub is not None:
                    z = ecdh(priv, pub)
                    break
        self._secrets[key] = z
        return z

    def missing(self, a: int, b: int, usage_a: str = "ka", usage_b: str = "ka") -> str:
        """Explain why no shared secret exists between two parties."""
        ks = self.keystore
        parts = []
        for eui, usage in ((a, usage_a), (b, usage_b)):
            if not ks.has_private_key(eui, usage):
                parts.append(f"no {usage.upper()} private key for {format_eui(eui)}")
            if not ks.has_public_key(eui, usage):
                parts.append(f"no {usage.upper()} certificate for {format_eui(eui)}")
        return "; ".join(parts) or "key pair unusable"

    def derived_key(self, a: int, b: int, originator: int, x: int, counter: int, recipient: int,
                    usage_a: str = "ka", usage_b: str = "ka") -> KeyLookup:
        """The KDF output for one message and purpose between parties C{a} and C{b}; cached."""
        ck = (a, b, usage_a, usage_b, originator, x, counter, recipient)
        dk = self._derived.get(ck)
        if dk is not None:
            return KeyLookup(dk)
        z = self.shared_secret(a, b, usage_a, usage_b)
        if z is None:
            return KeyLookup(None, self.missing(a, b, usage_a, usage_b))
        if len(self._derived) >= self._max:
            self._derived.clear()
        dk = self._derived[ck] = DerivedKey(kdf(z, originator, x, counter, recipient))
        return KeyLookup(dk)

    # ------------------------------------------------------------------ per-message selection

    def mac_parties(self, gs: GeneralSigning, han_only: bool = False) -> tuple[int, int]:
        """The two parties whose KA keys make the message MAC (section 2.2).

        Commands from remote parties are MACed with the ACB's key and the device's; responses,
        alerts and HAN-only messages with the originator's and the recipient's.
        """
        if gs.cra_flag == CRA_COMMAND and not han_only:
            return self.acb_eui, gs.recipient
        return gs.originator, gs.recipient

    def mac_key(self, gs: GeneralSigning, han_only: bool = False) -> KeyLookup:
        """The AES key of the message MAC for C{gs}, or why it is unavailable."""
        a, b = self.mac_parties(gs, han_only)
        return self.derived_key(a, b, gs.originator, _MAC_KDF_BYTE[gs.cra_flag],
                                gs.originator_counter, gs.recipient)

    def compute_mac(self, key: DerivedKey, gs: GeneralSigning, apdu: bytes, invocation_counter: int = 0) -> bytes:
        """The 12-byte MAC over an encoded General-Signing APDU C{apdu}."""
        return key.mac(gcm_iv(gs.originator, invocation_counter), MAC_AAD_PREFIX + apdu)

    def encryption_key(self, gs: GeneralSigning) -> KeyLookup:
        """The AES key for sensitive payload parts of C{gs} (section 2.3)."""
        oi = gs.other_information
        recipient = oi.supplementary_remote_party_id if oi.supplementary_remote_party_id is not None else gs.recipient
        counter = (oi.supplementary_originator_counter if oi.supplementary_originator_counter is not None
                   else gs.originator_counter)
        return self.derived_key(gs.originator, recipient, gs.originator, KDF_ENCRYPTION, counter, recipient)

    def payload_crypto(self, gs: GeneralSigning) -> "MessagePayloadCrypto":
        """A L{PayloadCrypto} for the sensitive parts of C{gs}'s payload (key derived on first use)."""
        return MessagePayloadCrypto(lambda: self.encryption_key(gs), gcm_iv(gs.originator))

    def signing_key(self, gs: GeneralSigning) -> ec.EllipticCurvePrivateKey | None:
        """The originator's DS private key (who signs, section 2.4), if held."""
        return self.keystore.private_key(gs.originator, "ds")

    def verification_key(self, gs: GeneralSigning) -> ec.EllipticCurvePublicKey | None:
        """The originator's DS public key, if held."""
        return self.keystore.public_key(gs.originator, "ds")


class MessagePayloadCrypto:
    """The C{PayloadCrypto} of one message: AES-GCM with AAD C{31} and the message's IV.

    The key is derived on first use (most payloads have no encrypted part).  C{decrypt} and
    C{encrypt} return C{None} when no key is available (L{reason} says why); a tag that does
    not verify raises L{CodecError}.

    @param key: a L{DerivedKey}, C{None}, or a callable returning a L{KeyLookup} (lazy).
    """

    __slots__ = ("_key", "_lookup", "_iv", "_reason", "used")

    def __init__(self, key, iv: bytes, reason: str = "") -> None:
        if callable(key):
            self._lookup, self._key = key, None
        else:
            self._lookup, self._key = None, key
        self._iv = iv
        self._reason = reason
        #: set when a decrypt or encrypt was attempted (so callers know the payload had secrets)
        self.used = False

    def _resolve(self) -> DerivedKey | None:
        if self._lookup is not None:
            lookup = self._lookup()
            self._lookup = None
            self._key, self._reason = lookup.key, lookup.reason
        return self._key

    @property
    def has_key(self) -> bool:
        """True if this message's encryption key is available."""
        return self._resolve() is not None

    @property
    def reason(self) -> str:
        """Why no key is available ("" when it is)."""
        self._resolve()
        return self._reason

    def decrypt(self, blob: bytes) -> bytes | None:
        """Plaintext of ciphertext || 12-byte tag, or C{None} without a key."""
        self.used = True
        key = self._resolve()
        if key is None:
            return None
        return key.decrypt(self._iv, blob, ENCRYPTION_AAD)

    def encrypt(self, plaintext: bytes) -> bytes | None:
        """ciphertext || 12-byte tag, or C{None} without a key."""
        self.used = True
        key = self._resolve()
        if key is None:
            return None
        return key.encrypt(self._iv, plaintext, ENCRYPTION_AAD)
