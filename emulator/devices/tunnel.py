"""GBCS on the HAN: the devices' GB-HRGP tunnel ends and the CHF's routing, hosted on the ZCL.

Thin adapters (STYLE.md 1) between a device's ZigBee stack and the sans-IO machines of
L{protocols.hrgp}:

  - L{TunnelClientHost} (ESME, GSME): finds the CH's Tunneling server with Match_Desc,
    runs a L{protocols.hrgp.client} machine, hands every GBCS message that arrives to the
    device's GBCS application and sends what the application answers (PUT);
  - L{ChfTunnelService} (CH): the Tunneling server and the CHF router; GBCS messages from
    the WAN side enter with L{ChfTunnelService.from_wan}, messages for the CHF or GPF go to
    the hub's own application, and everything going up (device responses and alerts, the
    CHF's alerts) is handed to the hub's WAN-side callable.

A device's GBCS application is any object with C{receive(message: bytes)}; it is built with
C{factory(device, send)} where C{send(message: bytes)} sends a message back up.  The home's
C{gbcs_application_factory} (when set) chooses it; otherwise L{SilentApplication}, which
accepts every message and answers nothing, is used.

Trust comes from keys: a tunnel command is accepted only when it was APS-secured with the
link key of the device it claims to come from (the CH for a device; a device of the CHF
device log for the CH).
"""

from __future__ import annotations

from collections import deque
from typing import Callable

from twisted.logger import Logger

from protocols.errors import CodecError
from protocols.gbcs.framing import CRA_NAMES, decode_frame
from protocols.hrgp.alerts import chf_alert
from protocols.hrgp.chf import DEFAULT_QUEUE_EXPIRY, DEFAULT_QUEUE_LIMIT, ChfRouter, QueuedMessage
from protocols.hrgp.client import TunnelClientCore, new_tunnel_client, tunnel_command_received
from protocols.hrgp.codec import HRGP_PUT, MAX_GBCS_MESSAGE, TransferData, from_zcl, to_zcl
from protocols.hrgp.gbt import Reassembler, is_block, split_message
from protocols.hrgp.server import DEFAULT_CLOSE_TUNNEL_TIMEOUT, TunnelServer
from protocols.zcl.frame import DIRECTION_CLIENT_TO_SERVER, DIRECTION_SERVER_TO_CLIENT, encode_zcl
from protocols.zcl.se.tunneling import TUNNELING_CLUSTER_ID
from protocols.zigbee.zdo import MatchDescReq

log = Logger(namespace="smets.gbcs")

__all__ = ["SilentApplication", "make_gbcs_application", "TunnelClientHost", "ChfTunnelService",
           "TUNNELING_CLUSTER_ID", "describe_message"]

PROFILE_SE = 0x0109


def describe_message(message: bytes) -> str:
    """C{message code 0x.... (cra) from X to Y} for logs (never key material)."""
    try:
        gs = decode_frame(message).signing
    except CodecError as e:
        return f"malformed GBCS message ({e})"
    return (f"message code 0x{gs.message_code:04X} ({CRA_NAMES.get(gs.cra_flag, '?')}) "
            f"from {gs.originator:016X} to {gs.recipient:016X}")


class SilentApplication:
    """The GBCS application of a device without one: accepts every message, answers nothing."""

    __slots__ = ("send", "received")

    def __init__(self, send: Callable[[bytes], None]) -> None:
        self.send = send
        self.received = 0

    def receive(self, message: bytes) -> None:
        self.received += 1


def make_gbcs_application(device, send: Callable[[bytes], None]):
    """The GBCS application of C{device}: the home's factory's, or a L{SilentApplication}."""
    factory = getattr(device.home, "gbcs_application_factory", None)
    return factory(device, send) if factory is not None else SilentApplication(send)


