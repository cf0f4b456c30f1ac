"""ZCL profile-wide ("global", foundation) commands and status codes.

Implements ZigBee Cluster Library (07-5123) section 2.5, "General Command Frames": the payloads
of Read Attributes (0x00) and its Response (0x01), Write Attributes (0x02), Write Attributes
Undivided (0x03), Write Attributes Response (0x04), Write Attributes No Response (0x05),
Configure Reporting (0x06) and Response (0x07), Read Reporting Configuration (0x08) and
Response (0x09), Report Attributes (0x0A), Default Response (0x0B), Discover Attributes (0x0C)
and Response (0x0D), Discover Commands Received / Generated (0x11-0x14) and Discover
Attributes Extended (0x15) and Response (0x16); and the ZCL status codes (section 2.5.3,
Table 2-12 "Enumerated Status Values").

Every command is a frozen dataclass with C{encode() -> bytes} and a C{decode(payload)}
classmethod; L{decode_global} picks the class from the command identifier.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, ClassVar

from protocols.errors import CodecError
from protocols._fast import fast_init
from protocols.zcl.frame import (DIRECTION_CLIENT_TO_SERVER, FRAME_TYPE_GLOBAL, ZclFrame)
from protocols.zcl.types import DATA_TYPES, decode_json, decode_value, encode_json, encode_value

__all__ = [
    "Status", "GlobalCommand", "GLOBAL_COMMANDS", "decode_global", "encode_global",
    "global_frame",
    "ReadAttributes", "ReadAttributeStatusRecord", "ReadAttributesResponse",
    "WriteAttributeRecord", "WriteAttributes", "WriteAttributesUndivided",
    "WriteAttributesNoResponse", "WriteAttributeStatusRecord", "WriteAttributesResponse",
    "AttributeReportingConfigurationRecord", "ConfigureReporting",
    "AttributeStatusRecord", "ConfigureReportingResponse",
    "AttributeRecord", "ReadReportingConfiguration",
    "AttributeReportingConfigurationResponseRecord", "ReadReportingConfigurationResponse",
    "AttributeReport", "ReportAttributes", "DefaultResponse",
    "DiscoverAttributes", "AttributeInformation", "DiscoverAttributesResponse",
    "DiscoverCommandsReceived", "DiscoverCommandsReceivedResponse",
    "DiscoverCommandsGenerated", "DiscoverCommandsGeneratedResponse",
    "DiscoverAttributesExtended", "ExtendedAttributeInformation",
    "DiscoverAttributesExtendedResponse",
    "REPORTING_DIRECTION_SEND", "REPORTING_DIRECTION_RECEIVE",
    "ACCESS_READABLE", "ACCESS_WRITEABLE", "ACCESS_REPORTABLE",
]


class Status(enum.IntEnum):
    """ZCL enumerated status values (ZCL Table 2-12), with the spec's names."""
    SUCCESS = 0x00
    FAILURE = 0x01
    NOT_AUTHORIZED = 0x7E
    RESERVED_FIELD_NOT_ZERO = 0x7F
    MALFORMED_COMMAND = 0x80
    UNSUP_CLUSTER_COMMAND = 0x81
    UNSUP_GENERAL_COMMAND = 0x82
    UNSUP_MANUF_CLUSTER_COMMAND = 0x83
    UNSUP_MANUF_GENERAL_COMMAND = 0x84
    INVALID_FIELD = 0x85
    UNSUPPORTED_ATTRIBUTE = 0x86
    INVALID_VALUE = 0x87
    READ_ONLY = 0x88
    INSUFFICIENT_SPACE = 0x89
    DUPLICATE_EXISTS = 0x8A
    NOT_FOUND = 0x8B
    UNREPORTABLE_ATTRIBUTE = 0x8C
    INVALID_DATA_TYPE = 0x8D
    INVALID_SELECTOR = 0x8E
    WRITE_ONLY = 0x8F
    INCONSISTENT_STARTUP_STATE = 0x90
    DEFINED_OUT_OF_BAND = 0x91
    INCONSISTENT = 0x92
    ACTION_DENIED = 0x93
    TIMEOUT = 0x94
    ABORT = 0x95
    INVALID_IMAGE = 0x96
    WAIT_FOR_DATA = 0x97
    NO_IMAGE_AVAILABLE = 0x98
    REQUIRE_MORE_IMAGE = 0x99
    NOTIFICATION_PENDING = 0x9A
    HARDWARE_FAILURE = 0xC0
    SOFTWARE_FAILURE = 0xC1
    CALIBRATION_ERROR = 0xC2
    UNSUPPORTED_CLUSTER = 0xC3


