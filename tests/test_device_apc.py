"""The ESME's auxiliary proportional controllers (emulator.devices.gbcs.apc) and the ECS100
unsupported-command alert (GbcsDevice.receive).

ECS47e commands are built with the DLMS codec, MACed and signed with the reference key store's
keys (the load controller's, as the DCC's ECS47e reference commands are), delivered to a
provisioned ESME; the response, the ECS101 (8F86) and ECS102 (8F87) alerts are decoded and
verified under the DCC's keys and checked field by field against the layout of the DCC's
ECS101 / ECS102 reference alerts (shared/rtds NA_ECS101, NA_ECS102)."""

from __future__ import annotations

from pathlib import Path

import pytest

from protocols.gbcs import decode_message
from protocols.gbcs.framing import CRA_ALERT, CRA_COMMAND, CRA_RESPONSE, GeneralCiphering, GeneralSigning, \
    OtherInformation
from protocols.gbcs.message import VERIFIED, protect
from protocols.gbcs.payloads import dlms, encode_payload

from emulator.devices.gbcs import apc
from emulator.devices.gbcs.auxload import AUX_SCRIPT_TABLE, KIND_INPUT, KIND_OUTPUT, script_id
from emulator.devices.gbcs.cosem import OBJECT_UNDEFINED, SUCCESS, TYPE_UNMATCHED
from emulator.devices.gbcs.device import dlms_date_time
from emulator.devices.gbcs.provisioning import install_party

from tests.device_usecase_helpers import START, command, home
from tests.gbcs_helpers import KEYSTORE, RTDS

LOAD_CONTROLLER = 0x90B3D51F30010008
SUPPLIER = 0x90B3D51F30010000
ACB = 0x90B3D51F30000002

if not KEYSTORE.is_dir() or not RTDS.is_dir():
    pytest.fail(f"reference data missing: {KEYSTORE} / {RTDS}", pytrace=False)


@pytest.fixture()
def esme():
    h = home("ESME")
    install_party(h.device, h.keys, LOAD_CONTROLLER)
    h.levels = []
    h.device.aux.listeners.append(lambda n, level: h.levels.append((n, level)))
    return h


def _limit_command(h, kind: int, n: int, level: int, start, end, originator: int = LOAD_CONTROLLER) -> bytes:
    """ECS47e as the catalogue gives it: set .3 and .4 of APC n's group, run the limit script."""
    group = 116 + n
    specs = [dlms.access_request_item("set", 1, f"0-0:94.44.{group}.3", 2),
             dlms.access_request_item("set", 1, f"0-0:94.44.{group}.4", 2),
             dlms.access_request_item("action", 9, apc.APC_LIMIT_SCRIPT_TABLE, 1)]
    values = [v if isinstance(v, dict) else dlms.octet_string(dlms_date_time(v)) for v in (start, end)]
    data = values + [dlms.make_data("long-unsigned", kind << 12 | n << 8 | level)]
    return command(h, 0x011F, dlms.access_request(0, specs, data), originator=originator)


def _messages(h):
    out = [decode_message(m, h.dcc) for m in h.sent]
    h.sent.clear()
    for m in out:
        assert VERIFIED in (m.verification.mac, m.verification.signature)
    return out


def _alert(m, message_code: int, alert_code: int) -> list[dict]:
    """The alert's data members after the alert code and time; checks the alert's framing."""
    gs = m.frame.signing
    assert gs.cra_flag == CRA_ALERT and gs.message_code == message_code
    assert m.frame.ciphering is None and m.verification.signature == VERIFIED      # critical: signed
    assert gs.originator == 0x00DB1234567890A0 and gs.recipient == SUPPLIER
    body = m.payload["notification_body"]["value"]
    assert body[0] == {"type": "long-unsigned", "value": alert_code}
    assert m.payload["long_invoke_id_and_priority"] == 0x20000000 | (gs.originator_counter & 0xFFFFFF)
    return body[2:]


def _unsigned(v: int) -> dict:
    return {"type": "unsigned", "value": v}


