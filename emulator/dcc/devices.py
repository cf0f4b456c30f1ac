"""The GBCS logic of the estate's devices, provisioned from the DCC's key store.

Each home's C{gbcs_application_factory} (L{emulator.devices.tunnel.make_gbcs_application})
gives every device its GBCS application (L{emulator.devices.gbcs}): the ESME and GSME their own,
the Communications Hub one that holds the CHF and the GPF and hands each message to the one it
is addressed to.  Devices take their keys and their remote parties' certificates from the key
store the DCC uses (the RTDS one for the RTDS home), so the ACB's commands are valid for them
and their responses verify at the DCC; a device without a signing key in the store gets one
made from the run seed, and the store gains its public key (the DCC verifies with it).
Devices with no GBCS logic (the IHD) accept messages and answer nothing.
"""

from __future__ import annotations

from twisted.logger import Logger

from emulator.devices.gbcs import DEVICE_CLASSES, Chf, Gpf, provision
from emulator.devices.gbcs.supply import follow_load
from emulator.devices.tunnel import SilentApplication
from emulator.rng import derive_rng
from protocols.errors import CodecError
from protocols.gbcs.framing import decode_frame

__all__ = ["install_device_logic", "HubApplication"]

log = Logger(namespace="smets.devices")


class HubApplication:
    """The Communications Hub's GBCS application: its CHF and its GPF, by business recipient."""

    def __init__(self, chf, gpf=None) -> None:
        self.chf = chf
        self.gpf = gpf
        self.malformed = 0

    def receive(self, message: bytes) -> None:
        try:
            recipient = decode_frame(message).signing.recipient
        except CodecError as e:
            self.malformed += 1
            log.info("hub {eui:016X}: a message the CHF cannot frame: {reason}", eui=self.chf.eui, reason=e.reason)
            return
        target = self.gpf if self.gpf is not None and recipient == self.gpf.eui else self.chf
        target.receive(message)


def install_device_logic(estate, keystore, seed: int) -> None:
    """Give every home of C{estate} (before it starts) the GBCS logic of its devices."""
    for home in estate.homes:
        home.gbcs_application_factory = (
            lambda device, send, home=home: _application(home, device, send, keystore, seed))


def _application(home, device, send, keystore, seed: int):
    spec = device.spec
    rng = derive_rng(seed, home.spec.name, spec.name, "gbcs")
    if spec.kind == "CH":
        chf = provision(Chf, spec.eui64, keystore, home.clock, send, rng=rng)
        gpf = None
        if spec.gpf_eui64 is not None:
            gpf = provision(Gpf, spec.gpf_eui64, keystore, home.clock, send,
                            rng=derive_rng(seed, home.spec.name, spec.name, "gpf", "gbcs"))
        return HubApplication(chf, gpf)
    cls = DEVICE_CLASSES.get(spec.kind)
    if cls is None:
        return SilentApplication(send)
    application = provision(cls, spec.eui64, keystore, home.clock, send, rng=rng)
    load = getattr(device, "load", None)
    if spec.kind == "ESME" and load is not None:     # load limiting follows the household's demand
        follow_load(application, lambda t: load.read(t)[1], home.clock)
    return application
