"""The HCALCS (HAN-connected auxiliary load control switch) as a HAN device, and the ESME's
side that drives it.

HCALCS: a mains-powered switch (a ZigBee router) that joins, runs CBKE with the CH, serves the
ZCL On/Off cluster (0x0006) on endpoint 1 and hosts its GBCS application (the HCALCS use cases
the CHF routes to it, e.g. CS08 firmware version) on its GB-HRGP tunnel client.  It takes On /
Off / Toggle only from the home's ESME (the APS-secured source EUI-64); anyone else gets a
NOT_AUTHORIZED default response.

ESME side (L{HcalcsDriver}): the ESME's GBCS logic keeps its auxiliary controllers' state
(L{emulator.devices.gbcs.auxload}, switched by ECS47 / ECS47a); whenever controller n
changes, the ESME sends On (level > 0) or Off to the HCALCS controller n drives: the EUI-64 in
the controller's device id object 0-0:94.44.0.(20 + n), or else the home's HCALCS whose
topology says C{controller: n} (default 1).  A command that is not acknowledged (the HCALCS
not joined yet, out of range) is sent again every L{HcalcsDriver.RETRY} s until the
HCALCS's switch matches the controller.
"""

from __future__ import annotations

from emulator.devices.base import CLUSTER_BASIC, CLUSTER_TIME, DIRECTION_CLIENT_TO_SERVER, PROFILE_SE, HanDevice
from emulator.devices.meters import METER_ENDPOINT
from emulator.devices.tunnel import TUNNELING_CLUSTER_ID, TunnelClientHost
from protocols.zcl import foundation as zf
from protocols.zcl.server import default_response
from protocols.zigbee.zdo import SimpleDescriptor

__all__ = ["Hcalcs", "HcalcsDriver", "CLUSTER_ON_OFF", "drive_hcalcs"]

CLUSTER_ON_OFF = 0x0006
CMD_OFF, CMD_ON, CMD_TOGGLE = 0x00, 0x01, 0x02
ATTR_ON_OFF = 0x0000
#: ZigBee HA Load Control Device (the nearest device id the ZCL gives a load switch)
DEVICE_ID_LOAD_CONTROL = 0x0008
HCALCS_ENDPOINT = 0x01


class Hcalcs(HanDevice):
    """HAN-connected Auxiliary Load Control Switch (see the module docstring)."""

    kind = "HCALCS"
    role = "router"
    rx_on_when_idle = True
    device_id = DEVICE_ID_LOAD_CONTROL
    model = "emulated HCALCS"

    def __init__(self, home, spec, seed) -> None:
        super().__init__(home, spec, seed)
        self.controller = int(spec.params.get("controller", 1))
        self.esme_eui = next((d.eui64 for d in home.spec.devices if d.kind == "ESME"), None)
        self.switch_changes = 0
        self.commands_refused = 0
        self.tunnel: TunnelClientHost | None = None

    @property
    def on(self) -> bool:
        server = self.servers.get((HCALCS_ENDPOINT, CLUSTER_ON_OFF))
        return bool(server is not None and server.values.get(ATTR_ON_OFF))

    def endpoint_descriptors(self) -> list[SimpleDescriptor]:
        return [SimpleDescriptor(HCALCS_ENDPOINT, PROFILE_SE, self.device_id, 0, (CLUSTER_BASIC, CLUSTER_ON_OFF),
                                 (CLUSTER_TIME, TUNNELING_CLUSTER_ID))]

    def start(self) -> None:
        self.tunnel = TunnelClientHost(self, HCALCS_ENDPOINT, keep_open=True)
        self.add_server(HCALCS_ENDPOINT, CLUSTER_BASIC, self.basic_values(power_source=1))
        self.add_server(HCALCS_ENDPOINT, CLUSTER_ON_OFF, {"OnOff": False})
        self.cluster_handlers[(HCALCS_ENDPOINT, CLUSTER_ON_OFF)] = self._on_off_command
        super().start()

    def joined(self) -> None:
        self.read_attributes(0x0000, 0x01, HCALCS_ENDPOINT, CLUSTER_TIME, (0x0000, 0x0001), lambda v: None)
        self.tunnel.start()

    def _on_off_command(self, ind, frame) -> None:
        if frame.direction != DIRECTION_CLIENT_TO_SERVER:
            self._count("zcl_unexpected_direction")
            return
        if not ind.aps_secured or ind.src_eui is None or ind.src_eui != self.esme_eui:
            self.commands_refused += 1
            self._count("on_off_not_from_esme")
            if not frame.disable_default_response:
                self.reply(ind, default_response(frame, zf.Status.NOT_AUTHORIZED))
            return
        values = self.servers[(HCALCS_ENDPOINT, CLUSTER_ON_OFF)].values
        if frame.command_id in (CMD_OFF, CMD_ON, CMD_TOGGLE):
            new = {CMD_OFF: False, CMD_ON: True, CMD_TOGGLE: not values[ATTR_ON_OFF]}[frame.command_id]
            if new != values[ATTR_ON_OFF]:
                values[ATTR_ON_OFF] = new
                self.switch_changes += 1
            status = zf.Status.SUCCESS
        else:
            status = zf.Status.UNSUP_CLUSTER_COMMAND
        if not frame.disable_default_response:
            self.reply(ind, default_response(frame, status))

    def describe(self) -> str:
        return (f"auxiliary load {'on' if self.on else 'off'} (controller {self.controller}), switched "
                f"{self.switch_changes} times, commands refused {self.commands_refused}"
                + (f"; {self.tunnel.describe()}" if self.tunnel is not None else ""))


