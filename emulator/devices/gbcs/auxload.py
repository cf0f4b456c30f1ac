"""The ESME's auxiliary controllers (ALCS / HC ALCS): their switch state from ECS47 / ECS47a.

GBCS drives auxiliary controller n (1-5) of an ESME with scripts of the auxiliary control
script table (IC 9, 0-0:10.0.103.255, spec/gbcs-wire-format.md "ECS47 ... DLMS action IC9
0.0.10.0.103.255 m1"), the script selector naming the controller in bits 8-11 (the encoding
the ACB builds them with, L{protocols.acb.dlms_usecases}, and the DCC's ECS47 reference
commands carry: 0x0111 activate controller 1, 0x0520 reset controller 5):

  - ECS47 activate (low octet 0x11): the controller is on for the duration its switching
    time 0-0:94.44.(116 + n).1 holds (minutes, long-unsigned; set in the same command), then
    back to its calendar-driven state;
  - ECS47 reset (0x20): back to the calendar-driven state at once;
  - ECS47a (bits 12-15 = 1, output level): the commanded level (0-100 %, low octet) from
    0-0:94.44.(116 + n).1 to .2 (DLMS date-times); bits 12-15 = 2 (input from the controlled
    load) and scheduled calendar actions (0x80, ECS46d) do not move the switch now.

The calendar-driven state is "off": the auxiliary controller calendar (ECS46d) is kept as
data, not run.  The controller's device id 0-0:94.44.0.(20 + n) names the HCALCS it drives
(its EUI-64; all zero: an ALCS inside the ESME, or an HCALCS the home's topology binds).
Listeners (the HAN side, L{emulator.devices.hcalcs.HcalcsDriver}) get C{(n, level)} on
every change.  An APC output limit in force (ECS47e, L{emulator.devices.gbcs.apc}) caps the
level controller n outputs (L{AuxiliaryControllers.cap}); the listeners see the capped level.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any, Callable

from emulator.devices.gbcs.cosem import OBJECT_UNDEFINED, SUCCESS, TYPE_UNMATCHED

__all__ = ["AUX_SCRIPT_TABLE", "AuxiliaryControllers", "CONTROLLERS", "device_id_obis", "script_id", "unix_time"]

AUX_SCRIPT_TABLE = "0-0:10.0.103.255"
CONTROLLERS = range(1, 6)
_TIMES_BASE = 116
ACTIVATE, RESET, SCHEDULED = 0x11, 0x20, 0x80
KIND_BOOST, KIND_OUTPUT, KIND_INPUT = 0, 1, 2


def script_id(n: int, low: int, kind: int = KIND_BOOST) -> int:
    """The script selector of controller C{n}."""
    return kind << 12 | n << 8 | low


def device_id_obis(n: int) -> str:
    """The object holding the EUI-64 of the device controller C{n} drives."""
    return f"0-0:94.44.0.{20 + n}"


def unix_time(octets: bytes) -> float | None:
    """A DLMS date-time (12 octets) as Unix seconds (UTC; deviation ignored); None if unspecified."""
    if len(octets) != 12:
        return None
    year = int.from_bytes(octets[0:2], "big")
    month, day, _dow, hour, minute, second = octets[2:8]
    if year == 0xFFFF or month > 12 or day > 31 or hour > 23 or minute > 59 or second > 59:
        return None
    try:
        return _dt.datetime(year, month, day, hour, minute, second, tzinfo=_dt.timezone.utc).timestamp()
    except ValueError:
        return None


class AuxiliaryControllers:
    """The switch level of each auxiliary controller of one ESME (see the module docstring).

    @param model: the ESME's COSEM L{emulator.devices.gbcs.cosem.ObjectModel}.
    @param clock: its C{IReactorTime} (timed activations end on it).
    """

    def __init__(self, model: Any, clock: Any) -> None:
        self.model = model
        self.clock = clock
        #: what each controller outputs (what the listeners see): its commanded level, capped
        #: by an APC limit in force (L{emulator.devices.gbcs.apc})
        self.levels: dict[int, int] = dict.fromkeys(CONTROLLERS, 0)
        #: the level the ECS47 / ECS47a commands (or the calendar) set
        self.commanded: dict[int, int] = dict.fromkeys(CONTROLLERS, 0)
        #: controller -> the level an APC output limit in force allows at most
        self.caps: dict[int, int] = {}
        self.listeners: list[Callable[[int, int], None]] = []
        self._timers: dict[int, list] = {n: [] for n in CONTROLLERS}

    def level(self, n: int) -> int:
        return self.levels[n]

    def device_eui(self, n: int) -> int:
        """The EUI-64 in controller C{n}'s device id object (0: none)."""
        value = self.model.get(1, device_id_obis(n), 2)[1]
        try:
            return int(value.get("value") or "0", 16)
        except (AttributeError, ValueError):
            return 0

    def execute(self, selector: int) -> int:
        """Run a script of 0-0:10.0.103.255; the DLMS action result."""
        kind, n, low = selector >> 12, selector >> 8 & 0x0F, selector & 0xFF
        if n not in CONTROLLERS:
            return OBJECT_UNDEFINED
        if kind == KIND_BOOST and low == ACTIVATE:
            minutes = self._time(n, 1)
            if not isinstance(minutes, int):
                return TYPE_UNMATCHED
            self._cancel(n)
            self._set(n, 100)
            if minutes:
                self._timers[n].append(self.clock.callLater(minutes * 60.0, self._set, n, 0))
            return SUCCESS
        if kind == KIND_BOOST and low == RESET:
            self._cancel(n)
            self._set(n, 0)
            return SUCCESS
        if low & SCHEDULED or kind == KIND_INPUT:
            return SUCCESS                      # the calendar's business / not a switch output
        if kind == KIND_OUTPUT:
            level = low
            if level > 100:
                return TYPE_UNMATCHED
            start, end = self._time(n, 1), self._time(n, 2)
            if not isinstance(start, float) or not isinstance(end, float) or end < start:
                return TYPE_UNMATCHED
            self._cancel(n)
            now = self.clock.seconds()
            if end <= now:
                return SUCCESS                  # the period is over already
            if start <= now:
                self._set(n, level)
            else:
                self._timers[n].append(self.clock.callLater(start - now, self._set, n, level))
            self._timers[n].append(self.clock.callLater(end - now, self._set, n, 0))
            return SUCCESS
        return OBJECT_UNDEFINED

    def _time(self, n: int, attr_obis: int) -> int | float | None:
        """Controller n's switching time .1 / .2: minutes (int) or a date-time (Unix float)."""
        value = self.model.get(1, f"0-0:94.44.{_TIMES_BASE + n}.{attr_obis}", 2)[1]
        if not isinstance(value, dict):
            return None
        if value.get("type") == "long-unsigned":
            return int(value["value"])
        if value.get("type") == "octet-string":
            try:
                return unix_time(bytes.fromhex(value.get("value") or ""))
            except ValueError:
                return None
        return None

    def _cancel(self, n: int) -> None:
        for call in self._timers[n]:
            if call.active():
                call.cancel()
        self._timers[n].clear()

    def cap(self, n: int, level: int | None) -> None:
        """An APC output limit on controller n comes into force (C{level}) or ends (None)."""
        if level is None:
            self.caps.pop(n, None)
        else:
            self.caps[n] = level
        self._publish(n)

    def _set(self, n: int, level: int) -> None:
        self.commanded[n] = level
        self._publish(n)

    def _publish(self, n: int) -> None:
        level = min(self.commanded[n], self.caps.get(n, 100))
        if self.levels[n] == level:
            return
        self.levels[n] = level
        for listener in self.listeners:
            listener(n, level)
