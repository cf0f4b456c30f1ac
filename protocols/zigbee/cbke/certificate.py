"""ZigBee suite-2 implicit certificates and ECQV (issue, key reconstruction).

Implements:

 - the 74-octet implicit certificate of ZigBee Smart Energy 1.4 (07-5356) Annex C, crypto
   suite 2 (CBKE-ECMQV on sect283k1).  The shared spec notes (han-zigbee-wireshark.md 4.2)
   give the layout, which is also how Wireshark's ``zbee_zcl_se.ke`` dissector reads it:

   =====  ======  ==========================================================================
   off    octets  field
   =====  ======  ==========================================================================
   0      1       type (0x00: no extensions)
   1      8       serial number
   9      1       curve (0x0D: sect283k1)
   10     1       hash (0x08: AES-MMO)
   11     8       issuer (identity of the CA)
   19     5       validFrom (40-bit UTC time, seconds)
   24     4       validTo (seconds after validFrom; 0xFFFFFFFF: does not expire)
   28     8       subject (the device's EUI-64, most significant octet first)
   36     1       key usage (0x08 key agreement, 0x80 digital signature)
   37     37      public-key reconstruction data (compressed sect283k1 point)
   =====  ======  ==========================================================================

 - ECQV implicit certificates of SEC 4 v1.0 (section 3.4 issuance, 3.5 private-key
   reconstruction, 3.6 public-key extraction), as ZSE Annex C uses them: the certificate
   hash is the AES-MMO hash (ZigBee PRO B.6) of the whole certificate encoding, read as a
   128-bit big-endian integer e (shorter than n, so SEC 4's truncation does not apply);
   the subject's public key is Q_U = e P_U + Q_CA and its private key d_U = e k_U + r mod n
   with the CA's contribution r = e k + d_CA mod n.

Decoding raises L{CodecError}; L{reconstruct_public_key} raises L{CertificateError} with
the CBKE terminate status the receiver should send.
"""

from __future__ import annotations

from dataclasses import dataclass

from protocols.errors import CodecError
from protocols.zigbee import ecc283
from protocols.zigbee.keys import aes_mmo_hash

__all__ = [
    "CERTIFICATE_SIZE", "CERT_TYPE_NO_EXTENSIONS", "CURVE_SECT283K1", "HASH_AES_MMO",
    "KEY_USAGE_KEY_AGREEMENT", "KEY_USAGE_DIGITAL_SIGNATURE", "VALID_TO_NO_EXPIRY",
    "ImplicitCertificate", "CertificateError", "CertificateAuthority", "TrustedCA",
    "certificate_hash", "reconstruct_public_key", "reconstruct_private_key",
    "certificate_request",
]

CERTIFICATE_SIZE = 74
CERT_TYPE_NO_EXTENSIONS = 0x00
CURVE_SECT283K1 = 0x0D
HASH_AES_MMO = 0x08
KEY_USAGE_KEY_AGREEMENT = 0x08
KEY_USAGE_DIGITAL_SIGNATURE = 0x80
VALID_TO_NO_EXPIRY = 0xFFFFFFFF


class CertificateError(ValueError):
    """A certificate that cannot be used for key establishment.

    @ivar status: the TerminateKeyEstablishment status code the receiver answers with
        (a L{protocols.zigbee.cbke.messages.TerminateStatus} value).
    """

    def __init__(self, status: int, reason: str) -> None:
        self.status = status
        self.reason = reason
        super().__init__(reason)


# Terminate statuses used here (the enum lives in messages; kept numeric to avoid a cycle).
_UNKNOWN_ISSUER = 0x01
_INVALID_CERTIFICATE = 0x06


