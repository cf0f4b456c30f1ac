"""CS14: the CHF Device Log and its back-up alert (0x0018, alert code 0x8F12).

The CHF sends the back-up whenever a device is added to or removed from its log (CCS01, CCS02,
CCS03) and whenever a hashed TC link key in it changes; the running Communications Hub's trust
centre and the CHF's COSEM object share that one log.  Layouts are checked against the DCC's
reference CS14 alert (RTDS), commands are the DCC's reference commands, the hash against the
ZigBee AES-MMO test vector.  The replay's rule for alerts of another use case raised as a side
effect of a command (CS14 after CCS01) is tested both ways.
"""

from __future__ import annotations

import os
import random
from types import SimpleNamespace

import pytest

from protocols.gbcs import GbcsCrypto, KeyStore, decode_message
from protocols.gbcs.framing import CRA_ALERT, CRA_RESPONSE
from protocols.gbcs.message import VERIFIED
from protocols.gbcs.payloads import dlms

from emulator.clock import VirtualClock
from emulator.devices.gbcs import Chf, provision
from emulator.devices.gbcs.chf_device_log import ChfDeviceLog, hash_tc_link_key
from emulator.devices.gbcs.device import dlms_date_time
from emulator.devices.gbcs.provisioning import acb_eui
from emulator.rtds_replay import compare_payload, replay, side_effect_alerts
from tests.gbcs_helpers import KEYSTORE, RTDS

if not RTDS.is_dir() or not KEYSTORE.is_dir():
    if os.environ.get("CI"):
        raise RuntimeError(f"reference data missing under CI: {RTDS} / {KEYSTORE}")
    pytest.skip("shared RTDS data not present", allow_module_level=True)

CHF = 0x00DB1234567890A2
ESME = bytes.fromhex("00DB1234567890A0")
START = 1420070400.0


def _rtds(folder: str, name: str) -> bytes:
    return bytes.fromhex("".join((RTDS / folder / name).read_text().split()))


REFERENCE_ALERT = ("NA_CS14", "CS14_NA_8F12_ALERT_GBCS.HEX")


@pytest.fixture
def chf():
    keys = KeyStore(KEYSTORE)
    sent: list[bytes] = []
    device = provision(Chf, CHF, keys, VirtualClock(START), sent.append, rng=random.Random(5))
    return device, sent, GbcsCrypto(keys, acb_eui(keys))


def _backups(sent: list[bytes], dcc: GbcsCrypto) -> list:
    """The CS14 alerts sent, checked as the DCC would (MAC by the CHF, to the ACB)."""
    out = []
    for raw in sent:
        msg = decode_message(raw, dcc)
        gs = msg.frame.signing
        if gs.cra_flag != CRA_ALERT:
            continue
        assert (gs.message_code, msg.payload["alert"]["alert_code"]) == (0x0018, 0x8F12)
        assert (gs.originator, gs.recipient) == (CHF, dcc.acb_eui)
        assert msg.frame.ciphering is not None and msg.verification.mac == VERIFIED, "non-critical: MACed"
        out.append(msg)
    return out


def _listed(alert) -> list[tuple[str, str]]:
    """(EUI-64, hashed TC link key) per entry of a CS14 back-up, in hex."""
    _code, _time, backup = alert.payload["notification_body"]["value"]
    return [(e["value"][0]["value"], e["value"][1]["value"]) for e in backup["value"][2]["value"]]


def test_ccs01_add_sends_the_backup_laid_out_as_the_reference(chf):
    device, sent, dcc = chf
    device.receive(_rtds("8.11_CCS01", "CCS01_8.11_SUCCESS_COMMAND_GBCS.HEX"))
    (alert,) = _backups(sent, dcc)
    ref = decode_message(_rtds(*REFERENCE_ALERT), dcc)
    assert compare_payload(ref.payload, alert.payload) is None
    _code, when, backup = alert.payload["notification_body"]["value"]
    stamp, pan, _entries = backup["value"]
    assert when["value"] == stamp["value"] == dlms_date_time(START).hex().upper()
    assert pan["value"] == f"{CHF:016X}", "the HAN's extended PAN id: the CH forms it with its own EUI-64"
    # no TC link key yet (GBCS CCS01): a zero-length hashed key
    assert _listed(alert) == [(ESME.hex().upper(), "")]
    responses = [decode_message(m, dcc) for m in sent if decode_message(m, dcc).frame.signing.cra_flag == CRA_RESPONSE]
    assert [s["result"] for s in responses[0].payload["access_response_specification"]] == [0, 0, 0]


