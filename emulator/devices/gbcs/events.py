"""Events a device notices on its own (not commands) and the GBCS alerts they raise.

  - L{supply_outage}: an electricity meter lost its mains supply and got it back; an outage
    of 3 minutes or more is reported to the network operator with the ECS80 alert 0x8F36
    "Supply Outage Restored - Outage >= 3 minutes" (message code 0x0067: alert code, time,
    outage start, outage end), and recorded in the power event log.
"""

from __future__ import annotations

from typing import Any

from protocols.gbcs.payloads import dlms

from emulator.devices.gbcs.device import dlms_date_time
from emulator.devices.gbcs.security import ROLE_NETWORK_OPERATOR

__all__ = ["SUPPLY_OUTAGE_RESTORED", "ECS80_ALERT", "LONG_OUTAGE", "supply_outage"]

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
