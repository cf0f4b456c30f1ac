"""The DCC host, its ACB and the RTDS home in one estate on one virtual clock: a DUIS request
becomes a GBCS command that crosses the WAN link, the CHF and the GB-HRGP tunnel to the ESME,
and what the ESME sends back becomes the DUIS response; nothing answered is a timeout.

The device end here is a recorder standing in for the ESME's GBCS application (it answers, when
told to, with the DCC reference response to the same command), so these tests isolate the
DCC / WAN / CH path from the device logic.
"""

from __future__ import annotations

import pytest

from emulator.clock import VirtualClock
from emulator.dcc import build_host
from emulator.dcc.config import load_dcc_config
from emulator.dcc.estate import EstateWan
from emulator.estate import Estate
from emulator.topology import load_topology
from protocols.duis.response import parse_response
from protocols.gbcs import GbcsCrypto, decode_message
from tests.duis_helpers import (ESME, NETWORK_OPERATOR, RTDS_HOME, SUPPLIER, keystore, require_shared, rtds_hex,
                                set_header, signed, template)

ECS17C = "ECS17c_4.16_SUCCESS_REQUEST_DUIS.XML"
RID = "90-B3-D5-1F-30-02-00-00:00-DB-12-34-56-78-90-A0:1200"


class Recorder:
    """A device's GBCS application that keeps what it gets and sends what it is given."""

    def __init__(self, device, send, answers: dict, log: list) -> None:
        self.device, self.send, self.answers, self.log = device, send, answers, log

    def receive(self, message: bytes) -> None:
        self.log.append((self.device.spec.eui64, message))
        answer = self.answers.get(self.device.spec.eui64)
        if answer is not None:
            self.send(answer)


@pytest.fixture
def estate():
    require_shared()
    topology = load_topology(str(RTDS_HOME), 1)
    clock = VirtualClock(start=topology.start_time)
    host = build_host(load_dcc_config(topology, 1), clock, seed=1)
    est = Estate(topology, clock, 1)
    wan = EstateWan(host.broker, est, clock, 1)
    answers: dict[int, bytes] = {}
    log: list = []
    for home in est.homes:
        home.gbcs_application_factory = lambda device, send: Recorder(device, send, answers, log)
    est.start()
    clock.run_until(clock.seconds() + 30)          # the HAN forms, the meters join and open tunnels
    est.dcc, est.wan, est.answers, est.log = host, wan, answers, log
    yield est
    est.close()


def _run(estate, seconds: float) -> None:
    estate.clock.run_until(estate.clock.seconds() + seconds)


def test_command_reaches_the_esme_over_the_tunnel_with_the_acbs_valid_mac(estate):
    assert estate.dcc.handle("S", signed(template(ECS17C))).code == "I99"
    _run(estate, 15)
    [(eui, command)] = estate.log
    assert eui == ESME
    msg = decode_message(command, GbcsCrypto(keystore()))
    gs = msg.frame.signing
    assert msg.verification.mac == "verified"
    assert (gs.message_code, gs.originator, gs.recipient, gs.originator_counter) == (0x0028, NETWORK_OPERATOR,
                                                                                     ESME, 1200)
    # byte for byte the DCC reference command (the transform is deterministic)
    assert command == rtds_hex("4.16_ECS17c", "ECS17c_4.16_SUCCESS_COMMAND_GBCS.HEX")


def test_the_devices_response_is_correlated_and_becomes_the_duis_response(estate):
    reference = rtds_hex("4.16_ECS17c", "ECS17c_4.16_SUCCESS_RESPONSE_GBCS.HEX")
    estate.answers[ESME] = reference
    estate.dcc.handle("S", signed(template(ECS17C)))
    _run(estate, 15)
    [xml] = estate.dcc.responses(RID)
    response = parse_response(xml)
    assert (response.response_code, response.variant, response.gbcs_payload) == ("I0", "4.16", reference)
    assert estate.dcc.broker.counts == {"response": 1}
    assert estate.dcc.broker.acb.in_flight == 0 and len(estate.dcc.broker.delivery) == 0


