"""MacLayer behaviour on a virtual clock with a small in-test medium.

Expected timings and counts come from IEEE 802.15.4-2006 as summarised in
han-zigbee-wireshark.md 2.4 (turnaround 192 us, macAckWaitDuration 864 us, macMaxFrameRetries 3,
unslotted CSMA-CA with macMinBE 3 / macMaxBE 5 / macMaxCSMABackoffs 4, 320 us unit backoff,
macTransactionPersistenceTime 7.68 s, macResponseWaitTime 32 base superframes) and the Frame
Control values of section 2.1; frames on the air are decoded with the codec whose output tshark
checks in test_ieee802154_tshark.py.
"""

from __future__ import annotations

import random
from collections import Counter

import pytest
from twisted.internet.task import Clock

from protocols.ieee802154 import (
    ASSOCIATION_PAN_ACCESS_DENIED, CAP_ALLOCATE_ADDRESS, CHANNEL_ACCESS_FAILURE, FRAME_ACK,
    FRAME_COMMAND, FRAME_DATA, NO_ACK, NO_DATA, SUCCESS, TRANSACTION_EXPIRED, MacLayer, ZigbeeBeaconPayload,
    data_frame, decode_command, decode_mac, encode_mac, encode_zigbee_beacon_payload, fcs,
)

US = 1e-6
BYTE_TIME = 32 * US             # 250 kbit/s
PHY_OVERHEAD = 6                # preamble 4 + SFD 1 + PHR 1
CH_EUI = 0x00124B0001020304
ESME_EUI = 0x00124B0000E5E5E5
GSME_EUI = 0x00124B00AABBCCDD
PAN = 0x1A62


def airtime(psdu: bytes) -> float:
    return (len(psdu) + PHY_OVERHEAD) * BYTE_TIME


class Medium:
    """Delivers each frame to every other attached radio whose receiver is on, at the end of its
    airtime, unless C{drop(sender, receiver, frame)} says it is lost."""

    def __init__(self, clock):
        self.clock = clock
        self.radios = []
        self.air = []                 # (start time, sender name, psdu)
        self.busy_until = 0.0
        self.always_busy = False
        self.drop = lambda sender, receiver, frame: False

    def deliver(self, sender, psdu):
        frame = decode_mac(psdu)
        for radio in list(self.radios):
            if radio is sender or not radio.rx_on:
                continue
            if self.drop(sender.name, radio.name, frame):
                continue
            radio.mac.frame_received(psdu)

    def frames(self):
        return [(t, name, decode_mac(psdu)) for t, name, psdu in self.air]


class Radio:
    def __init__(self, medium, name):
        self.medium = medium
        self.name = name
        self.rx_on = False
        self.mac = None
        medium.radios.append(self)

    def transmit(self, psdu):
        clock = self.medium.clock
        assert clock.seconds() >= self.medium.busy_until - 1e-12 or self.medium.always_busy, "collision"
        t = airtime(psdu)
        self.medium.air.append((clock.seconds(), self.name, psdu))
        self.medium.busy_until = clock.seconds() + t
        clock.callLater(t, self.medium.deliver, self, psdu)
        return t

    def channel_busy_since(self, t):
        return self.medium.always_busy or self.medium.busy_until > t

    def set_rx_enabled(self, on):
        self.rx_on = on


class User:
    """Records every MAC primitive; answers association indications from C{self.assoc_answer}."""

    def __init__(self):
        self.events = []
        self.assoc_answer = (0x4B2A, 0)

    def mcps_data_indication(self, frame):
        self.events.append(("data", frame.src_addr, frame.payload, frame.frame_pending))

    def mcps_data_confirm(self, handle, status):
        self.events.append(("data_confirm", handle, status))

    def mlme_associate_indication(self, device_address, capability):
        self.events.append(("assoc_indication", device_address, capability))
        return self.assoc_answer

    def mlme_associate_confirm(self, short_address, status):
        self.events.append(("assoc_confirm", short_address, status))

    def mlme_scan_confirm(self, pan_descriptors):
        self.events.append(("scan_confirm", pan_descriptors))

    def mlme_comm_status(self, device_address, status):
        self.events.append(("comm_status", device_address, status))

    def mlme_poll_confirm(self, status):
        self.events.append(("poll_confirm", status))


class Counts(Counter):
    """Event counts; C{count} is the MAC's counters callback."""

    def count(self, name):
        self[name] += 1


