"""ZCL data types: identifiers, sizes, invalid values and their little-endian codecs.

Implements ZigBee Cluster Library (07-5123) section 2.6.2, "Data Types", Table 2-10: every
data type identifier with its length, analog/discrete class and invalid ("non-") value, and
how a value of each type is laid out on the air (all multi-octet values little-endian).

Python representation of each kind of value:

 - nodata (0x00), unknown (0xFF): C{None}, no octets.
 - data8..data64, bitmap8..bitmap64, uint8..uint64, enum8/16, cluster id, attribute id,
   BACnet OID, UTCTime: C{int} (unsigned); int8..int64: C{int} (signed).
 - boolean: C{False}/C{True}; C{None} for the invalid value 0xFF.
 - semi/single/double precision float: C{float} (invalid value: NaN).
 - octet string / long octet string: C{bytes}; character string / long character string: C{str}
   (UTF-8, undecodable octets kept as surrogate escapes so any bytes round-trip). C{None} is
   the invalid string (length 0xFF / 0xFFFF).
 - array, set, bag: L{ArrayValue}C{(element_type, items)}; C{items} is C{None} when the
   element count is the invalid value 0xFFFF.
 - structure: C{tuple} of C{(type_id, value)} pairs, or C{None} (count 0xFFFF).
 - time of day: L{TimeOfDay}; date: L{Date} (raw octets, 0xFF = "any": a wildcard that
   recurs, e.g. C{Date(0xFF, 3, 20, 0xFF)} is 20 March of every year; see L{Date.matches}).
 - UTCTime: seconds since 2000-01-01 00:00:00 UTC (see L{utc_time_from_unix}).
 - IEEE address: C{int} holding the EUI-64 as printed (big-endian); sent least-significant
   octet first, as every ZigBee EUI-64.
 - 128-bit security key: C{bytes} of length 16, sent as-is.

Invalid values of fixed-size types are ordinary values (e.g. 0xFF for uint8): compare with
L{DataType.invalid} or use L{is_invalid}.

Every value also has a JSON form (L{decode_json} / L{encode_json}, used for GBCS trees) that
re-encodes to exactly the octets it came from: integers stay integers; dataN, floats, octet
strings and keys are uppercase hex of the octets; a boolean octet other than 0/1 stays an int;
a character string that is not UTF-8 is C{{"hex": ...}}; invalid strings and collections are
C{{"invalid": true}}; Date and Time of Day are objects whose wildcard fields are C{null}
(C{FF 03 14 FF} is C{{"year": null, "month": 3, "day": 20, "day_of_week": null}}).
"""

from __future__ import annotations

import datetime
import math
import struct
from dataclasses import dataclass
from typing import Any, Callable, NamedTuple

from protocols.errors import CodecError

__all__ = [
    "DataType", "DATA_TYPES", "TimeOfDay", "Date", "ArrayValue", "WILDCARD",
    "encode_value", "decode_value", "encode_json", "decode_json", "scalar_codec", "data_type",
    "is_analog", "is_invalid",
    "ZCL_EPOCH_UNIX", "utc_time_from_unix", "unix_from_utc_time",
    # type identifiers
    "NO_DATA", "DATA8", "DATA16", "DATA24", "DATA32", "DATA40", "DATA48", "DATA56", "DATA64",
    "BOOLEAN", "BITMAP8", "BITMAP16", "BITMAP24", "BITMAP32", "BITMAP40", "BITMAP48",
    "BITMAP56", "BITMAP64", "UINT8", "UINT16", "UINT24", "UINT32", "UINT40", "UINT48",
    "UINT56", "UINT64", "INT8", "INT16", "INT24", "INT32", "INT40", "INT48", "INT56", "INT64",
    "ENUM8", "ENUM16", "SEMI_FLOAT", "SINGLE_FLOAT", "DOUBLE_FLOAT", "OCTET_STRING",
    "CHARACTER_STRING", "LONG_OCTET_STRING", "LONG_CHARACTER_STRING", "ARRAY", "STRUCTURE",
    "SET", "BAG", "TIME_OF_DAY", "DATE", "UTC_TIME", "CLUSTER_ID", "ATTRIBUTE_ID",
    "BACNET_OID", "IEEE_ADDRESS", "SECURITY_KEY_128", "UNKNOWN",
]

