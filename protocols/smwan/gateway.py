"""The DCC side of a CSP: the gateway that holds one session per Communications Hub.

"The CSPs manage, route and deliver all messages from the DSP to designated Communications Hubs
... Communications Hubs route alerts and responses ... to the CSP for onward delivery to the DSP"
(e2e architecture 3.4.2; DCC SMWAN Gateway Interface, 4.2.5.3).  L{CspGateway} is that interface
as the DSP (the ACB) sees it:

 - L{CspGateway.send_down} routes a GBCS command to the hub with the given EUI-64; while the hub
   is unreachable the command waits in the hub's session (bounded; overflow refused and counted);
 - every response and alert from a hub goes, once and in order, to the C{deliver_up} callable
   given at construction (the ACB's entry point) as C{deliver_up(eui64, message)}.

A L{HubSession} is "unreachable" until the hub ATTACHes, "attached" until the hub DETACHes, its
connection is lost, it stays silent for the profile's C{keepalive_timeout}, or retransmission
gives up.  Sequence numbers survive all of that (L{protocols.smwan.channel}).  Two states, so a
plain class rather than an automat machine (STYLE.md 2).
"""

from __future__ import annotations

from typing import Callable, Hashable

from twisted.internet.interfaces import IDelayedCall, IReactorTime

from protocols.errors import CodecError
from protocols.smwan.channel import Channel
from protocols.smwan.frames import DetachReason, Frame, FrameType, decode_frame, encode_frame
from protocols.smwan.profiles import LinkProfile

__all__ = ["CspGateway", "HubSession", "GATEWAY_COUNTERS"]

GATEWAY_COUNTERS = ("frames_received", "frames_sent", "malformed", "wrong_eui", "unexpected", "attaches",
                    "superseded", "detaches", "silence_timeouts", "links_dead", "connections_lost",
                    "not_attached", "keepalives_echoed")

Transmit = Callable[[bytes], None]


class HubSession:
    """The DCC's state for one hub (see the module docstring).

    @ivar state: C{"unreachable"} or C{"attached"}.
    @ivar path: an opaque token naming the connection or link the hub is attached over.
    """

    __slots__ = ("gateway", "eui64", "channel", "state", "transmit", "path", "_silence")

    def __init__(self, gateway: "CspGateway", eui64: int) -> None:
        self.gateway = gateway
        self.eui64 = eui64
        self.channel = Channel(gateway.clock, eui64, gateway.profile,
                               lambda message: gateway.deliver_up(eui64, message), self._link_dead)
        self.state = "unreachable"
        self.transmit: Transmit | None = None
        self.path: Hashable | None = None
        self._silence: IDelayedCall | None = None

    def _send(self, data: bytes) -> None:
        if self.transmit is not None:
            self.gateway.counts["frames_sent"] += 1
            self.transmit(data)

    def attach(self, frame: Frame, transmit: Transmit, path: Hashable) -> None:
        """ATTACH from the hub over C{path}: answer ATTACH_ACK, then resume both directions."""
        counts = self.gateway.counts
        if self.state == "attached" and path != self.path:
            counts["superseded"] += 1
        self.channel.close()
        counts["attaches"] += 1
        self.gateway._unbind(self)
        self.state = "attached"
        self.transmit = transmit
        self.path = path
        self.gateway._by_path.setdefault(path, set()).add(self.eui64)
        self._send(encode_frame(Frame(FrameType.ATTACH_ACK, self.eui64, seq=self.channel.next_seq,
                                      ack=self.channel.expected)))
        self.channel.open(self._send, frame.ack)
        self._arm()

    def receive(self, frame: Frame, path: Hashable) -> None:
        """A frame other than ATTACH from the hub, which L{CspGateway} found attached over C{path}."""
        gateway = self.gateway
        self._arm()
        channel = self.channel
        ftype = frame.type
        if ftype is FrameType.DATA:
            if channel.on_data(frame):
                self._send(channel.ack_frame())
        elif ftype is FrameType.DATA_ACK:
            channel.on_ack(frame.ack)
        elif ftype is FrameType.KEEPALIVE:
            channel.on_ack(frame.ack)
            gateway.counts["keepalives_echoed"] += 1
            self._send(encode_frame(Frame(FrameType.KEEPALIVE, self.eui64, seq=channel.next_seq,
                                          ack=channel.expected)))
        elif ftype is FrameType.DETACH:
            gateway.counts["detaches"] += 1
            self.detach()
        else:
            gateway.counts["unexpected"] += 1

    def detach(self) -> None:
        """The hub is unreachable: keep everything stored until it attaches again."""
        self.state = "unreachable"
        self.channel.close()
        self.transmit = None
        self.gateway._unbind(self)
        self.path = None
        if self._silence is not None and self._silence.active():
            self._silence.cancel()
        self._silence = None

    def _arm(self) -> None:
        timeout = self.gateway.profile.keepalive_timeout
        if self._silence is not None and self._silence.active():
            self._silence.reset(timeout)
        else:
            self._silence = self.gateway.clock.callLater(timeout, self._silent)

    def _silent(self) -> None:
        self._silence = None
        self.gateway.counts["silence_timeouts"] += 1
        self.detach()

    def _link_dead(self) -> None:
        self.gateway.counts["links_dead"] += 1
        self.detach()

    def __repr__(self) -> str:
        return f"<HubSession {self.eui64:016X} {self.state}>"


