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
TerminateKeyEstablishment exists in both directions.  The octets are those of the one ZCL
registry's Key Establishment cluster (L{protocols.zcl.se.key_establishment}): each command
class names, per attribute, the registry's (ZSE-spelled) field it holds, and L{encode} /
L{decode_command} go through that definition.  The identity and ephemeral data are variable
(their size depends on the suite) and are checked by the machine, which answers with the
right terminate status.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import ClassVar

from protocols.errors import CodecError
from protocols.zcl.clusters import CommandDef, get_cluster
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


# (attribute, registry field name) in payload order
_Fields = tuple[tuple[str, str], ...]

_INITIATE: _Fields = (("key_establishment_suite", "KeyEstablishmentSuite"),
                      ("ephemeral_data_generate_time", "EphemeralDataGenerateTime"),
                      ("confirm_key_generate_time", "ConfirmKeyGenerateTime"),
                      ("identity", "Identity"))
_EPHEMERAL: _Fields = (("ephemeral_data", "EphemeralData"),)
_CONFIRM: _Fields = (("secure_message_authentication_code",
                      "SecureMessageAuthenticationCode"),)
_TERMINATE: _Fields = (("status_code", "StatusCode"), ("wait_time", "WaitTime"),
                       ("key_establishment_suite", "KeyEstablishmentSuite"))


@dataclass(frozen=True, slots=True)
class InitiateKeyEstablishmentRequest:
    key_establishment_suite: int
    ephemeral_data_generate_time: int
    confirm_key_generate_time: int
    identity: bytes
    COMMAND_ID: ClassVar[int] = 0x00
    DIRECTION: ClassVar[int] = CLIENT_TO_SERVER
    FIELDS: ClassVar[_Fields] = _INITIATE


@dataclass(frozen=True, slots=True)
class InitiateKeyEstablishmentResponse:
    key_establishment_suite: int
    ephemeral_data_generate_time: int
    confirm_key_generate_time: int
    identity: bytes
    COMMAND_ID: ClassVar[int] = 0x00
    DIRECTION: ClassVar[int] = SERVER_TO_CLIENT
    FIELDS: ClassVar[_Fields] = _INITIATE


@dataclass(frozen=True, slots=True)
class EphemeralDataRequest:
    ephemeral_data: bytes
    COMMAND_ID: ClassVar[int] = 0x01
    DIRECTION: ClassVar[int] = CLIENT_TO_SERVER
    FIELDS: ClassVar[_Fields] = _EPHEMERAL


@dataclass(frozen=True, slots=True)
class EphemeralDataResponse:
    ephemeral_data: bytes
    COMMAND_ID: ClassVar[int] = 0x01
    DIRECTION: ClassVar[int] = SERVER_TO_CLIENT
    FIELDS: ClassVar[_Fields] = _EPHEMERAL


@dataclass(frozen=True, slots=True)
class ConfirmKeyDataRequest:
    secure_message_authentication_code: bytes
    COMMAND_ID: ClassVar[int] = 0x02
    DIRECTION: ClassVar[int] = CLIENT_TO_SERVER
    FIELDS: ClassVar[_Fields] = _CONFIRM


@dataclass(frozen=True, slots=True)
class ConfirmKeyDataResponse:
    secure_message_authentication_code: bytes
    COMMAND_ID: ClassVar[int] = 0x02
    DIRECTION: ClassVar[int] = SERVER_TO_CLIENT
    FIELDS: ClassVar[_Fields] = _CONFIRM


@dataclass(frozen=True, slots=True)
class TerminateKeyEstablishment:
    """Sent in either direction; C{direction} says which (it is part of the ZCL header)."""

    status_code: int
    wait_time: int
    key_establishment_suite: int
    direction: int = CLIENT_TO_SERVER
    COMMAND_ID: ClassVar[int] = 0x03
    FIELDS: ClassVar[_Fields] = _TERMINATE

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


def _definition(direction: int, command_id: int) -> CommandDef:
    return get_cluster(KEY_ESTABLISHMENT_CLUSTER_ID).commands(direction)[command_id]


def encode(command: Command) -> bytes:
    """Encode the ZCL payload (after the ZCL header) of a Key Establishment command."""
    values = {}
    for attr, name in command.FIELDS:
        value = getattr(command, attr)
        values[name] = bytes(value) if isinstance(value, (bytes, bytearray, memoryview)) \
            else value
    return _definition(command.DIRECTION, command.COMMAND_ID).encode(values)


def decode_command(direction: int, command_id: int, payload: bytes) -> Command:
    """Decode a Key Establishment command payload received with C{direction}.

    @raise CodecError: unknown command, truncated payload or trailing octets.
    """
    cls = _BY_ID.get((direction, command_id))
    if cls is None:
        raise CodecError("KeyEstablishment.command_id", 0,
                         f"unknown command 0x{command_id:02x} (direction {direction})")
    payload = bytes(payload)
    definition = _definition(direction, command_id)
    decoded = definition.decode(payload)
    used = len(definition.encode(decoded))
    if used != len(payload):
        raise CodecError(cls.__name__, used, f"{len(payload) - used} trailing octets")
    values = {attr: decoded[name] for attr, name in cls.FIELDS}
    if cls is TerminateKeyEstablishment:
        values["direction"] = direction
    return cls(**values)


def zcl_frame(command: Command, tsn: int, *, disable_default_response: bool = False) -> ZclFrame:
    """The ZCL frame (cluster-specific, right direction) carrying C{command}."""
    return ZclFrame(FRAME_TYPE_CLUSTER, command.COMMAND_ID, tsn, encode(command),
                    direction=command.DIRECTION,
                    disable_default_response=disable_default_response)
