"""One source of truth for a meter's registers (issue 11 item 4): the household load model.

The ESME's COSEM registers that a remote party reads (ECS17b, the Import Register Collection,
through the CHF, the GB-HRGP tunnel and the ESME's GBCS logic) and the ZigBee Metering
cluster the display reads are both views of the register bank the load model drives
(L{emulator.devices.registers}); so are the time-of-use registers, the maximum demand and the
logs captured at half hours, midnight and billing dates.  Expected values come from a second
load model built from the same seed and read at the boundaries independently.
"""

from __future__ import annotations

import calendar
import random

import pytest

from emulator.clock import VirtualClock
from emulator.devices.gbcs import Esme, provision
from emulator.devices.load import HouseholdLoad
from emulator.devices.registers import (BILLING_DATA_LOG, DAILY_BILLING_LOG, DAILY_READ_LOG, EPOCH_2000,
                                        HALF_HOUR_PROFILE, IMPORT_REGISTER, ElectricityRegisters, tou_register)
from protocols.acb.dlms_items import protection_parameters
from protocols.gbcs.crypto import GbcsCrypto
from protocols.gbcs.framing import CRA_COMMAND, CRA_RESPONSE, GeneralCiphering, GeneralSigning, OtherInformation
from protocols.gbcs.keystore import KeyStore
from protocols.gbcs.message import VERIFIED, decode_message, protect
from protocols.gbcs.payloads import dlms, encode_payload
from tests.han_helpers import SINGLE_HOME, topology_text

ESME = 0x00DB1234567890A0
SUPPLIER = 0x90B3D51F30010000
KEYS = SINGLE_HOME.parent / "rtds-keys"
IMPORT_COLLECTION = "0-0:43.2.8.255"


def ecs17b(crypto: GbcsCrypto, counter: int, objects=((3, "1-0:1.8.0.255", 2), (3, "1-0:3.8.0.255", 2))) -> bytes:
    """ECS17b Read ESME Energy Registers (Import Energy), MACed as the DCC would: a Data
    Protection get_protected_attributes of the import registers, for the supplier."""
    descriptors = dlms.array(*(dlms.structure(
        dlms.make_data("long-unsigned", cls), dlms.octet_string(dlms.obis_from_str(obis)),
        dlms.make_data("integer", attr), dlms.make_data("long-unsigned", 0),
        dlms.structure(dlms.make_data("enum", 0), dlms.make_data("null-data"))) for cls, obis, attr in objects))
    param = dlms.structure(descriptors, protection_parameters(counter, SUPPLIER, ESME))
    spec = dlms.access_request_item("action", 30, IMPORT_COLLECTION, 1)
    payload = encode_payload(dlms.access_request(counter, [spec], [param]))
    gs = GeneralSigning(CRA_COMMAND, counter, SUPPLIER, ESME, None, OtherInformation(0x0027), payload, b"")
    return protect(gs, crypto, GeneralCiphering(b""))


def _import_values(raw: bytes, crypto: GbcsCrypto) -> tuple[int, list[int]]:
    msg = decode_message(raw, crypto)
    gs = msg.frame.signing
    assert (gs.cra_flag, gs.message_code, gs.originator) == (CRA_RESPONSE, 0x0027, ESME)
    assert msg.verification.mac == VERIFIED
    [spec] = msg.payload["access_response_specification"]
    assert spec["result_name"] == "success"
    [data] = msg.payload["access_response_list_of_data"]
    plain = data["value"][1]["protected"]["plaintext"]
    return gs.originator_counter, [v["value"] for v in plain["value"]]


def _without_scheduled(text: str) -> str:
    return text[:text.index("    gbcs_commands:")] + text[text.index("    han:"):]


