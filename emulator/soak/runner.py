"""The soak: an estate, its DCC and its DCC Users driving a workload in virtual time.

One process, one virtual clock: the DCC host (DUIS, inventory, ACB), every home of the topology
with its devices' GBCS logic, the SMWAN of each CSP, and the simulated DCC Users
(L{SoakUser}).  A User builds each request as a User does (DUIS XML, XML-signed with its DS
key; for a critical request it signs the GBCS pre-command serviceT returned and sends the
signed pre-command to serviceS), hands it to the DCC host's request handling
(L{emulator.dcc.host.DccHost.handle}, the same code the HTTP interface runs) and receives the
asynchronous responses at its response endpoint (the host's C{deliver}).

The ledger is kept on the Users' side, from what they sent and what they received:

  - C{submitted}: every request a User sent (a critical one counts once);
  - C{ok}: its response was I0; C{timed_out}: E15 (no response within the target response
    time); C{failed}: refused at once (an error acknowledgement) or any other response code;
  - C{duplicated}: requests for which a User received more than one response;
  - C{in_flight}: accepted, no response yet, target response time (plus grace) not yet passed;
  - C{lost}: accepted, no response, and its target response time plus grace has passed.

C{submitted = ok + failed + timed_out + in_flight + lost} always; after the drain C{lost},
C{duplicated} and C{in_flight} are 0 when nothing went missing.
"""

from __future__ import annotations

import bisect
import sys
import time
from collections import Counter
from dataclasses import dataclass, field

from twisted.logger import Logger

from emulator.rng import derive_rng
from emulator.soak.requests import KINDS, build_request, request_id, signed_precommand

__all__ = ["SoakRun", "SoakUser", "Record", "LATENCY_BUCKETS"]

log = Logger(namespace="smets.soak")

#: latency histogram bucket upper bounds (s): they include the target response times
LATENCY_BUCKETS = (1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, float("inf"))
#: seconds past a request's target response time before a missing response counts as lost
GRACE = 120.0


@dataclass(slots=True)
class Record:
    """One request as its User sees it."""

    rid: str
    kind: str
    home: str
    csp: str
    user: str
    submitted: float          # run seconds
    target: float             # target response time (s)
    ack: str = ""             # the synchronous answer's code (I99 accepted)
    responses: list = field(default_factory=list)   # (run seconds, response code)

    @property
    def final(self) -> str | None:
        if self.ack and self.ack != "I99":
            return self.ack
        return self.responses[0][1] if self.responses else None


class SoakUser:
    """A DCC User of the soak: its keys, its RequestID counter, its response endpoint."""

    def __init__(self, inventory_user, keystore, share: float, first_counter: int) -> None:
        self.user = inventory_user
        self.user_id = inventory_user.user_id
        self.name = inventory_user.name
        self.share = share
        self.private_key = keystore.private_key(self.user_id, "ds")
        self.certificate = keystore.certificate(self.user_id, "ds")
        self.counter = first_counter
        #: (run seconds, ResponseID, code) of every device alert received
        self.alerts: list[tuple[float, str, str]] = []

    def next_counter(self) -> int:
        self.counter += 1
        return self.counter


