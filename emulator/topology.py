"""Topology files: YAML that says which homes exist, what is in them and how their radios behave.

Example (``topologies/single-home.yaml``)::

    name: single-home
    start_time: "2026-03-02T00:00:00Z"
    homes:
      - name: home-0001
        han: {channel: 15, impairments: {loss: 0.0}}
        devices:
          - {kind: CH, name: ch}
          - {kind: ESME, name: esme}
          - {kind: GSME, name: gsme, wake_interval: 1800}
          - {kind: IHD, name: ihd, read_interval: 10}

Every error is reported as ``file:line: message`` (L{TopologyError}), pointing at the
offending key or value, and the whole file is checked before anything runs.  Values a
topology leaves out (EUI-64s, install codes, network keys, PAN ids) are derived from the
run seed and the names, so the same topology and seed always build the same estate.
"""

from __future__ import annotations

import datetime as _dt
import os
import re
from dataclasses import dataclass, field
from typing import Any


from emulator.impairments import ImpairmentSpec
from emulator.yaml_lines import _HEX, TopologyError, _Checker, _describe, _Map, _Seq, load_yaml
from protocols.zigbee.limits import HanLimits
from emulator.rng import derive_bytes, derive_seed
from protocols.smwan.profiles import DEFAULT_PROFILES, LinkProfile

#: device kinds the emulator can host on a HAN, and the options each accepts
#: (beyond the common ones in L{_COMMON_DEVICE_KEYS}).
#: CBKE options of a joining device: C{cbke: false} (no key establishment: it keeps the
#: install-code link key), C{cbke_ca} (the seeded CA that issues its certificate; default the
#: one its CH trusts), or an explicit C{cbke_certificate} (74 octets) + C{cbke_private_key}
#: (36 octets), hex
_CBKE_DEVICE_KEYS: dict[str, type | tuple[type, ...]] = {
    "cbke": bool, "cbke_ca": str, "cbke_certificate": str, "cbke_private_key": str}
CBKE_CERTIFICATE_OCTETS = 74
CBKE_PRIVATE_KEY_OCTETS = 36
DEVICE_KINDS: dict[str, dict[str, type | tuple[type, ...]]] = {
    # cbke_ca: the seeded CA the CH (and by default every device of the home) trusts
    "CH": {"gpf_eui64": str, "permit_join": bool, "gbcs_keys": str, "close_tunnel_timeout": (int, float),
           "tunnel_queue_limit": int, "tunnel_queue_expiry": (int, float), "network_key_updates": list,
           "cbke_ca": str, "dual_band": bool},
    "ESME": {"mean_power_w": (int, float), "unit_rate_p_per_kwh": (int, float), "rejoin_at": list, "leave_at": list,
             **_CBKE_DEVICE_KEYS},
    "GSME": {"wake_interval": (int, float), "mean_gas_m3_per_day": (int, float), "rejoin_at": list,
             "leave_at": list, "clock_sync_interval": (int, float), **_CBKE_DEVICE_KEYS},
    "IHD": {"read_interval": (int, float), "gas_read_interval": (int, float), "rejoin_at": list, "leave_at": list,
            **_CBKE_DEVICE_KEYS},
    # a hostile device holding the network key (emulator.devices.insider): which attack
    # classes, how many forged frames per second, from when (seconds after the start of the
    # run) and for how long
    "INSIDER": {"attack_classes": list, "attack_rate": (int, float), "attack_start": (int, float),
                "attack_duration": (int, float), **_CBKE_DEVICE_KEYS},
    # the prepayment meter interface device: reads the ESME's Prepayment and Price clusters
    "PPMID": {"read_interval": (int, float), "rejoin_at": list, "leave_at": list, **_CBKE_DEVICE_KEYS},
    # the HAN-connected auxiliary load control switch; controller: the ESME's auxiliary
    # controller (1-5) that switches it
    "HCALCS": {"controller": int, "rejoin_at": list, "leave_at": list, **_CBKE_DEVICE_KEYS},
}
#: the radio bands a device may be on (C{band:}; 868 needs a CH with C{dual_band: true})
BANDS = (2400, 868)
for _kind, _keys in DEVICE_KINDS.items():
    if _kind != "CH":
        _keys["band"] = int
