"""The IEEE 802.15.4-2006 MAC sub-layer machine for one radio (non-beacon-enabled PAN).

Implements, sans-IO, the MAC behaviour of IEEE 802.15.4-2006 clause 7.5 that ZigBee PRO uses, with
the 2.4 GHz O-QPSK timing of ``han-zigbee-wireshark.md`` section 2.4:

- acknowledgement (7.5.6.4): an Ack is sent aTurnaroundTime (192 us) after a frame addressed to us
  with the ack-request bit; unicast frames are retransmitted up to macMaxFrameRetries (3) times when
  no Ack arrives within macAckWaitDuration (864 us after the end of our transmission);
- unslotted CSMA-CA (7.5.1.4): aUnitBackoffPeriod 320 us, macMinBE 3, macMaxBE 5,
  macMaxCSMABackoffs 4; the CCA senses the channel over 8 symbols (phyCCADuration, 128 us:
  C{radio.channel_busy_since(t)}), then the radio turns from RX to TX in
  aTurnaroundTime (12 symbols), so no frame starts less than 320 us after the channel was last
  busy; the transmit path is one explicit state (idle, ifs, cca, turnaround, on_air, ack_wait)
  with one timer;
- one transmission in flight, a FIFO queue behind it (except that a frame answering a child's
  Data Request goes first: the child listens only for macMaxFrameTotalWaitTime), SIFS/LIFS
  between frames;
- duplicate rejection by (source address, DSN) (7.5.6.2);
- indirect transmission (7.5.6.3): frames for rx-off children wait in a transaction queue for
  macTransactionPersistenceTime (7.68 s); the Ack to a Data Request carries the frame-pending bit
  when something is queued for the requester; a failed indirect frame stays queued, with its DSN,
  until the child polls again (7.5.6.4.3), so a copy the child did get is dropped as a duplicate;
- active scan (7.5.2.1.2), association (7.5.3.1) with the indirect Association Response fetched by a
  Data Request after macResponseWaitTime, polling (MLME-POLL), and the coordinator's side (Beacon in
  answer to a Beacon Request, Association Request to the upper layer, Association Response queued).

Collaborators are injected (no globals): an C{IReactorTime} clock, a C{random.Random}, the radio
port of the HAN medium, the upper layer (C{user}, see L{MacUser}) and an optional counter callback.
Received frames that fail the FCS or do not decode are counted and dropped; nothing raises out of
L{MacLayer.frame_received}.
"""

from __future__ import annotations

import random
import sys
from collections import OrderedDict
from dataclasses import dataclass, replace
from typing import Callable, Protocol

from twisted.internet.interfaces import IDelayedCall, IReactorTime

from protocols.errors import CodecError
from protocols.ieee802154.beacon import (
    Beacon, SuperframeSpec, ZigbeeBeaconPayload, beacon_frame, decode_beacon, decode_zigbee_beacon_payload,
)
from protocols.ieee802154.commands import (
    ASSOCIATION_SUCCESS, CMD_ASSOCIATION_REQUEST, CMD_ASSOCIATION_RESPONSE,
    CMD_BEACON_REQUEST, CMD_DATA_REQUEST, association_request_frame, association_response_frame,
    beacon_request_frame, data_request_frame, decode_command,
)
from protocols.ieee802154.frames import (
    ADDR_EXTENDED, ADDR_NONE, ADDR_SHORT, BROADCAST_ADDRESS, BROADCAST_PAN_ID, FRAME_ACK, FRAME_BEACON,
    FRAME_COMMAND, FRAME_DATA, NO_SHORT_ADDRESS, MacFrame, data_frame, decode_mac, encode_ack, encode_data_frame, encode_mac,
)

__all__ = [
    "MacLayer", "MacUser", "PanDescriptor",
    "SUCCESS", "CHANNEL_ACCESS_FAILURE", "FRAME_TOO_LONG", "INVALID_PARAMETER", "NO_ACK", "NO_BEACON",
    "NO_DATA", "TRANSACTION_EXPIRED", "TRANSACTION_OVERFLOW",
    "A_TURNAROUND_TIME", "A_UNIT_BACKOFF_PERIOD", "MAC_ACK_WAIT_DURATION", "MAC_MAX_FRAME_RETRIES",
    "MAC_MIN_BE", "MAC_MAX_BE", "MAC_MAX_CSMA_BACKOFFS", "MAC_RESPONSE_WAIT_TIME",
    "MAC_TRANSACTION_PERSISTENCE_TIME", "MAC_MAX_FRAME_TOTAL_WAIT_TIME", "SIFS", "LIFS", "CCA_DURATION",
]

# --- MAC enumerations (802.15.4-2006 table 78) ------------------------------------------------
SUCCESS = 0x00
CHANNEL_ACCESS_FAILURE = 0xE1
FRAME_TOO_LONG = 0xE5
INVALID_PARAMETER = 0xE8
NO_ACK = 0xE9
NO_BEACON = 0xEA
NO_DATA = 0xEB
TRANSACTION_EXPIRED = 0xF0
TRANSACTION_OVERFLOW = 0xF1

