"""Sans-IO CBKE initiator and responder (ZSE 1.4 Annex C.3.1 / C.4.2, crypto suite 2).

The exchange (U = initiator = Key Establishment client, V = responder = server)::

    U                                             V
    InitiateKeyEstablishmentRequest(cert U)  -->
                                             <--  InitiateKeyEstablishmentResponse(cert V)
    EphemeralDataRequest(QE,U)               -->
                                             <--  EphemeralDataResponse(QE,V)
    ConfirmKeyDataRequest(MACU)              -->
                                             <--  ConfirmKeyDataResponse(MACV)

Each side checks the peer's certificate (suite, issuer, fields; the peer's static key is
reconstructed with ECQV), derives the link key with ECMQV and the KDF, and checks the peer's
MAC.  A failed check sends TerminateKeyEstablishment with the status of ZSE Table C-9
(UNKNOWN_ISSUER, BAD_KEY_CONFIRM, BAD_MESSAGE, UNSUPPORTED_SUITE, INVALID_CERTIFICATE) and
ends the run; a received Terminate ends it too.  While waiting for the peer, each state holds
a timer: the peer's advertised EphemeralDataGenerateTime or ConfirmKeyGenerateTime (from its
Initiate message) plus a margin, or a fixed timeout for the first response.  No time is spent
computing in virtual time; a timer expiry ends the run without sending anything.

Structure (STYLE.md 1, 2): L{KeyEstablishment} is the narrow interface an adapter uses
(C{start}, C{receive(command_id, payload)}; outputs through C{send(command)} and
C{on_done(result)}).  It decodes payloads and turns them into checked events (a certificate
reconstructed, keys derived, a MAC matched, or a rejection with its status); the ordering,
the timers and the outputs are an C{automat} typed machine, one per role.  Nothing here
raises on bad input: malformed or out-of-order messages become a Terminate(BAD_MESSAGE),
and are counted in L{KeyEstablishment.counters}.  Randomness (ephemeral keys) comes from the
injected C{random.Random}; key material never appears in a repr.
"""

from __future__ import annotations

import enum
import hmac
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Optional, Protocol

from automat import TypeMachineBuilder
from twisted.internet.interfaces import IDelayedCall, IReactorTime

from protocols.errors import CodecError
from protocols.zcl.frame import FRAME_TYPE_CLUSTER, ZclFrame
from protocols.zigbee import ecc283
from protocols.zigbee.cbke.certificate import (
    CERTIFICATE_SIZE, CertificateError, ImplicitCertificate, TrustedCA, reconstruct_public_key)
from protocols.zigbee.cbke.ecmqv import SessionKeys, derive_session_keys
from protocols.zigbee.cbke.messages import (
    CLIENT_TO_SERVER, EPHEMERAL_DATA_SIZE, SERVER_TO_CLIENT, SUITE_2, Command,
    ConfirmKeyDataRequest, ConfirmKeyDataResponse, EphemeralDataRequest, EphemeralDataResponse,
    InitiateKeyEstablishmentRequest, InitiateKeyEstablishmentResponse,
    TerminateKeyEstablishment, TerminateStatus, decode_command)

__all__ = ["DeviceCredentials", "PeerIdentity", "Outcome", "KeyEstablishmentResult",
           "KeyEstablishment", "DEFAULT_EPHEMERAL_DATA_GENERATE_TIME",
           "DEFAULT_CONFIRM_KEY_GENERATE_TIME", "DEFAULT_RESPONSE_TIMEOUT",
           "DEFAULT_TIMEOUT_MARGIN", "DEFAULT_TERMINATE_WAIT_TIME"]

#: Advertised generate times (seconds, u8 on the air) and local timeouts.
DEFAULT_EPHEMERAL_DATA_GENERATE_TIME = 10
DEFAULT_CONFIRM_KEY_GENERATE_TIME = 10
#: How long the initiator waits for InitiateKeyEstablishmentResponse.
DEFAULT_RESPONSE_TIMEOUT = 10.0
#: Added to the peer's advertised generate time (message transit, APS retries).
DEFAULT_TIMEOUT_MARGIN = 5.0
#: The wait time (s) put in the Terminate messages we send.
DEFAULT_TERMINATE_WAIT_TIME = 10


