"""Application behaviour of the emulated devices (one class per GBCS device type).

L{build_device} maps a topology L{DeviceSpec} to its class: C{CH} (CHF + GPF,
L{emulator.devices.hub}), C{ESME} and C{GSME} (L{emulator.devices.meters}), C{IHD}, C{PPMID}
(L{emulator.devices.ppmid}) and C{HCALCS} (L{emulator.devices.hcalcs});
C{INSIDER} (L{emulator.devices.insider}: a hostile device for security testing).
Nothing runs until the device's C{power_on} time.
"""

from __future__ import annotations

from emulator.devices.base import HanDevice
from emulator.devices.hub import CommsHub
from emulator.devices.insider import Insider
from emulator.devices.meters import Esme, Gsme, Ihd
from emulator.devices.hcalcs import Hcalcs
from emulator.devices.ppmid import Ppmid

DEVICE_CLASSES: dict[str, type[HanDevice]] = {"CH": CommsHub, "ESME": Esme, "GSME": Gsme, "IHD": Ihd, "PPMID": Ppmid,
                                              "HCALCS": Hcalcs, "INSIDER": Insider}


def build_device(home, spec, seed: int) -> HanDevice:
    """Create (not yet power on) the device described by C{spec} in C{home}."""
    return DEVICE_CLASSES[spec.kind](home, spec, seed)


DEVICE_CLASSES: dict[str, type[HanDevice]] = {"CH": CommsHub, "ESME": Esme, "GSME": Gsme, "IHD": Ihd, "PPMID": Ppmid,
                                              "HCALCS": Hcalcs, "INSIDER": Insider}
