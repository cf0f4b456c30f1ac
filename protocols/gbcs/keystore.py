"""GBCS key store: certificates and private keys by EUI-64 and key usage.

Implements the on-disk layout of the DCC reference test data key store
(C{spec/gbcs-wire-format.md} sections 7 and 9), which is also the layout the emulator writes
for the keys it makes for a topology::

    <eui, 16 lowercase hex digits>[-pp]-<ka|ds>.<pem|key>

  - C{.pem}: an X.509 certificate (PEM) or, for synthetic keys, a bare public key (PEM
    SubjectPublicKeyInfo);
  - C{.key}: a PKCS#8 PEM private key;
  - C{ka} key agreement (ECDH), C{ds} digital signature (ECDSA), C{pp-ka} the supplier's
    prepayment key-agreement key (UTRN, section 4.5);
  - C{root.pem}: the root CA certificate (a self-signed CA certificate whose subject OU is 00,
    the root role), the Root trust anchor devices provisioned from the store hold
    (L{KeyStore.root_anchor}).  The RTDS store has none (see L{emulator.pki_recovery}).

Files are indexed by name when the store is opened and parsed lazily on first use (one parse
per file per store).  Names are taken as given: no file is remapped (the RTDS
C{90b3d51f30000007-ka.*} files really hold supplier 2's key, section 7 - callers see
exactly what the file says).  Certificate validity dates are never checked against a clock:
the test PKI has expired.
"""

from __future__ import annotations

import os
import random
import re
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from protocols.gbcs.pki import TrustAnchor

__all__ = ["KeyStore", "USAGES", "ROOT_FILE", "format_eui", "parse_eui"]

#: Key usages known to the layout.
USAGES = ("ka", "ds", "pp-ka")

_NAME = re.compile(r"^([0-9a-fA-F]{16})-(pp-ka|ka|ds)\.(pem|key)$")
#: the file holding the root CA certificate
ROOT_FILE = "root.pem"
_P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def format_eui(eui: int) -> str:
    """EUI-64 int -> 16 uppercase hex digits (printed order)."""
    return f"{eui:016X}"


def parse_eui(text: str) -> int:
    """16 hex digits (any case, optional separators ':' '-' ' ') -> EUI-64 int."""
    digits = re.sub(r"[:\-\s]", "", text)
    if len(digits) != 16:
        raise ValueError(f"EUI-64 must have 16 hex digits: {text!r}")
    return int(digits, 16)


