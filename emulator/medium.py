"""The HAN radio medium: one shared 2.4 GHz IEEE 802.15.4 channel per home.

Implements the PHY side of the HAN (issue 2, item 4; HAN spec notes 2.4 "PHY/MAC timing"):

 - airtime: 2.4 GHz O-QPSK carries 250 kbit/s = 32 us per byte; each PPDU adds 6 bytes of
   synchronisation header and PHR (4 preamble + 1 SFD + 1 length), so a PSDU of C{n} bytes
   (the MPDU including its FCS, at most aMaxPHYPacketSize = 127) occupies the air for
   C{(6 + n) * 32} us (a 127-byte frame: 4.256 ms);
 - broadcast medium: every other attached radio whose receiver is on at the end of the
   airtime hears the frame, subject to the impairments of its (sender, receiver) pair
   (L{emulator.impairments.ImpairmentPath}, random stream derived from the run seed, the
   medium's name and both node names, so adding a node never changes another pair's stream);
 - collisions: all radios of a home are in range of each other, so two transmissions that
   overlap in time destroy each other for every receiver (a radio that is transmitting cannot
   receive either: half duplex);
 - CCA: L{RadioPort.channel_busy} is true while another radio's transmission is on the air,
   L{RadioPort.channel_busy_since} if one was at any time in a sensing period;
 - corruption flips bits in the receiver's copy, so the 802.15.4 FCS fails at the MAC.

Every transmission goes to the capture sink (LINKTYPE 195, one interface per medium) at its
start time.  The MAC (C{protocols.ieee802154.mac}) uses exactly L{RadioPort.transmit},
L{RadioPort.channel_busy_since} and L{RadioPort.set_rx_enabled}, and implements
C{frame_received(psdu)}.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Protocol

from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from emulator.capture import LINKTYPE_IEEE802_15_4_WITHFCS, CaptureSink
from emulator.impairments import ImpairmentPath, ImpairmentSpec, flip_bits
from emulator.rng import derive_rng

__all__ = ["HanMedium", "RadioPort", "RadioReceiver", "airtime", "MAX_PSDU_SIZE",
           "EVENT_REASONS", "INJECT_SENDER", "Phy", "PHY_2400", "PHY_868", "PHYS"]

_log = Logger()

#: aMaxPHYPacketSize (IEEE 802.15.4-2006 6.4.1)
MAX_PSDU_SIZE = 127
#: seconds per byte at 250 kbit/s
BYTE_TIME = 32e-6
#: SHR (preamble 4 + SFD 1) + PHR (1) bytes sent before the PSDU
PHY_OVERHEAD_BYTES = 6
#: every reason passed to C{on_event}
EVENT_REASONS = ("tx", "delivered", "loss", "burst_loss", "outage", "queue_full", "corrupt",
                 "collision", "rx_off", "duplicate")
#: the sender name used for frames put on the air by L{HanMedium.inject}
INJECT_SENDER = "<inject>"


@dataclass(frozen=True, slots=True)
class Phy:
    """A PHY of the HAN: its timing and its channels.

    @ivar band: the band's name in topologies (MHz): 2400 or 868.
    @ivar bit_rate: bits per second on the air.
    @ivar symbol_time: seconds per symbol.
    @ivar overhead_bytes: octets sent before the PSDU (synchronisation header and PHR).
    @ivar page: the IEEE 802.15.4 channel page.
    @ivar channels: the channel numbers of that page.
    @ivar ack_wait: macAckWaitDuration on this PHY (s, from the end of the frame sent):
        aTurnaroundTime + the airtime of an Ack (5 octets) + a backoff period, as 802.15.4 defines it.
    """

    band: int
    bit_rate: int
    symbol_time: float
    overhead_bytes: int
    page: int
    channels: range
    ack_wait: float
    description: str

    @property
    def us_per_byte(self) -> int:
        """Microseconds per octet on the air (32 at 250 kbit/s, 80 at 100 kbit/s)."""
        return 8_000_000 // self.bit_rate

    def airtime(self, psdu_len: int) -> float:
        """Seconds a PSDU of C{psdu_len} bytes occupies the air on this PHY."""
        return (self.overhead_bytes + psdu_len) * self.us_per_byte / 1_000_000

    def channel_mask(self, channel: int) -> int:
        """The 32-bit ZigBee channel mask of one channel: the page in the top 5 bits."""
        return self.page << 27 | 1 << channel


#: 2.4 GHz O-QPSK (IEEE 802.15.4-2006 6.5): 250 kbit/s, 16 us symbols, page 0 channels 11-26;
#: macAckWaitDuration 54 symbols
PHY_2400 = Phy(2400, 250_000, 16e-6, PHY_OVERHEAD_BYTES, 0, range(11, 27), 54 * 16e-6,
               "IEEE 802.15.4 2.4 GHz O-QPSK")
#: The GB dual-band CH's 868 MHz HAN: ZigBee's European sub-GHz PHY, IEEE 802.15.4-2015 SUN FSK
#: (clause 20) at 100 kbit/s binary GFSK (10 us symbols), channel page 28 (the channel masks
#: GBCS carries, E0000001 = page 28 channel 0), channels 0-26 of the 863-870 MHz band (863.25 MHz
#: + 200 kHz per channel).  The spec folder gives only the page-28 channel mask form (the DBCH
#: objects); the rate, symbol time and SHR come from IEEE 802.15.4-2015 20.3 / 11.1 and the ZigBee
#: sub-GHz PHY: an 8-octet preamble (phyFskPreambleLength 8), a 2-octet SFD and a 2-octet PHR,
#: 12 octets before the PSDU.  The PSDU keeps the 2-octet FCS and aMaxPHYPacketSize 127 (the
#: ZigBee sub-GHz MAC frames are those of 2.4 GHz), so the capture uses link type 195 for both.
#: macAckWaitDuration: aTurnaroundTime (12 symbols, 120 us) + the Ack's airtime (17 octets,
#: 1.36 ms) + aUnitBackoffPeriod (20 symbols, 200 us) + the 8-symbol CCA = 1.76 ms.
PHY_868 = Phy(868, 100_000, 10e-6, 12, 28, range(0, 27), 120e-6 + 17 * 80e-6 + 200e-6 + 80e-6,
              "IEEE 802.15.4 868 MHz SUN FSK 100 kbit/s")
#: the PHYs by band (topology C{band:} values)
PHYS = {PHY_2400.band: PHY_2400, PHY_868.band: PHY_868}


_NULL_SPEC = ImpairmentSpec()


def _is_null(spec: ImpairmentSpec | None) -> bool:
    """Whether C{spec} leaves every frame intact and on time (what a null path decides)."""
    return spec is None or spec == _NULL_SPEC


def airtime(psdu_len: int) -> float:
    """Return the seconds a PSDU of C{psdu_len} bytes occupies the air (SHR + PHR + PSDU)."""
    return (PHY_OVERHEAD_BYTES + psdu_len) * 32 / 1_000_000


class RadioReceiver(Protocol):
    """What a radio's owner (the MAC) implements."""

    def frame_received(self, psdu: bytes) -> None:
        """Called with every frame this radio hears (possibly corrupted: check the FCS)."""