# Status octet -> Status member (or the plain int for values the spec does not define).
_STATUS = tuple(Status(i) if i in Status._value2member_map_ else i for i in range(256))


class GlobalCommand(enum.IntEnum):
    """Profile-wide command identifiers (ZCL Table 2-3)."""
    READ_ATTRIBUTES = 0x00
    READ_ATTRIBUTES_RESPONSE = 0x01
    WRITE_ATTRIBUTES = 0x02
    WRITE_ATTRIBUTES_UNDIVIDED = 0x03
    WRITE_ATTRIBUTES_RESPONSE = 0x04
    WRITE_ATTRIBUTES_NO_RESPONSE = 0x05
    CONFIGURE_REPORTING = 0x06
    CONFIGURE_REPORTING_RESPONSE = 0x07
    READ_REPORTING_CONFIGURATION = 0x08
    READ_REPORTING_CONFIGURATION_RESPONSE = 0x09
    REPORT_ATTRIBUTES = 0x0A
    DEFAULT_RESPONSE = 0x0B
    DISCOVER_ATTRIBUTES = 0x0C
    DISCOVER_ATTRIBUTES_RESPONSE = 0x0D
    READ_ATTRIBUTES_STRUCTURED = 0x0E
    WRITE_ATTRIBUTES_STRUCTURED = 0x0F
    WRITE_ATTRIBUTES_STRUCTURED_RESPONSE = 0x10
    DISCOVER_COMMANDS_RECEIVED = 0x11
    DISCOVER_COMMANDS_RECEIVED_RESPONSE = 0x12
    DISCOVER_COMMANDS_GENERATED = 0x13
    DISCOVER_COMMANDS_GENERATED_RESPONSE = 0x14
    DISCOVER_ATTRIBUTES_EXTENDED = 0x15
    DISCOVER_ATTRIBUTES_EXTENDED_RESPONSE = 0x16


#: Configure Reporting direction: the receiver of the command sends reports.
REPORTING_DIRECTION_SEND = 0x00
#: Configure Reporting direction: the receiver of the command expects reports.
REPORTING_DIRECTION_RECEIVE = 0x01

#: Discover Attributes Extended access control bits (ZCL 2.5.24.1).
ACCESS_READABLE = 0x01
ACCESS_WRITEABLE = 0x02
ACCESS_REPORTABLE = 0x04


def _need(data: bytes, pos: int, n: int, field: str) -> None:
    if pos + n > len(data):
        raise CodecError(field, pos, f"truncated: need {n} octets, {len(data) - pos} left")


def _u16(data: bytes, pos: int) -> int:
    return data[pos] | (data[pos + 1] << 8)


def _value(type_id: int, data: bytes, pos: int, field: str,
           js: bool = False) -> tuple[Any, int]:
    try:
        return (decode_json if js else decode_value)(type_id, data, pos)
    except CodecError as e:
        raise CodecError(field, e.offset, e.reason) from None


def _enc_value(type_id: int, value: Any, field: str, js: bool = False) -> bytes:
    try:
        return (encode_json if js else encode_value)(type_id, value)
    except CodecError as e:
        raise CodecError(field, 0, e.reason) from None


def _u16b(v: int, field: str) -> bytes:
    if not 0 <= v <= 0xFFFF:
        raise CodecError(field, 0, f"{v!r} is not a 16-bit value")
    return bytes((v & 0xFF, v >> 8))


