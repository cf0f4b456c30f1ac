"""Adapters for the SMWAN (L{protocols.smwan}): real TCP, emulated WAN links, and the capture.

 - Over TCP (loopback, or across processes: a shard of homes reaching the DCC process),
   L{listen_gateway} serves a L{CspGateway} and L{HubTcpConnector} dials it for a hub; frames
   follow each other on the stream (L{FrameReader}).  A malformed stream is counted and the
   connection dropped (it cannot be re-synchronised); the hub reconnects with backoff.
 - In virtual time, L{EmulatedWan} gives every hub of one CSP its own
   L{emulator.links.PointToPointLink} whose impairments start from the CSP's L{LinkProfile}
   (rate, delay, jitter) plus the topology's overrides (loss, outages, ...).
 - L{WanCapture} puts every SMWAN frame that arrives into the pcapng as IPv4/TCP on one interface
   per CSP (link type 228, raw IPv4): hub address C{100.64.0.0/10} + (CSP index << 18) + hub
   number, the DCC at C{198.51.100.<CSP index>}, DCC port L{SMWAN_PORT}; a clean synthetic TCP
   connection per hub (L{emulator.capture.TcpFlow}).  C{tap/smwan.lua} decodes it.

Wiring a Communications Hub: the CHF calls C{endpoint.send_up(message)} for every GBCS response
or alert, and gives its own entry point as C{deliver_down} when the endpoint is made.
"""

from __future__ import annotations

import ipaddress
from dataclasses import fields, replace
from typing import Any, Callable

from twisted.internet.endpoints import TCP4ClientEndpoint, TCP4ServerEndpoint, connectProtocol
from twisted.internet.interfaces import IReactorTime
from twisted.internet.protocol import Factory, Protocol
from twisted.logger import Logger

from emulator.capture import LINKTYPE_IPV4, CaptureSink, TcpFlow, TeeSink
from emulator.impairments import ImpairmentSpec
from emulator.links import PointToPointLink
from emulator.rng import derive_rng, derive_seed
from protocols.errors import CodecError
from protocols.smwan.frames import FrameReader
from protocols.smwan.gateway import CspGateway
from protocols.smwan.hub import HubWanEndpoint
from protocols.smwan.profiles import REGIONS, LinkProfile

__all__ = ["SMWAN_PORT", "profile_impairments", "EmulatedWan", "Smwan", "WanCapture", "GatewayTcpFactory",
           "listen_gateway", "HubTcpConnector", "LinkConnector"]

#: TCP port of the DCC's CSP gateways (real listeners default to it; captures always use it)
SMWAN_PORT = 20470

_log = Logger()

_NO_IMPAIRMENT = ImpairmentSpec()


def profile_impairments(profile: LinkProfile, overrides: ImpairmentSpec | None = None) -> ImpairmentSpec:
    """The impairments of one direction of a hub's WAN link.

    The profile gives C{rate_bps}, C{delay} and C{jitter}; every field the topology's
    C{impairments:} set to a non-default value (C{overrides}) wins.
    """
    base = ImpairmentSpec(delay=profile.delay, jitter=profile.jitter, rate_bps=profile.rate_bps)
    if overrides is None:
        return base
    changed = {f.name: getattr(overrides, f.name) for f in fields(overrides)
               if getattr(overrides, f.name) != getattr(_NO_IMPAIRMENT, f.name)}
    return replace(base, **changed)


# --- capture --------------------------------------------------------------------------------------

class WanCapture:
    """Writes one CSP's SMWAN frames to a capture sink as IPv4/TCP (see the module docstring)."""

    def __init__(self, sink: CaptureSink, clock: IReactorTime, csp: str, csp_index: int) -> None:
        if not 1 <= csp_index <= 15:
            raise ValueError(f"csp_index must be 1-15, got {csp_index}")
        self.sink = sink
        self.clock = clock
        self.csp = csp
        self.csp_index = csp_index
        self.interface_id = sink.add_interface(f"smwan-{csp}", f"SMWAN of CSP {csp} (IPv4/TCP port {SMWAN_PORT})",
                                               LINKTYPE_IPV4, 65535)
        self.dcc_address = ipaddress.IPv4Address(f"198.51.100.{csp_index}")
        self._flows: dict[int, TcpFlow] = {}

    def add_hub(self, eui64: int) -> TcpFlow:
        """Give hub C{eui64} the next address of this CSP (deterministic: order of addition)."""
        n = len(self._flows) + 1
        if n >= 1 << 18:
            raise ValueError(f"more than {(1 << 18) - 1} hubs on CSP {self.csp}")
        hub = ipaddress.IPv4Address(int(ipaddress.IPv4Address("100.64.0.0")) + (self.csp_index << 18) + n)
        flow = TcpFlow(hub.packed, 49152 + n % 16384, self.dcc_address.packed, SMWAN_PORT,
                       derive_seed(0, "smwan-isn", f"{eui64:016X}", "hub"),
                       derive_seed(0, "smwan-isn", f"{eui64:016X}", "dcc"))
        self._flows[eui64] = flow
        return flow

    def address_of(self, eui64: int) -> ipaddress.IPv4Address:
        return ipaddress.IPv4Address(self._flows[eui64].client)

    def record(self, eui64: int, uplink: bool, frame: bytes) -> None:
        """One frame as it arrived (uplink: at the DCC; downlink: at the hub)."""
        flow = self._flows.get(eui64) or self.add_hub(eui64)
        now = self.clock.seconds()
        if not flow.opened:
            for packet in flow.handshake():
                self.sink.capture(self.interface_id, now, packet)
        self.sink.capture(self.interface_id, now, flow.segment(uplink, frame))


