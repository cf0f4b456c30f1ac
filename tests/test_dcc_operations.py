"""The ACB's operations at the DCC host: anomaly quarantine (I98, release, reject E16, expiry),
DSP future-dated requests held to their time, DSP schedules (5.1 create, 5.2 read, 5.3 delete)
firing in virtual time, one outcome per accepted request, Prometheus scraped over real HTTP,
and the same operations end to end through the estate to the ESME's own GBCS logic."""

from __future__ import annotations

import datetime
from io import BytesIO

import pytest
import pytest_twisted
from lxml import etree
from prometheus_client.parser import text_string_to_metric_families
from twisted.internet import defer, reactor
from twisted.internet.task import Clock
from twisted.web.client import Agent, FileBodyProducer, readBody
from twisted.web.http_headers import Headers

from emulator.dcc import build_host
from emulator.dcc.config import load_dcc_config
from emulator.dcc.host import FAILED, OK, TIMED_OUT, DccHost
from emulator.dcc.web import site
from emulator.metrics import Metrics
from emulator.topology import load_topology
from protocols.acb.anomaly import Thresholds
from protocols.duis import codes
from protocols.duis.response import duis_datetime, parse_response
from protocols.gbcs import GbcsCrypto, decode_message
from tests.duis_helpers import (ESME, NETWORK_OPERATOR, RTDS_HOME, SUPPLIER, SUPPLIER_2, keystore, require_shared,
                                set_header, signed, template)

SR = "http://www.dccinterface.co.uk/ServiceUserGateway"
ECS17C = "ECS17c_4.16_SUCCESS_REQUEST_DUIS.XML"            # network operator, 4.16, ESME
ECS21A = "ECS21a_4.6.1_SINGLE_SUCCESS_REQUEST_DUIS.XML"    # supplier, 4.6.1 (DSP future-dated), ESME
NOW = 1_764_000_000.0                                      # 2025-11-24T16:00:00Z
ESME_TEXT = "00-DB-12-34-56-78-90-A0"


def _rid(user: int, counter: int, target: str = ESME_TEXT) -> str:
    u = "-".join(f"{b:02X}" for b in user.to_bytes(8, "big"))
    return f"{u}:{target}:{counter}"


def ecs17c(counter: int) -> bytes:
    return signed(set_header(template(ECS17C), RequestID=_rid(NETWORK_OPERATOR, counter)))


def ecs21a(counter: int, execute_at: float | None = None) -> bytes:
    root = etree.fromstring(set_header(template(ECS21A), RequestID=_rid(SUPPLIER, counter)))
    if execute_at is not None:
        body = root.find(f"{{{SR}}}Body")[0]
        when = etree.Element(f"{{{SR}}}ExecutionDateTime")
        when.text = duis_datetime(execute_at)
        body.insert(0, when)
    return signed(etree.tostring(root.getroottree(), xml_declaration=True, encoding="UTF-8"))


def _request(variant: str, body: etree._Element, counter: int, user: int = SUPPLIER) -> bytes:
    root = etree.Element(f"{{{SR}}}Request", nsmap={"sr": SR}, schemaVersion="5.4")
    header = etree.SubElement(root, f"{{{SR}}}Header")
    for name, text in (("RequestID", _rid(user, counter, "90-B3-D5-1F-30-00-00-02")), ("CommandVariant", "8"),
                       ("ServiceReference", variant), ("ServiceReferenceVariant", variant)):
        etree.SubElement(header, f"{{{SR}}}{name}").text = text
    etree.SubElement(root, f"{{{SR}}}Body").append(body)
    return signed(etree.tostring(root.getroottree(), xml_declaration=True, encoding="UTF-8"))


def create_schedule(counter: int, start: str, at: str, frequency: str = "Daily", periodicity: int = 1,
                    end: str | None = None, variant: str = "4.6.1", device: str = ESME_TEXT,
                    user: int = SUPPLIER, scheduled=None) -> bytes:
    """A 5.1 Create Schedule in our form (emulator.dcc.schedules), scheduling ECS21a's body."""
    body = etree.Element(f"{{{SR}}}CreateSchedule")
    details = etree.SubElement(body, f"{{{SR}}}DSPScheduleDetails")
    fields = [("DeviceID", device), ("ServiceReferenceVariant", variant), ("ScheduleExecutionStartDate", start)]
    if end is not None:
        fields.append(("ScheduleExecutionEndDate", end))
    fields += [("ScheduleExecutionTime", at), ("RepeatFrequency", frequency), ("RepeatPeriodicity", str(periodicity))]
    for name, text in fields:
        etree.SubElement(details, f"{{{SR}}}{name}").text = text
    if scheduled is None:
        scheduled = etree.fromstring(template(ECS21A)).find(f"{{{SR}}}Body")[0]
    body.append(scheduled)
    return _request("5.1", body, counter, user)


