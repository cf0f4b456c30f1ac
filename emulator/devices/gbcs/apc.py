"""The ESME's auxiliary proportional controllers (APC): the level limits of ECS47e.

ECS47e "Limit APC [n] Level" (message code 0x011F, critical; from the supplier or the load
controller) writes the limit's period into auxiliary controller n's switching times .3 (start)
and .4 (end) (0-0:94.44.(116 + n).3 / .4, DLMS date-times: the form of .1 / .2 that ECS47a
writes, spec/payload_catalogue.tsv "set IC1 0.0.94.44.119.3 a2 ; set IC1 0.0.94.44.119.4 a2 ;
action IC9 0.0.10.0.107.255 m1"), then runs a script of the APC limit script table (IC 9,
0-0:10.0.107.255) whose selector names the APC and the level as ECS47a's do (L{auxload}):
kind << 12 | n << 8 | level, the kind 1 the APC's output, 2 its input from the controlled
load, the level 0-100 %.  (The DCC's ECS47a APC reference commands address controllers 3
(input) and 5 (output) through groups 119 and 121 with selectors 0x2332 and 0x1564; the
ECS101 reference alerts report input APC 3 and output APC 5: the same numbering.)

  - An unspecified start (DLMS "not specified" date-time) is "now"; an unspecified end leaves
    the limit in force until a later ECS47e replaces it; an end given as a long-unsigned is a
    duration in minutes from the start.
  - Processing the command raises ECS101 (alert 0x8F86, message code 0x0121, signed):
    {alert code, time, unsigned kind << 4 | n, start date-time, end date-time, unsigned level}
    (the DCC's ECS101 reference alerts: 0x23 input APC 3, 0x15 output APC 5).
  - Every limit processed ends exactly once, with ECS102 (alert 0x8F87, message code 0x0122,
    signed): {alert code, time, unsigned kind << 4 | n, unsigned level of the limit}, when its
    period ends (virtual time: the device clock) or when a later ECS47e on the same APC
    replaces or cancels it (a limit whose period is already over ends at once).
  - While an output limit is in force, controller n outputs at most the limit's level
    (L{auxload.AuxiliaryControllers.cap}): the HAN listeners (the HCALCS driver) see the capped
    level.  An input limit bounds what the APC takes from the controlled load; like ECS47a's
    input commands it does not move the switch output.

The alerts go where the device's alerts go (the supplier): the DCC's ECS101 / ECS102 reference
alerts are all addressed to the supplier, although the reference ECS47e commands are signed by
the load controller.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from protocols.gbcs.payloads import dlms

from emulator.devices.gbcs.auxload import CONTROLLERS, KIND_INPUT, KIND_OUTPUT, unix_time
from emulator.devices.gbcs.cosem import OBJECT_UNDEFINED, SUCCESS, TYPE_UNMATCHED
from emulator.devices.gbcs.device import dlms_date_time

__all__ = ["APC_LIMIT_SCRIPT_TABLE", "ALERT_LIMIT_PROCESSED", "ALERT_LIMIT_ENDED", "LIMIT_PROCESSED_ALERT",
           "LIMIT_ENDED_ALERT", "APC_ALERT_CODES", "ApcLimits", "Limit", "apc_id", "limit_obis", "limit_apc"]

APC_LIMIT_SCRIPT_TABLE = "0-0:10.0.107.255"
#: alert codes (ECS101 "Limit APC [n] Level Command processed", ECS102 "... ended or cancelled")
ALERT_LIMIT_PROCESSED, ALERT_LIMIT_ENDED = 0x8F86, 0x8F87
#: their message codes
LIMIT_PROCESSED_ALERT, LIMIT_ENDED_ALERT = 0x0121, 0x0122
APC_ALERT_CODES = frozenset({LIMIT_PROCESSED_ALERT, LIMIT_ENDED_ALERT})
_TIMES_BASE = 116
_START, _END = 3, 4
_UNSPECIFIED = bytes.fromhex("FFFFFFFFFFFFFFFFFF8000FF")


def limit_obis(n: int, which: int) -> str:
    """APC n's limit start (3) or end (4) object."""
    return f"0-0:94.44.{_TIMES_BASE + n}.{which}"


def apc_id(kind: int, n: int) -> int:
    """How the APC alerts name the APC: kind << 4 | n (0x23 input APC 3, 0x15 output APC 5)."""
    return kind << 4 | n


@dataclass(slots=True)
class Limit:
    """One limit of one APC: its level and period (Unix seconds; end None: open) and the
    date-times the ECS101 alert reports."""

    kind: int
    n: int
    level: int
    start: float
    end: float | None
    start_octets: bytes
    end_octets: bytes
    in_force: bool = False
    calls: list = field(default_factory=list)


