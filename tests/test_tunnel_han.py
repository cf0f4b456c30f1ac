"""GBCS over the emulated HAN: CHF routing, the GB-HRGP tunnel and the sleepy GSME, end to end.

Everything runs on the real stack (MAC, NWK/APS security, APS fragmentation, the radio
medium with its impairments) in virtual time.  The devices' GBCS application is a small
test application that answers a command with the reference response of the same RTDS test,
or with a message it builds; the judge of what is on the air is tshark.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import pytest

from protocols.gbcs.crypto import GbcsCrypto
from protocols.gbcs.framing import CRA_COMMAND, CRA_RESPONSE, GeneralCiphering, GeneralSigning, OtherInformation
from protocols.gbcs.keystore import KeyStore
from protocols.gbcs.message import decode_message, protect
from tests.gbcs_helpers import KEYSTORE, RTDS, split_rtds
from tests.han_helpers import SINGLE_HOME, needs_tshark, run_estate, topology_text, tshark_fields

pytestmark = pytest.mark.skipif(not RTDS.is_dir() and not os.environ.get("CI"),
                                reason="shared RTDS data not present")

ACB, ESME, GSME = 0x90B3D51F30000002, 0x00DB1234567890A0, 0x00DB1234567890A1
GCS14 = RTDS / "4.3_GCS14" / "GCS14_4.3_SUCCESS_UNRELIABLE_COMMAND_GBCS.HEX"


def rtds(path: Path) -> bytes:
    return bytes.fromhex(path.read_text().strip())


def reference_pair(path: Path) -> tuple[bytes, bytes]:
    """An RTDS command and the response of the same test."""
    return rtds(path), rtds(path.with_name(path.name.replace("_COMMAND_", "_RESPONSE_")))


def sized_message(size: int, cra: int, originator: int, recipient: int, code: int, crypto) -> bytes:
    """A MACed GBCS message of exactly C{size} octets (content filled with a counting pattern)."""
    n = size - 60
    while True:
        gs = GeneralSigning(cra, 0x1000 + size, originator, recipient, None, OtherInformation(code),
                            bytes(i & 0xFF for i in range(n)), b"")
        msg = protect(gs, crypto, GeneralCiphering(b""))
        if len(msg) == size:
            return msg
        n += size - len(msg)


class Application:
    """The test's device GBCS application: records what arrives and answers from C{answers}."""

    def __init__(self, device, send, answers: dict[bytes, bytes], log: list) -> None:
        self.device, self.send, self.answers, self.log = device, send, answers, log

    def receive(self, message: bytes) -> None:
        self.log.append((self.device.spec.name, self.device.clock.seconds(), message))
        answer = self.answers.get(message)
        if answer is not None:
            self.send(answer)


def install(answers: dict[bytes, bytes], log: list, wakes: list | None = None, at_wake=None):
    """A before_run hook: plug the test application in, and record the GSME's wakes."""

    def hook(estate, clock) -> None:
        home = estate.homes[0]
        home.gbcs_application_factory = lambda device, send: Application(device, send, answers, log)
        if wakes is not None:
            gsme = home.nodes["gsme"]
            wake = gsme._wake

            def recorded_wake() -> None:
                wakes.append(clock.seconds())
                wake()
                if at_wake is not None:
                    at_wake(home, len(wakes), clock)

            gsme._wake = recorded_wake
    return hook


def test_1500_octet_messages_cross_a_lossy_han(tmp_path: Path) -> None:
    """1,500-octet commands to the ESME (pushed) and the sleepy GSME (GET on wake) and their
    1,500-octet responses, with 10% frame loss on the medium."""
    crypto = GbcsCrypto(KeyStore(KEYSTORE))
    answers, scheduled = {}, ""
    for eui, code, at in ((ESME, 0x0028, 120), (GSME, 0x0075, 130)):
        command = sized_message(1500, CRA_COMMAND, ACB, eui, code, crypto)
        answers[command] = sized_message(1500, CRA_RESPONSE, eui, ACB, code, crypto)
        assert decode_message(command, crypto, decode_payload=False).verification.mac == "verified"
        scheduled += f"      - {{at: {at}, hex: {command.hex()}}}\n"
    log: list = []
    text = _without_scheduled(topology_text("{loss: 0.1}")).replace("wake_interval: 1800", "wake_interval: 600")
    text = text.replace("    han:\n", f"    gbcs_commands:\n{scheduled}    han:\n", 1)
    estate = run_estate(tmp_path, text, seed=3, duration=1500, pcap=False, before_run=install(answers, log))
    ch = estate.homes[0].nodes["ch"]
    assert sorted((name, msg) for name, _, msg in log) == sorted(zip(("esme", "gsme"), answers))
    assert sorted(ch.chf_tunnel.wan_messages) == sorted(answers.values())
    lost = estate.metrics.registry.get_sample_value("smets_frames_dropped_total", {"medium": "han", "reason": "loss"})
    assert lost and lost > 50, "the medium did lose frames"
    assert estate.errors == 0


