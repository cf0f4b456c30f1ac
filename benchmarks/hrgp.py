"""GB-HRGP tunnel throughput: the sans-IO machines alone, and GBCS round trips over the HAN.

Run from the repository root::

    python -m benchmarks.hrgp [--seconds S] [--messages N]

Prints:

  - machines: GET -> GET-RESPONSE (remaining count + a 100-octet message) -> PUT of a 100-octet
    response, client and server machines wired to each other with the Tunneling ZCL frames
    encoded and decoded in between; beside the bare codec cost of the same frames;
  - HAN: N remote-party commands (the RTDS ECS17c read, 79 octets) delivered to the CH of the
    single-home topology C{--spacing} virtual seconds apart, pushed to the ESME through the tunnel (MAC,
    NWK/APS security, APS acks) and answered with a response of the same size: round trips per
    wall second and virtual seconds per wall second.

No asserts: figures only.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from pathlib import Path

from emulator.clock import VirtualClock
from protocols.gbcs.framing import CRA_RESPONSE, GeneralCiphering, decode_frame
from protocols.gbcs.message import protect
from protocols.hrgp.client import TunnelClientCore, new_tunnel_client, tunnel_command_received
from protocols.hrgp.codec import GetResponse, Put, TransferData, decode_hrgp, encode_hrgp, from_zcl, to_zcl
from protocols.hrgp.server import TunnelServer
from protocols.zcl.frame import decode_zcl, encode_zcl

_ROOT = Path(__file__).resolve().parents[1]
MSG = bytes.fromhex("DF0901") + bytes(97)
RSP = bytes.fromhex("DD0000") + bytes(97)


def _rate(fn, seconds: float) -> float:
    fn()
    n, start = 0, time.perf_counter()
    while True:
        n += fn()
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return n / elapsed


class _Events:
    def __init__(self, client_box) -> None:
        self.box = client_box

    def message_received(self, message, remaining) -> None:
        self.box["m"].put(RSP)

    def queue_empty(self) -> None:
        pass

    def opened(self, tunnel_id) -> None:
        pass

    def closed(self, reason) -> None:
        pass

    def failed(self, reason) -> None:
        pass


def machines(seconds: float) -> tuple[float, float]:
    clock = VirtualClock(start=0.0)
    box: dict = {}
    tsn = [0]

    def over_the_air(command, direction):
        tsn[0] = (tsn[0] + 1) & 0xFF
        return from_zcl(decode_zcl(encode_zcl(to_zcl(command, direction, tsn[0]))))

    def to_server(command) -> None:
        srv.command_received(1, over_the_air(command, 0))

    core = TunnelClientCore(clock, to_server, _Events(box), lambda name: None)
    m = box["m"] = new_tunnel_client(core)
    srv = TunnelServer(clock, lambda peer, cmd, on_done=None: tunnel_command_received(m, over_the_air(cmd, 1)),
                       on_get=lambda peer: srv.get_response(peer, 0, MSG), on_put=lambda peer, msg: None)
    m.open()

    def round_trips() -> int:
        for _ in range(200):
            m.get()
        return 200

    def bare() -> int:
        for _ in range(200):
            for command, direction in ((TransferData(0, encode_hrgp(GetResponse(0, MSG))), 1),
                                       (TransferData(0, encode_hrgp(Put(RSP))), 0),
                                       (TransferData(0, b"\x01"), 0)):
                decode_hrgp(from_zcl(decode_zcl(encode_zcl(to_zcl(command, direction, 1)))).data)
        return 200

    return _rate(round_trips, seconds), _rate(bare, seconds)


def han(n: int, spacing: float) -> tuple[float, float, int]:
    from emulator.estate import Estate
    from emulator.topology import parse_topology

    text = (_ROOT / "topologies" / "single-home.yaml").read_text()
    text = text[:text.index("    gbcs_commands:")] + text[text.index("    han:"):]
    topology = parse_topology(text, str(_ROOT / "topologies" / "bench.yaml"), 1)
    clock = VirtualClock(start=topology.start_time)
    estate = Estate(topology, clock, 1)
    command = bytes.fromhex("DD000000000000471100000000DF090100000000000004B00890B3D51F300200000800DB1234567890A000"
                            "02002813D9200004B0000101000100005E2C22140201000050707B1A18C92541EE8E7F7E")
    answers = {"n": 0}

    class Echo:
        def __init__(self, device, send) -> None:
            self.send = send

        def receive(self, message: bytes) -> None:
            answers["n"] += 1
            gs = decode_frame(message).signing
            response = replace(gs, cra_flag=CRA_RESPONSE, originator=gs.recipient, recipient=gs.originator)
            self.send(protect(response, None, GeneralCiphering(bytes(12))))  # (MAC not checked on the way)

    estate.homes[0].gbcs_application_factory = lambda device, send: Echo(device, send)
    estate.start()
    clock.run_until(topology.start_time + 60)  # joined, tunnels open
    ch = estate.homes[0].nodes["ch"]
    for i in range(n):
        clock.callLater(i * spacing, ch.chf_tunnel.from_wan, command)
    span = n * spacing + 10
    start = time.perf_counter()
    clock.run_until(clock.seconds() + span)
    wall = time.perf_counter() - start
    estate.close()
    return len(ch.chf_tunnel.wan_messages) / wall, span / wall, len(ch.chf_tunnel.wan_messages)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="measuring time per figure")
    parser.add_argument("--messages", type=int, default=500, help="commands sent over the HAN")
    parser.add_argument("--spacing", type=float, default=0.1, help="virtual seconds between commands")
    args = parser.parse_args()
    rt, bare = machines(args.seconds)
    print(f"machines: {rt:,.0f} GET/GET-RESPONSE/PUT round trips/s "
          f"(bare ZCL+HRGP codec for the same three frames: {bare:,.0f}/s)")
    rate, vps, done = han(args.messages, args.spacing)
    print(f"HAN: {done}/{args.messages} ESME round trips {args.spacing} virtual s apart, "
          f"{rate:,.0f} round trips per wall second, "
          f"{vps:,.0f} virtual s per wall s (the whole home keeps running meanwhile)")


if __name__ == "__main__":
    main()
