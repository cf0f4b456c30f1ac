"""A live home bridged to a real Linux TAP interface, sniffed by tshark (issue 10, item 5).

Each test makes a network namespace of its own (C{smets-test-<pid>-<n>}), runs twistd in it in
real time with C{--tap-han}, sniffs the interface with tshark inside the namespace, talks to the
bridge from an ordinary UDP socket in the namespace, and removes the namespace, the interfaces
and every process it started afterwards, even on failure.  Traffic never leaves the namespace.

Skipped, with the reason, where root, network namespaces, /dev/net/tun or tshark are missing.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from protocols.ieee802154.commands import beacon_request_frame
from protocols.ieee802154.frames import encode_mac
from emulator.topology import load_topology
from tap.zep import ZepFrame, bridge_addresses, encode_zep, format_ip
from tests.han_helpers import SINGLE_HOME, single_home_text
from tests.tap_helpers import NETNS_MARKS, INTRUDER_SHORT, active_ep_request, netns  # noqa: F401 (fixture)
from tests.tap_helpers import network_key_from
from tests.tap_helpers import tool as _tool
from tests.tap_helpers import wait_for as _wait_for

pytestmark = NETNS_MARKS


def _tshark(tmp_path: Path, cap: Path, fields: list[str], display_filter: str) -> list[list[str]]:
    """tshark's decode of C{cap} with the run's key file, IPv4 and UDP checksum checks on."""
    conf = tmp_path / "wireshark-conf"
    conf.mkdir(exist_ok=True)
    shutil.copy(tmp_path / "zigbee_pc_keys", conf / "zigbee_pc_keys")
    args = ["tshark", "-n", "-r", str(cap), "-o", "ip.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE",
            "-Y", display_filter, "-T", "fields", "-E", "separator=\t"]
    for f in fields:
        args += ["-e", f]
    out = subprocess.run(args, capture_output=True, text=True, check=True, timeout=120,
                         env=dict(os.environ, WIRESHARK_CONFIG_DIR=str(conf))).stdout
    return [line.split("\t") for line in out.splitlines()]


# A UDP client in the namespace: sends each hex payload to HOST:17754 (the kernel resolves the
# bridge's address with ARP, builds Ethernet/IPv4/UDP and checksums them: not our code).
_SENDER = """
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for payload in sys.argv[2:]:
    s.sendto(bytes.fromhex(payload), (sys.argv[1], 17754))
    time.sleep(0.2)
