"""A meter's registers and logs, advanced by its load model: one source of truth.

The ZigBee Metering cluster a display reads and the GBCS registers and logs a remote party
reads (the ESME's COSEM objects, the GSME's ZCL state) are both views of one register bank
per meter, driven by the seeded load model of L{emulator.devices.load}:

  - L{ElectricityRegisters} (ESME): the import energy register, the 48 time-of-use registers
    (the rate in force comes from the active tariff switching table, COSEM activity calendar
    0-0:13.0.0.255: season, week and day profiles, script selector = TOU rate), the
    instantaneous import power, the maximum demand (the highest half-hour average), and the
    logs a meter captures as time passes: the half-hour profile, the daily read log and the
    daily billing data log at midnight, the billing data log at each billing date (the first
    midnight of each month);
  - L{GasRegisters} (GSME, and the GPF's copy of it): the volume register.

Registers advance lazily: nothing is scheduled; whoever reads brings the bank up to the time
of the read, splitting the elapsed time at every boundary that matters (half hours, midnight,
tariff switches), so an idle meter costs no timers and the result does not depend on how
often it is read.  The load model integrates power exactly, so the registers are the same
whichever boundaries the time was split at.
"""

from __future__ import annotations

import datetime as _dt
from array import array
from collections import deque
from typing import Any

from protocols.zcl.types import ZCL_EPOCH_UNIX

__all__ = ["ElectricityRegisters", "GasRegisters", "TOU_RATES", "EPOCH_2000", "IMPORT_REGISTER",
           "tou_register", "tariff_rate", "HALF_HOUR_PROFILE", "DAILY_READ_LOG", "DAILY_BILLING_LOG",
           "BILLING_DATA_LOG", "MAX_DEMAND_REGISTER", "POWER_IMPORT_COLLECTION", "TARIFF_SWITCHING_TABLE"]

#: GBCS log and profile times count seconds from 2000-01-01T00:00:00Z
EPOCH_2000 = ZCL_EPOCH_UNIX
TOU_RATES = 48
HALF_HOUR = 1800.0
DAY = 86400.0

# COSEM objects of the ESME that the registers drive (class, OBIS)
IMPORT_REGISTER = (3, "1-0:1.8.0.255")              # active energy import, Wh
MAX_DEMAND_REGISTER = (4, "1-0:1.6.0.255")          # maximum demand, active import, W
POWER_IMPORT_COLLECTION = (1, "0-0:94.44.34.20")    # instantaneous active power import, W
TARIFF_SWITCHING_TABLE = (20, "0-0:13.0.0.255")     # the primary element's activity calendar
HALF_HOUR_PROFILE = "0-0:99.1.0.255"                # (time, import Wh) every half hour
DAILY_READ_LOG = "0-0:98.1.4.255"                   # (time, import Wh) at midnight
DAILY_BILLING_LOG = "0-0:98.1.9.255"                # billing entry at midnight
BILLING_DATA_LOG = "0-0:98.1.0.255"                 # billing entry at each billing date

#: entries a log keeps (oldest dropped first): 13 months of half hours, 2 years of days, ...
LOG_DEPTH = {HALF_HOUR_PROFILE: 13 * 31 * 48, DAILY_READ_LOG: 731, DAILY_BILLING_LOG: 731, BILLING_DATA_LOG: 13}
_BLOCK_COLUMNS = 4   # the billing entry's 4 x 8 block registers (no block tariff modelled: zero)


def tou_register(rate: int) -> tuple[int, str]:
    """The COSEM register of TOU rate C{rate} (1-48): active import energy, rate register."""
    return 3, f"1-0:1.8.{rate}.255"


def _dlu(v: float) -> dict:
    return {"type": "double-long-unsigned", "value": int(v) & 0xFFFFFFFF}


def _dlu_array(values) -> dict:
    return {"type": "array", "value": [_dlu(v) for v in values]}


# --------------------------------------------------------------------------- tariff calendar