class SoakRun:
    """Build the estate for C{topology} and drive C{workload} on it.

    @param topology: a L{emulator.topology.Topology} (faults of the command line already folded in).
    @param workload: a L{emulator.soak.workload.Workload}.
    @param sample_interval: virtual seconds between samples of queue depths and link states.
    """

    def __init__(self, topology, workload, seed: int, *, pcap_path: str | None = None, pcap_file=None,
                 sample_interval: float = 300.0) -> None:
        from emulator.clock import VirtualClock
        from emulator.dcc import build_host
        from emulator.dcc.config import load_dcc_config
        from emulator.dcc.devices import install_device_logic
        from emulator.dcc.estate import EstateWan
        from emulator.estate import Estate
        from emulator.soak.acb_view import DeliveryObserver
        from emulator.soak.faults import FaultScheduler
        from protocols.duis.matrix import load_matrix
        from protocols.gbcs import GbcsCrypto

        self.topology = topology
        self.workload = workload
        self.seed = seed
        self.sample_interval = sample_interval
        self.clock = VirtualClock(start=topology.start_time)
        self.config = load_dcc_config(topology, seed)
        self.keystore = self.config.keystore
        _device_keys(self.config, seed)
        self.users = self._users()
        self.host = build_host(self.config, self.clock, self._deliver, seed=seed)
        self.estate = Estate(topology, self.clock, seed, pcap_path=pcap_path, pcap_file=pcap_file)
        self.wan = EstateWan(self.host.broker, self.estate, self.clock, seed)
        install_device_logic(self.estate, self.keystore, seed)
        self.crypto = GbcsCrypto(self.keystore)
        self.matrix = load_matrix()
        self.delivery = DeliveryObserver(self.host.broker)
        self.faults = FaultScheduler(topology.faults, self.clock, self.estate, self.wan.smwan, self._device_alert)
        for home in self.estate.homes:        # alerts devices raise themselves are counted as well
            home.alert_sink = self._device_alert
        self.start = self.clock.seconds()
        self.records: dict[str, Record] = {}
        self.unexpected: list[tuple[float, str]] = []
        #: consumer-event, fault and device alerts raised: (device EUI, alert counter) -> (run s, home, code)
        self.alerts_raised: dict[tuple[int, int], tuple[float, str, int]] = {}
        self.alerts_unsendable = 0
        self.samples: list[dict] = []
        self.duration = 0.0
        self.drained_at = 0.0
        self.wall = {}
        self._candidates: dict[tuple[str, int], list] = {}
        self._homes = {h.spec.name: h for h in self.estate.homes}

    # ------------------------------------------------------------------ set-up

    def _users(self) -> dict[str, SoakUser]:
        inventory = self.config.inventory
        by_name = {u.name: u for u in inventory.users.values()}
        users = {}
        for index, (name, share) in enumerate(self.workload.users):
            user = by_name.get(name)
            if user is None:
                raise LookupError(f"workload user {name!r} is not a DCC User of the topology "
                                  f"(users: {', '.join(sorted(by_name)) or 'none'})")
            if self.keystore.private_key(user.user_id, "ds") is None:
                raise LookupError(f"workload user {name!r}: the key store has no DS private key to sign with")
            if not user.response_url:
                user.response_url = f"soak:{name}"      # the soak's in-process response endpoint
            users[name] = SoakUser(user, self.keystore, share, 1000)
        return users

    def _run_time(self) -> float:
        return self.clock.seconds() - self.start

    # ------------------------------------------------------------------ the Users' endpoints

    def _deliver(self, user, xml: bytes) -> None:
        from protocols.duis.response import parse_response
        soak_user = next((u for u in self.users.values() if u.user_id == user.user_id), None)
        response = parse_response(xml)
        now = self._run_time()
        if response.request_id is None:          # a device alert (ResponseID device:user:counter)
            if soak_user is not None:
                soak_user.alerts.append((now, response.response_id or "", response.response_code))
            return
        record = self.records.get(response.request_id)
        if record is None:
            self.unexpected.append((now, response.request_id))
            return
        record.responses.append((now, response.response_code))

    # ------------------------------------------------------------------ the workload

    def schedule(self, duration: float) -> None:
        """Put every request and consumer event of C{duration} seconds on the clock."""
        self.duration = duration
        for home in self.estate.homes:
            name = home.spec.name
            for kind, rate in self.workload.per_home.items():
                for t in _times(rate, duration, derive_rng(self.seed, "soak", name, kind)):
                    self.clock.callLater(t, self._submit, home, kind)
            for i, ev in enumerate(self.workload.consumer_events):
                rng = derive_rng(self.seed, "soak", name, "event", str(i))
                for t in _poisson(ev.per_hour, 0.0, duration, rng):
                    self.clock.callLater(t, self._consumer_event, home, ev)
        self.faults.start()

    def _device(self, home, device_type: str):
        return next((d for d in self.config.inventory.home_devices(home.spec.name) if d.device_type == device_type),
                    None)

    def _pick_user(self, kind, device, rng) -> SoakUser | None:
        from protocols.duis import rbac
        from protocols.duis.errors import DuisError
        key = (kind.name, device.device_id)
        candidates = self._candidates.get(key)
        if candidates is None:
            definition = self.matrix.get(kind.variant)
            candidates = []
            for user in self.users.values():
                try:
                    rbac.authorise_for_device(definition, rbac.eligible_roles(definition, user.user.roles),
                                              user.user_id, device.registered())
                except DuisError:
                    continue
                candidates.append(user)
            self._candidates[key] = candidates
        if not candidates:
            return None
        total = sum(u.share for u in candidates)
        x = rng.random() * total
        for user in candidates:
            x -= user.share
            if x < 0:
                return user
        return candidates[-1]

    def _submit(self, home, kind_name: str) -> None:
        from protocols.duis.response import parse_response
        from protocols.gbcs.message import sign_precommand
        from protocols.gbcs.utrn import generate_utrn

        kind = KINDS[kind_name]
        device = self._device(home, kind.device_type)
        rng = derive_rng(self.seed, "soak", home.spec.name, kind_name, "body", f"{self.clock.seconds():.6f}")
        if device is None:
            return
        user = self._pick_user(kind, device, rng)
        if user is None:
            return
        counter = user.next_counter()
        now = self.clock.seconds()
        data = build_request(kind, user.user_id, device.device_id, counter, rng, now, user.private_key,
                             user.certificate,
                             utrn=lambda u, d, c, pence: generate_utrn(self.crypto, u, d, c, 0, pence))
        rid = request_id(user.user_id, device.device_id, counter)
        target = self.host.broker.times.of(device, kind.critical)
        record = Record(rid, kind_name, home.spec.name, home.spec.csp, user.name, self._run_time(), target)
        self.records[rid] = record
        if kind.critical:
            answer = self.host.handle("T", data)
            if answer.code != "I0":
                record.ack = answer.code
                return
            pre = parse_response(answer.body)
            gbcs = sign_precommand(pre.gbcs_payload, self.crypto)     # the User's GBCS signature
            data = signed_precommand(rid, gbcs, user.private_key, user.certificate)
        record.ack = self.host.handle("S", data).code

    def _consumer_event(self, home, event) -> None:
        self._device_alert(home, event.device, event.alert, event.critical)

    def _device_alert(self, home, device_kind: str, code: int, critical: bool = False) -> None:
        """A device of C{home} raises alert C{code} (a consumer's action or a fault it notices)."""
        node = next((n for n in home.nodes.values() if n.kind == device_kind), None)
        tunnel = getattr(node, "tunnel", None)
        app = getattr(tunnel, "application", None)
        if app is None or not hasattr(app, "raise_alert") or not getattr(node, "joined", True):
            self.alerts_unsendable += 1
            return
        counter = app.alert_counter
        before = app.counters.unsendable_alerts
        app.raise_alert(code, critical=critical)
        if app.counters.unsendable_alerts != before:
            self.alerts_unsendable += 1
            return
        self.alerts_raised[(app.eui, counter)] = (self._run_time(), home.spec.name, code)

    # ------------------------------------------------------------------ running

    def _sample(self) -> None:
        now = self._run_time()
        csps = {}
        for name, wan in self.wan.smwan.wans.items():
            links = list(wan.links.values())
            if not links:
                continue
            down = links[0].a.path.in_outage(self.clock.seconds())
            csps[name] = {"up": not down,
                          "stored_down": sum(s.channel.stored for s in wan.gateway.sessions.values()),
                          "stored_up": sum(e.channel.stored for e in wan.hubs.values())}
        in_flight = sum(1 for r in self.records.values() if r.ack == "I99" and not r.responses)
        self.samples.append({"t": now, "delivery_queue": len(self.host.broker.delivery), "in_flight": in_flight,
                             "csps": csps})

    def run(self, duration: float, *, progress: bool = True, settle: float = 60.0,
            max_drain: float | None = None, step: float = 300.0) -> None:
        """Form the HANs (C{settle} s), run the workload for C{duration} s, then drain: run on
        until every accepted request has its response or is past its target time plus grace."""
        self.estate.start()
        t0 = time.perf_counter()
        self.clock.run_until(self.clock.seconds() + settle)
        self.start = self.clock.seconds()        # run time 0: the workload's and the faults' origin
        self.faults._start = self.start
        self.schedule(duration)
        self.wall["settle"] = time.perf_counter() - t0
        bar = _bar(duration, progress)
        t1 = time.perf_counter()
        next_sample = 0.0
        now = 0.0
        while now < duration:
            chunk = min(step, duration - now, max(next_sample - now, 1e-9) if next_sample > now else step)
            self.clock.run_until(self.start + now + chunk)
            now += chunk
            if now >= next_sample:
                self._sample()
                next_sample += self.sample_interval
            if bar is not None:
                bar.update(chunk)
                bar.set_postfix_str(self._postfix(), refresh=False)
        if bar is not None:
            bar.close()
        self.wall["run"] = time.perf_counter() - t1
        t2 = time.perf_counter()
        limit = duration + (max_drain if max_drain is not None else
                            max((r.target for r in self.records.values()), default=0.0) + 2 * GRACE)
        while now < limit and self._pending(now):
            self.clock.run_until(self.start + now + 60.0)
            now += 60.0
            if now >= next_sample:
                self._sample()
                next_sample += self.sample_interval
        self.drained_at = now
        self._sample()
        self.wall["drain"] = time.perf_counter() - t2

    def _pending(self, now: float) -> bool:
        return any(r.ack == "I99" and not r.responses and now <= r.submitted + r.target + GRACE
                   for r in self.records.values())

    def _postfix(self) -> str:
        led = self.ledger()
        return f"req {led['submitted']} ok {led['ok']} fail {led['failed']} t/o {led['timed_out']} " \
               f"inflight {led['in_flight']}"

    # ------------------------------------------------------------------ results

    def ledger(self) -> dict[str, int]:
        now = self._run_time()
        counts = Counter()
        for r in self.records.values():
            counts["submitted"] += 1
            final = r.final
            if final is None:
                counts["lost" if now > r.submitted + r.target + GRACE else "in_flight"] += 1
            elif final == "I0":
                counts["ok"] += 1
            elif final == "E15":
                counts["timed_out"] += 1
            else:
                counts["failed"] += 1
            if len(r.responses) > 1:
                counts["duplicated"] += 1
        return {key: counts[key] for key in ("submitted", "ok", "failed", "timed_out", "lost", "duplicated",
                                             "in_flight")} | {"unexpected": len(self.unexpected)}

    def alerts(self) -> dict:
        received = set()
        for user in self.users.values():
            for _t, response_id, _code in user.alerts:
                parts = response_id.split(":")
                if len(parts) == 3:
                    try:
                        received.add((int(parts[0].replace("-", ""), 16), int(parts[2])))
                    except ValueError:
                        pass
        raised = set(self.alerts_raised)
        return {"raised": len(raised), "received": len(raised & received),
                "missing": len(raised - received), "unsendable": self.alerts_unsendable,
                "received_total": sum(len(u.alerts) for u in self.users.values())}

    def wan_counts(self) -> dict[str, dict[str, int]]:
        """Per CSP, the SMWAN channels' retransmissions and store overflows, down (the gateway's
        channels to the hubs) and up (the hubs' channels to the gateway)."""
        out = {}
        for name, wan in self.wan.smwan.wans.items():
            down = [s.channel.counts for s in wan.gateway.sessions.values()]
            up = [e.channel.counts for e in wan.hubs.values()]
            if not up:
                continue
            out[name] = {f"{key}_{way}": sum(c.get(key, 0) for c in counts)
                         for way, counts in (("down", down), ("up", up))
                         for key in ("retransmitted_frames", "rto_expiries", "store_overflow")}
        return out

    def close(self) -> None:
        self.estate.close()