class Node:
    def __init__(self, clock, medium, name, eui, *, rx_on_when_idle=True, pan_coordinator=False, seed=1):
        self.radio = Radio(medium, name)
        self.user = User()
        self.counts = Counts()
        self.mac = MacLayer(clock, random.Random(seed), self.radio, eui, self.user,
                            rx_on_when_idle=rx_on_when_idle, pan_coordinator=pan_coordinator,
                            counters=self.counts.count)
        self.radio.mac = self.mac


def run(clock, duration):
    """Advance the clock call by call, so callbacks see their own scheduled time."""
    end = clock.seconds() + duration
    while True:
        calls = [c.getTime() for c in clock.getDelayedCalls()]
        nxt = min(calls) if calls else None
        if nxt is None or nxt > end:
            break
        clock.advance(max(nxt - clock.seconds(), 0))
    clock.advance(end - clock.seconds())


@pytest.fixture
def net():
    clock = Clock()
    medium = Medium(clock)
    ch = Node(clock, medium, "ch", CH_EUI, pan_coordinator=True, seed=11)
    ch.mac.mlme_start(PAN, 0x0000, b"")
    esme = Node(clock, medium, "esme", ESME_EUI, seed=12)
    esme.mac.set_pan_id(PAN)
    esme.mac.set_short_address(0x1111)
    esme.mac.set_coordinator(0x0000, CH_EUI)
    return clock, medium, ch, esme


def add_gsme(clock, medium, associated=True):
    gsme = Node(clock, medium, "gsme", GSME_EUI, rx_on_when_idle=False, seed=13)
    if associated:
        gsme.mac.set_pan_id(PAN)
        gsme.mac.set_short_address(0x4B2A)
        gsme.mac.set_coordinator(0x0000, CH_EUI)
    return gsme


def assert_idle(clock, *nodes):
    assert clock.getDelayedCalls() == []
    for node in nodes:
        assert node.counts["rx_error"] == 0


# --- unicast, retries, duplicates, CSMA ----------------------------------------------------

def test_unicast_acked_once(net):
    clock, medium, ch, esme = net
    esme.mac.mcps_data_request(0x0000, b"nwk-frame", handle="h1")
    run(clock, 0.1)
    assert esme.user.events == [("data_confirm", "h1", SUCCESS)]
    assert ch.user.events == [("data", 0x1111, b"nwk-frame", False)]
    air = medium.frames()
    assert [(name, f.frame_type) for _, name, f in air] == [("esme", FRAME_DATA), ("ch", FRAME_ACK)]
    (t_data, _, data), (t_ack, _, ack) = air
    assert data.frame_control == 0x8861 and (data.dst_addr, data.src_addr, data.dst_pan) == (0x0000, 0x1111, PAN)
    assert ack.seq == data.seq and not ack.frame_pending
    data_end = t_data + airtime(medium.air[0][2])
    assert t_ack - data_end == pytest.approx(192 * US)
    assert esme.counts["tx"] == 1 and ch.counts["tx_ack"] == 1 and esme.counts["tx_retry"] == 0
    # the first CCA starts after a random whole number (0..2^macMinBE-1) of 320 us backoffs; it
    # lasts 8 symbols and the RX-to-TX turnaround 12 more: one more 320 us period
    assert round(t_data / (320 * US), 6) in range(1, 9)
    assert_idle(clock, ch, esme)


def test_cca_spans_eight_symbols_then_turnaround():
    """A transmission that starts during the 8-symbol CCA makes it fail (backoff, BE 4); a clear
    CCA is followed by aTurnaroundTime before the frame starts."""
    clock = Clock()
    medium = Medium(clock)
    node = Node(clock, medium, "n", ESME_EUI, seed=3)
    node.mac.set_pan_id(PAN)
    checks = []
    node.radio.channel_busy_since = lambda t: checks.append((clock.seconds(), t)) or False
    node.mac.mcps_data_request(0x0000, b"x", ack_request=False)
    run(clock, 0.05)
    (t_frame, _, _), = medium.air
    (at, since), = checks
    assert at - since == pytest.approx(128 * US), "the channel is sensed over 8 symbols"
    assert round(since / (320 * US), 6) in range(8), "after a whole number of backoff periods"
    assert t_frame == pytest.approx(at + 192 * US), "then the RX-to-TX turnaround"
    # again, with the channel taken while the CCA is sensing: a new backoff with BE 4
    clock2 = Clock()
    medium2 = Medium(clock2)
    node2 = Node(clock2, medium2, "n", ESME_EUI, seed=3)
    node2.mac.set_pan_id(PAN)
    checks2 = []
    node2.radio.channel_busy_since = lambda t: checks2.append((clock2.seconds(), t)) or len(checks2) == 1
    node2.mac.mcps_data_request(0x0000, b"x", ack_request=False)
    run(clock2, 0.05)
    (at1, since1), (at2, since2) = checks2
    assert at1 - since1 == pytest.approx(128 * US) and at2 - since2 == pytest.approx(128 * US)
    assert round((since2 - at1) / (320 * US), 6) in range(16), "a new backoff with BE 4"
    assert medium2.air[0][0] == pytest.approx(at2 + 192 * US)
    assert node2.counts["tx"] == 1


