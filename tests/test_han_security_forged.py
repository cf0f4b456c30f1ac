"""Forged frames from a node holding the network key, one test per finding of the forged-frame
campaign: each asserts the rejection reason (the per-device counter) and that no state moved.

The default home runs in virtual time; the forger injects correctly NWK-secured frames with
whatever identity, counter and APS security it likes (L{tests.han_forge})."""

from __future__ import annotations

from pathlib import Path

from protocols.ieee802154.frames import decode_mac
from protocols.zcl import foundation as zf
from protocols.zcl.clusters import cluster_frame, get_cluster
from protocols.zcl.frame import DIRECTION_SERVER_TO_CLIENT, encode_zcl
from protocols.zcl import types as T
from protocols.zigbee import aps as _aps
from protocols.zigbee import zdo as _zdo
from tests.han_forge import FAKE_EUI, Forger
from tests.han_helpers import run_estate, topology_text

TIME, PRICE, METERING = 0x000A, 0x0700, 0x0702
FAKE_SHORT = 0x6B6B  # an address nobody has
AT = 60.0  # s into the run: every device has joined and established its keys


def _run(tmp_path: Path, attack, duration: float = 200.0, seed: int = 5, impairments: str = "{}"):
    """Run the default home; C{attack(forger, home, sent)} at L{AT} s; C{sent} lists (sender, MAC
    destination) of every frame a node put on the air after the attack began."""
    sent: list[tuple[str, int]] = []
    state = {}

    def setup(estate, clock) -> None:
        home = estate.homes[0]
        medium = home.medium
        original = medium._transmit

        def tap(sender, port, psdu):
            if state.get("attacking"):
                try:
                    sent.append((sender, decode_mac(psdu).dst_addr))
                except Exception:
                    pass
            return original(sender, port, psdu)

        medium._transmit = tap

        def go() -> None:
            state["attacking"] = True
            state["forger"] = Forger(home)
            attack(state["forger"], home, sent)

        clock.callLater(AT, go)

    estate = run_estate(tmp_path, topology_text(impairments), seed, duration, pcap=False, before_run=setup)
    assert estate.errors == 0
    return estate.homes[0], sent


def _write(tsn: int, *records) -> zf.ZclFrame:
    return zf.global_frame(zf.WriteAttributes(tuple(zf.WriteAttributeRecord(*r) for r in records)), tsn)


def test_forged_unsecured_and_network_key_writes_change_nothing_and_cost_nothing(tmp_path: Path) -> None:
    """Unsecured (and key-id-1) Write Attributes to the hub's Time cluster and the ESME's Price
    label, and a Configure Reporting: dropped as se_unsecured / se_not_link_key, no value
    moves, and no frame (not even an APS ack) goes back to the address they claim."""
    label_id = get_cluster(PRICE).attribute_id("Tier1PriceLabel")
    before = {}

    def attack(f: Forger, home, sent) -> None:
        ch, esme = home.nodes["ch"], home.nodes["esme"]
        before["time"] = dict(ch.servers[(1, TIME)].values)
        before["price"] = dict(esme.servers[(1, PRICE)].values)
        time_write = _write(0x31, (0x0001, T.BITMAP8, 0x00), (0x0002, T.INT32, 3600), (0x0005, T.INT32, 7200))
        price_write = _write(0x32, (label_id, T.OCTET_STRING, b"Forged"))
        configure = zf.global_frame(zf.ConfigureReporting(tuple(
            zf.AttributeReportingConfigurationRecord(1, attr, timeout_period=1) for attr in range(0x100, 0x108))), 0x33)
        for key_id in (None, 1):
            f.send(f.short("ch"), f.zcl(TIME, time_write, key_id=key_id), src_short=FAKE_SHORT)
            f.send(f.short("esme"), f.zcl(PRICE, price_write, key_id=key_id), src_short=FAKE_SHORT)
            f.send(f.short("esme"), f.zcl(METERING, configure, key_id=key_id), src_short=FAKE_SHORT)

    home, sent = _run(tmp_path, attack)
    ch, esme = home.nodes["ch"], home.nodes["esme"]
    time_now = ch.servers[(1, TIME)].values
    assert {k: v for k, v in time_now.items() if k != 0} == {k: v for k, v in before["time"].items() if k != 0}
    assert esme.servers[(1, PRICE)].values == before["price"]
    assert not esme.servers[(1, METERING)].report_timeouts and not esme.servers[(1, METERING)].reporting
    assert ch.counts["se_unsecured"] == 1 and ch.counts["se_not_link_key"] == 1
    assert esme.counts["se_unsecured"] == 2 and esme.counts["se_not_link_key"] == 2
    assert [s for s in sent if s[1] == FAKE_SHORT] == [], "no answer, no ack, no retry to the forged source"
    # the real traffic goes on: the display's reads are answered under the link key
    assert home.nodes["ihd"].reads_answered >= 15


