"""Events a device notices on its own (not commands) and the GBCS alerts they raise.

  - L{supply_outage}: an electricity meter lost its mains supply and got it back; an outage
    of 3 minutes or more is reported to the network operator with the ECS80 alert 0x8F36
    "Supply Outage Restored - Outage >= 3 minutes" (message code 0x0067: alert code, time,
    outage start, outage end), and recorded in the power event log;
  - L{integrity_issue}: the meter's self-check found an integrity issue (the GBCS "other info"
    code says which: L{INTEGRITY_ISSUES}); it reports it with the non-critical alert 0x81A0
    "Smart Meter Integrity Issue - Warning" (message code 0x00F0 from an ESME, a Data-Notification
    of alert code, time and the 2-octet code; 0x00F2 from a GSME, a GBZ alert with the code);
  - L{billing}: the ESME's billing calendar came due: it captures its billing registers in the
    billing data log (0-0:98.1.0.255: capture time, total import, for a twin-element meter the
    secondary element's total, the TOU and block registers) and sends the new entry to its
    supplier with the critical sensitive alert 0x8F0A "Billing Data Log Updated" (ECS68,
    message code 0x0061): alert code, time, the protection parameters (the alert's counter, the
    meter and the supplier) and the entry, encrypted for the supplier (section 2.3).  Registers
    the model does not keep (the TOU and block registers, the secondary element's total: only
    the total import register is advanced by the load model) hold no consumption: zero.
    A GSME's billing calendar takes a snapshot (cause end of billing period) into its Billing
    Data Log (L{emulator.devices.gbcs.snapshots}: the Metering registers and the Prepayment
    balances) and sends the Metering part, a Publish Snapshot (payload type 6 "block tier
    information set delivered": current summation, the TOU tier summations and the block
    summations), encrypted for the supplier in the GBZ alert 0x8F0A (GCS53, message code 0x008B).
"""

from __future__ import annotations

from typing import Any

from protocols.gbcs.payloads import dlms
from protocols.zcl.types import ZCL_EPOCH_UNIX

from emulator.devices.gbcs.device import dlms_date_time
from emulator.devices.gbcs.security import ROLE_NETWORK_OPERATOR, ROLE_SUPPLIER

__all__ = ["SUPPLY_OUTAGE_RESTORED", "ECS80_ALERT", "LONG_OUTAGE", "supply_outage", "INTEGRITY_WARNING",
           "INTEGRITY_ISSUES", "integrity_issue", "BILLING_DATA_LOG", "BILLING_DATA_LOG_UPDATED", "billing"]

#: alert code: supply outage restored, the outage lasted 3 minutes or more
SUPPLY_OUTAGE_RESTORED = 0x8F36
#: message code of its alert (use case ECS80, critical, from the ESME)
ECS80_ALERT = 0x0067
#: s an outage lasts at least to be reported
LONG_OUTAGE = 180.0
#: the ESME's power event log
POWER_EVENT_LOG = "0-0:99.98.20.255"


def supply_outage(device: Any, start: float, end: float) -> bool:
    """The meter's supply was off from C{start} to C{end} (its clock's seconds); False if the
    device is not an electricity meter (it has no mains supply to lose)."""
    if getattr(device, "device_type", "") != "ESME" or end < start:
        return False
    model = device.model
    model.capture(POWER_EVENT_LOG, int(end) - ZCL_EPOCH_UNIX, SUPPLY_OUTAGE_RESTORED)
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


#: the ESME's billing data log, and the alert that reports a new entry (ECS68)
BILLING_DATA_LOG = "0-0:98.1.0.255"
BILLING_DATA_LOG_UPDATED = 0x8F0A
ECS68_ALERT = 0x0061
TOTAL_IMPORT = "1-0:1.8.0.255"


def _register(model: Any, obis: str) -> int:
    obj = model.objects.get((3, obis))
    value = obj.get(2) if obj is not None else None
    return int(value["value"]) if value is not None else 0


def _zero(column: Any) -> Any:
    if isinstance(column, dict) and column.get("type") == "array":
        return dlms.array(*[dlms.make_data(column["element"]["type"], 0) for _ in range(column["count"])])
    return 0


def billing(device: Any) -> bool:
    """The ESME's billing calendar came due now: capture, alert (see the module docstring)."""
    if getattr(device, "device_type", "") == "GSME":
        return _gas_billing(device)
    if getattr(device, "device_type", "") != "ESME":
        return False
    model = device.model
    columns = model.columns(BILLING_DATA_LOG)
    supplier = next((p.eui for p in device.security.remote_parties.values() if p.role == ROLE_SUPPLIER), None)
    if columns is None or supplier is None:
        return False
    entry = [int(device.now()) - ZCL_EPOCH_UNIX, _register(model, TOTAL_IMPORT)] + [_zero(c) for c in columns[2:]]
    model.capture(BILLING_DATA_LOG, *entry)
    _result, log = model.profile(BILLING_DATA_LOG, entry[0], entry[0])
    counter = device.alert_counter
    params = dlms.structure(dlms.make_data("enum", 2), dlms.structure(
        dlms.octet_string(b"\x04" + counter.to_bytes(8, "big")), dlms.octet_string(device.eui.to_bytes(8, "big")),
        dlms.octet_string(supplier.to_bytes(8, "big")), dlms.octet_string(b""),
        dlms.structure(dlms.make_data("enum", 2), dlms.structure(dlms.octet_string(b"\x02"), dlms.octet_string(b"")))))
    protected = {"type": "octet-string", "protected": {"security_control": 0x31, "invocation_counter": 0,
                                                       "plaintext": dlms.structure(log)}}
    body = dlms.structure(dlms.make_data("long-unsigned", BILLING_DATA_LOG_UPDATED),
                          dlms.octet_string(dlms_date_time(device.now())), dlms.array(params), protected)
    device.raise_alert(BILLING_DATA_LOG_UPDATED, critical=True, payload=dlms.data_notification(counter, body),
                       message_code=ECS68_ALERT, recipient=supplier)
    return True


GCS53_ALERT = 0x008B
METERING = 0x0702


def _gas_billing(device: Any) -> bool:
    from protocols.gbcs.payloads import gbz

    from emulator.devices.gbcs import snapshots
    supplier = next((p.eui for p in device.security.remote_parties.values() if p.role == ROLE_SUPPLIER), None)
    if supplier is None:
        return False
    # the billing data log entry (Metering and Prepayment registers), published from the log
    snapshot = snapshots.publication(snapshots.take(device, snapshots.END_OF_BILLING_PERIOD), METERING)
    comp = gbz.build_component(METERING, 0x19, 0, 0x06, snapshot, last=True)     # Publish Snapshot
    comp["extended_header_control"] |= 0x02                                      # encrypted for the supplier
    comp["zcl"]["ciphered_information"] = {"plaintext": comp["zcl"].pop("payload")}
    payload = dict(device.alert_payload(BILLING_DATA_LOG_UPDATED, device.alert_counter),
                   number_of_components=1, components=[comp])
    device.raise_alert(BILLING_DATA_LOG_UPDATED, critical=True, payload=payload, message_code=GCS53_ALERT,
                       recipient=supplier)
    return True