def schedule_request(variant: str, counter: int, schedule_id: int | None, user: int = SUPPLIER) -> bytes:
    body = etree.Element(f"{{{SR}}}{'ReadSchedule' if variant == '5.2' else 'DeleteSchedule'}")
    if schedule_id is not None:
        etree.SubElement(body, f"{{{SR}}}DSPScheduleID").text = str(schedule_id)
    return _request(variant, body, counter, user)


class Broker:
    """A test double at the ACB boundary that keeps what it is given (with the counter)."""

    def __init__(self) -> None:
        self.sent = []

    def send(self, request, reply, signed_precommand=None, counter=None):
        self.sent.append((request, reply, counter))

    def transform(self, request):
        raise AssertionError("not used")


@pytest.fixture
def host():
    require_shared()
    config = load_dcc_config(load_topology(str(RTDS_HOME), 1))
    config.inventory.user(SUPPLIER).response_url = "http://127.0.0.1:1/duis"   # deliveries are recorded
    clock = Clock()
    clock.advance(NOW)
    delivered = []
    metrics = Metrics()
    h = DccHost(config.inventory, clock, broker=Broker(), metrics=metrics,
                deliver=lambda user, xml: delivered.append((user.user_id, xml)),
                thresholds=Thresholds(window=600, services={"4.16": 2}, hold=1800))
    h.delivered, h.outcomes = delivered, []
    h.add_outcome_listener(h.outcomes.append)
    return h


def _codes(host, rid) -> list[str]:
    return [parse_response(x).response_code for x in host.responses(rid) or []]


def _sample(host, name, **labels) -> float:
    return host.metrics.registry.get_sample_value(name, labels) or 0.0


# ---------------------------------------------------------------- anomaly detection and quarantine


def test_requests_past_the_threshold_are_quarantined_then_released_or_rejected(host):
    answers = [host.handle("S", ecs17c(1200 + i)).code for i in range(5)]
    assert answers == ["I99", "I99", "I98", "I98", "I98"]
    assert len(host.broker.sent) == 2                      # the held ones did not reach the broker
    held = host.quarantined()
    assert [h.key for h in held] == [_rid(NETWORK_OPERATOR, c) for c in (1202, 1203, 1204)]
    assert (held[0].user, held[0].service_reference, held[0].count, held[0].limit) == (NETWORK_OPERATOR, "4.16", 3, 2)
    # released: carried out as if just accepted
    assert host.release(_rid(NETWORK_OPERATOR, 1202))
    assert host.broker.sent[-1][0].request.request_id.counter == 1202
    # rejected: its response is E16, and it ends as failed
    assert host.reject(_rid(NETWORK_OPERATOR, 1203))
    assert _codes(host, _rid(NETWORK_OPERATOR, 1203)) == ["E16"]
    assert not host.release(_rid(NETWORK_OPERATOR, 1203)) and not host.reject("no-such-request")
    # nobody releases the last one: rejected when the hold time is over
    host.clock.advance(1799)
    assert _codes(host, _rid(NETWORK_OPERATOR, 1204)) == []
    host.clock.advance(1)
    assert _codes(host, _rid(NETWORK_OPERATOR, 1204)) == ["E16"]
    assert [(o.request_id[-4:], o.outcome, o.code) for o in host.outcomes] == [("1203", FAILED, "E16"),
                                                                                 ("1204", FAILED, "E16")]
    for action, n in (("held", 3), ("released", 1), ("rejected", 1), ("expired", 1)):
        assert _sample(host, "smets_dcc_quarantine_total", action=action) == n
    assert _sample(host, "smets_dcc_held_requests", reason="quarantined") == 0
    # the window rolled on: the User is below its threshold again
    host.clock.advance(600)
    assert host.handle("S", ecs17c(1300)).code == "I99"


def test_a_quarantined_request_counts_as_accepted_its_counter_is_used(host):
    for i in range(3):
        host.handle("S", ecs17c(1200 + i))
    assert host.handle("S", ecs17c(1202)).code == "E7"     # replaying the quarantined one


