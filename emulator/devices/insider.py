"""INSIDER: a hostile device on the HAN, for security testing (topology C{kind: INSIDER}).

It joins like any device (install code, then CBKE with the CH unless the topology says
C{cbke: false}), so it holds the network key: what every joined device has.  From then on it
listens to every frame on the channel and learns what the network key reveals
(L{protocols.zigbee.attacks.HanKnowledge}), and from C{attack_start} (seconds after the start
of the run) for C{attack_duration} seconds it forges C{attack_rate} frames per second, cycling
through C{attack_classes} (default: all of L{protocols.zigbee.attacks.ATTACK_CLASSES}).  Each
forged frame is correct on the air (MAC FCS, NWK MIC under the network key, a frame counter the
receiver's replay check accepts), so it reaches the victim's handlers; what decides its fate is
the victim's APS security and trust rules.  Forgeries are deterministic under the run seed.

Frames go out with CSMA-CA (random backoff, clear channel assessment) on the insider's own
radio, with whatever MAC source address the forgery claims.  Classes that answer what was just
heard (forged ZDO responses, forged APS acks) are armed by their ticks and fire when a matching
request is heard.

The ledger: for every attack class, frames sent and what they caused, seen from the emulator
(this is an emulator feature: a real attacker sees only the air):

 - C{answered}: the victim sent a frame to the claimed source that was not protected by a
   link key (a reply mirroring the forged frame's security, a ZDO or NWK answer) within 1 s;
 - C{rejected}: the victim counted a drop while handling it;
 - C{state_changed}: the victim's protected state (L{emulator.devices.han_state}) differs
   after the frame;
 - C{error}: the victim's handler raised (C{rx_error}) or a scheduled call failed;
 - C{no_effect}: none of these; C{not_forgeable}: the class had nothing to aim at yet;
   C{channel_busy}: CSMA-CA gave up.

It is in the run summary and in C{smets_insider_frames_total{attack_class, outcome}}.
"""

from __future__ import annotations

from collections import Counter, deque

from emulator.devices.base import _EVENTS, CLUSTER_BASIC, PROFILE_SE, HanDevice
from emulator.devices.han_state import diff, protected_state
from emulator.rng import derive_rng
from protocols.zigbee.attacks import ATTACK_CLASSES, REACTIVE_CLASSES, Forger, Forgery, HanKnowledge
from protocols.zigbee.zdo import SimpleDescriptor

DEVICE_ID_INSIDER = 0x0507  # it poses as an In-Premises Display
INSIDER_ENDPOINT = 0x01
#: s after a forged frame ends on the air when its victim's state is compared
SETTLE = 0.02
#: s a victim has to answer a forged frame
ANSWER_WINDOW = 1.0
#: CSMA-CA of the injector (802.15.4: unit backoff 320 us, CCA 8 symbols, macMinBE 3, 4 backoffs)
_UNIT_BACKOFF = 0.00032
_CCA = 0.000128
_MIN_BE, _MAX_BE, _MAX_BACKOFFS = 3, 5, 4
#: forgeries waiting for the channel before the oldest is given up
_QUEUE_LIMIT = 32
#: (victim, claimed source) pairs waiting for answers before closed windows are swept
_ANSWER_KEYS = 256
#: reactive tokens a reactive class may hold
_MAX_TOKENS = 2
OUTCOMES = ("sent", "answered", "rejected", "state_changed", "error", "no_effect", "not_forgeable", "channel_busy")


_EVENT_NAMES = tuple(_EVENTS)


def _drops(node) -> int:
    """Everything the node counted that is not an event: drops (a rough total; it only has to grow)."""
    counts = node.counts
    return sum(counts.values()) - sum(counts[k] for k in _EVENT_NAMES if k in counts)


class _Pending:
    """A forged frame on its way: its victims' state before it, for the ledger."""

    __slots__ = ("cls", "forgery", "victims", "before", "drops", "errors", "clock_errors")

    def __init__(self, cls: str, forgery: Forgery) -> None:
        self.cls = cls
        self.forgery = forgery
        self.victims: list = []
        self.before: list = []
        self.drops: list[int] = []
        self.errors: list[int] = []
        self.clock_errors = 0