def _u8b(v: int, field: str) -> bytes:
    if not 0 <= v <= 0xFF:
        raise CodecError(field, 0, f"{v!r} is not an 8-bit value")
    return bytes((v,))


class _Command:
    """Base of the global command payload classes."""
    __slots__ = ()
    command_id: ClassVar[int]

    def encode(self) -> bytes:  # pragma: no cover - overridden
        raise NotImplementedError

    @classmethod
    def decode(cls, payload: bytes) -> Any:  # pragma: no cover - overridden
        raise NotImplementedError


# --- Read Attributes -------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class ReadAttributes(_Command):
    """Read Attributes (0x00): a list of attribute identifiers."""
    attribute_ids: tuple[int, ...]
    command_id: ClassVar[int] = 0x00

    def encode(self) -> bytes:
        return b"".join(_u16b(a, "ReadAttributes.attribute_id") for a in self.attribute_ids)

    @classmethod
    def decode(cls, payload: bytes) -> "ReadAttributes":
        n = len(payload)
        if n & 1:
            raise CodecError("ReadAttributes.attribute_id", n - 1, "odd payload length")
        return cls(tuple(_u16(payload, i) for i in range(0, n, 2)))


@fast_init
@dataclass(frozen=True, slots=True)
class ReadAttributeStatusRecord:
    """Read attribute status record: identifier, status and (on success) type and value."""
    attribute_id: int
    status: int
    type_id: int | None = None
    value: Any = None


@dataclass(frozen=True, slots=True)
class ReadAttributesResponse(_Command):
    """Read Attributes Response (0x01): read attribute status records."""
    records: tuple[ReadAttributeStatusRecord, ...]
    command_id: ClassVar[int] = 0x01

    def encode(self, js: bool = False) -> bytes:
        out = []
        for r in self.records:
            out.append(_u16b(r.attribute_id, "ReadAttributesResponse.attribute_id"))
            out.append(_u8b(r.status, "ReadAttributesResponse.status"))
            if r.status == 0:
                out.append(_u8b(r.type_id, "ReadAttributesResponse.type_id"))
                out.append(_enc_value(r.type_id, r.value, "ReadAttributesResponse.value", js))
        return b"".join(out)

    @classmethod
    def decode(cls, payload: bytes, js: bool = False) -> "ReadAttributesResponse":
        records = []
        pos, n = 0, len(payload)
        while pos < n:
            _need(payload, pos, 3, "ReadAttributesResponse.record")
            attr, status = _u16(payload, pos), payload[pos + 2]
            pos += 3
            if status == 0:
                _need(payload, pos, 1, "ReadAttributesResponse.type_id")
                type_id = payload[pos]
                value, pos = _value(type_id, payload, pos + 1, "ReadAttributesResponse.value", js)
                records.append(ReadAttributeStatusRecord(attr, Status.SUCCESS, type_id, value))
            else:
                records.append(ReadAttributeStatusRecord(attr, _STATUS[status]))
        return cls(tuple(records))


# --- Write Attributes ------------------------------------------------------------------------

@fast_init
@dataclass(frozen=True, slots=True)
class WriteAttributeRecord:
    """Write attribute record: identifier, data type and value."""
    attribute_id: int
    type_id: int
    value: Any


def _encode_write_records(records: tuple[WriteAttributeRecord, ...], name: str,
                          js: bool = False) -> bytes:
    out = []
    for r in records:
        out.append(_u16b(r.attribute_id, f"{name}.attribute_id"))
        out.append(_u8b(r.type_id, f"{name}.type_id"))
        out.append(_enc_value(r.type_id, r.value, f"{name}.value", js))
    return b"".join(out)


def _decode_write_records(payload: bytes, name: str,
                          js: bool = False) -> tuple[WriteAttributeRecord, ...]:
    records = []
    pos, n = 0, len(payload)
    while pos < n:
        _need(payload, pos, 3, f"{name}.record")
        attr, type_id = _u16(payload, pos), payload[pos + 2]
        value, pos = _value(type_id, payload, pos + 3, f"{name}.value", js)
        records.append(WriteAttributeRecord(attr, type_id, value))
    return tuple(records)


