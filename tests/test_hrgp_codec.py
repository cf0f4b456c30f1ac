"""GB-HRGP framing and the Tunneling commands, byte for byte against the spec.

Expected bytes are written out from the layouts in spec/han-zigbee-wireshark.md 4.6 (the
Tunneling command table, the GBCS tunnel framing table and the anchor flow: RequestTunnel
protocol 6, RequestTunnelResponse tunnel 0 / status 0 / max 1500) and
spec/gbcs-wire-format.md 6; the GBCS message carried is an RTDS reference message.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from protocols.errors import CodecError
from protocols.hrgp.codec import (MAX_GBCS_MESSAGE, CloseTunnel, Get, GetResponse, Put, RequestTunnel,
                                  RequestTunnelResponse, TransferData, TransferDataError, TunnelClosureNotification,
                                  decode_hrgp, encode_hrgp, from_zcl, to_zcl)
from protocols.zcl.frame import decode_zcl, encode_zcl
from tests.gbcs_helpers import RTDS

needs_rtds = pytest.mark.skipif(not RTDS.is_dir() and not os.environ.get("CI"), reason="shared RTDS data not present")

ECS17C = RTDS / "4.16_ECS17c" / "ECS17c_4.16_SUCCESS_COMMAND_GBCS.HEX"


def rtds_message(path: Path) -> bytes:
    return bytes.fromhex(path.read_text().strip())


# ----------------------------------------------------------------------------- GBCS tunnel framing

def test_get_is_one_octet() -> None:
    assert encode_hrgp(Get()) == b"\x01"
    assert decode_hrgp(b"\x01") == Get()


@needs_rtds
def test_get_response_and_put_carry_the_message_unchanged() -> None:
    message = rtds_message(ECS17C)
    assert encode_hrgp(GetResponse(3, message)) == b"\x02\x03" + message
    assert decode_hrgp(b"\x02\x03" + message) == GetResponse(3, message)
    assert encode_hrgp(Put(message)) == b"\x03" + message
    assert decode_hrgp(b"\x03" + message) == Put(message)


def test_empty_get_response_has_only_the_remaining_count() -> None:
    assert encode_hrgp(GetResponse(0)) == b"\x02\x00"
    assert decode_hrgp(b"\x02\x00") == GetResponse(0, b"")


@pytest.mark.parametrize("data, field", [
    (b"", "command"),
    (b"\x04", "command"),
    (b"\x01\x00", "command"),
    (b"\x02", "remaining"),
    (b"\x03", "message"),
    (b"\x03\x30\x00", "message"),          # not 0xDD / 0xDF
    (b"\x02\x00\x11", "message"),
])
def test_malformed_tunnel_data_names_the_field(data: bytes, field: str) -> None:
    with pytest.raises(CodecError) as e:
        decode_hrgp(data)
    assert e.value.field == field


def test_message_size_limit() -> None:
    biggest = b"\xDF" + bytes(MAX_GBCS_MESSAGE - 1)
    assert decode_hrgp(encode_hrgp(Put(biggest))) == Put(biggest)
    with pytest.raises(CodecError):
        encode_hrgp(Put(biggest + b"\x00"))
    with pytest.raises(CodecError):
        decode_hrgp(b"\x03" + biggest + b"\x00")
    with pytest.raises(CodecError):
        encode_hrgp(GetResponse(256, b""))


# ----------------------------------------------------------------------------- Tunneling commands

def zcl_bytes(command, direction: int, tsn: int = 0x21) -> bytes:
    return encode_zcl(to_zcl(command, direction, tsn))


def test_request_tunnel_layout() -> None:
    # frame control 0x11 (cluster-specific, client->server, default response disabled), TSN, command 0x00,
    # protocol id 6 (GB-HRGP), manufacturer code 0xFFFF (LE), flow control 0, max incoming 1500 (LE)
    raw = zcl_bytes(RequestTunnel(maximum_incoming_transfer_size=1500), 0)
    assert raw == bytes.fromhex("11 21 00 06 FFFF 00 DC05")
    assert from_zcl(decode_zcl(raw)) == RequestTunnel(6, 0xFFFF, False, 1500)


def test_request_tunnel_response_layout() -> None:
    raw = zcl_bytes(RequestTunnelResponse(0, 0, 1500), 1)
    assert raw == bytes.fromhex("19 21 00 0000 00 DC05")
    assert from_zcl(decode_zcl(raw)) == RequestTunnelResponse(0, 0, 1500)


def test_transfer_data_command_ids_by_direction() -> None:
    up = zcl_bytes(TransferData(0x0102, b"\x01"), 0)
    down = zcl_bytes(TransferData(0x0102, b"\x02\x00"), 1)
    assert up == bytes.fromhex("11 21 02 0201 01")
    assert down == bytes.fromhex("19 21 01 0201 0200")
    assert from_zcl(decode_zcl(up)) == TransferData(0x0102, b"\x01")
    assert from_zcl(decode_zcl(down)) == TransferData(0x0102, b"\x02\x00")


def test_error_close_and_closure_layouts() -> None:
    assert zcl_bytes(TransferDataError(7, 2), 0) == bytes.fromhex("11 21 03 0700 02")
    assert zcl_bytes(TransferDataError(7, 1), 1) == bytes.fromhex("19 21 02 0700 01")
    assert zcl_bytes(CloseTunnel(7), 0) == bytes.fromhex("11 21 01 0700")
    assert zcl_bytes(TunnelClosureNotification(7), 1) == bytes.fromhex("19 21 06 0700")
    for raw in (bytes.fromhex("11 21 03 0700 02"), bytes.fromhex("19 21 06 0700"), bytes.fromhex("11 21 01 0700")):
        assert zcl_bytes(from_zcl(decode_zcl(raw)), decode_zcl(raw).direction) == raw


def test_commands_only_go_their_way() -> None:
    with pytest.raises(CodecError):
        to_zcl(RequestTunnel(), 1, 0)
    with pytest.raises(CodecError):
        to_zcl(TunnelClosureNotification(0), 0, 0)
    with pytest.raises(CodecError):  # GetSupportedTunnelProtocols: not part of GB-HRGP
        from_zcl(decode_zcl(bytes.fromhex("11 21 06 00")))
    with pytest.raises(CodecError):  # truncated RequestTunnelResponse
        from_zcl(decode_zcl(bytes.fromhex("19 21 00 0000")))
