"""Device-side GBCS logic: security checks (replay, MAC, signature, role), state that persists
between commands, and item processing that stops at a fault.

Commands are the DCC reference commands (RTDS) or built here and protected with the reference
keys (the ACB's key MACs, the remote party's DS key signs), exactly as the DCC would.
"""

from __future__ import annotations

import copy
import os
import random
from pathlib import Path

import pytest

from protocols.gbcs import GbcsCrypto, KeyStore, decode_message
from protocols.gbcs.framing import (CRA_ALERT, CRA_COMMAND, CRA_RESPONSE, GeneralCiphering, GeneralSigning,
                                    OtherInformation, decode_frame)
from protocols.gbcs.message import VERIFIED, protect
from protocols.gbcs.payloads import dlms, encode_payload

from emulator.clock import VirtualClock
from emulator.devices.gbcs import Chf, Esme, Gsme, provision
from emulator.devices.gbcs.cosem import HARDWARE_FAULT, OTHER_REASON
from emulator.devices.gbcs.provisioning import acb_eui
from emulator.devices.gbcs.security import (ALERT_AUTH_FAILED, ALERT_MAC_FAILED, ALERT_NO_AUTHORITY,
                                            ALERT_SIGNATURE_FAILED)
from tests.gbcs_helpers import KEYSTORE, RTDS

if not RTDS.is_dir() or not KEYSTORE.is_dir():
    if os.environ.get("CI"):
        raise RuntimeError(f"reference data missing under CI: {RTDS} / {KEYSTORE}")
    pytest.skip("shared RTDS data not present", allow_module_level=True)

ESME = 0x00DB1234567890A0
SUPPLIER = 0x90B3D51F30010000
NETWORK_OPERATOR = 0x90B3D51F30020000
START = 1420070400.0


def _hex(path: Path) -> bytes:
    return bytes.fromhex("".join(path.read_text().split()))


def _rtds(folder: str, name: str) -> bytes:
    return _hex(RTDS / folder / name)


@pytest.fixture
def home():
    """A provisioned ESME with the reference keys, its outbox and the DCC-side crypto."""
    keys = KeyStore(KEYSTORE)
    clock = VirtualClock(START)
    sent: list[bytes] = []
    device = provision(Esme, ESME, keys, clock, sent.append, rng=random.Random(7))
    dcc = GbcsCrypto(keys, acb_eui(keys))
    return device, sent, dcc


def _decoded(sent: list[bytes], dcc: GbcsCrypto):
    return [decode_message(m, dcc) for m in sent]


def _snapshot(device):
    return (copy.deepcopy(device.model.objects), dict(device.security.counters))


def _command(dcc: GbcsCrypto, code: int, counter: int, specs: list, data: list, *, originator: int = SUPPLIER,
             sign: bool = False) -> bytes:
    """A DLMS command protected as the DCC would: signed by the originator if asked, MACed by the ACB."""
    payload = encode_payload(dlms.access_request(counter, specs, data))
    gs = GeneralSigning(CRA_COMMAND, counter, originator, ESME, None, OtherInformation(code), payload, b"")
    return protect(gs, dcc, GeneralCiphering(b""), sign=sign)


def _assert_rejected(device, sent, dcc, before, alert_code: int) -> None:
    msgs = _decoded(sent, dcc)
    assert [m.frame.signing.cra_flag for m in msgs] == [CRA_ALERT], "no response, one alert"
    alert = msgs[0]
    assert alert.payload["alert"]["alert_code"] == alert_code
    # a critical alert: DF only, signed with the device's DS key, verifiable by the DCC
    assert alert.frame.ciphering is None and alert.verification.signature == VERIFIED
    assert _snapshot(device) == before, "a rejected command changes nothing"
    assert device.counters.rejected.get(alert_code) == 1


def test_reference_command_is_answered_and_verifies(home):
    device, sent, dcc = home
    device.receive(_rtds("4.12.1_ECS18b", "ECS18b_4.12.1_SUCCESS_COMMAND_GBCS.HEX"))
    (resp,) = _decoded(sent, dcc)
    gs = resp.frame.signing
    assert gs.cra_flag == CRA_RESPONSE and gs.originator == ESME and gs.recipient == SUPPLIER
    assert gs.originator_counter == 1001 and gs.message_code == 0x002C
    assert resp.verification.mac == VERIFIED
    assert [s["result"] for s in resp.payload["access_response_specification"]] == [0] * 9


