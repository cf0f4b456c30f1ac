"""End-to-end DUIS reads per wall-clock second, in virtual time, on the RTDS home.

    python -m benchmarks.e2e [--requests N] [--spacing SECONDS]

Each request is the ECS17c template (network operator reads the ESME) with its own RequestID
counter, XML-signed beforehand (the User's work).  What is timed is the DCC's and the estate's
work: DUIS checks (schema, XML-DSig verification, roles, counter, inventory), the ACB transform
and MAC, the north CSP's SMWAN both ways, the CHF, the GB-HRGP tunnel over the secured HAN, the
ESME's GBCS logic (MAC check, execution, MACed response), correlation and the signed DUIS
response.  Printed beside it: the same number of bare DUIS checks and ACB transforms (no HAN, no
WAN), so the share of each part shows.
"""

from __future__ import annotations

import argparse
import time

from lxml import etree


def _requests(n: int) -> list[bytes]:
    from tests.duis_helpers import set_header, signed, template
    base = template("ECS17c_4.16_SUCCESS_REQUEST_DUIS.XML")
    return [signed(set_header(base, RequestID=f"90-B3-D5-1F-30-02-00-00:00-DB-12-34-56-78-90-A0:{10_000 + i}"))
            for i in range(n)]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.e2e", description=__doc__.split("\n")[0])
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--spacing", type=float, default=2.0, help="virtual seconds between requests")
    args = ap.parse_args(argv)

    from emulator.clock import VirtualClock
    from emulator.dcc import build_host
    from emulator.dcc.config import load_dcc_config
    from emulator.dcc.devices import install_device_logic
    from emulator.dcc.estate import EstateWan
    from emulator.estate import Estate
    from emulator.topology import load_topology
    from protocols.duis.response import parse_response
    from tests.duis_helpers import RTDS_HOME

    requests = _requests(args.requests)
    topology = load_topology(str(RTDS_HOME), 1)
    clock = VirtualClock(start=topology.start_time)
    config = load_dcc_config(topology, 1)
    host = build_host(config, clock, seed=1)
    estate = Estate(topology, clock, 1)
    EstateWan(host.broker, estate, clock, 1)
    install_device_logic(estate, config.keystore, 1)
    estate.start()
    clock.run_until(clock.seconds() + 30)          # HAN formed, tunnels open, hub attached
    for i, data in enumerate(requests):
        clock.callLater(i * args.spacing, host.handle, "S", data)
    begin_virtual = clock.seconds()
    t0 = time.perf_counter()
    clock.run_until(begin_virtual + args.requests * args.spacing + 60)
    wall = time.perf_counter() - t0
    answered = 0
    for data in requests:
        rid = etree.fromstring(data).findtext("{*}Header/{*}RequestID")
        got = host.responses(rid) or []
        answered += sum(1 for x in got if parse_response(x).response_code == "I0")
    print(f"end to end: {answered}/{args.requests} reads answered I0 in {wall:.2f} s wall "
          f"({answered / wall:,.0f} reads/s; {clock.seconds() - begin_virtual:,.0f} s virtual, "
          f"{(clock.seconds() - begin_virtual) / wall:,.0f}x real time)")

    # the DCC-side share: DUIS checks + transform + MAC only (no WAN, no HAN, no device)
    clock2 = VirtualClock(start=topology.start_time)
    bare = build_host(load_dcc_config(topology, 1), clock2, seed=1)
    t0 = time.perf_counter()
    for data in requests:
        bare.handle("S", data)
    dcc_only = time.perf_counter() - t0
    print(f"DCC side only (DUIS checks, XML-DSig, ACB transform and MAC): {args.requests / dcc_only:,.0f} requests/s "
          f"({1000 * dcc_only / args.requests:.2f} ms each; end to end {1000 * wall / max(answered, 1):.2f} ms each)")
    estate.close()
    return 0 if answered == args.requests else 1


if __name__ == "__main__":
    raise SystemExit(main())
