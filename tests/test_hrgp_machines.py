"""The GB-HRGP tunnel machines on a virtual clock: exact outputs for each input.

Client (device end) and server (CHF end) are driven alone, then wired to each other with no
network in between, as C{spec/han-zigbee-wireshark.md} 4.6 describes the anchor flow:
RequestTunnel -> RequestTunnelResponse -> TransferData GET -> GET-RESPONSE -> PUT.
"""

from __future__ import annotations

import pytest

from emulator.clock import VirtualClock
from protocols.hrgp.client import TunnelClientCore, new_tunnel_client, tunnel_command_received
from protocols.hrgp.codec import (MAX_TRANSFER_SIZE, CloseTunnel, RequestTunnel, RequestTunnelResponse,
                                  TransferData, TransferDataError, TunnelClosureNotification)
from protocols.hrgp.server import TunnelServer

MSG = bytes.fromhex("DF0901") + bytes(20)
RSP = bytes.fromhex("DD0000") + bytes(20)
DEVICE, OTHER = 0x00DB1234567890A1, 0x00DB1234567890A0


class Recorder:
    """Collects outputs, events and counts in order."""

    def __init__(self) -> None:
        self.log: list = []
        self.counts: list[str] = []

    def __getattr__(self, name):  # TunnelClientEvents
        return lambda *args: self.log.append((name, *args))

    def transmit(self, command) -> None:
        self.log.append(command)

    def count(self, name: str) -> None:
        self.counts.append(name)

    def take(self) -> list:
        out, self.log = self.log, []
        return out


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(start=1000.0)


def client(clock, **kw):
    rec = Recorder()
    core = TunnelClientCore(clock, rec.transmit, rec, rec.count, **kw)
    return new_tunnel_client(core), rec


# ----------------------------------------------------------------------------- client

def test_client_opens_and_flushes_in_order(clock) -> None:
    m, rec = client(clock)
    m.put(RSP)
    m.get()
    assert rec.take() == [RequestTunnel(6, 0xFFFF, False, MAX_TRANSFER_SIZE)]
    tunnel_command_received(m, RequestTunnelResponse(5, 0, 1500))
    assert rec.take() == [("opened", 5), TransferData(5, b"\x03" + RSP), TransferData(5, b"\x01")]
    m.get()
    assert rec.take() == [TransferData(5, b"\x01")]


def test_client_receives_get_response_put_and_empty_queue(clock) -> None:
    m, rec = client(clock)
    m.open()
    tunnel_command_received(m, RequestTunnelResponse(0, 0, 1500))
    rec.take()
    tunnel_command_received(m, TransferData(0, b"\x02\x02" + MSG))
    tunnel_command_received(m, TransferData(0, b"\x03" + MSG))
    tunnel_command_received(m, TransferData(0, b"\x02\x00"))
    assert rec.take() == [("message_received", MSG, 2), ("message_received", MSG, None), ("queue_empty",)]


def test_client_retries_request_tunnel_then_fails(clock) -> None:
    m, rec = client(clock, response_timeout=8.0, attempts=3)
    m.get()
    times = []
    for _ in range(4):
        times.append((clock.seconds(), rec.take()))
        clock.advance(8.0)
    assert [t for t, out in times if RequestTunnel() in out] == [1000.0, 1008.0, 1016.0]
    assert times[3] == (1024.0, [("failed", "no RequestTunnelResponse after 3 RequestTunnel(s)")])
    assert rec.counts == ["tunnel_request_timeout"]
    assert not clock.getDelayedCalls()
    # a late response is counted, not acted on; a new need starts over
    tunnel_command_received(m, RequestTunnelResponse(0, 0, 1500))
    assert rec.counts[-1] == "tunnel_unexpected_response" and rec.take() == []
    m.open()
    assert rec.take() == [RequestTunnel()]


def test_client_refused(clock) -> None:
    m, rec = client(clock)
    m.open()
    rec.take()
    tunnel_command_received(m, RequestTunnelResponse(0xFFFF, 3, 1500))
    assert rec.take() == [("failed", "RequestTunnel refused with status 3")]
    assert rec.counts == ["tunnel_refused_3"]
    assert not clock.getDelayedCalls(), "the retry timer is cancelled when requesting ends"


def test_client_bad_transfer_data(clock) -> None:
    m, rec = client(clock, maximum_incoming_transfer_size=100)
    tunnel_command_received(m, TransferData(3, b"\x01"))  # no tunnel at all
    assert rec.take() == [TransferDataError(3, 0)]
    m.open()
    tunnel_command_received(m, RequestTunnelResponse(1, 0, 1500))
    rec.take()
    tunnel_command_received(m, TransferData(2, b"\x03" + MSG))  # not our tunnel
    tunnel_command_received(m, TransferData(1, b"\x03" + bytes(200)))  # more than we accept
    tunnel_command_received(m, TransferData(1, b"\x09"))  # malformed
    tunnel_command_received(m, TransferData(1, b"\x01"))  # a GET sent to a device
    assert rec.take() == [TransferDataError(2, 0), TransferDataError(1, 2)]
    assert rec.counts == ["tunnel_no_such_tunnel", "tunnel_no_such_tunnel", "tunnel_data_overflow",
                          "hrgp_malformed", "hrgp_unexpected_get"]


