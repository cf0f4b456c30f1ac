"""The GBCS logic of the estate's devices: every run's devices answer remote-party commands.

Each home's C{gbcs_application_factory} (L{emulator.devices.tunnel.make_gbcs_application})
gives every device its GBCS application (L{emulator.devices.gbcs}): the ESME and GSME their own,
the Communications Hub one that holds the CHF and the GPF and hands each message to the one it
is addressed to.  Where the keys come from:

  - with the DCC beside the estate (C{--duis-port}): the key store the DCC uses (the RTDS one
    for the RTDS home), so the ACB's commands are valid for the devices and their responses
    verify at the DCC;
  - otherwise the home's own key store (its CH's C{gbcs_keys}, in the RTDS layout) when it
    names one, else the topology's C{dcc.keys}, else seeded keys: an empty store in which each
    device's signing key is made from the run seed (a command then verifies only if its
    originator's certificate was installed, so unknown parties get the GBCS alerts).

A device without a signing key in its store gets one made from the run seed, and the store
gains its public key (the DCC side verifies with it).  Devices with no GBCS logic (the IHD)
accept messages and answer nothing.

The logic of a device is built when its first message arrives (L{LazyApplication}): an idle
home holds no COSEM model, no ZCL state and no per-device key selection.  The ESME's and the
GSME's registers are those of the HAN device (L{emulator.devices.registers}): one load model
drives the ZigBee Metering cluster and the GBCS registers and logs.
"""

from __future__ import annotations

from typing import Any, Callable

from twisted.logger import Logger

from emulator.devices.gbcs import DEVICE_CLASSES, Chf, Gpf, provision
from emulator.devices.gbcs.supply import follow_load
from emulator.devices.tunnel import SilentApplication
from emulator.rng import derive_rng
from protocols.errors import CodecError
from protocols.gbcs.framing import decode_frame
from protocols.gbcs.keystore import KeyStore

__all__ = ["install_device_logic", "install_run_device_logic", "dcc_keys_path", "HubApplication",
           "LazyApplication"]

log = Logger(namespace="smets.devices")


class HubApplication:
    """The Communications Hub's GBCS application: its CHF and its GPF, by business recipient."""

    def __init__(self, chf, gpf=None, before_gpf: Callable[[], None] | None = None) -> None:
        self.chf = chf
        self.gpf = gpf
        #: called before a message reaches the GPF (to bring its mirror of the GSME up to date)
        self.before_gpf = before_gpf
        self.malformed = 0

    def receive(self, message: bytes) -> None:
        try:
            recipient = decode_frame(message).signing.recipient
        except CodecError as e:
            self.malformed += 1
            log.info("hub {eui:016X}: a message the CHF cannot frame: {reason}", eui=self.chf.eui, reason=e.reason)
            return
        if self.gpf is not None and recipient == self.gpf.eui:
            if self.before_gpf is not None:
                self.before_gpf()
            self.gpf.receive(message)
            return
        self.chf.receive(message)


class LazyApplication:
    """A device's GBCS application, built by C{build()} when it is first used.

    Attribute reads other than C{receive} (C{counters}, C{model}, ...) build it too, so a test
    or an operator sees the same object the messages reach.
    """

    __slots__ = ("_build", "_app", "_before")

    def __init__(self, build: Callable[[], Any], before: Callable[[], None] | None = None) -> None:
        self._build = build
        self._app = None
        self._before = before

    @property
    def built(self) -> bool:
        return self._app is not None

    @property
    def application(self):
        if self._app is None:
            self._app = self._build()
            self._build = None
        return self._app

    def receive(self, message: bytes) -> None:
        app = self.application
        if self._before is not None:
            self._before()
        app.receive(message)

    def __getattr__(self, name: str):
        return getattr(self.application, name)


