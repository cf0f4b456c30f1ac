"""NWK and APS codecs: bytes from the spec tables, cross-checks with scapy's dissectors,
round trips, and CodecError (only) on garbage."""

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocols.errors import CodecError
from protocols.zigbee import aps, nwk
from protocols.zigbee.aps import ApsFrame, decode_aps, decode_aps_command, encode_aps, encode_aps_command
from protocols.zigbee.nwk import NwkFrame, SourceRoute, decode_nwk, decode_nwk_command, encode_nwk, encode_nwk_command

H = bytes.fromhex
DEV = 0x00124B00AABBCCDD
TC = 0x00124B0001020304


def _scapy():
    from scapy.config import conf
    conf.dot15d4_protocol = "zigbee"
    from scapy.layers import zigbee
    return zigbee


# ---------------------------------------------------------------- NWK

def test_nwk_data_frame_bytes_per_spec_table():
    f = NwkFrame(dst=0x0000, src=0x4B2A, seq=0x11, payload=b"\xAA", radius=30, discover_route=1)
    # fc: type 0, version 2 (<<2 = 0x08), discover route 1 (<<6 = 0x40) -> 0x0048
    assert encode_nwk(f) == H("4800" "0000" "2A4B" "1E" "11" "AA")


def test_nwk_all_optional_fields_bytes():
    f = NwkFrame(dst=0x1234, src=0x5678, seq=7, payload=b"", radius=5, security=True,
                 dst_ieee=DEV, src_ieee=TC, multicast_control=0x21,
                 source_route=SourceRoute(1, (0x0001, 0x0002)), end_device_initiator=True,
                 frame_type=nwk.NWK_FRAME_COMMAND)
    fc = 1 | (2 << 2) | (1 << 8) | (1 << 9) | (1 << 10) | (1 << 11) | (1 << 12) | (1 << 13)
    expected = (struct.pack("<HHHBB", fc, 0x1234, 0x5678, 5, 7) + DEV.to_bytes(8, "little")
                + TC.to_bytes(8, "little") + b"\x21" + H("0201" "0100" "0200"))
    assert encode_nwk(f) == expected
    assert decode_nwk(expected) == f


def test_nwk_decoded_by_scapy():
    z = _scapy()
    f = NwkFrame(dst=0xFFFD, src=0x4B2A, seq=9, payload=H("0800"), radius=30, src_ieee=DEV,
                 dst_ieee=TC, source_route=SourceRoute(0, (0x1111,)))
    p = z.ZigbeeNWK(encode_nwk(f))
    assert (p.destination, p.source, p.radius, p.seqnum) == (0xFFFD, 0x4B2A, 30, 9)
    assert p.proto_version == 2 and p.frametype == 0
    assert p.ext_src == DEV and p.ext_dst == TC
    assert p.relay_count == 1 and list(p.relays) == [0x1111]


def test_nwk_round_trip_and_header_length():
    f = NwkFrame(dst=1, src=2, seq=3, payload=b"xyz", src_ieee=DEV)
    data = encode_nwk(f)
    assert decode_nwk(data) == f
    assert nwk.nwk_header_length(data) == 16


NWK_COMMANDS = [
    nwk.RouteRequest(5, 0xFFFC, 0, many_to_one=1),
    nwk.RouteRequest(6, 0x1234, 3, dst_ieee=DEV, multicast=True),
    nwk.RouteReply(5, 0x0000, 0x1234, 2, originator_ieee=TC, responder_ieee=DEV),
    nwk.RouteReply(5, 0x0000, 0x1234, 2),
    nwk.NetworkStatus(0x0B, 0x4B2A),
    nwk.Leave(rejoin=True, request=False, remove_children=True),
    nwk.RouteRecord((0x0001, 0x0002, 0x0003)),
    nwk.RejoinRequest(0x80),
    nwk.RejoinResponse(0x4B2A, 0),
    nwk.LinkStatus((nwk.LinkStatusEntry(0x0001, 1, 3), nwk.LinkStatusEntry(0x0002, 7, 7))),
    nwk.EndDeviceTimeoutRequest(8, 0),
    nwk.EndDeviceTimeoutResponse(0, 3),
]


@pytest.mark.parametrize("cmd", NWK_COMMANDS, ids=lambda c: type(c).__name__)
def test_nwk_command_round_trip(cmd):
    assert decode_nwk_command(encode_nwk_command(cmd)) == cmd


def test_nwk_command_bytes():
    assert encode_nwk_command(nwk.Leave(rejoin=True, request=True)) == H("0460")
    assert encode_nwk_command(nwk.NetworkStatus(0x0B, 0x4B2A)) == H("030B2A4B")
    assert encode_nwk_command(nwk.RouteRequest(5, 0xFFFC, 0, many_to_one=1)) == H("010805FCFF00")
    assert encode_nwk_command(nwk.LinkStatus((nwk.LinkStatusEntry(1, 1, 3),))) == H("0861" "0100" "31")
    assert encode_nwk_command(nwk.RejoinResponse(0x4B2A, 0)) == H("072A4B00")