def test_data_frame_lost_gives_four_attempts_then_no_ack(net):
    clock, medium, ch, esme = net
    medium.drop = lambda s, r, f: f.frame_type == FRAME_DATA
    esme.mac.mcps_data_request(0x0000, b"x", handle=7)
    run(clock, 1.0)
    assert esme.user.events == [("data_confirm", 7, NO_ACK)]
    assert ch.user.events == []
    sent = [(t, psdu) for t, name, psdu in medium.air]
    assert len(sent) == 1 + 3                              # macMaxFrameRetries = 3
    assert len({psdu for _, psdu in sent}) == 1            # same frame, same DSN
    for (t0, p0), (t1, _) in zip(sent, sent[1:]):
        assert t1 - (t0 + airtime(p0)) >= 864 * US - 1e-12  # macAckWaitDuration, then CSMA-CA again
    assert esme.counts["tx"] == 4 and esme.counts["tx_retry"] == 3 and esme.counts["tx_no_ack"] == 1
    assert_idle(clock, ch, esme)


def test_lost_ack_duplicate_is_filtered(net):
    clock, medium, ch, esme = net
    lost = []

    def drop_first_ack(sender, receiver, frame):
        if frame.frame_type == FRAME_ACK and not lost:
            lost.append(frame)
            return True
        return False

    medium.drop = drop_first_ack
    esme.mac.mcps_data_request(0x0000, b"once", handle=1)
    run(clock, 0.1)
    assert esme.user.events == [("data_confirm", 1, SUCCESS)]
    assert ch.user.events == [("data", 0x1111, b"once", False)]          # delivered once
    kinds = [(name, f.frame_type) for _, name, f in medium.frames()]
    assert kinds == [("esme", FRAME_DATA), ("ch", FRAME_ACK), ("esme", FRAME_DATA), ("ch", FRAME_ACK)]
    assert ch.counts["rx_duplicate"] == 1 and ch.counts["tx_ack"] == 2   # the repeat is acked again
    assert_idle(clock, ch, esme)


def test_all_acks_lost(net):
    clock, medium, ch, esme = net
    medium.drop = lambda s, r, f: f.frame_type == FRAME_ACK
    esme.mac.mcps_data_request(0x0000, b"x", handle=1)
    run(clock, 1.0)
    assert esme.user.events == [("data_confirm", 1, NO_ACK)]
    assert ch.user.events == [("data", 0x1111, b"x", False)]
    assert ch.counts["rx_duplicate"] == 3
    assert_idle(clock, ch, esme)


def test_csma_failure_when_channel_always_busy(net):
    clock, medium, ch, esme = net
    medium.always_busy = True
    esme.mac.mcps_data_request(0x0000, b"x", handle="h")
    run(clock, 1.0)
    assert esme.user.events == [("data_confirm", "h", CHANNEL_ACCESS_FAILURE)]
    assert medium.air == []
    assert esme.counts["csma_failure"] == 1 and esme.counts["tx"] == 0
    assert_idle(clock, ch, esme)


def test_csma_failure_takes_five_cca_attempts():
    """NB goes 0..4 (macMaxCSMABackoffs = 4): five CCAs, BE 3,4,5,5,5."""
    clock = Clock()
    medium = Medium(clock)
    medium.always_busy = True
    ccas = []
    node = Node(clock, medium, "n", ESME_EUI)
    original = node.radio.channel_busy_since
    node.radio.channel_busy_since = lambda t: ccas.append(t) or original(t)
    node.mac.set_pan_id(PAN)
    node.mac.mcps_data_request(0x0000, b"x")
    run(clock, 1.0)
    assert len(ccas) == 5
    # each CCA starts after the backoff; a failed one ends 8 symbols later and the next
    # backoff counts from there
    gaps = [ccas[0]] + [b - a - 128 * US for a, b in zip(ccas, ccas[1:])]
    for gap, be in zip(gaps, [3, 4, 5, 5, 5]):
        units = round(gap / (320 * US), 6)
        assert units == int(units) and 0 <= units < 2 ** be
    assert_idle(clock, node)


