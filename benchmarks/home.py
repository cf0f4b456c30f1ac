"""One home's cost: GBCS register reads per second through the whole HAN path, and the memory
of idle dual-fuel homes.

Run from the repository root::

    python -m benchmarks.home [--reads N] [--spacing S] [--homes N] [--traced-homes N]
                              [--settle S] [--profile]

The figures of issue 11 come from (2 cores shared: pin to one and take the median of a few)::

    taskset -c 1 python -m benchmarks.home --reads 500 --homes 0            # reads/s (~10 s)
    taskset -c 1 python -m benchmarks.home --reads 0 --homes 100            # memory (~30 s)
    taskset -c 1 python -m benchmarks.home --reads 0 --homes 1000           # memory (~3-5 min)
    python -m benchmarks.home --reads 300 --homes 0 --profile               # where the time goes

Prints:

  - reads: N ECS17b-like reads (Read ESME Energy Registers (Import Energy): a Data-Protection
    get_protected_attributes the ESME answers encrypted for the supplier), built and MACed
    beforehand with the reference supplier's keys (the DCC's work, not timed), handed to the CH
    of the single-home topology C{--spacing} virtual seconds apart; each crosses the CHF, the
    GB-HRGP tunnel (APS fragmentation, APS and NWK security, MAC acks and retries) to the
    ESME, whose GBCS logic checks its MAC, reads the registers the load model drives, encrypts
    and MACs the answer, which comes back the same way.  Virtual time on one core: reads per
    CPU second of the process (the machine may be shared: CPU time, not wall time), with the
    CPU time of the same virtual span with no reads (the rest of the home: display reads, link
    status, the sleepy gas meter) measured separately and taken out ("net"); beside it the bare cryptography cost of the same path: the very AES-CCM* (NWK and
    APS) and AES-GCM (GBCS MACs and encryption, with their SHA-256 key derivations) operations
    the reads caused, counted in an identical run and replayed on C{cryptography} alone;
  - memory: C{--homes} idle dual-fuel homes (CH with CHF and GPF, ESME, GSME, IHD; joined,
    tunnels open, gas mirror configured, displays reading) built and run for C{--settle}
    virtual seconds (the joins are over within the first 30) in one process: RSS growth per
    home (without tracemalloc), then C{--traced-homes} homes (default: at most 100) built again
    under tracemalloc: bytes per home and where they go (by line, top 15).  A home's bytes do
    not depend on how many other homes there are (each has its own medium, stack, timers), so
    100 traced homes give the per-home figure of 1,000 without tracing millions of
    allocations; the CPU and wall time each part took are printed.  The meters
    use no CBKE here (C{cbke: false}): a Key Establishment costs about a second of sect283k1
    arithmetic per device (C{python -m benchmarks.cbke}), which would make the measurement
    an hour long and adds a few link keys per home to what is measured;
  - C{--profile}: cProfile of the read run, top functions by own time.

No asserts: figures only.  The aims (issue 11): at least 1,000 reads/s per core, at most
50 KB per idle home.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import os
import sys
import time
import tracemalloc
from pathlib import Path

_ROOT = Path(__file__).resolve().parents[1]
KEYS = _ROOT / "topologies" / "rtds-keys"
ESME = 0x00DB1234567890A0
SUPPLIER = 0x90B3D51F30010000


# --------------------------------------------------------------------------- reads

def _home_topology():
    from emulator.topology import parse_topology
    text = (_ROOT / "topologies" / "single-home.yaml").read_text()
    text = text[:text.index("    gbcs_commands:")] + text[text.index("    han:"):]
    # parsed as if it sat beside the shipped one (its key store path is relative)
    return parse_topology(text, str(_ROOT / "topologies" / "bench-home.yaml"), 1)


def _ecs17b(crypto, counter: int) -> bytes:
    from protocols.acb.dlms_items import protection_parameters
    from protocols.gbcs.framing import CRA_COMMAND, GeneralCiphering, GeneralSigning, OtherInformation
    from protocols.gbcs.message import protect
    from protocols.gbcs.payloads import dlms, encode_payload
    descriptors = dlms.array(*(dlms.structure(
        dlms.make_data("long-unsigned", 3), dlms.octet_string(dlms.obis_from_str(obis)),
        dlms.make_data("integer", 2), dlms.make_data("long-unsigned", 0),
        dlms.structure(dlms.make_data("enum", 0), dlms.make_data("null-data")))
        for obis in ("1-0:1.8.0.255", "1-0:3.8.0.255")))
    param = dlms.structure(descriptors, protection_parameters(counter, SUPPLIER, ESME))
    spec = dlms.access_request_item("action", 30, "0-0:43.2.8.255", 1)
    payload = encode_payload(dlms.access_request(counter, [spec], [param]))
    gs = GeneralSigning(CRA_COMMAND, counter, SUPPLIER, ESME, None, OtherInformation(0x0027), payload, b"")
    return protect(gs, crypto, GeneralCiphering(b""))


class _Ops:
    """Counts the AES work of the protocol stacks: CCM* (ZigBee NWK/APS) and GCM (GBCS)."""

    def __init__(self) -> None:
        self.on = False
        self.ccm: list[tuple[str, int, int, int]] = []     # (op, tag length, data, aad)
        self.gcm: list[tuple[str, int, int]] = []          # (op, data, aad)
        self.gcm_keys = 0

    def install(self):
        from cryptography.hazmat.primitives.ciphers.aead import AESCCM, AESGCM

        import protocols.gbcs.crypto as gcrypto
        import protocols.zigbee.security as zsec
        ops = self

        class CountingCCM:
            def __init__(self, key, tag_length=16):
                self._c, self._t = AESCCM(key, tag_length=tag_length), tag_length

            def encrypt(self, nonce, data, aad):
                if ops.on:
                    ops.ccm.append(("e", self._t, len(data), len(aad or b"")))
                return self._c.encrypt(nonce, data, aad)

            def decrypt(self, nonce, data, aad):
                if ops.on:
                    ops.ccm.append(("d", self._t, len(data) - self._t, len(aad or b"")))
                return self._c.decrypt(nonce, data, aad)

        class CountingGCM:
            def __init__(self, key):
                if ops.on:
                    ops.gcm_keys += 1
                self._c = AESGCM(key)

            def encrypt(self, nonce, data, aad):
                if ops.on:
                    ops.gcm.append(("e", len(data), len(aad or b"")))
                return self._c.encrypt(nonce, data, aad)

            def decrypt(self, nonce, data, aad):
                if ops.on:
                    ops.gcm.append(("d", len(data) - 16, len(aad or b"")))
                return self._c.decrypt(nonce, data, aad)

        saved = (zsec.AESCCM, gcrypto.AESGCM, dict(zsec._ccm_cache))
        zsec.AESCCM, gcrypto.AESGCM = CountingCCM, CountingGCM
        for cache in zsec._ccm_cache.values():
            cache.clear()

        def restore():
            zsec.AESCCM, gcrypto.AESGCM = saved[0], saved[1]
            for k, cache in zsec._ccm_cache.items():
                cache.clear()
                cache.update(saved[2][k])
        return restore


def _bare_cost(ops: _Ops) -> float:
    """CPU seconds to do the counted AES work on C{cryptography} alone (keys cached as the
    stacks cache them; one SHA-256 key derivation per GCM key)."""
    from cryptography.hazmat.primitives.ciphers.aead import AESCCM, AESGCM
    key = bytes(range(16))
    ccms = {t: AESCCM(key, tag_length=t) for t in {t for _, t, _, _ in ops.ccm} or {4}}
    nonce13, nonce12 = bytes(13), bytes(12)
    prepared = []
    for op, t, n, a in ops.ccm:
        c = ccms[t]
        data, aad = bytes(n), bytes(a)
        prepared.append((c.encrypt, data, aad) if op == "e" else (c.decrypt, c.encrypt(nonce13, data, aad), aad))
    gprepared = []
    g = AESGCM(key)
    for op, n, a in ops.gcm:
        data, aad = bytes(n), bytes(a)
        gprepared.append((op, data if op == "e" else g.encrypt(nonce12, data, aad), aad))
    secret = bytes(32)
    t0 = time.process_time()
    for fn, data, aad in prepared:
        fn(nonce13, data, aad)
    for _ in range(ops.gcm_keys):
        AESGCM(hashlib.sha256(secret).digest()[:16])
    for op, data, aad in gprepared:
        (g.encrypt if op == "e" else g.decrypt)(nonce12, data, aad)
    return time.process_time() - t0


def _read_run(n: int, spacing: float, ops: _Ops | None = None, profile: bool = False):
    """(CPU s of the idle span, CPU s of the read span, reads answered, frames per read, profile)."""
    from emulator.clock import VirtualClock
    from emulator.dcc.devices import install_run_device_logic
    from emulator.estate import Estate
    from emulator.service import run_totals
    from protocols.gbcs.crypto import GbcsCrypto
    from protocols.gbcs.framing import decode_frame
    from protocols.gbcs.keystore import KeyStore

    topology = _home_topology()
    clock = VirtualClock(start=topology.start_time)
    estate = Estate(topology, clock, 1)
    install_run_device_logic(estate, topology, 1)
    estate.start()
    clock.run_until(topology.start_time + 60)      # joined, CBKE done, tunnels open
    ch = estate.homes[0].nodes["ch"]
    crypto = GbcsCrypto(KeyStore(KEYS))
    commands = [_ecs17b(crypto, 10_000 + i) for i in range(n + 1)]
    ch.chf_tunnel.from_wan(commands[0])             # the ESME's GBCS logic is built on first use
    clock.run_until(clock.seconds() + 5)
    span = n * spacing
    frames0 = run_totals(estate.metrics)["frames"]
    t0 = time.process_time()
    clock.run_until(clock.seconds() + span)          # the home alone, same virtual length
    idle = time.process_time() - t0
    frames1 = run_totals(estate.metrics)["frames"]
    before = len(ch.chf_tunnel.wan_messages)
    begin = clock.seconds()
    for i, command in enumerate(commands[1:]):
        clock.callLater(i * spacing, ch.chf_tunnel.from_wan, command)
    if ops is not None:
        ops.on = True
    prof = None
    if profile:
        import cProfile
        prof = cProfile.Profile()
        prof.enable()
    t0 = time.process_time()
    clock.run_until(begin + span + 5)
    busy = time.process_time() - t0
    if prof is not None:
        prof.disable()
    if ops is not None:
        ops.on = False
    frames2 = run_totals(estate.metrics)["frames"]
    answered = sum(1 for m in list(ch.chf_tunnel.wan_messages)[before:]
                   if decode_frame(m).signing.message_code == 0x0027)
    estate.close()
    extra_frames = (frames2 - frames1) - (frames1 - frames0) * (span + 5) / span
    return idle, busy, answered, extra_frames / max(answered, 1), prof


def reads(n: int, spacing: float, profile: bool) -> None:
    idle, busy, answered, frames, prof = _read_run(n, spacing, profile=profile)
    # the same run again, counting the AES operations the reads cause (same seed: same work)
    ops = _Ops()
    restore = ops.install()
    try:
        _, _, answered2, _, _ = _read_run(n, spacing, ops)
    finally:
        restore()
    idle_ops = _Ops()   # the home's own background AES work over the same span, to take out
    restore = idle_ops.install()
    try:
        _idle_crypto(idle_ops, n * spacing)
    finally:
        restore()
    bare = _bare_cost(ops) - _bare_cost(idle_ops)
    net = max(busy - idle, 1e-9)
    print(f"reads: {answered}/{n} ECS17b answered, {n * spacing:g} virtual s: {busy:.2f} s CPU "
          f"({answered / busy:,.0f} reads/s per core with the whole home running; the home alone over the same span "
          f"{idle:.2f} s, so {answered / net:,.0f} reads/s net, {1000 * net / max(answered, 1):.2f} ms per read)")
    per = max(answered2, 1)
    print(f"  per read: {frames:.1f} frames on the air; AES work counted: "
          f"{(len(ops.ccm) - len(idle_ops.ccm)) / per:.1f} CCM* ops (NWK/APS), "
          f"{(len(ops.gcm) - len(idle_ops.gcm)) / per:.1f} GCM ops and "
          f"{(ops.gcm_keys - idle_ops.gcm_keys) / per:.1f} key derivations (GBCS)")
    print(f"  bare cryptography for the same operations: {1000 * bare / per:.3f} ms per read "
          f"({per / max(bare, 1e-9):,.0f} reads/s if the AES were all there was)")
    if prof is not None:
        import io
        import pstats
        out = io.StringIO()
        pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(25)
        print("  profile of the read span (own time):")
        print("\n".join("    " + line for line in out.getvalue().splitlines()[4:40] if line.strip()))


def _idle_crypto(ops: _Ops, span: float) -> None:
    """The home with no reads over C{span} (+5 s), counting AES operations."""
    from emulator.clock import VirtualClock
    from emulator.dcc.devices import install_run_device_logic
    from emulator.estate import Estate
    from protocols.gbcs.crypto import GbcsCrypto
    from protocols.gbcs.keystore import KeyStore

    topology = _home_topology()
    clock = VirtualClock(start=topology.start_time)
    estate = Estate(topology, clock, 1)
    install_run_device_logic(estate, topology, 1)
    estate.start()
    clock.run_until(topology.start_time + 60)
    ch = estate.homes[0].nodes["ch"]
    ch.chf_tunnel.from_wan(_ecs17b(GbcsCrypto(KeyStore(KEYS)), 10_000))
    clock.run_until(clock.seconds() + 5 + span)      # the same span as the idle one of the read run
    ops.on = True
    clock.run_until(clock.seconds() + span + 5)
    ops.on = False
    estate.close()


# --------------------------------------------------------------------------- memory

_HOME = """  - name: home-{i:04d}
    han: {{channel: {channel}}}
    devices:
      - {{kind: CH, name: ch}}
      - {{kind: ESME, name: esme, cbke: false}}
      - {{kind: GSME, name: gsme, cbke: false}}
      - {{kind: IHD, name: ihd, cbke: false}}