_COMMON_DEVICE_KEYS: dict[str, type | tuple[type, ...]] = {
    "kind": str, "name": str, "eui64": str, "install_code": str,
    "registered_install_code": str, "whitelisted": bool, "power_on": (int, float),
}
_HOME_KEYS = {"name", "han", "devices", "gbcs_commands", "csp"}
_HAN_KEYS = {"channel", "pan_id", "network_key", "impairments", "limits"}
_TOP_KEYS = {"name", "description", "start_time", "homes", "dcc", "csps",  # dcc: see emulator.dcc.config
             "parameters", "templates", "faults"}  # faults: see emulator.soak.faults
#: keys of a C{homes:} entry made from a template (L{_expand_templates})
_TEMPLATE_USE_KEYS = {"template", "count", "prefix", "csp", "han"}
_TEMPLATE_KEYS = {"han", "devices", "csp"}
#: keys of one entry of the C{csps:} section beyond the L{LinkProfile} fields
_CSP_KEYS = {"base", "impairments"}
#: the CSP a home is served by when it names none
DEFAULT_CSP = "centre"


@dataclass(frozen=True, slots=True)
class DeviceSpec:
    """One HAN device of a home, with every default already resolved."""

    kind: str
    name: str
    eui64: int
    install_code: bytes  # 16 bytes, without CRC (the device's own code)
    registered_install_code: bytes | None  # what the CH device log holds; None = not whitelisted
    power_on: float  # seconds after the start of the run
    params: dict[str, Any] = field(default_factory=dict)
    gpf_eui64: int | None = None  # CH only


@dataclass(frozen=True, slots=True)
class ScheduledGbcs:
    """A remote-party GBCS message delivered to the home's CH at C{at} seconds into the run."""

    at: float
    message: bytes
    source: str  # the file it came from, or "hex"


@dataclass(frozen=True, slots=True)
class HomeSpec:
    """One premises: a HAN radio medium and the devices on it."""

    name: str
    index: int
    channel: int
    pan_id: int
    network_key: bytes
    impairments: ImpairmentSpec
    devices: tuple[DeviceSpec, ...]
    gbcs_commands: tuple[ScheduledGbcs, ...] = ()
    csp: str = DEFAULT_CSP  # the CSP region whose WAN serves this home's hub
    #: table limits of the home's nodes (C{han: {limits: ...}}; None: L{protocols.zigbee.limits.DEFAULT_LIMITS})
    han_limits: HanLimits | None = None


@dataclass(frozen=True, slots=True)
class CspSpec:
    """One Communications Service Provider's WAN: its link profile and extra impairments."""

    name: str
    profile: LinkProfile
    impairments: ImpairmentSpec = field(default_factory=ImpairmentSpec)


def default_csps() -> dict[str, CspSpec]:
    """The three GB regions with their default profiles and no extra impairments."""
    return {name: CspSpec(name, profile) for name, profile in DEFAULT_PROFILES.items()}


@dataclass(frozen=True, slots=True)
class Topology:
    """A whole topology file, validated."""

    name: str
    description: str
    start_time: float  # Unix seconds of the virtual clock's origin
    homes: tuple[HomeSpec, ...]
    filename: str
    csps: dict[str, CspSpec] = field(default_factory=default_csps)
    #: scheduled faults (L{emulator.soak.faults.FaultSpec}), from the C{faults:} section
    faults: tuple = ()
    #: the values of the C{parameters:} section after the caller's overrides
    parameters: dict[str, int] = field(default_factory=dict)
    #: the C{dcc:} section as read (with its line numbers), checked by
    #: L{emulator.dcc.config.load_dcc_config}; C{None} when the topology has none
    dcc: Any = None
    #: the line of the C{dcc:} key (for its error messages)
    dcc_line: int = 0


def _parse_time(checker: _Checker, m: _Map, key: str) -> float:
    value = m[key]
    if isinstance(value, _dt.datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = _dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise checker.fail(m.key_lines[key], f"start_time must be an ISO 8601 date-time, got {value!r}")
    else:
        raise checker.fail(m.key_lines[key], f"start_time must be an ISO 8601 date-time, got {_describe(value)}")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=_dt.timezone.utc)
    return moment.timestamp()