@dataclass(frozen=True, slots=True)
class ImplicitCertificate:
    """A ZSE suite-2 implicit certificate (field names after ZSE Annex C)."""

    serial: bytes
    issuer: bytes
    subject: bytes
    public_key_reconstruction_data: bytes
    valid_from: int = 0
    valid_to: int = VALID_TO_NO_EXPIRY
    key_usage: int = KEY_USAGE_KEY_AGREEMENT
    cert_type: int = CERT_TYPE_NO_EXTENSIONS
    curve: int = CURVE_SECT283K1
    hash: int = HASH_AES_MMO

    def to_bytes(self) -> bytes:
        """Encode the 74-octet certificate."""
        for name, value, size in (("serial", self.serial, 8), ("issuer", self.issuer, 8),
                                  ("subject", self.subject, 8),
                                  ("public_key_reconstruction_data",
                                   self.public_key_reconstruction_data, 37)):
            if len(value) != size:
                raise CodecError(f"certificate.{name}", 0,
                                 f"must be {size} octets, got {len(value)}")
        for name, value, bits in (("cert_type", self.cert_type, 8), ("curve", self.curve, 8),
                                  ("hash", self.hash, 8), ("key_usage", self.key_usage, 8),
                                  ("valid_from", self.valid_from, 40),
                                  ("valid_to", self.valid_to, 32)):
            if not 0 <= value < 1 << bits:
                raise CodecError(f"certificate.{name}", 0, f"{value} does not fit {bits} bits")
        return b"".join((
            bytes((self.cert_type,)), self.serial, bytes((self.curve, self.hash)), self.issuer,
            self.valid_from.to_bytes(5, "big"), self.valid_to.to_bytes(4, "big"),
            self.subject, bytes((self.key_usage,)), self.public_key_reconstruction_data))

    @classmethod
    def from_bytes(cls, data: bytes) -> "ImplicitCertificate":
        """Decode a 74-octet certificate (field values are checked by the user, not here)."""
        data = bytes(data)
        if len(data) != CERTIFICATE_SIZE:
            raise CodecError("certificate", min(len(data), CERTIFICATE_SIZE),
                             f"suite-2 certificate must be {CERTIFICATE_SIZE} octets, "
                             f"got {len(data)}")
        return cls(cert_type=data[0], serial=data[1:9], curve=data[9], hash=data[10],
                   issuer=data[11:19], valid_from=int.from_bytes(data[19:24], "big"),
                   valid_to=int.from_bytes(data[24:28], "big"), subject=data[28:36],
                   key_usage=data[36], public_key_reconstruction_data=data[37:74])

    @property
    def subject_eui64(self) -> int:
        """The subject as an EUI-64 integer."""
        return int.from_bytes(self.subject, "big")


def certificate_hash(certificate: ImplicitCertificate | bytes) -> int:
    """SEC 4 Hn(Cert): the AES-MMO hash of the whole encoded certificate, as an integer."""
    raw = certificate.to_bytes() if isinstance(certificate, ImplicitCertificate) \
        else bytes(certificate)
    return int.from_bytes(aes_mmo_hash(raw), "big")


@dataclass(frozen=True, slots=True)
class TrustedCA:
    """What a device knows about its certificate authority: its issuer id and public key."""

    issuer: bytes
    public_key: ecc283.Point


def reconstruct_public_key(certificate: ImplicitCertificate, ca: TrustedCA) -> ecc283.Point:
    """SEC 4 3.6 public-key extraction: Q_U = e P_U + Q_CA, after checking the fields.

    @raise CertificateError: with status UNKNOWN_ISSUER (issuer is not C{ca}) or
        INVALID_CERTIFICATE (wrong type, curve, hash or key usage, reconstruction data not a
        curve point, or a reconstructed key at infinity).
    """
    if certificate.issuer != ca.issuer:
        raise CertificateError(_UNKNOWN_ISSUER,
                               f"issuer {certificate.issuer.hex()} is not the trusted CA "
                               f"{ca.issuer.hex()}")
    if certificate.cert_type != CERT_TYPE_NO_EXTENSIONS:
        raise CertificateError(_INVALID_CERTIFICATE,
                               f"unsupported certificate type 0x{certificate.cert_type:02x}")
    if certificate.curve != CURVE_SECT283K1:
        raise CertificateError(_INVALID_CERTIFICATE,
                               f"curve 0x{certificate.curve:02x} is not sect283k1 (0x0d)")
    if certificate.hash != HASH_AES_MMO:
        raise CertificateError(_INVALID_CERTIFICATE,
                               f"hash 0x{certificate.hash:02x} is not AES-MMO (0x08)")
    if not certificate.key_usage & KEY_USAGE_KEY_AGREEMENT:
        raise CertificateError(_INVALID_CERTIFICATE,
                               f"key usage 0x{certificate.key_usage:02x} lacks key agreement")
    try:
        p_u = ecc283.decode_point(certificate.public_key_reconstruction_data,
                                  "certificate.public_key_reconstruction_data", 37)
    except CodecError as exc:
        raise CertificateError(_INVALID_CERTIFICATE, str(exc)) from None
    q = ecc283.point_add(ecc283.scalar_mult(certificate_hash(certificate), p_u), ca.public_key)
    if q.is_infinity:
        raise CertificateError(_INVALID_CERTIFICATE, "reconstructed public key is infinity")
    return q


