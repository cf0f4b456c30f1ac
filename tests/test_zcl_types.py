"""ZCL data types (ZCL 07-5123 2.6.2 Table 2-10): identifiers, sizes, invalid values, codecs.

Expected octets are computed independently (struct, int.to_bytes, datetime) or taken from the
spec; tshark's view of every type is in test_zcl_tshark.py, scapy's names here.
"""

from __future__ import annotations

import math
import struct
from datetime import datetime, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.layers.zigbee import _zcl_attribute_data_types

from protocols.errors import CodecError
from protocols.zcl import types as T
from protocols.zcl.types import (DATA_TYPES, ArrayValue, Date, TimeOfDay, decode_value,
                                 encode_value, is_analog, is_invalid)

ALL_IDS = sorted(DATA_TYPES)


def test_every_type_id_of_table_2_10_is_defined() -> None:
    expected = ({0x00, 0x10, 0x30, 0x31, 0x38, 0x39, 0x3A, 0x41, 0x42, 0x43, 0x44, 0x48, 0x4C,
                 0x50, 0x51, 0xE0, 0xE1, 0xE2, 0xE8, 0xE9, 0xEA, 0xF0, 0xF1, 0xFF}
                | set(range(0x08, 0x10)) | set(range(0x18, 0x30)))
    assert set(DATA_TYPES) == expected
    # scapy's independent table of ZCL type ids agrees on every id it knows.
    assert set(_zcl_attribute_data_types) <= set(DATA_TYPES) | {0x4C}


def test_sizes_and_analog_classes() -> None:
    for n in range(1, 9):
        for base in (T.DATA8, T.BITMAP8, T.UINT8, T.INT8):
            assert DATA_TYPES[base + n - 1].size == n
    assert [DATA_TYPES[t].size for t in (0x38, 0x39, 0x3A, 0xE0, 0xE1, 0xE2, 0xE8, 0xE9,
                                         0xEA, 0xF0, 0xF1, 0x10, 0x30, 0x31)] == \
        [2, 4, 8, 4, 4, 4, 2, 2, 4, 8, 16, 1, 1, 2]
    analog = {t for t in DATA_TYPES if is_analog(t)}
    assert analog == set(range(0x20, 0x30)) | {0x38, 0x39, 0x3A, 0xE0, 0xE1, 0xE2}


def test_invalid_values() -> None:
    assert DATA_TYPES[T.UINT8].invalid == 0xFF
    assert DATA_TYPES[T.UINT48].invalid == 0xFFFFFFFFFFFF
    assert DATA_TYPES[T.INT8].invalid == -0x80
    assert DATA_TYPES[T.INT24].invalid == -0x800000
    assert DATA_TYPES[T.ENUM16].invalid == 0xFFFF
    assert DATA_TYPES[T.UTC_TIME].invalid == 0xFFFFFFFF
    assert DATA_TYPES[T.IEEE_ADDRESS].invalid == 0xFFFFFFFFFFFFFFFF
    assert encode_value(T.INT24, -0x800000) == b"\x00\x00\x80"
    assert is_invalid(T.UINT16, 0xFFFF) and not is_invalid(T.UINT16, 0xFFFE)
    assert is_invalid(T.SINGLE_FLOAT, math.nan)
    assert decode_value(T.BOOLEAN, b"\xff") == (None, 1) and is_invalid(T.BOOLEAN, None)
    assert decode_value(T.OCTET_STRING, b"\xff") == (None, 1)
    assert decode_value(T.CHARACTER_STRING, b"\xff") == (None, 1)
    assert decode_value(T.LONG_OCTET_STRING, b"\xff\xff") == (None, 2)
    assert encode_value(T.CHARACTER_STRING, None) == b"\xff"
    assert decode_value(T.ARRAY, b"\x20\xff\xff") == (ArrayValue(T.UINT8, None), 3)
    assert is_invalid(T.ARRAY, ArrayValue(T.UINT8, None))
    assert decode_value(T.STRUCTURE, b"\xff\xff") == (None, 2)
    assert is_invalid(T.TIME_OF_DAY, TimeOfDay(0xFF, 0xFF, 0xFF, 0xFF))