def test_the_holding_queue_is_bounded(host):
    host.thresholds = Thresholds(window=600, services={"4.16": 1}, max_held=1)
    host.quarantine.max_held = 1
    host.anomaly.thresholds = host.thresholds
    assert [host.handle("S", ecs17c(1200 + i)).code for i in range(3)] == ["I99", "I98", "E11"]


def test_thresholds_come_from_the_topology(tmp_path):
    require_shared()
    text = RTDS_HOME.read_text().replace("\ndcc:\n", "\ndcc:\n  anomaly_detection:\n    window_seconds: 60\n"
                                         "    critical: 3\n    services: {\"4.16\": 7}\n"
                                         "    users: {\"90B3D51F30020000\": {\"*\": 9}}\n", 1)
    assert "anomaly_detection" in text
    keys = (RTDS_HOME.parent / "../../shared/rtds/keystore").resolve()
    text = text.replace("../../shared/rtds/keystore", str(keys))
    path = tmp_path / "t.yaml"
    path.write_text(text)
    th = load_dcc_config(load_topology(str(path), 1)).thresholds
    assert (th.window, th.critical, th.services["4.16"], th.limit(NETWORK_OPERATOR, "11.2", False)) == (60, 3, 7, 9)
    bad = tmp_path / "bad.yaml"
    bad.write_text(text.replace("critical: 3", "critical: 0"))
    from emulator.topology import TopologyError
    with pytest.raises(TopologyError, match="critical must be a whole number"):
        load_dcc_config(load_topology(str(bad), 1))


# ---------------------------------------------------------------- DSP future-dated requests


def test_a_dsp_future_dated_request_is_held_until_its_execution_time(host):
    rid = _rid(SUPPLIER, 1003)
    assert host.handle("S", ecs21a(1003, NOW + 7200)).code == "I99"
    assert host.held_future() == [(rid, NOW + 7200)] and host.broker.sent == []
    assert _sample(host, "smets_dcc_held_requests", reason="future_dated") == 1
    # meanwhile the User reads the meter again (a higher counter): the held command must not
    # reach the device with a counter below it
    host.clock.advance(3600)
    assert host.handle("S", ecs21a(1010)).code == "I99"
    host.clock.advance(3599)
    assert len(host.broker.sent) == 1
    host.clock.advance(1)
    request, reply, counter = host.broker.sent[-1]
    assert str(request.request.request_id) == rid and counter == 1011
    assert host.handle("S", ecs21a(1011)).code == "E7"     # the DCC used 1011 on the User's behalf
    host.clock.advance(5)
    reply(codes.SUCCESS, b"\xdd")
    [outcome] = [o for o in host.outcomes if o.request_id == rid]
    assert (outcome.outcome, outcome.accepted_at, outcome.started_at, outcome.finished_at) == (
        OK, NOW, NOW + 7200, NOW + 7205)
    assert _sample(host, "smets_dcc_response_seconds_bucket", target="non_critical", le="10.0") == 1
    assert _sample(host, "smets_dcc_requests_total", service_reference="4.6", outcome=OK) == 1


def test_a_past_execution_time_is_sent_at_once_and_a_bad_one_is_e13(host):
    assert host.handle("S", ecs21a(1003, NOW - 60)).code == "I99"
    assert len(host.broker.sent) == 1 and host.held_future() == []
    root = etree.fromstring(ecs21a(1004, NOW + 60))
    root.find(f".//{{{SR}}}ExecutionDateTime").text = "soon"
    for sig in root.findall("{http://www.w3.org/2000/09/xmldsig#}Signature"):
        root.remove(sig)
    assert host.handle("S", signed(etree.tostring(root))).code == "E13"


def test_a_fault_at_execution_time_ends_the_request_with_e65(host):
    assert host.handle("S", ecs21a(1003, NOW + 60)).code == "I99"

    def broken(*args, **kwargs):
        raise RuntimeError("a bug")
    host.broker.send = broken
    host.clock.advance(60)
    assert _codes(host, _rid(SUPPLIER, 1003)) == ["E65"]
    assert [o.outcome for o in host.outcomes] == [FAILED] and host.open_requests == 0 and host.errors == 1


# ---------------------------------------------------------------- DSP schedules