def test_key_id_1_request_key_naming_another_requester_is_refused(tmp_path: Path) -> None:
    """A Request Key for an IHD-ESME application link key, APS-secured with the network key and
    naming the IHD as its source: the trust centre refuses it (request_key_not_link_key) and
    sends no key to anyone; the display's link key with the meter stays the one it has."""
    before = {}

    def attack(f: Forger, home, sent) -> None:
        ihd, esme = home.nodes["ihd"], home.nodes["esme"]
        before["ihd"] = ihd.stack.link_keys.get(esme.spec.eui64)
        before["esme"] = esme.stack.link_keys.get(ihd.spec.eui64)
        cmd = _aps.RequestKey(_aps.KEY_TYPE_APP_LINK, partner_ieee=esme.spec.eui64)
        for src, source in ((ihd.stack.short, ihd.spec.eui64), (FAKE_SHORT, ihd.spec.eui64), (FAKE_SHORT, FAKE_EUI)):
            f.send(0x0000, f.aps_command(cmd, source=source), src_short=src, source=source)

    home, sent = _run(tmp_path, attack)
    ch, ihd, esme = home.nodes["ch"], home.nodes["ihd"], home.nodes["esme"]
    assert ch.counts["request_key_not_link_key"] == 3
    assert before["ihd"] is not None and ihd.stack.link_keys[esme.spec.eui64] == before["ihd"]
    assert esme.stack.link_keys[ihd.spec.eui64] == before["esme"] == before["ihd"]
    assert [s for s in sent if s[0] == "ch" and s[1] == FAKE_SHORT] == []
    assert ihd.reads_answered >= 15 and ihd.reads_answered >= ihd.reads_sent - 1


def test_forged_reports_and_mirror_commands_leave_the_gas_mirror_alone(tmp_path: Path) -> None:
    """Report Attributes to the gas mirror and RemoveMirror / RequestMirror under the GSME's
    name (unsecured and key id 1), and a report from the IHD under its own link key: the
    mirror keeps its values, attributes and endpoint."""
    before = {}

    def attack(f: Forger, home, sent) -> None:
        ch, gsme, ihd = home.nodes["ch"], home.nodes["gsme"], home.nodes["ihd"]
        ep = ch.mirrors[gsme.spec.eui64]
        before["ep"] = ep
        before["values"] = dict(ch.servers[(ep, METERING)].values)
        report = zf.global_frame(zf.ReportAttributes((zf.AttributeReport(0x0000, T.UINT48, 999_999_999),
                                                      zf.AttributeReport(0x0400, T.INT24, 5))),
                                 0x41, DIRECTION_SERVER_TO_CLIENT, disable_default_response=True)
        remove = cluster_frame(METERING, DIRECTION_SERVER_TO_CLIENT, "RemoveMirror", 0x42)
        request = cluster_frame(METERING, DIRECTION_SERVER_TO_CLIENT, "RequestMirror", 0x43)
        for key_id in (None, 1):
            for src in (gsme.stack.short, FAKE_SHORT):
                f.send(0x0000, f.zcl(METERING, report, dst_endpoint=ep, key_id=key_id, source=gsme.spec.eui64),
                       src_short=src, source=gsme.spec.eui64, mac_src=ihd.stack.short)
                f.send(0x0000, f.zcl(METERING, remove, key_id=key_id, source=gsme.spec.eui64), src_short=src,
                       source=gsme.spec.eui64, mac_src=ihd.stack.short)
                f.send(0x0000, f.zcl(METERING, request, key_id=key_id, source=FAKE_EUI), src_short=src,
                       mac_src=ihd.stack.short)
        # an insider with a real link key (the display's) is not the meter either
        ihd.stack.send_data(0x0000, ep, 1, METERING, encode_zcl(report))

    home, sent = _run(tmp_path, attack)
    ch, gsme = home.nodes["ch"], home.nodes["gsme"]
    assert ch.mirrors == {gsme.spec.eui64: before["ep"]}
    now = ch.servers[(before["ep"], METERING)].values
    assert set(now) == set(before["values"]) and 0x0400 not in now
    assert now[0x0000] != 999_999_999
    # the relayed ones (NWK source the sleepy GSME, heard from the IHD) and the rest by reason
    # (a forged frame may collide with real traffic: most, not all, are heard)
    assert ch.counts["nwk_child_relayed"] >= 4
    assert ch.counts["se_unsecured"] >= 2 and ch.counts["se_not_link_key"] >= 2
    assert ch.counts["mirror_not_owner"] == 1
    assert gsme.reports_acked == gsme.reports_sent >= 1