DEFAULT_START_TIME = _dt.datetime(2026, 3, 2, tzinfo=_dt.timezone.utc).timestamp()


def load_topology(path: str, seed: int, parameters: dict[str, int] | None = None) -> Topology:
    """Read and validate a topology file; derive every default from C{seed}.

    @raise TopologyError: for any problem, naming file and line.
    """
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise TopologyError(path, 0, f"cannot read topology: {e.strerror}") from None
    return parse_topology(text, path, seed, parameters)


def parse_topology(text: str, filename: str, seed: int, parameters: dict[str, int] | None = None) -> Topology:
    """Validate topology YAML given as text (see L{load_topology}).

    C{parameters} override values of the topology's C{parameters:} section (e.g. the home count
    of C{homes_per_region}); naming one the topology does not have is an error."""
    checker = _Checker(filename)
    doc = load_yaml(text, filename, "topology")
    top = checker.mapping(doc, 1, "the topology")
    checker.keys(top, _TOP_KEYS, "the topology")
    if "homes" not in top:
        raise checker.fail(top.line, "the topology has no 'homes' list")
    name = checker.typed(top, "name", str, "topology") if "name" in top else "topology"
    description = checker.typed(top, "description", str, "topology") if "description" in top else ""
    start = _parse_time(checker, top, "start_time") if "start_time" in top else DEFAULT_START_TIME
    csps = _parse_csps(checker, top) if "csps" in top else default_csps()
    params = _parse_parameters(checker, top, parameters or {})
    homes_raw = top["homes"]
    if not isinstance(homes_raw, _Seq) or not homes_raw:
        raise checker.fail(top.key_lines["homes"], "'homes' must be a non-empty list")
    homes_raw = _expand_templates(checker, top, homes_raw, params)
    if not homes_raw:
        raise checker.fail(top.key_lines["homes"], "'homes' makes no home (every template count is 0)")
    homes: list[HomeSpec] = []
    home_names: dict[str, int] = {}
    for index, raw in enumerate(homes_raw):
        home = _parse_home(checker, raw, index, homes_raw.line, seed)
        if home.name in home_names:
            raise checker.fail(raw.key_lines.get("name", raw.line),
                               f"duplicate home name {home.name!r} (first on line {home_names[home.name]})")
        home_names[home.name] = raw.key_lines.get("name", raw.line)
        if home.csp not in csps:
            raise checker.fail(raw.key_lines["csp"], f"home {home.name!r}.csp {home.csp!r} is not a CSP "
                                                     f"(one of {', '.join(csps)})")
        homes.append(home)
    faults: tuple = ()
    if top.get("faults") is not None:
        from emulator.soak.faults import parse_faults
        faults = parse_faults(checker, top, {h.name: h for h in homes}, csps)
    return Topology(name, description, start, tuple(homes), filename, csps, faults, params,
                    top.get("dcc"), top.key_lines.get("dcc", 0))


def _parse_parameters(checker: _Checker, top: _Map, overrides: dict[str, int]) -> dict[str, int]:
    """The C{parameters:} section (name -> non-negative int), with the caller's overrides."""
    params: dict[str, int] = {}
    if top.get("parameters") is not None:
        section = checker.mapping(top["parameters"], top.key_lines["parameters"], "parameters")
        for key, value in section.items():
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise checker.fail(section.key_lines[key], f"parameters.{key} must be an int >= 0, got "
                                                           f"{_describe(value)}")
            params[key] = value
    for key, value in overrides.items():
        if key not in params:
            known = ", ".join(sorted(params)) or "none"
            raise checker.fail(top.key_lines.get("parameters", top.line),
                               f"parameter {key!r} is not in the topology's parameters (it has: {known})")
        params[key] = value
    return params


def _copy_map(src: _Map, line: int, **values: Any) -> _Map:
    out = _Map()
    out.line = line
    out.key_lines = dict(src.key_lines)
    out.update(src)
    for key, value in values.items():
        out[key] = value
        out.key_lines.setdefault(key, line)
    return out


