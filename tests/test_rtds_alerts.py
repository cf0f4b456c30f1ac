"""The events device-initiated alerts name, caused in devices (emulator.rtds_alerts and the
device modules it drives): each gives the alert GBCS names, decodable and verifiable under the
home's keys, and a device that cannot have the event says so (no alert)."""

from __future__ import annotations

import random

import pytest

from emulator.clock import VirtualClock
from emulator.devices.gbcs import DEVICE_CLASSES, firmware
from emulator.devices.gbcs.events import INTEGRITY_WARNING, integrity_issue
from emulator.devices.gbcs.provisioning import acb_eui, provision
from emulator.rtds_alerts import CAUSES
from protocols.gbcs.crypto import GbcsCrypto
from protocols.gbcs.keystore import KeyStore
from protocols.gbcs.message import VERIFIED, decode_message
from tests.gbcs_helpers import KEYSTORE

START = 1420070400.0
EUIS = {"ESME": 0x00DB1234567890A0, "GSME": 0x00DB1234567890A1, "CHF": 0x00DB1234567890A2,
        "GPF": 0x00DB1234567890A3, "PPMID": 0x00DB1234567890A4}


@pytest.fixture()
def keys():
    if not KEYSTORE.is_dir():
        pytest.fail(f"reference key store missing: {KEYSTORE}")
    return KeyStore(KEYSTORE)


def _device(kind, keys, sent):
    clock = VirtualClock()
    clock.run_until(START)
    return provision(DEVICE_CLASSES[kind], EUIS[kind], keys, clock, sent.append, rng=random.Random(3))


def _decode(keys, msg):
    m = decode_message(msg, GbcsCrypto(keys, acb_eui(keys)))
    assert VERIFIED in (m.verification.mac, m.verification.signature)
    return m


@pytest.mark.parametrize("kind,message_code", [("ESME", 0x00F0), ("GSME", 0x00F2)])
def test_integrity_issue_warns_with_the_issue_code(keys, kind, message_code):
    sent = []
    device = _device(kind, keys, sent)
    assert integrity_issue(device, 6)                 # watchdog
    (m,) = [_decode(keys, x) for x in sent]
    assert m.frame.signing.message_code == message_code and m.frame.ciphering is not None
    p = m.payload
    if kind == "GSME":
        assert (p["alert_code"], p["other_information"]) == (INTEGRITY_WARNING, 6)
    else:
        body = p["notification_body"]["value"]
        assert body[0]["value"] == INTEGRITY_WARNING and body[2]["value"] == "0006"


def test_integrity_issue_gbcs_does_not_name_is_refused(keys):
    sent = []
    device = _device("ESME", keys, sent)
    assert not integrity_issue(device, 10)
    assert not integrity_issue(_device("CHF", keys, sent), 5)
    assert sent == []


def test_ppmid_activates_the_transferred_image_and_reports_its_version(keys):
    sent = []
    ppmid = _device("PPMID", keys, sent)
    assert not firmware.activate_held(ppmid)          # nothing transferred yet
    firmware.distribute(ppmid, firmware.make_ota_image(0x01020304, b"image body"))
    assert firmware.activate_held(ppmid)
    (m,) = [_decode(keys, x) for x in sent]
    assert m.frame.signing.message_code == 0x012B and m.frame.signing.recipient == acb_eui(keys)
    assert m.payload["value"]["alertCode"] == 0x8F8B and m.payload["value"]["firmwareVersion"] == "01020304"
    assert ppmid.asn1_state.firmware_version == bytes.fromhex("01020304")
    assert not firmware.activate_held(ppmid)          # the image is no longer held


def test_every_alert_code_has_one_cause_and_wrong_devices_have_no_such_event(keys):
    """The sub-GHz causes need the CHF's radio; the GPF backup a GPF: on an ESME they report
    that the event cannot happen, and nothing is sent."""
    from emulator.rtds_alerts import AlertContext
    sent = []
    esme = _device("ESME", keys, sent)
    ctx = AlertContext(keys, {}, random.Random(1), lambda: None)

    class _Alert:
        payload = {"kind": "asn1", "value": {"deviceLogEntries": [{"deviceID": "00DB1234567890A1",
                                                                   "deviceType": 0}]}}

    for code in (0x8F20, 0x8F26, 0x8F2C, 0x8F2D, 0x8071, 0x8F8A):
        assert CAUSES[code](esme, _Alert(), ctx) is False, hex(code)

    class _ChannelAlert:              # a well-formed DBCH07 payload, on a device with no sub-GHz radio
        payload = {"kind": "dlms", "notification_body": {"type": "structure", "value": [
            {"type": "long-unsigned", "value": 0x8F26}, {"type": "octet-string", "value": ""},
            {"type": "structure", "value": [{"type": "bit-string", "bits": 32, "value": "E0000002"},
                                            {"type": "octet-string", "value": "00"}]}]}}

    assert CAUSES[0x8F26](esme, _ChannelAlert(), ctx) is False
    assert sent == []


