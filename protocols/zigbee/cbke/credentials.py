"""Deterministic CBKE credentials for a topology: one CA, a certificate per device.

The emulator's certificate authority stands in for the SMETS2 "ZigBee Device CA" of the
SMKI (ZSE 1.4 Annex C.10 certificate issuance, SEC 4 ECQV).  Every random choice comes from
C{rng_for(*names)}, a factory of C{random.Random} streams named after their purpose (the
topology passes C{lambda *names: derive_rng(seed, "cbke", *names)}), so the same seed gives
byte-identical certificates and keys, and adding a device never changes another one's.
"""

from __future__ import annotations

from typing import Callable, Iterable, Mapping

from protocols.zigbee import ecc283
from protocols.zigbee.cbke.certificate import (
    VALID_TO_NO_EXPIRY, CertificateAuthority, certificate_request, reconstruct_private_key)
from protocols.zigbee.cbke.machine import DeviceCredentials

__all__ = ["make_certificate_authority", "issue_device_credentials", "make_credentials"]


def make_certificate_authority(rng_for: Callable[..., object],
                               issuer: bytes | None = None) -> CertificateAuthority:
    """Make the CA: its key (and, unless given, its 8-octet issuer id) from C{rng_for("ca")}."""
    rng = rng_for("ca")
    d = ecc283.private_key_from_rng(rng)
    if issuer is None:
        issuer = rng.getrandbits(64).to_bytes(8, "big")
    return CertificateAuthority(issuer, d, rng_for("ca", "issue"))


def issue_device_credentials(ca: CertificateAuthority, subject: bytes, rng, ca_rng=None,
                             valid_from: int = 0,
                             valid_to: int = VALID_TO_NO_EXPIRY) -> DeviceCredentials:
    """Run the SEC 4 request / issue / private-key reconstruction for one device.

    @param rng: the device's stream (its request secret k_U).
    @param ca_rng: the CA's stream for this certificate (default: the CA's own).
    """
    k_u, r_u = certificate_request(rng)
    cert, r = ca.issue(subject, r_u, valid_from=valid_from, valid_to=valid_to, rng=ca_rng)
    d = reconstruct_private_key(cert, k_u, r, ca.trusted)
    return DeviceCredentials(cert, d, ca.trusted)


def make_credentials(rng_for: Callable[..., object], subjects: Iterable[bytes],
                     issuer: bytes | None = None
                     ) -> tuple[CertificateAuthority, Mapping[bytes, DeviceCredentials]]:
    """Make the CA and the credentials of every subject (8-octet EUI-64, MSB first).

    Each device's request secret comes from C{rng_for("device", subject.hex())} and its
    certificate's CA secret from a stream named after the subject too, so the result for a
    device depends only on the seed and its EUI-64.
    """
    ca = make_certificate_authority(rng_for, issuer)
    out = {}
    for subject in subjects:
        subject = bytes(subject)
        name = subject.hex()
        out[subject] = issue_device_credentials(ca, subject, rng_for("device", name),
                                                rng_for("ca", "issue", name))
    return ca, out
