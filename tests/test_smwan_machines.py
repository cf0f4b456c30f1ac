"""The hub's WAN machine and the DCC's CSP gateway over emulated WAN links, in virtual time."""

from __future__ import annotations

import io

import pytest

from emulator.capture import PcapngWriter
from emulator.clock import VirtualClock
from emulator.impairments import ImpairmentSpec
from emulator.wan import EmulatedWan, profile_impairments
from protocols.smwan.frames import Frame, FrameType, encode_frame
from protocols.smwan.profiles import DEFAULT_PROFILES
from tests.smwan_helpers import rtds_messages

EUI = 0x00DB_1200_0001_0010

#: a cellular profile without jitter, so event times are exact
QUIET = DEFAULT_PROFILES["centre"].with_overrides("centre", {"jitter": 0.0, "delay": 0.1, "rate_bps": 8e9})


class Harness:
    """One CSP with hubs; records what reaches the ACB and each CHF, with times."""

    def __init__(self, profile=QUIET, seed=1, impairments=None, capture=None):
        self.clock = VirtualClock()
        self.up: list[tuple[float, int, bytes]] = []
        self.down: dict[int, list[tuple[float, bytes]]] = {}
        self.wan = EmulatedWan(self.clock, profile, seed, self._up, impairments=impairments, capture=capture)
        self.gateway = self.wan.gateway

    def _up(self, eui: int, message: bytes) -> None:
        self.up.append((self.clock.seconds(), eui, message))

    def hub(self, eui=EUI, **kw):
        self.down[eui] = []
        return self.wan.add_hub(eui, lambda m: self.down[eui].append((self.clock.seconds(), m)), **kw)

    def run(self, t: float) -> None:
        self.clock.run_until(t)


def test_attach_then_commands_down_and_responses_up():
    h = Harness()
    hub = h.hub()
    states = []
    hub.on_state = lambda old, new: states.append((h.clock.seconds(), new))
    assert hub.state == "attaching"  # dialled and sent ATTACH at once (LinkConnector)
    h.run(1.0)
    assert states == [(pytest.approx(0.2, abs=1e-4), "attached")]  # ATTACH 0.1 s up, ATTACH_ACK 0.1 s down
    assert h.gateway.reachable(EUI)
    commands = [m for _, m, _ in rtds_messages("COMMAND", 5)]
    for m in commands:
        assert h.gateway.send_down(EUI, m)
    h.run(2.0)
    assert [m for _, m in h.down[EUI]] == commands
    assert all(t == pytest.approx(1.1, abs=1e-4) for t, _ in h.down[EUI])
    responses = [m for _, m, _ in rtds_messages("RESPONSE", 5)]
    for m in responses:
        assert hub.send_up(m)
    h.run(3.0)
    assert [(e, m) for _, e, m in h.up] == [(EUI, m) for m in responses]
    assert hub.channel.counts["acknowledged"] == 5 and hub.channel.stored == 0
    assert h.gateway.session(EUI).channel.counts["acknowledged"] == 5


def test_keepalives_keep_the_session_and_are_echoed():
    h = Harness()
    hub = h.hub()
    h.run(3600.0)
    assert hub.state == "attached" and h.gateway.reachable(EUI)
    assert hub.counts["keepalives_sent"] == (3600 - 0.2) // QUIET.keepalive_interval  # attached at 0.2 s
    assert h.gateway.counts["keepalives_echoed"] == hub.counts["keepalives_sent"]
    assert hub.counts["silence_timeouts"] == 0 and hub.counts["attaches"] == 1


def test_exactly_once_in_order_over_a_bad_link():
    bad = ImpairmentSpec(loss=0.2, duplicate=0.1, reorder=0.2, reorder_delay=0.5)
    h = Harness(impairments=bad, seed=7)
    hub = h.hub()
    h.run(60.0)
    down = [bytes([0xDF]) + i.to_bytes(2, "big") * 50 for i in range(200)]
    up = [bytes([0xDD]) + i.to_bytes(2, "big") * 40 for i in range(200)]
    for i in range(200):
        h.gateway.send_down(EUI, down[i])
        hub.send_up(up[i])
        h.run(60.0 + i * 0.5)
    h.run(4000.0)
    assert [m for _, m in h.down[EUI]] == down
    assert [m for _, _, m in h.up] == up
    hub_ch, dcc_ch = hub.channel.counts, h.gateway.session(EUI).channel.counts
    assert hub_ch["retransmitted_frames"] > 0 and dcc_ch["retransmitted_frames"] > 0
    assert hub_ch["duplicates"] + dcc_ch["duplicates"] > 0  # suppressed, never delivered twice
    assert hub_ch["out_of_order"] + dcc_ch["out_of_order"] > 0
    assert hub_ch["acknowledged"] == dcc_ch["delivered"] == 200
    assert dcc_ch["acknowledged"] == hub_ch["delivered"] == 200