def test_sleeping_gsme_gets_the_command_at_its_next_wake(tmp_path: Path) -> None:
    command, response = reference_pair(GCS14)
    log: list = []
    wakes: list[float] = []
    sent_at: list[float] = []

    def at_wake(home, n, clock) -> None:
        if n == 1:  # 60 s after its first periodic wake the GSME is asleep again
            def deliver() -> None:
                sent_at.append(clock.seconds())
                assert home.nodes["ch"].chf_tunnel.from_wan(command) == "queued"
            clock.callLater(60.0, deliver)

    text = _without_scheduled(topology_text().replace("wake_interval: 1800", "wake_interval: 600"))
    estate = run_estate(tmp_path, text, seed=5, duration=2000, pcap=False,
                        before_run=install({command: response}, log, wakes, at_wake))
    ch = estate.homes[0].nodes["ch"]
    gsme = estate.homes[0].nodes["gsme"]
    assert len(sent_at) == 1
    next_wake = min(t for t in wakes if t > sent_at[0])
    assert next_wake - sent_at[0] == pytest.approx(540.0)
    [(name, received_at, msg)] = log
    assert (name, msg) == ("gsme", command)
    assert next_wake <= received_at < next_wake + 10.0, "delivered when it woke, not before"
    assert list(ch.chf_tunnel.wan_messages) == [response]
    assert ch.chf_tunnel.router.pending(GSME) == 0
    assert gsme.tunnel.received == 1 and gsme.tunnel.sent == 1
    assert estate.errors == 0


def test_esme_reopens_a_tunnel_the_ch_closed_for_inactivity(tmp_path: Path) -> None:
    command, response = reference_pair(RTDS / "4.16_ECS17c" / "ECS17c_4.16_SUCCESS_COMMAND_GBCS.HEX")
    log: list = []
    text = _without_scheduled(topology_text(ch="close_tunnel_timeout: 100"))
    text = text.replace("    han:\n", f"    gbcs_commands:\n      - {{at: 700, hex: {command.hex()}}}\n    han:\n", 1)
    estate = run_estate(tmp_path, text, seed=9, duration=900, pcap=False, before_run=install({command: response}, log))
    ch = estate.homes[0].nodes["ch"]
    assert ch.chf_tunnel.server.closed_inactive >= 5, "idle tunnels were closed"
    assert ch.chf_tunnel.server.opened >= ch.chf_tunnel.server.closed_inactive
    assert [(name, msg) for name, _, msg in log] == [("esme", command)]
    assert list(ch.chf_tunnel.wan_messages) == [response]
    assert estate.errors == 0


def _without_scheduled(text: str) -> str:
    """The shipped topology without its scheduled commands (the test delivers its own)."""
    start = text.index("    gbcs_commands:")
    end = text.index("    han:")
    return text[:start] + text[end:]


def _queue_test(tmp_path: Path, ch_options: str, n_commands: int, duration: float):
    commands = [rtds(p) for p in sorted(RTDS.glob("*GCS*/*COMMAND_GBCS.HEX"))]
    commands = [c for c in commands if split_rtds(c.hex())[1] == CRA_COMMAND
                and decode_message(c).frame.signing.recipient == GSME][:n_commands]
    assert len(commands) == n_commands
    log: list = []
    wakes: list[float] = []
    outcomes: list[str] = []

    def at_wake(home, n, clock) -> None:
        if n == 1:
            for i, c in enumerate(commands):
                clock.callLater(60.0 + i, lambda c=c: outcomes.append(home.nodes["ch"].chf_tunnel.from_wan(c)))

    text = topology_text(ch=f"gbcs_keys: {KEYSTORE}\n{ch_options}").replace("wake_interval: 1800", "wake_interval: 600")
    text = _without_scheduled(text)
    estate = run_estate(tmp_path, text, seed=7, duration=duration, pcap=False,
                        before_run=install({}, log, wakes, at_wake))
    return estate, commands, outcomes, log


def _alerts(estate) -> list[int]:
    crypto = GbcsCrypto(KeyStore(KEYSTORE))
    out = []
    for msg in estate.homes[0].nodes["ch"].chf_tunnel.wan_messages:
        decoded = decode_message(msg, crypto)
        assert decoded.verification.mac == "verified"
        assert decoded.frame.signing.originator == 0x00DB1234567890A2
        out.append(decoded.to_tree()["payload"]["alert"]["alert_code"])
    return out