def test_broadcast_is_not_acked_and_reaches_rx_on_nodes_only(net):
    clock, medium, ch, esme = net
    gsme = add_gsme(clock, medium)
    ch.mac.mcps_data_request(0xFFFF, b"bcast", handle="b")
    run(clock, 0.1)
    assert ch.user.events == [("data_confirm", "b", SUCCESS)]
    assert esme.user.events == [("data", 0x0000, b"bcast", False)]
    assert gsme.user.events == [] and not gsme.radio.rx_on            # sleeping: hears nothing
    assert [f.frame_control for _, _, f in medium.frames()] == [0x8841]
    assert_idle(clock, ch, esme, gsme)


def test_fifo_queue_one_frame_in_flight(net):
    clock, medium, ch, esme = net
    for i in range(5):
        esme.mac.mcps_data_request(0x0000, bytes([i]), handle=i)
    run(clock, 0.5)
    assert esme.user.events == [("data_confirm", i, SUCCESS) for i in range(5)]
    assert [e[2] for e in ch.user.events] == [bytes([i]) for i in range(5)]
    seqs = [f.seq for _, name, f in medium.frames() if name == "esme"]
    assert seqs == [(seqs[0] + i) % 256 for i in range(5)]
    assert_idle(clock, ch, esme)


# --- indirect transmission and polling ------------------------------------------------------

def test_indirect_queue_poll_and_frame_pending(net):
    clock, medium, ch, esme = net
    gsme = add_gsme(clock, medium)
    ch.mac.mcps_data_request(0x4B2A, b"first", indirect=True, handle="a")
    ch.mac.mcps_data_request(0x4B2A, b"second", indirect=True, handle="b")
    run(clock, 1.0)
    assert medium.air == [] and ch.user.events == []      # held until the child polls
    gsme.mac.mlme_poll_request()
    run(clock, 0.2)
    assert gsme.user.events == [("data", 0x0000, b"first", True), ("poll_confirm", SUCCESS)]
    frames = medium.frames()
    assert [(n, f.frame_type, f.frame_pending) for _, n, f in frames] == [
        ("gsme", FRAME_COMMAND, False), ("ch", FRAME_ACK, True), ("ch", FRAME_DATA, True),
        ("gsme", FRAME_ACK, False)]
    assert frames[0][2].frame_control == 0x8863 and decode_command(frames[0][2].payload).command_id == 0x04
    assert ch.user.events == [("data_confirm", "a", SUCCESS)]
    assert not gsme.radio.rx_on
    gsme.mac.mlme_poll_request()                          # frame pending: poll again
    run(clock, 0.2)
    assert gsme.user.events[2:] == [("data", 0x0000, b"second", False), ("poll_confirm", SUCCESS)]
    assert ch.user.events[1:] == [("data_confirm", "b", SUCCESS)]
    gsme.mac.mlme_poll_request()                          # nothing left
    run(clock, 0.2)
    assert gsme.user.events[4:] == [("poll_confirm", NO_DATA)]
    assert medium.frames()[-1][2].frame_type == FRAME_ACK and not medium.frames()[-1][2].frame_pending
    assert not gsme.radio.rx_on
    assert_idle(clock, ch, esme, gsme)


def test_indirect_frame_expires(net):
    clock, medium, ch, esme = net
    ch.mac.mcps_data_request(0x4B2A, b"late", indirect=True, handle="x")
    run(clock, 7.6)
    assert ch.user.events == []
    run(clock, 0.1)                                       # macTransactionPersistenceTime = 7.68 s
    assert ch.user.events == [("data_confirm", "x", TRANSACTION_EXPIRED)]
    assert ch.counts["indirect_expired"] == 1
    assert_idle(clock, ch, esme)


