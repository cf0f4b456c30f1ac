"""The twistd service maker: C{twistd -n smets --topology FILE [options]}.

Builds a named C{MultiService}: the emulation itself (every home of the topology on
its own HAN medium) and, with C{--metrics-port}, a C{/metrics} web server on loopback.

With C{--virtual} the run happens in virtual time: a heap-based scheduler
(L{emulator.clock.VirtualClock}) jumps from event to event as fast as the CPU allows,
in slices between which the real reactor stays responsive (metrics, signals); when the
C{--duration} is reached the capture is closed and the process exits 0 (1 if any scheduled
call raised: that is a bug, and its traceback is in the log).  Without it the same scheduler
is paced by the reactor's clock, in real time, until stopped (or for C{--duration} seconds),
with a progress line every C{--progress} seconds; Ctrl-C / SIGTERM close the capture and print
the same per-device summary.

Options are checked, their files opened and the metrics port bound while they are parsed: a
mistake is one line naming the option and exit status 2 before anything runs
(L{emulator.cli_errors}).  A run that fails (a scheduled call raised, the capture cannot be
written) exits 1 with the reason as its last line, and removes the twistd pid file it would
otherwise leave behind.
"""

from __future__ import annotations

import os
import sys
import time

from pathlib import Path

from twisted.application import service
from twisted.logger import Logger
from twisted.python import usage

from emulator.cli_errors import (EXIT_USAGE, UsageError, bind_tcp_port, check_finite_seconds, check_input_file,
                                 check_int, check_output_file, report)
from emulator.topology import TopologyError, load_topology

log = Logger(namespace="smets")


def _runner_name() -> str:
    """How the user started us: C{twistd}, C{twist}, or C{python -m twisted}."""
    argv0 = Path(sys.argv[0] if sys.argv and sys.argv[0] else "twistd")
    return f"python -m {argv0.parent.name}" if argv0.name == "__main__.py" else argv0.name


