"""Soak faults that change a device's state, in small soaks:

 - a hub reboot: the CH loses power for a while and keeps what must survive (PAN, keys, frame
   counters above those before, the SMWAN store delivered once), the ledger loses nothing and the
   devices answer afterwards;
 - the GSME's clock jumping: its GBCS time is wrong until it synchronises with the CH's Time
   cluster, or, beyond the 10 s GBCS lets a synchronisation adjust, until GCS28 sets it; the meter
   raises Clock not adjusted (8F0C).
"""

from __future__ import annotations

import re

import pytest

from emulator.devices.base import ZCL_EPOCH
from emulator.devices.gbcs.asn1_usecases import asn1_outcome
from emulator.devices.gsme_clock import ADJUST_TOLERANCE, ALERT_CLOCK_NOT_ADJUSTED, ClockSync, gbcs_clock
from emulator.soak.workload import parse_workload
from emulator.topology import TopologyError, parse_topology
from tests.conftest import KEYSTORE, SOAK_DCC, needs

TOPOLOGY = """\
name: faults-soak
start_time: "2026-03-02T00:00:00Z"
parameters: {homes: 2}
templates:
  dual-fuel:
    csp: north
    devices:
      - {kind: CH, name: ch}
      - {kind: ESME, name: esme}
      - {kind: GSME, name: gsme, wake_interval: 600, clock_sync_interval: 3600}
      - {kind: IHD, name: ihd, read_interval: 300, gas_read_interval: 900}
homes:
  - {template: dual-fuel, count: homes, prefix: h-}
faults:
FAULTS
""" + SOAK_DCC

WORKLOAD = """\
name: light
users:
  - {name: supplier, share: 1}
per_home:
  gas_read: {per_hour: 2}
"""


# --- the synchronisation rule ---------------------------------------------------------------------

class _Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def seconds(self) -> float:
        return self.t


class _App:
    built = True

    def __init__(self, clock, offset: float) -> None:
        self.clock = clock
        self.clock_offset = offset

    def now(self) -> float:
        return self.clock.seconds() + self.clock_offset


class _Tunnel:
    def __init__(self, app) -> None:
        self.application = app


class _Node:
    def __init__(self, app) -> None:
        self.tunnel = _Tunnel(app)


@pytest.mark.parametrize("offset,outcome,after", [
    (0.0, "in_sync", 0.0),
    (0.4, "in_sync", 0.4),                      # within the read's one-second resolution
    (1.0, "adjusted", 0.0),
    (-4.0, "adjusted", 0.0),
    (float(ADJUST_TOLERANCE), "adjusted", 0.0),
    (ADJUST_TOLERANCE + 1.0, "not_adjusted", ADJUST_TOLERANCE + 1.0),
    (-3600.0, "not_adjusted", -3600.0),
])
def test_a_synchronisation_adjusts_up_to_ten_seconds(offset, outcome, after):
    clock = _Clock(1_772_409_600.25)
    app = _App(clock, offset)
    alerts = []
    sync = ClockSync(clock, _Node(app), alerts.append, interval=3600)
    assert sync.due()
    sync.started()
    assert not sync.due()
    ch_time = int(clock.seconds()) - ZCL_EPOCH          # what the CH's Time attribute reads
    assert sync.time_read({0x0000: ch_time, 0x0001: 0x09}) == outcome
    assert app.clock_offset == after
    assert alerts == ([ALERT_CLOCK_NOT_ADJUSTED] if outcome == "not_adjusted" else [])
    clock.t += 3600
    assert sync.due()


def test_a_failed_time_read_changes_nothing():
    clock = _Clock(1_772_409_600.0)
    app = _App(clock, 30.0)
    sync = ClockSync(clock, _Node(app), lambda code: pytest.fail("no alert on a failed read"))
    assert sync.time_read(None) == "failed" and sync.time_read({0x0001: 9}) == "failed"
    assert sync.time_read({0x0000: True}) == "failed"
    assert app.clock_offset == 30.0 and sync.failed == 3


@pytest.mark.parametrize("fault,words", [
    ("{kind: gsme_clock, at: 1, offset: 0}", "faults[0].offset must be a non-zero number of seconds"),
    ("{kind: gsme_clock, at: 1, offset: soon}", "faults[0].offset must be int or float"),
    ("{kind: gsme_clock, at: 1, length: 5}", "unknown key 'length'"),
])
def test_clock_fault_errors(fault, words):
    text = TOPOLOGY.replace("FAULTS", f"  - {fault}").split("dcc:")[0]
    with pytest.raises(TopologyError, match=re.escape(words)):
        parse_topology(text, "t.yaml", 1)


def test_the_clock_fault_offset_defaults_to_an_hour():
    text = TOPOLOGY.replace("FAULTS", "  - {kind: gsme_clock, at: 10, homes: [h-0001]}").split("dcc:")[0]
    (fault,) = parse_topology(text, "t.yaml", 1).faults
    assert dict(fault.overrides) == {"offset": 3600.0} and fault.homes == ("h-0001",)


