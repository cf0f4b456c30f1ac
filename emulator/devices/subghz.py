"""The dual-band CH's second radio: its 868 MHz HAN on a second radio medium.

A dual-band Communications Hub (topology C{dual_band: true} on the CH) runs one ZigBee
network -- one CHF, one NWK layer, one PAN id, network key and trust centre -- over two MAC
interfaces, as ZigBee's multi-MAC (R22) does: its 2.4 GHz MAC on the home's medium and a
second MAC on the home's sub-GHz medium (L{emulator.medium.PHY_868}).  Devices whose topology
says C{band: 868} attach their only radio to the sub-GHz medium and join the CH there; so
CBKE, the GB-HRGP tunnel, the Time server and every other CHF service is the same for them.

  - L{DualMac} stands in for the CH's MAC towards its ZigBee stack: each frame goes out on the
    interface its destination was last heard on (an association tells it first), broadcasts
    on both; everything either MAC hears goes up to the one stack.
  - L{DutyCycledPort} is the CH's radio on the sub-GHz medium: every frame the CH puts on the
    868 MHz air is first offered to the CHF's duty-cycle accounting
    (L{emulator.devices.gbcs.dualband.SubGhzRadio.transmit}, with the frame's real airtime on
    the sub-GHz PHY).  Over the limit (or at the regulated / critical level) the frame is not
    sent: it is discarded and counted, the MAC gets no Ack and fails the transmission, and the
    accounting raises the DBCH alerts (0x8F20.. levels) as that module does; a frame of a GBCS
    message the CHF is sending down the tunnel is reported once per message with the DBCH10
    alert 0x8F2C naming it (originator, recipient, CRA flag, counter).
  - Joining over the sub-GHz interface needs room in the CHF's sub-GHz device capacity
    (L{SubGhzRadio.admit}; alert 0x8F2D when full: the association is refused with "PAN at
    capacity").
  - A channel change of the CHF (DBCH05 scan, DBCH07) moves the sub-GHz medium to the new
    channel (L{SubGhzRadio.channel_listeners}).

Without the CHF's GBCS logic (a run with no C{dcc:} section) there is no duty-cycle
accounting to feed: frames go out unchecked and their airtime is still counted here
(L{DutyCycledPort.airtime_s}).  Device-to-device traffic between the bands (a 2.4 GHz
router unicasting straight to an 868 MHz device) is not relayed: put the devices that talk
to each other (an IHD or PPMID and the ESME it reads) on the same band.
"""

from __future__ import annotations

from typing import Any

from twisted.logger import Logger

from emulator.rng import derive_rng
from protocols.errors import CodecError
from protocols.gbcs.framing import decode_frame
from protocols.ieee802154.frames import ADDR_EXTENDED, BROADCAST_ADDRESS, FRAME_DATA, decode_mac
from protocols.ieee802154.mac import MacLayer

log = Logger(namespace="smets.device")

__all__ = ["DualMac", "DutyCycledPort", "attach_sub_ghz", "channel_of_mask", "BAND_868", "BAND_2400"]

BAND_2400, BAND_868 = 2400, 868
#: Association Response status "PAN at capacity" (IEEE 802.15.4-2006 7.3.2.3)
PAN_AT_CAPACITY = 0x01


def channel_of_mask(mask: int) -> tuple[int, int]:
    """(page, channel) of a 32-bit channel mask with one channel bit (e.g. E0000001 -> (28, 0))."""
    page, bits = mask >> 27, mask & 0x07FFFFFF
    if bits == 0 or bits & (bits - 1):
        raise ValueError(f"channel mask {mask:08X} does not name exactly one channel")
    return page, bits.bit_length() - 1