# --- type identifiers (ZCL Table 2-10) -------------------------------------------------------
NO_DATA = 0x00
DATA8, DATA16, DATA24, DATA32, DATA40, DATA48, DATA56, DATA64 = range(0x08, 0x10)
BOOLEAN = 0x10
BITMAP8, BITMAP16, BITMAP24, BITMAP32, BITMAP40, BITMAP48, BITMAP56, BITMAP64 = range(0x18, 0x20)
UINT8, UINT16, UINT24, UINT32, UINT40, UINT48, UINT56, UINT64 = range(0x20, 0x28)
INT8, INT16, INT24, INT32, INT40, INT48, INT56, INT64 = range(0x28, 0x30)
ENUM8, ENUM16 = 0x30, 0x31
SEMI_FLOAT, SINGLE_FLOAT, DOUBLE_FLOAT = 0x38, 0x39, 0x3A
OCTET_STRING, CHARACTER_STRING = 0x41, 0x42
LONG_OCTET_STRING, LONG_CHARACTER_STRING = 0x43, 0x44
ARRAY = 0x48
STRUCTURE = 0x4C
SET, BAG = 0x50, 0x51
TIME_OF_DAY, DATE, UTC_TIME = 0xE0, 0xE1, 0xE2
CLUSTER_ID, ATTRIBUTE_ID, BACNET_OID = 0xE8, 0xE9, 0xEA
IEEE_ADDRESS, SECURITY_KEY_128 = 0xF0, 0xF1
UNKNOWN = 0xFF

#: Unix time of the ZCL UTCTime epoch, 2000-01-01 00:00:00 UTC.
ZCL_EPOCH_UNIX = 946684800


def utc_time_from_unix(unix_seconds: float) -> int:
    """Return the ZCL UTCTime (whole seconds since 2000-01-01 UTC) for a Unix time."""
    return int(unix_seconds) - ZCL_EPOCH_UNIX


def unix_from_utc_time(utc_time: int) -> int:
    """Return the Unix time of a ZCL UTCTime value."""
    return utc_time + ZCL_EPOCH_UNIX


#: The octet value of a ZCL Date / Time of Day field that means "any" (ZCL 2.6.2.19-20).
WILDCARD = 0xFF


def _field(raw: int) -> int | None:
    return None if raw == WILDCARD else raw


def _octet(v: int | None) -> int:
    return WILDCARD if v is None else v


class TimeOfDay(NamedTuple):
    """ZCL Time of Day (0xE0): four octets, 0xFF in a field means "any" (unspecified).

    The JSON form (L{to_fields}) names each field and writes "any" as C{None}.
    """
    hours: int
    minutes: int
    seconds: int
    hundredths: int

    def to_fields(self) -> dict[str, int | None]:
        """C{{"hours", "minutes", "seconds", "hundredths"}}, C{None} for a wildcard."""
        return {"hours": _field(self.hours), "minutes": _field(self.minutes),
                "seconds": _field(self.seconds), "hundredths": _field(self.hundredths)}

    @classmethod
    def from_fields(cls, fields: "dict[str, int | None]") -> "TimeOfDay":
        """Inverse of L{to_fields}; a missing or C{None} field is the wildcard."""
        return cls(_octet(fields.get("hours")), _octet(fields.get("minutes")),
                   _octet(fields.get("seconds")), _octet(fields.get("hundredths")))

    def matches(self, hours: int, minutes: int, seconds: int = 0, hundredths: int = 0) -> bool:
        """True if the given time of day is one this value stands for (wildcards match all)."""
        return all(raw == WILDCARD or raw == v for raw, v in
                   zip(self, (hours, minutes, seconds, hundredths)))


