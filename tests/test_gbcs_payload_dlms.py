"""DLMS/COSEM xDLMS payloads (GBCS notes §4.1): APDUs, A-XDR Data types, alerts.

Vectors: the synthetic ECS12 pair of GBCS notes §8.4 (from gbcs-parser's tests), RTDS
files (DCC), and A-XDR encodings written from the DLMS Green Book type table.
"""

from __future__ import annotations

import re

import pytest

from protocols.errors import CodecError
from protocols.gbcs.payloads import decode_payload, dlms, encode_payload
from tests.gbcs_helpers import RTDS, SHARED, needs_rtds, split_rtds


# GBCS notes §8.4: ECS12 command/response payloads (set IC1 0-0:94.44.3.2 attr 2 := date-time
# 2015-01-05; response: one null data, set-result success)
ECS12_CMD = bytes.fromhex("D920000002000102000100005E2C03020201090C07DF0105FF000000008000FF")
ECS12_RSP = bytes.fromhex("DA2000000200000100010200")


_split = split_rtds


def _rtds(pattern: str) -> list[tuple[str, tuple]]:
    return [(p.name, _split(p.read_text())) for p in sorted(RTDS.rglob(pattern))]


def test_ecs12_command_vector():
    tree = decode_payload(0x0022, 1, ECS12_CMD)
    assert tree["kind"] == "dlms" and tree["apdu"] == "Access-Request"
    assert tree["long_invoke_id_and_priority"] == 0x20000002
    (spec,) = tree["access_request_specification"]
    assert spec["choice"] == "access-request-set"
    assert (spec["class_id"], spec["obis"], spec["attribute_id"]) == (1, "0-0:94.44.3.2", 2)
    assert spec["class_name"] == "Data"
    assert spec["object_name"] == "Restrict Data Date Time"
    (value,) = tree["access_request_list_of_data"]
    assert value == {"type": "octet-string", "value": "07DF0105FF000000008000FF",
                     "date_time": value["date_time"]}
    assert value["date_time"].startswith("2015-01-05T")
    assert encode_payload(tree) == ECS12_CMD


def test_ecs12_response_vector():
    tree = decode_payload(0x0022, 2, ECS12_RSP)
    assert tree["apdu"] == "Access-Response"
    assert tree["access_request_specification"] is None
    assert tree["access_response_list_of_data"] == [{"type": "null-data"}]
    assert tree["access_response_specification"] == [
        {"choice": "access-response-set", "result": 0, "result_name": "success"}]
    assert encode_payload(tree) == ECS12_RSP


@pytest.mark.parametrize("hexdata, expected", [
    ("00", {"type": "null-data"}),
    ("0301", {"type": "boolean", "value": True}),
    ("0500000001", {"type": "double-long", "value": 1}),
    ("05FFFFFFFE", {"type": "double-long", "value": -2}),
    ("06000003E8", {"type": "double-long-unsigned", "value": 1000}),
    ("0F80", {"type": "integer", "value": -128}),
    ("10FFFE", {"type": "long", "value": -2}),
    ("11FF", {"type": "unsigned", "value": 255}),
    ("12FFFF", {"type": "long-unsigned", "value": 65535}),
    ("14FFFFFFFFFFFFFFFF", {"type": "long64", "value": -1}),
    ("158000000000000000", {"type": "long64-unsigned", "value": 1 << 63}),
    ("1602", {"type": "enum", "value": 2}),
    ("173F800000", {"type": "float32", "value": 1.0}),
    ("18C000000000000000", {"type": "float64", "value": -2.0}),
    ("0D12", {"type": "bcd", "value": 0x12}),
    ("0403A0", {"type": "bit-string", "bits": 3, "value": "A0"}),
    ("0A03414243", {"type": "visible-string", "value": "ABC"}),
    ("0C02C3A9", {"type": "utf8-string", "value": "\u00e9"}),
    ("1A07DF0101FF", {"type": "date", "value": "07DF0101FF"}),
    ("1B00000000", {"type": "time", "value": "00000000"}),
    ("FF", {"type": "dont-care"}),
    ("020212000109020102", {"type": "structure", "value": [
        {"type": "long-unsigned", "value": 1}, {"type": "octet-string", "value": "0102"}]}),
    ("0100", {"type": "array", "value": []}),
])
def test_axdr_data_types(hexdata, expected):
    raw = bytes.fromhex(hexdata)
    node = dlms.data_from_bytes(raw)
    assert node == expected
    assert dlms.data_to_bytes(node) == raw


def test_compact_array_with_type_description():
    # compact-array: TypeDescription structure{long-unsigned, double-long-unsigned},
    # contents length 12 = two packed elements, no per-element tags (Green Book A-XDR)
    raw = bytes.fromhex("13" "020212" "06" "0C" "0001" "00000064" "0002" "000000C8")
    node = dlms.data_from_bytes(raw)
    assert node["type_description"] == {"type": "structure", "members": [
        {"type": "long-unsigned"}, {"type": "double-long-unsigned"}]}
    assert [[m["value"] for m in e["value"]] for e in node["value"]] == [[1, 100], [2, 200]]
    assert dlms.data_to_bytes(node) == raw
    # array description: 01 + 2-byte element count + element type
    raw = bytes.fromhex("13" "01000211" "04" "0102" "0304")
    node = dlms.data_from_bytes(raw)
    assert [[x["value"] for x in e["value"]] for e in node["value"]] == [[1, 2], [3, 4]]
    assert dlms.data_to_bytes(node) == raw


