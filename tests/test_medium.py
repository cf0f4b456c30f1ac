"""Tests for L{emulator.medium.HanMedium}: 2.4 GHz O-QPSK airtime (IEEE 802.15.4-2006: 250 kbit/s,
6 bytes SHR+PHR, aMaxPHYPacketSize 127), broadcast, receiver off, collisions, CCA, per-pair
random streams, corruption and capture, all on a virtual clock."""

from __future__ import annotations

import pytest

from emulator.clock import VirtualClock
from emulator.impairments import ImpairmentSpec
from emulator.medium import HanMedium


class Radio:
    def __init__(self, clock):
        self.clock = clock
        self.got = []

    def frame_received(self, psdu):
        self.got.append((self.clock.seconds(), psdu))


class Sink:
    def __init__(self):
        self.interfaces = []
        self.frames = []

    def add_interface(self, name, description="", linktype=195, snaplen=256):
        self.interfaces.append((name, description, linktype))
        return len(self.interfaces) - 1

    def capture(self, interface_id, time_s, data):
        self.frames.append((interface_id, time_s, data))


def _setup(names=("CH", "ESME", "IHD"), **kw):
    clock = VirtualClock()
    sink = Sink()
    events = []
    medium = HanMedium(clock, 7, "home-1", capture=sink, on_event=events.append, **kw)
    radios = {n: Radio(clock) for n in names}
    ports = {n: medium.attach(n, radios[n]) for n in names}
    return clock, medium, sink, events, radios, ports


def test_airtime_of_max_and_ack_frames():
    clock, medium, sink, events, radios, ports = _setup()
    # 127-byte PSDU: (4 preamble + 1 SFD + 1 PHR + 127) bytes x 32 us = 4.256 ms
    assert ports["CH"].transmit(bytes(127)) == pytest.approx(4.256e-3, abs=1e-12)
    clock.run_until(4.255e-3)
    assert radios["ESME"].got == []
    clock.run_until(4.257e-3)
    assert radios["ESME"].got[0][0] == pytest.approx(4.256e-3)
    # a MAC Ack (5 bytes) takes 11 x 32 us = 352 us
    assert ports["ESME"].transmit(bytes(5)) == pytest.approx(352e-6, abs=1e-12)
    with pytest.raises(ValueError):
        ports["CH"].transmit(bytes(128))


def test_broadcast_reaches_every_other_radio_and_capture():
    clock, medium, sink, events, radios, ports = _setup()
    clock.run_until(1.0)
    ports["CH"].transmit(b"\x41\x88\x01frame")
    clock.run_until_idle()
    assert radios["CH"].got == []
    assert [d for _, d in radios["ESME"].got] == [b"\x41\x88\x01frame"]
    assert [d for _, d in radios["IHD"].got] == [b"\x41\x88\x01frame"]
    assert sink.interfaces == [("home-1", "IEEE 802.15.4 2.4 GHz O-QPSK channel 11: home-1", 195)]
    assert sink.frames == [(0, 1.0, b"\x41\x88\x01frame")]   # at the start of the airtime
    assert events.count("tx") == 1 and events.count("delivered") == 2


def test_rx_off_at_end_of_airtime():
    clock, medium, sink, events, radios, ports = _setup()
    ports["ESME"].set_rx_enabled(False)
    ports["IHD"].set_rx_enabled(False)
    ports["CH"].transmit(bytes(20))
    clock.advance(1e-4)
    ports["IHD"].set_rx_enabled(True)      # on again before the frame ends: it hears it
    clock.run_until_idle()
    assert radios["ESME"].got == [] and len(radios["IHD"].got) == 1
    assert medium.counts["rx_off"] == 1 and events.count("rx_off") == 1


def test_overlapping_transmissions_collide_and_back_to_back_do_not():
    clock, medium, sink, events, radios, ports = _setup(("A", "B", "C"))
    t_a = ports["A"].transmit(bytes(50))
    clock.advance(t_a / 2)
    ports["B"].transmit(bytes(50))
    clock.run_until_idle()
    assert radios["C"].got == [] and radios["A"].got == [] and radios["B"].got == []
    assert medium.counts["collision"] == 4   # C loses both, A and B lose each other's
    assert len(sink.frames) == 2             # both were on the air
    # back to back: B starts exactly when A's frame ends
    t_a = ports["A"].transmit(bytes(30))
    clock.callLater(t_a, ports["B"].transmit, bytes(30))
    clock.run_until_idle()
    assert len(radios["C"].got) == 2 and medium.counts["collision"] == 4


def test_channel_busy_is_clear_channel_assessment():
    clock, medium, sink, events, radios, ports = _setup()
    assert not ports["ESME"].channel_busy()
    t = ports["CH"].transmit(bytes(40))
    assert ports["ESME"].channel_busy() and ports["IHD"].channel_busy()
    assert not ports["CH"].channel_busy()   # its own transmission does not count
    clock.advance(t * 0.99)
    assert ports["ESME"].channel_busy()
    clock.advance(t * 0.02)
    assert not ports["ESME"].channel_busy()