# --- constants and PIB defaults, 2.4 GHz O-QPSK (16 us per symbol) -----------------------------
_SYMBOL = 16e-6
A_TURNAROUND_TIME = 12 * _SYMBOL                    # 192 us
A_UNIT_BACKOFF_PERIOD = 20 * _SYMBOL                # 320 us
MAC_ACK_WAIT_DURATION = 54 * _SYMBOL                # 864 us
A_BASE_SUPERFRAME_DURATION = 960 * _SYMBOL          # 15.36 ms
MAC_MAX_FRAME_RETRIES = 3
MAC_MIN_BE = 3
MAC_MAX_BE = 5
MAC_MAX_CSMA_BACKOFFS = 4
MAC_RESPONSE_WAIT_TIME = 32 * A_BASE_SUPERFRAME_DURATION            # 0.49152 s
MAC_TRANSACTION_PERSISTENCE_TIME = 0x01F4 * A_BASE_SUPERFRAME_DURATION  # 7.68 s
_PHY_MAX_FRAME_DURATION = 10 + 2 * 128                               # symbols (SHR + 128 octets)
_M = min(MAC_MAX_BE - MAC_MIN_BE, MAC_MAX_CSMA_BACKOFFS)
#: macMaxFrameTotalWaitTime (7.4.2, formula in table 86): how long a poller waits for the data
#: announced by the frame-pending bit; 1986 symbols = 31.776 ms with the defaults above.
MAC_MAX_FRAME_TOTAL_WAIT_TIME = (
    (sum(1 << (MAC_MIN_BE + k) for k in range(_M))
     + ((1 << MAC_MAX_BE) - 1) * (MAC_MAX_CSMA_BACKOFFS - _M)) * 20 + _PHY_MAX_FRAME_DURATION) * _SYMBOL
#: phyCCADuration: the channel is sensed over 8 symbols (IEEE 802.15.4-2006 6.9.9)
CCA_DURATION = 8 * _SYMBOL                          # 128 us
SIFS = 12 * _SYMBOL                                 # after MPDUs of at most aMaxSIFSFrameSize
LIFS = 40 * _SYMBOL
_A_MAX_SIFS_FRAME_SIZE = 18
#: Capacity of the indirect transaction queue (frames for all children together).
MAX_INDIRECT_TRANSACTIONS = 32

# Transmission job kinds.
_K_DATA, _K_INDIRECT, _K_POLL, _K_ASSOC_REQ, _K_ASSOC_POLL, _K_BEACON, _K_BEACON_REQ = range(7)
# Poll states.
_POLL_IDLE, _POLL_SENDING, _POLL_WAITING = range(3)
#: states of the transmit path (one timer, L{MacLayer._tx_timer}, belongs to the state)
TX_IDLE, TX_IFS, TX_CCA, TX_TURNAROUND, TX_ON_AIR, TX_ACK_WAIT = range(6)


class MacUser(Protocol):
    """What L{MacLayer} calls on the layer above it (the ZigBee NWK layer)."""

    def mcps_data_indication(self, frame: MacFrame) -> None:
        """A data frame for us (unicast or broadcast), duplicates removed."""

    def mcps_data_confirm(self, handle: object, status: int) -> None:
        """Outcome of L{MacLayer.mcps_data_request}: SUCCESS, NO_ACK, CHANNEL_ACCESS_FAILURE,
        TRANSACTION_EXPIRED, TRANSACTION_OVERFLOW, FRAME_TOO_LONG or INVALID_PARAMETER."""

    def mlme_associate_indication(self, device_address: int, capability_information: int) -> tuple[int, int]:
        """A device asks to associate; return (short address, association status)."""

    def mlme_associate_confirm(self, short_address: int, status: int) -> None:
        """Outcome of L{MacLayer.mlme_associate_request}: the association status from the
        response (0 success, 1 PAN at capacity, 2 access denied) or a MAC status (NO_ACK, NO_DATA,
        CHANNEL_ACCESS_FAILURE); short address 0xFFFF unless successful."""

    def mlme_scan_confirm(self, pan_descriptors: tuple["PanDescriptor", ...]) -> None:
        """End of an active scan: one descriptor per coordinator heard."""

    def mlme_comm_status(self, device_address: int, status: int) -> None:
        """The indirect Association Response to C{device_address} was delivered (SUCCESS) or
        not (TRANSACTION_EXPIRED)."""

    def mlme_poll_confirm(self, status: int) -> None:
        """Outcome of L{MacLayer.mlme_poll_request}: SUCCESS (data received), NO_DATA, NO_ACK or
        CHANNEL_ACCESS_FAILURE."""


@dataclass(frozen=True, slots=True)
class PanDescriptor:
    """One beacon heard during an active scan (802.15.4-2006 table 55, the fields we model).

    @ivar zigbee: the decoded ZigBee beacon payload, or C{None} if it was not one.
    """

    coord_pan_id: int
    coord_addr_mode: int
    coord_address: int
    superframe: SuperframeSpec
    bsn: int
    beacon_payload: bytes
    zigbee: ZigbeeBeaconPayload | None


