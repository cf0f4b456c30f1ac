"""Helpers shared by the HAN integration tests: run an estate in virtual time, read captures
back with tshark (someone else's dissectors are the judge of what is on the wire)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from emulator.clock import VirtualClock
from emulator.estate import Estate
from emulator.topology import parse_topology
from tests.conftest import needs_tshark

__all__ = ["REPO", "SINGLE_HOME", "needs_tshark", "single_home_text", "topology_text", "run_estate", "tshark_fields"]

REPO = Path(__file__).resolve().parents[1]
SINGLE_HOME = REPO / "topologies" / "single-home.yaml"


def single_home_text() -> str:
    """The shipped single-home topology with its relative paths (the CH's key store) made
    absolute, so that the text parses under any file name."""
    return absolute_paths(SINGLE_HOME.read_text())


def absolute_paths(text: str) -> str:
    """C{text} (a topology from topologies/) with its C{gbcs_keys} made absolute."""
    return re.sub(r"(gbcs_keys:\s*)(?!/)(\S+)", lambda m: m.group(1) + str(SINGLE_HOME.parent / m.group(2)), text)


def topology_text(impairments: str = "{}", **device_overrides: str) -> str:
    """The shipped single-home topology, with its impairments and extra device keys replaced.

    C{device_overrides} maps a device name to YAML lines appended to that device entry.
    """
    text = single_home_text()
    text = text.replace("impairments: {}", f"impairments: {impairments}", 1)
    for name, extra in device_overrides.items():
        marker = f"name: {name}\n"
        assert marker in text, name
        # an override replaces the entry's own line for the same key
        start = text.index(marker)
        end = text.find("      - kind:", start)
        end = len(text) if end < 0 else end
        block = text[start:end]
        for key in re.findall(r"^([A-Za-z_0-9]+):", extra, re.M):
            block = re.sub(rf"^        {key}:.*\n", "", block, flags=re.M)
        text = text[:start] + block + text[end:]
        text = text.replace(marker, marker + "".join(f"        {line}\n" for line in extra.splitlines()), 1)
    return text


def run_estate(tmp_path: Path, text: str, seed: int, duration: float, *, pcap: bool = True,
               before_run=None) -> Estate:
    """Build and run a topology in virtual time; the capture and keys land in C{tmp_path}."""
    topology = parse_topology(absolute_paths(text), "test.yaml", seed)
    clock = VirtualClock(start=topology.start_time)
    estate = Estate(topology, clock, seed, pcap_path=str(tmp_path / "han.pcapng") if pcap else None,
                    keys_path=str(tmp_path / "zigbee_pc_keys") if pcap else None)
    estate.start()
    if before_run is not None:
        before_run(estate, clock)
    clock.run_until(topology.start_time + duration)
    estate.close()
    return estate


def tshark_fields(tmp_path: Path, fields: list[str], display_filter: str | None = None,
                  pcap: Path | None = None, keys: Path | None = None) -> list[list[str]]:
    """Rows of C{tshark -T fields} over the capture, decrypting with the exported key table."""
    conf = tmp_path / "wireshark-conf"
    conf.mkdir(exist_ok=True)
    keys = keys if keys is not None else tmp_path / "zigbee_pc_keys"
    if keys.exists():
        shutil.copy(keys, conf / "zigbee_pc_keys")
    args = ["tshark", "-n", "-r", str(pcap or tmp_path / "han.pcapng"), "-T", "fields", "-E", "separator=\t"]
    for f in fields:
        args += ["-e", f]
    if display_filter:
        args += ["-Y", display_filter]
    env = dict(os.environ, WIRESHARK_CONFIG_DIR=str(conf))
    out = subprocess.run(args, capture_output=True, text=True, env=env, check=True, timeout=300).stdout
    return [line.split("\t") for line in out.splitlines()]


# -- one node's NWK / APS layers over a fake MAC (unit tests of the stack) --------------------

#: the fake node's network key, its link key with L{FAKE_PEER}, its EUI-64 and the peer's
FAKE_NWK_KEY = bytes(range(16))
FAKE_LINK_KEY = bytes(range(32, 48))
FAKE_ME = 0x00124B0000000010
FAKE_PEER = 0x00124B0000000020


class FakeMac:
    """The MAC under a fake node: keeps what the NWK layer hands it."""

    def __init__(self) -> None:
        self.sent: list[bytes] = []

    def mcps_data_request(self, dst, payload, *, ack_request=True, indirect=False):
        self.sent.append(payload)


def fake_zigbee_node():
    """A joined router (short 0x1234, EUI L{FAKE_ME}) with the network key and a link key with
    L{FAKE_PEER} (at 0x5678): its C{(nib, nwk, aps, counted)}, C{counted} the drop reasons."""
    import random

    from protocols.zigbee.aps_layer import ApsLayer
    from protocols.zigbee.nib import Nib
    from protocols.zigbee.nwk_layer import NwkLayer

    counted: list[str] = []
    nib = Nib(VirtualClock(start=0.0), random.Random(3), FAKE_ME, role="router", rx_on_when_idle=True,
              count=counted.append)
    nib.mac = FakeMac()
    nib.short = 0x1234
    nib.set_network_key(FAKE_NWK_KEY, 0)
    nib.set_link_key(FAKE_PEER, FAKE_LINK_KEY)
    nib.addresses.set(0x5678, FAKE_PEER)
    nwk = NwkLayer(nib, lambda frame, broadcast, origin=None: None)
    aps = ApsLayer(nib, nwk, on_command=lambda *a: None, on_zdp=lambda ind: None,
                   request_link_key=lambda peer, done: done(False), joining_key=lambda: None)
    return nib, nwk, aps, counted
