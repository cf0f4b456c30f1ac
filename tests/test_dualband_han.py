"""The dual-band CH's 868 MHz HAN: a second radio medium with the sub-GHz PHY's timing, the
CH's second MAC under its one ZigBee stack, devices with C{band: 868} joining there, the
capture's second interface (tshark decodes it), the CHF's duty-cycle accounting fed from the
airtime the CH really sends on the sub-GHz medium (frames held back over the limit, DBCH
alerts), and channel changes moving the sub-GHz medium."""

from __future__ import annotations

import pytest

from emulator.clock import VirtualClock
from emulator.dcc.devices import install_device_logic
from emulator.devices.gbcs import dualband
from emulator.devices.gbcs.dualband import DutyCycleConfig
from emulator.devices.subghz import channel_of_mask, sub_ghz_radio
from emulator.estate import Estate
from emulator.medium import PHY_868, PHY_2400, HanMedium
from emulator.topology import TopologyError, parse_topology
from protocols.gbcs import GbcsCrypto, KeyStore, decode_message

from tests.conftest import KEYSTORE, needs
from tests.han_helpers import REPO, needs_tshark, run_estate, tshark_fields

DUAL_BAND_HOME = REPO / "topologies" / "dual-band-home.yaml"

#: a dual-band home with the RTDS devices (so the GBCS logic has their keys)
RTDS_DUAL = """
name: dual
start_time: "2026-03-02T00:00:00Z"
homes:
  - name: home-1
    han: {channel: 20}
    devices:
      - {kind: CH, name: ch, eui64: "00DB1234567890A2", gpf_eui64: "00DB1234567890A3", dual_band: true}
      - {kind: ESME, name: esme, eui64: "00DB1234567890A0", band: 868}
      - {kind: GSME, name: gsme, eui64: "00DB1234567890A1"}
      - {kind: PPMID, name: ppmid, eui64: "00DB1234567890A4", band: 868, read_interval: 30}
"""


def test_sub_ghz_phy_timing():
    # 100 kbit/s: 80 us per octet; 12 octets of SHR + PHR before the PSDU
    assert PHY_868.airtime(127) == pytest.approx((12 + 127) * 80e-6)
    assert PHY_2400.airtime(127) == pytest.approx(4.256e-3)
    assert PHY_868.symbol_time == 10e-6 and PHY_868.page == 28
    assert PHY_868.channel_mask(0) == dualband.DEFAULT_CHANNEL_MASK
    assert channel_of_mask(0xE0000004) == (28, 2)
    with pytest.raises(ValueError):
        channel_of_mask(0xE0000003)
    # an Ack (5 octets + FCS... 17 octets on the air) fits in macAckWaitDuration after the turnaround
    assert 120e-6 + PHY_868.airtime(5) < PHY_868.ack_wait


def test_sub_ghz_medium_channels_and_airtime():
    clock = VirtualClock(start=0.0)
    m = HanMedium(clock, 1, "m", channel=0, phy=PHY_868)

    class Rx:
        def __init__(self):
            self.got = []

        def frame_received(self, psdu):
            self.got.append((clock.seconds(), psdu))

    a, b = Rx(), Rx()
    pa = m.attach("a", a)
    m.attach("b", b)
    assert pa.ack_wait_duration == PHY_868.ack_wait
    assert pa.transmit(bytes(20)) == pytest.approx(32 * 80e-6)
    clock.advance(1.0)
    assert b.got and b.got[0][0] == pytest.approx(32 * 80e-6)
    with pytest.raises(ValueError, match="868 MHz"):
        HanMedium(clock, 1, "x", channel=30, phy=PHY_868)
    with pytest.raises(ValueError):
        m.set_channel(27)
    m.set_channel(3)
    assert m.channel == 3


def test_band_needs_a_dual_band_ch():
    text = RTDS_DUAL.replace(", dual_band: true", "")
    with pytest.raises(TopologyError, match=r"test.yaml:9: .*band 868 needs a dual-band CH"):
        parse_topology(text, "test.yaml", 1)
    with pytest.raises(TopologyError, match=r"band must be one of 2400, 868"):
        parse_topology(RTDS_DUAL.replace("band: 868, read", "band: 915, read"), "test.yaml", 1)
    with pytest.raises(TopologyError, match="unknown key 'band'"):
        parse_topology(RTDS_DUAL.replace("dual_band: true", "band: 868"), "test.yaml", 1)


