"""XML-DSig for DUIS: enveloped signatures with exclusive C14N and ECDSA P-256 / SHA-256.

DUIS requests and responses carry one C{ds:Signature} as the last child of the root element
(see C{duis-templates} and C{spec/duis/readfw-response.xml}) with exactly this profile:

  - CanonicalizationMethod C{http://www.w3.org/2001/10/xml-exc-c14n#} (exclusive C14N 1.0,
    without comments);
  - SignatureMethod C{http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256};
  - one Reference C{URI=""} (the whole document) with the single transform
    C{enveloped-signature} (optionally followed by exc-c14n), DigestMethod C{xmlenc#sha256}:
    with the enveloped transform alone the digest input is inclusive C14N (XML-DSig 4.3.3.2),
    which is what DCC's own signed responses use (C{spec/duis/readfw-response.xml});
  - SignatureValue: base64 of the raw C{r || s} (64 bytes, RFC 6931);
  - KeyInfo/X509Data/X509IssuerSerial naming the signer's certificate.

This is a small exact implementation of that one profile (lxml's C14N plus C{cryptography}),
not a general XML-DSig library: C{signxml} would accept and produce many more profiles (and
embedded certificate chains) than DUIS allows, and every one of those is a branch an attacker
can steer; here anything outside the profile is rejected with a specific reason.
"""

from __future__ import annotations

import base64
import hashlib

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature
from lxml import etree

__all__ = ["DS", "SignatureInvalid", "sign", "verify", "verify_reference", "key_info", "signature_element",
           "issuer_serial", "C14N_EXC",
           "ECDSA_SHA256", "ENVELOPED", "SHA256"]

DS = "http://www.w3.org/2000/09/xmldsig#"
C14N_EXC = "http://www.w3.org/2001/10/xml-exc-c14n#"
ECDSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"
ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"

_Q = "{%s}%%s" % DS


class SignatureInvalid(ValueError):
    """The signature is missing, outside the DUIS profile, or does not verify."""


def _c14n(element: etree._Element) -> bytes:
    return etree.tostring(element, method="c14n", exclusive=True, with_comments=False)


def signature_element(root: etree._Element) -> etree._Element | None:
    """The root's C{ds:Signature} child, if any."""
    for child in root:
        if child.tag == _Q % "Signature":
            return child
    return None


def _digest(root: etree._Element, sig: etree._Element | None, exclusive: bool = False) -> bytes:
    """SHA-256 of the document minus C{sig}, as the enveloped-signature transform leaves it
    (the element goes, the text around it stays).

    XML-DSig 4.3.3.2: after that transform the data is a node-set, turned into octets with
    inclusive Canonical XML 1.0 unless a transform names another method (CanonicalizationMethod
    applies to SignedInfo only; DCC's own responses digest this way).  The signature is
    detached for the canonicalisation and put back exactly as it was (no copy of the tree).
    """
    if sig is None:
        return hashlib.sha256(etree.tostring(root, method="c14n", exclusive=exclusive,
                                             with_comments=False)).digest()
    parent = sig.getparent()
    index = parent.index(sig)
    prev = sig.getprevious()
    tail = sig.tail
    saved = prev.tail if prev is not None else parent.text
    parent.remove(sig)  # lxml removes the tail text with the element: keep it in the document
    if tail:
        if prev is not None:
            prev.tail = (saved or "") + tail
        else:
            parent.text = (saved or "") + tail
    try:
        data = etree.tostring(root, method="c14n", exclusive=exclusive, with_comments=False)
    finally:
        if prev is not None:
            prev.tail = saved
        else:
            parent.text = saved
        parent.insert(index, sig)
        sig.tail = tail
    return hashlib.sha256(data).digest()


def issuer_serial(certificate: x509.Certificate) -> tuple[str, int]:
    """(issuer name as RFC 4514 text, serial number) of a certificate, as KeyInfo names it."""
    return certificate.issuer.rfc4514_string(), certificate.serial_number


