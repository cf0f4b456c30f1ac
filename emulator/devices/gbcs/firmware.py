"""Firmware on a GBCS device: the running version, image distribution and activation.

  - **Version.**  Every device runs one firmware version (4 octets, L{Asn1State.firmware_version},
    the value CS08 reads on a PPMID/HCALCS).  ECS52 reads the ESME's and the CH's as the COSEM
    Data object 0-0:0.2.1.255 (value: octet-string); the object follows the version.
  - **Distribution** (DUIS 11.1: the CH hands the OTA image to the device).  L{distribute} takes
    a ZigBee OTA upgrade file: the header (magic 0x0BEEF11E, header length, file version ...;
    ZigBee OTA cluster specification) and the manufacturer image after it.  The device
    calculates the SHA-256 manufacturer image hash over the bytes after the header, keeps the
    image and reports the receipt with the Firmware Distribution Receipt Alert (0x00CE ESME /
    CHF as DLMS, 0x00CF GSME / GPF as GBZ: alert code, time, the 32-octet calculated hash):
    0x8F72 firmware verification successful, or 0x8F1C verification failed for a file that is
    not an OTA image (nothing is kept).  A PPMID or HCALCS sends no receipt: the CH that
    transferred the image reports it (L{transfer}, CCS08 Firmware Transfer Alert to the ACB).
  - **Activation** (CS06, 0x0012, ASN.1 ActivateFirmwareCommand: manufacturer image hash,
    originator counter, optional execution date-time).  Now: the device runs the held image
    when its hash is the command's (ActivateFirmwareOutcome success with the new version),
    else answers noImageHeld (1) or hashMismatch (2) and keeps running what it ran.  A future
    execution date-time: the answer is ActivateFirmwareAccepted (NULL) and at that time the
    activation runs and its outcome goes to the originator in the Future Dated Firmware
    Activation Alert (0x00CA: 0x8F66 actioned / 0x8F67 not actioned, the execution time, the
    originator counter, the outcome).  A later CS06 replaces a pending one.
"""

from __future__ import annotations

import calendar
import hashlib
import struct
import time
from dataclasses import dataclass, field
from typing import Any

from protocols.gbcs.payloads import dlms
from protocols.zcl.types import ZCL_EPOCH_UNIX

from emulator.devices.gbcs.asn1_usecases import ASN1_HANDLERS, ASN1_PREPARERS, ASN1_USE_CASES, Asn1Typed
from emulator.devices.gbcs.cosem import INSTANCE_DEVICE, INSTANCE_TYPES

__all__ = ["OTA_MAGIC", "FirmwareImage", "FirmwareState", "firmware_state", "parse_ota_image", "make_ota_image",
           "distribute", "transfer", "FIRMWARE_VERSION_OBIS", "ALERT_VERIFICATION_OK", "ALERT_VERIFICATION_FAILED", "CS06",
           "activate_held", "PPMID_ACTIVATION_ALERT", "ALERT_FIRMWARE_ACTIVATED"]

OTA_MAGIC = 0x0BEEF11E
_OTA_HEADER_MIN = 56
FIRMWARE_VERSION_OBIS = "0-0:0.2.1.255"
ALERT_VERIFICATION_OK = 0x8F72
ALERT_VERIFICATION_FAILED = 0x8F1C
RECEIPT_DLMS, RECEIPT_GBZ = 0x00CE, 0x00CF
FUTURE_DATED_ACTIVATION_ALERT = 0x00CA
FIRMWARE_TRANSFER_ALERT = 0x0128
ALERT_TRANSFER_OK, ALERT_TRANSFER_FAILED = 0x8F8A, 0x8F89
TRANSFER_SUCCESS, TRANSFER_FAILURE = 0, 3
CS06 = 0x0012


#: image response codes (ActivateImageResponseCode)
SUCCESS, NO_IMAGE_HELD, HASH_MISMATCH = 0, 1, 2


@dataclass(frozen=True, slots=True)
class FirmwareImage:
    """A distributed firmware image: its version (4 octets, big-endian file version) and hash."""

    version: bytes
    image_hash: bytes
    size: int


@dataclass(slots=True)
class FirmwareState:
    """The image a device holds (distributed, not yet running) and a pending activation."""

    held: FirmwareImage | None = None
    pending: Any = None
    activations: int = field(default=0)


