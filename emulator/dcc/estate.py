"""The DCC in the estate: its ACB reaches the Communications Hub of each home over a WAN link.

One process, one clock: the DCC host (DUIS interface, inventory, ACB) and every home of the
topology.  Each home's CH gets an emulated point-to-point link to the DCC
(L{emulator.links.PointToPointLink}, a fixed one-way delay: nothing arrives synchronously):

  - down: the ACB's delivery queue hands a command for a device to the link of the device's
    home (the inventory knows the home); at the CH it enters the CHF
    (C{chf_tunnel.from_wan}), which routes it over the GB-HRGP tunnel to the device;
  - up: every GBCS response or alert the CHF hands to its WAN side crosses the link to
    L{emulator.dcc.acb.AcbBroker.from_wan} (correlation, DUIS responses, alerts).

A command for a home whose hub has not powered on yet is dropped at the hub end (counted), and
its request times out at its target response time, as with a hub that is not there.
"""

from __future__ import annotations

from twisted.logger import Logger

from emulator.impairments import ImpairmentSpec
from emulator.links import PointToPointLink
from emulator.rng import derive_rng

__all__ = ["DirectWan", "DEFAULT_WAN_DELAY"]

log = Logger(namespace="smets.dcc.wan")

#: one-way delay of a home's WAN link (s)
DEFAULT_WAN_DELAY = 0.5


class DirectWan:
    """WAN links between the DCC's ACB and every hub of an estate.

    @param broker: the L{emulator.dcc.acb.AcbBroker} (its C{wan} is set to L{send}).
    @param estate: the L{emulator.estate.Estate} (before C{start}: the hubs are connected as they
        power on).
    """

    def __init__(self, broker, estate, clock, seed: int, *, delay: float = DEFAULT_WAN_DELAY) -> None:
        self.broker = broker
        self.clock = clock
        self.links: dict[str, PointToPointLink] = {}
        #: frames that reached a hub not (yet) powered on
        self.no_hub = 0
        for home in estate.homes:
            name = home.spec.name
            spec = ImpairmentSpec(delay=delay)
            link = PointToPointLink(clock, derive_rng(seed, "wan", name, "down"), derive_rng(seed, "wan", name, "up"),
                                    f"{name}-wan", spec, spec)
            link.a.connect(broker.from_wan)
            link.b.connect(lambda message, home=home: self._at_hub(home, message))
            home.power_on_hooks.append(lambda node, up=link.b.send: self._powered_on(node, up))
            self.links[name] = link
        broker.wan = self.send
        for region in {d.csp_region for d in broker.inventory.devices.values()}:
            broker.link(region, True)

    @staticmethod
    def _powered_on(node, up) -> None:
        if node.kind == "CH" and node.chf_tunnel is not None:
            node.chf_tunnel.to_wan = up

    def _at_hub(self, home, message: bytes) -> None:
        hub = home.hub()
        if hub is None or hub.chf_tunnel is None:
            self.no_hub += 1
            log.info("wan: {home}: a command arrived before the hub powered on (dropped)", home=home.spec.name)
            return
        hub.chf_tunnel.from_wan(message)

    def send(self, device, command: bytes) -> None:
        """The ACB's transmit: towards the hub of C{device}'s home."""
        link = self.links.get(device.home)
        if link is None:
            raise LookupError(f"device {device.device_id:016X} is in no home of this estate")
        link.a.send(command)
