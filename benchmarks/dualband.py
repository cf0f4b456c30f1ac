"""A dual-band home in virtual time: CPU per simulated hour and what the 868 MHz HAN carries.

Run from the repository root::

    python -m benchmarks.dualband [--hours H] [--seed N]

Builds C{topologies/dual-band-home.yaml} (a dual-band CH; ESME, IHD and PPMID on 868 MHz, GSME on
2.4 GHz), runs it for H virtual hours and prints the CPU seconds it took (C{time.process_time}),
the frames on each medium, and the airtime the CH sent on the 868 MHz medium against the band's
1 % duty cycle (36 s per hour).  Prints figures only; asserts nothing about speed.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from emulator.clock import VirtualClock
from emulator.estate import Estate
from emulator.topology import load_topology

TOPOLOGY = Path(__file__).resolve().parents[1] / "topologies" / "dual-band-home.yaml"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=1.0, help="virtual hours to run (default 1)")
    parser.add_argument("--seed", type=int, default=1, help="run seed (default 1)")
    args = parser.parse_args(argv)
    if args.hours <= 0:
        parser.error("--hours must be positive")
    topology = load_topology(str(TOPOLOGY), args.seed)
    clock = VirtualClock(start=topology.start_time)
    estate = Estate(topology, clock, args.seed)
    estate.start()
    started = time.process_time()
    clock.run_until(topology.start_time + args.hours * 3600)
    cpu = time.process_time() - started
    home = estate.homes[0]
    port = home.nodes["ch"].sub_ghz_port
    print(f"{args.hours:g} virtual hour(s) of a dual-band home: {cpu:.2f} s CPU "
          f"({args.hours * 3600 / cpu:.0f}x real time)")
    print(f"frames: 868 MHz {home.sub_ghz_medium.counts['tx']}, 2.4 GHz {home.medium.counts['tx']}")
    print(f"CH on 868 MHz: {port.sent} frames, {port.airtime_s:.3f} s airtime "
          f"({100 * port.airtime_s / (args.hours * 3600):.3f} % duty cycle; the band allows 1 %)")
    estate.close()


if __name__ == "__main__":
    main()