def _schedule_id(host, counter: int) -> int:
    [xml] = host.responses(_rid(SUPPLIER, counter, "90-B3-D5-1F-30-00-00-02"))
    response = parse_response(xml)
    assert response.response_code == "I0", response
    return int(response.body.findtext(f"{{{SR}}}DSPScheduleID"))


def test_a_schedule_fires_its_request_at_each_time_until_its_end(host):
    answer = host.handle("D", create_schedule(5000, "2025-11-25", "01:30:00", end="2025-11-27"))
    assert answer.code == "I99"
    host.clock.advance(0)
    sid = _schedule_id(host, 5000)
    assert _sample(host, "smets_dcc_schedules") == 1
    fired = []
    for day in (25, 26, 27, 28):
        at = datetime.datetime(2025, 11, day, 1, 30, tzinfo=datetime.timezone.utc).timestamp()
        host.clock.advance(at - host.clock.seconds() - 1)
        before = len(host.broker.sent)
        host.clock.advance(1)
        fired.append(len(host.broker.sent) - before)
        if len(host.broker.sent) > before:
            request, reply, _ = host.broker.sent[-1]
            rid = request.request.request_id
            assert (rid.originator, rid.target, rid.counter) == (SUPPLIER, ESME, int(at * 1000))
            assert request.request.definition.variant == "4.6.1" and request.role == "IS"
            reply(codes.SUCCESS, b"\xdd\x00")
    assert fired == [1, 1, 1, 0]
    # each execution's response went to the User, as a request of its own
    scheduled = [o for o in host.outcomes if o.schedule_id == sid]
    assert [o.outcome for o in scheduled] == [OK] * 3
    assert [parse_response(x).response_code for u, x in host.delivered if u == SUPPLIER][-3:] == ["I0"] * 3
    assert len(host.schedules) == 0 and _sample(host, "smets_dcc_schedules") == 0


def test_schedules_are_read_and_deleted_by_their_user_only(host):
    host.handle("D", create_schedule(5000, "2025-11-25", "01:30:00", frequency="Weekly"))
    host.clock.advance(0)
    sid = _schedule_id(host, 5000)
    assert host.handle("D", schedule_request("5.2", 5001, sid)).code == "I99"
    host.clock.advance(0)
    [xml] = host.responses(_rid(SUPPLIER, 5001, "90-B3-D5-1F-30-00-00-02"))
    [entry] = parse_response(xml).body.findall(f"{{{SR}}}DSPSchedule")
    assert (entry.findtext(f"{{{SR}}}DeviceID"), entry.findtext(f"{{{SR}}}RepeatFrequency"),
            entry.findtext(f"{{{SR}}}NextExecutionDateTime")) == (ESME_TEXT, "Weekly", "2025-11-25T01:30:00Z")
    # another User cannot see or delete it
    assert host.handle("D", schedule_request("5.2", 7000, sid, NETWORK_OPERATOR)).code == "E13"
    assert host.handle("D", schedule_request("5.3", 7001, sid, NETWORK_OPERATOR)).code == "E13"
    # deleted: it never fires
    assert host.handle("D", schedule_request("5.3", 5002, sid)).code == "I99"
    host.clock.advance(30 * 86400)
    assert host.broker.sent == [] and len(host.schedules) == 0
    assert host.handle("D", schedule_request("5.3", 5003, sid)).code == "E13"


def test_a_schedule_of_a_user_no_longer_registered_fails_at_its_execution(host):
    host.handle("D", create_schedule(5000, "2025-11-25", "01:30:00"))
    host.clock.advance(0)
    host.inventory.device(ESME).registration["IS"] = SUPPLIER_2      # a change of supplier
    host.clock.advance(datetime.datetime(2025, 11, 25, 1, 30, tzinfo=datetime.timezone.utc).timestamp() - NOW)
    assert host.broker.sent == []
    [outcome] = [o for o in host.outcomes if o.schedule_id is not None]
    assert (outcome.outcome, outcome.code) == (FAILED, "E9")
    assert parse_response(host.delivered[-1][1]).response_code == "E9"


def test_dcc_templates_for_read_and_delete_schedule_are_understood(host):
    for name in ("5.2_READ_SCHEDULE_REQUEST_DUIS.XML", "5.3_DELETE_SCHEDULE_REQUEST_DUIS.XML"):
        # DSPScheduleID 123 does not exist: the request is understood, the id refused
        assert host.handle("D", signed(template(name))).code == "E13"


