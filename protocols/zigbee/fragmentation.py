"""Sans-IO APS fragmentation and reassembly.

Implements ZigBee PRO (05-3474) 2.2.8.4.5 "Fragmented transmissions": an ASDU too large
for one frame is split into blocks sent in APS data frames with the extended header; the
first block (fragmentation = 1) carries the total number of blocks in its block-number
field, each later block (fragmentation = 2) its block index.  Blocks are sent in windows
of apsMaxWindowSize (1 by default); the receiver acknowledges a window with an APS ack
whose block number is the first block of the window and whose ack bitfield has bit i set
when block (first + i) was received (bits for blocks outside the window set to 1).

All blocks of one ASDU share the APS counter, so a transfer is identified by the caller's
key, typically (source address, APS counter).  Nothing here reads a clock: callers pass
the current time (seconds, any epoch) to L{Reassembler.accept} and L{Reassembler.expire}.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Hashable

from protocols.errors import CodecError
from protocols.zigbee.aps import (
    APS_FRAGMENTATION_FIRST,
    APS_FRAGMENTATION_NONE,
    APS_FRAGMENTATION_SUBSEQUENT,
    ApsFrame,
)

__all__ = [
    "MAX_WINDOW_SIZE", "DEFAULT_WINDOW_SIZE", "MAX_BLOCKS",
    "split_asdu", "fragment_frames", "BlockAck", "window_ack_bitfield",
    "FragmentSender", "ReassemblyResult", "Reassembler",
]

MAX_WINDOW_SIZE = 8
DEFAULT_WINDOW_SIZE = 1
MAX_BLOCKS = 255


def split_asdu(asdu: bytes, max_block_size: int) -> list[bytes]:
    """Split C{asdu} into blocks of at most C{max_block_size} bytes (at least one block).

    @raise CodecError: more than 255 blocks would be needed, or a non-positive block size.
    """
    if max_block_size <= 0:
        raise CodecError("aps.fragmentation.max_block_size", 0, "must be positive")
    asdu = bytes(asdu)
    blocks = [asdu[i:i + max_block_size] for i in range(0, len(asdu), max_block_size)] or [b""]
    if len(blocks) > MAX_BLOCKS:
        raise CodecError("aps.block_number", 0, f"{len(blocks)} blocks exceed {MAX_BLOCKS}")
    return blocks


def fragment_frames(template: ApsFrame, asdu: bytes, max_block_size: int) -> list[ApsFrame]:
    """Return the APS data frames carrying C{asdu} in blocks, built from C{template}.

    The template gives addressing, cluster, profile, endpoints, counter and ack request;
    its payload and fragmentation fields are replaced.  An ASDU that fits in one block
    comes back as a single unfragmented frame (no extended header).
    """
    blocks = split_asdu(asdu, max_block_size)
    if len(blocks) == 1:
        return [replace(template, payload=blocks[0], fragmentation=APS_FRAGMENTATION_NONE,
                        block_number=None, extended_header=False)]
    out = [replace(template, payload=blocks[0], fragmentation=APS_FRAGMENTATION_FIRST,
                   block_number=len(blocks), extended_header=True)]
    for i in range(1, len(blocks)):
        out.append(replace(template, payload=blocks[i], fragmentation=APS_FRAGMENTATION_SUBSEQUENT,
                           block_number=i, extended_header=True))
    return out


@dataclass(frozen=True, slots=True)
class BlockAck:
    """Contents of the APS ack for a window: first block of the window and the bitfield.

    Put them in an APS ack frame with C{fragmentation} = 1 when C{block_number} is 0,
    else 2 (see L{BlockAck.fragmentation}).
    """

    block_number: int
    ack_bitfield: int

    @property
    def fragmentation(self) -> int:
        """The extended-header fragmentation value for the ack frame."""
        return APS_FRAGMENTATION_FIRST if self.block_number == 0 else APS_FRAGMENTATION_SUBSEQUENT


def window_ack_bitfield(received: set[int] | frozenset[int], window_start: int, window_size: int,
                        total: int | None) -> int:
    """Ack bitfield for the window starting at C{window_start}.

    Bit i is 1 when block (window_start + i) was received or lies outside the window
    (beyond C{window_size} or beyond the last block C{total} - 1, when known).
    """
    bits = 0
    for i in range(8):
        b = window_start + i
        if i >= window_size or (total is not None and b >= total) or b in received:
            bits |= 1 << i
    return bits


class FragmentSender:
    """Window bookkeeping for the sending side of one fragmented transfer.

    Usage: send the blocks in L{window}; feed each APS ack to L{on_ack}, which returns
    the blocks of the acked window still missing (to resend) and advances the window
    when it is complete; stop when L{done}.
    """

    __slots__ = ("total", "window_size", "window_start", "_acked")

    def __init__(self, total: int, window_size: int = DEFAULT_WINDOW_SIZE) -> None:
        if not 1 <= total <= MAX_BLOCKS:
            raise ValueError(f"total blocks {total} not in 1..{MAX_BLOCKS}")
        if not 1 <= window_size <= MAX_WINDOW_SIZE:
            raise ValueError(f"window size {window_size} not in 1..{MAX_WINDOW_SIZE}")
        self.total = total
        self.window_size = window_size
        self.window_start = 0
        self._acked: set[int] = set()

    @property
    def done(self) -> bool:
        """True when every block has been acknowledged."""
        return self.window_start >= self.total

    def window(self) -> list[int]:
        """Block indices of the current window that are not acknowledged yet."""
        end = min(self.window_start + self.window_size, self.total)
        return [b for b in range(self.window_start, end) if b not in self._acked]

    def on_ack(self, block_number: int, ack_bitfield: int) -> list[int]:
        """Record an ack; return the still-missing blocks of the current window.

        Acks for other windows than the current one are ignored (returns the current
        window's missing blocks unchanged).
        """
        if block_number == self.window_start:
            for i in range(self.window_size):  # bits beyond the window are set to 1 anyway
                if ack_bitfield & (1 << i):
                    b = block_number + i
                    if b < self.total:
                        self._acked.add(b)
            missing = self.window()
            if not missing:
                self.window_start = min(self.window_start + self.window_size, self.total)
                return []
            return missing
        return self.window()


@dataclass(frozen=True, slots=True)
class ReassemblyResult:
    """Outcome of L{Reassembler.accept}.

    @ivar status: C{"accepted"}, C{"duplicate"}, C{"complete"} or C{"rejected"}.
    @ivar payload: the reassembled ASDU when C{status} is C{"complete"}.
    @ivar ack: the window ack to send now, if a window became (or already was) complete.
    @ivar reason: why a block was rejected.
    """

    status: str
    payload: bytes | None = None
    ack: BlockAck | None = None
    reason: str | None = None


class _Transfer:
    __slots__ = ("blocks", "total", "window_start", "deadline")

    def __init__(self, deadline: float) -> None:
        self.blocks: dict[int, bytes] = {}
        self.total: int | None = None
        self.window_start = 0
        self.deadline = deadline


class Reassembler:
    """Receiving side of APS fragmentation for any number of concurrent transfers.

    @param timeout: seconds a transfer may stay incomplete since its last block
        (apsFragmentationTimeout-like); checked against the C{now} values passed in.
        A completed transfer is remembered for the same time: its blocks are then
        answered as duplicates with a full ack (APS duplicate rejection), never
        delivered twice.
    @param window_size: apsMaxWindowSize of the sender (1..8).
    @param limit: at most this many unfinished transfers (and as many finished ones) are
        kept; a new transfer beyond it first drops expired ones, then the oldest
        (L{evicted} counts those).
    """

    __slots__ = ("timeout", "window_size", "limit", "evicted", "_transfers", "_completed")

    def __init__(self, timeout: float, window_size: int = DEFAULT_WINDOW_SIZE, limit: int | None = None) -> None:
        if not 1 <= window_size <= MAX_WINDOW_SIZE:
            raise ValueError(f"window size {window_size} not in 1..{MAX_WINDOW_SIZE}")
        self.timeout = timeout
        self.window_size = window_size
        self.limit = limit
        self.evicted = 0
        self._transfers: dict[Hashable, _Transfer] = {}
        # key -> (total blocks, deadline): finished transfers, so that a retransmitted
        # block (its ack was lost) is re-acknowledged instead of starting a new transfer
        self._completed: dict[Hashable, tuple[int, float]] = {}

    def __len__(self) -> int:
        return len(self._transfers)

    def accept(self, key: Hashable, fragmentation: int, block_number: int, payload: bytes,
               now: float) -> ReassemblyResult:
        """Accept one block.

        @param key: identifies the transfer, e.g. (source address, APS counter).
        @param fragmentation: 1 first block (C{block_number} = total count), 2 later block
            (C{block_number} = index).
        """
        done = self._completed.get(key)
        if done is not None:
            if now > done[1]:
                del self._completed[key]
            else:
                total = done[0]
                index = 0 if fragmentation == APS_FRAGMENTATION_FIRST else block_number
                if fragmentation not in (APS_FRAGMENTATION_FIRST, APS_FRAGMENTATION_SUBSEQUENT) \
                        or index >= total:
                    return ReassemblyResult("rejected", reason="block does not fit a completed transfer")
                start = (index // self.window_size) * self.window_size
                return ReassemblyResult("duplicate", None, BlockAck(start, 0xFF))
        t = self._transfers.get(key)
        if t is not None and now > t.deadline:
            del self._transfers[key]
            t = None
        if fragmentation == APS_FRAGMENTATION_FIRST:
            index, total = 0, block_number
            if total < 1:
                return ReassemblyResult("rejected", reason="first block announces 0 blocks")
        elif fragmentation == APS_FRAGMENTATION_SUBSEQUENT:
            index, total = block_number, None
            if index < 1:
                return ReassemblyResult("rejected", reason="subsequent block with index 0")
        else:
            return ReassemblyResult("rejected", reason=f"fragmentation value {fragmentation}")
        if t is None:
            if self.limit is not None and len(self._transfers) >= self.limit:
                self.expire(now)
                if len(self._transfers) >= self.limit:
                    del self._transfers[next(iter(self._transfers))]
                    self.evicted += 1
            t = self._transfers[key] = _Transfer(now + self.timeout)
        if total is not None:
            if t.total is not None and t.total != total:
                return ReassemblyResult("rejected", reason="block count changed")
            if any(b >= total for b in t.blocks):
                del self._transfers[key]
                return ReassemblyResult("rejected", reason="block index beyond announced count")
            t.total = total
        elif t.total is not None and index >= t.total:
            return ReassemblyResult("rejected", reason=f"block {index} beyond count {t.total}")
        t.deadline = now + self.timeout
        duplicate = index in t.blocks
        if not duplicate:
            t.blocks[index] = bytes(payload)
        ack = self._advance(t, index)
        if t.total is not None and len(t.blocks) == t.total:
            del self._transfers[key]
            completed = self._completed
            if self.limit is not None and len(completed) >= self.limit:
                for k in [k for k, (_, deadline) in completed.items() if now > deadline]:
                    del completed[k]
                if len(completed) >= self.limit:
                    del completed[next(iter(completed))]
            completed[key] = (t.total, now + self.timeout)
            data = b"".join(t.blocks[i] for i in range(t.total))
            return ReassemblyResult("complete", data, ack)
        return ReassemblyResult("duplicate" if duplicate else "accepted", None, ack)

    def _window_complete(self, t: _Transfer, start: int) -> bool:
        end = min(start + self.window_size, t.total)
        blocks = t.blocks
        return all(b in blocks for b in range(start, end))

    def _advance(self, t: _Transfer, index: int) -> BlockAck | None:
        """Move the window over complete windows; return the ack of C{index}'s window if complete."""
        if t.total is None:  # block 0 (which carries the count) not seen yet
            return None
        ws = self.window_size
        while t.window_start < t.total and self._window_complete(t, t.window_start):
            t.window_start += ws
        start = (index // ws) * ws
        if self._window_complete(t, start):
            return BlockAck(start, window_ack_bitfield(t.blocks.keys(), start, ws, t.total))
        return None

    def ack_for(self, key: Hashable) -> BlockAck | None:
        """The (possibly partial) ack of the current window of C{key}, e.g. on an ack timer."""
        t = self._transfers.get(key)
        if t is None:
            return None
        return BlockAck(t.window_start,
                        window_ack_bitfield(t.blocks.keys(), t.window_start, self.window_size, t.total))

    def expire(self, now: float) -> list[Hashable]:
        """Drop transfers whose deadline has passed; return their keys."""
        for k in [k for k, (_, deadline) in self._completed.items() if now > deadline]:
            del self._completed[k]
        gone = [k for k, t in self._transfers.items() if now > t.deadline]
        for k in gone:
            del self._transfers[k]
        return gone
