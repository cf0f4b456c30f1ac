"""The DCC host behind the DUIS interface, driven directly on a test clock: every check gives
its DUIS code; non-device requests run against the inventory; the ACB boundary carries device
requests, GBCS responses and the critical flow (pre-command, User's signature, send)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree
from twisted.internet.task import Clock

from emulator import duis_cli
from emulator.dcc import build_host
from emulator.dcc.config import load_dcc_config
from emulator.dcc.inventory import DeviceStatus
from emulator.topology import load_topology
from protocols.duis import codes, xmldsig
from protocols.duis.request import parse_request
from protocols.duis.response import parse_response
from protocols.gbcs.crypto import ecdsa_verify
from protocols.gbcs.framing import decode_frame, signed_bytes
from tests.duis_helpers import (DCC, ESME, KEYSTORE, NETWORK_OPERATOR, RTDS_HOME, SUPPLIER, SUPPLIER_2, keystore,
                                require_shared, rtds_hex, set_header, signed, template)

INVENTORY = "8.2_READ_INVENTORY_REQUEST_DUIS.XML"
DECOMMISSION = "8.3_DECOMMISSION_DEVICE_REQUEST_DUIS.XML"
ECS17C = "ECS17c_4.16_SUCCESS_REQUEST_DUIS.XML"  # network operator reads the ESME (non-critical)
ECS70 = "ECS70_6.11_SUCCESS_REQUEST_DUIS.XML"  # supplier synchronises the ESME clock (critical)


class RecordingBroker:
    """A test double at the ACB boundary: keeps what it is given, answers when told to."""

    def __init__(self, precommand: bytes | None = None) -> None:
        self.sent = []
        self.precommand = precommand

    def send(self, request, reply, signed_precommand=None):
        self.sent.append((request, reply, signed_precommand))

    def transform(self, request):
        return self.precommand


@pytest.fixture
def dcc():
    require_shared()
    config = load_dcc_config(load_topology(str(RTDS_HOME), 1))
    clock = Clock()
    clock.advance(1_764_000_000)
    delivered = []
    host = build_host(config, clock, deliver=lambda user, xml: delivered.append((user.user_id, xml)))
    host.delivered = delivered
    return host


def _code(answer) -> str:
    return parse_response(answer.body).response_code


def test_read_inventory_is_acknowledged_then_answered_and_delivered(dcc):
    dcc.inventory.user(SUPPLIER).response_url = "http://127.0.0.1:1/duis"
    answer = dcc.handle("D", signed(template(INVENTORY)))
    assert (answer.status, answer.code, _code(answer)) == (200, "I99", "I99")
    rid = "90-B3-D5-1F-30-01-00-00:90-B3-D5-1F-30-00-00-02:1000"
    assert dcc.responses(rid) == []
    dcc.clock.advance(0)
    [xml] = dcc.responses(rid)
    assert dcc.delivered == [(SUPPLIER, xml)]
    resp = parse_response(xml)
    assert (resp.response_code, resp.variant, resp.response_id) == (
        "I0", "8.2", "90-B3-D5-1F-30-00-00-02:90-B3-D5-1F-30-01-00-00:1000")
    devices = {d.findtext("{*}DeviceID"): (d.findtext("{*}DeviceType"), d.findtext("{*}DeviceStatus"))
               for d in resp.body.findall("{*}Device")}
    assert devices["00-DB-12-34-56-78-90-A2"] == ("CHF", "Commissioned")
    assert devices["00-DB-12-34-56-78-90-A0"] == ("ESME", "Commissioned")
    assert devices["00-DB-12-34-56-78-90-A1"] == ("GSME", "Commissioned")
    assert len(devices) == 8
    xmldsig.verify(resp.document, keystore().public_key(DCC, "ds"))  # signed by the DCC


def test_replayed_request_id_gets_e7_and_a_higher_counter_passes(dcc):
    req = signed(template(INVENTORY))
    assert dcc.handle("D", req).code == "I99"
    again = dcc.handle("D", req)
    assert (again.status, again.code) == (400, "E7")
    assert b"not greater than 1000" in again.body
    older = signed(set_header(template(INVENTORY), RequestID="90-B3-D5-1F-30-01-00-00:90-B3-D5-1F-30-00-00-02:999"))
    assert dcc.handle("D", older).code == "E7"
    newer = signed(set_header(template(INVENTORY), RequestID="90-B3-D5-1F-30-01-00-00:90-B3-D5-1F-30-00-00-02:1001"))
    assert dcc.handle("D", newer).code == "I99"


def test_a_refused_request_does_not_burn_its_counter(dcc):
    bad = template(INVENTORY)  # placeholder signature
    assert dcc.handle("D", bad).code == "E3"
    assert dcc.handle("D", signed(bad)).code == "I99"


def test_bad_signatures_get_e3(dcc):
    unsigned = template(INVENTORY)
    answer = dcc.handle("D", unsigned)
    assert answer.code == "E3" and parse_response(answer.body).variant == "8.2"
    by_other = signed(template(INVENTORY), user=SUPPLIER_2)  # supplier 2 signs the supplier's request
    assert dcc.handle("D", by_other).code == "E3"
    tampered = signed(template(INVENTORY)).replace(b"90-A2</sr:DeviceID>", b"90-A0</sr:DeviceID>")
    assert b"altered" in dcc.handle("D", tampered).body


def test_unknown_user_gets_e2(dcc):
    wan = 0x90B3D51F30000007  # has a DS certificate, but is no DCC User
    req = signed(set_header(template(INVENTORY), RequestID="90-B3-D5-1F-30-00-00-07:90-B3-D5-1F-30-00-00-02:1"),
                 user=wan)
    assert dcc.handle("D", req).code == "E2"


def test_user_without_an_eligible_role_gets_e6(dcc):
    req = signed(set_header(template(DECOMMISSION), RequestID="90-B3-D5-1F-30-02-00-00:90-B3-D5-1F-30-00-00-02:5"))
    answer = dcc.handle("D", req)
    assert answer.code == "E6" and b"8.3 Decommission Device is for roles GS, IS" in answer.body


def test_user_not_registered_for_the_device_gets_e9(dcc):
    req = signed(set_header(template(ECS17C), RequestID="90-B3-D5-1F-30-03-00-00:00-DB-12-34-56-78-90-A0:1"))
    assert dcc.handle("S", req).code == "E9"


def test_device_not_in_the_inventory_gets_e8(dcc):
    req = signed(set_header(template(ECS17C), RequestID="90-B3-D5-1F-30-02-00-00:00-DB-12-34-56-78-90-B0:1"))
    assert dcc.handle("S", req).code == "E8"


def test_device_request_without_a_transform_gets_an_honest_e12(dcc):
    from emulator.dcc.host import NoTransformBroker
    dcc.broker = NoTransformBroker()
    answer = dcc.handle("S", signed(template(ECS17C)))
    assert answer.code == "E12"
    assert b"no transform from DUIS to GBCS for 4.16 Read Active Power Import" in answer.body
    assert dcc.gateway.last_counter(NETWORK_OPERATOR, ESME) is None


def test_wrong_interface_gets_e5(dcc):
    assert dcc.handle("D", signed(template(ECS17C))).code == "E5"
    assert dcc.handle("S", signed(template(ECS70))).code == "E5"  # critical: serviceT first
    assert dcc.handle("T", signed(template(INVENTORY))).code == "E5"


def test_non_device_request_to_a_device_gets_e13(dcc):
    req = signed(set_header(template(INVENTORY), RequestID="90-B3-D5-1F-30-01-00-00:00-DB-12-34-56-78-90-A0:1"))
    assert dcc.handle("D", req).code == "E13"


def test_decommissioned_device_takes_no_device_requests(dcc):
    assert dcc.handle("D", signed(template(DECOMMISSION))).code == "I99"
    assert dcc.inventory.device(ESME).status is DeviceStatus.DECOMMISSIONED
    dcc.clock.advance(0)
    assert dcc.handle("S", signed(template(ECS17C))).code == "E10"
    again = signed(set_header(template(DECOMMISSION), RequestID="90-B3-D5-1F-30-01-00-00:90-B3-D5-1F-30-00-00-02:1001"))
    assert dcc.handle("D", again).code == "E10"


def test_prenotification_then_delete(dcc):
    pre = template("12.2_DEVICE_PRE_NOTIFICATION_REQUEST_DUIS.XML").replace(b"90-A0</sr:DeviceID>",
                                                                               b"90-B0</sr:DeviceID>")
    assert dcc.handle("D", signed(pre)).code == "I99"
    new = dcc.inventory.device(0x00DB1234567890B0)
    assert (new.device_type, new.status, new.firmware_version, new.model) == (
        "ESME", DeviceStatus.PENDING, "0002012F", "010A030B")
    delete = template("8.4_UPDATE_INVENTORY_REQUEST_DUIS.XML").replace(b"90-A0</sr:DeviceID>", b"90-B0</sr:DeviceID>")
    delete = set_header(delete, RequestID="90-B3-D5-1F-30-01-00-00:90-B3-D5-1F-30-00-00-02:1001")
    assert dcc.handle("D", signed(delete)).code == "I99"
    assert dcc.inventory.device(0x00DB1234567890B0) is None
    # a commissioned device cannot be deleted from the inventory
    live = set_header(template("8.4_UPDATE_INVENTORY_REQUEST_DUIS.XML"),
                      RequestID="90-B3-D5-1F-30-01-00-00:90-B3-D5-1F-30-00-00-02:1002")
    assert dcc.handle("D", signed(live)).code == "E10"


def test_device_response_comes_back_through_the_broker(dcc):
    dcc.broker = broker = RecordingBroker()
    answer = dcc.handle("S", signed(template(ECS17C)))
    assert answer.code == "I99"
    [(request, reply, pre)] = broker.sent
    assert (request.device.device_id, request.role, request.user.user_id, pre) == (ESME, "ED", NETWORK_OPERATOR, None)
    gbcs = rtds_hex("4.16_ECS17c", "ECS17c_4.16_SUCCESS_RESPONSE_GBCS.HEX")
    reply(codes.SUCCESS, gbcs)
    [xml] = dcc.responses("90-B3-D5-1F-30-02-00-00:00-DB-12-34-56-78-90-A0:1200")
    resp = parse_response(xml)
    assert (resp.response_code, resp.gbcs_payload, resp.variant) == ("I0", gbcs, "4.16")
    assert dcc.handle("S", signed(template(ECS17C))).code == "E7"


def test_critical_flow_precommand_user_signature_send(dcc, tmp_path):
    precommand = rtds_hex("6.11_ECS70", "ECS70_6.11_SUCCESS_PRECOMMAND_GBCS.HEX")
    dcc.broker = broker = RecordingBroker(precommand)
    answer = dcc.handle("T", signed(template(ECS70)))
    assert (answer.status, answer.code) == (200, "I0")
    pre = parse_response(answer.body)
    assert (pre.kind, pre.gbcs_payload, pre.variant) == ("PreCommand", precommand, "6.11")
    (tmp_path / "pre.xml").write_bytes(answer.body)
    assert duis_cli.main(["sign", str(tmp_path / "pre.xml"), "--keys", str(KEYSTORE),
                          "--out", str(tmp_path / "signed.xml")]) == 0
    signed_pre = (tmp_path / "signed.xml").read_bytes()
    assert parse_request(signed_pre).command_variant == 5  # the signing tool's default
    assert dcc.handle("S", signed_pre).code == "I99"
    [(request, _reply, gbcs)] = broker.sent
    assert request.request.service_reference_variant == "6.11" and request.role == "IS"
    # what reaches the ACB is the RTDS command's General-Signing APDU, signed by the supplier
    rtds_command = decode_frame(rtds_hex("6.11_ECS70", "ECS70_6.11_SUCCESS_COMMAND_GBCS.HEX"))
    ours = decode_frame(gbcs)
    assert signed_bytes(ours.signing) == signed_bytes(rtds_command.signing)
    assert ecdsa_verify(keystore().public_key(SUPPLIER, "ds"), ours.signed_data, ours.signing.signature)
    # the pre-command is used up; the counter is taken
    assert dcc.handle("S", signed_pre).code in ("E7", "E14")


def test_signed_precommand_that_differs_or_is_badly_signed_gets_e14(dcc, tmp_path):
    # the host's own broker (the ACB of protocols.acb) makes the pre-command and checks it
    answer = dcc.handle("T", signed(template(ECS70)))
    assert answer.code == "I0"
    (tmp_path / "pre.xml").write_bytes(answer.body)
    duis_cli.main(["sign", str(tmp_path / "pre.xml"), "--keys", str(KEYSTORE), "--out", str(tmp_path / "s.xml")])
    root = etree.fromstring((tmp_path / "s.xml").read_bytes())
    payload = root.find("{*}GBCSPayload")
    import base64
    raw = bytearray(base64.b64decode(payload.text))
    raw[-1] ^= 1  # break the GBCS signature
    payload.text = base64.b64encode(bytes(raw)).decode()
    resigned = signed(etree.tostring(root))  # the XML signature itself is fine
    answer = dcc.handle("S", resigned)
    assert answer.code == "E14" and b"does not verify" in answer.body
    raw[-1] ^= 1
    raw[40] ^= 1  # change the command itself
    payload.text = base64.b64encode(bytes(raw)).decode()
    answer = dcc.handle("S", signed(etree.tostring(root)))
    assert answer.code == "E14" and b"differs from the pre-command" in answer.body
    assert dcc.broker.acb.counts.get("sent", 0) == 0
    raw[40] ^= 1  # the right one still goes through
    payload.text = base64.b64encode(bytes(raw)).decode()
    assert dcc.handle("S", signed(etree.tostring(root))).code == "I99"
    assert dcc.broker.acb.counts["sent"] == 1


def test_signed_precommand_without_a_precommand_gets_e14(dcc, tmp_path):
    (tmp_path / "pre.hex").write_text(rtds_hex("6.11_ECS70", "ECS70_6.11_SUCCESS_PRECOMMAND_GBCS.HEX").hex())
    from protocols.duis.response import precommand
    (tmp_path / "pre.xml").write_bytes(precommand("90-B3-D5-1F-30-01-00-00:00-DB-12-34-56-78-90-A0:1000",
                                                  "x", "6.11", "6.11", bytes.fromhex(
                                                      (tmp_path / "pre.hex").read_text()), 0.0))
    duis_cli.main(["sign", str(tmp_path / "pre.xml"), "--keys", str(KEYSTORE), "--out", str(tmp_path / "s.xml")])
    assert dcc.handle("S", (tmp_path / "s.xml").read_bytes()).code == "E14"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=400), interface=st.sampled_from("STD"))
def test_any_bytes_get_an_error_acknowledgement(dcc, data, interface):
    answer = dcc.handle(interface, data)
    assert answer.status == 400 and answer.code.startswith("E")
    assert parse_response(answer.body).response_code == answer.code


def test_device_alerts_are_delivered_and_kept_in_order(dcc):
    dcc.inventory.user(SUPPLIER).response_url = "http://127.0.0.1:1/duis"
    gbcs = rtds_hex("4.16_ECS17c", "ECS17c_4.16_SUCCESS_RESPONSE_GBCS.HEX")  # any GBCS bytes
    first = dcc.device_alert(SUPPLIER, ESME, gbcs, 7)
    second = dcc.device_alert(SUPPLIER, ESME, gbcs[:-1], 8)
    assert dcc.alerts(SUPPLIER, 0) == first and dcc.alerts(SUPPLIER, 1) == second
    assert dcc.alerts(SUPPLIER, 2) is None and dcc.alerts(NETWORK_OPERATOR, 0) is None
    assert [u for u, _ in dcc.delivered] == [SUPPLIER, SUPPLIER]
    alert = parse_response(first)
    assert (alert.response_id, alert.gbcs_payload) == ("00-DB-12-34-56-78-90-A0:90-B3-D5-1F-30-01-00-00:7", gbcs)
    xmldsig.verify(alert.document, keystore().public_key(DCC, "ds"))


def test_a_fault_of_the_dcc_is_answered_e65_not_a_traceback(dcc):
    class Broken:
        def send(self, request, reply, signed_precommand=None):
            raise RuntimeError("bug")

        def transform(self, request):
            raise RuntimeError("bug")

    dcc.broker = Broken()
    answer = dcc.handle("S", signed(template(ECS17C)))
    assert (answer.status, answer.code) == (500, "E65")
    assert parse_response(answer.body).request_id == "90-B3-D5-1F-30-02-00-00:00-DB-12-34-56-78-90-A0:1200"
    assert dcc.errors == 1 and b"bug" not in answer.body


def test_answers_are_counted_in_prometheus(dcc):
    from emulator.metrics import Metrics
    dcc.metrics = metrics = Metrics()
    dcc.handle("D", signed(template(INVENTORY)))
    dcc.clock.advance(0)
    dcc.handle("D", signed(template(INVENTORY)))
    text = metrics.render().decode()
    assert 'smets_duis_answers_total{code="I99",interface="D"} 1.0' in text
    assert 'smets_duis_answers_total{code="E7",interface="D"} 1.0' in text
    assert 'smets_duis_answers_total{code="I0",interface="async"} 1.0' in text
    assert dict(dcc.counts) == {"I99": 1, "E7": 1, "I0": 1}


def test_every_duis_template_gets_a_duis_answer(dcc):
    """Every DCC template, signed by its originator, through the host on its interface: an
    answer with a DUIS code each time (no fault of ours), and only the codes that the data
    explains (E2: the DCC itself as originator; E6: roles the RTDS Users do not hold)."""
    from collections import Counter

    from tests.duis_helpers import TEMPLATES
    seen = Counter()
    for path in sorted(TEMPLATES.glob("*.XML")):
        req = parse_request(path.read_bytes())
        d = req.definition
        interface = "D" if d.non_device else "T" if d.critical else "S"
        if req.request_id.originator not in dcc.inventory.users:
            data = path.read_bytes()
        else:
            data = signed(path.read_bytes())
        answer = dcc.handle(interface, data)
        seen[answer.code] += 1
        assert answer.code in ("I0", "I99", "E2", "E5", "E6", "E7", "E12", "E13"), (path.name, answer.body)
    assert dcc.errors == 0
    # (the templates reuse RequestID counters: after the first per User and device, E7)
    assert seen["I99"] >= 5 and seen["E7"] > 150


def test_responses_are_kept_for_the_retention_time_only(dcc):
    rid = "90-B3-D5-1F-30-01-00-00:90-B3-D5-1F-30-00-00-02:1000"
    dcc.handle("D", signed(template(INVENTORY)))
    dcc.clock.advance(0)
    assert len(dcc.responses(rid)) == 1
    dcc.clock.advance(dcc.retention - 1)
    assert len(dcc.responses(rid)) == 1
    dcc.clock.advance(2)
    assert dcc.responses(rid) is None


def test_outbox_is_bounded(dcc):
    dcc._outbox_limit = 3
    for counter in range(1000, 1005):
        req = set_header(template(INVENTORY), RequestID=f"90-B3-D5-1F-30-01-00-00:90-B3-D5-1F-30-00-00-02:{counter}")
        assert dcc.handle("D", signed(req)).code == "I99"
        dcc.clock.advance(1)
    kept = [c for c in range(1000, 1005)
            if dcc.responses(f"90-B3-D5-1F-30-01-00-00:90-B3-D5-1F-30-00-00-02:{c}") is not None]
    assert kept == [1002, 1003, 1004]


def test_non_device_body_must_be_the_services_element(dcc):
    wrong = template(INVENTORY).replace(b"sr:ReadInventory>", b"sr:DecommissionDevice>")
    answer = dcc.handle("D", signed(wrong))
    assert answer.code == "E1" and b"takes sr:ReadInventory, not sr:DecommissionDevice" in answer.body