def test_replayed_counter_is_rejected(home):
    device, sent, dcc = home
    cmd = _rtds("4.12.1_ECS18b", "ECS18b_4.12.1_SUCCESS_COMMAND_GBCS.HEX")
    device.receive(cmd)
    assert len(sent) == 1
    sent.clear()
    before = _snapshot(device)
    device.receive(cmd)
    _assert_rejected(device, sent, dcc, before, ALERT_AUTH_FAILED)


def test_bad_mac_is_rejected(home):
    device, sent, dcc = home
    cmd = bytearray(_rtds("4.12.1_ECS18b", "ECS18b_4.12.1_SUCCESS_COMMAND_GBCS.HEX"))
    cmd[-1] ^= 0x01
    before = _snapshot(device)
    device.receive(bytes(cmd))
    _assert_rejected(device, sent, dcc, before, ALERT_MAC_FAILED)


def test_bad_signature_is_rejected(home):
    """A critical tariff command whose signature is damaged, re-MACed so only the signature fails."""
    device, sent, dcc = home
    frame = decode_frame(_rtds("1.1.2_ECS01c", "ECS01c_1.1.2_IMMEDIATE_SUCCESS_COMMAND_GBCS.HEX"))
    gs = frame.signing
    bad = bytearray(gs.signature)
    bad[5] ^= 0x40
    forged = GeneralSigning(gs.cra_flag, gs.originator_counter, gs.originator, gs.recipient, gs.date_time,
                            gs.other_information, gs.content, bytes(bad))
    before = _snapshot(device)
    device.receive(protect(forged, dcc, GeneralCiphering(b"")))
    _assert_rejected(device, sent, dcc, before, ALERT_SIGNATURE_FAILED)
    # the genuine command is then accepted: the rejected one did not consume its counter
    sent.clear()
    device.receive(_rtds("1.1.2_ECS01c", "ECS01c_1.1.2_IMMEDIATE_SUCCESS_COMMAND_GBCS.HEX"))
    (resp,) = _decoded(sent, dcc)
    assert resp.frame.signing.cra_flag == CRA_RESPONSE and resp.verification.signature == VERIFIED


def test_wrong_role_is_rejected(home):
    """A network operator may not update the import tariff (DUIS 1.1.2: import supplier only)."""
    device, sent, dcc = home
    frame = decode_frame(_rtds("1.1.2_ECS01c", "ECS01c_1.1.2_IMMEDIATE_SUCCESS_COMMAND_GBCS.HEX"))
    gs = frame.signing
    as_no = GeneralSigning(gs.cra_flag, gs.originator_counter, NETWORK_OPERATOR, gs.recipient, gs.date_time,
                           gs.other_information, gs.content, b"")
    before = _snapshot(device)
    device.receive(protect(as_no, dcc, GeneralCiphering(b""), sign=True))
    _assert_rejected(device, sent, dcc, before, ALERT_NO_AUTHORITY)


def test_state_persists_between_commands(home):
    """A set (ECS37 by the network operator, maximum demand period schedule) is what a later
    read (ECS18b by the supplier) returns."""
    device, sent, dcc = home
    entry = dlms.structure(dlms.make_data("long-unsigned", 1), dlms.make_data("boolean", True),
                           dlms.octet_string(bytes.fromhex("00000A0064FF")), dlms.make_data("long-unsigned", 1),
                           dlms.octet_string(bytes.fromhex("091E0000")), dlms.octet_string(bytes.fromhex("FF")))
    schedule = dlms.array(entry)
    spec = lambda kind: dlms.access_request_item(kind, 10, "0-0:12.0.0.255", 2)  # noqa: E731
    device.receive(_command(dcc, 0x004A, 5000, [spec("set")], [schedule], originator=NETWORK_OPERATOR))
    device.receive(_command(dcc, 0x002C, 5001, [spec("get")], [dlms.make_data("null-data")]))
    set_resp, get_resp = _decoded(sent, dcc)
    assert set_resp.payload["access_response_specification"][0]["result"] == 0
    assert get_resp.payload["access_response_specification"][0]["result"] == 0
    got = get_resp.payload["access_response_list_of_data"][0]
    assert dlms.encode_data(got) == dlms.encode_data(schedule)


def test_set_of_wrong_type_is_refused_and_changes_nothing(home):
    device, sent, dcc = home
    spec = dlms.access_request_item("set", 10, "0-0:12.0.0.255", 2)
    before = copy.deepcopy(device.model.objects)
    device.receive(_command(dcc, 0x004A, 5000, [spec], [dlms.make_data("long-unsigned", 3)],
                            originator=NETWORK_OPERATOR))
    (resp,) = _decoded(sent, dcc)
    assert resp.payload["access_response_specification"][0]["result"] == 12   # type unmatched
    assert device.model.objects == before