# --- in a soak ------------------------------------------------------------------------------------

@needs(KEYSTORE)
def test_gsme_clock_jump_shows_then_is_corrected(tmp_path):
    """Home 1's gas meter jumps an hour ahead: its GBCS clock stays wrong at its next
    synchronisation (more than 10 s), which raises 8F0C to the supplier, until GCS28 sets it to
    the CH's time; home 2's jumps 6 s ahead and its next synchronisation adjusts it."""
    from emulator.soak.runner import SoakRun
    from emulator.topology import load_topology
    path = tmp_path / "t.yaml"
    path.write_text(TOPOLOGY.replace("KEYS", str(KEYSTORE)).replace(
        "FAULTS", "  - {kind: gsme_clock, at: 1800, homes: [h-0001]}\n"
                  "  - {kind: gsme_clock, at: 1800, offset: 6, homes: [h-0002]}"))
    run = SoakRun(load_topology(str(path), 4), parse_workload(WORKLOAD, "w.yaml"), 4)
    gsmes = {home.spec.name: home.nodes["gsme"] for home in run.estate.homes}
    seen: dict[str, list[tuple[float, float]]] = {name: [] for name in gsmes}

    def sample() -> None:
        for name, node in gsmes.items():
            app = gbcs_clock(node)
            if app is not None:
                seen[name].append((run.clock.seconds() - run.start, app.now() - run.clock.seconds()))
        run.clock.callLater(60.0, sample)
    run.clock.callLater(0.0, sample)
    run.run(3 * 3600, progress=False)
    run.close()

    # the jump is visible from the fault on: an hour (home 1), 6 s (home 2)
    one, two = seen["h-0001"], seen["h-0002"]
    assert any(t < 1800 and off == 0.0 for t, off in one)
    assert {off for t, off in one if t > 1800} == {3600.0}
    assert 6.0 in {off for t, off in two if t > 1800}
    # home 2: adjusted by a synchronisation, no alert; home 1: not adjusted, 8F0C raised
    assert two[-1][1] == 0.0
    sync1, sync2 = gsmes["h-0001"].clock_sync, gsmes["h-0002"].clock_sync
    assert sync2.adjusted >= 1 and sync2.not_adjusted == 0
    assert sync1.not_adjusted >= 1 and sync1.adjusted == 0
    codes = [(home, code) for _t, home, code in run.alerts_raised.values()]
    assert ("h-0001", ALERT_CLOCK_NOT_ADJUSTED) in codes and ("h-0002", ALERT_CLOCK_NOT_ADJUSTED) not in codes
    assert run.alerts()["missing"] == 0
    led = run.ledger()
    assert led["lost"] == led["duplicated"] == 0 and led["ok"] > 0
    events = [(kind, event, target) for _t, kind, event, target in run.faults.events]
    assert events == [("gsme_clock", "clock", "h-0001"), ("gsme_clock", "clock", "h-0002")]

    # GCS28 Set Clock: the meter adopts the CH's time when it lies in the validity interval
    app = gbcs_clock(gsmes["h-0001"])
    now = run.clock.seconds()

    def gtime(t: float) -> dict:
        import time
        return {"generalized_time": time.strftime("%Y%m%d%H%M%SZ", time.gmtime(int(t)))}
    late = asn1_outcome(app, 0x007F, {"validityIntervalStart": gtime(now - 7200),
                                      "validityIntervalEnd": gtime(now - 3600)}, commit=True)
    assert late == {"deviceTime": gtime(now + 3600), "deviceTimeStatus": 2} and app.clock_offset == 3600.0
    ok = asn1_outcome(app, 0x007F, {"validityIntervalStart": gtime(now - 600),
                                    "validityIntervalEnd": gtime(now + 600)}, commit=True)
    assert ok == {"deviceTime": gtime(now), "deviceTimeStatus": 0}
    assert app.clock_offset == 0.0 and app.now() == run.clock.seconds()


# --- hub reboots -------------------------------------------------------------------------------------

REBOOT_WORKLOAD = """\
name: reads
users:
  - {name: supplier, share: 1}
per_home:
  on_demand_read: {per_hour: 6}
  gas_read: {per_hour: 4}
consumer_events:
  - {device: ESME, alert: "8F35", per_hour: 4}
"""


