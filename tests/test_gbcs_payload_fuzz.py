"""Fuzzing the GBCS payload codecs: only CodecError may escape (hypothesis).

Inputs are RTDS payloads (DCC reference data) mutated by hypothesis - truncated, bytes
flipped, inserted or overwritten - and random bytes.  Whatever decodes must be
JSON-serialisable and re-encode to exactly the input bytes.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocols.errors import CodecError
from protocols.gbcs.payloads import decode_payload, dlms, encode_payload, gbz, zcl_commands
from tests.gbcs_helpers import RTDS, split_rtds, time_limit




def _split(hexstr: str) -> tuple[int, int, bytes]:
    return split_rtds(hexstr)[:3]


def _seeds() -> dict[str, list[tuple[int, int, bytes]]]:
    out: dict[str, list] = {"dlms": [], "gbz": [], "asn1": []}
    if RTDS.is_dir():
        for p in sorted(RTDS.rglob("*.HEX"))[::3]:
            code, cra, payload = _split(p.read_text())
            kind = "gbz" if payload[:2] == b"\x01\x09" else (
                "dlms" if payload[0] in (0xD9, 0xDA, 0x0F) else "asn1")
            if len(payload) <= 600:
                out[kind].append((code, cra, payload))
    # fallbacks written from the GBCS notes (§8.4 ECS12, §1.6 GCS14, §4.3 INTEGER alert code)
    out["dlms"] = out["dlms"] or [(0x0022, 1, bytes.fromhex(
        "D920000002000102000100005E2C03020201090C07DF0105FF000000008000FF"))]
    out["gbz"] = out["gbz"] or [(0x0075, 1, bytes.fromhex(
        "010902000700000700000000170616010705000F000100050002000100310211022102"))]
    out["asn1"] = out["asn1"] or [(0x000F, 2, bytes.fromhex("020100"))]
    return out


SEEDS = _seeds()


@st.composite
def mutated(draw, kind: str):
    code, cra, data = draw(st.sampled_from(SEEDS[kind]))
    data = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.integers(0, 4))
        pos = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == 0 and data:
            data[pos] = draw(st.integers(0, 255))
        elif op == 1:
            data = data[:pos]
        elif op == 2:
            data[pos:pos] = draw(st.binary(min_size=1, max_size=4))
        elif op == 3 and data:
            del data[pos:pos + draw(st.integers(1, 4))]
        elif op == 4 and data:
            data[pos] ^= 1 << draw(st.integers(0, 7))
    if draw(st.booleans()):
        code = draw(st.sampled_from([code, 0x0008, 0x00CD, 0x00CF, 0x00F2, 0x0102, 0x0012, 0x1234]))
    return code, draw(st.sampled_from([cra, 1, 2, 3])), bytes(data)




def _check(code: int, cra: int, data: bytes) -> None:
    try:
        with time_limit(5):
            tree = decode_payload(code, cra, data)
    except CodecError:
        return
    text = json.dumps(tree)
    assert encode_payload(json.loads(text)) == data


_FUZZ = settings(max_examples=1000, deadline=None, database=None,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@_FUZZ
@given(mutated("dlms"))
def test_fuzz_dlms_payloads(case):
    _check(*case)


@_FUZZ
@given(mutated("gbz"))
def test_fuzz_gbz_payloads(case):
    _check(*case)


@settings(max_examples=600, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(mutated("asn1"))
def test_fuzz_asn1_payloads(case):
    _check(*case)


@_FUZZ
@given(st.integers(0, 0xFFFF), st.integers(0, 4), st.binary(max_size=64))
def test_fuzz_random_bytes_any_dispatch(code, cra, data):
    _check(code, cra, data)


@_FUZZ
@given(st.sampled_from(sorted({k[0] for k in zcl_commands.COMMANDS} | {0x0000, 0x0702})),
       st.sampled_from([0x00, 0x01, 0x08, 0x09, 0x19, 0x1D]), st.integers(0, 16),
       st.binary(max_size=48))
def test_fuzz_zcl_command_payloads(cluster, fc, cmd, data):
    try:
        tree = zcl_commands.decode_zcl_payload(cluster, fc, cmd, data)
    except CodecError:
        return
    json.dumps(tree)
    assert zcl_commands.encode_zcl_payload(cluster, fc, cmd, tree) == data


@_FUZZ
@given(st.binary(max_size=40))
def test_fuzz_dlms_data(data):
    try:
        node = dlms.data_from_bytes(data)
    except CodecError:
        return
    assert dlms.data_to_bytes(json.loads(json.dumps(node))) == data


_json = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.text(max_size=8)
    | st.sampled_from(["null-data", "structure", "octet-string", "Access-Request", "dlms", "gbz",
                       "asn1", "ZZ", "0102"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["kind", "type", "value", "apdu", "components", "asn1_type", "zcl",
                         "cluster_id", "extended_header_control", "frame_control", "command_id",
                         "payload", "access_request_specification", "long_invoke_id_and_priority",
                         "alert_code", "time_stamp", "length_form", "protected", "ciphertext"]),
        inner, max_size=6),
    max_leaves=20)


@_FUZZ
@given(st.one_of(
    _json,
    st.fixed_dictionaries({"kind": st.sampled_from(["dlms", "gbz", "asn1"])}, optional={
        "apdu": st.sampled_from(["Access-Request", "Access-Response", "Data-Notification"]),
        "long_invoke_id_and_priority": _json, "date_time": _json, "notification_body": _json,
        "access_request_specification": _json, "access_request_list_of_data": _json,
        "components": _json, "profile_id": _json, "asn1_type": st.sampled_from(
            ["SetClockCommand", "Certificate", "generic-DER", "JoinDeviceResponse", "Nope"]),
        "value": _json, "alert_code": _json, "time_stamp": _json, "length_encoding": _json})))
def test_fuzz_encoder_trees(tree):
    try:
        out = encode_payload(tree)
    except CodecError:
        return
    assert isinstance(out, bytes)


def test_gbz_component_builder_is_fuzz_safe():
    comp = gbz.build_component(0x0702, 0x01, 1, 0x06, {"Bogus": 1})
    try:
        gbz.encode_gbz({"kind": "gbz", "components": [comp]})
    except CodecError:
        pass


@pytest.mark.parametrize("rule", [[-1], [None], [200], [127], [True], "bogus"])
def test_bad_asn1_length_encoding_is_a_codec_error(rule):
    """A length_encoding that is not 'der', 'gbcs' or a list of length octet counts 0-126
    (found by the tree fuzzer) is refused with a clear error, not an exception."""
    tree = {"kind": "asn1", "asn1_type": "JoinDeviceResponse", "value": 0, "length_encoding": rule}
    with pytest.raises(CodecError, match="length_encoding"):
        encode_payload(tree)
    assert encode_payload({**tree, "length_encoding": [1]}) == bytes.fromhex("02810100")