def test_processing_stops_at_a_faulty_item(home):
    """Items after the one that failed are not processed (other-reason) and not applied."""
    device, sent, dcc = home
    device.model.faults[(1, "0-0:94.44.6.2", "set", 2)] = HARDWARE_FAULT
    specs = [dlms.access_request_item("set", 1, f"0-0:94.44.6.{i}", 2) for i in (1, 2, 3)]
    data = [dlms.make_data("boolean", True)] * 3
    device.receive(_command(dcc, 0x005F, 5000, specs, data))   # ECS62
    (resp,) = _decoded(sent, dcc)
    assert [s["result"] for s in resp.payload["access_response_specification"]] == \
        [0, HARDWARE_FAULT, OTHER_REASON]
    assert device.model.get(1, "0-0:94.44.6.1", 2)[1]["value"] is True
    assert device.model.get(1, "0-0:94.44.6.3", 2)[1]["value"] is False


def test_malformed_message_raises_an_alert_and_never_crashes(home):
    device, sent, dcc = home
    for junk in (b"", b"\xdd", b"\xdf" + bytes(40), bytes(range(256))):
        device.receive(junk)
    assert device.counters.rejected.get(0x8F1E) == 4
    assert all(m.frame.signing.cra_flag == CRA_ALERT for m in _decoded(sent, dcc))


def test_future_dated_tariff_activates_at_its_time_and_alerts(home):
    """ECS01c future dated: nothing changes until 2030-01-15 09:00; then the passive tariff
    becomes active and the device raises 8F66 (message code 0x00CC) for each activation."""
    device, sent, dcc = home
    device.receive(_rtds("1.1.2_ECS01c", "ECS01c_1.1.2_FUTURE_DATED_SUCCESS_COMMAND_GBCS.HEX"))
    (resp,) = _decoded(sent, dcc)
    assert resp.frame.signing.cra_flag == CRA_RESPONSE
    sent.clear()
    matrix = device.model.objects[(113, "0-0:19.20.5.255")]
    assert 6 in matrix.attributes and 5 not in matrix.attributes     # passive only, for now
    clock = device.clock
    activation = 1894698000.0                                        # 2030-01-15T09:00:00Z
    clock.run_until(activation - 1)
    assert sent == [] and 5 not in matrix.attributes
    clock.run_until(activation)
    alerts = _decoded(sent, dcc)
    assert len(alerts) == 3
    for a in alerts:
        assert a.frame.signing.message_code == 0x00CC and a.payload["alert"]["alert_code"] == 0x8F66
        assert a.payload["alert"]["future_dated"]["originator_counter"] == 1003
        assert a.verification.signature == VERIFIED
    assert matrix.attributes[5] == matrix.attributes[6]


def test_cancelled_future_dated_tariff_never_activates(home):
    device, sent, dcc = home
    device.receive(_rtds("1.1.2_ECS01c", "ECS01c_1.1.2_FUTURE_DATED_SUCCESS_COMMAND_GBCS.HEX"))
    device.receive(_rtds("1.1.2_ECS01c", "ECS01c_1.1.2_CANCELLATION_SUCCESS_COMMAND_GBCS.HEX"))
    assert len(sent) == 2
    device.clock.run_until_idle()
    assert len(sent) == 2
    assert 5 not in device.model.objects[(113, "0-0:19.20.5.255")].attributes


def test_chf_device_log_follows_ccs01(home):
    """CCS01 (ACB-originated for the supplier) adds a device to the CHF device log; a read of
    the log (CCS06) after it lists that device."""
    _esme, _sent, dcc = home
    keys = KeyStore(KEYSTORE)
    sent: list[bytes] = []
    chf = provision(Chf, 0x00DB1234567890A2, keys, VirtualClock(START), sent.append, rng=random.Random(3))
    chf.receive(_rtds("8.9_CCS06", "CCS06_8.9_SUCCESS_COMMAND_GBCS.HEX"))        # counter 1000
    chf.receive(_rtds("8.11_CCS01", "CCS01_8.11_SUCCESS_COMMAND_GBCS.HEX"))      # counter 1002
    before, backup, added = _decoded(sent, dcc)
    assert before.payload["access_response_list_of_data"][0]["value"] == []
    # adding the device changed the log: the CHF sent its CS14 back-up before the response
    assert (backup.frame.signing.cra_flag, backup.frame.signing.message_code) == (CRA_ALERT, 0x0018)
    assert [s["result"] for s in added.payload["access_response_specification"]] == [0, 0, 0]
    (entry,) = chf.model.get(104, "0-0:30.3.0.255", 4)[1]["value"]
    cmd = decode_message(_rtds("8.11_CCS01", "CCS01_8.11_SUCCESS_COMMAND_GBCS.HEX"), dcc)
    eui = cmd.payload["access_request_list_of_data"][0]["value"][0]["value"]
    assert entry["value"][0]["value"] == eui
    # the response goes back to the ACB, which originated the command for the supplier
    assert added.frame.signing.recipient == 0x90B3D51F30000002
    assert added.frame.signing.other_information.supplementary_remote_party_id == SUPPLIER
    assert added.verification.mac == VERIFIED