@pytest.mark.parametrize("kwargs, code", [
    (dict(variant="11.2"), "E13"),                       # Read Firmware Version: not DCC schedulable
    (dict(variant="9.99"), "E4"),                        # no such variant
    (dict(frequency="Hourly"), "E1"),
    (dict(start="2025-11-01", end="2025-11-02"), "E13"),  # over before it starts
    (dict(device="00-DB-12-34-56-78-90-FF"), "E8"),      # not in the inventory
    (dict(user=SUPPLIER_2), "E9"),                       # a supplier, but not this meter's
])
def test_bad_schedules_get_their_codes(host, kwargs, code):
    kwargs.setdefault("start", "2025-11-25")
    args = dict(counter=6000, at="01:30:00")
    args.update(kwargs)
    assert host.handle("D", create_schedule(**args)).code == code


def test_a_user_without_the_scheduled_requests_role_gets_e6(host):
    # 4.6.1 is for IS and GS: the network operator (ED, GT) may not schedule it
    answer = host.handle("D", create_schedule(6000, "2025-11-25", "01:30:00", user=NETWORK_OPERATOR))
    assert answer.code == "E6"


# ---------------------------------------------------------------- Prometheus over real HTTP


@defer.inlineCallbacks
def _http(method: bytes, url: str, body: bytes | None = None):
    producer = FileBodyProducer(BytesIO(body)) if body is not None else None
    reply = yield Agent(reactor).request(method, url.encode(), Headers({b"content-type": [b"application/xml"]}),
                                         producer)
    data = yield readBody(reply)
    return reply.code, data


@pytest_twisted.inlineCallbacks
def test_metrics_are_scraped_over_http_and_parsed_by_prometheus_client():
    require_shared()
    config = load_dcc_config(load_topology(str(RTDS_HOME), 1))
    config = type(config)(config.inventory, config.keystore, config.generated_keys,
                          Thresholds(services={"4.16": 1}))
    metrics = Metrics()
    host = build_host(config, reactor, metrics=metrics)
    port = reactor.listenTCP(0, site(host, metrics), interface="127.0.0.1")
    url = f"http://127.0.0.1:{port.getHost().port}"
    try:
        status, _ = yield _http(b"POST", url + "/api/v1/serviceD", signed(template("8.2_READ_INVENTORY_REQUEST_DUIS.XML")))
        assert status == 200
        status, data = yield _http(b"POST", url + "/api/v1/serviceS", ecs17c(1200))
        assert parse_response(data).response_code == "I99"
        status, data = yield _http(b"POST", url + "/api/v1/serviceS", ecs17c(1201))
        assert (status, parse_response(data).response_code) == (200, "I98")
        # the operator's view of the holding queue, and a rejection
        status, data = yield _http(b"GET", url + "/api/v1/quarantine")
        [held] = etree.fromstring(data).findall("Request")
        assert (status, held.get("RequestID"), held.get("Limit")) == (200, _rid(NETWORK_OPERATOR, 1201), "1")
        status, _ = yield _http(b"POST", url + "/api/v1/quarantine/reject?RequestID=" + held.get("RequestID"))
        assert status == 200
        status, _ = yield _http(b"POST", url + "/api/v1/quarantine/release?RequestID=" + held.get("RequestID"))
        assert status == 404
        status, data = yield _http(b"GET", url + "/api/v1/response?RequestID=" + held.get("RequestID"))
        assert parse_response(data).response_code == "E16"
        from twisted.internet.task import deferLater
        yield deferLater(reactor, 0.05, lambda: None)       # the 8.2 response is made on the next turn
        status, text = yield _http(b"GET", url + "/metrics")
    finally:
        yield port.stopListening()
    assert status == 200
    families = {f.name: f for f in text_string_to_metric_families(text.decode("utf-8"))}
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value for f in families.values() for s in f.samples}
    assert samples[("smets_dcc_requests_total", (("outcome", "ok"), ("service_reference", "8.2")))] == 1
    assert samples[("smets_dcc_requests_total", (("outcome", "failed"), ("service_reference", "4.16")))] == 1
    assert samples[("smets_dcc_quarantine_total", (("action", "held"),))] == 1
    assert samples[("smets_dcc_quarantine_total", (("action", "rejected"),))] == 1
    # the ECS17c command waits in its CSP's queue (no WAN here)
    csp = config.inventory.device(ESME).csp_region
    assert samples[("smets_dcc_queue_depth", (("csp", csp),))] == 1
    # the histogram has the target response times among its buckets
    buckets = {dict(s.labels)["le"] for s in families["smets_dcc_response_seconds"].samples
               if s.name.endswith("_bucket")}
    times = host.broker.times
    assert {f"{t:.1f}" for t in (times.non_critical, times.critical, times.sleepy)} <= buckets
    assert families["smets_dcc_response_seconds"].type == "histogram"
    assert samples[("smets_dcc_response_seconds_count", (("target", "non_device"),))] == 1
    assert samples[("smets_duis_answers_total", (("code", "I98"), ("interface", "S")))] == 1
    for name, family in families.items():
        if family.type == "counter":
            assert all(s.name.endswith(("_total", "_created")) for s in family.samples), name