def test_tc_link_key_then_removal(chf):
    device, sent, dcc = chf
    device.receive(_rtds("8.11_CCS01", "CCS01_8.11_SUCCESS_COMMAND_GBCS.HEX"))
    key = bytes(range(0xC0, 0xD0))
    assert device.tc_link_key_established(ESME, key)
    assert not device.tc_link_key_established(ESME, key), "the same key: the hash did not change"
    assert not device.tc_link_key_established(bytes(8), key), "a device not in the log"
    # the ZigBee AES-MMO one-block test vector
    assert hash_tc_link_key(key).hex().upper() == "A7977E88BC0B61E8210827109A228F2D"
    # CCS02's unregister_device (the reference CCS02 carries the same ACB counter as CCS01)
    assert device.model.action(104, Chf.CHF_DEVICE_LOG, 2, dlms.octet_string(ESME))[0] == 0
    added, keyed, removed = _backups(sent, dcc)
    assert _listed(keyed) == [(ESME.hex().upper(), "A7977E88BC0B61E8210827109A228F2D")]
    assert _listed(removed) == []
    assert ESME not in device.device_log


def test_a_device_already_in_the_log_changes_nothing(chf):
    device, sent, dcc = chf
    param = dlms.structure(dlms.octet_string(ESME), dlms.make_data("enum", 1), dlms.octet_string(bytes(16)),
                           dlms.make_data("enum", 0))
    assert device.model.action(104, Chf.CHF_DEVICE_LOG, 1, param)[0] == 0
    assert device.model.action(104, Chf.CHF_DEVICE_LOG, 1, param)[0] == 0
    assert len(_backups(sent, dcc)) == 1
    # the GPF's device log object (0-0:30.3.1.255) is not the CHF Device Log: no CS14
    assert device.model.action(104, "0-0:30.3.1.255", 1, param)[0] == 0
    assert len(_backups(sent, dcc)) == 1


def test_ccs03_restore_sends_the_restored_log(chf):
    device, sent, dcc = chf
    device.receive(_rtds("8.12.1_CCS03", "CCS03_8.12.1_SUCCESS_COMMAND_GBCS.HEX"))
    command = decode_message(_rtds("8.12.1_CCS03", "CCS03_8.12.1_SUCCESS_COMMAND_GBCS.HEX"), dcc)
    pan, entries = command.payload["access_request_list_of_data"][0]["value"]
    (alert,) = _backups(sent, dcc)
    assert _listed(alert) == [(e["value"][0]["value"], e["value"][1]["value"]) for e in entries["value"]]
    assert alert.payload["notification_body"]["value"][2]["value"][1]["value"] == pan["value"]


def test_restore_keeps_what_the_backup_does_not_carry():
    log = ChfDeviceLog()
    assert log.register(ESME, 1, b"k" * 16)
    assert log.tc_link_key_established(ESME, bytes(16))
    assert not log.restore(log.backup_entries()), "the same devices and hashes: no change"
    assert log.get(ESME) == (1, b"k" * 16)
    assert log.restore([])
    assert len(log) == 0


# --------------------------------------------------------------------------- the running home

