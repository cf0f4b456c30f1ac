"""XML-DSig of DUIS documents: sign / verify round trips with the RTDS User keys, DCC's own
signed response as the reference for the digest, and rejection of everything off-profile."""

from __future__ import annotations

import base64

import pytest
from lxml import etree

from protocols.duis import xmldsig
from tests.duis_helpers import NETWORK_OPERATOR, SPEC_DUIS, SUPPLIER, SUPPLIER_2, keystore, require_shared, \
    template

ECS17C = "ECS17c_4.16_SUCCESS_REQUEST_DUIS.XML"
DS = "{http://www.w3.org/2000/09/xmldsig#}"


def _sign(data: bytes, user: int) -> bytes:
    ks = keystore()
    root = etree.fromstring(data)
    xmldsig.sign(root, ks.private_key(user, "ds"), ks.certificate(user, "ds"))
    return etree.tostring(root.getroottree(), xml_declaration=True, encoding="UTF-8")


@pytest.mark.parametrize("user", [SUPPLIER, NETWORK_OPERATOR, SUPPLIER_2])
def test_sign_then_verify_with_each_rtds_user_certificate(user):
    ks = keystore()
    doc = etree.fromstring(_sign(template(ECS17C), user))
    xmldsig.verify(doc, ks.certificate(user, "ds").public_key())
    issuer, serial = xmldsig.key_info(doc)
    assert serial == ks.certificate(user, "ds").serial_number
    assert issuer == "CN=Z1,OU=07"  # the form DCC writes (spec/duis/readfw-response.xml)
    others = [u for u in (SUPPLIER, NETWORK_OPERATOR, SUPPLIER_2) if u != user]
    for other in others:
        with pytest.raises(xmldsig.SignatureInvalid, match="does not verify"):
            xmldsig.verify(doc, ks.certificate(other, "ds").public_key())


def test_signature_is_deterministic_and_replaces_the_template_placeholder():
    data = template(ECS17C)
    a, b = _sign(data, SUPPLIER), _sign(data, SUPPLIER)
    assert a == b
    root = etree.fromstring(a)
    assert len(root.findall(f"{DS}Signature")) == 1
    assert b"ZGVmYXVsdA==" not in a  # the placeholder digest and value are gone


def test_template_placeholder_signature_does_not_verify():
    ks = keystore()
    with pytest.raises(xmldsig.SignatureInvalid, match="DigestValue"):
        xmldsig.verify(etree.fromstring(template(ECS17C)), ks.public_key(NETWORK_OPERATOR, "ds"))


@pytest.mark.parametrize("change", [
    (b"<sr:ServiceReferenceVariant>4.16<", b"<sr:ServiceReferenceVariant>4.17<"),
    (b":1200</sr:RequestID>", b":1201</sr:RequestID>"),
    (b"<sr:ReadActivePowerImport/>", b"<sr:ReadActivePowerImport> </sr:ReadActivePowerImport>"),
])
def test_any_change_after_signing_is_detected(change):
    ks = keystore()
    good = _sign(template(ECS17C), NETWORK_OPERATOR)
    bad = good.replace(*change)
    assert bad != good
    with pytest.raises(xmldsig.SignatureInvalid, match="altered"):
        xmldsig.verify(etree.fromstring(bad), ks.public_key(NETWORK_OPERATOR, "ds"))


def test_forged_signature_value_is_rejected():
    ks = keystore()
    root = etree.fromstring(_sign(template(ECS17C), NETWORK_OPERATOR))
    value = root.find(f"{DS}Signature/{DS}SignatureValue")
    raw = bytearray(base64.b64decode(value.text))
    raw[10] ^= 1
    value.text = base64.b64encode(bytes(raw)).decode()
    with pytest.raises(xmldsig.SignatureInvalid, match="does not verify"):
        xmldsig.verify(root, ks.public_key(NETWORK_OPERATOR, "ds"))


