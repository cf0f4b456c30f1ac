"""GBZ devices (GSME, and the GPF's mirror of it): execute GBZ commands on ZCL state.

A GBZ command is a list of components, each one ZCL frame for one Smart Energy cluster
(spec/gbcs-wire-format.md 4.2).  The device answers component by component, in order:

  - Read Attributes -> Read Attributes Response: one record per attribute, with the ZCL data
    type ZSE gives the attribute (L{ATTRIBUTE_TYPES}), or UNSUPPORTED_ATTRIBUTE;
  - a Publish* command from the remote party (server-to-client; the meter is the client of
    Price, Calendar, Messaging and Device Management) is stored and acknowledged with a
    Default Response;
  - a client-to-server command (Prepayment, Metering, Events, Price) is executed and answered
    with its ZSE response command where one exists (Change Payment Mode Response, Consumer Top
    Up Response, Clear Event Log Response, Supply Status Response, Publish Billing Period,
    Publish Price), otherwise with a Default Response.

Responses travel in the opposite direction to their command.  Once a component fails (a
hardware failure of the attribute or command), the remaining components are not executed
and each is answered with a Default Response (command 0xFF, FAILURE), as GBCS devices do.
The components of the responses GBCS classes as sensitive (L{SENSITIVE_RESPONSES}) are
encrypted for the remote party (section 2.3).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Callable

from protocols.errors import CodecError
from protocols.gbcs import catalogue
from protocols.gbcs.framing import Frame
from protocols.gbcs.payloads import gbz
from protocols.gbcs.utrn import verify_utrn
from protocols.zcl import types as zt
from protocols.zcl.clusters import get_cluster
from protocols.zcl.foundation import Status

from emulator.devices.gbcs import devicelog, gbz_logs, han_commands, keypad, snapshots
from emulator.devices.gbcs.asn1_usecases import ASN1_USE_CASES
from emulator.devices.gbcs.device import GbcsDevice
from emulator.devices.gbcs.security import ROLE_SUPPLIER, SecurityState

__all__ = ["ATTRIBUTE_TYPES", "SENSITIVE_RESPONSES", "ZclState", "GbzDevice", "Gsme", "Gpf",
           "ZCL_SUCCESS", "ZCL_FAILURE", "ZCL_HARDWARE_FAILURE", "ZCL_UNSUPPORTED_ATTRIBUTE", "ZCL_NOT_FOUND"]

ZCL_SUCCESS = int(Status.SUCCESS)
ZCL_FAILURE = int(Status.FAILURE)
ZCL_NOT_AUTHORIZED = int(Status.NOT_AUTHORIZED)
ZCL_UNSUP_CLUSTER_COMMAND = int(Status.UNSUP_CLUSTER_COMMAND)
ZCL_UNSUPPORTED_ATTRIBUTE = int(Status.UNSUPPORTED_ATTRIBUTE)
ZCL_NOT_FOUND = int(Status.NOT_FOUND)
ZCL_HARDWARE_FAILURE = int(Status.HARDWARE_FAILURE)

BASIC, PRICE, METERING, MESSAGING, PREPAYMENT, CALENDAR, DEVICE_MANAGEMENT, EVENTS = \
    0x0000, 0x0700, 0x0702, 0x0703, 0x0705, 0x0707, 0x0708, 0x0709


def _zero(t: int) -> Any:
    return "" if t in (zt.OCTET_STRING, zt.CHARACTER_STRING) else 0


def _supported_attributes() -> list[tuple[int, int]]:
    """The (cluster, attribute) pairs a GBCS GSME holds: those its use cases read."""
    keys = [(BASIC, a) for a in range(0x0000, 0x0008)]
    # Metering: reading information set, meter status, formatting, supply control, billing
    keys.append((METERING, 0x0000))
    keys += [(METERING, a) for a in range(0x0100, 0x0110, 2)]   # CurrentTierNSummationDelivered
    keys += [(METERING, a) for a in range(0x0700, 0x0710)]      # CurrentNoTierBlockNSummationDelivered
    keys += [(METERING, a) for a in (0x0014, 0x0200, 0x0205, 0x0206, 0x0300, 0x0301, 0x0302, 0x0303,
                                     0x0306, 0x0307, 0x0607, 0x0608, 0x0A00, 0x0A01, 0x0B10, 0x0B11,
                                     0x0B12, 0x0B13, 0x0B14, 0x0B15)]
    # Prepayment
    keys += [(PREPAYMENT, a) for a in (0x0000, 0x0001, 0x0002, 0x0005, 0x0006, 0x0010, 0x0011, 0x0021,
                                       0x0022, 0x0031, 0x0040)]
    for base in (0x0210, 0x0220, 0x0230):            # debt 1..3
        keys += [(PREPAYMENT, base + o) for o in (1, 6, 7, 9)]
    # Price: block thresholds, threshold multiplier/divisor, billing, tariff information, prices
    keys += [(PRICE, a) for a in range(0x0100, 0x010F)]
    keys += [(PRICE, a) for a in (0x0202, 0x0203, 0x0301, 0x0302, 0x0303, 0x0304, 0x0305, 0x0306,
                                  0x0615, 0x0616, 0x0617)]
    keys += [(PRICE, a) for a in range(0x0400, 0x0500)]         # block / tier block prices
    return keys


def _attribute_types() -> dict[tuple[int, int], int]:
    """The ZCL data type of each attribute the GSME holds, from the ZSE cluster registry."""
    return {(c, a): get_cluster(c).attributes[a].type_id for c, a in _supported_attributes()}


#: (cluster, attribute) -> ZCL data type (ZSE 1.4, L{protocols.zcl.clusters})
ATTRIBUTE_TYPES = _attribute_types()

#: use case -> clusters whose response components are encrypted for the remote party
#: (GBCS sensitive data: consumption registers and prepayment balances).
SENSITIVE_RESPONSES: dict[str, frozenset[int]] = {
    "GCS13a": frozenset({METERING}), "GCS13b": frozenset({METERING}), "GCS13c": frozenset({METERING}),
    "GCS14": frozenset({PREPAYMENT}), "GCS15d": frozenset({PREPAYMENT}),
    "GCS17": frozenset({METERING}), "GCS61": frozenset({METERING}),
    # the billing data and daily read logs (snapshots of the registers and balances)
    **{name: frozenset({METERING, PREPAYMENT}) for name in ("GCS15b", "GCS15c", "GCS16a", "GCS16b")},
}

#: server-to-client commands the remote party publishes to the meter (stored, acknowledged)
_PUBLISHED = {PRICE: {1, 2, 3, 4, 5, 6, 9}, CALENDAR: {0, 1, 2, 3, 4}, MESSAGING: {0},
              DEVICE_MANAGEMENT: {0, 1, 3, 4, 5, 6}}
#: client-to-server commands acknowledged with a Default Response once executed
_ACKNOWLEDGED = {PREPAYMENT: {0, 2, 3, 5, 9, 11, 12}, METERING: {13, 14}}
#: calendar reads: Get Day Profiles / Week Profiles / Seasons / Special Days -> Publish* response id
_CALENDAR_GETS = {1: 1, 2: 2, 3: 3, 4: 4}
#: IssuerCalendarID naming the friendly credit calendar (GBCS); other ids read the TOU calendar
FRIENDLY_CREDIT_CALENDAR_ID = 0xFFFFFFFE
CALENDAR_TOU, CALENDAR_FRIENDLY_CREDIT = 0, 3
#: client-to-server commands answered with a ZSE response command (cluster, command) -> response id
_ANSWERED = {(PREPAYMENT, 6): 2, (PREPAYMENT, 4): 3, (EVENTS, 1): 2, (METERING, 11): 12, (PRICE, 11): 9,
             (PRICE, 0): 0, (PREPAYMENT, 8): 5, (PREPAYMENT, 10): 6, (METERING, 8): 7}
#: log reads: (cluster, command) -> the log they read
_LOG_READS = {(PREPAYMENT, 8): "top_ups", (PREPAYMENT, 10): "debt_collections", (METERING, 8): "samples"}
#: the consumption sampling interval of the gas meter (seconds)
SAMPLE_INTERVAL = 1800


@dataclass(slots=True)
class ZclState:
    """The meter's ZCL state: attribute values, what was published to it, its logs."""

    attributes: dict[tuple[int, int], Any] = field(default_factory=dict)
    published: dict[tuple[int, int], list[dict]] = field(default_factory=dict)
    #: calendar type -> {"calendar": Publish Calendar, "days": {id: ...}, "weeks": {id: ...},
    #:                   "seasons": Publish Seasons, "special_days": Publish Special Days}
    calendars: dict[int, dict] = field(default_factory=dict)
    #: whether a current price is in force (a tariff was set up)
    price_in_force: bool = True
    #: event (alert code) -> its configuration bits (log, alert, ...), set by Set Event Configuration
    event_config: dict[int, int] = field(default_factory=dict)
    #: top-up log: dicts TopUpCode / TopUpAmount / TopUpTime (UTC seconds since 2000), oldest first
    top_ups: list[dict] = field(default_factory=list)
    #: debt repayment log: dicts CollectionTime / AmountCollected / DebtType / OutstandingDebt
    debt_collections: list[dict] = field(default_factory=list)
    #: consumption samples: (start time since 2000, interval s, [values])
    samples: list[tuple[int, int, list[int]]] = field(default_factory=list)
    event_logs_cleared: int = 0
    #: event logs (ZSE Events LogID) that cannot be cleared (a hardware fault)
    unclearable_logs: set = field(default_factory=set)
    #: (cluster, "read"/"command", id) -> ZCL status the item yields (a failed register, ...)
    faults: dict[tuple[int, str, int], int] = field(default_factory=dict)
    #: (cluster, command, parameters or None for any, status): a command addressing a failed part
    command_faults: list[tuple[int, int, dict | None, int]] = field(default_factory=list)

    def command_fault(self, cluster: int, command: int, payload: dict) -> int | None:
        status = self.faults.get((cluster, "command", command))
        if status is not None:
            return status
        for c, k, p, st in self.command_faults:
            if c == cluster and k == command and (p is None or p == payload):
                return st
        return None

    def read(self, cluster: int, attr: int) -> tuple[int, int | None, Any]:
        fault = self.faults.get((cluster, "read", attr))
        if fault is not None:
            return fault, None, None
        t = ATTRIBUTE_TYPES.get((cluster, attr))
        if t is None:
            return ZCL_UNSUPPORTED_ATTRIBUTE, None, None
        return ZCL_SUCCESS, t, self.attributes.get((cluster, attr), _zero(t))