def parse_ota_image(data: bytes) -> FirmwareImage:
    """The version and manufacturer image hash of a ZigBee OTA upgrade file.

    @raise ValueError: not an OTA upgrade file (magic, header length or total size wrong).
    """
    if len(data) < _OTA_HEADER_MIN:
        raise ValueError(f"OTA file of {len(data)} octets is shorter than its header")
    magic, _hver, hlen = struct.unpack_from("<IHH", data, 0)
    if magic != OTA_MAGIC:
        raise ValueError(f"OTA magic {magic:08X} is not {OTA_MAGIC:08X}")
    if hlen < _OTA_HEADER_MIN or hlen > len(data):
        raise ValueError(f"OTA header length {hlen} out of range")
    (file_version,) = struct.unpack_from("<I", data, 14)
    (total,) = struct.unpack_from("<I", data, 52)
    if total != len(data):
        raise ValueError(f"OTA total image size {total} but {len(data)} octets received")
    return FirmwareImage(file_version.to_bytes(4, "big"), hashlib.sha256(data[hlen:]).digest(), len(data))


def make_ota_image(file_version: int, body: bytes, *, manufacturer: int = 0x1234, image_type: int = 0) -> bytes:
    """A ZigBee OTA upgrade file carrying C{body} (for the CH side and tests)."""
    total = _OTA_HEADER_MIN + len(body)
    header = struct.pack("<IHHHHHIH32sI", OTA_MAGIC, 0x0100, _OTA_HEADER_MIN, 0, manufacturer, image_type,
                         file_version, 2, b"GBCS firmware".ljust(32, b"\0"), total)
    return header + body


def firmware_state(device: Any) -> FirmwareState:
    """The firmware state of a device (created on first use)."""
    state = getattr(device, "firmware", None)
    if state is None:
        state = device.firmware = FirmwareState()
    return state


def _sync_version_object(device: Any) -> None:
    model = getattr(device, "model", None)
    if model is not None and (1, FIRMWARE_VERSION_OBIS) in model.objects:
        model.objects[(1, FIRMWARE_VERSION_OBIS)].attributes[2] = dlms.octet_string(
            device.asn1_state.firmware_version)


def distribute(device: Any, ota_file: bytes) -> FirmwareImage | None:
    """The CH delivered an OTA file: verify it, keep it, send the receipt alert; the image or None."""
    try:
        image = parse_ota_image(ota_file)
        code = ALERT_VERIFICATION_OK
    except ValueError:
        image, code = None, ALERT_VERIFICATION_FAILED
    digest = image.image_hash if image is not None else hashlib.sha256(ota_file).digest()
    if image is not None:
        firmware_state(device).held = image
    counter = device.alert_counter
    if getattr(device, "model", None) is None and getattr(device, "zcl", None) is None:
        return image            # PPMID, HCALCS: the CH reports the transfer (L{transfer}, CCS08)
    if getattr(device, "model", None) is not None:        # DLMS device (ESME, CHF)
        from emulator.devices.gbcs.device import dlms_date_time
        body = dlms.structure(dlms.make_data("long-unsigned", code), dlms.octet_string(dlms_date_time(device.now())),
                              dlms.octet_string(digest))
        payload, message_code = dlms.data_notification(counter, body), RECEIPT_DLMS
    else:                                                  # GBZ device (GSME, GPF)
        payload = {"kind": "gbz", "profile_id": 0x0109, "number_of_components": 1, "alert_code": code,
                   "time_stamp": int(device.now()) - ZCL_EPOCH_UNIX,
                   "calculated_manufacturer_image_hash": digest.hex().upper()}
        message_code = RECEIPT_GBZ
    device.raise_alert(code, critical=True, payload=payload, message_code=message_code)
    return image


def transfer(chf: Any, target: Any, ota_file: bytes) -> FirmwareImage | None:
    """The CH transfers an image to a HAN device that has no distribution receipt of its own
    (PPMID, HCALCS; DUIS 11.4) and reports it to the ACB with the Firmware Transfer Alert
    (CCS08, 0x0128: 0x8F8A success with the image's version, or 0x8F89 transfer failure)."""
    image = distribute(target, ota_file)
    payload = {"kind": "asn1", "asn1_type": "FirmwareTransferAlert", "length_encoding": "der",
               "value": {"alertCode": ALERT_TRANSFER_OK if image is not None else ALERT_TRANSFER_FAILED,
                         "dateTime": _gtime(chf.now()), "entityIdentifier": f"{target.eui:016X}",
                         "firmwareVersion": (image.version if image is not None
                                             else target.asn1_state.firmware_version).hex().upper(),
                         "responseCode": TRANSFER_SUCCESS if image is not None else TRANSFER_FAILURE}}
    chf.raise_alert(payload["value"]["alertCode"], critical=True, payload=payload,
                    message_code=FIRMWARE_TRANSFER_ALERT, recipient=chf.crypto.acb_eui)
    return image


#: CS09: a PPMID's alert that it activated new firmware (message code 0x012B, alert 0x8F8B)
PPMID_ACTIVATION_ALERT = 0x012B
ALERT_FIRMWARE_ACTIVATED = 0x8F8B


