"""Device use cases that change state, checked through what the device answers and raises later:
supply state and load limiting (ESME), firmware distribution and activation (every device
type), security credentials issue (CS02c), device logs (CS07, GCS59, GCS62), the sub-GHz
configuration alert and channel (CHF), the GSME's security log (CS10b) and network data
sampling (GCS31 then GCS18).

Commands are built and protected as the DCC would (tests/device_usecase_helpers.py) and
delivered through C{GbcsDevice.receive}; answers are decoded and verified with the DCC's keys.
"""

from __future__ import annotations

import os

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from protocols.gbcs import decode_message
from protocols.gbcs.framing import CRA_ALERT, CRA_RESPONSE
from protocols.gbcs.message import VERIFIED
from protocols.gbcs.payloads import dlms, gbz

from emulator.devices.gbcs import supply
from emulator.devices.gbcs.asn1_usecases import pending_public_key
from emulator.devices.gbcs.firmware import distribute, firmware_state, make_ota_image, parse_ota_image

from tests.device_usecase_helpers import DEVICE_EUIS, START, command, home
from tests.gbcs_helpers import KEYSTORE, RTDS

if not RTDS.is_dir() or not KEYSTORE.is_dir():
    if os.environ.get("CI"):
        raise RuntimeError(f"reference data missing under CI: {RTDS} / {KEYSTORE}")
    pytest.skip("shared RTDS data not present", allow_module_level=True)

_EPOCH_2000 = 946684800
ECS42, ECS43, ECS44, ECS45 = 0x004F, 0x0050, 0x0051, 0x0052
ECS27, ECS28A, ECS28B, ECS52 = 0x0042, 0x0043, 0x0044, 0x0059
NOW = "000000000000000000000000"          # a COSEM date-time of zeros: activate now


def _send(h, code, payload, **kw):
    """Deliver one command; the decoded messages the device sent (all verified)."""
    h.sent.clear()
    h.device.receive(command(h, code, payload, **kw))
    out = [decode_message(m, h.dcc) for m in h.sent]
    for m in out:
        ok = m.verification.mac if m.frame.ciphering is not None else m.verification.signature
        assert ok == VERIFIED, m.frame.signing.message_code
    return out


def _response(msgs):
    rs = [m for m in msgs if m.frame.signing.cra_flag == CRA_RESPONSE]
    assert len(rs) == 1, [m.frame.signing.cra_flag for m in msgs]
    return rs[0].payload


def _alerts(msgs):
    return [m for m in msgs if m.frame.signing.cra_flag == CRA_ALERT]


def _alert_code(m):
    p = m.payload
    if isinstance(p.get("alert"), dict):
        return p["alert"]["alert_code"]
    if "alert_code" in p:
        return p["alert_code"]
    return p["value"]["alertCode"]


def _script(h, code, script_id):
    spec = dlms.access_request_item("action", 9, supply.LOAD_SWITCH_SCRIPTS, 1)
    return _response(_send(h, code, dlms.access_request(0, [spec], [dlms.make_data("long-unsigned", script_id)])))


def _read_supply(h) -> int:
    spec = dlms.access_request_item("get", 70, supply.DISCONNECT_CONTROL, 3)
    p = _response(_send(h, ECS45, dlms.access_request(0, [spec], [dlms.make_data("null-data")])))
    assert p["access_response_specification"][0]["result"] == 0
    return p["access_response_list_of_data"][0]["value"]


# --------------------------------------------------------------------------- supply state

def test_supply_disable_arm_enable_follow_the_load_switch_scripts():
    h = home("ESME")
    assert _read_supply(h) == supply.SUPPLY_ENABLED
    assert _script(h, ECS43, supply.SCRIPT_DISABLE)["access_response_specification"][0]["result"] == 0
    assert _read_supply(h) == supply.SUPPLY_DISABLED
    _script(h, ECS44, supply.SCRIPT_ARM)
    assert _read_supply(h) == supply.SUPPLY_ARMED
    _script(h, ECS42, supply.SCRIPT_ENABLE)
    assert _read_supply(h) == supply.SUPPLY_ENABLED
    _script(h, ECS44, supply.SCRIPT_ARM)                  # arming never interrupts an enabled supply
    assert _read_supply(h) == supply.SUPPLY_ENABLED