FUTURE_DATED_GBZ_ALERT = 0x00CD


class GbzDevice(GbcsDevice):
    """A device that speaks GBZ (ZigBee ZCL components)."""

    alert_codes = GbcsDevice.alert_codes | {FUTURE_DATED_GBZ_ALERT, 0x00CF}   # 0x00CF firmware receipt

    def __init__(self, eui: int, crypto: Any, clock: Any, send: Callable[[bytes], None], *,
                 security: SecurityState | None = None, alert_counter: int = 1) -> None:
        super().__init__(eui, crypto, clock, send, security=security, alert_counter=alert_counter)
        self.zcl = ZclState()
        #: (cluster, frame type and direction, command) -> (pending call, (originator, counter))
        self.pending: dict[tuple[int, int, int], tuple[Any, tuple[int, int]]] = {}
        self._commission()

    def _commission(self) -> None:
        """Initial attribute values and calendars a commissioned meter holds."""
        # the TOU calendar's season starts on 1 January 2000; the friendly credit calendar's
        # recurs from 1 January of every year (year "any")
        for ctype, season_year, entries in (
                (CALENDAR_TOU, 2000, [{"RateStartTime": 0, "PriceTier": 1}]),
                (CALENDAR_FRIENDLY_CREDIT, None, [{"FriendlyCreditStartTime": 0, "FriendlyCreditEnable": False}])):
            ids = {"ProviderID": 0, "IssuerEventID": 0, "IssuerCalendarID": 0}
            self._store_calendar(0, {**ids, "StartTime": 0, "CalendarType": ctype, "CalendarTimeReference": 0,
                                     "CalendarName": "", "NumberofSeasons": 1, "NumberofWeekProfiles": 1,
                                     "NumberofDayProfiles": 1})
            self._store_calendar(1, {**ids, "DayID": 1, "TotalNumberofScheduleEntries": len(entries),
                                     "CommandIndex": 0, "TotalNumberofCommands": 1, "CalendarType": ctype,
                                     "DayScheduleEntries": {"Entries": entries}}, ctype)
            self._store_calendar(2, {**ids, "WeekID": 1, **{f"DayIDRef{d}": 1 for d in (
                "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")}}, ctype)
            self._store_calendar(3, {**ids, "CommandIndex": 0, "TotalNumberofCommands": 1, "SeasonEntries": [
                {"SeasonStartDate": {"year": season_year, "month": 1, "day": 1, "day_of_week": None}, "WeekIDRef": 1}]},
                ctype)
            self._store_calendar(4, {**ids, "StartTime": 0, "CalendarType": ctype, "TotalNumberofSpecialDays": 1,
                                     "CommandIndex": 0, "TotalNumberofCommands": 1, "SpecialDayEntries": [
                                         {"SpecialDayDate": {"year": 2000, "month": 12, "day": 25, "day_of_week": None},
                                          "DayIDRef": 1}]})
        a = self.zcl.attributes
        a[(BASIC, 0x0004)] = "emulator"
        a[(BASIC, 0x0005)] = f"{self.device_type} {self.eui:016X}"
        a[(BASIC, 0x0003)] = 1
        a[(PRICE, 0x0616)] = 826            # GBP
        a[(METERING, 0x0300)] = 1           # m3
        a[(METERING, 0x0302)] = 1000
        # every GSME event / alert of GBCS (0x81xx) is configured, logged by default
        from protocols.gbcs.catalogue import alert_codes
        for code in alert_codes():
            if code >> 8 == 0x81:
                self.zcl.event_config[code] = 0x01

    # ------------------------------------------------------------------ capabilities

    @staticmethod
    def component_supported(cluster: int, frame_control: int, command_id: int) -> bool:
        if frame_control & 0x03 == 0x00:                     # profile-wide
            return command_id == 0x00                        # Read Attributes
        s2c = bool(frame_control & 0x08)
        if (cluster, s2c, command_id) in gbz_logs.COMMAND_HANDLERS:    # snapshots, events, sampling
            return True
        if s2c:
            return command_id in _PUBLISHED.get(cluster, ())
        return command_id in _ACKNOWLEDGED.get(cluster, ()) or (cluster, command_id) in _ANSWERED \
            or (cluster == CALENDAR and command_id in _CALENDAR_GETS)

    def supports(self, message_code: int) -> bool:
        if message_code in ASN1_USE_CASES:
            return self.supports_asn1(message_code)
        uc = catalogue.use_case(message_code)
        if uc is None or uc.is_alert:
            return False
        targets = uc.target_device_types
        if self.device_type == "GPF" and "GSME" in targets:
            targets = targets + ("GPF",)        # the GPF answers GSME reads from its mirror
        if self.device_type not in targets:
            return False
        items = _gbz_items().get(message_code)
        return bool(items) and all(self.component_supported(*i) for i in items)

    # ------------------------------------------------------------------ execution

    def execute(self, frame: Frame, payload: dict) -> dict | None:
        if payload.get("kind") == "asn1":
            return super().execute(frame, payload)
        if payload.get("kind") != "gbz" or "alert_code" in payload:
            return None
        self._frame = frame
        snapshots.catch_up(self)          # the daily reads due before anything changes the registers
        uc = catalogue.use_case(frame.signing.message_code)
        sensitive = SENSITIVE_RESPONSES.get(uc.name if uc else "", frozenset())
        out: list[dict] = []
        failed = False
        for comp in payload.get("components", []):
            z = comp["zcl"]
            cluster, fc, cmd, tsn = comp["cluster_id"], z["frame_control"], z["command_id"], \
                z["transaction_sequence_number"]
            reply_fc = (fc & 0x03) | (0x00 if fc & 0x08 else 0x08)
            dr_fc = reply_fc & 0x08                      # profile-wide, opposite direction
            if failed:
                out.append(gbz.build_component(cluster, dr_fc, tsn, 0x0B, {"CommandID": 0xFF, "Status": ZCL_FAILURE}))
                continue
            if fc & 0x03 == 0x00 and cmd == 0x00:
                records, ok = self._read(cluster, z.get("payload") or {})
                failed = not ok
                c = gbz.build_component(cluster, dr_fc, tsn, 0x01, {"Records": records})
                if cluster in sensitive:
                    c["extended_header_control"] |= 0x02
                    c["zcl"]["ciphered_information"] = {"plaintext": c["zcl"].pop("payload")}
                out.append(c)
                continue
            fault = self.zcl.command_fault(cluster, cmd, z.get("payload") or {})
            if fault is not None:
                failed = True
                out.append(gbz.build_component(cluster, dr_fc, tsn, 0x0B, {"CommandID": cmd, "Status": fault}))
                continue
            reply = self._command_at(frame, cluster, fc, cmd, z.get("payload") or {}, comp)
            if reply is None:
                out.append(gbz.build_component(cluster, dr_fc, tsn, 0x0B, {"CommandID": cmd, "Status": ZCL_SUCCESS}))
            else:
                status, rcmd, rpayload = reply
                if status != ZCL_SUCCESS:
                    failed = status != ZCL_NOT_FOUND            # nothing to report is not a failure
                    out.append(gbz.build_component(cluster, dr_fc, tsn, 0x0B, {"CommandID": cmd, "Status": status}))
                else:
                    for one in (rpayload if isinstance(rpayload, list) else [rpayload]):
                        c = gbz.build_component(cluster, reply_fc, tsn, rcmd, one)
                        if cluster in sensitive:
                            c["extended_header_control"] |= 0x02
                            c["zcl"]["ciphered_information"] = {"plaintext": c["zcl"].pop("payload")}
                        out.append(c)
        if failed:
            # a command that failed is not executed later either: drop what it future-dated
            origin = (frame.signing.originator, frame.signing.originator_counter)
            for key, (call, source) in list(self.pending.items()):
                if source == origin:
                    if call.active():
                        call.cancel()
                    del self.pending[key]
        if out:
            out[-1]["extended_header_control"] |= 0x01
        return {"kind": "gbz", "profile_id": gbz.GBZ_PROFILE_ID, "components": out}

    def _read(self, cluster: int, payload: dict) -> tuple[list[dict], bool]:
        records, ok = [], True
        for a in payload.get("Attributes", []):
            attr = a["AttributeID"]
            status, t, value = self.zcl.read(cluster, attr)
            if status == ZCL_SUCCESS:
                records.append({"AttributeID": attr, "Status": 0, "DataType": t, "Value": copy.deepcopy(value)})
            else:
                if status not in (ZCL_UNSUPPORTED_ATTRIBUTE,):
                    ok = False
                records.append({"AttributeID": attr, "Status": status})
        return records, ok

    def _command(self, cluster: int, fc: int, cmd: int, payload: dict, comp: dict
                 ) -> tuple[int, int, dict] | None:
        """Execute one cluster command; C{None} = acknowledge with a Default Response."""
        handler = gbz_logs.COMMAND_HANDLERS.get((cluster, bool(fc & 0x08), cmd))
        if handler is not None:
            return handler(self, payload, comp)
        if fc & 0x08 and (cluster, cmd) == (DEVICE_MANAGEMENT, 5):     # Get Event Configuration
            return self._event_configuration(payload)
        if fc & 0x08:                                      # published to the meter
            self.zcl.published.setdefault((cluster, cmd), []).append(copy.deepcopy(payload))
            if (cluster, cmd) == (DEVICE_MANAGEMENT, 4):   # Set Event Configuration
                ids = (payload.get("EventConfigurationPayload") or {}).get("EventIDs") or []
                for event in ids:
                    self.zcl.event_config[int(event)] = int(payload.get("EventConfiguration", 0))
            if cluster == CALENDAR:
                self._store_calendar(cmd, payload)
            return None
        if cluster == CALENDAR and cmd in _CALENDAR_GETS:
            return self._calendar_get(cmd, payload)
        a = self.zcl.attributes
        if (cluster, cmd) == (PREPAYMENT, 6):              # Change Payment Mode
            a[(PREPAYMENT, 0x0000)] = payload.get("ProposedPaymentControlConfiguration", 0)
            a[(PREPAYMENT, 0x0040)] = payload.get("CutOffValue", 0)
            return ZCL_SUCCESS, 2, {"FriendlyCredit": 1, "FriendlyCreditCalendarID": 0,
                                    "EmergencyCreditLimit": a.get((PREPAYMENT, 0x0010), 0),
                                    "EmergencyCreditThreshold": a.get((PREPAYMENT, 0x0011), 0)}
        if (cluster, cmd) == (PREPAYMENT, 4):              # Consumer Top Up (UTRN)
            return self._top_up(payload)
        if (cluster, cmd) == (PREPAYMENT, 0):              # Select Available Emergency Credit (PCS02)
            return han_commands.select_emergency_credit(self, payload)
        if (cluster, cmd) in _LOG_READS:
            return self._log_read(cluster, cmd, payload, comp)
        if (cluster, cmd) == (EVENTS, 1):                  # Clear Event Log
            log_id = int(payload.get("LogID", 0))
            if log_id in self.zcl.unclearable_logs:
                return ZCL_SUCCESS, 2, {"ClearedEventsLogs": 0}     # the bitmap names no log cleared
            self.zcl.event_logs_cleared += 1
            return ZCL_SUCCESS, 2, {"ClearedEventsLogs": 1 << min(log_id, 7)}
        if (cluster, cmd) == (METERING, 11):               # Change Supply
            a[(METERING, 0x0014)] = payload.get("ProposedSupplyStatus", 0)
            return ZCL_SUCCESS, 12, {"ProviderID": payload.get("ProviderID", 0),
                                     "IssuerEventID": payload.get("IssuerEventID", 0),
                                     "ImplementationDateTime": payload.get("ImplementationDateTime", 0),
                                     "SupplyStatus": a[(METERING, 0x0014)]}
        if (cluster, cmd) == (PRICE, 11):                  # Get Billing Period
            return ZCL_SUCCESS, 9, {"ProviderID": 0, "IssuerEventID": 0, "BillingPeriodStartTime": 0,
                                    "BillingPeriodDuration": 1, "BillingPeriodDurationType": 0x22, "TariffType": 0}
        if (cluster, cmd) == (PRICE, 0):                   # Get Current Price
            if not self.zcl.price_in_force:
                return ZCL_NOT_FOUND, 0, {}
            return ZCL_SUCCESS, 0, {"ProviderID": 0, "RateLabel": "", "IssuerEventID": 0,
                                    "CurrentTime": int(self.now()) - zt.ZCL_EPOCH_UNIX, "UnitofMeasure": 1,
                                    "Currency": a.get((PRICE, 0x0616), 826),
                                    "PriceTrailingDigitAndPriceTier": 0x51, "NumberofPriceTiersAndRegisterTier": 0x41,
                                    "StartTime": 0, "DurationInMinutes": 1440, "Price": 0}
        if cmd in _ACKNOWLEDGED.get(cluster, ()):
            return None
        return ZCL_UNSUP_CLUSTER_COMMAND, cmd, {}

    # ------------------------------------------------------------------ future-dated commands

    #: GBZ times: 0 = now; these = never (cancel what is pending)
    _NEVER = (0xFFFFFFFF, 0xFFFFFFFE)

    @staticmethod
    def execution_time(comp: dict, payload: dict) -> int | None:
        """When a component is to be executed (UTC seconds since 2000): its from-date-time, else
        the command's start / implementation time; C{None} = now."""
        for t in (comp.get("from_date_time"), payload.get("ImplementationDateTime"), payload.get("StartTime")):
            if isinstance(t, int) and t != 0:
                return t
        return None

    def _command_at(self, frame: Frame, cluster: int, fc: int, cmd: int, payload: dict, comp: dict
                    ) -> tuple[int, int, Any] | None:
        """Execute now, or answer now and execute at the command's time (GBCS 4.4, alert 0x00CD)."""
        when = self.execution_time(comp, payload)
        key = (cluster, fc & 0x0B, cmd)
        if when is None:
            return self._command(cluster, fc, cmd, payload, comp)
        pending = self.pending.pop(key, None)
        if pending is not None and pending[0].active():
            pending[0].cancel()
        now2000 = int(self.now()) - zt.ZCL_EPOCH_UNIX
        if when in self._NEVER or when <= now2000:
            if when in self._NEVER:
                # a cancellation: the response is the command's answer, nothing is scheduled
                saved = self.zcl
                self.zcl = copy.deepcopy(saved)
                try:
                    return self._command(cluster, fc, cmd, payload, comp)
                finally:
                    self.zcl = saved
            return self._command(cluster, fc, cmd, payload, comp)
        saved = self.zcl
        self.zcl = copy.deepcopy(saved)          # the answer now, the state change at its time
        try:
            reply = self._command(cluster, fc, cmd, payload, comp)
        finally:
            self.zcl = saved
        gs = frame.signing
        call = self.clock.callLater(
            when - now2000, self._execute_future, cluster, fc, cmd, copy.deepcopy(payload), comp,
            gs.message_code, gs.originator_counter, gs.originator)
        self.pending[key] = (call, (gs.originator, gs.originator_counter))
        return reply

    def _execute_future(self, cluster: int, fc: int, cmd: int, payload: dict, comp: dict, message_code: int,
                        counter: int, originator: int) -> None:
        self.pending.pop((cluster, fc & 0x0B, cmd), None)
        self._command(cluster, fc, cmd, payload, comp)
        alert_code = 0x8F66                        # future-dated command successfully actioned
        body = {"kind": "gbz", "profile_id": gbz.GBZ_PROFILE_ID, "number_of_components": 1,
                "alert_code": alert_code, "time_stamp": int(self.now()) - zt.ZCL_EPOCH_UNIX,
                "future_dated_alert": {"message_code": message_code, "originator_counter": counter,
                                       "cluster_id": cluster, "frame_control": fc, "command_id": cmd}}
        self.raise_alert(alert_code, critical=True, payload=body, message_code=FUTURE_DATED_GBZ_ALERT,
                         recipient=originator)

    def _event_configuration(self, payload: dict) -> tuple[int, int, Any]:
        """Report Event Configuration for one event, or a whole group (event id 0xXXFF)."""
        event = int(payload.get("EventID", 0))
        cfg = self.zcl.event_config
        ids = sorted(e for e in cfg if (e >> 8) == (event >> 8)) if event & 0xFF == 0xFF else \
            [event] if event in cfg else []
        if not ids:
            return ZCL_NOT_FOUND, 4, {}
        return ZCL_SUCCESS, 4, {"CommandIndex": 0, "TotalCommands": 1, "EventConfigurationPayload": [
            {"EventID": e, "EventConfiguration": cfg[e]} for e in ids]}

    def stage_error(self, frame: Frame, payload: dict) -> bool:
        """An event log the command clears cannot be cleared (a hardware fault)."""
        staged = False
        for comp in payload.get("components") or []:
            z = comp.get("zcl") or {}
            if (comp.get("cluster_id"), z.get("command_id")) == (EVENTS, 1) and not z.get("frame_control", 0) & 0x08:
                self.zcl.unclearable_logs.add(int((z.get("payload") or {}).get("LogID", 0)))
                staged = True
        return staged or super().stage_error(frame, payload)

    def predicts_error(self, frame: Frame, payload: dict) -> bool:
        """A top-up whose UTRN is not authentic for this device fails (GBZ, section 4.5)."""
        if super().predicts_error(frame, payload):
            return True
        for comp in payload.get("components") or []:
            z = comp.get("zcl") or {}
            if (comp.get("cluster_id"), z.get("command_id")) == (PREPAYMENT, 4) and not z.get("frame_control", 0) & 0x08:
                saved_zcl, saved_frame = self.zcl, getattr(self, "_frame", None)
                saved_keypad = copy.deepcopy(getattr(self, "keypad", None))
                self.zcl, self._frame = copy.deepcopy(saved_zcl), frame
                try:
                    _status, _cmd, reply = self._top_up(z.get("payload") or {})
                finally:
                    self.zcl, self._frame, self.keypad = saved_zcl, saved_frame, saved_keypad
                if reply.get("ResultType") != 0:
                    return True
        return False

    # ------------------------------------------------------------------ logs

    def _log_read(self, cluster: int, cmd: int, payload: dict, comp: dict) -> tuple[int, int, Any]:
        """Get Top Up Log / Get Debt Repayment Log / Get Sampled Data: the entries asked for,
        newest first for logs; NOT_FOUND when there are none."""
        z = self.zcl
        if (cluster, cmd) == (METERING, 8):
            start = int(payload.get("EarliestSampleTime", 0))
            wanted = int(payload.get("NumberofSamples", 0))
            for t0, step, values in z.samples:
                if t0 <= start < t0 + step * len(values) or start <= t0:
                    first = max(0, (start - t0) // step)
                    chosen = values[first:first + wanted] if wanted else values[first:]
                    if chosen:
                        return ZCL_SUCCESS, 7, {"SampleID": payload.get("SampleID", 0),
                                                "SampleStartTime": t0 + first * step,
                                                "SampleType": payload.get("SampleType", 0),
                                                "SampleRequestInterval": step, "NumberofSamples": len(chosen),
                                                "Samples": list(chosen)}
            return ZCL_NOT_FOUND, 7, {}
        earliest = comp.get("from_date_time", 0) or 0
        latest = int(payload.get("LatestEndTime", 0xFFFFFFFF))
        if (cluster, cmd) == (PREPAYMENT, 8):
            rows = [r for r in z.top_ups if earliest <= r["TopUpTime"] <= latest]
            rows = rows[::-1][:int(payload.get("NumberofRecords", 0)) or None]
            if not rows:
                return ZCL_NOT_FOUND, 5, {}
            return ZCL_SUCCESS, 5, {"CommandIndex": 0, "TotalNumberofCommands": 1, "TopUpPayload": rows}
        debt_type = payload.get("DebtType")
        rows = [r for r in z.debt_collections if earliest <= r["CollectionTime"] <= latest
                and (debt_type in (None, 0xFF) or r["DebtType"] == debt_type)]
        rows = rows[:int(payload.get("NumberofDebts", 0)) or None]
        if not rows:
            return ZCL_NOT_FOUND, 6, {}
        return ZCL_SUCCESS, 6, {"CommandIndex": 0, "TotalNumberofCommands": 1, "DebtPayload": rows}

    def _log_reads(self, payload: dict):
        for comp in payload.get("components") or []:
            z = comp.get("zcl") or {}
            key = (comp.get("cluster_id"), z.get("command_id"))
            if key in _LOG_READS and not z.get("frame_control", 0) & 0x08:
                yield key, comp, z.get("payload") or {}

    def prepare(self, frame: Frame, payload: dict) -> None:
        """A log the command reads has entries in the period it reads (a meter in service); a
        meter asked for emergency credit has it available."""
        super().prepare(frame, payload)
        gbz_logs.prepare(self, payload)
        if any(c.get("cluster_id") == PREPAYMENT and (c.get("zcl") or {}).get("command_id") == 0
               and not (c.get("zcl") or {}).get("frame_control", 0) & 0x08 for c in payload.get("components") or []):
            han_commands.make_emergency_credit_available(self)      # PCS02 selects emergency credit
        z = self.zcl
        for key, comp, p in self._log_reads(payload):
            earliest = comp.get("from_date_time", 0) or 0
            if key == (PREPAYMENT, 8) and not z.top_ups:
                z.top_ups.append({"TopUpCode": "30" * 20, "TopUpAmount": 0, "TopUpTime": earliest})
            elif key == (PREPAYMENT, 10) and not z.debt_collections:
                z.debt_collections.append({"CollectionTime": earliest, "AmountCollected": 0,
                                           "DebtType": p.get("DebtType", 0), "OutstandingDebt": 0})
            elif key == (METERING, 8) and not z.samples:
                z.samples.append((int(p.get("EarliestSampleTime", 0)), SAMPLE_INTERVAL, [0]))

    # ------------------------------------------------------------------ calendars

    def _store_calendar(self, cmd: int, payload: dict, calendar_type: int | None = None) -> None:
        """Keep a published calendar part: Publish Calendar starts a calendar of its type."""
        ctype = payload.get("CalendarType", calendar_type)
        if cmd == 0:
            self.zcl.calendars[ctype] = {"calendar": copy.deepcopy(payload), "days": {}, "weeks": {}}
            return
        if ctype is None:          # week profiles and seasons belong to the calendar last started
            ctype = self._last_calendar
        cal = self.zcl.calendars.setdefault(ctype, {"days": {}, "weeks": {}})
        if cmd == 1:
            cal["days"][payload.get("DayID")] = copy.deepcopy(payload)
        elif cmd == 2:
            cal["weeks"][payload.get("WeekID")] = copy.deepcopy(payload)
        elif cmd == 3:
            cal["seasons"] = copy.deepcopy(payload)
        elif cmd == 4:
            cal["special_days"] = copy.deepcopy(payload)
        self._last_calendar = ctype

    _last_calendar = CALENDAR_TOU

    def _calendar_get(self, cmd: int, payload: dict) -> tuple[int, int, list[dict] | dict]:
        """Get Day/Week Profiles, Seasons, Special Days: the stored parts, or NOT_FOUND."""
        ctype = payload.get("CalendarType") if cmd == 4 else None
        if ctype is None:
            ctype = CALENDAR_FRIENDLY_CREDIT if payload.get("IssuerCalendarID") == FRIENDLY_CREDIT_CALENDAR_ID \
                else CALENDAR_TOU
        cal = self.zcl.calendars.get(ctype)
        if cal is None:
            return ZCL_NOT_FOUND, cmd, {}
        if cmd in (1, 2):
            parts = cal["days" if cmd == 1 else "weeks"]
            first = payload.get("StartDayID" if cmd == 1 else "StartWeekID", 1) or 1
            count = payload.get("NumberofDays" if cmd == 1 else "NumberofWeeks", 0) or len(parts)
            found = [parts[k] for k in sorted(parts) if k >= first][:count]
            return (ZCL_SUCCESS, cmd, [copy.deepcopy(x) for x in found]) if found else (ZCL_NOT_FOUND, cmd, {})
        part = cal.get("seasons" if cmd == 3 else "special_days")
        return (ZCL_SUCCESS, cmd, copy.deepcopy(part)) if part is not None else (ZCL_NOT_FOUND, cmd, {})

    def forget(self, frame: Frame, payload: dict) -> None:
        """The data a command reads is absent (a meter with no calendar of that kind yet)."""
        for comp in payload.get("components") or []:
            z = comp.get("zcl") or {}
            if comp.get("cluster_id") == CALENDAR and not z.get("frame_control", 0) & 0x08 \
                    and z.get("command_id") in _CALENDAR_GETS:
                p = z.get("payload") or {}
                ctype = p.get("CalendarType") if z["command_id"] == 4 else None
                if ctype is None:
                    ctype = CALENDAR_FRIENDLY_CREDIT if p.get("IssuerCalendarID") == FRIENDLY_CREDIT_CALENDAR_ID \
                        else CALENDAR_TOU
                self.zcl.calendars.pop(ctype, None)
            if comp.get("cluster_id") == PRICE and not z.get("frame_control", 0) & 0x08 \
                    and z.get("command_id") == 0:
                self.zcl.price_in_force = False
        for key, _comp, _p in self._log_reads(payload):
            getattr(self.zcl, _LOG_READS[key]).clear()
        snapshots.forget(self, payload)

    def stage_history(self, frame: Frame, payload: dict, reference: dict) -> None:
        """The snapshot logs hold the entries a reference meter published in answer to this
        command (L{snapshots.stage_history})."""
        snapshots.stage_history(self, payload, reference)

    def _top_up(self, payload: dict) -> tuple[int, int, dict]:
        a = self.zcl.attributes
        cmd = self._frame.signing
        utrn = payload.get("TopUpCode") or ""
        if isinstance(utrn, dict):
            utrn = utrn.get("hex", "")
        try:    # a ZCL octet string of the 20 ASCII digits
            utrn = bytes.fromhex(str(utrn)).decode("ascii")
        except (ValueError, UnicodeDecodeError):
            utrn = ""
        local = None
        if catalogue.is_han_only(cmd.message_code):        # PCS01: keyed in at the PPMID
            local = han_commands.check_top_up(self, str(utrn))
            result = han_commands.top_up_result(local)
            amount = 0 if local.token is None or result else _top_up_amount(local.token)
        else:
            party = self.security.remote_parties.get(cmd.originator)
            try:
                if party is None or party.role != ROLE_SUPPLIER:
                    raise KeyError("not a supplier")
                u = verify_utrn(self.crypto, str(utrn), cmd.originator, self.eui, cmd.originator_counter)
                amount = _top_up_amount(u)
                result = 0
            except (CodecError, KeyError):
                amount, result = 0, 0x01                        # rejected: invalid (not authentic)
        credit = int(a.get((PREPAYMENT, 0x0001), 0)) + amount
        a[(PREPAYMENT, 0x0001)] = credit
        if local is not None and result == 0:
            keypad.commit_utrn(self, local.counter)
        if result == 0:
            self.zcl.top_ups.append({"TopUpCode": utrn.encode("ascii").hex().upper(),
                                     "TopUpAmount": amount, "TopUpTime": int(self.now()) - zt.ZCL_EPOCH_UNIX})
        return ZCL_SUCCESS, 3, {"ResultType": result, "TopUpValue": amount,
                                "SourceofTopUp": payload.get("OriginatingDevice", 0), "CreditRemaining": credit}

    def log_security_event(self, event_code: int) -> None:
        gbz_logs.record_event(self, gbz_logs.SECURITY_LOG, event_code)

    def alert_payload(self, alert_code: int, counter: int) -> dict:
        return {"kind": "gbz", "profile_id": gbz.GBZ_PROFILE_ID, "alert_code": alert_code,
                "time_stamp": int(self.now()) - zt.ZCL_EPOCH_UNIX, "number_of_components": 0, "components": []}


def _top_up_amount(token) -> int:
    """A UTRN's value in the GSME's currency unit (1/1000 penny): pounds or pennies."""
    return token.value * (100000 if token.value_class == 1 else 1000)


_GBZ_ITEMS: dict[int, tuple] | None = None


def _gbz_items() -> dict[int, tuple[tuple[int, int, int], ...]]:
    """Message code -> the GBZ components (cluster, frame control, command) GBCS names for it."""
    global _GBZ_ITEMS
    if _GBZ_ITEMS is None:
        import csv
        import re
        from pathlib import Path
        path = Path(catalogue.__file__).resolve().parent / "data" / "payload_catalogue.tsv"
        table: dict[int, tuple] = {}
        item = re.compile(r"GBZ ctl[0-9A-Fa-f]{2} cl([0-9A-Fa-f]{4}) fc([0-9A-Fa-f]{2}) cmd(\d+)")
        with open(path, newline="", encoding="utf-8") as f:
            for row in csv.reader(f, delimiter="\t"):
                if len(row) < 3 or not re.fullmatch(r"[0-9A-Fa-f]{4}", row[0]):
                    continue
                found = tuple((int(c, 16), int(fc, 16), int(cmd)) for c, fc, cmd in item.findall(row[2]))
                if found:
                    table[int(row[0], 16)] = found
        _GBZ_ITEMS = table
    return _GBZ_ITEMS


class Gsme(GbzDevice):
    """The gas smart meter's GBCS logic (GBZ)."""

    device_type = "GSME"
    #: when the meter takes its daily read (seconds after midnight UTC; L{snapshots})
    daily_read_time = snapshots.DAILY_READ_TIME

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        snapshots.catch_up(self)          # the daily read log starts with the meter


class Gpf(GbzDevice):
    """The gas proxy function: answers GSME reads from its mirror of the GSME's data and takes
    what is published to it; commands that act on the gas supply are the GSME's."""

    device_type = "GPF"
    alert_codes = GbzDevice.alert_codes | {0x00B2}       # GCS62 device log backup

    def execute(self, frame: Frame, payload: dict) -> dict | None:
        response = super().execute(frame, payload)
        devicelog.backup_if_changed(self)                # a join or unjoin changed the log (GCS62)
        return response

    @staticmethod
    def component_supported(cluster: int, frame_control: int, command_id: int) -> bool:
        if frame_control & 0x03 == 0x00:
            return command_id == 0x00
        if not frame_control & 0x08:
            return (cluster, command_id) == (METERING, 8)      # the mirrored profile data
        return command_id in _PUBLISHED.get(cluster, ())