@dataclass(frozen=True, slots=True)
class DeviceCredentials:
    """A device's CBKE material: its certificate, static private key and trusted CA."""

    certificate: ImplicitCertificate
    private_key: int
    ca: TrustedCA

    def __repr__(self) -> str:          # key material is never logged
        return (f"DeviceCredentials(subject={self.certificate.subject.hex()}, "
                f"issuer={self.ca.issuer.hex()})")


@dataclass(frozen=True, slots=True)
class PeerIdentity:
    """A peer's checked Initiate message: certificate, static key, advertised times."""

    certificate: ImplicitCertificate
    public_key: ecc283.Point
    ephemeral_data_generate_time: int
    confirm_key_generate_time: int


class Outcome(enum.Enum):
    ESTABLISHED = "established"
    #: we sent TerminateKeyEstablishment (status says why)
    TERMINATED_LOCALLY = "terminated-locally"
    #: the peer sent TerminateKeyEstablishment (status and wait_time are the peer's)
    TERMINATED_BY_PEER = "terminated-by-peer"
    #: the peer did not answer in time
    TIMEOUT = "timeout"


@dataclass(frozen=True, slots=True)
class KeyEstablishmentResult:
    """The end of one CBKE run, given to C{on_done}."""

    outcome: Outcome
    link_key: Optional[bytes] = field(default=None, repr=False)
    status: Optional[int] = None
    wait_time: int = 0
    partner: Optional[bytes] = None
    reason: str = ""

    @property
    def established(self) -> bool:
        return self.outcome is Outcome.ESTABLISHED


@dataclass(slots=True)
class _Waiting:
    """Per-state data of every waiting state: the timer, cancelled on exit."""

    timer: IDelayedCall

    def cancel(self) -> None:
        if self.timer.active():
            self.timer.cancel()


class _Inputs(Protocol):
    def start(self) -> None:
        "The initiator begins (sends InitiateKeyEstablishmentRequest)."

    def identity_received(self, peer: PeerIdentity) -> None:
        "A valid Initiate request/response arrived."

    def keys_derived(self, keys: SessionKeys) -> None:
        "Valid ephemeral data arrived and the keys were derived from it."

    def key_confirmed(self) -> None:
        "The peer's ConfirmKeyData MAC matched."

    def rejected(self, status: TerminateStatus, reason: str) -> None:
        "A received message failed a check: terminate with C{status}."

    def terminate_received(self, message: TerminateKeyEstablishment) -> None:
        "The peer sent TerminateKeyEstablishment."

    def timed_out(self) -> None:
        "The current state's timer expired."


@dataclass(slots=True)
class _Core:
    initiator: bool
    clock: IReactorTime
    rng: object = field(repr=False)
    credentials: DeviceCredentials
    send: Callable[[Command], object]
    on_done: Callable[[KeyEstablishmentResult], object]
    ephemeral_data_generate_time: int
    confirm_key_generate_time: int
    response_timeout: float
    timeout_margin: float
    terminate_wait_time: int
    peer: Optional[PeerIdentity] = None
    ephemeral_private: Optional[int] = field(default=None, repr=False)
    ephemeral_public: Optional[ecc283.Point] = None
    keys: Optional[SessionKeys] = None
    result: Optional[KeyEstablishmentResult] = None

    @property
    def direction(self) -> int:
        return CLIENT_TO_SERVER if self.initiator else SERVER_TO_CLIENT

    def make_ephemeral(self) -> None:
        if self.ephemeral_private is None:
            self.ephemeral_private = ecc283.private_key_from_rng(self.rng)
            self.ephemeral_public = ecc283.multiply_base(self.ephemeral_private)

    def initiate_fields(self) -> dict:
        return dict(key_establishment_suite=SUITE_2,
                    ephemeral_data_generate_time=self.ephemeral_data_generate_time,
                    confirm_key_generate_time=self.confirm_key_generate_time,
                    identity=self.credentials.certificate.to_bytes())

    def finish(self, result: KeyEstablishmentResult) -> None:
        self.result = result
        self.on_done(result)

    def terminate(self, status: TerminateStatus, reason: str) -> None:
        self.send(TerminateKeyEstablishment(int(status), self.terminate_wait_time, SUITE_2,
                                            self.direction))
        self.finish(KeyEstablishmentResult(
            Outcome.TERMINATED_LOCALLY, status=TerminateStatus(status),
            wait_time=self.terminate_wait_time, partner=self.partner, reason=reason))

    @property
    def partner(self) -> Optional[bytes]:
        return self.peer.certificate.subject if self.peer is not None else None


