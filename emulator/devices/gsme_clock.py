"""The GSME's clock: the HAN's time plus the meter's clock error, synchronised from the CH.

The E2E technical architecture (5.4) and GBCS section 9: the Communications Hub is the HAN's time
source (the Time cluster it serves as master, L{emulator.devices.hub}); the GSME synchronises its
clock with it every 24 hours (L{SYNC_INTERVAL}, device parameter C{clock_sync_interval}).  A
difference of at most L{ADJUST_TOLERANCE} seconds is adjusted; a larger one is not: the meter keeps
its clock and raises I{Clock not adjusted (adjustment greater than 10 seconds)} (0x8F0C), after
which the Supplier sets the clock with GCS28 (Set Clock on GSME), whose outcome adopts the CH's
time when it lies in the command's validity interval (L{emulator.devices.gbcs.asn1_usecases}).

The clock error lives in one place: the C{clock_offset} of the GSME's GBCS application
(L{emulator.devices.gbcs.device.GbcsDevice.now} is the HAN's time plus it), so GBCS responses'
date-times, alerts and logs all carry it.  A device without GBCS logic (a
L{emulator.devices.tunnel.SilentApplication}) has no clock to be wrong.
"""

from __future__ import annotations

from typing import Any, Callable

from protocols.zcl.types import ZCL_EPOCH_UNIX

__all__ = ["ClockSync", "SYNC_INTERVAL", "ADJUST_TOLERANCE", "ALERT_CLOCK_NOT_ADJUSTED", "gbcs_clock",
           "clock_application"]

SYNC_INTERVAL = 86400.0          # s between synchronisations with the CH (E2E architecture 5.4)
ADJUST_TOLERANCE = 10            # s: the largest adjustment a synchronisation makes (GBCS 9)
ALERT_CLOCK_NOT_ADJUSTED = 0x8F0C   # Clock not adjusted (adjustment greater than 10 seconds)


def gbcs_clock(node) -> Any | None:
    """The GBCS application of C{node} that keeps its clock (has C{now} and C{clock_offset}), or
    None: no tunnel yet, no GBCS logic, or logic built lazily and not built yet (its clock is
    then the HAN's, offset 0, and reading it must not build it)."""
    app = getattr(getattr(node, "tunnel", None), "application", None)
    if app is None or not getattr(app, "built", True):
        return None
    app = getattr(app, "application", app)       # a LazyApplication: the logic itself
    return app if hasattr(app, "now") and hasattr(app, "clock_offset") else None


def clock_application(node) -> Any | None:
    """Like L{gbcs_clock}, but builds lazily built GBCS logic (to set its clock)."""
    app = getattr(getattr(node, "tunnel", None), "application", None)
    if app is None:
        return None
    app = getattr(app, "application", app)       # a LazyApplication: the logic itself
    return app if hasattr(app, "now") and hasattr(app, "clock_offset") else None


class ClockSync:
    """One GSME's synchronisation with the CH's Time cluster (sans-IO: the node reads the
    attribute, this decides).

    @param clock: the HAN's clock (C{seconds()}).
    @param node: the GSME node (its GBCS application holds the clock error).
    @param raise_alert: C{raise_alert(alert_code)}: the meter raises a GBCS alert.
    """

    def __init__(self, clock, node, raise_alert: Callable[[int], None], interval: float = SYNC_INTERVAL) -> None:
        self.clock = clock
        self.node = node
        self.raise_alert = raise_alert
        self.interval = float(interval)
        self.last_attempt: float | None = None
        self._sent_at = 0.0      # the meter's clock when it sent the last read
        #: outcomes of the synchronisations so far
        self.in_sync = 0
        self.adjusted = 0
        self.not_adjusted = 0
        self.failed = 0

    def due(self) -> bool:
        """Whether a synchronisation is due (none yet, or the interval has passed since the last)."""
        return self.last_attempt is None or self.clock.seconds() - self.last_attempt >= self.interval

    def started(self) -> None:
        """The meter sends its Read Attributes of the CH's time now."""
        self.last_attempt = self.clock.seconds()
        app = gbcs_clock(self.node)
        # the meter's clock on the HAN's time base: the HAN's time plus its error (a replay's
        # device clock may be shifted to reference dates on purpose: that shift is not an error)
        self._sent_at = float(self.last_attempt) + (app.clock_offset if app is not None else 0.0)

    def time_read(self, values: dict[int, Any] | None) -> str:
        """The CH's Time attribute (0x0000, a ZCL UTCTime) as read, or C{None} if the read failed:
        adjust the clock or raise 0x8F0C; the outcome's name."""
        ch_time = values.get(0x0000) if values else None
        if not isinstance(ch_time, int) or isinstance(ch_time, bool):
            self.failed += 1
            return "failed"
        app = gbcs_clock(self.node)
        if app is None:                          # no GBCS clock: the HAN's time, never wrong
            self.in_sync += 1
            return "in_sync"
        # the CH stamps its time when the request reaches it (at once: the answer is what waits
        # for the sleepy meter's poll), compared with the meter's clock when it sent the request;
        # UTCTime has whole seconds: the CH's time lies half a second on average past the stamp
        error = round(self._sent_at - (ch_time + ZCL_EPOCH_UNIX + 0.5))
        if error == 0:
            self.in_sync += 1
            return "in_sync"
        if abs(error) <= ADJUST_TOLERANCE:
            app.clock_offset -= error
            self.adjusted += 1
            return "adjusted"
        self.not_adjusted += 1
        self.raise_alert(ALERT_CLOCK_NOT_ADJUSTED)
        return "not_adjusted"
