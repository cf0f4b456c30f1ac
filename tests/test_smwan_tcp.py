"""The SMWAN over real TCP on loopback: hub and gateway as they would run in two processes."""

from __future__ import annotations

import pytest_twisted
from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.protocol import Protocol
from twisted.internet.task import deferLater

from emulator.rng import derive_rng
from emulator.wan import HubTcpConnector, listen_gateway
from protocols.smwan.gateway import CspGateway
from protocols.smwan.hub import HubWanEndpoint
from protocols.smwan.profiles import DEFAULT_PROFILES

EUI = 0x00DB_1200_0001_0010
FAST = DEFAULT_PROFILES["centre"].with_overrides("centre", {
    "keepalive_interval": 0.5, "keepalive_timeout": 2.0, "attach_timeout": 2.0, "rto_initial": 0.5,
    "rto_max": 1.0, "backoff_initial": 0.05, "backoff_max": 0.2})


async def _until(predicate, timeout: float = 10.0) -> None:
    waited = 0.0
    while not predicate():
        assert waited < timeout, "condition not reached on loopback"
        await deferLater(reactor, 0.02, lambda: None)
        waited += 0.02


@pytest_twisted.ensureDeferred
async def test_hub_and_gateway_over_loopback_tcp_survive_a_dropped_connection():
    up: list[bytes] = []
    down: list[bytes] = []
    gateway = CspGateway(reactor, FAST, lambda eui, m: up.append(m))
    port = await listen_gateway(reactor, gateway, 0)
    connector = HubTcpConnector(reactor, "127.0.0.1", port.getHost().port, timeout=2.0)
    hub = HubWanEndpoint(reactor, EUI, FAST, derive_rng(1, "tcp-test"), down.append, connector)
    try:
        hub.start()
        await _until(lambda: hub.state == "attached" and gateway.reachable(EUI))
        commands = [bytes([0xDF, i]) * 700 for i in range(5)]  # 1400 octets: 2 segments each
        for m in commands:
            gateway.send_down(EUI, m)
        hub.send_up(b"\xdd\x01")
        await _until(lambda: len(down) == 5 and len(up) == 1)
        assert down == commands and up == [b"\xdd\x01"]

        # The DCC side drops the hub's connection; what the hub sends meanwhile is stored.
        session = gateway.session(EUI)
        session.path.transport.abortConnection()
        for i in range(2, 12):
            hub.send_up(bytes([0xDD, i]))
        gateway.send_down(EUI, b"\xdf\xff")
        # the gateway acknowledges what it received; the hub's store empties when the acks arrive
        await _until(lambda: len(up) == 11 and len(down) == 6 and hub.channel.stored == 0)
        assert up == [bytes([0xDD, i]) for i in range(1, 12)]
        assert down[-1] == b"\xdf\xff"
        assert hub.counts["attaches"] >= 2 and hub.counts["connections_lost"] >= 1
        assert hub.channel.counts["store_overflow"] == 0 and hub.channel.stored == 0
    finally:
        hub.stop()
        await port.stopListening()


class _Garbage(Protocol):
    def __init__(self) -> None:
        self.closed: Deferred = Deferred()

    def connectionMade(self) -> None:
        self.transport.write(b"POST /api HTTP/1.1\r\n\r\n")

    def connectionLost(self, reason=None) -> None:
        self.closed.callback(None)


@pytest_twisted.ensureDeferred
async def test_gateway_drops_a_malformed_stream_and_keeps_serving():
    up: list[bytes] = []
    gateway = CspGateway(reactor, FAST, lambda eui, m: up.append(m))
    port = await listen_gateway(reactor, gateway, 0)
    try:
        garbage = _Garbage()
        await connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", port.getHost().port), garbage)
        await garbage.closed
        assert gateway.counts["malformed"] == 1
        hub = HubWanEndpoint(reactor, EUI, FAST, derive_rng(1, "tcp-test"), lambda m: None,
                             HubTcpConnector(reactor, "127.0.0.1", port.getHost().port))
        hub.start()
        hub.send_up(b"\xdf\x07")
        await _until(lambda: up == [b"\xdf\x07"])
        hub.stop()
    finally:
        await port.stopListening()


@pytest_twisted.ensureDeferred
async def test_hub_backs_off_while_no_gateway_listens():
    port = await listen_gateway(reactor, CspGateway(reactor, FAST, lambda e, m: None), 0)
    number = port.getHost().port
    await port.stopListening()  # nothing listens there now
    hub = HubWanEndpoint(reactor, EUI, FAST, derive_rng(1, "tcp-test"), lambda m: None,
                         HubTcpConnector(reactor, "127.0.0.1", number, timeout=1.0))
    hub.start()
    hub.send_up(b"\xdf\x01")
    try:
        await _until(lambda: hub.counts["dial_failures"] >= 3)
        assert hub.state in ("backoff", "dialing") and hub.channel.stored == 1
    finally:
        hub.stop()
