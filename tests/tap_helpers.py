"""Frames an outside tool would inject through a TAP: built from the spec layouts with the
project's codecs and the network key an operator finds in the C{--keys} table."""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from protocols.ieee802154.frames import ADDR_SHORT, FRAME_DATA, MacFrame, encode_mac
from protocols.zigbee import aps as _aps
from protocols.zigbee import nwk as _nwk
from protocols.zigbee import zdo as _zdo
from protocols.zigbee.security import secure_nwk
from tap.linux import tap_problem

#: the intruder's NWK short address and EUI-64 (not in any device log)
INTRUDER_SHORT = 0x7A7A
INTRUDER_EUI = 0x02AABBCCDDEEFF01


def network_key_from(keys_file: Path) -> bytes:
    """The network key row of a C{zigbee_pc_keys} table written by C{--keys}."""
    for line in keys_file.read_text().splitlines():
        key, _, label = (f.strip('"') for f in line.split(",", 2))
        if "network key" in label:
            return bytes.fromhex(key)
    raise AssertionError(f"no network key in {keys_file}")


def active_ep_request(pan_id: int, network_key: bytes, dst: int = 0x0000, *, tsn: int = 0x31,
                      frame_counter: int = 1) -> bytes:
    """A ZDP Active_EP_req for C{dst}, NWK-secured with the network key, from the intruder, as
    an 802.15.4 data frame (FCF 0x8861) with FCS."""
    zdp = _zdo.encode_zdp(tsn, _zdo.ActiveEpReq(dst))
    aps = _aps.encode_aps(_aps.ApsFrame(_aps.APS_FRAME_DATA, _aps.APS_DELIVERY_UNICAST, counter=0x44, dst_endpoint=0,
                                        cluster=_zdo.ActiveEpReq.CLUSTER_ID, profile=_aps.PROFILE_ZDP, src_endpoint=0,
                                        payload=zdp))
    nwk = secure_nwk(_nwk.NwkFrame(dst, INTRUDER_SHORT, 0x10, aps, discover_route=1, security=True,
                                   src_ieee=INTRUDER_EUI), network_key, frame_counter, INTRUDER_EUI, 0)
    return encode_mac(MacFrame(FRAME_DATA, ack_request=True, pan_id_compression=True, seq=0x21,
                               dst_mode=ADDR_SHORT, dst_pan=pan_id, dst_addr=dst, src_mode=ADDR_SHORT,
                               src_addr=INTRUDER_SHORT, payload=nwk))


# -- network namespaces for the live TAP tests ----------------------------------------------------

_COUNTER = itertools.count()
_BIN = Path(sys.executable).parent


def tool(name: str) -> str | None:
    """C{name} from this interpreter's environment first (its twistd runs this tree), else PATH."""
    local = _BIN / name
    return str(local) if local.exists() else shutil.which(name)


def _unavailable() -> str | None:
    if os.geteuid() != 0:
        return "needs root to create network namespaces and TAP interfaces (run the suite as root)"
    for name in ("ip", "tshark"):
        if shutil.which(name) is None:
            return f"needs {name!r} on PATH"
    problem = tap_problem()
    if problem:
        return problem
    probe = f"smets-probe-{os.getpid()}"
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if made.returncode != 0:
        return f"cannot create a network namespace: {made.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return None


#: why the live TAP tests cannot run here (None: they can)
NETNS_UNAVAILABLE = _unavailable()
#: the marks of a module of live TAP tests: skipped, with the reason, where they cannot run
NETNS_MARKS = [pytest.mark.netns, pytest.mark.skipif(NETNS_UNAVAILABLE is not None, reason=NETNS_UNAVAILABLE or "")]


class Namespace:
    """A network namespace with the processes started in it; L{close} removes all of it."""

    def __init__(self) -> None:
        self.name = f"smets-test-{os.getpid()}-{next(_COUNTER)}"
        self.procs: list[subprocess.Popen] = []
        subprocess.run(["ip", "netns", "add", self.name], check=True)
        self.run("ip", "link", "set", "lo", "up")

    def run(self, *args: str, **kw) -> subprocess.CompletedProcess:
        return subprocess.run(["ip", "netns", "exec", self.name, *args], check=kw.pop("check", True),
                              capture_output=True, text=True, timeout=kw.pop("timeout", 60), **kw)

    def start(self, args: list[str], log: Path, **kw) -> subprocess.Popen:
        f = open(log, "w")
        proc = subprocess.Popen(["ip", "netns", "exec", self.name, *args], stdout=f, stderr=subprocess.STDOUT,
                                **kw)
        f.close()
        self.procs.append(proc)
        return proc

    def close_process(self, proc: subprocess.Popen) -> None:
        """Stop one process started here (SIGINT, as Ctrl-C: tshark then finishes its file)."""
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        for proc in self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        # children of those processes (dumpcap under tshark) that are still in the namespace
        pids = subprocess.run(["ip", "netns", "pids", self.name], capture_output=True, text=True).stdout.split()
        for pid in pids:
            try:
                os.kill(int(pid), signal.SIGKILL)
            except (ProcessLookupError, ValueError):
                pass
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True)


@pytest.fixture()
def netns():
    """A fresh network namespace of the test's own, removed afterwards with all it ran."""
    ns = Namespace()
    try:
        yield ns
    finally:
        ns.close()
    assert ns.name not in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout


def wait_for(path: Path, text: str, timeout: float, proc: subprocess.Popen | None = None) -> str:
    """Wait until C{text} is in the file C{path} (a process log); fail early if C{proc} exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        content = path.read_text(errors="replace") if path.exists() else ""
        if text in content:
            return content
        if proc is not None and proc.poll() is not None:
            break
        time.sleep(0.1)
    raise AssertionError(f"{text!r} did not appear in {path.name}:\n{path.read_text(errors='replace')[-3000:]}")