def _expand_templates(checker: _Checker, top: _Map, homes_raw: _Seq, params: dict[str, int]) -> _Seq:
    """Homes made from templates: C{homes: [{template: T, count: N or a parameter's name,
    prefix: "north-", csp: north}]} gives homes C{north-0001} .. with T's C{han} and C{devices}."""
    templates: _Map | None = None
    if top.get("templates") is not None:
        templates = checker.mapping(top["templates"], top.key_lines["templates"], "templates")
        for tname, traw in templates.items():
            t = checker.mapping(traw, templates.key_lines[tname], f"templates.{tname}")
            checker.keys(t, _TEMPLATE_KEYS, f"templates.{tname}")
            if "devices" not in t:
                raise checker.fail(t.line, f"templates.{tname} has no 'devices' list")
    out = _Seq()
    out.line = homes_raw.line
    for index, raw in enumerate(homes_raw):
        if not isinstance(raw, _Map) or "template" not in raw:
            out.append(raw)
            continue
        what = f"homes[{index}]"
        checker.keys(raw, _TEMPLATE_USE_KEYS, f"{what} (from a template)")
        tname = checker.typed(raw, "template", str, what)
        if templates is None or tname not in templates:
            known = ", ".join(templates or ()) or "none: add a templates: section"
            raise checker.fail(raw.key_lines["template"], f"{what}.template {tname!r} is not a template ({known})")
        template = templates[tname]
        if "count" not in raw:
            raise checker.fail(raw.line, f"{what} needs a count (a number or the name of a parameter)")
        count = raw["count"]
        if isinstance(count, str):
            if count not in params:
                raise checker.fail(raw.key_lines["count"], f"{what}.count {count!r} is not a parameter "
                                                           f"({', '.join(sorted(params)) or 'none'})")
            count = params[count]
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise checker.fail(raw.key_lines["count"], f"{what}.count must be an int >= 0, got {_describe(count)}")
        prefix = checker.typed(raw, "prefix", str, what) if "prefix" in raw else f"{tname}-"
        extra: dict[str, Any] = {"devices": template["devices"]}
        for key in ("han", "csp"):
            if key in raw:
                extra[key] = raw[key]
            elif key in template:
                extra[key] = template[key]
        base = _Map()
        base.line, base.key_lines = raw.line, {}
        for n in range(1, count + 1):
            out.append(_copy_map(base, raw.line, name=f"{prefix}{n:04d}", **extra))
    return out


def _parse_csps(checker: _Checker, top: _Map) -> dict[str, CspSpec]:
    """The C{csps:} section: per-CSP overrides of the default link profiles, or new CSPs.

    Example::

        csps:
          north: {rate_bps: 4800, impairments: {loss: 0.01, outages: [[36000, 3600]]}}
          east: {base: centre, delay: 0.4}      # a fourth CSP, cellular like centre
    """
    section = top["csps"]
    csps = default_csps()
    if section is None:
        return csps
    section = checker.mapping(section, top.key_lines["csps"], "csps")
    for name, raw in section.items():
        line = section.key_lines[name]
        if not re.match(r"^[A-Za-z0-9_-]{1,20}$", name):
            raise checker.fail(line, f"CSP name {name!r} must be 1-20 letters, digits, '-' or '_'")
        what = f"csps.{name}"
        entry = checker.mapping(raw, line, what) if raw is not None else _empty_map(section)
        allowed = set(LinkProfile.overridable()) | _CSP_KEYS
        checker.keys(entry, allowed, what)
        base = name
        if "base" in entry:
            base = checker.typed(entry, "base", str, what)
            if base not in DEFAULT_PROFILES:
                raise checker.fail(entry.key_lines["base"],
                                   f"{what}.base {base!r} is not a CSP region (one of {', '.join(DEFAULT_PROFILES)})")
        elif name not in DEFAULT_PROFILES:
            raise checker.fail(line, f"{what}: a new CSP needs 'base' (one of {', '.join(DEFAULT_PROFILES)})")
        overrides = {k: v for k, v in entry.items() if k not in _CSP_KEYS}
        try:
            profile = DEFAULT_PROFILES[base].with_overrides(name, overrides)
        except (ValueError, TypeError) as e:
            bad = next((k for k in overrides if str(e).startswith(f"{k}:")), None)
            raise checker.fail(entry.key_lines[bad] if bad else line, f"{what}.{e}") from None
        impairments = ImpairmentSpec()
        if entry.get("impairments") is not None:
            imp_line = entry.key_lines["impairments"]
            imp_map = checker.mapping(entry["impairments"], imp_line, f"{what}.impairments")
            try:
                impairments = ImpairmentSpec.from_dict(dict(imp_map))
            except (ValueError, TypeError) as e:
                bad = next((k for k in imp_map if str(k) in str(e)), None)
                raise checker.fail(imp_map.key_lines[bad] if bad else imp_line, f"{what}.impairments: {e}") from None
        csps[name] = CspSpec(name, profile, impairments)
    return csps