def _wait(seconds: Callable[..., float]):
    """Data factory of a waiting state: start its timer.

    The factory runs before the entering transition's behaviour, with the input's
    arguments: C{seconds(core, *args)} gives the timeout.
    """
    def factory(c: _Inputs, s: _Core, *args: object) -> _Waiting:
        return _Waiting(s.clock.callLater(seconds(s, *args), c.timed_out))
    return factory


def _response_timeout(s: _Core) -> float:
    return s.response_timeout


def _peer_ephemeral_time(s: _Core, peer: PeerIdentity) -> float:
    """Entered on identity_received: the peer's EphemeralDataGenerateTime + margin."""
    return peer.ephemeral_data_generate_time + s.timeout_margin


def _peer_confirm_time(s: _Core, keys: SessionKeys) -> float:
    """Entered on keys_derived: the peer's ConfirmKeyGenerateTime + margin."""
    return s.peer.confirm_key_generate_time + s.timeout_margin


# -- behaviours shared by both roles ----------------------------------------------------------

def _ignore(c: _Inputs, s: _Core, *args: object) -> None:
    """An input in a state where it means nothing (before start, after the end)."""


def _rejected(c: _Inputs, s: _Core, w: _Waiting, status: TerminateStatus, reason: str) -> None:
    w.cancel()
    s.terminate(status, reason)


def _rejected_idle(c: _Inputs, s: _Core, status: TerminateStatus, reason: str) -> None:
    s.terminate(status, reason)


def _unexpected(c: _Inputs, s: _Core, w: _Waiting, *args: object) -> None:
    w.cancel()
    s.terminate(TerminateStatus.BAD_MESSAGE, "message out of sequence")


def _peer_terminated(c: _Inputs, s: _Core, w: _Waiting,
                     message: TerminateKeyEstablishment) -> None:
    w.cancel()
    try:
        status: int = TerminateStatus(message.status_code)
    except ValueError:
        status = message.status_code
    s.finish(KeyEstablishmentResult(Outcome.TERMINATED_BY_PEER, status=status,
                                    wait_time=message.wait_time, partner=s.partner,
                                    reason="peer sent TerminateKeyEstablishment"))


def _timed_out(c: _Inputs, s: _Core, w: _Waiting) -> None:
    s.finish(KeyEstablishmentResult(Outcome.TIMEOUT, partner=s.partner,
                                    reason="no answer from the peer in time"))


def _established(s: _Core) -> None:
    s.finish(KeyEstablishmentResult(Outcome.ESTABLISHED, link_key=s.keys.link_key,
                                    partner=s.partner, reason="link key established"))


_MESSAGE_INPUTS = (_Inputs.identity_received, _Inputs.keys_derived, _Inputs.key_confirmed)


def _finish_machine(waiting, terminal, idle) -> None:
    """Register the transitions every role shares.

    C{waiting}: the waiting states (with a timer); C{terminal}: Established, Terminated;
    C{idle}: the initial state.  Expected message inputs must be registered before.
    """
    done = terminal[1]
    for state in waiting:
        state.upon(_Inputs.rejected).to(done)(_rejected)
        state.upon(_Inputs.terminate_received).to(done)(_peer_terminated)
        state.upon(_Inputs.timed_out).to(done)(_timed_out)
        state.upon(_Inputs.start, nodata=True).loop()(_ignore)
    for state in terminal:
        for inp in _MESSAGE_INPUTS + (_Inputs.start, _Inputs.rejected,
                                      _Inputs.terminate_received, _Inputs.timed_out):
            state.upon(inp).loop()(_ignore)
    idle.upon(_Inputs.terminate_received).loop()(_ignore)
    idle.upon(_Inputs.timed_out).loop()(_ignore)