@dataclass(frozen=True, slots=True)
class _WriteRecords(_Command):
    """The write-record payload shared by Write Attributes (and its Undivided and No Response
    forms) - each is its own class, so that a receiver tells them apart by type."""
    records: tuple[WriteAttributeRecord, ...]

    def encode(self, js: bool = False) -> bytes:
        return _encode_write_records(self.records, type(self).__name__, js)

    @classmethod
    def decode(cls, payload: bytes, js: bool = False) -> Any:
        return cls(_decode_write_records(payload, cls.__name__, js))


@dataclass(frozen=True, slots=True)
class WriteAttributes(_WriteRecords):
    """Write Attributes (0x02)."""
    command_id: ClassVar[int] = 0x02


@dataclass(frozen=True, slots=True)
class WriteAttributesUndivided(_WriteRecords):
    """Write Attributes Undivided (0x03): all records are written, or none."""
    command_id: ClassVar[int] = 0x03


@dataclass(frozen=True, slots=True)
class WriteAttributesNoResponse(_WriteRecords):
    """Write Attributes No Response (0x05)."""
    command_id: ClassVar[int] = 0x05


@fast_init
@dataclass(frozen=True, slots=True)
class WriteAttributeStatusRecord:
    """Write attribute status record; C{attribute_id} is C{None} in the single SUCCESS record
    sent when every write succeeded."""
    status: int
    attribute_id: int | None = None


@dataclass(frozen=True, slots=True)
class WriteAttributesResponse(_Command):
    """Write Attributes Response (0x04)."""
    records: tuple[WriteAttributeStatusRecord, ...]
    command_id: ClassVar[int] = 0x04

    def encode(self) -> bytes:
        return _encode_status_records(self.records, "WriteAttributesResponse", False)

    @classmethod
    def decode(cls, payload: bytes) -> "WriteAttributesResponse":
        return cls(_decode_status_records(payload, "WriteAttributesResponse", False,
                                          WriteAttributeStatusRecord))


def _encode_status_records(records: tuple, name: str, with_direction: bool) -> bytes:
    """Status records of Write Attributes Response / Configure Reporting Response: status,
    then [direction] and attribute identifier unless it is the single all-SUCCESS record."""
    out = []
    for r in records:
        out.append(_u8b(r.status, f"{name}.status"))
        if r.attribute_id is not None:
            if with_direction:
                out.append(_u8b(r.direction, f"{name}.direction"))
            out.append(_u16b(r.attribute_id, f"{name}.attribute_id"))
    return b"".join(out)


def _decode_status_records(payload: bytes, name: str, with_direction: bool,
                           record: type) -> tuple:
    records = []
    pos, n = 0, len(payload)
    if n == 0:
        raise CodecError(f"{name}.status", 0, "empty payload")
    size = 4 if with_direction else 3
    while pos < n:
        status = _STATUS[payload[pos]]
        if pos + 1 == n:
            records.append(record(status))
            break
        _need(payload, pos + 1, size - 1, f"{name}.record")
        if with_direction:
            records.append(record(status, payload[pos + 1], _u16(payload, pos + 2)))
        else:
            records.append(record(status, _u16(payload, pos + 1)))
        pos += size
    return tuple(records)


# --- Configure Reporting ---------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class AttributeReportingConfigurationRecord:
    """Attribute reporting configuration record (ZCL 2.5.7.1).

    Direction 0 (L{REPORTING_DIRECTION_SEND}): C{type_id}, C{min_interval}, C{max_interval}
    and, for analog types, C{reportable_change}. Direction 1: C{timeout_period}.
    """
    direction: int
    attribute_id: int
    type_id: int | None = None
    min_interval: int | None = None
    max_interval: int | None = None
    reportable_change: Any = None
    timeout_period: int | None = None


