"""ZigBee PRO network housekeeping of one node (05-3474 R22).

 - Link Status (3.4.8, 3.6.3.4): every router and the coordinator broadcasts, every
   L{LINK_STATUS_PERIOD} seconds with seeded jitter, a NWK-secured Link Status (to 0xFFFC,
   radius 1) listing its router neighbours in ascending address order with the incoming cost
   it measures and the outgoing cost the neighbour reported; a received Link Status adds the
   sender to the neighbour table and updates the outgoing cost of the link to it;
 - a Leave without rejoin in a router neighbour's name (network-key security only: anyone on
   the network can send it) is confirmed by that neighbour's silence: it goes only when no Link
   Status of it is heard for L{ROUTER_AGE_LIMIT} periods after (children: the trust centre);
 - End Device Timeout (3.4.11 / 3.4.12, 3.6.10): an end device tells its parent after joining
   how long it may stay silent (L{END_DEVICE_TIMEOUT_INDEX}: 64 minutes for a gas meter that
   wakes every 30); the parent records it and answers with the keepalive methods it supports
   (bit 0: MAC Data Poll).

The node's NWK layer sends (C{nwk.send}) and hands NWK commands here (L{on_command}).
"""

from __future__ import annotations

from protocols.zigbee import nwk as _nwk
from protocols.zigbee.nib import ROLE_END_DEVICE, Neighbor, Nib

LINK_STATUS_PERIOD = 15.0  # s (nwkLinkStatusPeriod)
LINK_STATUS_JITTER = 0.5  # s either side of the period
ROUTER_AGE_LIMIT = 3  # link status periods without hearing a neighbour before its outgoing cost is 0
#: End Device Timeout Request enumeration (Table 3.44): 6 = 64 minutes
END_DEVICE_TIMEOUT_INDEX = 6
#: nwkEndDeviceTimeoutDefault (Table 3.58): 8 = 256 minutes, for a child that did not say
END_DEVICE_TIMEOUT_DEFAULT_INDEX = 8
#: Table 3.44: minutes per timeout enumeration value (0 = 10 s)
END_DEVICE_TIMEOUT_MINUTES = (10 / 60, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384)
#: End Device Timeout Response parent information: MAC Data Poll keepalive supported
PARENT_INFO_MAC_DATA_POLL_KEEPALIVE = 0x01
#: the incoming cost a perfect link measures (3.6.3.1: 1 for probability of delivery ~1)
LINK_COST_PERFECT = 1


