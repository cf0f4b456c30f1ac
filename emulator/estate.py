"""The estate: every home of a topology built on one clock, with its capture and keys.

For each home: one HAN radio medium (L{emulator.medium.HanMedium}) with the home's
impairments, one pcapng interface named after the home (a dual-band CH's home: a second,
868 MHz medium and interface, L{emulator.devices.subghz}), and the devices of the
topology (CH with its CHF and GPF, ESME, GSME, IHD, PPMID, HCALCS), each a ZigBee node whose
application behaviour lives in L{emulator.devices}.  Devices power on at their
C{power_on} time; the Wireshark key table gets the network key and every install-code
link key up front and every link key made at run time as it is made (the CBKE link key of
each device, application link keys).  CBKE certificates come from the estate's seeded
certificate authorities (L{emulator.devices.cbke.CertificateAuthorities}).
"""

from __future__ import annotations

from typing import IO

from twisted.logger import Logger

from emulator.devices.cbke import CertificateAuthorities
from emulator.metrics import Metrics
from emulator.topology import HomeSpec, Topology
from tap.wireshark import KeyFileWriter

log = Logger(namespace="smets")


class OutputFile:
    """An output file (capture, key table) whose write errors end the run cleanly.

    A full disk or a vanished mount must not raise inside the emulation (a scheduled call
    would fail somewhere in the MAC); the first C{OSError} is kept in L{error}, later data is
    dropped, and the service stops the run with that reason and exit status 1.
    """

    def __init__(self, file, what: str) -> None:
        self._file = file
        self.what = what
        self.error: str | None = None

    def _failed(self, e: OSError) -> None:
        if self.error is None:
            name = getattr(self._file, "name", "?")
            self.error = f"cannot write the {self.what} {name}: {e.strerror or e}"

    def write(self, data):
        if self.error is None:
            try:
                return self._file.write(data)
            except OSError as e:
                self._failed(e)
        return len(data)

    def flush(self) -> None:
        if self.error is None:
            try:
                self._file.flush()
            except OSError as e:
                self._failed(e)

    def close(self) -> None:
        try:
            self._file.close()
        except OSError as e:
            self._failed(e)


class Home:
    """One premises: its medium and its nodes (by device name)."""

    def __init__(self, spec: HomeSpec, clock, seed: int, metrics: Metrics, capture, keys,
                 cas: CertificateAuthorities | None = None) -> None:
        from emulator.devices import build_device
        from emulator.medium import HanMedium

        self.spec = spec
        #: the certificate authorities CBKE certificates come from (one set per estate)
        self.cas = cas if cas is not None else CertificateAuthorities(seed)
        self.clock = clock
        self.metrics = metrics
        self.start_time = clock.seconds()
        self.medium = HanMedium(clock, seed, spec.name, channel=spec.channel, impairments=spec.impairments,
                                capture=capture, interface_name=f"{spec.name}-han", on_event=self._medium_event)
        self.keys = keys
        #: called with each node right after it powered on (e.g. to connect a hub to its WAN)
        self.power_on_hooks: list = []
        #: C{alert_sink(home, device_kind, alert_code)}: where a device's own alerts go (the soak
        #: counts them); None: straight to the device's GBCS application (L{device_alert})
        self.alert_sink = None
        #: received frames whose handling raised (bugs: each logged with its traceback)
        self.errors = 0
        #: a dual-band CH's 868 MHz HAN (L{emulator.devices.subghz}); None in a 2.4 GHz-only home
        self.sub_ghz_medium = None
        if any(d.kind == "HCALCS" for d in spec.devices):
            self.power_on_hooks.append(self._drive_hcalcs)
        ch = next((d for d in spec.devices if d.kind == "CH"), None)
        if ch is not None and ch.params.get("dual_band", False):
            from emulator.medium import PHY_868
            self.sub_ghz_medium = HanMedium(clock, seed, f"{spec.name}-868", channel=PHY_868.channels.start,
                                            impairments=spec.impairments, capture=capture,
                                            interface_name=f"{spec.name}-han-868", on_event=self._medium_event,
                                            phy=PHY_868)
            self.power_on_hooks.append(self._attach_sub_ghz)
        self.nodes = {}
        from emulator.power import PowerDomain
        for dev in spec.devices:
            node = self.nodes[dev.name] = build_device(self, dev, seed)
            if node.kind == "CH":        # its power can be cut (emulator.devices.reboot)
                node.clock = PowerDomain(clock)

    def medium_for(self, device_spec):
        """The radio medium a device is on: its band's (C{band: 868}: the sub-GHz one)."""
        if device_spec.params.get("band", 2400) == 868 and self.sub_ghz_medium is not None:
            return self.sub_ghz_medium
        return self.medium

    def _attach_sub_ghz(self, node) -> None:
        if node.kind == "CH":
            from emulator.devices.subghz import attach_sub_ghz
            attach_sub_ghz(node, self.sub_ghz_medium)

    @staticmethod
    def _drive_hcalcs(node) -> None:
        if node.kind == "ESME":
            from emulator.devices.hcalcs import drive_hcalcs
            drive_hcalcs(node)

    def _medium_event(self, reason: str) -> None:
        # (a sleeping receiver not hearing a frame is not a drop: it was not listening)
        if reason in ("loss", "burst_loss", "outage", "corrupt", "collision", "queue_full"):
            self.metrics.frames_dropped.labels("han", reason).inc()

    def add_key(self, key: bytes, label: str) -> None:
        """Export a key to the Wireshark key table (if one is being written)."""
        if self.keys is not None:
            self.keys.add(key, f"{self.spec.name} {label}")

    def start(self) -> None:
        for node in self.nodes.values():
            self.clock.callLater(node.spec.power_on, self._power_on, node)

    def _power_on(self, node) -> None:
        node.power_on()
        for hook in self.power_on_hooks:
            hook(node)

    def device_alert(self, node, alert_code: int) -> None:
        """C{node} raises GBCS alert C{alert_code} (a condition it detects itself): through the
        L{alert_sink} if one is set, else to its GBCS application (none: the alert is not sent)."""
        if self.alert_sink is not None:
            self.alert_sink(self, node.kind, alert_code)
            return
        app = getattr(getattr(node, "tunnel", None), "application", None)
        if app is not None and hasattr(app, "raise_alert"):
            app.raise_alert(alert_code, critical=False)

    def hub(self):
        """The home's Communications Hub node (None if the topology gave it none)."""
        return next((n for n in self.nodes.values() if n.kind == "CH"), None)

    def summary(self) -> list[str]:
        return [node.summary() for node in self.nodes.values()]


