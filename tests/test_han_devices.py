"""Device fidelity on the HAN: the display finds the meters quickly, reads their formatting
once and shows values as they say, demand moves as a 10 s reader sees it, the price is a real
unit rate; the discovery machine's exact outputs on a virtual clock."""

from __future__ import annotations

import random
from pathlib import Path

from emulator.clock import VirtualClock
from emulator.devices.discovery import FIRST_BACKOFF, GROWTH, JITTER, MAX_BACKOFF, make_discovery
from emulator.devices.load import HouseholdLoad
from emulator.devices.meters import MeterFormatting, price_p_per_kwh
from tests.han_helpers import needs_tshark, run_estate, topology_text, tshark_fields


class _Lower:
    def __init__(self, clock) -> None:
        self.clock = clock
        self.sent: list[float] = []

    def send_match_desc(self) -> None:
        self.sent.append(self.clock.seconds())


def test_discovery_backoff_grows_and_stops_when_complete():
    clock = VirtualClock(start=0.0)
    lower = _Lower(clock)
    m = make_discovery(clock, random.Random(4), lower)
    m.start()
    m.start()
    assert lower.sent == [0.0]
    gaps = []
    for _ in range(14):
        t = clock.seconds()
        m.window_closed()
        clock.advance(clock.next_time() - clock.seconds())
        gaps.append(lower.sent[-1] - t)
    for i, gap in enumerate(gaps):
        base = min(MAX_BACKOFF, FIRST_BACKOFF * GROWTH ** i)
        assert base * (1 - JITTER) <= gap <= base * (1 + JITTER), (i, gap)
    m.window_closed()
    m.complete()
    assert clock.pending_count() == 0, "the backoff timer is cancelled"
    m.retry()
    m.window_closed()
    m.start()
    assert len(lower.sent) == 15


def test_discovery_complete_while_searching():
    clock = VirtualClock(start=0.0)
    lower = _Lower(clock)
    m = make_discovery(clock, random.Random(4), lower)
    m.start()
    m.complete()
    m.window_closed()
    clock.advance(1000.0)
    assert lower.sent == [0.0] and clock.pending_count() == 0


def test_demand_moves_at_ten_second_reads_and_energy_is_its_integral():
    load = HouseholdLoad(random.Random(8), 0.0, 450.0)
    readings = [load.read(t * 10.0) for t in range(1, 721)]
    demands = [int(p) for _, p in readings]
    changed = sum(1 for a, b in zip(demands, demands[1:]) if a != b)
    assert changed >= 0.9 * (len(demands) - 1), changed
    # energy grows by about mean power x time between reads (piecewise-constant power)
    for (e0, p0), (e1, _) in zip(readings, readings[1:]):
        assert 0 < e1 - e0 < 10 * 7000 / 3600


def test_formatting_attributes_drive_the_display():
    fmt = MeterFormatting({0x0300: 0, 0x0301: 1, 0x0302: 1000, 0x0303: 0xB3, 0x0304: 0x2A, 0x0306: 0})
    assert fmt.summation(23828751) == "23828.751 kWh"
    assert fmt.demand(141) == "00000.14 kW"
    gas = MeterFormatting({0x0300: 1, 0x0301: 1, 0x0302: 100, 0x0303: 0x7B})
    assert gas.summation(165528) == "000000000001655.280 m3"


def test_price_trailing_digit():
    assert price_p_per_kwh(24500, 0x51) == 24.5
    assert price_p_per_kwh(2450, 0x41) == 24.5


