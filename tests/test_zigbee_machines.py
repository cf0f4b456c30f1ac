"""The control-plane machines of the ZigBee stack, one by one, against a fake lower layer on a
virtual clock: the exact sequence of outputs for each path through each machine."""

from __future__ import annotations

import random

from emulator.clock import VirtualClock
from protocols.zigbee import aps as _aps
from protocols.zigbee.joiner import JOIN_KEY_TIMEOUT, SCAN_DURATION, SLEEPY_JOIN_POLL, make_joiner
from protocols.zigbee.key_request import KEY_REQUEST_TIMEOUT, make_link_key_request
from protocols.zigbee.nib import Nib
from protocols.zigbee.trust_center import TC_ANNOUNCE_TIMEOUT, TrustCenter

KEY = bytes(range(16))
TC = 0x00124B0000000001
DEV = 0x00124B0000000002
PARTNER = 0x00124B0000000003


class Recorder:
    """A fake lower layer: every method call is recorded as (time, name, args)."""

    def __init__(self, clock) -> None:
        self.clock = clock
        self.calls: list[tuple] = []

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        return lambda *args: self.calls.append((self.clock.seconds(), name) + args)


def _joiner(sleepy: bool = False):
    clock = VirtualClock(start=0.0)
    lower = Recorder(clock)
    counted: list[str] = []
    return clock, lower, counted, make_joiner(clock, lower, sleepy=sleepy, count=counted.append)


def test_joiner_happy_path_router():
    clock, lower, counted, j = _joiner()
    j.start()
    clock.advance(0.3)
    j.pan_found(0x1A62, 0x0000)
    clock.advance(0.1)
    j.associated(0x4321)
    clock.advance(1.0)
    j.network_key(KEY, 0, TC)
    clock.advance(100.0)
    assert lower.calls == [
        (0.0, "scan", SCAN_DURATION),
        (0.3, "associate", 0x1A62, 0x0000),
        (0.4, "associated_as", 0x4321, 0x0000),
        (1.4, "install_network_key", KEY, 0, TC),
        (1.4, "announce"),
        (1.4, "join_complete"),
    ]
    assert counted == ["join_attempt"]
    assert clock.pending_count() == 0, "the key timer was cancelled"


def test_joiner_sleepy_polls_while_waiting_for_the_key():
    clock, lower, counted, j = _joiner(sleepy=True)
    j.start()
    j.pan_found(0x1A62, 0x0000)
    j.associated(0x0042)
    j.network_key(KEY, 3, TC)
    assert [c[1:] for c in lower.calls] == [
        ("scan", SCAN_DURATION), ("associate", 0x1A62, 0), ("associated_as", 0x0042, 0),
        ("start_polling", SLEEPY_JOIN_POLL), ("install_network_key", KEY, 3, TC), ("stop_polling",),
        ("announce",), ("join_complete",)]


def test_joiner_scans_three_times_then_fails():
    clock, lower, counted, j = _joiner()
    j.start()
    j.no_pan()
    j.no_pan()
    j.no_pan()
    j.no_pan()  # idle now: ignored
    assert [c[1:] for c in lower.calls] == [("scan", SCAN_DURATION)] * 3 + [
        ("forget_network",), ("join_failed", "no_network")]
    j.start()
    assert lower.calls[-1][1:] == ("scan", SCAN_DURATION) and counted == ["join_attempt"] * 2


def test_joiner_denied_and_key_timeout():
    clock, lower, counted, j = _joiner()
    j.start()
    j.pan_found(0x1A62, 0)
    j.association_failed("denied")
    assert [c[1:] for c in lower.calls][-2:] == [("forget_network",), ("join_failed", "denied")]
    lower.calls.clear()
    j.start()
    j.pan_found(0x1A62, 0)
    j.associated(0x0042)
    clock.advance(JOIN_KEY_TIMEOUT - 0.001)
    assert lower.calls[-1][1] == "associated_as"
    clock.advance(0.001)
    assert [c[1:] for c in lower.calls][-2:] == [("forget_network",), ("join_failed", "no_network_key")]
    assert lower.calls[-1][0] == JOIN_KEY_TIMEOUT
    # a key arriving after the timeout is ignored
    j.network_key(KEY, 0, TC)
    assert lower.calls[-1][1] == "join_failed"


