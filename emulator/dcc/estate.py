"""The DCC in the estate: its ACB reaches the Communications Hub of each home over its CSP's WAN.

One process, one clock: the DCC host (DUIS interface, inventory, ACB) and every home of the
topology.  Each home's CH is on the SMWAN of the home's CSP (L{emulator.wan.Smwan}: the region's
link profile and the topology's impairments, the hub's WAN machine and the DCC's CSP gateway):

  - down: the ACB's delivery queue hands a command for a device to the CSP gateway of the
    device's home (the inventory knows the home), addressed to that home's hub; the gateway
    keeps it while the hub is unreachable; at the hub it enters the CHF
    (C{chf_tunnel.from_wan}), which routes it over the GB-HRGP tunnel to the device;
  - up: every GBCS response or alert the CHF hands to its WAN side goes to the hub's WAN
    endpoint (C{send_up}: stored while the WAN is down, delivered once, in order) and reaches
    L{emulator.dcc.acb.AcbBroker.from_wan} (correlation, DUIS responses, alerts).

A hub's WAN machine starts when the hub powers on.  The CSP gateway refusing a command (its
store for that hub is full) is a refused send: the ACB retries it with backoff until the
request's target response time.
"""

from __future__ import annotations

from twisted.logger import Logger

from emulator.wan import Smwan

__all__ = ["EstateWan"]

log = Logger(namespace="smets.dcc.wan")


class EstateWan:
    """The SMWAN between the DCC's ACB and every hub of an estate.

    @param broker: the L{emulator.dcc.acb.AcbBroker} (its C{wan} is set to L{send}).
    @param estate: the L{emulator.estate.Estate}, before C{start} (each hub is connected to its
        WAN endpoint as it powers on).
    @param taps: CSP name -> a live sink for that CSP's frames (C{--tap-wan}: L{tap.wan.WanTapSink}).
    @ivar endpoints: home name -> the hub's L{protocols.smwan.hub.HubWanEndpoint}.
    """

    def __init__(self, broker, estate, clock, seed: int, *, taps: dict | None = None) -> None:
        self.broker = broker
        self.smwan = Smwan(estate.topology, clock, seed, self._up, capture=estate.capture,
                           run_start=estate.start_time, taps=taps)
        self.endpoints = {}
        self._homes = {}
        #: commands that reached a hub not (yet) powered on
        self.no_hub = 0
        for home in estate.homes:
            spec = home.spec
            hub = next((d for d in spec.devices if d.kind == "CH"), None)
            if hub is None:
                continue
            endpoint = self.smwan.add_home(spec, lambda message, home=home: self._at_hub(home, message), start=False)
            home.power_on_hooks.append(lambda node, endpoint=endpoint: self._powered_on(node, endpoint))
            self.endpoints[spec.name] = endpoint
            self._homes[spec.name] = (self.smwan.gateway_for(spec), hub.eui64)
        broker.wan = self.send
        for csp in estate.topology.csps:
            broker.link(csp, True)     # the CSP gateways hold commands for unreachable hubs

    @staticmethod
    def _powered_on(node, endpoint) -> None:
        if node.kind == "CH" and node.chf_tunnel is not None:
            node.chf_tunnel.to_wan = endpoint.send_up
            endpoint.start()

    def _up(self, eui64: int, message: bytes) -> None:
        self.broker.from_wan(message)

    def _at_hub(self, home, message: bytes) -> None:
        hub = home.hub()
        if hub is None or hub.chf_tunnel is None:
            self.no_hub += 1
            log.info("wan: {home}: a command arrived before the hub powered on (dropped)", home=home.spec.name)
            return
        hub.chf_tunnel.from_wan(message)

    def send(self, device, command: bytes) -> None:
        """The ACB's transmit: to the hub of C{device}'s home, through its CSP's gateway."""
        entry = self._homes.get(device.home)
        if entry is None:
            raise LookupError(f"device {device.device_id:016X} is in no home of this estate")
        gateway, hub = entry
        if not gateway.send_down(hub, command):
            raise BufferError(f"CSP {gateway.name}: the store for hub {hub:016X} is full")
