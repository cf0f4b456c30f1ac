"""The Communications Hub's WAN machine: attach, keep-alive, reconnect, store and forward.

The CHF "routes alerts and responses from Smart Metering equipment to the CSP for onward delivery
to the DSP" and must hold them while the SMWAN is unavailable (e2e architecture 3.4.2, 4.2.1;
flow WAN01).  L{HubWanEndpoint} is that WAN side of the hub:

 - L{HubWanEndpoint.send_up} takes one GBCS message from the CHF (response or alert); it is stored
   and delivered to the DCC exactly once, in order (L{protocols.smwan.channel.Channel}), however
   often the WAN goes down in between;
 - GBCS commands from the DCC go to the C{deliver_down} callable (the CHF), once each, in order.

States (automat typed builder; every timer belongs to one state and is cancelled on leaving it)::

    idle --start--> dialing --connected--> attaching --ATTACH_ACK--> attached
                       |  dial_failed          | attach timeout / lost  | silence / lost / DETACH /
                       v                       v                        v retransmission gave up
                    backoff <------------------+------------------------+
                       | reconnect timer (exponential, capped, seeded jitter)
                       v
                    dialing ...                 any --stop--> stopped

The machine is sans-IO: a connector (the adapter) dials and hangs up; frames come in through
L{HubWanEndpoint.frame_received}; time comes from the injected clock; jitter from the injected
C{random.Random}.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Callable, Protocol

from automat import TypeMachineBuilder
from twisted.internet.interfaces import IDelayedCall, IReactorTime

from protocols.errors import CodecError
from protocols.smwan.channel import Channel
from protocols.smwan.frames import DetachReason, Frame, FrameType, decode_frame, encode_frame
from protocols.smwan.profiles import LinkProfile

__all__ = ["HubWanEndpoint", "HubConnector", "HUB_COUNTERS"]

HUB_COUNTERS = ("frames_received", "frames_sent", "malformed", "wrong_eui", "unexpected", "attaches",
                "attach_timeouts", "silence_timeouts", "links_dead", "connections_lost", "dial_failures",
                "detached_by_peer", "keepalives_sent")

Transmit = Callable[[bytes], None]


class HubConnector(Protocol):
    """What the adapter does for the hub machine (TCP: connect / abort; emulated link: nothing)."""

    def dial(self, endpoint: "HubWanEndpoint") -> None:
        """Open a connection; later call C{endpoint.connected(transmit)} or C{endpoint.dial_failed()}."""

    def hangup(self) -> None:
        """Drop the current connection (C{connection_lost} may follow; it is ignored)."""


class _Inputs(Protocol):
    def start(self) -> None: ...
    def stop(self) -> None: ...
    def connected(self) -> None: ...
    def dial_failed(self) -> None: ...
    def connection_lost(self) -> None: ...
    def attach_acked(self, ack: int) -> None: ...
    def peer_frame(self, frame: Frame) -> None: ...
    def peer_detached(self) -> None: ...
    def attach_timeout(self) -> None: ...
    def keepalive_due(self) -> None: ...
    def peer_silent(self) -> None: ...
    def link_dead(self) -> None: ...
    def reconnect_due(self) -> None: ...


@dataclass(slots=True)
class _Timers:
    """Per-state timers, cancelled when the state is left."""

    calls: list[IDelayedCall] = field(default_factory=list)

    def cancel(self) -> None:
        for call in self.calls:
            if call.active():
                call.cancel()
        self.calls.clear()


class HubWanEndpoint:
    """The hub end of the SMWAN (see the module docstring).

    @param clock: the injected C{IReactorTime}.
    @param eui64: the Communications Hub's EUI-64 (its identity on the WAN).
    @param profile: the CSP region's L{LinkProfile}.
    @param rng: seeded stream for the reconnect jitter (L{emulator.rng.derive_rng}).
    @param deliver_down: called with each GBCS command from the DCC (the CHF's entry point).
    @param connector: the adapter's L{HubConnector}.
    @ivar counts: L{HUB_COUNTERS} (the channel's own are in C{channel.counts}).
    @ivar state: the machine's current state name.
    @ivar on_state: optional callable C{(old, new)} for observers (metrics, logs).
    """

    def __init__(self, clock: IReactorTime, eui64: int, profile: LinkProfile, rng: random.Random,
                 deliver_down: Callable[[bytes], None], connector: HubConnector) -> None:
        self.clock = clock
        self.eui64 = eui64
        self.profile = profile
        self.rng = rng
        self.connector = connector
        self.counts: dict[str, int] = dict.fromkeys(HUB_COUNTERS, 0)
        self.channel = Channel(clock, eui64, profile, deliver_down, self._link_dead)
        self.state = "idle"
        self.on_state: Callable[[str, str], None] | None = None
        self.failures = 0  # consecutive failed attachments (drives the backoff)
        self.last_backoff: float | None = None
        self._transmit: Transmit | None = None
        self._machine = _factory(self)

    # --- the CHF side ---------------------------------------------------------------------

    def send_up(self, message: bytes) -> bool:
        """Store one GBCS response or alert for the DCC (sent now if attached).

        @return: C{False} if the store is full (counted in C{channel.counts["store_overflow"]}).
        """
        return self.channel.offer(message)

    # --- control and adapter inputs --------------------------------------------------------

    def start(self) -> None:
        self._machine.start()

    def stop(self) -> None:
        self._machine.stop()

    def connected(self, transmit: Transmit) -> None:
        """The connector's connection is up; frames for the DCC go to C{transmit}."""
        self._transmit = transmit
        self._machine.connected()

    def dial_failed(self) -> None:
        self.counts["dial_failures"] += 1
        self._machine.dial_failed()

    def connection_lost(self) -> None:
        self._transmit = None
        self._machine.connection_lost()

    def frame_received(self, data: bytes) -> None:
        """One SMWAN frame from the DCC (bytes); malformed ones are counted and dropped."""
        try:
            frame = decode_frame(data)
        except CodecError:
            self.counts["malformed"] += 1
            return
        self.receive(frame)

    def receive(self, frame: Frame) -> None:
        """One decoded frame from the DCC (the TCP adapter decodes the stream itself)."""
        self.counts["frames_received"] += 1
        if frame.eui64 != self.eui64:
            self.counts["wrong_eui"] += 1
            return
        if frame.type is FrameType.ATTACH_ACK:
            self._machine.attach_acked(frame.ack)
        elif frame.type is FrameType.DETACH:
            self._machine.peer_detached()
        elif frame.type in (FrameType.DATA, FrameType.DATA_ACK, FrameType.KEEPALIVE):
            self._machine.peer_frame(frame)
        else:
            self.counts["unexpected"] += 1

    # --- helpers for the behaviours ------------------------------------------------------------

    def _send(self, frame: Frame) -> None:
        if self._transmit is not None:
            self.counts["frames_sent"] += 1
            self._transmit(encode_frame(frame))

    def _send_raw(self, data: bytes) -> None:
        if self._transmit is not None:
            self.counts["frames_sent"] += 1
            self._transmit(data)

    def _link_dead(self) -> None:
        self._machine.link_dead()

    def _enter(self, state: str) -> None:
        old, self.state = self.state, state
        if self.on_state is not None and old != state:
            self.on_state(old, state)

    def _hangup(self) -> None:
        self.channel.close()
        self._transmit = None
        self.connector.hangup()

    def _backoff_delay(self) -> float:
        p = self.profile
        base = min(p.backoff_max, p.backoff_initial * 2.0 ** min(self.failures, 32))
        return base * (1.0 - p.backoff_jitter * self.rng.random())

    def __repr__(self) -> str:
        return f"<HubWanEndpoint {self.eui64:016X} {self.state}>"


# --- the machine -------------------------------------------------------------------------------

_builder = TypeMachineBuilder(_Inputs, HubWanEndpoint)
_idle = _builder.state("idle")
_stopped = _builder.state("stopped")
_dialing = _builder.state("dialing")


def _attaching_data(proto: _Inputs, core: HubWanEndpoint) -> _Timers:
    core._enter("attaching")
    core._send(Frame(FrameType.ATTACH, core.eui64, seq=core.channel.next_seq, ack=core.channel.expected))
    return _Timers([core.clock.callLater(core.profile.attach_timeout, proto.attach_timeout)])


def _attached_data(proto: _Inputs, core: HubWanEndpoint, ack: int) -> _Timers:
    core._enter("attached")
    p = core.profile
    return _Timers([core.clock.callLater(p.keepalive_interval, proto.keepalive_due),
                    core.clock.callLater(p.keepalive_timeout, proto.peer_silent)])


def _backoff_data(proto: _Inputs, core: HubWanEndpoint) -> _Timers:
    delay = core._backoff_delay()
    core.last_backoff = delay
    core.failures += 1
    core._enter("backoff")
    return _Timers([core.clock.callLater(delay, proto.reconnect_due)])


_attaching = _builder.state("attaching", _attaching_data)
_attached = _builder.state("attached", _attached_data)
_backoff = _builder.state("backoff", _backoff_data)


# The hot path first: automat finds a transition by a linear search in definition order.
@_attached.upon(_Inputs.peer_frame).loop()
def _peer_frame(proto: _Inputs, core: HubWanEndpoint, data: _Timers, frame: Frame) -> None:
    data.calls[1].reset(core.profile.keepalive_timeout)
    channel = core.channel
    if frame.type is FrameType.DATA:
        if channel.on_data(frame):
            core._send_raw(channel.ack_frame())
    else:  # DATA_ACK, or the DCC's KEEPALIVE echo (its ack field is current too)
        channel.on_ack(frame.ack)


@_idle.upon(_Inputs.start).to(_dialing)
def _start(proto: _Inputs, core: HubWanEndpoint) -> None:
    core._enter("dialing")
    core.connector.dial(core)


@_dialing.upon(_Inputs.connected).to(_attaching)
def _dial_ok(proto: _Inputs, core: HubWanEndpoint) -> None:
    pass


@_dialing.upon(_Inputs.dial_failed).to(_backoff)
def _dial_bad(proto: _Inputs, core: HubWanEndpoint) -> None:
    pass


@_attaching.upon(_Inputs.attach_acked).to(_attached)
def _attach_ok(proto: _Inputs, core: HubWanEndpoint, data: _Timers, ack: int) -> None:
    data.cancel()
    core.counts["attaches"] += 1
    core.failures = 0
    transmit = core._send_raw
    core.channel.open(transmit, ack)


@_attaching.upon(_Inputs.attach_timeout).to(_backoff)
def _attach_timeout(proto: _Inputs, core: HubWanEndpoint, data: _Timers) -> None:
    data.cancel()
    core.counts["attach_timeouts"] += 1
    core._hangup()


def _leave_attaching(counter: str) -> Callable[..., None]:
    def behaviour(proto: _Inputs, core: HubWanEndpoint, data: _Timers) -> None:
        data.cancel()
        core.counts[counter] += 1
        core._hangup()
    return behaviour


_attaching.upon(_Inputs.connection_lost).to(_backoff)(_leave_attaching("connections_lost"))
_attaching.upon(_Inputs.peer_detached).to(_backoff)(_leave_attaching("detached_by_peer"))


@_attached.upon(_Inputs.keepalive_due).loop()
def _keepalive(proto: _Inputs, core: HubWanEndpoint, data: _Timers) -> None:
    core.counts["keepalives_sent"] += 1
    core._send(Frame(FrameType.KEEPALIVE, core.eui64, seq=core.channel.next_seq, ack=core.channel.expected))
    data.calls[0] = core.clock.callLater(core.profile.keepalive_interval, proto.keepalive_due)


def _leave_attached(counter: str) -> Callable[..., None]:
    def behaviour(proto: _Inputs, core: HubWanEndpoint, data: _Timers) -> None:
        data.cancel()
        core.counts[counter] += 1
        core._hangup()
    return behaviour


_attached.upon(_Inputs.peer_silent).to(_backoff)(_leave_attached("silence_timeouts"))
_attached.upon(_Inputs.link_dead).to(_backoff)(_leave_attached("links_dead"))
_attached.upon(_Inputs.connection_lost).to(_backoff)(_leave_attached("connections_lost"))
_attached.upon(_Inputs.peer_detached).to(_backoff)(_leave_attached("detached_by_peer"))


@_backoff.upon(_Inputs.reconnect_due).to(_dialing)
def _reconnect(proto: _Inputs, core: HubWanEndpoint, data: _Timers) -> None:
    data.calls.clear()
    core._enter("dialing")
    core.connector.dial(core)


@_dialing.upon(_Inputs.stop).to(_stopped)
def _stop_dialing(proto: _Inputs, core: HubWanEndpoint) -> None:
    core._enter("stopped")
    core._hangup()


@_idle.upon(_Inputs.stop).to(_stopped)
def _stop_idle(proto: _Inputs, core: HubWanEndpoint) -> None:
    core._enter("stopped")


def _stop_with_timers(detach: bool) -> Callable[..., None]:
    def behaviour(proto: _Inputs, core: HubWanEndpoint, data: _Timers) -> None:
        data.cancel()
        core._enter("stopped")
        if detach:
            core._send(Frame(FrameType.DETACH, core.eui64, payload=bytes([DetachReason.SHUTDOWN])))
        core._hangup()
    return behaviour


_attaching.upon(_Inputs.stop).to(_stopped)(_stop_with_timers(False))
_attached.upon(_Inputs.stop).to(_stopped)(_stop_with_timers(True))
_backoff.upon(_Inputs.stop).to(_stopped)(_stop_with_timers(False))

# Inputs that mean nothing in a state (a stale connection_lost after a hangup, a frame that
# arrives while not attached, ...) are ignored there; frames are still counted by receive().
_IGNORED = {
    _idle: ("connected", "dial_failed", "connection_lost", "attach_acked", "peer_frame", "peer_detached",
            "attach_timeout", "keepalive_due", "peer_silent", "link_dead", "reconnect_due"),
    _stopped: ("start", "stop", "connected", "dial_failed", "connection_lost", "attach_acked", "peer_frame",
               "peer_detached", "attach_timeout", "keepalive_due", "peer_silent", "link_dead", "reconnect_due"),
    _dialing: ("start", "connection_lost", "attach_acked", "peer_frame", "peer_detached", "attach_timeout",
               "keepalive_due", "peer_silent", "link_dead", "reconnect_due"),
    _attaching: ("start", "connected", "dial_failed", "peer_frame", "keepalive_due", "peer_silent",
                 "link_dead", "reconnect_due"),
    _attached: ("start", "connected", "dial_failed", "attach_acked", "attach_timeout", "reconnect_due"),
    _backoff: ("start", "connected", "dial_failed", "connection_lost", "attach_acked", "peer_frame",
               "peer_detached", "attach_timeout", "keepalive_due", "peer_silent", "link_dead"),
}
for _state, _names in _IGNORED.items():
    for _name in _names:
        _state.upon(getattr(_Inputs, _name)).loop().returns(None)

_factory = _builder.build()
