"""The DCC transform: a DUIS service request becomes a GBCS command or pre-command.

GBCS sections 3-5 / wire-format notes 1-2 (framing, MAC, signatures), DUIS 3.2-3.4 (critical
and non-critical flows):

  - non-critical: grouping header (CRA command, originator counter = the DUIS RequestID
    counter, originator = the user, recipient = the device, no date-time, other-information
    = message code), the payload, a null signature, then the General-Ciphering wrapper with
    the MAC keyed by the ACB's and the device's KA keys (KDF X = 01);
  - critical: the same General-Signing APDU without a signature field is the pre-command the
    user signs (DUIS CommandVariant 4 -> 5); L{Transformer.complete} checks the signed
    pre-command (same bytes, ECDSA with the originator's DS key) and adds the MAC;
  - ACB-originated use cases (CHF device log, Sub-GHz, some reads; notes 1.5): the grouping
    header originator is the ACB with its own increasing counter; other-information carries
    the user and the user's counter (supplementary remote party).

Sans-IO: time comes from an injected clock (C{seconds()}), keys from a L{GbcsCrypto}.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import random
from dataclasses import dataclass
from typing import Callable, Protocol

from protocols.errors import CodecError
from protocols.gbcs import catalogue
from protocols.gbcs.crypto import GbcsCrypto, MAC_AAD_PREFIX, ecdsa_sign, ecdsa_verify, gcm_iv
from protocols.gbcs.framing import (CRA_COMMAND, GeneralCiphering, GeneralSigning, OtherInformation,
                                    decode_frame, encode_general_signing, signed_bytes, wrap_general_ciphering)
from protocols.gbcs.payloads import encode_payload

from .request import (BAD_SIGNATURE, INVALID, MISMATCH, UNSUPPORTED, Body, RequestError, TransformRequest)
from .usecases import BuildContext, resolve_use_case

__all__ = ["Clock", "TransformResult", "Transformer"]


class Clock(Protocol):
    """The part of C{IReactorTime} the transform uses."""

    def seconds(self) -> float: ...


@dataclass(frozen=True, slots=True)
class TransformResult:
    """What the transform made of one request.

    @ivar use_case: GBCS use-case name; C{message_code} its code.
    @ivar critical: True when the user must sign the pre-command first.
    @ivar header: the General-Signing APDU fields (content included; signature C{None} for a
        pre-command, C{b""} for a non-critical command).
    @ivar precommand: the DF pre-command bytes (critical), else C{None}.
    @ivar command: the DD-wrapped command with its MAC (non-critical), else C{None}.
    """

    use_case: str
    message_code: int
    critical: bool
    header: GeneralSigning
    precommand: bytes | None
    command: bytes | None

    @property
    def key(self) -> tuple[int, int]:
        """Correlation key of the command: (grouping-header originator, originator counter)."""
        return self.header.originator, self.header.originator_counter


class Transformer:
    """Builds GBCS commands from service requests (one per DCC; shares the key caches).

    @param crypto: key selection and caches over the DCC key store (the ACB's KA private
        key makes the MACs).
    @param clock: injected time (C{seconds()} since the Unix epoch).
    @param acb_counter: source of the ACB's originator counters (default: Unix milliseconds
        of C{clock}, kept strictly increasing).
    @param rng: randomness for values the DCC makes up (CINs); pass one derived from the run's
        seed (the default is seeded with 0, so runs stay reproducible).
    """

    def __init__(self, crypto: GbcsCrypto, clock: Clock,
                 acb_counter: Callable[[], int] | None = None, rng: random.Random | None = None) -> None:
        self.crypto = crypto
        self.clock = clock
        self.rng = rng if rng is not None else random.Random(0)
        self._acb_counter = 0
        self._acb_counter_source = acb_counter

    @property
    def acb_eui(self) -> int:
        return self.crypto.acb_eui

    def now(self) -> datetime.datetime:
        return datetime.datetime.fromtimestamp(self.clock.seconds(), datetime.timezone.utc)

    def next_acb_counter(self) -> int:
        """The ACB's own originator counter: Unix milliseconds, strictly increasing."""
        base = self._acb_counter_source() if self._acb_counter_source is not None \
            else int(self.clock.seconds() * 1000)
        c = max(self._acb_counter + 1, base)
        self._acb_counter = c
        return c

    def transform(self, request: TransformRequest) -> TransformResult:
        """Transform one request; L{RequestError} names the element or reason when it cannot."""
        if request.body is None or not isinstance(getattr(request.body, "tag", None), str):
            raise RequestError(INVALID, "Body", "no service request element")
        body = Body(request.body)
        spec = resolve_use_case(request, body)
        code = spec.message_code
        uc = catalogue.use_case(code)
        critical = is_critical(request.service_reference_variant, uc) and not spec.acb_signed
        urp = spec.unknown_remote_party and body.find("KAPublicSecurityCredentials")
        if spec.acb_own_account:
            originator, counter = self.acb_eui, self.next_acb_counter()
            oi = OtherInformation(code)
        elif spec.acb_originated or urp:
            originator, counter = self.acb_eui, self.next_acb_counter()
            cert = _certificate(urp) if urp else None
            oi = OtherInformation(code, request.originator, request.counter, None, cert)
        else:
            originator, counter = request.originator, request.counter
            oi = OtherInformation(code)
        ctx = BuildContext(request, body, counter, request.originator, self.now(), code, self.rng)
        tree = spec.build(ctx)
        try:
            content = tree if isinstance(tree, bytes) else encode_payload(tree)
        except CodecError as e:
            raise RequestError(INVALID, "Body", f"cannot encode the {spec.name} payload: {e}") from None
        gs = GeneralSigning(CRA_COMMAND, counter, originator, request.target, None, oi, content,
                            None if critical else b"")
        if spec.acb_signed:
            gs = self._acb_sign(gs)
        if critical:
            return TransformResult(spec.name, code, True, gs, encode_general_signing(gs), None)
        return TransformResult(spec.name, code, False, gs, None, self.add_mac(gs))

    def _acb_sign(self, gs: GeneralSigning) -> GeneralSigning:
        """The ACB's own signature (DS key) on a command it originates (L{UseCaseSpec.acb_signed})."""
        key = self.crypto.signing_key(gs)
        if key is None:
            raise RequestError(UNSUPPORTED, "Header.RequestID", f"no DS key of the ACB {gs.originator:016X} to sign with")
        return GeneralSigning(gs.cra_flag, gs.originator_counter, gs.originator, gs.recipient, gs.date_time,
                              gs.other_information, gs.content, ecdsa_sign(key, signed_bytes(gs)))

    def add_mac(self, gs: GeneralSigning) -> bytes:
        """Wrap a General-Signing APDU in General-Ciphering with the ACB's MAC (KDF X = 01)."""
        apdu = encode_general_signing(gs)
        lookup = self.crypto.mac_key(gs, catalogue.is_han_only(gs.message_code))
        if lookup.key is None:
            raise RequestError(UNSUPPORTED, "Header.RequestID",
                               f"no key to MAC a command to {gs.recipient:016X}: {lookup.reason}")
        mac = lookup.key.mac(gcm_iv(gs.originator), MAC_AAD_PREFIX + apdu)
        return wrap_general_ciphering(apdu, GeneralCiphering(mac))

    def complete(self, pending: TransformResult, signed_precommand: bytes) -> bytes:
        """Check a signed pre-command against the pre-command it answers; return the command.

        The signed bytes must be the pre-command plus C{40} and a 64-byte ECDSA signature
        that verifies with the grouping-header originator's DS certificate.
        """
        if pending.precommand is None:
            raise RequestError(INVALID, "Body.SignedPreCommand", "the request was not critical")
        try:
            frame = decode_frame(signed_precommand)
        except CodecError as e:
            raise RequestError(INVALID, "Body.SignedPreCommand", f"not a GBCS General-Signing APDU: {e}") from None
        gs = frame.signing
        if frame.ciphering is not None:
            raise RequestError(INVALID, "Body.SignedPreCommand", "must be a bare General-Signing APDU (DF)")
        if not gs.signature:
            raise RequestError(BAD_SIGNATURE, "Body.SignedPreCommand", "no signature")
        unsigned = GeneralSigning(gs.cra_flag, gs.originator_counter, gs.originator, gs.recipient,
                                  gs.date_time, gs.other_information, gs.content, None)
        if encode_general_signing(unsigned) != pending.precommand:
            raise RequestError(MISMATCH, "Body.SignedPreCommand", "differs from the pre-command the DCC issued")
        public = self.crypto.verification_key(gs)
        if public is None:
            raise RequestError(BAD_SIGNATURE, "Body.SignedPreCommand",
                               f"no DS certificate for {gs.originator:016X}")
        if not ecdsa_verify(public, signed_bytes(gs), gs.signature):
            raise RequestError(BAD_SIGNATURE, "Body.SignedPreCommand",
                               f"ECDSA signature does not verify with {gs.originator:016X}'s DS key")
        return self.add_mac(gs)


def _certificate(node: Body) -> bytes:
    """DER X.509 certificate from a DUIS base64 element."""
    try:
        der = base64.b64decode("".join(node.text.split()), validate=True)
    except (binascii.Error, ValueError):
        raise RequestError(INVALID, node.path, "not base64") from None
    if not der.startswith(b"\x30"):
        raise RequestError(INVALID, node.path, "not a DER certificate")
    return der


def is_critical(variant: str, uc) -> bool:
    """Critical per the GBCS message type, or the DUIS matrix for use cases that come in both forms."""
    if uc is not None and uc.criticality in ("critical", "non-critical"):
        return uc.criticality == "critical"
    from protocols.duis.matrix import load_matrix
    entry = load_matrix().get(variant)
    return bool(entry and entry.critical)