def test_channel_busy_since_covers_a_sensing_period():
    """An 8-symbol CCA that starts before a transmission ends sees the channel busy."""
    clock, medium, sink, events, radios, ports = _setup()
    start = clock.seconds()
    t = ports["CH"].transmit(bytes(40))
    clock.advance(t + 100e-6)
    assert not ports["ESME"].channel_busy()
    assert ports["ESME"].channel_busy_since(clock.seconds() - 128e-6), "it ended 100 us ago"
    assert not ports["ESME"].channel_busy_since(clock.seconds() - 99e-6)
    assert not ports["CH"].channel_busy_since(start), "its own transmission does not count"


def test_corruption_reaches_the_receiver_copy():
    clock, medium, sink, events, radios, ports = _setup(impairments=ImpairmentSpec(corrupt=1.0))
    frame = bytes(range(30))
    ports["CH"].transmit(frame)
    clock.run_until_idle()
    for r in ("ESME", "IHD"):
        (_, got), = radios[r].got
        assert got != frame and len(got) == len(frame)
    assert sink.frames[0][2] == frame       # the capture shows what was sent
    assert medium.counts["corrupt"] == 2


def _pair_stream(extra_node: bool) -> list[bytes]:
    names = ("CH", "ESME", "IHD") + (("PPMID",) if extra_node else ())
    clock, medium, sink, events, radios, ports = _setup(names, impairments=ImpairmentSpec(loss=0.5))
    for i in range(100):
        ports["CH"].transmit(bytes([i]) * 10)
        clock.advance(0.01)
        if extra_node:
            ports["PPMID"].transmit(bytes([i]) * 5)
            clock.advance(0.01)
    clock.run_until_idle()
    return [d for _, d in radios["IHD"].got if len(d) == 10]


def test_per_pair_streams_do_not_depend_on_other_nodes():
    without = _pair_stream(False)
    with_extra = _pair_stream(True)
    assert with_extra == without
    assert 25 < len(without) < 75


def test_pair_override_outage_and_burst_loss_events():
    clock, medium, sink, events, radios, ports = _setup()
    medium.set_pair_impairments("CH", "IHD", ImpairmentSpec(outages=[(0.0, 1.0)]))
    medium.set_pair_impairments("CH", "ESME", ImpairmentSpec.from_dict(
        {"gilbert_elliott": {"p_good_to_bad": 1.0, "p_bad_to_good": 0.0}}))
    for _ in range(3):
        ports["CH"].transmit(bytes(10))
        clock.advance(0.01)
    assert events.count("outage") == 3 and len(radios["IHD"].got) == 0
    assert len(radios["ESME"].got) == 1 and events.count("burst_loss") == 2


def test_duplicates_and_late_delivery():
    clock, medium, sink, events, radios, ports = _setup(
        impairments=ImpairmentSpec(duplicate=1.0, delay=0.5))
    ports["CH"].transmit(bytes(10))
    clock.advance(0.1)
    ports["IHD"].set_rx_enabled(False)       # asleep when the delayed copies arrive
    clock.run_until_idle()
    assert len(radios["ESME"].got) == 2 and radios["IHD"].got == []
    assert events.count("duplicate") == 2 and events.count("rx_off") == 2


def test_inject_detach_and_receiver_errors():
    clock, medium, sink, events, radios, ports = _setup()

    class Broken:
        def frame_received(self, psdu):
            raise RuntimeError("MAC bug")

    medium.attach("BROKEN", Broken())
    medium.inject(b"\xff")                 # malformed on the air
    clock.run_until_idle()
    assert [d for _, d in radios["ESME"].got] == [b"\xff"]
    assert medium.counts["receiver_error"] == 1 and clock.errors == 0
    ports["ESME"].detach()
    with pytest.raises(RuntimeError):
        ports["ESME"].transmit(b"x")
    ports["CH"].transmit(b"y")
    clock.run_until_idle()
    assert len(radios["ESME"].got) == 1 and len(radios["IHD"].got) == 2
    again = medium.attach("ESME", radios["ESME"])
    with pytest.raises(ValueError):
        medium.attach("ESME", radios["ESME"])
    assert again.attached and len(sink.frames) == 2


def test_same_seed_same_capture_and_deliveries():
    def run():
        clock, medium, sink, events, radios, ports = _setup(
            impairments=ImpairmentSpec(loss=0.3, corrupt=0.2, jitter=0.001))
        for i in range(50):
            ports["ESME" if i % 2 else "CH"].transmit(bytes([i]) * 12)
            clock.advance(0.005)
        clock.run_until_idle()
        return sink.frames, radios["IHD"].got, list(events)

    assert run() == run()
