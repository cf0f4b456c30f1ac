"""Holes the INSIDER found in the HAN stack, one test each (short runs of one or two attack classes
against the default home).  Each names the table or state and the stack module responsible."""

from __future__ import annotations

from pathlib import Path

from emulator.clock import VirtualClock
from emulator.devices.han_state import home_diff, home_state, table_sizes
from emulator.estate import Estate
from emulator.topology import parse_topology

REPO = Path(__file__).resolve().parents[1]
ATTACK_HOME = (REPO / "topologies" / "attack-home.yaml").read_text()


def _attack(classes: list[str], duration: float = 300.0, seed: int = 1):
    text = ATTACK_HOME.replace("attack_start: 1800", "attack_start: 300") \
        .replace("attack_duration: 5400", f"attack_duration: {duration}") \
        .replace("        # attack_classes:", f"        attack_classes: [{', '.join(classes)}]\n        #", 1)
    topology = parse_topology(text, "attack.yaml", seed)
    clock = VirtualClock(start=topology.start_time)
    estate = Estate(topology, clock, seed)
    home = estate.homes[0]
    estate.start()
    clock.run_until(topology.start_time + 299)
    before = home_state(home)
    peak: dict[tuple[str, str], int] = {}

    def sample() -> None:
        for name, node in home.nodes.items():
            for table, n in table_sizes(node).items():
                peak[(name, table)] = max(peak.get((name, table), 0), n)
        if clock.seconds() < topology.start_time + 300 + duration:
            clock.callLater(10.0, sample)

    sample()
    clock.run_until(topology.start_time + 300 + duration + 60)
    after = home_state(home)
    estate.close()
    return estate, home, peak, home_diff(before, after)


def test_link_status_from_claimed_identities_does_not_grow_the_neighbour_table():
    """NWK Link Status from addresses whose EUI-64 was only claimed (a NWK source IEEE field, a
    Device_annce) each add a neighbour (protocols/zigbee/housekeeping.py, Housekeeping.on_command:
    C{nib.neighbors[src] = Neighbor(...)} whenever C{eui_of(src)} is known), without limit, and
    with it C{last_heard} / C{outgoing_cost} entries: for the HAN-security owner (hansec)."""
    estate, home, peak, changed = _attack(["nwk_command", "zdo"])
    assert estate.errors == 0 and changed == {}
    devices = len(home.nodes)
    grown = {name: n for (name, table), n in peak.items() if table == "neighbors" and n > devices}
    assert grown == {}, grown


def test_network_key_aps_frames_from_fresh_identities_do_not_grow_the_counter_table():
    """APS frames secured with the network key (key id 1) from made-up EUI-64s each leave an
    incoming frame-counter entry (protocols/zigbee/aps_layer.py, deliver: C{check_incoming(src_eui,
    aps_network_handle, ...)} with the default C{known=True}, so the limit for unauthenticated
    senders never applies): for the HAN-security owner (hansec)."""
    estate, home, peak, changed = _attack(["identity_flood", "zcl_network_key"])
    assert estate.errors == 0 and changed == {}
    grown = {}
    for (name, table), n in peak.items():
        if table == "nwk_counters":
            limit = home.nodes[name].stack.nib.limits.nwk_counters
            if n > limit + 4 * len(home.nodes):
                grown[name] = (n, limit)
    assert grown == {}, grown
