"""The dual-band CH's sub-GHz (868 MHz) state as the CHF's DBCH use cases see it.

COSEM objects of the CHF (spec/gbcs-wire-format.md 4.1.5, "0-0:94.44.10.0/.1/.2 Sub-GHz
config / channel scan / operating channel"; the base model holds .0, .1 and the channel log
0-0:94.44.10.3):

  - 0-0:94.44.10.2, the operating sub-GHz channel (DBCH01): a structure of the channel as a
    32-bit channel mask (the page in the top bits and one channel bit, the form the channel
    log and the Sub GHz Channel Changed alert carry, e.g. E0000001 = page 28 channel 0) and
    one octet of channel status;
  - DBCH04 set sub-GHz configuration: a successful write of 0-0:94.44.10.0 is reported with
    the Sub GHz Configuration Changed alert (message code 0x0113, DBCH09, alert 0x8F2A);
  - DBCH05 request channel scan (a write of 0-0:94.44.10.1): L{SubGhzRadio.request_scan}.

L{SubGhzRadio} is the sub-GHz radio's duty-cycle and channel management: airtime counted per
rolling hour against the band's limit, the CH's levels (normal, limited, critical,
regulated) with their alerts (DBCH06 limited action taken 0x8F20 with the device's EUI;
0x8F22 / 0x8F24 and the fallen-below alerts 0x8F21 / 0x8F23 / 0x8F25 as generic non-critical
alerts), messages discarded over the limit (DBCH10, 0x8F2C with the discarded message's
originator, target, CRA flag and counter), device capacity (DBCH11, 0x8F2D) and channel scans
(DBCH08 assessment outcome 0x8F28; DBCH07 channel changed 0x8F26, logged in the channel log).
The duty-cycle thresholds are the radio's (L{DutyCycleConfig}): the GBCS meaning of each
member of the configuration object is not in the specification notes this emulator follows,
so only its channel masks are used (the channels a scan may choose).  The alert payloads are
those of the DCC's DBCH06/07/10/11 reference alerts; DBCH08 carries the channel chosen.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any, Callable

from protocols.gbcs.payloads import dlms
from protocols.zcl.types import ZCL_EPOCH_UNIX

from emulator.devices.gbcs.cosem import INSTANCE_DEVICE, INSTANCE_TYPES, SUCCESS

__all__ = ["SUB_GHZ_CONFIGURATION", "SUB_GHZ_CHANNEL", "CONFIGURATION_CHANGED_ALERT", "ALERT_CONFIGURATION_CHANGED",
           "channel_value", "report_configuration_change", "DutyCycleConfig", "SubGhzRadio"]

SUB_GHZ_CONFIGURATION = "0-0:94.44.10.0"
SUB_GHZ_CHANNEL = "0-0:94.44.10.2"
SUB_GHZ_SCAN_REQUEST = "0-0:94.44.10.1"
CONFIGURATION_CHANGED_ALERT = 0x0113
ALERT_CONFIGURATION_CHANGED = 0x8F2A

#: the channel a dual-band CH starts on: page 28, channel 0
DEFAULT_CHANNEL_MASK = 0xE0000001


def channel_value(mask: int, status: int = 0) -> dict:
    """The operating channel object's value."""
    return dlms.structure({"type": "bit-string", "bits": 32, "value": f"{mask:08X}"},
                          dlms.octet_string(bytes((status,))))


def report_configuration_change(device: Any, payload: dict, response: dict | None) -> None:
    """After a command: alert if it wrote the sub-GHz configuration (DBCH04), scan if it asked
    for a channel scan (DBCH05)."""
    if response is None or payload.get("apdu") != "Access-Request":
        return
    specs = payload.get("access_request_specification") or []
    results = response.get("access_response_specification") or []
    for spec, res in zip(specs, results):
        if spec.get("choice") != "access-request-set" or res.get("result") != SUCCESS:
            continue
        if spec.get("obis") == SUB_GHZ_CONFIGURATION:
            device.raise_alert(ALERT_CONFIGURATION_CHANGED, critical=False,
                               message_code=CONFIGURATION_CHANGED_ALERT)
        elif spec.get("obis") == SUB_GHZ_SCAN_REQUEST and getattr(device, "sub_ghz", None) is not None:
            device.sub_ghz.request_scan()


INSTANCE_TYPES[(1, SUB_GHZ_CHANNEL, 2)] = lambda: channel_value(DEFAULT_CHANNEL_MASK)
INSTANCE_DEVICE[(1, SUB_GHZ_CHANNEL)] = "CHF"


# --------------------------------------------------------------------------- duty cycle