def test_client_respects_the_server_maximum(clock) -> None:
    m, rec = client(clock)
    m.open()
    tunnel_command_received(m, RequestTunnelResponse(0, 0, 10))
    rec.take()
    m.put(RSP)
    assert rec.take() == [] and rec.counts == ["tunnel_data_too_large"]
    m.get()
    assert rec.take() == [TransferData(0, b"\x01")], "the tunnel stays usable"


def test_client_closed_by_server_and_by_itself(clock) -> None:
    m, rec = client(clock)
    m.open()
    tunnel_command_received(m, RequestTunnelResponse(4, 0, 1500))
    rec.take()
    tunnel_command_received(m, TunnelClosureNotification(4))
    assert rec.take() == [("closed", "closed by the server")]
    m.put(RSP)  # kept until the new tunnel opens
    tunnel_command_received(m, RequestTunnelResponse(6, 0, 1500))
    assert rec.take() == [RequestTunnel(), ("opened", 6), TransferData(6, b"\x03" + RSP)]
    tunnel_command_received(m, TransferDataError(6, 0))  # the server lost our tunnel
    assert rec.take() == [("closed", "closed by the server")]
    m.open()
    tunnel_command_received(m, RequestTunnelResponse(7, 0, 1500))
    rec.take()
    m.close()
    assert rec.take() == [CloseTunnel(7), ("closed", "closed by the device")]


def test_client_outbox_is_bounded(clock) -> None:
    m, rec = client(clock, max_outbox=2)
    for _ in range(3):
        m.put(RSP)
    assert rec.counts == ["tunnel_outbox_full"]
    tunnel_command_received(m, RequestTunnelResponse(0, 0, 1500))
    assert [c for c in rec.take() if isinstance(c, TransferData)] == [TransferData(0, b"\x03" + RSP)] * 2


# ----------------------------------------------------------------------------- server

def server(clock, **kw):
    rec = Recorder()
    srv = TunnelServer(clock, lambda peer, cmd, on_done=None: rec.log.append((peer, cmd)),
                       on_get=lambda peer: rec.log.append(("get", peer)),
                       on_put=lambda peer, msg: rec.log.append(("put", peer, msg)),
                       on_opened=lambda peer: rec.log.append(("opened", peer)),
                       on_closed=lambda peer: rec.log.append(("closed", peer)), count=rec.count, **kw)
    return srv, rec


def test_server_grants_and_refuses(clock) -> None:
    srv, rec = server(clock, max_tunnels=2)
    srv.command_received(DEVICE, RequestTunnel(6, 0xFFFF, False, 1500))
    srv.command_received(OTHER, RequestTunnel(6, 0xFFFF, False, 1500))
    assert rec.take() == [(DEVICE, RequestTunnelResponse(0, 0, MAX_TRANSFER_SIZE)), ("opened", DEVICE),
                          (OTHER, RequestTunnelResponse(1, 0, MAX_TRANSFER_SIZE)), ("opened", OTHER)]
    srv.command_received(0x1234, RequestTunnel(0, 0xFFFF, False, 1500))     # DLMS/COSEM
    srv.command_received(0x1234, RequestTunnel(6, 0xFFFF, True, 1500))      # flow control
    srv.command_received(0x1234, RequestTunnel(6, 0xFFFF, False, 1500))     # ids exhausted
    assert rec.take() == [(0x1234, RequestTunnelResponse(0xFFFF, 3, MAX_TRANSFER_SIZE)),
                          (0x1234, RequestTunnelResponse(0xFFFF, 4, MAX_TRANSFER_SIZE)),
                          (0x1234, RequestTunnelResponse(0xFFFF, 2, MAX_TRANSFER_SIZE))]
    # a device asking again gets a fresh tunnel; its old one is gone
    srv.command_received(DEVICE, RequestTunnel())
    assert rec.take() == [("closed", DEVICE), (DEVICE, RequestTunnelResponse(0, 0, MAX_TRANSFER_SIZE)),
                          ("opened", DEVICE)]


