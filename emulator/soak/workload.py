"""Workload files: what the DCC Users of a soak ask of every home, and how often.

Example (C{topologies/workload-default.yaml})::

    name: default
    users:                          # DCC Users of the topology's dcc: section, by name
      - {name: supplier, share: 3}  # relative share of the requests a User may send
      - {name: network-operator, share: 1}
    per_home:                       # device requests, per home
      on_demand_read: {per_hour: 0.4}
      daily_read: {per_day: 1, window_start: 3600, window: 7200}   # once a day, 01:00-03:00
      gas_read: {per_hour: 0.05}
      tariff_update: {per_hour: 0.01}
      top_up: {per_hour: 0.02}
    consumer_events:                # things consumers do at a meter that raise alerts
      - {device: ESME, alert: "8F35", per_hour: 0.02}   # supply outage restored
      - {device: GSME, alert: "81C3", per_hour: 0.01}   # tilt tamper

Rates are means of a Poisson process per home (exponential gaps drawn from the run seed, the
home and the kind: the same seed, the same schedule).  Each request goes to one of the Users
entitled to send it to that device (DUIS roles and registrations), chosen by share.
Every error is one line, C{file:line: field: message} (L{WorkloadError}).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any


from emulator.soak.requests import KINDS
from emulator.yaml_lines import TopologyError, _Checker, _describe, _Map, _Seq, load_yaml

__all__ = ["Workload", "Rate", "ConsumerEvent", "WorkloadError", "load_workload", "parse_workload", "EVENT_DEVICES"]

#: device kinds a consumer event can happen at
EVENT_DEVICES = ("ESME", "GSME")
_TOP = {"name", "description", "users", "per_home", "consumer_events"}
_RATE = {"per_hour", "per_day", "window_start", "window"}
_EVENT = {"device", "alert", "per_hour", "critical"}
_USER = {"name", "share"}


class WorkloadError(ValueError):
    """A workload file is invalid; C{str()} is C{file:line: message}."""

    def __init__(self, filename: str, line: int, message: str) -> None:
        self.filename, self.line, self.message = filename, line, message
        super().__init__(f"{filename}:{line}: {message}")


@dataclass(frozen=True, slots=True)
class Rate:
    """How often a home sees one kind of request: C{per_hour} (Poisson) or C{per_day} in a
    daily window (C{window_start} seconds after midnight, C{window} seconds long)."""

    per_hour: float = 0.0
    per_day: int = 0
    window_start: float = 0.0
    window: float = 86400.0


@dataclass(frozen=True, slots=True)
class ConsumerEvent:
    """A consumer's action at a device that raises an alert (GBCS alert code)."""

    device: str
    alert: int
    per_hour: float
    critical: bool = False


@dataclass(frozen=True, slots=True)
class Workload:
    name: str
    description: str
    users: tuple[tuple[str, float], ...]           # (User name, share)
    per_home: dict[str, Rate] = field(default_factory=dict)
    consumer_events: tuple[ConsumerEvent, ...] = ()
    filename: str = ""


def load_workload(path: str) -> Workload:
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise WorkloadError(path, 0, f"cannot read workload: {e.strerror}") from None
    return parse_workload(text, path)


def _number(c: _Checker, m: _Map, key: str, what: str, *, positive: bool = False) -> float:
    value = c.typed(m, key, (int, float), what)
    if value < 0 or (positive and value == 0):
        raise c.fail(m.key_lines[key], f"{what}.{key} must be {'> 0' if positive else '>= 0'}, got {value}")
    return float(value)


def parse_workload(text: str, filename: str) -> Workload:
    """Validate workload YAML (see the module docstring)."""
    c = _Checker(filename)
    try:
        doc = load_yaml(text, filename, "workload")
    except TopologyError as e:     # the YAML reader's errors, as the workload's
        raise WorkloadError(filename, e.line, e.message) from None
    try:
        return _parse(c, doc, filename)
    except ValueError as e:
        if isinstance(e, WorkloadError):
            raise
        raise WorkloadError(filename, getattr(e, "line", 0), getattr(e, "message", str(e))) from None


