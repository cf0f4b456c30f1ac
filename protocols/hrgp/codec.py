"""GB-HRGP framing inside ZSE Tunneling TransferData, and the Tunneling commands as values.

Implements the tunnel layer of C{spec/han-zigbee-wireshark.md} 4.6 and
C{spec/gbcs-wire-format.md} 6 (GBCS carried over the ZigBee Smart Energy Tunneling
cluster 0x0704 with protocol id 6, GB-HRGP).  The data of every TransferData starts with
a one-byte GBCS tunnel command:

  - C{01} GET: the device asks the CHF for its next queued remote-party message; nothing follows;
  - C{02} GET-RESPONSE: the CHF answers a GET: one byte "number of remaining messages" (those
    still queued after this one), then one GBCS message, or nothing when the queue is empty;
  - C{03} PUT: one GBCS message (a command the CHF pushes to a device whose receiver is on,
    or a response / alert a device sends up).

The Tunneling command payload layouts are declared once, in L{protocols.zcl.se.tunneling};
the dataclasses here only name the commands the tunnel machines exchange, with the same
field names, and L{to_zcl} / L{from_zcl} convert through that table.

Pure codec: malformed input raises L{protocols.errors.CodecError} with field and offset.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Union

from protocols.errors import CodecError
from protocols.zcl.clusters import cluster_frame, decode_command
from protocols.zcl.frame import DIRECTION_CLIENT_TO_SERVER, DIRECTION_SERVER_TO_CLIENT, FRAME_TYPE_CLUSTER, ZclFrame
from protocols.zcl.se.tunneling import PROTOCOL_GB_HRGP, TUNNELING, TUNNELING_CLUSTER_ID

__all__ = [
    "HRGP_GET", "HRGP_GET_RESPONSE", "HRGP_PUT", "MAX_GBCS_MESSAGE", "MAX_TRANSFER_SIZE", "PROTOCOL_GB_HRGP",
    "MANUFACTURER_CODE_NONE",
    "TRANSFER_DATA_STATUS_NO_SUCH_TUNNEL", "TRANSFER_DATA_STATUS_WRONG_DEVICE",
    "TRANSFER_DATA_STATUS_DATA_OVERFLOW",
    "Get", "GetResponse", "Put", "HrgpCommand", "encode_hrgp", "decode_hrgp",
    "RequestTunnel", "RequestTunnelResponse", "TransferData", "TransferDataError", "CloseTunnel",
    "TunnelClosureNotification", "TunnelCommand", "to_zcl", "from_zcl",
]

HRGP_GET = 0x01
HRGP_GET_RESPONSE = 0x02
HRGP_PUT = 0x03

#: the largest GBCS message carried over the HAN (GBCS: 1,500 octets)
MAX_GBCS_MESSAGE = 1500
#: maximum incoming transfer size announced in RequestTunnel / RequestTunnelResponse: the
#: largest TransferData data field, i.e. a GET-RESPONSE header (2 octets) + a 1,500-octet message
MAX_TRANSFER_SIZE = MAX_GBCS_MESSAGE + 2
MANUFACTURER_CODE_NONE = 0xFFFF

# TransferDataError TransferDataStatus values (ZSE D.6.2.4.3)
TRANSFER_DATA_STATUS_NO_SUCH_TUNNEL = 0x00
TRANSFER_DATA_STATUS_WRONG_DEVICE = 0x01
TRANSFER_DATA_STATUS_DATA_OVERFLOW = 0x02

_GBCS_TAGS = (0xDD, 0xDF, 0xE0)    # MAC-wrapped, signed, or one GBT block of a larger message (L{protocols.hrgp.gbt})


@dataclass(frozen=True, slots=True)
class Get:
    """GET: the device asks for its next queued message."""


@dataclass(frozen=True, slots=True)
class GetResponse:
    """GET-RESPONSE: C{remaining} messages still queued; C{message} is empty for an empty queue."""
    remaining: int
    message: bytes = b""


@dataclass(frozen=True, slots=True)
class Put:
    """PUT: one GBCS message."""
    message: bytes


HrgpCommand = Union[Get, GetResponse, Put]


def _check_message(message: bytes, offset: int, field: str) -> None:
    if len(message) > MAX_GBCS_MESSAGE:
        raise CodecError(field, offset, f"GBCS message of {len(message)} octets exceeds {MAX_GBCS_MESSAGE}")
    if message and message[0] not in _GBCS_TAGS:
        raise CodecError(field, offset, f"a GBCS message starts 0xDD or 0xDF (a GBT block 0xE0), "
                                        f"found 0x{message[0]:02X}")


def encode_hrgp(command: HrgpCommand) -> bytes:
    """The TransferData data octets of one GBCS tunnel command."""
    if isinstance(command, Get):
        return bytes((HRGP_GET,))
    if isinstance(command, GetResponse):
        if not 0 <= command.remaining <= 0xFF:
            raise CodecError("remaining", 1, f"must be 0-255, got {command.remaining}")
        _check_message(command.message, 2, "message")
        return bytes((HRGP_GET_RESPONSE, command.remaining)) + command.message
    if isinstance(command, Put):
        if not command.message:
            raise CodecError("message", 1, "a PUT carries one GBCS message")
        _check_message(command.message, 1, "message")
        return bytes((HRGP_PUT,)) + command.message
    raise CodecError("command", 0, f"not a GBCS tunnel command: {command!r}")


def decode_hrgp(data: bytes) -> HrgpCommand:
    """Decode the data of a TransferData into a GBCS tunnel command."""
    if not data:
        raise CodecError("command", 0, "empty TransferData: no GBCS tunnel command")
    code = data[0]
    if code == HRGP_GET:
        if len(data) != 1:
            raise CodecError("command", 1, f"GET carries nothing, found {len(data) - 1} trailing octet(s)")
        return Get()
    if code == HRGP_GET_RESPONSE:
        if len(data) < 2:
            raise CodecError("remaining", 1, "truncated: GET-RESPONSE needs the number of remaining messages")
        message = bytes(data[2:])
        _check_message(message, 2, "message")
        return GetResponse(data[1], message)
    if code == HRGP_PUT:
        message = bytes(data[1:])
        if not message:
            raise CodecError("message", 1, "truncated: PUT without a GBCS message")
        _check_message(message, 1, "message")
        return Put(message)
    raise CodecError("command", 0, f"unknown GBCS tunnel command 0x{code:02X} (01 GET, 02 GET-RESPONSE, 03 PUT)")


# ----------------------------------------------------------------------- Tunneling commands

@dataclass(frozen=True, slots=True)
class RequestTunnel:
    """Client -> server 0x00."""
    protocol_id: int = PROTOCOL_GB_HRGP
    manufacturer_code: int = MANUFACTURER_CODE_NONE
    flow_control_support: bool = False
    maximum_incoming_transfer_size: int = MAX_TRANSFER_SIZE


@dataclass(frozen=True, slots=True)
class RequestTunnelResponse:
    """Server -> client 0x00."""
    tunnel_id: int
    tunnel_status: int
    maximum_incoming_transfer_size: int


@dataclass(frozen=True, slots=True)
class TransferData:
    """Both directions (client -> server 0x02, server -> client 0x01)."""
    tunnel_id: int
    data: bytes


@dataclass(frozen=True, slots=True)
class TransferDataError:
    """Both directions (client -> server 0x03, server -> client 0x02)."""
    tunnel_id: int
    transfer_data_status: int


@dataclass(frozen=True, slots=True)
class CloseTunnel:
    """Client -> server 0x01."""
    tunnel_id: int


@dataclass(frozen=True, slots=True)
class TunnelClosureNotification:
    """Server -> client 0x06."""
    tunnel_id: int


TunnelCommand = Union[RequestTunnel, RequestTunnelResponse, TransferData, TransferDataError, CloseTunnel,
                      TunnelClosureNotification]

_C2S = {RequestTunnel: "RequestTunnel", TransferData: "TransferData", TransferDataError: "TransferDataError",
        CloseTunnel: "CloseTunnel"}
_S2C = {RequestTunnelResponse: "RequestTunnelResponse", TransferData: "TransferData",
        TransferDataError: "TransferDataError", TunnelClosureNotification: "TunnelClosureNotification"}
_BY_NAME = {(DIRECTION_CLIENT_TO_SERVER, name): cls for cls, name in _C2S.items()}
_BY_NAME.update({(DIRECTION_SERVER_TO_CLIENT, name): cls for cls, name in _S2C.items()})


def _field_names(cls: type, direction: int, name: str) -> tuple[tuple[str, str], ...]:
    """(attribute, registry field name) pairs: the attributes follow the registry's payload order."""
    registry = TUNNELING.command(direction, name).field_names
    attributes = tuple(f.name for f in fields(cls))
    if len(registry) != len(attributes):
        raise ValueError(f"{cls.__name__} does not carry the fields {registry} of the Tunneling cluster")
    return tuple(zip(attributes, registry))