class Date(NamedTuple):
    """ZCL Date (0xE1): raw octets; C{years_since_1900} is "year - 1900", 0xFF = "any".

    A season that starts on 20 March every year is C{Date(0xFF, 3, 20, 0xFF)}; its JSON form
    (L{to_fields}) is C{{"year": None, "month": 3, "day": 20, "day_of_week": None}}.
    C{day_of_week} is 1 (Monday) to 7 (Sunday).
    """
    years_since_1900: int
    month: int
    day: int
    day_of_week: int

    @property
    def year(self) -> int | None:
        """The calendar year, or C{None} for "every year"."""
        return None if self.years_since_1900 == WILDCARD else 1900 + self.years_since_1900

    def to_fields(self) -> dict[str, int | None]:
        """C{{"year", "month", "day", "day_of_week"}}, C{None} for a wildcard."""
        return {"year": self.year, "month": _field(self.month), "day": _field(self.day),
                "day_of_week": _field(self.day_of_week)}

    @classmethod
    def from_fields(cls, fields: "dict[str, int | None]") -> "Date":
        """Inverse of L{to_fields}; a missing or C{None} field is the wildcard."""
        year = fields.get("year")
        if year is not None and not 1900 <= year < 1900 + WILDCARD:
            raise ValueError(f"year {year} is outside 1900-2154 (2155 is the 'any' octet)")
        return cls(WILDCARD if year is None else year - 1900, _octet(fields.get("month")),
                   _octet(fields.get("day")), _octet(fields.get("day_of_week")))

    def matches(self, day: "datetime.date") -> bool:
        """True if C{day} is one of the days this (possibly recurring) date stands for."""
        return ((self.years_since_1900 == WILDCARD or self.years_since_1900 == day.year - 1900)
                and (self.month == WILDCARD or self.month == day.month)
                and (self.day == WILDCARD or self.day == day.day)
                and (self.day_of_week == WILDCARD or self.day_of_week == day.isoweekday()))

    def in_year(self, year: int) -> tuple[int, int, int]:
        """C{(year, month, day)} of this date in C{year} when its year is "any" (a wildcard
        month or day counts as the first one): how a recurring date is ordered."""
        return (year if self.years_since_1900 == WILDCARD else 1900 + self.years_since_1900,
                1 if self.month == WILDCARD else self.month,
                1 if self.day == WILDCARD else self.day)

    def on_or_before(self, day: "datetime.date") -> bool:
        """True if this date, in C{day}'s year when the year is "any", is not after C{day}.

        This is how a recurring season start is compared: a season starting on
        C{Date(0xFF, 3, 20, 0xFF)} has begun on every day from 20 March to 31 December.
        """
        return self.in_year(day.year) <= (day.year, day.month, day.day)


class ArrayValue(NamedTuple):
    """Value of an Array (0x48), Set (0x50) or Bag (0x51): element type and elements.

    C{items} is C{None} for the invalid value (element count 0xFFFF).
    """
    element_type: int
    items: tuple | None


@dataclass(frozen=True, slots=True)
class DataType:
    """One row of ZCL Table 2-10.

    @ivar type_id: the data type identifier octet.
    @ivar name: the spec's short name (e.g. C{"uint24"}).
    @ivar size: length in octets of a fixed-size value, or C{None} for strings and
        collections (length given in the value itself).
    @ivar analog: C{True} for analog types (reportable change applies, ZCL 2.5.7.1.7).
    @ivar signed: C{True} for two's-complement integers and floats.
    @ivar invalid: the invalid value in the Python representation, or C{None} if the type
        has none (NaN for floats; C{None} also stands for invalid strings and booleans).
    """
    type_id: int
    name: str
    size: int | None
    analog: bool
    signed: bool = False
    invalid: Any = None


def _build_table() -> dict[int, DataType]:
    t: dict[int, DataType] = {}

    def add(*args: Any, **kw: Any) -> None:
        dt = DataType(*args, **kw)
        t[dt.type_id] = dt

    add(NO_DATA, "nodata", 0, False)
    for n in range(1, 9):
        add(DATA8 + n - 1, f"data{8 * n}", n, False)
        add(BITMAP8 + n - 1, f"map{8 * n}", n, False)
        add(UINT8 + n - 1, f"uint{8 * n}", n, True, False, (1 << (8 * n)) - 1)
        add(INT8 + n - 1, f"int{8 * n}", n, True, True, -(1 << (8 * n - 1)))
    add(BOOLEAN, "bool", 1, False, invalid=None)
    add(ENUM8, "enum8", 1, False, invalid=0xFF)
    add(ENUM16, "enum16", 2, False, invalid=0xFFFF)
    add(SEMI_FLOAT, "semi", 2, True, True, math.nan)
    add(SINGLE_FLOAT, "single", 4, True, True, math.nan)
    add(DOUBLE_FLOAT, "double", 8, True, True, math.nan)
    add(OCTET_STRING, "octstr", None, False)
    add(CHARACTER_STRING, "string", None, False)
    add(LONG_OCTET_STRING, "octstr16", None, False)
    add(LONG_CHARACTER_STRING, "string16", None, False)
    add(ARRAY, "array", None, False)
    add(STRUCTURE, "struct", None, False)
    add(SET, "set", None, False)
    add(BAG, "bag", None, False)
    add(TIME_OF_DAY, "ToD", 4, True, invalid=TimeOfDay(0xFF, 0xFF, 0xFF, 0xFF))
    add(DATE, "date", 4, True, invalid=Date(0xFF, 0xFF, 0xFF, 0xFF))
    add(UTC_TIME, "UTC", 4, True, invalid=0xFFFFFFFF)
    add(CLUSTER_ID, "clusterId", 2, False, invalid=0xFFFF)
    add(ATTRIBUTE_ID, "attribId", 2, False, invalid=0xFFFF)
    add(BACNET_OID, "bacOID", 4, False, invalid=0xFFFFFFFF)
    add(IEEE_ADDRESS, "EUI64", 8, False, invalid=0xFFFFFFFFFFFFFFFF)
    add(SECURITY_KEY_128, "key128", 16, False)
    add(UNKNOWN, "unk", 0, False)
    return t


