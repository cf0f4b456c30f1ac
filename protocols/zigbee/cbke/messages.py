"""Key Establishment cluster (0x0800) command payloads for the CBKE machines.

Implements the payload layouts of ZigBee Smart Energy 1.4 (07-5356) Annex C.3.1.2 / C.3.1.3
(commands received by the server / by the client) and the terminate status values of
Table C-9 (han-zigbee-wireshark.md 4.2):

=================================  ===  ====================================================
command                            id   payload
=================================  ===  ====================================================
InitiateKeyEstablishmentRequest    0x00 suite (u16), EphemeralDataGenerateTime (u8),
 / Response                             ConfirmKeyGenerateTime (u8), identity (certificate)
EphemeralDataRequest / Response    0x01 ephemeral data (public key, 37 octets for suite 2)
ConfirmKeyDataRequest / Response   0x02 secure message authentication code (16 octets)
TerminateKeyEstablishment          0x03 status (u8), wait time (u8 s), suite (u16)
=================================  ===  ====================================================

Requests go client to server (the initiator is the client), responses server to client;
TerminateKeyEstablishment exists in both directions.  Integers are little-endian (ZCL).
One layout table per command drives both L{encode} and L{decode_command}; the identity and
ephemeral data are variable (their size depends on the suite) and are checked by the
machine, which answers with the right terminate status.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import ClassVar

from protocols.errors import CodecError
from protocols.zcl.frame import FRAME_TYPE_CLUSTER, ZclFrame

__all__ = [
    "SUITE_2", "CLIENT_TO_SERVER", "SERVER_TO_CLIENT", "MAC_SIZE", "EPHEMERAL_DATA_SIZE",
    "TerminateStatus", "InitiateKeyEstablishmentRequest", "InitiateKeyEstablishmentResponse",
    "EphemeralDataRequest", "EphemeralDataResponse", "ConfirmKeyDataRequest",
    "ConfirmKeyDataResponse", "TerminateKeyEstablishment", "decode_command", "encode",
    "KEY_ESTABLISHMENT_CLUSTER_ID", "zcl_frame",
]

#: The Key Establishment cluster identifier (ZSE Table C-1).
KEY_ESTABLISHMENT_CLUSTER_ID = 0x0800

#: KeyEstablishmentSuite value of crypto suite 2 (CBKE-ECMQV, sect283k1).
SUITE_2 = 0x0002
#: ZCL frame-control direction bit values.
CLIENT_TO_SERVER = 0
SERVER_TO_CLIENT = 1
MAC_SIZE = 16
EPHEMERAL_DATA_SIZE = 37


class TerminateStatus(enum.IntEnum):
    """TerminateKeyEstablishment status codes (ZSE Table C-9)."""

    UNKNOWN_ISSUER = 0x01
    BAD_KEY_CONFIRM = 0x02
    BAD_MESSAGE = 0x03
    NO_RESOURCES = 0x04
    UNSUPPORTED_SUITE = 0x05
    INVALID_CERTIFICATE = 0x06


# Field kinds: "u8", "u16" (little-endian), an int (fixed octets) or None (the rest).
_Layout = tuple[tuple[str, "str | int | None"], ...]

_INITIATE: _Layout = (("key_establishment_suite", "u16"),
                      ("ephemeral_data_generate_time", "u8"),
                      ("confirm_key_generate_time", "u8"),
                      ("identity", None))
_EPHEMERAL: _Layout = (("ephemeral_data", None),)
_CONFIRM: _Layout = (("secure_message_authentication_code", MAC_SIZE),)
_TERMINATE: _Layout = (("status_code", "u8"), ("wait_time", "u8"),
                       ("key_establishment_suite", "u16"))


@dataclass(frozen=True, slots=True)
class InitiateKeyEstablishmentRequest:
    key_establishment_suite: int
    ephemeral_data_generate_time: int
    confirm_key_generate_time: int
    identity: bytes
    COMMAND_ID: ClassVar[int] = 0x00
    DIRECTION: ClassVar[int] = CLIENT_TO_SERVER
    LAYOUT: ClassVar[_Layout] = _INITIATE


@dataclass(frozen=True, slots=True)
class InitiateKeyEstablishmentResponse:
    key_establishment_suite: int
    ephemeral_data_generate_time: int
    confirm_key_generate_time: int
    identity: bytes
    COMMAND_ID: ClassVar[int] = 0x00
    DIRECTION: ClassVar[int] = SERVER_TO_CLIENT
    LAYOUT: ClassVar[_Layout] = _INITIATE


@dataclass(frozen=True, slots=True)
class EphemeralDataRequest:
    ephemeral_data: bytes
    COMMAND_ID: ClassVar[int] = 0x01
    DIRECTION: ClassVar[int] = CLIENT_TO_SERVER
    LAYOUT: ClassVar[_Layout] = _EPHEMERAL


@dataclass(frozen=True, slots=True)
class EphemeralDataResponse:
    ephemeral_data: bytes
    COMMAND_ID: ClassVar[int] = 0x01
    DIRECTION: ClassVar[int] = SERVER_TO_CLIENT
    LAYOUT: ClassVar[_Layout] = _EPHEMERAL


@dataclass(frozen=True, slots=True)
class ConfirmKeyDataRequest:
    secure_message_authentication_code: bytes
    COMMAND_ID: ClassVar[int] = 0x02
    DIRECTION: ClassVar[int] = CLIENT_TO_SERVER
    LAYOUT: ClassVar[_Layout] = _CONFIRM


@dataclass(frozen=True, slots=True)
class ConfirmKeyDataResponse:
    secure_message_authentication_code: bytes
    COMMAND_ID: ClassVar[int] = 0x02
    DIRECTION: ClassVar[int] = SERVER_TO_CLIENT
    LAYOUT: ClassVar[_Layout] = _CONFIRM


@dataclass(frozen=True, slots=True)
class TerminateKeyEstablishment:
    """Sent in either direction; C{direction} says which (it is part of the ZCL header)."""

    status_code: int
    wait_time: int
    key_establishment_suite: int
    direction: int = CLIENT_TO_SERVER
    COMMAND_ID: ClassVar[int] = 0x03
    LAYOUT: ClassVar[_Layout] = _TERMINATE

    @property
    def DIRECTION(self) -> int:          # noqa: N802 (same name as the other commands)
        return self.direction


Command = (InitiateKeyEstablishmentRequest | InitiateKeyEstablishmentResponse
           | EphemeralDataRequest | EphemeralDataResponse | ConfirmKeyDataRequest
           | ConfirmKeyDataResponse | TerminateKeyEstablishment)

_BY_ID = {
    (CLIENT_TO_SERVER, 0x00): InitiateKeyEstablishmentRequest,
    (CLIENT_TO_SERVER, 0x01): EphemeralDataRequest,
    (CLIENT_TO_SERVER, 0x02): ConfirmKeyDataRequest,
    (CLIENT_TO_SERVER, 0x03): TerminateKeyEstablishment,
    (SERVER_TO_CLIENT, 0x00): InitiateKeyEstablishmentResponse,
    (SERVER_TO_CLIENT, 0x01): EphemeralDataResponse,
    (SERVER_TO_CLIENT, 0x02): ConfirmKeyDataResponse,
    (SERVER_TO_CLIENT, 0x03): TerminateKeyEstablishment,
}


def encode(command: Command) -> bytes:
    """Encode the ZCL payload (after the ZCL header) of a Key Establishment command."""
    out = bytearray()
    name = type(command).__name__
    for field, kind in command.LAYOUT:
        value = getattr(command, field)
        if kind == "u8" or kind == "u16":
            size = 1 if kind == "u8" else 2
            if not isinstance(value, int) or not 0 <= value < 1 << (8 * size):
                raise CodecError(f"{name}.{field}", len(out), f"{value!r} is not a {kind}")
            out += value.to_bytes(size, "little")
        else:
            value = bytes(value)
            if kind is not None and len(value) != kind:
                raise CodecError(f"{name}.{field}", len(out),
                                 f"must be {kind} octets, got {len(value)}")
            out += value
    return bytes(out)


def decode_command(direction: int, command_id: int, payload: bytes) -> Command:
    """Decode a Key Establishment command payload received with C{direction}.

    @raise CodecError: unknown command, truncated payload or trailing octets.
    """
    cls = _BY_ID.get((direction, command_id))
    if cls is None:
        raise CodecError("KeyEstablishment.command_id", 0,
                         f"unknown command 0x{command_id:02x} (direction {direction})")
    payload = bytes(payload)
    values = {}
    offset = 0
    for field, kind in cls.LAYOUT:
        if kind == "u8" or kind == "u16" or isinstance(kind, int):
            size = 1 if kind == "u8" else 2 if kind == "u16" else kind
            if offset + size > len(payload):
                raise CodecError(f"{cls.__name__}.{field}", offset,
                                 f"truncated: need {size} octets, {len(payload) - offset} left")
            raw = payload[offset:offset + size]
            values[field] = raw if isinstance(kind, int) else int.from_bytes(raw, "little")
            offset += size
        else:
            values[field] = payload[offset:]
            offset = len(payload)
    if offset != len(payload):
        raise CodecError(cls.__name__, offset, f"{len(payload) - offset} trailing octets")
    if cls is TerminateKeyEstablishment:
        values["direction"] = direction
    return cls(**values)


def zcl_frame(command: Command, tsn: int, *, disable_default_response: bool = False) -> ZclFrame:
    """The ZCL frame (cluster-specific, right direction) carrying C{command}."""
    return ZclFrame(FRAME_TYPE_CLUSTER, command.COMMAND_ID, tsn, encode(command),
                    direction=command.DIRECTION,
                    disable_default_response=disable_default_response)