def _members(data: Any) -> list:
    return data.get("value") or [] if isinstance(data, dict) else []


def _octets(data: Any) -> bytes:
    try:
        return bytes.fromhex(data.get("value", ""))
    except (AttributeError, ValueError):
        return b""


class _Calendar:
    """The active season / week / day profiles of an activity calendar, parsed once per write."""

    __slots__ = ("seasons", "weeks", "days")

    def __init__(self, seasons: dict | None, weeks: dict | None, days: dict | None) -> None:
        #: (month, day, year or None for every year, week name), by start
        self.seasons: list[tuple[int, int, int | None, bytes]] = []
        for s in _members(seasons):
            m = _members(s)
            if len(m) != 3:
                continue
            start = _octets(m[1])
            if len(start) < 4:
                continue
            year = int.from_bytes(start[0:2], "big")
            month, day = start[2], start[3]
            if not (1 <= month <= 12 and 1 <= day <= 31):
                continue
            self.seasons.append((month, day, None if year == 0xFFFF else year, _octets(m[2])))
        #: week name -> day ids Monday..Sunday
        self.weeks: dict[bytes, tuple[int, ...]] = {}
        for w in _members(weeks):
            m = _members(w)
            if len(m) == 8:
                self.weeks[_octets(m[0])] = tuple(int(x.get("value", 0)) for x in m[1:])
        #: day id -> [(seconds into the day, rate)] by start time
        self.days: dict[int, list[tuple[int, int]]] = {}
        for d in _members(days):
            m = _members(d)
            if len(m) != 2:
                continue
            schedule = []
            for action in _members(m[1]):
                a = _members(action)
                if len(a) != 3:
                    continue
                at = _octets(a[0])
                if len(at) < 3:
                    continue
                h, mi, se = (0 if v == 0xFF else v for v in at[:3])
                schedule.append((h * 3600 + mi * 60 + se, _rate_of(int(a[2].get("value", 0)))))
            schedule.sort()
            self.days[int(m[0].get("value", 0))] = schedule

    def day_schedule(self, t: float) -> list[tuple[int, int]] | None:
        """The day profile in force on the day of C{t} (None: the calendar does not say)."""
        if not self.seasons or not self.weeks or not self.days:
            return None
        y, mo, d, wd = _ymdw(t)
        best = None
        for month, day, year, week in self.seasons:
            key = ((year if year is not None else y), month, day)
            if key <= (y, mo, d) and (best is None or key > best[0]):
                best = (key, week)
        if best is None:      # before every start this year: a recurring season from last year
            recurring = [((y - 1, mo_, d_), w) for mo_, d_, yr, w in self.seasons if yr is None]
            if not recurring:
                return None
            best = max(recurring)
        days = self.weeks.get(best[1])
        if days is None:
            return None
        return self.days.get(days[wd])


def _rate_of(selector: int) -> int:
    """The TOU rate a tariff switching script selects (primary element: 1-48; the secondary
    element's scripts are 200 + rate)."""
    if 200 < selector <= 200 + TOU_RATES:
        selector -= 200
    return selector if 1 <= selector <= TOU_RATES else 1


def _ymdw(t: float) -> tuple[int, int, int, int]:
    """(year, month, day, weekday with Monday 0) of C{t}, UTC."""
    tm = _dt.datetime.fromtimestamp(int(t), _dt.timezone.utc)
    return tm.year, tm.month, tm.day, tm.weekday()