def test_limit_is_processed_caps_the_output_and_ends_with_its_period(esme):
    h = esme
    h.device.receive(command(h, 0x0055, dlms.access_request(0, [
        dlms.access_request_item("set", 1, "0-0:94.44.121.1", 2), dlms.access_request_item("action", 9, AUX_SCRIPT_TABLE, 1)],
        [dlms.make_data("long-unsigned", 0), dlms.make_data("long-unsigned", script_id(5, 0x11))])))   # ECS47 boost on
    _messages(h)
    assert h.levels == [(5, 100)]
    h.device.receive(_limit_command(h, KIND_OUTPUT, 5, 10, START, START + 3600))
    alert, response = _messages(h)
    assert response.frame.signing.cra_flag == CRA_RESPONSE and response.frame.signing.recipient == LOAD_CONTROLLER
    assert [s["result"] for s in response.payload["access_response_specification"]] == [SUCCESS] * 3
    data = _alert(alert, 0x0121, 0x8F86)
    assert [d["type"] for d in data] == ["unsigned", "octet-string", "octet-string", "unsigned"]
    assert data[0] == _unsigned(0x15)             # output APC 5 (as the reference alert's 0x15)
    assert data[1]["value"] == dlms_date_time(START).hex().upper()
    assert data[2]["value"] == dlms_date_time(START + 3600).hex().upper()
    assert data[3] == _unsigned(10)
    assert h.levels[-1] == (5, 10) and h.device.aux.level(5) == 10        # the HCALCS sees the limit
    h.clock.run_until(START + 3599)
    assert not h.sent
    h.clock.run_until(START + 3601)
    (ended,) = _messages(h)
    assert _alert(ended, 0x0122, 0x8F87) == [_unsigned(0x15), _unsigned(10)]
    assert h.levels[-1] == (5, 100)               # back to what ECS47 commanded
    assert h.device.apc.limit(KIND_OUTPUT, 5) is None


def test_a_later_command_replaces_the_limit_and_a_future_one_waits_for_its_start(esme):
    h = esme
    h.device.receive(command(h, 0x011E, dlms.access_request(0, [
        dlms.access_request_item("set", 1, "0-0:94.44.119.1", 2), dlms.access_request_item("set", 1, "0-0:94.44.119.2", 2),
        dlms.access_request_item("action", 9, AUX_SCRIPT_TABLE, 1)],
        [dlms.octet_string(dlms_date_time(START)), dlms.octet_string(dlms_date_time(START + 86400)),
         dlms.make_data("long-unsigned", script_id(3, 80, KIND_OUTPUT))])))                 # ECS47a 80 %
    _messages(h)
    h.device.receive(_limit_command(h, KIND_OUTPUT, 3, 60, START, START + 7200))
    _messages(h)
    assert h.device.aux.level(3) == 60
    # a second limit, from the supplier, starting in ten minutes: the first is cancelled at once
    h.device.receive(_limit_command(h, KIND_OUTPUT, 3, 20, START + 600, START + 1200, originator=SUPPLIER))
    cancelled, processed, response = _messages(h)
    assert _alert(cancelled, 0x0122, 0x8F87) == [_unsigned(0x13), _unsigned(60)]
    assert _alert(processed, 0x0121, 0x8F86)[3] == _unsigned(20)
    assert response.frame.signing.cra_flag == CRA_RESPONSE
    assert h.device.aux.level(3) == 80            # not limited until the new period starts
    h.clock.run_until(START + 601)
    assert h.device.aux.level(3) == 20 and not h.sent
    h.clock.run_until(START + 1201)
    (ended,) = _messages(h)
    assert _alert(ended, 0x0122, 0x8F87) == [_unsigned(0x13), _unsigned(20)]
    assert h.device.aux.level(3) == 80
    assert (h.device.apc.processed, h.device.apc.ended) == (2, 2)