# ---------------------------------------------------------------- end to end, in virtual time


def _holds(obj, needle: bytes, seen: set, skip=("inventory", "host", "clock", "wan", "transformer", "metrics")) -> bool:
    """Whether C{needle} is inside any bytes reachable from C{obj} (the broker's own data)."""
    from collections import deque
    if id(obj) in seen:
        return False
    seen.add(id(obj))
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return needle in bytes(obj)
    if isinstance(obj, (str, int, float, bool, type(None))) or callable(obj) and not hasattr(obj, "__slots__"):
        return False
    if isinstance(obj, dict):
        return any(_holds(k, needle, seen) or _holds(v, needle, seen) for k, v in obj.items())
    if isinstance(obj, (list, tuple, set, frozenset, deque)):
        return any(_holds(v, needle, seen) for v in obj)
    names = list(getattr(obj, "__dict__", {}))
    for cls in type(obj).__mro__:
        names += [n for n in getattr(cls, "__slots__", ()) if isinstance(n, str)]
    return any(_holds(getattr(obj, n, None), needle, seen) for n in names if n not in skip)


def _estate():
    from tests.test_e2e_estate import _estate_with_devices
    est = _estate_with_devices(RTDS_HOME)
    est.clock.run_until(est.clock.seconds() + 30)       # the HAN forms, the meters open their tunnels
    est.outcomes = []
    est.dcc.add_outcome_listener(est.outcomes.append)
    return est


def _verified_ecs21a_response(payload: bytes) -> None:
    msg = decode_message(payload, GbcsCrypto(keystore()))
    gs = msg.frame.signing
    assert (gs.originator, gs.recipient, msg.verification.mac) == (ESME, SUPPLIER, "verified")


def test_future_dated_read_reaches_the_esme_at_its_time_and_the_broker_keeps_nothing_after():
    require_shared()
    est = _estate()
    try:
        start = est.clock.seconds()
        rid = _rid(SUPPLIER, 1003)
        assert est.dcc.handle("S", ecs21a(1003, start + 3600)).code == "I99"
        est.clock.run_until(start + 3590)
        assert est.dcc.responses(rid) in (None, []) and est.dcc.broker.acb.in_flight == 0
        est.clock.run_until(start + 3600)
        [sent] = est.dcc.broker.acb._sent.values()          # on its way: the broker holds the command
        assert _holds(est.dcc.broker, sent.command, set())
        est.clock.run_until(start + 3600 + 60)
        [xml] = est.dcc.responses(rid)
        response = parse_response(xml)
        assert response.response_code == "I0"
        _verified_ecs21a_response(response.gbcs_payload)
        [outcome] = est.outcomes
        assert (outcome.outcome, outcome.started_at) == (OK, start + 3600)
        assert outcome.finished_at - outcome.started_at < est.dcc.broker.times.non_critical
        # delivered: the ACB holds neither the command nor the meter's data any more
        broker = est.dcc.broker
        assert broker.acb.in_flight == 0 and len(broker.delivery) == 0 and broker._replies == {}
        assert not _holds(broker, response.gbcs_payload, set())
        assert est.dcc.open_requests == 0
    finally:
        est.close()