class ApcLimits:
    """The level limits of one ESME's APCs (see the module docstring).

    @param device: the ESME (its COSEM C{model}, C{clock}, auxiliary controllers C{aux},
        C{now()} and C{raise_alert}).
    """

    def __init__(self, device: Any) -> None:
        self.device = device
        #: (kind, n) -> the limit processed last, until it ends
        self.limits: dict[tuple[int, int], Limit] = {}
        #: limits processed and ended (for operators and tests)
        self.processed = 0
        self.ended = 0

    def limit(self, kind: int, n: int) -> Limit | None:
        return self.limits.get((kind, n))

    def execute(self, selector: int) -> int:
        """Run a script of 0-0:10.0.107.255 (the DLMS action result)."""
        kind, n, level = selector >> 12, selector >> 8 & 0x0F, selector & 0xFF
        if n not in CONTROLLERS or kind not in (KIND_OUTPUT, KIND_INPUT):
            return OBJECT_UNDEFINED
        if level > 100:
            return TYPE_UNMATCHED
        clock = self.device.clock
        now = clock.seconds()
        start_value, end_value = self._value(n, _START), self._value(n, _END)
        start, start_octets = self._start(start_value, now)
        end, end_octets = self._end(end_value, start)
        if end is not None and end < start:
            return TYPE_UNMATCHED
        old = self.limits.pop((kind, n), None)
        if old is not None:
            self._end_limit(old)                    # replaced or cancelled
        new = Limit(kind, n, level, start, end, start_octets, end_octets)
        self.limits[(kind, n)] = new
        self.processed += 1
        self._alert(ALERT_LIMIT_PROCESSED, LIMIT_PROCESSED_ALERT, [
            dlms.make_data("unsigned", apc_id(kind, n)), dlms.octet_string(start_octets),
            dlms.octet_string(end_octets), dlms.make_data("unsigned", level)])
        if end is not None and end <= now:
            self._finish(new)                       # its period is over already
            return SUCCESS
        if start <= now:
            self._begin(new)
        else:
            new.calls.append(clock.callLater(start - now, self._begin, new))
        if end is not None:
            new.calls.append(clock.callLater(end - now, self._finish, new))
        return SUCCESS

    # ------------------------------------------------------------------ internals

    def _value(self, n: int, which: int) -> dict:
        value = self.device.model.get(1, limit_obis(n, which), 2)[1]
        return value if isinstance(value, dict) else {}

    @staticmethod
    def _octets(value: dict) -> bytes | None:
        if value.get("type") != "octet-string":
            return None
        try:
            octets = bytes.fromhex(value.get("value") or "")
        except ValueError:
            return None
        return octets if len(octets) == 12 else None

    def _start(self, value: dict, now: float) -> tuple[float, bytes]:
        octets = self._octets(value)
        t = unix_time(octets) if octets is not None else None
        if t is None:
            return now, octets if octets is not None else dlms_date_time(now)
        return t, octets

    def _end(self, value: dict, start: float) -> tuple[float | None, bytes]:
        if value.get("type") == "long-unsigned":
            end = start + int(value["value"]) * 60.0
            return end, dlms_date_time(end)
        octets = self._octets(value)
        t = unix_time(octets) if octets is not None else None
        if t is None:
            return None, octets if octets is not None else _UNSPECIFIED
        return t, octets

    def _begin(self, limit: Limit) -> None:
        limit.in_force = True
        if limit.kind == KIND_OUTPUT:
            self.device.aux.cap(limit.n, limit.level)

    def _finish(self, limit: Limit) -> None:
        """The period ended: the limit goes."""
        if self.limits.get((limit.kind, limit.n)) is limit:
            del self.limits[(limit.kind, limit.n)]
        self._end_limit(limit)

    def _end_limit(self, limit: Limit) -> None:
        for call in limit.calls:
            if call.active():
                call.cancel()
        limit.calls.clear()
        if limit.in_force and limit.kind == KIND_OUTPUT:
            self.device.aux.cap(limit.n, None)
        limit.in_force = False
        self.ended += 1
        self._alert(ALERT_LIMIT_ENDED, LIMIT_ENDED_ALERT, [
            dlms.make_data("unsigned", apc_id(limit.kind, limit.n)), dlms.make_data("unsigned", limit.level)])

    def _alert(self, alert_code: int, message_code: int, members: list[dict]) -> None:
        device = self.device
        body = dlms.structure(dlms.make_data("long-unsigned", alert_code),
                              dlms.octet_string(dlms_date_time(device.now())), *members)
        device.raise_alert(alert_code, critical=True, payload=dlms.data_notification(device.alert_counter, body),
                           message_code=message_code)


def limit_apc(device: Any, kind: int, n: int, level: int, start: bytes, end: bytes | dict) -> int:
    """Limit APC n as an ECS47e command does, through the device's COSEM model: write the
    period (C{end} a date-time, or a DLMS value such as a long-unsigned duration) and run the
    limit script; the action result."""
    model = device.model
    for which, value in ((_START, dlms.octet_string(start)),
                         (_END, end if isinstance(end, dict) else dlms.octet_string(end))):
        result = model.set(1, limit_obis(n, which), 2, value)
        if result != SUCCESS:
            return result
    return model.action(9, APC_LIMIT_SCRIPT_TABLE, 1, dlms.make_data("long-unsigned", kind << 12 | n << 8 | level))[0]
