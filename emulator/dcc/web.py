"""The DUIS HTTP interface (twisted.web), like DCC's test environment (DCC Boxed, port 8079).

  - C{POST /api/v1/serviceS}: send (non-critical device requests, signed pre-commands,
    non-device requests);
  - C{POST /api/v1/serviceT}: transform: the answer is the C{sr:PreCommand} of a critical request;
  - C{POST /api/v1/serviceD}: non-device requests (e.g. 8.2 Read Inventory);
  - C{GET /api/v1/response?RequestID=ID[&index=N]}: poll for the N-th (default first)
    asynchronous response to a request: 200 with the DUIS XML, 204 not yet, 404 unknown;
  - C{GET /api/v1/alerts?UserID=EUI[&index=N]}: the N-th device alert for a User (204 not yet);
  - C{GET /api/v1/quarantine}: the requests anomaly detection holds (XML, oldest first);
    C{POST /api/v1/quarantine/release?RequestID=ID} and C{.../reject?RequestID=ID}: carry one
    out, or refuse it (E16).  This is the operator's side of the ACB's holding queue, as DCC
    offers it in its Self Service Interface, not a DUIS service request: it serves whoever
    reaches the port (loopback), like the rest of this interface;
  - C{GET /metrics} (with a L{emulator.metrics.Metrics}): Prometheus text exposition.

The synchronous answer is the acknowledgement (I99, or the E code with HTTP 400).  Responses
are also POSTed to the User's response URL (L{ResponseSender}).  Only translation happens
here; the logic is L{emulator.dcc.host.DccHost}.
"""

from __future__ import annotations

from io import BytesIO

from twisted.internet.defer import Deferred
from twisted.logger import Logger
from twisted.web import resource, server
from twisted.web.client import Agent, FileBodyProducer, readBody
from twisted.web.http_headers import Headers

from emulator.dcc.host import DccHost
from emulator.dcc.inventory import ServiceUser
from protocols.duis.request import MAX_REQUEST_BYTES
from protocols.gbcs.keystore import parse_eui

__all__ = ["duis_resource", "ResponseSender"]

log = Logger(namespace="smets.dcc")
_XML = b"application/xml"


class _Service(resource.Resource):
    isLeaf = True

    def __init__(self, host: DccHost, interface: str) -> None:
        super().__init__()
        self._host = host
        self._interface = interface

    def render_POST(self, request) -> bytes:  # noqa: N802 (twisted.web's name)
        length = request.getHeader(b"content-length")
        if length is not None and length.isdigit() and int(length) > MAX_REQUEST_BYTES:
            request.setResponseCode(413)
            return b"request too large\n"
        data = request.content.read(MAX_REQUEST_BYTES + 1)
        answer = self._host.handle(self._interface, data)
        request.setResponseCode(answer.status)
        request.setHeader(b"content-type", _XML)
        request.setHeader(b"x-duis-response-code", answer.code.encode("ascii"))
        return answer.body


class _Poll(resource.Resource):
    isLeaf = True

    def __init__(self, host: DccHost) -> None:
        super().__init__()
        self._host = host

    def render_GET(self, request) -> bytes:  # noqa: N802
        ids = request.args.get(b"RequestID")
        if not ids:
            request.setResponseCode(400)
            return b"RequestID query parameter is required\n"
        try:
            index = int(request.args.get(b"index", [b"0"])[0])
        except ValueError:
            request.setResponseCode(400)
            return b"index must be an integer\n"
        found = self._host.responses(ids[0].decode("utf-8", "replace"))
        if found is None:
            request.setResponseCode(404)
            return b"no accepted request with this RequestID\n"
        if not 0 <= index < len(found):
            request.setResponseCode(204)
            return b""
        request.setHeader(b"content-type", _XML)
        return found[index]


class _Alerts(resource.Resource):
    isLeaf = True

    def __init__(self, host: DccHost) -> None:
        super().__init__()
        self._host = host

    def render_GET(self, request) -> bytes:  # noqa: N802
        try:
            user_id = parse_eui(request.args.get(b"UserID", [b""])[0].decode("ascii", "replace"))
            index = int(request.args.get(b"index", [b"0"])[0])
        except ValueError:
            request.setResponseCode(400)
            return b"UserID (EUI-64) and an integer index are required\n"
        found = self._host.alerts(user_id, index)
        if found is False:
            request.setResponseCode(410)
            return b"this alert was dropped from the bounded store\n"
        if found is None:
            request.setResponseCode(204)
            return b""
        request.setHeader(b"content-type", _XML)
        return found