def test_unknown_load_switch_script_fails_and_changes_nothing():
    h = home("ESME")
    _script(h, ECS43, supply.SCRIPT_DISABLE)
    p = _script(h, ECS42, 99)
    assert p["access_response_specification"][0]["result"] != 0
    assert _read_supply(h) == supply.SUPPLY_DISABLED


# --------------------------------------------------------------------------- load limiting

def _configure_load_limit(h, threshold_w, period_s, restoration_s, disable_supply):
    objs = ((supply.LOAD_LIMIT_SUPPLY_STATE, dlms.make_data("boolean", disable_supply)),
            (supply.LOAD_LIMIT_THRESHOLD, dlms.make_data("double-long", threshold_w)),
            (supply.LOAD_LIMIT_PERIOD, dlms.make_data("double-long", period_s)),
            (supply.LOAD_LIMIT_RESTORATION, dlms.make_data("double-long", restoration_s)))
    specs = [dlms.access_request_item("set", 9000, o, 4) for o, _v in objs] + \
        [dlms.access_request_item("set", 9000, o, 6) for o, _v in objs]
    data = [v for _o, v in objs] + [dlms.octet_string(bytes.fromhex(NOW)) for _ in objs]
    p = _response(_send(h, ECS28A, dlms.access_request(0, specs, data)))
    assert [s["result"] for s in p["access_response_specification"]] == [0] * len(specs)


def _counter(h) -> int:
    spec = dlms.access_request_item("get", 3, supply.LOAD_LIMIT_COUNTER, 2)
    p = _response(_send(h, ECS27, dlms.access_request(0, [spec], [dlms.make_data("null-data")])))
    return p["access_response_list_of_data"][0]["value"]


def test_load_limit_disables_then_restores_the_supply_and_counts():
    h = home("ESME")
    _configure_load_limit(h, threshold_w=6000, period_s=60, restoration_s=300, disable_supply=True)
    h.sent.clear()
    esme = h.device
    for _ in range(3):                         # 30 s above the threshold: not yet
        esme.observe_power(7000)
        h.clock.advance(10)
    assert not h.sent and esme.load_limiter.triggers == 0
    for _ in range(4):
        esme.observe_power(7000)
        h.clock.advance(10)
    codes = [_alert_code(decode_message(m, h.dcc)) for m in h.sent]
    assert codes == [supply.ALERT_LOAD_LIMIT_THRESHOLD, supply.ALERT_LOAD_LIMIT_DISABLED_ARMED]
    assert supply.supply_state(esme.model) == supply.SUPPLY_ARMED
    assert _counter(h) == 1
    h.sent.clear()
    esme.observe_power(500)                    # below: the restoration period starts
    h.clock.advance(200)
    esme.observe_power(500)
    assert supply.supply_state(esme.model) == supply.SUPPLY_ARMED
    h.clock.advance(100)
    esme.observe_power(500)
    assert [_alert_code(decode_message(m, h.dcc)) for m in h.sent] == [supply.ALERT_LOAD_LIMIT_RESTORED]
    assert _read_supply(h) == supply.SUPPLY_ENABLED
    spec = dlms.access_request_item("action", 3, supply.LOAD_LIMIT_COUNTER, 1)      # ECS28b counter reset
    _response(_send(h, ECS28B, dlms.access_request(0, [spec], [dlms.make_data("integer", 0)])))
    assert _counter(h) == 0


def test_load_limit_without_supply_disablement_only_alerts_and_counts_each_excursion_once():
    h = home("ESME")
    _configure_load_limit(h, threshold_w=3000, period_s=0, restoration_s=0, disable_supply=False)
    h.sent.clear()
    for w in (3500, 3600, 100, 3500):
        h.device.observe_power(w)
        h.clock.advance(30)
    assert [_alert_code(decode_message(m, h.dcc)) for m in h.sent] == [supply.ALERT_LOAD_LIMIT_THRESHOLD] * 2
    assert supply.supply_state(h.device.model) == supply.SUPPLY_ENABLED
    assert _counter(h) == 2


def test_load_limiting_is_off_until_configured():
    h = home("ESME")
    for _ in range(10):
        h.device.observe_power(1e6)
        h.clock.advance(60)
    assert not h.sent and h.device.load_limiter.triggers == 0


# --------------------------------------------------------------------------- firmware

_IMAGE = make_ota_image(0x01020304, bytes(range(256)) * 8)


