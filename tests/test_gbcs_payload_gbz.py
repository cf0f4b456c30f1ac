"""GBZ payloads and ZSE command layouts (GBCS notes §4.2, §4.4).

Vectors: the annotated GCS14 example of GBCS notes §1.6, RTDS files (DCC) and facts the
notes state about them (time stamps, alert codes in file names, message codes of
message_codes.tsv), and ZCL/ZSE encodings written from the ZSE 1.4 field tables.
"""

from __future__ import annotations

import re

import pytest

from protocols.errors import CodecError
from protocols.gbcs.payloads import decode_payload, encode_payload, gbz, zcl_commands
from tests.gbcs_helpers import RTDS, SHARED, needs_rtds, split_rtds

MESSAGE_CODES = SHARED / "spec" / "message_codes.tsv"


def _split(hexstr: str) -> tuple[int, int, bytes]:
    return split_rtds(hexstr)[:3]


def _rtds(pattern: str):
    return [(p.name, _split(p.read_text())) for p in sorted(RTDS.rglob(pattern))]


# GBCS notes §1.6: the GCS14 command payload (35 bytes), annotated there field by field
GCS14_PAYLOAD = bytes.fromhex(
    "010902"
    "00" "0700" "0007" "000000" "1706" "1606"
    "01" "0705" "000F" "000100" "0500" "0200" "0100" "3102" "1102" "2102")


def test_gcs14_annotated_example():
    tree = decode_payload(0x0075, 1, GCS14_PAYLOAD)
    assert tree["kind"] == "gbz" and tree["profile_id"] == 0x0109
    c1, c2 = tree["components"]
    assert (c1["extended_header_control"], c1["cluster_id"], c1["cluster_name"]) == (0, 0x0700, "Price")
    assert c1["zcl"]["command"] == "ReadAttributes"
    assert [a["AttributeID"] for a in c1["zcl"]["payload"]["Attributes"]] == [0x0617, 0x0616]
    assert c2["last_component"] and c2["cluster_name"] == "Prepayment"
    ids = [a["AttributeID"] for a in c2["zcl"]["payload"]["Attributes"]]
    assert ids == [0x0005, 0x0002, 0x0001, 0x0231, 0x0211, 0x0221]
    assert c2["zcl"]["payload"]["Attributes"][0]["AttributeName"] == "AccumulatedDebt"
    assert encode_payload(tree) == GCS14_PAYLOAD


def test_read_attributes_response_with_zcl_types():
    # ZCL Read Attributes Response: id 0x0000 uint48 (0x25) 1000, id 0x0307 octstr "MPRN",
    # id 0x0300 status UNSUPPORTED_ATTRIBUTE (0x86)
    body = bytes.fromhex("08000100" "000025" "E80300000000" "07030041" "044D50524E" "000386")
    comp = bytes.fromhex("01" "0702") + len(body).to_bytes(2, "big") + body
    payload = bytes.fromhex("010901") + comp
    tree = decode_payload(0x0074, 2, payload)
    recs = tree["components"][0]["zcl"]["payload"]["Records"]
    assert recs[0]["AttributeName"] == "CurrentSummationDelivered" and recs[0]["Value"] == 1000
    assert recs[0]["DataTypeName"] == "uint48"
    assert recs[1]["AttributeName"] == "SiteID" and recs[1]["Value"] == "4D50524E"
    assert recs[2]["StatusName"] == "UNSUPPORTED_ATTRIBUTE" and "Value" not in recs[2]
    assert encode_payload(tree) == payload


def test_publish_day_profile_schedule_entries_are_parsed():
    # ZSE Publish Day Profile (Calendar 0x0707, server->client 0x01), TOU calendar type 0:
    # 3 entries of (start minute u16, price tier u8)
    fields = bytes.fromhex("00000000" "01000000" "02000000" "01" "03" "00" "01" "00"
                           "000001" "E00102" "380401")
    tree = zcl_commands.decode_zcl_payload(0x0707, 0x09, 0x01, fields)
    entries = tree["DayScheduleEntries"]["Entries"]
    assert entries == [{"RateStartTime": 0, "PriceTier": 1}, {"RateStartTime": 480, "PriceTier": 2},
                       {"RateStartTime": 1080, "PriceTier": 1}]
    assert zcl_commands.encode_zcl_payload(0x0707, 0x09, 0x01, tree) == fields


def test_layout_that_does_not_consume_exactly_is_an_error():
    # Default Response is exactly command id + status
    with pytest.raises(CodecError):
        zcl_commands.decode_zcl_payload(0x0702, 0x08, 0x0B, b"\x01\x00\x00")
    with pytest.raises(CodecError):
        zcl_commands.decode_zcl_payload(0x0705, 0x01, 0x04, b"\x00\x14123")  # short UTRN