def _quarantine_xml(host: DccHost) -> bytes:
    from lxml import etree

    from protocols.duis.request import format_eui
    from protocols.duis.response import duis_datetime
    root = etree.Element("Quarantine", window=f"{host.thresholds.window:g}")
    for held in host.quarantined():
        etree.SubElement(root, "Request", RequestID=str(held.key), UserID=format_eui(held.user),
                         ServiceReference=held.service_reference, Count=str(held.count), Limit=str(held.limit),
                         Since=duis_datetime(held.since), Until=duis_datetime(held.until))
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


class _Quarantine(resource.Resource):
    """C{/api/v1/quarantine} (list) and C{/api/v1/quarantine/release|reject?RequestID=ID}."""

    isLeaf = True

    def __init__(self, host: DccHost) -> None:
        super().__init__()
        self._host = host

    def render_GET(self, request) -> bytes:  # noqa: N802
        if request.postpath not in ([], [b""]):
            request.setResponseCode(404)
            return b"GET /api/v1/quarantine lists the held requests\n"
        request.setHeader(b"content-type", _XML)
        return _quarantine_xml(self._host)

    def render_POST(self, request) -> bytes:  # noqa: N802
        action = request.postpath[0] if request.postpath else b""
        if action not in (b"release", b"reject"):
            request.setResponseCode(404)
            return b"POST /api/v1/quarantine/release or /reject with ?RequestID=ID\n"
        ids = request.args.get(b"RequestID")
        if not ids:
            request.setResponseCode(400)
            return b"RequestID query parameter is required\n"
        rid = ids[0].decode("utf-8", "replace")
        done = (self._host.release if action == b"release" else self._host.reject)(rid)
        if not done:
            request.setResponseCode(404)
            return b"no quarantined request with this RequestID\n"
        return action + b"d " + rid.encode("utf-8") + b"\n"


def duis_resource(host: DccHost, metrics=None) -> resource.Resource:
    """The C{/api/v1/...} tree for a L{DccHost} (and C{/metrics} with C{metrics})."""
    root = resource.Resource()
    if metrics is not None:
        from emulator.metrics import metrics_page
        root.putChild(b"metrics", metrics_page(metrics))
    api = resource.Resource()
    v1 = resource.Resource()
    root.putChild(b"api", api)
    api.putChild(b"v1", v1)
    for letter in ("S", "T", "D"):
        v1.putChild(f"service{letter}".encode("ascii"), _Service(host, letter))
    v1.putChild(b"response", _Poll(host))
    v1.putChild(b"alerts", _Alerts(host))
    v1.putChild(b"quarantine", _Quarantine(host))
    return root


class ResponseSender:
    """POSTs DUIS responses to the Users' response URLs, in order per User, counting failures."""

    def __init__(self, reactor) -> None:
        self._agent = Agent(reactor)
        self._tails: dict[int, Deferred] = {}
        self.delivered = 0
        self.failed = 0

    def __call__(self, user: ServiceUser, xml: bytes) -> None:
        tail = self._tails.get(user.user_id)

        def post(_=None) -> Deferred:
            d = self._agent.request(b"POST", user.response_url.encode("utf-8"),
                                    Headers({b"content-type": [b"application/xml"]}),
                                    FileBodyProducer(BytesIO(xml)))
            d.addCallback(self._done, user)
            d.addErrback(self._failed, user)
            return d

        d = post() if tail is None else tail.addCallback(post)
        self._tails[user.user_id] = d

    def _done(self, reply, user: ServiceUser) -> Deferred:
        def counted(_body) -> None:
            if 200 <= reply.code < 300:
                self.delivered += 1
            else:
                self.failed += 1
                log.warn("duis: {url} answered HTTP {code} to a response", url=user.response_url, code=reply.code)
        return readBody(reply).addBoth(counted)

    def _failed(self, failure, user: ServiceUser) -> None:
        self.failed += 1
        log.warn("duis: could not deliver a response to {url}: {why}", url=user.response_url,
                 why=failure.getErrorMessage())


def site(host: DccHost, metrics=None) -> server.Site:
    """A web site serving the DUIS interface of C{host} (and C{/metrics} with C{metrics})."""
    return server.Site(duis_resource(host, metrics))