def _activate(h, image_hash: bytes, when: str | None = None):
    value = {"manufacturerImageHash": image_hash.hex().upper(), "originatorCounter": 77}
    if when is not None:
        value["executionDateTime"] = {"generalized_time": when}
    return _send(h, 0x0012, {"kind": "asn1", "asn1_type": "ActivateFirmwareCommand", "value": value,
                             "length_encoding": "der"})


def _esme_version(h) -> str:
    spec = dlms.access_request_item("get", 1, "0-0:0.2.1.255", 2)
    p = _response(_send(h, ECS52, dlms.access_request(0, [spec], [dlms.make_data("null-data")])))
    return p["access_response_list_of_data"][0]["value"]


def test_firmware_distribution_receipt_then_activation_changes_the_version():
    h = home("ESME")
    before = _esme_version(h)
    h.sent.clear()
    image = distribute(h.device, _IMAGE)
    (receipt,) = [decode_message(m, h.dcc) for m in h.sent]
    assert receipt.frame.signing.message_code == 0x00CE and receipt.verification.signature == VERIFIED
    body = receipt.payload["notification_body"]["value"]
    assert body[0]["value"] == 0x8F72 and bytes.fromhex(body[2]["value"]) == image.image_hash
    bad = _response(_activate(h, bytes(32)))                 # a hash that is not the image's
    assert bad["value"]["activateImageResponseCode"] == 2 and _esme_version(h) == before
    good = _response(_activate(h, image.image_hash))
    assert good["asn1_type"] == "ActivateFirmwareOutcome"
    assert good["value"] == {"activateImageResponseCode": 0, "firmwareVersion": "01020304"}
    assert _esme_version(h) == "01020304"
    again = _response(_activate(h, image.image_hash))       # the image is now running, none held
    assert again["value"]["activateImageResponseCode"] == 1


def test_future_dated_activation_is_accepted_then_alerts_when_done():
    h = home("GSME")
    distribute(h.device, _IMAGE)
    msgs = _activate(h, parse_ota_image(_IMAGE).image_hash, when="20150101120000Z")
    assert _response(msgs)["asn1_type"] == "ActivateFirmwareAccepted"
    assert h.device.asn1_state.firmware_version != bytes.fromhex("01020304")
    h.sent.clear()
    h.clock.advance(12 * 3600)
    (alert,) = [decode_message(m, h.dcc) for m in h.sent]
    assert alert.frame.signing.message_code == 0x00CA and alert.verification.signature == VERIFIED
    v = alert.payload["value"]
    assert v["alertCode"] == 0x8F66 and v["originatorCounter"] == 77
    assert v["outcome"] == {"activateImageResponseCode": 0, "firmwareVersion": "01020304"}
    assert h.device.asn1_state.firmware_version == bytes.fromhex("01020304")


def test_activation_staged_as_the_replay_stages_it_and_predicted_error_without_image():
    """The replay stages a SUCCESS test with C{prepare} (the image the command activates was
    distributed) and an ERROR test only if the device predicts the error (no image held)."""
    from protocols.gbcs.framing import decode_frame
    h = home("CHF")
    value = {"manufacturerImageHash": "AB" * 32, "originatorCounter": 5}
    tree = _asn1("ActivateFirmwareCommand", value)
    raw = command(h, 0x0012, tree)
    frame = decode_frame(raw)
    assert h.device.predicts_error(frame, tree)
    h.device.prepare(frame, tree)
    assert not h.device.predicts_error(frame, tree)
    h.device.receive(raw)
    (r,) = [decode_message(m, h.dcc) for m in h.sent]
    assert r.payload["value"] == {"activateImageResponseCode": 0, "firmwareVersion": "00000002"}


def test_gsme_receipt_is_gbz_and_a_corrupt_file_fails_verification():
    h = home("GSME")
    distribute(h.device, _IMAGE[:-1])                        # truncated: total size disagrees
    (alert,) = [decode_message(m, h.dcc) for m in h.sent]
    assert alert.frame.signing.message_code == 0x00CF and alert.payload["alert_code"] == 0x8F1C
    assert firmware_state(h.device).held is None
    assert _response(_activate(h, parse_ota_image(_IMAGE).image_hash))["value"]["activateImageResponseCode"] == 1