def test_input_limit_and_open_or_past_periods(esme):
    h = esme
    never = {"type": "octet-string", "value": "FFFFFFFFFFFFFFFFFF8000FF"}
    # input APC 3, not specified start and end: from now until replaced; the output is not moved
    h.device.receive(_limit_command(h, KIND_INPUT, 3, 100, never, never))
    processed, _response = _messages(h)
    data = _alert(processed, 0x0121, 0x8F86)
    assert data[0] == _unsigned(0x23) and data[2]["value"] == never["value"] and data[3] == _unsigned(100)
    assert h.levels == []
    h.clock.run_until(START + 30 * 86400)
    assert not h.sent and h.device.apc.limit(KIND_INPUT, 3) is not None
    # an end given as a duration (minutes) from the start
    h.device.receive(_limit_command(h, KIND_INPUT, 3, 40, h.clock.seconds(), dlms.make_data("long-unsigned", 2)))
    cancelled, processed, _response = _messages(h)
    assert _alert(cancelled, 0x0122, 0x8F87) == [_unsigned(0x23), _unsigned(100)]
    assert _alert(processed, 0x0121, 0x8F86)[2]["value"] == dlms_date_time(h.clock.seconds() + 120).hex().upper()
    h.clock.run_until(h.clock.seconds() + 121)
    (ended,) = _messages(h)
    assert _alert(ended, 0x0122, 0x8F87) == [_unsigned(0x23), _unsigned(40)]
    # a period already over: processed, and ended at once
    h.device.receive(_limit_command(h, KIND_OUTPUT, 1, 0, START, START + 60))
    processed, ended, _response = _messages(h)
    assert _alert(processed, 0x0121, 0x8F86)[0] == _unsigned(0x11)
    assert _alert(ended, 0x0122, 0x8F87) == [_unsigned(0x11), _unsigned(0)]


@pytest.mark.parametrize("selector,end_offset,result", [
    (KIND_OUTPUT << 12 | 0 << 8 | 10, 3600, OBJECT_UNDEFINED),      # no APC 0
    (0 << 12 | 3 << 8 | 10, 3600, OBJECT_UNDEFINED),                # not an APC command kind
    (KIND_OUTPUT << 12 | 3 << 8 | 101, 3600, TYPE_UNMATCHED),       # a level over 100 %
    (KIND_OUTPUT << 12 | 3 << 8 | 10, -60, TYPE_UNMATCHED),         # ends before it starts
])
def test_a_limit_that_cannot_be_is_refused_without_alert(esme, selector, end_offset, result):
    h = esme
    specs = [dlms.access_request_item("set", 1, "0-0:94.44.119.3", 2),
             dlms.access_request_item("set", 1, "0-0:94.44.119.4", 2),
             dlms.access_request_item("action", 9, apc.APC_LIMIT_SCRIPT_TABLE, 1)]
    data = [dlms.octet_string(dlms_date_time(START)), dlms.octet_string(dlms_date_time(START + end_offset)),
            dlms.make_data("long-unsigned", selector)]
    h.device.receive(command(h, 0x011F, dlms.access_request(0, specs, data), originator=LOAD_CONTROLLER))
    (response,) = _messages(h)
    assert [s["result"] for s in response.payload["access_response_specification"]] == [SUCCESS, SUCCESS, result]
    assert h.device.apc.processed == 0 and h.levels == []


# --------------------------------------------------------------------------- ECS100

def _raw_command(h, message_code: int, counter: int, originator: int, srp: tuple | None = None) -> bytes:
    oi = OtherInformation(message_code, *(srp or (None, None)))
    payload = dlms.access_request(counter, [dlms.access_request_item("get", 1, "0-0:96.1.0.255", 2)],
                                  [dlms.make_data("null-data")])
    gs = GeneralSigning(CRA_COMMAND, counter, originator, h.device.eui, None, oi, encode_payload(payload), b"")
    return protect(gs, h.dcc, GeneralCiphering(b""), sign=True)


def test_unsupported_command_raises_ecs100_to_its_originator(esme):
    """GBCS 7.2.9.1: 8F85 with the command's message code and originator counter (the layout of
    the DCC's ECS100 reference alert); no response, the device keeps working."""
    h = esme
    h.device.receive(command(h, 0x00C3, {"kind": "gbz", "profile_id": 0x0104, "components": []},
                             originator=SUPPLIER, counter=100000))   # GCS15b, a GSME use case
    (alert,) = _messages(h)
    gs = alert.frame.signing
    assert (gs.cra_flag, gs.message_code, gs.recipient) == (CRA_ALERT, 0x0120, SUPPLIER)
    assert alert.verification.signature == VERIFIED
    body = alert.payload["notification_body"]["value"]
    assert body[0]["value"] == 0x8F85 and body[1]["type"] == "octet-string"
    assert body[2] == {"type": "octet-string", "value": "00C300000000000186A0"}
    assert gs.other_information.supplementary_remote_party_id is None
    assert h.device.counters.unsupported == 1 and h.device.last_rejection.alert_code == 0x8F85