class DutyCycledPort:
    """The CH's radio port on the sub-GHz medium, gated by the CHF's duty-cycle accounting.

    @param port: the L{emulator.medium.RadioPort} on the sub-GHz medium.
    @param hub: the L{emulator.devices.hub.CommsHub} (its stack maps short addresses to
        EUI-64s; its GBCS application holds the CHF and its L{SubGhzRadio}).
    """

    def __init__(self, port, hub) -> None:
        self.port = port
        self.hub = hub
        self.medium = port.medium
        self.airtime_s = 0.0
        self.sent = 0
        self.discarded = 0
        #: device EUI-64 -> (originator, recipient, CRA flag, counter) of the GBCS message the
        #: CHF is sending it (named in the DBCH10 alert if its frames are discarded)
        self.messages: dict[int, tuple[int, int, int, int]] = {}
        self._reported: set[tuple[int, tuple[int, int, int, int]]] = set()

    def sending(self, eui: int, message: bytes) -> None:
        """The CHF starts sending a GBCS message to a device (L{ChfTunnelService.sending_observers})."""
        try:
            gs = decode_frame(message).signing
        except CodecError:
            return
        self.messages[eui] = (gs.originator, gs.recipient, gs.cra_flag, gs.originator_counter)

    @property
    def name(self) -> str:
        return self.port.name

    @property
    def ack_wait_duration(self) -> float:
        return self.port.ack_wait_duration

    def duty_cycle(self):
        """The CHF's L{SubGhzRadio} (C{None} when the hub has no GBCS logic)."""
        return sub_ghz_radio(self.hub)

    def transmit(self, psdu: bytes) -> float:
        airtime = self.medium.phy.airtime(len(psdu))
        radio = self.duty_cycle()
        if radio is not None:
            eui, essential = self._destination(psdu)
            message = self.messages.get(eui)
            if message is not None and (eui, message) in self._reported:
                message = None                  # its discard was alerted once already
            if not radio.transmit(self.hub.clock.seconds(), airtime, eui, essential=essential, message=message):
                # held back by duty-cycle management: nothing goes on the air, no Ack comes
                if message is not None:
                    self._reported.add((eui, message))
                self.discarded += 1
                self.hub._count("duty_cycle_discard")
                return airtime
        self.airtime_s += airtime
        self.sent += 1
        return self.port.transmit(psdu)

    def _destination(self, psdu: bytes) -> tuple[int, bool]:
        """(the destination's EUI-64 or 0, essential) of a frame the CH sends: MAC Acks,
        beacons and MAC commands (joining) are essential; data frames are not."""
        try:
            frame = decode_mac(psdu)
        except CodecError:
            return 0, True
        if frame.frame_type != FRAME_DATA:
            return 0, True
        dst = frame.dst_addr
        if dst is None or dst == BROADCAST_ADDRESS:
            return 0, False
        if frame.dst_mode == ADDR_EXTENDED:
            return dst, False
        return self.hub.stack.eui_of(dst) or 0, False

    def channel_busy(self) -> bool:
        return self.port.channel_busy()

    def channel_busy_since(self, t: float) -> bool:
        return self.port.channel_busy_since(t)

    def set_rx_enabled(self, on: bool) -> None:
        self.port.set_rx_enabled(on)

    def detach(self) -> None:
        self.port.detach()


def sub_ghz_radio(hub):
    """The CHF's L{emulator.devices.gbcs.dualband.SubGhzRadio}, if the hub carries GBCS logic."""
    application = getattr(getattr(hub, "chf_tunnel", None), "application", None)
    chf = getattr(application, "chf", None)
    return getattr(chf, "sub_ghz", None)


class _Interface:
    """The MAC user of one of the CH's MACs: remembers who was heard on it, passes all up."""

    def __init__(self, dual: "DualMac", mac_index: int) -> None:
        self.dual = dual
        self.index = mac_index

    def mcps_data_indication(self, frame) -> None:
        if frame.src_addr is not None:
            self.dual.heard(frame.src_addr, self.index)
        self.dual.stack.mcps_data_indication(frame)

    def mcps_data_confirm(self, handle, status, *args) -> None:
        self.dual.stack.mcps_data_confirm(handle, status, *args)

    def mlme_associate_indication(self, device_address: int, capability_information: int) -> tuple[int, int]:
        if self.index == 1 and not self.dual.admit(device_address):
            return 0xFFFF, PAN_AT_CAPACITY
        short, status = self.dual.stack.mlme_associate_indication(device_address, capability_information)
        if status == 0:
            self.dual.heard(device_address, self.index)
            self.dual.heard(short, self.index)
        return short, status

    def mlme_associate_confirm(self, short_address: int, status: int) -> None:
        self.dual.stack.mlme_associate_confirm(short_address, status)

    def mlme_scan_confirm(self, pan_descriptors) -> None:
        self.dual.stack.mlme_scan_confirm(pan_descriptors)

    def mlme_comm_status(self, device_address: int, status: int, *args) -> None:
        self.dual.stack.mlme_comm_status(device_address, status, *args)

    def mlme_poll_confirm(self, status: int, *args) -> None:
        self.dual.stack.mlme_poll_confirm(status, *args)


