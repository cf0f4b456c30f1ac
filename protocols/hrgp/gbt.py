"""General Block Transfer (GBT): a GBCS message too large for one tunnel command, in blocks.

A GBCS message longer than a GB-HRGP tunnel command carries (L{MAX_GBCS_MESSAGE} octets; the
RTDS CS02b commands to an ESME are up to 3,986) crosses the HAN as a run of GBT blocks, each
carried by one PUT or GET-RESPONSE in place of a message.  One block is the DLMS
general-block-transfer APDU (IEC 62056-5-3; GBCS names GBT for segmented messages,
C{spec/gbcs-wire-format.md} 1.2; the exact GBCS profile of it is not in C{spec/}, and
tshark 4.0's C{gbcs_message} dissector shows these blocks as an empty GBCS message, not
as malformed):

  - C{E0}: the general-block-transfer tag;
  - block control (1): bit 7 last block, bit 6 streaming, bits 0-5 window;
  - block number (2, big endian), from 1;
  - block number acknowledged (2, big endian): 0 here (blocks are not acknowledged one by one:
    each tunnel command is acknowledged by the ZCL Default Response / APS ack below it);
  - block data: length (BER, as everywhere in GBCS) + octets.

Pure codec plus a sans-IO reassembler: malformed input raises L{protocols.errors.CodecError}
with field and offset.
"""

from __future__ import annotations

from dataclasses import dataclass

from protocols.errors import CodecError
from protocols.gbcs.framing import decode_length, encode_length

__all__ = ["GBT_TAG", "GbtBlock", "split_message", "encode_block", "decode_block", "is_block", "Reassembler"]

GBT_TAG = 0xE0
_LAST_BLOCK = 0x80
_STREAMING = 0x40
#: octets of a block besides its data: tag, control, number, ack, a 3-octet length
_OVERHEAD = 1 + 1 + 2 + 2 + 3


@dataclass(frozen=True, slots=True)
class GbtBlock:
    last: bool
    number: int
    data: bytes
    streaming: bool = False
    window: int = 0
    ack: int = 0


def is_block(data: bytes) -> bool:
    return bool(data) and data[0] == GBT_TAG


def encode_block(block: GbtBlock) -> bytes:
    if not 1 <= block.number <= 0xFFFF:
        raise CodecError("block_number", 2, f"must be 1-65535, got {block.number}")
    control = (_LAST_BLOCK if block.last else 0) | (_STREAMING if block.streaming else 0) | (block.window & 0x3F)
    return (bytes((GBT_TAG, control)) + block.number.to_bytes(2, "big") + block.ack.to_bytes(2, "big")
            + encode_length(len(block.data)) + block.data)


def decode_block(data: bytes) -> GbtBlock:
    if len(data) < 7:
        raise CodecError("gbt", len(data), "a GBT block is at least 7 octets")
    if data[0] != GBT_TAG:
        raise CodecError("gbt.tag", 0, f"expected 0xE0, found 0x{data[0]:02X}")
    control = data[1]
    number = int.from_bytes(data[2:4], "big")
    ack = int.from_bytes(data[4:6], "big")
    if number == 0:
        raise CodecError("gbt.block_number", 2, "block numbers start at 1")
    length, offset = decode_length(data, 6, "gbt.block_data")
    if offset + length != len(data):
        raise CodecError("gbt.block_data", offset, f"length {length} but {len(data) - offset} octets follow")
    return GbtBlock(bool(control & _LAST_BLOCK), number, bytes(data[offset:]), bool(control & _STREAMING),
                    control & 0x3F, ack)


def split_message(message: bytes, limit: int) -> list[bytes]:
    """The GBT blocks (each at most C{limit} octets) that carry C{message}."""
    size = limit - _OVERHEAD
    if size < 1:
        raise ValueError(f"limit {limit} leaves no room for block data")
    chunks = [message[i:i + size] for i in range(0, len(message), size)] or [b""]
    if len(chunks) > 0xFFFF:
        raise CodecError("message", 0, f"{len(message)} octets need more than 65,535 blocks")
    return [encode_block(GbtBlock(i == len(chunks), i, chunk)) for i, chunk in enumerate(chunks, 1)]


class Reassembler:
    """Puts the blocks of one sender back together (they arrive in order: one tunnel, one
    queue).  L{feed} returns the message after its last block, else C{None}; a block out of
    sequence drops what was gathered and raises L{CodecError}."""

    __slots__ = ("_parts", "_next", "max_size")

    def __init__(self, max_size: int = 65536) -> None:
        self._parts: list[bytes] = []
        self._next = 1
        self.max_size = max_size

    @property
    def pending(self) -> bool:
        return bool(self._parts)

    def feed(self, data: bytes) -> bytes | None:
        block = decode_block(data)
        if block.number == 1:
            self._parts, self._next = [], 1          # a new message starts (an old one is abandoned)
        if block.number != self._next:
            expected = self._next
            self._parts, self._next = [], 1
            raise CodecError("gbt.block_number", 2, f"block {block.number}, expected {expected}")
        self._parts.append(block.data)
        self._next += 1
        if sum(len(p) for p in self._parts) > self.max_size:
            self._parts, self._next = [], 1
            raise CodecError("gbt.block_data", 6, f"message exceeds {self.max_size} octets")
        if not block.last:
            return None
        message = b"".join(self._parts)
        self._parts, self._next = [], 1
        return message