class TunnelClientHost:
    """A device's end of the GB-HRGP tunnel to the CH.

    @param device: the L{emulator.devices.base.HanDevice}.
    @param endpoint: the device's endpoint that holds the Tunneling client.
    @param keep_open: reopen the tunnel whenever it closes (a device whose receiver is on,
        so that the CHF can push to it); a sleepy device opens it when it wakes.
    @param begin_work / end_work: keep a sleepy device awake while tunnel work is pending.
    """

    GET_TIMEOUT = 60.0  # s to wait for the GET-RESPONSE to a GET (a 1,500-octet one takes ~28 polls)
    REOPEN_DELAY = 30.0  # s before reopening after a failure

    def __init__(self, device, endpoint: int, *, keep_open: bool,
                 begin_work: Callable[[], None] = lambda: None, end_work: Callable[[], None] = lambda: None) -> None:
        self.device = device
        self.endpoint = endpoint
        self.keep_open = keep_open
        self.begin_work = begin_work
        self.end_work = end_work
        self.server_endpoint: int | None = None
        # the CH's EUI-64: tunnel commands are taken only under the link key shared with it
        self.hub_eui = next((d.eui64 for d in device.home.spec.devices if d.kind == "CH"), None)
        self._discovering = False
        self._get_timer = None
        self._reopen = None
        self._unsent = None  # the command the machine sent before the server was found
        self.core = TunnelClientCore(device.clock, self._transmit, self, device._count)
        self.machine = new_tunnel_client(self.core)
        self.application = make_gbcs_application(device, self.send)
        self.received = 0
        self.sent = 0
        self._gbt = Reassembler()
        # a list, not a deque: empty almost always (an empty deque is 760 bytes, a list 56)
        self._blocks_out: list[bytes] = []
        device.cluster_handlers[(endpoint, TUNNELING_CLUSTER_ID)] = self.zcl_command

    # ------------------------------------------------------------------ device side

    def start(self) -> None:
        """The device joined: find the tunnel server, then open (if C{keep_open})."""
        self._discover()

    def send(self, message: bytes) -> None:
        """The application's answer (a response or alert): PUT it to the CHF (as GBT blocks when
        it is larger than one tunnel command carries)."""
        self.sent += 1
        if len(message) <= MAX_GBCS_MESSAGE:
            self.machine.put(message)
            return
        # one block at a time: the next goes when the last was delivered (APS transfers of
        # different sizes may overtake each other, and the CHF takes the blocks in order)
        blocks = split_message(message, MAX_GBCS_MESSAGE)
        if self._blocks_out:
            self._blocks_out.extend(blocks)
            return
        self._blocks_out.extend(blocks[1:])
        self.machine.put(blocks[0])

    def _block_sent(self, ok: bool) -> None:
        self._sent(ok)
        if not ok:                  # the message is lost (the CHF drops its partial blocks)
            self.device._count("gbt_block_lost")
            self._blocks_out.clear()
        elif self._blocks_out:
            self.machine.put(self._blocks_out.pop(0))

    def poll(self) -> None:
        """The sleepy device woke: GET what the CHF holds for it."""
        self._begin_get()
        if self.server_endpoint is None:
            self._discover()
            return
        self.machine.get()

    def _begin_get(self) -> None:
        if self._get_timer is None:
            self.begin_work()
        else:
            self._get_timer.cancel()
        self._get_timer = self.device.clock.callLater(self.GET_TIMEOUT, self._get_done, "get_timeout")

    def _get_done(self, reason: str | None = None) -> None:
        if self._get_timer is None:
            return
        if self._get_timer.active():
            self._get_timer.cancel()
        self._get_timer = None
        if reason:
            self.device._count(reason)
        self.end_work()

    def _discover(self) -> None:
        if self._discovering:
            return
        self._discovering = True
        self.device.stack.zdo_send(0x0000, MatchDescReq(0x0000, PROFILE_SE, (TUNNELING_CLUSTER_ID,), ()),
                                   self._matched)

    def _matched(self, rsp) -> None:
        if rsp is None:
            self._discovering = False
            if self.server_endpoint is None:
                self.device._count("tunnel_server_not_found")
                self._get_done()
                self._schedule_reopen()
            return
        if rsp.status != 0 or not rsp.endpoints or rsp.nwk_addr != 0x0000:
            return
        first = self.server_endpoint is None
        self.server_endpoint = rsp.endpoints[0]
        if first:
            unsent, self._unsent = self._unsent, None
            if unsent is not None:
                self._transmit(unsent)
            if self.keep_open:
                self.machine.open()
            if self._get_timer is not None:
                self.machine.get()
            elif self.core.outbox:
                self.machine.open()

    def _schedule_reopen(self) -> None:
        if not self.keep_open or (self._reopen is not None and self._reopen.active()):
            return
        self._reopen = self.device.clock.callLater(self.REOPEN_DELAY, self._retry)

    def _retry(self) -> None:
        self._reopen = None
        if self.server_endpoint is None:
            self._discover()
        else:
            self.machine.open()

    # ------------------------------------------------------------------ machine outputs

    def _transmit(self, command) -> None:
        if self.server_endpoint is None:  # sent once the server is found
            self._unsent = command
            self._discover()
            return
        device = self.device
        try:
            frame = to_zcl(command, DIRECTION_CLIENT_TO_SERVER, device.next_tsn())
        except CodecError:
            device._count("tunnel_encode_failed")
            return
        self.begin_work()
        block = isinstance(command, TransferData) and command.data[:1] == bytes((HRGP_PUT,)) and is_block(command.data[1:])
        device.stack.send_data(0x0000, self.server_endpoint, self.endpoint, TUNNELING_CLUSTER_ID, encode_zcl(frame),
                               on_done=self._block_sent if block else self._sent)

    def _sent(self, ok: bool) -> None:
        if not ok:
            self.device._count("tunnel_send_failed")
        self.end_work()

    # TunnelClientEvents
    def message_received(self, message: bytes, remaining: int | None) -> None:
        if is_block(message):       # one GBT block: the message is handed on after its last block
            try:
                whole = self._gbt.feed(message)
            except CodecError:
                self.device._count("gbt_malformed")
                whole = None
        else:
            whole = message
        if whole is not None:
            self.received += 1
            self.application.receive(whole)
        if remaining is not None:
            if remaining > 0:
                self._begin_get()
                self.machine.get()
            else:
                self._get_done()

    def queue_empty(self) -> None:
        self._get_done()

    def opened(self, tunnel_id: int) -> None:
        if self._reopen is not None and self._reopen.active():
            self._reopen.cancel()
        self._reopen = None

    def closed(self, reason: str) -> None:
        if self._get_timer is not None:  # a GET was lost with the tunnel: ask again on a new one
            self.machine.get()
        elif self.keep_open:
            self.machine.open()

    def failed(self, reason: str) -> None:
        self.device._count("tunnel_failed")
        self._get_done()
        self._schedule_reopen()

    # ------------------------------------------------------------------ ZCL input

    def zcl_command(self, ind, frame) -> None:
        if not ind.aps_secured or ind.src_eui is None or ind.src_eui != self.hub_eui:
            self.device._count("tunnel_untrusted_source")
            return
        if frame.direction != DIRECTION_SERVER_TO_CLIENT:
            self.device._count("zcl_unexpected_direction")
            return
        try:
            command = from_zcl(frame)
            tunnel_command_received(self.machine, command)
        except CodecError:
            self.device._count("tunnel_malformed")

    def describe(self) -> str:
        return f"GBCS messages received {self.received}, sent {self.sent}"