def test_utc_time_epoch() -> None:
    epoch = datetime(2000, 1, 1, tzinfo=timezone.utc).timestamp()
    assert T.ZCL_EPOCH_UNIX == epoch
    assert T.utc_time_from_unix(epoch) == 0
    assert encode_value(T.UTC_TIME, 0) == b"\x00\x00\x00\x00"
    # han-zigbee-wireshark.md 5.4: tshark shows Nov 14, 2023 22:13:20 UTC
    t = T.utc_time_from_unix(datetime(2023, 11, 14, 22, 13, 20, tzinfo=timezone.utc).timestamp())
    assert t == 1700000000 - 946684800
    assert encode_value(T.UTC_TIME, t) == struct.pack("<I", 753315200)
    assert T.unix_from_utc_time(t) == 1700000000


def test_known_encodings() -> None:
    assert encode_value(T.UINT24, 0x123456) == b"\x56\x34\x12"
    assert encode_value(T.UINT48, 0x0102030405) == bytes.fromhex("050403020100")
    assert encode_value(T.INT24, -1) == b"\xff\xff\xff"
    assert encode_value(T.INT40, -2) == (-2).to_bytes(5, "little", signed=True)
    assert encode_value(T.BITMAP32, 0x80000001) == b"\x01\x00\x00\x80"
    assert encode_value(T.BOOLEAN, True) == b"\x01"
    assert encode_value(T.SEMI_FLOAT, 1.5) == struct.pack("<e", 1.5) == b"\x00\x3e"
    assert encode_value(T.SINGLE_FLOAT, 0.25) == struct.pack("<f", 0.25)
    assert encode_value(T.CHARACTER_STRING, "Hello") == b"\x05Hello"
    assert encode_value(T.LONG_OCTET_STRING, b"ab") == b"\x02\x00ab"
    assert encode_value(T.IEEE_ADDRESS, 0x00124B00AABBCCDD) == bytes.fromhex("ddccbbaa004b1200")
    assert encode_value(T.SECURITY_KEY_128, bytes(range(16))) == bytes(range(16))
    assert encode_value(T.TIME_OF_DAY, TimeOfDay(13, 45, 30, 50)) == bytes((13, 45, 30, 50))
    assert encode_value(T.DATE, Date(123, 11, 14, 2)) == bytes((123, 11, 14, 2))
    assert encode_value(T.ARRAY, ArrayValue(T.UINT16, (1, 2))) == bytes.fromhex("2102000100"
                                                                                  "0200")
    assert encode_value(T.STRUCTURE, ((T.UINT8, 1), (T.CHARACTER_STRING, "x"))) == \
        bytes.fromhex("0200" "2001" "420178")
    assert encode_value(T.NO_DATA, None) == b"" == encode_value(T.UNKNOWN, None)


def _edges(type_id: int) -> list:
    dt = DATA_TYPES[type_id]
    if 0x08 <= type_id <= 0x27 and type_id != T.BOOLEAN or type_id in (
            T.ENUM8, T.ENUM16, T.UTC_TIME, T.CLUSTER_ID, T.ATTRIBUTE_ID, T.BACNET_OID,
            T.IEEE_ADDRESS):
        top = (1 << (8 * dt.size)) - 1
        return [0, 1, top - 1, top]
    if 0x28 <= type_id <= 0x2F:
        bits = 8 * dt.size
        return [-(1 << (bits - 1)), -1, 0, 1, (1 << (bits - 1)) - 1]
    return {
        T.NO_DATA: [None], T.UNKNOWN: [None], T.BOOLEAN: [False, True, None],
        T.SEMI_FLOAT: [0.0, -2.0, 65504.0, math.inf], T.SINGLE_FLOAT: [0.0, 1.5, -2.0 ** 100],
        T.DOUBLE_FLOAT: [0.0, 1e300, -math.inf],
        T.OCTET_STRING: [b"", b"\x00\xff", b"x" * 254, None],
        T.CHARACTER_STRING: ["", "GBCS", "é", "z" * 254, None, "\udcff"],
        T.LONG_OCTET_STRING: [b"", b"y" * 1000, None],
        T.LONG_CHARACTER_STRING: ["", "w" * 300, None],
        T.ARRAY: [ArrayValue(T.UINT8, ()), ArrayValue(T.CHARACTER_STRING, ("a", "bc")),
                  ArrayValue(T.UINT48, None)],
        T.SET: [ArrayValue(T.UINT16, (1, 2))], T.BAG: [ArrayValue(T.ENUM8, (3, 3))],
        T.STRUCTURE: [(), ((T.UINT8, 7), (T.ARRAY, ArrayValue(T.INT16, (-1,)))), None],
        T.TIME_OF_DAY: [TimeOfDay(0, 0, 0, 0), TimeOfDay(23, 59, 59, 99),
                        TimeOfDay(0xFF, 0xFF, 0xFF, 0xFF)],
        T.DATE: [Date(100, 1, 1, 6), Date(0xFF, 0xFF, 0xFF, 0xFF)],
        T.SECURITY_KEY_128: [bytes(16), bytes(range(16))],
    }[type_id]