#: Every defined ZCL data type, by identifier.
DATA_TYPES: dict[int, DataType] = _build_table()


def data_type(type_id: int) -> DataType:
    """Return the L{DataType} for C{type_id}; L{CodecError} if it is not defined."""
    try:
        return DATA_TYPES[type_id]
    except KeyError:
        raise CodecError("data_type", 0, f"unknown ZCL data type 0x{type_id:02X}") from None


def is_analog(type_id: int) -> bool:
    """Return C{True} if the type is analog (a reportable change is given for it)."""
    dt = DATA_TYPES.get(type_id)
    return dt is not None and dt.analog


def is_invalid(type_id: int, value: Any) -> bool:
    """Return C{True} if C{value} is the invalid ("non-") value of the type."""
    dt = DATA_TYPES.get(type_id)
    if dt is None:
        return False
    if dt.type_id in (SEMI_FLOAT, SINGLE_FLOAT, DOUBLE_FLOAT):
        return isinstance(value, float) and math.isnan(value)
    if dt.size is None:
        if dt.type_id in (ARRAY, SET, BAG):
            return value is None or value[1] is None
        return value is None
    if dt.type_id == BOOLEAN:
        return value is None
    return dt.invalid is not None and value == dt.invalid


# --- codecs ----------------------------------------------------------------------------------

_Encoder = Callable[[Any], bytes]
_Decoder = Callable[[bytes, int], "tuple[Any, int]"]
_ENCODERS: dict[int, _Encoder] = {}
_DECODERS: dict[int, _Decoder] = {}


def _short(field: str, offset: int, need: int, have: int) -> CodecError:
    return CodecError(field, offset, f"truncated: need {need} octets, {max(have, 0)} left")


def _int_codec(size: int, signed: bool) -> tuple[_Encoder, _Decoder]:
    fmt = {1: "b", 2: "h", 4: "i", 8: "q"}.get(size)
    if fmt is not None:
        st = struct.Struct("<" + (fmt if signed else fmt.upper()))
        pack, unpack_from = st.pack, st.unpack_from

        def enc(value: Any) -> bytes:
            return pack(value)

        def dec(data: bytes, offset: int) -> tuple[Any, int]:
            if offset + size > len(data):
                raise _short("value", offset, size, len(data) - offset)
            return unpack_from(data, offset)[0], offset + size
    else:
        def enc(value: Any) -> bytes:
            return value.to_bytes(size, "little", signed=signed)

        def dec(data: bytes, offset: int) -> tuple[Any, int]:
            end = offset + size
            if end > len(data):
                raise _short("value", offset, size, len(data) - offset)
            return int.from_bytes(data[offset:end], "little", signed=signed), end
    return enc, dec


for _n in range(1, 9):
    _u = _int_codec(_n, False)
    _s = _int_codec(_n, True)
    for _tid in (DATA8 + _n - 1, BITMAP8 + _n - 1, UINT8 + _n - 1):
        _ENCODERS[_tid], _DECODERS[_tid] = _u
    _ENCODERS[INT8 + _n - 1], _DECODERS[INT8 + _n - 1] = _s