def test_rejections_are_recorded_in_the_security_log(home):
    """A bad MAC leaves its event in the security log, which a later read (ECS35b) returns."""
    device, sent, dcc = home
    cmd = bytearray(_rtds("4.12.1_ECS18b", "ECS18b_4.12.1_SUCCESS_COMMAND_GBCS.HEX"))
    cmd[-3] ^= 0x10
    device.receive(bytes(cmd))
    sent.clear()
    device.receive(_rtds("6.13_ECS35b", "ECS35b_6.13_SUCCESS_COMMAND_GBCS.HEX"))
    (resp,) = _decoded(sent, dcc)
    (log,) = resp.payload["access_response_list_of_data"]
    assert log["type"] == "compact-array"
    assert [row["value"][1]["value"] for row in log["value"]] == [ALERT_MAC_FAILED]


def test_join_then_unjoin_a_partner(home):
    """CS03B joins the GPF to the GSME's log, CS04B removes it; an unknown partner is reported."""
    _esme, _sent, dcc = home
    keys = KeyStore(KEYSTORE)
    sent: list[bytes] = []
    gsme = provision(Gsme, 0x00DB1234567890A1, keys, VirtualClock(START), sent.append, rng=random.Random(5))
    gsme.receive(_rtds("8.7.2_CS03B", "CS03B_8.7.2_SUCCESS_COMMAND_GBCS.HEX"))
    join = decode_message(_rtds("8.7.2_CS03B", "CS03B_8.7.2_SUCCESS_COMMAND_GBCS.HEX"), dcc)
    partner = join.payload["value"]["otherDeviceEntityIdentifier"]
    assert gsme.asn1_state.partners == {partner: 3}
    (resp,) = _decoded(sent, dcc)
    assert resp.payload["value"] == 0
    # method B joins a GSME to a GPF only: the same join for a PPMID is refused
    assert gsme.predicts_error(join.frame, {"kind": "asn1", "value": dict(join.payload["value"], otherDeviceType=5)})


def test_gsme_calendar_published_then_read_back(home):
    """GCS05 publishes a friendly credit calendar (three day profiles); a later GCS21b read
    returns those day profiles, not the commissioned ones."""
    _esme, _sent, dcc = home
    keys = KeyStore(KEYSTORE)
    sent: list[bytes] = []
    gsme = provision(Gsme, 0x00DB1234567890A1, keys, VirtualClock(START), sent.append, rng=random.Random(5))
    publish = _rtds("2.1_GCS05", "GCS05_2.1_IMMEDIATE_SUCCESS_COMMAND_GBCS.HEX")
    # the reference read uses the same counter as the publish: send it with the next one
    gs = decode_frame(_rtds("4.13_GCS21b", "GCS21b_4.13_SUCCESS_COMMAND_GBCS.HEX")).signing
    read = protect(GeneralSigning(gs.cra_flag, gs.originator_counter + 1, gs.originator, gs.recipient, None,
                                  gs.other_information, gs.content, b""), dcc, GeneralCiphering(b""))
    gsme.receive(publish)
    gsme.receive(read)
    published, answer = _decoded(sent, dcc)
    days = [c["zcl"]["payload"] for c in answer.payload["components"]
            if c["cluster_id"] == 0x0707 and c["zcl"]["command_id"] == 1]
    sent_days = [c["zcl"]["payload"] for c in decode_message(publish, dcc).payload["components"]
                 if c["cluster_id"] == 0x0707 and c["zcl"]["command_id"] == 1]
    assert [d["DayScheduleEntries"] for d in days] == [d["DayScheduleEntries"] for d in sent_days]
    assert len(days) == 3


