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
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from dataclasses import dataclass
from typing import Callable, Protocol

from lxml import etree
from twisted.logger import Logger

from emulator.dcc.inventory import DeviceStatus, Inventory, InventoryDevice, ServiceUser
from emulator.dcc.services import NON_DEVICE_SERVICES
from protocols.duis import codes, rbac, response, xmldsig
from protocols.duis.codes import ResponseCode
from protocols.duis.errors import DuisError
from protocols.duis.gateway import Gateway
from protocols.duis.request import MAX_REQUEST_BYTES, SR, ServiceRequest, format_eui

__all__ = ["DccHost", "Answer", "DeviceRequest", "AccessControlBroker", "NoTransformBroker", "INTERFACES",
           "Reply"]

log = Logger(namespace="smets.dcc")

#: interface letter -> what it is for
INTERFACES = {"S": "send", "T": "transform", "D": "non-device"}

#: device statuses a device request may address
_ADDRESSABLE = frozenset({DeviceStatus.COMMISSIONED, DeviceStatus.INSTALLED})

#: the broker's way back: (response code, GBCS response or alert payload)
Reply = Callable[[ResponseCode, "bytes | None"], None]


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
                 metrics=None) -> None:
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
        #: L{emulator.metrics.Metrics} (optional): C{smets_duis_answers_total{interface, code}}
        self.metrics = metrics

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
            self.broker.send(dreq, self._reply_to(req, user))
            self._accept(req)
            return self._ack(request_id, codes.ACKNOWLEDGEMENT, reference, variant, version)
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
                     code: ResponseCode = codes.SUCCESS) -> bytes:
        """Hand a device alert (GBCS, from the ACB's alert routing) to a DCC User: POSTed to
        the User's response URL and kept for polling (L{alerts}).  ResponseID is
        device:user:counter (the alert's originator counter)."""
        user = self.inventory.user(user_id)
        if user is None:
            raise KeyError(f"{format_eui(user_id)} is not a DCC User")
        xml = response.device_alert(f"{format_eui(device_id)}:{format_eui(user_id)}:{counter}", code, gbcs,
                                    self.clock.seconds(), signer=self._signer())
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
        entry = NON_DEVICE_SERVICES.get(d.variant)
        if entry is None:
            raise DuisError(codes.NOT_SUPPORTED, "Header.ServiceReferenceVariant",
                            f"this DCC does not carry out {d.variant} {d.name}")
        element, service = entry
        if req.name != element:
            raise DuisError(codes.SCHEMA, "Body", f"{d.variant} {d.name} takes sr:{element}, not sr:{req.name}",
                            req.body.sourceline or 0)
        body = service(self.inventory, req, roles, user.user_id)
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
        self.broker.send(dreq, self._reply_to(dreq.request, user), signed_precommand=req.gbcs_payload)
        del self._precommands[rid]
        self._accept(req)
        d = dreq.request.definition
        return self._ack(rid, codes.ACKNOWLEDGEMENT, d.service_reference, d.variant, req.schema_version)

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
        if self.deliver is not None and user.response_url:
            self.deliver(user, xml)


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