#: message codes of the sub-GHz alerts (DBCH06, 07, 08, 10, 11)
LIMITED_ACTION_ALERT, CHANNEL_CHANGED_ALERT, SCAN_OUTCOME_ALERT = 0x0110, 0x0111, 0x0112
MESSAGE_DISCARDED_ALERT, NO_CAPACITY_ALERT = 0x0114, 0x0115
GENERIC_NON_CRITICAL = 0x1001
ALERT_LIMITED, ALERT_BELOW_NORMAL_LIMITED = 0x8F20, 0x8F21
ALERT_CRITICAL, ALERT_BELOW_LIMITED_CRITICAL = 0x8F22, 0x8F23
ALERT_REGULATED, ALERT_BELOW_CRITICAL_REGULATED = 0x8F24, 0x8F25
ALERT_CHANNEL_CHANGED, ALERT_SCAN_INITIATED, ALERT_SCAN_OUTCOME = 0x8F26, 0x8F27, 0x8F28
ALERT_CHANNEL_NOT_CHANGED = 0x8F2B
ALERT_MESSAGE_DISCARDED, ALERT_NO_CAPACITY = 0x8F2C, 0x8F2D
SUB_GHZ_CHANNEL_LOG = "0-0:94.44.10.3"
NORMAL, LIMITED, CRITICAL, REGULATED = 0, 1, 2, 3


@dataclass(frozen=True, slots=True)
class DutyCycleConfig:
    """The sub-GHz band's duty-cycle limit and the CH's thresholds.

    The 868 MHz band the dual-band CH uses (ETSI EN 300 220, sub-band g1) allows a 1% duty
    cycle: 36 s of transmission in any hour.  The thresholds are fractions of that allowance
    at which the CH moves to limited, critical and regulated operation.
    """

    limit_s_per_hour: float = 36.0
    normal_limited: float = 0.50
    limited_critical: float = 0.75
    critical_regulated: float = 0.90
    #: sub-GHz devices the CH can serve
    capacity: int = 8
    #: how long a channel scan takes (s)
    scan_duration_s: float = 60.0
    #: a channel must be this much quieter (dB) than the current one to be moved to
    agility_margin_db: float = 6.0


