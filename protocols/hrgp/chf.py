"""CHF message routing and the queue for sleepy devices: sans-IO.

Implements the Communications Hub Function's part of moving remote-party GBCS messages
(C{spec/e2e-technical-architecture.txt}: CHF, GPF, HAN; C{spec/gbcs-wire-format.md} 6):

  - a message from the WAN goes to the device whose EUI-64 is the business recipient id of
    its grouping header (the recipient system title): the CHF or GPF itself (delivered
    locally), or a device of the CHF's device log on the HAN;
  - a device whose receiver is on (ESME) gets the message pushed at once through its
    tunnel (PUT); while it has no tunnel the message waits in its queue;
  - a sleepy device (GSME) gets nothing pushed: its messages wait in its queue until it
    wakes and GETs them, one per GET, with the number still waiting;
  - a message larger than one tunnel command carries (1,500 octets) is queued as its GBT
    blocks (L{protocols.hrgp.gbt}), pushed or retrieved one after the other;
  - every queue is bounded and every queued message expires.  A message that does not fit
    is refused (the ones already accepted stay), and one that expires is dropped; for a
    GSME both raise the CHF alert 0x819D "GSME Command Not Retrieved";
  - messages from devices (PUT: responses and alerts) and the CHF's own alerts go up to the
    WAN side through one callable, unless their recipient is another device on the HAN; a
    device may only send messages that name it as their business originator.

Nothing here reads a clock or touches the network: the clock is injected and every
output is a callable the host provides.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from protocols.errors import CodecError
from protocols.gbcs.framing import decode_frame
from protocols.hrgp.codec import MAX_GBCS_MESSAGE
from protocols.hrgp.gbt import split_message

__all__ = ["ChfRouter", "QueuedMessage", "ALERT_GSME_COMMAND_NOT_RETRIEVED", "DEFAULT_QUEUE_LIMIT",
           "DEFAULT_QUEUE_EXPIRY"]

#: GBCS alert code raised by the CHF when a command for a GSME is not retrieved
ALERT_GSME_COMMAND_NOT_RETRIEVED = 0x819D
#: messages held per device (the reference CH holds 32)
DEFAULT_QUEUE_LIMIT = 32
#: seconds a queued message is held before it expires
DEFAULT_QUEUE_EXPIRY = 86400.0


@dataclass(frozen=True, slots=True)
class QueuedMessage:
    """A remote-party message held for a device.

    @ivar message: the GBCS message bytes, as received.
    @ivar recipient: the business recipient id (the device's EUI-64).
    @ivar originator / originator_counter / message_code / cra_flag: from its grouping header.
    @ivar deadline: clock time at which it expires.
    """
    message: bytes
    recipient: int
    originator: int
    originator_counter: int
    message_code: int
    cra_flag: int
    deadline: float


#: outcomes that are drops or failures (also passed to C{count}); the rest are events
_DROPS = frozenset({"get_unknown_device", "malformed", "unknown_recipient", "queue_full", "expired", "push_failed",
                    "retrieval_failed", "upward_malformed", "upward_wrong_originator"})


class _DeviceQueue:
    __slots__ = ("eui", "sleepy", "kind", "items", "timer", "in_flight")

    def __init__(self, eui: int, sleepy: bool, kind: str) -> None:
        self.eui = eui
        self.sleepy = sleepy
        self.kind = kind
        # a list, not a deque: a few messages at most (queue_limit), and an empty deque costs
        # 760 bytes per device against 56
        self.items: list[QueuedMessage] = []
        self.timer: Any = None
        self.in_flight: QueuedMessage | None = None


class ChfRouter:
    """Routes GBCS messages between the WAN side, the CHF/GPF and the devices on the HAN.

    @param clock: C{IReactorTime}.
    @param chf_eui / gpf_eui: the hub's own business ids (messages to them are local).
    @param deliver_local: C{deliver_local(recipient_eui, message)} for the CHF or the GPF.
    @param push: C{push(eui, message, on_done)} sends a message to an rx-on device through its
        tunnel; returns C{False} at once when it has no tunnel, else calls C{on_done(ok)} later.
    @param to_wan: C{to_wan(message)} sends a GBCS message up to the WAN side.
    @param alert: C{alert(alert_code, queued)} asks the CHF to raise a GBCS alert about C{queued}.
    @param count: counts a named event or drop.
    """

    def __init__(self, clock, chf_eui: int, gpf_eui: int | None, *,
                 deliver_local: Callable[[int, bytes], None],
                 push: Callable[[int, bytes, Callable[[bool], None]], bool],
                 to_wan: Callable[[bytes], None], alert: Callable[[int, QueuedMessage], None],
                 count: Callable[[str], None] = lambda name: None,
                 queue_limit: int = DEFAULT_QUEUE_LIMIT, expiry: float = DEFAULT_QUEUE_EXPIRY,
                 retry_interval: float = 30.0) -> None:
        if queue_limit < 1 or expiry <= 0:
            raise ValueError("queue_limit must be >= 1 and expiry > 0")
        self.clock = clock
        self.chf_eui = chf_eui
        self.gpf_eui = gpf_eui
        self.deliver_local = deliver_local
        self.push = push
        self.to_wan = to_wan
        self.alert = alert
        self.count = count
        self.queue_limit = queue_limit
        self.expiry = expiry
        self.retry_interval = retry_interval
        self.queues: dict[int, _DeviceQueue] = {}
        self.outcomes: dict[str, int] = {}

    # ------------------------------------------------------------------ device log

    def add_device(self, eui: int, *, sleepy: bool, kind: str = "") -> None:
        """A device joined the CHF's device log (its messages are routed from now on)."""
        if eui not in self.queues:
            self.queues[eui] = _DeviceQueue(eui, sleepy, kind)

    def pending(self, eui: int) -> int:
        """Messages waiting for device C{eui} (including one being pushed: it stays at the head)."""
        q = self.queues.get(eui)
        return 0 if q is None else len(q.items)

    def _outcome(self, name: str) -> str:
        self.outcomes[name] = self.outcomes.get(name, 0) + 1
        if name in _DROPS:
            self.count(f"chf_{name}")
        return name

    # ------------------------------------------------------------------ from the WAN

    def from_wan(self, message: bytes) -> str:
        """Route one remote-party message; returns the outcome (C{local}, C{pushed}, C{queued},
        C{malformed}, C{unknown_recipient}, C{queue_full})."""
        try:
            gs = decode_frame(message).signing
        except CodecError:
            return self._outcome("malformed")
        return self._route(gs, message)

    def _route(self, gs, message: bytes) -> str:
        recipient = gs.recipient
        if recipient == self.chf_eui or (self.gpf_eui is not None and recipient == self.gpf_eui):
            self.deliver_local(recipient, message)
            return self._outcome("local")
        q = self.queues.get(recipient)
        if q is None:
            return self._outcome("unknown_recipient")
        # a message larger than one tunnel command carries goes as GBT blocks, one queue entry each
        parts = [bytes(message)] if len(message) <= MAX_GBCS_MESSAGE else split_message(message, MAX_GBCS_MESSAGE)
        deadline = self.clock.seconds() + self.expiry
        items = [QueuedMessage(part, recipient, gs.originator, gs.originator_counter, gs.message_code,
                               gs.cra_flag, deadline) for part in parts]
        if len(q.items) + len(items) > self.queue_limit:
            if q.sleepy:
                self.alert(ALERT_GSME_COMMAND_NOT_RETRIEVED, items[0])
            return self._outcome("queue_full")
        q.items.extend(items)
        self._arm(q)
        if not q.sleepy:
            self._push_next(q)
            return self._outcome("pushed" if q.in_flight is items[0] else "queued")
        return self._outcome("queued")

    # ------------------------------------------------------------------ to the devices

    def get(self, eui: int) -> tuple[QueuedMessage | None, int]:
        """A device sent GET: its next message (or C{None}) and how many remain after it.

        The message leaves the queue; if the GET-RESPONSE carrying it is not delivered, the
        host gives it back with L{retrieval_failed} so nothing accepted is lost.
        """
        q = self.queues.get(eui)
        if q is None:
            self._outcome("get_unknown_device")
            return None, 0
        self._expire(q)
        if not q.items:
            return None, 0
        item = q.items.pop(0)
        self._arm(q)
        self._outcome("retrieved")
        return item, len(q.items)

    def retrieval_failed(self, eui: int, item: QueuedMessage) -> None:
        """The GET-RESPONSE carrying C{item} was not delivered: it goes back to the head of the queue."""
        q = self.queues.get(eui)
        if q is None:
            return
        self._outcome("retrieval_failed")
        q.items.insert(0, item)
        self._expire(q)
        self._arm(q)

    def tunnel_opened(self, eui: int) -> None:
        """Device C{eui} has a tunnel now: push what waits for it (rx-on devices)."""
        q = self.queues.get(eui)
        if q is not None and not q.sleepy:
            self._push_next(q)

    def _push_next(self, q: _DeviceQueue) -> None:
        self._expire(q)
        if q.in_flight is not None or not q.items:
            return
        item = q.items[0]
        q.in_flight = item

        def done(ok: bool) -> None:
            if q.in_flight is not item:
                return
            q.in_flight = None
            if ok:
                q.items.pop(0)
                self._outcome("delivered")
                self._arm(q)
                self._push_next(q)
            else:
                # kept at the head of the queue: tried again later, until it expires
                self._outcome("push_failed")
                self.clock.callLater(self.retry_interval, self._push_next, q)

        if not self.push(q.eui, item.message, done):
            q.in_flight = None

    # ------------------------------------------------------------------ from the devices

    def from_device(self, eui: int, message: bytes) -> str:
        """A device PUT a GBCS message: to another device of the HAN when that is its business
        recipient (routed as above), else up to the WAN side (responses, alerts).

        A device speaks only for itself: a message whose business originator is not the device
        that sent it (C{eui}, known from its link key) is dropped.
        """
        try:
            gs = decode_frame(message).signing
        except CodecError:
            return self._outcome("upward_malformed")
        if gs.originator != eui:
            return self._outcome("upward_wrong_originator")
        if gs.recipient in self.queues and gs.recipient != eui:
            return self._route(gs, message)
        self.to_wan(message)
        return self._outcome("upward")

    # ------------------------------------------------------------------ expiry

    def _arm(self, q: _DeviceQueue) -> None:
        """One timer per queue, at the deadline of its oldest message."""
        if q.timer is not None and q.timer.active():
            q.timer.cancel()
        q.timer = None
        if q.items:
            delay = max(0.0, q.items[0].deadline - self.clock.seconds())
            q.timer = self.clock.callLater(delay, self._expire_timer, q)

    def _expire_timer(self, q: _DeviceQueue) -> None:
        q.timer = None
        self._expire(q)
        self._arm(q)

    def _expire(self, q: _DeviceQueue) -> None:
        now = self.clock.seconds()
        while q.items and q.items[0].deadline <= now and q.items[0] is not q.in_flight:
            item = q.items.pop(0)
            self._outcome("expired")
            if q.sleepy:
                self.alert(ALERT_GSME_COMMAND_NOT_RETRIEVED, item)