class KeyStore:
    """Certificates, public keys and private keys indexed by (EUI-64, usage).

    One store is shared by every node that needs it; parsed key objects are cached.
    """

    def __init__(self, directory: str | os.PathLike | None = None) -> None:
        #: (eui, usage) -> {"pem": Path, "key": Path}
        self._files: dict[tuple[int, str], dict[str, Path]] = {}
        self._private: dict[tuple[int, str], ec.EllipticCurvePrivateKey | None] = {}
        self._public: dict[tuple[int, str], ec.EllipticCurvePublicKey | None] = {}
        self._certs: dict[tuple[int, str], x509.Certificate | None] = {}
        self._root_path: Path | None = None
        self._root: TrustAnchor | None = None
        self.directory = Path(directory) if directory is not None else None
        if directory is not None:
            self._index(Path(directory))

    def _index(self, directory: Path) -> None:
        if not directory.is_dir():
            raise FileNotFoundError(f"key store directory not found: {directory}")
        for entry in os.scandir(directory):
            if entry.name == ROOT_FILE and entry.is_file():
                self._root_path = Path(entry.path)
                continue
            m = _NAME.match(entry.name)
            if m and entry.is_file():
                key = (int(m.group(1), 16), m.group(2))
                self._files.setdefault(key, {})[m.group(3)] = Path(entry.path)

    # ------------------------------------------------------------------ lookups

    def entries(self) -> list[tuple[int, str]]:
        """All (eui, usage) pairs for which the store has a certificate, public or private key."""
        keys = set(self._files) | {k for k, v in self._private.items() if v is not None} \
            | {k for k, v in self._public.items() if v is not None}
        return sorted(keys)

    def has_private_key(self, eui: int, usage: str = "ka") -> bool:
        """True if a private key for (eui, usage) is available (without parsing it)."""
        key = (eui, usage)
        if key in self._private:
            return self._private[key] is not None
        return "key" in self._files.get(key, {})

    def has_public_key(self, eui: int, usage: str = "ka") -> bool:
        """True if a public key (certificate, bare key or private key) exists for (eui, usage)."""
        key = (eui, usage)
        if self._public.get(key) is not None or self._private.get(key) is not None:
            return True
        return bool(self._files.get(key))

    def private_key(self, eui: int, usage: str = "ka") -> ec.EllipticCurvePrivateKey | None:
        """The private key for (eui, usage), or C{None} if the store has none."""
        key = (eui, usage)
        try:
            return self._private[key]
        except KeyError:
            pass
        path = self._files.get(key, {}).get("key")
        value = None
        if path is not None:
            loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
            if not isinstance(loaded, ec.EllipticCurvePrivateKey):
                raise ValueError(f"{path}: not an EC private key")
            value = loaded
        self._private[key] = value
        return value

    def certificate(self, eui: int, usage: str = "ka") -> x509.Certificate | None:
        """The X.509 certificate for (eui, usage), or C{None} (absent or a bare public key)."""
        key = (eui, usage)
        try:
            return self._certs[key]
        except KeyError:
            pass
        path = self._files.get(key, {}).get("pem")
        cert = None
        if path is not None:
            data = path.read_bytes()
            if b"BEGIN CERTIFICATE" in data:
                cert = x509.load_pem_x509_certificate(data)
        self._certs[key] = cert
        return cert

    def public_key(self, eui: int, usage: str = "ka") -> ec.EllipticCurvePublicKey | None:
        """The public key for (eui, usage): from the certificate, a bare public key, or the private key."""
        key = (eui, usage)
        try:
            return self._public[key]
        except KeyError:
            pass
        value = None
        cert = self.certificate(eui, usage)
        if cert is not None:
            value = cert.public_key()
        else:
            path = self._files.get(key, {}).get("pem")
            if path is not None:
                value = serialization.load_pem_public_key(path.read_bytes())
            else:
                priv = self.private_key(eui, usage)
                if priv is not None:
                    value = priv.public_key()
        if value is not None and not isinstance(value, ec.EllipticCurvePublicKey):
            raise ValueError(f"key for {format_eui(eui)}-{usage} is not an EC public key")
        self._public[key] = value
        return value

    def role(self, eui: int, usage: str = "ka") -> int | None:
        """The remote-party role from an organisation certificate's subject OU (e.g. 4 = ACB)."""
        cert = self.certificate(eui, usage)
        if cert is None:
            return None
        for attr in cert.subject.get_attributes_for_oid(x509.NameOID.ORGANIZATIONAL_UNIT_NAME):
            try:
                return int(str(attr.value), 16)
            except ValueError:
                return None
        return None

    def euis_with_role(self, role: int, usage: str = "ka") -> list[int]:
        """EUIs whose (usage) organisation certificate names remote-party C{role} (parses certificates)."""
        return [eui for eui, u in self.entries() if u == usage and self.role(eui, usage) == role]

    def root_anchor(self) -> TrustAnchor | None:
        """The Root trust anchor from the store's C{root.pem}, or C{None} without one.

        ValueError naming the file if it is not a root CA certificate (self-signed CA, OU 00).
        """
        if self._root is None and self._root_path is not None:
            try:
                cert = x509.load_pem_x509_certificate(self._root_path.read_bytes())
                self._root = TrustAnchor.from_certificate(cert)
            except (ValueError, UnsupportedAlgorithm) as e:
                raise ValueError(f"{self._root_path}: not a root CA certificate: {e}") from None
        return self._root

    def set_root(self, certificate: x509.Certificate) -> None:
        """Make C{certificate} the store's root CA certificate (in memory; see L{save}).
        ValueError if it is not one."""
        self._root = TrustAnchor.from_certificate(certificate)

    # ------------------------------------------------------------------ making keys

    def add(self, eui: int, usage: str, *, private_key: ec.EllipticCurvePrivateKey | None = None,
            public_key: ec.EllipticCurvePublicKey | None = None,
            certificate: x509.Certificate | None = None) -> None:
        """Put keys for (eui, usage) into the store (in memory; see L{save})."""
        if usage not in USAGES:
            raise ValueError(f"unknown key usage {usage!r}")
        key = (eui, usage)
        if private_key is not None:
            self._private[key] = private_key
            public_key = public_key or private_key.public_key()
        if certificate is not None:
            self._certs[key] = certificate
            public_key = public_key or certificate.public_key()
        if public_key is not None:
            self._public[key] = public_key

    def generate(self, eui: int, usage: str, rng: random.Random) -> ec.EllipticCurvePrivateKey:
        """Make a P-256 key pair for (eui, usage) from an injected, seeded C{rng} and store it."""
        scalar = rng.randrange(1, _P256_ORDER)
        private_key = ec.derive_private_key(scalar, ec.SECP256R1())
        self.add(eui, usage, private_key=private_key)
        return private_key

    def save(self, directory: str | os.PathLike) -> list[Path]:
        """Write every key held in memory in the RTDS layout; return the paths written."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        written = []
        for eui, usage in self.entries():
            stem = f"{eui:016x}-{usage}"
            cert = self.certificate(eui, usage)
            if cert is not None:
                data = cert.public_bytes(serialization.Encoding.PEM)
            else:
                pub = self.public_key(eui, usage)
                data = pub.public_bytes(serialization.Encoding.PEM,
                                        serialization.PublicFormat.SubjectPublicKeyInfo) if pub else None
            if data is not None:
                written.append(_write(out / f"{stem}.pem", data))
            priv = self.private_key(eui, usage)
            if priv is not None:
                written.append(_write(out / f"{stem}.key", priv.private_bytes(
                    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption())))
        root = self.root_anchor()
        if root is not None and root.certificate is not None:
            written.append(_write(out / ROOT_FILE, root.certificate.public_bytes(serialization.Encoding.PEM)))
        return written


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path