def test_an_unanswered_request_times_out_at_its_target_response_time(estate):
    estate.dcc.handle("S", signed(template(ECS17C)))
    _run(estate, estate.dcc.broker.times.non_critical - 1)
    assert estate.dcc.responses(RID) == []
    _run(estate, 2)
    [xml] = estate.dcc.responses(RID)
    assert parse_response(xml).response_code == "E15" and parse_response(xml).gbcs_payload is None
    # a late response matches nothing and changes nothing
    estate.dcc.broker.from_wan(rtds_hex("4.16_ECS17c", "ECS17c_4.16_SUCCESS_RESPONSE_GBCS.HEX"))
    assert len(estate.dcc.responses(RID)) == 1 and estate.dcc.broker.counts["unmatched"] == 1


def test_device_alerts_go_to_the_entitled_users(estate):
    # an RTDS alert from the ESME to the supplier: only the supplier gets it
    import pathlib
    from tests.duis_helpers import RTDS
    alert = None
    for path in sorted(pathlib.Path(RTDS).glob("*/*ALERT*.HEX")):
        data = bytes.fromhex(path.read_text().strip())
        gs = decode_message(data, None, decode_payload=False).frame.signing
        if gs.originator == ESME and gs.recipient == SUPPLIER:
            alert = data
            break
    assert alert is not None
    estate.wan.endpoints["rtds-0001"].send_up(alert)   # up from the hub
    _run(estate, 10)
    assert estate.dcc.alerts(SUPPLIER, 0) is not None and estate.dcc.alerts(NETWORK_OPERATOR, 0) is None
    assert parse_response(estate.dcc.alerts(SUPPLIER, 0)).gbcs_payload == alert


def test_garbage_from_the_wan_is_counted_and_dropped(estate):
    estate.wan.endpoints["rtds-0001"].send_up(b"\xDD\x00garbage")
    _run(estate, 10)
    assert estate.dcc.broker.counts == {"malformed": 1}


def test_same_seed_same_command_bytes():
    """Determinism: two estates of the same seed put the same bytes on the WAN."""
    require_shared()
    outputs = []
    for _ in range(2):
        topology = load_topology(str(RTDS_HOME), 7)
        clock = VirtualClock(start=topology.start_time)
        host = build_host(load_dcc_config(topology, 7), clock, seed=7)
        est = Estate(topology, clock, 7)
        wan = EstateWan(host.broker, est, clock, 7)
        sent = []
        inner = wan.send
        wan.broker.wan = lambda device, command: (sent.append(command), inner(device, command))
        est.start()
        clock.run_until(clock.seconds() + 10)
        req = set_header(template(ECS17C), RequestID="90-B3-D5-1F-30-02-00-00:00-DB-12-34-56-78-90-A0:4242")
        host.handle("S", signed(req))
        clock.run_until(clock.seconds() + 5)
        est.close()
        outputs.append(sent)
    assert outputs[0] == outputs[1] and len(outputs[0]) == 1


def test_critical_request_goes_out_signed_and_maced_after_the_users_signature(estate):
    from lxml import etree

    from protocols.duis.request import SR
    from protocols.duis.response import parse_response as parse
    from protocols.gbcs.message import sign_precommand

    answer = estate.dcc.handle("T", signed(template("ECS01c_1.1.2_IMMEDIATE_SUCCESS_REQUEST_DUIS.XML")))
    pre = parse(answer.body)
    assert (answer.code, pre.kind) == ("I0", "PreCommand")
    crypto = GbcsCrypto(keystore())
    gbcs = sign_precommand(pre.gbcs_payload, crypto)           # the User's signature
    root = etree.Element(f"{{{SR}}}SignedPreCommand", nsmap={"sr": SR}, schemaVersion="5.1")
    header = etree.SubElement(root, f"{{{SR}}}Header")
    etree.SubElement(header, f"{{{SR}}}RequestID").text = pre.request_id
    etree.SubElement(header, f"{{{SR}}}CommandVariant").text = "5"
    import base64
    etree.SubElement(root, f"{{{SR}}}GBCSPayload").text = base64.b64encode(gbcs).decode()
    data = signed(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))
    assert estate.dcc.handle("S", data).code == "I99"
    _run(estate, 15)
    [(eui, command)] = estate.log
    msg = decode_message(command, crypto)
    assert eui == ESME and msg.verification.mac == "verified" and msg.verification.signature == "verified"
    from protocols.gbcs import catalogue
    gs = msg.frame.signing
    assert (gs.originator, catalogue.use_case(gs.message_code).name, gs.originator_counter) == (
        SUPPLIER, "ECS01c", int(pre.request_id.rsplit(":", 1)[1]))
    # the same signed pre-command again: used up
    assert estate.dcc.handle("S", data).code in ("E7", "E14")