def test_ch_transfers_ppmid_firmware_and_reports_it_then_the_ppmid_activates_it():
    from emulator.devices.gbcs.firmware import transfer
    hub, ppmid = home("CHF"), home("PPMID")
    image = transfer(hub.device, ppmid.device, _IMAGE)
    assert not ppmid.sent                                     # the PPMID sends no receipt
    (alert,) = [decode_message(m, hub.dcc) for m in hub.sent]
    assert alert.frame.signing.message_code == 0x0128 and alert.verification.signature == VERIFIED
    assert alert.frame.signing.recipient == hub.dcc.acb_eui
    assert alert.payload["value"] == {"alertCode": 0x8F8A, "dateTime": {"generalized_time": "20150101000000Z"},
                                      "entityIdentifier": f"{DEVICE_EUIS['PPMID']:016X}",
                                      "firmwareVersion": "01020304", "responseCode": 0}
    assert _response(_activate(ppmid, image.image_hash))["value"]["activateImageResponseCode"] == 0
    read = _response(_send(ppmid, 0x0129, _asn1("ReadFirmwareVersionCommand", None)))     # CS08
    assert read["value"] == {"firmwareVersion": "01020304", "responseCode": 0}
    hub.sent.clear()
    assert transfer(hub.device, ppmid.device, b"not an image") is None
    (failed,) = [decode_message(m, hub.dcc) for m in hub.sent]
    assert failed.payload["value"]["alertCode"] == 0x8F89 and failed.payload["value"]["responseCode"] == 3


# --------------------------------------------------------------------------- CS02c

def test_issue_security_credentials_gives_a_verifiable_request_for_a_new_key():
    h = home("ESME")
    p = _response(_send(h, 0x000A, {"kind": "asn1", "asn1_type": "IssueSecurityCredentialsCommand",
                                     "value": {"keyUsage": {"bits": 1, "value": "80"}}, "length_encoding": "der"}))
    assert p["asn1_type"] == "CertificationRequest"
    csr = x509.load_der_x509_csr(bytes.fromhex(p["value"]["der"]))
    assert csr.is_signature_valid
    ku = csr.extensions.get_extension_for_class(x509.KeyUsage).value
    assert ku.digital_signature and not ku.key_agreement
    new = csr.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    assert new == pending_public_key(h.device, "ds")
    current = h.keys.public_key(h.device.eui, "ds").public_bytes(serialization.Encoding.X962,
                                                                  serialization.PublicFormat.UncompressedPoint)
    assert new != current                                      # a new key pair, not yet in use
    bad = _response(_send(h, 0x000A, {"kind": "asn1", "asn1_type": "IssueSecurityCredentialsCommand",
                                       "value": {"keyUsage": {"bits": 3, "value": "20"}}, "length_encoding": "der"}))
    assert bad["value"] == 1                                   # invalid key usage


def test_issued_request_is_the_same_for_the_same_command():
    def run():
        h = home("GSME")
        _send(h, 0x000A, {"kind": "asn1", "asn1_type": "IssueSecurityCredentialsCommand",
                          "value": {"keyUsage": {"bits": 5, "value": "08"}}, "length_encoding": "der"})
        return h.sent[0]
    assert run() == run()


# --------------------------------------------------------------------------- device logs

def _asn1(type_name, value):
    return {"kind": "asn1", "asn1_type": type_name, "value": value, "length_encoding": "der"}


def test_gpf_backs_up_its_log_on_join_and_the_dcc_restores_it():
    h = home("GPF")
    gsme = f"{DEVICE_EUIS['GSME']:016X}"
    msgs = _send(h, 0x000E, _asn1("JoinDeviceCommand", {"joinMethodAndRole": 2, "otherDeviceEntityIdentifier": gsme,
                                                        "otherDeviceType": 0}))
    assert _response(msgs)["value"] == 0
    (backup,) = _alerts(msgs)
    assert backup.frame.signing.message_code == 0x00B2 and backup.frame.signing.recipient == h.dcc.acb_eui
    assert backup.payload["value"]["alertCode"] == 0x8071
    assert backup.payload["value"]["deviceLogEntries"] == [{"deviceID": gsme, "deviceType": 0}]
    # the log is lost (e.g. a replaced GPF); the DCC restores it from the backup
    h.device.asn1_state.partners.clear()
    ppmid = f"{DEVICE_EUIS['PPMID']:016X}"
    msgs = _send(h, 0x008C, _asn1("RestoreGPFDeviceLogCommand", {"deviceLogEntries": [
        {"deviceID": gsme, "deviceType": 0}, {"deviceID": ppmid, "deviceType": 5},
        {"deviceID": f"{h.device.eui:016X}", "deviceType": 3}]}))
    outcomes = _response(msgs)["value"]["restoreOutcomes"]
    assert [o["joinResponseCode"] for o in outcomes] == [0, 0, 2]      # itself is not a partner
    assert not _alerts(msgs)                                            # a restore is not backed up
    read = _response(_send(h, 0x0013, _asn1("ReadDeviceJoinDetailsCommand", None)))
    assert read["value"] == {"responseCode": 0, "deviceLogEntries": [
        {"deviceID": gsme, "deviceType": 0}, {"deviceID": ppmid, "deviceType": 5}]}


