"""Faults as scheduled events: the topology's C{faults:} list and the soak's command-line faults.

A topology's C{faults:} (all times in seconds from the start of the run)::

    faults:
      - {kind: han_loss, at: 3600, length: 1800, loss: 0.3, homes: [street-0001]}  # homes: default all
      - {kind: han_burst, at: 7200, length: 600}          # Gilbert-Elliott bursts on every HAN
      - {kind: wan_loss, csp: north, at: 0, length: 86400, loss: 0.02}
      - {kind: wan_latency, csp: north, at: 20000, length: 3600, delay: 4.0}
      - {kind: wan_outage, csp: north, at: 36000, length: 7200}
      - {kind: hub_reboot, at: 4000, length: 300, homes: [street-0001]}   # CH off for 5 minutes
      - {kind: gsme_battery, at: 5000, homes: [street-0002]}   # Low Battery Capacity (8F1F)
      - {kind: gsme_clock, at: 9000, offset: 3600}             # the GSME's clock jumps 1 h

Window faults (C{han_*}, C{wan_*}) change the impairments of the homes' radio media or of the
CSP's hub links for C{length} seconds, on top of the topology's own; overlapping windows add up
(the later one's values win per field).  C{hub_reboot} powers the homes' Communications Hubs off
at C{at} and on again C{length} seconds later (what survives: L{emulator.devices.reboot}).
C{gsme_battery} is the gas meter noticing the fault at
C{at}: it raises the GBCS alert of that fault to its supplier, which the soak counts on the Users'
side.  C{gsme_clock} makes the gas meter's clock jump by C{offset} seconds (default
L{DEFAULT_CLOCK_OFFSET}; negative: back) at C{at}: its GBCS responses, alerts and logs carry the
wrong time until the meter synchronises with the CH's Time cluster, which adjusts up to 10 s and
otherwise raises Clock not adjusted (8F0C) and leaves the clock to a GCS28 Set Clock
(L{emulator.devices.gsme_clock}).

The command line's C{--han-loss}, C{--wan-loss} and C{--outage CSP:START:LENGTH} are whole-run
faults folded into the topology before the estate is built (L{apply_cli_faults}).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from emulator.impairments import GilbertElliott, ImpairmentSpec

__all__ = ["FaultSpec", "parse_faults", "apply_cli_faults", "FaultScheduler", "parse_outage", "FAULT_KINDS",
           "GSME_ALERTS"]

#: fault kind -> the keys it takes beyond kind and at
FAULT_KINDS: dict[str, set[str]] = {
    "han_loss": {"length", "loss", "homes"},
    "han_burst": {"length", "homes", "p_good_to_bad", "p_bad_to_good", "loss_bad"},
    "wan_loss": {"length", "loss", "csp"},
    "wan_latency": {"length", "delay", "csp"},
    "wan_outage": {"length", "csp"},
    "hub_reboot": {"length", "homes"},
    "gsme_battery": {"homes"},
    "gsme_clock": {"homes", "offset"},
}
#: keys a fault may leave out (the others are required)
OPTIONAL_KEYS = {"homes", "csp", "p_good_to_bad", "p_bad_to_good", "loss_bad", "offset"}
#: GSME fault -> the alert code it raises at once (alert_codes: Low Battery Capacity)
GSME_ALERTS = {"gsme_battery": 0x8F1F}
#: seconds a C{gsme_clock} fault moves the GSME's clock by default
DEFAULT_CLOCK_OFFSET = 3600.0


@dataclass(frozen=True, slots=True)
class FaultSpec:
    kind: str
    at: float
    length: float = 0.0
    homes: tuple[str, ...] = ()    # empty: every home
    csp: str | None = None
    overrides: tuple[tuple[str, Any], ...] = ()   # impairment fields this fault sets

    @property
    def end(self) -> float:
        return self.at + self.length


def parse_faults(checker, top, homes: dict, csps: dict) -> tuple[FaultSpec, ...]:
    """The C{faults:} list of a topology (errors name the entry and field, C{file:line:})."""
    from emulator.yaml_lines import _Seq, _describe
    raw = top["faults"]
    if not isinstance(raw, _Seq):
        raise checker.fail(top.key_lines["faults"], f"faults must be a list, got {_describe(raw)}")
    out = []
    for i, entry in enumerate(raw):
        what = f"faults[{i}]"
        m = checker.mapping(entry, raw.line, what)
        if "kind" not in m:
            raise checker.fail(m.line, f"{what}.kind is missing (one of {', '.join(FAULT_KINDS)})")
        kind = checker.typed(m, "kind", str, what)
        if kind not in FAULT_KINDS:
            raise checker.fail(m.key_lines["kind"],
                               f"{what}.kind {kind!r} is not a fault (one of {', '.join(FAULT_KINDS)})")
        allowed = FAULT_KINDS[kind] | {"kind", "at"}
        checker.keys(m, allowed, f"{what} ({kind})")
        for key in sorted(allowed - {"kind"} - OPTIONAL_KEYS):
            if key not in m:
                needs = ", ".join(sorted(allowed - {"kind"}))
                raise checker.fail(m.line, f"{what}.{key} is missing ({kind} needs {needs})")

        def number(key: str, *, probability: bool = False, positive: bool = False) -> float:
            value = checker.typed(m, key, (int, float), what)
            if value < 0 or (positive and value == 0) or (probability and value > 1):
                need = "a probability 0..1" if probability else "> 0" if positive else ">= 0"
                raise checker.fail(m.key_lines[key], f"{what}.{key} must be {need}, got {value}")
            return float(value)

        at = number("at")
        length = number("length", positive=True) if "length" in m else 0.0
        names: tuple[str, ...] = ()
        if "homes" in m:
            value = m["homes"]
            if not isinstance(value, _Seq) or not all(isinstance(h, str) for h in value):
                raise checker.fail(m.key_lines["homes"], f"{what}.homes must be a list of home names")
            for h in value:
                if h not in homes:
                    raise checker.fail(m.key_lines["homes"], f"{what}.homes: no home {h!r} in the topology")
            names = tuple(value)
        csp = None
        if "csp" in FAULT_KINDS[kind]:
            if "csp" not in m:
                raise checker.fail(m.line, f"{what}.csp is missing (one of {', '.join(csps)})")
            csp = checker.typed(m, "csp", str, what)
            if csp not in csps:
                raise checker.fail(m.key_lines["csp"], f"{what}.csp {csp!r} is not a CSP (one of {', '.join(csps)})")
        overrides: list[tuple[str, Any]] = []
        if kind in ("han_loss", "wan_loss"):
            overrides.append(("loss", number("loss", probability=True)))
        elif kind == "wan_latency":
            overrides.append(("delay", number("delay")))
        elif kind == "wan_outage":
            overrides.append(("outages", ()))   # the window itself, filled in when it starts
        elif kind == "gsme_clock":
            offset = checker.typed(m, "offset", (int, float), what) if "offset" in m else DEFAULT_CLOCK_OFFSET
            if isinstance(offset, bool) or not offset or offset != offset or abs(offset) == float("inf"):
                raise checker.fail(m.key_lines["offset"], f"{what}.offset must be a non-zero number of seconds, "
                                                          f"got {offset}")
            overrides.append(("offset", float(offset)))
        elif kind == "han_burst":
            ge = {"p_good_to_bad": 0.05, "p_bad_to_good": 0.25, "loss_good": 0.0, "loss_bad": 0.9}
            for key in ("p_good_to_bad", "p_bad_to_good", "loss_bad"):
                if key in m:
                    ge[key] = number(key, probability=True)
            try:
                overrides.append(("gilbert_elliott", GilbertElliott(**ge)))
            except (TypeError, ValueError) as e:
                raise checker.fail(m.line, f"{what}: {e}") from None
        out.append(FaultSpec(kind, at, length, names, csp, tuple(overrides)))
    return tuple(out)


def parse_outage(text: str, csps) -> tuple[str, float, float]:
    """C{CSP:START:LENGTH} (seconds from the start of the run) -> (csp, start, length)."""
    parts = text.split(":")
    if len(parts) != 3:
        raise ValueError(f"{text!r} is not CSP:START:LENGTH (e.g. north:36000:7200)")
    csp, start_text, length_text = parts
    if csp not in csps:
        raise ValueError(f"{text!r}: CSP {csp!r} is not in the topology (one of {', '.join(csps)})")
    try:
        start, length = float(start_text), float(length_text)
    except ValueError:
        raise ValueError(f"{text!r}: START and LENGTH must be seconds") from None
    if not (start >= 0 and length > 0) or start != start or length == float("inf"):
        raise ValueError(f"{text!r}: START must be >= 0 and LENGTH > 0 seconds")
    return csp, start, length


def apply_cli_faults(topology, *, han_loss: float = 0.0, wan_loss: float = 0.0,
                     outages: list[tuple[str, float, float]] = ()):
    """The topology with whole-run HAN loss on every home, WAN loss on every CSP and the given
    CSP outages added to what it already has."""
    homes = topology.homes
    if han_loss:
        homes = tuple(replace(h, impairments=replace(h.impairments, loss=max(h.impairments.loss, han_loss)))
                      for h in homes)
    csps = dict(topology.csps)
    for name, csp in csps.items():
        imp = csp.impairments
        if wan_loss:
            imp = replace(imp, loss=max(imp.loss, wan_loss))
        extra = tuple((start, length) for c, start, length in outages if c == name)
        if extra:
            imp = replace(imp, outages=tuple(imp.outages) + extra)
        if imp is not csp.impairments:
            csps[name] = replace(csp, impairments=imp)
    return replace(topology, homes=homes, csps=csps)


class FaultScheduler:
    """Schedules the window faults' start and end on the clock, the GSME faults' alerts and the
    GSME clock jumps.

    @param estate: the L{emulator.estate.Estate} (its homes' media).
    @param smwan: the L{emulator.wan.Smwan} (its CSPs' hub links).
    @param raise_alert: C{raise_alert(home, device_kind, alert_code)} at a GSME fault.
    """

    def __init__(self, faults, clock, estate, smwan, raise_alert) -> None:
        self.faults = tuple(faults)
        self.clock = clock
        self.estate = estate
        self.smwan = smwan
        self.raise_alert = raise_alert
        self.active: list[FaultSpec] = []
        #: (run time, kind, "start" | "end" | "alert" | "clock" | "off" | "on", target) of every fault
        #: event, in order
        self.events: list[tuple[float, str, str, str]] = []
        self._start = clock.seconds()

    def start(self) -> None:
        for fault in self.faults:
            if fault.kind in GSME_ALERTS:
                self.clock.callLater(fault.at, self._gsme, fault)
            elif fault.kind == "gsme_clock":
                self.clock.callLater(fault.at, self._gsme_clock, fault)
            elif fault.kind == "hub_reboot":
                self.clock.callLater(fault.at, self._hub_power, fault, False)
                self.clock.callLater(fault.end, self._hub_power, fault, True)
            else:
                self.clock.callLater(fault.at, self._toggle, fault, True)
                self.clock.callLater(fault.end, self._toggle, fault, False)

    def _now(self) -> float:
        return self.clock.seconds() - self._start

    def _gsme(self, fault: FaultSpec) -> None:
        for home in self.estate.homes:
            if fault.homes and home.spec.name not in fault.homes:
                continue
            self.raise_alert(home, "GSME", GSME_ALERTS[fault.kind])
            self.events.append((self._now(), fault.kind, "alert", home.spec.name))

    def _gsme_clock(self, fault: FaultSpec) -> None:
        from emulator.devices.gsme_clock import clock_application
        offset = dict(fault.overrides)["offset"]
        for home in self.estate.homes:
            if fault.homes and home.spec.name not in fault.homes:
                continue
            for node in home.nodes.values():
                if node.kind != "GSME":
                    continue
                app = clock_application(node)
                if app is None:      # not powered yet, or no GBCS logic: no clock to move
                    self.events.append((self._now(), fault.kind, "no_clock", home.spec.name))
                    continue
                app.clock_offset += offset
                self.events.append((self._now(), fault.kind, "clock", home.spec.name))

    def _hub_power(self, fault: FaultSpec, on: bool) -> None:
        from emulator.devices import reboot
        for home in self.estate.homes:
            if fault.homes and home.spec.name not in fault.homes:
                continue
            hub = home.hub()
            if hub is None:
                continue
            if on:
                done = reboot.power_on(hub)
            else:
                wan = self.smwan.wans.get(home.spec.csp)
                done = reboot.power_off(hub, wan.hubs.get(hub.spec.eui64) if wan is not None else None)
            # (a hub not yet powered on, or already off under an overlapping reboot, is left as it is)
            self.events.append((self._now(), fault.kind, ("on" if on else "off") if done else "unchanged",
                                home.spec.name))

    def _toggle(self, fault: FaultSpec, on: bool) -> None:
        if on:
            self.active.append(fault)
        else:
            self.active.remove(fault)
        target = fault.csp or (",".join(fault.homes) if fault.homes else "all homes")
        self.events.append((self._now(), fault.kind, "start" if on else "end", target))
        if fault.kind.startswith("han_"):
            for home in self.estate.homes:
                if not fault.homes or home.spec.name in fault.homes:
                    home.medium.set_impairments(self._spec(home.spec.impairments, home.spec.name, None))
        else:
            wan = self.smwan.wans[fault.csp]
            spec = self._spec(wan.spec, None, fault.csp)
            for link in wan.links.values():
                link.set_impairments(spec, spec)

    def _spec(self, base: ImpairmentSpec, home: str | None, csp: str | None) -> ImpairmentSpec:
        spec = base
        for fault in self.active:
            if home is not None and (not fault.kind.startswith("han_") or (fault.homes and home not in fault.homes)):
                continue
            if csp is not None and fault.csp != csp:
                continue
            changes = dict(fault.overrides)
            if "outages" in changes:
                # the whole window is an outage: in run time, from its start to its end
                changes["outages"] = tuple(spec.outages) + ((fault.at, fault.length),)
            spec = replace(spec, **changes)
        return spec