def _parse_home(checker: _Checker, raw: Any, index: int, line: int, seed: int) -> HomeSpec:
    home = checker.mapping(raw, line, f"homes[{index}]")
    checker.keys(home, _HOME_KEYS, f"homes[{index}]")
    name = checker.typed(home, "name", str, f"homes[{index}]") if "name" in home else f"home-{index + 1:04d}"
    if not re.match(r"^[A-Za-z0-9_.-]{1,40}$", name):
        raise checker.fail(home.key_lines["name"],
                           f"home name {name!r} must be 1-40 letters, digits, '-', '_' or '.'")
    what = f"home {name!r}"
    han = checker.mapping(home["han"], home.key_lines["han"], f"{what}.han") if "han" in home else _empty_map(home)
    checker.keys(han, _HAN_KEYS, f"{what}.han")
    channel = 11 + derive_seed(seed, name, "channel") % 16
    if "channel" in han:
        channel = checker.typed(han, "channel", int, f"{what}.han")
        if not 11 <= channel <= 26:
            raise checker.fail(han.key_lines["channel"], f"{what}.han.channel must be 11-26 (2.4 GHz), got {channel}")
    pan_id = 1 + derive_seed(seed, name, "pan_id") % 0xFFFE
    if "pan_id" in han:
        pan_id = checker.typed(han, "pan_id", int, f"{what}.han")
        if not 0 <= pan_id <= 0xFFFE:
            raise checker.fail(han.key_lines["pan_id"], f"{what}.han.pan_id must be 0x0000-0xFFFE, got {pan_id:#x}")
    network_key = derive_bytes(seed, name, "network_key", n=16)
    if "network_key" in han:
        network_key = checker.hexbytes(han, "network_key", 16, f"{what}.han")
    impairments = ImpairmentSpec()
    if "impairments" in han:
        imp = han["impairments"]
        imp_line = han.key_lines["impairments"]
        if imp is not None:
            imp_map = checker.mapping(imp, imp_line, f"{what}.han.impairments")
            try:
                impairments = ImpairmentSpec.from_dict(dict(imp_map))
            except (ValueError, TypeError) as e:
                bad = next((k for k in imp_map if str(k) in str(e)), None)
                raise checker.fail(imp_map.key_lines[bad] if bad else imp_line,
                                   f"{what}.han.impairments: {e}") from None
    han_limits = None
    if han.get("limits") is not None:
        limits_map = checker.mapping(han["limits"], han.key_lines["limits"], f"{what}.han.limits")
        try:
            han_limits = HanLimits.from_dict(dict(limits_map))
        except ValueError as e:
            bad = next((k for k in limits_map if str(k) in str(e)), None)
            raise checker.fail(limits_map.key_lines[bad] if bad else han.key_lines["limits"],
                               f"{what}.han.limits: {e}") from None
    if "devices" not in home:
        raise checker.fail(home.line, f"{what} has no 'devices' list")
    devs_raw = home["devices"]
    if not isinstance(devs_raw, _Seq) or not devs_raw:
        raise checker.fail(home.key_lines["devices"], f"{what}.devices must be a non-empty list")
    devices: list[DeviceSpec] = []
    seen: dict[str, int] = {}
    euis: dict[int, int] = {}
    for dev_index, dev_raw in enumerate(devs_raw):
        dev = _parse_device(checker, dev_raw, devs_raw.line, index, dev_index, name, seed)
        dev_line = dev_raw.line
        if dev.name in seen:
            raise checker.fail(dev_raw.key_lines.get("name", dev_line),
                               f"duplicate device name {dev.name!r} in {what} (first on line {seen[dev.name]})")
        if dev.eui64 in euis:
            raise checker.fail(dev_raw.key_lines.get("eui64", dev_line),
                               f"duplicate EUI-64 {dev.eui64:016X} in {what} (first on line {euis[dev.eui64]})")
        seen[dev.name] = dev_line
        euis[dev.eui64] = dev_line
        devices.append(dev)
    chs = [d for d in devices if d.kind == "CH"]
    if len(chs) != 1:
        raise checker.fail(home.key_lines["devices"],
                           f"{what} must have exactly one CH (Communications Hub), found {len(chs)}")
    if not chs[0].params.get("dual_band", False):
        for dev_raw, dev in zip(devs_raw, devices):
            if dev.params.get("band", 2400) != 2400:
                raise checker.fail(dev_raw.key_lines["band"], f"device {dev.name!r} of {what}: band "
                                                              f"{dev.params['band']} needs a dual-band CH "
                                                              "(dual_band: true on the CH)")
    commands = _parse_gbcs_commands(checker, home, what) if "gbcs_commands" in home else ()
    csp = checker.typed(home, "csp", str, what) if "csp" in home else DEFAULT_CSP
    return HomeSpec(name, index, channel, pan_id, network_key, impairments, tuple(devices), commands, csp,
                    han_limits)


