"""The HAN's security rules one piece at a time: APS acks under the security of what they
acknowledge, the authenticated address map, NWK replay checks a forged counter cannot push,
bounded tables, mirror reports, reporting configurations, ZCL response matching and typed
reads, and a frame handler's exception failing the run."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from emulator.clock import VirtualClock
from protocols.zcl import foundation as zf
from protocols.zcl import types as T
from protocols.zcl.foundation import Status
from protocols.zcl.frame import DIRECTION_CLIENT_TO_SERVER, DIRECTION_SERVER_TO_CLIENT
from protocols.zcl.se import METERING
from protocols.zcl.server import AttributeServer
from protocols.zigbee import aps as _aps
from protocols.zigbee import nwk as _nwk
from protocols.zigbee.aps_layer import ApsIndication
from protocols.zigbee.fragmentation import Reassembler
from protocols.zigbee.limits import DEFAULT_LIMITS, HanLimits
from protocols.zigbee.nib import AddressMap, Nib
from protocols.zigbee.security import KEY_ID_DATA, KEY_ID_NETWORK, NWK_WINDOW, FrameCounters, secure_aps
from tests.han_helpers import (FAKE_LINK_KEY, FAKE_ME, FAKE_NWK_KEY, FAKE_PEER, fake_zigbee_node, run_estate,
                               topology_text)

NWK_KEY = FAKE_NWK_KEY
LINK_KEY = FAKE_LINK_KEY
ME = FAKE_ME
PEER = FAKE_PEER
OTHER = 0x00124B0000000030


def _node():
    nib, _, aps, counted = fake_zigbee_node()
    delivered: list = []
    aps.add_endpoint(_simple(1), delivered.append)
    return nib, aps, counted, delivered


def _simple(ep: int):
    from protocols.zigbee.zdo import SimpleDescriptor
    return SimpleDescriptor(ep, 0x0109, 0x0501, 0, (0x0702,), ())


def _from_peer(aps_bytes: bytes, src: int = 0x5678) -> _nwk.NwkFrame:
    return _nwk.NwkFrame(0x1234, src, 1, aps_bytes, security=True)


# ------------------------------------------------------------------ APS acks


def test_aps_ack_counts_only_under_the_security_of_the_acknowledged_frame() -> None:
    nib, aps, counted, _ = _node()
    done: list[bool] = []
    aps.send_data(0x5678, 1, 1, 0x0702, b"\x00\x01\x00\x00\x00", on_done=done.append)
    counter = aps._counter
    ack = _aps.ApsFrame(_aps.APS_FRAME_ACK, counter=counter, dst_endpoint=1, cluster=0x0702,
                        profile=0x0109, src_endpoint=1)
    aps.deliver(_from_peer(_aps.encode_aps(ack)), False)  # unsecured: anyone could send it
    secured_ack = _aps.ApsFrame(_aps.APS_FRAME_ACK, counter=counter, dst_endpoint=1, cluster=0x0702,
                                profile=0x0109, src_endpoint=1, security=True)
    aps.deliver(_from_peer(secure_aps(secured_ack, NWK_KEY, 7, PEER, key_id=KEY_ID_NETWORK, key_seq=0)), False)
    assert counted == ["aps_ack_security_mismatch"] * 2 and done == []
    aps.deliver(_from_peer(secure_aps(secured_ack, LINK_KEY, 1, PEER)), False)
    assert done == [True]


def test_se_frames_need_the_senders_link_key_and_get_no_ack() -> None:
    nib, aps, counted, delivered = _node()
    read = bytes((0x00, 0x10, 0x00, 0x00, 0x00))
    frame = _aps.ApsFrame(_aps.APS_FRAME_DATA, 0, 9, 1, None, 0x0702, 0x0109, 1, read, False, True)
    aps.deliver(_from_peer(_aps.encode_aps(frame)), False)
    secured = _aps.ApsFrame(_aps.APS_FRAME_DATA, 0, 10, 1, None, 0x0702, 0x0109, 1, read, True, True)
    aps.deliver(_from_peer(secure_aps(secured, NWK_KEY, 5, PEER, key_id=KEY_ID_NETWORK, key_seq=0)), False)
    assert counted == ["se_unsecured", "se_not_link_key"] and delivered == [] and nib.mac.sent == []
    aps.deliver(_from_peer(secure_aps(secured, LINK_KEY, 1, PEER)), False)
    assert len(delivered) == 1 and delivered[0].link_key_secured and delivered[0].src_eui == PEER
    assert len(nib.mac.sent) == 1  # the ack


# ------------------------------------------------------------------ address map


def test_claims_never_move_an_authenticated_address() -> None:
    counted: list[str] = []
    nib = Nib(VirtualClock(start=0.0), random.Random(1), ME, role="router", rx_on_when_idle=True,
              count=counted.append, limits=HanLimits(address_map=4))
    nib.learn(0x1111, PEER)                       # a claim fills in
    assert nib.short_of(PEER) == 0x1111 and not nib.addresses.authenticated(PEER)
    nib.learn(0x2222, PEER, authenticated=True)   # the link key says where the peer is
    assert nib.short_of(PEER) == 0x2222 and nib.eui_of(0x1111) is None and nib.addresses.authenticated(PEER)
    nib.learn(0x3333, PEER)                       # forged Device_annce: the peer moved?
    nib.learn(0x2222, OTHER)                      # forged NWK header: someone else has its address?
    assert nib.short_of(PEER) == 0x2222 and nib.eui_of(0x2222) == PEER and nib.short_of(OTHER) is None
    assert counted == ["address_conflict_unauthenticated"] * 2
    for i in range(10):                           # a flood of fresh identities: bounded, oldest first
        nib.learn(0x4000 + i, 0xAA00 + i)
    assert len(nib.addresses) == 1 + 4 and nib.short_of(0xAA00) is None and nib.short_of(0xAA09) == 0x4009
    assert counted.count("address_map_evicted") == 6 and nib.short_of(PEER) == 0x2222
    nib.learn(0x2222, OTHER, authenticated=True)  # two authenticated claims: the last one wins, counted
    assert nib.eui_of(0x2222) == OTHER and "address_conflict" in counted


def test_address_map_lookups_are_dictionary_lookups() -> None:
    amap = AddressMap(limit=100)
    amap.set(1, PEER)
    assert amap.learn_unauthenticated(2, OTHER) is None
    assert (amap.eui_of(1), amap.short_of(OTHER), 2 in amap, len(amap)) == (PEER, 2, True, 2)


# ------------------------------------------------------------------ NWK counters


def test_nwk_counter_pushed_ahead_by_a_claim_does_not_reject_the_real_sender() -> None:
    c = FrameCounters(limit=8)
    h = ("nwk", 0)
    assert c.check_nwk(PEER, h, 100)
    c.nwk_authenticated(PEER, h, 100)
    assert not c.check_nwk(PEER, h, 100) and not c.check_nwk(PEER, h, 50), "replays"
    assert c.check_nwk(PEER, h, 0xFFFFFFF0)       # forged under the peer's name
    assert c.check_nwk(PEER, h, 101), "the peer's own next frame is still taken"
    assert not c.check_nwk(PEER, h, 101), "and not twice"
    assert not c.check_nwk(PEER, h, 0xFFFFFFFF)
    for n in range(102, 102 + NWK_WINDOW + 5):
        assert c.check_nwk(PEER, h, n)
    c.nwk_authenticated(PEER, h, 120)
    assert not c.check_nwk(PEER, h, 119)


def test_nwk_counter_table_of_unknown_senders_is_bounded() -> None:
    c = FrameCounters(limit=16)
    h = ("nwk", 0)
    assert c.check_nwk(PEER, h, 1, known=True)
    for i in range(20000):
        assert c.check_nwk(0x1000 + i, h, 5, known=False)
    assert c.incoming_entries() == 1 + 16 and c.evicted == 20000 - 16
    assert not c.check_nwk(PEER, h, 1, known=True), "the known sender's entry stayed"


# ------------------------------------------------------------------ reassembly, reports, reporting


def test_reassembly_is_bounded_and_expires() -> None:
    r = Reassembler(timeout=12.0, limit=4)
    for i in range(10):
        r.accept(("src", i), _aps.APS_FRAGMENTATION_FIRST, 3, b"x", now=0.0)
    assert len(r) == 4 and r.evicted == 6
    r.accept(("src", 99), _aps.APS_FRAGMENTATION_FIRST, 3, b"x", now=20.0)
    assert len(r) == 1 and r.evicted == 6, "expired transfers go first"


def test_mirror_takes_reports_of_its_meter_only_for_attributes_it_holds() -> None:
    mirror = AttributeServer.with_defaults(METERING, ["CurrentSummationDelivered", "Status"], accept_reports=True)
    up = zf.global_frame(zf.ReportAttributes((zf.AttributeReport(0x0000, T.UINT48, 5),)), 1, DIRECTION_CLIENT_TO_SERVER)
    assert mirror.handle(up) is None and mirror.values[0x0000] == 0, "a report travelling to the meter"
    new = zf.global_frame(zf.ReportAttributes((zf.AttributeReport(0x0400, T.INT24, 5),)), 2, DIRECTION_SERVER_TO_CLIENT,
                          disable_default_response=True)
    assert mirror.handle(new) is None and 0x0400 not in mirror.values


def test_reporting_configurations_are_bounded_and_name_cluster_attributes() -> None:
    server = AttributeServer.with_defaults(METERING, ["CurrentSummationDelivered"], max_reporting=4)
    records = tuple(zf.AttributeReportingConfigurationRecord(1, attr, timeout_period=60)
                    for attr in (0x0000, 0x0400, 0x0401, 0x0402, 0x0403, 0x7777))
    rsp = server.handle(zf.global_frame(zf.ConfigureReporting(records), 1))
    statuses = {r.attribute_id: r.status for r in zf.ConfigureReportingResponse.decode(rsp.payload).records}
    assert statuses == {0x0403: Status.INSUFFICIENT_SPACE, 0x7777: Status.INSUFFICIENT_SPACE}
    assert len(server.report_timeouts) == 4
    other = AttributeServer.with_defaults(METERING, ["CurrentSummationDelivered"])
    rsp = other.handle(zf.global_frame(zf.ConfigureReporting((records[-1],)), 2))
    assert zf.ConfigureReportingResponse.decode(rsp.payload).records[0].status == Status.UNSUPPORTED_ATTRIBUTE
    assert not other.report_timeouts


def test_limits_from_a_mapping_name_what_is_wrong() -> None:
    assert HanLimits.from_dict({"address_map": 10}).address_map == 10
    assert HanLimits.from_dict({}) == DEFAULT_LIMITS
    with pytest.raises(ValueError, match="unknown limit 'adress_map'"):
        HanLimits.from_dict({"adress_map": 10})
    with pytest.raises(ValueError, match="nwk_counters must be an integer >= 1"):
        HanLimits.from_dict({"nwk_counters": 0})


# ------------------------------------------------------------------ devices


def _home(tmp_path: Path, duration: float = 40.0, before_run=None):
    estate = run_estate(tmp_path, topology_text(), 5, duration, pcap=False, before_run=before_run)
    return estate, estate.homes[0]


def test_zcl_response_matched_on_peer_cluster_command_and_typed(tmp_path: Path) -> None:
    """A Read Attributes Response with the request's TSN but from another device (even under its
    own link key), or on another cluster, or another command, is not the answer; the answer's
    records of the wrong data type are left out."""
    estate, home = _home(tmp_path)
    esme, ch = home.nodes["esme"], home.nodes["ch"]
    got: list = []
    esme.read_attributes(0x0000, 1, 1, 0x000A, (0x0000, 0x0001), got.append)
    tsn = esme._tsn

    def ind(src_short, src_eui, cluster, key_id=KEY_ID_DATA):
        return ApsIndication(src_short, src_eui, 1, 1, cluster, 0x0109, b"", True, False, key_id)

    def rsp(records, command=zf.ReadAttributesResponse):
        return zf.global_frame(command(records), tsn, DIRECTION_SERVER_TO_CLIENT)

    good = (zf.ReadAttributeStatusRecord(0, 0, T.CHARACTER_STRING, "noon"),
            zf.ReadAttributeStatusRecord(1, 0, T.BITMAP8, 9))
    ihd_eui = home.nodes["ihd"].spec.eui64
    esme._zcl_received(ind(0x0000, ihd_eui, 0x000A), rsp(good))                  # another device
    esme._zcl_received(ind(0x0000, ch.spec.eui64, 0x000A, KEY_ID_NETWORK), rsp(good))  # not its link key
    esme._zcl_received(ind(0x0000, ch.spec.eui64, 0x0702), rsp(good))            # another cluster
    wrong_cmd = zf.global_frame(zf.WriteAttributesResponse((zf.WriteAttributeStatusRecord(0),)), tsn,
                                DIRECTION_SERVER_TO_CLIENT)
    esme._zcl_received(ind(0x0000, ch.spec.eui64, 0x000A), wrong_cmd)            # another command
    assert got == [] and esme.counts["zcl_response_mismatch"] == 4
    offset = esme.time_offset
    esme._zcl_received(ind(0x0000, ch.spec.eui64, 0x000A), rsp(good))
    assert got == [{1: 9}] and esme.counts["zcl_attribute_type_mismatch"] == 1
    assert esme.time_offset == offset


def test_a_handler_exception_is_an_error_of_the_run(tmp_path: Path) -> None:
    """A bug in a frame handler is counted (rx_error), logged, and makes the run's error count
    (what the service turns into exit status 1) non-zero; the node goes on."""
    def before_run(estate, clock) -> None:
        def break_it() -> None:
            esme = estate.homes[0].nodes["esme"]
            price = esme.cluster_handlers[(1, 0x0700)]

            def broken(ind, frame):
                raise RuntimeError("a bug")

            esme.cluster_handlers[(1, 0x0700)] = broken
            clock.callLater(1800.0, esme.cluster_handlers.__setitem__, (1, 0x0700), price)

        clock.callLater(30.0, break_it)

    estate, home = _home(tmp_path, 200.0, before_run)
    assert home.nodes["esme"].counts["rx_error"] >= 1
    assert estate.errors == home.errors >= 1
    assert home.nodes["ihd"].reads_answered >= 15


def test_topology_limits_reach_every_node(tmp_path: Path) -> None:
    from emulator.topology import TopologyError, parse_topology
    text = topology_text().replace("      channel: 15\n",
                                   "      channel: 15\n      limits: {address_map: 10, indirect_per_child: 4}\n", 1)
    estate = run_estate(tmp_path, text, 5, 20.0, pcap=False)
    for node in estate.homes[0].nodes.values():
        assert node.stack.nib.limits == HanLimits(address_map=10, indirect_per_child=4)
        assert node.stack.nib.addresses.limit == 10 and node.mac.indirect_per_child == 4
    with pytest.raises(TopologyError, match=r"\.han\.limits: unknown limit 'adress_map'"):
        parse_topology(text.replace("address_map: 10", "adress_map: 10"), "t.yaml", 1)


def test_rejections_are_exported_per_node_kind(tmp_path: Path) -> None:
    from tests.han_forge import Forger

    def before_run(estate, clock) -> None:
        def go() -> None:
            f = Forger(estate.homes[0])
            read = zf.global_frame(zf.ReadAttributes((0x0000,)), 1)
            f.send(f.short("esme"), f.zcl(0x0702, read), src_short=0x6B6B)
        clock.callLater(40.0, go)

    estate, home = _home(tmp_path, 45.0, before_run)
    text = estate.metrics.render().decode()
    assert 'smets_han_rejections_total{node_kind="ESME",reason="se_unsecured"} 1.0' in text
    assert 'smets_frames_dropped_total{medium="han",reason="se_unsecured"} 1.0' in text
    assert "se_unsecured" in home.nodes["esme"].summary()
