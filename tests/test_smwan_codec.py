"""SMWAN frame codec, link profiles and the topology's csps section, against hand-written bytes."""

from __future__ import annotations

import zlib

import pytest

from emulator.topology import TopologyError, parse_topology
from protocols.errors import CodecError
from protocols.smwan.frames import (HEADER_SIZE, OVERHEAD, DetachReason, Frame, FrameReader, FrameType,
                                    decode_frame, encode_frame)
from protocols.smwan.profiles import DEFAULT_PROFILES, LinkProfile

EUI = 0x00DB_1234_5678_9ABC


def _crc(body: bytes) -> bytes:
    return zlib.crc32(body).to_bytes(4, "big")


def test_data_frame_bytes_follow_the_documented_layout():
    body = bytes.fromhex(
        "5357"              # magic "SW"
        "01"                # version
        "04"                # DATA
        "00" "00"           # flags, segment
        "0003"              # length
        "00DB123456789ABC"  # EUI-64
        "0000002A"          # seq 42
        "00000007"          # ack 7
        "DF0102")           # payload
    expected = body + _crc(body)
    frame = Frame(FrameType.DATA, EUI, seq=42, ack=7, payload=b"\xdf\x01\x02")
    assert encode_frame(frame) == expected
    assert decode_frame(expected) == frame
    assert len(expected) == OVERHEAD + 3
    assert HEADER_SIZE == 24


def test_segment_flag_and_index():
    body = bytes.fromhex("5357" "01" "04" "01" "02" "0001" "00DB123456789ABC" "00000001" "00000000" "AA")
    frame = decode_frame(body + _crc(body))
    assert frame.more_segments and frame.segment == 2 and frame.payload == b"\xaa"
    assert encode_frame(frame) == body + _crc(body)


@pytest.mark.parametrize("ftype,payload", [(FrameType.ATTACH, b""), (FrameType.ATTACH_ACK, b""),
                                           (FrameType.KEEPALIVE, b""), (FrameType.DATA_ACK, b""),
                                           (FrameType.DETACH, bytes([DetachReason.SHUTDOWN]))])
def test_control_frames_round_trip(ftype, payload):
    frame = Frame(ftype, EUI, seq=3, ack=0xFFFF_FFFF, payload=payload)
    data = encode_frame(frame)
    assert data[3] == int(ftype)
    assert decode_frame(data) == frame


def _valid() -> bytes:
    return encode_frame(Frame(FrameType.DATA, EUI, seq=1, payload=b"\xdf" * 5))


def _resigned(data: bytes) -> bytes:
    body = data[:-4]
    return body + _crc(body)


@pytest.mark.parametrize("mutate,field,offset", [
    (lambda d: _resigned(b"XW" + d[2:-4]), "magic", 0),
    (lambda d: _resigned(d[:2] + b"\x02" + d[3:-4]), "version", 2),
    (lambda d: _resigned(d[:3] + b"\x09" + d[4:-4]), "type", 3),
    (lambda d: _resigned(d[:4] + b"\x80" + d[5:-4]), "flags", 4),
    (lambda d: d[:-1] + bytes([d[-1] ^ 1]), "crc32", 29),
    (lambda d: d[:10], "header", 10),
    (lambda d: d[:-6], "payload", 24),
    (lambda d: d + b"\x00", "crc32", 33),
    (lambda d: _resigned(d[:3] + b"\x01" + d[4:-4]), "payload", 24),  # ATTACH with a payload
])
def test_malformed_frames_name_the_field_and_offset(mutate, field, offset):
    with pytest.raises(CodecError) as info:
        decode_frame(mutate(_valid()))
    assert info.value.field == field
    assert info.value.offset == offset


def test_invalid_frames_cannot_be_built():
    with pytest.raises(CodecError):
        Frame(FrameType.DATA, EUI)  # DATA without a message
    with pytest.raises(CodecError):
        Frame(FrameType.KEEPALIVE, EUI, more_segments=True)
    with pytest.raises(CodecError):
        Frame(FrameType.DATA, EUI, seq=1 << 32, payload=b"x")
    with pytest.raises(CodecError):
        Frame(FrameType.DETACH, EUI, payload=b"")


def test_stream_reader_splits_frames_at_any_boundary():
    frames = [Frame(FrameType.DATA, EUI, seq=i, payload=bytes([0xDF]) * (i + 1)) for i in range(5)]
    stream = b"".join(encode_frame(f) for f in frames)
    for cut in range(1, len(stream)):
        reader = FrameReader()
        got = reader.feed(stream[:cut]) + reader.feed(stream[cut:])
        assert got == frames
        assert reader.buffered == 0
    reader = FrameReader()
    got = []
    for i in range(len(stream)):
        got += reader.feed(stream[i:i + 1])
    assert got == frames


