"""SMWAN benchmark: frames per second through the frame codec and the transport machines, one core.

Run as C{python -m benchmarks.smwan [--messages N] [--size OCTETS] [--profile REGION]}.  Prints
figures, asserts nothing (STYLE.md 12).

 1. codec: C{encode_frame} + C{decode_frame} of one DATA frame carrying a GBCS message of
    C{--size} octets (the baseline: the least work any transport must do per frame);
 2. machines: one hub (L{HubWanEndpoint}) attached to one L{CspGateway} through a zero-delay
    in-memory loop on a L{VirtualClock}; C{N} messages down and C{N} up, each one DATA frame and
    one DATA_ACK frame, with windows, acknowledgements and retransmission timers all live.
    Frames/s counts every SMWAN frame that crossed (both directions), per wall-clock second.
"""

from __future__ import annotations

import argparse
import sys
import time

from emulator.clock import VirtualClock
from emulator.rng import derive_rng
from protocols.smwan.frames import Frame, FrameType, decode_frame, encode_frame
from protocols.smwan.gateway import CspGateway
from protocols.smwan.hub import HubWanEndpoint
from protocols.smwan.profiles import DEFAULT_PROFILES

EUI = 0x00DB_1200_0001_0010


def bench_codec(size: int, seconds: float) -> tuple[int, float]:
    frame = Frame(FrameType.DATA, EUI, seq=1, ack=1, payload=b"\xdf" + bytes(size - 1))
    n = 0
    start = time.perf_counter()
    while True:
        for _ in range(1000):
            decode_frame(encode_frame(frame))
        n += 1000
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return n, elapsed


class _Loop:
    """Zero-delay loop between one hub and the gateway (deliveries still go through the clock)."""

    def __init__(self, clock: VirtualClock) -> None:
        self.clock = clock
        self.frames = 0
        self.hub: HubWanEndpoint | None = None

    def dial(self, endpoint: HubWanEndpoint) -> None:
        endpoint.connected(self.to_dcc)

    def hangup(self) -> None:
        pass

    def to_dcc(self, data: bytes) -> None:
        self.frames += 1
        self.clock.callLater(0, self.gateway.frame_received, data, self.to_hub, self)

    def to_hub(self, data: bytes) -> None:
        self.frames += 1
        self.clock.callLater(0, self.hub.frame_received, data)


def bench_machines(messages: int, size: int, region: str) -> tuple[int, int, float]:
    profile = DEFAULT_PROFILES[region].with_overrides(region, {"max_frame": size + 64, "store_limit": messages + 1,
                                                               "window": 64})
    clock = VirtualClock()
    loop = _Loop(clock)
    received = [0, 0]

    def up(eui: int, m: bytes) -> None:
        received[0] += 1

    def down(m: bytes) -> None:
        received[1] += 1

    loop.gateway = CspGateway(clock, profile, up)
    hub = HubWanEndpoint(clock, EUI, profile, derive_rng(0, "bench"), down, loop)
    loop.hub = hub
    hub.start()
    clock.advance(1.0)
    loop.frames = 0
    message = b"\xdf" + bytes(size - 1)
    start = time.perf_counter()
    for i in range(messages):
        hub.send_up(message)
        loop.gateway.send_down(EUI, message)
        if i % 64 == 63:
            clock.advance(0.001)
    clock.advance(1.0)
    elapsed = time.perf_counter() - start
    assert received == [messages, messages], received
    return loop.frames, 2 * messages, elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.smwan", description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=50_000, help="messages each way (default 50000)")
    parser.add_argument("--size", type=int, default=300, help="GBCS message size in octets (default 300)")
    parser.add_argument("--profile", default="centre", choices=sorted(DEFAULT_PROFILES), help="link profile")
    parser.add_argument("--seconds", type=float, default=2.0, help="codec measuring time (default 2)")
    args = parser.parse_args(argv)
    if args.messages < 1 or args.size < 1:
        parser.error("--messages and --size must be >= 1")
    n, elapsed = bench_codec(args.size, args.seconds)
    print(f"codec    encode+decode DATA ({args.size} B GBCS): {n / elapsed:12,.0f} frames/s")
    frames, messages, elapsed = bench_machines(args.messages, args.size, args.profile)
    print(f"machines hub <-> gateway ({args.profile}, {args.messages:,} msgs each way): "
          f"{frames / elapsed:12,.0f} frames/s, {messages / elapsed:,.0f} messages/s "
          f"({frames:,} frames in {elapsed:.2f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