def test_joiner_ignores_inputs_out_of_order():
    clock, lower, counted, j = _joiner()
    j.network_key(KEY, 0, TC)
    j.associated(1)
    j.timeout()
    j.start()
    j.start()
    j.associated(1)
    j.network_key(KEY, 0, TC)
    assert [c[1] for c in lower.calls] == ["scan"]
    j.leave()
    assert [c[1] for c in lower.calls] == ["scan", "forget_network"]


# ------------------------------------------------------------------------- trust centre


class FakeAps:
    def __init__(self, clock) -> None:
        self.clock = clock
        self.sent: list[tuple] = []

    def send_command(self, dst_short, dst_eui, cmd, **kw):
        self.sent.append((self.clock.seconds(), dst_short, dst_eui, cmd, tuple(sorted(kw.items()))))


def _tc(authorized=(DEV, PARTNER)):
    clock = VirtualClock(start=0.0)
    counted: list[str] = []
    keys: list[tuple[bytes, str]] = []
    nib = Nib(clock, random.Random(1), TC, role="coordinator", rx_on_when_idle=True, count=counted.append,
              key_sink=lambda k, label: keys.append((k, label)))
    nib.short = 0
    nib.set_network_key(KEY, 0)
    aps = FakeAps(clock)
    outcomes: list[tuple] = []
    tc = TrustCenter(nib, aps.send_command, authorize=lambda eui: KEY if eui in authorized else None,
                     on_device_joined=lambda eui, short, outcome: outcomes.append((clock.seconds(), eui, short,
                                                                                    outcome)))
    return clock, nib, aps, tc, outcomes, counted, keys


def test_tc_session_key_then_announce():
    clock, nib, aps, tc, outcomes, counted, keys = _tc()
    short, status = tc.associate_indication(DEV, 0x8E)
    assert status == 0 and nib.short_of(DEV) == short and nib.link_keys[DEV] == KEY
    clock.advance(0.5)
    tc.comm_status(DEV, 0)
    assert aps.sent == [(0.5, short, DEV, _aps.TransportKey(_aps.KEY_TYPE_STANDARD_NETWORK, KEY, key_seq=0,
                                                            dst_ieee=DEV, src_ieee=TC),
                         (("ack", False), ("key_id", 2), ("nwk_secure", False)))]
    clock.advance(1.0)
    tc.announced(short, DEV)
    tc.announced(short, DEV)  # a second announce: nothing more
    assert outcomes == [(1.5, DEV, short, "joined")]
    assert clock.pending_count() == 0


def test_tc_session_no_announce_and_denied():
    clock, nib, aps, tc, outcomes, counted, keys = _tc()
    assert tc.associate_indication(0x1111, 0x8E) == (0xFFFF, 2)
    short, _ = tc.associate_indication(DEV, 0x80)
    tc.comm_status(DEV, 0xF0)  # response not acknowledged: the key goes anyway
    assert len(aps.sent) == 1
    clock.advance(TC_ANNOUNCE_TIMEOUT)
    assert outcomes == [(0.0, 0x1111, 0xFFFF, "denied"), (TC_ANNOUNCE_TIMEOUT, DEV, short, "no_announce")]
    assert counted == ["join_denied", "assoc_response_unacknowledged", "join_no_announce"]
    assert nib.neighbors[short].rx_on is False