def _poisson(per_hour: float, start: float, end: float, rng) -> list[float]:
    out = []
    if per_hour <= 0:
        return out
    t = start
    while True:
        t += rng.expovariate(per_hour / 3600.0)
        if t >= end:
            return out
        out.append(t)


def _times(rate, duration: float, rng) -> list[float]:
    if rate.per_hour > 0:
        return _poisson(rate.per_hour, 0.0, duration, rng)
    out = []
    day = 0.0
    while day < duration:
        for _ in range(rate.per_day):
            t = day + rate.window_start + rng.random() * rate.window
            if t < duration:
                out.append(t)
        day += 86400.0
    return sorted(out)


def _bar(total: float, enabled: bool):
    if not enabled:
        return None
    from tqdm import tqdm
    return tqdm(total=total, unit="vs", unit_scale=True, desc="soak", file=sys.stderr, dynamic_ncols=True,
                bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.0f}/{total:.0f} virtual s "
                           "[{elapsed}<{remaining}] {postfix}")


def _device_keys(config, seed: int) -> None:
    """Every device of the inventory gets a key-agreement key pair from the seed when the key
    store has none, so that the ACB can MAC commands to it and it can MAC its responses."""
    for device in config.inventory.devices.values():
        if not config.keystore.has_public_key(device.device_id, "ka"):
            config.keystore.generate(device.device_id, "ka", derive_rng(seed, "soak", "ka", f"{device.device_id:016x}"))


def latency_histogram(latencies: list[float]) -> list[int]:
    counts = [0] * len(LATENCY_BUCKETS)
    for x in latencies:
        counts[bisect.bisect_left(LATENCY_BUCKETS, x)] += 1
    return counts