#: (direction, command class) -> (attribute, registry field name) pairs
_FIELDS = {(direction, cls): _field_names(cls, direction, name)
           for direction, names in ((DIRECTION_CLIENT_TO_SERVER, _C2S), (DIRECTION_SERVER_TO_CLIENT, _S2C))
           for cls, name in names.items()}


def to_zcl(command: TunnelCommand, direction: int, tsn: int) -> ZclFrame:
    """The ZCL frame of a Tunneling command sent in C{direction} (0 client->server, 1 server->client).

    Default responses are disabled: RequestTunnel is answered by RequestTunnelResponse and
    TransferData failures by TransferDataError; APS acknowledgements carry delivery.
    """
    names = _C2S if direction == DIRECTION_CLIENT_TO_SERVER else _S2C
    name = names.get(type(command))
    if name is None:
        raise CodecError("command", 0, f"{type(command).__name__} is not sent in direction {direction}")
    values = {field: getattr(command, attr) for attr, field in _FIELDS[direction, type(command)]}
    return cluster_frame(TUNNELING_CLUSTER_ID, direction, name, tsn, values, disable_default_response=True)


def from_zcl(frame: ZclFrame) -> TunnelCommand:
    """Decode a Tunneling cluster-specific frame into one of the tunnel commands.

    @raise CodecError: not a cluster command of this cluster, one the tunnel does not use, or
        a malformed payload.
    """
    if frame.frame_type != FRAME_TYPE_CLUSTER:
        raise CodecError("frame_type", 0, "not a cluster-specific command")
    direction = frame.direction
    command = TUNNELING.commands(direction).get(frame.command_id)
    cls = _BY_NAME.get((direction, command.name)) if command is not None else None
    if cls is None:
        raise CodecError("command_id", 2, f"Tunneling command 0x{frame.command_id:02X} (direction {direction}) "
                                          "is not used by GB-HRGP")
    values = decode_command(TUNNELING_CLUSTER_ID, direction, frame.command_id, frame.payload)
    return cls(**{attr: values[field] for attr, field in _FIELDS[direction, cls]})
