"""GBCS framing (DD / DF) against the spec's byte layouts and the DCC RTDS reference messages."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from protocols.errors import CodecError
from protocols.gbcs.framing import (CRA_ALERT, CRA_COMMAND, CRA_RESPONSE, GeneralCiphering, GeneralSigning,
                                    OtherInformation, decode_frame, decode_length, encode_frame,
                                    encode_general_signing, encode_length, signed_bytes)

from tests.conftest import RTDS, needs, needs_rtds


def rtds_files() -> list[Path]:
    return sorted(RTDS.rglob("*.HEX")) if RTDS.is_dir() else []


def load(path: Path) -> bytes:
    return bytes.fromhex(path.read_text().strip())


# spec section 1.6: the annotated GCS14 command, transcribed from the annotation (its ciphered
# content length 0x57 = 87 makes the message 95 bytes; the "89 bytes" in the heading is a slip)
GCS14 = bytes.fromhex(
    "DD000000000000" "57" "1100000000"
    "DF" "090100000000000003E8" "0890B3D51F30010000" "0800DB1234567890A3" "00" "020075" "23"
    "010902"
    "000700000700000017061606"
    "010705000F000100050002000100310211022102"
    "00"
    "1FC3343ED312403F4BF700AB")

# spec section 8.4: synthetic ECS12 command and response
ECS12_CMD = bytes.fromhex(
    "DD000000000000541100000000DF0901000000000000000208123456789ABCDEF008FFFFFFFFFFFFFFFE"
    "0002002220D920000002000102000100005E2C03020201090C07DF0105FF000000008000FF00"
    "0F1DD00D6745EBD8E0A663A4")
ECS12_RSP = bytes.fromhex(
    "DD000000000000401100000000DF0902000000000000000208FFFFFFFFFFFFFFFE08123456789ABCDEF0"
    "000200220CDA200000020000010001020000"
    "0B3C1B312CEAE9C130060E29")


@pytest.mark.parametrize("n, encoded", [(0, "00"), (0x7F, "7F"), (0x80, "8180"), (0xA3, "81A3"),
                                        (0xFF, "81FF"), (0x100, "820100"), (0x050B, "82050B")])
def test_length_forms(n, encoded):
    assert encode_length(n).hex().upper() == encoded
    assert decode_length(bytes.fromhex(encoded), 0, "len") == (n, len(encoded) // 2)


@pytest.mark.parametrize("bad", ["", "81", "8200", "8107", "820080", "80", "85" + "00" * 5])
def test_length_errors(bad):
    with pytest.raises(CodecError) as e:
        decode_length(bytes.fromhex(bad), 0, "content")
    assert e.value.field == "content" and e.value.offset == 0


def test_annotated_gcs14_example():
    assert len(GCS14) == 95
    f = decode_frame(GCS14)
    gs = f.signing
    assert f.ciphering is not None and f.ciphering.mac == bytes.fromhex("1FC3343ED312403F4BF700AB")
    assert f.ciphering.security_control == 0x11 and f.ciphering.invocation_counter == 0
    assert gs.cra_flag == CRA_COMMAND and gs.originator_counter == 1000
    assert gs.originator == 0x90B3D51F30010000 and gs.recipient == 0x00DB1234567890A3
    assert gs.date_time is None and gs.message_code == 0x0075
    assert gs.other_information == OtherInformation(0x0075)
    assert len(gs.content) == 35 and gs.content[:3] == bytes.fromhex("010902")
    assert gs.signature == b""
    assert f.apdu == GCS14[13:-12]
    assert f.signed_data == GCS14[14:-13]          # transaction-id .. content (section 1.4)
    assert signed_bytes(gs) == f.signed_data
    assert f.content_offset == GCS14.index(bytes.fromhex("2301")) + 1
    assert encode_frame(gs, f.ciphering) == GCS14


def test_synthetic_ecs12_pair():
    cmd, rsp = decode_frame(ECS12_CMD).signing, decode_frame(ECS12_RSP).signing
    assert (cmd.cra_flag, rsp.cra_flag) == (CRA_COMMAND, CRA_RESPONSE)
    assert cmd.originator == rsp.recipient == 0x123456789ABCDEF0
    assert cmd.recipient == rsp.originator == 0xFFFFFFFFFFFFFFFE
    assert cmd.originator_counter == rsp.originator_counter == 2
    assert cmd.message_code == rsp.message_code == 0x0022
    assert cmd.content[0] == 0xD9 and rsp.content[0] == 0xDA


def test_build_from_fields():
    gs = GeneralSigning(CRA_ALERT, 2000, 0x00DB1234567890A0, 0x90B3D51F30010000, None,
                        OtherInformation(0x1001), b"\x0f\x00", b"")
    apdu = encode_general_signing(gs)
    assert apdu.hex().upper() == ("DF090300000000000007D00800DB1234567890A00890B3D51F30010000"
                                  "0002100102" "0F00" "00")
    msg = encode_frame(gs, GeneralCiphering(b"\x01" * 12))
    assert msg[:8] == bytes.fromhex("DD000000000000") + bytes([5 + len(apdu) + 12])
    assert decode_frame(msg).signing == gs


def test_other_information_variants():
    cert = bytes.fromhex("3003020101")
    cases = [OtherInformation(0x27), OtherInformation(0x123, 0x90B3D51F30010008),
             OtherInformation(0x35, 0x90B3D51F30010000, 1000),
             OtherInformation(0x34, 0x90B3D51F30010000, 1000, 0x1234),
             OtherInformation(0x34, 0x90B3D51F30010000, 1000, None, cert),
             OtherInformation(0x34, 0x90B3D51F30010000, 1000, 77, cert)]
    lengths = [2, 10, 18, 26, 23, 31]
    for oi, n in zip(cases, lengths):
        raw = oi.encode()
        assert len(raw) == n
        assert OtherInformation.decode(raw) == oi
    for bad in ("00", "0001" + "00" * 3, "0001" + "00" * 12, "0001" + "00" * 16 + "3099"):
        with pytest.raises(CodecError):
            OtherInformation.decode(bytes.fromhex(bad))


@pytest.mark.parametrize("mutate, field", [
    (lambda b: b[:-1], "general_ciphering.ciphered_content"),
    (lambda b: b + b"\x00", "general_ciphering.ciphered_content"),
    (lambda b: b"\xdc" + b[1:], "tag"),
    (lambda b: b[:1] + b"\x01" + b[2:], "general_ciphering.key_info"),
    (lambda b: b[:13] + b"\xde" + b[14:], "general_signing.tag"),
    (lambda b: b[:14] + b"\x08" + b[15:], "general_signing.transaction_id"),
    (lambda b: b[:15] + b"\x07" + b[16:], "general_signing.transaction_id.cra_flag"),
    (lambda b: b[:42] + b"\x05" + b[43:], "general_signing.date_time"),
    (lambda b: b[:-13] + b"\x01" + b[-12:], "general_signing.signature"),
])
def test_garbled_gcs14(mutate, field):
    with pytest.raises(CodecError) as e:
        decode_frame(mutate(GCS14))
    assert e.value.field == field


def test_every_prefix_of_examples_raises_codec_error():
    for msg in (GCS14, ECS12_CMD, ECS12_RSP):
        for n in range(len(msg)):
            with pytest.raises(CodecError):
                decode_frame(msg[:n])


_KIND = re.compile(r"_(COMMAND|PRECOMMAND|RESPONSE|ALERT)(_|$)")


@needs_rtds
def test_rtds_framing_round_trip_and_kinds():
    files = rtds_files()
    assert len(files) > 100
    seen = set()
    for path in files:
        data = load(path)
        f = decode_frame(data)
        assert encode_frame(f.signing, f.ciphering) == data, path.name
        kind = _KIND.search(path.stem).group(1)
        gs = f.signing
        expected_cra = {"COMMAND": 1, "PRECOMMAND": 1, "RESPONSE": 2, "ALERT": 3}[kind]
        assert gs.cra_flag == expected_cra, path.name
        if kind == "PRECOMMAND":
            assert gs.signature is None and f.ciphering is None, path.name
        else:
            assert gs.signature is not None, path.name
        if f.ciphering is not None:
            assert data[:7] == bytes.fromhex("DD000000000000")
        seen.add((kind, f.ciphering is not None, None if gs.signature is None else len(gs.signature)))
    # the kinds of section 0's table all occur
    assert ("COMMAND", True, 0) in seen and ("RESPONSE", False, 64) in seen and ("PRECOMMAND", False, None) in seen


@needs_rtds
def test_rtds_precommand_is_command_minus_signature():
    pairs = 0
    for pre in rtds_files():
        if "_PRECOMMAND_" not in pre.name:
            continue
        cmd = pre.with_name(pre.name.replace("_PRECOMMAND_", "_COMMAND_"))
        if not cmd.exists():
            continue
        cf, pf = decode_frame(load(cmd)), decode_frame(load(pre))
        assert cf.apdu[:-65] == pf.apdu and len(cf.signing.signature) == 64, pre.name
        pairs += 1
    assert pairs > 10


@needs_rtds
def test_rtds_response_echoes_command_header():
    pairs = 0
    for cmd in rtds_files():
        if "_COMMAND_" not in cmd.name or "_PRECOMMAND_" in cmd.name:
            continue
        rsp = cmd.with_name(cmd.name.replace("_COMMAND_", "_RESPONSE_"))
        if not rsp.exists():
            continue
        c, r = decode_frame(load(cmd)).signing, decode_frame(load(rsp)).signing
        assert (r.originator, r.recipient) == (c.recipient, c.originator), rsp.name
        assert r.originator_counter == c.originator_counter and r.message_code == c.message_code
        assert r.other_information.encode()[:18] == c.other_information.encode()[:18]
        pairs += 1
    assert pairs > 100


@needs(RTDS / "4.14_ECS21b")
def test_rtds_urp_other_information():
    folder = RTDS / "4.14_ECS21b"
    cmd = decode_frame(load(folder / "ECS21b_4.14_URP_SUCCESS_COMMAND_GBCS.HEX")).signing
    rsp = decode_frame(load(folder / "ECS21b_4.14_URP_SUCCESS_RESPONSE_GBCS.HEX")).signing
    cert = cmd.other_information.supplementary_remote_party_ka_certificate
    assert cert is not None and cert[0] == 0x30 and len(cmd.other_information.encode()) > 400
    assert cmd.originator == 0x90B3D51F30000002   # the ACB acts on behalf of the SRP
    assert rsp.other_information.supplementary_originator_counter is not None
    assert rsp.other_information.supplementary_remote_party_id == cmd.other_information.supplementary_remote_party_id
