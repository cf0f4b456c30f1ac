"""The ZigBee PRO stack of one node: a thin facade over its layers and machines.

The parts, each in its own module with a narrow interface, sharing one L{Nib}:

 - L{protocols.zigbee.nwk_layer}: NWK data service, NWK security, broadcasts, polling;
 - L{protocols.zigbee.aps_layer}: APS data service, APS security, acks, fragmentation;
 - L{protocols.zigbee.zdo_layer}: the ZDP server and client on endpoint 0;
 - L{protocols.zigbee.joiner}: the join machine (scan, associate, wait for the key);
 - L{protocols.zigbee.trust_center}: the coordinator's trust centre, one machine per joiner;
 - L{protocols.zigbee.key_request}: one application-link-key request machine per partner;
 - L{protocols.zigbee.housekeeping}: Link Status, End Device Timeout.

This module wires them to the MAC (it is the MAC's user: C{mcps_*} / C{mlme_*}) and to the
device above (L{StackUser}), and handles the APS commands that concern keys (APSME, 4.4.9).
The API the devices use is L{ZigbeeStack}: C{attach_mac}, C{add_endpoint}, C{send_data},
C{zdo_send}, C{request_link_key}, C{form_network}, C{join}, C{start_polling} /
C{stop_polling}, C{eui_of} / C{short_of}.

Sans-IO in the sense of DESIGN.md: time comes from the injected clock (C{IReactorTime}),
randomness from the injected C{random.Random}, frames go to the injected MAC; nothing
raises out of the receive path (every malformed or unverifiable frame is counted with a
reason and dropped).
"""

from __future__ import annotations

import random
from typing import Any, Callable, Protocol

from protocols.zigbee import aps as _aps
from protocols.zigbee import nwk as _nwk
from protocols.zigbee import zdo as _zdo
from protocols.zigbee.aps_layer import (APS_ACK_WAIT, APS_ACK_WAIT_SLEEPY, APSC_MAX_FRAME_RETRIES, MAX_APS_BLOCK,
                                        PROFILE_SE, ApsIndication, ApsLayer)
from protocols.zigbee.housekeeping import Housekeeping
from protocols.zigbee.joiner import JOIN_KEY_TIMEOUT, NWK_SCAN_ATTEMPTS, SCAN_DURATION, make_joiner
from protocols.zigbee.key_request import make_link_key_request
from protocols.zigbee.limits import DEFAULT_LIMITS, HanLimits
from protocols.zigbee.nib import ROLE_COORDINATOR, ROLE_END_DEVICE, ROLE_ROUTER, TC_SHORT, Neighbor, Nib
from protocols.zigbee.nwk_layer import BTT_TIMEOUT, NWK_MAX_BROADCAST_JITTER, NwkLayer
from protocols.zigbee.security import KEY_ID_DATA, KEY_ID_KEY_TRANSPORT, KEY_ID_NETWORK
from protocols.zigbee.trust_center import TC_ANNOUNCE_TIMEOUT, TrustCenter
from protocols.zigbee.zdo_layer import ZdoLayer

__all__ = [
    "ZigbeeStack", "StackUser", "ApsIndication", "ROLE_COORDINATOR", "ROLE_ROUTER", "ROLE_END_DEVICE", "TC_SHORT",
    "MAX_APS_BLOCK", "APSC_MAX_FRAME_RETRIES", "APS_ACK_WAIT", "APS_ACK_WAIT_SLEEPY", "NWK_MAX_BROADCAST_JITTER",
    "BTT_TIMEOUT", "NWK_SCAN_ATTEMPTS", "SCAN_DURATION", "JOIN_KEY_TIMEOUT", "TC_ANNOUNCE_TIMEOUT", "PROFILE_SE",
]

_NETWORK_KEY_TYPES = (_aps.KEY_TYPE_STANDARD_NETWORK, _aps.KEY_TYPE_HIGH_SECURITY_NETWORK)


class StackUser(Protocol):
    """What the application (device) above a L{ZigbeeStack} provides."""

    def stack_joined(self) -> None: ...
    def stack_join_failed(self, reason: str) -> None: ...
    def aps_data_indication(self, ind: ApsIndication) -> None: ...