def reconstruct_private_key(certificate: ImplicitCertificate, request_private: int,
                            private_key_contribution: int, ca: TrustedCA) -> int:
    """SEC 4 3.5: d_U = e k_U + r (mod n), checked against the public key extracted.

    @param request_private: k_U, the secret of the certificate request R_U = k_U G.
    @param private_key_contribution: r, sent by the CA with the certificate.
    @raise CertificateError: if d_U G differs from the public key the certificate yields.
    """
    d = (certificate_hash(certificate) * request_private + private_key_contribution) % ecc283.N
    if d == 0 or ecc283.multiply_base(d) != reconstruct_public_key(certificate, ca):
        raise CertificateError(_INVALID_CERTIFICATE,
                               "private key contribution does not match the certificate")
    return d


def certificate_request(rng) -> tuple[int, ecc283.Point]:
    """SEC 4 3.3: the subject's request secret k_U and R_U = k_U G."""
    k = ecc283.private_key_from_rng(rng)
    return k, ecc283.multiply_base(k)


class CertificateAuthority:
    """An emulated CBKE certificate authority (SEC 4 3.4 certificate issuance).

    @param issuer: the 8-octet issuer identity written into every certificate.
    @param private_key: d_CA.
    @param rng: a C{random.Random} for the per-certificate secrets k and the serials.
    """

    def __init__(self, issuer: bytes, private_key: int, rng) -> None:
        if len(issuer) != 8:
            raise ValueError(f"issuer must be 8 octets, got {len(issuer)}")
        if not 1 <= private_key < ecc283.N:
            raise ValueError("CA private key must be in [1, n - 1]")
        self._d = private_key
        self._rng = rng
        self.trusted = TrustedCA(bytes(issuer), ecc283.multiply_base(private_key))

    @property
    def issuer(self) -> bytes:
        return self.trusted.issuer

    @property
    def public_key(self) -> ecc283.Point:
        return self.trusted.public_key

    def issue(self, subject: bytes, request: ecc283.Point, *, valid_from: int = 0,
              valid_to: int = VALID_TO_NO_EXPIRY, key_usage: int = KEY_USAGE_KEY_AGREEMENT,
              rng=None) -> tuple[ImplicitCertificate, int]:
        """Issue a certificate for C{subject} from the request point R_U.

        @param rng: the stream for this certificate's serial and secret k (default: the
            CA's own stream).
        @return: the certificate and the private-key contribution r.
        """
        rng = self._rng if rng is None else rng
        if len(subject) != 8:
            raise ValueError(f"subject must be an 8-octet EUI-64, got {len(subject)}")
        if not ecc283.is_on_curve(request) or request.is_infinity:
            raise ValueError("certificate request is not a curve point")
        serial = rng.getrandbits(64).to_bytes(8, "big")
        while True:
            k = ecc283.private_key_from_rng(rng)
            p_u = ecc283.point_add(request, ecc283.multiply_base(k))
            if p_u.is_infinity:
                continue
            cert = ImplicitCertificate(
                serial=serial, issuer=self.issuer, subject=bytes(subject),
                public_key_reconstruction_data=ecc283.encode_point(p_u),
                valid_from=valid_from, valid_to=valid_to, key_usage=key_usage)
            r = (certificate_hash(cert) * k + self._d) % ecc283.N
            return cert, r
