"""Prometheus metrics of one emulator process, on one injected C{CollectorRegistry}.

Names carry units (C{_total}); labels have few values (node kind, medium kind, reason,
outcome), never device ids (STYLE.md, 11).  The HTTP resource renders on the reactor
thread with C{generate_latest}, so collection never races the emulation.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST


#: buckets (seconds) of the DCC's response-time histogram: they include the ACB's target
#: response times (L{emulator.dcc.acb.ResponseTimes}: 30 s on-demand non-critical, 60 s critical,
#: 3600 s for a sleepy gas meter) so the share of requests within target is a bucket ratio
DCC_RESPONSE_BUCKETS = (0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0,
                        7200.0, 21600.0, 86400.0)


class Metrics:
    """The metric families of the emulator; one instance per process (or per test)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.frames_sent = Counter(
            "smets_frames_sent_total", "Frames a node put on a medium",
            ["medium", "node_kind"], registry=r)
        self.frames_received = Counter(
            "smets_frames_received_total", "Frames a node accepted from a medium",
            ["medium", "node_kind"], registry=r)
        self.frames_dropped = Counter(
            "smets_frames_dropped_total",
            "Frames dropped by a medium or a node, by reason (loss, corrupt, bad_fcs, malformed, mic, replay...)",
            ["medium", "reason"], registry=r)
        self.han_rejections = Counter(
            "smets_han_rejections_total",
            "HAN frames a node refused on security grounds (no link key, forged claim, bounded table...), "
            "by node kind and reason",
            ["node_kind", "reason"], registry=r)
        self.mac_retries = Counter(
            "smets_mac_retries_total", "IEEE 802.15.4 retransmissions after a missing MAC ack",
            ["node_kind"], registry=r)
        self.joins = Counter(
            "smets_joins_total", "HAN join attempts by outcome (joined, denied, key_failed, timeout)",
            ["node_kind", "outcome"], registry=r)
        self.key_establishments = Counter(
            "smets_key_establishments_total",
            "CBKE runs by outcome (started, established, a Terminate status, timeout, terminated-by-peer)",
            ["node_kind", "outcome"], registry=r)
        self.devices_up = Gauge(
            "smets_devices_up", "Devices currently joined and running", ["node_kind"], registry=r)
        self.zcl_requests = Counter(
            "smets_zcl_requests_total", "ZCL requests made by a client device, by outcome (answered, timeout)",
            ["node_kind", "outcome"], registry=r)
        self.duis_answers = Counter(
            "smets_duis_answers_total",
            "DUIS answers of the DCC by interface (S, T, D; async responses, alerts) and response code",
            ["interface", "code"], registry=r)
        # the DCC side (emulator.dcc): labels are service references (from the DUIS request
        # matrix), outcomes, CSP regions, response-time classes: a few values each
        self.dcc_requests = Counter(
            "smets_dcc_requests_total",
            "DUIS requests the DCC accepted, by service reference and how they ended (ok, failed, timed_out)",
            ["service_reference", "outcome"], registry=r)
        self.dcc_response_seconds = Histogram(
            "smets_dcc_response_seconds",
            "Time from a request's dispatch (acceptance, or its execution time when future-dated or scheduled) "
            "to its final DUIS response, by target class (non_critical, critical, sleepy, non_device)",
            ["target"], buckets=DCC_RESPONSE_BUCKETS, registry=r)
        self.dcc_queue_depth = Gauge(
            "smets_dcc_queue_depth", "Commands in the ACB's delivery queue per CSP (waiting, sent or backing off)",
            ["csp"], registry=r)
        self.dcc_held = Gauge(
            "smets_dcc_held_requests", "Requests the ACB holds, by reason (quarantined, future_dated)",
            ["reason"], registry=r)
        self.dcc_quarantine = Counter(
            "smets_dcc_quarantine_total",
            "Anomaly detection: requests quarantined (held) and what became of them (released, rejected, expired)",
            ["action"], registry=r)
        self.dcc_schedules = Gauge("smets_dcc_schedules", "DSP schedules the DCC holds", registry=r)
        self.dcc_alerts = Counter(
            "smets_dcc_alerts_total",
            "Device alerts at the DCC by the party they are for (supplier, network_operator) and outcome "
            "(delivered: to each entitled User; unrouted: no entitled User)",
            ["owner", "outcome"], registry=r)
        self.insider_frames = Counter(
            "smets_insider_frames_total",
            "Frames forged by INSIDER nodes by attack class and what they caused (sent, answered, rejected, "
            "state_changed, error, no_effect, not_forgeable, channel_busy)",
            ["attack_class", "outcome"], registry=r)
        self.virtual_seconds = Gauge(
            "smets_virtual_time_seconds", "Emulated time elapsed since the start of the run", registry=r)

    def render(self) -> bytes:
        """The text exposition format of every metric."""
        return generate_latest(self.registry)


def metrics_page(metrics: Metrics):
    """The C{twisted.web} leaf resource rendering C{metrics} (to mount at C{/metrics})."""
    from twisted.web.resource import Resource

    class _MetricsPage(Resource):
        isLeaf = True

        def render_GET(self, request):  # noqa: N802 (Twisted's name)
            request.setHeader(b"Content-Type", CONTENT_TYPE_LATEST.encode("ascii"))
            return metrics.render()

    return _MetricsPage()


def metrics_resource(metrics: Metrics):
    """A C{twisted.web} resource serving C{/metrics} on the reactor thread."""
    from twisted.web.resource import Resource

    root = Resource()
    root.putChild(b"metrics", metrics_page(metrics))
    return root
