"""Reliable, ordered, exactly-once delivery of GBCS messages over one SMWAN session.

Both ends of a session (the hub's WAN machine, L{protocols.smwan.hub}, and the DCC's per-hub
session, L{protocols.smwan.gateway}) use one L{Channel}: the concept lives in one place.

 - Every message handed to L{Channel.offer} gets the next per-direction sequence number when it
   enters the send window and keeps it across reconnections: the session outlives a connection.
 - The receiver acknowledges cumulatively (C{ack} = next sequence number expected), holds
   out-of-order messages within the window, hands messages up strictly in order and suppresses
   duplicates (a retransmission whose acknowledgement was lost, a link duplicate).
 - Unacknowledged messages are retransmitted (go-back-N, with a doubling timeout) while the
   channel is open, and all of them again when it is re-opened after the peer's ATTACH/ATTACH_ACK
   says what it already has.  After C{max_retransmits} timeouts without progress the channel
   reports the link dead (L{Channel.on_dead}).
 - The store (waiting + in flight) is bounded by the profile's C{store_limit}; a message offered
   beyond it is refused and counted (C{store_overflow}), never silently dropped.
 - A message longer than the profile's C{max_segment} goes as several DATA frames with the same
   sequence number, numbered segments and the MORE_SEGMENTS flag on all but the last.

Accounting (checked by the tests): C{offered = accepted + store_overflow + refused} and
C{accepted = acknowledged + len(waiting) + len(in_flight)}.
"""

from __future__ import annotations

import logging
from collections import deque
from typing import Callable

from twisted.internet.interfaces import IDelayedCall, IReactorTime

from protocols.smwan.frames import Frame, FrameType, encode_frame
from protocols.smwan.profiles import LinkProfile

__all__ = ["Channel", "CHANNEL_COUNTERS"]

#: every counter a L{Channel} keeps
CHANNEL_COUNTERS = ("offered", "accepted", "store_overflow", "refused", "acknowledged", "data_frames_sent",
                    "retransmitted_frames", "rto_expiries", "delivered", "duplicates", "out_of_order",
                    "beyond_window", "bad_segments", "bad_acks", "deliver_errors")

_MAX_SEGMENTS = 256

#: sans-IO: the standard library's logging, no Twisted logger (the adapter may route it)
_log = logging.getLogger("smets.smwan")