def test_forged_device_annce_does_not_move_an_authenticated_address(tmp_path: Path) -> None:
    """A Device_annce claiming the ESME's EUI-64 at a new address, and frames whose NWK header
    pairs the ESME's EUI-64 with another address: the display keeps the meter's address (it
    learnt it from frames the meter's link key secured) and its reads go on being answered."""
    def attack(f: Forger, home, sent) -> None:
        esme = home.nodes["esme"]
        annce = _zdo.DeviceAnnce(FAKE_SHORT, esme.spec.eui64, 0x8E)
        f.send(0xFFFD, f.zdp(annce, 0x51), src_short=FAKE_SHORT, source=esme.spec.eui64)
        f.send(home.nodes["ihd"].stack.short, f.zdp(_zdo.NodeDescReq(0), 0x52), src_short=FAKE_SHORT,
               source=esme.spec.eui64)

    home, sent = _run(tmp_path, attack)
    ihd, esme, ch = home.nodes["ihd"], home.nodes["esme"], home.nodes["ch"]
    assert ihd.stack.short_of(esme.spec.eui64) == esme.stack.short
    assert ihd.stack.eui_of(FAKE_SHORT) is None
    assert ch.stack.short_of(esme.spec.eui64) == esme.stack.short
    assert ihd.counts["address_conflict_unauthenticated"] >= 2
    assert ch.counts["address_conflict_unauthenticated"] >= 1
    assert ihd.reads_answered >= ihd.reads_sent - 1 >= 15


def test_counter_push_ahead_does_not_silence_a_device(tmp_path: Path) -> None:
    """A frame naming the GSME (and one naming the ESME) with a NWK frame counter near 2^32:
    the device's own frames are judged against the counter its link key last vouched for,
    not the forged one, so the GSME's reports are still acknowledged, the display's reads of
    the ESME answered, and the ESME's ZDO (APS-unsecured) frames still taken."""
    marks = {}

    def attack(f: Forger, home, sent) -> None:
        gsme, esme, ihd = home.nodes["gsme"], home.nodes["esme"], home.nodes["ihd"]
        marks["reports"] = gsme.reports_acked
        marks["reads"] = ihd.reads_answered
        probe = f.zdp(_zdo.NodeDescReq(0), 0x61)
        f.send(0x0000, probe, src_short=gsme.stack.short, source=gsme.spec.eui64, counter=0xFFFFFFF0)
        f.send(ihd.stack.short, probe, src_short=esme.stack.short, source=esme.spec.eui64, counter=0xFFFFFFF0)
        f.send(0x0000, probe, src_short=esme.stack.short, source=esme.spec.eui64, counter=0xFFFFFFF1)

    home, sent = _run(tmp_path, attack, duration=AT + 3700.0)
    gsme, ihd, ch = home.nodes["gsme"], home.nodes["ihd"], home.nodes["ch"]
    assert gsme.reports_acked >= marks["reports"] + 2 and gsme.reports_acked == gsme.reports_sent
    assert ihd.reads_answered - marks["reads"] >= 360
    assert ch.counts["nwk_replay"] == 0 and ihd.counts["nwk_replay"] == 0