def test_ecs17b_over_the_han_equals_the_metering_cluster(tmp_path) -> None:
    """After 1, 2 and 3 virtual hours an ECS17b crosses the CHF and the tunnel; the ESME's
    import register in its (encrypted) answer equals the Metering cluster's
    CurrentSummationDelivered at the moment the ESME executed it (both Wh: COSEM scaler 0 unit
    Wh; Metering Multiplier 1 / Divisor 1000 for kWh), non-zero and increasing."""
    from emulator.dcc.devices import install_run_device_logic
    from emulator.estate import Estate
    from emulator.topology import parse_topology
    from protocols.zcl.clusters import get_cluster  # noqa: F401  (the Metering cluster is registered)

    topology = parse_topology(_without_scheduled(topology_text()), "t.yaml", 5)
    clock = VirtualClock(start=topology.start_time)
    estate = Estate(topology, clock, 5)
    install_run_device_logic(estate, topology, 5)
    estate.start()
    home = estate.homes[0]
    esme, ch = home.nodes["esme"], home.nodes["ch"]
    crypto = GbcsCrypto(KeyStore(KEYS))
    seen: dict[int, int] = {}   # command counter -> Metering CurrentSummationDelivered at execution

    def deliver(counter: int) -> None:
        app = esme.tunnel.application
        sync = app._before

        def before() -> None:
            sync()
            esme.refresh(1, 0x0702)
            seen[counter] = esme.servers[(1, 0x0702)].values[0x0000]
            app._before = sync

        app._before = before
        ch.chf_tunnel.from_wan(ecs17b(crypto, counter))

    for hour in (1, 2, 3):
        clock.callLater(hour * 3600.0, deliver, 1000 + hour)
    clock.run_until(topology.start_time + 3 * 3600 + 120)
    assert estate.errors == 0
    # (what else went up: the CHF's CS14 device log back-ups after the meters' CBKE)
    answers = dict(_import_values(m, crypto) for m in ch.chf_tunnel.wan_messages
                   if decode_message(m, crypto).frame.signing.message_code != 0x0018)
    assert sorted(answers) == [1001, 1002, 1003]
    active = [answers[c][0] for c in sorted(answers)]
    assert [answers[c][0] for c in sorted(answers)] == [seen[c] for c in sorted(answers)]
    assert 0 < active[0] < active[1] < active[2]
    # 450 W mean: roughly 0.1-2 kWh an hour
    assert all(50 < b - a < 5000 for a, b in zip(active, active[1:]))
    estate.close()


def _registers(seed: int, start: float):
    clock = VirtualClock(start=start)
    load = HouseholdLoad(random.Random(seed), start, 450.0)
    return clock, ElectricityRegisters(load, clock, start)


def _twin(seed: int, start: float) -> HouseholdLoad:
    return HouseholdLoad(random.Random(seed), start, 450.0)


START = float(calendar.timegm((2026, 1, 30, 0, 0, 0)))   # a Friday


def test_logs_capture_at_half_hours_midnight_and_the_billing_date() -> None:
    clock, regs = _registers(3, START)
    clock.advance(3 * 86400 + 600)       # to 2 February 00:10, read once
    regs.advance()
    twin = _twin(3, START)
    half_hours = list(regs.logs[HALF_HOUR_PROFILE])
    assert len(half_hours) == 3 * 48
    for stamp, wh in half_hours:          # read at the boundary from an independent model
        assert wh == int(twin.read(stamp + EPOCH_2000)[0])
    days = list(regs.logs[DAILY_READ_LOG])
    assert [s + EPOCH_2000 for s, _ in days] == [START + 86400 * d for d in (1, 2, 3)]
    assert [wh for _, wh in days] == [wh for s, wh in half_hours if (s + EPOCH_2000) % 86400 == 0]
    assert len(regs.logs[DAILY_BILLING_LOG]) == 3
    [billing] = regs.logs[BILLING_DATA_LOG]           # 1 February: the month's billing date
    assert billing[0] + EPOCH_2000 == START + 2 * 86400 and billing[1] == days[1][1]
    tou = [v["value"] for v in billing[2]["value"]]
    assert len(tou) == 48 and tou[0] > 0 and not any(tou[1:]), "no tariff set: all on rate 1"
    # monotonic registers
    assert all(a[1] <= b[1] for a, b in zip(half_hours, half_hours[1:]))
    # maximum demand: the highest half-hour mean power (W = Wh in the half hour x 2)
    first = (0, int(_twin(3, START).read(START)[0]))
    peaks = [(b[1] - a[1]) * 2 for a, b in zip([first] + half_hours, half_hours)]
    assert abs(regs.max_demand_w - max(peaks)) <= 2


def _calendar_tariff(device, day_schedule: list[tuple[int, int]]) -> None:
    """Write an active tariff switching table: one season, one week, one day profile."""
    name = dlms.octet_string(b"\x01")
    season = dlms.structure(name, dlms.octet_string(bytes.fromhex("FFFF0101FF000000008000FF")), name)
    week = dlms.structure(name, *(dlms.make_data("unsigned", 1) for _ in range(7)))
    actions = [dlms.structure(dlms.octet_string(bytes((h, m, 0, 0))), dlms.octet_string(bytes.fromhex("00000A0064FF")),
                              dlms.make_data("long-unsigned", rate)) for (h, m), rate in
               ((divmod(minutes, 60), rate) for minutes, rate in day_schedule)]
    day = dlms.structure(dlms.make_data("unsigned", 1), dlms.array(*actions))
    model = device.model
    for attr, value in ((7, dlms.array(season)), (8, dlms.array(week)), (9, dlms.array(day))):
        assert model.set(20, "0-0:13.0.0.255", attr, value) == 0
    device._activate(20, "0-0:13.0.0.255", 10)


