"""DUIS responses are built in the form of DCC's own (spec/duis samples): same elements, same
namespaces, same order; and the samples read back through our response reader."""

from __future__ import annotations

import base64

from lxml import etree

from protocols.duis import codes, response, xmldsig
from protocols.gbcs.framing import decode_frame
from tests.duis_helpers import DCC, SPEC_DUIS, keystore, require_shared


def _shape(el: etree._Element, depth: int = 0) -> list[tuple[int, str]]:
    out = [(depth, el.tag)]
    for child in el:
        if isinstance(child.tag, str):
            out += _shape(child, depth + 1)
    return out


def _sample(name: str) -> bytes:
    require_shared()
    return (SPEC_DUIS / name).read_bytes()


def test_acknowledgement_has_the_shape_of_dccs():
    sample = etree.fromstring(_sample("acknowledgement-error.xml"))
    ours = etree.fromstring(response.acknowledgement(
        "90-B3-D5-1F-30-01-00-00:88-73-84-57-00-2F-96-6C:1658482675800", codes.FAILED, "11.2", "11.2",
        1658482676.134))
    assert _shape(ours) == _shape(sample)
    assert ours.nsmap == sample.nsmap
    assert ours.findtext("{*}Header/{*}ResponseDateTime") == "2022-07-22T09:37:56.134Z"
    for path in ("{*}Header/{*}RequestID", "{*}Header/{*}ResponseCode",
                 "{*}Body/{*}ResponseMessage/{*}ServiceReference"):
        assert ours.findtext(path) == sample.findtext(path)


def test_response_with_gbcs_payload_has_the_shape_of_dccs_and_is_signed():
    raw = _sample("readfw-response.xml")
    sample = etree.fromstring(raw)
    parsed = response.parse_response(raw)
    assert parsed.response_code == "I0" and parsed.variant == "11.2"
    frame = decode_frame(parsed.gbcs_payload)  # the sample's payload is a real GBCS response
    assert frame.signing.cra_flag == 2
    ks = keystore()
    key, cert = ks.private_key(DCC, "ds"), ks.certificate(DCC, "ds")
    ours_bytes = response.response(parsed.request_id, parsed.response_id, codes.SUCCESS, "11.2", "11.2",
                                   1660751142.790, gbcs_payload=parsed.gbcs_payload,
                                   signer=lambda root: xmldsig.sign(root, key, cert))
    ours = etree.fromstring(ours_bytes)
    assert _shape(ours) == _shape(sample)
    assert ours.findtext("{*}Body/{*}ResponseMessage/{*}GBCSPayload") == \
        base64.b64encode(parsed.gbcs_payload).decode()
    for path in ("{*}Header/{*}RequestID", "{*}Header/{*}ResponseID", "{*}Header/{*}ResponseDateTime"):
        assert ours.findtext(path) == sample.findtext(path)
    xmldsig.verify(ours, cert.public_key())


def test_precommand_and_alerts_read_back():
    pre = response.parse_response(response.precommand("A:B:1", "B:A:1", "6.11", "6.11", b"\xdf\x01", 0.0))
    assert (pre.kind, pre.response_code, pre.gbcs_payload, pre.variant) == ("PreCommand", "I0", b"\xdf\x01", "6.11")
    alert = response.parse_response(response.device_alert("D:U:7", codes.SUCCESS, b"\xdd\x00", 0.0))
    assert (alert.response_id, alert.gbcs_payload, alert.request_id) == ("D:U:7", b"\xdd\x00", None)
    dcc = etree.fromstring(response.dcc_alert("D:U:8", codes.SUCCESS, "N42", 0.0))
    assert dcc.findtext("{*}Body/{*}DCCAlertMessage/{*}DCCAlertCode") == "N42"
