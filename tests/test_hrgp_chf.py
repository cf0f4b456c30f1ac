"""CHF routing by business recipient id and the bounded, expiring queue for sleepy devices.

Messages are RTDS reference commands (their recipient system titles are the reference
ESME, GSME and GPF); the CHF alert is checked against the RTDS generic non-critical alert
(NA_GNCA-DLMS) for its structure and verified with the RTDS key store.
"""

from __future__ import annotations

import os

import pytest

from emulator.clock import VirtualClock
from protocols.gbcs.crypto import GbcsCrypto
from protocols.gbcs.framing import CRA_COMMAND, GeneralSigning, OtherInformation, encode_general_signing
from protocols.gbcs.keystore import KeyStore
from protocols.gbcs.message import decode_message
from protocols.hrgp.alerts import chf_alert
from protocols.hrgp.chf import ALERT_GSME_COMMAND_NOT_RETRIEVED, ChfRouter
from tests.gbcs_helpers import KEYSTORE, RTDS

pytestmark = pytest.mark.skipif(not RTDS.is_dir() and not os.environ.get("CI"),
                                reason="shared RTDS data not present")

CHF, GPF, ESME, GSME = 0x00DB1234567890A2, 0x00DB1234567890A3, 0x00DB1234567890A0, 0x00DB1234567890A1


def rtds(folder: str, name: str) -> bytes:
    return bytes.fromhex((RTDS / folder / name).read_text().strip())


def esme_command() -> bytes:
    return rtds("4.16_ECS17c", "ECS17c_4.16_SUCCESS_COMMAND_GBCS.HEX")


def gsme_commands() -> list[bytes]:
    """Reference commands addressed to the GSME (recipient 00DB1234567890A1)."""
    out = []
    for path in sorted(RTDS.glob("*GCS*/*COMMAND_GBCS.HEX")):
        msg = bytes.fromhex(path.read_text().strip())
        if decode_message(msg).frame.signing.recipient == GSME:
            out.append(msg)
    assert len(out) >= 4
    return out


class Harness:
    def __init__(self, clock, **kw) -> None:
        self.local, self.pushed, self.wan, self.alerts, self.counts = [], [], [], [], []
        self.tunnel_open = False
        self.router = ChfRouter(clock, CHF, GPF, deliver_local=lambda eui, m: self.local.append((eui, m)),
                                push=self.push, to_wan=self.wan.append,
                                alert=lambda code, item: self.alerts.append((code, item)),
                                count=self.counts.append, **kw)
        self.router.add_device(ESME, sleepy=False, kind="ESME")
        self.router.add_device(GSME, sleepy=True, kind="GSME")

    def push(self, eui, message, on_done) -> bool:
        if not self.tunnel_open:
            return False
        self.pushed.append((eui, message, on_done))
        return True


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(start=0.0)


def test_routes_by_business_recipient(clock) -> None:
    h = Harness(clock)
    gpf_cmd = rtds("4.3_GCS14", "GCS14_4.3_SUCCESS_RELIABLE_GPF_COMMAND_GBCS.HEX")
    chf_cmd = rtds("8.11_CCS01", next(p.name for p in (RTDS / "8.11_CCS01").glob("*COMMAND*")))
    assert h.router.from_wan(gpf_cmd) == "local"
    assert h.router.from_wan(chf_cmd) == "local"
    assert [eui for eui, _ in h.local] == [GPF, CHF]
    assert h.router.from_wan(gsme_commands()[0]) == "queued"
    assert h.router.from_wan(esme_command()) == "queued"  # no tunnel yet
    h.tunnel_open = True
    h.router.tunnel_opened(ESME)
    assert [(eui, m) for eui, m, _ in h.pushed] == [(ESME, esme_command())]
    assert h.router.pending(ESME) == 1
    h.pushed[0][2](True)
    assert h.router.pending(ESME) == 0
    assert h.router.from_wan(esme_command()) == "pushed"
    assert h.router.from_wan(b"\xDD\x00\x01") == "malformed"
    unknown = bytearray(esme_command())
    unknown[unknown.index(bytes.fromhex("00DB1234567890A0"))+7] = 0xEE
    assert h.router.from_wan(bytes(unknown)) == "unknown_recipient"
    assert h.counts == ["chf_malformed", "chf_unknown_recipient"]



