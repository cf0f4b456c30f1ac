"""Reconstruct the Root trust anchor of a set of reference commands whose key store lacks it.

A GBCS device validates the certification path of a CS02b / CS02g credentials update against
its Root trust anchor cell (L{protocols.gbcs.pki}).  The DCC reference test data (RTDS) ship
the remote parties' certificates and keys but no root CA certificate ("CN=ZA, OU=00"), so a
device provisioned from that key store alone would have no root to check the path CA ("CN=Z1,
OU=07") against, and could not tell a genuine path from one with a corrupted signature (the
CS02g ERROR tests carry exactly that).

The root's public key is still determined by what the commands carry: every path CA
certificate is signed by the root, and an ECDSA signature over a known message gives the
signer's public key up to a few candidates (public key recovery, SEC 1 v2 4.1.6).  So this
module RECONSTRUCTS the root key (RTDS does not ship it):

  1. collect the CA certificates the commands' certification paths carry
     (C{certificationPathCertificates}), with how many commands carry each (TBS, signature);
  2. the root is the issuer at the top of those paths (a name no collected CA has as subject;
     a name with the root role, OU=00, first);
  3. recover the candidate keys from each distinct signature of that issuer (bounded: the
     L{MAX_SIGNATURES} most common), and score each candidate by how many commands' path
     certificates it verifies: the genuine root key verifies every genuine copy of every CA it
     issued, a key recovered from a corrupted signature only that corrupted copy;
  4. where the CA certificates carry an authority key identifier, only a candidate whose RFC
     5280 key identifier equals it is accepted (a 60-bit match: the recovered key is the one the
     certificates name, not a near miss); without one, the best-supported candidate, ties by
     the encoded point.

When no candidate qualifies (no path certificates, or only copies whose signatures the
identifier refutes) there is no anchor, and the devices are provisioned without a Root cell.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Iterable

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from protocols.errors import CodecError
from protocols.gbcs import catalogue
from protocols.gbcs.framing import decode_frame
from protocols.gbcs.keystore import KeyStore
from protocols.gbcs.message import decode_message
from protocols.gbcs.pki import (RECOVERABLE_CURVES, ROOT_ROLE_OU, TrustAnchor, certificate_role, hash_algorithm, issued_by,
                                key_identifiers, recover_public_keys)

__all__ = ["path_ca_certificates", "reconstruct_root", "root_from_commands", "replay_root", "MAX_SIGNATURES"]

#: at most this many distinct signatures of one issuer are used for recovery (bounded work)
MAX_SIGNATURES = 16


def path_ca_certificates(value: object) -> list[bytes]:
    """The DER certificates of every C{certificationPathCertificates} list in a decoded payload value."""
    out: list[bytes] = []
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, dict):
            for k, item in v.items():
                if k == "certificationPathCertificates" and isinstance(item, list):
                    for entry in item:
                        der = entry.get("der") if isinstance(entry, dict) else None
                        if isinstance(der, str):
                            try:
                                out.append(bytes.fromhex(der))
                            except ValueError:
                                continue
                else:
                    stack.append(item)
        elif isinstance(v, list):
            stack.extend(v)
    return out


def reconstruct_root(certificates: Iterable[bytes]) -> TrustAnchor | None:
    """The root anchor the CA certificates C{certificates} (DER, one per occurrence) were issued
    by (see the module docstring), or C{None} when none can be reconstructed."""
    occurrences: Counter = Counter()
    parsed: dict[bytes, x509.Certificate] = {}
    for der in certificates:
        if der not in parsed:
            try:
                cert = x509.load_der_x509_certificate(der)
                cert.subject, cert.issuer, cert.extensions     # parsed now: a bad one is skipped
            except (ValueError, UnsupportedAlgorithm):
                continue
            parsed[der] = cert
        occurrences[der] += 1
    # a self-issued certificate a path may carry is not what its issuer's key is recovered from
    subjects = {c.subject for c in parsed.values() if c.subject != c.issuer}
    by_issuer: dict[x509.Name, Counter] = {}
    for der, n in occurrences.items():
        cert = parsed[der]
        if cert.issuer in subjects or cert.issuer == cert.subject or hash_algorithm(cert) is None:
            continue                     # not at the top of a path, self-issued, or not ECDSA
        by_issuer.setdefault(cert.issuer, Counter())[der] += n
    ranked = sorted(by_issuer.items(), key=lambda kv: (certificate_role(kv[0]) != ROOT_ROLE_OU,
                                                       -sum(kv[1].values()), kv[0].rfc4514_string()))
    for issuer, copies in ranked:
        anchor = _recover(issuer, {parsed[d]: n for d, n in copies.items()})
        if anchor is not None:
            return anchor
    return None


def _recover(issuer: x509.Name, copies: dict[x509.Certificate, int]) -> TrustAnchor | None:
    certs = sorted(copies, key=lambda c: (-copies[c], c.signature))[:MAX_SIGNATURES]
    akis = set()
    for cert in certs:
        try:
            akis.add(cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier)
        except x509.ExtensionNotFound:
            pass
    akis.discard(None)
    candidates: dict[bytes, ec.EllipticCurvePublicKey] = {}
    for cert, curve in ((c, curve) for c in certs for curve in RECOVERABLE_CURVES):
        try:
            found = recover_public_keys(cert.tbs_certificate_bytes, cert.signature, hash_algorithm(cert), curve)
        except (ValueError, UnsupportedAlgorithm):
            continue
        for k in found:
            candidates.setdefault(k.public_bytes(serialization.Encoding.X962,
                                                 serialization.PublicFormat.UncompressedPoint), k)
    best: tuple | None = None
    for point, key in candidates.items():
        ids = key_identifiers(key)
        named = [i for i in ids if i in akis]
        if akis and not named:
            continue
        support = sum(copies[c] for c in certs if issued_by(c, issuer, key))
        rank = (-support, point)
        if best is None or rank < best[0]:
            best = (rank, key, named[0] if named else ids[1])
    if best is None:
        return None
    return TrustAnchor(issuer, best[1], best[2], "reconstructed")


def root_from_commands(commands: Iterable[bytes]) -> TrustAnchor | None:
    """The root anchor reconstructed from the certification paths of GBCS commands (raw
    messages; unreadable ones are skipped: the replay reports them on its own)."""
    ders: list[bytes] = []
    for raw in commands:
        try:
            uc = catalogue.use_case(decode_frame(raw).signing.message_code)
            if uc is None or uc.payload_kind != "asn1":
                continue
            message = decode_message(raw)
        except (CodecError, ValueError):
            continue
        payload = message.payload or {}
        if payload.get("kind") == "asn1":
            ders += path_ca_certificates(payload.get("value"))
    return reconstruct_root(ders)


def replay_root(keystore: KeyStore, command_files: Iterable[Path]) -> TrustAnchor | None:
    """The Root trust anchor of a replay: the key store's root certificate when it has one,
    else the root reconstructed from the reference commands in C{command_files} (files of
    hex; unreadable ones are skipped).  ValueError if the store's root file is not a root."""
    anchor = keystore.root_anchor()
    if anchor is not None:
        return anchor

    def raw() -> Iterable[bytes]:
        for path in command_files:
            try:
                yield bytes.fromhex("".join(path.read_text(encoding="ascii", errors="replace").split()))
            except (OSError, ValueError):
                continue

    return root_from_commands(raw())