def _parse(c: _Checker, doc: Any, filename: str) -> Workload:
    top = c.mapping(doc, 1, "the workload")
    c.keys(top, _TOP, "the workload")
    name = c.typed(top, "name", str, "workload") if "name" in top else "workload"
    description = c.typed(top, "description", str, "workload") if "description" in top else ""
    if "users" not in top:
        raise c.fail(top.line, "users: the workload names no DCC User (users: [{name: ..., share: ...}])")
    users_raw = top["users"]
    if not isinstance(users_raw, _Seq) or not users_raw:
        raise c.fail(top.key_lines["users"], f"users must be a non-empty list, got {_describe(users_raw)}")
    users: list[tuple[str, float]] = []
    for i, raw in enumerate(users_raw):
        what = f"users[{i}]"
        m = c.mapping(raw, users_raw.line, what)
        c.keys(m, _USER, what)
        if "name" not in m:
            raise c.fail(m.line, f"{what}.name is missing (a DCC User of the topology's dcc: section)")
        uname = c.typed(m, "name", str, what)
        if any(uname == u for u, _ in users):
            raise c.fail(m.key_lines["name"], f"{what}.name {uname!r} is listed twice")
        share = _number(c, m, "share", what, positive=True) if "share" in m else 1.0
        users.append((uname, share))
    per_home: dict[str, Rate] = {}
    if top.get("per_home") is not None:
        section = c.mapping(top["per_home"], top.key_lines["per_home"], "per_home")
        for kind, raw in section.items():
            what = f"per_home.{kind}"
            if kind not in KINDS:
                raise c.fail(section.key_lines[kind], f"{what}: unknown request kind (one of {', '.join(KINDS)})")
            m = c.mapping(raw, section.key_lines[kind], what)
            c.keys(m, _RATE, what)
            if ("per_hour" in m) == ("per_day" in m):
                raise c.fail(m.line, f"{what} needs exactly one of per_hour or per_day")
            if "per_hour" in m:
                for key in ("window_start", "window"):
                    if key in m:
                        raise c.fail(m.key_lines[key], f"{what}.{key} goes with per_day, not per_hour")
                per_home[kind] = Rate(per_hour=_number(c, m, "per_hour", what))
                continue
            per_day = c.typed(m, "per_day", int, what)
            if per_day < 0:
                raise c.fail(m.key_lines["per_day"], f"{what}.per_day must be >= 0, got {per_day}")
            start = _number(c, m, "window_start", what) if "window_start" in m else 0.0
            window = _number(c, m, "window", what, positive=True) if "window" in m else 86400.0
            if start + window > 86400:
                raise c.fail(m.key_lines.get("window", m.line),
                             f"{what}: window_start + window must be within the day (<= 86400 s), "
                             f"got {start + window:g}")
            per_home[kind] = Rate(per_day=per_day, window_start=start, window=window)
    events: list[ConsumerEvent] = []
    if top.get("consumer_events") is not None:
        raw_events = top["consumer_events"]
        if not isinstance(raw_events, _Seq):
            raise c.fail(top.key_lines["consumer_events"],
                         f"consumer_events must be a list, got {_describe(raw_events)}")
        for i, raw in enumerate(raw_events):
            what = f"consumer_events[{i}]"
            m = c.mapping(raw, raw_events.line, what)
            c.keys(m, _EVENT, what)
            for key in ("device", "alert", "per_hour"):
                if key not in m:
                    raise c.fail(m.line, f"{what}.{key} is missing")
            device = c.typed(m, "device", str, what)
            if device not in EVENT_DEVICES:
                raise c.fail(m.key_lines["device"],
                             f"{what}.device {device!r} is not one of {', '.join(EVENT_DEVICES)}")
            alert_text = str(m["alert"])
            if not re.fullmatch(r"(0x)?[0-9A-Fa-f]{4}", alert_text):
                raise c.fail(m.key_lines["alert"], f"{what}.alert must be a GBCS alert code, 4 hex digits "
                                                   f"(e.g. \"8F35\"), got {m['alert']!r}")
            critical = c.typed(m, "critical", bool, what) if "critical" in m else False
            events.append(ConsumerEvent(device, int(alert_text[-4:], 16), _number(c, m, "per_hour", what), critical))
    if not per_home and not events:
        raise c.fail(top.line, "per_home: the workload asks for nothing (no per_home requests, no consumer_events)")
    return Workload(name, description, tuple(users), per_home, tuple(events), filename)
