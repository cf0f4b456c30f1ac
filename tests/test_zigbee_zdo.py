"""ZDP codecs: byte layouts from the ZigBee spec tables (and the notes' 3.2 Device_annce),
scapy cross-checks, round trips, CodecError on garbage.  tshark decodes of every message
are in test_zigbee_tshark.py."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocols.errors import CodecError
from protocols.zigbee import zdo
from protocols.zigbee.zdo import decode_zdp, encode_zdp

H = bytes.fromhex
DEV = 0x00124B00AABBCCDD
DEV_LE = DEV.to_bytes(8, "little")

SE_DESC = zdo.SimpleDescriptor(1, 0x0109, 0x0501, 1, (0x0000, 0x0003, 0x0702, 0x0700), (0x000A,))
NODE_DESC = zdo.NodeDescriptor(logical_type=2, mac_capability=0x80, manufacturer_code=0x1234,
                               frequency_band=0x08, server_mask=0x0000)

MESSAGES = [
    zdo.NwkAddrReq(DEV, 1, 0),
    zdo.IeeeAddrReq(0x4B2A),
    zdo.NwkAddrRsp(0, DEV, 0x4B2A),
    zdo.NwkAddrRsp(0, DEV, 0x4B2A, 0, (0x0001, 0x0002)),
    zdo.IeeeAddrRsp(0, DEV, 0x4B2A, 0, ()),
    zdo.NodeDescReq(0x4B2A),
    zdo.NodeDescRsp(0, 0x4B2A, NODE_DESC),
    zdo.NodeDescRsp(zdo.ZDP_DEVICE_NOT_FOUND, 0x4B2A),
    zdo.SimpleDescReq(0x4B2A, 1),
    zdo.SimpleDescRsp(0, 0x4B2A, SE_DESC),
    zdo.SimpleDescRsp(zdo.ZDP_NOT_ACTIVE, 0x4B2A),
    zdo.ActiveEpReq(0x4B2A),
    zdo.ActiveEpRsp(0, 0x4B2A, (1, 2)),
    zdo.MatchDescReq(0xFFFD, 0x0109, (0x0800,), ()),
    zdo.MatchDescRsp(0, 0x0000, (1,)),
    zdo.DeviceAnnce(0x4B2A, DEV, 0x80),
    zdo.MgmtLeaveReq(DEV, remove_children=False, rejoin=True),
    zdo.MgmtLeaveRsp(0),
    zdo.MgmtPermitJoiningReq(60, 1),
    zdo.MgmtPermitJoiningRsp(0),
]


@pytest.mark.parametrize("msg", MESSAGES, ids=lambda m: type(m).__name__)
def test_round_trip(msg):
    data = encode_zdp(0x42, msg)
    assert data[0] == 0x42
    assert decode_zdp(msg.CLUSTER_ID, data, strict=True) == (0x42, msg)


def test_cluster_ids_per_zdp():
    assert zdo.DeviceAnnce.CLUSTER_ID == 0x0013
    assert (zdo.ActiveEpReq.CLUSTER_ID, zdo.ActiveEpRsp.CLUSTER_ID) == (0x0005, 0x8005)
    assert (zdo.SimpleDescReq.CLUSTER_ID, zdo.SimpleDescRsp.CLUSTER_ID) == (0x0004, 0x8004)
    assert (zdo.MatchDescReq.CLUSTER_ID, zdo.MatchDescRsp.CLUSTER_ID) == (0x0006, 0x8006)
    assert (zdo.NodeDescReq.CLUSTER_ID, zdo.NodeDescRsp.CLUSTER_ID) == (0x0002, 0x8002)
    assert (zdo.MgmtLeaveReq.CLUSTER_ID, zdo.MgmtPermitJoiningReq.CLUSTER_ID) == (0x0034, 0x0036)


def test_device_annce_bytes():
    # notes 3.2: sequence (1), NWK address (2), IEEE (8), capability (1)
    assert encode_zdp(5, zdo.DeviceAnnce(0x4B2A, DEV, 0x80)) == H("05" "2A4B") + DEV_LE + H("80")


def test_device_annce_and_active_ep_by_scapy():
    from scapy.config import conf
    conf.dot15d4_protocol = "zigbee"
    from scapy.layers import zigbee as z
    p = z.ZDPDeviceAnnce(encode_zdp(5, zdo.DeviceAnnce(0x4B2A, DEV, 0x8E))[1:])
    assert p.nwk_addr == 0x4B2A and p.ieee_addr == DEV
    assert p.allocate_address == 1 and p.receiver_on_when_idle == 1 and p.power_source == 1 and p.device_type == 1
    p = z.ZDPActiveEPReq(encode_zdp(1, zdo.ActiveEpReq(0x4B2A))[1:])
    assert p.nwk_addr == 0x4B2A


def test_simple_desc_rsp_bytes():
    data = encode_zdp(1, zdo.SimpleDescRsp(0, 0x4B2A, SE_DESC))
    body = H("01" "0901" "0105" "01" "04" "0000" "0300" "0207" "0007" "01" "0A00")
    assert data == H("01" "00" "2A4B") + bytes((len(body),)) + body


def test_node_desc_bytes():
    data = encode_zdp(1, zdo.NodeDescRsp(0, 0x0000, zdo.NodeDescriptor(0, 0x8F, 0x1234, server_mask=0x0001)))
    # logical type 0, band 2.4 GHz (0x40 in byte 1), capability, manufacturer, buffer 82,
    # incoming 82, server mask 1 (primary TC), outgoing 82, descriptor capability 0
    assert data == H("01" "00" "0000" "00" "40" "8F" "3412" "52" "5200" "0100" "5200" "00")


def test_match_desc_req_bytes():
    data = encode_zdp(3, zdo.MatchDescReq(0xFFFD, 0x0109, (0x0800,), ()))
    assert data == H("03" "FDFF" "0901" "01" "0008" "00")


def test_simple_desc_length_mismatch_rejected():
    data = bytearray(encode_zdp(1, zdo.SimpleDescRsp(0, 0x4B2A, SE_DESC)))
    data[4] += 1
    data += b"\x00"
    with pytest.raises(CodecError) as e:
        decode_zdp(0x8004, bytes(data))
    assert e.value.field.startswith("zdp.simple_desc_rsp")


def test_unknown_cluster_and_truncation():
    with pytest.raises(CodecError) as e:
        decode_zdp(0x0099, b"\x01")
    assert e.value.field == "zdp.cluster_id"
    with pytest.raises(CodecError) as e:
        decode_zdp(0x0013, H("01" "2A4B" "DDCC"))
    assert e.value.field == "zdp.device_annce.ieee" and e.value.offset == 3


@settings(max_examples=1500, deadline=None)
@given(st.sampled_from(sorted(zdo.ZDP_MESSAGES)), st.binary(max_size=40))
def test_garbage_raises_only_codec_error(cluster, data):
    try:
        decode_zdp(cluster, data)
    except CodecError:
        pass


@settings(max_examples=1000, deadline=None)
@given(st.sampled_from(MESSAGES), st.integers(0, 40), st.binary(min_size=1, max_size=3), st.booleans())
def test_mutated_valid_messages_raise_only_codec_error(msg, pos, junk, truncate):
    data = encode_zdp(1, msg)
    pos = pos % (len(data) + 1)
    bad = data[:pos] if truncate else data[:pos] + junk + data[pos + len(junk):]
    try:
        decode_zdp(msg.CLUSTER_ID, bad, strict=True)
    except CodecError:
        pass
