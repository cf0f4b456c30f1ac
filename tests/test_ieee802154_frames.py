"""Codec tests for protocols.ieee802154 (frames, commands, beacon).

Expected values come from outside our code: the CRC-16/KERMIT check value, the Frame Control
values of han-zigbee-wireshark.md 2.1 (verified there with tshark), and frames built
independently by scapy's Dot15d4FCS layers.
"""

from __future__ import annotations

import logging

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocols.errors import CodecError
from protocols.ieee802154 import (
    ADDR_EXTENDED, ADDR_NONE, ADDR_SHORT, FRAME_ACK, FRAME_BEACON, FRAME_COMMAND, FRAME_DATA,
    AssociationRequest, AssociationResponse, Beacon, BeaconRequest, CoordinatorRealignment, DataRequest,
    DisassociationNotification, GtsDescriptor, GtsRequest, MacFrame, OrphanNotification,
    PanIdConflictNotification, SuperframeSpec, ZigbeeBeaconPayload, ack_frame, association_request_frame,
    association_response_frame, beacon_frame, beacon_request_frame, coordinator_realignment_frame, data_frame,
    data_request_frame, decode_beacon, decode_command, decode_mac, decode_zigbee_beacon_payload,
    disassociation_notification_frame, encode_ack, encode_beacon, encode_command, encode_data_frame, encode_mac,
    encode_zigbee_beacon_payload, fcs, fcs_table_driven, orphan_notification_frame,
)

logging.getLogger("scapy.runtime").setLevel(logging.ERROR)

CH_EUI = 0x00124B0001020304
GSME_EUI = 0x00124B00AABBCCDD
PAN = 0x1A62


# --- FCS -------------------------------------------------------------------------------------

def test_fcs_check_value():
    # CRC-16/KERMIT check value (catalogue of parametrised CRC algorithms).
    assert fcs(b"123456789") == 0x2189
    assert fcs_table_driven(b"123456789") == 0x2189


@given(st.binary(max_size=200))
@settings(max_examples=300, deadline=None)
def test_fast_fcs_equals_table_driven(data):
    assert fcs(data) == fcs_table_driven(data)


def test_fcs_over_frame_with_fcs_is_zero():
    psdu = encode_mac(data_frame(1, PAN, 0, 0x4B2A, b"abc"))
    assert fcs(psdu) == 0
    assert int.from_bytes(psdu[-2:], "little") == fcs(psdu[:-2])


# --- Frame Control values of spec 2.1 --------------------------------------------------------

@pytest.mark.parametrize("frame, fcf", [
    (data_frame(1, PAN, 0x0000, 0x4B2A, b"x"), 0x8861),
    (data_frame(1, PAN, 0xFFFF, 0x4B2A, b"x"), 0x8841),
    (ack_frame(1), 0x0002),
    (beacon_request_frame(1), 0x0803),
    (beacon_frame(1, PAN, 0x0000, Beacon(SuperframeSpec(pan_coordinator=True, association_permit=True))), 0x8000),
    (association_request_frame(1, PAN, 0x0000, GSME_EUI, 0x80), 0xC823),
    (data_request_frame(1, PAN, 0x0000, GSME_EUI), 0xC863),
    (data_request_frame(1, PAN, 0x0000, 0x4B2A), 0x8863),
    (association_response_frame(1, PAN, GSME_EUI, CH_EUI, 0x4B2A, 0), 0xCC63),
])
def test_constructor_frame_control(frame, fcf):
    assert frame.frame_control == fcf
    psdu = encode_mac(frame)
    assert int.from_bytes(psdu[:2], "little") == fcf
    assert decode_mac(psdu) == frame


def test_ack_is_five_bytes():
    psdu = encode_mac(ack_frame(0x42))
    assert len(psdu) == 5
    assert psdu == encode_ack(0x42)
    assert encode_ack(0x42, frame_pending=True) == encode_mac(ack_frame(0x42, frame_pending=True))
    assert decode_mac(encode_ack(7, True)).frame_pending