# --- emulated WAN links (virtual or real time) ----------------------------------------------------------

class LinkConnector:
    """L{HubConnector} for an emulated link: the "connection" is always there (frames may be lost)."""

    def __init__(self, transmit: Callable[[bytes], None]) -> None:
        self.transmit = transmit

    def dial(self, endpoint: HubWanEndpoint) -> None:
        endpoint.connected(self.transmit)

    def hangup(self) -> None:
        pass


class EmulatedWan:
    """One CSP: its L{CspGateway} and one impaired point-to-point link per hub.

    @param clock: the injected clock (a L{emulator.clock.VirtualClock} for soak runs).
    @param profile: the CSP's L{LinkProfile}.
    @param seed: the run seed (link randomness and reconnect jitter derive from it and the names).
    @param deliver_up: the ACB's entry point, C{deliver_up(eui64, message)}.
    @param impairments: the topology's overrides for this CSP (see L{profile_impairments}).
    @param capture: where frames go (optional).
    @param csp_index: the CSP's number in capture addresses (default: north 1, centre 2, south 3).
    @param run_start: the clock reading at the start of the run, from which the outages of
        L{impairments} count (default: the clock's reading now); every hub's link gets it.
    """

    def __init__(self, clock: IReactorTime, profile: LinkProfile, seed: int,
                 deliver_up: Callable[[int, bytes], None], *, impairments: ImpairmentSpec | None = None,
                 capture: CaptureSink | None = None, csp_index: int | None = None,
                 run_start: float | None = None) -> None:
        self.clock = clock
        self.run_start = clock.seconds() if run_start is None else run_start
        self.profile = profile
        self.seed = seed
        self.spec = profile_impairments(profile, impairments)
        self.gateway = CspGateway(clock, profile, deliver_up)
        if csp_index is None:
            csp_index = REGIONS.index(profile.name) + 1 if profile.name in REGIONS else len(REGIONS) + 1
        self.capture = WanCapture(capture, clock, profile.name, csp_index) if capture is not None else None
        self.links: dict[int, PointToPointLink] = {}
        self.hubs: dict[int, HubWanEndpoint] = {}

    def add_hub(self, eui64: int, deliver_down: Callable[[bytes], None], *, name: str | None = None,
                start: bool = True) -> HubWanEndpoint:
        """Make hub C{eui64}'s link and WAN endpoint (started unless C{start=False})."""
        if eui64 in self.hubs:
            raise ValueError(f"hub {eui64:016X} is already on CSP {self.profile.name}")
        label = name or f"{eui64:016X}"
        csp = self.profile.name
        link = PointToPointLink(self.clock, derive_rng(self.seed, "smwan", csp, label, "up"),
                                derive_rng(self.seed, "smwan", csp, label, "down"),
                                f"smwan-{csp}-{label}", self.spec, self.spec, run_start=self.run_start)
        capture = self.capture
        if capture is not None:
            capture.add_hub(eui64)
        endpoint = HubWanEndpoint(self.clock, eui64, self.profile, derive_rng(self.seed, "smwan", csp, label, "backoff"),
                                  deliver_down, LinkConnector(link.a.send))
        gateway = self.gateway
        down_send = link.b.send

        def at_dcc(data: bytes) -> None:
            if capture is not None:
                capture.record(eui64, True, data)
            gateway.frame_received(data, down_send, link, eui64)

        def at_hub(data: bytes) -> None:
            if capture is not None:
                capture.record(eui64, False, data)
            endpoint.frame_received(data)

        link.b.connect(at_dcc)
        link.a.connect(at_hub)
        self.links[eui64] = link
        self.hubs[eui64] = endpoint
        if start:
            endpoint.start()
        return endpoint