class CspGateway:
    """One CSP's gateway on the DCC side (see the module docstring).

    @param clock: the injected C{IReactorTime}.
    @param profile: the CSP's L{LinkProfile}.
    @param deliver_up: C{deliver_up(eui64, message)} for each response or alert from a hub.
    @ivar sessions: L{HubSession} per hub EUI-64.
    @ivar counts: L{GATEWAY_COUNTERS}.
    """

    def __init__(self, clock: IReactorTime, profile: LinkProfile,
                 deliver_up: Callable[[int, bytes], None]) -> None:
        self.clock = clock
        self.profile = profile
        self.deliver_up = deliver_up
        self.sessions: dict[int, HubSession] = {}
        self._by_path: dict[Hashable, set[int]] = {}  # hubs attached over each connection / link
        self.counts: dict[str, int] = dict.fromkeys(GATEWAY_COUNTERS, 0)

    @property
    def name(self) -> str:
        return self.profile.name

    def session(self, eui64: int) -> HubSession:
        """The session of hub C{eui64} (created, unreachable, on first use)."""
        session = self.sessions.get(eui64)
        if session is None:
            session = self.sessions[eui64] = HubSession(self, eui64)
        return session

    def reachable(self, eui64: int) -> bool:
        session = self.sessions.get(eui64)
        return session is not None and session.state == "attached"

    def send_down(self, eui64: int, message: bytes) -> bool:
        """Route one GBCS command to hub C{eui64} (queued while it is unreachable).

        @return: C{False} when that hub's store is full (counted as C{store_overflow}).
        """
        return self.session(eui64).channel.offer(message)

    def frame_received(self, data: bytes, transmit: Transmit, path: Hashable,
                       bound_eui: int | None = None) -> None:
        """One frame (bytes) from a hub over C{path}; answers go to C{transmit}.

        @param bound_eui: when the path belongs to one known hub (an emulated link built from the
            topology), frames naming another EUI-64 are counted (C{wrong_eui}) and dropped.
        """
        try:
            frame = decode_frame(data)
        except CodecError:
            self.counts["malformed"] += 1
            return
        self.receive(frame, transmit, path, bound_eui)

    def receive(self, frame: Frame, transmit: Transmit, path: Hashable, bound_eui: int | None = None) -> None:
        """One decoded frame from a hub (see L{frame_received})."""
        self.counts["frames_received"] += 1
        if bound_eui is not None and frame.eui64 != bound_eui:
            self.counts["wrong_eui"] += 1
            return
        if frame.type is FrameType.ATTACH:
            self.session(frame.eui64).attach(frame, transmit, path)
            return
        session = self.sessions.get(frame.eui64)
        if session is None or session.state != "attached" or session.path != path:
            if frame.type is not FrameType.DETACH:
                self.counts["not_attached"] += 1
                self.counts["frames_sent"] += 1
                transmit(encode_frame(Frame(FrameType.DETACH, frame.eui64,
                                            payload=bytes([DetachReason.PROTOCOL_ERROR]))))
            return
        session.receive(frame, path)

    def connection_lost(self, path: Hashable) -> None:
        """The connection C{path} is gone: hubs attached over it become unreachable."""
        for eui64 in sorted(self._by_path.pop(path, ())):
            session = self.sessions[eui64]
            if session.path == path and session.state == "attached":
                self.counts["connections_lost"] += 1
                session.detach()

    def _unbind(self, session: HubSession) -> None:
        if session.path is None:
            return
        hubs = self._by_path.get(session.path)
        if hubs is not None:
            hubs.discard(session.eui64)
            if not hubs:
                del self._by_path[session.path]

    def stored(self) -> int:
        """Commands held for hubs (waiting or unacknowledged), all sessions."""
        return sum(s.channel.stored for s in self.sessions.values())
