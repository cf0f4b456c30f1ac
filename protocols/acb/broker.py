"""The Access Control Broker's state: admission, the critical flow and correlation.

DUIS 3.2-3.4 and GBCS 3 / wire-format notes 1.3, as a sans-IO object (inputs are method
calls, time comes from the injected clock, nothing here does I/O):

  - L{AccessControlBroker.submit}: the transform of a request the DCC's gateway already
    admitted (role eligibility and the increasing RequestID counter are checked once, there:
    L{protocols.duis.gateway}): a non-critical request yields the command to send; a critical
    one yields the pre-command and is held until the signed pre-command comes back;
  - L{AccessControlBroker.signed}: the signed pre-command for a held request: checked
    (same bytes, signature by the originator's DS key), MACed, sent;
  - L{AccessControlBroker.correlate}: a GBCS response is matched to its command by
    (grouping-header originator of the command, originator counter, device) - a response
    swaps originator and recipient and reuses the counter - and handed back with the business
    request it answers (user, RequestID counter); alerts are returned with their device;
  - L{AccessControlBroker.expire}: held pre-commands and commands without a response past
    their time limit come out as timeouts (nothing is dropped silently).

Every table is bounded; a full table refuses new work with a L{RequestError}.
"""

from __future__ import annotations

from dataclasses import dataclass

from protocols.errors import CodecError
from protocols.gbcs.framing import CRA_ALERT, CRA_RESPONSE, decode_frame

from .request import INVALID, RequestError, TransformRequest
from .transform import Clock, TransformResult, Transformer

__all__ = ["UNKNOWN_REQUEST", "BUSY", "Submitted", "SentCommand", "Correlated", "TimedOut",
           "AccessControlBroker"]

#: Failure kinds added by the broker.
UNKNOWN_REQUEST = "no-such-pending-request"
BUSY = "acb-busy"


@dataclass(frozen=True, slots=True)
class SentCommand:
    """A command on its way to a device.

    @ivar user: business originator (the service user); C{counter} its RequestID counter.
    @ivar target: the device; C{key} the GBCS (originator, counter, device) its response will
        carry (as recipient, counter and originator).
    """

    user: int
    counter: int
    target: int
    use_case: str
    message_code: int
    key: tuple[int, int, int]
    command: bytes
    sent_at: float
    deadline: float


@dataclass(frozen=True, slots=True)
class Submitted:
    """Result of admitting a request: C{command} to send, or C{precommand} for the user to sign."""

    result: TransformResult
    command: SentCommand | None
    precommand: bytes | None


@dataclass(frozen=True, slots=True)
class Correlated:
    """A device message matched (or not) to what the ACB sent.

    @ivar kind: C{"response"} (matched to C{sent}), C{"alert"}, or C{"unmatched"} (a response
        for no command in flight: late, duplicated or forged).
    """

    kind: str
    device: int
    message_code: int
    counter: int
    sent: SentCommand | None
    message: bytes
    #: the grouping-header recipient (the party an alert is for: a User, or the ACB itself)
    recipient: int = 0


@dataclass(frozen=True, slots=True)
class TimedOut:
    """Work that ran out of time: a pre-command never signed, or a command never answered."""

    kind: str            # "precommand" or "command"
    user: int
    counter: int
    use_case: str
    #: the command's key (L{SentCommand.key}), or the held request's (user, device, counter)
    key: tuple = ()