class Insider(HanDevice):
    """A device that holds the network key and attacks the HAN.  See the module docstring."""

    kind = "INSIDER"
    role = "router"
    rx_on_when_idle = True
    device_id = DEVICE_ID_INSIDER
    model = "emulated insider"

    def __init__(self, home, spec, seed) -> None:
        super().__init__(home, spec, seed)
        params = spec.params
        self.attack_classes: tuple[str, ...] = tuple(params.get("attack_classes", ATTACK_CLASSES))
        self.attack_rate = float(params.get("attack_rate", 10.0))
        self.attack_start = float(params.get("attack_start", 600.0))
        self.attack_duration = float(params.get("attack_duration", 3600.0))
        self.ledger: dict[str, Counter[str]] = {cls: Counter() for cls in self.attack_classes}
        #: per class, the parts of the victims' protected state its frames changed ("esme: neighbors": n)
        self.changed: dict[str, Counter[str]] = {cls: Counter() for cls in self.attack_classes}
        self._attack_rng = derive_rng(seed, home.spec.name, spec.name, "attacks")
        self._csma_rng = derive_rng(seed, home.spec.name, spec.name, "attacks", "csma")
        self.knowledge = HanKnowledge(self._network_key_for, self._own_short, self._pan_id)
        self.knowledge.listener = self._heard
        self.forger = Forger(self.knowledge, self._network_key, self._own_short, spec.eui64,
                             derive_rng(seed, home.spec.name, spec.name, "forger"))
        self._tick_index = 0
        self._tokens: Counter[str] = Counter()
        self._queue: deque[_Pending] = deque()
        self._busy = False
        self._answers: dict[tuple[int, int], deque[tuple[float, str]]] = {}
        self._tick_call = None
        self._attack_end: float | None = None
        self.attacking = False
        self._children: dict[str, object] = {}

    # ------------------------------------------------------------------ device

    def endpoint_descriptors(self) -> list[SimpleDescriptor]:
        return [SimpleDescriptor(INSIDER_ENDPOINT, PROFILE_SE, self.device_id, 0, (CLUSTER_BASIC,), ())]

    def start(self) -> None:
        self.add_server(INSIDER_ENDPOINT, CLUSTER_BASIC, self.basic_values(power_source=1))
        super().start()
        elapsed = self.clock.seconds() - self.home.start_time
        begin = max(0.0, self.attack_start - elapsed)
        self._attack_end = self.clock.seconds() + begin + self.attack_duration
        self.clock.callLater(begin, self._begin_attack)

    def frame_received(self, psdu: bytes) -> None:
        # everything on the channel is heard (a promiscuous radio), then the MAC filters as usual
        if self.stack is not None and self.stack.network_key is not None:
            self.knowledge.observe(psdu, self.clock.seconds())
        super().frame_received(psdu)

    def _network_key_for(self, key_seq: int) -> bytes | None:
        return self.stack.nib.network_keys.get(key_seq) if self.stack is not None else None

    def _network_key(self) -> tuple[bytes | None, int]:
        stack = self.stack
        if stack is None:
            return None, 0
        return stack.network_key, stack.key_seq

    def _own_short(self) -> int | None:
        return self.stack.short if self.stack is not None else None

    def _pan_id(self) -> int | None:
        return self.stack.pan_id if self.stack is not None else None

    # ------------------------------------------------------------------ the attack

    def _begin_attack(self) -> None:
        self.attacking = True
        self._tick()

    def _tick(self) -> None:
        now = self.clock.seconds()
        if now >= self._attack_end or not self.attack_classes:
            self.attacking = False
            self._tick_call = None
            return
        self._tick_call = self.clock.callLater(1.0 / self.attack_rate, self._tick)
        if self.stack is None or not self.stack.joined:
            return  # nothing to forge with until the network key is held
        cls = self.attack_classes[self._tick_index % len(self.attack_classes)]
        self._tick_index += 1
        if cls in REACTIVE_CLASSES and self._tokens[cls] < _MAX_TOKENS:
            self._tokens[cls] += 1  # armed: the next matching request heard is answered at once
            return
        self._forge(cls, now)

    def _forge(self, cls: str, now: float) -> None:
        forge = ATTACK_CLASSES[cls]
        rng = self._attack_rng
        forgery = forge(self.knowledge, self.forger, rng, now) if cls in REACTIVE_CLASSES \
            else forge(self.knowledge, self.forger, rng)
        if forgery is None:
            self._record(cls, "not_forgeable")
            return
        self._enqueue(_Pending(cls, forgery))

    def _heard(self, frame, head) -> None:
        """Every frame the insider decrypts: answers to earlier forgeries; reactive forgeries."""
        if self._answers and (head is None or not head.security or head.payload[:1] and head.payload[0] & 0x18):
            # a reply not protected by a link key (unsecured, key id 1, NWK command, ZDO)
            waiting = self._answers.get((frame.src, frame.dst))
            if waiting:
                now = self.clock.seconds()
                while waiting and waiting[0][0] < now:
                    waiting.popleft()
                if waiting:
                    self._record(waiting.popleft()[1], "answered")
        if not self.attacking or head is None:
            return
        for cls in ("forged_response", "zdo"):
            if self._tokens.get(cls) and self.knowledge.in_flight:
                kind = "aps" if cls == "forged_response" else "zdo"
                item = self.knowledge.in_flight[-1]
                if item.kind == kind:
                    self._tokens[cls] -= 1
                    self._forge(cls, self.clock.seconds())

    # ------------------------------------------------------------------ injection (CSMA-CA)

    def _enqueue(self, pending: _Pending) -> None:
        if len(self._queue) >= _QUEUE_LIMIT:
            self._record(self._queue.popleft().cls, "channel_busy")
        self._queue.append(pending)
        if not self._busy:
            self._next()

    def _next(self) -> None:
        if not self._queue or self.port is None or not self.port.attached:
            self._busy = False
            return
        self._busy = True
        self._backoff(self._queue.popleft(), _MIN_BE, 0)

    def _backoff(self, pending: _Pending, be: int, nb: int) -> None:
        delay = self._csma_rng.randrange(1 << be) * _UNIT_BACKOFF + _CCA
        self.clock.callLater(delay, self._cca, pending, be, nb)

    def _cca(self, pending: _Pending, be: int, nb: int) -> None:
        if self.port.channel_busy_since(self.clock.seconds() - _CCA):
            if nb >= _MAX_BACKOFFS:
                self._record(pending.cls, "channel_busy")
                self._next()
                return
            self._backoff(pending, min(be + 1, _MAX_BE), nb + 1)
            return
        self._snapshot(pending)
        airtime = self.port.transmit(pending.forgery.psdu)
        self._count("tx")
        self._record(pending.cls, "sent")
        if pending.forgery.victim < 0xFFF8:
            now = self.clock.seconds()
            answers = self._answers
            if len(answers) >= _ANSWER_KEYS:
                # forget the (victim, claimed) pairs whose window has closed (fresh identities)
                self._answers = answers = {k: q for k, q in answers.items() if q and q[-1][0] >= now}
            answers.setdefault((pending.forgery.victim, pending.forgery.claimed), deque()).append(
                (now + ANSWER_WINDOW, pending.cls))
        self.clock.callLater(airtime + SETTLE, self._settled, pending)

    def _victims(self, dst: int) -> list:
        out = []
        for node in self.home.nodes.values():
            if node is self or not node.powered or node.stack is None or node.stack.short is None:
                continue
            if dst >= 0xFFF8 or node.stack.short == dst:
                out.append(node)
        return out

    def _snapshot(self, pending: _Pending) -> None:
        pending.victims = self._victims(pending.forgery.victim)
        pending.before = [protected_state(v) for v in pending.victims]
        pending.drops = [_drops(v) for v in pending.victims]
        pending.errors = [v.counts["rx_error"] for v in pending.victims]
        pending.clock_errors = self._run_errors()

    def _settled(self, pending: _Pending) -> None:
        effect = False
        if self._run_errors() > pending.clock_errors or any(
                v.counts["rx_error"] > e for v, e in zip(pending.victims, pending.errors)):
            self._record(pending.cls, "error")
            effect = True
        changed = False
        for victim, before in zip(pending.victims, pending.before):
            after = protected_state(victim)
            if after != before:
                changed = True
                for part in diff(before, after):
                    self.changed[pending.cls][f"{victim.spec.name}: {part}"] += 1
        if changed:
            self._record(pending.cls, "state_changed")
            effect = True
        if any(_drops(v) > d for v, d in zip(pending.victims, pending.drops)):
            self._record(pending.cls, "rejected")
            effect = True
        if not effect:
            self._record(pending.cls, "no_effect")
        self._next()

    def _run_errors(self) -> int:
        """Scheduled calls and received-frame handlers of the home that raised so far."""
        return getattr(self.clock, "errors", 0) + getattr(self.home, "errors", 0)

    # ------------------------------------------------------------------ ledger

    def _record(self, cls: str, outcome: str) -> None:
        self.ledger[cls][outcome] += 1
        child = self._children.get((cls, outcome))
        if child is None:
            child = self._children[(cls, outcome)] = self.metrics.insider_frames.labels(cls, outcome)
        child.inc()

    def frames_sent(self) -> int:
        return sum(c["sent"] for c in self.ledger.values())

    def describe(self) -> str:
        kb = self.knowledge
        parts = [f"knows {len(kb.nodes())} nodes, {len(kb.talks)} flows; forged {self.frames_sent()} frames"]
        for cls, counts in self.ledger.items():
            if counts:
                rest = ", ".join(f"{k} {counts[k]}" for k in OUTCOMES[1:] if counts[k])
                parts.append(f"{cls} {counts['sent']}" + (f" ({rest})" if rest else ""))
                if self.changed[cls]:
                    parts[-1] += " changed " + ", ".join(f"{k} {n}" for k, n in sorted(self.changed[cls].items()))
        return "; ".join(parts)


__all__ = ["Insider", "OUTCOMES"]
