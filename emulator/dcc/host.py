"""The DCC's service-user interface logic: DUIS in, acknowledgements and responses out.

Sans-IO apart from the injected clock: L{DccHost.handle} takes the interface a request came
in on (C{S} send, C{T} transform, C{D} non-device; DUIS / DCC Boxed C{/api/v1/service<X>})
and the request bytes, and returns the synchronous answer (HTTP status and DUIS XML).
Asynchronous responses are built on the clock's next turn, kept for polling
(L{DccHost.responses}) and handed to C{deliver(user, xml)} for the POST to the User's
response URL (the web adapter, L{emulator.dcc.web}, does the HTTP).

Order of checks: the gateway's (schema, User, signature, roles, counter:
L{protocols.duis.gateway}), the interface (E5), then for device requests the inventory
(device known E8, User registered for it E9, status E10), then the Access Control Broker.

The ACB boundary is L{AccessControlBroker}: C{send} (a non-critical request, or a critical
one with its signed pre-command, which the broker checks), C{transform} (the pre-command of a
critical request).  The broker answers each device request later through C{reply(code, gbcs)}.
The estate's broker is L{emulator.dcc.acb.AcbBroker} (the ACB of L{protocols.acb}, commands
over the WAN to the hubs); a host without one uses L{NoTransformBroker}, which refuses device
requests with E12, honestly, instead of inventing a device response.

Between acceptance and the broker, the ACB's operations (architecture 4.2.3.1):

  - anomaly detection (L{protocols.acb.anomaly}): a device request past its User's threshold
    for its service reference is quarantined: acknowledged with I98 and held until it is
    released (L{DccHost.release}: carried out as if just accepted) or rejected
    (L{DccHost.reject}, or nobody released it within the hold time: response E16); the
    operator's interface to the holding queue is L{emulator.dcc.web}'s C{/api/v1/quarantine}
    (like DCC's Self Service Interface, not a DUIS request);
  - DSP future-dated requests (matrix pattern C{DSP}, C{ExecutionDateTime} in the body) are
    held until their execution time on the clock, then sent;
  - DSP schedules (5.1 create, 5.2 read, 5.3 delete: L{emulator.dcc.schedules}) send their
    request at each execution time; each execution is a request of its own whose responses go
    to the User (RequestID User:device:counter, the counter the DCC's);
  - every accepted request ends once, in a L{RequestOutcome} (ok, failed, timed_out) handed to
    the listeners (L{DccHost.add_outcome_listener}) and counted in Prometheus.

A command the DCC sends later than its request was accepted (future-dated, scheduled) takes
the GBCS originator counter C{max(its own, the last used for the User and device + 1)}, or for a
scheduled one C{max(last + 1, the clock in milliseconds)} (DUIS counters are millisecond
times), and moves the gateway's record on: the device never sees a counter go backwards.
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from dataclasses import dataclass
from typing import Callable, Protocol

from lxml import etree
from twisted.logger import Logger

from emulator.dcc import schedules as dsp_schedules
from emulator.dcc.inventory import DeviceStatus, Inventory, InventoryDevice, ServiceUser
from emulator.dcc.services import NON_DEVICE_SERVICES
from protocols.acb.anomaly import AnomalyDetector, Held, Quarantine, QuarantineFull, Thresholds
from protocols.acb.request import RequestError
from protocols.acb.schedule import Schedules, ScheduleTableFull, device_execution_time, dsp_execution_time
from protocols.duis import codes, rbac, response, xmldsig
from protocols.duis.codes import ResponseCode
from protocols.duis.errors import DuisError
from protocols.duis.gateway import Gateway
from protocols.duis.matrix import load_matrix
from protocols.duis.request import MAX_REQUEST_BYTES, SR, RequestID, ServiceRequest, format_eui

__all__ = ["DccHost", "Answer", "DeviceRequest", "AccessControlBroker", "NoTransformBroker", "INTERFACES",
           "Reply", "RequestOutcome", "OK", "FAILED", "TIMED_OUT"]

log = Logger(namespace="smets.dcc")

#: interface letter -> what it is for
INTERFACES = {"S": "send", "T": "transform", "D": "non-device"}

#: device statuses a device request may address
_ADDRESSABLE = frozenset({DeviceStatus.COMMISSIONED, DeviceStatus.INSTALLED})

#: the broker's way back: (response code, GBCS response or alert payload)
Reply = Callable[[ResponseCode, "bytes | None"], None]

#: how an accepted request ended (L{RequestOutcome.outcome})
OK = "ok"
FAILED = "failed"
TIMED_OUT = "timed_out"


@dataclass(frozen=True, slots=True)
class RequestOutcome:
    """How one accepted request ended: its final DUIS response.

    @ivar outcome: L{OK} (I0), L{TIMED_OUT} (E15: no device response within the target
        response time) or L{FAILED} (any other code after acceptance: refused when it was
        released or executed, rejected from quarantine, ...).
    @ivar code: the DUIS response code.
    @ivar accepted_at: when the DCC acknowledged it; C{started_at}: when the DCC dispatched
        it (later for a future-dated or scheduled one); C{finished_at}: the final response.
    @ivar target: the response-time class (C{non_critical}, C{critical}, C{sleepy},
        C{non_device}).
    @ivar schedule_id: the DSP schedule an execution belongs to (None for a User's request).
    """

    request_id: str
    user: int
    service_reference: str
    variant: str
    outcome: str
    code: str
    accepted_at: float
    started_at: float
    finished_at: float
    target: str
    schedule_id: int | None = None


class _Open:
    """An accepted request without its final response yet."""

    __slots__ = ("user", "reference", "variant", "accepted_at", "started_at", "target", "schedule_id")

    def __init__(self, user: int, reference: str, variant: str, now: float, target: str,
                 schedule_id: int | None = None) -> None:
        self.user, self.reference, self.variant = user, reference, variant
        self.accepted_at = self.started_at = now
        self.target = target
        self.schedule_id = schedule_id


@dataclass(frozen=True, slots=True)
class Answer:
    """The synchronous HTTP answer."""

    status: int
    body: bytes
    code: str


@dataclass(frozen=True, slots=True)
class DeviceRequest:
    """A device request that passed every DCC check, as the ACB gets it."""

    request: ServiceRequest
    user: ServiceUser
    role: str  # the DUIS role the User acts in
    device: InventoryDevice


class AccessControlBroker(Protocol):
    """What the HTTP side needs from the ACB (transform, MAC, WAN, correlation)."""

    def send(self, request: DeviceRequest, reply: Reply, signed_precommand: bytes | None = None) -> None:
        """Take a device request for delivery (raise L{DuisError} to refuse it now); call
        C{reply} for each response later.  A critical request comes with its signed pre-command."""

    def transform(self, request: DeviceRequest) -> bytes:
        """The GBCS pre-command of a critical request (raise L{DuisError} if there is none)."""


class NoTransformBroker:
    """The broker of a DCC without a DUIS-to-GBCS transform: every device request gets E12."""

    def _refuse(self, request: DeviceRequest) -> DuisError:
        d = request.request.definition
        what = f"{d.variant} {d.name}" if d is not None else "this request"
        return DuisError(codes.NOT_SUPPORTED, "Header.ServiceReferenceVariant",
                         f"this DCC has no transform from DUIS to GBCS for {what}")

    def send(self, request: DeviceRequest, reply: Reply, signed_precommand: bytes | None = None) -> None:
        raise self._refuse(request)

    def transform(self, request: DeviceRequest) -> bytes:
        raise self._refuse(request)


class DccHost:
    """One DCC: gateway, inventory, non-device services, ACB, outbox."""

    def __init__(self, inventory: Inventory, clock, *, broker: AccessControlBroker | None = None,
                 signing_key=None, signing_certificate=None,
                 deliver: Callable[[ServiceUser, bytes], None] | None = None,
                 outbox_limit: int = 10_000, pending_limit: int = 10_000, retention: float = 3600.0,
                 metrics=None, thresholds: Thresholds | None = None, max_schedules: int = 100_000) -> None:
        self.inventory = inventory
        self.clock = clock
        self.broker: AccessControlBroker = broker or NoTransformBroker()
        self.gateway = Gateway(inventory.credentials)
        self.deliver = deliver
        self._signing = (signing_key, signing_certificate)
        #: RequestID text -> (time of the last change, responses so far), oldest first; bounded
        #: in number and kept C{retention} seconds after the last response (meter data is not
        #: stored by the DCC beyond its delivery: the poll window is all it keeps)
        self._outbox: OrderedDict[str, tuple[float, list[bytes]]] = OrderedDict()
        self._outbox_limit = outbox_limit
        self.retention = retention
        #: RequestID text -> (the pre-command issued, the device request it was made for)
        self._precommands: OrderedDict[str, tuple[bytes, DeviceRequest]] = OrderedDict()
        self._pending_limit = pending_limit
        #: device alerts per User, in arrival order (bounded; the count of dropped ones kept)
        self._alerts: dict[int, list[bytes]] = {}
        self._alerts_dropped: dict[int, int] = {}
        #: requests that failed on a fault of ours (answered E65; tracebacks in the log)
        self.errors = 0
        #: answers per response code (synchronous, asynchronous and alerts)
        self.counts: Counter[str] = Counter()
        #: L{emulator.metrics.Metrics} (optional): C{smets_duis_answers_total{interface, code}},
        #: C{smets_dcc_*} (outcomes, response times, holding, schedules)
        self.metrics = metrics
        #: anomaly detection and its holding queue
        self.thresholds = thresholds or Thresholds()
        self.anomaly = AnomalyDetector(self.thresholds)
        self.quarantine = Quarantine(self.thresholds.hold, self.thresholds.max_held)
        #: DSP future-dated requests: RequestID text -> (execution time, request, timer)
        self._future: OrderedDict[str, tuple[float, DeviceRequest, object]] = OrderedDict()
        #: DSP schedules and their timers
        self.schedules = Schedules(max_schedules)
        self._schedule_calls: dict[int, object] = {}
        #: device future-dated requests sent, awaiting their execution alert:
        #: (User, device, counter) -> RequestID text (bounded, oldest first)
        self._device_dated: OrderedDict[tuple[int, int, int], str] = OrderedDict()
        #: accepted requests without their final response (RequestID text -> L{_Open})
        self._open: dict[str, _Open] = {}
        self._outcome_listeners: list[Callable[[RequestOutcome], None]] = []

    # ------------------------------------------------------------------ the interface

    def handle(self, interface: str, data: bytes) -> Answer:
        """Process one request that came in on C{interface} (C{S}, C{T} or C{D})."""
        if interface not in INTERFACES:
            raise ValueError(f"unknown interface {interface!r}")
        answer = self._handle(interface, data)
        self._count(interface, answer.code)
        return answer

    def _count(self, interface: str, code: str) -> None:
        self.counts[code] += 1
        if self.metrics is not None:
            self.metrics.duis_answers.labels(interface, code).inc()

    def _handle(self, interface: str, data: bytes) -> Answer:
        request_id, reference, variant, version = "", None, None, "5.1"
        try:
            accepted = self.gateway.check(data)
            req = accepted.request
            request_id, reference, variant = str(req.request_id), req.service_reference, req.service_reference_variant
            version = req.schema_version
            user = self.inventory.user(req.request_id.originator)
            if req.kind == "SignedPreCommand":
                return self._signed_precommand(interface, req, user)
            d = req.definition
            if d.non_device:
                return self._non_device(interface, req, user, accepted.roles)
            wanted = "T" if d.critical else "S"
            if interface != wanted:
                kind = "critical" if d.critical else "non-critical"
                raise DuisError(codes.COMMAND_VARIANT, "interface",
                                f"{d.variant} {d.name} is a {kind} device request: send it to service{wanted}")
            dreq = self._device_request(req, user, accepted.roles)
            if d.critical:
                pre = self.broker.transform(dreq)
                self._remember_precommand(request_id, pre, dreq)
                body = response.precommand(request_id, req.request_id.response_id(), reference, variant, pre,
                                           self.clock.seconds(), schema_version=version, signer=self._signer())
                return Answer(200, body, codes.SUCCESS.code)
            try:
                at = dsp_execution_time(req.body, d.future_dated)
            except RequestError as e:
                raise DuisError(codes.INVALID_DATA, e.element, e.reason) from None
            code = self._admit(dreq, None, at)
            self._accept(req)
            return self._ack(request_id, code, reference, variant, version)
        except DuisError as e:
            if not request_id:
                request_id, reference, variant, version = _header_of(data)
            return self._ack(request_id, e.code, reference, variant, version, e)
        except Exception:
            # a bug of ours, not the User's: logged with its traceback, answered with E65
            log.failure("dcc: request on service{interface} failed", interface=interface)
            self.errors += 1
            if not request_id:
                request_id, reference, variant, version = _header_of(data)
            return self._ack(request_id, codes.FAILED, reference, variant, version,
                             DuisError(codes.FAILED, "dcc", "internal failure (logged)"))

    def device_alert(self, user_id: int, device_id: int, gbcs: bytes, counter: int,
                     code: ResponseCode = codes.SUCCESS, *, future_dated: bool = False,
                     command: tuple[int, int] | None = None) -> bytes:
        """Hand a device alert (GBCS, from the ACB's alert routing) to a DCC User: POSTed to
        the User's response URL and kept for polling (L{alerts}).  ResponseID is
        device:user:counter (the alert's originator counter).

        A future-dated command's execution alert (C{future_dated}; C{command}: the (message
        code, originator counter) it names, if any) is a C{FutureDatedDeviceAlertMessage}
        carrying the RequestID of the device-dated request it reports on."""
        user = self.inventory.user(user_id)
        if user is None:
            raise KeyError(f"{format_eui(user_id)} is not a DCC User")
        request_id = self._device_dated_request(user_id, device_id, command) if future_dated else None
        xml = response.device_alert(f"{format_eui(device_id)}:{format_eui(user_id)}:{counter}", code, gbcs,
                                    self.clock.seconds(), signer=self._signer(), future_dated=future_dated,
                                    request_id=request_id)
        box = self._alerts.setdefault(user_id, [])
        box.append(xml)
        if len(box) > self._outbox_limit:
            del box[0]
            self._alerts_dropped[user_id] = self._alerts_dropped.get(user_id, 0) + 1
        self._count("alert", code.code)
        if self.deliver is not None and user.response_url:
            self.deliver(user, xml)
        return xml

    def alerts(self, user_id: int, index: int) -> bytes | None | bool:
        """The C{index}-th alert (from 0) for a User: the XML, C{None} if not (yet) there, or
        C{False} if it was dropped from the bounded store."""
        dropped = self._alerts_dropped.get(user_id, 0)
        if index < dropped:
            return False
        box = self._alerts.get(user_id, [])
        i = index - dropped
        return box[i] if 0 <= i < len(box) else None

    def responses(self, request_id: str) -> list[bytes] | None:
        """The responses delivered so far for C{request_id} (None: never accepted or expired)."""
        self._expire()
        found = self._outbox.get(request_id)
        return list(found[1]) if found is not None else None

    def _expire(self) -> None:
        limit = self.clock.seconds() - self.retention
        while self._outbox:
            key, (when, _) = next(iter(self._outbox.items()))
            if when > limit:
                break
            del self._outbox[key]

    def _store(self, key: str, xml: bytes | None) -> None:
        self._expire()
        entry = self._outbox.pop(key, None)
        if entry is None and len(self._outbox) >= self._outbox_limit:
            self._outbox.popitem(last=False)
        responses = entry[1] if entry is not None else []
        if xml is not None:
            responses.append(xml)
        self._outbox[key] = (self.clock.seconds(), responses)

    # ------------------------------------------------------------------ steps

    def _non_device(self, interface: str, req: ServiceRequest, user: ServiceUser, roles: frozenset) -> Answer:
        d = req.definition
        if interface not in ("D", "S"):
            raise DuisError(codes.COMMAND_VARIANT, "interface",
                            f"{d.variant} {d.name} is a non-device request: send it to serviceD")
        if req.request_id.target != self.inventory.dcc_id:
            raise DuisError(codes.INVALID_DATA, "Header.RequestID",
                            f"a non-device request is addressed to the DCC ({format_eui(self.inventory.dcc_id)}), "
                            f"not {format_eui(req.request_id.target)}")
        if d.variant in dsp_schedules.SCHEDULE_SERVICES:
            element = dsp_schedules.SCHEDULE_SERVICES[d.variant]
            if req.name != element:
                raise DuisError(codes.SCHEMA, "Body", f"{d.variant} {d.name} takes sr:{element}, not sr:{req.name}",
                                req.body.sourceline or 0)
            body = self._schedule_service(req, user, roles)
            return self._non_device_done(req, user, body)
        entry = NON_DEVICE_SERVICES.get(d.variant)
        if entry is None:
            raise DuisError(codes.NOT_SUPPORTED, "Header.ServiceReferenceVariant",
                            f"this DCC does not carry out {d.variant} {d.name}")
        element, service = entry
        if req.name != element:
            raise DuisError(codes.SCHEMA, "Body", f"{d.variant} {d.name} takes sr:{element}, not sr:{req.name}",
                            req.body.sourceline or 0)
        body = service(self.inventory, req, roles, user.user_id)
        return self._non_device_done(req, user, body)

    def _non_device_done(self, req: ServiceRequest, user: ServiceUser, body) -> Answer:
        self._open_request(str(req.request_id), user.user_id, req.definition, "non_device")
        self._accept(req)
        answer = self._ack(str(req.request_id), codes.ACKNOWLEDGEMENT, req.service_reference,
                           req.service_reference_variant, req.schema_version)
        self.clock.callLater(0, self._respond, req, user, codes.SUCCESS, None, body)
        return answer

    def _device_request(self, req: ServiceRequest, user: ServiceUser, roles: frozenset) -> DeviceRequest:
        target = req.request_id.target
        device = self.inventory.device(target)
        if device is None:
            raise DuisError(codes.UNKNOWN_DEVICE, "Header.RequestID",
                            f"device {format_eui(target)} is not in the inventory")
        role = rbac.authorise_for_device(req.definition, roles, user.user_id, device.registered())
        if device.status not in _ADDRESSABLE:
            raise DuisError(codes.DEVICE_STATUS, "Header.RequestID",
                            f"device {format_eui(target)} is {device.status.value}: it takes no device requests")
        return DeviceRequest(req, user, role, device)

    def _remember_precommand(self, request_id: str, pre: bytes, dreq: DeviceRequest) -> None:
        self._precommands.pop(request_id, None)
        if len(self._precommands) >= self._pending_limit:
            self._precommands.popitem(last=False)
        self._precommands[request_id] = (pre, dreq)

    def _signed_precommand(self, interface: str, req: ServiceRequest, user: ServiceUser) -> Answer:
        if interface != "S":
            raise DuisError(codes.COMMAND_VARIANT, "interface", "a signed pre-command is sent to serviceS")
        rid = str(req.request_id)
        pending = self._precommands.get(rid)
        if pending is None:
            raise DuisError(codes.PRECOMMAND, "Header.RequestID",
                            f"no pre-command was issued for RequestID {rid} (or it was already used)")
        _pre, dreq = pending
        # the ACB checks it (the issued pre-command, the User's GBCS signature), MACs and sends it
        code = self._admit(dreq, req.gbcs_payload, None)
        del self._precommands[rid]
        self._accept(req)
        d = dreq.request.definition
        return self._ack(rid, code, d.service_reference, d.variant, req.schema_version)

    # ------------------------------------------------------------------ answers

    def _signer(self):
        key, cert = self._signing
        if key is None:
            return None
        return lambda root: xmldsig.sign(root, key, cert)

    def _ack(self, request_id: str, code: ResponseCode, reference, variant, version: str,
             error: DuisError | None = None) -> Answer:
        body = response.acknowledgement(request_id, code, reference, variant, self.clock.seconds(),
                                        schema_version=version)
        if error is not None:
            # the reason rides along as an XML comment: readable, and outside the DUIS schema
            root = etree.fromstring(body)
            root.append(etree.Comment(f" {code.code} {code.name}: {error.field}: {error.reason} "
                                      .replace("--", "- -")))
            body = etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=False)
        status = 500 if code is codes.FAILED else 400 if code.is_error else 200
        return Answer(status, body, code.code)

    def _accept(self, req: ServiceRequest) -> None:
        """The request is taken: its counter is used up and its responses can be polled for."""
        self.gateway.commit(req)
        self._store(str(req.request_id), None)

    def _reply_to(self, req: ServiceRequest, user: ServiceUser) -> Reply:
        def reply(code: ResponseCode, gbcs: bytes | None) -> None:
            self._respond(req, user, code, gbcs, None)
        return reply

    def _respond(self, req: ServiceRequest, user: ServiceUser, code: ResponseCode, gbcs: bytes | None,
                 body) -> None:
        rid = req.request_id
        xml = response.response(str(rid), rid.response_id(), code, req.service_reference,
                                req.service_reference_variant, self.clock.seconds(), gbcs_payload=gbcs, body=body,
                                schema_version=req.schema_version, signer=self._signer())
        self._count("async", code.code)
        self._store(str(rid), xml)
        entry = self._open.pop(str(rid), None)
        if entry is not None:
            self._finish(str(rid), entry, code)
        if self.deliver is not None and user.response_url:
            self.deliver(user, xml)


    # ------------------------------------------------------------------ outcomes

    def add_outcome_listener(self, listener: Callable[[RequestOutcome], None]) -> None:
        """Call C{listener(outcome)} once for every accepted request when it ends."""
        self._outcome_listeners.append(listener)

    @property
    def open_requests(self) -> int:
        """Accepted requests that have not ended yet (held ones included)."""
        return len(self._open)

    def _target(self, dreq: DeviceRequest) -> str:
        if dreq.device.device_type == "GSME":
            return "sleepy"
        return "critical" if dreq.request.definition.critical else "non_critical"

    def _open_request(self, request_id: str, user: int, definition, target: str,
                      schedule_id: int | None = None) -> None:
        self._open[request_id] = _Open(user, definition.service_reference, definition.variant, self.clock.seconds(),
                                       target, schedule_id)

    def _finish(self, request_id: str, entry: _Open, code: ResponseCode) -> None:
        now = self.clock.seconds()
        outcome = OK if code is codes.SUCCESS else TIMED_OUT if code is codes.TIMED_OUT else FAILED
        if self.metrics is not None:
            self.metrics.dcc_requests.labels(entry.reference, outcome).inc()
            self.metrics.dcc_response_seconds.labels(entry.target).observe(max(0.0, now - entry.started_at))
        done = RequestOutcome(request_id, entry.user, entry.reference, entry.variant, outcome, code.code,
                              entry.accepted_at, entry.started_at, now, entry.target, entry.schedule_id)
        for listener in list(self._outcome_listeners):
            listener(done)

    # ------------------------------------------------------------------ admission: anomaly, holding

    def _admit(self, dreq: DeviceRequest, signed: bytes | None, at: float | None) -> ResponseCode:
        """Anomaly check, then hold (quarantine, future date) or hand to the broker; the code
        to acknowledge with.  L{DuisError} refuses the request (nothing is kept)."""
        req = dreq.request
        d = req.definition
        rid = str(req.request_id)
        now = self.clock.seconds()
        self._open_request(rid, dreq.user.user_id, d, self._target(dreq))
        try:
            limit = self.anomaly.observe(dreq.user.user_id, d.service_reference, d.critical, now)
            if limit is not None:
                count = self.anomaly.count(dreq.user.user_id, d.service_reference, now)
                try:
                    self.quarantine.hold(rid, dreq.user.user_id, d.service_reference, count, limit, now,
                                         (dreq, signed, at))
                except QuarantineFull as e:
                    raise DuisError(codes.BUSY, "Header.RequestID", str(e)) from None
                self.clock.callLater(self.thresholds.hold, self._expire_quarantine)
                self._quarantine_event("held")
                log.info("dcc: {rid} quarantined: {count} {ref} requests from {user} in {window:g} s "
                         "(limit {limit})", rid=rid, count=count, ref=d.service_reference,
                         user=format_eui(dreq.user.user_id), window=self.thresholds.window, limit=limit)
                return codes.QUARANTINED
            self._dispatch(dreq, signed, at)
        except BaseException:
            self._open.pop(rid, None)
            raise
        return codes.ACKNOWLEDGEMENT

    def _dispatch(self, dreq: DeviceRequest, signed: bytes | None, at: float | None) -> None:
        """Send now, or hold a DSP future-dated request until its execution time."""
        rid = str(dreq.request.request_id)
        now = self.clock.seconds()
        if at is not None and at > now:
            if len(self._future) >= self._pending_limit:
                raise DuisError(codes.BUSY, "Header.RequestID",
                                f"the DCC already holds {self._pending_limit} future-dated requests")
            call = self.clock.callLater(at - now, self._execute, rid)
            self._future[rid] = (at, dreq, call)
            self._held_gauge()
            return
        self.broker.send(dreq, self._reply_to(dreq.request, dreq.user), signed_precommand=signed)
        self._remember_device_dated(dreq)

    def _remember_device_dated(self, dreq: DeviceRequest) -> None:
        """A device future-dated request went to the device: keep its RequestID until the
        device's execution alert names it (correlation, L{device_alert})."""
        req = dreq.request
        if device_execution_time(req.body, req.definition.future_dated) is None:
            return
        r = req.request_id
        if len(self._device_dated) >= self._pending_limit:
            self._device_dated.popitem(last=False)
        self._device_dated[(r.originator, r.target, r.counter)] = str(r)

    def _device_dated_request(self, user_id: int, device_id: int, command) -> str | None:
        """The RequestID an execution alert reports on: the one whose counter it names, else
        (an alert that names no command) the User's oldest device-dated request to the device."""
        if command is not None:
            return self._device_dated.pop((user_id, device_id, command[1]), None)
        for key in self._device_dated:
            if key[0] == user_id and key[1] == device_id:
                return self._device_dated.pop(key)
        return None

    def _execute(self, rid: str) -> None:
        """A future-dated request's time has come: send it (with a counter that moved on)."""
        entry = self._future.pop(rid, None)
        self._held_gauge()
        if entry is None:
            return
        _at, dreq, _call = entry
        reply = self._reply_to(dreq.request, dreq.user)
        opened = self._open.get(rid)
        if opened is not None:
            opened.started_at = self.clock.seconds()
        self._store(rid, None)      # pollable again from now (the hold may outlast the retention)
        r = dreq.request.request_id
        last = self.gateway.last_counter(r.originator, r.target)
        counter = max(r.counter, (last + 1) if last is not None else 0)
        self.gateway.advance(r.originator, r.target, counter)
        try:
            self.broker.send(dreq, reply, counter=None if counter == r.counter else counter)
        except DuisError as e:
            log.info("dcc: future-dated {rid} refused at its execution time: {code} {reason}", rid=rid,
                     code=e.code.code, reason=e.reason)
            reply(e.code, None)
        except Exception:
            self._fault(f"future-dated {rid} at its execution time", reply)

    def held_future(self) -> list[tuple[str, float]]:
        """The DSP future-dated requests held: (RequestID, execution time), in arrival order."""
        return [(rid, at) for rid, (at, _d, _c) in self._future.items()]

    def _held_gauge(self) -> None:
        if self.metrics is not None:
            self.metrics.dcc_held.labels("future_dated").set(len(self._future))
            self.metrics.dcc_held.labels("quarantined").set(len(self.quarantine))

    def _quarantine_event(self, action: str) -> None:
        if self.metrics is not None:
            self.metrics.dcc_quarantine.labels(action).inc()
        self._held_gauge()

    # ------------------------------------------------------------------ quarantine (the operator's side)

    def quarantined(self) -> list[Held]:
        """The requests in quarantine, oldest first."""
        return list(self.quarantine)

    def release(self, request_id: str) -> bool:
        """Carry out a quarantined request (False if it is not held); a refusal by the broker
        now becomes its response."""
        held = self.quarantine.release(request_id)
        if held is None:
            return False
        self._quarantine_event("released")
        dreq, signed, at = held.item
        reply = self._reply_to(dreq.request, dreq.user)
        try:
            self._dispatch(dreq, signed, at)
        except DuisError as e:
            reply(e.code, None)
        except Exception:
            self._fault(f"release of {request_id}", reply)
        return True

    def _fault(self, what: str, reply: Reply) -> None:
        """A bug of ours while carrying out an accepted request later: logged with its
        traceback, and the request ends with E65 (it never stays open)."""
        log.failure("dcc: {what} failed", what=what)
        self.errors += 1
        reply(codes.FAILED, None)

    def reject(self, request_id: str) -> bool:
        """Refuse a quarantined request: its response is E16 (False if it is not held)."""
        held = self.quarantine.reject(request_id)
        if held is None:
            return False
        self._refuse_held(held, "rejected")
        return True

    def _refuse_held(self, held: Held, action: str) -> None:
        self._quarantine_event(action)
        dreq, signed, _at = held.item
        forget = getattr(self.broker, "forget", None)
        if signed is not None and forget is not None:
            forget(dreq)
        self._reply_to(dreq.request, dreq.user)(codes.REJECTED, None)

    def _expire_quarantine(self) -> None:
        for held in self.quarantine.expire(self.clock.seconds()):
            log.info("dcc: {rid} was not released from quarantine in {hold:g} s: rejected", rid=held.key,
                     hold=self.thresholds.hold)
            self._refuse_held(held, "expired")

    # ------------------------------------------------------------------ DSP schedules

    def _schedule_service(self, req: ServiceRequest, user: ServiceUser, roles: frozenset):
        """5.1 / 5.2 / 5.3 on the schedule table; the response body element (or None)."""
        variant = req.definition.variant
        if variant == "5.1":
            create = dsp_schedules.parse_create_schedule(req.body, load_matrix())
            d = create.definition
            if d.critical or d.non_device:
                raise DuisError(codes.INVALID_DATA, "Body.CreateSchedule.DSPScheduleDetails.ServiceReferenceVariant",
                                f"{d.variant} {d.name} is not a non-critical device request: it cannot be scheduled")
            scheduled_roles = rbac.eligible_roles(d, user.roles)
            probe = ServiceRequest("Request", RequestID(user.user_id, create.device, 0), 1, d.service_reference,
                                   d.variant, d, create.body, None, req.schema_version, req.document)
            self._device_request(probe, user, scheduled_roles)
            now = self.clock.seconds()
            if create.recurrence.next_after(now) is None:
                raise DuisError(codes.INVALID_DATA, "Body.CreateSchedule.DSPScheduleDetails",
                                "the schedule has no execution time after now (it ends before)")
            try:
                schedule = self.schedules.create(user.user_id, create.device, d.variant, create.recurrence, now,
                                                 (d, create.body, req.schema_version, req.document))
            except ScheduleTableFull as e:
                raise DuisError(codes.BUSY, "Body.CreateSchedule", str(e)) from None
            self._arm(schedule)
            return dsp_schedules.created_element(schedule)
        schedule_id = dsp_schedules.parse_schedule_id(req.body, required=(variant == "5.3"))
        if schedule_id is None:
            return dsp_schedules.schedule_element(sorted(self.schedules.of_user(user.user_id),
                                                         key=lambda s: s.schedule_id))
        schedule = self.schedules.get(schedule_id)
        if schedule is None or schedule.user != user.user_id:
            raise DuisError(codes.INVALID_DATA, f"Body.{req.name}.DSPScheduleID",
                            f"no DSP schedule {schedule_id} of {format_eui(user.user_id)}")
        if variant == "5.2":
            return dsp_schedules.schedule_element([schedule])
        self.schedules.delete(schedule_id)
        call = self._schedule_calls.pop(schedule_id, None)
        if call is not None and call.active():
            call.cancel()
        self._schedules_gauge()
        return None

    def _schedules_gauge(self) -> None:
        if self.metrics is not None:
            self.metrics.dcc_schedules.set(len(self.schedules))

    def _arm(self, schedule) -> None:
        self._schedule_calls[schedule.schedule_id] = self.clock.callLater(
            max(0.0, schedule.next_at - self.clock.seconds()), self._fire, schedule.schedule_id)
        self._schedules_gauge()

    def _fire(self, schedule_id: int) -> None:
        """A schedule's execution time: its request goes out as a request of its own."""
        self._schedule_calls.pop(schedule_id, None)
        schedule = self.schedules.get(schedule_id)
        if schedule is None:
            return
        now = self.clock.seconds()
        d, body, version, document = schedule.item
        last = self.gateway.last_counter(schedule.user, schedule.device)
        counter = max((last + 1) if last is not None else 0, int(now * 1000))
        sreq = ServiceRequest("Request", RequestID(schedule.user, schedule.device, counter), 1, d.service_reference,
                              d.variant, d, body, None, version, document)
        rid = str(sreq.request_id)
        user = self.inventory.user(schedule.user)
        if user is not None:
            self._open_request(rid, user.user_id, d, "non_critical", schedule_id)
            self._store(rid, None)
            self.gateway.advance(schedule.user, schedule.device, counter)
            try:
                dreq = self._device_request(sreq, user, rbac.eligible_roles(d, user.roles))
                self._open[rid].target = self._target(dreq)
                self.broker.send(dreq, self._reply_to(sreq, user))
            except DuisError as e:
                log.info("dcc: schedule {id} execution {rid} refused: {code} {reason}", id=schedule_id, rid=rid,
                         code=e.code.code, reason=e.reason)
                self._respond(sreq, user, e.code, None, None)
            except Exception:
                self._fault(f"schedule {schedule_id} execution {rid}", self._reply_to(sreq, user))
        else:
            log.warn("dcc: schedule {id}: its User {user} is gone", id=schedule_id, user=format_eui(schedule.user))
        schedule = self.schedules.executed(schedule_id, now)
        if schedule is not None and schedule.next_at is not None:
            self._arm(schedule)
        else:
            self._schedules_gauge()


def _header_of(data: bytes) -> tuple[str, str | None, str | None, str]:
    """Best effort (RequestID, service reference, variant, schemaVersion) of a request that
    failed before it was accepted, to echo in the acknowledgement (values are length-capped)."""
    empty = ("", None, None, "5.1")
    if len(data) > MAX_REQUEST_BYTES or b"<!DOCTYPE" in data:
        return empty
    try:
        root = etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False))
    except (etree.XMLSyntaxError, ValueError):
        return empty

    def text(name: str) -> str | None:
        value = root.findtext(f"{{{SR}}}Header/{{{SR}}}{name}")
        return value.strip()[:100] if value and value.strip() else None

    version = (root.get("schemaVersion") or "5.1")[:20]
    return text("RequestID") or "", text("ServiceReference"), text("ServiceReferenceVariant"), version
