"""The device end of a GB-HRGP tunnel (ZSE Tunneling client): a sans-IO state machine.

Implements the client side of C{spec/han-zigbee-wireshark.md} 4.6 and
C{spec/gbcs-wire-format.md} 6: a device (ESME, GSME, ...) asks the CHF's Tunneling server
for a tunnel with RequestTunnel (protocol GB-HRGP, its maximum incoming transfer size), and
once the RequestTunnelResponse grants one it sends PUT (a GBCS response or alert) and GET
(asks for the next message the CHF queued for it) in TransferData, and receives
GET-RESPONSE (with the number of messages still queued) and PUT (a command the CHF pushes).

States (automat, typed)::

    closed --open/put/get--> requesting --RequestTunnelResponse success (tunnel_granted)--> open
    requesting --timeout after the last attempt / failure status (tunnel_refused)--> closed
    open --TunnelClosureNotification / TransferDataError(no such tunnel) / close--> closed

The RequestTunnel retry timer is data of the C{requesting} state and is cancelled whenever
that state is left.  Messages to PUT and a wanted GET are kept (bounded) while no tunnel is
open and flushed, in order, when one opens.  Inputs never raise: anything unexpected is
counted (C{count(name)}) and dropped.

Outputs go through the L{TunnelClientCore} callables: C{transmit(command)} sends a
Tunneling command (L{protocols.hrgp.codec}) to the server; C{events} receives
C{message_received(message, remaining)}, C{opened(tunnel_id)}, C{closed(reason)} and
C{failed(reason)}.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

from automat import TypeMachineBuilder

from protocols.errors import CodecError
from protocols.hrgp.codec import (MAX_TRANSFER_SIZE, TRANSFER_DATA_STATUS_DATA_OVERFLOW,
                                  TRANSFER_DATA_STATUS_NO_SUCH_TUNNEL, Get, GetResponse, Put, RequestTunnel,
                                  RequestTunnelResponse, TransferData, TransferDataError, CloseTunnel,
                                  TunnelClosureNotification, decode_hrgp, encode_hrgp)
from protocols.zcl.se.tunneling import TUNNEL_STATUS_SUCCESS

__all__ = ["TunnelClient", "TunnelClientCore", "TunnelClientEvents", "new_tunnel_client", "tunnel_command_received"]


class TunnelClientEvents(Protocol):
    """What the hosting device is told."""

    def message_received(self, message: bytes, remaining: int | None) -> None:
        """A GBCS message arrived: by GET-RESPONSE (C{remaining} still queued) or PUT (C{None})."""

    def queue_empty(self) -> None:
        """A GET-RESPONSE said the CHF holds nothing (more) for us."""

    def opened(self, tunnel_id: int) -> None:
        """A tunnel is open."""

    def closed(self, reason: str) -> None:
        """The open tunnel is gone (closure notification, error, or our close)."""

    def failed(self, reason: str) -> None:
        """No tunnel could be opened (refused, or no answer after every attempt)."""


class TunnelClient(Protocol):
    """The inputs of the machine (what the device and the ZCL adapter call)."""

    def open(self) -> None:
        """Make sure a tunnel is open (request one if needed)."""

    def put(self, message: bytes) -> None:
        """Send a GBCS message to the CHF (queued until a tunnel is open)."""

    def get(self) -> None:
        """Ask the CHF for the next queued message (once a tunnel is open)."""

    def close(self) -> None:
        """Close the tunnel (CloseTunnel)."""

    def tunnel_granted(self, response: RequestTunnelResponse) -> None:
        """The server answered our RequestTunnel with success."""

    def tunnel_refused(self, response: RequestTunnelResponse) -> None:
        """The server answered our RequestTunnel with a failure status."""

    def response_timeout(self) -> None:
        """The RequestTunnel retry timer fired (scheduled by the machine)."""

    def transfer_data(self, command: TransferData) -> None:
        """TransferData from the server."""

    def transfer_data_error(self, command: TransferDataError) -> None:
        """TransferDataError from the server."""

    def closure_notification(self, tunnel_id: int) -> None:
        """TunnelClosureNotification from the server."""


@dataclass(slots=True)
class TunnelClientCore:
    """Shared data and the output callables of one device's tunnel end.

    @ivar clock: an C{IReactorTime}.
    @ivar transmit: sends one Tunneling command to the server.
    @ivar events: L{TunnelClientEvents}.
    @ivar count: counts a named event or drop.
    @ivar response_timeout: seconds to wait for RequestTunnelResponse before asking again.
    @ivar attempts: RequestTunnel attempts before giving up (C{failed}).
    @ivar max_outbox: PUTs kept while no tunnel is open; more are refused (counted).
    """

    clock: Any
    transmit: Callable[[Any], None]
    events: TunnelClientEvents
    count: Callable[[str], None]
    response_timeout: float = 8.0
    attempts: int = 3
    max_outbox: int = 16
    maximum_incoming_transfer_size: int = MAX_TRANSFER_SIZE
    outbox: deque = field(default_factory=deque)
    want_get: bool = False

    def queue_put(self, message: bytes) -> None:
        if len(self.outbox) >= self.max_outbox:
            self.count("tunnel_outbox_full")
            return
        self.outbox.append(message)

    def request(self) -> None:
        self.transmit(RequestTunnel(maximum_incoming_transfer_size=self.maximum_incoming_transfer_size))


@dataclass(slots=True)
class _Requesting:
    """Data of the C{requesting} state: the retry timer and the attempts made."""
    timer: Any
    sent: int = 1

    def cancel(self) -> None:
        if self.timer is not None and self.timer.active():
            self.timer.cancel()
        self.timer = None


@dataclass(slots=True)
class _Open:
    """Data of the C{open} state: the tunnel and the server's maximum incoming transfer size."""
    tunnel_id: int
    peer_maximum: int