def test_beacon_superframe_spec_value():
    # Spec 2.3: a permitting PAN coordinator of a non-beacon network sends 0xCFFF.
    assert SuperframeSpec(pan_coordinator=True, association_permit=True).to_int() == 0xCFFF
    assert SuperframeSpec.from_int(0xCFFF) == SuperframeSpec(pan_coordinator=True, association_permit=True)
    assert SuperframeSpec().to_int() == 0x0FFF


def test_zigbee_beacon_payload_layout():
    raw = encode_zigbee_beacon_payload(ZigbeeBeaconPayload(CH_EUI, router_capacity=True,
                                                           end_device_capacity=True, device_depth=0))
    # Spec 2.3 byte table: protocol id 0, 0x22, capacity bits, EPID LE, tx offset 0xFFFFFF, update id.
    assert raw == bytes.fromhex("00" "22" "84" "0403020100" "4b1200" "ffffff" "00")
    assert decode_zigbee_beacon_payload(raw).extended_pan_id == CH_EUI
    assert decode_zigbee_beacon_payload(raw).stack_profile == 2
    with pytest.raises(CodecError):
        decode_zigbee_beacon_payload(raw[:14])


# --- against scapy (independent builder) ------------------------------------------------------

def _scapy():
    from scapy.config import conf
    from scapy.layers import dot15d4
    conf.dot15d4_protocol = "zigbee"
    return dot15d4


def test_matches_scapy_data_frame():
    d = _scapy()
    ref = bytes(d.Dot15d4FCS(fcf_frametype=1, fcf_ackreq=1, fcf_panidcompress=1, fcf_destaddrmode=2,
                             fcf_srcaddrmode=2, seqnum=5)
                / d.Dot15d4Data(dest_panid=PAN, dest_addr=0, src_addr=0x4B2A) / b"hello")
    assert encode_mac(data_frame(5, PAN, 0, 0x4B2A, b"hello")) == ref
    assert decode_mac(ref) == data_frame(5, PAN, 0, 0x4B2A, b"hello")


def test_matches_scapy_association_request():
    d = _scapy()
    ref = bytes(d.Dot15d4FCS(fcf_frametype=3, fcf_ackreq=1, fcf_destaddrmode=2, fcf_srcaddrmode=3, seqnum=1)
                / d.Dot15d4Cmd(dest_panid=PAN, dest_addr=0, src_panid=0xFFFF, src_addr=GSME_EUI, cmd_id=1)
                / d.Dot15d4CmdAssocReq(allocate_address=1))
    assert encode_mac(association_request_frame(1, PAN, 0, GSME_EUI, 0x80)) == ref
    frame = decode_mac(ref)
    assert frame.src_addr == GSME_EUI
    assert decode_command(frame.payload) == AssociationRequest(0x80)


def test_matches_scapy_association_response():
    d = _scapy()
    ref = bytes(d.Dot15d4FCS(fcf_frametype=3, fcf_ackreq=1, fcf_panidcompress=1, fcf_destaddrmode=3,
                             fcf_srcaddrmode=3, seqnum=9)
                / d.Dot15d4Cmd(dest_panid=PAN, dest_addr=GSME_EUI, src_addr=CH_EUI, cmd_id=2)
                / d.Dot15d4CmdAssocResp(short_address=0x4B2A, association_status=0))
    assert encode_mac(association_response_frame(9, PAN, GSME_EUI, CH_EUI, 0x4B2A, 0)) == ref


def test_matches_scapy_beacon():
    d = _scapy()
    ref = bytes(d.Dot15d4FCS(fcf_frametype=0, fcf_srcaddrmode=2, fcf_destaddrmode=0, seqnum=77)
                / d.Dot15d4Beacon(src_panid=PAN, src_addr=0, sf_pancoord=1, sf_assocpermit=1,
                                  gts_spec_permit=0))
    assert encode_mac(beacon_frame(77, PAN, 0, Beacon(SuperframeSpec(pan_coordinator=True,
                                                                      association_permit=True)))) == ref


def test_matches_scapy_beacon_request():
    d = _scapy()
    ref = bytes(d.Dot15d4FCS(fcf_frametype=3, fcf_destaddrmode=2, fcf_srcaddrmode=0, seqnum=3)
                / d.Dot15d4Cmd(dest_panid=0xFFFF, dest_addr=0xFFFF, cmd_id=7))
    assert encode_mac(beacon_request_frame(3)) == ref