def test_unsecured_request_from_a_nonexistent_address_costs_no_transmission(tmp_path: Path) -> None:
    """Amplification: an unsecured Read Attributes to the ESME from an address nobody has got
    16 transmissions (a Default Response with APS and MAC retries); now none."""
    def attack(f: Forger, home, sent) -> None:
        read = zf.global_frame(zf.ReadAttributes((0x0000,)), 0x71)
        for i in range(5):
            f.send(f.short("esme"), f.zcl(METERING, read, counter=i), src_short=FAKE_SHORT + i)

    home, sent = _run(tmp_path, attack, duration=AT + 30.0)
    assert [s for s in sent if s[0] == "esme" and s[1] is not None and FAKE_SHORT <= s[1] < FAKE_SHORT + 5] == []
    assert home.nodes["esme"].counts["se_unsecured"] == 5


def test_relayed_requests_in_the_gsme_name_do_not_fill_the_hub_queue(tmp_path: Path) -> None:
    """ZDO requests with the sleepy GSME's NWK address, relayed by another node, would each
    queue an answer at the hub for the GSME; they are dropped (nwk_child_relayed), and even
    sent as from the GSME itself they take at most the per-child share of the queue."""
    def attack(f: Forger, home, sent) -> None:
        gsme, ihd = home.nodes["gsme"], home.nodes["ihd"]
        for i in range(40):
            req = f.zdp(_zdo.ActiveEpReq(0), i)
            f.send(0x0000, req, src_short=gsme.stack.short, source=gsme.spec.eui64, mac_src=ihd.stack.short)
        for i in range(40):
            req = f.zdp(_zdo.ActiveEpReq(0), 0x80 + i)
            f.send(0x0000, req, src_short=gsme.stack.short, source=gsme.spec.eui64)

    home, sent = _run(tmp_path, attack, duration=AT + 3700.0)
    ch, gsme = home.nodes["ch"], home.nodes["gsme"]
    assert ch.counts["nwk_child_relayed"] == 40
    assert ch.counts["indirect_child_full"] >= 1
    assert ch.mac.indirect_per_child == 8
    assert gsme.reports_acked == gsme.reports_sent >= 2


def test_join_time_forged_responses_are_not_taken(tmp_path: Path) -> None:
    """While the ESME finds the hub's Time server: each ZDO request it sends is followed at once
    by forged responses of the wrong kind on its TSN from the hub's address (a Simple_Desc_rsp
    for its Active_EP_req raised AttributeError), and every TSN gets forged Time read
    responses (a string for Time; a UTCTime 26 years off) unsecured and under the network key:
    nothing raises, the ESME's clock stays the hub's, its discovery completes."""
    def setup(estate, clock) -> None:
        home = estate.homes[0]
        esme = home.nodes["esme"]
        ch_eui = home.nodes["ch"].spec.eui64
        forged = {"zdo": 0}

        def hook() -> None:
            if esme.stack is None:
                clock.callLater(0.05, hook)
                return
            zdo = esme.stack.zdo
            real_send = zdo.send
            descriptor = _zdo.SimpleDescriptor(0x01, 0x0109, 0x0500, 0, (0x000A,), ())

            def send(dst_short, message, on_response=None, timeout=5.0):
                real_send(dst_short, message, on_response, timeout)
                if dst_short != 0x0000 or esme.stack.short is None:
                    return
                f = Forger(home)
                f._free_at = clock.seconds() + 0.001
                tsn = zdo._tsn
                wrong = _zdo.ActiveEpRsp(0, 0x0000, (0x07,)) if isinstance(message, _zdo.SimpleDescReq) \
                    else _zdo.SimpleDescRsp(0, 0x0000, descriptor)
                f.send(esme.stack.short, f.zdp(wrong, tsn), src_short=0x0000, source=ch_eui)
                forged["zdo"] += 1
                if isinstance(message, _zdo.SimpleDescReq):
                    for t in range(256):
                        for value, type_id, key_id in (("noon", T.CHARACTER_STRING, None),
                                                       (26 * 365 * 86400, T.UTC_TIME, 1)):
                            rsp = zf.ReadAttributesResponse((zf.ReadAttributeStatusRecord(0, 0, type_id, value),))
                            frame = zf.global_frame(rsp, t, DIRECTION_SERVER_TO_CLIENT)
                            f.send(esme.stack.short, f.zcl(TIME, frame, key_id=key_id, source=ch_eui),
                                   src_short=0x0000, source=ch_eui)

            zdo.send = send

        clock.callLater(0.1, hook)
        estate.forged = forged

    estate = run_estate(tmp_path, topology_text(), 5, 120.0, pcap=False, before_run=setup)
    assert estate.errors == 0
    home = estate.homes[0]
    esme = home.nodes["esme"]
    assert estate.forged["zdo"] >= 2
    assert abs(esme.time_offset) < 5.0
    assert esme.counts["rx_error"] == 0
    assert esme.counts["zdo_response_mismatch"] >= 1
    assert esme.counts["se_unsecured"] + esme.counts["se_not_link_key"] >= 256
    assert esme.counts["zdo_discovery_failed"] == 0
    assert home.nodes["ihd"].reads_answered >= 5