for _tid, _n in ((ENUM8, 1), (ENUM16, 2), (UTC_TIME, 4), (CLUSTER_ID, 2), (ATTRIBUTE_ID, 2),
                 (BACNET_OID, 4), (IEEE_ADDRESS, 8)):
    _ENCODERS[_tid], _DECODERS[_tid] = _int_codec(_n, False)


def _none_enc(value: Any) -> bytes:
    if value is not None:
        raise TypeError("nodata/unknown types carry no value")
    return b""


def _none_dec(data: bytes, offset: int) -> tuple[Any, int]:
    return None, offset


_ENCODERS[NO_DATA] = _ENCODERS[UNKNOWN] = _none_enc
_DECODERS[NO_DATA] = _DECODERS[UNKNOWN] = _none_dec


def _bool_enc(value: Any) -> bytes:
    if value is None:
        return b"\xff"
    if value is True or value is False or value in (0, 1):
        return b"\x01" if value else b"\x00"
    raise ValueError(f"not a boolean: {value!r}")


def _bool_dec(data: bytes, offset: int) -> tuple[Any, int]:
    if offset >= len(data):
        raise _short("value", offset, 1, 0)
    b = data[offset]
    # 0x02-0xFE are not defined; read them as true (only zero is false).
    return (None if b == 0xFF else b != 0), offset + 1


_ENCODERS[BOOLEAN], _DECODERS[BOOLEAN] = _bool_enc, _bool_dec


def _float_codec(fmt: str) -> tuple[_Encoder, _Decoder]:
    st = struct.Struct("<" + fmt)
    size = st.size
    pack, unpack_from = st.pack, st.unpack_from

    def enc(value: Any) -> bytes:
        return pack(value)

    def dec(data: bytes, offset: int) -> tuple[Any, int]:
        if offset + size > len(data):
            raise _short("value", offset, size, len(data) - offset)
        return unpack_from(data, offset)[0], offset + size
    return enc, dec


_ENCODERS[SEMI_FLOAT], _DECODERS[SEMI_FLOAT] = _float_codec("e")
_ENCODERS[SINGLE_FLOAT], _DECODERS[SINGLE_FLOAT] = _float_codec("f")
_ENCODERS[DOUBLE_FLOAT], _DECODERS[DOUBLE_FLOAT] = _float_codec("d")


def _string_codec(long: bool, text: bool) -> tuple[_Encoder, _Decoder]:
    lsize = 2 if long else 1
    invalid = 0xFFFF if long else 0xFF
    invalid_octets = invalid.to_bytes(lsize, "little")

    def enc(value: Any) -> bytes:
        if value is None:
            return invalid_octets
        raw = value.encode("utf-8", "surrogateescape") if text else bytes(value)
        if text and not isinstance(value, str):
            raise TypeError("character string needs str")
        if len(raw) >= invalid:
            raise ValueError(f"string of {len(raw)} octets is too long")
        return len(raw).to_bytes(lsize, "little") + raw

    def dec(data: bytes, offset: int) -> tuple[Any, int]:
        start = offset + lsize
        if start > len(data):
            raise _short("length", offset, lsize, len(data) - offset)
        n = data[offset] if lsize == 1 else data[offset] | (data[offset + 1] << 8)
        if n == invalid:
            return None, start
        end = start + n
        if end > len(data):
            raise _short("value", start, n, len(data) - start)
        raw = bytes(data[start:end])
        return (raw.decode("utf-8", "surrogateescape") if text else raw), end
    return enc, dec


_ENCODERS[OCTET_STRING], _DECODERS[OCTET_STRING] = _string_codec(False, False)
_ENCODERS[CHARACTER_STRING], _DECODERS[CHARACTER_STRING] = _string_codec(False, True)
_ENCODERS[LONG_OCTET_STRING], _DECODERS[LONG_OCTET_STRING] = _string_codec(True, False)
_ENCODERS[LONG_CHARACTER_STRING], _DECODERS[LONG_CHARACTER_STRING] = _string_codec(True, True)


def _four_octets(cls: type) -> tuple[_Encoder, _Decoder]:
    def enc(value: Any) -> bytes:
        if len(value) != 4:
            raise ValueError("needs four fields")
        return bytes(value)

    def dec(data: bytes, offset: int) -> tuple[Any, int]:
        if offset + 4 > len(data):
            raise _short("value", offset, 4, len(data) - offset)
        return cls(*data[offset:offset + 4]), offset + 4
    return enc, dec