class _TxJob:
    """One frame waiting for, or in, transmission."""

    __slots__ = ("kind", "psdu", "seq", "ack_request", "handle", "entry", "retries", "max_retries", "nb", "be")

    def __init__(self, kind: int, psdu: bytes, seq: int, ack_request: bool, handle: object = None,
                 entry: "_Transaction | None" = None) -> None:
        self.kind = kind
        self.psdu = psdu
        self.seq = seq
        self.ack_request = ack_request
        self.handle = handle
        self.entry = entry
        self.retries = 0
        self.max_retries = MAC_MAX_FRAME_RETRIES if ack_request and kind != _K_INDIRECT else 0
        self.nb = 0
        self.be = MAC_MIN_BE


class _Transaction:
    """One entry of the indirect transaction queue."""

    __slots__ = ("dst_addr", "frame", "handle", "is_association", "timer", "in_transit", "expired",
                 "short_address", "status", "seq")

    def __init__(self, dst_addr: int, frame: MacFrame, handle: object, is_association: bool) -> None:
        self.dst_addr = dst_addr
        self.frame = frame          # template; seq and frame-pending are set when it is sent
        self.handle = handle
        self.is_association = is_association
        self.timer: IDelayedCall | None = None
        self.in_transit = False
        self.expired = False
        self.short_address = 0xFFFF
        self.status = 0
        self.seq: int | None = None     # DSN, fixed at the first attempt so a re-send is a duplicate


def _no_count(name: str) -> None:
    pass