def _estate_with_outage(tmp_path, outage_from: float, outage_for: float):
    """The RTDS home, its hub on the north CSP, with that CSP's WAN down for a while."""
    import re

    from tests.duis_helpers import KEYSTORE
    text = RTDS_HOME.read_text()
    text = re.sub(r"(?m)^  keys: .*$", f"  keys: {KEYSTORE}", text)
    text += f"csps:\n  north: {{impairments: {{outages: [[{outage_from}, {outage_for}]]}}}}\n"
    path = tmp_path / "outage.yaml"
    path.write_text(text)
    topology = load_topology(str(path), 3)
    clock = VirtualClock(start=topology.start_time)
    host = build_host(load_dcc_config(topology, 3), clock, seed=3)
    est = Estate(topology, clock, 3)
    wan = EstateWan(host.broker, est, clock, 3)
    apps: dict[int, Recorder] = {}
    answers: dict[int, bytes] = {}
    log: list = []

    def factory(device, send):
        apps[device.spec.eui64] = Recorder(device, send, answers, log)
        return apps[device.spec.eui64]
    for home in est.homes:
        home.gbcs_application_factory = factory
    est.start()
    est.dcc, est.wan, est.answers, est.log, est.apps = host, wan, answers, log, apps
    return est


def test_an_hour_long_outage_of_the_csp_loses_nothing(tmp_path):
    """Issue 9 done-when: the north CSP's WAN is down for an hour (virtual time).  A request made
    during it times out at its target response time (E15) - the DCC's rule - and its late
    response is counted, not delivered twice; a request whose target response time outlasts the
    outage is answered after it; alerts the ESME raised meanwhile, stored by the hub, reach their
    Users once each, in order."""
    require_shared()
    est = _estate_with_outage(tmp_path, 60.0, 3600.0)
    clock, dcc = est.clock, est.dcc
    t0 = clock.seconds()
    clock.run_until(t0 + 50)                               # joined, tunnels open, hub attached
    assert est.wan.smwan.wans["north"].gateway.reachable(0x00DB1234567890A2)
    reference = rtds_hex("4.16_ECS17c", "ECS17c_4.16_SUCCESS_RESPONSE_GBCS.HEX")
    est.answers[ESME] = reference
    clock.run_until(t0 + 100)                              # the WAN is down from +60 s
    assert dcc.handle("S", signed(template(ECS17C))).code == "I99"
    import pathlib

    from tests.duis_helpers import RTDS
    names = ("ECS101_NA_8F86_INPUT_ALERT_GBCS.HEX", "ECS101_NA_8F86_OUTPUT_ALERT_GBCS.HEX", "ECS80_NA_8F36_ALERT_GBCS.HEX")
    alerts = [bytes.fromhex(next(pathlib.Path(RTDS).glob(f"*/{n}")).read_text().strip()) for n in names]
    for i, alert in enumerate(alerts):                     # the ESME raises them during the outage
        clock.run_until(t0 + 200 + 600 * i)
        est.apps[ESME].send(alert)
    clock.run_until(t0 + 200 + 1200 + 60)
    [timed_out] = dcc.responses(RID)
    assert parse_response(timed_out).response_code == "E15"
    # a request that may wait two hours
    est.dcc.broker.times = type(est.dcc.broker.times)(non_critical=7200.0)
    late = set_header(template(ECS17C), RequestID="90-B3-D5-1F-30-02-00-00:00-DB-12-34-56-78-90-A0:1300")
    assert dcc.handle("S", signed(late)).code == "I99"
    assert dcc.alerts(SUPPLIER, 0) is None and dcc.alerts(NETWORK_OPERATOR, 0) is None
    clock.run_until(t0 + 60 + 3600 + 900)                  # the WAN is back; the hub reattaches
    supplier = [parse_response(dcc.alerts(SUPPLIER, i)).gbcs_payload for i in range(2)]
    assert supplier == alerts[:2] and dcc.alerts(SUPPLIER, 2) is None
    assert parse_response(dcc.alerts(NETWORK_OPERATOR, 0)).gbcs_payload == alerts[2]
    assert dcc.alerts(NETWORK_OPERATOR, 1) is None
    # both commands reached the ESME once each, after the outage
    counters = [decode_message(c, None, decode_payload=False).frame.signing.originator_counter for _, c in est.log]
    assert counters == [1200, 1300]
    # the recorder answers both with the reference response (counter 1200): the first request
    # had already timed out and the second is not answered by it - both counted as unmatched
    assert dcc.broker.counts["unmatched"] == 2 and dcc.broker.counts["timeout"] == 1
    assert dcc.responses("90-B3-D5-1F-30-02-00-00:00-DB-12-34-56-78-90-A0:1300") == []
    assert dcc.broker.acb.in_flight == 1
    est.close()