_ENCODERS[TIME_OF_DAY], _DECODERS[TIME_OF_DAY] = _four_octets(TimeOfDay)
_ENCODERS[DATE], _DECODERS[DATE] = _four_octets(Date)


def _key_enc(value: Any) -> bytes:
    raw = bytes(value)
    if len(raw) != 16:
        raise ValueError("a 128-bit security key is 16 octets")
    return raw


def _key_dec(data: bytes, offset: int) -> tuple[Any, int]:
    if offset + 16 > len(data):
        raise _short("value", offset, 16, len(data) - offset)
    return bytes(data[offset:offset + 16]), offset + 16


_ENCODERS[SECURITY_KEY_128], _DECODERS[SECURITY_KEY_128] = _key_enc, _key_dec

_MAX_NESTING = 8


def _array_enc(value: Any, depth: int = 0, js: bool = False) -> bytes:
    if js:
        element_type = value["element_type"]
        items = None if value.get("invalid") else value["elements"]
    else:
        element_type, items = value
    if element_type not in _ENCODERS:
        raise ValueError(f"unknown element type 0x{element_type:02X}")
    if items is None:
        return bytes((element_type, 0xFF, 0xFF))
    if len(items) >= 0xFFFF:
        raise ValueError("too many elements")
    parts = [bytes((element_type,)), len(items).to_bytes(2, "little")]
    for item in items:
        parts.append(_encode(element_type, item, depth + 1, js))
    return b"".join(parts)


def _array_dec(data: bytes, offset: int, depth: int = 0, js: bool = False) -> tuple[Any, int]:
    if offset + 3 > len(data):
        raise _short("header", offset, 3, len(data) - offset)
    element_type = data[offset]
    n = data[offset + 1] | (data[offset + 2] << 8)
    pos = offset + 3
    if element_type not in _DECODERS:
        raise CodecError("element_type", offset, f"unknown ZCL data type 0x{element_type:02X}")
    if n == 0xFFFF:
        if js:
            return {"element_type": element_type, "elements": [], "invalid": True}, pos
        return ArrayValue(element_type, None), pos
    size = DATA_TYPES[element_type].size
    if size is not None and pos + n * size > len(data):
        raise _short("elements", pos, n * size, len(data) - pos)
    if size == 0 and n:
        # nodata/unknown elements take no room: refuse absurd counts cheaply.
        items = (None,) * n
    else:
        items = []
        for _ in range(n):
            item, pos = _decode(element_type, data, pos, depth + 1, js)
            items.append(item)
    if js:
        return {"element_type": element_type, "elements": list(items)}, pos
    return ArrayValue(element_type, tuple(items)), pos


def _struct_enc(value: Any, depth: int = 0, js: bool = False) -> bytes:
    if js:
        value = None if value.get("invalid") else [(m["type"], m["value"])
                                                   for m in value["members"]]
    if value is None:
        return b"\xff\xff"
    if len(value) >= 0xFFFF:
        raise ValueError("too many structure elements")
    parts = [len(value).to_bytes(2, "little")]
    for type_id, item in value:
        if type_id not in _ENCODERS:
            raise ValueError(f"unknown element type 0x{type_id:02X}")
        parts.append(bytes((type_id,)))
        parts.append(_encode(type_id, item, depth + 1, js))
    return b"".join(parts)


def _struct_dec(data: bytes, offset: int, depth: int = 0, js: bool = False) -> tuple[Any, int]:
    if offset + 2 > len(data):
        raise _short("count", offset, 2, len(data) - offset)
    n = data[offset] | (data[offset + 1] << 8)
    pos = offset + 2
    if n == 0xFFFF:
        return ({"members": [], "invalid": True} if js else None), pos
    if pos + n > len(data):  # every element has at least its type octet
        raise _short("elements", pos, n, len(data) - pos)
    items = []
    for _ in range(n):
        type_id = data[pos]
        if type_id not in _DECODERS:
            raise CodecError("element_type", pos, f"unknown ZCL data type 0x{type_id:02X}")
        item, pos = _decode(type_id, data, pos + 1, depth + 1, js)
        items.append({"type": type_id, "value": item} if js else (type_id, item))
    return ({"members": items} if js else tuple(items)), pos