def test_tou_registers_follow_the_active_tariff() -> None:
    """Rate 1 overnight, rate 2 07:00-16:00, rate 3 16:00-19:30, then rate 1 again: each TOU
    register holds exactly the energy of its hours (from an independent model), and together
    they hold the import register's increase."""
    clock, regs = _registers(11, START)
    device = provision(Esme, ESME, KeyStore(KEYS), clock, lambda m: None, rng=random.Random(1))
    regs.attach(device)
    _calendar_tariff(device, [(0, 1), (7 * 60, 2), (16 * 60, 3), (19 * 60 + 30, 1)])
    start_wh = regs.import_wh
    clock.advance(2 * 86400)
    status, value = device.model.get(*IMPORT_REGISTER, 2)
    assert status == 0 and value["value"] == int(regs.import_wh)
    tou = [device.model.get(*tou_register(r), 2)[1]["value"] for r in range(1, 49)]
    twin = _twin(11, START)
    expect = [0.0] * 3
    prev = twin.read(START)[0]
    for day in range(2):
        for hours, rate in ((7, 1), (16, 2), (19.5, 3), (24, 1)):
            e = twin.read(START + day * 86400 + hours * 3600)[0]
            expect[rate - 1] += e - prev
            prev = e
    assert [abs(tou[i] - int(expect[i])) <= 1 for i in range(3)] == [True] * 3, (tou[:3], expect)
    assert not any(tou[3:])
    assert abs(sum(tou) - (regs.import_wh - start_wh)) <= 3


def test_the_model_cannot_go_back_in_time() -> None:
    clock, regs = _registers(2, START)
    clock.advance(100)
    regs.advance()
    with pytest.raises(ValueError, match="backwards"):
        regs.advance(START + 50)


def test_gas_register_is_the_gsmes_gbz_view() -> None:
    """The GSME's GBZ CurrentSummationDelivered (what GCS reads answer) is the volume register
    its Metering reports carry, advanced by the gas load model."""
    from emulator.devices.gbcs import Gsme
    from emulator.devices.load import GasLoad
    from emulator.devices.registers import GasRegisters

    clock = VirtualClock(start=START)
    regs = GasRegisters(GasLoad(random.Random(4), START), clock, START)
    device = provision(Gsme, 0x00DB1234567890A1, KeyStore(KEYS), clock, lambda m: None, rng=random.Random(1))
    regs.attach(device)
    readings = []
    for _ in range(3):
        clock.advance(6 * 3600)
        regs.sync()
        status, _type, value = device.zcl.read(0x0702, 0x0000)
        assert status == 0 and value == regs.summation
        readings.append(value)
    assert 0 < readings[0] < readings[1] < readings[2]


def test_gpf_copy_is_what_the_gsme_reported_to_its_mirror() -> None:
    """The GPF answers for the sleeping GSME from its copy: before a message reaches the GPF's
    GBCS logic, its GBZ CurrentSummationDelivered is set from the mirror the GSME reports to,
    which is the GSME's own volume register at its last wake."""
    from emulator.dcc.devices import install_run_device_logic
    from emulator.estate import Estate
    from emulator.topology import parse_topology

    topology = parse_topology(_without_scheduled(topology_text()), "t.yaml", 3)
    clock = VirtualClock(start=topology.start_time)
    estate = Estate(topology, clock, 3)
    install_run_device_logic(estate, topology, 3)
    estate.start()
    clock.run_until(topology.start_time + 2 * 3600)
    home = estate.homes[0]
    ch, gsme = home.nodes["ch"], home.nodes["gsme"]
    assert gsme.reports_acked >= 2
    hub_app = ch.chf_tunnel.application
    [endpoint] = ch.mirrors.values()
    mirrored = ch.servers[(endpoint, 0x0702)].values[0x0000]
    assert mirrored == gsme.servers[(1, 0x0702)].values[0x0000] == gsme.registers.summation > 0
    hub_app.before_gpf()
    assert hub_app.gpf.zcl.read(0x0702, 0x0000)[2] == mirrored
    estate.close()


def test_registers_do_not_depend_on_how_often_they_are_read() -> None:
    """Read every few seconds or once: the same registers (so a remote party's read never
    changes what the display, or a later read, sees)."""
    from emulator.devices.load import GasLoad
    often, once = GasLoad(random.Random(9), START), GasLoad(random.Random(9), START)
    t = START
    while t + 7.0 < START + 5 * 3600:
        t += 7.0
        often.read(t)
    assert often.read(START + 5 * 3600 + 1) == pytest.approx(once.read(START + 5 * 3600 + 1), rel=1e-12)
    clock_a, regs_a = _registers(5, START)
    clock_b, regs_b = _registers(5, START)
    for _ in range(200):
        clock_a.advance(97.0)
        regs_a.advance()
    clock_b.advance(200 * 97.0)
    regs_b.advance()
    assert int(regs_a.import_wh) == int(regs_b.import_wh)
    assert [int(x) for x in regs_a.tou_wh] == [int(x) for x in regs_b.tou_wh]
    assert list(regs_a.logs[HALF_HOUR_PROFILE]) == list(regs_b.logs[HALF_HOUR_PROFILE])
