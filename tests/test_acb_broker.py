"""The ACB's admission, critical flow, correlation and timeouts, on a virtual clock.

Requests are DUIS templates; responses are the RTDS responses to the same commands (made by
someone else's device), so correlation is checked against real GBCS responses.
"""

from __future__ import annotations

import copy
from xml.etree import ElementTree

import pytest
from hypothesis import given, settings, strategies as st

from protocols.acb import (BAD_SIGNATURE, INVALID, MISMATCH, UNSUPPORTED, RequestError,
                           TransformRequest, Transformer)
from protocols.acb.broker import BUSY, UNKNOWN_REQUEST, AccessControlBroker
from protocols.acb.usecases import SERVICES
from protocols.gbcs import GbcsCrypto, KeyStore, decode_message, sign_precommand

from .acb_helpers import (KEYSTORE, RTDS, TEMPLATES, FixedClock, need_shared, read_hex, request_from_template)


@pytest.fixture(scope="module")
def crypto() -> GbcsCrypto:
    return GbcsCrypto(KeyStore(need_shared(KEYSTORE)))


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def broker(crypto, clock) -> AccessControlBroker:
    return AccessControlBroker(Transformer(crypto, clock), clock, response_timeout=60.0, precommand_timeout=600.0)


def template(name: str):
    return need_shared(TEMPLATES / name)


def test_non_critical_request_is_sent_and_its_rtds_response_correlates(broker, crypto):
    req = request_from_template(template("ECS17c_4.16_SUCCESS_REQUEST_DUIS.XML"))
    sub = broker.submit(req)
    assert sub.precommand is None and sub.command is not None
    assert decode_message(sub.command.command, crypto).verification.mac == "verified"
    response = read_hex(need_shared(RTDS / "4.16_ECS17c" / "ECS17c_4.16_SUCCESS_RESPONSE_GBCS.HEX"))
    c = broker.correlate(response)
    assert c.kind == "response"
    assert (c.sent.user, c.sent.counter, c.sent.use_case) == (req.originator, req.counter, "ECS17c")
    assert broker.in_flight == 0
    # the same response again matches nothing
    assert broker.correlate(response).kind == "unmatched"


def test_acb_originated_command_correlates_by_the_acb_counter(crypto, clock):
    broker = AccessControlBroker(Transformer(crypto, clock, acb_counter=lambda: 1300), clock)
    req = request_from_template(template("DBCH03_6.30_SUCCESS_REQUEST_DUIS.XML"))
    sub = broker.submit(req)
    assert sub.command.key == (0x90B3D51F30000002, 1300, req.target)
    response = read_hex(need_shared(RTDS / "6.30_DBCH03" / "DBCH03_6.30_SUCCESS_RESPONSE_GBCS.HEX"))
    c = broker.correlate(response)
    assert c.kind == "response" and c.sent.user == req.originator and c.sent.counter == req.counter


def test_critical_flow_precommand_signed_then_sent(broker, crypto):
    req = request_from_template(template("ECS01d_1.2.2_IMMEDIATE_SUCCESS_REQUEST_DUIS.XML"))
    sub = broker.submit(req)
    assert sub.command is None and sub.precommand[0] == 0xDF
    assert broker.held(req.originator, req.target, req.counter) is not None
    signed = sign_precommand(sub.precommand, crypto)
    sent = broker.signed(req.originator, req.target, req.counter, signed)
    check = decode_message(sent.command, crypto)
    assert (check.verification.mac, check.verification.signature) == ("verified", "verified")
    assert broker.held(req.originator, req.target, req.counter) is None
    with pytest.raises(RequestError) as e:
        broker.signed(req.originator, req.target, req.counter, signed)
    assert e.value.code == UNKNOWN_REQUEST


def test_bad_signature_and_altered_precommand_are_refused(broker, crypto):
    req = request_from_template(template("ECS01d_1.2.2_FUTURE_DATED_SUCCESS_REQUEST_DUIS.XML"))
    sub = broker.submit(req)
    signed = bytearray(sign_precommand(sub.precommand, crypto))
    bad_sig = bytes(signed[:-1] + bytes([signed[-1] ^ 1]))
    with pytest.raises(RequestError) as e:
        broker.signed(req.originator, req.target, req.counter, bad_sig)
    assert e.value.code == BAD_SIGNATURE
    # change a payload byte and sign it properly: not the pre-command the DCC issued
    pre = bytearray(sub.precommand)
    pre[-3] ^= 1
    with pytest.raises(RequestError) as e:
        broker.signed(req.originator, req.target, req.counter, sign_precommand(bytes(pre), crypto))
    assert e.value.code == MISMATCH
    with pytest.raises(RequestError) as e:
        broker.signed(req.originator, req.target, req.counter, b"\x01\x02")
    assert e.value.code == INVALID
    # still held: the right signed pre-command goes through
    assert broker.signed(req.originator, req.target, req.counter, bytes(signed)).use_case == "ECS01d"