def test_indirect_frame_lost_stays_queued_until_next_poll(net):
    clock, medium, ch, esme = net
    gsme = add_gsme(clock, medium)
    ch.mac.mcps_data_request(0x4B2A, b"payload", indirect=True, handle="p")
    medium.drop = lambda s, r, f: s == "ch" and f.frame_type == FRAME_DATA
    gsme.mac.mlme_poll_request()
    run(clock, 0.2)
    assert gsme.user.events == [("poll_confirm", NO_DATA)]    # announced but never arrived
    assert sum(1 for _, n, f in medium.frames() if n == "ch" and f.frame_type == FRAME_DATA) == 1  # no retry
    assert ch.counts["indirect_failed"] == 1 and ch.user.events == []
    medium.drop = lambda s, r, f: False
    gsme.mac.mlme_poll_request()
    run(clock, 0.2)
    assert gsme.user.events[1:] == [("data", 0x0000, b"payload", False), ("poll_confirm", SUCCESS)]
    assert ch.user.events == [("data_confirm", "p", SUCCESS)]
    assert_idle(clock, ch, esme, gsme)


def test_indirect_resend_after_lost_ack_is_a_duplicate(net):
    clock, medium, ch, esme = net
    gsme = add_gsme(clock, medium)
    ch.mac.mcps_data_request(0x4B2A, b"once", indirect=True, handle="o")
    lost = []

    def drop_childs_data_ack(sender, receiver, frame):
        # the child's Ack to the data frame (the 2nd frame the child sends) is lost once
        if sender == "gsme" and frame.frame_type == FRAME_ACK and not lost:
            lost.append(frame)
            return True
        return False

    medium.drop = drop_childs_data_ack
    gsme.mac.mlme_poll_request()
    run(clock, 0.2)
    gsme.mac.mlme_poll_request()
    run(clock, 0.2)
    assert gsme.user.events == [("data", 0x0000, b"once", False), ("poll_confirm", SUCCESS),
                                ("poll_confirm", SUCCESS)]
    assert gsme.counts["rx_duplicate"] == 1
    data = [f for _, n, f in medium.frames() if n == "ch" and f.frame_type == FRAME_DATA]
    assert len(data) == 2 and data[0].seq == data[1].seq
    assert ch.user.events == [("data_confirm", "o", SUCCESS)]
    assert_idle(clock, ch, esme, gsme)


def test_poll_without_answer_is_no_ack(net):
    clock, medium, ch, esme = net
    gsme = add_gsme(clock, medium)
    medium.drop = lambda s, r, f: s == "gsme"
    gsme.mac.mlme_poll_request()
    run(clock, 0.5)
    assert gsme.user.events == [("poll_confirm", NO_ACK)]
    assert not gsme.radio.rx_on
    assert_idle(clock, ch, esme, gsme)


# --- scan and association -------------------------------------------------------------------

def _start_coordinator(ch):
    ch.mac.set_beacon_payload(encode_zigbee_beacon_payload(ZigbeeBeaconPayload(CH_EUI)))
    ch.mac.set_association_permit(True)


def test_scan_and_association_success(net):
    clock, medium, ch, esme = net
    _start_coordinator(ch)
    gsme = add_gsme(clock, medium, associated=False)
    gsme.mac.mlme_scan_request(0.2)
    run(clock, 0.3)
    (kind, descriptors), = gsme.user.events
    assert kind == "scan_confirm" and len(descriptors) == 1
    pd = descriptors[0]
    assert (pd.coord_pan_id, pd.coord_address) == (PAN, 0x0000)
    assert pd.superframe.association_permit and pd.superframe.pan_coordinator
    assert pd.zigbee.extended_pan_id == CH_EUI and pd.zigbee.stack_profile == 2
    assert not gsme.radio.rx_on
    gsme.user.events.clear()
    start = len(medium.air)
    gsme.mac.mlme_associate_request(pd.coord_address, pd.coord_pan_id, CAP_ALLOCATE_ADDRESS)
    run(clock, 1.0)
    assert gsme.user.events == [("assoc_confirm", 0x4B2A, 0)]
    assert ch.user.events == [("assoc_indication", GSME_EUI, 0x80), ("comm_status", GSME_EUI, SUCCESS)]
    assert gsme.mac.short_address == 0x4B2A and gsme.mac.pan_id == PAN
    assert gsme.mac.coord_extended_address == CH_EUI
    frames = medium.frames()[start:]
    assert [(n, f.frame_control) for _, n, f in frames] == [
        ("gsme", 0xC823), ("ch", 0x0002), ("gsme", 0xC863), ("ch", 0x0012), ("ch", 0xCC63), ("gsme", 0x0002)]
    # the poll follows the acked request after macResponseWaitTime (32 * 960 symbols = 0.49152 s)
    t_ack = frames[1][0] + airtime(encode_mac(frames[1][2]))
    assert 0.49152 <= frames[2][0] - t_ack <= 0.49152 + 8 * 320 * US
    assert decode_command(frames[4][2].payload).short_address == 0x4B2A
    # now associated: its polls come from the short address
    ch.mac.mcps_data_request(0x4B2A, b"hello", indirect=True, handle="h")
    gsme.mac.mlme_poll_request()
    run(clock, 0.2)
    assert medium.frames()[-4][2].frame_control == 0x8863
    assert gsme.user.events[1:] == [("data", 0x0000, b"hello", False), ("poll_confirm", SUCCESS)]
    assert_idle(clock, ch, esme, gsme)


