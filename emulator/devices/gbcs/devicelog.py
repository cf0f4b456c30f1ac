"""The device log of HAN partners as the ASN.1 use cases read, restore and back it up.

Every device keeps the partners it joined (CS03*) in its device log (L{Asn1State.partners}:
entity identifier -> GBCS device type); the CHF's log is its COSEM ZigBee network control
object instead (CCS01-CCS03, L{emulator.devices.gbcs.dlms_device.Chf}), a
L{emulator.devices.gbcs.chf_device_log.ChfDeviceLog} whose changes the CHF reports with CS14.

  - CS07 read device join details (0x0013, NULL command): response code 0 and one
    {deviceID, deviceType} per log entry, in the log's order;
  - GCS59 restore GPF device log (0x008C): the GPF's log becomes the entries the command
    carries (the DCC's copy of the last backup), each answered with a restore outcome (the
    entry and join response code 0; an entry naming the GPF itself, or a device type GBCS
    does not define, gets 2, invalid join method and role, and is not restored);
  - GCS62 GPF device log backup (alert 0x00B2, alert code 0x8071, to the ACB, MACed): the GPF
    sends its whole log each time a join or unjoin changed it (L{backup_if_changed}), so that
    the DCC can restore it with GCS59.  A restore does not trigger a backup: it is the backup.
"""

from __future__ import annotations

import time
from typing import Any

from emulator.devices.gbcs.asn1_usecases import ASN1_HANDLERS, ASN1_USE_CASES

__all__ = ["CS07", "GCS59", "GPF_BACKUP_ALERT", "ALERT_GPF_BACKUP", "log_entries", "backup", "backup_if_changed"]

CS07 = 0x0013
GCS59 = 0x008C
GPF_BACKUP_ALERT = 0x00B2
ALERT_GPF_BACKUP = 0x8071
_DEVICE_TYPES = range(0, 7)            # GSME, ESME, CHF, GPF, HCALCS, PPMID, Type 2
_INVALID_JOIN_METHOD_AND_ROLE = 2


def log_entries(device: Any) -> list[dict]:
    """The device log as ASN.1 DeviceLogEntry values, in the log's own order (the order the
    entries were added: the DCC's GPF backup reference alert lists them so, not by identifier)."""
    chf_logs = getattr(device, "device_logs", None)
    if chf_logs is not None:                              # the CHF: its COSEM device log
        rows = {eui.hex().upper(): dtype for eui, (dtype, _k) in chf_logs.get("0-0:30.3.0.255", {}).items()}
    else:
        rows = dict(device.asn1_state.partners)
    return [{"deviceID": eui, "deviceType": dtype if dtype in _DEVICE_TYPES else 6}
            for eui, dtype in rows.items()]


def _read_join_details(device: Any, message_code: int, value: Any, commit: bool) -> Any:
    return {"responseCode": 0, "deviceLogEntries": log_entries(device)}


def _restore(device: Any, message_code: int, value: Any, commit: bool) -> Any:
    if not isinstance(value, dict) or not isinstance(value.get("deviceLogEntries"), list):
        return None
    restored: dict[str, int] = {}
    outcomes = []
    for entry in value["deviceLogEntries"]:
        eui, dtype = entry.get("deviceID"), entry.get("deviceType")
        ok = isinstance(eui, str) and dtype in _DEVICE_TYPES and eui != f"{device.eui:016X}"
        if ok:
            restored[eui] = dtype
        outcomes.append({"deviceLogEntry": {"deviceID": eui, "deviceType": dtype},
                         "joinResponseCode": 0 if ok else _INVALID_JOIN_METHOD_AND_ROLE})
    if commit:
        device.asn1_state.partners = restored
        device.logged_partners = dict(restored)
    return {"restoreOutcomes": outcomes}


def backup(device: Any) -> None:
    """Send the GPF device log backup alert (GCS62) to the ACB."""
    payload = {"kind": "asn1", "asn1_type": "GPFDeviceLogBackupAlert", "length_encoding": "der",
               "value": {"alertCode": ALERT_GPF_BACKUP,
                         "backupDateTime": {"generalized_time": time.strftime("%Y%m%d%H%M%SZ",
                                                                              time.gmtime(int(device.now())))},
                         "deviceLogEntries": log_entries(device)}}
    device.logged_partners = dict(device.asn1_state.partners)
    device.raise_alert(ALERT_GPF_BACKUP, critical=False, payload=payload, message_code=GPF_BACKUP_ALERT,
                       recipient=device.crypto.acb_eui)


def backup_if_changed(device: Any) -> None:
    """After a command: back the log up if it differs from what was last backed up or restored."""
    if dict(device.asn1_state.partners) != getattr(device, "logged_partners", {}):
        backup(device)


ASN1_USE_CASES[CS07] = "read_join_details"
ASN1_HANDLERS["read_join_details"] = _read_join_details
ASN1_USE_CASES[GCS59] = "restore_device_log"
ASN1_HANDLERS["restore_device_log"] = _restore