def _register_unexpected(state, expected, terminated) -> None:
    """A message input other than C{expected} in a waiting state: Terminate(BAD_MESSAGE)."""
    for inp in _MESSAGE_INPUTS:
        if inp is not expected:
            state.upon(inp).to(terminated)(_unexpected)


def _make_initiator():
    machine = TypeMachineBuilder(_Inputs, _Core)
    idle = machine.state("Idle")
    established = machine.state("Established")
    terminated = machine.state("Terminated")
    wait_initiate = machine.state("WaitInitiateKeyEstablishmentResponse",
                                  _wait(_response_timeout))
    wait_ephemeral = machine.state("WaitEphemeralDataResponse",
                                   _wait(_peer_ephemeral_time))
    wait_confirm = machine.state("WaitConfirmKeyDataResponse",
                                 _wait(_peer_confirm_time))

    @idle.upon(_Inputs.start).to(wait_initiate)
    def send_initiate(c: _Inputs, s: _Core) -> None:
        s.send(InitiateKeyEstablishmentRequest(**s.initiate_fields()))

    @wait_initiate.upon(_Inputs.identity_received).to(wait_ephemeral)
    def send_ephemeral(c: _Inputs, s: _Core, w: _Waiting, peer: PeerIdentity) -> None:
        w.cancel()
        s.peer = peer
        s.make_ephemeral()
        s.send(EphemeralDataRequest(ecc283.encode_point(s.ephemeral_public)))

    @wait_ephemeral.upon(_Inputs.keys_derived).to(wait_confirm)
    def send_confirm(c: _Inputs, s: _Core, w: _Waiting, keys: SessionKeys) -> None:
        w.cancel()
        s.keys = keys
        s.send(ConfirmKeyDataRequest(keys.mac_u))

    @wait_confirm.upon(_Inputs.key_confirmed).to(established)
    def confirmed(c: _Inputs, s: _Core, w: _Waiting) -> None:
        w.cancel()
        _established(s)

    _register_unexpected(wait_initiate, _Inputs.identity_received, terminated)
    _register_unexpected(wait_ephemeral, _Inputs.keys_derived, terminated)
    _register_unexpected(wait_confirm, _Inputs.key_confirmed, terminated)
    # before start the initiator has no session: everything received is ignored
    for inp in _MESSAGE_INPUTS + (_Inputs.rejected,):
        idle.upon(inp).loop()(_ignore)
    _finish_machine((wait_initiate, wait_ephemeral, wait_confirm),
                    (established, terminated), idle)
    return machine.build()


def _make_responder():
    machine = TypeMachineBuilder(_Inputs, _Core)
    idle = machine.state("Idle")
    established = machine.state("Established")
    terminated = machine.state("Terminated")
    wait_ephemeral = machine.state("WaitEphemeralDataRequest",
                                   _wait(_peer_ephemeral_time))
    wait_confirm = machine.state("WaitConfirmKeyDataRequest",
                                 _wait(_peer_confirm_time))

    @idle.upon(_Inputs.identity_received).to(wait_ephemeral)
    def send_initiate_response(c: _Inputs, s: _Core, peer: PeerIdentity) -> None:
        s.peer = peer
        s.send(InitiateKeyEstablishmentResponse(**s.initiate_fields()))

    @wait_ephemeral.upon(_Inputs.keys_derived).to(wait_confirm)
    def send_ephemeral(c: _Inputs, s: _Core, w: _Waiting, keys: SessionKeys) -> None:
        w.cancel()
        s.keys = keys
        s.send(EphemeralDataResponse(ecc283.encode_point(s.ephemeral_public)))

    @wait_confirm.upon(_Inputs.key_confirmed).to(established)
    def send_confirm(c: _Inputs, s: _Core, w: _Waiting) -> None:
        w.cancel()
        s.send(ConfirmKeyDataResponse(s.keys.mac_v))
        _established(s)

    idle.upon(_Inputs.rejected).to(terminated)(_rejected_idle)
    # keys_derived / key_confirmed need a session, so they never reach Idle; start is
    # meaningless for a responder
    for inp in (_Inputs.keys_derived, _Inputs.key_confirmed, _Inputs.start):
        idle.upon(inp).loop()(_ignore)
    _register_unexpected(wait_ephemeral, _Inputs.keys_derived, terminated)
    _register_unexpected(wait_confirm, _Inputs.key_confirmed, terminated)
    _finish_machine((wait_ephemeral, wait_confirm), (established, terminated), idle)
    return machine.build()