class ZigbeeStack:
    """NWK + APS + ZDO + joiner / trust centre of one node.  See the module docstring.

    @param role: L{ROLE_COORDINATOR} (the CH: trust centre too), L{ROLE_ROUTER} or
        L{ROLE_END_DEVICE}.
    @param count: C{count(reason)} for every dropped frame / notable event.
    @param key_sink: C{key_sink(key, label)} for every key that Wireshark should know.
    """

    def __init__(self, clock, rng: random.Random, eui64: int, *, role: str, rx_on_when_idle: bool,
                 user: StackUser, manufacturer_code: int = 0x1234,
                 count: Callable[[str], None] | None = None,
                 key_sink: Callable[[bytes, str], None] | None = None,
                 limits: HanLimits = DEFAULT_LIMITS) -> None:
        self.nib = nib = Nib(clock, rng, eui64, role=role, rx_on_when_idle=rx_on_when_idle,
                             manufacturer_code=manufacturer_code, count=count, key_sink=key_sink, limits=limits)
        self.clock = clock
        self.user = user
        self.nwk = NwkLayer(nib, self._nwk_data)
        self.housekeeping = Housekeeping(nib, self.nwk, self._nwk_command)
        self.nwk.on_command = self.housekeeping.on_command
        self.aps = ApsLayer(nib, self.nwk, on_command=self._aps_command, on_zdp=self._zdo_receive,
                            request_link_key=self.request_link_key, joining_key=self._joining_key)
        self.zdo = ZdoLayer(nib, self.aps, on_announce=self._announced)
        self.trust_center: TrustCenter | None = None
        self._joiner = make_joiner(clock, self, sleepy=not rx_on_when_idle, count=nib.count)
        self._preconfigured: bytes | None = None
        self._authenticating = False
        self._key_requests: dict[int, Any] = {}
        #: the trust centre's node descriptor, asked for after joining (Node_Desc_req)
        self.tc_node_descriptor: _zdo.NodeDescriptor | None = None

    # ---------------------------------------------------------------- wiring / state

    def attach_mac(self, mac) -> None:
        """Give the stack its MAC (constructed with this stack as its user)."""
        self.nib.mac = mac

    @property
    def mac(self):
        return self.nib.mac

    @property
    def eui64(self) -> int:
        return self.nib.eui64

    @property
    def role(self) -> str:
        return self.nib.role

    @property
    def rx_on_when_idle(self) -> bool:
        return self.nib.rx_on_when_idle

    @property
    def short(self) -> int | None:
        return self.nib.short

    @property
    def pan_id(self) -> int | None:
        return self.nib.pan_id

    @property
    def parent(self) -> int | None:
        return self.nib.parent

    @property
    def network_key(self) -> bytes | None:
        return self.nib.network_key

    @property
    def key_seq(self) -> int:
        return self.nib.key_seq

    @property
    def joined(self) -> bool:
        return self.nib.joined

    @property
    def tc_eui(self) -> int | None:
        return self.nib.tc_eui

    @property
    def link_keys(self) -> dict[int, bytes]:
        return self.nib.link_keys

    @property
    def counters(self):
        return self.nib.counters

    @property
    def neighbors(self) -> dict[int, Neighbor]:
        return self.nib.neighbors

    @property
    def endpoints(self):
        return self.aps.endpoints

    @property
    def is_tc(self) -> bool:
        return self.nib.is_tc

    def capability(self) -> int:
        """MAC capability information of this node (association request)."""
        return self.nib.capability()

    def add_endpoint(self, descriptor: _zdo.SimpleDescriptor, handler: Callable[[ApsIndication], None]) -> None:
        """Register an application endpoint and its ASDU handler."""
        self.aps.add_endpoint(descriptor, handler)

    def eui_of(self, short: int) -> int | None:
        """EUI-64 of a short address, if known."""
        return self.nib.eui_of(short)

    def short_of(self, eui: int) -> int | None:
        """Short address of an EUI-64, if known."""
        return self.nib.short_of(eui)

    # ---------------------------------------------------------------- data services

    def send_data(self, dst_short: int, dst_endpoint: int, src_endpoint: int, cluster: int, payload: bytes, *,
                  profile: int = PROFILE_SE, ack: bool = True, aps_security: bool = True,
                  on_done: Callable[[bool], None] | None = None) -> None:
        """Send an ASDU (see L{ApsLayer.send_data})."""
        self.aps.send_data(dst_short, dst_endpoint, src_endpoint, cluster, payload, profile=profile, ack=ack,
                           aps_security=aps_security, on_done=on_done)

    def zdo_send(self, dst_short: int, message, on_response: Callable[[Any], None] | None = None,
                 timeout: float = 5.0) -> None:
        """Send a ZDP request or announcement (see L{ZdoLayer.send})."""
        self.zdo.send(dst_short, message, on_response, timeout)

    def start_polling(self, interval: float) -> None:
        """Poll the parent every C{interval} s (an awake sleepy device)."""
        self.nwk.start_polling(interval)

    def stop_polling(self) -> None:
        self.nwk.stop_polling()

    # ---------------------------------------------------------------- trust centre

    def form_network(self, pan_id: int, network_key: bytes, *, authorize: Callable[[int], bytes | None],
                     on_device_joined: Callable[[int, int, str], None], beacon_payload: bytes,
                     key_seq: int = 0, link_key_established: Callable[[int], bool] | None = None) -> None:
        """Start as coordinator and trust centre of a new PAN.

        @param authorize: C{authorize(eui) -> install-code link key or None}: the CHF device
            log lookup; C{None} refuses the association (PAN access denied).
        @param on_device_joined: C{(eui, short, outcome)} with outcome C{"joined"},
            C{"denied"} or C{"no_announce"}.
        @param link_key_established: C{(eui) -> bool}: whether the device's TC link key is
            final (SE: made by key establishment); application link keys only go to and for
            devices for which it is true (default: every device).
        """
        nib = self.nib
        nib.short = TC_SHORT
        nib.pan_id = pan_id
        nib.set_network_key(network_key, key_seq)
        nib.tc_eui = nib.eui64
        nib.joined = True
        self.trust_center = tc = TrustCenter(nib, self.aps.send_command, authorize=authorize,
                                             on_device_joined=on_device_joined,
                                             link_key_established=link_key_established,
                                             probe=self._probe_child, child_timeout=self.housekeeping.child_timeout,
                                             child_gone=self.housekeeping.forget_child)
        self.aps.authenticated = tc.authenticated
        nib.mac.set_association_permit(True)
        nib.mac.mlme_start(pan_id, TC_SHORT, beacon_payload)
        self.housekeeping.start()

    def mlme_associate_indication(self, ext_addr: int, capability: int) -> tuple[int, int]:
        """MAC asks whether C{ext_addr} may associate (we are the coordinator)."""
        if self.trust_center is None:
            return 0xFFFF, 2
        return self.trust_center.associate_indication(ext_addr, capability)

    def mlme_comm_status(self, ext_addr: int, status: int, *args: Any) -> None:
        """The indirect Association Response reached the joiner (status 0) or expired."""
        if self.trust_center is not None:
            self.trust_center.comm_status(ext_addr, status)

    def _announced(self, short: int, ieee: int) -> None:
        if self.trust_center is not None:
            self.trust_center.announced(short, ieee)

    # ---------------------------------------------------------------- joining (JoinerLower)

    def set_trust_center_link_key(self, key: bytes) -> None:
        """The preconfigured TC link key (SE: derived from the install code)."""
        self._preconfigured = key

    def join(self) -> None:
        """Scan, associate, wait for the network key, announce (the device retries on failure)."""
        if self.nib.joined:
            return
        self._joiner.start()

    def leave_network(self) -> None:
        """Leave the network (NWK Leave without rejoin; a later L{join} starts afresh)."""
        self._joiner.leave()

    def rejoin(self) -> None:
        """Leave with rejoin, then rejoin with the network key held (secured rejoin)."""
        self._joiner.rejoin()

    def send_leave(self, rejoin: bool) -> None:
        self.nwk.send(_nwk.BROADCAST_RX_ON_WHEN_IDLE, _nwk.encode_nwk_command(_nwk.Leave(rejoin=rejoin)),
                      frame_type=_nwk.NWK_FRAME_COMMAND, radius=1)

    def send_rejoin_request(self) -> None:
        nib = self.nib
        self.nwk.send(nib.parent if nib.parent is not None else TC_SHORT,
                      _nwk.encode_nwk_command(_nwk.RejoinRequest(nib.capability())),
                      frame_type=_nwk.NWK_FRAME_COMMAND, radius=1)

    def rejoined_as(self, short: int) -> None:
        self.nib.short = short
        self.nib.mac.set_short_address(short)

    def scan(self, duration: float) -> None:
        self.nib.mac.mlme_scan_request(duration)

    def associate(self, pan_id: int, coord_address: int) -> None:
        self.nib.pan_id = pan_id
        self.nib.mac.mlme_associate_request(coord_address, pan_id, self.nib.capability())

    def associated_as(self, short: int, parent: int) -> None:
        self.nib.short = short
        self.nib.parent = parent
        self._authenticating = True

    def install_network_key(self, key: bytes, key_seq: int, tc_eui: int) -> None:
        nib = self.nib
        self._authenticating = False
        nib.set_network_key(key, key_seq)
        nib.tc_eui = tc_eui
        nib.set_link_key(tc_eui, self._preconfigured)
        nib.addresses.set(TC_SHORT, tc_eui)
        nib.neighbors[TC_SHORT] = Neighbor(tc_eui, TC_SHORT, True, False)
        nib.joined = True

    def announce(self) -> None:
        nib = self.nib
        self.zdo.send(_nwk.BROADCAST_RX_ON_WHEN_IDLE, _zdo.DeviceAnnce(nib.short, nib.eui64, nib.capability()))

    def forget_network(self) -> None:
        nib = self.nib
        self.housekeeping.stop()
        self._authenticating = False
        nib.joined = False
        nib.short = None
        nib.pan_id = None
        nib.mac.set_short_address(0xFFFF)

    def join_complete(self) -> None:
        # what a joined ZigBee PRO device does next: learn the trust centre's node descriptor,
        # start its own housekeeping (Link Status, or End Device Timeout to its parent)
        self.zdo.send(TC_SHORT, _zdo.NodeDescReq(TC_SHORT), self._tc_node_desc)
        self.housekeeping.start()
        self.user.stack_joined()

    def _tc_node_desc(self, rsp) -> None:
        if rsp is None or rsp.status != 0 or rsp.descriptor is None:
            self.nib.count("tc_node_desc_failed")
            return
        self.tc_node_descriptor = rsp.descriptor

    def join_failed(self, reason: str) -> None:
        self.user.stack_join_failed(reason)

    def _joining_key(self) -> bytes | None:
        return self._preconfigured if self._authenticating else None

    # MAC confirmations of the join
    def mlme_scan_confirm(self, pan_descriptors) -> None:
        for desc in pan_descriptors:
            if desc.superframe.association_permit and desc.zigbee is not None:
                self._joiner.pan_found(desc.coord_pan_id, desc.coord_address)
                return
        self._joiner.no_pan()

    def mlme_associate_confirm(self, short: int, status: int) -> None:
        if status != 0:
            self._joiner.association_failed("denied" if status == 2 else "association_failed")
        else:
            self._joiner.associated(short)

    def mlme_poll_confirm(self, status: int, *args: Any) -> None:
        pass

    # ---------------------------------------------------------------- MAC data (to the NWK layer)

    def mcps_data_indication(self, frame) -> None:
        """A MAC data frame for us (or broadcast): NWK processing.  Never raises."""
        self.nwk.mcps_data_indication(frame)

    def mcps_data_confirm(self, handle, status, *args: Any) -> None:
        self.nwk.mcps_data_confirm(handle, status)

    def _nwk_command(self, frame, cmd, broadcast: bool) -> None:
        """NWK commands of joining and leaving (3.4.4, 3.4.6, 3.4.7; 3.6.1.4.2 secured rejoin)."""
        nib = self.nib
        if isinstance(cmd, _nwk.RejoinRequest):
            if self.trust_center is None or broadcast:
                nib.count("rejoin_request_ignored")
                return
            self.trust_center.rejoin_request(frame.src, frame.src_ieee, cmd.capability,
                                             lambda short, status: self.nwk.send(
                                                 short, _nwk.encode_nwk_command(_nwk.RejoinResponse(short, status)),
                                                 frame_type=_nwk.NWK_FRAME_COMMAND, radius=1))
            return
        if isinstance(cmd, _nwk.RejoinResponse):
            if frame.src != nib.parent or broadcast:
                nib.count("rejoin_response_not_from_parent")
            elif cmd.status != 0:
                nib.count("rejoin_refused")
            else:
                self._joiner.rejoined(cmd.network_address)
            return
        if isinstance(cmd, _nwk.Leave):
            # (a router neighbour's Leave: housekeeping; a child's: the trust centre)
            if self.trust_center is not None:
                self.trust_center.left(frame.src, cmd.rejoin)
            return
        nib.count("nwk_command_ignored")

    def _probe_child(self, short: int, on_answer: Callable[[int | None], None]) -> None:
        """Ask the child at C{short} for its EUI-64 (IEEE_addr_req); C{on_answer(eui or None)}."""
        self.zdo.send(short, _zdo.IeeeAddrReq(short),
                      lambda rsp: on_answer(rsp.ieee if isinstance(rsp, _zdo.IeeeAddrRsp) and rsp.status == 0
                                            else None))

    def _nwk_data(self, frame, broadcast: bool, origin=None) -> None:
        self.aps.deliver(frame, broadcast, origin)
        if self.trust_center is not None and frame.security:
            eui = self.nib.eui_of(frame.src)
            if eui is not None:
                self.trust_center.heard(eui)

    def update_network_key(self, key: bytes) -> int:
        """Trust centre: distribute C{key} and switch to it (4.6.3.4); its key sequence number."""
        if self.trust_center is None:
            raise RuntimeError("only the trust centre updates the network key")
        return self.trust_center.update_network_key(key)

    def _zdo_receive(self, ind: ApsIndication) -> None:
        self.zdo.receive(ind)

    # ---------------------------------------------------------------- link keys (KeyRequestLower)

    def request_link_key(self, partner_eui: int, on_done: Callable[[bool], None]) -> None:
        """Ask the trust centre for an application link key shared with C{partner_eui}."""
        if self.nib.tc_eui is None:
            on_done(False)
            return
        machine = self._key_requests.get(partner_eui)
        if machine is None:
            machine = self._key_requests[partner_eui] = make_link_key_request(self.clock, self, partner_eui)
        machine.request(on_done)

    def install_link_key(self, peer_eui: int, key: bytes) -> None:
        """Replace the link key shared with C{peer_eui} (on a device, the TC link key with the
        trust centre's EUI-64; on the trust centre, the joiner's): the SE key establishment
        (CBKE) result takes over from the install-code key.  Frame counters start afresh."""
        self.nib.set_link_key(peer_eui, key)

    def send_request_key(self, cmd: _aps.RequestKey) -> None:
        self.aps.send_command(TC_SHORT, self.nib.tc_eui, cmd)

    def count(self, reason: str) -> None:
        self.nib.count(reason)

    # ---------------------------------------------------------------- APS commands (APSME)

    def _aps_command(self, src_short: int, src_eui: int | None, frame, aux) -> None:
        nib = self.nib
        cmd = _aps.decode_aps_command(frame.payload)
        if isinstance(cmd, _aps.TransportKey):
            if aux is None or aux.key_id not in (KEY_ID_KEY_TRANSPORT, KEY_ID_DATA):
                nib.count("transport_key_rejected")
                return
            if cmd.key_type in _NETWORK_KEY_TYPES:
                if cmd.dst_ieee not in (None, nib.eui64):
                    return
                if nib.joined:
                    # a network key update (4.6.3.4; NWK-secured, as everything a joined node
                    # accepts): keep the new key until the Switch Key
                    if src_eui != nib.tc_eui:
                        nib.count("transport_key_not_from_tc")
                        return
                    nib.add_network_key(cmd.key, cmd.key_seq or 0)
                    return
                self._joiner.network_key(cmd.key, cmd.key_seq or 0,
                                         cmd.src_ieee if cmd.src_ieee is not None else src_eui)
            elif cmd.key_type == _aps.KEY_TYPE_APP_LINK and cmd.partner_ieee is not None:
                if src_eui != nib.tc_eui:
                    nib.count("transport_key_not_from_tc")
                    return
                nib.set_link_key(cmd.partner_ieee, cmd.key)
                machine = self._key_requests.get(cmd.partner_ieee)
                if machine is not None:
                    machine.key_arrived()
            elif cmd.key_type == _aps.KEY_TYPE_TC_LINK:
                if src_eui == nib.tc_eui:
                    nib.set_link_key(nib.tc_eui, cmd.key)
            return
        # the sender is authenticated only under a link key (key id 1 is the network key,
        # which every node holds: its auxiliary-header source is a claim)
        link_key_secured = aux is not None and aux.key_id != KEY_ID_NETWORK and src_eui in nib.link_keys
        if isinstance(cmd, _aps.SwitchKey):
            if src_eui != nib.tc_eui or self.trust_center is not None or not link_key_secured:
                nib.count("switch_key_not_from_tc")
            elif not nib.switch_network_key(cmd.key_seq):
                nib.count("switch_key_unknown_key")
            return
        if isinstance(cmd, _aps.RequestKey) and self.trust_center is not None:
            # the trust centre answers the requester itself, under its own link key only
            if not link_key_secured or aux.key_id != KEY_ID_DATA:
                nib.count("request_key_not_link_key")
                return
            requester_short = nib.short_of(src_eui)
            if requester_short is None:
                nib.count("request_key_unknown_requester")
                return
            self.trust_center.request_key(requester_short, src_eui, cmd)
            return
        nib.count("aps_command_ignored")