class Options(usage.Options):
    """Command line of C{twistd smets} (and C{twist smets}).

    Every value is checked while the options are parsed, and the files and the port the
    options name are opened / bound then: a mistake is one line naming the option and exit
    status 2 before anything runs (L{emulator.cli_errors}).
    """

    synopsis = "--topology FILE [--virtual] [--duration SECONDS] [--seed N] [--pcap FILE] [--keys FILE] " \
               "[--metrics-port PORT] [--progress SECONDS] [--duis-port PORT [--duis-keys DIR]] " \
               "[--tap-han HOME=IFNAME]... [--tap-wan CSP=IFNAME]..."
    longdesc = ("Emulate a GB smart-metering estate (SMETS2 / GBCS): homes with a Communications Hub, "
                "meters and displays on an IEEE 802.15.4 / ZigBee HAN.  Captures are pcapng files that "
                "Wireshark decodes; --keys writes the zigbee_pc_keys table that lets it decrypt them.")
    optFlags = [
        ["virtual", None, "run in fast deterministic virtual time, then exit"],
    ]
    optParameters = [
        ["topology", "t", None, "topology YAML file (see topologies/)"],
        ["duration", "d", None, "seconds of emulated time to run (required with --virtual)"],
        ["seed", "s", "1", "run seed (an integer): every random choice derives from it"],
        ["pcap", "p", None, "write every frame to this pcapng file"],
        ["keys", "k", None, "write the Wireshark zigbee_pc_keys table to this file"],
        ["metrics-port", "m", None, "serve Prometheus /metrics on 127.0.0.1:PORT (0: any free port)"],
        ["progress", None, "10", "seconds of wall-clock time between progress lines"],
        ["duis-port", None, None, "serve the DUIS service-user interface (/api/v1/serviceS|T|D) on "
                                  "127.0.0.1:PORT; Users, keys and inventory from the topology's dcc: section"],
        ["duis-keys", None, None, "with --duis-port and a topology whose dcc: section names no key store: "
                                  "write the DS keys made from the seed (DCC and Users) to this directory, "
                                  "for smets duis sign --keys DIR"],
    ]

    def __init__(self) -> None:
        super().__init__()
        self["tap-han"] = []
        self["tap-wan"] = []

    def _tap_option(self, option: str, what: str, value: str) -> None:
        name, sep, ifname = value.partition("=")
        if not sep or not name or not ifname:
            raise UsageError(f"--{option}", f"expects {what}=IFNAME, got {value!r}")
        from tap.linux import valid_ifname
        if not valid_ifname(ifname):
            raise UsageError(f"--{option}", f"{ifname!r} is not a valid interface name (1-15 characters, "
                                            f"no '/', ':' or spaces)")
        self[option].append((name, ifname))

    def opt_tap_han(self, value: str) -> None:
        self._tap_option("tap-han", "HOME", value)

    opt_tap_han.__doc__ = ("HOME=IFNAME: bridge the home's HAN to TAP interface IFNAME as ZEP v2 on UDP 17754, "
                           "both ways (repeatable; real time; needs root or CAP_NET_ADMIN)")

    def opt_tap_wan(self, value: str) -> None:
        self._tap_option("tap-wan", "CSP", value)

    opt_tap_wan.__doc__ = ("CSP=IFNAME: put that CSP's SMWAN traffic on TAP interface IFNAME as Ethernet/IPv4/TCP "
                           "(repeatable; real time; with --duis-port; needs root or CAP_NET_ADMIN)")

    def opt_version(self) -> None:
        """Print the emulator's version and exit."""
        from emulator.cli import version
        print(f"smets {version()}")
        raise SystemExit(0)

    def parseOptions(self, options=None) -> None:  # noqa: N802 (Twisted's name)
        """Parse; under a runner (C{twistd} / C{twist}) a mistake is one line and exit status 2.

        Called directly (no parent runner: tests, embedding) the L{usage.UsageError} propagates.
        """
        try:
            super().parseOptions(options)
        except usage.UsageError as e:
            self.release()
            if self.parent is None:
                raise
            report(f"{_runner_name()} smets", str(e))
            raise SystemExit(EXIT_USAGE) from None

    def postOptions(self) -> None:  # noqa: N802 (Twisted's name)
        if not self["topology"]:
            raise UsageError("--topology", "a topology file is required (e.g. topologies/single-home.yaml)")
        if self["duration"] is not None:
            self["duration"] = check_finite_seconds("--duration", self["duration"])
        elif self["virtual"]:
            raise UsageError("--duration", "is required with --virtual (seconds of emulated time)")
        self["seed"] = check_int("--seed", self["seed"])
        self["progress"] = check_finite_seconds("--progress", self["progress"])
        if self["metrics-port"] is not None:
            self["metrics-port"] = check_int("--metrics-port", self["metrics-port"], lo=0, hi=65535)
        if self["duis-port"] is not None:
            self["duis-port"] = check_int("--duis-port", self["duis-port"], lo=0, hi=65535)
        elif self["duis-keys"] is not None:
            raise UsageError("--duis-keys", "needs --duis-port")
        check_input_file("--topology", self["topology"])
        try:
            self["parsed-topology"] = load_topology(self["topology"], self["seed"])
            if self["duis-port"] is not None:
                from emulator.dcc.config import load_dcc_config
                self["dcc-config"] = load_dcc_config(self["parsed-topology"], self["seed"])
        except TopologyError as e:
            raise UsageError("--topology", str(e)) from None
        if self["tap-han"] or self["tap-wan"]:
            self._check_taps()
        if self["duis-keys"] is not None:
            self._write_duis_keys(self["duis-keys"])
        # the twistd pid file (if any), removed by a run that ends with a non-zero status
        parent_pidfile = self.parent.get("pidfile") if self.parent is not None else None
        self["runner-pidfile"] = os.path.abspath(parent_pidfile) if parent_pidfile else None
        # resources last, so that a mistake above leaves no file truncated and no port bound
        if self["metrics-port"] is not None:
            self["metrics-socket"] = bind_tcp_port("--metrics-port", self["metrics-port"])
        if self["duis-port"] is not None:
            self["duis-socket"] = bind_tcp_port("--duis-port", self["duis-port"])
        if self["pcap"] is not None:
            self["pcap-file"] = check_output_file("--pcap", self["pcap"], "wb")
        if self["keys"] is not None:
            self["keys-file"] = check_output_file("--keys", self["keys"], "w", encoding="ascii")

    def _check_taps(self) -> None:
        topology = self["parsed-topology"]
        given = [(option, self[option]) for option in ("tap-han", "tap-wan") if self[option]]
        if self["tap-wan"] and self["duis-port"] is None:
            raise UsageError("--tap-wan", "needs --duis-port: the SMWAN runs between the DCC and the hubs")
        interfaces: list[str] = []
        for option, taps in given:
            if self["virtual"]:
                raise UsageError(f"--{option}", "needs real time: a TAP interface cannot follow --virtual")
            what, known = (("home", [h.name for h in topology.homes]) if option == "tap-han"
                           else ("CSP", list(topology.csps)))
            for name, _ in taps:
                if name not in known:
                    raise UsageError(f"--{option}", f"no {what} named {name!r} in the topology "
                                                    f"({what}s: {', '.join(known)})")
            names = [t[0] for t in taps]
            dup = sorted({n for n in names if names.count(n) > 1})
            if dup:
                raise UsageError(f"--{option}", f"{what} {dup[0]!r} given more than once")
            for _, ifname in taps:
                if ifname in interfaces:
                    raise UsageError(f"--{option}", f"interface {ifname!r} given more than once")
                interfaces.append(ifname)
        from tap.linux import tap_problem
        option = given[0][0]
        problem = tap_problem(f"--{option}")
        if problem:
            # the command line is right, the process lacks a privilege: still one line, exit 2
            raise UsageError(f"--{option}", problem.removeprefix(f"--{option}: "))

    def _write_duis_keys(self, directory: str) -> None:
        if not self["dcc-config"].generated_keys:
            raise UsageError("--duis-keys", "the topology's dcc.keys already names the key store")
        try:
            self["dcc-config"].keystore.save(directory)
        except OSError as e:
            raise UsageError("--duis-keys", f"{directory}: {e.strerror or e}") from None

    def release(self) -> None:
        """Close what option parsing opened (after a later option turned out to be wrong)."""
        for key in ("metrics-socket", "duis-socket", "pcap-file", "keys-file"):
            res = self.get(key)
            if res is not None:
                res.close()
                self[key] = None


