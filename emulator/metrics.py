"""Prometheus metrics of one emulator process, on one injected C{CollectorRegistry}.

Names carry units (C{_total}); labels have few values (node kind, medium kind, reason,
outcome), never device ids (STYLE.md, 11).  The HTTP resource renders on the reactor
thread with C{generate_latest}, so collection never races the emulation.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST


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


def metrics_resource(metrics: Metrics):
    """A C{twisted.web} resource serving C{/metrics} on the reactor thread."""
    from twisted.web.resource import Resource

    class _MetricsPage(Resource):
        isLeaf = True

        def render_GET(self, request):  # noqa: N802 (Twisted's name)
            request.setHeader(b"Content-Type", CONTENT_TYPE_LATEST.encode("ascii"))
            return metrics.render()

    root = Resource()
    root.putChild(b"metrics", _MetricsPage())
    return root
