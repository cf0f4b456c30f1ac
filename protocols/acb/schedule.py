"""DSP schedules and DSP future-dated requests: when the ACB sends a held request (sans-IO).

E2E architecture 4.2.3.1 ("The ACB also provides scheduling services for the future delivery of
commands") and 5.5 (the DSP manages timeouts "for Future Dated & DSP Scheduled service
requests"); the DUIS request matrix says per service reference variant whether it may be DCC
scheduled and whether its future dating is done by the DSP (C{Future Dated Response Pattern}
C{DSP}) or by the device (C{Device}: the execution date-time goes into the GBCS command).

  - L{Recurrence}: a DSP schedule's times (start date and time of day, optional end date,
    C{Daily} / C{Weekly} / C{Monthly} every C{periodicity}); L{Recurrence.next_after} gives
    the next execution time after an instant (C{None} when the schedule is over);
  - L{Schedules}: the DCC's schedule table (create, read, delete; bounded; ids from 1);
  - L{dsp_execution_time}: the C{ExecutionDateTime} of a request the DSP holds (if any).

Times are POSIX seconds (UTC), the injected clock's; nothing here does I/O.
"""

from __future__ import annotations

import calendar
import datetime
from dataclasses import dataclass
from typing import Any, Iterator

from .request import INVALID, Body, RequestError, is_cancellation, parse_datetime

__all__ = ["FREQUENCIES", "Recurrence", "Schedule", "Schedules", "ScheduleTableFull", "dsp_execution_time",
           "device_execution_time"]

#: DUIS RepeatFrequency values
FREQUENCIES = ("Daily", "Weekly", "Monthly")

_UTC = datetime.timezone.utc


def _posix(dt: datetime.datetime) -> float:
    return dt.timestamp()


def _add_months(dt: datetime.datetime, months: int, day: int) -> datetime.datetime:
    month0 = dt.month - 1 + months
    year, month = dt.year + month0 // 12, month0 % 12 + 1
    return dt.replace(year=year, month=month, day=min(day, calendar.monthrange(year, month)[1]))


