"""The snapshot helpers the insider's ledger and the campaign judge by: each notices the kind of
change a forged frame could make (an attribute, the time, a key, a neighbour, an address-map
entry, a mirror value), and ignores what the devices update themselves."""

from __future__ import annotations

from emulator.clock import VirtualClock
from emulator.devices.han_state import address_errors, diff, home_diff, home_state, mirror_errors, protected_state
from emulator.estate import Estate
from emulator.topology import parse_topology
from tests.han_helpers import topology_text


def _home(until: float = 900.0):
    topology = parse_topology(topology_text(), "single-home.yaml", 1)
    clock = VirtualClock(start=topology.start_time)
    estate = Estate(topology, clock, 1)
    estate.start()
    clock.run_until(topology.start_time + until)
    return clock, estate.homes[0]


def test_quiet_home_keeps_its_protected_state():
    clock, home = _home()
    before = home_state(home)
    clock.run_until(clock.seconds() + 900)    # reads, reports, housekeeping: nothing protected moves
    assert home_diff(before, home_state(home)) == {}
    assert address_errors(home) == [] and mirror_errors(home) == []


def test_each_kind_of_change_is_named():
    clock, home = _home()
    ch, esme, ihd = home.nodes["ch"], home.nodes["esme"], home.nodes["ihd"]
    before = {name: protected_state(node) for name, node in home.nodes.items()}
    ch.servers[(1, 0x000A)].values[0x0002] = 3600                 # TimeZone
    ch.servers[(1, 0x000A)].values[0x0000] = 12345                # Time: the hub's own clock, not protected
    esme.time_offset += 86400 * 365
    esme.servers[(1, 0x0702)].values[0x0000] += 1                 # a register the ESME itself advances
    ihd.stack.nib.link_keys[0x0A5A000000000001] = bytes(16)
    ch.stack.nib.neighbors[next(iter(ch.stack.nib.neighbors))].rx_on ^= True
    after = {name: protected_state(node) for name, node in home.nodes.items()}
    assert diff(before["ch"], after["ch"]) == ["attributes 1/0x000A", "neighbors"]
    assert diff(before["esme"], after["esme"]) == ["time_offset"]
    assert diff(before["ihd"], after["ihd"]) == ["link_keys"]
    assert diff(before["gsme"], after["gsme"]) == []


def test_address_map_and_mirror_checks():
    clock, home = _home()
    ihd, esme, gsme, ch = (home.nodes[n] for n in ("ihd", "esme", "gsme", "ch"))
    ihd.stack.nib.addresses.set(esme.stack.short, 0x0A5A000000000002)   # an authenticated lie
    errors = address_errors(home)
    assert any(e.startswith("ihd: ") and f"0x{esme.stack.short:04X}" in e for e in errors), errors
    mirror = ch.servers[(ch.mirrors[gsme.spec.eui64], 0x0702)]
    assert mirror_errors(home) == []
    mirror.values[0x0000] = gsme.servers[(1, 0x0702)].values[0x0000] + 1
    assert mirror_errors(home) and "the meter measured" in mirror_errors(home)[0]