def test_nwk_commands_decoded_by_scapy():
    z = _scapy()
    p = z.ZigbeeNWKCommandPayload(encode_nwk_command(nwk.RouteReply(5, 0x0001, 0x1234, 2)))
    assert p.cmd_identifier == 2 and p.route_request_identifier == 5
    assert p.originator_address == 0x0001 and p.responder_address == 0x1234 and p.path_cost == 2
    p = z.ZigbeeNWKCommandPayload(encode_nwk_command(nwk.RejoinResponse(0x4B2A, 0)))
    assert p.network_address == 0x4B2A and p.rejoin_status == 0


# ---------------------------------------------------------------- APS

def test_aps_data_bytes_per_spec_table():
    f = ApsFrame(aps.APS_FRAME_DATA, counter=0x42, dst_endpoint=1, cluster=0x0702, profile=0x0109,
                 src_endpoint=2, payload=H("0001000000"), ack_request=True)
    assert encode_aps(f) == H("40" "01" "0207" "0901" "02" "42" "0001000000")


def test_aps_device_annce_broadcast_fc():
    # spec 3.2: Device_annce uses APS broadcast delivery, frame control 0x08
    f = ApsFrame(aps.APS_FRAME_DATA, aps.APS_DELIVERY_BROADCAST, 1, 0, None, 0x0013, 0, 0, b"")
    assert encode_aps(f)[0] == 0x08


def test_aps_group_and_fragment_and_ack():
    g = ApsFrame(aps.APS_FRAME_DATA, aps.APS_DELIVERY_GROUP, 3, group=0x1001, cluster=6, profile=0x0104,
                 src_endpoint=1, payload=b"\x01")
    assert encode_aps(g) == H("0C" "0110" "0600" "0401" "01" "03" "01")
    frag = ApsFrame(counter=4, dst_endpoint=1, cluster=0x0704, profile=0x0109, src_endpoint=1,
                    fragmentation=aps.APS_FRAGMENTATION_FIRST, block_number=3, payload=b"ab")
    assert encode_aps(frag) == H("80" "01" "0407" "0901" "01" "04" "01" "03") + b"ab"
    ack = ApsFrame(aps.APS_FRAME_ACK, counter=4, dst_endpoint=1, cluster=0x0704, profile=0x0109,
                   src_endpoint=1, fragmentation=aps.APS_FRAGMENTATION_FIRST, block_number=0, ack_bitfield=0xFF)
    assert encode_aps(ack) == H("82" "01" "0407" "0901" "01" "04" "01" "00" "FF")
    cack = ApsFrame(aps.APS_FRAME_ACK, counter=9, ack_format=True)
    assert encode_aps(cack) == H("12" "09")
    for f in (g, frag, ack, cack):
        assert decode_aps(encode_aps(f)) == f


def test_aps_decoded_by_scapy():
    z = _scapy()
    f = ApsFrame(counter=4, dst_endpoint=1, cluster=0x0704, profile=0x0109, src_endpoint=0x7B,
                 fragmentation=aps.APS_FRAGMENTATION_SUBSEQUENT, block_number=2, payload=b"ab")
    p = z.ZigbeeAppDataPayload(encode_aps(f))
    assert (p.dst_endpoint, p.cluster, p.profile, p.src_endpoint, p.counter) == (1, 0x0704, 0x0109, 0x7B, 4)
    assert p.fragmentation == 2 and p.block_number == 2


def test_transport_key_bytes_per_spec():
    key = H("00112233445566778899AABBCCDDEEFF")
    tk = aps.TransportKey(aps.KEY_TYPE_STANDARD_NETWORK, key, key_seq=0, dst_ieee=DEV, src_ieee=TC)
    data = encode_aps_command(tk)
    assert data == H("0501") + key + b"\x00" + DEV.to_bytes(8, "little") + TC.to_bytes(8, "little")
    assert decode_aps_command(data) == tk
    z = _scapy()
    p = z.ZigbeeAppCommandPayload(data)
    assert p.cmd_identifier == 5 and p.key_type == 1 and p.key_seqnum == 0
    assert p.dest_addr == DEV and p.src_addr == TC


APS_COMMANDS = [
    aps.TransportKey(aps.KEY_TYPE_TC_LINK, bytes(range(16)), dst_ieee=DEV, src_ieee=TC),
    aps.TransportKey(aps.KEY_TYPE_APP_LINK, bytes(range(16)), partner_ieee=DEV, initiator=True),
    aps.UpdateDevice(DEV, 0x4B2A, 1),
    aps.RemoveDevice(DEV),
    aps.RequestKey(aps.KEY_TYPE_TC_LINK),
    aps.RequestKey(aps.KEY_TYPE_APP_LINK, DEV),
    aps.SwitchKey(3),
    aps.Tunnel(DEV, H("2101") + bytes(20)),
    aps.VerifyKey(aps.KEY_TYPE_TC_LINK, DEV, bytes(range(16))),
    aps.ConfirmKey(0, aps.KEY_TYPE_TC_LINK, DEV),
]


