"""DSP schedules as DUIS non-device requests: 5.1 Create Schedule, 5.2 Read Schedule, 5.3 Delete Schedule.

The request documents of 5.2 and 5.3 are DCC's (C{duis-templates}: C{sr:ReadSchedule} and
C{sr:DeleteSchedule}, each with C{sr:DSPScheduleID}, addressed to the DCC).  duis-templates
has no 5.1; ours has the same shape (addressed to the DCC, CommandVariant 8) with a
C{sr:CreateSchedule} body holding the schedule and, after it, the scheduled request's own body
element exactly as that request would carry it::

    <sr:CreateSchedule>
      <sr:DSPScheduleDetails>
        <sr:DeviceID>00-DB-12-34-56-78-90-A0</sr:DeviceID>
        <sr:ServiceReferenceVariant>4.1.1</sr:ServiceReferenceVariant>
        <sr:ScheduleExecutionStartDate>2026-01-02</sr:ScheduleExecutionStartDate>
        <sr:ScheduleExecutionEndDate>2026-01-09</sr:ScheduleExecutionEndDate>   (optional)
        <sr:ScheduleExecutionTime>01:30:00</sr:ScheduleExecutionTime>
        <sr:RepeatFrequency>Daily</sr:RepeatFrequency>        (Daily, Weekly or Monthly)
        <sr:RepeatPeriodicity>1</sr:RepeatPeriodicity>        (every N of them)
      </sr:DSPScheduleDetails>
      <sr:ReadInstantaneousImportRegisters/>
    </sr:CreateSchedule>

The answers are C{sr:CreateScheduleRsp} (C{sr:DSPScheduleID}), C{sr:ReadScheduleRsp} (one
C{sr:DSPSchedule} per schedule, with its next execution) and none for a delete.  The state
(the table and the timers) is the host's (L{emulator.dcc.host.DccHost}); this module reads
and writes the documents.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from lxml import etree

from protocols.acb.schedule import FREQUENCIES, Recurrence, Schedule
from protocols.duis import codes
from protocols.duis.errors import DuisError
from protocols.duis.matrix import RequestMatrix, ServiceRequestDef
from protocols.duis.request import SR, format_eui

__all__ = ["CreateSchedule", "parse_create_schedule", "parse_schedule_id", "schedule_element", "created_element",
           "SCHEDULE_SERVICES"]

_S = "{%s}%%s" % SR

#: service reference variant -> the body element it takes
SCHEDULE_SERVICES = {"5.1": "CreateSchedule", "5.2": "ReadSchedule", "5.3": "DeleteSchedule"}


@dataclass(frozen=True, slots=True)
class CreateSchedule:
    """A parsed 5.1 request: the device, the scheduled request and when it runs."""

    device: int
    definition: ServiceRequestDef
    body: etree._Element
    recurrence: Recurrence


def _fail(code, field: str, reason: str, el=None) -> DuisError:
    return DuisError(code, field, reason, (el.sourceline or 0) if el is not None else 0)


def _one(parent: etree._Element, name: str, where: str, required: bool = True) -> str | None:
    found = parent.findall(_S % name)
    if len(found) > 1:
        raise _fail(codes.SCHEMA, f"{where}.{name}", f"more than one sr:{name}", found[1])
    if not found or not (found[0].text or "").strip():
        if required:
            raise _fail(codes.SCHEMA, f"{where}.{name}", f"sr:{name} is required", parent)
        return None
    return found[0].text.strip()


def _eui(text: str, field: str) -> int:
    digits = text.replace("-", "")
    if len(digits) != 16 or any(c not in "0123456789abcdefABCDEF" for c in digits):
        raise DuisError(codes.SCHEMA, field, f"{text!r} is not an EUI-64 (8 hex pairs)")
    return int(digits, 16)


def parse_create_schedule(body: etree._Element, matrix: RequestMatrix) -> CreateSchedule:
    """Read a C{sr:CreateSchedule}; L{DuisError} with the code of what is wrong."""
    where = "Body.CreateSchedule"
    details = body.findall(_S % "DSPScheduleDetails")
    if len(details) != 1:
        raise _fail(codes.SCHEMA, f"{where}.DSPScheduleDetails", "sr:CreateSchedule needs one sr:DSPScheduleDetails",
                    body)
    d = details[0]
    dwhere = f"{where}.DSPScheduleDetails"
    device = _eui(_one(d, "DeviceID", dwhere), f"{dwhere}.DeviceID")
    variant = _one(d, "ServiceReferenceVariant", dwhere)
    definition = matrix.get(variant)
    if definition is None:
        raise _fail(codes.SERVICE_REFERENCE, f"{dwhere}.ServiceReferenceVariant",
                    f"unknown service reference variant {variant!r}", d)
    if not definition.dcc_scheduled:
        raise _fail(codes.INVALID_DATA, f"{dwhere}.ServiceReferenceVariant",
                    f"{variant} {definition.name} cannot be DCC scheduled (request matrix)", d)
    try:
        start_date = datetime.date.fromisoformat(_one(d, "ScheduleExecutionStartDate", dwhere)[:10])
    except ValueError:
        raise _fail(codes.SCHEMA, f"{dwhere}.ScheduleExecutionStartDate", "not an xs:date", d) from None
    end_text = _one(d, "ScheduleExecutionEndDate", dwhere, required=False)
    try:
        end_date = datetime.date.fromisoformat(end_text[:10]) if end_text else None
    except ValueError:
        raise _fail(codes.SCHEMA, f"{dwhere}.ScheduleExecutionEndDate", "not an xs:date", d) from None
    time_text = _one(d, "ScheduleExecutionTime", dwhere)
    try:
        at = datetime.time.fromisoformat(time_text.rstrip("Zz"))
    except ValueError:
        raise _fail(codes.SCHEMA, f"{dwhere}.ScheduleExecutionTime", f"{time_text!r} is not an xs:time", d) from None
    frequency = _one(d, "RepeatFrequency", dwhere)
    if frequency not in FREQUENCIES:
        raise _fail(codes.SCHEMA, f"{dwhere}.RepeatFrequency",
                    f"RepeatFrequency {frequency!r} is not one of {', '.join(FREQUENCIES)}", d)
    periodicity_text = _one(d, "RepeatPeriodicity", dwhere)
    if not periodicity_text.isdigit() or not 1 <= int(periodicity_text) <= 366:
        raise _fail(codes.SCHEMA, f"{dwhere}.RepeatPeriodicity", f"{periodicity_text!r} is not 1-366", d)
    start = datetime.datetime.combine(start_date, at.replace(tzinfo=None), datetime.timezone.utc)
    try:
        recurrence = Recurrence(start, end_date, frequency, int(periodicity_text))
    except ValueError as e:
        raise _fail(codes.INVALID_DATA, dwhere, str(e), d) from None
    others = [c for c in body if isinstance(c.tag, str) and c.tag != _S % "DSPScheduleDetails"]
    if len(others) != 1 or etree.QName(others[0]).namespace != SR:
        raise _fail(codes.SCHEMA, where, "sr:CreateSchedule needs, after sr:DSPScheduleDetails, exactly one "
                                         f"element: the body of the {variant} request it schedules", body)
    return CreateSchedule(device, definition, others[0], recurrence)


def parse_schedule_id(body: etree._Element, required: bool = True) -> int | None:
    """The C{sr:DSPScheduleID} of a 5.2 / 5.3 body."""
    where = f"Body.{etree.QName(body).localname}"
    text = _one(body, "DSPScheduleID", where, required)
    if text is None:
        return None
    if not text.isdigit() or len(text) > 18:
        raise _fail(codes.SCHEMA, f"{where}.DSPScheduleID", f"{text!r} is not a schedule id (a whole number)", body)
    return int(text)


def _sub(parent: etree._Element, name: str, text: str | None) -> None:
    if text is not None:
        etree.SubElement(parent, _S % name).text = text


def created_element(schedule: Schedule) -> etree._Element:
    out = etree.Element(_S % "CreateScheduleRsp", nsmap={"sr": SR})
    _sub(out, "DSPScheduleID", str(schedule.schedule_id))
    return out


def _iso(seconds: float) -> str:
    return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def schedule_element(schedules: list[Schedule]) -> etree._Element:
    """C{sr:ReadScheduleRsp} listing C{schedules}."""
    out = etree.Element(_S % "ReadScheduleRsp", nsmap={"sr": SR})
    for s in schedules:
        el = etree.SubElement(out, _S % "DSPSchedule")
        r = s.recurrence
        _sub(el, "DSPScheduleID", str(s.schedule_id))
        _sub(el, "DeviceID", format_eui(s.device))
        _sub(el, "ServiceReferenceVariant", s.variant)
        _sub(el, "ScheduleExecutionStartDate", r.start.date().isoformat())
        _sub(el, "ScheduleExecutionEndDate", r.end.isoformat() if r.end is not None else None)
        _sub(el, "ScheduleExecutionTime", r.start.time().isoformat())
        _sub(el, "RepeatFrequency", r.frequency)
        _sub(el, "RepeatPeriodicity", str(r.periodicity))
        _sub(el, "NextExecutionDateTime", _iso(s.next_at) if s.next_at is not None else None)
        _sub(el, "Executions", str(s.executions))
    return out
