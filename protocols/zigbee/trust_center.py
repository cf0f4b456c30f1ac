"""The trust centre of a Smart Energy HAN (ZigBee PRO 05-3474 4.6.3, ZSE 5.4 with the SE rule
that the preconfigured link key comes from the install code; the CH is coordinator and TC).

 - association is decided by C{authorize(eui) -> link key or None} (the CHF's device log);
   a device that joins again has its incoming frame counters forgotten (4.6.3.3: it may have
   restarted them) and keeps its short address;
 - once the Association Response has gone out (MLME-COMM-STATUS) the network key goes to the
   joiner in an APS Transport Key secured with the key-transport key of its link key, NWK
   unsecured; the TC then waits for the joiner's Device_annce;
 - Request Key for an application link key (4.4.9.5, key type 2 with the partner's EUI-64)
   from a joined device: a fresh key to both partners in Transport Keys (4.4.9.2), once both
   have their final TC link key (C{link_key_established}: SE key establishment done);
 - network key update (4.6.3.4): the new key goes to each joined device in a unicast
   Transport Key (APS-secured with the key-transport key of its link key, NWK-secured with the
   current key), then a Switch Key; a sleepy device gets both when it is next heard.  Once every
   device has acknowledged its Switch Key the trust centre switches too (until then it keeps
   sending with the old key, which every device still holds).
 - NWK Leave of a child (3.4.4, 3.6.1.10.3): the command carries network-key security only, so
   any device holding that key can send it in the child's name (MAC source spoofed too).  The
   hub does not drop a child on the word of such a frame: the child's entry stays, unchanged,
   while the Leave is confirmed (L{PendingLeave}, at most one per child).  An rx-on child is
   asked for its EUI-64 (IEEE_addr_req, up to L{LEAVE_PROBES} times, L{LEAVE_PROBE_INTERVAL}
   apart after each unanswered one); a sleepy child is given
   its End Device Timeout.  Its answer, or any NWK data frame from it (a frame its link key
   authenticates, or one only NWK-secured: keeping a child is never the unsafe side) refutes the
   Leave (counted C{leave_refuted}, nothing changes); silence confirms it (C{device_left}).
 - Rejoin Request (3.6.1.4.2): how a device listens (rx-on when idle) was settled when it
   associated; a NWK-secured Rejoin Request does not change it (C{rejoin_capability_kept}).

One L{JoinSession} machine (automat typed builder) per joining device:

    associating --delivered--> key_sent --announced--> joined
    key_sent (timer TC_ANNOUNCE_TIMEOUT) --timeout--> no_announce
    any --abandon--> gone          (the device associated again: a new session replaces it)

Outcomes reach C{on_device_joined(eui, short, outcome)}: C{"joined"}, C{"denied"},
C{"no_announce"}.

One L{KeyUpdate} machine (automat typed builder) per device during a network key update:

    waiting --send_now--> sending_key --delivered--> sending_switch --delivered--> switched
    sending_key / sending_switch --undelivered--> waiting   (send_now again when it is heard)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Protocol

from automat import TypeMachineBuilder

from protocols.ieee802154.commands import CAP_RX_ON_WHEN_IDLE
from protocols.zigbee import aps as _aps
from protocols.zigbee.nib import Neighbor, Nib
from protocols.zigbee.security import KEY_ID_KEY_TRANSPORT
from protocols._statetimer import StateTimer as _Timed

TC_ANNOUNCE_TIMEOUT = 20.0  # s the TC waits for Device_annce after sending the key
#: IEEE_addr_req probes of an rx-on child whose NWK Leave is unconfirmed, before it counts as gone
LEAVE_PROBES = 5
#: s between an unanswered probe and the next (spread out: a burst of traffic or loss is no proof)
LEAVE_PROBE_INTERVAL = 10.0
#: Request Key key types for an application link key (4.4.9.5.1: 2; 3 is accepted from older stacks)
REQUEST_KEY_APP_TYPES = (_aps.KEY_TYPE_APP_MASTER, _aps.KEY_TYPE_APP_LINK)


class SessionLower(Protocol):
    """What a join session drives (the L{TrustCenter})."""

    def send_network_key(self, eui: int, short: int) -> None: ...
    def device_joined(self, eui: int, short: int, outcome: str) -> None: ...
    def count(self, reason: str) -> None: ...


class JoinSessionInputs(Protocol):
    def delivered(self, status: int) -> None:
        "MLME-COMM-STATUS for the Association Response (0: acknowledged)."

    def announced(self) -> None:
        "The joiner's Device_annce arrived (NWK-secured: it has the key)."

    def timeout(self) -> None:
        "The state's timer expired."

    def abandon(self) -> None:
        "The device associated again; this session ends without an outcome."


@dataclass
class JoinSessionCore:
    clock: Any
    lower: SessionLower
    eui: int
    short: int


def _build():
    b = TypeMachineBuilder(JoinSessionInputs, JoinSessionCore)

    def announce_timer(inputs: JoinSessionInputs, core: JoinSessionCore, status: int) -> _Timed:
        return _Timed(core.clock.callLater(TC_ANNOUNCE_TIMEOUT, inputs.timeout))

    associating = b.state("associating")
    key_sent = b.state("key_sent", announce_timer)
    joined = b.state("joined")
    no_announce = b.state("no_announce")
    gone = b.state("gone")

    @associating.upon(JoinSessionInputs.delivered).to(key_sent)
    def send_key(inputs: JoinSessionInputs, core: JoinSessionCore, status: int) -> None:
        if status != 0:
            # the joiner may have heard the response although its ack was lost: send the key
            # anyway (a joiner that did not hear it times out and tries again)
            core.lower.count("assoc_response_unacknowledged")
        core.lower.send_network_key(core.eui, core.short)

    @key_sent.upon(JoinSessionInputs.announced).to(joined)
    def joined_(inputs: JoinSessionInputs, core: JoinSessionCore, data: _Timed) -> None:
        data.cancel()
        core.lower.device_joined(core.eui, core.short, "joined")

    @key_sent.upon(JoinSessionInputs.timeout).to(no_announce)
    def silent(inputs: JoinSessionInputs, core: JoinSessionCore, data: _Timed) -> None:
        data.cancel()
        core.lower.count("join_no_announce")
        core.lower.device_joined(core.eui, core.short, "no_announce")

    @key_sent.upon(JoinSessionInputs.abandon).to(gone)
    def abandon_timed(inputs: JoinSessionInputs, core: JoinSessionCore, data: _Timed) -> None:
        data.cancel()

    key_sent.upon(JoinSessionInputs.delivered, nodata=True).loop().returns(None)
    for state in (associating, joined, no_announce):
        state.upon(JoinSessionInputs.abandon).to(gone).returns(None)
    for state in (associating, joined, no_announce, gone):
        state.upon(JoinSessionInputs.announced).loop().returns(None)
        state.upon(JoinSessionInputs.timeout).loop().returns(None)
    for state in (joined, no_announce, gone):
        state.upon(JoinSessionInputs.delivered).loop().returns(None)
    gone.upon(JoinSessionInputs.abandon).loop().returns(None)
    return b.build()


JoinSession = _build()


class PendingLeave:
    """An unconfirmed NWK Leave of one child (see the module docstring)."""

    __slots__ = ("eui", "timer", "probes")

    def __init__(self, eui: int) -> None:
        self.eui = eui
        self.timer = None  # the End Device Timeout of a sleepy child, or the next probe
        self.probes = 0  # IEEE_addr_req sent to an rx-on child


class TrustCenter:
    """The TC role of the coordinator.  See the module docstring.

    @param send_command: the APS layer's C{send_command}.
    """

    def __init__(self, nib: Nib, send_command: Callable[..., None], *, authorize: Callable[[int], bytes | None],
                 on_device_joined: Callable[[int, int, str], None],
                 link_key_established: Callable[[int], bool] | None = None,
                 probe: Callable[[int, Callable[[int | None], None]], None] | None = None,
                 child_timeout: Callable[[int], float] | None = None,
                 child_gone: Callable[[int], None] | None = None) -> None:
        self.nib = nib
        #: C{probe(short, on_answer)}: ask the node at C{short} for its EUI-64 (None: no answer)
        self.probe = probe
        #: C{child_timeout(short)}: seconds a sleepy child may stay silent
        self.child_timeout = child_timeout
        #: C{child_gone(short)}: a child has left for good (its housekeeping state goes)
        self.child_gone = child_gone
        #: short -> the unconfirmed Leave of that child
        self.leaving: dict[int, PendingLeave] = {}
        #: EUI-64 -> rx-on-when-idle as it associated (the device log's view of how it listens)
        self.rx_on: dict[int, bool] = {}
        self.link_key_established = link_key_established
        self.send_command = send_command
        self.authorize = authorize
        self.on_device_joined = on_device_joined
        self.sessions: dict[int, JoinSessionInputs] = {}
        self.key_update: NetworkKeyUpdate | None = None

    # SessionLower
    def count(self, reason: str) -> None:
        self.nib.count(reason)

    def device_joined(self, eui: int, short: int, outcome: str) -> None:
        self.sessions.pop(eui, None)
        self.on_device_joined(eui, short, outcome)

    def send_network_key(self, eui: int, short: int) -> None:
        nib = self.nib
        cmd = _aps.TransportKey(_aps.KEY_TYPE_STANDARD_NETWORK, nib.network_key, key_seq=nib.key_seq,
                                dst_ieee=eui, src_ieee=nib.eui64)
        self.send_command(short, eui, cmd, key_id=KEY_ID_KEY_TRANSPORT, nwk_secure=False, ack=False)

    # inputs from the MAC / ZDO / APS
    def associate_indication(self, ext_addr: int, capability: int) -> tuple[int, int]:
        """MLME-ASSOCIATE.indication: (short address, status) for the response."""
        nib = self.nib
        link_key = self.authorize(ext_addr)
        if link_key is None:
            nib.count("join_denied")
            self.on_device_joined(ext_addr, 0xFFFF, "denied")
            return 0xFFFF, 2  # PAN access denied
        short = nib.short_of(ext_addr)
        if short is None:
            while True:
                short = nib.rng.randrange(0x0001, 0xFFF8)
                if short not in nib.addresses and short != nib.short:
                    break
        nib.set_link_key(ext_addr, link_key)
        nib.addresses.set(short, ext_addr)
        self._settle_leave(short)
        self.rx_on[ext_addr] = bool(capability & CAP_RX_ON_WHEN_IDLE)
        nib.neighbors[short] = Neighbor(ext_addr, short, self.rx_on[ext_addr], True)
        # a device that joins again may have restarted its frame counters
        nib.counters.reset_sender(ext_addr)
        old = self.sessions.pop(ext_addr, None)
        if old is not None:
            old.abandon()
        self.sessions[ext_addr] = JoinSession(JoinSessionCore(nib.clock, self, ext_addr, short))
        return short, 0

    def comm_status(self, ext_addr: int, status: int) -> None:
        session = self.sessions.get(ext_addr)
        if session is not None:
            session.delivered(status)

    def announced(self, short: int, ieee: int) -> None:
        session = self.sessions.get(ieee)
        if session is not None:
            session.announced()

    def rejoin_request(self, src_short: int, src_ieee: int | None, capability: int, respond) -> None:
        """A secured NWK Rejoin Request (3.6.1.4.2): the sender holds the network key; a device
        in the device log keeps its address and is answered C{respond(short, 0)}."""
        nib = self.nib
        eui = src_ieee if src_ieee is not None else nib.eui_of(src_short)
        if eui is None or eui not in nib.link_keys or self.authorize(eui) is None:
            nib.count("rejoin_refused")
            return
        short = nib.short_of(eui)
        if short is None:
            short = src_short
            nib.addresses.set(short, eui)
        rx_on = bool(capability & CAP_RX_ON_WHEN_IDLE)
        nb = nib.neighbors.get(short)
        settled = nb.rx_on if nb is not None and nb.eui == eui and nb.child else self.rx_on.get(eui)
        if settled is not None and settled != rx_on:
            # how a child listens was settled when it associated; a Rejoin Request (NWK
            # security only: anyone may send one in its name) does not turn a sleepy child
            # into one that is sent to directly, or the other way round
            nib.count("rejoin_capability_kept")
            rx_on = settled
        nib.neighbors[short] = Neighbor(eui, short, rx_on, True)
        nib.count("rejoin")
        respond(short, 0)

    def left(self, src_short: int, rejoin: bool) -> None:
        """A NWK Leave from a device: without rejoin it is off the network once confirmed (its
        entry in the device log stays: it may join again through association).  See the
        module docstring."""
        if rejoin:
            return
        nib = self.nib
        nb = nib.neighbors.get(src_short)
        if nb is None or not nb.child:
            nib.count("leave_not_child")
            return
        if src_short in self.leaving:
            nib.count("leave_unconfirmed_already")
            return
        pending = self.leaving[src_short] = PendingLeave(nb.eui)
        nib.count("leave_unconfirmed")
        if nb.rx_on and self.probe is not None:
            self._probe(src_short, pending)
        elif not nb.rx_on and self.child_timeout is not None:
            pending.timer = nib.clock.callLater(self.child_timeout(src_short), self._confirm_leave, src_short, pending)
        else:
            self._confirm_leave(src_short, pending)

    def _probe(self, short: int, pending: PendingLeave) -> None:
        if self.leaving.get(short) is not pending:
            return
        pending.timer = None
        pending.probes += 1
        self.probe(short, lambda eui: self._probe_answer(short, pending, eui))

    def _probe_answer(self, short: int, pending: PendingLeave, eui: int | None) -> None:
        if self.leaving.get(short) is not pending:
            return  # settled meanwhile
        if eui == pending.eui:
            self._settle_leave(short)
            self.nib.count("leave_refuted")
        elif pending.probes < LEAVE_PROBES:
            pending.timer = self.nib.clock.callLater(LEAVE_PROBE_INTERVAL, self._probe, short, pending)
        else:
            self._confirm_leave(short, pending)

    def _confirm_leave(self, short: int, pending: PendingLeave) -> None:
        if self.leaving.get(short) is not pending:
            return
        del self.leaving[short]
        nib = self.nib
        nb = nib.neighbors.get(short)
        if nb is None or nb.eui != pending.eui:
            return  # the address went to another device meanwhile (it associated again)
        del nib.neighbors[short]
        if self.child_gone is not None:
            self.child_gone(short)
        session = self.sessions.pop(nb.eui, None)
        if session is not None:
            session.abandon()
        nib.count("device_left")

    def _settle_leave(self, short: int) -> None:
        """The unconfirmed Leave of the child at C{short} (if any) is over: the child is here."""
        pending = self.leaving.pop(short, None)
        if pending is not None and pending.timer is not None and pending.timer.active():
            pending.timer.cancel()

    def authenticated(self, eui: int) -> None:
        """A frame that C{eui}'s link key authenticated arrived: an unconfirmed Leave in its
        name is refuted."""
        self._alive(eui)

    def _alive(self, eui: int) -> None:
        # (removing a child needs its silence; any sign of life, even one only NWK-secured that
        # someone else may have sent in its name, keeps it: keeping is never the unsafe side)
        if not self.leaving:
            return
        short = self.nib.short_of(eui)
        pending = self.leaving.get(short) if short is not None else None
        if pending is not None and pending.eui == eui:
            self._settle_leave(short)
            self.nib.count("leave_refuted")

    def update_network_key(self, key: bytes) -> int:
        """Start a network key update to C{key}; return its key sequence number."""
        nib = self.nib
        seq = (nib.key_seq + 1) & 0xFF
        nib.add_network_key(key, seq)
        nib.key_sink(key, f"network key #{seq}")
        devices = [(eui, short, nb.rx_on) for short, nb in sorted(nib.neighbors.items())
                   if (eui := nib.addresses.eui_of(short)) is not None and eui in nib.link_keys
                   and eui not in self.sessions]
        self.key_update = NetworkKeyUpdate(nib, self.send_command, key, seq, self._key_update_complete)
        nib.count("network_key_update")
        self.key_update.start(devices)
        return seq

    def _key_update_complete(self, key_seq: int) -> None:
        self.nib.switch_network_key(key_seq)
        self.key_update = None

    def heard(self, eui: int) -> None:
        """A frame from C{eui} passed security (a sleepy device is awake now)."""
        if self.key_update is not None:
            self.key_update.heard(eui)
        self._alive(eui)

    def request_key(self, requester_short: int, requester_eui: int, cmd: _aps.RequestKey) -> None:
        nib = self.nib
        if cmd.key_type not in REQUEST_KEY_APP_TYPES or cmd.partner_ieee is None:
            nib.count("request_key_unsupported")
            return
        partner = cmd.partner_ieee
        partner_short = nib.short_of(partner)
        if partner_short is None or partner not in nib.link_keys or requester_eui not in nib.link_keys:
            nib.count("request_key_unknown_partner")
            return
        if self.link_key_established is not None and not (
                self.link_key_established(requester_eui) and self.link_key_established(partner)):
            # SE: no application link key for a device still on its install-code key
            nib.count("request_key_before_cbke")
            return
        key = bytes(nib.rng.getrandbits(8) for _ in range(16))
        names = sorted((f"{requester_eui:016X}", f"{partner:016X}"))
        nib.key_sink(key, f"application link key {names[0]}-{names[1]}")
        self.send_command(requester_short, requester_eui,
                          _aps.TransportKey(_aps.KEY_TYPE_APP_LINK, key, partner_ieee=partner, initiator=True),
                          key_id=KEY_ID_KEY_TRANSPORT)
        self.send_command(partner_short, partner,
                          _aps.TransportKey(_aps.KEY_TYPE_APP_LINK, key, partner_ieee=requester_eui,
                                            initiator=False),
                          key_id=KEY_ID_KEY_TRANSPORT)


class KeyUpdateLower(Protocol):
    def send_new_key(self, eui: int, on_done: Callable[[bool], None]) -> None: ...
    def send_switch(self, eui: int, on_done: Callable[[bool], None]) -> None: ...
    def device_switched(self, eui: int) -> None: ...


class KeyUpdateInputs(Protocol):
    def send_now(self) -> None:
        "The device can be reached now (rx-on, or a sleepy device that was just heard)."

    def delivered(self) -> None:
        "The last command was acknowledged."

    def undelivered(self) -> None:
        "The last command was not acknowledged."


@dataclass
class KeyUpdateCore:
    lower: KeyUpdateLower
    eui: int


def _build_key_update():
    b = TypeMachineBuilder(KeyUpdateInputs, KeyUpdateCore)
    waiting = b.state("waiting")
    sending_key = b.state("sending_key")
    sending_switch = b.state("sending_switch")
    switched = b.state("switched")

    @waiting.upon(KeyUpdateInputs.send_now).to(sending_key)
    def send_key(inputs: KeyUpdateInputs, core: KeyUpdateCore) -> None:
        core.lower.send_new_key(core.eui, lambda ok: inputs.delivered() if ok else inputs.undelivered())

    @sending_key.upon(KeyUpdateInputs.delivered).to(sending_switch)
    def send_switch(inputs: KeyUpdateInputs, core: KeyUpdateCore) -> None:
        core.lower.send_switch(core.eui, lambda ok: inputs.delivered() if ok else inputs.undelivered())

    @sending_switch.upon(KeyUpdateInputs.delivered).to(switched)
    def done(inputs: KeyUpdateInputs, core: KeyUpdateCore) -> None:
        core.lower.device_switched(core.eui)

    sending_key.upon(KeyUpdateInputs.undelivered).to(waiting).returns(None)
    sending_switch.upon(KeyUpdateInputs.undelivered).to(waiting).returns(None)
    for state, names in ((waiting, ("delivered", "undelivered")), (sending_key, ("send_now",)),
                         (sending_switch, ("send_now",)), (switched, ("send_now", "delivered", "undelivered"))):
        for name in names:
            state.upon(getattr(KeyUpdateInputs, name)).loop().returns(None)
    return b.build()


KeyUpdate = _build_key_update()


class NetworkKeyUpdate:
    """One network key update run by the trust centre (see the module docstring)."""

    def __init__(self, nib: Nib, send_command: Callable[..., None], key: bytes, key_seq: int,
                 on_complete: Callable[[int], None]) -> None:
        self.nib = nib
        self.send_command = send_command
        self.key = key
        self.key_seq = key_seq
        self.on_complete = on_complete
        self.devices: dict[int, KeyUpdateInputs] = {}
        self.switched: set[int] = set()

    def start(self, devices: list[tuple[int, int, bool]]) -> None:
        """C{devices}: (EUI-64, short, rx on when idle) of every joined device."""
        for eui, short, rx_on in devices:
            self.devices[eui] = KeyUpdate(KeyUpdateCore(self, eui))
        for eui, short, rx_on in devices:
            if rx_on:
                self.devices[eui].send_now()
        if not devices:
            self.on_complete(self.key_seq)

    def heard(self, eui: int) -> None:
        machine = self.devices.get(eui)
        if machine is not None:
            machine.send_now()

    # KeyUpdateLower
    def send_new_key(self, eui: int, on_done: Callable[[bool], None]) -> None:
        short = self.nib.short_of(eui)
        if short is None:
            on_done(False)
            return
        cmd = _aps.TransportKey(_aps.KEY_TYPE_STANDARD_NETWORK, self.key, key_seq=self.key_seq, dst_ieee=eui,
                                src_ieee=self.nib.eui64)
        self.send_command(short, eui, cmd, key_id=KEY_ID_KEY_TRANSPORT, on_done=on_done)

    def send_switch(self, eui: int, on_done: Callable[[bool], None]) -> None:
        short = self.nib.short_of(eui)
        if short is None:
            on_done(False)
            return
        self.send_command(short, eui, _aps.SwitchKey(self.key_seq), on_done=on_done)

    def device_switched(self, eui: int) -> None:
        self.switched.add(eui)
        if len(self.switched) == len(self.devices):
            self.on_complete(self.key_seq)