def _start_requesting(inputs: TunnelClient, core: TunnelClientCore, *args: Any) -> _Requesting:
    core.request()
    return _Requesting(core.clock.callLater(core.response_timeout, inputs.response_timeout))


def _opened(inputs: TunnelClient, core: TunnelClientCore, response: RequestTunnelResponse) -> _Open:
    return _Open(response.tunnel_id, response.maximum_incoming_transfer_size)


_builder = TypeMachineBuilder(TunnelClient, TunnelClientCore)
_closed = _builder.state("closed")
_requesting = _builder.state("requesting", _start_requesting)
_open = _builder.state("open", _opened)


def _send_data(core: TunnelClientCore, state: _Open, data: bytes) -> bool:
    if len(data) > state.peer_maximum:  # the server could not take it: dropped, counted
        core.count("tunnel_data_too_large")
        return False
    core.transmit(TransferData(state.tunnel_id, data))
    return True


def _flush(core: TunnelClientCore, state: _Open) -> None:
    while core.outbox:
        _send_data(core, state, encode_hrgp(Put(core.outbox.popleft())))
    if core.want_get:
        core.want_get = False
        _send_data(core, state, encode_hrgp(Get()))


def _encode_put(core: TunnelClientCore, message: bytes) -> bytes | None:
    try:
        return encode_hrgp(Put(message))
    except CodecError:
        core.count("tunnel_put_invalid")
        return None


# ------------------------------------------------------------------------------ closed

@_closed.upon(TunnelClient.open).to(_requesting)
def _closed_open(inputs: TunnelClient, core: TunnelClientCore) -> None:
    pass


@_closed.upon(TunnelClient.put).to(_requesting)
def _closed_put(inputs: TunnelClient, core: TunnelClientCore, message: bytes) -> None:
    if _encode_put(core, message) is not None:
        core.queue_put(message)


@_closed.upon(TunnelClient.get).to(_requesting)
def _closed_get(inputs: TunnelClient, core: TunnelClientCore) -> None:
    core.want_get = True


@_closed.upon(TunnelClient.close).loop()
def _closed_close(inputs: TunnelClient, core: TunnelClientCore) -> None:
    pass


@_closed.upon(TunnelClient.tunnel_granted).loop()
def _closed_granted(inputs: TunnelClient, core: TunnelClientCore, response: RequestTunnelResponse) -> None:
    core.count("tunnel_unexpected_response")


@_closed.upon(TunnelClient.tunnel_refused).loop()
def _closed_refused(inputs: TunnelClient, core: TunnelClientCore, response: RequestTunnelResponse) -> None:
    core.count("tunnel_unexpected_response")