class Housekeeping:
    """Link Status and End Device Timeout for one node.  See the module docstring."""

    __slots__ = ("nib", "nwk", "other", "_call", "outgoing_cost", "last_heard", "child_timeouts",
                 "timeout_response", "leaving")

    def __init__(self, nib: Nib, nwk, other=None) -> None:
        self.nib = nib
        self.nwk = nwk
        self.other = other  # other(frame, command, broadcast) for the NWK commands handled elsewhere
        self._call = None
        self.outgoing_cost: dict[int, int] = {}  # neighbour short -> cost it reported for our link
        self.last_heard: dict[int, float] = {}
        self.child_timeouts: dict[int, int] = {}  # child short -> timeout enumeration (parent side)
        self.timeout_response: _nwk.EndDeviceTimeoutResponse | None = None  # (end device side)
        self.leaving: dict[int, object] = {}  # router neighbour short -> its unconfirmed Leave's timer

    # ---------------------------------------------------------------- life cycle

    def start(self) -> None:
        """The node is on the network: routers begin their Link Status cycle, an end device
        tells its parent its timeout."""
        nib = self.nib
        if nib.role == ROLE_END_DEVICE:
            self.timeout_response = None
            self.nwk.send(nib.parent if nib.parent is not None else 0x0000,
                          _nwk.encode_nwk_command(_nwk.EndDeviceTimeoutRequest(END_DEVICE_TIMEOUT_INDEX, 0)),
                          frame_type=_nwk.NWK_FRAME_COMMAND, radius=1)
            return
        if self._call is None:
            self._call = nib.clock.callLater(self._next_delay(), self._link_status)

    def stop(self) -> None:
        if self._call is not None and self._call.active():
            self._call.cancel()
        self._call = None
        for timer in self.leaving.values():
            if timer.active():
                timer.cancel()
        self.leaving.clear()

    def _next_delay(self) -> float:
        return LINK_STATUS_PERIOD + self.nib.rng.uniform(-LINK_STATUS_JITTER, LINK_STATUS_JITTER)

    # ---------------------------------------------------------------- link status

    def router_neighbors(self) -> list[int]:
        return sorted(short for short, nb in self.nib.neighbors.items() if nb.rx_on and short != self.nib.short)

    def link_status(self) -> _nwk.LinkStatus:
        now = self.nib.clock.seconds()
        age_limit = ROUTER_AGE_LIMIT * LINK_STATUS_PERIOD
        entries = []
        for short in self.router_neighbors():
            heard = self.last_heard.get(short)
            fresh = heard is not None and now - heard <= age_limit
            entries.append(_nwk.LinkStatusEntry(short, LINK_COST_PERFECT,
                                                self.outgoing_cost.get(short, 0) if fresh else 0))
        return _nwk.LinkStatus(tuple(entries[:31]))

    def _link_status(self) -> None:
        self._call = self.nib.clock.callLater(self._next_delay(), self._link_status)
        if self.nib.short is None or self.nib.network_key is None:
            return
        self.nwk.send(_nwk.BROADCAST_ROUTERS, _nwk.encode_nwk_command(self.link_status()),
                      frame_type=_nwk.NWK_FRAME_COMMAND, radius=1)

    # ---------------------------------------------------------------- children (parent side)

    def child_timeout(self, short: int) -> float:
        """Seconds the child at C{short} may stay silent (what it asked for in its End Device
        Timeout Request, else nwkEndDeviceTimeoutDefault: 256 minutes)."""
        index = self.child_timeouts.get(short, END_DEVICE_TIMEOUT_DEFAULT_INDEX)
        return END_DEVICE_TIMEOUT_MINUTES[index] * 60.0

    def forget_child(self, short: int) -> None:
        """The child at C{short} has left: nothing of it stays."""
        self.child_timeouts.pop(short, None)
        self.outgoing_cost.pop(short, None)
        self.last_heard.pop(short, None)

    # ---------------------------------------------------------------- router neighbours that leave

    def _router_leave(self, short: int, nb: Neighbor) -> None:
        """A NWK Leave (without rejoin) in the name of the router neighbour at C{short}: network-key
        security only, so a claim.  The neighbour stays, unchanged, for L{ROUTER_AGE_LIMIT} link
        status periods: a Link Status from it meanwhile refutes the Leave (a router that left
        sends none), silence confirms it and the neighbour goes."""
        nib = self.nib
        if short in self.leaving:
            nib.count("leave_unconfirmed_already")
            return
        nib.count("leave_unconfirmed")
        self.leaving[short] = nib.clock.callLater(ROUTER_AGE_LIMIT * LINK_STATUS_PERIOD + LINK_STATUS_JITTER,
                                                  self._router_leave_due, short, nb, self.last_heard.get(short))

    def _router_leave_due(self, short: int, nb: Neighbor, heard: float | None) -> None:
        self.leaving.pop(short, None)
        nib = self.nib
        if nib.neighbors.get(short) is not nb:
            return  # replaced meanwhile
        if self.last_heard.get(short) != heard:
            nib.count("leave_refuted")
            return
        del nib.neighbors[short]
        self.outgoing_cost.pop(short, None)
        self.last_heard.pop(short, None)
        nib.count("neighbor_left")

    # ---------------------------------------------------------------- NWK commands

    def on_command(self, frame, broadcast: bool) -> None:
        """A NWK command frame for us (secured frames only reach here)."""
        nib = self.nib
        if not frame.security:
            nib.count("nwk_command_unsecured")
            return
        cmd = _nwk.decode_nwk_command(frame.payload)
        if isinstance(cmd, _nwk.LinkStatus):
            if nib.role == ROLE_END_DEVICE:
                return
            src = frame.src
            known = nib.neighbors.get(src)
            if known is not None and known.child and not known.rx_on:
                # our sleepy child is an end device, and end devices never send Link Status
                # (3.4.8): one in its name is forged
                nib.count("link_status_from_end_device")
                return
            if src not in nib.neighbors:
                eui = nib.eui_of(src)
                if eui is None or not nib.addresses.authenticated(eui):
                    # (a neighbour only when its address is known from its link key: a Link
                    # Status from a made-up identity must not grow the neighbour table)
                    nib.count("link_status_unknown_sender")
                    return
                nib.neighbors[src] = Neighbor(eui, src, True, False)
            self.last_heard[src] = nib.clock.seconds()
            for entry in cmd.entries:
                if entry.address == nib.short:
                    self.outgoing_cost[src] = entry.incoming_cost
                    break
            else:
                self.outgoing_cost[src] = 0
            return
        if isinstance(cmd, _nwk.EndDeviceTimeoutRequest):
            nb = nib.neighbors.get(frame.src)
            if broadcast or nb is None or not nb.child:
                nib.count("end_device_timeout_not_child")
                return
            valid = 0 <= cmd.requested_timeout < len(END_DEVICE_TIMEOUT_MINUTES)
            if valid:
                self.child_timeouts[frame.src] = cmd.requested_timeout
            self.nwk.send(frame.src, _nwk.encode_nwk_command(_nwk.EndDeviceTimeoutResponse(
                0x00 if valid else 0x01, PARENT_INFO_MAC_DATA_POLL_KEEPALIVE)),
                frame_type=_nwk.NWK_FRAME_COMMAND, radius=1)
            return
        if isinstance(cmd, _nwk.EndDeviceTimeoutResponse):
            if frame.src == nib.parent and not broadcast:
                self.timeout_response = cmd
            return
        if isinstance(cmd, _nwk.Leave) and not cmd.rejoin:
            nb = nib.neighbors.get(frame.src)
            if nb is not None and not nb.child:
                # (a child's Leave is the trust centre's to weigh: L{forget_child} once confirmed)
                self._router_leave(frame.src, nb)
                return
        if self.other is not None:
            self.other(frame, cmd, broadcast)
            return
        nib.count("nwk_command_ignored")