@needs(KEYSTORE)
def test_a_hub_reboot_keeps_what_must_survive(tmp_path):
    """Home 1's hub is off for ten minutes while its CSP's WAN is also down (so it holds
    responses not yet delivered when the power goes): the ledger loses and duplicates nothing,
    the stored responses arrive once, the hub's frame counters carry on above where they were, the
    PAN is the same and the devices answer reads afterwards."""
    from emulator.soak.runner import SoakRun
    from emulator.topology import load_topology
    path = tmp_path / "t.yaml"
    path.write_text(TOPOLOGY.replace("KEYS", str(KEYSTORE)).replace(
        "FAULTS", "  - {kind: wan_outage, csp: north, at: 900, length: 1200}\n"
                  "  - {kind: hub_reboot, at: 1800, length: 600, homes: [h-0001]}"))
    run = SoakRun(load_topology(str(path), 6), parse_workload(REBOOT_WORKLOAD, "w.yaml"), 6)
    home = run.estate.homes[0]
    hub = home.hub()
    endpoint = run.wan.smwan.wans["north"].hubs[hub.spec.eui64]
    seen = {}

    def before() -> None:
        nib = hub.stack.nib
        seen["counters"] = dict(nib.counters._out)
        seen["pan"] = (nib.pan_id, nib.network_key, nib.key_seq, dict(nib.link_keys))
        seen["stored"] = endpoint.channel.stored
        seen["sent_before"] = hub.counts["tx"]

    def during() -> None:
        seen["off"] = (hub.powered, hub.port.attached, endpoint.state, hub.counts["tx"])
    def powered_on() -> None:
        seen["on"] = (hub.powered, dict(hub.stack.nib.counters._out))
    run.clock.callLater(60 + 1800 - 1e-6, before)        # (60 s of HAN forming before run time 0)
    run.clock.callLater(60 + 2100, during)
    run.clock.callLater(60 + 2400 + 1e-6, powered_on)
    run.run(3 * 3600, progress=False)
    run.close()

    assert [(k, e, t) for _t, k, e, t in run.faults.events if k == "hub_reboot"] == [
        ("hub_reboot", "off", "h-0001"), ("hub_reboot", "on", "h-0001")]
    # while off: no radio, no WAN connection, nothing sent
    powered, attached, wan_state, tx = seen["off"]
    assert not powered and not attached and wan_state in ("backoff", "dialing") and tx == seen["sent_before"]
    # what must survive did: the PAN, its keys, frame counters strictly above those before
    nib = hub.stack.nib
    assert hub.powered and (nib.pan_id, nib.network_key, nib.key_seq) == seen["pan"][:3]
    assert all(nib.link_keys.get(eui) == key for eui, key in seen["pan"][3].items())
    # (a counter's value is the next one to use: the first frame after the reboot uses one above
    # every frame before it, on every key the hub had used)
    nwk = nib.network_handle(nib.key_seq)
    powered, counters_on = seen["on"]
    assert powered and seen["counters"].get(nwk, 0) > 100
    assert all(counters_on.get(k, 0) >= v for k, v in seen["counters"].items())
    assert nib.counters._out[nwk] > counters_on[nwk]
    assert endpoint.state == "attached" and endpoint.counts["dial_failures"] > 0
    # responses stored when the power went were delivered once: nothing lost or duplicated
    assert seen["stored"] > 0 and endpoint.channel.stored == 0
    led = run.ledger()
    assert led["lost"] == led["duplicated"] == led["in_flight"] == led["unexpected"] == 0
    assert led["submitted"] == led["ok"] + led["failed"] + led["timed_out"]
    # alerts: every one of the other home arrives; home 1's ESME loses those it raised while the
    # hub was off or into its old tunnel just after (the CHF's tunnels end with the power)
    received = {(int(rid.split(":")[0].replace("-", ""), 16), int(rid.split(":")[2]))
                for user in run.users.values() for _t, rid, _code in user.alerts}
    missing = [v for k, v in run.alerts_raised.items() if k not in received]
    assert len(run.alerts_raised) > len(missing)
    assert all(name == "h-0001" and 1800 <= t for t, name, _code in missing), missing
    # the home's devices answer reads after the reboot
    after = [r for r in run.records.values() if r.home == "h-0001" and r.submitted > 2400 + 600]
    assert {r.kind for r in after if r.final == "I0"} >= {"on_demand_read", "gas_read"}
    assert run.estate.errors == 0


def test_a_power_cut_cancels_what_the_node_was_waiting_for():
    from emulator.clock import VirtualClock
    from emulator.power import PowerDomain
    clock = VirtualClock(1000.0)
    domain = PowerDomain(clock)
    ran = []
    domain.callLater(1.0, ran.append, "a")
    clock.callLater(1.5, ran.append, "other node")
    domain.callLater(2.0, ran.append, "b")
    cancelled = domain.callLater(2.5, ran.append, "c")
    cancelled.cancel()
    domain.callLater(3.0, ran.append, "d")
    clock.run_until(1002.2)
    assert ran == ["a", "other node", "b"] and domain.seconds() == clock.seconds()
    assert domain.cut() == 1 and domain.cut_calls == 1      # "d": "c" was cancelled already
    domain.callLater(1.0, ran.append, "after")
    clock.run_until(1010.0)
    assert ran == ["a", "other node", "b", "after"]
