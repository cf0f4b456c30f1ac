"""Joining a ZigBee PRO network through MAC association (05-3474 3.6.1.4.1, 4.6.3.2 with the
Smart Energy rule that the preconfigured TC link key comes from the install code).

An explicit machine (automat typed builder, as Twisted's C{application/_client_service.py}):

    idle --start--> scanning --pan_found--> associating --associated--> authenticating
    scanning --no_pan--> scanning (another active scan, NWK_SCAN_ATTEMPTS in all) --give_up--> idle
    associating --association_failed--> idle
    authenticating --network_key--> joined          (timer: JOIN_KEY_TIMEOUT --timeout--> idle)
    joined --leave--> idle                           (a NWK Leave without rejoin goes out first)
    joined --rejoin--> rejoining --rejoined--> joined   (NWK Leave with rejoin, then a secured
                                                         NWK Rejoin Request, 3.6.1.4.2; timer
                                                         REJOIN_TIMEOUT --timeout--> idle)

Every way back to C{idle} reports C{join_failed(reason)} (C{no_network}, C{denied},
C{association_failed}, C{no_network_key}); the device above decides when to try again.  The
machine drives a L{JoinerLower} (the stack facade, or a fake in tests) and never touches
frames itself.  Inputs that make no sense in a state are ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Protocol

from automat import TypeMachineBuilder

from protocols._statetimer import StateTimer as _Timed

NWK_SCAN_ATTEMPTS = 3  # active scans (each one Beacon Request) before giving up
SCAN_DURATION = 0.25  # s listening for beacons per scan
JOIN_KEY_TIMEOUT = 10.0  # s a joiner waits for the Transport Key after associating
SLEEPY_JOIN_POLL = 0.5  # s between Data Requests of an rx-off joiner waiting for the key
REJOIN_TIMEOUT = 5.0  # s a rejoining device waits for the Rejoin Response


class JoinerLower(Protocol):
    """What the joiner drives (implemented by L{protocols.zigbee.stack.ZigbeeStack})."""

    def scan(self, duration: float) -> None: ...
    def associate(self, pan_id: int, coord_address: int) -> None: ...
    def associated_as(self, short: int, parent: int) -> None: ...
    def start_polling(self, interval: float) -> None: ...
    def stop_polling(self) -> None: ...
    def install_network_key(self, key: bytes, key_seq: int, tc_eui: int) -> None: ...
    def announce(self) -> None: ...
    def forget_network(self) -> None: ...
    def send_leave(self, rejoin: bool) -> None: ...
    def send_rejoin_request(self) -> None: ...
    def rejoined_as(self, short: int) -> None: ...
    def join_complete(self) -> None: ...
    def join_failed(self, reason: str) -> None: ...


class JoinerInputs(Protocol):
    def start(self) -> None:
        "Begin joining (ignored unless idle)."

    def pan_found(self, pan_id: int, coord_address: int) -> None:
        "An active scan found a PAN that permits association."

    def no_pan(self) -> None:
        "An active scan found nothing to join."

    def give_up(self, reason: str) -> None:
        "Stop scanning (internal)."

    def associated(self, short: int) -> None:
        "MLME-ASSOCIATE.confirm with success."

    def association_failed(self, reason: str) -> None:
        "MLME-ASSOCIATE.confirm with a failure."

    def network_key(self, key: bytes, key_seq: int, tc_eui: int) -> None:
        "The trust centre's Transport Key (network key) arrived and verified."

    def timeout(self) -> None:
        "The current state's timer expired."

    def leave(self) -> None:
        "Leave the network (back to idle, nothing reported)."

    def rejoin(self) -> None:
        "Leave with rejoin and rejoin at once with the network key held (secured rejoin)."

    def rejoined(self, short: int) -> None:
        "The parent's Rejoin Response with success."


@dataclass
class JoinerCore:
    clock: Any
    lower: JoinerLower
    count: Callable[[str], None]
    sleepy: bool
    parent: int = 0x0000


class _Scanning:
    __slots__ = ("left",)

    def __init__(self, left: int) -> None:
        self.left = left


def _build():
    b = TypeMachineBuilder(JoinerInputs, JoinerCore)

    def scan_data(inputs: JoinerInputs, core: JoinerCore) -> _Scanning:
        return _Scanning(NWK_SCAN_ATTEMPTS - 1)

    def key_timer(inputs: JoinerInputs, core: JoinerCore, short: int) -> _Timed:
        return _Timed(core.clock.callLater(JOIN_KEY_TIMEOUT, inputs.timeout))

    def rejoin_timer(inputs: JoinerInputs, core: JoinerCore) -> _Timed:
        return _Timed(core.clock.callLater(REJOIN_TIMEOUT, inputs.timeout))

    idle = b.state("idle")
    scanning = b.state("scanning", scan_data)
    associating = b.state("associating")
    authenticating = b.state("authenticating", key_timer)
    joined = b.state("joined")
    rejoining = b.state("rejoining", rejoin_timer)

    @idle.upon(JoinerInputs.start).to(scanning)
    def start(inputs: JoinerInputs, core: JoinerCore) -> None:
        core.count("join_attempt")
        core.lower.scan(SCAN_DURATION)

    @scanning.upon(JoinerInputs.no_pan).loop()
    def rescan(inputs: JoinerInputs, core: JoinerCore, data: _Scanning) -> None:
        if data.left > 0:
            data.left -= 1
            core.lower.scan(SCAN_DURATION)
        else:
            inputs.give_up("no_network")

    @scanning.upon(JoinerInputs.give_up).to(idle)
    def give_up(inputs: JoinerInputs, core: JoinerCore, data: _Scanning, reason: str) -> None:
        core.lower.forget_network()
        core.lower.join_failed(reason)

    @scanning.upon(JoinerInputs.pan_found).to(associating)
    def associate(inputs: JoinerInputs, core: JoinerCore, data: _Scanning, pan_id: int, coord_address: int) -> None:
        core.parent = coord_address
        core.lower.associate(pan_id, coord_address)

    @associating.upon(JoinerInputs.associated).to(authenticating)
    def associated(inputs: JoinerInputs, core: JoinerCore, short: int) -> None:
        core.lower.associated_as(short, core.parent)
        if core.sleepy:
            core.lower.start_polling(SLEEPY_JOIN_POLL)

    @associating.upon(JoinerInputs.association_failed).to(idle)
    def association_failed(inputs: JoinerInputs, core: JoinerCore, reason: str) -> None:
        core.lower.forget_network()
        core.lower.join_failed(reason)

    @authenticating.upon(JoinerInputs.network_key).to(joined)
    def got_key(inputs: JoinerInputs, core: JoinerCore, data: _Timed, key: bytes, key_seq: int,
                tc_eui: int) -> None:
        data.cancel()
        core.lower.install_network_key(key, key_seq, tc_eui)
        if core.sleepy:
            core.lower.stop_polling()
        core.lower.announce()
        core.lower.join_complete()

    @authenticating.upon(JoinerInputs.timeout).to(idle)
    def no_key(inputs: JoinerInputs, core: JoinerCore, data: _Timed) -> None:
        data.cancel()
        if core.sleepy:
            core.lower.stop_polling()
        core.lower.forget_network()
        core.lower.join_failed("no_network_key")

    @authenticating.upon(JoinerInputs.leave).to(idle)
    def leave_authenticating(inputs: JoinerInputs, core: JoinerCore, data: _Timed) -> None:
        data.cancel()
        if core.sleepy:
            core.lower.stop_polling()
        core.lower.forget_network()

    @associating.upon(JoinerInputs.leave).to(idle)
    def leave(inputs: JoinerInputs, core: JoinerCore) -> None:
        core.lower.forget_network()

    @joined.upon(JoinerInputs.leave).to(idle)
    def leave_network(inputs: JoinerInputs, core: JoinerCore) -> None:
        core.lower.send_leave(False)
        core.lower.forget_network()

    @joined.upon(JoinerInputs.rejoin).to(rejoining)
    def rejoin(inputs: JoinerInputs, core: JoinerCore) -> None:
        core.count("rejoin_attempt")
        core.lower.send_leave(True)
        core.lower.send_rejoin_request()
        if core.sleepy:
            core.lower.start_polling(SLEEPY_JOIN_POLL)

    @rejoining.upon(JoinerInputs.rejoined).to(joined)
    def rejoined(inputs: JoinerInputs, core: JoinerCore, data: _Timed, short: int) -> None:
        data.cancel()
        core.lower.rejoined_as(short)
        if core.sleepy:
            core.lower.stop_polling()
        core.lower.announce()

    @rejoining.upon(JoinerInputs.timeout).to(idle)
    def rejoin_failed(inputs: JoinerInputs, core: JoinerCore, data: _Timed) -> None:
        data.cancel()
        if core.sleepy:
            core.lower.stop_polling()
        core.lower.forget_network()
        core.lower.join_failed("rejoin_failed")

    @rejoining.upon(JoinerInputs.leave).to(idle)
    def leave_rejoining(inputs: JoinerInputs, core: JoinerCore, data: _Timed) -> None:
        data.cancel()
        if core.sleepy:
            core.lower.stop_polling()
        core.lower.forget_network()

    @scanning.upon(JoinerInputs.leave).to(idle)
    def leave_scanning(inputs: JoinerInputs, core: JoinerCore, data: _Scanning) -> None:
        core.lower.forget_network()

    # everything else is ignored where it arrives
    ignored = {
        idle: ("pan_found", "no_pan", "give_up", "associated", "association_failed", "network_key", "timeout",
               "leave", "rejoin", "rejoined"),
        scanning: ("start", "associated", "association_failed", "network_key", "timeout", "rejoin", "rejoined"),
        associating: ("start", "pan_found", "no_pan", "give_up", "network_key", "timeout", "rejoin", "rejoined"),
        authenticating: ("start", "pan_found", "no_pan", "give_up", "associated", "association_failed", "rejoin",
                         "rejoined"),
        joined: ("start", "pan_found", "no_pan", "give_up", "associated", "association_failed", "network_key",
                 "timeout", "rejoined"),
        rejoining: ("start", "pan_found", "no_pan", "give_up", "associated", "association_failed", "network_key",
                    "rejoin"),
    }
    for state, names in ignored.items():
        for name in names:
            state.upon(getattr(JoinerInputs, name)).loop().returns(None)
    return b.build()


JoinerMachine = _build()


def make_joiner(clock, lower: JoinerLower, *, sleepy: bool, count: Callable[[str], None]) -> JoinerInputs:
    """A joiner in state C{idle}."""
    return JoinerMachine(JoinerCore(clock, lower, count, sleepy))