def test_non_minimal_lengths_are_kept():
    raw = bytes.fromhex("02810212000109820002ABCD")
    node = dlms.data_from_bytes(raw)
    assert node["length_form"] == 1 and node["value"][1]["length_form"] == 2
    assert dlms.data_to_bytes(node) == raw


@pytest.mark.parametrize("hexdata", ["", "06000003", "0905AABB", "020212", "7E", "13020212", "0402"])
def test_truncated_or_unknown_data_raises_codec_error(hexdata):
    with pytest.raises(CodecError) as e:
        dlms.data_from_bytes(bytes.fromhex(hexdata))
    assert e.value.field.startswith("data")


def test_apdu_errors_name_field_and_offset():
    with pytest.raises(CodecError) as e:
        decode_payload(0x0022, 1, ECS12_CMD[:-3])
    assert e.value.offset > 0
    with pytest.raises(CodecError):
        decode_payload(0x0022, 1, ECS12_CMD + b"\x00")
    with pytest.raises(CodecError):
        encode_payload({"kind": "dlms", "apdu": "Access-Request"})


@needs_rtds
def test_invoke_id_follows_the_originator_counter_in_every_rtds_dlms_apdu():
    n = 0
    for name, (code, cra, payload, counter) in _rtds("*.HEX"):
        if payload[:1] not in (b"\xD9", b"\xDA", b"\x0F"):
            continue
        tree = decode_payload(code, cra, payload)
        assert tree["long_invoke_id_and_priority"] == 0x20000000 | (counter & 0xFFFFFF), name
        n += 1
    assert n > 300


@needs_rtds
def test_dlms_alert_codes_match_the_rtds_file_names():
    n = 0
    for name, (code, cra, payload, _c) in _rtds("*_ALERT_*.HEX"):
        m = re.search(r"_([0-9A-F]{4})_", name)
        if payload[:1] != b"\x0F" or not m:
            continue
        tree = decode_payload(code, cra, payload)
        assert tree["apdu"] == "Data-Notification"
        body = tree["notification_body"]["value"]
        assert body[0] == {"type": "long-unsigned", "value": int(m.group(1), 16)}, name
        assert body[1]["type"] == "octet-string" and len(body[1]["value"]) == 24
        n += 1
    assert n >= 10


@needs_rtds
def test_ecs19_is_the_data_protection_action_of_the_catalogue():
    # payload_catalogue.tsv: 002D ECS19 = DLMS action IC30 0.0.43.2.1.255 m1
    (_name, (code, cra, payload, _c)), = _rtds("ECS19_4.3_SUCCESS_COMMAND_GBCS.HEX")
    tree = decode_payload(code, cra, payload)
    (spec,) = tree["access_request_specification"]
    assert (spec["class_id"], spec["obis"], spec["method_id"]) == (30, "0-0:43.2.1.255", 1)
    assert spec["class_name"] == "Data protection"
    # §4.1.6: the parameter is structure{object descriptors, protection parameters}
    (param,) = tree["access_request_list_of_data"]
    assert param["type"] == "structure" and [m["type"] for m in param["value"]] == ["array", "array"]


@needs_rtds
def test_protected_data_is_recognised_in_responses():
    found = 0
    for name, (code, cra, payload, _c) in _rtds("ECS19*RESPONSE*.HEX") + _rtds("ECS68*ALERT*.HEX"):
        tree = decode_payload(code, cra, payload)
        text = repr(tree)
        if "'protected'" in text:
            found += 1
            assert "'ciphertext'" in text
            assert encode_payload(tree) == payload
    assert found >= 2


@needs_rtds
def test_future_dated_dlms_alerts_describe_the_command_of_their_use_case():
    # §4.1.4: octet-string 19 = message code + originator counter + COSEM attribute descriptor;
    # the message code must be the use case of the RTDS folder (message_codes.tsv)
    codes = {}
    for line in (SHARED / "spec" / "message_codes.tsv").read_text().splitlines()[1:]:
        parts = line.split("\t")
        codes[parts[1].split()[0]] = int(parts[0], 16)
    n = 0
    for name, (code, cra, payload, _c) in _rtds("ECS*_8F6[67]_*ALERT*.HEX"):
        tree = decode_payload(code, cra, payload)
        fd = tree["alert"]["future_dated"]
        assert fd["message_code"] == codes[name.split("_")[0]], name
        assert 1000 <= fd["originator_counter"] < 2000 and fd["class_id"] in dlms.COSEM_CLASS_NAMES
        n += 1
    assert n >= 5


def test_builders_reproduce_the_ecs12_vector():
    cmd = dlms.access_request(
        2, [dlms.access_request_item("set", 1, "0-0:94.44.3.2", 2)],
        [dlms.octet_string(bytes.fromhex("07DF0105FF000000008000FF"))])
    assert encode_payload(cmd) == ECS12_CMD
    rsp = dlms.access_response(2, [dlms.make_data("null-data")], [("set", 0)])
    assert encode_payload(rsp) == ECS12_RSP