"""

# the shipped topology, its GBCS commands moved from 60/120 s to 10/12 s
_EARLY_COMMANDS = {"      - at: 60 ": "      - at: 10 ", "      - at: 120 ": "      - at: 12 "}


def test_a_home_on_a_tap_decodes_down_to_zcl_and_gbcs_and_answers_injected_frames(netns, tmp_path: Path) -> None:
    topo = single_home_text()
    for old, new in _EARLY_COMMANDS.items():
        assert old in topo
        topo = topo.replace(old, new, 1)
    (tmp_path / "topology.yaml").write_text(topo)
    ifname = "smtap0"
    # A persistent TAP made by iproute2, up, with a link-local address for the UDP client.
    netns.run("ip", "tuntap", "add", "dev", ifname, "mode", "tap")
    netns.run("ip", "link", "set", ifname, "up")
    netns.run("ip", "addr", "add", "169.254.0.1/16", "dev", ifname)
    cap = tmp_path / "tap.pcapng"
    tshark = netns.start(["tshark", "-n", "-i", ifname, "-w", str(cap)], tmp_path / "tshark.log")
    _wait_for(tmp_path / "tshark.log", "Capturing on", 30, tshark)
    twistd = netns.start([_tool("twistd"), "-n", "--pidfile=", "smets", "--topology", str(tmp_path / "topology.yaml"),
                          "--duration", "16", "--seed", "3", "--keys", str(tmp_path / "zigbee_pc_keys"),
                          "--tap-han", f"home-0001={ifname}"], tmp_path / "twistd.log", cwd=tmp_path)
    _wait_for(tmp_path / "twistd.log", "esme (ESME", 30, twistd)  # the ESME has joined

    _, bridge_ip = bridge_addresses("home-0001")
    request = encode_mac(beacon_request_frame(0x5A))
    good = encode_zep(ZepFrame(15, 0x77, True, 255, time.time(), 1, request))
    bad_length = good[:31] + bytes((len(request) + 3,)) + request
    bad_fcs = good[:-1] + bytes((good[-1] ^ 0xFF,))
    netns.run(sys.executable, "-c", _SENDER, format_ip(bridge_ip),
              good.hex(), b"GET / HTTP/1.0\r\n\r\n".hex(), bad_length.hex(), bad_fcs.hex())
    # a ZDP Active_EP_req to the CH, NWK-secured with the network key from the --keys table
    pan_id = load_topology(str(tmp_path / "topology.yaml"), 3).homes[0].pan_id
    zdo = active_ep_request(pan_id, network_key_from(tmp_path / "zigbee_pc_keys"))
    netns.run(sys.executable, "-c", _SENDER, format_ip(bridge_ip),
              encode_zep(ZepFrame(15, 0x77, True, 255, time.time(), 2, zdo)).hex())

    assert twistd.wait(timeout=60) == 0, (tmp_path / "twistd.log").read_text()
    log = (tmp_path / "twistd.log").read_text()
    time.sleep(1.0)  # let dumpcap write the last frames
    tshark.send_signal(signal.SIGINT)
    tshark.wait(timeout=30)

    summary = [line for line in log.splitlines() if f"tap {ifname}:" in line and "frame(s) out" in line]
    assert len(summary) == 1, log
    assert "2 injected" in summary[0] and "dropped: bad_fcs 1, bad_length 1, not_zep 1;" in summary[0], summary
    assert "0 write error(s)" in summary[0] and " 0 ARP" not in summary[0]

    # What tshark made of it, with the key file the run wrote (IP and UDP checksums checked too).
    fields = ["frame.number", "ip.src", "zep.seqno", "zep.channel_id", "wpan.fcs_ok", "wpan.frame_type",
              "wpan.cmd", "ip.checksum.status", "udp.checksum.status", "frame.protocols",
              "gbcs_message.grouping_header.message_code", "_ws.malformed", "frame.time_epoch",
              "zbee_aps.zdp_cluster", "wpan.dst16", "zbee_nwk.src"]
    rows = _tshark(tmp_path, cap, fields, "zep")
    ours = [r for r in rows if r[1] == format_ip(bridge_ip)]
    injected = [r for r in rows if r[1] == "169.254.0.1"]
    assert len(ours) > 50
    # every bridge frame: in sequence from 1, our channel, FCS good, IPv4 and UDP checksums good
    assert [int(r[2]) for r in ours] == list(range(1, len(ours) + 1))
    assert {(r[3], r[4], r[7], r[8], r[11]) for r in ours} == {("15", "1", "1", "1", "")}
    protocols = {r[9] for r in ours}
    assert "eth:ethertype:ip:udp:zep:wpan:zbee_nwk:zbee_aps:zbee_zcl:zbee_zcl_se.met" in protocols  # ZCL Metering
    assert any(p.endswith("zbee_zcl_se.tun:gbcs_tunnel") for p in protocols)                       # GB-HRGP
    codes = {c for r in ours for c in r[10].split(",") if c}
    assert {"0x0028", "0x00b7"} <= {c.lower() for c in codes}, codes   # ECS17c and ECS01c reached the ESME
    # what the UDP client sent, as the kernel built it: the good Beacon Request, the one with a
    # ZEP length 3 bytes too long (tshark decodes what is there), the one with a bad FCS (the
    # HTTP request is not ZEP), then the Active_EP_req.  Only the first and last reached the air.
    assert [(int(r[5], 0), r[6] and int(r[6], 0)) for r in injected] == [(3, 7)] * 3 + [(1, "")], injected
    assert [r[4] for r in injected] == ["1", "1", "0", "1"]
    assert int(injected[3][13], 0) == 0x0005 and int(injected[3][15], 0) == INTRUDER_SHORT  # tshark decrypted it
    t0 = float(injected[0][12])
    window = [r for r in ours if t0 < float(r[12]) < t0 + 1.0]
    assert not any(int(r[5], 0) == 3 and r[6] and int(r[6], 0) == 7 for r in window)  # nobody else asked
    assert any(int(r[5], 0) == 0 for r in window), "no beacon answered the injected Beacon Request"
    answers = [r for r in ours if r[13] and int(r[13], 0) == 0x8005 and int(r[14], 0) == INTRUDER_SHORT]
    assert answers and int(answers[0][15], 0) == 0x0000, "the CH did not answer the Active_EP_req"
    assert float(answers[0][12]) > float(injected[3][12])


def test_the_emulator_creates_the_tap_and_it_goes_away(netns, tmp_path: Path) -> None:
    ifname = "smnew0"
    assert netns.run("ip", "link", "show", ifname, check=False).returncode != 0
    twistd = netns.start([_tool("twistd"), "-n", "--pidfile=", "smets", "--topology", str(SINGLE_HOME),
                          "--duration", "4", "--tap-han", f"home-0001={ifname}"], tmp_path / "twistd.log",
                         cwd=tmp_path)
    _wait_for(tmp_path / "twistd.log", f"tap {ifname}: home-0001 HAN as ZEP v2", 30, twistd)
    link = netns.run("ip", "-o", "link", "show", ifname).stdout
    assert ",UP" in link and "link/ether" in link
    assert twistd.wait(timeout=60) == 0, (tmp_path / "twistd.log").read_text()
    assert netns.run("ip", "link", "show", ifname, check=False).returncode != 0


@pytest.mark.skipif(shutil.which("capsh") is None, reason="needs capsh to drop CAP_NET_ADMIN")
def test_without_cap_net_admin_one_line_and_exit_2(tmp_path: Path) -> None:
    twistd = _tool("twistd")
    cmd = f"{twistd} -n --pidfile= smets --topology {SINGLE_HOME} --duration 4 --tap-han home-0001=smtap9"
    proc = subprocess.run(["capsh", "--drop=cap_net_admin", "--", "-c", cmd], capture_output=True, text=True,
                          cwd=tmp_path, timeout=60)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = (proc.stdout + proc.stderr).strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("twistd smets: error: --tap-han: ") and "CAP_NET_ADMIN" in lines[0], lines
    assert "sudo" in lines[0]


def test_an_interface_that_is_not_a_tap_fails_in_one_line(netns, tmp_path: Path) -> None:
    """TUNSETIFF for a TAP on an existing TUN interface fails: one error line, exit 2, nothing left running."""
    netns.run("ip", "tuntap", "add", "dev", "smtun0", "mode", "tun")  # a TUN (IP), not a TAP (Ethernet)
    twistd = netns.start([_tool("twistd"), "-n", "--pidfile=", "smets", "--topology", str(SINGLE_HOME),
                          "--duration", "30", "--tap-han", "home-0001=smtun0"], tmp_path / "twistd.log",
                         cwd=tmp_path)
    assert twistd.wait(timeout=60) == 2
    log = (tmp_path / "twistd.log").read_text()
    errors = [line for line in log.splitlines() if "cannot open the TAP interface" in line]
    assert len(errors) == 1 and "--tap-han home-0001=smtun0" in errors[0], log
    assert "exists and is not a TAP" in errors[0]
    assert "Traceback" not in log