def test_association_access_denied(net):
    clock, medium, ch, esme = net
    _start_coordinator(ch)
    ch.user.assoc_answer = (0xFFFF, ASSOCIATION_PAN_ACCESS_DENIED)
    gsme = add_gsme(clock, medium, associated=False)
    gsme.mac.mlme_associate_request(0x0000, PAN, CAP_ALLOCATE_ADDRESS)
    run(clock, 1.0)
    assert gsme.user.events == [("assoc_confirm", 0xFFFF, ASSOCIATION_PAN_ACCESS_DENIED)]
    assert gsme.mac.short_address == 0xFFFF and gsme.mac.pan_id == 0xFFFF
    response = [f for _, n, f in medium.frames() if f.frame_control == 0xCC63]
    assert decode_command(response[0].payload).association_status == 2
    assert ch.user.events[-1] == ("comm_status", GSME_EUI, SUCCESS)
    assert_idle(clock, ch, esme, gsme)


def test_association_not_permitted_gives_no_data(net):
    clock, medium, ch, esme = net
    gsme = add_gsme(clock, medium, associated=False)
    gsme.mac.mlme_associate_request(0x0000, PAN, CAP_ALLOCATE_ADDRESS)
    run(clock, 1.0)
    assert gsme.user.events == [("assoc_confirm", 0xFFFF, NO_DATA)]
    assert ch.user.events == []
    assert_idle(clock, ch, esme, gsme)


def test_unanswered_association_response_expires(net):
    clock, medium, ch, esme = net
    _start_coordinator(ch)
    gsme = add_gsme(clock, medium, associated=False)
    medium.drop = lambda s, r, f: s == "gsme" and f.frame_type == FRAME_COMMAND and f.payload[:1] == b"\x04"
    gsme.mac.mlme_associate_request(0x0000, PAN, CAP_ALLOCATE_ADDRESS)
    run(clock, 10.0)
    assert gsme.user.events == [("assoc_confirm", 0xFFFF, NO_ACK)]
    assert ch.user.events == [("assoc_indication", GSME_EUI, 0x80), ("comm_status", GSME_EUI, TRANSACTION_EXPIRED)]
    assert_idle(clock, ch, esme, gsme)


# --- robustness -----------------------------------------------------------------------------

def _with_fcs(body: bytes) -> bytes:
    return body + fcs(body).to_bytes(2, "little")


def test_malformed_and_corrupted_frames_are_counted_and_dropped(net):
    clock, medium, ch, esme = net
    good = encode_mac(data_frame(1, PAN, 0x0000, 0x1111, b"ok"))
    corrupted = bytearray(good)
    corrupted[4] ^= 0x10
    bad_inputs = [
        (b"", "rx_malformed"), (b"\x01", "rx_malformed"), (bytes(corrupted), "rx_bad_fcs"),
        (good[:-1], "rx_bad_fcs"),
        (_with_fcs(b"\x04\x00\x01"), "rx_malformed"),                              # reserved frame type
        (_with_fcs(b"\x61\x84\x01\x62\x1a\x00\x00"), "rx_malformed"),              # reserved src mode 1
        (_with_fcs(b"\x63\x88\x02\x62\x1a\x00\x00\x11"), "rx_malformed"),          # truncated source
        (_with_fcs(b"\x63\x88\x03\x62\x1a\x00\x00\x11\x11\x01"), "rx_malformed"),  # Assoc Req, no capability
        (_with_fcs(b"\x63\x88\x04\x62\x1a\x00\x00\x11\x11\x1f"), "rx_malformed"),  # reserved command id
        (_with_fcs(b"\x61\x88\x05\x62\x1a\x00\x00\x11\x11"), "rx"),               # empty data frame: valid
        ("not bytes", "rx_malformed"),
    ]
    for psdu, counter in bad_inputs:
        before = ch.counts[counter]
        ch.mac.frame_received(psdu)
        assert ch.counts[counter] == before + 1, (psdu, counter)
    rng = random.Random(5)
    dropped = ch.counts["rx_bad_fcs"] + ch.counts["rx_malformed"]
    for _ in range(2000):
        ch.mac.frame_received(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 40))))
        ch.mac.frame_received(_with_fcs(bytes(rng.randrange(256) for _ in range(rng.randrange(0, 40)))))
        run(clock, 0.01)
    assert ch.counts["rx_bad_fcs"] + ch.counts["rx_malformed"] - dropped >= 2000
    assert ch.counts["rx_error"] == 0
    run(clock, 10.0)
    ch.user.events.clear()
    esme.mac.mcps_data_request(0x0000, b"still fine", handle=1)   # the node keeps working
    run(clock, 0.1)
    assert esme.user.events == [("data_confirm", 1, SUCCESS)]
    assert ch.user.events == [("data", 0x1111, b"still fine", False)]
    assert_idle(clock, ch, esme)