def run_totals(metrics) -> dict[str, float]:
    """Whole-run figures for progress lines, read through the Prometheus registry."""
    want = {"smets_frames_sent_total": ("frames", None), "smets_joins_total": ("joins", ("outcome", "joined")),
            "smets_zcl_requests_total": ("reads answered", ("outcome", "answered"))}
    totals = {name: 0.0 for name, _ in want.values()}
    for family in metrics.registry.collect():
        for sample in family.samples:
            entry = want.get(sample.name)
            if entry is None:
                continue
            name, label = entry
            if label is None or sample.labels.get(label[0]) == label[1]:
                totals[name] += sample.value
    return totals


def _totals_text(metrics) -> str:
    return ", ".join(f"{name} {value:,.0f}" for name, value in run_totals(metrics).items())


class EmulationService(service.Service):
    """Runs one topology: builds the estate at start, closes captures at stop.

    However the run ends (its duration is over, a scheduled call raised, Ctrl-C or SIGTERM),
    the capture is closed and the per-device summary is logged once.
    """

    name = "emulation"

    def __init__(self, options: Options, reactor) -> None:
        self._options = options
        self._reactor = reactor
        self._estate = None
        self._pacer = None
        self._progress = None
        self._flushed = 0.0
        self._taps: list[tuple[str, object, object]] = []  # (interface, bridge, port)
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
        #: the first reason the run failed (printed as one line before the process exits 1)
        self.failure: str | None = None

    def startService(self) -> None:  # noqa: N802
        super().startService()
        self._reactor.callWhenRunning(self._begin)

    def _begin(self) -> None:
        try:
            self._start_estate()
        except Exception:
            log.failure("smets: the emulation could not start")
            self.fail("the emulation could not start (a bug: see the traceback in the log)")
            self._finish()

    def _start_estate(self) -> None:
        from emulator.estate import Estate
        from emulator.metrics import Metrics

        opts = self._options
        topology = opts["parsed-topology"]
        virtual = bool(opts["virtual"])
        clock = self.clock
        metrics = self._options.get("metrics-object") or Metrics()
        self._estate = Estate(topology, clock, opts["seed"], metrics=metrics,
                              pcap_path=None if opts.get("pcap-file") else opts["pcap"],
                              keys_path=None if opts.get("keys-file") else opts["keys"],
                              pcap_file=opts.get("pcap-file"), keys_file=opts.get("keys-file"))
        if self.dcc_host is not None:
            from emulator.dcc.devices import install_device_logic
            from emulator.dcc.estate import EstateWan
            wan_taps = self._open_wan_taps()
            if wan_taps is None:
                return
            self.wan = EstateWan(self.dcc_host.broker, self._estate, clock, opts["seed"], taps=wan_taps)
            # the devices answer with their GBCS logic, keyed like the DCC (its key store)
            install_device_logic(self._estate, opts["dcc-config"].keystore, opts["seed"])
        else:
            from emulator.dcc.devices import install_run_device_logic
            # every run's devices answer GBCS: keyed by their home's key store, else seeded
            install_run_device_logic(self._estate, topology, opts["seed"])
        self._estate.start()
        if opts["tap-han"] and not self._open_taps(clock):
            return
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
            self._progress = self._reactor.callLater(opts["progress"], self._report_progress, clock)
            if duration:
                self._reactor.callLater(duration, self._finish)

    def _open_taps(self, clock) -> bool:
        """Bridge each C{--tap-han} home to its TAP interface; on failure one line, exit 2."""
        from twisted.internet.error import CannotListenError

        from tap.han import HanZepBridge
        from tap.linux import open_error_hint, open_tap

        homes = {home.spec.name: home for home in self._estate.homes}
        dropped = self._estate.metrics.frames_dropped
        for home_name, ifname in self._options["tap-han"]:
            home = homes[home_name]
            ids = {dev.name: i + 1 for i, dev in enumerate(home.spec.devices)}
            bridges: list[HanZepBridge] = []

            def deliver(frame: bytes, bridges=bridges) -> None:
                self._catch_up(clock)  # inject at the reactor's now
                bridges[0].ethernet_received(frame)
                self._kick(clock)      # answers go out without waiting for the next pace

            try:
                port = open_tap(ifname, deliver, self._reactor)
            except (CannotListenError, OSError) as e:
                cause = getattr(e, "socketError", None) or e
                # one line (printed as the run ends), exit status 2: the environment, not a bug
                self.failure = (f"--tap-han {home_name}={ifname}: cannot open the TAP interface: {cause}"
                                f"{open_error_hint(cause)}")
                self.exit_code = 2
                self._finish()
                return False
            bridge = HanZepBridge(home.medium, port.write, device_ids=ids,
                                  on_drop=lambda reason: dropped.labels("tap", reason).inc())
            bridges.append(bridge)
            self._taps.append((ifname, bridge, port))
            log.info("smets: tap {ifname}: {home} HAN as {where}", ifname=ifname, home=home_name,
                     where=bridge.describe())
        return True

    def _open_wan_taps(self) -> dict | None:
        """Open each C{--tap-wan} CSP's TAP; the sinks by CSP, or None (one line, exit 2) on failure."""
        from twisted.internet.error import CannotListenError

        from tap.linux import open_error_hint, open_tap
        from tap.wan import WanTapSink

        sinks: dict[str, WanTapSink] = {}
        for csp, ifname in self._options["tap-wan"]:
            holder: list[WanTapSink] = []
            try:
                port = open_tap(ifname, lambda frame, holder=holder: holder[0].ethernet_received(frame), self._reactor)
            except (CannotListenError, OSError) as e:
                cause = getattr(e, "socketError", None) or e
                self.failure = f"--tap-wan {csp}={ifname}: cannot open the TAP interface: {cause}{open_error_hint(cause)}"
                self.exit_code = 2
                self._finish()
                return None
            holder.append(WanTapSink(port.write))
            sinks[csp] = holder[0]
            self._taps.append((ifname, holder[0], port))
            log.info("smets: tap {ifname}: the SMWAN of CSP {csp} as Ethernet/IPv4/TCP", ifname=ifname, csp=csp)
        return sinks

    def _catch_up(self, clock) -> None:
        now = self._reactor.seconds()
        if now > clock.seconds():
            clock.run_until(now)

    def _kick(self, clock) -> None:
        if self._pacer is not None and self._pacer.active():
            self._pacer.cancel()
            self._pacer = self._reactor.callLater(0, self._pace, clock)

    def _close_taps(self) -> None:
        taps, self._taps = self._taps, []
        for ifname, bridge, port in taps:
            log.info("smets: tap {ifname}: {summary}", ifname=ifname, summary=bridge.summary())
            port.stopListening()

    def _report_progress(self, clock) -> None:
        """Real-time mode: one progress line every C{--progress} seconds."""
        self._progress = None
        if self._estate is None or self._estate.closed:
            return
        log.info("smets: {elapsed:,.0f} s running: {totals}",
                 elapsed=clock.seconds() - self._estate.start_time, totals=_totals_text(self._estate.metrics))
        self._progress = self._reactor.callLater(self._options["progress"], self._report_progress, clock)

    def _run_virtual(self, clock, end: float, begin: float, wall_start: float, last_report=None) -> None:
        # One slice of emulated time, then give the real reactor a turn.
        if self._estate is None or self._estate.closed:
            return
        slice_end = min(end, clock.seconds() + 300.0)
        try:
            clock.run_until(slice_end)
        except Exception:
            log.failure("smets: the emulation failed")
            self.fail("the emulation failed (a bug: see the traceback in the log)")
            self._finish()
            return
        self._estate.metrics.virtual_seconds.set(clock.seconds() - begin)
        if self._failed_output():
            return
        now_wall = time.monotonic()
        if last_report is None or now_wall - last_report >= self._options["progress"] or slice_end >= end:
            done = (clock.seconds() - begin) / (end - begin)
            log.info("smets: {pct:5.1f}% of {total:g} s emulated, {rate:,.0f} virtual s per wall s, "
                     "{events} events pending; {totals}",
                     pct=100 * done, total=end - begin,
                     rate=(clock.seconds() - begin) / max(now_wall - wall_start, 1e-9),
                     events=clock.pending_count(), totals=_totals_text(self._estate.metrics))
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
            try:
                clock.run_until(now)
            except Exception:
                log.failure("smets: the emulation failed")
                self.fail("the emulation failed (a bug: see the traceback in the log)")
                self._finish()
                return
            self._estate.metrics.virtual_seconds.set(clock.seconds() - self._estate.start_time)
        if self._estate.capture is not None and now - self._flushed >= 1.0:
            self._estate.capture.flush()  # a live Wireshark sees frames within a second
            self._flushed = now
        if self._failed_output():
            return
        nxt = clock.next_time()
        wait = 0.1 if nxt is None else min(0.1, max(0.0, nxt - self._reactor.seconds()))
        self._pacer = self._reactor.callLater(wait, self._pace, clock)

    def _failed_output(self) -> bool:
        """Stop the run (exit status 1) if the capture or the key table can no longer be written."""
        if self._estate is None or self._estate.output_error is None:
            return False
        self.fail(self._estate.output_error)
        self._finish()
        return True

    def fail(self, reason: str) -> None:
        """Record why the run failed: logged now, printed as the last line, exit status 1."""
        log.error("smets: error: {reason}", reason=reason)
        self.exit_code = 1
        if self.failure is None:
            self.failure = reason

    def _close(self) -> None:
        """Stop the run's timers, close the capture and keys, log the per-device summary (once)."""
        for call in (self._pacer, self._progress):
            if call is not None and call.active():
                call.cancel()
        self._pacer = self._progress = None
        self._close_taps()
        if self._estate is not None and not self._estate.closed:
            for line in self._estate.close():
                log.info("smets: {line}", line=line)
            log.info("smets: totals: {totals}", totals=_totals_text(self._estate.metrics))
            if self._estate.output_error and self.failure != self._estate.output_error:
                self.fail(self._estate.output_error)
            if self._estate.errors:
                self.fail(f"{self._estate.errors} scheduled call(s) raised during the run "
                          "(a bug: see the tracebacks in the log)")
        self._options.release()

    def _finish(self) -> None:
        try:
            self._close()
        except Exception:
            log.failure("smets: closing the run failed")
            self.fail("closing the run failed (a bug: see the traceback in the log)")
        code = self.exit_code
        if code:
            pidfile = self._options.get("runner-pidfile")
            failure = self.failure or "the run failed (see the log)"

            def _exit() -> None:
                # os._exit skips the runner's own clean-up: remove its pid file (if it is ours)
                _remove_pidfile(pidfile)
                report(f"{_runner_name()} smets", failure)
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
            self._reactor.addSystemEventTrigger("after", "shutdown", _exit)
        if self._reactor.running:
            self._reactor.stop()

    def stopService(self) -> None:  # noqa: N802
        # also reached on Ctrl-C / SIGTERM: the summary is printed as at the end of a virtual run
        self._close()
        return super().stopService()