_any_address = st.one_of(st.integers(0, 0xFFFF), st.integers(0x10000, 2**64 - 1))


@given(st.integers(0, 255), _any_address, _any_address, st.integers(0, 0xFFFF), st.binary(max_size=80),
       st.booleans(), st.booleans())
@settings(max_examples=300, deadline=None)
def test_encode_data_frame_fast_path(seq, dst, src, pan, payload, ack, pending):
    try:
        expected = encode_mac(data_frame(seq, pan, dst, src, payload, ack_request=ack, frame_pending=pending))
    except CodecError:
        with pytest.raises(CodecError):
            encode_data_frame(seq, pan, dst, src, payload, ack_request=ack, frame_pending=pending)
        return
    assert encode_data_frame(seq, pan, dst, src, payload, ack_request=ack, frame_pending=pending) == expected


# --- commands and beacon round trips ---------------------------------------------------------

@pytest.mark.parametrize("command, raw", [
    (AssociationRequest(0x8E), "018e"),
    (AssociationResponse(0x4B2A, 2), "022a4b02"),
    (DisassociationNotification(2), "0302"),
    (DataRequest(), "04"),
    (PanIdConflictNotification(), "05"),
    (OrphanNotification(), "06"),
    (BeaconRequest(), "07"),
    (CoordinatorRealignment(PAN, 0, 11, 0x4B2A), "08621a00000b2a4b"),
    (CoordinatorRealignment(PAN, 0, 11, 0x4B2A, 0), "08621a00000b2a4b00"),
    (GtsRequest(0x12), "0912"),
])
def test_command_codec(command, raw):
    assert encode_command(command).hex() == raw
    assert decode_command(bytes.fromhex(raw)) == command


@pytest.mark.parametrize("raw", ["", "00", "0a", "ff", "01", "0101ff", "022a4b", "08621a00000b2a4b0000"])
def test_command_codec_rejects(raw):
    with pytest.raises(CodecError):
        decode_command(bytes.fromhex(raw))


def test_beacon_with_gts_and_pending_round_trip():
    b = Beacon(SuperframeSpec(beacon_order=6, superframe_order=4, final_cap_slot=9, pan_coordinator=True),
               gts_permit=True, gts=(GtsDescriptor(0x1234, 10, 2, True), GtsDescriptor(0x5678, 12, 3)),
               pending_short=(0x4B2A, 0x0001), pending_extended=(GSME_EUI,), payload=b"\x00\x22")
    raw = encode_beacon(b)
    assert decode_beacon(raw) == b
    for cut in range(len(raw) - 2):
        with pytest.raises(CodecError):
            decode_beacon(raw[:cut])


def test_other_constructors_round_trip():
    for frame in (disassociation_notification_frame(1, PAN, CH_EUI, GSME_EUI, 2),
                  orphan_notification_frame(2, GSME_EUI),
                  coordinator_realignment_frame(3, PAN, CH_EUI, 0, 11, 0x4B2A, GSME_EUI),
                  coordinator_realignment_frame(4, PAN, CH_EUI, 0, 11, 0xFFFF, channel_page=0)):
        assert decode_mac(encode_mac(frame)) == frame
        decode_command(frame.payload)
    assert orphan_notification_frame(2, GSME_EUI).frame_control == 0xC843


# --- errors ----------------------------------------------------------------------------------

def test_bad_fcs_names_fcs_field():
    psdu = bytearray(encode_mac(data_frame(1, PAN, 0, 0x4B2A, b"payload")))
    psdu[5] ^= 0x01
    with pytest.raises(CodecError) as info:
        decode_mac(bytes(psdu))
    assert info.value.field == "fcs"
    assert decode_mac(bytes(psdu), check_fcs=False).dst_addr == 0x0001


def test_truncation_names_the_field():
    psdu = encode_mac(association_response_frame(1, PAN, GSME_EUI, CH_EUI, 0x4B2A, 0))
    body = psdu[:9]   # FCF, seq, dst PAN, 4 bytes of the destination address
    frame = body + fcs(body).to_bytes(2, "little")
    with pytest.raises(CodecError) as info:
        decode_mac(frame)
    assert info.value.field == "dst_addr"
    assert info.value.offset == 5