def _resolve(checker: _Checker, path: str) -> str:
    """A path from the topology, relative to the topology file's directory."""
    if os.path.isabs(path):
        return path
    return os.path.join(os.path.dirname(os.path.abspath(checker.filename)), path)


def _parse_gbcs_commands(checker: _Checker, home: _Map, what: str) -> tuple[ScheduledGbcs, ...]:
    """C{gbcs_commands: [{at: seconds, file: RTDS .HEX file} | {at: seconds, hex: "DD..."}]}."""
    from protocols.errors import CodecError
    from protocols.gbcs.framing import decode_frame

    raw = home["gbcs_commands"]
    if not isinstance(raw, _Seq):
        raise checker.fail(home.key_lines["gbcs_commands"], f"{what}.gbcs_commands must be a list, got "
                                                            f"{_describe(raw)}")
    out = []
    for i, entry in enumerate(raw):
        where = f"{what}.gbcs_commands[{i}]"
        m = checker.mapping(entry, raw.line, where)
        checker.keys(m, {"at", "file", "hex"}, where)
        if "at" not in m:
            raise checker.fail(m.line, f"{where} has no 'at' (seconds after the start of the run)")
        at = checker.typed(m, "at", (int, float), where)
        if at < 0:
            raise checker.fail(m.key_lines["at"], f"{where}.at must be >= 0, got {at}")
        if ("file" in m) == ("hex" in m):
            raise checker.fail(m.line, f"{where} needs exactly one of 'file' (an RTDS .HEX file) or 'hex'")
        key = "file" if "file" in m else "hex"
        value = checker.typed(m, key, str, where)
        source = "hex"
        if key == "file":
            source = _resolve(checker, value)
            try:
                with open(source, encoding="ascii") as f:
                    value = f.read()
            except (OSError, UnicodeDecodeError) as e:
                raise checker.fail(m.key_lines["file"], f"{where}.file: cannot read {value!r}: "
                                                        f"{getattr(e, 'strerror', None) or e}") from None
        text = "".join(value.split())
        if not text or not _HEX.match(text) or len(text) % 2:
            raise checker.fail(m.key_lines[key], f"{where}.{key}: not hex octets")
        message = bytes.fromhex(text)
        try:
            decode_frame(message)
        except CodecError as e:
            raise checker.fail(m.key_lines[key], f"{where}.{key}: not a GBCS message: {e}") from None
        out.append(ScheduledGbcs(float(at), message, source))
    return tuple(out)


def _empty_map(parent: _Map) -> _Map:
    m = _Map()
    m.line = parent.line
    m.key_lines = {}
    return m


def _parse_eui(checker: _Checker, m: _Map, key: str, what: str) -> int:
    return int.from_bytes(checker.hexbytes(m, key, 8, what), "big")


