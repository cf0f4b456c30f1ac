"""The default run's devices answer GBCS (issue 11 item 1).

The shipped single-home topology schedules three DCC reference commands (RTDS 4.5.0) and
names the home's key store (the reference keys of its devices), so the device logic is wired
in on every run, not only with the DCC beside it: each command is checked (MAC, role, counter)
and executed, and the response goes back up the tunnel to the CH.  tshark's GBCS dissector is
the judge of what crosses the air; the responses' protection is verified with the reference
keys.
"""

from __future__ import annotations

import re
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from protocols.gbcs.crypto import GbcsCrypto
from protocols.gbcs.framing import CRA_COMMAND, CRA_RESPONSE
from protocols.gbcs.keystore import KeyStore
from protocols.gbcs.message import VERIFIED, decode_message
from tests.cli_helpers import TWISTD
from tests.han_helpers import SINGLE_HOME, needs_tshark, tshark_fields

DURATION = 3700   # the sleepy GSME wakes (seeded offset, every 30 min) and GETs its command
KEYS = SINGLE_HOME.parent / "rtds-keys"


@pytest.fixture(scope="module")
def default_run(tmp_path_factory) -> tuple[Path, str]:
    tmp = tmp_path_factory.mktemp("default-gbcs")
    proc = subprocess.run(
        [*TWISTD, "-n", "--pidfile=", "smets", "--topology", str(SINGLE_HOME), "--virtual", "--duration",
         str(DURATION), "--seed", "1", "--pcap", str(tmp / "han.pcapng"), "--keys", str(tmp / "zigbee_pc_keys")],
        capture_output=True, text=True, cwd=tmp, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return tmp, proc.stdout + proc.stderr


def _scheduled() -> list[bytes]:
    from emulator.topology import load_topology
    return [c.message for c in load_topology(str(SINGLE_HOME), 1).homes[0].gbcs_commands]


@needs_tshark
def test_default_run_answers_each_scheduled_command_on_the_air(default_run) -> None:
    tmp, out = default_run
    from protocols.gbcs.framing import decode_frame
    expected = Counter(decode_frame(m).signing.message_code for m in _scheduled())
    assert len(expected) == 3
    rows = tshark_fields(tmp, ["frame.number", "_ws.malformed", "wpan.fcs_ok"])
    assert rows and not [r for r in rows if r[1]], "no malformed frames"
    fields = ["gbcs_tunnel.command", "gbcs_message.grouping_header.cra_flag",
              "gbcs_message.grouping_header.message_code", "gbcs_message.grouping_header.business_originator_id"]
    messages = [r for r in tshark_fields(tmp, fields, "gbcs_message") if r[2]]
    # a field may repeat within one frame (never here: one GBCS message per reassembled frame)
    requests = Counter(int(r[2], 16) for r in messages if int(r[1], 16) == CRA_COMMAND)
    responses = Counter(int(r[2], 16) for r in messages if int(r[1], 16) == CRA_RESPONSE)
    assert requests == expected, "each scheduled command crossed the air once"
    assert responses == expected, "and the device's response to each came back up the tunnel"
    ups = [r for r in messages if int(r[1], 16) == CRA_RESPONSE]
    assert all(r[0] == "0x03" for r in ups), "responses go up in PUTs"
    # the summary: the ESME took two commands and answered both, the GSME one
    assert re.search(r"esme \(ESME [0-9A-F]+\).*GBCS messages received 2, sent 2", out), out
    assert re.search(r"gsme \(GSME [0-9A-F]+\).*GBCS messages received 1, sent 1", out), out


def test_responses_verify_under_the_reference_keys(tmp_path) -> None:
    """In process: the responses that reach the CH are the devices' own, MACed or signed so
    that the DCC side verifies them with the key store, echoing each command's counter."""
    from emulator.clock import VirtualClock
    from emulator.dcc.devices import install_run_device_logic
    from emulator.estate import Estate
    from emulator.topology import load_topology

    topology = load_topology(str(SINGLE_HOME), 1)
    clock = VirtualClock(start=topology.start_time)
    estate = Estate(topology, clock, 1)
    install_run_device_logic(estate, topology, 1)
    estate.start()
    clock.run_until(topology.start_time + DURATION)
    assert estate.errors == 0
    ch = estate.homes[0].nodes["ch"]
    store = KeyStore(KEYS)
    for device in ("esme", "gsme"):
        eui, public = _device_key(estate, device)
        store.add(eui, "ds", public_key=public)
    crypto = GbcsCrypto(store)
    commands = {decode_frame_counter(m): m for m in _scheduled()}
    answered = {}
    for raw in ch.chf_tunnel.wan_messages:
        msg = decode_message(raw, crypto)
        gs = msg.frame.signing
        if gs.cra_flag != CRA_RESPONSE:     # the CHF's CS14 device log back-ups (meters' TC link keys)
            assert gs.message_code == 0x0018 and msg.verification.mac == VERIFIED
            continue
        v = msg.verification
        assert VERIFIED in (v.mac, v.signature) and "failed" not in (v.mac, v.signature), v
        answered[(gs.originator_counter, gs.message_code)] = gs
    assert set(answered) == set(commands)
    estate.close()


def decode_frame_counter(message: bytes) -> tuple[int, int]:
    from protocols.gbcs.framing import decode_frame
    gs = decode_frame(message).signing
    return gs.originator_counter, gs.message_code


def _device_key(estate, name: str):
    node = estate.homes[0].nodes[name]
    logic = node.tunnel.application
    return logic.eui, logic.crypto.keystore.public_key(logic.eui, "ds")