_COMPOSITE_ENC = {ARRAY: _array_enc, SET: _array_enc, BAG: _array_enc, STRUCTURE: _struct_enc}
_COMPOSITE_DEC = {ARRAY: _array_dec, SET: _array_dec, BAG: _array_dec, STRUCTURE: _struct_dec}
_ENCODERS.update(_COMPOSITE_ENC)
_DECODERS.update(_COMPOSITE_DEC)


# --- JSON representation ------------------------------------------------------------------
# The same octets as above, as JSON-serialisable values that re-encode to the very same octets
# (GBCS trees, `smets gbcs decode --json`). Integers stay integers; octets that are not
# numbers (dataN, floats, octet strings, keys) are uppercase hex of the octets as sent, so a
# NaN payload or a non-canonical value survives; a boolean octet other than 0/1 stays an int;
# invalid strings and collections are {"invalid": true}; a character string that is not
# UTF-8 is {"hex": ...}; Date and Time of Day are objects with null for a wildcard field.

def _hex_codec(size: int) -> tuple[_Encoder, _Decoder]:
    def enc(value: Any) -> bytes:
        raw = bytes.fromhex(value)
        if len(raw) != size:
            raise ValueError(f"needs {size} octets, got {len(raw)}")
        return raw

    def dec(data: bytes, offset: int) -> tuple[Any, int]:
        end = offset + size
        if end > len(data):
            raise _short("value", offset, size, len(data) - offset)
        return data[offset:end].hex().upper(), end
    return enc, dec


def _json_bool_enc(value: Any) -> bytes:
    if value is True or value is False:
        return b"\x01" if value else b"\x00"
    return bytes((value,))


def _json_bool_dec(data: bytes, offset: int) -> tuple[Any, int]:
    if offset >= len(data):
        raise _short("value", offset, 1, 0)
    b = data[offset]
    return (b == 1 if b < 2 else b), offset + 1


def _json_string_codec(type_id: int, text: bool) -> tuple[_Encoder, _Decoder]:
    air_dec = _DECODERS[type_id]
    long = type_id in (LONG_OCTET_STRING, LONG_CHARACTER_STRING)
    lsize = 2 if long else 1

    def enc(value: Any) -> bytes:
        if isinstance(value, dict):
            if value.get("invalid"):
                return b"\xff\xff" if long else b"\xff"
            raw = bytes.fromhex(value["hex"])
        elif text:
            raw = value.encode("utf-8")
        else:
            raw = bytes.fromhex(value)
        if len(raw) >= (0xFFFF if long else 0xFF):
            raise ValueError(f"string of {len(raw)} octets is too long")
        return len(raw).to_bytes(lsize, "little") + raw

    def dec(data: bytes, offset: int) -> tuple[Any, int]:
        v, end = air_dec(data, offset)
        if v is None:
            return {"invalid": True}, end
        if not text:
            return v.hex().upper(), end
        try:
            v.encode("utf-8")  # the air form keeps undecodable octets as surrogates
            return v, end
        except UnicodeEncodeError:
            return {"hex": v.encode("utf-8", "surrogateescape").hex().upper()}, end
    return enc, dec


def _json_four_octets(cls: type) -> tuple[_Encoder, _Decoder]:
    def enc(value: Any) -> bytes:
        return bytes(cls.from_fields(value))

    def dec(data: bytes, offset: int) -> tuple[Any, int]:
        if offset + 4 > len(data):
            raise _short("value", offset, 4, len(data) - offset)
        return cls(*data[offset:offset + 4]).to_fields(), offset + 4
    return enc, dec


_JSON_ENCODERS: dict[int, _Encoder] = dict(_ENCODERS)
_JSON_DECODERS: dict[int, _Decoder] = dict(_DECODERS)
for _tid in (*range(DATA8, DATA64 + 1), SEMI_FLOAT, SINGLE_FLOAT, DOUBLE_FLOAT,
             SECURITY_KEY_128):
    _JSON_ENCODERS[_tid], _JSON_DECODERS[_tid] = _hex_codec(DATA_TYPES[_tid].size)
_JSON_ENCODERS[BOOLEAN], _JSON_DECODERS[BOOLEAN] = _json_bool_enc, _json_bool_dec
for _tid, _text in ((OCTET_STRING, False), (LONG_OCTET_STRING, False),
                    (CHARACTER_STRING, True), (LONG_CHARACTER_STRING, True)):
    _JSON_ENCODERS[_tid], _JSON_DECODERS[_tid] = _json_string_codec(_tid, _text)
