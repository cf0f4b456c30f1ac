"""The trust centre of a Smart Energy HAN (ZigBee PRO 05-3474 4.6.3, ZSE 5.4 with the SE rule
that the preconfigured link key comes from the install code; the CH is coordinator and TC).

 - association is decided by C{authorize(eui) -> link key or None} (the CHF's device log);
   a device that joins again has its incoming frame counters forgotten (4.6.3.3: it may have
   restarted them) and keeps its short address;
 - once the Association Response has gone out (MLME-COMM-STATUS) the network key goes to the
   joiner in an APS Transport Key secured with the key-transport key of its link key, NWK
   unsecured; the TC then waits for the joiner's Device_annce;
 - Request Key for an application link key (4.4.9.5, key type 2 with the partner's EUI-64)
   from a joined device: a fresh key to both partners in Transport Keys (4.4.9.2).

One L{JoinSession} machine (automat typed builder) per joining device:

    associating --delivered--> key_sent --announced--> joined
    key_sent (timer TC_ANNOUNCE_TIMEOUT) --timeout--> no_announce
    any --abandon--> gone          (the device associated again: a new session replaces it)

Outcomes reach C{on_device_joined(eui, short, outcome)}: C{"joined"}, C{"denied"},
C{"no_announce"}.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Protocol

from automat import TypeMachineBuilder

from protocols.ieee802154.commands import CAP_RX_ON_WHEN_IDLE
from protocols.zigbee import aps as _aps
from protocols.zigbee.nib import Neighbor, Nib
from protocols.zigbee.security import KEY_ID_KEY_TRANSPORT

TC_ANNOUNCE_TIMEOUT = 20.0  # s the TC waits for Device_annce after sending the key
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


class _Timed:
    __slots__ = ("timer",)

    def __init__(self, timer) -> None:
        self.timer = timer

    def cancel(self) -> None:
        if self.timer is not None and self.timer.active():
            self.timer.cancel()
        self.timer = None


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


class TrustCenter:
    """The TC role of the coordinator.  See the module docstring.

    @param send_command: the APS layer's C{send_command}.
    """

    def __init__(self, nib: Nib, send_command: Callable[..., None], *, authorize: Callable[[int], bytes | None],
                 on_device_joined: Callable[[int, int, str], None]) -> None:
        self.nib = nib
        self.send_command = send_command
        self.authorize = authorize
        self.on_device_joined = on_device_joined
        self.sessions: dict[int, JoinSessionInputs] = {}

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
        nib.neighbors[short] = Neighbor(ext_addr, short, bool(capability & CAP_RX_ON_WHEN_IDLE), True)
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