@needs_tshark
def test_dual_band_home_joins_on_both_media_and_tshark_decodes_both(tmp_path):
    est = run_estate(tmp_path, DUAL_BAND_HOME.read_text(), 3, 240.0)
    home = est.homes[0]
    sub = home.sub_ghz_medium
    assert sub is not None and sub.phy is PHY_868
    on_868 = {n for n, d in home.nodes.items() if d.spec.params.get("band") == 868}
    assert on_868 == {"esme", "ihd", "ppmid"}
    assert set(sub.ports) == on_868 | {"ch"} and set(home.medium.ports) == {"ch", "gsme"}
    for node in home.nodes.values():
        assert node.joined_at is not None, node.summary()
        assert node.key_established(), node.summary()
    ppmid, ihd = home.nodes["ppmid"], home.nodes["ihd"]
    assert ppmid.reads_answered >= 2 and ppmid.prices == 1
    assert ihd.reads_answered >= 10
    assert home.nodes["ch"].sub_ghz_port.sent > 0
    rows = tshark_fields(tmp_path, ["frame.interface_name", "frame.interface_description", "wpan.src64",
                                    "zbee_aps.cluster", "_ws.malformed"])
    by_iface = {}
    for iface, desc, src64, cluster, malformed in rows:
        assert not malformed
        by_iface.setdefault(iface, []).append((desc, src64, cluster))
    assert set(by_iface) == {"home-0001-han", "home-0001-han-868"}
    assert "868 MHz" in by_iface["home-0001-han-868"][0][0] and "page 28 channel 0" in by_iface["home-0001-han-868"][0][0]
    assert len(by_iface["home-0001-han-868"]) == sub.counts["tx"]
    assert len(by_iface["home-0001-han"]) == home.medium.counts["tx"]
    # decrypted: the PPMID's Prepayment reads and the IHD's Metering reads cross the 868 MHz air only
    clusters = {iface: {c for _d, _s, c in v if c} for iface, v in by_iface.items()}
    assert "0x0705" in clusters["home-0001-han-868"] and "0x0702" in clusters["home-0001-han-868"]
    assert "0x0705" not in clusters["home-0001-han"]
    # the gas meter's EUI-64 (association) appears on the 2.4 GHz interface only
    gsme = f"{home.nodes['gsme'].spec.eui64:016x}"
    assert not any(gsme in s.replace(":", "") for _d, s, _c in by_iface["home-0001-han-868"])


