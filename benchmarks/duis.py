"""DUIS gateway benchmark: signed requests checked per second, beside the bare crypto cost.

Run from the repository root as C{python -m benchmarks.duis [--seconds S]} (needs the shared
DUIS templates and RTDS key store beside the repository).  Prints figures, asserts nothing
(STYLE.md 12).

Measured, each for about C{--seconds} on one core:

  - C{gateway}: L{protocols.duis.gateway.Gateway.check} on a signed request (parse, schema,
    User, XML signature, roles, counter) plus the acknowledgement built for it;
  - C{host}: the whole L{emulator.dcc.host.DccHost.handle} of a non-device Read Inventory
    (gateway, inventory, acknowledgement; the signed response built on the clock's next turn);
  - baseline C{ecdsa}: one ECDSA P-256 verification (the floor of a signature check);
  - baseline C{c14n+sha256}: canonicalising and hashing the same document.
"""

from __future__ import annotations

import argparse
import hashlib
import time
from pathlib import Path

from lxml import etree

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def _rate(fn, seconds: float) -> tuple[float, int]:
    n, start = 0, time.perf_counter()
    deadline = start + seconds
    while True:
        for _ in range(20):
            fn(n)
            n += 1
        now = time.perf_counter()
        if now >= deadline:
            return n / (now - start), n


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.duis")
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--host-requests", type=int, default=500)
    args = ap.parse_args()

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from twisted.internet.task import Clock

    from emulator.dcc import build_host
    from emulator.dcc.config import load_dcc_config
    from emulator.topology import load_topology
    from protocols.duis import codes, response, xmldsig
    from protocols.duis.gateway import Gateway

    repo = Path(__file__).resolve().parents[1]
    config = load_dcc_config(load_topology(str(repo / "topologies" / "rtds-home.yaml"), 1))
    ks = config.keystore
    user = 0x90B3D51F30010000
    key, cert = ks.private_key(user, "ds"), ks.certificate(user, "ds")
    template = (SHARED / "duis-templates" / "8.2_READ_INVENTORY_REQUEST_DUIS.XML").read_bytes()
    rid_prefix = b"90-B3-D5-1F-30-01-00-00:90-B3-D5-1F-30-00-00-02:"
    print("signing the workload ...", flush=True)
    requests = []
    for i in range(500):
        root = etree.fromstring(template.replace(rid_prefix + b"1000", rid_prefix + str(10_000 + i).encode()))
        xmldsig.sign(root, key, cert)
        requests.append(etree.tostring(root.getroottree(), xml_declaration=True, encoding="UTF-8"))

    def gateway_run():
        gw = Gateway(config.inventory.credentials)

        def one(n: int) -> None:
            data = requests[n % len(requests)]
            acc = gw.check(data)
            response.acknowledgement(str(acc.request.request_id), codes.ACKNOWLEDGEMENT, "8.2", "8.2", 0.0)
        return one

    # the host needs fresh counters (a replay is refused early): its own pre-signed requests
    fresh = []
    for i in range(args.host_requests):
        root = etree.fromstring(template.replace(rid_prefix + b"1000", rid_prefix + str(20_000_000 + i).encode()))
        xmldsig.sign(root, key, cert)
        fresh.append(etree.tostring(root.getroottree(), xml_declaration=True, encoding="UTF-8"))

    pub = cert.public_key()
    der = key.sign(b"x" * 300, ec.ECDSA(hashes.SHA256()))
    doc = etree.fromstring(requests[0])

    def ecdsa_one(n: int) -> None:
        pub.verify(der, b"x" * 300, ec.ECDSA(hashes.SHA256()))

    def c14n_one(n: int) -> None:
        hashlib.sha256(etree.tostring(doc, method="c14n", exclusive=True)).digest()

    gw_rate, gw_n = _rate(gateway_run(), args.seconds)
    clock = Clock()
    host = build_host(config, clock)
    start = time.perf_counter()
    for data in fresh:
        host.handle("D", data)
        clock.advance(0)
    host_rate = len(fresh) / (time.perf_counter() - start)
    ecdsa_rate, _ = _rate(ecdsa_one, args.seconds)
    c14n_rate, _ = _rate(c14n_one, args.seconds)
    print(f"gateway check + ack      {gw_rate:10,.0f} requests/s  ({gw_n:,} requests)")
    print(f"host, 8.2 Read Inventory {host_rate:10,.0f} requests/s  ({len(fresh):,} requests, response signed)")
    print(f"baseline ECDSA verify    {ecdsa_rate:10,.0f} /s")
    print(f"baseline c14n + SHA-256  {c14n_rate:10,.0f} /s")
    print(f"gateway cost per request {1e6 / gw_rate:8.1f} us; of which ECDSA verify {1e6 / ecdsa_rate:6.1f} us")


if __name__ == "__main__":
    main()
