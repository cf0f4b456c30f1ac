"""A GBCS device's application endpoint: receive a command, check it, act, answer.

One L{GbcsDevice} is the remote-party-message side of a meter or hub, independent of how
messages reach it (DESIGN.md: device behaviour does not depend on the HAN's level of detail):

    device = Esme(eui, crypto, clock, send)
    device.receive(command_bytes)      # -> send(response_bytes), send(alert_bytes) ...

The base class does what every device type shares: the security checks
(L{emulator.devices.gbcs.security}), the response framing (GBCS section 1.3: same counter
and message code, originator and recipient swapped, the first 18 bytes of other-information
copied, the grouping-header date-time for the use cases that carry one), the protection of
what the device sends (a signed DF response to a signed command, otherwise a DD-wrapped
response MACed with the device's and the recipient's key-agreement keys; critical alerts
signed, non-critical alerts MACed), and the device's own alert counter.  Subclasses execute
payloads: L{execute} returns the response payload tree (or C{None} when the device does not
implement the use case).
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from typing import Any, Callable

from twisted.logger import Logger

from protocols.errors import CodecError
from protocols.gbcs import catalogue
from protocols.gbcs import payloads as gbcs_payloads
from protocols.gbcs.crypto import GbcsCrypto
from protocols.gbcs.framing import (CRA_ALERT, CRA_RESPONSE, Frame, GeneralCiphering, GeneralSigning,
                                    OtherInformation)
from protocols.gbcs.message import protect

from emulator.devices.gbcs.asn1_usecases import (ASN1_PREPARERS, ASN1_USE_CASES, Asn1State, asn1_is_error,
                                                 asn1_outcome, credentials_outcome, execute_asn1, stage_asn1_error)
from emulator.devices.gbcs.security import (ROLE_ACB, ROLE_SUPPLIER, Rejection, SecurityState,
                                            check_command)

__all__ = ["GbcsDevice", "Ppmid", "Hcalcs", "DeviceCounters", "dlms_date_time", "RESPONSE_DATE_TIME_USE_CASES",
           "GENERIC_CRITICAL_ALERT", "GENERIC_NON_CRITICAL_ALERT", "UNSUPPORTED_COMMAND_ALERT",
           "ALERT_COMMAND_NOT_SUPPORTED"]

_log = Logger()

GENERIC_CRITICAL_ALERT = 0x1000
GENERIC_NON_CRITICAL_ALERT = 0x1001
#: ECS100 "Command not supported by Device" (GBCS 7.2.9.1): its message code and alert code
UNSUPPORTED_COMMAND_ALERT = 0x0120
ALERT_COMMAND_NOT_SUPPORTED = 0x8F85

#: Use cases whose responses carry the grouping-header date-time (GBCS use-case definitions,
#: restated in spec/gbcs-wire-format.md section 1.3); all other responses carry C{00}.
RESPONSE_DATE_TIME_USE_CASES = frozenset({
    "CS01a", "CS01b", "CS02b", "CS02g", "CS06", "ECS01a", "ECS01b", "ECS01c", "ECS01d", "ECS02",
    "ECS03", "ECS08", "ECS08a", "ECS17a", "ECS17b", "ECS17c", "ECS17d", "ECS17e", "ECS18a", "ECS18b",
    "ECS19", "ECS23", "ECS23b", "ECS28a", "ECS46c", "ECS46d", "GCS01a", "GCS01b", "GCS02", "GCS03",
    "GCS05", "GCS13a", "GCS13b", "GCS13c", "GCS14", "GCS60a"})



def dlms_date_time(unix_seconds: float) -> bytes:
    """The 12-byte DLMS date-time (UTC, deviation unspecified, status 0xFF as RTDS devices send)."""
    t = _dt.datetime.fromtimestamp(int(unix_seconds), _dt.timezone.utc)
    return (t.year.to_bytes(2, "big") + bytes((t.month, t.day, 0xFF, t.hour, t.minute, t.second, 0))
            + b"\x80\x00\xff")


@dataclass(slots=True)
class DeviceCounters:
    """What a device counted: commands accepted, rejected (by alert code), unsupported, sent."""

    accepted: int = 0
    rejected: dict[int, int] = field(default_factory=dict)
    unsupported: int = 0
    malformed_payload: int = 0
    execution_errors: int = 0
    responses: int = 0
    alerts: int = 0
    unsendable_alerts: int = 0


class GbcsDevice:
    """The GBCS application endpoint of one device (see the module docstring).

    @param eui: the device's entity identifier (EUI-64).
    @param crypto: key selection over a key store holding the device's keys and the public
        keys of its remote parties (the device's side of every ECDH and its DS key).
    @param clock: an C{IReactorTime} (C{seconds()} is Unix time).
    @param send: called with every message the device sends (responses and alerts).
    @param security: the installed remote parties and accepted counters.
    @param alert_counter: the first originator counter the device uses for its alerts.
    """

    device_type = ""
    #: message codes this device type executes (subclasses)
    supported_codes: frozenset[int] = frozenset()
    #: message codes of the alerts this device type can raise
    alert_codes: frozenset[int] = frozenset({GENERIC_CRITICAL_ALERT, GENERIC_NON_CRITICAL_ALERT, 0x00CB, 0x0124,
                                             0x00CA})   # 0x00CA future-dated firmware activation
    #: the device clock's error (s) against the HAN's time: what L{now} adds (a clock fault sets
    #: it; synchronising with the CH or GCS28 Set Clock corrects it, L{emulator.devices.gsme_clock})
    clock_offset: float = 0.0

    def __init__(self, eui: int, crypto: GbcsCrypto, clock: Any, send: Callable[[bytes], None], *,
                 security: SecurityState | None = None, alert_counter: int = 1) -> None:
        self.eui = eui
        self.crypto = crypto
        self.clock = clock
        self.send = send
        self.security = security if security is not None else SecurityState()
        self.asn1_state = Asn1State()
        #: message code -> originator of the last accepted command (who gets its later outcome)
        self._originators: dict[int, int] = {}
        self._current_originator: int | None = None
        self.alert_counter = alert_counter
        self.counters = DeviceCounters()
        #: message codes of use cases this device's product does not implement although its
        #: type may (GBCS optional functionality): commands for them are not supported
        self.unsupported_codes: set[int] = set()
        #: the reason of the last rejected command (for operators and tests)
        self.last_rejection: Rejection | None = None

    # ------------------------------------------------------------------ receiving

    def supports(self, message_code: int) -> bool:
        """True if this device executes the use case C{message_code}."""
        if message_code in ASN1_USE_CASES:
            return self.supports_asn1(message_code)
        return message_code in self.supported_codes

    def supports_asn1(self, message_code: int) -> bool:
        """The ASN.1 (security, joining, clock, firmware) use cases addressed to this device type."""
        uc = catalogue.use_case(message_code)
        if uc is None or self.device_type not in uc.target_device_types:
            return False
        if ASN1_USE_CASES[message_code] == "read_firmware":
            return self.device_type in ("PPMID", "HCALCS")
        return True

    def predicts_error(self, frame: Frame, payload: dict) -> bool:
        """True if this device, as it is, would answer the command with an error outcome."""
        if payload.get("kind") == "asn1":
            code = frame.signing.message_code
            if ASN1_USE_CASES.get(code) == "update_credentials" and isinstance(payload.get("value"), dict):
                # future dated or not, the outcome is the replacement the device would make
                return asn1_is_error({"executionOutcome": credentials_outcome(self, payload["value"])})
            return asn1_is_error(asn1_outcome(self, code, payload.get("value"), commit=False))
        return False

    def stage_error(self, frame: Frame, payload: dict) -> bool:
        """Put the device in a state where the command fails (an ERROR reference test whose
        command alone does not fail); False if this device knows no such state for it."""
        if payload.get("kind") == "asn1":
            return stage_asn1_error(self, frame.signing.message_code, payload.get("value"))
        return False

    def accepts(self, frame: Frame) -> bool:
        """True if this device models the form of this command (subclasses narrow it)."""
        return True

    def receive(self, message: bytes) -> None:
        """Take one remote-party command; send the response and any alerts."""
        from emulator.devices.gbcs.han_commands import han_partners   # HAN-only originators
        result = check_command(message, self.eui, self.security, self.crypto, lambda: han_partners(self))
        if isinstance(result, Rejection):
            self._reject(result)
            return
        frame = result
        gs = frame.signing
        if not self.supports(gs.message_code) or not self.accepts(frame) or gs.message_code in self.unsupported_codes:
            self.counters.unsupported += 1
            self._not_supported(frame)
            return
        try:
            tree = gbcs_payloads.decode_payload(gs.message_code, gs.cra_flag, gs.content,
                                                self.crypto.payload_crypto(gs))
        except CodecError as e:
            self.counters.malformed_payload += 1
            self._reject(Rejection(0x8F1E, f"payload: {e.field} at offset {e.offset}: {e.reason}", frame))
            return
        # authenticated, authorised and fresh: the counter moves even if execution fails
        self.security.counters[gs.originator] = gs.originator_counter
        self._originators[gs.message_code] = gs.originator
        self._current_originator = gs.originator
        self.counters.accepted += 1
        try:
            response = self.execute(frame, tree)
            message = None if response is None else self.build_response(frame, response)
        except Exception:   # a device bug must not take the node down: count it, keep running
            self.counters.execution_errors += 1
            _log.failure("GBCS device {eui:016X} failed executing use case 0x{code:04X}",
                         eui=self.eui, code=gs.message_code)
            return
        if message is not None:
            self.send(message)

    def _reject(self, rejection: Rejection, count: bool = True) -> None:
        self.last_rejection = rejection
        if count:
            self.counters.rejected[rejection.alert_code] = self.counters.rejected.get(rejection.alert_code, 0) + 1
        self.log_security_event(rejection.alert_code)
        self.raise_alert(rejection.alert_code, critical=True)

    def _not_supported(self, frame: Frame) -> None:
        """An authenticated command of a use case this device does not support.  A device with
        the ECS100 alert (GBCS 7.2.9.1) tells the command's originator: alert 0x8F85 (message
        code 0x0120, signed), data the command's message code and originator counter, the
        command's supplementary remote party (a command the ACB sent for a user) in the
        other-information; other devices answer with alert 0x8F1E."""
        gs = frame.signing
        why = f"use case 0x{gs.message_code:04X} not supported by {self.device_type or 'this device'}"
        if UNSUPPORTED_COMMAND_ALERT not in self.alert_codes:
            self._reject(Rejection(0x8F1E, why, frame), count=False)
            return
        self.last_rejection = Rejection(ALERT_COMMAND_NOT_SUPPORTED, why, frame)
        from protocols.gbcs.payloads import dlms
        oi = gs.other_information
        body = dlms.structure(dlms.make_data("long-unsigned", ALERT_COMMAND_NOT_SUPPORTED),
                              dlms.octet_string(dlms_date_time(self.now())),
                              dlms.octet_string(gs.message_code.to_bytes(2, "big")
                                                + gs.originator_counter.to_bytes(8, "big")))
        self.raise_alert(ALERT_COMMAND_NOT_SUPPORTED, critical=True,
                         payload=dlms.data_notification(self.alert_counter, body),
                         message_code=UNSUPPORTED_COMMAND_ALERT, recipient=gs.originator,
                         other_information=OtherInformation(UNSUPPORTED_COMMAND_ALERT,
                                                            oi.supplementary_remote_party_id,
                                                            oi.supplementary_remote_party_counter))

    def log_security_event(self, event_code: int) -> None:
        """Record a security event in the device's security log (subclasses hold the log)."""

    def execute(self, frame: Frame, payload: dict) -> dict | None:
        """Act on an accepted command; return the response payload tree (subclasses)."""
        if payload.get("kind") == "asn1":
            return execute_asn1(self, frame.signing.message_code, payload)
        return None

    def last_command_originator(self, message_code: int) -> int:
        return self._originators.get(message_code, self.alert_recipient())

    def forget(self, frame: Frame, payload: dict) -> None:
        """Make the data a command reads absent (to stage "not found" reference tests)."""

    def stage_history(self, frame: Frame, payload: dict, reference: dict) -> None:
        """Hold the log entries a reference device published in C{reference}, its answer to
        this command (to stage reference tests that read a log: that history was its state)."""

    def prepare(self, frame: Frame, payload: dict) -> None:
        """Make the state a command presupposes hold (used to stage reference tests):
        a partner the command unjoins is joined."""
        if payload.get("kind") == "asn1" and ASN1_USE_CASES.get(frame.signing.message_code) == "unjoin" \
                and isinstance(payload.get("value"), str):
            self.asn1_state.partners.setdefault(payload["value"], -1)
        preparer = ASN1_PREPARERS.get(ASN1_USE_CASES.get(frame.signing.message_code)) \
            if payload.get("kind") == "asn1" else None
        if preparer is not None:
            preparer(self, payload.get("value"))

    # ------------------------------------------------------------------ sending

    def now(self) -> float:
        """The device clock: the HAN's time plus the clock's error."""
        return float(self.clock.seconds()) + self.clock_offset

    def build_response(self, command: Frame, payload: dict) -> bytes:
        """Frame, protect and encode the response to C{command} carrying C{payload}."""
        cmd = command.signing
        oi = cmd.other_information
        # the first 18 bytes of other-information: message code, SRP id, SRP counter; a command
        # that names the reader by its certificate (URP) gets the device's own counter for the
        # encryption of the answer (supplementary originator counter, section 1.5)
        sup = None
        if oi.supplementary_remote_party_ka_certificate is not None:
            sup = self.alert_counter
            self.alert_counter += 1
        roi = OtherInformation(oi.message_code, oi.supplementary_remote_party_id,
                               oi.supplementary_remote_party_counter, sup)
        uc = catalogue.use_case(cmd.message_code)
        date_time = dlms_date_time(self.now()) if uc is not None and uc.name in RESPONSE_DATE_TIME_USE_CASES \
            else None
        signed = bool(cmd.signature)
        # the header alone selects the key of the encrypted parts (section 2.3)
        header = GeneralSigning(CRA_RESPONSE, cmd.originator_counter, self.eui, cmd.originator, date_time, roi, b"")
        content = gbcs_payloads.encode_payload(payload, self.crypto.payload_crypto(header))
        gs = GeneralSigning(CRA_RESPONSE, cmd.originator_counter, self.eui, cmd.originator, date_time, roi,
                            content, b"")
        self.counters.responses += 1
        if signed:
            return protect(gs, self.crypto, None, sign=True)
        return protect(gs, self.crypto, GeneralCiphering(b""))

    def alert_recipient(self) -> int:
        """Who device alerts go to: the installed supplier, else the ACB."""
        for role in (ROLE_SUPPLIER, ROLE_ACB):
            for party in self.security.remote_parties.values():
                if party.role == role:
                    return party.eui
        return self.crypto.acb_eui

    def alert_payload(self, alert_code: int, counter: int) -> dict:
        """The payload of a generic alert (DLMS Data-Notification here; GBZ devices override)."""
        from protocols.gbcs.payloads import dlms
        body = dlms.structure(dlms.make_data("long-unsigned", alert_code),
                              dlms.octet_string(dlms_date_time(self.now())))
        return dlms.data_notification(counter, body)

    def raise_alert(self, alert_code: int, *, critical: bool, payload: dict | None = None,
                    message_code: int | None = None, recipient: int | None = None,
                    other_information: OtherInformation | None = None) -> None:
        """Send an alert with the device's next alert counter (signed if critical, else MACed);
        C{other_information} (the message code and a supplementary remote party) replaces the
        message code alone."""
        counter = self.alert_counter
        self.alert_counter += 1
        code = message_code if message_code is not None else (
            GENERIC_CRITICAL_ALERT if critical else GENERIC_NON_CRITICAL_ALERT)
        body = payload if payload is not None else self.alert_payload(alert_code, counter)
        to = recipient if recipient is not None else self.alert_recipient()
        oi = other_information if other_information is not None else OtherInformation(code)
        header = GeneralSigning(CRA_ALERT, counter, self.eui, to, None, oi, b"", b"")
        content = gbcs_payloads.encode_payload(body, self.crypto.payload_crypto(header))
        gs = GeneralSigning(CRA_ALERT, counter, self.eui, to, None, oi, content, b"")
        try:
            message = protect(gs, self.crypto, None, sign=True) if critical \
                else protect(gs, self.crypto, GeneralCiphering(b""))
        except CodecError:      # no key to sign or MAC with: counted, the device keeps running
            self.counters.unsendable_alerts += 1
            return
        self.counters.alerts += 1
        self.send(message)


class Ppmid(GbcsDevice):
    """The prepayment meter interface device's remote-party logic (joining, firmware version)."""

    device_type = "PPMID"
    alert_codes = GbcsDevice.alert_codes | {0x012B}      # CS09 firmware activation (firmware.activate_held)

    def receive(self, message: bytes) -> None:
        """A response to a HAN-only command the PPMID sent (PCS01/PCS02) is read by
        L{emulator.devices.gbcs.han_commands.take_response}; anything else is a command."""
        from emulator.devices.gbcs.han_commands import take_response
        if not take_response(self, message):
            super().receive(message)


class Hcalcs(GbcsDevice):
    """The HAN-connected auxiliary load control switch's remote-party logic."""

    device_type = "HCALCS"