def tariff_rate(cal: _Calendar | None, t: float) -> tuple[int, float]:
    """(TOU rate in force at C{t}, the next time it may change: a switch time or midnight)."""
    midnight = (t // DAY + 1) * DAY
    schedule = cal.day_schedule(t) if cal is not None else None
    if not schedule:
        return 1, midnight
    tod = t - t // DAY * DAY
    rate = schedule[-1][1]          # before the first switch: the last rate of the day before
    nxt = midnight
    for start, r in schedule:
        if start <= tod:
            rate = r
        else:
            nxt = t // DAY * DAY + start
            break
    return rate, nxt


# --------------------------------------------------------------------------- electricity

class ElectricityRegisters:
    """The ESME's register bank (see the module docstring); energies in Wh, power in W.

    @param load: the home's L{emulator.devices.load.HouseholdLoad}.
    @param clock: C{seconds()} is Unix time.
    """

    __slots__ = ("load", "clock", "t", "import_wh", "power_w", "tou_wh", "day_start_wh", "half_hour_start_wh",
                 "max_demand_w", "max_demand_at", "logs", "model", "_synced", "_cal_key", "_cal", "_dirty")

    def __init__(self, load, clock, start: float) -> None:
        self.load = load
        self.clock = clock
        self.t = start
        self.import_wh, self.power_w = load.read(start)
        self.tou_wh = array("d", bytes(8 * TOU_RATES))
        self.day_start_wh = self.import_wh
        self.half_hour_start_wh = self.import_wh
        self.max_demand_w = 0.0
        self.max_demand_at: float | None = None
        #: log OBIS -> entries (tuples, first column the capture time since 2000), oldest first
        self.logs: dict[str, deque] | None = None
        #: the GBCS device's COSEM object model (when its logic is built)
        self.model = None
        self._synced: float | None = None
        self._cal_key = None
        self._cal: _Calendar | None = None
        #: TOU rates whose register moved since the COSEM objects were last written
        self._dirty: set[int] = set()

    # ------------------------------------------------------------------ reading

    @property
    def day_consumption_wh(self) -> float:
        return self.import_wh - self.day_start_wh

    def advance(self, now: float | None = None) -> None:
        """Bring every register and log up to C{now} (default: the clock's time)."""
        if now is None:
            now = self.clock.seconds()
        t = self.t
        if now <= t:
            if now == t:
                return
            raise ValueError(f"time went backwards: {now} < {t}")
        cal = self._calendar()
        load = self.load
        while t < now:
            rate, switch = tariff_rate(cal, t)
            half_hour = (t // HALF_HOUR + 1) * HALF_HOUR
            step = min(now, switch, half_hour)
            energy, power = load.read(step)
            self.tou_wh[rate - 1] += energy - self.import_wh
            self._dirty.add(rate)
            self.import_wh, self.power_w = energy, power
            t = self.t = step
            if step == half_hour:
                self._half_hour(step)
                if step % DAY == 0:
                    self._midnight(step)

    def _half_hour(self, t: float) -> None:
        demand = (self.import_wh - self.half_hour_start_wh) * 2.0   # W: the half hour's mean power
        self.half_hour_start_wh = self.import_wh
        if demand > self.max_demand_w:
            self.max_demand_w, self.max_demand_at = demand, t
        self._capture(HALF_HOUR_PROFILE, (int(t) - EPOCH_2000, int(self.import_wh)))

    def _midnight(self, t: float) -> None:
        self.day_start_wh = self.import_wh
        stamp = int(t) - EPOCH_2000
        self._capture(DAILY_READ_LOG, (stamp, int(self.import_wh)))
        entry = self._billing_entry(stamp)
        self._capture(DAILY_BILLING_LOG, entry)
        if _ymdw(t)[2] == 1:      # the billing date: the first midnight of the month
            self._capture(BILLING_DATA_LOG, entry)

    def _billing_entry(self, stamp: int) -> tuple:
        blocks = _dlu_array((0,) * 8)
        return (stamp, int(self.import_wh), _dlu_array(self.tou_wh)) + (blocks,) * _BLOCK_COLUMNS

    def _capture(self, obis: str, entry: tuple) -> None:
        if self.logs is None:
            self.logs = {}
        log = self.logs.get(obis)
        if log is None:
            log = self.logs[obis] = deque(maxlen=LOG_DEPTH[obis])
            if self.model is not None:
                self.model.buffers[obis] = log
        log.append(entry)

    def _calendar(self) -> _Calendar | None:
        if self.model is None:
            return None
        obj = self.model.objects.get(TARIFF_SWITCHING_TABLE)
        if obj is None:
            return None
        a = obj.attributes
        key = (id(a.get(3)), id(a.get(4)), id(a.get(5)))
        if key != self._cal_key:
            self._cal_key = key
            self._cal = _Calendar(a.get(3), a.get(4), a.get(5))
        return self._cal

    # ------------------------------------------------------------------ the GBCS view

    def attach(self, logic) -> None:
        """Drive the COSEM registers and logs of C{logic} (an ESME's GBCS device) from here."""
        model = getattr(logic, "model", None)
        if model is None:
            return
        self.model = model
        for rate in range(1, TOU_RATES + 1):
            model.add(*tou_register(rate))
        self._dirty = set(range(1, TOU_RATES + 1))
        self._synced = None
        for obis, log in (self.logs or {}).items():
            model.buffers[obis] = log
        model.refresh = self.sync

    def sync(self) -> None:
        """Advance to now and write the registers into the COSEM objects (before any access)."""
        now = self.clock.seconds()
        if self._synced == now:
            return
        self.advance(now)
        if self.model is None:
            return
        self._synced = now
        objects = self.model.objects
        obj = objects.get(IMPORT_REGISTER)
        if obj is not None:
            obj.attributes[2] = _dlu(self.import_wh)
        dirty, self._dirty = self._dirty, set()
        for rate in dirty:
            obj = objects.get(tou_register(rate))
            if obj is not None:
                obj.attributes[2] = _dlu(self.tou_wh[rate - 1])
        obj = objects.get(POWER_IMPORT_COLLECTION)
        if obj is not None:
            value = obj.writable(2)
            members = value.get("value") or []
            if members and members[0].get("type") == "double-long-unsigned":
                members[0]["value"] = int(self.power_w) & 0xFFFFFFFF
        obj = objects.get(MAX_DEMAND_REGISTER)
        if obj is not None and self.max_demand_at is not None:
            obj.attributes[2] = _dlu(self.max_demand_w)
            from emulator.devices.gbcs.device import dlms_date_time
            obj.attributes[5] = {"type": "octet-string", "value": dlms_date_time(self.max_demand_at).hex().upper()}


# --------------------------------------------------------------------------- gas

#: GBZ / ZCL Metering: CurrentSummationDelivered (cluster 0x0702, attribute 0x0000)
METERING_SUMMATION = (0x0702, 0x0000)


class GasRegisters:
    """The GSME's volume register (m3, kept as dm3: Multiplier 1 / Divisor 1000 on the HAN),
    driven by the home's L{emulator.devices.load.GasLoad}; its GBCS view is the GBZ ZCL
    state's CurrentSummationDelivered of the GSME and of the GPF's copy."""

    __slots__ = ("gas", "clock", "volume_m3", "t", "views")

    def __init__(self, gas, clock, start: float) -> None:
        self.gas = gas
        self.clock = clock
        self.t = start
        self.volume_m3 = gas.read(start)
        #: ZCL states (GBZ devices) that show the register
        self.views: list = []

    @property
    def summation(self) -> int:
        """CurrentSummationDelivered: dm3 (Divisor 1000 -> m3)."""
        return int(self.volume_m3 * 1000)

    def advance(self, now: float | None = None) -> None:
        now = self.clock.seconds() if now is None else now
        if now < self.t:
            raise ValueError(f"time went backwards: {now} < {self.t}")
        if now > self.t:
            self.volume_m3 = self.gas.read(now)
            self.t = now
        for zcl in self.views:
            zcl.attributes[METERING_SUMMATION] = self.summation

    def sync(self) -> None:
        """Advance to now (the views follow): before a command reaches the GBCS logic."""
        self.advance()

    def attach(self, logic) -> None:
        """Show the register in C{logic}'s ZCL state (a GBZ device: the GSME or the GPF)."""
        zcl = getattr(logic, "zcl", None)
        if zcl is not None and not any(v is zcl for v in self.views):
            self.views.append(zcl)
            self.advance()