@needs_tshark
def test_ihd_reads_within_30_s_of_the_esme_joining(tmp_path: Path) -> None:
    """The IHD joins before the ESME; its Match_Desc retries (seconds, then growing) find the
    ESME, it reads the formatting attributes once, and its first register read is answered
    within 30 s of the ESME joining; the display shows the values as the meter formats them."""
    text = topology_text(esme="power_on: 20\nunit_rate_p_per_kwh: 27.03")
    estate = run_estate(tmp_path, text, seed=3, duration=120)
    nodes = estate.homes[0].nodes
    esme, ihd = nodes["esme"], nodes["ihd"]
    assert ihd.joined_at < esme.joined_at
    assert ihd.first_electricity_answer is not None
    assert ihd.first_electricity_answer - esme.joined_at <= 30.0
    assert ihd.display["electricity"].endswith(" kWh") and ihd.display["demand"].endswith(" kW")
    assert ihd.display["gas"].endswith(" m3")
    # the formatting attributes are read once per meter, on the wire, before the registers
    # (one request per meter: an APS retransmission repeats the same transaction number)
    reads = tshark_fields(tmp_path, ["zbee_nwk.dst", "zbee_zcl.cmd.tsn", "zbee_zcl_se.met.attr_id"],
                          "zbee_aps.cluster == 0x0702 && zbee_zcl.cmd.id == 0x00")
    formatting = {(dst, tsn): attrs for dst, tsn, attrs in reads if "0x0302" in attrs.split(",")}
    assert sorted(dst for dst, _ in formatting) == ["0x0000", f"0x{esme.stack.short:04x}"], reads
    for attrs in formatting.values():
        assert set(attrs.split(",")) == {"0x0300", "0x0301", "0x0302", "0x0303", "0x0304", "0x0306"}
    first = {}
    for dst, tsn, attrs in reads:
        first.setdefault(dst, attrs)
    assert all("0x0302" in attrs for attrs in first.values()), "formatting is read before any register"
    # PublishPrice: 27.03 p/kWh is 0.27030 GBP with 5 trailing digits, decoded by Wireshark
    prices = tshark_fields(tmp_path, ["zbee_zcl_se.price.price", "zbee_zcl_se.price.trailing_digit"],
                           "zbee_zcl_se.price.price")
    assert prices and all(r == ["27030", "0x05"] for r in prices), prices
    assert ihd.unit_rate_p_per_kwh == 27.03


class _Rec:
    def __init__(self, clock) -> None:
        self.clock = clock
        self.calls: list[tuple] = []

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        return lambda *args: self.calls.append((self.clock.seconds(), name) + args)


def test_wake_cycle_polls_while_busy_then_lingers_then_sleeps():
    from emulator.devices.gsme_control import AWAKE_POLL_INTERVAL, AWAKE_TIME, make_wake_cycle
    clock = VirtualClock(start=0.0)
    lower = _Rec(clock)
    w = make_wake_cycle(clock, lower)
    w.end_work()  # nothing in hand: ignored
    w.begin_work()
    w.begin_work()
    clock.advance(1.0)
    w.end_work()
    clock.advance(1.0)
    w.end_work()  # the last piece of work: linger
    clock.advance(AWAKE_TIME - 1.0)
    w.begin_work()  # more work while lingering: stays awake, no second start
    clock.advance(10.0)
    w.end_work()
    clock.advance(AWAKE_TIME)
    assert lower.calls == [(0.0, "start_polling", AWAKE_POLL_INTERVAL),
                           (15.0 + AWAKE_TIME, "stop_polling")]
    assert clock.pending_count() == 0


def test_mirror_setup_request_configure_report_and_retries():
    from emulator.devices.gsme_control import make_mirror_setup
    clock = VirtualClock(start=0.0)
    lower = _Rec(clock)
    m = make_mirror_setup(lower)
    m.ensure()
    m.ensure()  # already asking
    m.failed()  # no answer: back to unmirrored
    m.ensure()
    m.granted(2)
    m.failed()  # ConfigureMirror not answered: the endpoint is kept
    m.ensure()
    m.configured()
    m.ensure()
    m.granted(9)  # ignored once mirrored
    assert [c[1:] for c in lower.calls] == [
        ("request_mirror",), ("request_mirror",), ("configure_mirror", 2), ("configure_mirror", 2),
        ("report", 2), ("report", 2)]


def test_scheduled_han_event_options_are_checked():
    import pytest
    from emulator.topology import TopologyError, parse_topology
    good = parse_topology(topology_text(ch="network_key_updates: [600, 1200]", ihd="rejoin_at: [300]",
                                        esme="leave_at: [900]\nunit_rate_p_per_kwh: 30"), "t.yaml", 1)
    devices = {d.name: d for d in good.homes[0].devices}
    assert devices["ch"].params["network_key_updates"] == [600, 1200]
    assert devices["ihd"].params["rejoin_at"] == [300] and devices["esme"].params["leave_at"] == [900]
    for name, line, message in (("ch", "network_key_updates: [600, 300]", "network_key_updates must be increasing"),
                                ("ihd", "rejoin_at: [-1]", "rejoin_at must be increasing positive"),
                                ("esme", "leave_at: 5", "leave_at must be list"),
                                ("esme", "unit_rate_p_per_kwh: 0", "unit_rate_p_per_kwh must be positive")):
        with pytest.raises(TopologyError) as e:
            parse_topology(topology_text(**{name: line}), "t.yaml", 1)
        assert message in str(e.value) and str(e.value).startswith("t.yaml:"), str(e.value)