def test_server_transfer_data(clock) -> None:
    srv, rec = server(clock)
    srv.command_received(DEVICE, RequestTunnel(maximum_incoming_transfer_size=40))
    rec.take()
    srv.command_received(DEVICE, TransferData(0, b"\x01"))
    srv.command_received(DEVICE, TransferData(0, b"\x03" + RSP))
    srv.command_received(DEVICE, TransferData(9, b"\x01"))
    srv.command_received(OTHER, TransferData(0, b"\x01"))
    srv.command_received(DEVICE, TransferData(0, b"\x03" + bytes(MAX_TRANSFER_SIZE)))
    srv.command_received(DEVICE, TransferData(0, b"\x02\x00"))
    assert rec.take() == [("get", DEVICE), ("put", DEVICE, RSP), (DEVICE, TransferDataError(9, 0)),
                          (OTHER, TransferDataError(0, 1)), (DEVICE, TransferDataError(0, 2))]
    assert rec.counts == ["tunnel_no_such_tunnel", "tunnel_wrong_device", "tunnel_data_overflow",
                          "hrgp_unexpected_get_response"]
    assert srv.get_response(DEVICE, 3, MSG)
    assert srv.put(DEVICE, MSG)
    assert not srv.put(DEVICE, MSG + bytes(20)), "more than the device's maximum incoming transfer size"
    assert not srv.put(OTHER, MSG), "no tunnel"
    assert rec.take() == [(DEVICE, TransferData(0, b"\x02\x03" + MSG)), (DEVICE, TransferData(0, b"\x03" + MSG))]


def test_server_closes_idle_tunnels(clock) -> None:
    srv, rec = server(clock, close_tunnel_timeout=300)
    srv.command_received(DEVICE, RequestTunnel())
    rec.take()
    clock.advance(200)
    srv.command_received(DEVICE, TransferData(0, b"\x01"))  # activity restarts the timer
    clock.advance(299)
    assert rec.take() == [("get", DEVICE)]
    clock.advance(1)
    assert rec.take() == [(DEVICE, TunnelClosureNotification(0)), ("closed", DEVICE)]
    assert not srv.is_open(DEVICE) and srv.closed_inactive == 1
    assert not clock.getDelayedCalls()
    srv.command_received(DEVICE, RequestTunnel())
    srv.command_received(DEVICE, CloseTunnel(0))
    assert rec.take()[-1] == ("closed", DEVICE)
    assert not clock.getDelayedCalls(), "closing cancels the inactivity timer"


# ----------------------------------------------------------------------------- both ends

def test_client_and_server_talk(clock) -> None:
    """The anchor flow, machine to machine: GET, GET-RESPONSE with the remaining count, PUT."""
    queue = [MSG + b"\x01", MSG + b"\x02"]
    up = []
    dev_rec = Recorder()
    srv_box = {}

    def to_server(command) -> None:
        srv_box["srv"].command_received(DEVICE, command)

    core = TunnelClientCore(clock, to_server, dev_rec, dev_rec.count)
    m = new_tunnel_client(core)

    def on_get(peer) -> None:
        if queue:
            msg = queue.pop(0)
            srv.get_response(peer, len(queue), msg)
        else:
            srv.get_response(peer, 0)

    srv = TunnelServer(clock, lambda peer, cmd, on_done=None: tunnel_command_received(m, cmd), on_get=on_get,
                       on_put=lambda peer, msg: up.append(msg))
    srv_box["srv"] = srv
    m.get()
    assert dev_rec.take() == [("opened", 0), ("message_received", MSG + b"\x01", 1)]
    m.put(RSP)
    m.get()
    m.get()
    assert dev_rec.take() == [("message_received", MSG + b"\x02", 0), ("queue_empty",)]
    assert up == [RSP]
    assert dev_rec.counts == []


# ----------------------------------------------------------------------------- bad input

def test_random_input_is_counted_never_raised(clock) -> None:
    """Fuzzed TransferData and Tunneling frames: codec errors are CodecError, machines never raise."""
    import random

    from protocols.errors import CodecError
    from protocols.hrgp.codec import decode_hrgp, from_zcl
    from protocols.zcl.frame import decode_zcl

    rng = random.Random(11)
    m, rec = client(clock)
    m.open()
    tunnel_command_received(m, RequestTunnelResponse(0, 0, 1500))
    srv, srec = server(clock)
    srv.command_received(DEVICE, RequestTunnel())
    for _ in range(3000):
        data = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 40)))
        if rng.random() < 0.5 and data:
            data = bytes((rng.choice((1, 2, 3)),)) + data
        try:
            decode_hrgp(data)
        except CodecError:
            pass
        m.transfer_data(TransferData(rng.choice((0, 1)), data))
        srv.command_received(rng.choice((DEVICE, OTHER)), TransferData(rng.choice((0, 1)), data))
        try:
            from_zcl(decode_zcl(bytes((rng.choice((0x11, 0x19)), 1, rng.randrange(8))) + data))
        except CodecError:
            pass
    assert rec.counts and srec.counts