def test_relayed_nwk_leave_in_the_gsme_name_changes_nothing(tmp_path: Path) -> None:
    """A NWK Leave (and a Rejoin Request) naming the sleepy GSME but put on the air by another
    node: the hub keeps the GSME as its sleepy child (nwk_command_relayed), so frames for it
    still wait for its polls and its reports are acknowledged."""
    from protocols.zigbee import nwk as _nwk

    def attack(f: Forger, home, sent) -> None:
        gsme, ihd = home.nodes["gsme"], home.nodes["ihd"]
        leave = _nwk.encode_nwk_command(_nwk.Leave(rejoin=False))
        rejoin = _nwk.encode_nwk_command(_nwk.RejoinRequest(0x8E))
        for cmd in (leave, rejoin):
            f.send(0xFFFD if cmd is leave else 0x0000, cmd, src_short=gsme.stack.short, source=gsme.spec.eui64,
                   mac_src=ihd.stack.short, frame_type=_nwk.NWK_FRAME_COMMAND)

    home, sent = _run(tmp_path, attack, duration=AT + 3700.0)
    ch, gsme = home.nodes["ch"], home.nodes["gsme"]
    nb = ch.stack.neighbors[gsme.stack.short]
    assert nb.child and not nb.rx_on and nb.eui == gsme.spec.eui64
    # (the unicast Rejoin Request is already caught as a sleepy child's relayed unicast)
    assert ch.counts["nwk_command_relayed"] == 1 and ch.counts["nwk_child_relayed"] == 1
    assert ch.counts["device_left"] == 0 and ch.counts["rejoin"] == 0
    assert gsme.reports_acked == gsme.reports_sent >= 2


def test_rejoin_request_in_the_gsme_name_keeps_it_sleepy(tmp_path: Path) -> None:
    """A Rejoin Request sent as the GSME itself (MAC and NWK source forged) claiming its
    receiver is on: the hub keeps treating it as a sleepy child, its reports are acknowledged."""
    from protocols.zigbee import nwk as _nwk

    def attack(f: Forger, home, sent) -> None:
        gsme = home.nodes["gsme"]
        f.send(0x0000, _nwk.encode_nwk_command(_nwk.RejoinRequest(0x8E)), src_short=gsme.stack.short,
               source=gsme.spec.eui64, frame_type=_nwk.NWK_FRAME_COMMAND)

    home, sent = _run(tmp_path, attack, duration=AT + 3700.0)
    ch, gsme = home.nodes["ch"], home.nodes["gsme"]
    assert not ch.stack.neighbors[gsme.stack.short].rx_on
    assert ch.counts["rejoin_capability_kept"] == 1
    assert gsme.reports_acked == gsme.reports_sent >= 2