def _alert_codes(keys, sent):
    out = []
    for x in sent:
        m = _decode(keys, x)
        out.append(m.payload["notification_body"]["value"][0]["value"])
    return out


def test_utrn_keyed_in_at_the_esme_adds_credit_once(keys):
    from emulator.devices.gbcs import keypad
    from protocols.gbcs.utrn import VALUE_CLASS_PENNIES, generate_utrn
    sent = []
    esme = _device("ESME", keys, sent)
    from emulator.devices.gbcs.security import ROLE_SUPPLIER
    supplier = next(p.eui for p in esme.security.remote_parties.values() if p.role == ROLE_SUPPLIER)
    crypto = GbcsCrypto(keys, acb_eui(keys))
    balance = esme.model.objects[(112, keypad.METER_BALANCE)]
    before = int(balance.get(2)["value"])
    counter = keypad.next_utrn_counter(esme)
    utrn = generate_utrn(crypto, supplier, esme.eui, counter, VALUE_CLASS_PENNIES, 1234)
    assert keypad.enter_utrn(esme, utrn)
    assert int(balance.get(2)["value"]) == before + 1234
    assert not keypad.enter_utrn(esme, utrn)                       # typed in again
    wrong = utrn[:-3] + ("000" if utrn[-3:] != "000" else "111")
    assert not keypad.enter_utrn(esme, wrong)
    assert int(balance.get(2)["value"]) == before + 1234
    assert _alert_codes(keys, sent) == [keypad.ALERT_CREDIT_ADDED_LOCALLY, keypad.ALERT_DUPLICATE_UTRN,
                                        keypad.ALERT_UTRN_NOT_AUTHENTIC]
    # the next UTRN (counter bits 32..41 only on the keypad) is accepted
    assert keypad.enter_utrn(esme, generate_utrn(crypto, supplier, esme.eui, keypad.next_utrn_counter(esme),
                                                 VALUE_CLASS_PENNIES, 1))
    assert esme.keypad.highest == counter + (1 << 32)


def test_esme_billing_captures_an_entry_and_sends_it_encrypted_for_the_supplier(keys):
    from emulator.devices.gbcs.events import BILLING_DATA_LOG, billing
    sent = []
    esme = _device("ESME", keys, sent)
    esme.model.objects[(3, "1-0:1.8.0.255")].writable(2)["value"] = 4321
    assert billing(esme)
    assert esme.model.buffers[BILLING_DATA_LOG][-1][:2] == (int(START) - 946684800, 4321)
    (m,) = [_decode(keys, x) for x in sent]
    assert m.frame.signing.message_code == 0x0061 and m.frame.signing.signature
    body = m.payload["notification_body"]["value"]
    assert body[0]["value"] == 0x8F0A
    entry = body[3]["protected"]["plaintext"]["value"][0]["value"][0]["value"]
    assert entry[1]["value"] == 4321 and len(entry) == 7          # single element: 7 columns


def test_gsme_billing_publishes_an_encrypted_snapshot(keys):
    from emulator.devices.gbcs.events import billing
    sent = []
    gsme = _device("GSME", keys, sent)
    gsme.zcl.attributes[(0x0702, 0x0000)] = 77
    assert billing(gsme)
    (m,) = [_decode(keys, x) for x in sent]
    assert m.frame.signing.message_code == 0x008B and m.payload["alert_code"] == 0x8F0A
    (comp,) = m.payload["components"]
    assert comp["encrypted"] and comp["zcl"]["command_id"] == 6
    snap = comp["zcl"]["ciphered_information"]["plaintext"]
    assert snap["SnapshotPayload"]["CurrentSummation"] == 77 and snap["SnapshotCause"] == 2
    assert not billing(_device("CHF", keys, []))
