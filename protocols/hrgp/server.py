"""The CHF end of GB-HRGP tunnels (ZSE Tunneling server): a sans-IO machine per tunnel.

Implements the server side of C{spec/han-zigbee-wireshark.md} 4.6 and
C{spec/gbcs-wire-format.md} 6 for the Communications Hub: it grants RequestTunnel for
protocol GB-HRGP (one tunnel per device, the lowest free tunnel id), remembers each
device's maximum incoming transfer size, turns TransferData into GET / PUT events, sends
GET-RESPONSE and PUT, answers bad TransferData with TransferDataError (no such tunnel,
wrong device, data overflow), and closes a tunnel that stayed idle for CloseTunnelTimeout
seconds with a TunnelClosureNotification.

A tunnel has two states, open and closed (gone from the table), so it is a plain object
whose only per-state data is the inactivity timer, cancelled when the tunnel closes.
Peers are EUI-64s: the adapter passes only APS-secured frames whose link key belongs to
that EUI-64, so a tunnel is bound to a device by its key, not its address.
"""

from __future__ import annotations

from typing import Any, Callable

from protocols.errors import CodecError
from protocols.hrgp.codec import (MAX_TRANSFER_SIZE, TRANSFER_DATA_STATUS_DATA_OVERFLOW,
                                  TRANSFER_DATA_STATUS_NO_SUCH_TUNNEL, TRANSFER_DATA_STATUS_WRONG_DEVICE, Get,
                                  GetResponse, Put, RequestTunnel, RequestTunnelResponse, TransferData,
                                  TransferDataError, CloseTunnel, TunnelClosureNotification, decode_hrgp,
                                  encode_hrgp)
from protocols.zcl.se.tunneling import (PROTOCOL_GB_HRGP, TUNNEL_STATUS_FLOW_CONTROL_NOT_SUPPORTED,
                                        TUNNEL_STATUS_NO_MORE_TUNNEL_IDS, TUNNEL_STATUS_PROTOCOL_NOT_SUPPORTED,
                                        TUNNEL_STATUS_SUCCESS)

__all__ = ["TunnelServer", "Tunnel", "DEFAULT_CLOSE_TUNNEL_TIMEOUT"]

#: CloseTunnelTimeout (ZSE attribute 0x0000, seconds); the ZSE default
DEFAULT_CLOSE_TUNNEL_TIMEOUT = 0xFFFF


class Tunnel:
    """One open tunnel: its id, the device, the device's maximum incoming transfer size."""

    __slots__ = ("tunnel_id", "peer", "peer_maximum", "timer")

    def __init__(self, tunnel_id: int, peer: int, peer_maximum: int, timer: Any) -> None:
        self.tunnel_id = tunnel_id
        self.peer = peer
        self.peer_maximum = peer_maximum
        self.timer = timer


