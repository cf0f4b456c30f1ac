"""Events a device notices on its own raise the GBCS alerts they name (checked against the RTDS
alert of the same code for its message code, recipient, protection and payload structure)."""

from __future__ import annotations

import os
import random

import pytest

from emulator.clock import VirtualClock
from emulator.devices.gbcs import Esme, Gsme, provision
from emulator.devices.gbcs.events import ECS80_ALERT, SUPPLY_OUTAGE_RESTORED, supply_outage
from emulator.rtds_replay import compare_payload
from protocols.gbcs.crypto import GbcsCrypto
from protocols.gbcs.keystore import KeyStore
from protocols.gbcs.message import VERIFIED, decode_message
from tests.gbcs_helpers import KEYSTORE, RTDS

pytestmark = pytest.mark.skipif(not RTDS.is_dir() and not os.environ.get("CI"),
                                reason="shared RTDS data not present")

START = 1420070400.0     # 2015-01-01


def device(cls, eui: int):
    keys = KeyStore(KEYSTORE)
    sent: list[bytes] = []
    dev = provision(cls, eui, keys, VirtualClock(START), sent.append, rng=random.Random(1))
    return dev, sent, GbcsCrypto(keys)


def test_a_long_supply_outage_raises_the_ecs80_alert_to_the_network_operator():
    esme, sent, crypto = device(Esme, 0x00DB1234567890A0)
    assert supply_outage(esme, START - 600.0, START - 60.0)
    (alert,) = [decode_message(m, crypto) for m in sent]
    ref = decode_message(bytes.fromhex((RTDS / "NA_ECS80" / "ECS80_NA_8F36_ALERT_GBCS.HEX").read_text().strip()),
                         crypto)
    gs, rs = alert.frame.signing, ref.frame.signing
    assert (gs.message_code, gs.originator, gs.recipient) == (ECS80_ALERT, rs.originator, rs.recipient)
    assert alert.frame.ciphering is None and alert.verification.signature == VERIFIED
    assert alert.payload["alert"]["alert_code"] == SUPPLY_OUTAGE_RESTORED
    assert compare_payload(ref.payload, alert.payload) is None
    times = [m["value"] for m in alert.payload["notification_body"]["value"][1:]]
    assert times == ["07DF0101FF000000008000FF", "07DE0C1FFF173200008000FF", "07DE0C1FFF173B00008000FF"]


def test_a_short_outage_is_logged_but_not_alerted():
    esme, sent, _ = device(Esme, 0x00DB1234567890A0)
    assert supply_outage(esme, START - 120.0, START - 1.0)
    assert sent == []
    assert esme.model.buffers["0-0:99.98.20.255"][-1] == (int(START - 1.0) - 946684800, SUPPLY_OUTAGE_RESTORED)


def test_a_gas_meter_has_no_supply_to_lose():
    gsme, sent, _ = device(Gsme, 0x00DB1234567890A1)
    assert not supply_outage(gsme, START - 600.0, START - 60.0)
    assert sent == []