_JSON_ENCODERS[TIME_OF_DAY], _JSON_DECODERS[TIME_OF_DAY] = _json_four_octets(TimeOfDay)
_JSON_ENCODERS[DATE], _JSON_DECODERS[DATE] = _json_four_octets(Date)


def _encode(type_id: int, value: Any, depth: int, js: bool = False) -> bytes:
    if type_id in _COMPOSITE_ENC:
        if depth > _MAX_NESTING:
            raise ValueError("collections nested too deeply")
        return _COMPOSITE_ENC[type_id](value, depth, js)
    return (_JSON_ENCODERS if js else _ENCODERS)[type_id](value)


def _decode(type_id: int, data: bytes, offset: int, depth: int,
            js: bool = False) -> tuple[Any, int]:
    if type_id in _COMPOSITE_DEC:
        if depth > _MAX_NESTING:
            raise CodecError("value", offset, "collections nested too deeply")
        return _COMPOSITE_DEC[type_id](data, offset, depth, js)
    return (_JSON_DECODERS if js else _DECODERS)[type_id](data, offset)


def scalar_codec(type_id: int, js: bool) -> tuple[_Encoder | None, _Decoder | None]:
    """C{(encoder, decoder)} of a non-collection type, for codecs that call them per field
    (C{(None, None)} for collections and unknown types).

    The decoder raises only L{CodecError} (truncation). The encoder raises C{struct.error},
    C{TypeError}, C{ValueError}, C{OverflowError}, C{KeyError} or C{AttributeError} on a bad
    value, which the caller turns into a L{CodecError} naming the field.
    """
    if type_id in _COMPOSITE_ENC or type_id not in _ENCODERS:
        return None, None
    if js:
        return _JSON_ENCODERS[type_id], _JSON_DECODERS[type_id]
    return _ENCODERS[type_id], _DECODERS[type_id]


def _encode_checked(type_id: int, value: Any, js: bool) -> bytes:
    if type_id not in _ENCODERS:
        raise CodecError("data_type", 0, f"unknown ZCL data type 0x{type_id:02X}")
    try:
        return _encode(type_id, value, 0, js)
    except CodecError:
        raise
    except (struct.error, OverflowError, TypeError, ValueError, AttributeError, KeyError,
            UnicodeError) as e:
        raise CodecError("value", 0,
                         f"cannot encode {value!r} as {DATA_TYPES[type_id].name}: {e}") from None


def _decode_checked(type_id: int, data: bytes, offset: int, js: bool) -> tuple[Any, int]:
    if type_id not in _DECODERS:
        raise CodecError("data_type", offset, f"unknown ZCL data type 0x{type_id:02X}")
    try:
        return _decode(type_id, data, offset, 0, js)
    except CodecError:
        raise
    except (struct.error, IndexError, ValueError, TypeError, RecursionError) as e:
        raise CodecError("value", offset, f"bad {DATA_TYPES[type_id].name}: {e}") from None


def encode_json(type_id: int, value: Any) -> bytes:
    """Encode the JSON form of a value (see L{decode_json}) as ZCL data type C{type_id}.

    @raise CodecError: unknown type, or a value that does not fit the type.
    """
    return _encode_checked(type_id, value, True)


def decode_json(type_id: int, data: bytes, offset: int = 0) -> tuple[Any, int]:
    """Decode one value of ZCL data type C{type_id} to its JSON form (re-encodes exactly).

    @return: C{(value, offset just past the value)}.
    @raise CodecError: unknown type or truncated data; never anything else.
    """
    return _decode_checked(type_id, data, offset, True)


def encode_value(type_id: int, value: Any) -> bytes:
    """Encode C{value} as ZCL data type C{type_id} (no type octet in front).

    @raise CodecError: unknown type, or a value that does not fit the type.
    """
    return _encode_checked(type_id, value, False)


def decode_value(type_id: int, data: bytes, offset: int = 0) -> tuple[Any, int]:
    """Decode one value of ZCL data type C{type_id} starting at C{data[offset]}.

    @return: C{(value, offset just past the value)}.
    @raise CodecError: unknown type or truncated data; never anything else.
    """
    return _decode_checked(type_id, data, offset, False)