def install_device_logic(estate, keystore: KeyStore | None, seed: int, *, hub_keys: bool = False) -> None:
    """Give every home of C{estate} (before it starts) the GBCS logic of its devices.

    C{keystore}: where the devices take their keys and remote parties from (C{None}: seeded
    keys, an empty store).  With C{hub_keys}, a home whose CH names a key store (C{gbcs_keys})
    takes that one instead; each directory is read once per estate.
    """
    default = keystore if keystore is not None else KeyStore()
    stores: dict[str, KeyStore] = {}
    for home in estate.homes:
        store = default
        if hub_keys:
            path = next((d.params.get("gbcs_keys") for d in home.spec.devices if d.kind == "CH"), None)
            if path:
                store = stores.get(path)
                if store is None:
                    store = stores[path] = KeyStore(path)
        home.gbcs_application_factory = (
            lambda device, send, home=home, store=store:
            LazyApplication(lambda: _application(home, device, send, store, seed), _sync_of(device)))


def _sync_of(device) -> Callable[[], None] | None:
    """What brings the device's registers up to now before a command: its register bank's."""
    registers = getattr(device, "registers", None)
    return getattr(registers, "sync", None) if registers is not None else None


def _application(home, device, send, keystore: KeyStore, seed: int):
    spec = device.spec
    rng = derive_rng(seed, home.spec.name, spec.name, "gbcs")
    if spec.kind == "CH":
        chf = provision(Chf, spec.eui64, keystore, home.clock, send, rng=rng)
        chf.adopt_device_log(device.device_log, device.extended_pan_id)     # one log: the trust centre's
        gpf = None
        if spec.gpf_eui64 is not None:
            gpf = provision(Gpf, spec.gpf_eui64, keystore, home.clock, send,
                            rng=derive_rng(seed, home.spec.name, spec.name, "gpf", "gbcs"))
        return HubApplication(chf, gpf, (lambda: _mirror_to_gpf(device, gpf)) if gpf is not None else None)
    cls = DEVICE_CLASSES.get(spec.kind)
    if cls is None:
        return SilentApplication(send)
    logic = provision(cls, spec.eui64, keystore, home.clock, send, rng=rng)
    registers = getattr(device, "registers", None)
    if registers is not None:
        registers.attach(logic)
    if spec.kind == "ESME" and registers is not None:   # load limiting follows the household's demand,
        follow_load(logic, lambda t: _demand(registers, t), home.clock)   # read through the one register bank
    return logic


def _demand(registers, t: float) -> float:
    """The ESME's instantaneous demand (W) at C{t}, from its register bank (which alone reads
    the household load model: the model only runs forward)."""
    registers.advance(t)
    return registers.power_w


def dcc_keys_path(topology) -> str | None:
    """The key store directory the topology's C{dcc:} section names (C{dcc.keys}), if any.

    Resolved against the topology file's directory, as L{emulator.dcc.config} does; the
    section itself is checked by L{emulator.dcc.config.load_dcc_config} (with C{--duis-port}).
    """
    import os

    section = topology.dcc
    keys = section.get("keys") if isinstance(section, dict) else None
    if not isinstance(keys, str):
        return None
    path = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(topology.filename)), keys))
    return path if os.path.isdir(path) else None


def install_run_device_logic(estate, topology, seed: int) -> None:
    """The device logic of a run without the DCC beside it: each home's CH key store
    (C{gbcs_keys}) when it names one, else the topology's C{dcc.keys}, else seeded keys."""
    path = dcc_keys_path(topology)
    install_device_logic(estate, KeyStore(path) if path is not None else None, seed, hub_keys=True)


def _mirror_to_gpf(hub, gpf) -> None:
    """The GPF's GBZ view of the gas meter is what the GSME last reported to its mirror."""
    from emulator.devices.registers import METERING_SUMMATION
    for endpoint in sorted(hub.mirrors.values()):
        server = hub.servers.get((endpoint, METERING_SUMMATION[0]))
        if server is not None and METERING_SUMMATION[1] in server.values:
            gpf.zcl.attributes[METERING_SUMMATION] = server.values[METERING_SUMMATION[1]]
            return