def test_queue_overflow_raises_the_alert_and_loses_nothing_accepted(tmp_path: Path) -> None:
    estate, commands, outcomes, log = _queue_test(tmp_path, "tunnel_queue_limit: 2", 3, 1500)
    assert outcomes == ["queued", "queued", "queue_full"]
    assert _alerts(estate) == [0x819D]
    assert [msg for _, _, msg in log] == commands[:2]


def test_expired_command_raises_the_alert(tmp_path: Path) -> None:
    estate, commands, outcomes, log = _queue_test(tmp_path, "tunnel_queue_expiry: 100", 1, 1500)
    assert outcomes == ["queued"]
    assert _alerts(estate) == [0x819D]
    assert log == [], "an expired command is not delivered"


@needs_tshark
def test_default_run_carries_gbcs_and_tshark_names_each_message(tmp_path: Path) -> None:
    """The shipped single-home topology's scheduled commands on the air, as Wireshark sees them."""
    from emulator.topology import load_topology
    scheduled = [c.message for c in load_topology(str(SINGLE_HOME), 1).homes[0].gbcs_commands]
    expected = [split_rtds(m.hex())[0] for m in scheduled]
    assert expected, "the shipped topology schedules GBCS commands"
    # the devices answer each with the response of the reference test the command comes from
    by_bytes = {rtds(p): p for p in RTDS.glob("*/*_COMMAND_GBCS.HEX")}
    answers = dict(reference_pair(by_bytes[m]) for m in scheduled)
    estate = run_estate(tmp_path, SINGLE_HOME.read_text(), seed=1, duration=3700, before_run=install(answers, []))
    assert estate.errors == 0
    assert sorted(estate.homes[0].nodes["ch"].chf_tunnel.wan_messages) == sorted(answers.values())
    rows = tshark_fields(tmp_path, ["frame.number", "_ws.malformed", "wpan.fcs_ok"])
    assert rows and not [r for r in rows if r[1]], "no malformed frames"
    assert all(r[2] == "1" for r in rows)
    tunnel = tshark_fields(tmp_path, ["zbee_zcl_se.tun.cmd.srv_rx.id", "zbee_zcl_se.tun.cmd.srv_tx.id",
                                      "zbee_zcl_se.tun.protocol_id", "gbcs_tunnel.command",
                                      "gbcs_message.grouping_header.message_code"],
                           "zbee_aps.cluster == 0x0704 && zbee_zcl")
    requests = [r for r in tunnel if r[0] == "0x00"]
    assert requests and all(r[2] == "0x06" for r in requests), "RequestTunnel for GB-HRGP"
    downward = [int(r[4], 16) for r in tunnel if r[1] == "0x01" and r[4]]
    assert Counter(downward) == Counter(expected), "each scheduled command crossed the air once"
    upward = [int(r[4], 16) for r in tunnel if r[0] == "0x02" and r[4]]
    assert Counter(upward) == Counter(expected), "and each response came back (PUT) with the same message code"
    commands = Counter(r[3] for r in tunnel if r[3])
    assert commands["0x01"] >= 2 and commands["0x02"] >= 2, "GETs and GET-RESPONSEs from the sleepy GSME"
    assert commands["0x03"] >= 2, "PUTs to the ESME"


def test_tunnel_commands_need_the_peers_link_key(tmp_path: Path) -> None:
    """Unsecured frames, or frames from outside the device log / not from the CH, change nothing."""
    from protocols.hrgp.codec import RequestTunnel, TransferData, to_zcl
    from protocols.zcl.frame import decode_zcl, encode_zcl
    from protocols.zigbee.stack import ApsIndication

    estate = run_estate(tmp_path, _without_scheduled(topology_text()), seed=2, duration=60, pcap=False)
    home = estate.homes[0]
    ch, esme = home.nodes["ch"], home.nodes["esme"]
    opened = ch.chf_tunnel.server.opened
    request = decode_zcl(encode_zcl(to_zcl(RequestTunnel(), 0, 1)))
    push = decode_zcl(encode_zcl(to_zcl(TransferData(0, b"\x03" + bytes.fromhex("DF00")), 1, 2)))

    def ind(eui, secured):
        return ApsIndication(0x1234, eui, 1, 1, 0x0704, 0x0109, b"", secured, False)

    ch.chf_tunnel.zcl_command(ind(ESME, False), request)               # not APS-secured
    ch.chf_tunnel.zcl_command(ind(0x00DB000000000001, True), request)  # not in the device log
    esme.tunnel.zcl_command(ind(GSME, True), push)                     # not the CH
    assert ch.counts["tunnel_untrusted_source"] == 2 and esme.counts["tunnel_untrusted_source"] == 1
    assert ch.chf_tunnel.server.opened == opened and esme.tunnel.received == 0