class Estate:
    """All homes of a topology on one clock."""

    def __init__(self, topology: Topology, clock, seed: int, *, metrics: Metrics | None = None,
                 pcap_path: str | None = None, keys_path: str | None = None,
                 pcap_file: IO[bytes] | None = None, keys_file: IO[str] | None = None) -> None:
        """C{pcap_path} / C{keys_path} name files to create; C{pcap_file} / C{keys_file} are files
        already open for writing (the twistd options open them while parsing, so that a path
        that cannot be written is a usage error before anything runs).  The estate closes them."""
        from emulator.capture import PcapngWriter

        self.topology = topology
        self.clock = clock
        self.seed = seed
        self.metrics = metrics if metrics is not None else Metrics()
        self.closed = False
        self.start_time = clock.seconds()
        if pcap_file is None and pcap_path:
            pcap_file = open(pcap_path, "wb")
        if keys_file is None and keys_path:
            keys_file = open(keys_path, "w", encoding="ascii")
        self._outputs = [OutputFile(f, what) for f, what in ((pcap_file, "capture"), (keys_file, "key table"))
                         if f is not None]
        self.capture = PcapngWriter(self._outputs[0]) if pcap_file is not None else None
        self.keys = KeyFileWriter(self._outputs[-1]) if keys_file is not None else None
        self.cas = CertificateAuthorities(seed)
        self.homes = [Home(spec, clock, seed, self.metrics, self.capture, self.keys, self.cas)
                      for spec in topology.homes]

    def start(self) -> None:
        """Schedule every device's power-on."""
        for home in self.homes:
            home.start()

    @property
    def output_error(self) -> str | None:
        """Why writing the capture or the key table failed (the run cannot go on), if it did."""
        return next((o.error for o in self._outputs if o.error is not None), None)

    @property
    def errors(self) -> int:
        """Scheduled calls and received-frame handlers that raised (each was logged with its
        traceback): bugs, not bad input."""
        return getattr(self.clock, "errors", 0) + sum(home.errors for home in self.homes)

    def close(self) -> list[str]:
        """Stop writing captures and keys; return a human summary of the run."""
        lines: list[str] = []
        if self.closed:
            return lines
        self.closed = True
        for home in self.homes:
            for line in home.summary():
                lines.append(f"{home.spec.name}: {line}")
        if self.capture is not None:
            self.capture.close()
        if self.keys is not None:
            self.keys.close()
        return lines
