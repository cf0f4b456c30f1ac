"""ZCL frame header codec (ZCL 07-5123 2.4.1) against the spec's control octets and scapy."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.layers.zigbee import (ZCLGeneralReadAttributes, ZigbeeAppDataPayload,
                                 ZigbeeClusterLibrary)

from protocols.errors import CodecError
from protocols.zcl.frame import (DIRECTION_CLIENT_TO_SERVER, DIRECTION_SERVER_TO_CLIENT,
                                 FRAME_TYPE_CLUSTER, FRAME_TYPE_GLOBAL, ZclFrame, decode_zcl,
                                 encode_zcl)


# Control octets listed in han-zigbee-wireshark.md 3.6 (verified with tshark there).
@pytest.mark.parametrize("octet, frame_type, direction, ddr", [
    (0x01, FRAME_TYPE_CLUSTER, DIRECTION_CLIENT_TO_SERVER, False),
    (0x09, FRAME_TYPE_CLUSTER, DIRECTION_SERVER_TO_CLIENT, False),
    (0x11, FRAME_TYPE_CLUSTER, DIRECTION_CLIENT_TO_SERVER, True),
    (0x19, FRAME_TYPE_CLUSTER, DIRECTION_SERVER_TO_CLIENT, True),
    (0x00, FRAME_TYPE_GLOBAL, DIRECTION_CLIENT_TO_SERVER, False),
    (0x08, FRAME_TYPE_GLOBAL, DIRECTION_SERVER_TO_CLIENT, False),
    (0x10, FRAME_TYPE_GLOBAL, DIRECTION_CLIENT_TO_SERVER, True),
    (0x18, FRAME_TYPE_GLOBAL, DIRECTION_SERVER_TO_CLIENT, True),
])
def test_spec_control_octets(octet: int, frame_type: int, direction: int, ddr: bool) -> None:
    frame = ZclFrame(frame_type, 0x01, 0x2A, b"\x7b\x00", direction, ddr)
    wire = bytes((octet, 0x2A, 0x01, 0x7B, 0x00))
    assert encode_zcl(frame) == wire
    assert decode_zcl(wire) == frame
    assert frame.frame_control == octet


def test_anchor_request_mirror_response_bytes() -> None:
    # RequestMirrorResponse as the anchor CH sends it: control 0x11, endpoint 0x007B (LE).
    f = decode_zcl(bytes.fromhex("1108017b00"))
    assert (f.frame_type, f.direction, f.disable_default_response) == (1, 0, True)
    assert (f.tsn, f.command_id, f.payload) == (8, 0x01, b"\x7b\x00")
    assert f.manufacturer_code is None and f.is_cluster_specific and not f.is_global


def test_manufacturer_specific_header() -> None:
    frame = ZclFrame(FRAME_TYPE_GLOBAL, 0x00, 5, b"\x00\x00", manufacturer_code=0x1234)
    wire = encode_zcl(frame)
    assert wire == bytes.fromhex("04341205000000")
    assert decode_zcl(wire) == frame


def _aps(zcl: bytes) -> ZigbeeClusterLibrary:
    """Dissect ZCL octets with scapy inside an APS data frame (scapy needs the cluster)."""
    aps = ZigbeeAppDataPayload(frame_control=0, aps_frametype=0, delivery_mode=0,
                               dst_endpoint=1, cluster=0x0702, profile=0x0109,
                               src_endpoint=1, counter=1)
    return ZigbeeAppDataPayload(bytes(aps) + zcl)[ZigbeeClusterLibrary]


def test_matches_scapy_both_ways() -> None:
    cases = [
        ZigbeeClusterLibrary(zcl_frametype=1, command_direction=1, disable_default_response=1,
                             transaction_sequence=200, command_identifier=0x08) / b"\x01\x02",
        ZigbeeClusterLibrary(zcl_frametype=0, manufacturer_specific=1,
                             manufacturer_code=0xBEEF, transaction_sequence=5,
                             command_identifier=0)
        / ZCLGeneralReadAttributes(attribute_identifiers=[0, 0x0400]),
    ]
    for pkt in cases:
        wire = bytes(pkt)
        pkt = _aps(wire)
        ours = decode_zcl(wire)
        assert ours.frame_type == pkt.zcl_frametype
        assert ours.direction == pkt.command_direction
        assert ours.disable_default_response == bool(pkt.disable_default_response)
        assert ours.tsn == pkt.transaction_sequence
        assert ours.command_id == pkt.command_identifier
        assert ours.manufacturer_code == (pkt.manufacturer_code if pkt.manufacturer_specific
                                          else None)
        assert encode_zcl(ours) == wire
    back = _aps(encode_zcl(ZclFrame(1, 0x0B, 77, b"\x00\x01", 1, True, 0x10E0)))
    assert (back.zcl_frametype, back.command_direction, back.disable_default_response,
            back.manufacturer_specific, back.manufacturer_code, back.transaction_sequence,
            back.command_identifier) == (1, 1, 1, 1, 0x10E0, 77, 0x0B)


@pytest.mark.parametrize("wire, field", [
    (b"", "frame_control"), (b"\x00", "frame_control"), (b"\x00\x01", "frame_control"),
    (b"\x04\x34\x12\x05", "manufacturer_code"), (b"\x02\x01\x00", "frame_control.frame_type"),
    (b"\x03\x01\x00", "frame_control.frame_type"),
])
def test_malformed_headers(wire: bytes, field: str) -> None:
    with pytest.raises(CodecError) as e:
        decode_zcl(wire)
    assert e.value.field == field


def test_reserved_bits_are_ignored_on_receipt() -> None:
    # The anchor's buggy 0x91 (reserved bit 7 set) still reads as 0x11.
    assert decode_zcl(b"\x91\x01\x01") == decode_zcl(b"\x11\x01\x01")


@pytest.mark.parametrize("frame", [
    ZclFrame(2, 0, 0), ZclFrame(0, 256, 0), ZclFrame(0, 0, -1), ZclFrame(0, 0, 0, b"", 2),
    ZclFrame(0, 0, 0, manufacturer_code=0x10000),
])
def test_encode_rejects_out_of_range(frame: ZclFrame) -> None:
    with pytest.raises(CodecError):
        encode_zcl(frame)


@settings(max_examples=1000, deadline=None, database=None)
@given(st.binary(max_size=12))
def test_decode_garbage_raises_only_codec_error(data: bytes) -> None:
    try:
        frame = decode_zcl(data)
    except CodecError:
        return
    if not data[0] & 0xE0:
        assert encode_zcl(frame) == data


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 1), st.integers(0, 255), st.integers(0, 255), st.binary(max_size=8),
       st.integers(0, 1), st.booleans(), st.none() | st.integers(0, 0xFFFF))
def test_round_trip(ft, cmd, tsn, payload, direction, ddr, mfr) -> None:
    frame = ZclFrame(ft, cmd, tsn, payload, direction, ddr, mfr)
    assert decode_zcl(encode_zcl(frame)) == frame