def activate_held(device: Any) -> bool:
    """A PPMID (or HCALCS) activates the image the CH transferred to it: no CS06 command
    reaches a device of that kind, it activates on its own and reports the version it now runs
    to the ACB (CS09 FirmwareActivationAlert, critical).  False when it holds no image."""
    held = firmware_state(device).held
    if held is None or getattr(device, "device_type", "") not in ("PPMID", "HCALCS"):
        return False
    outcome = _outcome(device, held.image_hash, True)
    payload = {"kind": "asn1", "asn1_type": "FirmwareActivationAlert", "length_encoding": "der",
               "value": {"alertCode": ALERT_FIRMWARE_ACTIVATED, "dateTime": _gtime(device.now()),
                         "firmwareVersion": outcome["firmwareVersion"],
                         "activateImageResult": outcome["activateImageResponseCode"]}}
    device.raise_alert(ALERT_FIRMWARE_ACTIVATED, critical=True, payload=payload,
                       message_code=PPMID_ACTIVATION_ALERT, recipient=device.crypto.acb_eui)
    return True


def _gtime(seconds: float) -> dict:
    return {"generalized_time": time.strftime("%Y%m%d%H%M%SZ", time.gmtime(int(seconds)))}


def _from_gtime(v: Any) -> float | None:
    text = v.get("generalized_time") if isinstance(v, dict) else None
    try:
        return float(calendar.timegm(time.strptime(str(text), "%Y%m%d%H%M%SZ")))
    except ValueError:
        return None


def _outcome(device: Any, image_hash: bytes, commit: bool) -> dict:
    state = firmware_state(device)
    held = state.held
    if held is None:
        code = NO_IMAGE_HELD
    elif held.image_hash != image_hash:
        code = HASH_MISMATCH
    else:
        code = SUCCESS
        if commit:
            device.asn1_state.firmware_version = held.version
            state.held = None
            state.activations += 1
            _sync_version_object(device)
    return {"activateImageResponseCode": code, "firmwareVersion": device.asn1_state.firmware_version.hex().upper()}


def _activate(device: Any, message_code: int, value: Any, commit: bool) -> Any:
    """CS06: the response value (see the module docstring); state changes only with C{commit}."""
    if not isinstance(value, dict) or "manufacturerImageHash" not in value:
        return None
    try:
        image_hash = bytes.fromhex(value["manufacturerImageHash"])
    except (TypeError, ValueError):
        return None
    state = firmware_state(device)
    when = value.get("executionDateTime")
    t = _from_gtime(when) if when is not None else None
    if when is not None and t is None:
        return None
    if t is None or t <= device.now():
        if commit and state.pending is not None and state.pending.active():
            state.pending.cancel()
            state.pending = None
        return _outcome(device, image_hash, commit)
    if not commit:
        return _outcome(device, image_hash, False)      # what the activation would give now
    if state.pending is not None and state.pending.active():
        state.pending.cancel()
    counter = int(value.get("originatorCounter", 0))
    state.pending = device.clock.callLater(t - device.now(), _activate_due, device, image_hash, counter,
                                           device.last_command_originator(message_code))
    return Asn1Typed("ActivateFirmwareAccepted", None)


def _activate_due(device: Any, image_hash: bytes, counter: int, originator: int) -> None:
    state = firmware_state(device)
    state.pending = None
    outcome = _outcome(device, image_hash, True)
    alert = 0x8F66 if outcome["activateImageResponseCode"] == SUCCESS else 0x8F67
    payload = {"kind": "asn1", "asn1_type": "FutureDatedFirmwareActivationAlert", "length_encoding": "der",
               "value": {"alertCode": alert, "executionDateTime": _gtime(device.now()),
                         "originatorCounter": counter, "outcome": outcome}}
    device.raise_alert(alert, critical=True, payload=payload, message_code=FUTURE_DATED_ACTIVATION_ALERT,
                       recipient=originator)


def _image_was_distributed(device: Any, value: Any) -> None:
    """CS06 presupposes a distributed image: the device holds one with the command's hash (the
    next version of what it runs)."""
    if not isinstance(value, dict):
        return
    try:
        image_hash = bytes.fromhex(value.get("manufacturerImageHash", ""))
    except (TypeError, ValueError):
        return
    running = int.from_bytes(device.asn1_state.firmware_version, "big")
    firmware_state(device).held = FirmwareImage(((running + 1) & 0xFFFFFFFF).to_bytes(4, "big"), image_hash, 0)


# ECS52 (ESME, CH firmware version): the COSEM object; CS06 for every device type
INSTANCE_TYPES[(1, FIRMWARE_VERSION_OBIS, 2)] = lambda: dlms.octet_string(b"\x00\x00\x00\x01")
INSTANCE_DEVICE[(1, FIRMWARE_VERSION_OBIS)] = "ESME"
ASN1_USE_CASES[CS06] = "activate_firmware"
ASN1_HANDLERS["activate_firmware"] = _activate
ASN1_PREPARERS["activate_firmware"] = _image_was_distributed
