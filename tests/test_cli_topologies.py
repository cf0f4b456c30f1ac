"""The shipped topologies run: the lossy pair of homes (impairments, a Gilbert-Elliott burst
channel, an outage) and the 20-home street, through twistd as a user runs them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from emulator.clock import VirtualClock
from emulator.estate import Estate
from emulator.topology import load_topology
from tests.cli_helpers import TOPOLOGIES, TWISTD, run

LOSSY = TOPOLOGIES / "two-homes-lossy.yaml"
STREET = TOPOLOGIES / "street-20.yaml"


@pytest.mark.parametrize("topology, duration", [(LOSSY, 1200), (STREET, 300)], ids=["two-homes-lossy", "street-20"])
def test_shipped_topology_runs(tmp_path: Path, topology: Path, duration: int) -> None:
    spec = load_topology(str(topology), 1)
    proc = run([*TWISTD, "-n", "--pidfile=", "smets", "--topology", str(topology), "--virtual", "--duration",
                str(duration), "--pcap", "run.pcapng", "--keys", "keys"], cwd=tmp_path, timeout=300)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0 and "Traceback" not in output, output[-3000:]
    for home in spec.homes:                      # the per-device summary names every device of every home
        for dev in home.devices:
            assert re.search(rf"smets: {home.name}: {dev.name} \({dev.kind} {dev.eui64:016X}\)", output), \
                (home.name, dev.name)
    joined = len(re.findall(r"\): joined at \+", output))
    assert joined == sum(1 for h in spec.homes for d in h.devices if d.kind != "CH"), output[-3000:]
    assert (tmp_path / "run.pcapng").stat().st_size > 0


def test_lossy_topology_impairments_take_effect() -> None:
    """Loss, bursts, corruption and the outage each drop frames, and every device still joins."""
    topology = load_topology(str(LOSSY), 1)
    clock = VirtualClock(start=topology.start_time)
    estate = Estate(topology, clock, 1)
    estate.start()
    ihd = estate.homes[1].nodes["ihd"]
    answered = {}
    for t in (600, 900, 1200):                   # home-0002's outage is 600-900 s into the run
        clock.run_until(topology.start_time + t)
        answered[t] = ihd.reads_answered
    estate.close()
    dropped = {reason: estate.metrics.registry.get_sample_value(
        "smets_frames_dropped_total", {"medium": "han", "reason": reason}) or 0
        for reason in ("loss", "burst_loss", "corrupt", "outage")}
    assert all(n > 0 for n in dropped.values()), dropped
    for home in estate.homes:
        for name, node in home.nodes.items():
            assert node.kind == "CH" or node.joined_at is not None, (home.spec.name, name)
    # home-0002's IHD has answers before the outage, (almost) none during it, and again after it
    assert answered[600] > 10, answered
    assert answered[900] - answered[600] <= 1, answered
    assert answered[1200] - answered[900] > 10, answered