def _check_cbke(checker: _Checker, dev: _Map, params: dict[str, Any], what: str) -> None:
    """CBKE options: a CA name, or an explicit certificate and private key (both, as hex)."""
    if "cbke_ca" in dev and not re.match(r"^[A-Za-z0-9_.-]{1,40}$", dev["cbke_ca"]):
        raise checker.fail(dev.key_lines["cbke_ca"],
                           f"{what}.cbke_ca {dev['cbke_ca']!r} must be 1-40 letters, digits, '-', '_' or '.'")
    explicit = [k for k in ("cbke_certificate", "cbke_private_key") if k in dev]
    if len(explicit) == 1:
        other = "cbke_private_key" if explicit[0] == "cbke_certificate" else "cbke_certificate"
        raise checker.fail(dev.key_lines[explicit[0]], f"{what}.{explicit[0]} needs {other} too")
    if explicit:
        if "cbke_ca" in dev:
            raise checker.fail(dev.key_lines["cbke_ca"],
                               f"{what}.cbke_ca and an explicit cbke_certificate exclude each other")
        params["cbke_certificate"] = checker.hexbytes(dev, "cbke_certificate", CBKE_CERTIFICATE_OCTETS, what).hex()
        key = checker.hexbytes(dev, "cbke_private_key", CBKE_PRIVATE_KEY_OCTETS, what)
        if int.from_bytes(key, "big") == 0:
            raise checker.fail(dev.key_lines["cbke_private_key"], f"{what}.cbke_private_key must not be zero")
        params["cbke_private_key"] = key.hex()
    if dev.get("cbke", True) is False and (explicit or "cbke_ca" in dev):
        raise checker.fail(dev.key_lines["cbke"], f"{what}.cbke is false but CBKE credentials are given")


def _check_insider(checker: _Checker, dev: _Map, params: dict[str, Any], what: str) -> None:
    """INSIDER options: known attack classes (no repeats), a positive rate and duration, a start >= 0."""
    from protocols.zigbee.attacks import ATTACK_CLASSES
    if "attack_classes" in dev:
        classes = dev["attack_classes"]
        line = dev.key_lines["attack_classes"]
        if not classes:
            raise checker.fail(line, f"{what}.attack_classes must name at least one class "
                                     f"(of {', '.join(ATTACK_CLASSES)})")
        for name in classes:
            if not isinstance(name, str) or name not in ATTACK_CLASSES:
                raise checker.fail(line, f"{what}.attack_classes: {name!r} is not an attack class "
                                         f"(one of {', '.join(ATTACK_CLASSES)})")
        if len(set(classes)) != len(classes):
            raise checker.fail(line, f"{what}.attack_classes names a class twice")
        params["attack_classes"] = tuple(classes)
    for key in ("attack_rate", "attack_duration"):
        if key in dev and not 0 < dev[key] < float("inf"):
            raise checker.fail(dev.key_lines[key], f"{what}.{key} must be positive, got {dev[key]}")
    if "attack_rate" in dev and dev["attack_rate"] > 1000:
        raise checker.fail(dev.key_lines["attack_rate"], f"{what}.attack_rate must be at most 1000 frames per "
                                                         f"second, got {dev['attack_rate']}")
    if "attack_start" in dev and not 0 <= dev["attack_start"] < float("inf"):
        raise checker.fail(dev.key_lines["attack_start"], f"{what}.attack_start must be >= 0, got "
                                                          f"{dev['attack_start']}")