def test_unknown_command_is_kept_raw_and_reported_opaque():
    from protocols.gbcs.payloads import payload_fully_decoded
    body = bytes.fromhex("0900" "7F" "AABB")       # server->client command 0x7F on Metering
    payload = bytes.fromhex("010901" "01" "0702") + len(body).to_bytes(2, "big") + body
    tree = decode_payload(0x0074, 2, payload)
    assert tree["components"][0]["zcl"]["payload"] == {"raw_payload": "AABB"}
    assert payload_fully_decoded(tree) == ["/components/0/zcl/payload/raw_payload"]
    assert encode_payload(tree) == payload


def test_build_component_roundtrip():
    comp = gbz.build_component(0x0705, 0x01, 0, 0x09, {"LowCreditWarningLevel": 5000000},
                               last=True, from_date_time=0xFFFFFFFF)
    raw = gbz.encode_gbz({"kind": "gbz", "profile_id": 0x0109, "components": [comp]})
    # GCS05 RTDS bytes for the same component: ctl 11, FFFFFFFF, 01 02 09 404B4C00 (tsn 0 here)
    assert raw == bytes.fromhex("010901" "11" "0705" "000B" "FFFFFFFF" "010009" "404B4C00")
    tree = gbz.decode_gbz(raw)
    assert tree["components"][0]["zcl"]["command"] == "SetLowCreditWarningLevel"
    assert tree["components"][0]["from_date_time_iso"] == "never"


@pytest.mark.parametrize("hexdata", ["", "0109", "010901", "0109010007000005000000", "0108010000",
                                     "01090100070000030000", "0109010207000010000000003100000000"])
def test_malformed_gbz_raises_codec_error(hexdata):
    with pytest.raises(CodecError):
        gbz.decode_gbz(bytes.fromhex(hexdata), 2, 0x0074)


@needs_rtds
def test_gbz_alert_codes_and_time_stamps_match_rtds():
    n = 0
    for name, (code, cra, payload) in _rtds("*_ALERT_*.HEX"):
        m = re.search(r"_([0-9A-F]{4})_", name)
        if payload[:2] != b"\x01\x09" or not m:
            continue
        tree = decode_payload(code, cra, payload)
        assert tree["alert_code"] == int(m.group(1), 16), name
        assert tree["time_stamp_iso"] == "2015-01-01T00:00:00Z" or code == 0x00CD
        assert encode_payload(tree) == payload
        n += 1
    assert n >= 5


@needs_rtds
def test_future_dated_gbz_alerts_name_the_command_of_their_use_case():
    codes = {}
    for line in MESSAGE_CODES.read_text().splitlines()[1:]:
        parts = line.split("\t")
        codes[parts[1].split()[0]] = int(parts[0], 16)
    n = 0
    for name, (code, cra, payload) in _rtds("GCS*_8F66_*ALERT*.HEX"):
        tree = decode_payload(code, cra, payload)
        fd = tree["future_dated_alert"]
        assert fd["message_code"] == codes[name.split("_")[0]], name
        assert fd["command"]
        n += 1
    assert n >= 5


@needs_rtds
def test_consumer_top_up_carries_a_20_digit_utrn():
    (name, (code, cra, payload)), = _rtds("CS01b_2.2_SUCCESS_COMMAND_GBCS.HEX")
    tree = decode_payload(code, cra, payload)
    zcl = tree["components"][0]["zcl"]
    assert zcl["command"] == "ConsumerTopUp"
    utrn = bytes.fromhex(zcl["payload"]["TopUpCode"]).decode("ascii")
    assert len(utrn) == 20 and utrn.isdigit()


def test_enumerations_carry_their_zse_names_and_the_names_are_ignored_on_encode():
    # PublishSnapshot, type 0x80 "Data Unavailable" (no sub-payload)
    payload = bytes.fromhex("01000000" "00000000" "01" "00" "01" "00000000" "80")
    tree = zcl_commands.decode_zcl_payload(0x0702, 0x09, 0x06, payload)
    assert tree["SnapshotPayloadType"] == 0x80
    assert tree["SnapshotPayloadTypeName"] == "Data Unavailable"
    assert tree["SnapshotPayload"] == {}
    assert zcl_commands.encode_zcl_payload(0x0702, 0x09, 0x06, tree) == payload
    # a value with no name gets no annotation, and still round-trips
    odd = payload[:-1] + b"\x09"
    tree = zcl_commands.decode_zcl_payload(0x0702, 0x09, 0x06, odd)
    assert "SnapshotPayloadTypeName" not in tree and tree["SnapshotPayload"] == {"raw_payload": ""}
    assert zcl_commands.encode_zcl_payload(0x0702, 0x09, 0x06, tree) == odd
    # calendar type in PublishCalendar
    cal = bytes.fromhex("01000000" "02000000" "03000000" "00000000" "03" "00" "00" "01" "02" "03")
    tree = zcl_commands.decode_zcl_payload(0x0707, 0x09, 0x00, cal)
    assert tree["CalendarTypeName"] == "Friendly Credit Calendar"
    assert tree["CalendarTimeReferenceName"] == "UTC Time"
    assert zcl_commands.encode_zcl_payload(0x0707, 0x09, 0x00, tree) == cal