def test_messages_from_devices(clock) -> None:
    """Up to the WAN, or to another HAN device when it is the recipient; a device speaks only for itself."""
    h = Harness(clock)
    response = rtds("4.16_ECS17c", "ECS17c_4.16_SUCCESS_RESPONSE_GBCS.HEX")
    assert h.router.from_device(ESME, response) == "upward"
    assert h.wan == [response]
    assert h.router.from_device(GSME, response) == "upward_wrong_originator"
    assert h.router.from_device(ESME, b"\xDD\x01") == "upward_malformed"
    assert h.wan == [response]
    assert h.counts == ["chf_upward_wrong_originator", "chf_upward_malformed"]
    # a message from the GSME whose business recipient is the ESME goes to the ESME
    to_esme = encode_general_signing(GeneralSigning(CRA_COMMAND, 7, GSME, ESME, None, OtherInformation(0x0028),
                                                    b"\x00", b""))
    h.tunnel_open = True
    assert h.router.from_device(GSME, to_esme) == "pushed"
    assert [(eui, m) for eui, m, _ in h.pushed] == [(ESME, to_esme)]


def test_failed_push_is_retried_not_lost(clock) -> None:
    h = Harness(clock, retry_interval=30.0)
    h.tunnel_open = True
    h.router.from_wan(esme_command())
    h.pushed.pop()[2](False)
    assert h.router.pending(ESME) == 1 and h.counts == ["chf_push_failed"]
    clock.advance(30.0)
    assert len(h.pushed) == 1
    h.pushed.pop()[2](True)
    assert h.router.pending(ESME) == 0


def test_sleepy_device_gets_its_messages_in_order(clock) -> None:
    h = Harness(clock)
    cmds = gsme_commands()[:3]
    for c in cmds:
        assert h.router.from_wan(c) == "queued"
    item, remaining = h.router.get(GSME)
    assert (item.message, remaining) == (cmds[0], 2)
    h.router.retrieval_failed(GSME, item)  # the GET-RESPONSE was lost: it goes back first
    got = []
    while True:
        item, remaining = h.router.get(GSME)
        if item is None:
            break
        got.append((item.message, remaining))
    assert got == [(cmds[0], 2), (cmds[1], 1), (cmds[2], 0)]
    assert h.alerts == []


def test_overflow_raises_the_alert_and_keeps_what_was_accepted(clock) -> None:
    h = Harness(clock, queue_limit=2)
    cmds = gsme_commands()[:3]
    assert [h.router.from_wan(c) for c in cmds] == ["queued", "queued", "queue_full"]
    assert [(code, item.message) for code, item in h.alerts] == [(ALERT_GSME_COMMAND_NOT_RETRIEVED, cmds[2])]
    assert [h.router.get(GSME)[0].message for _ in range(2)] == cmds[:2]
    assert h.router.get(GSME) == (None, 0)


def test_expiry_raises_the_alert(clock) -> None:
    h = Harness(clock, expiry=600.0)
    cmds = gsme_commands()[:2]
    h.router.from_wan(cmds[0])
    clock.advance(300.0)
    h.router.from_wan(cmds[1])
    clock.advance(299.0)
    assert h.alerts == []
    clock.advance(1.0)
    assert [(code, item.message, item.deadline) for code, item in h.alerts] == [
        (ALERT_GSME_COMMAND_NOT_RETRIEVED, cmds[0], 600.0)]
    item, remaining = h.router.get(GSME)
    assert (item.message, remaining) == (cmds[1], 0)
    clock.advance(1000.0)
    assert len(h.alerts) == 1, "a retrieved message does not expire"
    assert not clock.getDelayedCalls(), "an empty queue holds no timer"


def test_chf_alert_matches_the_reference_generic_alert() -> None:
    crypto = GbcsCrypto(KeyStore(KEYSTORE))
    msg = chf_alert(crypto, CHF, crypto.acb_eui, 0x1234, ALERT_GSME_COMMAND_NOT_RETRIEVED, 1772409600.0)
    decoded = decode_message(msg, crypto)
    assert decoded.verification.mac == "verified"
    ours = decoded.to_tree()
    ref = decode_message(rtds("NA_GNCA-DLMS", "GNCA-DLMS_NA_810E_ALERT_GBCS.HEX"), crypto).to_tree()
    for key in ("message_code", "cra", "signature"):
        assert ours[key] == ref[key], key
    assert ours["originator"] == "00DB1234567890A2" and ours["recipient"] == "90B3D51F30000002"
    shape = lambda tree: [item["type"] for item in tree["payload"]["notification_body"]["value"]]  # noqa: E731
    assert shape(ours) == shape(ref) == ["long-unsigned", "octet-string"]
    assert ours["payload"]["apdu"] == ref["payload"]["apdu"] == "Data-Notification"
    assert ours["payload"]["alert"]["alert_code"] == 0x819D
    assert ours["payload"]["alert"]["alert_name"] == "GSME Command Not Retrieved"
    assert ours["payload"]["alert"]["time_stamp"].startswith("2026-03-02T00:00:00")