def _estate_with_devices(topology_path, seed: int = 1):
    """The estate with the DCC and the devices' own GBCS logic (keys from the DCC key store)."""
    from emulator.dcc.devices import install_device_logic
    topology = load_topology(str(topology_path), seed)
    clock = VirtualClock(start=topology.start_time)
    config = load_dcc_config(topology, seed)
    host = build_host(config, clock, seed=seed)
    est = Estate(topology, clock, seed)
    wan = EstateWan(host.broker, est, clock, seed)
    install_device_logic(est, config.keystore, seed)
    est.start()
    est.dcc, est.wan, est.keystore = host, wan, config.keystore
    return est


def test_the_gpf_in_the_hub_answers_its_own_read():
    """A GPF read (its target is the GPF of the CH) is answered by the GPF logic in the hub,
    not the CHF: the response comes from the GPF's EUI-64, MACed for the supplier."""
    require_shared()
    est = _estate_with_devices(RTDS_HOME)
    est.clock.run_until(est.clock.seconds() + 30)
    data = signed(template("GCS13c_4.1.2_SUCCESS_RELIABLE_GPF_REQUEST_DUIS.XML"))
    answer = est.dcc.handle("S", data)
    assert answer.code == "I99"
    est.clock.run_until(est.clock.seconds() + 20)
    from protocols.duis.request import parse_request
    [xml] = est.dcc.responses(str(parse_request(data).request_id))
    response = parse_response(xml)
    assert response.response_code == "I0"
    msg = decode_message(response.gbcs_payload, GbcsCrypto(keystore()))
    gs = msg.frame.signing
    assert (gs.originator, gs.recipient, gs.message_code) == (0x00DB1234567890A3, SUPPLIER, 0x00B6)
    assert msg.verification.mac == "verified"
    est.close()


def test_a_request_that_may_wait_is_answered_by_the_esme_after_an_outage(tmp_path):
    """The ESME's own logic answers a read that was made during an hour's outage of the CSP,
    once the hub is back: the DUIS response is I0, exactly one."""
    require_shared()
    import re

    from tests.duis_helpers import KEYSTORE
    start = load_topology(str(RTDS_HOME), 1).start_time
    text = re.sub(r"(?m)^  keys: .*$", f"  keys: {KEYSTORE}", RTDS_HOME.read_text())
    text += "csps:\n  north: {impairments: {outages: [[60, 3600]]}}\n"
    (tmp_path / "outage.yaml").write_text(text)
    est = _estate_with_devices(tmp_path / "outage.yaml")
    clock, dcc = est.clock, est.dcc
    clock.run_until(start + 100)
    dcc.broker.times = type(dcc.broker.times)(non_critical=7200.0)
    assert dcc.handle("S", signed(template(ECS17C))).code == "I99"
    clock.run_until(start + 60 + 3600 - 1)
    assert dcc.responses(RID) == []                        # waiting: not lost, not timed out
    clock.run_until(start + 60 + 3600 + 900)
    [xml] = dcc.responses(RID)
    response = parse_response(xml)
    assert response.response_code == "I0"
    gs = decode_message(response.gbcs_payload, GbcsCrypto(keystore())).frame.signing
    assert (gs.originator, gs.originator_counter, gs.message_code) == (ESME, 1200, 0x0028)
    # the alerts the broker saw are the CH's CS14 device log back-ups, one per CBKE: kept by the
    # DCC (the copy a CCS03 restores from), handed to no User
    counts = dcc.broker.counts
    assert {k: v for k, v in counts.items() if k not in ("alert", "device_log_backup")} == {"response": 1}
    assert counts["device_log_backup"] == counts["alert"] > 0
    assert list(dcc.broker.device_log_backups) == [0x00DB1234567890A2]
    est.close()