@pytest.mark.parametrize("xpath, attr, value, reason", [
    ("SignedInfo/SignatureMethod", "Algorithm", "http://www.w3.org/2000/09/xmldsig#rsa-sha1", "SignatureMethod"),
    ("SignedInfo/CanonicalizationMethod", "Algorithm", "http://www.w3.org/TR/2001/REC-xml-c14n-20010315",
     "CanonicalizationMethod"),
    ("SignedInfo/Reference", "URI", "#body", "URI"),
    ("SignedInfo/Reference/DigestMethod", "Algorithm", "http://www.w3.org/2000/09/xmldsig#sha1", "DigestMethod"),
])
def test_anything_off_the_duis_profile_is_rejected(xpath, attr, value, reason):
    ks = keystore()
    root = etree.fromstring(_sign(template(ECS17C), NETWORK_OPERATOR))
    path = "/".join(f"{DS}{p}" for p in xpath.split("/"))
    root.find(f"{DS}Signature/{path}").set(attr, value)
    with pytest.raises(xmldsig.SignatureInvalid, match=reason):
        xmldsig.verify(root, ks.public_key(NETWORK_OPERATOR, "ds"))


def test_missing_signature_is_rejected():
    ks = keystore()
    root = etree.fromstring(template(ECS17C))
    root.remove(root.find(f"{DS}Signature"))
    with pytest.raises(xmldsig.SignatureInvalid, match="no ds:Signature"):
        xmldsig.verify(root, ks.public_key(NETWORK_OPERATOR, "ds"))


def test_dcc_signed_response_reference_digest_verifies():
    """DCC's own signed DUIS response (spec/duis/readfw-response.xml): its digest is ours.

    The signing certificate (serial 5066...) is not in the RTDS key store, so only the reference
    (profile, enveloped transform, canonicalisation, SHA-256 digest) can be checked; any change
    to the document must break it."""
    require_shared()
    raw = (SPEC_DUIS / "readfw-response.xml").read_bytes()
    xmldsig.verify_reference(etree.fromstring(raw))
    with pytest.raises(xmldsig.SignatureInvalid, match="altered"):
        xmldsig.verify_reference(etree.fromstring(raw.replace(b"<sr:ResponseCode>I0<", b"<sr:ResponseCode>I1<")))
    assert xmldsig.key_info(etree.fromstring(raw)) == ("CN=Z1,OU=07", 50669612984035780968362471400449834504)


def test_verification_leaves_the_document_as_it_was():
    ks = keystore()
    root = etree.fromstring(_sign(template(ECS17C), NETWORK_OPERATOR))
    before = etree.tostring(root)
    xmldsig.verify(root, ks.public_key(NETWORK_OPERATOR, "ds"))
    with pytest.raises(xmldsig.SignatureInvalid):
        xmldsig.verify(root, ks.public_key(SUPPLIER, "ds"))
    assert etree.tostring(root) == before


def test_signature_anywhere_among_the_roots_children():
    """The enveloped transform removes the element wherever it is and keeps the text around it."""
    ks = keystore()
    doc = (b'<sr:Request xmlns:sr="http://www.dccinterface.co.uk/ServiceUserGateway" schemaVersion="5.1">\n'
           b'  <sr:Header/>\n  <ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"/>\n'
           b'  <sr:Body/>\n</sr:Request>')
    root = etree.fromstring(doc)
    xmldsig.sign(root, ks.private_key(SUPPLIER, "ds"))
    assert etree.QName(root[1]).localname == "Signature"  # replaced where it stood
    again = etree.fromstring(etree.tostring(root))
    xmldsig.verify(again, ks.public_key(SUPPLIER, "ds"))
    again[1].tail = "\n\n  "  # the text after the signature element is part of the signed document
    with pytest.raises(xmldsig.SignatureInvalid, match="altered"):
        xmldsig.verify(again, ks.public_key(SUPPLIER, "ds"))
