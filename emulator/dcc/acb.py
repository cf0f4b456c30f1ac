"""The DCC host's Access Control Broker: DUIS device requests to GBCS commands and back.

The adapter between the DUIS side (L{emulator.dcc.host.DccHost}, which has already checked the
request: schema, User, XML signature, role, increasing RequestID counter, inventory) and the
sans-IO ACB of L{protocols.acb}:

  - L{AcbBroker.transform} (serviceT, critical requests): the pre-command the User signs;
  - L{AcbBroker.send} (serviceS): the command of a non-critical request, or the signed
    pre-command of a critical one (checked and MACed by L{protocols.acb.AccessControlBroker.signed}),
    goes into the L{protocols.acb.DeliveryQueue} of the target's CSP, which hands it to the
    WAN (C{wan(device, command)}: towards the Communications Hub of the device's home) and
    times it out at the target response time;
  - L{AcbBroker.from_wan}: every GBCS message a hub sends up is correlated
    (L{protocols.acb.AccessControlBroker.correlate}); a response ends its command and becomes
    the DUIS response (I0, GBCS payload in base64); a device alert goes to the DCC Users
    entitled to it (L{alert_recipients}).

Refusals of the ACB (L{protocols.acb.RequestError}) become L{DuisError}s with the DUIS code of
their kind (L{duis_code}).  Nothing here does I/O; time is the injected clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from twisted.logger import Logger

from emulator.dcc.inventory import Inventory, InventoryDevice
from protocols.acb import (BAD_SIGNATURE, INVALID, MISMATCH, NOT_ELIGIBLE, UNSUPPORTED, AccessControlBroker,
                           DeliveryQueue, Outcome, RequestError, TransformRequest, Transformer)
from protocols.acb.broker import BUSY, UNKNOWN_REQUEST
from protocols.acb.delivery import TIMED_OUT
from protocols.duis import codes
from protocols.duis.codes import ResponseCode
from protocols.duis.errors import DuisError
from protocols.duis.request import format_eui
from protocols.gbcs.framing import decode_frame

__all__ = ["AcbBroker", "DEVICE_LOG_BACKUP_ALERT_CODES", "duis_code", "alert_recipients", "alert_owners", "alert_facts", "AlertFacts",
           "ResponseTimes", "FUTURE_DATED_ALERT_CODES"]

log = Logger(namespace="smets.dcc.acb")

#: RequestError kind -> DUIS response code
_CODES: dict[str, ResponseCode] = {
    INVALID: codes.INVALID_DATA,
    NOT_ELIGIBLE: codes.USER_ROLE,
    UNSUPPORTED: codes.NOT_SUPPORTED,
    BAD_SIGNATURE: codes.PRECOMMAND,
    MISMATCH: codes.PRECOMMAND,
    UNKNOWN_REQUEST: codes.PRECOMMAND,
    BUSY: codes.BUSY,
}


def duis_code(error: RequestError) -> ResponseCode:
    """The DUIS response code of an ACB refusal (a signed pre-command's faults are all E14)."""
    if error.element.startswith("Body.SignedPreCommand"):
        return codes.PRECOMMAND
    return _CODES.get(error.code, codes.INVALID_DATA)


def _duis_error(error: RequestError) -> DuisError:
    return DuisError(duis_code(error), error.element or "Body", error.reason)


@dataclass(frozen=True, slots=True)
class ResponseTimes:
    """Target response times (seconds) of device requests, from admission to the response.

    On-demand requests: C{non_critical} and C{critical}; a sleepy device (the GSME, reached
    through the CHF's queue when it next wakes) gets C{sleepy} instead.
    """

    non_critical: float = 30.0
    critical: float = 60.0
    sleepy: float = 3600.0

    def of(self, device: InventoryDevice, critical: bool) -> float:
        if device.device_type == "GSME":
            return self.sleepy
        return self.critical if critical else self.non_critical


#: DUIS roles of the two kinds of party a device alert is for
SUPPLIER_ROLES = ("IS", "GS", "ES")
NETWORK_OPERATOR_ROLES = ("ED", "GT")
_OWNER_ROLES = {"supplier": SUPPLIER_ROLES, "network_operator": NETWORK_OPERATOR_ROLES}

#: words of the GBCS alert-code names (Appendix B, C{alert_codes.tsv}) that make an alert the
#: network operator's: power quality (voltage, power factor) ...
_NETWORK_WORDS = ("voltage", "power factor")
#: ... or both parties': loss of supply
_BOTH_WORDS = ("supply outage", "supply interrupted", "power supply loss")


def alert_owners(alert_code: int | None) -> tuple[str, ...]:
    """The parties (C{supplier}, C{network_operator}) an alert code is for.

    Ours, from the alert names of GBCS Appendix B (the spec here has no recipient column):
    power-quality alerts are the network operator's, loss of supply both parties', every other
    alert (and one whose code is unknown) the supplier's.
    """
    from protocols.gbcs.catalogue import alert_name
    name = (alert_name(alert_code) or "").lower() if alert_code is not None else ""
    if any(w in name for w in _BOTH_WORDS):
        return ("supplier", "network_operator")
    if any(w in name for w in _NETWORK_WORDS):
        return ("network_operator",)
    return ("supplier",)


#: GBCS alert codes of the device log back-ups a device sends to the ACB for the DCC's own use:
#: CS14 "CHF Device Log Changed" (8F12) and GCS62 "GPF Device Log Changed" (8071).  The DCC keeps
#: the latest of each device (the copy CCS03 / GCS59 restore from); they are no DCC User's alert
DEVICE_LOG_BACKUP_ALERT_CODES = frozenset({0x8F12, 0x8071})

#: GBCS alert codes of a device-dated command's execution (GBCS 4.1.4: "Future-date HAN
#: Interface Command Successfully Actioned" / "... not Successfully Actioned")
FUTURE_DATED_ALERT_CODES = frozenset({0x8F66, 0x8F67})


@dataclass(frozen=True, slots=True)
class AlertFacts:
    """What the DCC reads in a device alert's payload.

    @ivar alert_code: the GBCS alert code (None if the payload does not decode).
    @ivar command: for a future-dated execution alert that names its command (DLMS 0x00CC,
        GBZ 0x00CD: GBCS 4.1.4), the command's (message code, originator counter), else None.
    @ivar on_behalf_of: the supplementary remote party the alert's other-information names (the
        User a command the ACB sent was for), else None.
    """

    alert_code: int | None
    command: tuple[int, int] | None = None
    on_behalf_of: int | None = None

    @property
    def future_dated(self) -> bool:
        return self.alert_code in FUTURE_DATED_ALERT_CODES


def alert_facts(message: bytes) -> AlertFacts:
    """Read the alert code (a future-dated alert's command, the party it is for) from a GBCS alert."""
    from protocols.errors import CodecError
    from protocols.gbcs.payloads import decode_payload
    try:
        gs = decode_frame(message).signing
        tree = decode_payload(gs.message_code, gs.cra_flag, gs.content)
    except (CodecError, ValueError, KeyError, IndexError, TypeError):
        return AlertFacts(None)
    on_behalf_of = gs.other_information.supplementary_remote_party_id
    if not isinstance(tree, dict):
        return AlertFacts(None, None, on_behalf_of)
    code = None
    reference = None
    alert = tree.get("alert") if isinstance(tree.get("alert"), dict) else {}
    value = tree.get("value") if isinstance(tree.get("value"), dict) else {}
    for candidate in (tree.get("alert_code"), alert.get("alert_code"), value.get("alertCode")):
        if isinstance(candidate, int):
            code = candidate
            break
    for ref in (alert.get("future_dated"), tree.get("future_dated_alert")):
        if isinstance(ref, dict) and isinstance(ref.get("message_code"), int) \
                and isinstance(ref.get("originator_counter"), int):
            reference = (ref["message_code"], ref["originator_counter"])
            break
    return AlertFacts(code, reference, on_behalf_of)


def alert_code_of(message: bytes) -> int | None:
    """The alert code in a GBCS alert's payload (DLMS notification, GBZ or ASN.1), or None."""
    return alert_facts(message).alert_code


def alert_recipients(inventory: Inventory, device_id: int, recipient: int,
                     alert_code: int | None = None, on_behalf_of: int | None = None) -> list[tuple[int, str]]:
    """The DCC Users an alert from C{device_id} goes to, each with the party it is for
    (C{supplier} or C{network_operator}).

    Only Users registered for the device are entitled (an alert is never handed to a User
    that is no longer the device's supplier or network operator, whatever EUI the device put
    in the grouping header):

      - the grouping-header recipient, when it is a DCC User registered for the device;
      - for an alert to the DCC that names a supplementary remote party (C{on_behalf_of}: the
        User a command the ACB sent was for, e.g. ECS100 "command not supported"), that User
        when it is registered for the device;
      - when the recipient is not such a User (an alert for the DCC itself, or for a party
        that is no longer registered), the parties that own the alert code
        (L{alert_owners}) as registered for the device now.
    """
    device = inventory.device(device_id)
    if device is None:
        return []
    registered = device.registered()
    for party in (recipient, on_behalf_of):
        for owner, roles in _OWNER_ROLES.items():
            if party is not None and any(registered.get(r) == party for r in roles) \
                    and inventory.user(party) is not None:
                return [(party, owner)]
    out: list[tuple[int, str]] = []
    for owner in alert_owners(alert_code):
        for role in _OWNER_ROLES[owner]:
            eui = registered.get(role)
            if eui is not None and inventory.user(eui) is not None and all(eui != u for u, _ in out):
                out.append((eui, owner))
    return out


class AcbBroker:
    """The DCC host's L{emulator.dcc.host.AccessControlBroker}, on L{protocols.acb}.

    @param inventory: the Smart Meter Inventory (device types, CSP regions, registrations).
    @param transformer: the ACB transform (DCC key store, clock, RNG).
    @param clock: C{IReactorTime} (the emulation's clock).
    @param wan: C{wan(device, command)} hands a command to the WAN towards the device's hub;
        raising means the transport refused it (retried with backoff).
    @param response_times: target response times.
    """

    def __init__(self, inventory: Inventory, transformer: Transformer, clock, *,
                 wan: Callable[[InventoryDevice, bytes], None] | None = None,
                 response_times: ResponseTimes | None = None, max_in_flight: int = 100_000,
                 precommand_timeout: float = 24 * 3600.0, metrics=None) -> None:
        self.inventory = inventory
        self.clock = clock
        self.wan = wan
        self.times = response_times or ResponseTimes()
        self.acb = AccessControlBroker(transformer, clock, max_in_flight=max_in_flight,
                                       precommand_timeout=precommand_timeout)
        #: L{emulator.metrics.Metrics} (optional): queue depths per CSP, alerts
        self.metrics = metrics
        self.delivery = DeliveryQueue(clock, self._transmit, self._outcome, max_commands=max_in_flight,
                                      on_depth=self._depth if metrics is not None else None)
        #: SentCommand key -> (the DUIS reply of its request, the target device)
        self._replies: dict[tuple, tuple[Callable, InventoryDevice]] = {}
        #: the host, for device alerts (set by L{attach})
        self.host = None
        #: counts: responses, alerts, unmatched, malformed, timeouts, refused sends
        self.counts: dict[str, int] = {}
        #: device id -> the latest device log back-up (CS14 / GCS62 alert) it sent the ACB
        self.device_log_backups: dict[int, bytes] = {}

    def attach(self, host) -> None:
        """The DCC host device alerts are handed to (C{host.device_alert(user, device, gbcs, counter)})."""
        self.host = host

    def link(self, csp: str, up: bool) -> None:
        """A CSP's WAN went up or down (commands for it wait in its queue while it is down)."""
        self.delivery.link(csp, up)

    def _count(self, what: str) -> None:
        self.counts[what] = self.counts.get(what, 0) + 1

    def _depth(self, csp: str, commands: int) -> None:
        self.metrics.dcc_queue_depth.labels(csp).set(commands)

    # ------------------------------------------------------------------ the host's boundary

    def _request(self, dreq, counter: int | None = None) -> TransformRequest:
        req = dreq.request
        d = req.definition
        rid = req.request_id
        variant = 4 if d.critical else 1
        return TransformRequest(d.variant, req.body, rid.originator, rid.target,
                                rid.counter if counter is None else counter, dreq.device.device_type, variant,
                                device_options={"device_types": _InventoryTypes(self.inventory)})

    def transform(self, dreq) -> bytes:
        """The pre-command of a critical request (held by the ACB until it comes back signed)."""
        try:
            sub = self.acb.submit(self._request(dreq))
        except RequestError as e:
            raise _duis_error(e) from None
        if sub.precommand is None:
            # the GBCS use case is non-critical although DUIS lists the variant as critical:
            # nothing to sign, and nothing was sent
            self.acb.cancel(sub.command.key)
            raise DuisError(codes.COMMAND_VARIANT, "Header.ServiceReferenceVariant",
                            f"{sub.result.use_case} is a non-critical GBCS command: send it to serviceS")
        self.clock.callLater(self.acb.precommand_timeout, self._expire)
        return sub.precommand

    def send(self, dreq, reply, signed_precommand: bytes | None = None, counter: int | None = None) -> None:
        """Take a device request for delivery; C{reply(code, gbcs)} gets its DUIS response.

        C{counter}: the GBCS originator counter to use instead of the RequestID's (a request the
        DCC sends later than it was accepted: DSP future-dated or scheduled)."""
        rid = dreq.request.request_id
        critical = signed_precommand is not None
        timeout = self.times.of(dreq.device, critical)
        try:
            if critical:
                sent = self.acb.signed(rid.originator, rid.target, rid.counter, signed_precommand, timeout)
            else:
                sub = self.acb.submit(self._request(dreq, counter), timeout)
                if sub.command is None:
                    self.acb.release(rid.originator, rid.target, rid.counter)
                    raise DuisError(codes.COMMAND_VARIANT, "interface",
                                    f"{sub.result.use_case} is a critical GBCS command: send it to serviceT")
                sent = sub.command
        except RequestError as e:
            raise _duis_error(e) from None
        self._replies[sent.key] = (reply, dreq.device)
        if not self.delivery.enqueue(sent.key, dreq.device.csp_region, sent.command, sent.deadline):
            del self._replies[sent.key]
            self.acb.cancel(sent.key)
            raise DuisError(codes.BUSY, "Header.RequestID", "the DCC's delivery queue is full")

    def forget(self, dreq) -> None:
        """Drop what the ACB holds for a device request that will not be carried out (the
        pre-command of a critical request rejected from quarantine)."""
        rid = dreq.request.request_id
        self.acb.release(rid.originator, rid.target, rid.counter)

    # ------------------------------------------------------------------ the WAN

    def _transmit(self, csp: str, command: bytes) -> None:
        if self.wan is None:
            raise ConnectionError("no WAN")
        recipient = _recipient(command)
        device = self.inventory.device(recipient)
        if device is None:
            raise LookupError(f"no device {format_eui(recipient)} in the inventory")
        self.wan(device, command)

    def from_wan(self, message: bytes) -> str:
        """A GBCS message from a hub: correlate it and deliver it; returns what it was
        (C{response}, C{alert}, C{unmatched} or C{malformed})."""
        try:
            c = self.acb.correlate(message)
        except RequestError as e:
            self._count("malformed")
            log.warn("acb: dropped a message from the WAN: {reason}", reason=e.reason)
            return "malformed"
        if c.kind == "response":
            self.delivery.response(c.sent.key)
            entry = self._replies.pop(c.sent.key, None)
            self._count("response")
            if entry is not None:
                entry[0](codes.SUCCESS, message)
        elif c.kind == "alert":
            self._count("alert")
            facts = alert_facts(message)
            code = facts.alert_code
            if code in DEVICE_LOG_BACKUP_ALERT_CODES and c.recipient == self.inventory.dcc_id:
                self.device_log_backups[c.device] = message     # the DCC's copy, for a restore
                self._count("device_log_backup")
                return "alert"
            users = alert_recipients(self.inventory, c.device, c.recipient, code, on_behalf_of=facts.on_behalf_of)
            if not users:
                self._count("unrouted")
                if self.metrics is not None:
                    for owner in alert_owners(code):
                        self.metrics.dcc_alerts.labels(owner, "unrouted").inc()
                log.warn("acb: alert (message 0x{code:04X}) from {device} has no entitled DCC User to go to",
                         code=c.message_code, device=format_eui(c.device))
            for user, owner in users:
                if self.metrics is not None:
                    self.metrics.dcc_alerts.labels(owner, "delivered").inc()
                if self.host is not None:
                    if facts.future_dated:
                        self.host.device_alert(user, c.device, message, c.counter, future_dated=True,
                                               command=facts.command)
                    else:
                        self.host.device_alert(user, c.device, message, c.counter)
        else:
            self._count("unmatched")
            log.info("acb: response 0x{code:04X} from {device} counter {counter} matches no command in flight",
                     code=c.message_code, device=format_eui(c.device), counter=c.counter)
        return c.kind

    # ------------------------------------------------------------------ time

    def _outcome(self, outcome: Outcome) -> None:
        if outcome.result == TIMED_OUT:
            self._count("timeout")
            self._expire()

    def _expire(self) -> None:
        for t in self.acb.expire():
            entry = self._replies.pop(t.key, None) if t.kind == "command" else None
            if entry is not None:
                entry[0](codes.TIMED_OUT, None)


def _recipient(command: bytes) -> int:
    """The grouping-header recipient of a command the ACB made."""
    return decode_frame(command).signing.recipient


class _InventoryTypes:
    """The inventory's device types by EUI-64, as the transform asks for them (C{.get(eui)}:
    the device a CCS01 adds to a CHF's log), read on demand rather than copied per request."""

    __slots__ = ("inventory",)

    def __init__(self, inventory: Inventory) -> None:
        self.inventory = inventory

    def get(self, eui64: int, default=None):
        device = self.inventory.device(eui64)
        return default if device is None else device.device_type