def _remove_pidfile(pidfile: str | None) -> None:
    if not pidfile:
        return
    try:
        with open(pidfile, encoding="ascii") as f:
            if f.read().strip() != str(os.getpid()):
                return
        os.remove(pidfile)
    except (OSError, ValueError):
        pass


def makeService(options: Options, reactor=None) -> service.IService:  # noqa: N802 (twistd's name)
    """Build the service tree for C{options} (twistd calls this after choosing the reactor)."""
    if reactor is None:
        from twisted.internet import reactor as _reactor
        reactor = _reactor
    top = service.MultiService()
    emulation = EmulationService(options, reactor)
    emulation.setServiceParent(top)
    if options["metrics-port"] is not None:
        import socket

        from twisted.application.internet import StreamServerEndpointService
        from twisted.internet.endpoints import AdoptedStreamServerEndpoint
        from twisted.web.server import Site

        from emulator.metrics import Metrics, metrics_resource

        metrics = Metrics()
        options["metrics-object"] = metrics
        # the port was bound while the options were parsed (a port in use is a usage error)
        sock = options["metrics-socket"]
        host, port = sock.getsockname()[:2]
        endpoint = AdoptedStreamServerEndpoint(reactor, sock.detach(), socket.AF_INET)
        options["metrics-socket"] = None
        log.info("smets: Prometheus metrics on http://{host}:{port}/metrics", host=host, port=port)
        web = StreamServerEndpointService(endpoint, Site(metrics_resource(metrics)))
        web.setName("metrics")
        web.setServiceParent(top)
    if options["duis-port"] is not None:
        import socket

        from twisted.application.internet import StreamServerEndpointService
        from twisted.internet.endpoints import AdoptedStreamServerEndpoint

        from emulator.dcc import build_host
        from emulator.dcc.web import ResponseSender, site

        # The DCC runs on the emulation's clock (its ACB talks to the hubs of the estate); its
        # Users are outside: answers and deliveries go over real HTTP.  Its port also serves
        # the process's /metrics (one registry, shared with the estate).
        if options.get("metrics-object") is None:
            from emulator.metrics import Metrics
            options["metrics-object"] = Metrics()
        host = build_host(options["dcc-config"], emulation.clock, deliver=ResponseSender(reactor),
                          metrics=options.get("metrics-object"), seed=options["seed"])
        emulation.dcc_host = host
        # the port was bound while the options were parsed (a port in use is a usage error)
        sock = options["duis-socket"]
        endpoint = AdoptedStreamServerEndpoint(reactor, sock.detach(), socket.AF_INET)
        options["duis-socket"] = None
        duis = StreamServerEndpointService(endpoint, site(host, options.get("metrics-object")))
        duis.setName("duis")
        duis.setServiceParent(top)
    return top