def test_north_segments_long_messages():
    north = DEFAULT_PROFILES["north"]
    h = Harness(profile=north, seed=3)
    hub = h.hub()
    h.run(60.0)
    commands = [m for _, m, _ in rtds_messages("COMMAND", 40)]
    long = [m for m in commands if len(m) > north.max_segment]
    assert long, "no RTDS command longer than a north segment"
    for m in long:
        h.gateway.send_down(EUI, m)
    h.run(3600.0)
    assert [m for _, m in h.down[EUI]] == long
    sent = h.gateway.session(EUI).channel.counts["data_frames_sent"]
    assert sent >= sum(-(-len(m) // north.max_segment) for m in long)


def test_reconnect_backoff_is_exponential_capped_and_seeded():
    def delays(seed):
        h = Harness(impairments=ImpairmentSpec(outages=((0.0, 1e9),)), seed=seed)
        hub = h.hub()
        out = []
        hub.on_state = lambda old, new: out.append(hub.last_backoff) if new == "backoff" else None
        h.run(20000.0)
        return out

    got = delays(5)
    p = QUIET
    assert len(got) > 10
    for n, d in enumerate(got):
        cap = min(p.backoff_max, p.backoff_initial * 2 ** n)
        assert cap * (1 - p.backoff_jitter) <= d <= cap
    assert got == delays(5)
    assert got != delays(6)


def test_store_is_bounded_and_overflow_counted():
    profile = QUIET.with_overrides("centre", {"store_limit": 10, "window": 4})
    h = Harness(profile=profile, impairments=ImpairmentSpec(outages=((0.0, 1000.0),)))
    hub = h.hub()
    accepted = [hub.send_up(bytes([0xDF, i])) for i in range(15)]
    assert accepted == [True] * 10 + [False] * 5
    ch = hub.channel.counts
    assert (ch["offered"], ch["accepted"], ch["store_overflow"]) == (15, 10, 5)
    assert not hub.send_up(b"") and not hub.send_up(b"\xdf" * (256 * profile.max_segment + 1))
    assert ch["refused"] == 2 and ch["offered"] == 17
    h.run(3000.0)
    assert [m for _, _, m in h.up] == [bytes([0xDF, i]) for i in range(10)]
    assert ch["acknowledged"] == 10 and hub.channel.stored == 0


def test_malformed_and_misaddressed_frames_are_counted_and_dropped():
    h = Harness()
    hub = h.hub()
    h.run(1.0)
    link = h.wan.links[EUI]
    link.a.send(b"garbage")  # to the DCC
    link.a.send(encode_frame(Frame(FrameType.DATA, EUI + 1, seq=0, payload=b"\xdf")))  # another hub's EUI
    link.b.send(b"\x53\x57\x01")  # to the hub
    h.run(2.0)
    assert h.gateway.counts["malformed"] == 1 and h.gateway.counts["wrong_eui"] == 1
    assert hub.counts["malformed"] == 1
    assert hub.state == "attached"
    hub.send_up(b"\xdf\x00")
    h.run(3.0)
    assert [m for _, _, m in h.up] == [b"\xdf\x00"]


def test_one_hour_outage_loses_nothing():
    """Issue 9 done-when: a one-hour WAN outage of one CSP loses nothing (virtual time)."""
    start, length = 600.0, 3600.0
    north = DEFAULT_PROFILES["north"]
    h = Harness(profile=north, seed=11, impairments=ImpairmentSpec(outages=((start, length),)))
    hubs = [h.hub(EUI + i) for i in range(3)]
    h.run(start - 1)
    assert all(hub.state == "attached" for hub in hubs)
    alerts = [m for _, m, _ in rtds_messages("ALERT")]
    commands = [m for _, m, _ in rtds_messages("COMMAND", 30)]
    assert len(alerts) >= 10
    reachable_during = []
    # During the outage every hub raises alerts and the DCC routes commands to every hub.
    for k in range(30):
        h.run(start + 60 + k * 100)
        for i, hub in enumerate(hubs):
            assert hub.send_up(alerts[(k + i) % len(alerts)])
            assert h.gateway.send_down(EUI + i, commands[(k + 2 * i) % len(commands)])
        reachable_during.append(any(h.gateway.reachable(EUI + i) for i in range(3)))
    assert not any(reachable_during[-10:])  # the DCC noticed: hubs unreachable, commands queued
    assert all(hub.state in ("backoff", "attaching") for hub in hubs)
    assert all(hub.channel.stored > 0 for hub in hubs)
    h.run(start + length + 2 * north.backoff_max + 600)
    for i, hub in enumerate(hubs):
        assert hub.state == "attached"
        got_up = [m for _, e, m in h.up if e == EUI + i]
        assert got_up == [alerts[(k + i) % len(alerts)] for k in range(30)]
        assert [m for _, m in h.down[EUI + i]] == [commands[(k + 2 * i) % len(commands)] for k in range(30)]
        up_at = [t for t, e, _ in h.up if e == EUI + i]
        assert min(up_at) >= start + length  # stored, not lost: delivered after recovery
        ch, dcc = hub.channel.counts, h.gateway.session(EUI + i).channel.counts
        assert ch["offered"] == ch["accepted"] == ch["acknowledged"] == dcc["delivered"] == 30
        assert dcc["offered"] == dcc["accepted"] == dcc["acknowledged"] == ch["delivered"] == 30
        assert ch["store_overflow"] == dcc["store_overflow"] == 0
        assert hub.channel.stored == 0 and h.gateway.session(EUI + i).channel.stored == 0
        assert hub.counts["attaches"] >= 2
    assert len(h.up) == 90 and sum(len(v) for v in h.down.values()) == 90


def test_same_seed_same_capture_bytes():
    def run(seed):
        buf = io.BytesIO()
        writer = PcapngWriter(buf)
        writer.close = writer.flush  # keep the buffer readable
        h = Harness(profile=DEFAULT_PROFILES["north"], seed=seed,
                    impairments=ImpairmentSpec(loss=0.1), capture=writer)
        hub = h.hub()
        for i, (_, m, _) in enumerate(rtds_messages("COMMAND", 5)):
            h.gateway.send_down(EUI, m)
            hub.send_up(m)
        h.run(2000.0)
        writer.flush()
        return buf.getvalue()

    a = run(4)
    assert a == run(4)
    assert a != run(5)


def test_profile_impairments_merge():
    north = DEFAULT_PROFILES["north"]
    spec = profile_impairments(north, ImpairmentSpec(loss=0.05, delay=4.0))
    assert (spec.loss, spec.delay, spec.jitter, spec.rate_bps) == (0.05, 4.0, north.jitter, north.rate_bps)


def test_dcc_forgets_the_hub_then_the_hub_is_told_to_reattach():
    h = Harness()
    hub = h.hub()
    h.run(1.0)
    h.gateway.session(EUI).detach()  # e.g. the DCC timed the hub out
    h.gateway.send_down(EUI, b"\xdf\x01")  # queued: the hub is unreachable
    h.run(1.0 + QUIET.keepalive_interval + 1)  # the next keep-alive is answered with DETACH
    assert h.gateway.counts["not_attached"] == 1 and hub.counts["detached_by_peer"] == 1
    h.run(1.0 + QUIET.keepalive_interval + QUIET.backoff_max)
    assert hub.state == "attached" and hub.counts["attaches"] == 2
    assert [m for _, m in h.down[EUI]] == [b"\xdf\x01"]


def test_stop_detaches_and_cancels_every_timer():
    h = Harness()
    hub = h.hub()
    h.run(1.0)
    hub.stop()
    h.run(2.0)
    assert hub.state == "stopped" and not h.gateway.reachable(EUI)
    assert h.gateway.counts["detaches"] == 1
    sent = hub.counts["frames_sent"]
    h.run(100000.0)
    assert hub.counts["frames_sent"] == sent  # no keep-alive, no reconnect after stop


def test_topology_csps_drive_the_emulated_wans():
    from emulator.topology import parse_topology
    from emulator.wan import Smwan

    text = """\
csps:
  north: {rate_bps: 4800, impairments: {loss: 0.02}}
homes:
  - {name: a, csp: north, devices: [{kind: CH}]}
  - {name: b, csp: south, devices: [{kind: CH}]}
"""
    topology = parse_topology(text, "t.yaml", 1)
    clock = VirtualClock()
    up = []
    smwan = Smwan(topology, clock, 1, lambda e, m: up.append((e, m)))
    down = {h.name: [] for h in topology.homes}
    endpoints = {h.name: smwan.add_home(h, down[h.name].append) for h in topology.homes}
    north_link = smwan.wans["north"].links[endpoints["a"].eui64]
    assert north_link.a.path.spec.rate_bps == 4800.0 and north_link.a.path.spec.loss == 0.02
    assert endpoints["a"].profile.name == "north" and endpoints["b"].profile.name == "south"
    clock.run_until(120.0)
    for h in topology.homes:
        smwan.gateway_for(h).send_down(endpoints[h.name].eui64, b"\xdf" + h.name.encode())
        endpoints[h.name].send_up(b"\xdd" + h.name.encode())
    clock.run_until(1200.0)
    assert down == {"a": [b"\xdfa"], "b": [b"\xdfb"]}
    assert sorted(up) == sorted((endpoints[n].eui64, b"\xdd" + n.encode()) for n in ("a", "b"))


def test_a_raising_chf_does_not_stall_the_session():
    h = Harness()
    got = []

    def chf(message: bytes) -> None:
        if message == b"\xdf\x02":
            raise RuntimeError("CHF bug")
        got.append(message)

    h.down[EUI] = []
    hub = h.wan.add_hub(EUI, chf)
    h.run(1.0)
    for i in range(4):
        h.gateway.send_down(EUI, bytes([0xDF, i]))
    h.run(2.0)
    assert got == [b"\xdf\x00", b"\xdf\x01", b"\xdf\x03"]
    assert hub.channel.counts["deliver_errors"] == 1
    assert h.gateway.session(EUI).channel.stored == 0  # all acknowledged


def test_topology_csp_outages_are_in_run_time():
    """A C{csps:} outage counts from the run's start, as the HAN medium's do, so it fires in a
    topology whose C{start_time} puts the clock's origin far from zero: traffic sent in the
    window is dropped on the link (and only gets through after it), traffic outside is not."""
    from emulator.topology import parse_topology
    from emulator.wan import Smwan

    text = """\
start_time: "2026-03-02T00:00:00Z"
csps:
  north: {impairments: {outages: [[600, 300]]}}
homes:
  - {name: a, csp: north, devices: [{kind: CH}]}
"""
    topology = parse_topology(text, "t.yaml", 1)
    start = topology.start_time
    assert start > 1e9
    clock = VirtualClock(start=start)
    up = []
    smwan = Smwan(topology, clock, 1, lambda e, m: up.append((clock.seconds() - start, m)))
    (home,) = topology.homes
    down = []
    endpoint = smwan.add_home(home, lambda m: down.append((clock.seconds() - start, m)))
    link = smwan.wans["north"].links[endpoint.eui64]
    gateway = smwan.gateway_for(home)

    def outages() -> int:
        return sum(c["outage"] for c in link.counts.values())

    def exchange(t: float, tag: bytes) -> None:
        clock.run_until(start + t)
        gateway.send_down(endpoint.eui64, b"\xdf" + tag)
        endpoint.send_up(b"\xdd" + tag)

    exchange(100.0, b"before")
    clock.run_until(start + 590.0)
    assert [m for _, m in down] == [b"\xdfbefore"] and [m for _, m in up] == [b"\xddbefore"]
    assert outages() == 0
    exchange(650.0, b"during")
    clock.run_until(start + 899.0)
    assert outages() > 0                                   # the link really was down
    assert [m for _, m in down] == [b"\xdfbefore"] and [m for _, m in up] == [b"\xddbefore"]
    clock.run_until(start + 1500.0)                        # retried after the window
    assert [m for _, m in down] == [b"\xdfbefore", b"\xdfduring"]
    assert [m for _, m in up] == [b"\xddbefore", b"\xddduring"]
    assert all(t >= 900.0 for t, m in down + up if m.endswith(b"during"))
    dropped = outages()
    exchange(1600.0, b"after")
    clock.run_until(start + 1700.0)
    assert outages() == dropped
    assert [m for t, m in down if t >= 1600.0] == [b"\xdfafter"]
    assert [m for t, m in up if t >= 1600.0] == [b"\xddafter"]
