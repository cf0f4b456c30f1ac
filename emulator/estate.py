"""The estate: every home of a topology built on one clock, with its capture and keys.

For each home: one HAN radio medium (L{emulator.medium.HanMedium}) with the home's
impairments, one pcapng interface named after the home, and the devices of the
topology (CH with its CHF and GPF, ESME, GSME, IHD), each a ZigBee node whose
application behaviour lives in L{emulator.devices}.  Devices power on at their
C{power_on} time; the Wireshark key table gets the network key and every install-code
link key up front and every link key made at run time as it is made.
"""

from __future__ import annotations

from typing import IO

from twisted.logger import Logger

from emulator.metrics import Metrics
from emulator.topology import HomeSpec, Topology
from tap.wireshark import KeyFileWriter

log = Logger(namespace="smets")


class Home:
    """One premises: its medium and its nodes (by device name)."""

    def __init__(self, spec: HomeSpec, clock, seed: int, metrics: Metrics, capture, keys) -> None:
        from emulator.devices import build_device
        from emulator.medium import HanMedium

        self.spec = spec
        self.clock = clock
        self.metrics = metrics
        self.start_time = clock.seconds()
        self.medium = HanMedium(clock, seed, spec.name, channel=spec.channel, impairments=spec.impairments,
                                capture=capture, interface_name=f"{spec.name}-han", on_event=self._medium_event)
        self.keys = keys
        #: called with each node right after it powered on (e.g. to connect a hub to its WAN)
        self.power_on_hooks: list = []
        self.nodes = {}
        for dev in spec.devices:
            self.nodes[dev.name] = build_device(self, dev, seed)

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

    def hub(self):
        """The home's Communications Hub node (None if the topology gave it none)."""
        return next((n for n in self.nodes.values() if n.kind == "CH"), None)

    def summary(self) -> list[str]:
        return [node.summary() for node in self.nodes.values()]


class Estate:
    """All homes of a topology on one clock."""

    def __init__(self, topology: Topology, clock, seed: int, *, metrics: Metrics | None = None,
                 pcap_path: str | None = None, keys_path: str | None = None) -> None:
        from emulator.capture import PcapngWriter

        self.topology = topology
        self.clock = clock
        self.seed = seed
        self.metrics = metrics if metrics is not None else Metrics()
        self.closed = False
        self.start_time = clock.seconds()
        self._pcap_file: IO[bytes] | None = open(pcap_path, "wb") if pcap_path else None
        self.capture = PcapngWriter(self._pcap_file) if self._pcap_file else None
        self.keys = KeyFileWriter(open(keys_path, "w", encoding="ascii")) if keys_path else None
        self.homes = [Home(spec, clock, seed, self.metrics, self.capture, self.keys)
                      for spec in topology.homes]

    def start(self) -> None:
        """Schedule every device's power-on."""
        for home in self.homes:
            home.start()

    @property
    def errors(self) -> int:
        """Scheduled calls that raised (each was logged with its traceback): bugs, not bad input."""
        return getattr(self.clock, "errors", 0)

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