def test_a_dsp_schedule_executes_through_the_estate_and_its_response_reaches_the_user():
    require_shared()
    est = _estate()
    try:
        first = est.clock.seconds() + 300
        when = datetime.datetime.fromtimestamp(first, datetime.timezone.utc)
        assert est.dcc.handle("D", create_schedule(5000, when.date().isoformat(),
                                                   when.time().replace(microsecond=0).isoformat())).code == "I99"
        est.clock.run_until(first - 1)
        assert est.dcc.broker.acb.in_flight == 0
        est.clock.run_until(first + 60)
        executed = [o for o in est.outcomes if o.schedule_id is not None]
        assert [(o.outcome, o.started_at) for o in executed] == [(OK, float(int(first)))]
        [xml] = est.dcc.responses(executed[0].request_id)
        response = parse_response(xml)
        assert response.response_code == "I0" and response.response_id.endswith(f":{int(first) * 1000}")
        _verified_ecs21a_response(response.gbcs_payload)
        assert len(est.dcc.schedules) == 1                  # daily, no end: the next one is tomorrow
    finally:
        est.close()


# ---------------------------------------------------------------- future-dated alerts correlated to their request


def test_a_device_dated_commands_execution_alert_comes_back_with_its_request_id(tmp_path):
    """ECS01c future-dated (the DCC's template, critical): pre-command, the User's signature,
    sent; the meter's 8F66 alert at execution time (the RTDS alert, which names the command by
    message code and originator counter) reaches the User as a FutureDatedDeviceAlertMessage
    with the RequestID of that request; an ordinary alert stays a DeviceAlertMessage."""
    require_shared()
    from emulator import duis_cli
    from tests.duis_helpers import KEYSTORE, rtds_hex
    config = load_dcc_config(load_topology(str(RTDS_HOME), 1))
    clock = Clock()
    clock.advance(NOW)
    dcc = build_host(config, clock)
    answer = dcc.handle("T", signed(template("ECS01c_1.1.2_FUTURE_DATED_SUCCESS_REQUEST_DUIS.XML")))
    assert answer.code == "I0"
    (tmp_path / "pre.xml").write_bytes(answer.body)
    assert duis_cli.main(["sign", str(tmp_path / "pre.xml"), "--keys", str(KEYSTORE),
                          "--out", str(tmp_path / "signed.xml")]) == 0
    assert dcc.handle("S", (tmp_path / "signed.xml").read_bytes()).code == "I99"
    alert = rtds_hex("1.1.2_ECS01c", "ECS01c_1.1.2_8F66_FUTURE_DATED_SUCCESS_ALERT_PRICE_MATRIX_GBCS.HEX")
    assert dcc.broker.from_wan(alert) == "alert"
    xml = dcc.alerts(SUPPLIER, 0)
    doc = parse_response(xml)
    assert doc.document.find(f"{{{SR}}}Body/{{{SR}}}FutureDatedDeviceAlertMessage") is not None
    assert (doc.request_id, doc.gbcs_payload) == (_rid(SUPPLIER, 1003), alert)
    # the correlation is used up: the same alert again has no request to name
    dcc.broker.from_wan(alert)
    assert parse_response(dcc.alerts(SUPPLIER, 1)).request_id is None
    # an alert that is not a future-dated execution's
    other = rtds_hex("NA_MIIWA-DLMS", "MIIWA-DLMS_NA_81A0_ALERT_GBCS.HEX")
    dcc.broker.from_wan(other)
    plain = parse_response(dcc.alerts(SUPPLIER, 2))
    assert plain.document.find(f"{{{SR}}}Body/{{{SR}}}DeviceAlertMessage") is not None and plain.request_id is None


def test_ccs01_at_the_broker_takes_the_added_devices_type_from_the_inventory():
    """CCS01 puts the added device's GBCS type in the CHF's log: the ACB reads it from the
    inventory (the ESME ...A0 of the RTDS home), so the shared template transforms as sent."""
    require_shared()
    from emulator.dcc.acb import AcbBroker
    from protocols.acb import Transformer
    from protocols.duis.request import parse_request
    from protocols.gbcs import GbcsCrypto

    config = load_dcc_config(load_topology(str(RTDS_HOME), 1))
    clock = Clock()
    clock.advance(NOW)
    broker = AcbBroker(config.inventory, Transformer(GbcsCrypto(config.keystore, config.inventory.dcc_id), clock),
                       clock)

    class Accepted:
        request = parse_request(template("CCS01_8.11_SUCCESS_REQUEST_DUIS.XML"))
        device = config.inventory.device(0x00DB1234567890A2)

    transform_request = broker._request(Accepted)
    types = transform_request.device_options["device_types"]
    assert types.get(0x00DB1234567890A0) == "ESME" and types.get(0x1234) is None
    result = broker.acb.transformer.transform(transform_request)
    assert result.use_case == "CCS01" and result.message_code == 0x0001   # CCS01 Add Device to CHF device log