def _encode_config(r: Any, name: str) -> list[bytes]:
    out = []
    if r.direction == REPORTING_DIRECTION_SEND:
        dt = DATA_TYPES.get(r.type_id) if r.type_id is not None else None
        if dt is None:
            raise CodecError(f"{name}.type_id", 0, f"unknown data type {r.type_id!r}")
        out.append(bytes((r.type_id,)))
        out.append(_u16b(r.min_interval, f"{name}.min_interval"))
        out.append(_u16b(r.max_interval, f"{name}.max_interval"))
        if dt.analog:
            out.append(_enc_value(r.type_id, r.reportable_change, f"{name}.reportable_change"))
    elif r.direction == REPORTING_DIRECTION_RECEIVE:
        out.append(_u16b(r.timeout_period, f"{name}.timeout_period"))
    else:
        raise CodecError(f"{name}.direction", 0, f"direction {r.direction!r} is reserved")
    return out


def _decode_config(payload: bytes, pos: int, direction: int, name: str
                   ) -> tuple[dict[str, Any], int]:
    if direction == REPORTING_DIRECTION_SEND:
        _need(payload, pos, 5, f"{name}.record")
        type_id = payload[pos]
        dt = DATA_TYPES.get(type_id)
        if dt is None:
            raise CodecError(f"{name}.type_id", pos, f"unknown ZCL data type 0x{type_id:02X}")
        fields: dict[str, Any] = {"type_id": type_id, "min_interval": _u16(payload, pos + 1),
                                  "max_interval": _u16(payload, pos + 3)}
        pos += 5
        if dt.analog:
            fields["reportable_change"], pos = _value(type_id, payload, pos,
                                                      f"{name}.reportable_change")
        return fields, pos
    if direction == REPORTING_DIRECTION_RECEIVE:
        _need(payload, pos, 2, f"{name}.timeout_period")
        return {"timeout_period": _u16(payload, pos)}, pos + 2
    raise CodecError(f"{name}.direction", pos - 3, f"direction {direction} is reserved")


@dataclass(frozen=True, slots=True)
class ConfigureReporting(_Command):
    """Configure Reporting (0x06)."""
    records: tuple[AttributeReportingConfigurationRecord, ...]
    command_id: ClassVar[int] = 0x06

    def encode(self) -> bytes:
        out = []
        for r in self.records:
            out.append(_u8b(r.direction, "ConfigureReporting.direction"))
            out.append(_u16b(r.attribute_id, "ConfigureReporting.attribute_id"))
            out.extend(_encode_config(r, "ConfigureReporting"))
        return b"".join(out)

    @classmethod
    def decode(cls, payload: bytes) -> "ConfigureReporting":
        records = []
        pos, n = 0, len(payload)
        while pos < n:
            _need(payload, pos, 3, "ConfigureReporting.record")
            direction, attr = payload[pos], _u16(payload, pos + 1)
            fields, pos = _decode_config(payload, pos + 3, direction, "ConfigureReporting")
            records.append(AttributeReportingConfigurationRecord(direction, attr, **fields))
        return cls(tuple(records))


@fast_init
@dataclass(frozen=True, slots=True)
class AttributeStatusRecord:
    """Attribute status record of a Configure Reporting Response (ZCL 2.5.8.1); direction
    and attribute identifier are C{None} in the single SUCCESS record."""
    status: int
    direction: int | None = None
    attribute_id: int | None = None


@dataclass(frozen=True, slots=True)
class ConfigureReportingResponse(_Command):
    """Configure Reporting Response (0x07)."""
    records: tuple[AttributeStatusRecord, ...]
    command_id: ClassVar[int] = 0x07

    def encode(self) -> bytes:
        return _encode_status_records(self.records, "ConfigureReportingResponse", True)

    @classmethod
    def decode(cls, payload: bytes) -> "ConfigureReportingResponse":
        return cls(_decode_status_records(payload, "ConfigureReportingResponse", True,
                                          AttributeStatusRecord))


# --- Read Reporting Configuration ------------------------------------------------------------

@fast_init
@dataclass(frozen=True, slots=True)
class AttributeRecord:
    """Attribute record of Read Reporting Configuration: direction and identifier."""
    direction: int
    attribute_id: int