@pytest.mark.parametrize("cmd", APS_COMMANDS, ids=lambda c: type(c).__name__)
def test_aps_command_round_trip(cmd):
    assert decode_aps_command(encode_aps_command(cmd)) == cmd


def test_aps_command_bytes():
    assert encode_aps_command(aps.UpdateDevice(DEV, 0x4B2A, 1)) == H("06") + DEV.to_bytes(8, "little") + H("2A4B01")
    assert encode_aps_command(aps.RequestKey(4)) == H("0804")
    assert encode_aps_command(aps.ConfirmKey(0, 4, DEV)) == H("100004") + DEV.to_bytes(8, "little")
    z = _scapy()
    p = z.ZigbeeAppCommandPayload(encode_aps_command(aps.UpdateDevice(DEV, 0x4B2A, 1)))
    assert p.address == DEV and p.short_address == 0x4B2A and p.update_status == 1


def test_encode_errors_are_codec_errors():
    with pytest.raises(CodecError):
        encode_nwk(NwkFrame(dst=0x10000, src=0, seq=0))
    with pytest.raises(CodecError):
        encode_aps(ApsFrame(counter=256, dst_endpoint=1, cluster=1, profile=1, src_endpoint=1))
    with pytest.raises(CodecError):
        encode_aps_command(aps.TransportKey(1, b"short", key_seq=0, dst_ieee=0, src_ieee=0))


def test_truncation_offsets():
    with pytest.raises(CodecError) as e:
        decode_nwk(H("0818FFFF0000"))
    assert e.value.offset == 0
    with pytest.raises(CodecError) as e:
        decode_nwk(H("0810" "0000" "2A4B" "1E" "01" "0011"))
    assert e.value.field == "nwk.src_ieee" and e.value.offset == 8


@settings(max_examples=1500, deadline=None)
@given(st.binary(max_size=48))
def test_garbage_raises_only_codec_error(data):
    for fn in (decode_nwk, decode_aps, decode_nwk_command, decode_aps_command):
        try:
            fn(data)
        except CodecError:
            pass


@settings(max_examples=300, deadline=None)
@given(st.builds(NwkFrame, dst=st.integers(0, 0xFFFF), src=st.integers(0, 0xFFFF), seq=st.integers(0, 255),
                 payload=st.binary(max_size=20), frame_type=st.sampled_from([0, 1, 3]),
                 protocol_version=st.integers(0, 15), discover_route=st.integers(0, 3), security=st.booleans(),
                 radius=st.integers(0, 255), dst_ieee=st.none() | st.integers(0, 2**64 - 1),
                 src_ieee=st.none() | st.integers(0, 2**64 - 1), multicast_control=st.none() | st.integers(0, 255),
                 source_route=st.none() | st.builds(SourceRoute, st.integers(0, 255),
                                                    st.lists(st.integers(0, 0xFFFF), max_size=5).map(tuple)),
                 end_device_initiator=st.booleans()))
def test_nwk_round_trip_property(f):
    assert decode_nwk(encode_nwk(f)) == f


def _valid_corpus():
    out = [encode_nwk_command(c) for c in NWK_COMMANDS] + [encode_aps_command(c) for c in APS_COMMANDS]
    out.append(encode_nwk(NwkFrame(dst=1, src=2, seq=3, payload=b"ab", src_ieee=DEV, dst_ieee=TC,
                                   multicast_control=1, source_route=SourceRoute(0, (1, 2)))))
    out.append(encode_aps(ApsFrame(aps.APS_FRAME_ACK, counter=4, dst_endpoint=1, cluster=1, profile=1,
                                   src_endpoint=1, fragmentation=1, block_number=0, ack_bitfield=1)))
    out.append(encode_aps(ApsFrame(aps.APS_FRAME_DATA, aps.APS_DELIVERY_GROUP, 1, group=5, cluster=1, profile=1,
                                   src_endpoint=1, payload=b"x")))
    return out


@settings(max_examples=1500, deadline=None)
@given(st.sampled_from(_valid_corpus()), st.integers(0, 60), st.binary(min_size=1, max_size=3), st.booleans())
def test_mutated_valid_frames_raise_only_codec_error(data, pos, junk, truncate):
    pos = pos % (len(data) + 1)
    bad = data[:pos] if truncate else data[:pos] + junk + data[pos + len(junk):]
    for fn in (decode_nwk, decode_aps, decode_nwk_command, decode_aps_command):
        try:
            fn(bad)
        except CodecError:
            pass