class AccessControlBroker:
    """ACB state for one DCC.

    @param transformer: builds and MACs the commands.
    @param clock: injected time.
    @param response_timeout: seconds a command waits for its response (the CSP target
        response time of the service: callers may pass their own per request).
    @param precommand_timeout: seconds a critical request waits for its signed pre-command.
    @param max_in_flight: bound of each table.
    """

    def __init__(self, transformer: Transformer, clock: Clock, *, response_timeout: float = 3600.0,
                 precommand_timeout: float = 24 * 3600.0, max_in_flight: int = 100_000) -> None:
        self.transformer = transformer
        self.clock = clock
        self.response_timeout = response_timeout
        self.precommand_timeout = precommand_timeout
        self.max_in_flight = max_in_flight
        #: (user, device, counter) -> (critical request, when its pre-command was issued)
        self._held: dict[tuple[int, int, int], tuple[TransformResult, float]] = {}
        #: (command originator, counter, device) -> the command in flight
        self._sent: dict[tuple[int, int, int], SentCommand] = {}
        #: counts by outcome (for metrics): admitted, precommand, sent, response, unmatched, timeout, refused
        self.counts: dict[str, int] = {}

    def _count(self, what: str) -> None:
        self.counts[what] = self.counts.get(what, 0) + 1

    # ------------------------------------------------------------------ admission

    def submit(self, request: TransformRequest, response_timeout: float | None = None) -> Submitted:
        """Transform one admitted service request.

        The caller (the DCC's gateway) has checked the User's role and that the RequestID
        counter increases; here the request becomes a command or a held pre-command.

        @raise RequestError: cannot transform, or busy.
        """
        try:
            if len(self._held) + len(self._sent) >= self.max_in_flight:
                raise RequestError(BUSY, "", f"{self.max_in_flight} requests already in flight")
            result = self.transformer.transform(request)
        except RequestError:
            self._count("refused")
            raise
        self._count("admitted")
        if result.critical:
            self._held[(request.originator, request.target, request.counter)] = (result, self.clock.seconds())
            self._count("precommand")
            return Submitted(result, None, result.precommand)
        sent = self._send(request.originator, request.counter, request.target, result, result.command,
                          response_timeout)
        return Submitted(result, sent, None)

    def signed(self, user: int, target: int, counter: int, signed_precommand: bytes,
               response_timeout: float | None = None) -> SentCommand:
        """The signed pre-command for the held critical request (C{user}, C{target}, C{counter}).

        @raise RequestError: no such held request, or the signed pre-command does not check.
        """
        held = self._held.get((user, target, counter))
        if held is None:
            raise RequestError(UNKNOWN_REQUEST, "Header.RequestID",
                               f"no pre-command issued for {user:016X} to {target:016X} counter {counter}")
        result, _ = held
        command = self.transformer.complete(result, signed_precommand)
        del self._held[(user, target, counter)]
        return self._send(user, counter, target, result, command, response_timeout)

    def _send(self, user: int, counter: int, target: int, result: TransformResult, command: bytes,
              timeout: float | None) -> SentCommand:
        now = self.clock.seconds()
        key = (*result.key, result.header.recipient)
        sent = SentCommand(user, counter, target, result.use_case, result.message_code, key, command, now,
                           now + (self.response_timeout if timeout is None else timeout))
        self._sent[key] = sent
        self._count("sent")
        return sent

    # ------------------------------------------------------------------ correlation

    def correlate(self, message: bytes) -> Correlated:
        """Match a GBCS response or alert from a device to what was sent.

        @raise RequestError: not a GBCS message (L{INVALID}).
        """
        try:
            gs = decode_frame(message).signing
        except CodecError as e:
            raise RequestError(INVALID, "DeviceMessage", f"not a GBCS message: {e}") from None
        if gs.cra_flag == CRA_ALERT:
            self._count("alert")
            return Correlated("alert", gs.originator, gs.message_code, gs.originator_counter, None, message,
                              gs.recipient)
        if gs.cra_flag != CRA_RESPONSE:
            raise RequestError(INVALID, "DeviceMessage", "a command is not a device message")
        key = (gs.recipient, gs.originator_counter, gs.originator)
        sent = self._sent.get(key)
        if sent is None or sent.message_code != gs.message_code:
            self._count("unmatched")
            return Correlated("unmatched", gs.originator, gs.message_code, gs.originator_counter, None, message,
                              gs.recipient)
        del self._sent[key]
        self._count("response")
        return Correlated("response", gs.originator, gs.message_code, gs.originator_counter, sent, message,
                          gs.recipient)

    # ------------------------------------------------------------------ time

    def expire(self) -> list[TimedOut]:
        """Remove and return everything past its time limit."""
        now = self.clock.seconds()
        out: list[TimedOut] = []
        for key, (result, since) in list(self._held.items()):
            if now - since >= self.precommand_timeout:
                del self._held[key]
                out.append(TimedOut("precommand", key[0], key[2], result.use_case, key))
        for key, sent in list(self._sent.items()):
            if now >= sent.deadline:
                del self._sent[key]
                out.append(TimedOut("command", sent.user, sent.counter, sent.use_case, key))
        for _ in out:
            self._count("timeout")
        return out

    def cancel(self, key: tuple) -> SentCommand | None:
        """Forget a command in flight (its delivery was refused before it left)."""
        return self._sent.pop(key, None)

    def release(self, user: int, target: int, counter: int) -> TransformResult | None:
        """Forget a held critical request (its pre-command will not be used)."""
        h = self._held.pop((user, target, counter), None)
        return h[0] if h else None

    @property
    def in_flight(self) -> int:
        """Held pre-commands plus commands awaiting a response."""
        return len(self._held) + len(self._sent)

    def held(self, user: int, target: int, counter: int) -> TransformResult | None:
        """The held critical request (its pre-command), if any."""
        h = self._held.get((user, target, counter))
        return h[0] if h else None
