"""CBKE benchmark: sect283k1 arithmetic and one full key establishment, in pure Python.

Run as C{python -m benchmarks.cbke [--repeat N]}.  Prints figures, asserts nothing
(STYLE.md 12).  Reports the median over C{N} runs of:

 - one field multiplication, squaring and inversion in GF(2^283);
 - one scalar multiplication kG (a full-size 281-bit scalar) with the tau-adic NAF used by
   the code, and with the Montgomery ladder kept as the reference method;
 - compressed point decoding (a half-trace);
 - ECQV public-key reconstruction from a certificate (128-bit e, plus one point addition);
 - issuing one device's credentials (request, certificate, private-key reconstruction);
 - one complete CBKE run between an initiator and a responder on a virtual clock (both sides'
   computation: 2 certificate reconstructions, 2 ephemeral keys, 2 ECMQV, KDF and MACs).
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

from emulator.clock import VirtualClock
from emulator.rng import derive_rng
from protocols.zigbee import ecc283 as E
from protocols.zigbee.cbke.certificate import reconstruct_public_key
from protocols.zigbee.cbke.credentials import issue_device_credentials, make_credentials
from protocols.zigbee.cbke.machine import KeyEstablishment
from protocols.zigbee.cbke.messages import encode


def _median(fn, repeat: int, inner: int = 1) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        times.append((time.perf_counter() - t0) / inner)
    return statistics.median(times)


def _cbke_run(u_creds, v_creds, seed: int) -> bytes:
    clock = VirtualClock()
    box: dict = {}
    results: dict = {}

    def sender(name: str):
        def send(command) -> None:
            clock.callLater(0.01, box["V" if name == "U" else "U"].receive,
                            command.COMMAND_ID, encode(command))
        return send
    box["U"] = KeyEstablishment(initiator=True, clock=clock, rng=random.Random(seed),
                                credentials=u_creds, send=sender("U"),
                                on_done=lambda r: results.__setitem__("U", r))
    box["V"] = KeyEstablishment(initiator=False, clock=clock, rng=random.Random(seed + 1),
                                credentials=v_creds, send=sender("V"),
                                on_done=lambda r: results.__setitem__("V", r))
    box["U"].start()
    clock.advance(60)
    return results["U"].link_key


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.cbke", description=__doc__)
    parser.add_argument("--repeat", type=int, default=9, help="runs per figure (median)")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    rng = random.Random(1)
    a, b = rng.getrandbits(283), rng.getrandbits(283)
    k = E.private_key_from_rng(rng)
    point = E.multiply_base(k)
    encoded = E.encode_point(point)
    rng_for = lambda *names: derive_rng(1, "cbke", *names)   # noqa: E731
    eui_u, eui_v = bytes.fromhex("00124b0000000001"), bytes.fromhex("00124b00000000aa")
    ca, creds = make_credentials(rng_for, [eui_u, eui_v])
    cert = creds[eui_u].certificate

    rows = [
        ("field multiplication", _median(lambda: E.field_mul(a, b), args.repeat, 2000)),
        ("field squaring", _median(lambda: E.field_square(a), args.repeat, 2000)),
        ("field inversion", _median(lambda: E.field_inverse(a), args.repeat, 200)),
        ("scalar multiplication kG (281-bit k)",
         _median(lambda: E.multiply_base(k), args.repeat)),
        ("  same, Montgomery ladder (reference)",
         _median(lambda: E.scalar_mult_ladder(k, E.G), args.repeat)),
        ("compressed point decode", _median(lambda: E.decode_point(encoded), args.repeat)),
        ("ECQV public-key reconstruction",
         _median(lambda: reconstruct_public_key(cert, ca.trusted), args.repeat)),
        ("issue one device's credentials",
         _median(lambda: issue_device_credentials(ca, eui_u, random.Random(2)), args.repeat)),
        ("one CBKE run, both sides",
         _median(lambda: _cbke_run(creds[eui_u], creds[eui_v], 5), args.repeat)),
    ]
    print(f"sect283k1 / CBKE suite 2, pure Python, median of {args.repeat} runs")
    for name, seconds in rows:
        if seconds < 1e-3:
            print(f"  {name:40s} {seconds * 1e6:9.1f} us")
        else:
            print(f"  {name:40s} {seconds * 1e3:9.2f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
