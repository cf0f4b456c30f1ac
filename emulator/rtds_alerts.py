"""How the replay causes the event a device-initiated reference alert reports.

A reference alert with no command (C{*_ALERT_GBCS.HEX} alone) is the device's own report of
something that happened to it.  For each GBCS alert code the replay knows the event it names
(spec/alert_codes.tsv) and causes that event in a freshly provisioned device, through the
device's own logic, with what the reference alert's payload says about the device (the HAN
device it names, the channel it moved to, the message it discarded, the firmware version it
received, the entries of its device log).  The device then raises the alert itself, and the
replay compares it with the reference.

L{CAUSES} maps an alert code to a function C{cause(device, alert, context) -> bool} (False:
this device cannot have that event).  Some events need a prior state that the device reaches
through its own behaviour (a radio near its duty-cycle limit, a full sub-GHz device table);
the alerts raised on the way there are not the one under test: C{context.settle()} lets them
go and forgets them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Callable

from protocols.errors import CodecError
from protocols.gbcs.crypto import GbcsCrypto
from protocols.gbcs.keystore import KeyStore
from protocols.gbcs.message import DecodedMessage
from protocols.gbcs.payloads import dlms

from emulator.devices.gbcs import DEVICE_CLASSES, apc, devicelog, dualband, firmware, keypad
from emulator.devices.gbcs.asn1_usecases import DEVICE_TYPE_CODES
from emulator.devices.gbcs.chf_device_log import ALERT_CHF_DEVICE_LOG_CHANGED
from emulator.devices.gbcs.device import ALERT_COMMAND_NOT_SUPPORTED, UNSUPPORTED_COMMAND_ALERT
from emulator.devices.gbcs.events import (BILLING_DATA_LOG_UPDATED, INTEGRITY_WARNING, SUPPLY_OUTAGE_RESTORED, billing,
                                          integrity_issue, supply_outage)
from emulator.devices.gbcs.provisioning import acb_eui, provision
from emulator.devices.gbcs.security import ROLE_SUPPLIER

__all__ = ["AlertContext", "CAUSES", "cause_for"]

#: airtime of one sub-GHz frame (s): a full 127-octet frame with its preamble at 10 kb/s
FRAME_AIRTIME = 0.12


@dataclass(slots=True)
class AlertContext:
    """What a cause may use besides the device: the home's key store (to provision another
    HAN device the event involves), the inventory (EUI -> device type), a seeded RNG, and
    C{settle()}, which runs the home until what the device sent so far has left, then forgets it."""

    keys: KeyStore
    inventory: dict[int, str]
    rng: random.Random
    settle: Callable[[], None]


# --------------------------------------------------------------------------- payload helpers

def _data(alert: DecodedMessage) -> list[dict]:
    """The members after alert code and time of a DLMS alert (the alert's own data)."""
    body = (alert.payload or {}).get("notification_body") or {}
    members = body.get("value") if body.get("type") == "structure" else None
    return list(members[2:]) if isinstance(members, list) else []


def _octets(member: dict | None) -> bytes | None:
    if not isinstance(member, dict) or member.get("type") != "octet-string":
        return None
    try:
        return bytes.fromhex(member.get("value") or "")
    except ValueError:
        return None


def _asn1(alert: DecodedMessage) -> dict:
    v = (alert.payload or {}).get("value")
    return v if isinstance(v, dict) else {}


# --------------------------------------------------------------------------- supply

def _supply_outage(device: Any, alert: DecodedMessage, ctx: AlertContext) -> bool:
    """The meter's supply was off for nine minutes and came back a minute ago."""
    now = device.now()
    return supply_outage(device, now - 600.0, now - 60.0)


def _billing(device: Any, alert: DecodedMessage, ctx: AlertContext) -> bool:
    """ECS68: the meter's billing calendar comes due."""
    return billing(device)


def _integrity_issue(device: Any, alert: DecodedMessage, ctx: AlertContext) -> bool:
    """The meter's self-check finds the integrity issue the alert's "other info" code names."""
    p = alert.payload or {}
    issue = p.get("other_information")                          # GBZ alert
    if issue is None:
        d = _data(alert)
        code = _octets(d[0] if d else None)
        issue = int.from_bytes(code, "big") if code is not None and len(code) == 2 else None
    return isinstance(issue, int) and integrity_issue(device, issue)


def _credit_added_locally(device: Any, alert: DecodedMessage, ctx: AlertContext) -> bool:
    """GNCA 810E: the consumer keys in, at the ESME, a UTRN its supplier issued for it."""
    supplier = next((p.eui for p in getattr(device, "security", None).remote_parties.values()
                     if p.role == ROLE_SUPPLIER), None) if hasattr(device, "security") else None
    if supplier is None or getattr(device, "device_type", "") != "ESME":
        return False
    from protocols.gbcs.utrn import VALUE_CLASS_PENNIES, generate_utrn
    try:
        utrn = generate_utrn(GbcsCrypto(ctx.keys, acb_eui(ctx.keys)), supplier, device.eui,
                             keypad.next_utrn_counter(device), VALUE_CLASS_PENNIES, ctx.rng.randrange(100, 5000))
    except KeyError:                    # the key store lacks the supplier's prepayment key
        return False
    return keypad.enter_utrn(device, utrn)


# --------------------------------------------------------------------------- sub-GHz radio

def _radio(device: Any) -> Any:
    return getattr(device, "sub_ghz", None)


def _limited_duty_cycle(device: Any, alert: DecodedMessage, ctx: AlertContext) -> bool:
    """DBCH06: the CH sends frames to the named sub-GHz device until its airtime in the hour
    crosses the normal/limited threshold."""
    radio, d = _radio(device), _data(alert)
    eui = _octets(d[0] if d else None)
    if radio is None or eui is None or len(eui) != 8:
        return False
    target = int.from_bytes(eui, "big")
    while radio.level == dualband.NORMAL:
        if not radio.transmit(device.now(), FRAME_AIRTIME, target):
            return False
    return True


def _message_discarded(device: Any, alert: DecodedMessage, ctx: AlertContext) -> bool:
    """DBCH10: the CH has used its hour's airtime up to regulated operation (the level alerts
    on the way are let go), then a remote-party message arrives for a sub-GHz device: the
    alert data is the discarded message's originator, target, CRA flag and counter."""
    radio, d = _radio(device), _data(alert)
    ident = _octets(d[0] if d else None)
    if radio is None or ident is None or len(ident) != 25:
        return False
    originator, target = int.from_bytes(ident[0:8], "big"), int.from_bytes(ident[8:16], "big")
    cra, counter = ident[16], int.from_bytes(ident[17:25], "big")
    while radio.transmit(device.now(), FRAME_AIRTIME, target):       # HAN traffic to the device
        pass
    ctx.settle()
    return not radio.transmit(device.now(), FRAME_AIRTIME, target, message=(originator, target, cra, counter))


def _no_capacity(device: Any, alert: DecodedMessage, ctx: AlertContext) -> bool:
    """DBCH11: the CH serves as many sub-GHz devices as it can; the named one asks to join."""
    radio, d = _radio(device), _data(alert)
    eui = _octets(d[0] if d else None)
    if radio is None or eui is None or len(eui) != 8:
        return False
    newcomer = int.from_bytes(eui, "big")
    other = newcomer
    while len(radio.devices) < radio.config.capacity:
        other = (other + 1) & 0xFFFFFFFFFFFFFFFF
        radio.admit(other)
    ctx.settle()
    return not radio.admit(newcomer)


def _channel_changed(device: Any, alert: DecodedMessage, ctx: AlertContext) -> bool:
    """DBCH07: the CH moves its sub-GHz HAN to the channel the alert names (if it already
    operates there, it was on another allowed channel before)."""
    radio, d = _radio(device), _data(alert)
    member = d[0] if d else None
    if radio is None:
        return False
    try:
        mask = int(member["value"][0]["value"], 16)             # structure {channel bit-string, status}
    except (TypeError, KeyError, IndexError, ValueError):
        return False
    if radio.channel() == mask:
        others = [m for m in radio.allowed_channels() if m != mask]
        radio.set_channel(others[0] if others else (mask & 0xF8000000) | ((mask << 1) & 0x07FFFFFF or 1))
        ctx.settle()
    radio.set_channel(mask)
    return True


# --------------------------------------------------------------------------- firmware

def _image(device: Any, version: int | None, ctx: AlertContext) -> bytes:
    """An OTA upgrade file for C{device}: the given version (or the next one), a seeded body."""
    if version is None:
        version = (int.from_bytes(device.asn1_state.firmware_version, "big") + 1) & 0xFFFFFFFF
    return firmware.make_ota_image(version, ctx.rng.randbytes(256))


def _image_distributed(device: Any, alert: DecodedMessage, ctx: AlertContext) -> bool:
    """FDRA: the CH delivered a firmware image to the meter (a valid one for 0x8F72, a
    corrupt one for 0x8F1C); the meter verifies it and reports the receipt."""
    if getattr(device, "model", None) is None and getattr(device, "zcl", None) is None:
        return False
    ota = _image(device, None, ctx)
    code = (alert.payload or {}).get("alert_code")
    if code is None:
        code = ((alert.payload or {}).get("alert") or {}).get("alert_code")
    if code == firmware.ALERT_VERIFICATION_FAILED:
        ota = ota[:10]                                           # truncated: no OTA header
    firmware.distribute(device, ota)
    return True


def _hub_device(eui: int, ctx: AlertContext, default: str, clock: Any) -> Any:
    """Another HAN device of the home (the one the event involves), provisioned from the key store."""
    cls = DEVICE_CLASSES.get(ctx.inventory.get(eui, default)) or DEVICE_CLASSES[default]
    return provision(cls, eui, ctx.keys, clock, lambda _m: None, rng=ctx.rng)


def _firmware_transferred(device: Any, alert: DecodedMessage, ctx: AlertContext) -> bool:
    """CCS08: the CH transfers a firmware image to the HAN device the alert names (a PPMID or
    HCALCS, which have no receipt alert of their own) and reports it: the image carries the
    version the alert reports; a failed transfer (0x8F89) is a corrupt file."""
    if getattr(device, "device_type", "") != "CHF":
        return False
    v = _asn1(alert)
    try:
        target_eui = int(v["entityIdentifier"], 16)
        version = int(v["firmwareVersion"], 16)
    except (KeyError, TypeError, ValueError):
        return False
    target = _hub_device(target_eui, ctx, "PPMID", device.clock)
    ota = _image(target, version, ctx)
    if v.get("alertCode") == firmware.ALERT_TRANSFER_FAILED:
        ota = ota[:10]
    firmware.transfer(device, target, ota)
    return True


def _firmware_activated(device: Any, alert: DecodedMessage, ctx: AlertContext) -> bool:
    """CS09: the CH transferred to the PPMID an image of the version the alert reports; the
    PPMID activates it."""
    try:
        version = int(_asn1(alert)["firmwareVersion"], 16)
    except (KeyError, TypeError, ValueError):
        return False
    firmware.distribute(device, _image(device, version, ctx))
    return firmware.activate_held(device)


# --------------------------------------------------------------------------- device log

def _device_log_changed(device: Any, alert: DecodedMessage, ctx: AlertContext) -> bool:
    """GCS62: the GPF's device log held the entries the alert lists but its last one, and was
    backed up so; then that device joined (a CS03B join adds it to the log)."""
    if getattr(device, "device_type", "") != "GPF":
        return False
    entries = _asn1(alert).get("deviceLogEntries")
    if not isinstance(entries, list) or not entries:
        return False
    rows = {e["deviceID"]: e.get("deviceType") for e in entries if isinstance(e, dict) and "deviceID" in e}
    if not rows:
        return False
    *before, (joined, joined_type) = rows.items()
    device.asn1_state.partners = dict(before)
    device.logged_partners = dict(before)
    device.asn1_state.partners[joined] = joined_type
    devicelog.backup_if_changed(device)
    return True


# --------------------------------------------------------------------------- ESME APC limits, unsupported commands

def _unsigned(member: dict | None) -> int | None:
    if not isinstance(member, dict) or member.get("type") != "unsigned" or not isinstance(member.get("value"), int):
        return None
    return member["value"]


def _apc_named(device: Any, member: dict | None) -> tuple[int, int] | None:
    """The (kind, n) of the APC an ESME's APC alert names (unsigned kind << 4 | n)."""
    value = _unsigned(member)
    if getattr(device, "apc", None) is None or value is None:
        return None
    return value >> 4, value & 0x0F


def _apc_limit_processed(device: Any, alert: DecodedMessage, ctx: AlertContext) -> bool:
    """ECS101: the ESME processes a limit (ECS47e) on the APC the alert names, for the period
    and at the level the alert reports."""
    d = _data(alert)
    named = _apc_named(device, d[0] if d else None)
    if named is None or len(d) != 4:
        return False
    start, end, level = _octets(d[1]), _octets(d[2]), _unsigned(d[3])
    if start is None or end is None or level is None:
        return False
    return apc.limit_apc(device, *named, level, start, end) == 0


def _apc_limit_ended(device: Any, alert: DecodedMessage, ctx: AlertContext) -> bool:
    """ECS102: the ESME processed a limit at the alert's level on the APC it names, for the
    next minute (its ECS101 alert is let go); then the period ends."""
    from emulator.devices.gbcs.device import dlms_date_time
    d = _data(alert)
    named = _apc_named(device, d[0] if d else None)
    level = _unsigned(d[1]) if len(d) == 2 else None
    if named is None or level is None:
        return False
    now = device.clock.seconds()
    if apc.limit_apc(device, *named, level, dlms_date_time(now), dlms_date_time(now + 60.0)) != 0:
        return False
    ctx.settle()
    return True


def _command_not_supported(device: Any, alert: DecodedMessage, ctx: AlertContext) -> bool:
    """ECS100: a command the device does not support arrives: the use case and originator
    counter the alert's data names, from the party the alert goes to, on behalf of the alert's
    supplementary remote party if it names one (a command the ACB sent for a user).  The device
    is a product without that use case (GBCS optional functionality) if its type has it."""
    from protocols.gbcs import catalogue
    from protocols.gbcs.framing import CRA_COMMAND, GeneralCiphering, GeneralSigning, OtherInformation
    from protocols.gbcs.message import protect
    d = _data(alert)
    ident = _octets(d[0] if d else None)
    if UNSUPPORTED_COMMAND_ALERT not in type(device).alert_codes or ident is None or len(ident) != 10:
        return False
    code, counter = int.from_bytes(ident[0:2], "big"), int.from_bytes(ident[2:10], "big")
    uc = catalogue.use_case(code)
    if uc is None or uc.is_alert:
        return False
    if device.supports(code):
        device.unsupported_codes.add(code)
    rg = alert.frame.signing
    oi = rg.other_information
    header = OtherInformation(code, oi.supplementary_remote_party_id, oi.supplementary_remote_party_counter)
    gs = GeneralSigning(CRA_COMMAND, counter, rg.recipient, device.eui, None, header, b"", b"")
    try:
        command = protect(gs, GbcsCrypto(ctx.keys, acb_eui(ctx.keys)), GeneralCiphering(b""),
                          sign=uc.criticality == "critical")
    except (CodecError, KeyError):          # the key store cannot protect a command of that party
        return False
    device.receive(command)
    return True


def _chf_device_log_changed(device: Any, alert: DecodedMessage, ctx: AlertContext) -> bool:
    """CS14: the CHF's device log becomes what the alert's back-up lists, through the CHF's own
    logic: each device listed is added (CCS01 register_device, with a seeded install code), then
    each whose hashed TC link key the back-up carries establishes a TC link key (seeded) with
    the CH's trust centre.  Every change sends a back-up; the last one is compared.  (A back-up
    of an empty log: a device was added and removed again.)"""
    if getattr(device, "device_type", "") != "CHF":
        return False
    d = _data(alert)
    backup = d[0].get("value") if d and d[0].get("type") == "structure" else None
    if not isinstance(backup, list) or len(backup) != 3 or backup[2].get("type") != "array":
        return False
    listed: list[tuple[bytes, bool]] = []
    for e in backup[2].get("value") or []:
        m = e.get("value") if isinstance(e, dict) and e.get("type") == "structure" else None
        eui, hashed = (_octets(m[0]), _octets(m[1])) if isinstance(m, list) and len(m) == 2 else (None, None)
        if eui is None or hashed is None or len(eui) != 8:
            return False
        listed.append((eui, bool(hashed)))
    changes: list[Callable[[], Any]] = []
    obj = device.model.objects.get((104, device.CHF_DEVICE_LOG))
    if obj is None:
        return False

    def register(eui: bytes) -> Callable[[], Any]:
        kind = ctx.inventory.get(int.from_bytes(eui, "big"))
        param = dlms.structure(dlms.octet_string(eui), dlms.make_data("enum", DEVICE_TYPE_CODES.get(kind, 6)),
                               dlms.octet_string(ctx.rng.randbytes(16)), dlms.make_data("enum", 0))
        return lambda: device.model.action(104, device.CHF_DEVICE_LOG, 1, param)

    for eui, _keyed in listed:
        changes.append(register(eui))
    for eui, keyed in listed:
        if keyed:
            key = ctx.rng.randbytes(16)
            changes.append(lambda eui=eui, key=key: device.tc_link_key_established(eui, key))
    if not listed:
        gone = ctx.rng.randbytes(8)
        changes += [register(gone),
                    lambda: device.model.action(104, device.CHF_DEVICE_LOG, 2, dlms.octet_string(gone))]
    for i, change in enumerate(changes):
        if i:
            ctx.settle()            # the back-ups on the way are not the one under test
        change()
    return True


Cause = Callable[[Any, DecodedMessage, AlertContext], bool]

#: GBCS alert code -> how to cause, in a device, the event the code names
CAUSES: dict[int, Cause] = {
    SUPPLY_OUTAGE_RESTORED: _supply_outage,
    INTEGRITY_WARNING: _integrity_issue,
    BILLING_DATA_LOG_UPDATED: _billing,
    keypad.ALERT_CREDIT_ADDED_LOCALLY: _credit_added_locally,
    dualband.ALERT_LIMITED: _limited_duty_cycle,
    dualband.ALERT_CHANNEL_CHANGED: _channel_changed,
    dualband.ALERT_MESSAGE_DISCARDED: _message_discarded,
    dualband.ALERT_NO_CAPACITY: _no_capacity,
    firmware.ALERT_VERIFICATION_OK: _image_distributed,
    firmware.ALERT_VERIFICATION_FAILED: _image_distributed,
    firmware.ALERT_TRANSFER_OK: _firmware_transferred,
    firmware.ALERT_TRANSFER_FAILED: _firmware_transferred,
    firmware.ALERT_FIRMWARE_ACTIVATED: _firmware_activated,
    devicelog.ALERT_GPF_BACKUP: _device_log_changed,
    apc.ALERT_LIMIT_PROCESSED: _apc_limit_processed,
    apc.ALERT_LIMIT_ENDED: _apc_limit_ended,
    ALERT_COMMAND_NOT_SUPPORTED: _command_not_supported,
    ALERT_CHF_DEVICE_LOG_CHANGED: _chf_device_log_changed,
}


def cause_for(alert_code: int | None) -> Cause | None:
    return CAUSES.get(alert_code) if alert_code is not None else None

