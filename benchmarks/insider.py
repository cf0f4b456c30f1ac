"""What a hostile INSIDER costs the emulator: the default home with and without the attacker.

Run from the repository root::

    python -m benchmarks.insider [--virtual SECONDS] [--rate FRAMES_PER_S] [--loss P]

Runs C{topologies/attack-home.yaml} for C{--virtual} seconds of virtual time twice: with the
insider attacking from 30 min into the run (at C{--rate} forged frames per second until the
end) and with no attack at all (the same home, the insider joined but quiet).  Prints the CPU
seconds of each run (C{time.process_time}), forged frames per CPU second of the difference,
and the ledger totals by outcome.  Prints figures only; asserts nothing about speed.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from pathlib import Path

from emulator.clock import VirtualClock
from emulator.estate import Estate
from emulator.topology import parse_topology

ATTACK_HOME = Path(__file__).resolve().parents[1] / "topologies" / "attack-home.yaml"


def run(virtual: float, rate: float, loss: float, attack: bool) -> tuple[float, Estate]:
    start = 1800.0 if attack else virtual + 1.0
    text = ATTACK_HOME.read_text().replace("attack_start: 1800", f"attack_start: {start}") \
        .replace("attack_duration: 5400", f"attack_duration: {max(1.0, virtual - 1800.0)}") \
        .replace("attack_rate: 10", f"attack_rate: {rate}")
    if loss:
        text = text.replace("impairments: {}", f"impairments: {{loss: {loss}}}", 1)
    topology = parse_topology(text, str(ATTACK_HOME), 1)
    clock = VirtualClock(start=topology.start_time)
    estate = Estate(topology, clock, 1)
    estate.start()
    cpu = time.process_time()
    clock.run_until(topology.start_time + virtual)
    cpu = time.process_time() - cpu
    estate.close()
    return cpu, estate


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--virtual", type=float, default=3600.0, help="virtual seconds per run (default 3600)")
    parser.add_argument("--rate", type=float, default=10.0, help="forged frames per second (default 10)")
    parser.add_argument("--loss", type=float, default=0.0, help="HAN frame loss (default 0)")
    args = parser.parse_args(argv)
    quiet_cpu, _ = run(args.virtual, args.rate, args.loss, attack=False)
    cpu, estate = run(args.virtual, args.rate, args.loss, attack=True)
    insider = estate.homes[0].nodes["insider"]
    totals: Counter[str] = Counter()
    for counts in insider.ledger.values():
        totals.update(counts)
    sent = totals["sent"]
    print(f"default home, {args.virtual:.0f} s virtual, loss {args.loss:.0%}")
    print(f"  without attack:            {quiet_cpu:8.2f} CPU s")
    print(f"  with the insider attacking: {cpu:8.2f} CPU s, {sent:,} forged frames at {args.rate:g}/s")
    if sent and cpu > quiet_cpu:
        print(f"  forged frames per CPU second (the attack's share): {sent / (cpu - quiet_cpu):,.0f}")
    print("  ledger: " + ", ".join(f"{k} {v:,}" for k, v in sorted(totals.items())))


if __name__ == "__main__":
    main()