class ChfTunnelService:
    """The CH's Tunneling server and CHF routing.

    @param hub: the L{emulator.devices.hub.CommsHub}.
    @param endpoint: the CHF endpoint holding the Tunneling server.
    @param crypto: a L{protocols.gbcs.crypto.GbcsCrypto} for the CHF's own alerts (C{None}:
        none can be MACed, so they are counted, logged and not sent).
    @param to_wan: where messages going up are handed (default: kept in L{wan_messages}).
    """

    def __init__(self, hub, endpoint: int, *, crypto=None, to_wan: Callable[[bytes], None] | None = None,
                 close_tunnel_timeout: float = DEFAULT_CLOSE_TUNNEL_TIMEOUT,
                 queue_limit: int = DEFAULT_QUEUE_LIMIT, queue_expiry: float = DEFAULT_QUEUE_EXPIRY,
                 wan_keep: int = 1000) -> None:
        self.hub = hub
        self.endpoint = endpoint
        self.crypto = crypto
        self.wan_messages: deque[bytes] = deque(maxlen=wan_keep)
        self.to_wan = to_wan if to_wan is not None else self.wan_messages.append
        self.alert_counter = 0
        self.alerts_raised = 0
        # device EUI-64 -> (short address, Tunneling client endpoint), from its last authenticated frame
        self._peers: dict[int, tuple[int, int]] = {}
        # device EUI-64 -> the GBT blocks of a message it is sending up
        self._gbt: dict[int, Reassembler] = {}
        clock = hub.clock
        self.server = TunnelServer(clock, self._transmit, on_get=self._on_get, on_put=self._on_put,
                                   on_opened=self._on_opened, count=hub._count,
                                   close_tunnel_timeout=close_tunnel_timeout)
        self.router = ChfRouter(clock, hub.spec.eui64, hub.spec.gpf_eui64, deliver_local=self._deliver_local,
                                push=self._push, to_wan=self._up, alert=self._alert, count=hub._count,
                                queue_limit=queue_limit, expiry=queue_expiry)
        self.application = make_gbcs_application(hub, self._up)
        #: called with (device EUI-64, message) as a GBCS message starts down the tunnel to a
        #: device (a dual-band CH's duty-cycle management names it if it must discard it)
        self.sending_observers: list[Callable[[int, bytes], None]] = []
        hub.cluster_handlers[(endpoint, TUNNELING_CLUSTER_ID)] = self.zcl_command

    def add_device(self, eui: int, kind: str, *, sleepy: bool) -> None:
        """A device entered the CHF device log (C{sleepy}: its receiver is off while it sleeps)."""
        self.router.add_device(eui, sleepy=sleepy, kind=kind)

    # ------------------------------------------------------------------ WAN side

    def from_wan(self, message: bytes) -> str:
        """A remote-party GBCS message for this home arrives at the CH."""
        outcome = self.router.from_wan(message)
        log.debug("{home}/{name}: {what}: {outcome}", home=self.hub.home.spec.name, name=self.hub.spec.name,
                 what=describe_message(message), outcome=outcome)
        return outcome

    def _up(self, message: bytes) -> None:
        self.to_wan(message)

    def _deliver_local(self, recipient: int, message: bytes) -> None:
        self.application.receive(message)

    def _alert(self, alert_code: int, item: QueuedMessage) -> None:
        clock = self.hub.clock
        now = clock.seconds()
        self.alert_counter = max(self.alert_counter + 1, int(now) * 1000)
        recipient = self.crypto.acb_eui if self.crypto is not None else 0
        try:
            message = chf_alert(self.crypto, self.hub.spec.eui64, recipient, self.alert_counter, alert_code, now)
        except CodecError as e:
            self.hub._count("chf_alert_not_sent")
            log.warn("{home}/{name}: CHF alert 0x{code:04X} about message code 0x{mc:04X} for {eui:016X} not "
                     "sent: {reason}", home=self.hub.home.spec.name, name=self.hub.spec.name, code=alert_code,
                     mc=item.message_code, eui=item.recipient, reason=e.reason)
            return
        self.alerts_raised += 1
        self._up(message)

    # ------------------------------------------------------------------ HAN side

    def _push(self, eui: int, message: bytes, on_done: Callable[[bool], None]) -> bool:
        self._sending(eui, message)
        return self.server.put(eui, message, on_done)

    def _sending(self, eui: int, message: bytes) -> None:
        for observer in self.sending_observers:
            observer(eui, message)

    def _on_get(self, peer: int) -> None:
        item, remaining = self.router.get(peer)
        if item is None:
            self.server.get_response(peer, 0)
            return

        def done(ok: bool) -> None:
            if not ok:
                self.router.retrieval_failed(peer, item)

        self._sending(peer, item.message)
        if not self.server.get_response(peer, remaining, item.message, done):
            self.router.retrieval_failed(peer, item)

    def _on_put(self, peer: int, message: bytes) -> None:
        if is_block(message):       # one GBT block of a larger message: routed once it is whole
            try:
                whole = self._gbt.setdefault(peer, Reassembler()).feed(message)
            except CodecError:
                self.hub._count("gbt_malformed")
                return
            if whole is None:
                return
            message = whole
        log.debug("{home}/{name}: up from {eui:016X}: {what}", home=self.hub.home.spec.name, name=self.hub.spec.name,
                 eui=peer, what=describe_message(message))
        self.router.from_device(peer, message)

    def _on_opened(self, peer: int) -> None:
        self.router.tunnel_opened(peer)

    def _transmit(self, peer: int, command, on_done: Callable[[bool], None] | None = None) -> None:
        hub = self.hub
        address = self._peers.get(peer)
        if address is None:
            hub._count("tunnel_peer_unreachable")
            if on_done is not None:
                on_done(False)
            return
        try:
            frame = to_zcl(command, DIRECTION_SERVER_TO_CLIENT, hub.next_tsn())
        except CodecError:
            hub._count("tunnel_encode_failed")
            if on_done is not None:
                on_done(False)
            return
        short, endpoint = address
        hub.stack.send_data(short, endpoint, self.endpoint, TUNNELING_CLUSTER_ID, encode_zcl(frame), on_done=on_done)

    def zcl_command(self, ind, frame) -> None:
        hub = self.hub
        eui = ind.src_eui
        if not ind.aps_secured or eui is None or eui not in self.router.queues:
            hub._count("tunnel_untrusted_source")
            return
        if frame.direction != DIRECTION_CLIENT_TO_SERVER:
            hub._count("zcl_unexpected_direction")
            return
        try:
            command = from_zcl(frame)
        except CodecError:
            hub._count("tunnel_malformed")
            return
        self._peers[eui] = (ind.src_short, ind.src_endpoint)
        self.server.command_received(eui, command)

    def describe(self) -> str:
        o = self.router.outcomes
        parts = ", ".join(f"{k} {v}" for k, v in sorted(o.items()))
        return (f"GBCS routed: {parts or 'none'}; tunnels open {len(self.server.tunnels)}; "
                f"CHF alerts {self.alerts_raised}")