class Smwan:
    """Every CSP of a topology, emulated: one L{EmulatedWan} per CSP, one link per home's hub.

    The coordinator's wiring for a home (its CH device owns the CHF)::

        endpoint = smwan.add_home(home_spec, deliver_down=chf_entry_point)   # DCC -> CHF
        # and the CHF sends every response / alert up with endpoint.send_up(message)

    @param deliver_up: the ACB's entry point, C{deliver_up(eui64, message)} (all CSPs).
    @param run_start: the clock reading at the start of the run: the topology's C{csps:}
        outages count from it (default: the clock's reading now).
    @param taps: CSP name -> a further sink for that CSP's frames (a live TAP: L{tap.wan}).
    """

    def __init__(self, topology: Any, clock: IReactorTime, seed: int, deliver_up: Callable[[int, bytes], None],
                 *, capture: CaptureSink | None = None, run_start: float | None = None,
                 taps: dict[str, CaptureSink] | None = None) -> None:
        self.topology = topology
        self.run_start = clock.seconds() if run_start is None else run_start
        self.wans: dict[str, EmulatedWan] = {}
        taps = taps or {}
        unknown = sorted(set(taps) - set(topology.csps))
        if unknown:
            raise ValueError(f"no CSP named {unknown[0]!r} in the topology")
        for index, (name, csp) in enumerate(topology.csps.items(), start=1):
            sink = capture
            if name in taps:  # this CSP's frames also go live to its TAP (--tap-wan)
                sink = taps[name] if capture is None else TeeSink(capture, taps[name])
            self.wans[name] = EmulatedWan(clock, csp.profile, seed, deliver_up, impairments=csp.impairments,
                                          capture=sink, csp_index=index, run_start=self.run_start)

    def add_home(self, home: Any, deliver_down: Callable[[bytes], None], *, start: bool = True) -> HubWanEndpoint:
        """Make the WAN endpoint of C{home}'s Communications Hub on the home's CSP."""
        hub = next(d for d in home.devices if d.kind == "CH")
        return self.wans[home.csp].add_hub(hub.eui64, deliver_down, name=home.name, start=start)

    def gateway_for(self, home: Any):
        """The L{CspGateway} that serves C{home} (where the ACB sends its commands)."""
        return self.wans[home.csp].gateway


# --- real TCP -------------------------------------------------------------------------------------------

class _GatewayProtocol(Protocol):
    """One hub's TCP connection at the DCC."""

    def __init__(self, gateway: CspGateway) -> None:
        self.gateway = gateway
        self.reader = FrameReader()

    def dataReceived(self, data: bytes) -> None:
        try:
            frames = self.reader.feed(data)
        except CodecError as e:
            self.gateway.counts["malformed"] += 1
            _log.info("SMWAN gateway {csp}: dropping connection from {peer}: {error}",
                      csp=self.gateway.name, peer=self.transport.getPeer(), error=str(e))
            self.transport.abortConnection()
            return
        write = self.transport.write
        for frame in frames:
            self.gateway.receive(frame, write, self)

    def connectionLost(self, reason: Any = None) -> None:
        self.gateway.connection_lost(self)


class GatewayTcpFactory(Factory):
    """Serves a L{CspGateway} over TCP: one connection per hub."""

    def __init__(self, gateway: CspGateway) -> None:
        self.gateway = gateway

    def buildProtocol(self, addr: Any) -> _GatewayProtocol:
        return _GatewayProtocol(self.gateway)


def listen_gateway(reactor: Any, gateway: CspGateway, port: int = SMWAN_PORT, interface: str = "127.0.0.1"):
    """Listen for hubs; return the C{Deferred} of the C{IListeningPort} (port 0: any free port)."""
    return TCP4ServerEndpoint(reactor, port, interface=interface).listen(GatewayTcpFactory(gateway))


class _HubProtocol(Protocol):
    def __init__(self, connector: "HubTcpConnector", endpoint: HubWanEndpoint) -> None:
        self.connector = connector
        self.endpoint = endpoint
        self.reader = FrameReader()

    def connectionMade(self) -> None:
        self.connector.current = self
        self.endpoint.connected(self.transport.write)

    def dataReceived(self, data: bytes) -> None:
        if self.connector.current is not self:
            return
        try:
            frames = self.reader.feed(data)
        except CodecError:
            self.endpoint.counts["malformed"] += 1
            self.transport.abortConnection()
            return
        for frame in frames:
            self.endpoint.receive(frame)

    def connectionLost(self, reason: Any = None) -> None:
        if self.connector.current is self:
            self.connector.current = None
            self.endpoint.connection_lost()


class HubTcpConnector:
    """L{HubConnector} over real TCP to a gateway at C{host:port}.

    @param reactor: provides C{IReactorTCP} (the real reactor; the clock may be the same one).
    """

    def __init__(self, reactor: Any, host: str, port: int, timeout: float = 30.0) -> None:
        self.reactor = reactor
        self.host = host
        self.port = port
        self.timeout = timeout
        self.current: _HubProtocol | None = None
        self._pending = None  # the Deferred of a connection attempt in progress

    def dial(self, endpoint: HubWanEndpoint) -> None:
        client = TCP4ClientEndpoint(self.reactor, self.host, self.port, timeout=self.timeout)
        d = self._pending = connectProtocol(client, _HubProtocol(self, endpoint))

        def done(result: Any) -> Any:
            if self._pending is d:
                self._pending = None
            return result

        d.addBoth(done)
        d.addErrback(lambda failure: endpoint.dial_failed())

    def hangup(self) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.cancel()  # stopped while connecting: never leave a connection behind
        current, self.current = self.current, None
        if current is not None and current.transport is not None:
            current.transport.abortConnection()