@dataclass(frozen=True, slots=True)
class ReadReportingConfiguration(_Command):
    """Read Reporting Configuration (0x08)."""
    records: tuple[AttributeRecord, ...]
    command_id: ClassVar[int] = 0x08

    def encode(self) -> bytes:
        return b"".join(_u8b(r.direction, "ReadReportingConfiguration.direction")
                        + _u16b(r.attribute_id, "ReadReportingConfiguration.attribute_id")
                        for r in self.records)

    @classmethod
    def decode(cls, payload: bytes) -> "ReadReportingConfiguration":
        n = len(payload)
        if n % 3:
            raise CodecError("ReadReportingConfiguration.record", n - n % 3,
                             "payload is not a whole number of 3-octet records")
        return cls(tuple(AttributeRecord(payload[i], _u16(payload, i + 1))
                         for i in range(0, n, 3)))


@dataclass(frozen=True, slots=True)
class AttributeReportingConfigurationResponseRecord:
    """Attribute reporting configuration record of a Read Reporting Configuration Response
    (ZCL 2.5.10.1): on a status other than SUCCESS only direction and identifier follow."""
    status: int
    direction: int
    attribute_id: int
    type_id: int | None = None
    min_interval: int | None = None
    max_interval: int | None = None
    reportable_change: Any = None
    timeout_period: int | None = None


@dataclass(frozen=True, slots=True)
class ReadReportingConfigurationResponse(_Command):
    """Read Reporting Configuration Response (0x09)."""
    records: tuple[AttributeReportingConfigurationResponseRecord, ...]
    command_id: ClassVar[int] = 0x09

    def encode(self) -> bytes:
        out = []
        name = "ReadReportingConfigurationResponse"
        for r in self.records:
            out.append(_u8b(r.status, f"{name}.status"))
            out.append(_u8b(r.direction, f"{name}.direction"))
            out.append(_u16b(r.attribute_id, f"{name}.attribute_id"))
            if r.status == 0:
                out.extend(_encode_config(r, name))
        return b"".join(out)

    @classmethod
    def decode(cls, payload: bytes) -> "ReadReportingConfigurationResponse":
        records = []
        pos, n = 0, len(payload)
        name = "ReadReportingConfigurationResponse"
        while pos < n:
            _need(payload, pos, 4, f"{name}.record")
            status, direction, attr = payload[pos], payload[pos + 1], _u16(payload, pos + 2)
            pos += 4
            if status == 0:
                fields, pos = _decode_config(payload, pos, direction, name)
                records.append(AttributeReportingConfigurationResponseRecord(
                    Status.SUCCESS, direction, attr, **fields))
            else:
                records.append(AttributeReportingConfigurationResponseRecord(
                    _STATUS[status], direction, attr))
        return cls(tuple(records))


# --- Report Attributes -----------------------------------------------------------------------

@fast_init
@dataclass(frozen=True, slots=True)
class AttributeReport:
    """Attribute report record: identifier, data type and value."""
    attribute_id: int
    type_id: int
    value: Any


@dataclass(frozen=True, slots=True)
class ReportAttributes(_Command):
    """Report Attributes (0x0A)."""
    reports: tuple[AttributeReport, ...]
    command_id: ClassVar[int] = 0x0A

    def encode(self, js: bool = False) -> bytes:
        return _encode_write_records(self.reports, "ReportAttributes", js)  # same layout

    @classmethod
    def decode(cls, payload: bytes, js: bool = False) -> "ReportAttributes":
        return cls(tuple(AttributeReport(r.attribute_id, r.type_id, r.value)
                         for r in _decode_write_records(payload, "ReportAttributes", js)))


# --- Default Response ------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class DefaultResponse(_Command):
    """Default Response (0x0B): the command identifier answered and a status code."""
    response_command_id: int
    status: int
    command_id: ClassVar[int] = 0x0B

    def encode(self) -> bytes:
        return (_u8b(self.response_command_id, "DefaultResponse.command_id")
                + _u8b(self.status, "DefaultResponse.status"))

    @classmethod
    def decode(cls, payload: bytes) -> "DefaultResponse":
        if len(payload) < 2:
            raise CodecError("DefaultResponse.status", len(payload), "truncated")
        return cls(payload[0], _STATUS[payload[1]])