class _Transmission:
    __slots__ = ("sender", "port", "psdu", "start", "end", "collided")

    def __init__(self, sender: str, port: "RadioPort | None", psdu: bytes, start: float,
                 end: float) -> None:
        self.sender = sender
        self.port = port
        self.psdu = psdu
        self.start = start
        self.end = end
        self.collided = False


class RadioPort:
    """One node's radio on a L{HanMedium} (returned by L{HanMedium.attach}).

    @ivar name: the node's name (unique on the medium).
    @ivar rx_enabled: whether the receiver is on (initially C{True}).
    @ivar attached: C{False} after L{detach}.
    """

    __slots__ = ("medium", "name", "receiver", "rx_enabled", "attached", "attached_at", "heard_until")

    def __init__(self, medium: "HanMedium", name: str, receiver: RadioReceiver, now: float) -> None:
        self.medium = medium
        self.name = name
        self.receiver = receiver
        self.rx_enabled = True
        self.attached = True
        self.attached_at = now
        self.heard_until = float("-inf")  # when the last other radio's transmission ended

    def transmit(self, psdu: bytes) -> float:
        """Put a PSDU (MPDU including FCS, at most 127 bytes) on the air now.

        @return: the airtime in seconds; receivers get the frame when it ends.
        @raise ValueError: the PSDU is longer than 127 bytes.
        @raise RuntimeError: the radio was detached.
        """
        if not self.attached:
            raise RuntimeError(f"radio {self.name!r} is detached from {self.medium.name!r}")
        return self.medium._transmit(self.name, self, psdu)

    @property
    def ack_wait_duration(self) -> float:
        """macAckWaitDuration of the medium's PHY (the MAC waits this long for an Ack)."""
        return self.medium.phy.ack_wait

    def channel_busy(self) -> bool:
        """Clear channel assessment: C{True} while another radio's transmission is on the air."""
        medium = self.medium
        now = medium.clock.seconds()
        for tx in medium._on_air:
            if tx.port is not self and tx.end > now:
                return True
        return False

    def channel_busy_since(self, t: float) -> bool:
        """Clear channel assessment over a period: C{True} if another radio's transmission was
        on the air at any time from C{t} until now (the MAC senses for 8 symbols)."""
        return self.heard_until > t or self.channel_busy()

    def set_rx_enabled(self, on: bool) -> None:
        """Turn the receiver on or off (a sleepy device turns it off between polls)."""
        self.rx_enabled = bool(on)

    def detach(self) -> None:
        """Remove this radio from the medium (it hears nothing more; pending deliveries to it
        are dropped).  Its name may be attached again."""
        if self.attached:
            self.attached = False
            self.medium._detach(self)

    def __repr__(self) -> str:
        return f"<RadioPort {self.name} on {self.medium.name}>"