def test_tc_reassociation_replaces_session_and_forgets_counters():
    clock, nib, aps, tc, outcomes, counted, keys = _tc()
    short, _ = tc.associate_indication(DEV, 0x8E)
    tc.comm_status(DEV, 0)
    assert nib.counters.check_incoming(DEV, nib.network_handle(0), 5000)
    clock.advance(5.0)
    again, _ = tc.associate_indication(DEV, 0x8E)
    assert again == short, "a device that joins again keeps its address"
    assert nib.counters.check_incoming(DEV, nib.network_handle(0), 0), "restarted counters are accepted"
    clock.advance(TC_ANNOUNCE_TIMEOUT)
    assert outcomes == [], "the abandoned session's timer is gone; the new one waits for its key"
    tc.comm_status(DEV, 0)
    tc.announced(again, DEV)
    assert outcomes == [(25.0, DEV, short, "joined")]


def test_tc_request_key_gives_both_partners_one_key():
    clock, nib, aps, tc, outcomes, counted, keys = _tc()
    a, _ = tc.associate_indication(DEV, 0x8E)
    b, _ = tc.associate_indication(PARTNER, 0x8E)
    tc.request_key(a, DEV, _aps.RequestKey(0x02, PARTNER))
    (_, d1, e1, k1, kw1), (_, d2, e2, k2, kw2) = aps.sent
    assert (d1, e1, d2, e2) == (a, DEV, b, PARTNER)
    assert k1.key == k2.key and k1.key_type == k2.key_type == _aps.KEY_TYPE_APP_LINK
    assert (k1.partner_ieee, k1.initiator, k2.partner_ieee, k2.initiator) == (PARTNER, True, DEV, False)
    assert keys == [(k1.key, f"application link key {DEV:016X}-{PARTNER:016X}")]
    tc.request_key(a, DEV, _aps.RequestKey(0x04))
    tc.request_key(a, DEV, _aps.RequestKey(0x02, 0x999))
    assert counted[-2:] == ["request_key_unsupported", "request_key_unknown_partner"] and len(aps.sent) == 2


# ------------------------------------------------------------------------- key request


def test_link_key_request_one_request_many_waiters():
    clock = VirtualClock(start=0.0)
    lower = Recorder(clock)
    m = make_link_key_request(clock, lower, PARTNER)
    done: list = []
    m.request(lambda ok: done.append(("a", ok)))
    m.request(lambda ok: done.append(("b", ok)))
    assert lower.calls == [(0.0, "send_request_key", _aps.RequestKey(0x02, PARTNER))]
    clock.advance(2.0)
    m.key_arrived()
    assert done == [("a", True), ("b", True)] and clock.pending_count() == 0
    m.key_arrived()  # unsolicited: ignored
    m.request(lambda ok: done.append(("c", ok)))
    clock.advance(KEY_REQUEST_TIMEOUT)
    assert done[-1] == ("c", False)
    assert lower.calls[1:] == [(2.0, "send_request_key", _aps.RequestKey(0x02, PARTNER)),
                               (2.0 + KEY_REQUEST_TIMEOUT, "count", "link_key_timeout")]


def test_request_key_on_the_wire_is_type_2_with_partner():
    """4.4.9.5: an application link key request is key type 0x02 followed by the partner."""
    raw = _aps.encode_aps_command(_aps.RequestKey(0x02, PARTNER))
    assert raw == bytes((0x08, 0x02)) + PARTNER.to_bytes(8, "little")


# ------------------------------------------------------------------------- housekeeping


class FakeNwk:
    def __init__(self, clock) -> None:
        self.clock = clock
        self.sent: list[tuple] = []

    def send(self, dst, payload, **kw):
        from protocols.zigbee.nwk import decode_nwk_command
        self.sent.append((self.clock.seconds(), dst, decode_nwk_command(payload), kw.get("radius")))
        return True


