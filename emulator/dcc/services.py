"""Non-device service requests, carried out by the DCC on its inventory (DUIS section 3.8).

  - 8.2 Read Inventory (C{ReadInventory/DeviceID}): the device and the others of its
    Communications Hub, with type, status, firmware, CSP region, CHF and registration;
  - 8.3 Decommission Device (C{DecommissionDevice/DeviceID}): status -> decommissioned;
  - 8.4 Update Inventory (C{UpdateInventory/DeviceID} + C{DeleteDevice}): removes a device
    that was never installed (pending or whitelisted);
  - 12.2 Device Pre-notification (C{DevicePrenotification}): adds a pending device.

Each returns the DSP response element (or None) and raises L{DuisError} with the response code
for a request that cannot be carried out.  Other non-device requests are refused honestly
(E12) by the caller: this DCC has no service for them.
"""

from __future__ import annotations

from typing import Callable

from lxml import etree

from emulator.dcc.inventory import DEVICE_TYPES, DeviceStatus, Inventory, InventoryDevice, InventoryError
from protocols.duis import codes
from protocols.duis.errors import DuisError
from protocols.duis.request import SR, ServiceRequest, format_eui

__all__ = ["NON_DEVICE_SERVICES", "NonDeviceService"]

_S = "{%s}%%s" % SR

#: (inventory, request, the role the User acts in, user id) -> response body element or None
NonDeviceService = Callable[[Inventory, ServiceRequest, frozenset, int], "etree._Element | None"]


def _field(body: etree._Element, name: str, required: bool = True) -> str | None:
    el = body.find(_S % name)
    if el is None or not (el.text or "").strip():
        if required:
            raise DuisError(codes.SCHEMA, f"Body.{etree.QName(body).localname}.{name}",
                            f"sr:{etree.QName(body).localname} needs sr:{name}", body.sourceline or 0)
        return None
    return el.text.strip()


def _device_id(body: etree._Element) -> int:
    text = _field(body, "DeviceID")
    digits = text.replace("-", "")
    if len(digits) != 16 or any(c not in "0123456789abcdefABCDEF" for c in digits):
        raise DuisError(codes.SCHEMA, "Body.DeviceID", f"DeviceID {text!r} is not an EUI-64 (8 hex pairs)")
    return int(digits, 16)


def _device(inventory: Inventory, body: etree._Element) -> InventoryDevice:
    eui = _device_id(body)
    device = inventory.device(eui)
    if device is None:
        raise DuisError(codes.UNKNOWN_DEVICE, "Body.DeviceID", f"device {format_eui(eui)} is not in the inventory")
    return device


def _registered_supplier(device: InventoryDevice, user_id: int, roles: frozenset) -> None:
    reg = device.registered()
    if not any(reg.get(r) == user_id for r in roles & {"IS", "GS", "ES"}):
        raise DuisError(codes.NOT_REGISTERED, "Body.DeviceID",
                        f"the User {format_eui(user_id)} is not a registered supplier of "
                        f"{format_eui(device.device_id)}")


def _sub(parent: etree._Element, name: str, text: str | None) -> None:
    if text:
        etree.SubElement(parent, _S % name).text = text


def _entry(parent: etree._Element, device: InventoryDevice) -> None:
    el = etree.SubElement(parent, _S % "Device")
    _sub(el, "DeviceID", format_eui(device.device_id))
    _sub(el, "DeviceType", device.device_type)
    _sub(el, "DeviceStatus", device.status.value)
    _sub(el, "DeviceManufacturer", device.manufacturer)
    _sub(el, "DeviceModel", device.model)
    _sub(el, "FirmwareVersion", device.firmware_version)
    _sub(el, "SMETSCHTSVersion", device.smets_chts_version)
    _sub(el, "CSPRegion", device.csp_region.capitalize())
    _sub(el, "CHFID", format_eui(device.chf_id) if device.chf_id is not None else None)
    for role, eui in sorted(device.registered().items()):
        reg = etree.SubElement(el, _S % "Registration")
        _sub(reg, "UserRole", role)
        _sub(reg, "UserID", format_eui(eui))


def read_inventory(inventory: Inventory, request: ServiceRequest, roles: frozenset, user_id: int) -> etree._Element:
    device = _device(inventory, request.body)
    out = etree.Element(_S % "ReadInventoryRsp", nsmap={"sr": SR})
    peers = [device] + sorted((d for d in inventory.devices.values()
                               if d is not device and device.chf_id is not None and d.chf_id == device.chf_id),
                              key=lambda d: d.device_id)
    for d in peers:
        _entry(out, d)
    return out


def decommission_device(inventory: Inventory, request: ServiceRequest, roles: frozenset, user_id: int) -> None:
    device = _device(inventory, request.body)
    _registered_supplier(device, user_id, roles)
    try:
        device.move(DeviceStatus.DECOMMISSIONED)
    except InventoryError as e:
        raise DuisError(codes.DEVICE_STATUS, "Body.DeviceID", str(e)) from None
    return None


def update_inventory(inventory: Inventory, request: ServiceRequest, roles: frozenset, user_id: int) -> None:
    device = _device(inventory, request.body)
    actions = [etree.QName(c).localname for c in request.body if isinstance(c.tag, str)
               and etree.QName(c).localname != "DeviceID"]
    if actions != ["DeleteDevice"]:
        raise DuisError(codes.NOT_SUPPORTED, "Body.UpdateInventory",
                        "this DCC's Update Inventory supports DeleteDevice only, got "
                        f"{', '.join(actions) or 'nothing'}")
    if device.status not in (DeviceStatus.PENDING, DeviceStatus.WHITELISTED):
        raise DuisError(codes.DEVICE_STATUS, "Body.DeviceID",
                        f"only a pending or whitelisted device can be deleted; {format_eui(device.device_id)} "
                        f"is {device.status.value}")
    inventory.remove_device(device.device_id)
    return None


def device_prenotification(inventory: Inventory, request: ServiceRequest, roles: frozenset,
                           user_id: int) -> None:
    body = request.body
    eui = _device_id(body)
    dtype = _field(body, "DeviceType")
    if dtype not in DEVICE_TYPES:
        raise DuisError(codes.INVALID_DATA, "Body.DeviceType",
                        f"DeviceType {dtype!r} is not one of {', '.join(sorted(DEVICE_TYPES))}")
    if inventory.device(eui) is not None:
        raise DuisError(codes.INVALID_DATA, "Body.DeviceID", f"device {format_eui(eui)} is already in the inventory")
    inventory.add_device(InventoryDevice(
        eui, dtype, DeviceStatus.PENDING, None, "central", None,
        firmware_version=_field(body, "FirmwareVersion", False) or "",
        manufacturer=_field(body, "DeviceManufacturer", False) or "",
        model=_field(body, "DeviceModel", False) or "",
        smets_chts_version=_field(body, "SMETSCHTSVersion", False) or ""))
    return None


#: service reference variant -> (the DUIS body element it takes, the service)
NON_DEVICE_SERVICES: dict[str, tuple[str, NonDeviceService]] = {
    "8.2": ("ReadInventory", read_inventory),
    "8.3": ("DecommissionDevice", decommission_device),
    "8.4": ("UpdateInventory", update_inventory),
    "12.2": ("DevicePrenotification", device_prenotification),
}