@_closed.upon(TunnelClient.response_timeout).loop()
def _closed_timeout(inputs: TunnelClient, core: TunnelClientCore) -> None:
    pass


@_closed.upon(TunnelClient.transfer_data).loop()
def _closed_transfer(inputs: TunnelClient, core: TunnelClientCore, command: TransferData) -> None:
    core.count("tunnel_no_such_tunnel")
    core.transmit(TransferDataError(command.tunnel_id, TRANSFER_DATA_STATUS_NO_SUCH_TUNNEL))


@_closed.upon(TunnelClient.transfer_data_error).loop()
def _closed_error(inputs: TunnelClient, core: TunnelClientCore, command: TransferDataError) -> None:
    core.count("tunnel_unexpected_error")


@_closed.upon(TunnelClient.closure_notification).loop()
def _closed_closure(inputs: TunnelClient, core: TunnelClientCore, tunnel_id: int) -> None:
    pass


# ------------------------------------------------------------------------------ requesting

@_requesting.upon(TunnelClient.open).loop()
def _req_open(inputs: TunnelClient, core: TunnelClientCore, state: _Requesting) -> None:
    pass


@_requesting.upon(TunnelClient.put).loop()
def _req_put(inputs: TunnelClient, core: TunnelClientCore, state: _Requesting, message: bytes) -> None:
    if _encode_put(core, message) is not None:
        core.queue_put(message)


@_requesting.upon(TunnelClient.get).loop()
def _req_get(inputs: TunnelClient, core: TunnelClientCore, state: _Requesting) -> None:
    core.want_get = True


@_requesting.upon(TunnelClient.close).to(_closed)
def _req_close(inputs: TunnelClient, core: TunnelClientCore, state: _Requesting) -> None:
    state.cancel()
    core.want_get = False


@_requesting.upon(TunnelClient.tunnel_granted).to(_open)
def _req_granted(inputs: TunnelClient, core: TunnelClientCore, state: _Requesting,
                 response: RequestTunnelResponse) -> None:
    state.cancel()
    core.events.opened(response.tunnel_id)
    _flush(core, _Open(response.tunnel_id, response.maximum_incoming_transfer_size))


@_requesting.upon(TunnelClient.tunnel_refused).to(_closed)
def _req_refused(inputs: TunnelClient, core: TunnelClientCore, state: _Requesting,
                 response: RequestTunnelResponse) -> None:
    state.cancel()
    core.want_get = False
    core.count(f"tunnel_refused_{response.tunnel_status}")
    core.events.failed(f"RequestTunnel refused with status {response.tunnel_status}")


@_requesting.upon(TunnelClient.response_timeout).loop()
def _req_timeout(inputs: TunnelClient, core: TunnelClientCore, state: _Requesting) -> None:
    state.timer = None
    if state.sent >= core.attempts:
        core.count("tunnel_request_timeout")
        inputs.close()
        core.events.failed(f"no RequestTunnelResponse after {state.sent} RequestTunnel(s)")
        return
    state.sent += 1
    core.request()
    state.timer = core.clock.callLater(core.response_timeout, inputs.response_timeout)


@_requesting.upon(TunnelClient.transfer_data).loop()
def _req_transfer(inputs: TunnelClient, core: TunnelClientCore, state: _Requesting, command: TransferData) -> None:
    core.count("tunnel_no_such_tunnel")
    core.transmit(TransferDataError(command.tunnel_id, TRANSFER_DATA_STATUS_NO_SUCH_TUNNEL))


@_requesting.upon(TunnelClient.transfer_data_error).loop()
def _req_error(inputs: TunnelClient, core: TunnelClientCore, state: _Requesting, command: TransferDataError) -> None:
    core.count("tunnel_unexpected_error")


@_requesting.upon(TunnelClient.closure_notification).loop()
def _req_closure(inputs: TunnelClient, core: TunnelClientCore, state: _Requesting, tunnel_id: int) -> None:
    pass


# ------------------------------------------------------------------------------ open

@_open.upon(TunnelClient.open).loop()
def _open_open(inputs: TunnelClient, core: TunnelClientCore, state: _Open) -> None:
    pass