class Channel:
    """Sequence numbers, acknowledgements, retransmission and reassembly for one session.

    @param clock: schedules the retransmission timer.
    @param eui64: the hub's EUI-64 (put in every frame).
    @param profile: window, store bound, segment size and retransmission timers.
    @param deliver: called with each GBCS message from the peer, once, in order.
    @param on_dead: called (no arguments) when retransmission gives up; the owner closes the
        channel and reconnects or marks the hub unreachable.
    """

    __slots__ = ("clock", "eui64", "profile", "deliver", "on_dead", "counts", "next_seq", "waiting",
                 "in_flight", "expected", "held", "partial", "_transmit", "_rto", "_rto_timer", "_expiries")

    def __init__(self, clock: IReactorTime, eui64: int, profile: LinkProfile,
                 deliver: Callable[[bytes], None], on_dead: Callable[[], None]) -> None:
        self.clock = clock
        self.eui64 = eui64
        self.profile = profile
        self.deliver = deliver
        self.on_dead = on_dead
        self.counts: dict[str, int] = dict.fromkeys(CHANNEL_COUNTERS, 0)
        self.next_seq = 0
        self.waiting: deque[bytes] = deque()
        self.in_flight: deque[tuple[int, bytes]] = deque()
        self.expected = 0
        self.held: dict[int, bytes] = {}
        self.partial: dict[int, dict[int, tuple[bytes, bool]]] = {}
        self._transmit: Callable[[bytes], None] | None = None
        self._rto = profile.rto_initial
        self._rto_timer: IDelayedCall | None = None
        self._expiries = 0

    # --- state ---------------------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        return self._transmit is not None

    @property
    def max_message(self) -> int:
        """Longest GBCS message the channel carries (256 segments of the profile's size)."""
        return _MAX_SEGMENTS * self.profile.max_segment

    @property
    def stored(self) -> int:
        """Messages held for the peer (waiting for the window plus sent but unacknowledged)."""
        return len(self.waiting) + len(self.in_flight)

    def open(self, transmit: Callable[[bytes], None], peer_ack: int) -> None:
        """Start (or resume) sending through C{transmit}.

        @param peer_ack: the peer's cumulative acknowledgement from ATTACH / ATTACH_ACK: the
            in-flight messages below it are done; the rest are retransmitted, in order.
        """
        self._transmit = transmit
        self._rto = self.profile.rto_initial
        self._expiries = 0
        self._acknowledge(peer_ack)
        resend = list(self.in_flight)
        for seq, message in resend:
            self._send_message(seq, message, retransmission=True)
        self._fill_window()
        self._arm()

    def close(self) -> None:
        """Stop sending (the connection is gone); everything stored stays stored."""
        self._transmit = None
        self._disarm()

    # --- sending ---------------------------------------------------------------------------

    def offer(self, message: bytes) -> bool:
        """Queue one GBCS message for the peer; send it now if open and the window allows.

        @return: C{False} when the store is full (counted as C{store_overflow}) or the message is
            empty or too long for 256 segments (counted as C{refused}).
        """
        counts = self.counts
        counts["offered"] += 1
        if not message or len(message) > self.max_message:
            counts["refused"] += 1  # empty, or more than 256 segments: nothing the CHF or ACB makes
            return False
        if self.stored >= self.profile.store_limit:
            counts["store_overflow"] += 1
            return False
        counts["accepted"] += 1
        self.waiting.append(bytes(message))
        if self._transmit is not None:
            self._fill_window()
            self._arm()
        return True

    def _fill_window(self) -> None:
        window = self.profile.window
        while self.waiting and len(self.in_flight) < window and self._transmit is not None:
            message = self.waiting.popleft()
            seq = self.next_seq
            self.next_seq = (seq + 1) & 0xFFFF_FFFF
            self.in_flight.append((seq, message))
            self._send_message(seq, message, retransmission=False)

    def _send_message(self, seq: int, message: bytes, retransmission: bool) -> None:
        transmit = self._transmit
        if transmit is None:
            return
        size = self.profile.max_segment
        chunks = [message[i:i + size] for i in range(0, len(message), size)]
        last = len(chunks) - 1
        counts = self.counts
        for index, chunk in enumerate(chunks):
            frame = Frame(FrameType.DATA, self.eui64, seq=seq, ack=self.expected, payload=chunk,
                          more_segments=index < last, segment=index)
            counts["data_frames_sent"] += 1
            if retransmission:
                counts["retransmitted_frames"] += 1
            transmit(encode_frame(frame))

    def _acknowledge(self, ack: int) -> None:
        in_flight = self.in_flight
        if in_flight:
            first = in_flight[0][0]
            # Serial-number arithmetic (RFC 1982 style) so the 32-bit numbers may wrap.
            progress = (ack - first) & 0xFFFF_FFFF
            if progress > len(in_flight):
                if progress < 0x8000_0000:
                    self.counts["bad_acks"] += 1  # acknowledges something never sent
                return
            for _ in range(progress):
                in_flight.popleft()
            if progress:
                self.counts["acknowledged"] += progress
                self._rto = self.profile.rto_initial
                self._expiries = 0
                self._disarm()
        elif ack != self.next_seq and (ack - self.next_seq) & 0xFFFF_FFFF < 0x8000_0000:
            self.counts["bad_acks"] += 1

    def on_ack(self, ack: int) -> None:
        """The peer's cumulative acknowledgement (DATA_ACK, or the C{ack} field of DATA)."""
        self._acknowledge(ack)
        if self._transmit is not None:
            self._fill_window()
            self._arm()

    # --- retransmission timer ------------------------------------------------------------------

    def _arm(self) -> None:
        if self.in_flight and self._rto_timer is None and self._transmit is not None:
            self._rto_timer = self.clock.callLater(self._rto, self._rto_expired)

    def _disarm(self) -> None:
        timer = self._rto_timer
        if timer is not None:
            self._rto_timer = None
            if timer.active():
                timer.cancel()

    def _rto_expired(self) -> None:
        self._rto_timer = None
        self.counts["rto_expiries"] += 1
        self._expiries += 1
        if self._expiries > self.profile.max_retransmits:
            self.on_dead()
            return
        self._rto = min(self._rto * 2.0, self.profile.rto_max)
        for seq, message in list(self.in_flight):
            self._send_message(seq, message, retransmission=True)
        self._arm()

    # --- receiving -------------------------------------------------------------------------------

    def on_data(self, frame: Frame) -> bool:
        """Take one DATA frame from the peer.

        Complete messages are handed to C{deliver} in order.  Returns whether the owner should
        send a DATA_ACK now (a message completed, or a duplicate/out-of-window frame shows the
        peer missed an acknowledgement).
        """
        counts = self.counts
        self.on_ack(frame.ack)
        offset = (frame.seq - self.expected) & 0xFFFF_FFFF
        if offset >= 0x8000_0000:
            counts["duplicates"] += 1  # below the window: delivered already
            return True
        if offset >= self.profile.window:
            counts["beyond_window"] += 1
            return True
        if frame.seq in self.held:
            counts["duplicates"] += 1
            return True
        if frame.more_segments or frame.segment:
            message = self._reassemble(frame)
            if message is None:
                return False
        else:
            if frame.seq in self.partial:
                counts["bad_segments"] += 1
                del self.partial[frame.seq]
            message = frame.payload
        if offset:
            counts["out_of_order"] += 1
        self.held[frame.seq] = message
        held = self.held
        while self.expected in held:
            message = held.pop(self.expected)
            self.expected = (self.expected + 1) & 0xFFFF_FFFF
            counts["delivered"] += 1
            try:
                self.deliver(message)
            except Exception:  # the receiver's bug must not stall the session or drop the ack
                counts["deliver_errors"] += 1
                _log.exception("SMWAN receiver of %016X raised on a delivered message", self.eui64)
        return True

    def _reassemble(self, frame: Frame) -> bytes | None:
        parts = self.partial.setdefault(frame.seq, {})
        if frame.segment in parts:
            self.counts["duplicates"] += 1
            return None
        parts[frame.segment] = (frame.payload, frame.more_segments)
        last = [i for i, (_, more) in parts.items() if not more]
        if not last:
            return None
        if len(last) > 1 or any(i > last[0] for i in parts):
            self.counts["bad_segments"] += 1
            del self.partial[frame.seq]
            return None
        if len(parts) != last[0] + 1:
            return None
        del self.partial[frame.seq]
        return b"".join(parts[i][0] for i in range(len(parts)))

    def ack_frame(self) -> bytes:
        """The DATA_ACK frame that acknowledges everything received so far."""
        return encode_frame(Frame(FrameType.DATA_ACK, self.eui64, ack=self.expected))