@dataclass(frozen=True, slots=True)
class Recurrence:
    """The execution times of a DSP schedule.

    @ivar start: the first execution (start date at the time of day), UTC.
    @ivar end: the last date on which it may run (inclusive), or C{None} (no end).
    @ivar frequency: one of L{FREQUENCIES}; C{periodicity}: every how many of them (>= 1).
    """

    start: datetime.datetime
    end: datetime.date | None
    frequency: str
    periodicity: int

    def __post_init__(self) -> None:
        if self.frequency not in FREQUENCIES:
            raise ValueError(f"RepeatFrequency {self.frequency!r} is not one of {', '.join(FREQUENCIES)}")
        if self.periodicity < 1:
            raise ValueError(f"RepeatPeriodicity must be >= 1, got {self.periodicity}")
        if self.end is not None and self.end < self.start.date():
            raise ValueError(f"the end date {self.end} is before the start date {self.start.date()}")

    def _nth(self, n: int) -> datetime.datetime:
        if self.frequency == "Daily":
            return self.start + datetime.timedelta(days=n * self.periodicity)
        if self.frequency == "Weekly":
            return self.start + datetime.timedelta(weeks=n * self.periodicity)
        return _add_months(self.start, n * self.periodicity, self.start.day)

    def next_after(self, when: float) -> float | None:
        """The first execution time strictly after C{when} (POSIX seconds), or C{None}."""
        moment = datetime.datetime.fromtimestamp(when, _UTC)
        if self.start > moment:
            n = 0
        elif self.frequency == "Monthly":
            months = (moment.year - self.start.year) * 12 + moment.month - self.start.month
            n = max(0, months // self.periodicity)
        else:
            step = datetime.timedelta(days=self.periodicity * (7 if self.frequency == "Weekly" else 1))
            n = max(0, (moment - self.start) // step)
        at = self._nth(n)
        while at <= moment:
            n += 1
            at = self._nth(n)
        if self.end is not None and at.date() > self.end:
            return None
        return _posix(at)


@dataclass(slots=True)
class Schedule:
    """One DSP schedule: a DCC User's service request for a device, sent at each recurrence.

    @ivar item: the caller's data (the request to send each time).
    @ivar next_at: the next execution time (POSIX seconds), or C{None} when it is over.
    """

    schedule_id: int
    user: int
    device: int
    variant: str
    recurrence: Recurrence
    created_at: float
    next_at: float | None
    item: Any
    executions: int = 0


class ScheduleTableFull(Exception):
    """The DCC holds as many schedules as it may."""


class Schedules:
    """The DCC's DSP schedules, by DSPScheduleID (given out from 1, never reused)."""

    def __init__(self, max_schedules: int = 100_000) -> None:
        self.max_schedules = max_schedules
        self._table: dict[int, Schedule] = {}
        self._next_id = 1

    def create(self, user: int, device: int, variant: str, recurrence: Recurrence, now: float,
               item: Any) -> Schedule:
        """A new schedule (its first execution is the first recurrence after C{now})."""
        if len(self._table) >= self.max_schedules:
            raise ScheduleTableFull(f"the DCC already holds {self.max_schedules} schedules")
        schedule = Schedule(self._next_id, user, device, variant, recurrence, now, recurrence.next_after(now), item)
        self._next_id += 1
        self._table[schedule.schedule_id] = schedule
        return schedule

    def get(self, schedule_id: int) -> Schedule | None:
        return self._table.get(schedule_id)

    def delete(self, schedule_id: int) -> Schedule | None:
        return self._table.pop(schedule_id, None)

    def of_user(self, user: int) -> list[Schedule]:
        return [s for s in self._table.values() if s.user == user]

    def executed(self, schedule_id: int, at: float) -> Schedule | None:
        """Record an execution at C{at}: the schedule moves to its next time (and is removed
        when it has none); returns it, or C{None} if it was deleted meanwhile."""
        schedule = self._table.get(schedule_id)
        if schedule is None:
            return None
        schedule.executions += 1
        schedule.next_at = schedule.recurrence.next_after(at)
        if schedule.next_at is None:
            del self._table[schedule_id]
        return schedule

    def __iter__(self) -> Iterator[Schedule]:
        return iter(list(self._table.values()))

    def __len__(self) -> int:
        return len(self._table)


def dsp_execution_time(body: Any, future_dated: str) -> float | None:
    """The execution time (POSIX seconds) of a request the DSP holds until then, else C{None}.

    The DSP holds a request whose matrix row says its future dating is the DSP's (C{DSP}) and
    whose body carries an C{ExecutionDateTime}; a device-dated one (C{Device}, C{DSP & Device})
    goes to the device at once with its date-time in the GBCS command.  A cancellation date
    (year 3000 and later) is the device's business too.

    @raise RequestError: the date-time is not an xs:dateTime (L{INVALID}).
    """
    if future_dated != "DSP" or body is None:
        return None
    node = Body(body).find("ExecutionDateTime")
    if node is None:
        return None
    when = parse_datetime(node.text, node.path)
    if is_cancellation(when):
        raise RequestError(INVALID, node.path, f"{node.text!r}: a DSP future-dated request cannot be cancelled "
                                               "by date; delete it before it runs")
    return _posix(when)


def device_execution_time(body: Any, future_dated: str) -> float | None:
    """The execution time of a device future-dated request (matrix pattern C{Device} or
    C{DSP & Device}, an C{ExecutionDateTime} in the body that is not a cancellation): the
    device will report its execution with an alert (8F66 / 8F67).  C{None} otherwise, also for
    a date-time that does not parse (the transform refuses that one)."""
    if future_dated not in ("Device", "DSP & Device") or body is None:
        return None
    node = Body(body).find("ExecutionDateTime")
    if node is None:
        return None
    try:
        when = parse_datetime(node.text, node.path)
    except RequestError:
        return None
    return None if is_cancellation(when) else _posix(when)
