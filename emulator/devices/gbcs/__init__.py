"""GBCS application logic of the devices: what a meter or hub does with remote-party messages.

  - L{security}: the checks every command passes (MAC, signature, role, counter) and the
    alert each failure raises;
  - L{device}: the shared endpoint (receive, respond, alert; framing and protection);
  - L{cosem} and L{dlms_device}: the COSEM object model and the DLMS devices (ESME);
  - L{gbz_device}: ZCL state and the GBZ devices (GSME, GPF);
  - L{asn1_usecases}: the ASN.1 use cases of every device type (credentials, joining, clock);
  - L{provisioning}: devices from a key store directory in the RTDS layout.

Independent of the HAN: a device takes a message (C{receive(bytes)}) and hands what it sends
to an injected C{send(bytes)}; time comes from an injected clock.
"""

from emulator.devices.gbcs import (credentials, devicelog, dualband, firmware, supply,  # noqa: F401
                                   usecase_objects)                                      # (use cases register)
from emulator.devices.gbcs.device import GbcsDevice, Hcalcs, Ppmid
from emulator.devices.gbcs.dlms_device import Chf, DlmsDevice, Esme
from emulator.devices.gbcs.gbz_device import GbzDevice, Gpf, Gsme
from emulator.devices.gbcs.provisioning import provision, remote_parties
from emulator.devices.gbcs.security import RemoteParty, SecurityState

#: emulated device types -> their GBCS logic
DEVICE_CLASSES: dict[str, type[GbcsDevice]] = {"ESME": Esme, "GSME": Gsme, "GPF": Gpf, "CHF": Chf, "PPMID": Ppmid,
                                                "HCALCS": Hcalcs}

__all__ = ["GbcsDevice", "Ppmid", "Hcalcs", "DlmsDevice", "Esme", "Chf", "GbzDevice", "Gsme", "Gpf", "provision", "remote_parties", "RemoteParty",
           "SecurityState", "DEVICE_CLASSES"]
