"""The gas meter's control plane: when its radio is awake, and how it gets a mirror on the GPF.

L{WakeCycle} (automat typed builder): a battery end device polls its parent only while it
has work in hand, and for L{AWAKE_TIME} after the last piece of work (so answers and late
frames still reach it), then sleeps with the receiver off:

    asleep --begin_work--> awake (polling; counts work in hand)
    awake --end_work (last one)--> lingering (timer AWAKE_TIME) --timeout--> asleep (polling stops)
    lingering --begin_work--> awake

L{MirrorSetup} (automat typed builder), ZSE D.3.4.4 mirroring: RequestMirror to the GPF, then
ConfigureMirror on the endpoint it grants, then the meter reports to the mirror on every wake:

    unmirrored --ensure--> requesting --granted(endpoint)--> configuring --configured--> mirrored
    requesting --failed--> unmirrored;  configuring --failed--> granted (ensure: configure again)
    mirrored --ensure--> mirrored (one report)

Both drive the device through small lower interfaces and never build frames themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from automat import TypeMachineBuilder

from protocols._statetimer import StateTimer as _Timed

AWAKE_POLL_INTERVAL = 0.5  # s between Data Requests while awake
AWAKE_TIME = 4.0  # s awake after the last piece of work


class WakeLower(Protocol):
    def start_polling(self, interval: float) -> None: ...
    def stop_polling(self) -> None: ...


class WakeCycleInputs(Protocol):
    def begin_work(self) -> None:
        "Something needs the radio (a request, a report, a wake)."

    def end_work(self) -> None:
        "One piece of work finished."

    def idle(self) -> None:
        "No work in hand any more (internal)."

    def timeout(self) -> None:
        "The state's timer expired."


@dataclass
class WakeCore:
    clock: Any
    lower: WakeLower
    busy: int = 0


def _build_wake():
    b = TypeMachineBuilder(WakeCycleInputs, WakeCore)

    def linger_timer(inputs: WakeCycleInputs, core: WakeCore) -> _Timed:
        return _Timed(core.clock.callLater(AWAKE_TIME, inputs.timeout))

    asleep = b.state("asleep")
    awake = b.state("awake")
    lingering = b.state("lingering", linger_timer)

    @asleep.upon(WakeCycleInputs.begin_work).to(awake)
    def wake(inputs: WakeCycleInputs, core: WakeCore) -> None:
        core.busy = 1
        core.lower.start_polling(AWAKE_POLL_INTERVAL)

    @awake.upon(WakeCycleInputs.begin_work).loop()
    def more(inputs: WakeCycleInputs, core: WakeCore) -> None:
        core.busy += 1

    @awake.upon(WakeCycleInputs.end_work).loop()
    def less(inputs: WakeCycleInputs, core: WakeCore) -> None:
        core.busy = max(0, core.busy - 1)
        if core.busy == 0:
            inputs.idle()

    awake.upon(WakeCycleInputs.idle).to(lingering).returns(None)

    @lingering.upon(WakeCycleInputs.begin_work).to(awake)
    def back_to_work(inputs: WakeCycleInputs, core: WakeCore, data: _Timed) -> None:
        data.cancel()
        core.busy = 1

    @lingering.upon(WakeCycleInputs.timeout).to(asleep)
    def sleep(inputs: WakeCycleInputs, core: WakeCore, data: _Timed) -> None:
        data.cancel()
        core.lower.stop_polling()

    for state, names in ((asleep, ("end_work", "idle", "timeout")), (awake, ("timeout",)),
                         (lingering, ("end_work", "idle"))):
        for name in names:
            state.upon(getattr(WakeCycleInputs, name)).loop().returns(None)
    return b.build()


WakeCycle = _build_wake()


def make_wake_cycle(clock, lower: WakeLower) -> WakeCycleInputs:
    """A wake cycle in state C{asleep}."""
    return WakeCycle(WakeCore(clock, lower))


class MirrorLower(Protocol):
    def request_mirror(self) -> None: ...
    def configure_mirror(self, endpoint: int) -> None: ...
    def report(self, endpoint: int) -> None: ...


class MirrorSetupInputs(Protocol):
    def ensure(self) -> None:
        "Make sure there is a configured mirror (on a wake: report to it if there is)."

    def granted(self, endpoint: int) -> None:
        "RequestMirrorResponse with an endpoint."

    def configured(self) -> None:
        "ConfigureMirror was accepted."

    def failed(self) -> None:
        "The last request failed (no answer, refused)."


@dataclass
class MirrorCore:
    lower: MirrorLower
    endpoint: int | None = None


def _build_mirror():
    b = TypeMachineBuilder(MirrorSetupInputs, MirrorCore)
    unmirrored = b.state("unmirrored")
    requesting = b.state("requesting")
    granted = b.state("granted")
    configuring = b.state("configuring")
    mirrored = b.state("mirrored")

    @unmirrored.upon(MirrorSetupInputs.ensure).to(requesting)
    def request(inputs: MirrorSetupInputs, core: MirrorCore) -> None:
        core.lower.request_mirror()

    @requesting.upon(MirrorSetupInputs.granted).to(configuring)
    def configure(inputs: MirrorSetupInputs, core: MirrorCore, endpoint: int) -> None:
        core.endpoint = endpoint
        core.lower.configure_mirror(endpoint)

    @granted.upon(MirrorSetupInputs.ensure).to(configuring)
    def configure_again(inputs: MirrorSetupInputs, core: MirrorCore) -> None:
        core.lower.configure_mirror(core.endpoint)

    requesting.upon(MirrorSetupInputs.failed).to(unmirrored).returns(None)
    configuring.upon(MirrorSetupInputs.failed).to(granted).returns(None)

    @configuring.upon(MirrorSetupInputs.configured).to(mirrored)
    @mirrored.upon(MirrorSetupInputs.ensure).loop()
    def report(inputs: MirrorSetupInputs, core: MirrorCore) -> None:
        core.lower.report(core.endpoint)

    for state, names in ((unmirrored, ("granted", "configured", "failed")),
                         (requesting, ("ensure", "configured")),
                         (granted, ("granted", "configured", "failed")),
                         (configuring, ("ensure", "granted")),
                         (mirrored, ("granted", "configured", "failed"))):
        for name in names:
            state.upon(getattr(MirrorSetupInputs, name)).loop().returns(None)
    return b.build()


MirrorSetup = _build_mirror()


def make_mirror_setup(lower: MirrorLower) -> MirrorSetupInputs:
    """A mirror set-up in state C{unmirrored}."""
    return MirrorSetup(MirrorCore(lower))
