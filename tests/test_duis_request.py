"""Parsing and schema checks of DUIS requests: every DCC template parses; each kind of bad
request gets its own response code, and nothing else ever escapes the parser."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocols.duis import codes
from protocols.duis.errors import DuisError
from protocols.duis.matrix import load_matrix
from protocols.duis.request import MAX_REQUEST_BYTES, RequestID, parse_request, parse_request_id
from tests.duis_helpers import TEMPLATES, require_shared, set_header, template

ECS17C = "ECS17c_4.16_SUCCESS_REQUEST_DUIS.XML"


def test_every_duis_template_parses_and_matches_the_request_matrix():
    require_shared()
    files = sorted(TEMPLATES.glob("*.XML"))
    assert len(files) > 200
    matrix = load_matrix()
    for path in files:
        req = parse_request(path.read_bytes())
        assert req.kind == "Request"
        assert req.definition is matrix.get(req.service_reference_variant), path.name
        assert req.command_variant in req.definition.command_variants(), path.name
        assert req.body is not None and req.name, path.name


def test_template_fields():
    req = parse_request(template(ECS17C))
    assert req.request_id == RequestID(0x90B3D51F30020000, 0x00DB1234567890A0, 1200)
    assert str(req.request_id) == "90-B3-D5-1F-30-02-00-00:00-DB-12-34-56-78-90-A0:1200"
    assert req.request_id.response_id() == "00-DB-12-34-56-78-90-A0:90-B3-D5-1F-30-02-00-00:1200"
    assert (req.command_variant, req.service_reference, req.service_reference_variant) == (1, "4.16", "4.16")
    assert req.name == "ReadActivePowerImport"
    assert req.definition.name == "Read Active Power Import" and not req.definition.critical
    assert req.schema_version == "5.4"


def test_matrix_rows():
    m = load_matrix()
    assert len(m.variants) == 129
    assert m.get("1.1.1").critical and m.get("1.1.1").eligible_roles == {"IS", "GS"}
    assert m.get("8.2").non_device and m.get("8.2").command_variants() == {8}
    assert m.get("4.16").eligible_roles == {"IS", "ED"}
    assert m.references["4.4"] == {"4.4.2", "4.4.3", "4.4.4", "4.4.5"}
    # the table lists 6.20.x under "6.2" (a lost trailing zero); DCC's requests say 6.20
    assert m.references["6.20"] == {"6.20.1", "6.20.2"} and "6.20.1" not in m.references["6.2"]


def _code(data: bytes) -> DuisError:
    with pytest.raises(DuisError) as info:
        parse_request(data)
    return info.value


@pytest.mark.parametrize("mutate, code, field", [
    (lambda d: d[:-30], codes.SCHEMA, "document"),                                   # truncated
    (lambda d: b"not xml at all", codes.SCHEMA, "document"),
    (lambda d: d.replace(b"sr:Request ", b"sr:Requests ").replace(b"</sr:Request>", b"</sr:Requests>"),
     codes.SCHEMA, "document"),
    (lambda d: d.replace(b'schemaVersion="5.4"', b""), codes.SCHEMA, "document.schemaVersion"),
    (lambda d: d.replace(b"<sr:CommandVariant>1</sr:CommandVariant>", b""), codes.SCHEMA, "Header.CommandVariant"),
    (lambda d: set_header(d, CommandVariant="9"), codes.SCHEMA, "Header.CommandVariant"),
    (lambda d: set_header(d, RequestID="90-B3-D5-1F-30-02-00-00:1200"), codes.SCHEMA, "Header.RequestID"),
    (lambda d: set_header(d, RequestID="90-B3-D5-1F-30-02-00:00-DB-12-34-56-78-90-A0:1"), codes.SCHEMA,
     "Header.RequestID"),
    (lambda d: set_header(d, RequestID=f"90-B3-D5-1F-30-02-00-00:00-DB-12-34-56-78-90-A0:{1 << 64}"), codes.SCHEMA,
     "Header.RequestID"),
    (lambda d: d.replace(b"<sr:ReadActivePowerImport/>", b""), codes.SCHEMA, "Body"),
    (lambda d: d.replace(b"<sr:ReadActivePowerImport/>", b"<sr:ReadActivePowerImport/><sr:X/>"), codes.SCHEMA,
     "Body"),
    (lambda d: d.replace(b"<sr:ReadActivePowerImport/>", b"<ReadActivePowerImport/>"), codes.SCHEMA, "Body"),
    (lambda d: set_header(d, ServiceReference="4.99", ServiceReferenceVariant="4.99"), codes.SERVICE_REFERENCE,
     "Header.ServiceReference"),
    (lambda d: set_header(d, ServiceReferenceVariant="4.17"), codes.SERVICE_REFERENCE,
     "Header.ServiceReferenceVariant"),
    (lambda d: set_header(d, ServiceReference="4.1", ServiceReferenceVariant="4.1.9"), codes.SERVICE_REFERENCE,
     "Header.ServiceReferenceVariant"),
    (lambda d: set_header(d, CommandVariant="4"), codes.COMMAND_VARIANT, "Header.CommandVariant"),
    (lambda d: set_header(d, CommandVariant="8"), codes.COMMAND_VARIANT, "Header.CommandVariant"),
])
def test_bad_requests_get_their_code(mutate, code, field):
    err = _code(mutate(template(ECS17C)))
    assert err.code is code, err
    assert err.field == field, err


def test_critical_request_needs_a_critical_command_variant():
    err = _code(set_header(template("ECS70_6.11_SUCCESS_REQUEST_DUIS.XML"), CommandVariant="1"))
    assert err.code is codes.COMMAND_VARIANT and "6.11 Synchronise Clock" in err.reason


def test_doctype_and_entities_are_refused_before_parsing():
    evil = (b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
            b'<sr:Request xmlns:sr="http://www.dccinterface.co.uk/ServiceUserGateway">&b;</sr:Request>')
    assert _code(evil).code is codes.SCHEMA
    assert "DOCTYPE" in _code(evil).reason


def test_oversized_request_is_refused():
    big = template(ECS17C).replace(b"</sr:Request>", b"<!--" + b"x" * MAX_REQUEST_BYTES + b"--></sr:Request>")
    assert _code(big).code is codes.SCHEMA


def test_signed_pre_command_document():
    doc = (b'<sr:SignedPreCommand xmlns:sr="http://www.dccinterface.co.uk/ServiceUserGateway" schemaVersion="5.1">'
           b'<sr:Header><sr:RequestID>90-B3-D5-1F-30-01-00-00:00-DB-12-34-56-78-90-A0:1000</sr:RequestID>'
           b'<sr:CommandVariant>4</sr:CommandVariant></sr:Header><sr:GBCSPayload>3wkBAA==</sr:GBCSPayload>'
           b'</sr:SignedPreCommand>')
    req = parse_request(doc)
    assert req.kind == "SignedPreCommand" and req.gbcs_payload == b"\xdf\x09\x01\x00" and req.definition is None
    assert _code(doc.replace(b"3wkBAA==", b"not base64!")).code is codes.SCHEMA
    assert _code(doc.replace(b">4<", b">1<")).code is codes.COMMAND_VARIANT


def test_request_id_parser():
    assert parse_request_id("00-00-00-00-00-00-00-01:ff-ff-ff-ff-ff-ff-ff-ff:0") == RequestID(1, (1 << 64) - 1, 0)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600))
def test_random_bytes_only_ever_give_a_duis_error(data):
    try:
        parse_request(data)
    except DuisError as e:
        assert e.code.is_error


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_mutated_templates_only_ever_give_a_duis_error(data):
    raw = bytearray(template(ECS17C))
    for _ in range(data.draw(st.integers(1, 8))):
        op = data.draw(st.sampled_from(["flip", "cut", "dup"]))
        i = data.draw(st.integers(0, len(raw) - 1))
        if op == "flip":
            raw[i] = data.draw(st.integers(0, 255))
        elif op == "cut":
            del raw[i:i + data.draw(st.integers(1, 40))]
        else:
            raw[i:i] = raw[i:i + data.draw(st.integers(1, 40))]
        if not raw:
            break
    try:
        parse_request(bytes(raw))
    except DuisError as e:
        assert e.code.is_error