def test_corruption_on_the_air_is_caught_and_retried(net):
    clock, medium, ch, esme = net
    hits = []

    def corrupt_first(sender, receiver, frame):
        if receiver == "ch" and not hits:
            hits.append(1)
            psdu = bytearray(encode_mac(frame))
            psdu[3] ^= 0x40
            ch.mac.frame_received(bytes(psdu))
            return True
        return False

    medium.drop = corrupt_first
    esme.mac.mcps_data_request(0x0000, b"x", handle=1)
    run(clock, 0.1)
    assert esme.user.events == [("data_confirm", 1, SUCCESS)]
    assert ch.counts["rx_bad_fcs"] == 1 and esme.counts["tx_retry"] == 1
    assert_idle(clock, ch, esme)


def test_frames_for_other_pans_and_addresses_are_filtered(net):
    clock, medium, ch, esme = net
    ch.mac.frame_received(encode_mac(data_frame(1, 0x1234, 0x0000, 0x1111, b"other pan")))
    ch.mac.frame_received(encode_mac(data_frame(2, PAN, 0x0999, 0x1111, b"other node")))
    run(clock, 0.1)
    assert ch.user.events == [] and ch.counts["rx_filtered"] == 2 and medium.air == []
    assert_idle(clock, ch, esme)


def test_initial_sequence_numbers_come_from_rng():
    clock = Clock()
    medium = Medium(clock)
    seqs = set()
    for seed in range(6):
        node = Node(clock, medium, f"n{seed}", ESME_EUI + seed, seed=seed)
        node.mac.set_pan_id(PAN)
        node.mac.mcps_data_request(0xFFFF, b"x")
        run(clock, 0.05)
        seqs.add(medium.frames()[-1][2].seq)
    assert len(seqs) > 1
    assert_idle(clock)


def test_slots_keep_state_small(net):
    _, _, ch, _ = net
    assert not hasattr(ch.mac, "__dict__")


# --- many nodes, loss and collisions: every request gets exactly one confirm ------------------

class LossyMedium(Medium):
    """Overlapping transmissions destroy each other; each delivery is also lost with
    probability C{loss} (seeded)."""

    def __init__(self, clock, loss, seed):
        super().__init__(clock)
        self.rng = random.Random(seed)
        self.loss = loss
        self.active = []          # [start, end, collided]
        self.collisions = 0

    def start(self, sender, psdu, t):
        now = self.clock.seconds()
        self.active = [a for a in self.active if a[1] > now]
        record = [now, now + t, False]
        for other in self.active:
            other[2] = record[2] = True
            self.collisions += 1
        self.active.append(record)
        self.air.append((now, sender.name, psdu))
        self.clock.callLater(t, self.finish, sender, psdu, record)

    def finish(self, sender, psdu, record):
        if record[2]:
            return
        for radio in list(self.radios):
            if radio is sender or not radio.rx_on or self.rng.random() < self.loss:
                continue
            radio.mac.frame_received(psdu)

    def busy_since(self, t):
        now = self.clock.seconds()
        return any(a[0] <= now and a[1] > t for a in self.active)


class LossyRadio(Radio):
    def transmit(self, psdu):
        t = airtime(psdu)
        self.medium.start(self, psdu, t)
        return t

    def channel_busy_since(self, t):
        return self.medium.busy_since(t)