_InitiatorMachine = _make_initiator()
_ResponderMachine = _make_responder()


class KeyEstablishment:
    """One CBKE run with one partner, as initiator (ZCL client) or responder (server).

    A run ends once (C{on_done}); to retry (after the peer's or our wait time) or to serve
    another partner, make a new instance.  A responder busy with one partner answers others
    with TerminateKeyEstablishment(NO_RESOURCES), which is the adapter's decision (it knows
    how many runs it can hold).

    @param initiator: true for the initiator (the joining device), false for the responder
        (the trust centre / CH).
    @param clock: an C{IReactorTime} for the per-state timers.
    @param rng: a C{random.Random} for the ephemeral key.
    @param credentials: this device's certificate, static private key and trusted CA.
    @param send: called with each command to send (a dataclass of
        L{protocols.zigbee.cbke.messages}; C{COMMAND_ID}, C{DIRECTION} and
        L{messages.encode} give the ZCL command id, direction and payload, and
        L{messages.zcl_frame} the whole ZCL frame).  Key Establishment goes with NWK
        security only, no APS encryption (ZSE C.3.1; han-zigbee-wireshark.md 3.5).
    @param on_done: called once with the L{KeyEstablishmentResult}.
    @param partner_eui64: the peer's EUI-64 (8 octets, MSB first) if known; a certificate
        for another subject is refused with INVALID_CERTIFICATE.
    """

    def __init__(self, *, initiator: bool, clock: IReactorTime, rng,
                 credentials: DeviceCredentials, send: Callable[[Command], object],
                 on_done: Callable[[KeyEstablishmentResult], object],
                 partner_eui64: Optional[bytes] = None,
                 ephemeral_data_generate_time: int = DEFAULT_EPHEMERAL_DATA_GENERATE_TIME,
                 confirm_key_generate_time: int = DEFAULT_CONFIRM_KEY_GENERATE_TIME,
                 response_timeout: float = DEFAULT_RESPONSE_TIMEOUT,
                 timeout_margin: float = DEFAULT_TIMEOUT_MARGIN,
                 terminate_wait_time: int = DEFAULT_TERMINATE_WAIT_TIME) -> None:
        for name, value in (("ephemeral_data_generate_time", ephemeral_data_generate_time),
                            ("confirm_key_generate_time", confirm_key_generate_time),
                            ("terminate_wait_time", terminate_wait_time)):
            if not 0 <= value <= 0xFF:
                raise ValueError(f"{name} must fit one octet, got {value}")
        self._core = _Core(initiator, clock, rng, credentials, send, on_done,
                           ephemeral_data_generate_time, confirm_key_generate_time,
                           response_timeout, timeout_margin, terminate_wait_time)
        self._machine = (_InitiatorMachine if initiator else _ResponderMachine)(self._core)
        self._partner = bytes(partner_eui64) if partner_eui64 is not None else None
        self._receive_direction = SERVER_TO_CLIENT if initiator else CLIENT_TO_SERVER
        #: counted events: "decode_error", "rejected", "ignored", "received"
        self.counters: Counter = Counter()

    @property
    def initiator(self) -> bool:
        return self._core.initiator

    @property
    def result(self) -> Optional[KeyEstablishmentResult]:
        """The result once the run ended, else C{None}."""
        return self._core.result

    def start(self) -> None:
        """Initiator: send InitiateKeyEstablishmentRequest (ignored by a responder)."""
        self._machine.start()

    def receive(self, command_id: int, payload: bytes) -> None:
        """Feed one received Key Establishment command (ZCL command id and payload)."""
        if self._core.result is not None:
            self.counters["ignored"] += 1
            return
        self.counters["received"] += 1
        try:
            message = decode_command(self._receive_direction, command_id, payload)
        except CodecError as exc:
            self.counters["decode_error"] += 1
            self._reject(TerminateStatus.BAD_MESSAGE, str(exc))
            return
        if isinstance(message, TerminateKeyEstablishment):
            self._machine.terminate_received(message)
        elif isinstance(message, (InitiateKeyEstablishmentRequest,
                                  InitiateKeyEstablishmentResponse)):
            self._identity(message)
        elif isinstance(message, (EphemeralDataRequest, EphemeralDataResponse)):
            self._ephemeral(message.ephemeral_data)
        else:
            self._confirm(message.secure_message_authentication_code)

    def receive_frame(self, frame: ZclFrame) -> None:
        """Feed a received ZCL frame of the Key Establishment cluster.

        Global (profile-wide) commands are not for this machine and are ignored; a
        cluster-specific frame sent in the wrong direction (a request to the initiator, a
        response to the responder) is a BAD_MESSAGE.
        """
        if frame.frame_type != FRAME_TYPE_CLUSTER or frame.manufacturer_code is not None:
            self.counters["ignored"] += 1
            return
        if frame.direction != self._receive_direction:
            if self._core.result is not None:
                self.counters["ignored"] += 1
                return
            self.counters["received"] += 1
            self._reject(TerminateStatus.BAD_MESSAGE,
                         f"command 0x{frame.command_id:02x} sent in the wrong direction")
            return
        self.receive(frame.command_id, frame.payload)

    def _reject(self, status: TerminateStatus, reason: str) -> None:
        self.counters["rejected"] += 1
        self._machine.rejected(status, reason)

    def _identity(self, message) -> None:
        if message.key_establishment_suite != SUITE_2:
            self._reject(TerminateStatus.UNSUPPORTED_SUITE,
                         f"suite 0x{message.key_establishment_suite:04x} is not suite 2")
            return
        if len(message.identity) != CERTIFICATE_SIZE:
            self._reject(TerminateStatus.BAD_MESSAGE,
                         f"identity is {len(message.identity)} octets, suite 2 needs "
                         f"{CERTIFICATE_SIZE}")
            return
        certificate = ImplicitCertificate.from_bytes(message.identity)
        if self._partner is not None and certificate.subject != self._partner:
            self._reject(TerminateStatus.INVALID_CERTIFICATE,
                         f"certificate subject {certificate.subject.hex()} is not the "
                         f"partner {self._partner.hex()}")
            return
        try:
            public_key = reconstruct_public_key(certificate, self._core.credentials.ca)
        except CertificateError as exc:
            self._reject(TerminateStatus(exc.status), exc.reason)
            return
        self._machine.identity_received(PeerIdentity(
            certificate, public_key, message.ephemeral_data_generate_time,
            message.confirm_key_generate_time))

    def _ephemeral(self, data: bytes) -> None:
        core = self._core
        if core.peer is None or core.keys is not None or (
                core.initiator and core.ephemeral_public is None):
            self._reject(TerminateStatus.BAD_MESSAGE, "ephemeral data out of sequence")
            return
        if len(data) != EPHEMERAL_DATA_SIZE:
            self._reject(TerminateStatus.BAD_MESSAGE,
                         f"ephemeral data is {len(data)} octets, suite 2 needs "
                         f"{EPHEMERAL_DATA_SIZE}")
            return
        try:
            peer_ephemeral = ecc283.decode_point(data, "ephemeral_data")
        except CodecError as exc:
            self._reject(TerminateStatus.BAD_MESSAGE, str(exc))
            return
        core.make_ephemeral()
        try:
            keys = derive_session_keys(
                initiator=core.initiator, static_private=core.credentials.private_key,
                ephemeral_private=core.ephemeral_private,
                ephemeral_public=core.ephemeral_public,
                peer_static_public=core.peer.public_key, peer_ephemeral_public=peer_ephemeral,
                local_id=core.credentials.certificate.subject,
                peer_id=core.peer.certificate.subject)
        except ValueError as exc:
            self._reject(TerminateStatus.BAD_MESSAGE, str(exc))
            return
        self._machine.keys_derived(keys)

    def _confirm(self, mac: bytes) -> None:
        keys = self._core.keys
        if keys is None:
            self._reject(TerminateStatus.BAD_MESSAGE, "key confirmation out of sequence")
            return
        expected = keys.mac_v if self._core.initiator else keys.mac_u
        if not hmac.compare_digest(mac, expected):
            self._reject(TerminateStatus.BAD_KEY_CONFIRM, "peer's MAC does not match")
            return
        self._machine.key_confirmed()
