"""What a soak costs per home and virtual hour, and where that time goes.

    python -m benchmarks.soak [--homes N] [--hours H]

Runs the street-100 template (CH, ESME, GSME, IHD per home, one CSP) with the default workload
for C{--hours} virtual hours on C{--homes} homes and prints the CPU seconds per home-hour; then
the same without the IHDs, and the same with the ZigBee Link Status broadcasts (every router,
every 15 s, heard by every other node of the home) switched off, so the share of each shows.
Those two variants are measurements only: the emulator always runs the real protocol.
CPU time (process time) is printed beside the wall time: on a shared machine the wall time
of a long soak is mostly waiting for a core.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _measure(homes: int, hours: float, *, ihd: bool = True, link_status: bool = True) -> tuple[float, float, int]:
    import protocols.zigbee.housekeeping as housekeeping
    from emulator.soak.runner import SoakRun
    from emulator.soak.workload import load_workload
    from emulator.topology import load_topology

    text = (REPO / "topologies" / "street-100.yaml").read_text()
    keys = (REPO / "topologies" / "../../shared/rtds/keystore").resolve()
    text = text.replace("../../shared/rtds/keystore", str(keys))
    if not ihd:
        text = "\n".join(line for line in text.splitlines() if "kind: IHD" not in line) + "\n"
    period = housekeeping.LINK_STATUS_PERIOD
    if not link_status:
        housekeeping.LINK_STATUS_PERIOD = 1e12
    try:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "street.yaml"
            path.write_text(text)
            run = SoakRun(load_topology(str(path), 3, {"homes": homes}),
                          load_workload(str(REPO / "topologies" / "workload-default.yaml")), 3)
            run.estate.start()
            run.clock.run_until(run.clock.seconds() + 60)
            run.estate.start = lambda: None
            run.schedule(hours * 3600)
            c0, w0 = time.process_time(), time.perf_counter()
            run.clock.run_until(run.clock.seconds() + hours * 3600)
            cpu, wall = time.process_time() - c0, time.perf_counter() - w0
            run.close()
            return cpu, wall, run.ledger()["submitted"]
    finally:
        housekeeping.LINK_STATUS_PERIOD = period


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.soak", description=__doc__.split("\n")[0])
    ap.add_argument("--homes", type=int, default=10)
    ap.add_argument("--hours", type=float, default=1.0)
    args = ap.parse_args(argv)
    home_hours = args.homes * args.hours
    base = None
    for label, kw in (("street-100 homes (CH, ESME, GSME, IHD)", {}), ("without the IHDs", {"ihd": False}),
                      ("without Link Status broadcasts", {"link_status": False})):
        cpu, wall, submitted = _measure(args.homes, args.hours, **kw)
        base = base or cpu
        print(f"{label:42s} {cpu / home_hours * 1000:7.1f} ms CPU per home-hour ({100 * cpu / base:5.1f} %), "
              f"wall {wall:.1f} s, {submitted} requests")
    print(f"a virtual day of 100 homes at that rate: {base / home_hours * 100 * 24 / 60:.1f} min CPU "
          f"(plus forming the HANs)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