def _hk(role: str):
    from protocols.zigbee.housekeeping import Housekeeping
    from protocols.zigbee.nib import Neighbor
    clock = VirtualClock(start=0.0)
    counted: list[str] = []
    nib = Nib(clock, random.Random(2), DEV, role=role, rx_on_when_idle=role != "end_device", count=counted.append)
    nib.short = 0x1111
    nib.parent = 0x0000
    nib.set_network_key(KEY, 0)
    nib.neighbors[0x0000] = Neighbor(TC, 0x0000, True, False)
    nwk = FakeNwk(clock)
    return clock, nib, nwk, Housekeeping(nib, nwk), counted


def _cmd_frame(src: int, cmd, dst: int = 0xFFFC):
    from protocols.zigbee.nwk import NWK_FRAME_COMMAND, NwkFrame, encode_nwk_command
    return NwkFrame(dst, src, 1, encode_nwk_command(cmd), NWK_FRAME_COMMAND, security=True, radius=1)


def test_link_status_every_15_s_with_costs_learnt_from_neighbours():
    from protocols.zigbee import nwk as _nwk
    from protocols.zigbee.housekeeping import LINK_STATUS_JITTER, LINK_STATUS_PERIOD
    clock, nib, nwk, hk, _ = _hk("router")
    nib.addresses.set(0x2222, PARTNER)
    hk.start()
    clock.advance(LINK_STATUS_PERIOD + LINK_STATUS_JITTER)
    (t1, dst, first, radius), = nwk.sent
    assert (dst, radius) == (0xFFFC, 1) and abs(t1 - LINK_STATUS_PERIOD) <= LINK_STATUS_JITTER
    assert first.entries == (_nwk.LinkStatusEntry(0x0000, 1, 0),), "no report from the CH yet: outgoing 0"
    # the CH reports our link at cost 1; another router appears
    hk.on_command(_cmd_frame(0x0000, _nwk.LinkStatus((_nwk.LinkStatusEntry(0x1111, 1, 0),))), True)
    hk.on_command(_cmd_frame(0x2222, _nwk.LinkStatus((_nwk.LinkStatusEntry(0x0000, 1, 1),))), True)
    clock.advance(LINK_STATUS_PERIOD + LINK_STATUS_JITTER)
    second = nwk.sent[1][2]
    assert second.entries == (_nwk.LinkStatusEntry(0x0000, 1, 1), _nwk.LinkStatusEntry(0x2222, 1, 0))
    assert LINK_STATUS_PERIOD - LINK_STATUS_JITTER <= nwk.sent[1][0] - t1 <= LINK_STATUS_PERIOD + LINK_STATUS_JITTER
    hk.stop()
    assert clock.pending_count() == 0


def test_end_device_timeout_request_and_response():
    from protocols.zigbee import nwk as _nwk
    from protocols.zigbee.housekeeping import END_DEVICE_TIMEOUT_INDEX
    from protocols.zigbee.nib import Neighbor
    clock, nib, nwk, hk, _ = _hk("end_device")
    hk.start()
    assert nwk.sent == [(0.0, 0x0000, _nwk.EndDeviceTimeoutRequest(END_DEVICE_TIMEOUT_INDEX, 0), 1)]
    assert clock.pending_count() == 0, "an end device sends no Link Status"
    hk.on_command(_cmd_frame(0x0000, _nwk.EndDeviceTimeoutResponse(0, 1), dst=0x1111), False)
    assert hk.timeout_response == _nwk.EndDeviceTimeoutResponse(0, 1)
    # the parent's side
    pclock, pnib, pnwk, parent, counted = _hk("coordinator")
    pnib.neighbors[0x3333] = Neighbor(DEV, 0x3333, False, True)
    parent.on_command(_cmd_frame(0x3333, _nwk.EndDeviceTimeoutRequest(6, 0), dst=0x1111), False)
    parent.on_command(_cmd_frame(0x4444, _nwk.EndDeviceTimeoutRequest(6, 0), dst=0x1111), False)
    assert parent.child_timeouts == {0x3333: 6}
    assert [s[1:3] for s in pnwk.sent] == [(0x3333, _nwk.EndDeviceTimeoutResponse(0, 1))]
    assert counted == ["end_device_timeout_not_child"]