class DualMac:
    """One ZigBee stack over two MACs (index 0: 2.4 GHz, 1: sub-GHz).

    Offers the stack the MAC requests it makes (data, association permit, start, short
    address, scan, poll) and routes each to the interface of its destination.
    """

    def __init__(self, stack, primary: MacLayer, secondary: MacLayer, hub) -> None:
        self.stack = stack
        self.macs = (primary, secondary)
        self.hub = hub
        self.where: dict[int, int] = {}  # short address or EUI-64 -> interface index
        primary.user = _Interface(self, 0)
        secondary.user = _Interface(self, 1)

    def heard(self, address: int, index: int) -> None:
        self.where[address] = index

    def admit(self, eui: int) -> bool:
        radio = sub_ghz_radio(self.hub)
        return radio is None or radio.admit(eui)

    def band_of(self, address: int) -> int:
        """The band a neighbour was last heard on (2.4 GHz if never)."""
        return BAND_868 if self.where.get(address) == 1 else BAND_2400

    def mcps_data_request(self, dst_addr: int, payload: bytes, **kw: Any) -> None:
        if dst_addr == BROADCAST_ADDRESS:
            self.macs[0].mcps_data_request(dst_addr, payload, **kw)
            self.macs[1].mcps_data_request(dst_addr, payload, **kw)
            return
        self.macs[self.where.get(dst_addr, 0)].mcps_data_request(dst_addr, payload, **kw)

    def set_association_permit(self, permit: bool) -> None:
        for mac in self.macs:
            mac.set_association_permit(permit)

    def set_short_address(self, short: int) -> None:
        for mac in self.macs:
            mac.set_short_address(short)

    def set_pan_id(self, pan_id: int) -> None:
        for mac in self.macs:
            mac.set_pan_id(pan_id)

    def set_beacon_payload(self, payload: bytes) -> None:
        for mac in self.macs:
            mac.set_beacon_payload(payload)

    def mlme_start(self, pan_id: int, short_address: int, beacon_payload: bytes) -> None:
        for mac in self.macs:
            mac.mlme_start(pan_id, short_address, beacon_payload)

    def mlme_scan_request(self, duration_s: float) -> None:
        self.macs[0].mlme_scan_request(duration_s)

    def mlme_poll_request(self) -> None:
        self.macs[0].mlme_poll_request()

    def mlme_associate_request(self, coord_addr: int, pan_id: int, capability_information: int) -> None:
        self.macs[0].mlme_associate_request(coord_addr, pan_id, capability_information)


def attach_sub_ghz(hub, medium) -> DualMac:
    """Give a powered-on CH its second radio on the sub-GHz C{medium}.

    The CH has formed its network on its 2.4 GHz MAC; the second MAC starts the same PAN
    (PAN id, short address 0x0000, beacon payload, association permit) on the sub-GHz medium
    and the stack is moved onto a L{DualMac} over both.
    """
    primary = hub.mac
    home, spec = hub.home, hub.spec
    gated = _SubGhzReceiver(hub)
    port = medium.attach(spec.name, gated)
    radio = DutyCycledPort(port, hub)
    secondary = MacLayer(hub.clock, derive_rng(hub.seed, home.spec.name, spec.name, "mac", "868"), radio,
                         spec.eui64, None, rx_on_when_idle=True, pan_coordinator=True, counters=hub._count,
                         on_error=hub._frame_error)
    gated.mac = secondary
    dual = DualMac(hub.stack, primary, secondary, hub)
    secondary.set_association_permit(primary.association_permit)
    secondary.mlme_start(primary.pan_id, primary.short_address, primary.beacon_payload)
    hub.stack.attach_mac(dual)
    hub.sub_ghz_mac = secondary
    hub.sub_ghz_port = radio
    if getattr(hub, "chf_tunnel", None) is not None:
        hub.chf_tunnel.sending_observers.append(radio.sending)
    hub.dual_mac = dual
    follow_channel(hub, medium)
    return dual


class _SubGhzReceiver:
    """What the sub-GHz medium delivers to: the CH's second MAC."""

    def __init__(self, hub) -> None:
        self.hub = hub
        self.mac: MacLayer | None = None

    def frame_received(self, psdu: bytes) -> None:
        if self.mac is not None:
            self.mac.frame_received(psdu)


def follow_channel(hub, medium) -> None:
    """Keep the sub-GHz medium on the CHF's operating channel (0-0:94.44.10.2): now, and at
    each channel change the CHF makes (DBCH05 scan, DBCH07)."""
    radio = sub_ghz_radio(hub)
    if radio is None:
        return

    def moved(mask: int) -> None:
        page, channel = channel_of_mask(mask)
        if page != medium.phy.page or channel not in medium.phy.channels:
            hub._count("sub_ghz_channel_unusable")
            log.warn("{home}/{name}: sub-GHz channel mask {mask:08X} is not a {phy} channel; staying on {channel}",
                     home=hub.home.spec.name, name=hub.spec.name, mask=mask, phy=medium.phy.description,
                     channel=medium.channel)
            return
        medium.set_channel(channel)

    moved(radio.channel())
    radio.channel_listeners.append(moved)