def test_the_running_hub_sends_cs14_when_meters_establish_tc_link_keys():
    """Default single home: each meter's CBKE makes its TC link key; the trust centre records
    it in the CHF Device Log and the CHF sends the back-up over the WAN.  A CCS02 from the WAN
    removes a device from the same log the trust centre admits joiners by."""
    from emulator.dcc.devices import install_run_device_logic
    from emulator.estate import Estate
    from emulator.topology import load_topology
    from tests.test_home_gbcs import KEYS, SINGLE_HOME

    topology = load_topology(str(SINGLE_HOME), 1)
    clock = VirtualClock(start=topology.start_time)
    estate = Estate(topology, clock, 1)
    install_run_device_logic(estate, topology, 1)
    estate.start()
    clock.run_until(topology.start_time + 600)
    ch = estate.homes[0].nodes["ch"]
    keys = KeyStore(KEYS)
    dcc = GbcsCrypto(keys, acb_eui(keys))
    try:
        assert ch.cbke_keys, "the meters ran key establishment"
        alerts = [m for m in (decode_message(raw, dcc) for raw in ch.chf_tunnel.wan_messages)
                  if m.frame.signing.message_code == 0x0018]
        assert len(alerts) == len(ch.cbke_keys), "one back-up per TC link key established"
        for a in alerts:
            assert a.frame.signing.originator == ch.spec.eui64 and a.verification.mac == VERIFIED
        # the last back-up: every device of the log, with the hash of the key CBKE made where it ran
        expected = [(eui.hex().upper(), hash_tc_link_key(ch.cbke_keys[int.from_bytes(eui, "big")]).hex().upper()
                     if int.from_bytes(eui, "big") in ch.cbke_keys else "") for eui in ch.device_log]
        assert _listed(alerts[-1]) == expected
        esme = next(d.eui64 for d in topology.homes[0].devices if d.kind == "ESME")
        assert esme == int.from_bytes(ESME, "big") and ch._authorize(esme) is not None
        before = len(ch.chf_tunnel.wan_messages)
        ch.chf_tunnel.from_wan(_rtds("8.11_CCS02", "CCS02_8.11_SUCCESS_COMMAND_GBCS.HEX"))
        clock.run_until(clock.seconds() + 5)
        new = [decode_message(raw, dcc) for raw in list(ch.chf_tunnel.wan_messages)[before:]]
        assert sorted(m.frame.signing.message_code for m in new) == [0x0002, 0x0018]
        assert ch._authorize(esme) is None, "removed from the log the trust centre admits joiners by"
    finally:
        estate.close()


# --------------------------------------------------------------------------- the replay's rule

def _alert(code: int):
    return SimpleNamespace(frame=SimpleNamespace(signing=SimpleNamespace(message_code=code)))


def test_side_effect_rule_sets_aside_only_alerts_of_another_use_case():
    ccs01, ecs47e = 0x0001, 0x011F
    cs14, ecs101, generic_nc, generic_c, future_dated = _alert(0x0018), _alert(0x0121), _alert(0x1001), \
        _alert(0x1000), _alert(0x00CC)
    # CS14 after a CCS01, ECS101 after an ECS47e: another use case, not in the reference
    assert side_effect_alerts(ccs01, [], [cs14]) == ([], [cs14])
    assert side_effect_alerts(ecs47e, [], [ecs101]) == ([], [ecs101])
    # listed in the reference: compared
    assert side_effect_alerts(ccs01, [_alert(0x0018)], [cs14]) == ([cs14], [])
    # alerts that are no use case of their own, and the command's own use case: compared
    for a in (generic_nc, generic_c, future_dated, _alert(ccs01)):
        assert side_effect_alerts(ccs01, [], [a]) == ([a], [])


def test_a_spurious_generic_alert_still_fails_the_replay(monkeypatch):
    """Both ways, end to end: CCS01 passes with its CS14 set aside, and fails when the CHF also
    raises a generic alert the reference does not list."""
    outcomes = {o.test: o for o in replay(RTDS / "8.11_CCS01", KEYSTORE)}
    assert outcomes["CCS01_8.11_SUCCESS"].status == "passed"
    assert outcomes["CCS01_8.11_SUCCESS"].set_aside == ("0x0018 CS14 alert 0x8F12",)
    report = Chf.report_device_log

    def also_generic(self):
        report(self)
        self.raise_alert(0x8F12, critical=False)        # generic non-critical alert 0x1001
    monkeypatch.setattr(Chf, "report_device_log", also_generic)
    outcomes = {o.test: o for o in replay(RTDS / "8.11_CCS01", KEYSTORE)}
    assert outcomes["CCS01_8.11_SUCCESS"].status == "failed"
    assert "0x1001" in outcomes["CCS01_8.11_SUCCESS"].reason or "4097" in outcomes["CCS01_8.11_SUCCESS"].reason