def sign(root: etree._Element, private_key: ec.EllipticCurvePrivateKey,
         certificate: x509.Certificate | None = None) -> etree._Element:
    """Sign the document of C{root} in place; return it.

    An existing C{ds:Signature} (e.g. a template's placeholder) is replaced where it stands;
    otherwise the new one is appended as the root's last child.  The digest is taken over the
    final layout minus the signature element, exactly as L{verify} (the enveloped-signature
    transform) will see it.  ECDSA is deterministic (RFC 6979): same document and key, same bytes.
    """
    nsmap = {"ds": DS} if root.nsmap.get("ds") != DS else None
    sig = etree.Element(_Q % "Signature", nsmap=nsmap)
    old = signature_element(root)
    if old is not None:
        tail = old.tail
        root.replace(old, sig)
        sig.tail = tail
    else:
        root.append(sig)
    si = etree.SubElement(sig, _Q % "SignedInfo")
    etree.SubElement(si, _Q % "CanonicalizationMethod", Algorithm=C14N_EXC)
    etree.SubElement(si, _Q % "SignatureMethod", Algorithm=ECDSA_SHA256)
    ref = etree.SubElement(si, _Q % "Reference", URI="")
    transforms = etree.SubElement(ref, _Q % "Transforms")
    etree.SubElement(transforms, _Q % "Transform", Algorithm=ENVELOPED)
    etree.SubElement(ref, _Q % "DigestMethod", Algorithm=SHA256)
    digest_value = etree.SubElement(ref, _Q % "DigestValue")
    value = etree.SubElement(sig, _Q % "SignatureValue")
    if certificate is not None:
        issuer, serial = issuer_serial(certificate)
        ki = etree.SubElement(sig, _Q % "KeyInfo")
        xd = etree.SubElement(ki, _Q % "X509Data")
        ids = etree.SubElement(xd, _Q % "X509IssuerSerial")
        etree.SubElement(ids, _Q % "X509IssuerName").text = issuer
        etree.SubElement(ids, _Q % "X509SerialNumber").text = str(serial)
    digest_value.text = base64.b64encode(_digest(root, sig)).decode("ascii")
    der = private_key.sign(_c14n(si), ec.ECDSA(hashes.SHA256(), deterministic_signing=True))
    r, s = decode_dss_signature(der)
    value.text = base64.b64encode(r.to_bytes(32, "big") + s.to_bytes(32, "big")).decode("ascii")
    return root


def _one(parent: etree._Element, name: str) -> etree._Element:
    found = parent.findall(_Q % name)
    if len(found) != 1:
        raise SignatureInvalid(f"ds:{parent.tag.split('}')[-1]} must have exactly one ds:{name}, has {len(found)}")
    return found[0]


def _algorithm(parent: etree._Element, name: str, expected: str) -> None:
    got = _one(parent, name).get("Algorithm")
    if got != expected:
        raise SignatureInvalid(f"ds:{name} Algorithm {got!r} is not the DUIS profile's {expected!r}")


def key_info(root: etree._Element) -> tuple[str, int] | None:
    """(issuer name, serial) from the signature's X509IssuerSerial, or None if absent/unreadable."""
    sig = signature_element(root)
    if sig is None:
        return None
    ids = sig.find(f"{_Q % 'KeyInfo'}/{_Q % 'X509Data'}/{_Q % 'X509IssuerSerial'}")
    if ids is None:
        return None
    name = ids.findtext(_Q % "X509IssuerName")
    serial = ids.findtext(_Q % "X509SerialNumber")
    try:
        return (name or "").strip(), int((serial or "").strip())
    except ValueError:
        return None


def _checked_reference(root: etree._Element) -> tuple[etree._Element, bytes]:
    """Check the profile and the reference digest; return (SignedInfo, raw signature value)."""
    sig = signature_element(root)
    if sig is None:
        raise SignatureInvalid("the document has no ds:Signature")
    si = _one(sig, "SignedInfo")
    _algorithm(si, "CanonicalizationMethod", C14N_EXC)
    _algorithm(si, "SignatureMethod", ECDSA_SHA256)
    ref = _one(si, "Reference")
    if ref.get("URI") != "":
        raise SignatureInvalid(f"ds:Reference URI must be \"\" (the whole document), got {ref.get('URI')!r}")
    transforms = [t.get("Algorithm") for t in _one(ref, "Transforms").findall(_Q % "Transform")]
    if transforms not in ([ENVELOPED], [ENVELOPED, C14N_EXC]):
        raise SignatureInvalid(f"ds:Transforms must be enveloped-signature (then exc-c14n), got {transforms}")
    _algorithm(ref, "DigestMethod", SHA256)
    try:
        digest = base64.b64decode("".join((_one(ref, "DigestValue").text or "").split()), validate=True)
        value = base64.b64decode("".join((_one(sig, "SignatureValue").text or "").split()), validate=True)
    except ValueError as e:
        raise SignatureInvalid(f"DigestValue/SignatureValue is not base64: {e}") from None
    if digest != _digest(root, sig, exclusive=transforms[-1] == C14N_EXC):
        raise SignatureInvalid("ds:DigestValue does not match the document (altered after signing)")
    return si, value


def verify_reference(root: etree._Element) -> None:
    """Check only the profile and the digest of the signed document (no key needed).

    @raise SignatureInvalid: as L{verify}.
    """
    _checked_reference(root)


def verify(root: etree._Element, public_key: ec.EllipticCurvePublicKey) -> None:
    """Check the enveloped signature of C{root}'s document against C{public_key}.

    @raise SignatureInvalid: naming what is wrong (missing, outside the profile, digest
        mismatch, bad signature value).
    """
    si, value = _checked_reference(root)
    if len(value) != 64:
        raise SignatureInvalid(f"ds:SignatureValue must be 64 bytes (r || s), got {len(value)}")
    der = encode_dss_signature(int.from_bytes(value[:32], "big"), int.from_bytes(value[32:], "big"))
    try:
        public_key.verify(der, _c14n(si), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise SignatureInvalid("ds:SignatureValue does not verify with the signer's certificate") from None
