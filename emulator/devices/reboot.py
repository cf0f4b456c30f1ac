"""A Communications Hub's power cycle: what a power cut loses and what the hub keeps.

Kept (the hub's non-volatile memory, L{HubNvm}, and the node's own records):
 - the CHF device log, the device kinds and the TC link keys key establishment made;
 - the HAN: its PAN id and channel, the network keys with their sequence numbers, every link
   key, every frame counter (outgoing ones carry on from where they were: a counter is never
   used twice with a key), the address map and the neighbour table (the hub's children);
 - the GPF's mirrors (endpoints, and the data the meters reported) and the GBCS logic of the CHF
   and the GPF (the application object stays);
 - the SMWAN store: responses and alerts the DCC has not acknowledged, and the channel's
   sequence state (the L{protocols.smwan.hub.HubWanEndpoint}'s channel stays), so what was stored
   before or during the cut is delivered once after it;
 - the CHF's alert counter (never reused).
Lost: everything the hub was waiting for (its node clock is a L{emulator.power.PowerDomain}:
MAC retransmissions, APS acknowledgements, joins and key establishments in progress, tunnel and
queue timers), the MAC and NWK queues, the CHF's tunnels and its queues of commands for devices
(GSME commands waiting for the meter to wake: the ACB times them out), and the SMWAN connection.

While off, the hub's radio is off the medium (it sends and hears nothing) and its WAN modem
cannot connect: the WAN machine loses its connection and its reconnection attempts fail, with its
usual backoff, until the hub is on again.  At power-on the hub forms the same PAN again as its
coordinator and trust centre, from what it kept; devices carry on (one whose frames went unheard
in between rejoins as ZigBee does).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from emulator.rng import derive_rng

__all__ = ["HubNvm", "power_off", "power_on", "resume"]


@dataclass
class HubNvm:
    """The hub's ZigBee state that survives a power cut (see the module docstring)."""

    pan_id: int
    network_key: bytes
    key_seq: int
    network_keys: dict[int, bytes]
    link_keys: dict[int, bytes]
    counters: Any              # protocols.zigbee.security.FrameCounters
    addresses: Any             # protocols.zigbee.nib.AddressMap
    neighbors: dict
    boots: int

    @classmethod
    def save(cls, nib, boots: int) -> "HubNvm":
        return cls(nib.pan_id, nib.network_key, nib.key_seq, dict(nib.network_keys), dict(nib.link_keys),
                   nib.counters, nib.addresses, dict(nib.neighbors), boots)


class _NoModem:
    """The WAN connector of a hub without power: every dial fails."""

    def __init__(self, connector) -> None:
        self.connector = connector

    def dial(self, endpoint) -> None:
        endpoint.dial_failed()

    def hangup(self) -> None:
        self.connector.hangup()


def power_off(hub, wan_endpoint=None) -> bool:
    """Cut the hub's power: keep its durable state, drop the rest, silence its radio and modem.
    False if it was not powered."""
    if not hub.powered or hub.nvm is not None:
        return False
    boots = getattr(hub, "boots", 0) + 1
    hub.boots = boots
    hub.nvm = HubNvm.save(hub.stack.nib, boots)
    cut = getattr(hub.clock, "cut", None)
    if cut is None:
        raise TypeError(f"{hub.spec.name}: its clock is not a power domain (emulator.power.PowerDomain)")
    cut()
    hub.mac.shutdown()
    hub.port.detach()
    hub.powered = False
    hub.metrics.devices_up.labels(hub.kind).dec()
    hub.wan_endpoint = wan_endpoint
    if wan_endpoint is not None:
        wan_endpoint.connector = _NoModem(wan_endpoint.connector)
        wan_endpoint.connection_lost()
    return True


def power_on(hub) -> bool:
    """Power the hub on again after L{power_off} (L{resume} does the hub's part); False if it
    was not off."""
    if hub.powered or hub.nvm is None:
        return False
    hub.power_on()
    endpoint = getattr(hub, "wan_endpoint", None)
    if endpoint is not None and isinstance(endpoint.connector, _NoModem):
        endpoint.connector = endpoint.connector.connector   # the next reconnection attempt succeeds
    return True


def resume(hub) -> None:
    """The hub's start after a power cut: the same PAN from what it kept, a new CHF tunnel
    service around the same GBCS logic."""
    nvm, hub.nvm = hub.nvm, None
    stack = hub.stack
    nib = stack.nib
    home = hub.home
    # random choices after this boot are not those of the first one (same seed, another stream)
    nib.rng = derive_rng(hub.seed, home.spec.name, hub.spec.name, "zigbee", "boot", str(nvm.boots))
    nib.counters = nvm.counters
    nib.network_keys = dict(nvm.network_keys)
    hub.form_network(nvm.pan_id, nvm.network_key, nvm.key_seq)
    nib.link_keys.update(nvm.link_keys)
    nib.addresses = nvm.addresses
    nib.neighbors.update(nvm.neighbors)
    old = hub.chf_tunnel
    hub._build_chf_tunnel()
    new = hub.chf_tunnel
    if old is not None:
        new.application = old.application       # the CHF's and GPF's GBCS logic and data
        new.to_wan = old.to_wan
        new.alert_counter = old.alert_counter
        new.alerts_raised = old.alerts_raised
    hub.joined_at = hub.clock.seconds()
    hub.metrics.devices_up.labels(hub.kind).inc()
