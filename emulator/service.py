"""The twistd service maker: C{twistd -n smets --topology FILE [options]}.

Builds a named C{MultiService}: the emulation itself (every home of the topology on
its own HAN medium) and, with C{--metrics-port}, a C{/metrics} web server on loopback.

With C{--virtual} the run happens in virtual time: a heap-based scheduler
(L{emulator.clock.VirtualClock}) jumps from event to event as fast as the CPU allows,
in slices between which the real reactor stays responsive (metrics, signals); when the
C{--duration} is reached the capture is closed and the process exits 0 (1 if any scheduled
call raised: that is a bug, and its traceback is in the log).  Without it the same scheduler
is paced by the reactor's clock, in real time, until stopped (or for C{--duration} seconds).
"""

from __future__ import annotations

import os
import sys
import time

from twisted.application import service
from twisted.logger import Logger
from twisted.python import usage

from emulator.topology import TopologyError, load_topology

log = Logger(namespace="smets")


class Options(usage.Options):
    """Command line of C{twistd smets}."""

    synopsis = "--topology FILE [--virtual] [--duration SECONDS] [--seed N] [--pcap FILE] [--keys FILE] " \
               "[--metrics-port PORT] [--duis-port PORT [--duis-keys DIR]]"
    longdesc = ("Emulate a GB smart-metering estate (SMETS2 / GBCS): homes with a Communications Hub, "
                "meters and displays on an IEEE 802.15.4 / ZigBee HAN.  Captures are pcapng files that "
                "Wireshark decodes; --keys writes the zigbee_pc_keys table that lets it decrypt them.")
    optFlags = [
        ["virtual", None, "run in fast deterministic virtual time, then exit"],
    ]
    optParameters = [
        ["topology", "t", None, "topology YAML file (see topologies/)"],
        ["duration", "d", None, "seconds of emulated time to run (required with --virtual)", float],
        ["seed", "s", 1, "run seed: every random choice derives from it", int],
        ["pcap", "p", None, "write every frame to this pcapng file"],
        ["keys", "k", None, "write the Wireshark zigbee_pc_keys table to this file"],
        ["metrics-port", "m", None, "serve Prometheus /metrics on 127.0.0.1:PORT", int],
        ["duis-port", None, None, "serve the DUIS service-user interface (/api/v1/serviceS|T|D) on "
                                  "127.0.0.1:PORT; Users, keys and inventory from the topology's dcc: section",
         int],
        ["duis-keys", None, None, "with --duis-port and a topology whose dcc: section names no key store: "
                                  "write the DS keys made from the seed (DCC and Users) to this directory, "
                                  "for smets duis sign --keys DIR"],
    ]

    def postOptions(self) -> None:
        if not self["topology"]:
            raise usage.UsageError("--topology FILE is required")
        if self["virtual"] and self["duration"] is None:
            raise usage.UsageError("--virtual needs --duration SECONDS")
        if self["duration"] is not None and self["duration"] <= 0:
            raise usage.UsageError(f"--duration must be positive, got {self['duration']}")
        if self["metrics-port"] is not None and not 0 <= self["metrics-port"] <= 65535:
            raise usage.UsageError(f"--metrics-port must be 0-65535, got {self['metrics-port']}")
        if self["duis-port"] is not None and not 0 <= self["duis-port"] <= 65535:
            raise usage.UsageError(f"--duis-port must be 0-65535, got {self['duis-port']}")
        try:
            self["parsed-topology"] = load_topology(self["topology"], self["seed"])
            if self["duis-port"] is not None:
                from emulator.dcc.config import load_dcc_config
                self["dcc-config"] = load_dcc_config(self["parsed-topology"], self["seed"])
        except TopologyError as e:
            raise usage.UsageError(str(e)) from None
        if self["duis-keys"] is not None:
            self._write_duis_keys(self["duis-keys"])

    def _write_duis_keys(self, directory: str) -> None:
        if self["duis-port"] is None:
            raise usage.UsageError("--duis-keys needs --duis-port")
        if not self["dcc-config"].generated_keys:
            raise usage.UsageError("--duis-keys: the topology's dcc.keys already names the key store")
        try:
            self["dcc-config"].keystore.save(directory)
        except OSError as e:
            raise usage.UsageError(f"--duis-keys {directory}: {e.strerror or e}") from None