def test_same_seed_same_bytes():
    """Two homes provisioned with the same seed answer a critical command with identical bytes
    (deterministic signatures); another seed gives another device key and other bytes."""
    outputs = []
    for seed in (11, 11, 12):
        sent: list[bytes] = []
        device = provision(Esme, ESME, KeyStore(KEYSTORE), VirtualClock(START), sent.append, rng=random.Random(seed))
        device.receive(_rtds("1.1.2_ECS01c", "ECS01c_1.1.2_IMMEDIATE_SUCCESS_COMMAND_GBCS.HEX"))
        outputs.append(sent)
    assert outputs[0] == outputs[1]
    assert outputs[0] != outputs[2]


def _resend(dcc: GbcsCrypto, raw: bytes, counter: int) -> bytes:
    """A reference command sent again with another originator counter, re-MACed by the ACB."""
    gs = decode_frame(raw).signing
    return protect(GeneralSigning(gs.cra_flag, counter, gs.originator, gs.recipient, None, gs.other_information,
                                  gs.content, b""), dcc, GeneralCiphering(b""))


def test_gsme_top_up_is_in_the_top_up_log(home):
    """CS01b credits the meter with an authentic UTRN; GCS15e then reads it from the top-up log."""
    _esme, _sent, dcc = home
    sent: list[bytes] = []
    gsme = provision(Gsme, 0x00DB1234567890A1, KeyStore(KEYSTORE), VirtualClock(START), sent.append,
                     rng=random.Random(5))
    top_up = _rtds("2.2_CS01b", "CS01b_2.2_SUCCESS_COMMAND_GBCS.HEX")
    gsme.receive(top_up)
    counter = decode_frame(top_up).signing.originator_counter
    gsme.receive(_resend(dcc, _rtds("4.4.5_GCS15e", "GCS15e_4.4.5_SUCCESS_COMMAND_GBCS.HEX"), counter + 1))
    credited, log = _decoded(sent, dcc)
    result = credited.payload["components"][0]["zcl"]["payload"]
    assert result["ResultType"] == 0 and result["TopUpValue"] == 1250000      # 1250 pennies
    (entry,) = log.payload["components"][0]["zcl"]["payload"]["TopUpPayload"]
    utrn = decode_message(top_up, dcc).payload["components"][0]["zcl"]["payload"]["TopUpCode"]
    assert entry["TopUpCode"] == utrn and entry["TopUpAmount"] == 1250000
    # the same UTRN in a later command is refused (its tag binds the command counter): no credit
    sent.clear()
    gsme.receive(_resend(dcc, top_up, counter + 2))
    (again,) = _decoded(sent, dcc)
    assert again.payload["components"][0]["zcl"]["payload"]["ResultType"] != 0


def test_replaced_supplier_certificate_is_what_signatures_are_checked_against(home):
    """After CS02b (supplier by supplier) installs new supplier certificates, a critical command
    signed with the old supplier key no longer verifies: the device answers 0x8F3D."""
    device, sent, dcc = home
    tariff = _rtds("1.1.2_ECS01c", "ECS01c_1.1.2_IMMEDIATE_SUCCESS_COMMAND_GBCS.HEX")
    device.receive(_resend_signed(dcc, tariff, 999))            # before: the old key is trusted
    (before,) = _decoded(sent, dcc)
    assert before.frame.signing.cra_flag == CRA_RESPONSE
    sent.clear()
    device.receive(_rtds("6.15.1_CS02bSupplierBySupplier",
                         "CS02bSupplierBySupplier_6.15.1_IMMEDIATE_SUCCESS_COMMAND_GBCS.HEX"))
    (resp,) = _decoded(sent, dcc)
    outcomes = resp.payload["value"]["executionOutcome"]["replacementOutcomes"]
    assert [o["statusCode"] for o in outcomes] == ["success"] * 3
    assert device.security.cells[(2, "80", None)][1] == outcomes[0]["replacingSubjectKeyIdentifier"]
    sent.clear()
    device.receive(_resend_signed(dcc, tariff, 5000))
    (alert,) = _decoded(sent, dcc)
    assert alert.payload["alert"]["alert_code"] == ALERT_SIGNATURE_FAILED


def _resend_signed(dcc: GbcsCrypto, raw: bytes, counter: int) -> bytes:
    """A signed reference command re-signed (same key) with another counter and re-MACed."""
    gs = decode_frame(raw).signing
    return protect(GeneralSigning(gs.cra_flag, counter, gs.originator, gs.recipient, None, gs.other_information,
                                  gs.content, b""), dcc, GeneralCiphering(b""), sign=True)
