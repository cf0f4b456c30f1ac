"""CS02c, issue security credentials: the device makes a new key pair and a certification request.

GBCS (restated in spec/gbcs-wire-format.md 4.3): the command names a key usage (digital
signature, BIT STRING 80, or key agreement, 08) and optionally a cell usage; the device
generates a new P-256 key pair for that usage and answers with a PKCS#10 certification
request for its public key, signed with the new private key (proof of possession), whose
subject carries the device's entity identifier (x500UniqueIdentifier, as on SMKI device
certificates) and whose key usage extension is the usage asked for.  Any other key usage
gets response code 1 (invalid key usage).

The new key pair is pending: the device keeps using its current key until CS02d installs a
device certificate for the new public key (L{emulator.devices.gbcs.asn1_usecases.pending_public_key}; CS02d accepts either the
current or the pending key, and installing a certificate for the pending one makes it
current, its private key then signs the device's responses and alerts for a DS usage).

The key pair is derived from the device's EUI-64, the command's originator counter and the
usage, so a seeded run is reproducible; the request is signed deterministically (RFC 6979).
No key material is logged.
"""

from __future__ import annotations

import hashlib
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import NameOID

from emulator.devices.gbcs.asn1_usecases import ASN1_HANDLERS, ASN1_USE_CASES, pending_keys

__all__ = ["CS02C", "issue_credentials"]

CS02C = 0x000A
_P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
_DS, _KA = {"bits": 1, "value": "80"}, {"bits": 5, "value": "08"}
INVALID_KEY_USAGE = 1


def _new_key(device: Any, usage: str, counter: int) -> ec.EllipticCurvePrivateKey:
    seed = hashlib.sha256(f"CS02c|{device.eui:016X}|{counter}|{usage}".encode()).digest()
    scalar = int.from_bytes(seed + hashlib.sha256(seed).digest(), "big") % (_P256_ORDER - 1) + 1
    return ec.derive_private_key(scalar, ec.SECP256R1())


def certification_request(device: Any, key: ec.EllipticCurvePrivateKey, usage: str) -> bytes:
    """The DER PKCS#10 request for C{key}'s public key, signed with C{key}."""
    ku = x509.KeyUsage(digital_signature=usage == "ds", content_commitment=False, key_encipherment=False,
                       data_encipherment=False, key_agreement=usage == "ka", key_cert_sign=False, crl_sign=False,
                       encipher_only=False, decipher_only=False)
    subject = x509.Name([x509.NameAttribute(NameOID.X500_UNIQUE_IDENTIFIER, device.eui.to_bytes(8, "big"),
                                            _ASN1Type.BitString),
                         x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "GBCS device")])
    csr = (x509.CertificateSigningRequestBuilder().subject_name(subject).add_extension(ku, critical=True)
           .sign(key, hashes.SHA256(), ecdsa_deterministic=True))
    return csr.public_bytes(serialization.Encoding.DER)


def issue_credentials(device: Any, message_code: int, value: Any, commit: bool) -> Any:
    """CS02c: a certification request ({"der": hex}) or response code 1."""
    if not isinstance(value, dict):
        return None
    bits = value.get("keyUsage")
    usage = "ds" if bits == _DS else "ka" if bits == _KA else None
    if usage is None:
        return INVALID_KEY_USAGE
    counter = device.security.counters.get(getattr(device, "_current_originator", None), 0)
    key = _new_key(device, usage, counter)
    if commit:
        pending_keys(device)[usage] = key
    return {"der": certification_request(device, key, usage).hex().upper()}


ASN1_USE_CASES[CS02C] = "issue_credentials"
ASN1_HANDLERS["issue_credentials"] = issue_credentials