class EmulationService(service.Service):
    """Runs one topology: builds the estate at start, closes captures at stop."""

    name = "emulation"

    def __init__(self, options: Options, reactor) -> None:
        self._options = options
        self._reactor = reactor
        self._estate = None
        self._pacer = None
        self._flushed = 0.0
        self.exit_code = 0
        from emulator.clock import VirtualClock
        # Real time runs the same scheduler, slaved to the reactor's clock (L{_pace}): the
        # sub-millisecond MAC timings (ack turnaround, ack wait, CSMA backoffs) then keep their
        # exact order, which chains of reactor timers firing late would not.
        topology = options["parsed-topology"]
        self.clock = VirtualClock(start=topology.start_time if options["virtual"] else reactor.seconds())
        #: the DCC host (with --duis-port): on the same clock, its ACB wired to the hubs at start
        self.dcc_host = None
        self.wan = None

    def startService(self) -> None:  # noqa: N802
        super().startService()
        self._reactor.callWhenRunning(self._begin)

    def _begin(self) -> None:
        from emulator.estate import Estate
        from emulator.metrics import Metrics

        opts = self._options
        topology = opts["parsed-topology"]
        virtual = bool(opts["virtual"])
        clock = self.clock
        metrics = self._options.get("metrics-object") or Metrics()
        self._estate = Estate(topology, clock, opts["seed"], metrics=metrics,
                              pcap_path=opts["pcap"], keys_path=opts["keys"])
        if self.dcc_host is not None:
            from emulator.dcc.estate import EstateWan
            self.wan = EstateWan(self.dcc_host.broker, self._estate, clock, opts["seed"])
        self._estate.start()
        duration = opts["duration"]
        log.info("smets: topology {name!r} ({homes} home(s), {devices} device(s)), seed {seed}, "
                 "{mode} time{dur}",
                 name=topology.name, homes=len(topology.homes),
                 devices=sum(len(h.devices) for h in topology.homes), seed=opts["seed"],
                 mode="virtual" if virtual else "real",
                 dur=f", {duration:g} s" if duration else ", until stopped")
        if virtual:
            self._run_virtual(clock, clock.seconds() + duration, clock.seconds(), time.monotonic())
        else:
            self._pace(clock)
            if duration:
                self._reactor.callLater(duration, self._finish)

    def _run_virtual(self, clock, end: float, begin: float, wall_start: float, last_report=None) -> None:
        # One slice of emulated time, then give the real reactor a turn.
        slice_end = min(end, clock.seconds() + 300.0)
        try:
            clock.run_until(slice_end)
        except Exception:
            log.failure("smets: the emulation failed")
            self.exit_code = 1
            self._finish()
            return
        self._estate.metrics.virtual_seconds.set(clock.seconds() - begin)
        now_wall = time.monotonic()
        if last_report is None or now_wall - last_report >= 2.0 or slice_end >= end:
            done = (clock.seconds() - begin) / (end - begin)
            log.info("smets: {pct:5.1f}% of {total:g} s emulated, {rate:,.0f} virtual s per wall s, "
                     "{events} events pending",
                     pct=100 * done, total=end - begin,
                     rate=(clock.seconds() - begin) / max(now_wall - wall_start, 1e-9),
                     events=clock.pending_count())
            last_report = now_wall
        if slice_end >= end:
            self._finish()
        else:
            self._reactor.callLater(0, self._run_virtual, clock, end, begin, wall_start, last_report)

    def _pace(self, clock) -> None:
        """Real-time mode: run the emulation up to the reactor's now, then sleep until the
        next event is due (at most 0.1 s, so the run stays responsive to new work)."""
        self._pacer = None
        if self._estate is None or self._estate.closed:
            return
        now = self._reactor.seconds()
        if now > clock.seconds():
            clock.run_until(now)
            self._estate.metrics.virtual_seconds.set(clock.seconds() - self._estate.start_time)
        if self._estate.capture is not None and now - self._flushed >= 1.0:
            self._estate.capture.flush()  # a live Wireshark sees frames within a second
            self._flushed = now
        nxt = clock.next_time()
        wait = 0.1 if nxt is None else min(0.1, max(0.0, nxt - self._reactor.seconds()))
        self._pacer = self._reactor.callLater(wait, self._pace, clock)

    def _finish(self) -> None:
        if self._pacer is not None and self._pacer.active():
            self._pacer.cancel()
        self._pacer = None
        if self._estate is not None:
            summary = self._estate.close()
            for line in summary:
                log.info("smets: {line}", line=line)
            if self._estate.errors:
                log.error("smets: {n} scheduled call(s) raised during the run (see the tracebacks above)",
                          n=self._estate.errors)
                self.exit_code = 1
        code = self.exit_code
        if code:
            def _exit() -> None:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
            self._reactor.addSystemEventTrigger("after", "shutdown", _exit)
        if self._reactor.running:
            self._reactor.stop()

    def stopService(self) -> None:  # noqa: N802
        if self._estate is not None and not self._estate.closed:
            self._estate.close()
        return super().stopService()


def makeService(options: Options, reactor=None) -> service.IService:  # noqa: N802 (twistd's name)
    """Build the service tree for C{options} (twistd calls this after choosing the reactor)."""
    if reactor is None:
        from twisted.internet import reactor as _reactor
        reactor = _reactor
    top = service.MultiService()
    emulation = EmulationService(options, reactor)
    emulation.setServiceParent(top)
    if options["metrics-port"] is not None:
        from twisted.application.internet import StreamServerEndpointService
        from twisted.internet.endpoints import TCP4ServerEndpoint
        from twisted.web.server import Site

        from emulator.metrics import Metrics, metrics_resource

        metrics = Metrics()
        options["metrics-object"] = metrics
        endpoint = TCP4ServerEndpoint(reactor, options["metrics-port"], interface="127.0.0.1")
        web = StreamServerEndpointService(endpoint, Site(metrics_resource(metrics)))
        web.setName("metrics")
        web.setServiceParent(top)
    if options["duis-port"] is not None:
        from twisted.application.internet import StreamServerEndpointService
        from twisted.internet.endpoints import TCP4ServerEndpoint

        from emulator.dcc import build_host
        from emulator.dcc.web import ResponseSender, site

        # The DCC runs on the emulation's clock (its ACB talks to the hubs of the estate); its
        # Users are outside: answers and deliveries go over real HTTP.
        host = build_host(options["dcc-config"], emulation.clock, deliver=ResponseSender(reactor),
                          metrics=options.get("metrics-object"), seed=options["seed"])
        emulation.dcc_host = host
        endpoint = TCP4ServerEndpoint(reactor, options["duis-port"], interface="127.0.0.1")
        duis = StreamServerEndpointService(endpoint, site(host))
        duis.setName("duis")
        duis.setServiceParent(top)
    return top