def test_unsupported_command_from_the_acb_names_the_party_it_acted_for(esme):
    """A product without an optional use case (CS06 here) refuses the ACB's command sent on the
    supplier's behalf: the alert goes to the ACB, other-information names the supplier and its
    counter (as the DCC's supplementary-remote-party ECS100 reference alert)."""
    h = esme
    h.device.unsupported_codes.add(0x0012)
    h.device.receive(_raw_command(h, 0x0012, 100000, ACB, (SUPPLIER, 200000)))
    (alert,) = _messages(h)
    gs = alert.frame.signing
    assert (gs.message_code, gs.recipient) == (0x0120, ACB)
    oi = gs.other_information
    assert (oi.supplementary_remote_party_id, oi.supplementary_remote_party_counter) == (SUPPLIER, 200000)
    assert alert.payload["notification_body"]["value"][2]["value"] == "001200000000000186A0"
    # what the device does support it still answers
    h.device.receive(_limit_command(h, KIND_OUTPUT, 5, 10, START, START + 60))
    assert [m.frame.signing.cra_flag for m in _messages(h)] == [CRA_ALERT, CRA_RESPONSE]


def test_devices_without_ecs100_keep_the_format_alert():
    h = home("GSME")
    h.device.receive(command(h, 0x00C3, {"kind": "gbz", "profile_id": 0x0104, "components": []}))
    (alert,) = [decode_message(m, h.dcc) for m in h.sent]
    assert alert.frame.signing.message_code == 0x1000 and h.device.last_rejection.alert_code == 0x8F1E


def test_reference_alert_layouts_are_what_the_model_sends():
    """The field layout the model sends is the DCC's: read from the reference alerts."""
    from protocols.gbcs import GbcsCrypto, KeyStore
    from emulator.devices.gbcs.provisioning import acb_eui
    keys = KeyStore(KEYSTORE)
    crypto = GbcsCrypto(keys, acb_eui(keys))
    found = {}
    for path in sorted(Path(RTDS).glob("NA_ECS10[012]/*_ALERT_GBCS.HEX")):
        m = decode_message(bytes.fromhex("".join(path.read_text().split())), crypto)
        body = m.payload["notification_body"]["value"]
        found[path.name] = (m.frame.signing.message_code, body[0]["value"], [d["type"] for d in body[2:]])
    assert found["ECS101_NA_8F86_INPUT_ALERT_GBCS.HEX"] == (0x0121, 0x8F86, ["unsigned", "octet-string",
                                                                           "octet-string", "unsigned"])
    assert found["ECS102_NA_8F87_OUTPUT_ALERT_GBCS.HEX"] == (0x0122, 0x8F87, ["unsigned", "unsigned"])
    assert found["ECS100_NA_8F85_ALERT_GBCS.HEX"] == (0x0120, 0x8F85, ["octet-string"])


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5])
def test_every_auxiliary_controller_has_its_switching_time(esme, n):
    """ECS47 boost on controller n sets 0-0:94.44.(116 + n).1 first: each of the five
    controllers has that object (not only the odd ones the DCC's references use)."""
    h = esme
    h.device.receive(command(h, 0x0055, dlms.access_request(0, [
        dlms.access_request_item("set", 1, f"0-0:94.44.{116 + n}.1", 2),
        dlms.access_request_item("action", 9, AUX_SCRIPT_TABLE, 1)],
        [dlms.make_data("long-unsigned", 30), dlms.make_data("long-unsigned", script_id(n, 0x11))])))
    (response,) = _messages(h)
    assert [s["result"] for s in response.payload["access_response_specification"]] == [SUCCESS, SUCCESS]
    assert h.levels == [(n, 100)]