def test_stream_reader_rejects_garbage():
    reader = FrameReader()
    with pytest.raises(CodecError) as info:
        reader.feed(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert info.value.field == "magic"
    with pytest.raises(CodecError):
        FrameReader().feed(b"\x16")  # shorter than a header: rejected at once, not held
    assert FrameReader().feed(b"S") == []


# --- profiles ------------------------------------------------------------------------------------

def test_regions_and_their_technologies():
    north, centre, south = (DEFAULT_PROFILES[n] for n in ("north", "centre", "south"))
    assert north.technology == "long-range radio"
    assert centre.technology == south.technology == "cellular"
    assert north.rate_bps < centre.rate_bps and north.delay > centre.delay
    assert north.max_frame < centre.max_frame and north.max_segment == north.max_frame - OVERHEAD


@pytest.mark.parametrize("field,value,message", [
    ("rate_bps", 0, "rate_bps: must be > 0"),
    ("max_frame", OVERHEAD, "max_frame: must be"),
    ("backoff_jitter", 1.0, "backoff_jitter: must be a number in [0, 1)"),
    ("keepalive_timeout", 10.0, "keepalive_timeout: must exceed keepalive_interval"),
    ("window", 0, "window: must be an integer >= 1"),
    ("colour", 1, "colour: unknown link profile field"),
])
def test_profile_overrides_are_validated(field, value, message):
    with pytest.raises(ValueError) as info:
        DEFAULT_PROFILES["centre"].with_overrides("centre", {field: value})
    assert str(info.value).startswith(message)


def test_profile_override_keeps_the_rest():
    p = DEFAULT_PROFILES["north"].with_overrides("north", {"delay": 5, "window": 4})
    assert isinstance(p, LinkProfile) and p.delay == 5.0 and p.window == 4
    assert p.rate_bps == DEFAULT_PROFILES["north"].rate_bps


# --- topology csps section ---------------------------------------------------------------------

_TOPOLOGY = """\
name: t
csps:
  north:
    rate_bps: 4800
    impairments: {loss: 0.01, outages: [[36000, 3600]]}
  east: {base: south, delay: 0.4}
homes:
  - name: h1
    csp: north
    devices: [{kind: CH}]
  - name: h2
    csp: east
    devices: [{kind: CH}]
  - name: h3
    devices: [{kind: CH}]
"""


def test_topology_csps_section():
    t = parse_topology(_TOPOLOGY, "t.yaml", 1)
    assert [h.csp for h in t.homes] == ["north", "east", "centre"]
    north = t.csps["north"]
    assert north.profile.rate_bps == 4800.0 and north.profile.delay == DEFAULT_PROFILES["north"].delay
    assert north.impairments.loss == 0.01 and north.impairments.outages == ((36000.0, 3600.0),)
    east = t.csps["east"]
    assert east.profile.name == "east" and east.profile.delay == 0.4
    assert east.profile.technology == "cellular"
    assert set(t.csps) == {"north", "centre", "south", "east"}


def test_topology_without_csps_has_the_three_regions():
    t = parse_topology("homes: [{name: a, devices: [{kind: CH}]}]\n", "t.yaml", 1)
    assert set(t.csps) == {"north", "centre", "south"} and t.homes[0].csp == "centre"


@pytest.mark.parametrize("old,new,line,text", [
    ("rate_bps: 4800", "rate_bps: -1", 4, "csps.north.rate_bps: must be > 0"),
    ("rate_bps: 4800", "speed: 3", 4, "unknown key 'speed' in csps.north"),
    ("{loss: 0.01,", "{loss: 2,", 5, "csps.north.impairments: loss: probability"),
    ("base: south", "base: mars", 6, "csps.east.base 'mars' is not a CSP region"),
    ("{base: south, delay: 0.4}", "{delay: 0.4}", 6, "csps.east: a new CSP needs 'base'"),
    ("    csp: east", "    csp: west", 12, "home 'h2'.csp 'west' is not a CSP"),
    ("    csp: east", "    csp: 7", 12, "home 'h2'.csp must be str"),
])
def test_topology_csps_errors_name_file_and_line(old, new, line, text):
    bad = _TOPOLOGY.replace(old, new, 1)
    assert bad != _TOPOLOGY
    with pytest.raises(TopologyError) as info:
        parse_topology(bad, "t.yaml", 1)
    assert info.value.line == line, str(info.value)
    assert text in info.value.message, str(info.value)
