"""The dual-band CH's sub-GHz radio management (emulator.devices.gbcs.dualband): the duty-cycle
limit of the 868 MHz band counted per rolling hour, the CH's levels and their alerts, messages
discarded over the limit, device capacity, channel scans (DBCH05) and channel changes
(DBCH07, DBCH02's channel log, DBCH01's channel); the alert payloads follow the DCC's
DBCH06/07/10/11 reference alerts."""

from __future__ import annotations

import os

import pytest

from protocols.gbcs import decode_message
from protocols.gbcs.message import VERIFIED
from protocols.gbcs.payloads import dlms

from emulator.devices.gbcs import dualband
from emulator.devices.gbcs.dualband import DutyCycleConfig, SubGhzRadio

from tests.device_usecase_helpers import DEVICE_EUIS, command, home
from tests.gbcs_helpers import KEYSTORE, RTDS

if not RTDS.is_dir() or not KEYSTORE.is_dir():
    if os.environ.get("CI"):
        raise RuntimeError(f"reference data missing under CI: {RTDS} / {KEYSTORE}")
    pytest.skip("shared RTDS data not present", allow_module_level=True)

GSME = DEVICE_EUIS["GSME"]
SUPPLIER = 0x90B3D51F30010000


def _alerts(h):
    out = []
    for raw in h.sent:
        m = decode_message(raw, h.dcc)
        assert m.verification.mac == VERIFIED                # non-critical alerts are MACed
        body = m.payload["notification_body"]["value"]
        out.append((m.frame.signing.message_code, body[0]["value"], body[2:] and body[2]))
    h.sent.clear()
    return out


def test_duty_cycle_levels_rise_with_airtime_and_fall_as_the_hour_rolls():
    h = home("CHF")
    radio = h.device.sub_ghz
    t = h.clock.seconds()
    for i in range(17):                                     # 17 s in the hour: below half of 36 s
        assert radio.transmit(t + i, 1.0, GSME)
    assert radio.level == dualband.NORMAL and not h.sent
    assert radio.transmit(t + 20, 1.0, GSME)                # 18 s: limited (50%)
    (limited,) = _alerts(h)
    assert limited[:2] == (dualband.LIMITED_ACTION_ALERT, dualband.ALERT_LIMITED)
    assert limited[2] == dlms.octet_string(GSME.to_bytes(8, "big"))        # DBCH06: the device's EUI
    for i in range(9):                                      # to 27 s: critical (75%)
        radio.transmit(t + 30 + i, 1.0, GSME, essential=True)
    assert [a[1] for a in _alerts(h)] == [dualband.ALERT_CRITICAL]
    assert not radio.transmit(t + 50, 1.0, GSME)            # critical: non-essential traffic waits
    assert radio.transmit(t + 51, 1.0, GSME, essential=True)
    assert radio.airtime(t + 51) == 28.0
    # an hour after the first frames the airtime has rolled out: back to normal, step by step
    radio.transmit(t + 3600 + 60, 0.1, GSME, essential=True)
    assert radio.level == dualband.NORMAL
    assert [a[1] for a in _alerts(h)] == [dualband.ALERT_BELOW_LIMITED_CRITICAL, dualband.ALERT_BELOW_NORMAL_LIMITED]


def test_message_over_the_limit_is_discarded_with_its_identity():
    h = home("CHF")
    radio = SubGhzRadio(h.device, DutyCycleConfig(limit_s_per_hour=10.0, normal_limited=0.99,
                                                  limited_critical=0.995, critical_regulated=0.999))
    t = h.clock.seconds()
    assert radio.transmit(t, 9.5, GSME)
    assert not radio.transmit(t + 1, 1.0, GSME, message=(SUPPLIER, DEVICE_EUIS["ESME"], 1, 1000))
    (discard,) = _alerts(h)
    assert discard[:2] == (dualband.MESSAGE_DISCARDED_ALERT, dualband.ALERT_MESSAGE_DISCARDED)
    assert discard[2]["value"] == "90B3D51F3001000000DB1234567890A00100000000000003E8"
    assert radio.discarded == 1
    assert radio.airtime(t + 1) == 9.5                      # nothing was sent


def test_device_capacity():
    h = home("CHF")
    radio = SubGhzRadio(h.device, DutyCycleConfig(capacity=2))
    assert radio.admit(1) and radio.admit(2) and radio.admit(1)
    assert not radio.admit(3)
    assert _alerts(h) == [(dualband.NO_CAPACITY_ALERT, dualband.ALERT_NO_CAPACITY, dlms.octet_string(
        (3).to_bytes(8, "big")))]


def test_channel_scan_request_moves_to_a_quieter_allowed_channel():
    h = home("CHF")
    chf = h.device
    # allow page 28 channels 0-2 (DBCH04), then ask for a scan (DBCH05)
    cfg = chf.model.get(1, dualband.SUB_GHZ_CONFIGURATION, 2)[1]
    cfg["value"][0] = {"type": "bit-string", "bits": 32, "value": "E0000007"}
    spec = dlms.access_request_item("set", 1, dualband.SUB_GHZ_CONFIGURATION, 2)
    chf.receive(command(h, 0x010D, dlms.access_request(0, [spec], [cfg])))
    noisy = {0xE0000001: -70.0, 0xE0000002: -95.0, 0xE0000004: -80.0}
    chf.sub_ghz.energy = noisy.__getitem__
    h.sent.clear()
    spec = dlms.access_request_item("set", 1, dualband.SUB_GHZ_SCAN_REQUEST, 2)
    chf.receive(command(h, 0x010E, dlms.access_request(0, [spec], [dlms.make_data("unsigned", 0)])))
    assert len(h.sent) == 1                                 # the response; the scan takes its time
    h.sent.clear()
    h.clock.advance(chf.sub_ghz.config.scan_duration_s)
    alerts = _alerts(h)
    assert [a[:2] for a in alerts] == [(dualband.SCAN_OUTCOME_ALERT, dualband.ALERT_SCAN_OUTCOME),
                                       (dualband.CHANNEL_CHANGED_ALERT, dualband.ALERT_CHANNEL_CHANGED)]
    assert alerts[1][2]["value"][0]["value"] == "E0000002"
    assert chf.sub_ghz.channel() == 0xE0000002
    # DBCH01 reads the new channel, DBCH02's log holds the change
    spec = dlms.access_request_item("get", 1, dualband.SUB_GHZ_CHANNEL, 2)
    chf.receive(command(h, 0x010A, dlms.access_request(0, [spec], [dlms.make_data("null-data")])))
    p = decode_message(h.sent[-1], h.dcc).payload
    assert p["access_response_list_of_data"][0]["value"][0]["value"] == "E0000002"
    status, log = chf.model.profile(dualband.SUB_GHZ_CHANNEL_LOG)
    assert status == 0 and log["value"][-1]["value"][1]["value"] == dualband.ALERT_CHANNEL_CHANGED


def test_scan_stays_when_no_channel_is_quieter_by_the_margin():
    h = home("CHF")
    chf = h.device
    chf.sub_ghz.energy = lambda mask: -90.0
    chf.sub_ghz.request_scan()
    h.clock.advance(chf.sub_ghz.config.scan_duration_s)
    assert [a[:2] for a in _alerts(h)] == [(dualband.SCAN_OUTCOME_ALERT, dualband.ALERT_SCAN_OUTCOME)]
    assert chf.sub_ghz.channel() == dualband.DEFAULT_CHANNEL_MASK