"""


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _idle_text(n: int) -> str:
    return ('name: idle-homes\nstart_time: "2026-03-02T00:00:00Z"\nhomes:\n'
            + "".join(_HOME.format(i=i, channel=11 + i % 16) for i in range(n)))


def _idle_estate(n: int, settle: float, seed: int = 1):
    """C{n} idle dual-fuel homes run for C{settle} virtual seconds; (estate, CPU s, wall s)."""
    from emulator.clock import VirtualClock
    from emulator.dcc.devices import install_run_device_logic
    from emulator.estate import Estate
    from emulator.topology import parse_topology

    t0, w0 = time.process_time(), time.perf_counter()
    topology = parse_topology(_idle_text(n), "idle-homes.yaml", seed)
    clock = VirtualClock(start=topology.start_time)
    estate = Estate(topology, clock, seed)
    install_run_device_logic(estate, topology, seed)
    estate.start()
    clock.run_until(topology.start_time + settle)
    return estate, time.process_time() - t0, time.perf_counter() - w0


def _joined(estate) -> int:
    return sum(1 for h in estate.homes for node in h.nodes.values()
               if node.kind != "CH" and getattr(node.stack, "joined", False))


def memory(n: int, settle: float, traced: int | None = None, top: int = 15) -> None:
    """RSS growth of C{n} idle homes, then tracemalloc bytes of C{traced} (default: up to 100)
    idle homes built again: a home's bytes do not depend on how many others there are (each
    has its own medium, stack and timers), and tracing a million allocations would multiply
    the run time by several."""
    traced = min(n, 100) if traced is None else min(traced, n)
    w_all = time.perf_counter()
    # the one-off costs (imports, registries, caches) come with a first home, not measured
    warm, _, _ = _idle_estate(1, settle, seed=2)
    warm.close()
    del warm

    # RSS first, without tracemalloc (whose bookkeeping would be counted too)
    gc.collect()
    rss0 = _rss()
    estate, cpu, wall = _idle_estate(n, settle)
    gc.collect()
    rss1 = _rss()
    joined = _joined(estate)
    estate.close()
    del estate
    gc.collect()
    print(f"memory: {n:,} idle dual-fuel homes ({joined:,}/{3 * n:,} devices joined after {settle:g} virtual s; "
          f"built and run in {cpu:.0f} s CPU, {wall:.0f} s wall)")
    print(f"  RSS growth: {(rss1 - rss0) / n / 1024:,.1f} KiB per home (no tracemalloc; "
          f"{(rss1 - rss0) / 2**20:,.1f} MiB in all)")
    if traced <= 0:
        return
    # then homes again under tracemalloc, for the bytes and where they go
    tracemalloc.start(1)
    snap0 = tracemalloc.take_snapshot()
    t0 = time.perf_counter()
    estate, _, _ = _idle_estate(traced, settle)
    gc.collect()
    snap1 = tracemalloc.take_snapshot()
    traced_now = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    twall = time.perf_counter() - t0
    stats = snap1.compare_to(snap0, "lineno")
    total = sum(s.size_diff for s in stats)
    print(f"  tracemalloc ({traced:,} homes built again, {twall:.0f} s wall): {total / traced / 1024:,.1f} KiB per home "
          f"({total / 1e6:,.1f} MB in all; traced now {traced_now / 1e6:,.1f} MB)")
    print(f"  where it goes (per home, by line; top {top}):")
    root = str(_ROOT) + os.sep
    for s in stats[:top]:
        frame = s.traceback[0]
        print(f"    {s.size_diff / traced:9,.0f} B {s.count_diff / traced:7.1f} objects  "
              f"{frame.filename.replace(root, '')}:{frame.lineno}")
    estate.close()
    print(f"  memory measurement took {time.perf_counter() - w_all:.0f} s wall")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.home", description=__doc__.split("\n")[0])
    ap.add_argument("--reads", type=int, default=500, help="ECS17b reads over the HAN")
    ap.add_argument("--spacing", type=float, default=0.5, help="virtual seconds between reads")
    ap.add_argument("--homes", type=int, default=1000, help="idle homes for the memory figure (0: skip)")
    ap.add_argument("--settle", type=float, default=240.0, help="virtual seconds the idle homes run first")
    ap.add_argument("--traced-homes", type=int, default=None,
                    help="idle homes built again under tracemalloc (default: --homes, at most 100; 0: skip)")
    ap.add_argument("--profile", action="store_true", help="cProfile the read span")
    args = ap.parse_args(argv)
    if args.reads > 0:
        reads(args.reads, args.spacing, args.profile)
    if args.homes > 0:
        memory(args.homes, args.settle, args.traced_homes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