class HanMedium:
    """One home's 802.15.4 channel: airtime, broadcast, collisions, impairments, capture.

    @param clock: the C{IReactorTime} (a L{emulator.clock.VirtualClock} for soak runs).
    @param seed: the run seed (per-pair random streams are derived from it).
    @param name: the medium's name, e.g. the home's name (part of every pair's stream name).
    @param channel: the channel of the PHY's page (2.4 GHz: 11..26; 868 MHz: 0..26).
    @param phy: the PHY (L{PHY_2400} by default; L{PHY_868} for a dual-band CH's sub-GHz HAN):
        its airtime per octet and its channels.
    @param impairments: applied independently to each (sender, receiver) pair (C{None}: none);
        see also L{set_pair_impairments}.
    @param capture: a L{CaptureSink}: the medium registers one interface (link type 195) and
        captures every transmission at its start.
    @param interface_name: the capture interface's name (default: C{name}).
    @param on_event: called with a reason from L{EVENT_REASONS} for every event.

    @ivar counts: events counted by reason (also the C{on_event} reasons), plus
        C{"receiver_error"} for receivers that raised.
    """

    def __init__(self, clock: IReactorTime, seed: int, name: str, *, channel: int = 11,
                 impairments: ImpairmentSpec | None = None, capture: CaptureSink | None = None,
                 interface_name: str | None = None,
                 on_event: Callable[[str], None] | None = None, phy: Phy = None) -> None:
        phy = PHY_2400 if phy is None else phy
        if channel not in phy.channels:
            raise ValueError(f"channel must be a {phy.description} channel "
                             f"{phy.channels.start}..{phy.channels.stop - 1}, got {channel!r}")
        self.phy = phy
        self.clock = clock
        #: start of the run: impairment outages are given in run time (seconds since this)
        self.run_start = clock.seconds()
        self.seed = seed
        self.name = name
        self.channel = channel
        self.impairments = impairments
        self.on_event = on_event
        self.counts: dict[str, int] = dict.fromkeys(EVENT_REASONS, 0)
        self.counts["receiver_error"] = 0
        self._ports: dict[str, RadioPort] = {}
        self._on_air: list[_Transmission] = []
        self._paths: dict[tuple[str, str], ImpairmentPath] = {}
        self._pair_specs: dict[tuple[str, str], ImpairmentSpec | None] = {}
        #: no impairments anywhere on this medium: pairs need no L{ImpairmentPath} (see L{_end})
        self._unimpaired = _is_null(impairments)
        self._observers: list[Callable[[float, str, bytes], None]] = []
        self.capture = capture
        self.interface_id = 0
        self.interface_name = interface_name or name
        if capture is not None and hasattr(capture, "add_interface"):
            self.interface_id = capture.add_interface(
                self.interface_name,
                f"{phy.description} {f'page {phy.page} ' if phy.page else ''}channel {channel}: {name}",
                LINKTYPE_IEEE802_15_4_WITHFCS, 256)

    # -- topology -----------------------------------------------------------------------------

    def attach(self, name: str, receiver: RadioReceiver) -> RadioPort:
        """Attach a radio named C{name}; C{receiver.frame_received(psdu)} gets what it hears.

        @raise ValueError: a radio with that name is already attached.
        """
        if name in self._ports:
            raise ValueError(f"a radio named {name!r} is already attached to {self.name!r}")
        if name == INJECT_SENDER:
            raise ValueError(f"{INJECT_SENDER!r} is reserved")
        port = RadioPort(self, name, receiver, self.clock.seconds())
        self._ports[name] = port
        return port

    def _detach(self, port: RadioPort) -> None:
        if self._ports.get(port.name) is port:
            del self._ports[port.name]

    @property
    def ports(self) -> dict[str, RadioPort]:
        """The attached radios by name (a copy)."""
        return dict(self._ports)

    def set_impairments(self, spec: ImpairmentSpec | None) -> None:
        """Change the medium's impairments from now on (every pair without its own override);
        each pair keeps its random stream and counts."""
        self.impairments = spec
        self._unimpaired = _is_null(spec) and all(_is_null(s) for s in self._pair_specs.values())
        for key, path in self._paths.items():
            if key not in self._pair_specs:
                path.set_spec(spec)

    def set_pair_impairments(self, sender: str, receiver: str, spec: ImpairmentSpec | None) -> None:
        """Override the impairments for frames from C{sender} heard by C{receiver} (resets that
        pair's state; its random stream restarts from its derived seed)."""
        self._pair_specs[(sender, receiver)] = spec
        self._paths.pop((sender, receiver), None)
        self._unimpaired = _is_null(self.impairments) and all(_is_null(s) for s in self._pair_specs.values())

    def path(self, sender: str, receiver: str) -> ImpairmentPath:
        """Return the L{ImpairmentPath} of the (sender, receiver) pair (created on first use)."""
        key = (sender, receiver)
        p = self._paths.get(key)
        if p is None:
            spec = self._pair_specs.get(key, self.impairments)
            p = self._paths[key] = ImpairmentPath(
                spec, derive_rng(self.seed, "han-medium", self.name, sender, receiver), self.run_start)
        return p

    # -- the air ------------------------------------------------------------------------------

    def _event(self, reason: str) -> None:
        self.counts[reason] += 1
        if self.on_event is not None:
            self.on_event(reason)

    def add_observer(self, observer: Callable[[float, str, bytes], None]) -> None:
        """Call C{observer(now, sender, psdu)} for every transmission at its start, as the
        capture sees it (the sender is a radio name or L{INJECT_SENDER}); e.g. a TAP bridge."""
        self._observers.append(observer)

    def inject(self, psdu: bytes) -> float:
        """Put arbitrary bytes (at most 127) on the air, as if from an unknown transmitter
        named L{INJECT_SENDER}.  Return the airtime."""
        return self._transmit(INJECT_SENDER, None, psdu)

    def _transmit(self, sender: str, port: RadioPort | None, psdu: bytes) -> float:
        n = len(psdu)
        if n > MAX_PSDU_SIZE:
            raise ValueError(f"PSDU of {n} bytes exceeds aMaxPHYPacketSize ({MAX_PSDU_SIZE})")
        psdu = bytes(psdu)
        now = self.clock.seconds()
        phy = self.phy
        duration = (phy.overhead_bytes + n) * phy.us_per_byte / 1_000_000
        tx = _Transmission(sender, port, psdu, now, now + duration)
        on_air = self._on_air
        for other in on_air:
            if other.end > now:
                other.collided = True
                tx.collided = True
        on_air.append(tx)
        if self.capture is not None:
            self.capture.capture(self.interface_id, now, psdu)
        for observer in self._observers:
            observer(now, sender, psdu)
        self._event("tx")
        self.clock.callLater(duration, self._end, tx)
        return duration

    def _end(self, tx: _Transmission) -> None:
        self._on_air.remove(tx)
        now = self.clock.seconds()
        psdu = tx.psdu
        n = len(psdu)
        for port in list(self._ports.values()):
            if port is tx.port:
                continue
            port.heard_until = now
            if port.attached_at > tx.start or not port.attached:
                continue
            if not port.rx_enabled:
                self._event("rx_off")
                continue
            if tx.collided:
                self._event("collision")
                continue
            path = self._paths.get((tx.sender, port.name))
            if path is None:
                if self._unimpaired:
                    # an unimpaired pair: delivered intact, now (what a null path decides);
                    # its path is made only when impairments appear (its random stream
                    # starts then, as a null path never draws), saving ~700 bytes per pair
                    self._deliver(port, psdu)
                    continue
                path = self.path(tx.sender, port.name)
            deliveries = path.decide(now, n)
            if not deliveries:
                self._event(path.last_drop or "loss")
                continue
            for d in deliveries:
                if d.duplicate:
                    self._event("duplicate")
                if d.corrupt_bits:
                    self._event("corrupt")
                    data = flip_bits(psdu, d.corrupt_bits)
                else:
                    data = psdu
                if d.delay > 0.0:
                    self.clock.callLater(d.delay, self._late_delivery, port, data)
                else:
                    self._deliver(port, data)

    def _late_delivery(self, port: RadioPort, data: bytes) -> None:
        if not (port.attached and port.rx_enabled):
            self._event("rx_off")
            return
        self._deliver(port, data)

    def _deliver(self, port: RadioPort, data: bytes) -> None:
        self._event("delivered")
        try:
            port.receiver.frame_received(data)
        except Exception:
            self.counts["receiver_error"] += 1
            _log.failure("radio {name} on {medium} raised in frame_received",
                         name=port.name, medium=self.name)

    def set_channel(self, channel: int) -> None:
        """Move the medium to another channel of its PHY (a channel change: every radio on it
        follows, as the devices of a dual-band CH's sub-GHz HAN do)."""
        if channel not in self.phy.channels:
            raise ValueError(f"channel {channel!r} is not a {self.phy.description} channel")
        self.channel = channel

    def __repr__(self) -> str:
        return f"<HanMedium {self.name} channel {self.channel}: {len(self._ports)} radios>"