@pytest.mark.parametrize("type_id", ALL_IDS, ids=[DATA_TYPES[t].name for t in ALL_IDS])
def test_round_trip_edges_and_truncation(type_id: int) -> None:
    for value in _edges(type_id):
        wire = encode_value(type_id, value)
        size = DATA_TYPES[type_id].size
        if size is not None:
            assert len(wire) == size
        got, end = decode_value(type_id, b"\xaa" + wire + b"\x55", 1)
        assert end == 1 + len(wire)
        assert got == value
        for cut in range(len(wire)):
            if size == 0:
                break
            with pytest.raises(CodecError):
                decode_value(type_id, wire[:cut])


@pytest.mark.parametrize("type_id, value", [
    (T.UINT8, 256), (T.UINT8, -1), (T.UINT24, 1 << 24), (T.INT8, 128), (T.INT24, -(1 << 23) - 1),
    (T.UINT48, "x"), (T.BOOLEAN, 2), (T.OCTET_STRING, b"x" * 255), (T.CHARACTER_STRING, b"x"),
    (T.LONG_CHARACTER_STRING, "x" * 0xFFFF), (T.SECURITY_KEY_128, b"short"),
    (T.TIME_OF_DAY, (1, 2, 3)), (T.ARRAY, ArrayValue(0x77, ())), (T.NO_DATA, 1),
    (T.STRUCTURE, ((0x99, 1),)), (T.IEEE_ADDRESS, 1 << 64), (0x77, 1),
])
def test_encode_rejects_bad_values(type_id: int, value: object) -> None:
    with pytest.raises(CodecError):
        encode_value(type_id, value)


def test_decode_rejects_unknown_types_and_bad_collections() -> None:
    for wire, type_id in [(b"\x00", 0x77), (b"\x77\x01\x00\x00", T.ARRAY),
                          (b"\x01\x00\x77", T.STRUCTURE), (b"\x20\x05\x00\x01", T.ARRAY),
                          (b"\x03\x00\x20", T.STRUCTURE)]:
        with pytest.raises(CodecError):
            decode_value(type_id, wire)


def test_deep_nesting_is_refused_not_recursed() -> None:
    wire = b"\x01\x00\x4c" * 5000 + b"\x00\x00"
    with pytest.raises(CodecError):
        decode_value(T.STRUCTURE, wire)


@settings(max_examples=1000, deadline=None, database=None)
@given(st.sampled_from(ALL_IDS), st.binary(max_size=24))
def test_decode_garbage_raises_only_codec_error(type_id: int, data: bytes) -> None:
    try:
        value, end = decode_value(type_id, data)
    except CodecError:
        return
    assert 0 <= end <= len(data)


@settings(max_examples=400, deadline=None)
@given(st.sampled_from([t for t in ALL_IDS if 0x08 <= t <= 0x2F and t != T.BOOLEAN]),
       st.data())
def test_integer_round_trip_matches_int_to_bytes(type_id: int, data) -> None:
    dt = DATA_TYPES[type_id]
    bits = 8 * dt.size
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if dt.signed else (0, (1 << bits) - 1)
    v = data.draw(st.integers(lo, hi))
    wire = encode_value(type_id, v)
    assert wire == v.to_bytes(dt.size, "little", signed=dt.signed)
    assert decode_value(type_id, wire) == (v, dt.size)