def test_same_seed_same_dual_band_capture(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    run_estate(a, DUAL_BAND_HOME.read_text(), 5, 90.0)
    run_estate(b, DUAL_BAND_HOME.read_text(), 5, 90.0)
    assert (a / "han.pcapng").read_bytes() == (b / "han.pcapng").read_bytes()


def _gbcs_estate(limit_s: float | None = None):
    topology = parse_topology(RTDS_DUAL, "dual.yaml", 7)
    clock = VirtualClock(start=topology.start_time)
    est = Estate(topology, clock, 7)
    keystore = KeyStore(str(KEYSTORE))
    install_device_logic(est, keystore, 7)
    est.start()
    clock.run_until(topology.start_time + 0.5)         # the CH powered on: its CHF exists
    hub = est.homes[0].nodes["ch"]
    radio = sub_ghz_radio(hub)
    assert radio is not None
    if limit_s is not None:
        radio.config = DutyCycleConfig(limit_s_per_hour=limit_s)
    return est, clock, hub, radio, GbcsCrypto(keystore)


@needs(KEYSTORE)
def test_duty_cycle_is_fed_from_the_sub_ghz_airtime_and_enforced():
    est, clock, hub, radio, crypto = _gbcs_estate(limit_s=0.4)
    clock.run_until(clock.seconds() + 600)
    port = hub.sub_ghz_port
    now = clock.seconds()
    # what the accounting holds is exactly the airtime the CH put on the sub-GHz medium
    assert port.airtime_s == pytest.approx(radio.airtime(now))
    assert port.airtime_s <= 0.4
    assert port.discarded > 0 and hub.counts["duty_cycle_discard"] == port.discarded
    assert radio.level == dualband.REGULATED
    codes = []
    for raw in hub.chf_tunnel.wan_messages:
        m = decode_message(raw, crypto)
        codes.append((m.frame.signing.message_code, m.payload["notification_body"]["value"][0]["value"]))
    # thresholds crossed upwards: limited (DBCH06), critical, regulated
    assert (dualband.LIMITED_ACTION_ALERT, dualband.ALERT_LIMITED) in codes
    assert (dualband.GENERIC_NON_CRITICAL, dualband.ALERT_CRITICAL) in codes
    assert (dualband.GENERIC_NON_CRITICAL, dualband.ALERT_REGULATED) in codes
    # the 2.4 GHz side is not limited: the gas meter still reports to its mirror
    assert est.homes[0].nodes["gsme"].reports_acked >= 1
    est.close()


@needs(KEYSTORE)
def test_unlimited_sub_ghz_band_carries_the_ppmid_and_channel_change_moves_the_medium():
    est, clock, hub, radio, crypto = _gbcs_estate()
    home = est.homes[0]
    clock.run_until(clock.seconds() + 200)
    assert hub.sub_ghz_port.discarded == 0 and radio.level == dualband.NORMAL
    assert home.nodes["ppmid"].reads_answered >= 3
    assert home.sub_ghz_medium.channel == 0
    radio.set_channel(PHY_868.channel_mask(5))          # as a DBCH05 scan's outcome does
    assert home.sub_ghz_medium.channel == 5
    before = home.nodes["ppmid"].reads_answered
    clock.run_until(clock.seconds() + 100)              # everyone followed: reads go on
    assert home.nodes["ppmid"].reads_answered > before
    est.close()


def test_sleepy_gsme_on_868_gets_its_queued_gbcs_at_its_wake(tmp_path):
    # the single home with a dual-band CH and its gas meter on 868 MHz: the GCS14 the topology
    # schedules at 180 s waits in the CHF queue until the GSME wakes and GETs it over the sub-GHz
    # medium (indirect frames from the CH's second MAC, fetched by the GSME's polls)
    from tests.han_helpers import topology_text
    text = topology_text(ch="dual_band: true", gsme="band: 868")
    est = run_estate(tmp_path, text, 4, 2400.0, pcap=False)
    home = est.homes[0]
    gsme = home.nodes["gsme"]
    assert set(home.sub_ghz_medium.ports) == {"ch", "gsme"}
    assert gsme.tunnel.received == 1 and gsme.wakes >= 1
    assert gsme.reports_acked >= 1 and home.nodes["ch"].mirror_reports >= 1
    assert home.nodes["esme"].tunnel.received == 2            # the ESME's two, on 2.4 GHz


@needs(KEYSTORE)
def test_a_gbcs_message_held_back_by_the_duty_cycle_is_named_in_the_dbch10_alert():
    from emulator.topology import load_topology
    from protocols.gbcs.framing import decode_frame
    from tests.han_helpers import SINGLE_HOME
    est, clock, hub, radio, crypto = _gbcs_estate(limit_s=0.4)
    clock.run_until(clock.seconds() + 600)
    assert radio.level == dualband.REGULATED
    hub.chf_tunnel.wan_messages.clear()
    # an ECS17c read for the ESME (on 868 MHz), as the single home schedules it
    command = load_topology(str(SINGLE_HOME), 1).homes[0].gbcs_commands[0].message
    gs = decode_frame(command).signing
    hub.chf_tunnel.from_wan(command)
    clock.run_until(clock.seconds() + 60)
    discards = []
    for raw in hub.chf_tunnel.wan_messages:
        m = decode_message(raw, crypto)
        body = m.payload["notification_body"]["value"]
        if m.frame.signing.message_code == dualband.MESSAGE_DISCARDED_ALERT:
            assert body[0]["value"] == dualband.ALERT_MESSAGE_DISCARDED
            discards.append(bytes.fromhex(body[2]["value"]))
    # one alert for the message (however many of its frames were held back), naming it
    assert discards == [gs.originator.to_bytes(8, "big") + gs.recipient.to_bytes(8, "big") + bytes((gs.cra_flag,))
                        + gs.originator_counter.to_bytes(8, "big")]
    assert est.homes[0].nodes["esme"].tunnel.received == 0
    est.close()
