"""Certification path checks a GBCS device makes, and ECDSA public key recovery.

GBCS devices hold a Root trust anchor cell (remote party role 0, spec/gbcs-wire-format.md
4.3): the public key of the SMKI Organisation Root CA.  When a command replaces a trust
anchor cell (CS02b / CS02g) it carries the new remote party certificates and the
certification path certificates (the issuing CA, e.g. "CN=Z1, OU=07") that link them to the
root.  The device accepts a new certificate only when:

  - it was issued and signed by a CA certificate of the path (issuer name = the CA's
    subject, the CA's key verifies its signature);
  - that CA certificate was issued by the Root (issuer name = the root's subject, the root
    key verifies its signature, its authority key identifier, where present, names the root's
    key) and is a CA: basic constraints cA, key usage keyCertSign, not expired at the device's
    time.  The start of its validity is not checked: device clocks are not trusted for that,
    and the RTDS reference devices (their clock at 2015-01-01) accepted a path CA valid from
    2015-10-29;
  - or it was issued by the Root directly.

L{TrustAnchor} is the Root cell's content: the root's name, public key and key identifier,
from a self-signed root CA certificate (L{TrustAnchor.from_certificate}) or, where no root
certificate is available, from a key reconstructed with L{recover_public_keys} (SEC 1 v2
4.1.6 public key recovery: an ECDSA signature (r, s) over a known message determines the
signer's public key up to a small set of candidates; see L{emulator.pki_recovery}).

Key identifiers are those of RFC 5280 4.2.1.2: method 1 (SHA-1 of the subjectPublicKey bits)
and method 2 (0100 followed by the low 60 bits of that hash, as the SMKI certificates use).
"""

from __future__ import annotations

import datetime
import hashlib
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

__all__ = ["TrustAnchor", "ROOT_ROLE_OU", "key_identifiers", "ca_problem", "issued_by", "recover_public_keys",
           "certificate_role", "hash_algorithm", "RECOVERABLE_CURVES"]

#: the subject OU of a root CA certificate (remote party role 0, two hex digits)
ROOT_ROLE_OU = "00"

_HASHES = {"sha256": hashes.SHA256, "sha384": hashes.SHA384, "sha512": hashes.SHA512}


@dataclass(frozen=True, slots=True)
class _Curve:
    p: int
    a: int
    b: int
    gx: int
    gy: int
    n: int


#: the curves whose public keys can be recovered (GBCS uses P-256 only)
_CURVES = {
    "secp256r1": _Curve(
        p=0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF,
        a=0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFC,
        b=0x5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B,
        gx=0x6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296,
        gy=0x4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5,
        n=0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551),
}
_CURVE_OBJECTS = {"secp256r1": ec.SECP256R1}
#: the curves L{recover_public_keys} works on
RECOVERABLE_CURVES: tuple[ec.EllipticCurve, ...] = tuple(c() for c in _CURVE_OBJECTS.values())


def _point_bytes(key: ec.EllipticCurvePublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)


def key_identifiers(key: ec.EllipticCurvePublicKey) -> tuple[bytes, bytes]:
    """The RFC 5280 key identifiers of C{key}: (method 1, method 2)."""
    digest = hashlib.sha1(_point_bytes(key)).digest()
    return digest, bytes([0x40 | (digest[12] & 0x0F)]) + digest[13:]


def _ski(cert: x509.Certificate) -> bytes | None:
    try:
        return cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    except x509.ExtensionNotFound:
        return None


def _aki(cert: x509.Certificate) -> bytes | None:
    try:
        return cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier
    except x509.ExtensionNotFound:
        return None


def certificate_role(name: x509.Name) -> str | None:
    """The remote party role a certificate name carries (its OU, two hex digits), if any."""
    ous = name.get_attributes_for_oid(x509.NameOID.ORGANIZATIONAL_UNIT_NAME)
    return str(ous[0].value) if ous else None


@dataclass(frozen=True, slots=True)
class TrustAnchor:
    """A Root trust anchor cell: the root CA's name, public key and key identifier.

    C{source} says where it came from ("certificate" or "reconstructed"); C{certificate} is
    the root certificate when there is one.
    """

    subject: x509.Name
    public_key: ec.EllipticCurvePublicKey
    key_identifier: bytes | None
    source: str
    certificate: x509.Certificate | None = None

    @classmethod
    def from_certificate(cls, cert: x509.Certificate) -> "TrustAnchor":
        """The anchor of a root CA certificate; ValueError unless it is one (self-signed CA, OU=00)."""
        key = cert.public_key()
        if not isinstance(key, ec.EllipticCurvePublicKey):
            raise ValueError("root certificate key is not an EC key")
        if certificate_role(cert.subject) != ROOT_ROLE_OU:
            raise ValueError(f"root certificate subject OU is {certificate_role(cert.subject)!r}, "
                             f"not {ROOT_ROLE_OU!r} (root)")
        if cert.issuer != cert.subject:
            raise ValueError("root certificate is not self-issued")
        problem = _ca_constraints(cert)
        if problem:
            raise ValueError(f"root certificate {problem}")
        if not issued_by(cert, cert.subject, key):
            raise ValueError("root certificate's self-signature does not verify")
        return cls(cert.subject, key, _ski(cert) or key_identifiers(key)[1], "certificate", cert)

    def names_key(self, identifier: bytes | None) -> bool:
        """True if C{identifier} (an authority key identifier) can name this anchor's key."""
        if identifier is None:
            return True
        return identifier == self.key_identifier or identifier in key_identifiers(self.public_key)