@_open.upon(TunnelClient.put).loop()
def _open_put(inputs: TunnelClient, core: TunnelClientCore, state: _Open, message: bytes) -> None:
    data = _encode_put(core, message)
    if data is not None:
        _send_data(core, state, data)


@_open.upon(TunnelClient.get).loop()
def _open_get(inputs: TunnelClient, core: TunnelClientCore, state: _Open) -> None:
    _send_data(core, state, encode_hrgp(Get()))


@_open.upon(TunnelClient.close).to(_closed)
def _open_close(inputs: TunnelClient, core: TunnelClientCore, state: _Open) -> None:
    core.transmit(CloseTunnel(state.tunnel_id))
    core.events.closed("closed by the device")


@_open.upon(TunnelClient.tunnel_granted).loop()
def _open_granted(inputs: TunnelClient, core: TunnelClientCore, state: _Open,
                  response: RequestTunnelResponse) -> None:
    core.count("tunnel_unexpected_response")


@_open.upon(TunnelClient.tunnel_refused).loop()
def _open_refused(inputs: TunnelClient, core: TunnelClientCore, state: _Open,
                  response: RequestTunnelResponse) -> None:
    core.count("tunnel_unexpected_response")


@_open.upon(TunnelClient.response_timeout).loop()
def _open_timeout(inputs: TunnelClient, core: TunnelClientCore, state: _Open) -> None:
    pass


@_open.upon(TunnelClient.transfer_data).loop()
def _open_transfer(inputs: TunnelClient, core: TunnelClientCore, state: _Open, command: TransferData) -> None:
    if command.tunnel_id != state.tunnel_id:
        core.count("tunnel_no_such_tunnel")
        core.transmit(TransferDataError(command.tunnel_id, TRANSFER_DATA_STATUS_NO_SUCH_TUNNEL))
        return
    if len(command.data) > core.maximum_incoming_transfer_size:
        core.count("tunnel_data_overflow")
        core.transmit(TransferDataError(state.tunnel_id, TRANSFER_DATA_STATUS_DATA_OVERFLOW))
        return
    try:
        hrgp = decode_hrgp(command.data)
    except CodecError:
        core.count("hrgp_malformed")
        return
    if isinstance(hrgp, GetResponse):
        if hrgp.message:
            core.events.message_received(hrgp.message, hrgp.remaining)
        else:
            core.events.queue_empty()
    elif isinstance(hrgp, Put):
        core.events.message_received(hrgp.message, None)
    else:
        core.count("hrgp_unexpected_get")


@_open.upon(TunnelClient.transfer_data_error).loop()
def _open_error(inputs: TunnelClient, core: TunnelClientCore, state: _Open, command: TransferDataError) -> None:
    core.count(f"tunnel_transfer_data_error_{command.transfer_data_status}")
    if command.transfer_data_status == TRANSFER_DATA_STATUS_NO_SUCH_TUNNEL and command.tunnel_id == state.tunnel_id:
        inputs.closure_notification(state.tunnel_id)


@_open.upon(TunnelClient.closure_notification).to(_closed)
def _open_closure(inputs: TunnelClient, core: TunnelClientCore, state: _Open, tunnel_id: int) -> None:
    core.events.closed("closed by the server")


_TunnelClientMachine = _builder.build()


def new_tunnel_client(core: TunnelClientCore) -> TunnelClient:
    """A client machine over C{core} (initially closed)."""
    return _TunnelClientMachine(core)


def tunnel_command_received(machine: TunnelClient, command: Any) -> None:
    """Hand one decoded server-to-client Tunneling command to the machine's matching input."""
    if isinstance(command, RequestTunnelResponse):
        if command.tunnel_status == TUNNEL_STATUS_SUCCESS:
            machine.tunnel_granted(command)
        else:
            machine.tunnel_refused(command)
    elif isinstance(command, TransferData):
        machine.transfer_data(command)
    elif isinstance(command, TransferDataError):
        machine.transfer_data_error(command)
    elif isinstance(command, TunnelClosureNotification):
        machine.closure_notification(command.tunnel_id)
    else:
        raise CodecError("command", 0, f"{type(command).__name__} is not sent to a tunnel client")