class TunnelServer:
    """All GB-HRGP tunnels of one CHF.

    @param clock: C{IReactorTime}.
    @param transmit: C{transmit(peer_eui, command, on_done)} sends a Tunneling command to a
        device; C{on_done(ok)} (or C{None}) is told whether the HAN delivered it.
    @param on_get: C{on_get(peer_eui)}: the device sent GET; answer with L{get_response}.
    @param on_put: C{on_put(peer_eui, message)}: the device sent a GBCS message.
    @param on_opened / on_closed: C{(peer_eui)} when the device's tunnel opens / closes.
    @param count: counts a named event or drop.
    @param close_tunnel_timeout: seconds of inactivity after which a tunnel is closed.
    @param max_tunnels: tunnel ids available (RequestTunnel beyond: "no more tunnel IDs").
    """

    def __init__(self, clock, transmit: Callable[[int, Any, Callable[[bool], None] | None], None], *,
                 on_get: Callable[[int], None],
                 on_put: Callable[[int, bytes], None], on_opened: Callable[[int], None] = lambda peer: None,
                 on_closed: Callable[[int], None] = lambda peer: None, count: Callable[[str], None] = lambda n: None,
                 close_tunnel_timeout: float = DEFAULT_CLOSE_TUNNEL_TIMEOUT, max_tunnels: int = 32,
                 maximum_incoming_transfer_size: int = MAX_TRANSFER_SIZE) -> None:
        self.clock = clock
        self.transmit = transmit
        self.on_get = on_get
        self.on_put = on_put
        self.on_opened = on_opened
        self.on_closed = on_closed
        self.count = count
        self.close_tunnel_timeout = close_tunnel_timeout
        self.max_tunnels = max_tunnels
        self.maximum_incoming_transfer_size = maximum_incoming_transfer_size
        self.tunnels: dict[int, Tunnel] = {}
        self.by_peer: dict[int, Tunnel] = {}
        self.opened = 0  # tunnels granted
        self.closed_inactive = 0  # tunnels closed for inactivity

    # ------------------------------------------------------------------ inputs from devices

    def command_received(self, peer: int, command: Any) -> None:
        """One decoded client-to-server Tunneling command from device C{peer}."""
        if isinstance(command, RequestTunnel):
            self.request_tunnel(peer, command)
        elif isinstance(command, TransferData):
            self.transfer_data(peer, command)
        elif isinstance(command, TransferDataError):
            self.count(f"tunnel_transfer_data_error_{command.transfer_data_status}")
            tunnel = self.tunnels.get(command.tunnel_id)
            if (tunnel is not None and tunnel.peer == peer
                    and command.transfer_data_status == TRANSFER_DATA_STATUS_NO_SUCH_TUNNEL):
                self._close(tunnel, notify=False)
        elif isinstance(command, CloseTunnel):
            tunnel = self.tunnels.get(command.tunnel_id)
            if tunnel is None or tunnel.peer != peer:
                self.count("tunnel_close_unknown")
                return
            self._close(tunnel, notify=False)
        else:
            self.count("tunnel_unexpected_command")

    def request_tunnel(self, peer: int, command: RequestTunnel) -> None:
        status = TUNNEL_STATUS_SUCCESS
        if command.protocol_id != PROTOCOL_GB_HRGP:
            status = TUNNEL_STATUS_PROTOCOL_NOT_SUPPORTED
        elif command.flow_control_support:
            status = TUNNEL_STATUS_FLOW_CONTROL_NOT_SUPPORTED
        if status != TUNNEL_STATUS_SUCCESS:
            self.count(f"tunnel_refused_{status}")
            self.transmit(peer, RequestTunnelResponse(0xFFFF, status, self.maximum_incoming_transfer_size))
            return
        old = self.by_peer.get(peer)
        if old is not None:  # the device lost its tunnel (reset, or it missed our notification)
            self._close(old, notify=False)
        tunnel_id = next((i for i in range(self.max_tunnels) if i not in self.tunnels), None)
        if tunnel_id is None:
            self.count("tunnel_refused_no_more_ids")
            self.transmit(peer, RequestTunnelResponse(0xFFFF, TUNNEL_STATUS_NO_MORE_TUNNEL_IDS,
                                                      self.maximum_incoming_transfer_size))
            return
        tunnel = Tunnel(tunnel_id, peer, command.maximum_incoming_transfer_size, None)
        self.tunnels[tunnel_id] = self.by_peer[peer] = tunnel
        self._touch(tunnel)
        self.opened += 1
        self.transmit(peer, RequestTunnelResponse(tunnel_id, TUNNEL_STATUS_SUCCESS,
                                                  self.maximum_incoming_transfer_size))
        self.on_opened(peer)

    def transfer_data(self, peer: int, command: TransferData) -> None:
        tunnel = self.tunnels.get(command.tunnel_id)
        if tunnel is None:
            self.count("tunnel_no_such_tunnel")
            self.transmit(peer, TransferDataError(command.tunnel_id, TRANSFER_DATA_STATUS_NO_SUCH_TUNNEL))
            return
        if tunnel.peer != peer:
            self.count("tunnel_wrong_device")
            self.transmit(peer, TransferDataError(command.tunnel_id, TRANSFER_DATA_STATUS_WRONG_DEVICE))
            return
        self._touch(tunnel)
        if len(command.data) > self.maximum_incoming_transfer_size:
            self.count("tunnel_data_overflow")
            self.transmit(peer, TransferDataError(command.tunnel_id, TRANSFER_DATA_STATUS_DATA_OVERFLOW))
            return
        try:
            hrgp = decode_hrgp(command.data)
        except CodecError:
            self.count("hrgp_malformed")
            return
        if isinstance(hrgp, Get):
            self.on_get(peer)
        elif isinstance(hrgp, Put):
            self.on_put(peer, hrgp.message)
        else:
            self.count("hrgp_unexpected_get_response")

    # ------------------------------------------------------------------ outputs to devices

    def is_open(self, peer: int) -> bool:
        return peer in self.by_peer

    def get_response(self, peer: int, remaining: int, message: bytes = b"",
                     on_done: Callable[[bool], None] | None = None) -> bool:
        """Answer a GET: C{message} (or nothing) and the number still queued after it."""
        return self._send(peer, GetResponse(min(remaining, 0xFF), message), on_done)

    def put(self, peer: int, message: bytes, on_done: Callable[[bool], None] | None = None) -> bool:
        """Push a GBCS message to a device; C{False} when it has no tunnel or the message is too large."""
        return self._send(peer, Put(message), on_done)

    def _send(self, peer: int, command: Any, on_done: Callable[[bool], None] | None) -> bool:
        tunnel = self.by_peer.get(peer)
        if tunnel is None:  # (the caller keeps the message until the device opens one)
            return False
        try:
            data = encode_hrgp(command)
        except CodecError:      # larger than a tunnel command can carry
            self.count("tunnel_data_too_large")
            return False
        if len(data) > tunnel.peer_maximum:
            self.count("tunnel_data_too_large")
            return False
        self._touch(tunnel)
        self.transmit(peer, TransferData(tunnel.tunnel_id, data), on_done)
        return True

    # ------------------------------------------------------------------ inactivity

    def _touch(self, tunnel: Tunnel) -> None:
        if tunnel.timer is not None and tunnel.timer.active():
            tunnel.timer.reset(self.close_tunnel_timeout)
        else:
            tunnel.timer = self.clock.callLater(self.close_tunnel_timeout, self._idle, tunnel)

    def _idle(self, tunnel: Tunnel) -> None:
        tunnel.timer = None
        if self.tunnels.get(tunnel.tunnel_id) is tunnel:
            self.closed_inactive += 1
            self._close(tunnel, notify=True)

    def _close(self, tunnel: Tunnel, notify: bool) -> None:
        if tunnel.timer is not None and tunnel.timer.active():
            tunnel.timer.cancel()
        tunnel.timer = None
        self.tunnels.pop(tunnel.tunnel_id, None)
        if self.by_peer.get(tunnel.peer) is tunnel:
            del self.by_peer[tunnel.peer]
        if notify:
            self.transmit(tunnel.peer, TunnelClosureNotification(tunnel.tunnel_id))
        self.on_closed(tunnel.peer)