# ------------------------------------------------------------------------- network key update


def test_network_key_update_key_then_switch_sleepy_when_heard():
    clock, nib, aps, tc, outcomes, counted, keys = _tc()
    a, _ = tc.associate_indication(DEV, 0x8E)  # rx-on router
    b, _ = tc.associate_indication(PARTNER, 0x80)  # sleepy end device
    for eui, short in ((DEV, a), (PARTNER, b)):
        tc.comm_status(eui, 0)
        tc.announced(short, eui)
    aps.sent.clear()
    new = bytes(range(100, 116))
    assert tc.update_network_key(new) == 1
    assert keys[-1] == (new, "network key #1") and nib.key_seq == 0 and nib.network_keys[1] == new
    # only the rx-on device is sent to at once: the Transport Key, acknowledged, then the Switch Key
    (_, dst, eui, cmd, kw), = aps.sent
    assert (dst, eui, cmd) == (a, DEV, _aps.TransportKey(_aps.KEY_TYPE_STANDARD_NETWORK, new, key_seq=1,
                                                         dst_ieee=DEV, src_ieee=TC))
    assert dict(kw)["key_id"] == 2
    done = dict(kw)["on_done"]
    done(True)
    assert aps.sent[-1][1:4] == (a, DEV, _aps.SwitchKey(1))
    dict(aps.sent[-1][4])["on_done"](True)  # the Switch Key is acknowledged
    assert nib.key_seq == 0, "the sleepy device has not switched yet"
    tc.heard(PARTNER)
    tc.heard(PARTNER)  # already sending: nothing more
    assert [s[1:4] for s in aps.sent[2:]] == [(b, PARTNER, _aps.TransportKey(
        _aps.KEY_TYPE_STANDARD_NETWORK, new, key_seq=1, dst_ieee=PARTNER, src_ieee=TC))]
    dict(aps.sent[-1][4])["on_done"](False)  # not delivered: waits for the next time it is heard
    tc.heard(PARTNER)
    dict(aps.sent[-1][4])["on_done"](True)
    dict(aps.sent[-1][4])["on_done"](True)
    assert aps.sent[-1][1:4] == (b, PARTNER, _aps.SwitchKey(1))
    assert nib.key_seq == 1 and nib.network_key == new and set(nib.network_keys) == {0, 1}


def test_joiner_secured_rejoin_and_leave():
    from protocols.zigbee.joiner import REJOIN_TIMEOUT
    clock, lower, counted, j = _joiner(sleepy=True)
    j.start()
    j.pan_found(0x1A62, 0)
    j.associated(0x0042)
    j.network_key(KEY, 0, TC)
    lower.calls.clear()
    clock.advance(100.0)
    j.rejoin()
    j.rejoin()  # already rejoining
    clock.advance(0.5)
    j.rejoined(0x0042)
    assert lower.calls == [(100.0, "send_leave", True), (100.0, "send_rejoin_request"),
                           (100.0, "start_polling", SLEEPY_JOIN_POLL), (100.5, "rejoined_as", 0x0042),
                           (100.5, "stop_polling"), (100.5, "announce")]
    assert clock.pending_count() == 0 and counted.count("rejoin_attempt") == 1
    lower.calls.clear()
    j.rejoin()
    clock.advance(REJOIN_TIMEOUT)
    assert [c[1:] for c in lower.calls] == [("send_leave", True), ("send_rejoin_request",),
                                             ("start_polling", SLEEPY_JOIN_POLL), ("stop_polling",),
                                             ("forget_network",), ("join_failed", "rejoin_failed")]
    lower.calls.clear()
    j.start()
    j.pan_found(0x1A62, 0)
    j.associated(0x0042)
    j.network_key(KEY, 0, TC)
    lower.calls.clear()
    j.leave()
    assert [c[1:] for c in lower.calls] == [("send_leave", False), ("forget_network",)]