@pytest.mark.parametrize("fcf", [0x0004, 0x0005, 0x0401, 0x4001, 0x2001, 0x3001, 0x0841, 0x8041])
def test_reserved_and_unsupported_fcf(fcf):
    body = fcf.to_bytes(2, "little") + bytes(20)
    with pytest.raises(CodecError):
        decode_mac(body + fcs(body).to_bytes(2, "little"))


def test_encode_rejects_values_that_do_not_fit():
    with pytest.raises(CodecError) as info:
        encode_mac(MacFrame(FRAME_DATA, seq=1, dst_mode=ADDR_SHORT, dst_pan=PAN, dst_addr=0x1FFFF,
                            pan_id_compression=True, src_mode=ADDR_SHORT, src_pan=PAN, src_addr=1))
    assert info.value.field == "dst_addr"
    with pytest.raises(CodecError):
        encode_mac(data_frame(1, PAN, 0, 1, bytes(120)))     # > aMaxPHYPacketSize
    with pytest.raises(CodecError):
        encode_mac(MacFrame(FRAME_DATA, dst_mode=1, dst_pan=1, dst_addr=1))
    with pytest.raises(CodecError) as info:
        encode_mac(MacFrame(FRAME_DATA, seq=256))
    assert info.value.field == "seq"
    with pytest.raises(CodecError) as info:
        encode_mac(MacFrame(FRAME_DATA, dst_mode=ADDR_SHORT, dst_pan=None, dst_addr=1))
    assert info.value.field == "dst_pan"


# --- properties ------------------------------------------------------------------------------

_short = st.integers(0, 0xFFFF)
_ext = st.integers(0x10000, 2**64 - 1)


@st.composite
def mac_frames(draw):
    frame_type = draw(st.sampled_from([FRAME_BEACON, FRAME_DATA, FRAME_ACK, FRAME_COMMAND]))
    dst_mode = draw(st.sampled_from([ADDR_NONE, ADDR_SHORT, ADDR_EXTENDED]))
    src_mode = draw(st.sampled_from([ADDR_NONE, ADDR_SHORT, ADDR_EXTENDED]))
    comp = dst_mode != ADDR_NONE and src_mode != ADDR_NONE and draw(st.booleans())
    dst_pan = draw(_short) if dst_mode else None
    dst_addr = draw(_short if dst_mode == ADDR_SHORT else _ext) if dst_mode else None
    src_pan = (dst_pan if comp else draw(_short)) if src_mode else None
    src_addr = draw(_short if src_mode == ADDR_SHORT else _ext) if src_mode else None
    return MacFrame(frame_type, draw(st.booleans()), draw(st.booleans()), draw(st.booleans()), comp,
                    draw(st.integers(0, 1)), draw(st.integers(0, 255)), dst_mode, dst_pan, dst_addr,
                    src_mode, src_pan, src_addr, draw(st.binary(max_size=60)))


@given(mac_frames())
@settings(max_examples=500, deadline=None)
def test_round_trip(frame):
    assert decode_mac(encode_mac(frame)) == frame


@given(st.binary(max_size=130))
@settings(max_examples=2000, deadline=None)
def test_garbage_raises_codec_error_only(data):
    for check in (True, False):
        try:
            decode_mac(data, check_fcs=check)
        except CodecError:
            pass
    for decoder in (decode_command, decode_beacon, decode_zigbee_beacon_payload):
        try:
            decoder(data)
        except CodecError:
            pass


@given(mac_frames(), st.data())
@settings(max_examples=400, deadline=None)
def test_truncated_or_corrupted_frames_raise_codec_error(frame, data):
    psdu = encode_mac(frame)
    cut = data.draw(st.integers(0, len(psdu) - 1))
    if cut < 5 or fcs(psdu[:cut]) != 0:    # a prefix whose CRC happens to check is a valid frame
        with pytest.raises(CodecError):
            decode_mac(psdu[:cut])
    flip = bytearray(psdu)
    flip[data.draw(st.integers(0, len(psdu) - 1))] ^= 1 << data.draw(st.integers(0, 7))
    with pytest.raises(CodecError):     # any single-bit error is caught by the CRC
        decode_mac(bytes(flip))