def issued_by(cert: x509.Certificate, issuer: x509.Name, key: ec.EllipticCurvePublicKey) -> bool:
    """True if C{cert} names C{issuer} as its issuer and C{key} verifies its signature."""
    if cert.issuer != issuer or not isinstance(key, ec.EllipticCurvePublicKey):
        return False
    algorithm = hash_algorithm(cert)
    if algorithm is None:
        return False
    try:
        key.verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(algorithm))
    except (InvalidSignature, ValueError):
        return False
    return True


def _ca_constraints(cert: x509.Certificate) -> str | None:
    try:
        bc = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        return "has no basic constraints"
    if not bc.ca:
        return "is not a CA (basic constraints cA false)"
    try:
        ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return "has no key usage"
    if not ku.key_cert_sign:
        return "may not sign certificates (no keyCertSign)"
    return None


def ca_problem(ca: x509.Certificate, anchor: TrustAnchor, now: float) -> str | None:
    """Why the path CA certificate C{ca} does not chain to C{anchor} at device time C{now}
    (Unix seconds); C{None} when it does."""
    if ca.issuer != anchor.subject:
        return f"issuer {ca.issuer.rfc4514_string()} is not the root {anchor.subject.rfc4514_string()}"
    if not anchor.names_key(_aki(ca)):
        return "authority key identifier does not name the root's key"
    if not issued_by(ca, anchor.subject, anchor.public_key):
        return "signature does not verify under the root key"
    problem = _ca_constraints(ca)
    if problem:
        return problem
    if now > ca.not_valid_after_utc.timestamp():
        when = datetime.datetime.fromtimestamp(now, datetime.timezone.utc).isoformat()
        return f"expired {ca.not_valid_after_utc.isoformat()} (device time {when})"
    return None


# --------------------------------------------------------------------------- key recovery

def _inv(x: int, m: int) -> int:
    return pow(x, -1, m)


def _add(c: _Curve, p1: tuple[int, int] | None, p2: tuple[int, int] | None) -> tuple[int, int] | None:
    if p1 is None:
        return p2
    if p2 is None:
        return p1
    (x1, y1), (x2, y2) = p1, p2
    if x1 == x2:
        if (y1 + y2) % c.p == 0:
            return None
        lam = (3 * x1 * x1 + c.a) * _inv(2 * y1, c.p) % c.p
    else:
        lam = (y2 - y1) * _inv(x2 - x1, c.p) % c.p
    x3 = (lam * lam - x1 - x2) % c.p
    return x3, (lam * (x1 - x3) - y1) % c.p


def _mul(c: _Curve, k: int, pt: tuple[int, int] | None) -> tuple[int, int] | None:
    out = None
    while k:
        if k & 1:
            out = _add(c, out, pt)
        pt = _add(c, pt, pt)
        k >>= 1
    return out


def recover_public_keys(message: bytes, signature: bytes, algorithm: hashes.HashAlgorithm,
                        curve: ec.EllipticCurve) -> list[ec.EllipticCurvePublicKey]:
    """The public keys whose ECDSA signature over C{message} is C{signature} (DER), by
    recovery id (SEC 1 v2 4.1.6): Q = r^-1 (sR - eG) for each point R with x = r + jn.

    Every key returned verifies the signature (for P-256 usually two).  ValueError for a
    curve this module has no parameters for, or a malformed signature.
    """
    c = _CURVES.get(curve.name)
    if c is None:
        raise ValueError(f"public key recovery is not implemented for curve {curve.name}")
    r, s = decode_dss_signature(signature)
    if not (0 < r < c.n and 0 < s < c.n):
        raise ValueError("signature values out of range")
    h = hashes.Hash(algorithm)
    h.update(message)
    digest = h.finalize()
    e = int.from_bytes(digest, "big") >> max(0, 8 * len(digest) - c.n.bit_length())
    r_inv = _inv(r, c.n)
    u1, u2 = (-e * r_inv) % c.n, (s * r_inv) % c.n
    g = (c.gx, c.gy)
    out: list[ec.EllipticCurvePublicKey] = []
    seen: set[tuple[int, int]] = set()
    x = r
    while x < c.p:
        alpha = (x * x * x + c.a * x + c.b) % c.p
        beta = pow(alpha, (c.p + 1) // 4, c.p)       # p = 3 mod 4 for the curves above
        if beta * beta % c.p == alpha:
            for y in sorted((beta, c.p - beta), key=lambda v: v & 1):   # even y first
                q = _add(c, _mul(c, u1, g), _mul(c, u2, (x, y)))
                if q is None or q in seen:
                    continue
                seen.add(q)
                key = ec.EllipticCurvePublicNumbers(q[0], q[1], _CURVE_OBJECTS[curve.name]()).public_key()
                try:
                    key.verify(signature, message, ec.ECDSA(algorithm))
                except InvalidSignature:
                    continue
                out.append(key)
        x += c.n
    return out


def hash_algorithm(cert: x509.Certificate) -> hashes.HashAlgorithm | None:
    """The hash of a certificate's ECDSA signature algorithm (C{None} if not ECDSA/SHA-2)."""
    try:
        algorithm = cert.signature_hash_algorithm
    except UnsupportedAlgorithm:
        return None
    if algorithm is None or algorithm.name not in _HASHES:
        return None
    return algorithm