def test_many_nodes_with_loss_nothing_lost_silently():
    clock = Clock()
    medium = LossyMedium(clock, loss=0.2, seed=99)
    nodes = []
    for i in range(6):
        node = Node(clock, medium, f"n{i}", ESME_EUI + i, pan_coordinator=(i == 0), seed=100 + i)
        medium.radios.remove(node.radio)
        node.radio = LossyRadio(medium, f"n{i}")
        node.radio.mac = node.mac
        node.mac.radio = node.radio
        node.radio.rx_on = True
        node.mac.set_pan_id(PAN)
        node.mac.set_short_address(i)
        nodes.append(node)
    nodes[0].mac.mlme_start(PAN, 0, b"")
    sleepy = Node(clock, medium, "s", GSME_EUI, rx_on_when_idle=False, seed=7)
    medium.radios.remove(sleepy.radio)
    sleepy.radio = LossyRadio(medium, "s")
    sleepy.radio.mac = sleepy.mac
    sleepy.mac.radio = sleepy.radio
    sleepy.mac.set_pan_id(PAN)
    sleepy.mac.set_short_address(0x4B2A)
    sleepy.mac.set_coordinator(0x0000)
    rng = random.Random(3)
    sent = {}
    for k in range(300):
        src = nodes[rng.randrange(1, 6)]
        payload = b"m%d" % k
        sent[payload] = src
        clock.callLater(rng.uniform(0, 20), src.mac.mcps_data_request, 0x0000, payload, handle=payload)
    for k in range(40):
        payload = b"i%d" % k
        clock.callLater(rng.uniform(0, 20), nodes[0].mac.mcps_data_request, 0x4B2A, payload,
                        indirect=True, handle=payload)
    for k in range(200):
        clock.callLater(0.1 * k + 0.05, sleepy.mac.mlme_poll_request)
    run(clock, 40.0)
    # every direct request: exactly one confirm; SUCCESS means the coordinator got it (exactly once)
    received = [e[2] for e in nodes[0].user.events if e[0] == "data"]
    assert len(received) == len(set(received))
    confirms = {}
    for node in nodes[1:]:
        for e in node.user.events:
            if e[0] == "data_confirm":
                assert e[1] not in confirms
                confirms[e[1]] = e[2]
    assert set(confirms) == set(sent)
    for payload, status in confirms.items():
        assert status in (SUCCESS, NO_ACK, CHANNEL_ACCESS_FAILURE)
        if status == SUCCESS:
            assert payload in received
    assert sum(s == SUCCESS for s in confirms.values()) >= 0.9 * len(sent)
    # indirect frames: one confirm each (delivered or expired); delivered at most once to the child
    indirect = {e[1]: e[2] for e in nodes[0].user.events if e[0] == "data_confirm"}
    assert set(indirect) == {b"i%d" % k for k in range(40)}
    got = [e[2] for e in sleepy.user.events if e[0] == "data"]
    assert len(got) == len(set(got))        # a re-sent indirect frame keeps its DSN: no duplicates
    for payload, status in indirect.items():
        assert status in (SUCCESS, TRANSACTION_EXPIRED)
        if status == SUCCESS:
            assert payload in got
    assert medium.collisions > 0 and sum(n.counts["tx_retry"] for n in nodes) > 0
    assert all(n.counts["rx_error"] == 0 for n in nodes + [sleepy])
    assert_idle(clock)


def test_frame_for_polling_child_goes_ahead_of_the_queue(net):
    clock, medium, ch, esme = net
    gsme = add_gsme(clock, medium)
    ch.mac.mcps_data_request(0x4B2A, b"for the child", indirect=True, handle="c")

    def load_ch_when_polled(sender, receiver, frame):
        # just before the CH hears the Data Request, give it six broadcasts to send
        if receiver == "ch" and frame.frame_type == FRAME_COMMAND and frame.payload == b"\x04":
            for i in range(6):
                ch.mac.mcps_data_request(0xFFFF, b"busy %d" % i, handle=i)
        return False

    medium.drop = load_ch_when_polled
    gsme.mac.mlme_poll_request()
    run(clock, 0.5)
    data = [f.payload for _, n, f in medium.frames() if n == "ch" and f.frame_type == FRAME_DATA]
    # "busy 0" was already in CSMA-CA; the child's frame overtakes the other five
    assert data == [b"busy 0", b"for the child"] + [b"busy %d" % i for i in range(1, 6)]
    assert ("data", 0x0000, b"for the child", False) in gsme.user.events
    assert gsme.user.events[-1] == ("poll_confirm", SUCCESS)
    assert_idle(clock, ch, esme, gsme)
