"""Seeded consumption models that advance the meters' registers.

Electricity (L{HouseholdLoad}): a base load that moves every few seconds, a fridge
compressor cycling, plus appliance events (kettle, oven, washing machine, ...) arriving as a
Poisson process whose rate follows a daily profile (quiet at night, peaks at breakfast and
dinner).  Power is piecewise constant, so energy is the exact
integral of power over time and can be read at any instant without periodic timers.

Gas (L{GasLoad}): heating and hot-water draws following the same daily shape.

Both are pure functions of (seed-derived C{random.Random}, time): no clock inside; the
caller passes the time of each reading, which must not go backwards.
"""

from __future__ import annotations

import math
import random

#: relative activity by hour of day (local = UTC here), mean 1.0
_DAILY_SHAPE = (0.35, 0.3, 0.25, 0.25, 0.25, 0.35, 0.9, 1.6, 1.5, 1.0, 0.9, 0.9,
                1.0, 0.9, 0.8, 0.9, 1.2, 1.8, 2.2, 1.9, 1.6, 1.3, 0.9, 0.55)
_SHAPE_MEAN = sum(_DAILY_SHAPE) / 24
_DAILY = tuple(x / _SHAPE_MEAN for x in _DAILY_SHAPE)

#: (name, power W, mean duration s, relative frequency)
_APPLIANCES = (
    ("kettle", 2800.0, 150.0, 5.0),
    ("oven", 2200.0, 2400.0, 0.8),
    ("washing machine", 1900.0, 3600.0, 0.6),
    ("dishwasher", 1600.0, 3000.0, 0.6),
    ("microwave", 1100.0, 240.0, 2.0),
    ("television", 120.0, 7200.0, 1.5),
    ("vacuum cleaner", 1400.0, 900.0, 0.5),
)
_FREQ_SUM = sum(a[3] for a in _APPLIANCES)


def _activity(t: float) -> float:
    return _DAILY[int(t // 3600) % 24]


#: the base load (standby, lighting, electronics) is redrawn this often, within +-BASE_WOBBLE
BASE_STEP = 4.0  # s
BASE_WOBBLE = 0.12
#: a fridge-freezer compressor: (watts, mean on s, mean off s)
FRIDGE = (95.0, 1200.0, 2400.0)


class HouseholdLoad:
    """Electricity demand of one home; energy in Wh since the model started.

    Power is piecewise constant and changes at events: appliance starts and ends, the
    fridge compressor switching, and the base load moving every L{BASE_STEP} seconds, so a
    display reading every 10 s sees demand change as a real meter's would.
    """

    __slots__ = ("_rng", "_base_mean_w", "_base_w", "_rate", "_t", "_energy_wh", "_running", "_next_event",
                 "_next_base", "_fridge_on", "_next_fridge", "_appliance_w")

    def __init__(self, rng: random.Random, start: float, mean_power_w: float = 450.0) -> None:
        self._rng = rng
        fridge_mean = FRIDGE[0] * FRIDGE[1] / (FRIDGE[1] + FRIDGE[2])
        self._base_mean_w = max(0.35 * mean_power_w * rng.uniform(0.8, 1.2) - fridge_mean, 10.0)
        self._base_w = self._base_mean_w
        # events per second at activity 1.0 so that appliances supply the other 65 %
        mean_event_wh = sum(p * d / 3600 * f for _, p, d, f in _APPLIANCES) / _FREQ_SUM
        self._rate = (0.65 * mean_power_w) / (mean_event_wh * 3600)
        self._t = start
        self._energy_wh = rng.uniform(1_000_000.0, 30_000_000.0)  # the register is not new
        self._running: list[tuple[float, float]] = []  # (end time, watts)
        self._appliance_w = 0.0
        self._next_event = start + self._draw_gap(start)
        self._next_base = start + BASE_STEP
        self._fridge_on = rng.random() < FRIDGE[1] / (FRIDGE[1] + FRIDGE[2])
        self._next_fridge = start + rng.expovariate(1.0 / (FRIDGE[1] if self._fridge_on else FRIDGE[2]))

    def _draw_gap(self, t: float) -> float:
        return self._rng.expovariate(self._rate * _activity(t))

    def _power_at(self) -> float:
        return self._base_w + self._appliance_w + (FRIDGE[0] if self._fridge_on else 0.0)

    def _advance(self, t: float) -> None:
        if t < self._t:
            raise ValueError(f"time went backwards: {t} < {self._t}")
        rng = self._rng
        while True:
            next_end = min((end for end, _ in self._running), default=math.inf)
            step_to = min(t, next_end, self._next_event, self._next_base, self._next_fridge)
            self._energy_wh += self._power_at() * (step_to - self._t) / 3600.0
            self._t = step_to
            if step_to == next_end:
                self._running = [(e, w) for e, w in self._running if e > step_to]
                self._appliance_w = sum(w for _, w in self._running)
            if step_to == self._next_event:
                pick = rng.uniform(0, _FREQ_SUM)
                for _, watts, duration, freq in _APPLIANCES:
                    pick -= freq
                    if pick <= 0:
                        break
                self._running.append((step_to + rng.expovariate(1.0 / duration), watts))
                self._appliance_w = sum(w for _, w in self._running)
                self._next_event = step_to + self._draw_gap(step_to)
            if step_to == self._next_base:
                self._base_w = self._base_mean_w * rng.uniform(1.0 - BASE_WOBBLE, 1.0 + BASE_WOBBLE)
                self._next_base = step_to + BASE_STEP
            if step_to == self._next_fridge:
                self._fridge_on = not self._fridge_on
                mean = FRIDGE[1] if self._fridge_on else FRIDGE[2]
                self._next_fridge = step_to + rng.expovariate(1.0 / mean)
            if step_to == t:
                return

    def read(self, t: float) -> tuple[float, float]:
        """(energy imported in Wh, instantaneous demand in W) at time C{t}."""
        self._advance(t)
        return self._energy_wh, self._power_at()


class GasLoad:
    """Gas use of one home in m3 (volume register) with a daily profile."""

    __slots__ = ("_rng", "_per_second", "_t", "_volume", "_hour", "_noise")

    def __init__(self, rng: random.Random, start: float, mean_m3_per_day: float = 3.0) -> None:
        self._rng = rng
        self._per_second = mean_m3_per_day / 86400.0 * rng.uniform(0.8, 1.2)
        self._t = start
        self._volume = rng.uniform(500.0, 9000.0)
        self._hour: int | None = None
        self._noise = 1.0

    def read(self, t: float) -> float:
        """Volume register (m3) at C{t}: hour by hour profile with seeded noise.

        The noise is drawn once per hour of the clock, so the register at any time does not
        depend on when (or how often) it was read before.
        """
        if t < self._t:
            raise ValueError(f"time went backwards: {t} < {self._t}")
        while self._t < t:
            hour = int(self._t // 3600)
            if hour != self._hour:
                self._hour, self._noise = hour, self._rng.uniform(0.6, 1.4)
            step_to = min(t, (hour + 1) * 3600.0)
            self._volume += self._per_second * _activity(self._t) * self._noise * (step_to - self._t)
            self._t = step_to
        return self._volume