def _parse_device(checker: _Checker, raw: Any, line: int, home_index: int, dev_index: int,
                  home_name: str, seed: int) -> DeviceSpec:
    dev = checker.mapping(raw, line, f"home {home_name!r} devices[{dev_index}]")
    what = f"home {home_name!r} devices[{dev_index}]"
    if "kind" not in dev:
        raise checker.fail(dev.line, f"{what} has no 'kind' (one of {', '.join(DEVICE_KINDS)})")
    kind = checker.typed(dev, "kind", str, what)
    if kind not in DEVICE_KINDS:
        raise checker.fail(dev.key_lines["kind"],
                           f"{what}.kind {kind!r} is not a device kind this emulator hosts "
                           f"(one of {', '.join(DEVICE_KINDS)})")
    allowed = {**_COMMON_DEVICE_KEYS, **DEVICE_KINDS[kind]}
    checker.keys(dev, allowed, f"{what} ({kind})")
    for key, typ in allowed.items():
        if key in dev:
            checker.typed(dev, key, typ, what)
    name = dev.get("name", kind.lower())
    what = f"device {name!r} of home {home_name!r}"
    # Default EUI-64s: a made-up OUI block, one per home and device slot.
    eui = 0x00DB_1200_0000_0000 | (home_index + 1) << 16 | (dev_index + 1) << 4
    if "eui64" in dev:
        eui = _parse_eui(checker, dev, "eui64", what)
        if eui in (0, 0xFFFF_FFFF_FFFF_FFFF):
            raise checker.fail(dev.key_lines["eui64"], f"{what}.eui64 {eui:016X} is reserved")
    code = derive_bytes(seed, home_name, name, "install_code", n=16)
    if "install_code" in dev:
        code = checker.hexbytes(dev, "install_code", 16, what)
    registered: bytes | None = code
    if "registered_install_code" in dev:
        registered = checker.hexbytes(dev, "registered_install_code", 16, what)
    if dev.get("whitelisted", True) is False:
        registered = None
    for key in ("wake_interval", "read_interval", "gas_read_interval", "mean_power_w", "mean_gas_m3_per_day",
                "unit_rate_p_per_kwh", "clock_sync_interval"):
        if key in dev and dev[key] <= 0:
            raise checker.fail(dev.key_lines[key], f"{what}.{key} must be positive, got {dev[key]}")
    # scheduled HAN events, seconds after the device powers on: network_key_updates (CH: the
    # trust centre distributes a seed-derived new network key and switches to it), rejoin_at
    # (NWK Leave with rejoin, then a secured rejoin), leave_at (NWK Leave without rejoin)
    for key in ("network_key_updates", "rejoin_at", "leave_at"):
        if key in dev:
            times = dev[key]
            if not all(isinstance(t, (int, float)) and not isinstance(t, bool) and t > 0 for t in times) \
                    or list(times) != sorted(times):
                raise checker.fail(dev.key_lines[key], f"{what}.{key} must be increasing positive seconds, "
                                                       f"got {times!r}")
    power_on = 0.0 if kind == "CH" else 1.0 + (derive_seed(seed, home_name, name, "power_on") % 4000) / 1000.0
    if "power_on" in dev:
        power_on = float(dev["power_on"])
        if power_on < 0:
            raise checker.fail(dev.key_lines["power_on"], f"{what}.power_on must be >= 0, got {power_on}")
    gpf = None
    if kind == "CH":
        gpf = eui + 1 if "gpf_eui64" not in dev else _parse_eui(checker, dev, "gpf_eui64", what)
        registered = None
    if "controller" in dev and not 1 <= dev["controller"] <= 5:
        raise checker.fail(dev.key_lines["controller"], f"{what}.controller must be 1-5 (the ESME's auxiliary "
                                                        f"controller), got {dev['controller']}")
    if "band" in dev and dev["band"] not in BANDS:
        raise checker.fail(dev.key_lines["band"], f"{what}.band must be one of {', '.join(map(str, BANDS))} "
                                                  f"(MHz), got {dev['band']}")
    for key in ("close_tunnel_timeout", "tunnel_queue_limit", "tunnel_queue_expiry"):
        if key in dev and dev[key] <= 0:
            raise checker.fail(dev.key_lines[key], f"{what}.{key} must be positive, got {dev[key]}")
    params = {k: v for k, v in dev.items() if k in DEVICE_KINDS[kind] and k != "gpf_eui64"}
    if "gbcs_keys" in params:
        params["gbcs_keys"] = _resolve(checker, params["gbcs_keys"])
        if not os.path.isdir(params["gbcs_keys"]):
            raise checker.fail(dev.key_lines["gbcs_keys"], f"{what}.gbcs_keys: {dev['gbcs_keys']!r} is not a "
                                                           "key store directory")
    _check_cbke(checker, dev, params, what)
    if kind == "INSIDER":
        _check_insider(checker, dev, params, what)
    return DeviceSpec(kind, name, eui, code, registered, power_on, params, gpf)