class HcalcsDriver:
    """The ESME's side: follows its GBCS auxiliary controllers and switches the HCALCSs.

    @param esme: the ESME node (L{emulator.devices.meters.Esme}) whose GBCS application has
        L{emulator.devices.gbcs.auxload.AuxiliaryControllers} as C{aux}.
    """

    RETRY = 30.0

    def __init__(self, esme, aux) -> None:
        self.esme = esme
        self.aux = aux
        self.sent = 0
        self.acknowledged = 0
        self._retry: dict[int, object] = {}
        self._in_flight: set[int] = set()
        self._switched: dict[int, bool] = {}     # controller -> the state the HCALCS acknowledged
        aux.listeners.append(self.changed)

    def target(self, n: int) -> int | None:
        """The EUI-64 of the HCALCS controller n drives, if it has one."""
        eui = self.aux.device_eui(n)
        if eui:
            return eui
        return next((d.eui64 for d in self.esme.home.spec.devices
                     if d.kind == "HCALCS" and int(d.params.get("controller", 1)) == n), None)

    def changed(self, n: int, level: int) -> None:
        self._send(n)

    def _send(self, n: int) -> None:
        call = self._retry.pop(n, None)
        if call is not None and call.active():
            call.cancel()
        want = self.aux.level(n) > 0
        eui = self.target(n)
        if eui is None or self._switched.get(n, False) == want and n not in self._in_flight:
            return
        esme = self.esme
        short = esme.stack.short_of(eui) if esme.stack is not None and esme.stack.joined else None
        if short is None:
            esme._count("hcalcs_unreachable")
            self._schedule_retry(n)
            return
        frame = esme.cluster_command(CLUSTER_ON_OFF, DIRECTION_CLIENT_TO_SERVER, "On" if want else "Off")
        self.sent += 1
        self._in_flight.add(n)

        def done(ind, rsp) -> None:
            self._in_flight.discard(n)
            ok = rsp is not None and rsp.command_id == 0x0B and len(rsp.payload) >= 2 and rsp.payload[1] == 0
            if ok:
                self.acknowledged += 1
                self._switched[n] = want
            if not ok or (self.aux.level(n) > 0) != want:
                self._schedule_retry(n)

        esme.request(short, HCALCS_ENDPOINT, METER_ENDPOINT, CLUSTER_ON_OFF, frame, done)

    def _schedule_retry(self, n: int) -> None:
        call = self._retry.get(n)
        if call is None or not call.active():
            self._retry[n] = self.esme.clock.callLater(self.RETRY, self._send, n)


def drive_hcalcs(esme) -> HcalcsDriver | None:
    """Attach a L{HcalcsDriver} to a powered-on ESME whose GBCS logic has auxiliary
    controllers, in a home with an HCALCS."""
    if not any(d.kind == "HCALCS" for d in esme.home.spec.devices):
        return None
    application = getattr(getattr(esme, "tunnel", None), "application", None)
    aux = getattr(application, "aux", None)
    if aux is None:
        return None
    driver = esme.hcalcs_driver = HcalcsDriver(esme, aux)
    return driver
