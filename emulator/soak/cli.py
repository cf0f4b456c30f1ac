"""C{smets soak}: a topology, a workload and faults in fast virtual time; a ledger and a report.

    smets soak --topology topologies/street-100.yaml --duration 86400 --seed 3 \\
        --han-loss 0.05 --wan-loss 0.01 --outage north:36000:7200 --report r

Exit status: 0 when every request is accounted for (nothing lost, nothing answered twice,
nothing left in flight after the drain), 1 when not (or the run failed), 2 for a usage mistake
(one line naming the option).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path

from emulator.cli_errors import (EXIT_FAILURE, RunError, UsageError, check_finite_seconds, check_input_file,
                                 check_int, check_output_file, run_command)

__all__ = ["main", "DEFAULT_WORKLOAD"]

#: the workload of a soak run without --workload
DEFAULT_WORKLOAD = Path(__file__).resolve().parents[2] / "topologies" / "workload-default.yaml"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2
        raise UsageError("", message)


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="smets soak", description=__doc__.split("\n")[0])
    p.add_argument("--topology", required=True, metavar="FILE", help="topology YAML (e.g. topologies/street-100.yaml)")
    p.add_argument("--workload", metavar="FILE", help=f"workload YAML (default {DEFAULT_WORKLOAD.name})")
    p.add_argument("--duration", required=True, metavar="SECONDS", help="virtual seconds of workload")
    p.add_argument("--seed", default="1", metavar="N", help="run seed (default 1): same seed, same run")
    p.add_argument("--report", required=True, metavar="DIR", help="where report.json and report.html go")
    p.add_argument("--han-loss", default="0", metavar="P", help="frame loss probability on every HAN")
    p.add_argument("--wan-loss", default="0", metavar="P", help="frame loss probability on every CSP's WAN")
    p.add_argument("--outage", action="append", default=[], metavar="CSP:START:LENGTH",
                   help="a CSP's WAN is down from START for LENGTH seconds of run time (repeatable)")
    p.add_argument("--param", action="append", default=[], metavar="NAME=N",
                   help="override a topology parameter (e.g. homes_per_region=50)")
    p.add_argument("--pcap", metavar="FILE", help="write every HAN and WAN frame to this pcapng")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def _probability(option: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise UsageError(option, f"must be a probability 0..1, got {text!r}") from None
    if not (0.0 <= value <= 1.0) or math.isnan(value):
        raise UsageError(option, f"must be a probability 0..1, got {text}")
    return value


def _main(argv: list[str]) -> int:
    from emulator.soak.faults import apply_cli_faults, parse_outage
    from emulator.soak.workload import WorkloadError, load_workload
    from emulator.topology import TopologyError, load_topology

    args = _parser().parse_args(argv)
    check_input_file("--topology", args.topology)
    workload_path = args.workload or str(DEFAULT_WORKLOAD)
    check_input_file("--workload", workload_path)
    duration = check_finite_seconds("--duration", args.duration)
    seed = check_int("--seed", args.seed, lo=0)
    han_loss = _probability("--han-loss", args.han_loss)
    wan_loss = _probability("--wan-loss", args.wan_loss)
    params = {}
    for item in args.param:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise UsageError("--param", f"must be NAME=N, got {item!r}")
        params[name] = check_int("--param", value, lo=0)
    report_dir = Path(args.report)
    if report_dir.exists() and not report_dir.is_dir():
        raise UsageError("--report", f"{args.report} exists and is not a directory")
    if not report_dir.parent.is_dir():
        raise UsageError("--report", f"directory {report_dir.parent} does not exist (for {args.report})")
    try:
        topology = load_topology(args.topology, seed, params)
    except TopologyError as e:
        raise UsageError("--param" if "parameter" in e.message and params else "--topology", str(e)) from None
    try:
        workload = load_workload(workload_path)
    except WorkloadError as e:
        raise UsageError("--workload", str(e)) from None
    outages = []
    for text in args.outage:
        try:
            outages.append(parse_outage(text, topology.csps))
        except ValueError as e:
            raise UsageError("--outage", str(e)) from None
    topology = apply_cli_faults(topology, han_loss=han_loss, wan_loss=wan_loss, outages=outages)
    pcap_file = check_output_file("--pcap", args.pcap) if args.pcap else None

    from emulator.soak.report import write_report
    from emulator.soak.runner import SoakRun
    try:
        run = SoakRun(topology, workload, seed, pcap_file=pcap_file)
    except TopologyError as e:
        raise UsageError("--topology", str(e)) from None
    except LookupError as e:
        raise UsageError("--workload", str(e)) from None
    try:
        run.run(duration, progress=not args.no_progress and sys.stderr is not None)
    finally:
        run.close()
    try:
        report = write_report(run, str(report_dir), ["smets", "soak", *argv])
    except OSError as e:
        raise RunError(f"cannot write the report in {args.report}: {e.strerror or e}") from None
    led = report["ledger"]
    print(" ".join(f"{k}={v}" for k, v in led.items()))
    print(f"report: {os.path.join(args.report, 'report.html')}")
    if run.estate.errors:
        raise RunError(f"{run.estate.errors} scheduled calls failed (bugs, logged with tracebacks)")
    if led["lost"] or led["duplicated"] or led["in_flight"]:
        print(f"smets soak: {led['lost']} lost, {led['duplicated']} duplicated, {led['in_flight']} still in flight",
              file=sys.stderr)
        return EXIT_FAILURE
    return 0


def main(argv: list[str]) -> int:
    return run_command("smets soak", _main, argv)
