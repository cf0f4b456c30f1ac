"""The home the RTDS replay delivers through: reference commands cross the CHF and the HAN.

L{ReplayHome} builds one emulated home (L{emulator.estate.Estate}, virtual time) whose
devices carry the EUI-64s the reference data addresses: a Communications Hub with the
CHF and GPF ids, and every ESME and GSME of the inventory on its ZigBee HAN (joined with
install codes, CBKE, APS and NWK security, APS fragmentation, the sleepy GSME's wake
cycle).  The home is built once and reused: each reference test gets a L{Stage}, which
plugs a freshly provisioned GBCS device (L{emulator.devices.gbcs}) in as the application
of the HAN node with that EUI, so device state never leaks from one test to the next,
while the network (joins, keys, tunnels) stays up.

A command enters at the CH as from the WAN (L{emulator.devices.tunnel.ChfTunnelService.from_wan});
the CHF routes it by its business recipient: to the CHF or GPF application at once, to the
ESME pushed through its open GB-HRGP tunnel, to the GSME queued until it wakes and GETs it.
What the device sends (responses, alerts) goes back up the same way and is collected where
the CH hands messages to the WAN.

The device's real-time clock is device state too: each stage sets it to the reference
devices' time (L{Stage.clock} is an offset view of the home's clock), so a test sees the
same device time whatever the home's clock has reached.  A GSME test starts shortly before
the GSME's next wake, so its command waits in the CHF queue for that wake and the device
time at execution is the same as the other devices'.  A stage's timers are cancelled when
it ends, and what its device sends after that is dropped, never mixed into the next test.

Device types with no node on the HAN here (PPMID, HCALCS) get the L{DirectStage}: the command
is handed to the device's GBCS endpoint in virtual time.
"""

from __future__ import annotations

from typing import Any, Callable

from protocols.errors import CodecError
from protocols.gbcs.framing import CRA_RESPONSE, decode_frame

from emulator.clock import VirtualClock
from emulator.estate import Estate
from emulator.topology import parse_topology

__all__ = ["ReplayHome", "Stage", "DirectStage", "DeviceClock", "HAN_KINDS"]

#: device types that are nodes of the replay home's HAN, and the device types the CH hosts
HAN_KINDS = ("ESME", "GSME")
HUB_KINDS = ("CHF", "GPF")

#: virtual seconds the home runs before the first test (joins, key establishment, tunnels)
_SETTLE = 600.0
#: the GSME wakes this often in the replay home (s): commands for it wait at most this long
_WAKE_INTERVAL = 300.0
#: s of home time a stage starts before the GSME's next wake
_BEFORE_WAKE = 2.0
#: s to wait for a response beyond the expected delivery
_ANSWER_TIMEOUT = 120.0
#: s the home runs on after the response (alerts raised after the response)
_AFTER_ANSWER = 5.0
#: s before a future device time its clock is stepped to
_STEP_AHEAD = 1.0


class DeviceClock:
    """A device's real-time clock: the home's clock shifted by C{offset}.

    L{set} steps it (as a clock adjustment does): what the device scheduled for a device time
    now passed runs at once, the rest keeps its device due time.  Its calls are cancelled by
    L{close}.
    """

    def __init__(self, base: Any, offset: float) -> None:
        self.base = base
        self.offset = offset
        self._calls: list[tuple[float, Any]] = []

    def seconds(self) -> float:
        return self.base.seconds() + self.offset

    def callLater(self, delay: float, func: Callable[..., Any], *args: Any, **kw: Any):
        call = self.base.callLater(delay, func, *args, **kw)
        self._calls.append((self.seconds() + max(0.0, delay), call))
        return call

    def getDelayedCalls(self) -> list:
        return [c for _, c in self._calls if c.active()]

    def set(self, device_time: float) -> None:
        """Step the clock to C{device_time} (forward only)."""
        now = self.seconds()
        if device_time <= now:
            return
        self.offset += device_time - now
        for due, call in self._calls:
            if call.active():
                call.reset(max(0.0, due - device_time))

    def close(self) -> None:
        for _, call in self._calls:
            if call.active():
                call.cancel()
        self._calls.clear()