# --- Discover Attributes / Commands ----------------------------------------------------------

@dataclass(frozen=True, slots=True)
class DiscoverAttributes(_Command):
    """Discover Attributes (0x0C): start attribute identifier and maximum count."""
    start_attribute_id: int
    max_attribute_ids: int
    command_id: ClassVar[int] = 0x0C

    def encode(self) -> bytes:
        n = type(self).__name__
        return (_u16b(self.start_attribute_id, f"{n}.start_attribute_id")
                + _u8b(self.max_attribute_ids, f"{n}.max_attribute_ids"))

    @classmethod
    def decode(cls, payload: bytes) -> Any:
        _need(payload, 0, 3, f"{cls.__name__}.start_attribute_id")
        return cls(_u16(payload, 0), payload[2])


@fast_init
@dataclass(frozen=True, slots=True)
class AttributeInformation:
    """Attribute information of a Discover Attributes Response: identifier and data type."""
    attribute_id: int
    type_id: int


@dataclass(frozen=True, slots=True)
class DiscoverAttributesResponse(_Command):
    """Discover Attributes Response (0x0D)."""
    discovery_complete: bool
    records: tuple[AttributeInformation, ...]
    command_id: ClassVar[int] = 0x0D

    def encode(self) -> bytes:
        return bytes((1 if self.discovery_complete else 0,)) + b"".join(
            _u16b(r.attribute_id, "DiscoverAttributesResponse.attribute_id")
            + _u8b(r.type_id, "DiscoverAttributesResponse.type_id") for r in self.records)

    @classmethod
    def decode(cls, payload: bytes) -> "DiscoverAttributesResponse":
        n = len(payload)
        if n == 0 or (n - 1) % 3:
            raise CodecError("DiscoverAttributesResponse.records", max(n - (n - 1) % 3, 0),
                             "payload is not a flag and whole 3-octet records")
        return cls(bool(payload[0]), tuple(AttributeInformation(_u16(payload, i), payload[i + 2])
                                           for i in range(1, n, 3)))


@dataclass(frozen=True, slots=True)
class _DiscoverCommands(_Command):
    start_command_id: int
    max_command_ids: int

    def encode(self) -> bytes:
        n = type(self).__name__
        return (_u8b(self.start_command_id, f"{n}.start_command_id")
                + _u8b(self.max_command_ids, f"{n}.max_command_ids"))

    @classmethod
    def decode(cls, payload: bytes) -> Any:
        _need(payload, 0, 2, f"{cls.__name__}.start_command_id")
        return cls(payload[0], payload[1])


@dataclass(frozen=True, slots=True)
class DiscoverCommandsReceived(_DiscoverCommands):
    """Discover Commands Received (0x11)."""
    command_id: ClassVar[int] = 0x11


@dataclass(frozen=True, slots=True)
class DiscoverCommandsGenerated(_DiscoverCommands):
    """Discover Commands Generated (0x13)."""
    command_id: ClassVar[int] = 0x13


@dataclass(frozen=True, slots=True)
class _DiscoverCommandsResponse(_Command):
    discovery_complete: bool
    command_ids: tuple[int, ...]

    def encode(self) -> bytes:
        n = type(self).__name__
        return bytes((1 if self.discovery_complete else 0,)) + b"".join(
            _u8b(c, f"{n}.command_id") for c in self.command_ids)

    @classmethod
    def decode(cls, payload: bytes) -> Any:
        _need(payload, 0, 1, f"{cls.__name__}.discovery_complete")
        return cls(bool(payload[0]), tuple(payload[1:]))


@dataclass(frozen=True, slots=True)
class DiscoverCommandsReceivedResponse(_DiscoverCommandsResponse):
    """Discover Commands Received Response (0x12)."""
    command_id: ClassVar[int] = 0x12