def test_same_counter_to_two_devices_correlates_separately(crypto, clock):
    """Counters increase per (User, device) (the gateway checks them): the same User counter
    may be in flight to two devices, and each response finds its own command."""
    broker = AccessControlBroker(Transformer(crypto, clock), clock, max_in_flight=2)
    req = request_from_template(template("ECS17c_4.16_SUCCESS_REQUEST_DUIS.XML"))
    other = TransformRequest(req.service_reference_variant, req.body, req.originator, 0x00DB1234567890A6,
                             req.counter, req.device_type)
    first = broker.submit(req).command
    second = broker.submit(other).command
    assert first.key != second.key and broker.in_flight == 2
    with pytest.raises(RequestError) as e:
        broker.submit(req)
    assert e.value.code == BUSY
    response = read_hex(need_shared(RTDS / "4.16_ECS17c" / "ECS17c_4.16_SUCCESS_RESPONSE_GBCS.HEX"))
    c = broker.correlate(response)
    assert c.kind == "response" and c.sent is first and c.recipient == req.originator
    assert broker.in_flight == 1


def test_unanswered_command_and_unsigned_precommand_time_out(broker, clock):
    read = request_from_template(template("ECS45_7.4_SUCCESS_REQUEST_DUIS.XML"))
    broker.submit(read)
    crit = request_from_template(template("ECS01d_1.2.2_IMMEDIATE_SUCCESS_REQUEST_DUIS.XML"))
    broker.submit(crit)
    clock.now += 59
    assert broker.expire() == []
    clock.now += 1
    out = broker.expire()
    assert [(t.kind, t.use_case) for t in out] == [("command", "ECS45")]
    clock.now += 600
    assert [(t.kind, t.use_case) for t in broker.expire()] == [("precommand", "ECS01d")]
    assert broker.in_flight == 0


def test_bad_requests_name_the_element(crypto, clock):
    t = Transformer(crypto, clock)
    req = request_from_template(template("ECS35a_6.13_SUCCESS_REQUEST_DUIS.XML"))
    body = copy.deepcopy(req.body)
    for child in list(body):
        if child.tag.endswith("ReadLogPeriod"):
            body.remove(child)
    with pytest.raises(RequestError) as e:
        t.transform(TransformRequest("6.13", body, req.originator, req.target, req.counter, "ESME"))
    assert e.value.code == INVALID and e.value.element.endswith("ReadLogPeriod")
    with pytest.raises(RequestError) as e:
        t.transform(TransformRequest("6.13", req.body, req.originator, req.target, req.counter, "IHD"))
    assert e.value.code == INVALID
    with pytest.raises(RequestError) as e:
        t.transform(TransformRequest("5.2", req.body, req.originator, req.target, req.counter, "ESME"))
    assert e.value.code == UNSUPPORTED
    with pytest.raises(RequestError) as e:
        t.transform(TransformRequest("6.2.3", req.body, req.originator, req.target, req.counter, "ESME",
                                     use_case="ECS17c"))
    assert e.value.code == INVALID


_names = st.sampled_from(["ReadLogPeriod", "StartDateTime", "EndDateTime", "LogToRead", "SupplierMessage",
                          "ImportMPANs", "ImportMPAN", "ExportMPAN", "UTRN", "DeviceID", "PriceElements",
                          "PriceScale", "ElectricityPriceElement", "AddToBoostButton", "SupplyTamperState",
                          "ExecutionDateTime", "ESMEEventLogType", "RequestType", "KAPublicSecurityCredentials",
                          "MaxDemandActivePowerImportValue", "LowMediumPowerThreshold", "X"])
_texts = st.one_of(st.sampled_from(["", "1", "-5", "true", "Event", "ALCS", "Locked", "Add", "2015-01-01T00:00:00Z",
                                    "00-DB-12-34-56-78-90-A0", "3000-12-31T00:00:00Z", "MIIB"]),
                   st.text(max_size=12))


@st.composite
def _element(draw, depth=0):
    e = ElementTree.Element(draw(_names))
    e.text = draw(_texts)
    if depth < 2:
        for _ in range(draw(st.integers(0, 3))):
            e.append(draw(_element(depth + 1)))
    return e


@settings(max_examples=300, deadline=None)
@given(variant=st.sampled_from(sorted(SERVICES)), device=st.sampled_from(["ESME", "GSME", "GPF", "CHF", "PPMID"]),
       body=_element())
def test_any_body_gives_a_result_or_a_request_error(variant, device, body, crypto_for_fuzz):
    t = Transformer(crypto_for_fuzz, FixedClock())
    req = TransformRequest(variant, body, 0x90B3D51F30010000, 0x00DB1234567890A0, 7, device)
    try:
        r = t.transform(req)
    except RequestError:
        return
    assert (r.precommand or r.command)[0] in (0xDD, 0xDF)


@pytest.fixture(scope="module")
def crypto_for_fuzz() -> GbcsCrypto:
    return GbcsCrypto(KeyStore(need_shared(KEYSTORE)))