class DirectStage:
    """A stage without a HAN: the device's GBCS endpoint takes the command in virtual time."""

    def __init__(self, device_time: float) -> None:
        self.base = VirtualClock(device_time)
        self.clock = DeviceClock(self.base, 0.0)
        self.sent: list[bytes] = []
        self.device = None
        self.route = "direct"
        self.outcome = "direct"

    def send(self, message: bytes) -> None:
        self.sent.append(message)

    def attach(self, device) -> None:
        self.device = device

    def deliver(self, message: bytes) -> None:
        self.base.callLater(0, self.device.receive, message)
        self.base.run_until(self.base.seconds())

    def run_until(self, device_time: float) -> None:
        self.clock.set(device_time - _STEP_AHEAD)
        self.base.run_until(self.base.seconds() + _STEP_AHEAD)

    def wait_for(self, count: int, timeout: float) -> None:
        """Run until C{count} messages were sent, or C{timeout} s of virtual time passed (what
        the device does later, e.g. at the end of a period it set, happens in that time)."""
        deadline = self.base.seconds() + timeout
        self.base.run_until(self.base.seconds())
        while len(self.sent) < count and self.base.seconds() < deadline:
            self.base.run_until(min(deadline, self.base.seconds() + 1.0))

    def close(self) -> None:
        self.clock.close()


class _HubApplication:
    """The CH's GBCS application during a stage: the staged CHF or GPF device (by recipient)."""

    def __init__(self) -> None:
        self.device = None
        self.misaddressed = 0

    def receive(self, message: bytes) -> None:
        try:
            recipient = decode_frame(message).signing.recipient
        except CodecError:
            self.misaddressed += 1
            return
        if self.device is not None and recipient == self.device.eui:
            self.device.receive(message)
        else:
            self.misaddressed += 1


class _Idle:
    """A HAN node's GBCS application between stages: takes messages, answers nothing."""

    def __init__(self) -> None:
        self.received = 0

    def receive(self, message: bytes) -> None:
        self.received += 1


class Stage:
    """One reference test's device on the replay home's HAN (see the module docstring)."""

    def __init__(self, home: "ReplayHome", eui: int, kind: str, device_time: float) -> None:
        self.home = home
        self.eui = eui
        self.kind = kind
        self.sent: list[bytes] = []
        self.device = None
        self.active = True
        self.route = "tunnel" if kind in HAN_KINDS else "chf"
        #: what the CHF did with the command (L{protocols.hrgp.chf.ChfRouter.from_wan})
        self.outcome = ""
        clock = home.clock
        if kind == "GSME":
            # the command will wait in the CHF queue for the GSME's next wake
            node = home.nodes[eui]
            wake = home.next_wake(node)
            if wake - _BEFORE_WAKE > clock.seconds():
                clock.run_until(wake - _BEFORE_WAKE)
        self.clock = DeviceClock(clock, device_time - clock.seconds())

    def send(self, message: bytes) -> None:
        """What the staged device sends: up its tunnel (a meter) or from the CH (CHF, GPF)."""
        if not self.active:
            self.home.late_messages += 1
            return
        if self.kind in HAN_KINDS:
            self.home.nodes[self.eui].tunnel.send(message)
        else:
            self.home.hub.chf_tunnel._up(message)

    def attach(self, device) -> None:
        self.device = device
        self.home.collector = self.sent.append
        if self.kind in HAN_KINDS:
            self.home.nodes[self.eui].tunnel.application = device
        else:
            self.home.hub_application.device = device

    def deliver(self, message: bytes) -> None:
        """The command enters at the CH from the WAN; the home runs until the device answered
        (a response echoing the command's counter), then a little more for its alerts."""
        gs = decode_frame(message).signing
        clock = self.home.clock
        start = clock.seconds()
        self.outcome = self.home.hub.chf_tunnel.from_wan(message)
        if self.outcome not in ("local", "pushed", "queued"):
            return                      # refused by the CHF: nothing will come back
        deadline = start + _ANSWER_TIMEOUT + (_WAKE_INTERVAL if self.kind == "GSME" else 0.0)
        while clock.seconds() < deadline and not self._answered(gs.originator_counter):
            clock.run_until(min(deadline, clock.seconds() + 1.0))
        clock.run_until(clock.seconds() + _AFTER_ANSWER)

    def wait_for(self, count: int, timeout: float) -> None:
        """Run the home until C{count} messages reached the WAN side, or C{timeout} s passed."""
        clock = self.home.clock
        deadline = clock.seconds() + timeout
        while clock.seconds() < deadline and len(self.sent) < count:
            clock.run_until(min(deadline, clock.seconds() + 1.0))
        clock.run_until(clock.seconds() + _AFTER_ANSWER)

    def _answered(self, counter: int) -> bool:
        for m in self.sent:
            try:
                gs = decode_frame(m).signing
            except CodecError:
                continue
            if gs.cra_flag == CRA_RESPONSE and gs.originator_counter == counter:
                return True
        return False

    def run_until(self, device_time: float) -> None:
        """Let the device reach C{device_time}: its clock is stepped to just before it (the
        home does not run the years a future-dated reference command may wait), then the
        home runs on while what the device does then crosses the HAN (a GSME wakes to send)."""
        self.clock.set(device_time - _STEP_AHEAD)
        self.wait_for(len(self.sent) + 1, _STEP_AHEAD + _ANSWER_TIMEOUT)

    def close(self) -> None:
        self.active = False
        self.clock.close()
        self.home.collector = None
        if self.kind in HAN_KINDS:
            self.home.nodes[self.eui].tunnel.application = _Idle()
        else:
            self.home.hub_application.device = None