# --------------------------------------------------------------------------- CHF sub-GHz

def test_sub_ghz_configuration_change_is_alerted_and_channel_is_read():
    h = home("CHF")
    spec = dlms.access_request_item("get", 1, "0-0:94.44.10.2", 2)
    p = _response(_send(h, 0x010A, dlms.access_request(0, [spec], [dlms.make_data("null-data")])))
    channel = p["access_response_list_of_data"][0]
    assert channel["type"] == "structure" and channel["value"][0]["bits"] == 32
    cfg = h.device.model.get(1, "0-0:94.44.10.0", 2)[1]
    spec = dlms.access_request_item("set", 1, "0-0:94.44.10.0", 2)
    msgs = _send(h, 0x010D, dlms.access_request(0, [spec], [cfg]))
    assert _response(msgs)["access_response_specification"][0]["result"] == 0
    (alert,) = _alerts(msgs)
    assert alert.frame.signing.message_code == 0x0113 and _alert_code(alert) == 0x8F2A
    wrong = _send(h, 0x010D, dlms.access_request(0, [spec], [dlms.make_data("unsigned", 1)]))
    assert not _alerts(wrong)                                   # refused: nothing changed, no alert


# --------------------------------------------------------------------------- GSME logs

def test_rejected_command_is_in_the_gsme_security_log():
    h = home("GSME")
    raw = bytearray(command(h, 0x00A1, _event_log_read(7)))
    raw[-1] ^= 0x01                                             # the MAC no longer verifies
    h.device.receive(bytes(raw))
    p = _response(_send(h, 0x00A1, _event_log_read(7)))
    body = p["components"][0]["zcl"]["payload"]
    assert [e["EventID"] for e in body["LogPayload"]] == [0x8F3E]
    assert body["LogPayload"][0]["LogID"] == 7


def _event_log_read(log_id):
    comp = gbz.build_component(0x0709, 0x01, 0, 0, {"EventControlLogID": log_id, "EventID": 0, "StartTime": 0,
                                                    "EndTime": 0xFFFFFFFF, "NumberofEvents": 0,
                                                    "EventOffset": 0}, last=True)
    return {"kind": "gbz", "profile_id": gbz.GBZ_PROFILE_ID, "components": [comp]}


def test_network_data_sampling_started_then_read():
    h = home("GSME")
    start = gbz.build_component(0x0702, 0x01, 0, 7, {"IssuerEventID": 1, "StartSamplingTime": 0, "SampleType": 0,
                                                     "SampleRequestInterval": 60, "MaxNumberofSamples": 5}, last=True)
    p = _response(_send(h, 0x0080, {"kind": "gbz", "profile_id": gbz.GBZ_PROFILE_ID, "components": [start]}))
    sample_id = p["components"][0]["zcl"]["payload"]["SampleID"]
    for step in range(10):
        h.device.zcl.attributes[(0x0702, 0x0000)] = 100 * (step + 1) ** 2
        h.clock.advance(60)
    read = gbz.build_component(0x0702, 0x01, 0, 8, {"SampleID": sample_id, "EarliestSampleTime":
                                                    int(START) - _EPOCH_2000, "SampleType": 0,
                                                    "NumberofSamples": 0}, last=True)
    p = _response(_send(h, 0x0079, {"kind": "gbz", "profile_id": gbz.GBZ_PROFILE_ID, "components": [read]}))
    body = p["components"][0]["zcl"]["payload"]
    assert body["NumberofSamples"] == 5 and body["SampleRequestInterval"] == 60
    assert body["Samples"] == [100, 300, 500, 700, 900]
