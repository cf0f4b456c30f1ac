"""The Smart Meter Inventory (architecture 4.2.3.2, "Smart Meter Registration Data").

Devices with their status, type, firmware, CSP region and home, the organisations registered
for each (supplier, network operator ... per DUIS role), and the DCC Users with their roles,
certificates and response URLs.  Plain data, shared by the DCC's gateway, its non-device
services and (through the ACB boundary) the transform.

Device statuses are the DUIS ones; the inventory enforces their transitions
(L{InventoryDevice.move}) so a request cannot, say, commission a withdrawn device.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from protocols.duis.gateway import UserCredentials

__all__ = ["DeviceStatus", "DEVICE_TYPES", "InventoryDevice", "ServiceUser", "Inventory", "InventoryError",
           "REGISTRATION_ROLES"]


class DeviceStatus(Enum):
    """Inventory status of a device (DUIS names as values)."""

    PENDING = "Pending"
    WHITELISTED = "Whitelisted"
    INSTALLED = "InstalledNotCommissioned"
    COMMISSIONED = "Commissioned"
    DECOMMISSIONED = "Decommissioned"
    WITHDRAWN = "Withdrawn"
    SUSPENDED = "Suspended"

    @classmethod
    def parse(cls, text: str) -> "DeviceStatus":
        key = text.strip().lower().replace(" ", "").replace("_", "")
        for status in cls:
            if key in (status.name.lower(), status.value.lower()):
                return status
        raise ValueError(f"unknown device status {text!r} (one of: {', '.join(s.name.lower() for s in cls)})")


#: allowed status changes (DUIS / SEC inventory life cycle)
_TRANSITIONS: dict[DeviceStatus, frozenset[DeviceStatus]] = {
    DeviceStatus.PENDING: frozenset({DeviceStatus.WHITELISTED, DeviceStatus.INSTALLED, DeviceStatus.WITHDRAWN}),
    DeviceStatus.WHITELISTED: frozenset({DeviceStatus.INSTALLED, DeviceStatus.COMMISSIONED,
                                         DeviceStatus.DECOMMISSIONED, DeviceStatus.WITHDRAWN}),
    DeviceStatus.INSTALLED: frozenset({DeviceStatus.COMMISSIONED, DeviceStatus.DECOMMISSIONED,
                                       DeviceStatus.WITHDRAWN}),
    DeviceStatus.COMMISSIONED: frozenset({DeviceStatus.DECOMMISSIONED, DeviceStatus.SUSPENDED}),
    DeviceStatus.SUSPENDED: frozenset({DeviceStatus.COMMISSIONED, DeviceStatus.DECOMMISSIONED}),
    DeviceStatus.DECOMMISSIONED: frozenset(),
    DeviceStatus.WITHDRAWN: frozenset(),
}

#: DUIS device types, and which registered roles apply to each (by fuel)
DEVICE_TYPES: dict[str, frozenset[str]] = {
    "ESME": frozenset({"IS", "ES", "ED", "RSA"}),
    "GSME": frozenset({"GS", "GT", "RSA"}),
    "GPF": frozenset({"GS", "GT", "RSA"}),
    "CHF": frozenset({"IS", "ES", "GS", "ED", "GT", "RSA"}),
    "IHD": frozenset({"IS", "GS", "RSA"}),
    "PPMID": frozenset({"IS", "GS", "RSA"}),
    "HCALCS": frozenset({"IS", "ED", "RSA"}),
    "CAD": frozenset({"IS", "GS", "RSA"}),
}

#: the registration a home carries: DUIS role -> configuration key
REGISTRATION_ROLES: dict[str, str] = {
    "IS": "import_supplier",
    "ES": "export_supplier",
    "GS": "gas_supplier",
    "ED": "electricity_distributor",
    "GT": "gas_transporter",
    "RSA": "registered_supplier_agent",
}


class InventoryError(ValueError):
    """An inventory change the life cycle or the data does not allow."""


@dataclass(slots=True)
class InventoryDevice:
    """One device of the inventory."""

    device_id: int
    device_type: str
    status: DeviceStatus
    home: str | None
    csp_region: str
    chf_id: int | None = None
    firmware_version: str = ""
    manufacturer: str = ""
    model: str = ""
    smets_chts_version: str = ""
    #: DUIS role -> EUI of the registered organisation
    registration: dict[str, int] = field(default_factory=dict)

    def registered(self) -> dict[str, int]:
        """The registered party per role that applies to this device type."""
        roles = DEVICE_TYPES.get(self.device_type, frozenset())
        return {r: eui for r, eui in self.registration.items() if r in roles}

    def move(self, status: DeviceStatus) -> None:
        """Change status along the life cycle (InventoryError otherwise, also for no change)."""
        if status is self.status:
            raise InventoryError(f"device {self.device_id:016X} is already {status.value}")
        if status not in _TRANSITIONS[self.status]:
            raise InventoryError(f"device {self.device_id:016X} cannot go from {self.status.value} to {status.value}")
        self.status = status


@dataclass(slots=True)
class ServiceUser:
    """A DCC User: an organisation's EUI, its DUIS roles, its signing certificates (or bare
    public keys, for Users whose keys a topology makes), its response URL."""

    user_id: int
    name: str
    roles: frozenset[str]
    certificates: tuple[x509.Certificate, ...]
    response_url: str | None = None
    public_keys: tuple[ec.EllipticCurvePublicKey, ...] = ()

    def credentials(self) -> UserCredentials:
        keys = tuple((c.serial_number, c.public_key()) for c in self.certificates) + \
            tuple((None, k) for k in self.public_keys)
        return UserCredentials(self.user_id, self.roles, keys)


class Inventory:
    """Devices and DCC Users of one DCC."""

    def __init__(self, dcc_id: int) -> None:
        #: the DCC's own EUI: the target of non-device requests (the ACB's, in the RTDS set)
        self.dcc_id = dcc_id
        self.devices: dict[int, InventoryDevice] = {}
        self.users: dict[int, ServiceUser] = {}

    def add_device(self, device: InventoryDevice) -> InventoryDevice:
        if device.device_type not in DEVICE_TYPES:
            raise InventoryError(f"unknown device type {device.device_type!r} "
                                 f"(one of: {', '.join(sorted(DEVICE_TYPES))})")
        if device.device_id in self.devices:
            raise InventoryError(f"device {device.device_id:016X} is already in the inventory")
        self.devices[device.device_id] = device
        return device

    def remove_device(self, device_id: int) -> InventoryDevice:
        return self.devices.pop(device_id)

    def device(self, device_id: int) -> InventoryDevice | None:
        return self.devices.get(device_id)

    def add_user(self, user: ServiceUser) -> ServiceUser:
        if user.user_id in self.users:
            raise InventoryError(f"DCC User {user.user_id:016X} is defined twice")
        self.users[user.user_id] = user
        return user

    def user(self, user_id: int) -> ServiceUser | None:
        return self.users.get(user_id)

    def credentials(self, user_id: int) -> UserCredentials | None:
        """The gateway's view of a User (None if unknown)."""
        user = self.users.get(user_id)
        return user.credentials() if user is not None else None

    def home_devices(self, home: str) -> list[InventoryDevice]:
        return [d for d in self.devices.values() if d.home == home]