class ReplayHome:
    """One home on a HAN with the inventory's CHF, GPF, ESMEs and GSMEs (built on first use).

    @param inventory: EUI-64 -> device type (the replay's inferred inventory).
    @param seed: the run seed (install codes, network key, wake offsets...).
    """

    def __init__(self, inventory: dict[int, str], seed: int, start_time: float) -> None:
        self.inventory = inventory
        self.seed = seed
        self.start_time = start_time
        self.estate: Estate | None = None
        self.clock: VirtualClock | None = None
        self.nodes: dict[int, Any] = {}
        self.hub = None
        self.hub_application = _HubApplication()
        self.collector: Callable[[bytes], None] | None = None
        #: messages that reached the WAN side with no stage to take them
        self.stray_messages = 0
        #: messages a device sent after its stage ended (dropped)
        self.late_messages = 0
        self._wakes: dict[int, float] = {}
        self._hosted: set[int] = set()

    def hosts(self, eui: int) -> bool:
        """True if the device C{eui} is a node of this home (else it takes a L{DirectStage})."""
        self._build()
        return eui in self._hosted

    def stage(self, eui: int, device_time: float) -> Stage:
        self._build()
        return Stage(self, eui, self.inventory[eui], device_time)

    def next_wake(self, node) -> float:
        return self._wakes.get(node.spec.eui64, self.clock.seconds())

    def close(self) -> None:
        if self.estate is not None:
            self.estate.close()

    # ------------------------------------------------------------------ building

    def _topology_text(self) -> str:
        import datetime as dt
        chfs = sorted(e for e, k in self.inventory.items() if k == "CHF")
        gpfs = sorted(e for e, k in self.inventory.items() if k == "GPF")
        start = dt.datetime.fromtimestamp(self.start_time - _SETTLE, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        ch = "      - {kind: CH, name: ch"
        if chfs:
            ch += f', eui64: "{chfs[0]:016X}"'
        if gpfs:
            ch += f', gpf_eui64: "{gpfs[0]:016X}"'
        lines = ["name: rtds-replay", f'start_time: "{start}"', "homes:", "  - name: rtds", "    han:",
                 "      channel: 15", "    devices:", ch + "}"]
        for eui, kind in sorted(self.inventory.items()):
            if kind == "ESME":
                lines.append(f'      - {{kind: ESME, name: esme-{eui:016X}, eui64: "{eui:016X}"}}')
            elif kind == "GSME":
                lines.append(f'      - {{kind: GSME, name: gsme-{eui:016X}, eui64: "{eui:016X}", '
                             f"wake_interval: {_WAKE_INTERVAL:g}}}")
        return "\n".join(lines) + "\n"

    def _build(self) -> None:
        if self.estate is not None:
            return
        topology = parse_topology(self._topology_text(), "rtds-replay.yaml", self.seed)
        self.clock = VirtualClock(start=topology.start_time)
        self.estate = Estate(topology, self.clock, self.seed)
        home = self.estate.homes[0]
        home.gbcs_application_factory = self._application
        for node in home.nodes.values():
            if node.kind == "GSME":
                self._record_wakes(node)
        self.estate.start()
        self.clock.run_until(topology.start_time + _SETTLE)
        self.hub = home.hub()
        self.hub.chf_tunnel.to_wan = self._to_wan
        for node in home.nodes.values():
            if node.kind == "CH":
                self._hosted.update(e for e in (node.spec.eui64, node.spec.gpf_eui64) if e is not None)
            elif node.kind in HAN_KINDS and node.tunnel is not None and node.tunnel.server_endpoint is not None:
                self.nodes[node.spec.eui64] = node
                self._hosted.add(node.spec.eui64)

    def _record_wakes(self, node) -> None:
        wake = node._wake

        def recorded() -> None:
            self._wakes[node.spec.eui64] = self.clock.seconds() + node.wake_interval
            wake()

        node._wake = recorded

    def _application(self, device, send):
        if device.kind == "CH":
            return self.hub_application
        return _Idle()

    def _to_wan(self, message: bytes) -> None:
        if self.collector is None:
            self.stray_messages += 1
        else:
            self.collector(message)
