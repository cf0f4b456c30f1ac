"""C{smets duis transform}: the GBCS command the DCC's transform makes of a DUIS request.

    smets duis transform FILE (--topology FILE | --device-type TYPE) --keys DIR
                         [--now ISO-DATE-TIME] [--acb-counter N] [--acb EUI]

Prints the GBCS message as hex on standard output: the DD-wrapped command with the ACB's
MAC for a non-critical request, the DF pre-command (to be signed by the user) for a critical
one; one line on standard error names the use case.  The target's device type comes from
the topology (CH -> CHF, its GPF, ESME, GSME, ...) or from C{--device-type}.  C{--keys} is
the DCC key store (RTDS layout, e.g. C{rtds/keystore}); it holds the ACB's key-agreement key
that makes the MAC.

Exit status: 0 done; 1 the request cannot be transformed (one line C{error: ...}); 2 a usage
mistake (one line naming the option).

Dispatch: L{main} takes the arguments after C{smets duis transform}; C{transform} is the
entry point C{smets duis} calls with the arguments after C{transform}.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Sequence

from emulator.cli_errors import EXIT_FAILURE, EXIT_USAGE, report

__all__ = ["main", "transform", "device_types_from_topology"]

PROG = "smets duis transform"

_DEVICE_TYPES = ("ESME", "GSME", "GPF", "CHF", "PPMID", "HCALCS")


class _Usage(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2
        raise _Usage(message)


def _parser() -> _Parser:
    p = _Parser(prog="smets duis transform", add_help=True,
                description="Print the GBCS command (hex) the DCC transform makes of a DUIS request.")
    p.add_argument("file", metavar="FILE", help="DUIS request XML")
    p.add_argument("--topology", metavar="FILE", help="topology YAML: device types of the targets")
    p.add_argument("--device-type", choices=_DEVICE_TYPES, help="device type of the target (instead of --topology)")
    p.add_argument("--keys", metavar="DIR", help="DCC key store directory (RTDS layout)")
    p.add_argument("--now", metavar="ISO", help="the DCC clock (default: now), e.g. 2015-01-01T00:00:00Z")
    p.add_argument("--acb-counter", metavar="N", type=int, help="the ACB's next originator counter")
    p.add_argument("--acb", metavar="EUI", help="the ACB's EUI-64 (default 90B3D51F30000002)")
    p.add_argument("--use-case", metavar="NAME", help="which GBCS use case when the device supports several")
    return p


def device_types_from_topology(path: str) -> dict[int, str]:
    """EUI-64 -> GBCS device type for every device of a topology (a CH is the CHF and its GPF)."""
    from emulator.topology import load_topology

    topo = load_topology(path, seed=0)
    types: dict[int, str] = {}
    for home in topo.homes:
        for dev in home.devices:
            if dev.kind == "CH":
                types[dev.eui64] = "CHF"
                if dev.gpf_eui64 is not None:
                    types[dev.gpf_eui64] = "GPF"
            elif dev.kind in _DEVICE_TYPES:
                types[dev.eui64] = dev.kind
    return types


class _FixedClock:
    def __init__(self, now: float) -> None:
        self._now = now

    def seconds(self) -> float:
        return self._now


def main(argv: Sequence[str] | None = None) -> int:
    """Run C{smets duis transform} with C{argv} (the arguments after C{transform})."""
    args_in = list(sys.argv[1:] if argv is None else argv)
    try:
        args = _parser().parse_args(args_in)
    except _Usage as e:
        return _usage(str(e))
    except SystemExit as e:      # --help
        return int(e.code or 0)
    return _run(args)


transform = main


def _usage(message: str) -> int:
    report(PROG, message)
    return EXIT_USAGE


def _run(args: argparse.Namespace) -> int:
    from protocols.acb import RequestError, Transformer
    from protocols.acb.request import DUIS_NS, TransformRequest, parse_datetime, parse_request_id, parse_xml
    from protocols.gbcs import DEFAULT_ACB_EUI, GbcsCrypto, KeyStore
    from protocols.gbcs.keystore import parse_eui

    path = Path(args.file)
    if not path.is_file():
        return _usage(f"FILE: no such file: {args.file}")
    if args.keys is None:
        return _usage("--keys DIR is required (the ACB key that MACs the command)")
    if not Path(args.keys).is_dir():
        return _usage(f"--keys: not a directory: {args.keys}")
    if args.topology is None and args.device_type is None:
        return _usage("give --topology FILE or --device-type TYPE (the target's device type)")
    acb = DEFAULT_ACB_EUI
    if args.acb is not None:
        try:
            acb = parse_eui(args.acb)
        except ValueError:
            return _usage(f"--acb: not an EUI-64: {args.acb}")
    if args.now is not None:
        try:
            now = parse_datetime(args.now, "--now").timestamp()
        except RequestError:
            return _usage(f"--now: not an ISO date-time: {args.now}")
    else:
        now = time.time()
    types: dict[int, str] = {}
    if args.topology is not None:
        try:
            types = device_types_from_topology(args.topology)
        except (OSError, ValueError) as e:
            return _usage(f"--topology: {e}")
    try:
        root = parse_xml(path.read_bytes())
        ns = {"sr": DUIS_NS}
        header = root.find("sr:Header", ns)
        body = root.find("sr:Body", ns)
        if header is None or body is None or len(body) == 0:
            raise RequestError("invalid-request", "Request", "no sr:Header or no service request in sr:Body")

        def field(name: str) -> str:
            node = header.find(f"sr:{name}", ns)
            if node is None or not (node.text or "").strip():
                raise RequestError("invalid-request", f"Header.{name}", "missing")
            return node.text.strip()

        originator, target, counter = parse_request_id(field("RequestID"))
        device_type = args.device_type or types.get(target)
        if device_type is None:
            return _usage(f"--topology: no device {target:016X} in {args.topology}")
        variant = int(field("CommandVariant")) if header.find("sr:CommandVariant", ns) is not None else 1
        request = TransformRequest(field("ServiceReferenceVariant"), body[0], originator, target, counter,
                                   device_type, variant, args.use_case, {"device_types": types})
        counter_source = (lambda: args.acb_counter) if args.acb_counter is not None else None
        transformer = Transformer(GbcsCrypto(KeyStore(args.keys), acb), _FixedClock(now), counter_source)
        result = transformer.transform(request)
    except RequestError as e:
        if e.code == "invalid-request" and e.element in ("", "Request"):
            return _usage(f"FILE: {e}")          # not a DUIS request at all: the user's mistake
        report(PROG, str(e))                     # a request the transform refuses: the run failed
        return EXIT_FAILURE
    except ValueError as e:      # a key file the store cannot parse
        return _usage(f"--keys: {e}")
    out = result.precommand if result.critical else result.command
    kind = "pre-command (critical: sign it, then send it back)" if result.critical else "command"
    print(f"{result.use_case} (message code 0x{result.message_code:04X}) {kind}", file=sys.stderr)
    print(out.hex().upper())
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