@dataclass(frozen=True, slots=True)
class DiscoverCommandsGeneratedResponse(_DiscoverCommandsResponse):
    """Discover Commands Generated Response (0x14)."""
    command_id: ClassVar[int] = 0x14


@dataclass(frozen=True, slots=True)
class DiscoverAttributesExtended(DiscoverAttributes):
    """Discover Attributes Extended (0x15)."""
    command_id: ClassVar[int] = 0x15


@fast_init
@dataclass(frozen=True, slots=True)
class ExtendedAttributeInformation:
    """Extended attribute information: identifier, data type and access control bits
    (L{ACCESS_READABLE} | L{ACCESS_WRITEABLE} | L{ACCESS_REPORTABLE})."""
    attribute_id: int
    type_id: int
    access_control: int


@dataclass(frozen=True, slots=True)
class DiscoverAttributesExtendedResponse(_Command):
    """Discover Attributes Extended Response (0x16)."""
    discovery_complete: bool
    records: tuple[ExtendedAttributeInformation, ...]
    command_id: ClassVar[int] = 0x16

    def encode(self) -> bytes:
        n = "DiscoverAttributesExtendedResponse"
        return bytes((1 if self.discovery_complete else 0,)) + b"".join(
            _u16b(r.attribute_id, f"{n}.attribute_id") + _u8b(r.type_id, f"{n}.type_id")
            + _u8b(r.access_control, f"{n}.access_control") for r in self.records)

    @classmethod
    def decode(cls, payload: bytes) -> "DiscoverAttributesExtendedResponse":
        n = len(payload)
        if n == 0 or (n - 1) % 4:
            raise CodecError("DiscoverAttributesExtendedResponse.records",
                             max(n - (n - 1) % 4, 0),
                             "payload is not a flag and whole 4-octet records")
        return cls(bool(payload[0]), tuple(
            ExtendedAttributeInformation(_u16(payload, i), payload[i + 2], payload[i + 3])
            for i in range(1, n, 4)))


#: Global command identifier -> payload class.
GLOBAL_COMMANDS: dict[int, type] = {c.command_id: c for c in (
    ReadAttributes, ReadAttributesResponse, WriteAttributes, WriteAttributesUndivided,
    WriteAttributesResponse, WriteAttributesNoResponse, ConfigureReporting,
    ConfigureReportingResponse, ReadReportingConfiguration, ReadReportingConfigurationResponse,
    ReportAttributes, DefaultResponse, DiscoverAttributes, DiscoverAttributesResponse,
    DiscoverCommandsReceived, DiscoverCommandsReceivedResponse, DiscoverCommandsGenerated,
    DiscoverCommandsGeneratedResponse, DiscoverAttributesExtended,
    DiscoverAttributesExtendedResponse)}


def decode_global(command_id: int, payload: bytes) -> Any:
    """Decode the payload of global command C{command_id} into its dataclass.

    @raise CodecError: unsupported command identifier or malformed payload.
    """
    cls = GLOBAL_COMMANDS.get(command_id)
    if cls is None:
        raise CodecError("command_id", 0, f"unsupported global command 0x{command_id:02X}")
    try:
        return cls.decode(payload)
    except CodecError:
        raise
    except (IndexError, ValueError, TypeError) as e:  # defensive: never leak these
        raise CodecError(cls.__name__, 0, str(e)) from None


def encode_global(command: Any) -> bytes:
    """Encode a global command dataclass to its payload octets."""
    try:
        return command.encode()
    except CodecError:
        raise
    except (IndexError, ValueError, TypeError, AttributeError) as e:
        raise CodecError(type(command).__name__, 0, str(e)) from None


def global_frame(command: Any, tsn: int, direction: int = DIRECTION_CLIENT_TO_SERVER, *,
                 disable_default_response: bool = False,
                 manufacturer_code: int | None = None) -> ZclFrame:
    """Build the L{ZclFrame} carrying a global command dataclass."""
    return ZclFrame(FRAME_TYPE_GLOBAL, command.command_id, tsn, encode_global(command),
                    direction, disable_default_response, manufacturer_code)