class SubGhzRadio:
    """The dual-band CH's sub-GHz radio: airtime per rolling hour, duty-cycle levels,
    discards, device capacity and channel scans (sans-IO: time comes with every call,
    the scan completes on the CHF's clock).

    @param chf: the CHF (L{emulator.devices.gbcs.dlms_device.Chf}): it raises the alerts, its
        COSEM model holds the operating channel (0-0:94.44.10.2) and channel log (.10.3).
    @param energy: channel mask -> measured energy (dBm) during a scan (seeded by the caller).
    """

    def __init__(self, chf: Any, config: DutyCycleConfig | None = None,
                 energy: Callable[[int], float] | None = None) -> None:
        self.chf = chf
        self.config = config or DutyCycleConfig()
        self.energy = energy or (lambda mask: -100.0)
        self._sent: deque[tuple[float, float]] = deque()
        self.level = NORMAL
        self.devices: set[int] = set()
        self.discarded = 0
        self._scan = None
        #: called with the new channel mask after each channel change (the radio follows it)
        self.channel_listeners: list[Callable[[int], None]] = []

    # -------------------------------------------------------------- airtime

    def airtime(self, now: float) -> float:
        """Seconds transmitted in the hour up to C{now}."""
        while self._sent and self._sent[0][0] <= now - 3600.0:
            self._sent.popleft()
        return sum(a for _t, a in self._sent)

    def _level_for(self, used: float) -> int:
        c = self.config
        share = used / c.limit_s_per_hour
        if share >= c.critical_regulated:
            return REGULATED
        if share >= c.limited_critical:
            return CRITICAL
        if share >= c.normal_limited:
            return LIMITED
        return NORMAL

    def _update_level(self, now: float, device_eui: int) -> None:
        new = self._level_for(self.airtime(now))
        old, self.level = self.level, new
        eui = dlms.octet_string(device_eui.to_bytes(8, "big"))
        for lvl in range(old + 1, new + 1):            # thresholds crossed upwards
            code = (ALERT_LIMITED, ALERT_CRITICAL, ALERT_REGULATED)[lvl - 1]
            self._alert(code, LIMITED_ACTION_ALERT if code == ALERT_LIMITED else GENERIC_NON_CRITICAL, eui)
        for lvl in range(old, new, -1):                 # and downwards
            code = (ALERT_BELOW_NORMAL_LIMITED, ALERT_BELOW_LIMITED_CRITICAL, ALERT_BELOW_CRITICAL_REGULATED)[lvl - 1]
            self._alert(code, GENERIC_NON_CRITICAL, None)

    def transmit(self, now: float, airtime_s: float, device_eui: int, *,
                 message: tuple[int, int, int, int] | None = None, essential: bool = False) -> bool:
        """The CH wants to send a frame of C{airtime_s} to C{device_eui}; True if it may.

        In regulated operation, and whenever the frame would take the hour past the limit,
        the frame is not sent: a remote-party message (C{message} = business originator,
        target, CRA flag, originator counter) is discarded with alert 0x8F2C; other frames
        are dropped silently (HAN housekeeping).  In critical operation only C{essential}
        frames (responses and alerts to the DCC, joining) go out.
        """
        self._update_level(now, device_eui)
        over = self.airtime(now) + airtime_s > self.config.limit_s_per_hour
        if over or self.level == REGULATED or (self.level == CRITICAL and not essential):
            self.discarded += 1
            if message is not None:
                orig, target, cra, counter = message
                ident = orig.to_bytes(8, "big") + target.to_bytes(8, "big") + bytes((cra,)) + counter.to_bytes(8, "big")
                self._alert(ALERT_MESSAGE_DISCARDED, MESSAGE_DISCARDED_ALERT, dlms.octet_string(ident))
            return False
        self._sent.append((now, airtime_s))
        self._update_level(now, device_eui)
        return True

    # -------------------------------------------------------------- devices

    def admit(self, device_eui: int) -> bool:
        """A sub-GHz device asks to join; False (alert 0x8F2D) when the CH is full."""
        if device_eui in self.devices or len(self.devices) < self.config.capacity:
            self.devices.add(device_eui)
            return True
        self._alert(ALERT_NO_CAPACITY, NO_CAPACITY_ALERT, dlms.octet_string(device_eui.to_bytes(8, "big")))
        return False

    # -------------------------------------------------------------- channel

    def channel(self) -> int:
        value = self.chf.model.get(1, SUB_GHZ_CHANNEL, 2)[1]
        return int(value["value"][0]["value"], 16)

    def allowed_channels(self) -> list[int]:
        """Channel masks (page bits + one channel bit) the configuration's masks allow."""
        cfg = self.chf.model.get(1, SUB_GHZ_CONFIGURATION, 2)[1]["value"]
        out = []
        for member in cfg[:4]:
            mask = int(member.get("value") or "0", 16)
            page_bits, channels = mask & 0xF8000000, mask & 0x07FFFFFF
            out += [page_bits | (1 << b) for b in range(27) if channels >> b & 1]
        return out or [self.channel()]

    def request_scan(self) -> None:
        """DBCH05: start a channel scan; the assessment follows after the scan duration."""
        if self._scan is not None and self._scan.active():
            return
        self._scan = self.chf.clock.callLater(self.config.scan_duration_s, self._assess)

    def _assess(self) -> None:
        self._scan = None
        current = self.channel()
        best = min(self.allowed_channels(), key=lambda m: (self.energy(m), m != current, m))
        change = best != current and self.energy(best) + self.config.agility_margin_db <= self.energy(current)
        self._alert(ALERT_SCAN_OUTCOME, SCAN_OUTCOME_ALERT, channel_value(best if change else current))
        if change:
            self.set_channel(best)

    def set_channel(self, mask: int) -> None:
        """Move to another channel: the object, the channel log and alert 0x8F26."""
        model = self.chf.model
        model.objects[(1, SUB_GHZ_CHANNEL)].attributes[2] = channel_value(mask)
        model.capture(SUB_GHZ_CHANNEL_LOG, int(self.chf.now()) - ZCL_EPOCH_UNIX, ALERT_CHANNEL_CHANGED,
                      f"{mask:08X}090100")
        self._alert(ALERT_CHANNEL_CHANGED, CHANNEL_CHANGED_ALERT, channel_value(mask))
        for listener in self.channel_listeners:
            listener(mask)

    # -------------------------------------------------------------- alerts

    def _alert(self, code: int, message_code: int, data: dict | None) -> None:
        from emulator.devices.gbcs.device import dlms_date_time
        members = [dlms.make_data("long-unsigned", code), dlms.octet_string(dlms_date_time(self.chf.now()))]
        if data is not None:
            members.append(data)
        counter = self.chf.alert_counter
        # the CH's sub-GHz alerts go to the ACB (as the DCC's DBCH06/07/10/11 reference alerts)
        self.chf.raise_alert(code, critical=False, payload=dlms.data_notification(counter, dlms.structure(*members)),
                             message_code=message_code, recipient=self.chf.crypto.acb_eui)
