"""Events a device notices on its own (not commands) and the GBCS alerts they raise.

  - L{supply_outage}: an electricity meter lost its mains supply and got it back; an outage
    of 3 minutes or more is reported to the network operator with the ECS80 alert 0x8F36
    "Supply Outage Restored - Outage >= 3 minutes" (message code 0x0067: alert code, time,
    outage start, outage end), and recorded in the power event log;
  - L{integrity_issue}: the meter's self-check found an integrity issue (the GBCS "other info"
    code says which: L{INTEGRITY_ISSUES}); it reports it with the non-critical alert 0x81A0
    "Smart Meter Integrity Issue - Warning" (message code 0x00F0 from an ESME, a Data-Notification
    of alert code, time and the 2-octet code; 0x00F2 from a GSME, a GBZ alert with the code).
"""

from __future__ import annotations

from typing import Any

from protocols.gbcs.payloads import dlms

from emulator.devices.gbcs.device import dlms_date_time
from emulator.devices.gbcs.security import ROLE_NETWORK_OPERATOR

__all__ = ["SUPPLY_OUTAGE_RESTORED", "ECS80_ALERT", "LONG_OUTAGE", "supply_outage", "INTEGRITY_WARNING",
           "INTEGRITY_ISSUES", "integrity_issue"]

#: alert code: supply outage restored, the outage lasted 3 minutes or more
SUPPLY_OUTAGE_RESTORED = 0x8F36
#: message code of its alert (use case ECS80, critical, from the ESME)
ECS80_ALERT = 0x0067
#: s an outage lasts at least to be reported
LONG_OUTAGE = 180.0
#: the ESME's power event log
POWER_EVENT_LOG = "0-0:99.98.20.255"
_EPOCH_2000 = 946684800


def supply_outage(device: Any, start: float, end: float) -> bool:
    """The meter's supply was off from C{start} to C{end} (its clock's seconds); False if the
    device is not an electricity meter (it has no mains supply to lose)."""
    if getattr(device, "device_type", "") != "ESME" or end < start:
        return False
    model = device.model
    model.capture(POWER_EVENT_LOG, int(end) - _EPOCH_2000, SUPPLY_OUTAGE_RESTORED)
    if end - start < LONG_OUTAGE:
        return True
    recipient = next((p.eui for p in device.security.remote_parties.values() if p.role == ROLE_NETWORK_OPERATOR),
                     None)
    counter = device.alert_counter
    body = dlms.structure(dlms.make_data("long-unsigned", SUPPLY_OUTAGE_RESTORED),
                          dlms.octet_string(dlms_date_time(device.now())),
                          dlms.octet_string(dlms_date_time(start)), dlms.octet_string(dlms_date_time(end)))
    device.raise_alert(SUPPLY_OUTAGE_RESTORED, critical=True, payload=dlms.data_notification(counter, body),
                       message_code=ECS80_ALERT, recipient=recipient)
    return True


#: alert code: Smart Meter Integrity Issue - Warning
INTEGRITY_WARNING = 0x81A0
#: its message codes: from an ESME (DLMS), from a GSME (GBZ)
ESME_INTEGRITY_ALERT, GSME_INTEGRITY_ALERT = 0x00F0, 0x00F2
#: the "other info" code of the integrity warning: what the meter's self-check found
INTEGRITY_ISSUES = {0: "other", 1: "non-volatile memory", 2: "program execution", 3: "program storage",
                    4: "RAM", 5: "unexpected hardware reset", 6: "watchdog",
                    7: "metrology firmware verification failure", 8: "measurement fault",
                    9: "unspecified integrity error"}


def integrity_issue(device: Any, issue: int) -> bool:
    """The meter's self-check found integrity issue C{issue} (L{INTEGRITY_ISSUES}): it warns its
    supplier.  False if the issue is not one GBCS names or the device is not a meter."""
    if issue not in INTEGRITY_ISSUES:
        return False
    counter = device.alert_counter
    kind = getattr(device, "device_type", "")
    if kind == "ESME":
        body = dlms.structure(dlms.make_data("long-unsigned", INTEGRITY_WARNING),
                              dlms.octet_string(dlms_date_time(device.now())),
                              dlms.octet_string(issue.to_bytes(2, "big")))
        device.raise_alert(INTEGRITY_WARNING, critical=False, payload=dlms.data_notification(counter, body),
                           message_code=ESME_INTEGRITY_ALERT)
    elif kind == "GSME":
        payload = dict(device.alert_payload(INTEGRITY_WARNING, counter), other_information=issue)
        device.raise_alert(INTEGRITY_WARNING, critical=False, payload=payload, message_code=GSME_INTEGRITY_ALERT)
    else:
        return False
    return True