class MacLayer:
    """The MAC sub-layer of one radio.

    @param clock: the (virtual or real) time source; every timer is an C{IDelayedCall} on it.
    @param rng: this node's random source (CSMA-CA backoffs, initial DSN and BSN).
    @param radio: the medium's port: C{transmit(psdu) -> airtime_s}, C{channel_busy_since(t) ->
        bool} (another radio was on the air at some time from C{t} to now), C{set_rx_enabled(on)}.  The medium calls L{frame_received} for every frame heard.
    @param extended_address: this radio's EUI-64 (int, big-endian value).
    @param user: the upper layer (L{MacUser}).
    @param rx_on_when_idle: macRxOnWhenIdle; C{False} for a sleepy end device, whose receiver is on
        only while it waits for an Ack, for polled data, or scans.
    @param pan_coordinator: this node is the PAN coordinator (beacons say so; it accepts frames with
        no destination address).
    @param counters: called with an event name for every counted event ("tx", "tx_retry",
        "tx_no_ack", "tx_ack", "rx", "rx_bad_fcs", "rx_malformed", "rx_duplicate", "rx_filtered",
        "rx_during_tx", "rx_off", "csma_failure", "indirect_queued", "indirect_expired",
        "indirect_failed", "ack_skipped", "rx_error").
    @param on_error: called with the exception when an upper layer raised while handling a
        received frame (counted as C{rx_error}; the frame is dropped, the MAC carries on).
    """

    __slots__ = (
        "clock", "rng", "radio", "extended_address", "user", "rx_on_when_idle", "pan_coordinator", "_count",
        "pan_id", "short_address", "coord_short_address", "coord_extended_address", "association_permit",
        "beacon_payload", "_started", "_dsn", "_bsn", "_queue", "_current", "_tx_state", "_tx_timer",
        "_ifs_until", "_tx_busy_until", "_ack_call", "_awaiting_ack",
        "_last_dsn", "_indirect", "_children", "_poll_state", "_poll_kind", "_poll_call", "_poll_job",
        "_associating", "_assoc_wait_call", "_scan_call", "_scan_results", "_scan_duration", "_rx_on",
        "_on_error", "duplicate_limit", "indirect_per_child", "_ack_wait",
    )

    def __init__(self, clock: IReactorTime, rng: random.Random, radio, extended_address: int, user, *,
                 rx_on_when_idle: bool, pan_coordinator: bool = False,
                 counters: Callable[[str], None] | None = None,
                 on_error: Callable[[BaseException], None] | None = None,
                 duplicate_limit: int = 64, indirect_per_child: int = 8) -> None:
        self.clock = clock
        self.duplicate_limit = duplicate_limit
        self.indirect_per_child = indirect_per_child
        self._on_error = on_error
        self.rng = rng
        self.radio = radio
        # macAckWaitDuration of the radio's PHY (a sub-GHz radio's Ack takes longer on the air)
        self._ack_wait = getattr(radio, "ack_wait_duration", MAC_ACK_WAIT_DURATION)
        self.extended_address = extended_address
        self.user = user
        self.rx_on_when_idle = rx_on_when_idle
        self.pan_coordinator = pan_coordinator
        self._count = counters if counters is not None else _no_count
        self.pan_id = BROADCAST_PAN_ID
        self.short_address = BROADCAST_ADDRESS
        self.coord_short_address: int | None = None
        self.coord_extended_address: int | None = None
        self.association_permit = False
        self.beacon_payload = b""
        self._started = False
        self._dsn = rng.randrange(256)
        self._bsn = rng.randrange(256)
        # a list, not a deque: it holds a frame or two, and an empty deque costs 760 bytes per
        # node against 56 (memory per idle home, benchmarks.home)
        self._queue: list[_TxJob] = []
        self._current: _TxJob | None = None
        self._tx_state = TX_IDLE
        self._tx_timer: IDelayedCall | None = None
        self._ifs_until = 0.0
        self._tx_busy_until = 0.0
        self._ack_call: IDelayedCall | None = None
        self._awaiting_ack = False
        self._last_dsn: OrderedDict[int, int] = OrderedDict()  # source -> last DSN, least recently heard first
        self._indirect: list[_Transaction] = []
        self._children: dict[int, int] = {}
        self._poll_state = _POLL_IDLE
        self._poll_kind = _K_POLL
        self._poll_call: IDelayedCall | None = None
        self._poll_job: _TxJob | None = None
        self._associating = False
        self._assoc_wait_call: IDelayedCall | None = None
        self._scan_call: IDelayedCall | None = None
        self._scan_results: list[PanDescriptor] | None = None
        self._scan_duration = 0.0
        self._rx_on = rx_on_when_idle
        radio.set_rx_enabled(rx_on_when_idle)

    # --- PIB attribute setters ----------------------------------------------------------------

    def set_pan_id(self, pan_id: int) -> None:
        """Set macPANId."""
        self.pan_id = pan_id

    def set_short_address(self, short_address: int) -> None:
        """Set macShortAddress (0xFFFF: not associated; 0xFFFE: use the extended address)."""
        self.short_address = short_address

    def set_association_permit(self, permit: bool) -> None:
        """Set macAssociationPermit (shown in our beacons; association requests are ignored when off)."""
        self.association_permit = permit

    def set_beacon_payload(self, beacon_payload: bytes) -> None:
        """Set macBeaconPayload (the ZigBee beacon payload)."""
        self.beacon_payload = beacon_payload

    def set_coordinator(self, short_address: int | None, extended_address: int | None = None) -> None:
        """Set macCoordShortAddress / macCoordExtendedAddress (the parent polled by L{mlme_poll_request})."""
        self.coord_short_address = short_address
        self.coord_extended_address = extended_address

    def set_rx_on_when_idle(self, on: bool) -> None:
        """Set macRxOnWhenIdle."""
        self.rx_on_when_idle = on
        self._update_rx()

    # --- requests from the upper layer --------------------------------------------------------

    def mcps_data_request(self, dst_addr: int, payload: bytes, *, ack_request: bool = True,
                          indirect: bool = False, handle: object = None) -> None:
        """Send C{payload} in a data frame to C{dst_addr} (short <= 0xFFFF or EUI-64) in our PAN.

        Broadcasts (0xFFFF) are never acknowledged nor indirect.  With C{indirect} the frame waits
        in the transaction queue until the destination polls (or macTransactionPersistenceTime
        passes).  The outcome comes back through C{user.mcps_data_confirm(handle, status)}.
        """
        if dst_addr == BROADCAST_ADDRESS:
            ack_request = False
            indirect = False
        src = self._source_address()
        try:
            if indirect:
                template = data_frame(0, self.pan_id, dst_addr, src, payload, ack_request=ack_request)
                encode_mac(template)
            else:
                seq = self._next_dsn()
                psdu = encode_data_frame(seq, self.pan_id, dst_addr, src, payload, ack_request=ack_request)
        except CodecError as exc:
            status = FRAME_TOO_LONG if exc.field == "payload" else INVALID_PARAMETER
            self.clock.callLater(0, self.user.mcps_data_confirm, handle, status)
            return
        if indirect:
            self._add_transaction(_Transaction(dst_addr, template, handle, False))
        else:
            self._enqueue(_TxJob(_K_DATA, psdu, seq, ack_request, handle))

    def mlme_poll_request(self) -> None:
        """Poll our coordinator with a Data Request; C{user.mlme_poll_confirm(status)} follows.

        If the Ack has the frame-pending bit the receiver stays on (up to
        macMaxFrameTotalWaitTime) for the data, which is delivered by C{mcps_data_indication}
        before the SUCCESS confirm.  A data frame that itself has the frame-pending bit means more
        is queued: poll again.  A poll while one is outstanding is ignored.
        """
        if self._poll_state != _POLL_IDLE or self._associating:
            return
        coord = self._coordinator_address()
        if coord is None:
            self.clock.callLater(0, self.user.mlme_poll_confirm, INVALID_PARAMETER)
            return
        self._send_poll(_K_POLL, coord, self._source_address())

    def mlme_scan_request(self, duration_s: float) -> None:
        """Active scan on the current channel: send a Beacon Request, listen for C{duration_s}
        seconds, then C{user.mlme_scan_confirm(pan_descriptors)}."""
        if self._scan_results is not None:
            return
        self._scan_results = []
        self._scan_duration = duration_s
        self._update_rx()
        seq = self._next_dsn()
        self._enqueue(_TxJob(_K_BEACON_REQ, encode_mac(beacon_request_frame(seq)), seq, False))

    def mlme_associate_request(self, coord_addr: int, pan_id: int, capability_information: int) -> None:
        """Associate with the coordinator C{coord_addr} (short or EUI-64) of PAN C{pan_id}.

        Sends the Association Request, waits macResponseWaitTime, then polls for the indirect
        Association Response; C{user.mlme_associate_confirm(short_address, status)} follows.
        """
        if self._associating:
            return
        self.pan_id = pan_id
        if coord_addr <= 0xFFFF:
            self.coord_short_address, self.coord_extended_address = coord_addr, None
        else:
            self.coord_short_address, self.coord_extended_address = None, coord_addr
        self.short_address = BROADCAST_ADDRESS
        self._associating = True
        seq = self._next_dsn()
        psdu = encode_mac(association_request_frame(seq, pan_id, coord_addr, self.extended_address,
                                                    capability_information))
        self._enqueue(_TxJob(_K_ASSOC_REQ, psdu, seq, True))

    def mlme_start(self, pan_id: int, short_address: int, beacon_payload: bytes) -> None:
        """Start acting as a coordinator (PAN coordinator or ZigBee router): answer Beacon
        Requests with a beacon carrying C{beacon_payload}, accept Association Requests while
        macAssociationPermit is on, and hold indirect frames for children."""
        self.pan_id = pan_id
        self.short_address = short_address
        self.beacon_payload = beacon_payload
        self._started = True
        self._update_rx()

    def shutdown(self) -> None:
        """Cancel every timer and drop all queued work (no confirms are sent)."""
        self._tx_state = TX_IDLE
        for name in ("_tx_timer", "_ack_call", "_poll_call",
                     "_assoc_wait_call", "_scan_call"):
            call = getattr(self, name)
            if call is not None and call.active():
                call.cancel()
            setattr(self, name, None)
        for entry in self._indirect:
            if entry.timer is not None and entry.timer.active():
                entry.timer.cancel()
        self._indirect.clear()
        self._queue.clear()
        self._current = None
        self._poll_state = _POLL_IDLE
        self._poll_job = None
        self._associating = False
        self._scan_results = None
        self._awaiting_ack = False

    # --- the medium's input -------------------------------------------------------------------

    def frame_received(self, psdu: bytes) -> None:
        """A frame heard on the medium (possibly corrupted).  Never raises."""
        if not self._rx_on:
            self._count("rx_off")
            return
        if self.clock.seconds() < self._tx_busy_until:
            self._count("rx_during_tx")
            return
        try:
            frame = decode_mac(psdu)
        except CodecError as exc:
            self._count("rx_bad_fcs" if exc.field == "fcs" else "rx_malformed")
            return
        except Exception:   # not bytes at all: still never raise
            self._count("rx_malformed")
            return
        try:
            self._dispatch(frame)
        except CodecError:
            self._count("rx_malformed")
        except Exception:
            self._count("rx_error")
            if self._on_error is not None:
                self._on_error(sys.exc_info()[1])

    # --- receive path -------------------------------------------------------------------------

    def _dispatch(self, frame: MacFrame) -> None:
        ft = frame.frame_type
        if ft == FRAME_ACK:
            self._on_ack(frame)
            return
        self._count("rx")
        if ft == FRAME_BEACON:
            if self._scan_results is not None:
                self._on_beacon(frame)
            return
        dm = frame.dst_mode
        broadcast = False
        if dm == ADDR_NONE:
            if not (self.pan_coordinator and frame.src_pan == self.pan_id):
                self._count("rx_filtered")
                return
        else:
            dst_pan = frame.dst_pan
            if dst_pan != BROADCAST_PAN_ID and dst_pan != self.pan_id:
                self._count("rx_filtered")
                return
            if dm == ADDR_SHORT:
                dst = frame.dst_addr
                if dst == BROADCAST_ADDRESS:
                    broadcast = True
                elif dst != self.short_address or dst == NO_SHORT_ADDRESS:
                    self._count("rx_filtered")
                    return
            elif frame.dst_addr != self.extended_address:
                self._count("rx_filtered")
                return
        command_id = frame.payload[0] if ft == FRAME_COMMAND and frame.payload else None
        if frame.ack_request and not broadcast:
            pending = command_id == CMD_DATA_REQUEST and self._has_pending_for(frame.src_addr)
            self._schedule_ack(frame.seq, pending)
        if frame.src_mode != ADDR_NONE:
            key = frame.src_addr if frame.src_mode == ADDR_SHORT else frame.src_addr | (1 << 64)
            last_dsn = self._last_dsn
            if last_dsn.get(key) == frame.seq:
                self._count("rx_duplicate")
                if ft == FRAME_DATA and not broadcast:
                    self._polled_data_arrived()     # a re-sent indirect frame still answers the poll
                return
            last_dsn[key] = frame.seq
            last_dsn.move_to_end(key)
            if len(last_dsn) > self.duplicate_limit:
                last_dsn.popitem(last=False)
                self._count("mac_duplicates_evicted")
        if ft == FRAME_DATA:
            self.user.mcps_data_indication(frame)
            if not broadcast:
                self._polled_data_arrived()
        elif ft == FRAME_COMMAND:
            self._on_command(frame, command_id, broadcast)

    def _on_command(self, frame: MacFrame, command_id: int | None, broadcast: bool) -> None:
        if command_id == CMD_BEACON_REQUEST:
            decode_command(frame.payload)
            if self._started:
                self._send_beacon()
        elif command_id == CMD_DATA_REQUEST:
            decode_command(frame.payload)
            if not broadcast and frame.src_mode != ADDR_NONE:
                self._serve_data_request(frame.src_addr)
        elif command_id == CMD_ASSOCIATION_REQUEST:
            request = decode_command(frame.payload)
            if self._started and self.association_permit and frame.src_mode == ADDR_EXTENDED and not broadcast:
                self._on_association_request(frame.src_addr, request.capability_information)
        elif command_id == CMD_ASSOCIATION_RESPONSE:
            response = decode_command(frame.payload)
            if self._associating and frame.dst_mode == ADDR_EXTENDED:
                if frame.src_mode == ADDR_EXTENDED:
                    self.coord_extended_address = frame.src_addr
                self._polled_data_arrived(response.short_address, response.association_status)
        else:
            decode_command(frame.payload)   # reject malformed; other commands are not modelled

    def _on_ack(self, frame: MacFrame) -> None:
        job = self._current
        if self._tx_state != TX_ACK_WAIT or job is None or frame.seq != job.seq:
            return
        self._tx_timer.cancel()
        self._tx_timer = None
        self._finish(job, SUCCESS, frame.frame_pending)

    def _on_beacon(self, frame: MacFrame) -> None:
        if frame.src_mode == ADDR_NONE:
            return
        beacon = decode_beacon(frame.payload)
        for seen in self._scan_results:
            if seen.coord_pan_id == frame.src_pan and seen.coord_address == frame.src_addr:
                return
        try:
            zigbee = decode_zigbee_beacon_payload(beacon.payload)
        except CodecError:
            zigbee = None
        self._scan_results.append(PanDescriptor(frame.src_pan, frame.src_mode, frame.src_addr, beacon.superframe,
                                                frame.seq, beacon.payload, zigbee))

    # --- acks ---------------------------------------------------------------------------------

    def _schedule_ack(self, seq: int, pending: bool) -> None:
        if self._ack_call is not None:
            self._count("ack_skipped")
            return
        self._ack_call = self.clock.callLater(A_TURNAROUND_TIME, self._send_ack, seq, pending)

    def _send_ack(self, seq: int, pending: bool) -> None:
        self._ack_call = None
        now = self.clock.seconds()
        if now < self._tx_busy_until:
            self._count("ack_skipped")
            return
        airtime = self.radio.transmit(encode_ack(seq, pending))
        self._tx_busy_until = now + airtime
        self._count("tx_ack")

    # --- transmit path: queue, CSMA-CA, ack wait, retries --------------------------------------

    def _next_dsn(self) -> int:
        seq = self._dsn
        self._dsn = (seq + 1) & 0xFF
        return seq

    def _enqueue(self, job: _TxJob) -> None:
        self._queue.append(job)
        self._start_next()

    # One transmission at a time, as one explicit state with one timer:
    #   idle -> (ifs) -> cca -> turnaround -> on_air / ack_wait -> idle
    # cca: a random number (0 .. 2^BE - 1) of unit backoff periods, then the channel is sensed
    # over 8 symbols (busy if another transmission was on the air at any time in them);
    # turnaround: aTurnaroundTime (12 symbols) RX-to-TX; so a frame starts at least 20 symbols
    # (320 us) after the channel was last busy.

    def _tx_after(self, delay: float, state: int) -> None:
        self._tx_state = state
        self._tx_timer = self.clock.callLater(delay, self._tx_timer_fired)

    def _tx_timer_fired(self) -> None:
        self._tx_timer = None
        state = self._tx_state
        if state == TX_CCA:
            self._cca_end()
        elif state == TX_TURNAROUND:
            self._transmit()
        elif state == TX_ON_AIR:
            self._tx_end()
        elif state == TX_ACK_WAIT:
            self._ack_timeout()
        elif state == TX_IFS:
            self._tx_state = TX_IDLE
            self._start_next()

    def _start_next(self) -> None:
        if self._tx_state != TX_IDLE or not self._queue:
            return
        now = self.clock.seconds()
        if now < self._ifs_until:
            self._tx_after(self._ifs_until - now, TX_IFS)
            return
        job = self._current = self._queue.pop(0)
        job.nb = 0
        job.be = MAC_MIN_BE
        self._backoff(job)

    def _backoff(self, job: _TxJob) -> None:
        # the random backoff, then the 8-symbol CCA: its result is known at its end
        self._tx_after(self.rng.randrange(1 << job.be) * A_UNIT_BACKOFF_PERIOD + CCA_DURATION, TX_CCA)

    def _cca_end(self) -> None:
        sensing_since = self.clock.seconds() - CCA_DURATION
        if sensing_since < self._tx_busy_until or self._ack_call is not None \
                or self.radio.channel_busy_since(sensing_since):
            self._cca_failed(self._current)
        else:
            self._tx_after(A_TURNAROUND_TIME, TX_TURNAROUND)

    def _cca_failed(self, job: _TxJob) -> None:
        job.nb += 1
        job.be = min(job.be + 1, MAC_MAX_BE)
        if job.nb > MAC_MAX_CSMA_BACKOFFS:
            self._count("csma_failure")
            self._finish(job, CHANNEL_ACCESS_FAILURE, False)
        else:
            self._backoff(job)

    def _transmit(self) -> None:
        job = self._current
        if job.ack_request:
            self._awaiting_ack = True
            self._update_rx()
        airtime = self.radio.transmit(job.psdu)
        self._tx_busy_until = self.clock.seconds() + airtime
        self._count("tx")
        if job.retries:
            self._count("tx_retry")
        if job.ack_request:
            # on the air, then macAckWaitDuration from its end: one timer for both
            self._tx_after(airtime + self._ack_wait, TX_ACK_WAIT)
        else:
            self._tx_after(airtime, TX_ON_AIR)

    def _tx_end(self) -> None:
        self._finish(self._current, SUCCESS, False)

    def _ack_timeout(self) -> None:
        job = self._current
        if job.retries < job.max_retries:
            job.retries += 1
            job.nb = 0
            job.be = MAC_MIN_BE
            self._backoff(job)
            return
        self._count("tx_no_ack")
        self._finish(job, NO_ACK, False)

    def _finish(self, job: _TxJob, status: int, pending: bool) -> None:
        self._tx_state = TX_IDLE
        self._current = None
        self._awaiting_ack = False
        if status != CHANNEL_ACCESS_FAILURE:
            self._ifs_until = self.clock.seconds() + (
                SIFS if len(job.psdu) <= _A_MAX_SIFS_FRAME_SIZE else LIFS)
        self._complete(job, status, pending)
        self._update_rx()
        self._start_next()

    def _complete(self, job: _TxJob, status: int, pending: bool) -> None:
        kind = job.kind
        if kind == _K_DATA:
            self.user.mcps_data_confirm(job.handle, status)
        elif kind == _K_INDIRECT:
            self._indirect_sent(job.entry, status)
        elif kind == _K_POLL or kind == _K_ASSOC_POLL:
            if job is not self._poll_job:
                return      # the poll was already answered by the data itself (its Ack was lost)
            self._poll_job = None
            if status != SUCCESS:
                self._poll_done(status)
            elif pending:
                self._poll_state = _POLL_WAITING
                self._poll_call = self.clock.callLater(MAC_MAX_FRAME_TOTAL_WAIT_TIME, self._poll_timeout)
            else:
                self._poll_done(NO_DATA)
        elif kind == _K_ASSOC_REQ:
            if status == SUCCESS:
                self._assoc_wait_call = self.clock.callLater(MAC_RESPONSE_WAIT_TIME, self._assoc_poll)
            else:
                self._assoc_done(BROADCAST_ADDRESS, status)
        elif kind == _K_BEACON_REQ:
            if self._scan_results is not None:
                if status == SUCCESS:
                    self._scan_call = self.clock.callLater(self._scan_duration, self._scan_done)
                else:
                    self._scan_done()

    def _update_rx(self) -> None:
        on = (self.rx_on_when_idle or self._awaiting_ack or self._poll_state == _POLL_WAITING
              or self._scan_results is not None)
        if on != self._rx_on:
            self._rx_on = on
            self.radio.set_rx_enabled(on)

    def _source_address(self) -> int:
        short = self.short_address
        return short if short < NO_SHORT_ADDRESS else self.extended_address

    def _coordinator_address(self) -> int | None:
        short = self.coord_short_address
        if short is not None and short < NO_SHORT_ADDRESS:
            return short
        return self.coord_extended_address

    # --- polling and association (device side) ---------------------------------------------

    def _send_poll(self, kind: int, coord: int, src: int) -> None:
        self._poll_state = _POLL_SENDING
        self._poll_kind = kind
        seq = self._next_dsn()
        job = self._poll_job = _TxJob(kind, encode_mac(data_request_frame(seq, self.pan_id, coord, src)), seq, True)
        self._enqueue(job)

    def _polled_data_arrived(self, short_address: int = BROADCAST_ADDRESS, status: int = SUCCESS) -> None:
        """Unicast data (or the Association Response) reached us: it answers an outstanding poll."""
        state = self._poll_state
        if state == _POLL_IDLE:
            return
        if self._poll_kind == _K_ASSOC_POLL:
            if short_address == BROADCAST_ADDRESS and status == SUCCESS:
                return      # plain data while associating: not the response we wait for
        self._poll_done(status, short_address)

    def _poll_timeout(self) -> None:
        self._poll_call = None
        self._poll_done(NO_DATA)

    def _poll_done(self, status: int, short_address: int = BROADCAST_ADDRESS) -> None:
        if self._poll_call is not None:
            if self._poll_call.active():
                self._poll_call.cancel()
            self._poll_call = None
        kind = self._poll_kind
        self._poll_state = _POLL_IDLE
        self._poll_job = None
        self._update_rx()
        if kind == _K_POLL:
            self.user.mlme_poll_confirm(status)
        else:
            self._assoc_done(short_address, status)

    def _assoc_poll(self) -> None:
        self._assoc_wait_call = None
        coord = self._coordinator_address()
        self._send_poll(_K_ASSOC_POLL, coord, self.extended_address)

    def _assoc_done(self, short_address: int, status: int) -> None:
        self._associating = False
        if status == ASSOCIATION_SUCCESS:
            self.short_address = short_address
        else:
            short_address = BROADCAST_ADDRESS
            self.pan_id = BROADCAST_PAN_ID
            self.short_address = BROADCAST_ADDRESS
        self.user.mlme_associate_confirm(short_address, status)

    # --- scan ---------------------------------------------------------------------------------

    def _scan_done(self) -> None:
        self._scan_call = None
        results = tuple(self._scan_results or ())
        self._scan_results = None
        self._update_rx()
        self.user.mlme_scan_confirm(results)

    # --- coordinator side ---------------------------------------------------------------------

    def _send_beacon(self) -> None:
        seq = self._bsn
        self._bsn = (seq + 1) & 0xFF
        beacon = Beacon(SuperframeSpec(pan_coordinator=self.pan_coordinator,
                                       association_permit=self.association_permit),
                        payload=self.beacon_payload)
        psdu = encode_mac(beacon_frame(seq, self.pan_id, self._source_address(), beacon))
        self._enqueue(_TxJob(_K_BEACON, psdu, seq, False))

    def _on_association_request(self, device_address: int, capability_information: int) -> None:
        short_address, status = self.user.mlme_associate_indication(device_address, capability_information)
        if status != ASSOCIATION_SUCCESS:
            short_address = BROADCAST_ADDRESS
        for entry in list(self._indirect):      # a repeated request replaces the older response
            if entry.is_association and entry.dst_addr == device_address and not entry.in_transit:
                self._remove_transaction(entry)
        template = association_response_frame(0, self.pan_id, device_address, self.extended_address,
                                              short_address, status)
        entry = _Transaction(device_address, template, None, True)
        entry.short_address = short_address
        entry.status = status
        self._add_transaction(entry)

    def _matches(self, entry: _Transaction, requester: int) -> bool:
        dst = entry.dst_addr
        return dst == requester or (requester <= 0xFFFF and self._children.get(requester) == dst)

    def _has_pending_for(self, requester: int | None) -> bool:
        if requester is None or not self._indirect:
            return False
        for entry in self._indirect:
            if self._matches(entry, requester):
                return True
        return False

    def _serve_data_request(self, requester: int) -> None:
        first = None
        more = False
        for entry in self._indirect:
            if self._matches(entry, requester):
                if entry.in_transit:
                    return      # already on its way (this is a repeated poll)
                if first is None:
                    first = entry
                else:
                    more = True
                    break
        if first is None:
            return
        first.in_transit = True
        seq = first.seq
        if seq is None:
            seq = first.seq = self._next_dsn()
        frame = replace(first.frame, seq=seq, frame_pending=more)
        # The child is awake only for macMaxFrameTotalWaitTime: its frame goes ahead of the queue.
        self._queue.insert(0, _TxJob(_K_INDIRECT, encode_mac(frame), seq, frame.ack_request, first.handle, first))
        self._start_next()

    def _add_transaction(self, entry: _Transaction) -> None:
        full = len(self._indirect) >= MAX_INDIRECT_TRANSACTIONS
        if not full and not entry.is_association:
            # one child's frames (e.g. answers to requests forged in its name) never take the
            # whole queue from the others
            dst = entry.dst_addr
            if sum(1 for e in self._indirect if e.dst_addr == dst) >= self.indirect_per_child:
                self._count("indirect_child_full")
                full = True
        if full:
            if entry.is_association:
                self.clock.callLater(0, self.user.mlme_comm_status, entry.dst_addr, TRANSACTION_OVERFLOW)
            else:
                self.clock.callLater(0, self.user.mcps_data_confirm, entry.handle, TRANSACTION_OVERFLOW)
            return
        entry.timer = self.clock.callLater(MAC_TRANSACTION_PERSISTENCE_TIME, self._expire, entry)
        self._indirect.append(entry)
        self._count("indirect_queued")

    def _remove_transaction(self, entry: _Transaction) -> None:
        if entry.timer is not None and entry.timer.active():
            entry.timer.cancel()
        entry.timer = None
        self._indirect.remove(entry)

    def _expire(self, entry: _Transaction) -> None:
        entry.timer = None
        if entry.in_transit:
            entry.expired = True
            return
        self._indirect.remove(entry)
        self._report_transaction(entry, TRANSACTION_EXPIRED)

    def _indirect_sent(self, entry: _Transaction, status: int) -> None:
        entry.in_transit = False
        if status == SUCCESS:
            self._remove_transaction(entry)
            if entry.is_association and entry.status == ASSOCIATION_SUCCESS:
                self._children[entry.short_address] = entry.dst_addr
            self._report_transaction(entry, SUCCESS)
        elif entry.expired:
            self._indirect.remove(entry)
            self._report_transaction(entry, TRANSACTION_EXPIRED)
        else:
            self._count("indirect_failed")   # stays queued until the child polls again

    def _report_transaction(self, entry: _Transaction, status: int) -> None:
        if status == TRANSACTION_EXPIRED:
            self._count("indirect_expired")
        if entry.is_association:
            self.user.mlme_comm_status(entry.dst_addr, status)
        else:
            self.user.mcps_data_confirm(entry.handle, status)

