"""The C{dcc:} section of a topology: DCC Users, registrations, CSP regions, inventory extras.

Example (C{topologies/rtds-home.yaml})::

    dcc:
      id: "90B3D51F30000002"              # the DCC's EUI (the ACB's), target of non-device requests
      keys: ../../shared/rtds/keystore    # key store (RTDS layout), relative to the topology file
      users:
        - {id: "90B3D51F30010000", name: supplier, roles: [IS, GS]}
        - {id: "90B3D51F30020000", name: network-operator, roles: [ED, GT],
           response_url: "http://127.0.0.1:9001/duis"}
      homes:
        home-0001:                          # (its CSP region is the home's csp: in homes:)
                                            # ("*": every home not named, e.g. made from a template)
          import_supplier: "90B3D51F30010000"
          ...
          status: commissioned              # of every device of the home (default)
          devices:
            - {name: gsme, status: installed, firmware: "0002012F"}   # a topology device
            - {eui64: "00DB1234567890A4", type: PPMID, status: pending} # inventory only

A User's certificate is its C{<eui>-ds.pem} from the key store (a bare public key there does
too); roles default to the certificate's remote-party role (2 supplier: IS ES GS; 3 network
operator: ED GT; 127 other: OU).  Without C{keys}, the DCC's and every User's DS key pair is
made from the run seed (the same seed, the same keys) and kept in memory: C{twistd smets
--duis-keys DIR} writes them out for C{smets duis sign --keys DIR}; roles must then be given.
Errors are L{TopologyError}s (C{file:line: message}), reported before anything runs.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass

from emulator.dcc.inventory import (DEVICE_TYPES, REGISTRATION_ROLES, DeviceStatus, Inventory, InventoryDevice,
                                    InventoryError, ServiceUser)
from emulator.rng import derive_seed
from protocols.acb.anomaly import Thresholds
from emulator.topology import Topology
from emulator.yaml_lines import _Checker, _Map, _Seq
from protocols.duis.matrix import ROLES, load_matrix
from protocols.gbcs.keystore import KeyStore, parse_eui

__all__ = ["DccConfig", "load_dcc_config", "DEFAULT_DCC_ID"]

#: the ACB's EUI in the DCC reference data (target of the RTDS non-device requests)
DEFAULT_DCC_ID = 0x90B3D51F30000002

#: remote-party role (certificate OU) -> DUIS User roles
_ROLES_BY_PARTY = {2: frozenset({"IS", "ES", "GS"}), 3: frozenset({"ED", "GT"}), 127: frozenset({"OU"})}
#: topology device kind -> inventory device types (the CH is two devices: CHF and GPF)
_TYPES_BY_KIND = {"ESME": "ESME", "GSME": "GSME", "IHD": "IHD", "PPMID": "PPMID", "HCALCS": "HCALCS"}

_TOP = {"id", "keys", "users", "homes", "anomaly_detection"}
_ANOMALY = {"window_seconds", "non_critical", "critical", "hold_seconds", "max_held", "services", "users"}
_USER = {"id", "name", "roles", "response_url"}
_HOME = {"status", "firmware", "devices", *REGISTRATION_ROLES.values()}
_DEVICE = {"name", "eui64", "type", "status", "firmware", "manufacturer", "model"}


@dataclass(frozen=True, slots=True)
class DccConfig:
    inventory: Inventory
    keystore: KeyStore
    #: True when the keys were made from the seed (not read from a key store directory)
    generated_keys: bool
    #: anomaly detection thresholds (C{dcc.anomaly_detection}; defaults without one)
    thresholds: Thresholds = Thresholds()


def _generate(keystore: KeyStore, eui: int, seed: int) -> None:
    keystore.generate(eui, "ds", random.Random(derive_seed(seed, "dcc", f"{eui:016x}", "ds")))


def load_dcc_config(topology: Topology, seed: int = 1) -> DccConfig:
    """Build the inventory of C{topology} from its C{dcc:} section (defaults without one);
    C{seed} makes the keys when the section names no key store."""
    filename = topology.filename
    section = topology.dcc
    checker = _Checker(filename)
    if section is None:
        empty = _Map()
        empty.line, empty.key_lines = 1, {}
        section = empty
    else:
        section = checker.mapping(section, topology.dcc_line, "dcc")
    checker.keys(section, _TOP, "dcc")
    dcc_id = _eui(checker, section, "id", "dcc") if "id" in section else DEFAULT_DCC_ID
    generated = "keys" not in section
    keystore = KeyStore()
    if generated:
        _generate(keystore, dcc_id, seed)
    else:
        path = checker.typed(section, "keys", str, "dcc")
        path = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(filename)), path))
        try:
            keystore = KeyStore(path)
        except FileNotFoundError:
            raise checker.fail(section.key_lines["keys"], f"dcc.keys: key store directory not found: {path}") from None
    inventory = Inventory(dcc_id)
    for index, raw in enumerate(_seq(checker, section, "users", "dcc")):
        _add_user(checker, inventory, keystore, raw, index, seed if generated else None)
    homes_cfg = checker.mapping(section["homes"], section.key_lines["homes"], "dcc.homes") \
        if "homes" in section else None
    names = {h.name for h in topology.homes}
    if homes_cfg is not None:
        for name in homes_cfg:
            if name not in names and name != "*":   # "*": the entry of every home not named
                raise checker.fail(homes_cfg.key_lines[name], f"dcc.homes: no home {name!r} in the topology "
                                                              f"(homes: {', '.join(sorted(names))})")
    for home in topology.homes:
        key = home.name if homes_cfg is None or home.name in homes_cfg else "*"
        cfg = homes_cfg.get(key) if homes_cfg is not None else None
        line = homes_cfg.key_lines.get(key, 0) if homes_cfg is not None else 0
        _add_home(checker, inventory, home, cfg, line)
    thresholds = _thresholds(checker, section) if "anomaly_detection" in section else Thresholds()
    return DccConfig(inventory, keystore, generated, thresholds)


def _limit(checker: _Checker, m: _Map, key: str, what: str) -> int:
    value = m[key]
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise checker.fail(m.key_lines[key], f"{what}.{key} must be a whole number >= 1, got {value!r}")
    return value


def _seconds(checker: _Checker, m: _Map, key: str, what: str) -> float:
    value = m[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise checker.fail(m.key_lines[key], f"{what}.{key} must be a number of seconds > 0, got {value!r}")
    return float(value)


def _thresholds(checker: _Checker, section: _Map) -> Thresholds:
    """C{dcc.anomaly_detection}: limits per User and service reference in a rolling window::

        anomaly_detection:
          window_seconds: 3600      # the rolling window
          non_critical: 10000       # default limit per User and service reference in the window
          critical: 1000            # default limit of a critical service reference
          hold_seconds: 86400       # a quarantined request not released by then is rejected (E16)
          max_held: 10000           # bound of the holding queue
          services: {"4.1": 500}    # per service reference, for every User
          users:                    # one User's own limits ("*": all its service references)
            "90B3D51F30010000": {"11.2": 5, "*": 2000}
    """
    what = "dcc.anomaly_detection"
    m = checker.mapping(section["anomaly_detection"], section.key_lines["anomaly_detection"], what)
    checker.keys(m, _ANOMALY, what)
    kw: dict = {}
    for key, name in (("window_seconds", "window"), ("hold_seconds", "hold")):
        if key in m:
            kw[name] = _seconds(checker, m, key, what)
    for key in ("non_critical", "critical", "max_held"):
        if key in m:
            kw[key] = _limit(checker, m, key, what)
    references = load_matrix().references
    if "services" in m:
        services = checker.mapping(m["services"], m.key_lines["services"], f"{what}.services")
        out = {}
        for ref in services:
            if str(ref) not in references:
                raise checker.fail(services.key_lines[ref], f"{what}.services: {ref!r} is not a DUIS service "
                                                            "reference (quote it: \"4.1\")")
            out[str(ref)] = _limit(checker, services, ref, f"{what}.services")
        kw["services"] = out
    if "users" in m:
        users = checker.mapping(m["users"], m.key_lines["users"], f"{what}.users")
        per_user = {}
        for key in users:
            try:
                eui = parse_eui(str(key))
            except ValueError:
                raise checker.fail(users.key_lines[key], f"{what}.users: {key!r} is not an EUI-64") from None
            limits = checker.mapping(users[key], users.key_lines[key], f"{what}.users.{key}")
            own = {}
            for ref in limits:
                if str(ref) != "*" and str(ref) not in references:
                    raise checker.fail(limits.key_lines[ref], f"{what}.users.{key}: {ref!r} is not a DUIS service "
                                                              "reference or \"*\"")
                own[str(ref)] = _limit(checker, limits, ref, f"{what}.users.{key}")
            per_user[eui] = own
        kw["users"] = per_user
    return Thresholds(**kw)


def _seq(checker: _Checker, m: _Map, key: str, what: str) -> list:
    if key not in m:
        return []
    value = m[key]
    if not isinstance(value, _Seq):
        raise checker.fail(m.key_lines[key], f"{what}.{key} must be a list")
    return value


def _eui(checker: _Checker, m: _Map, key: str, what: str) -> int:
    try:
        return parse_eui(str(m[key]))
    except ValueError:
        raise checker.fail(m.key_lines[key], f"{what}.{key} must be an EUI-64 (16 hex digits), got {m[key]!r}") \
            from None


def _add_user(checker: _Checker, inventory: Inventory, keystore: KeyStore, raw, index: int,
              seed: int | None) -> None:
    what = f"dcc.users[{index}]"
    m = checker.mapping(raw, getattr(raw, "line", 0), what)
    checker.keys(m, _USER, what)
    if "id" not in m:
        raise checker.fail(m.line, f"{what} needs an id (the User's EUI-64)")
    user_id = _eui(checker, m, "id", what)
    if seed is not None:
        if "roles" not in m:
            raise checker.fail(m.line, f"{what} needs roles (its keys are made from the seed: no certificate "
                                       "names its role)")
        _generate(keystore, user_id, seed)
    cert = keystore.certificate(user_id, "ds")
    public = keystore.public_key(user_id, "ds")
    if public is None:
        raise checker.fail(m.key_lines["id"], f"{what}: no certificate {user_id:016x}-ds.pem in the key store "
                                              "(dcc.keys) to check this User's signatures with")
    if "roles" in m:
        roles_raw = m["roles"]
        if not isinstance(roles_raw, _Seq) or not roles_raw:
            raise checker.fail(m.key_lines["roles"], f"{what}.roles must be a non-empty list of {', '.join(ROLES)}")
        bad = [r for r in roles_raw if r not in ROLES]
        if bad:
            raise checker.fail(m.key_lines["roles"],
                               f"{what}.roles: unknown role {bad[0]!r} (one of {', '.join(ROLES)})")
        roles = frozenset(roles_raw)
    else:
        party = keystore.role(user_id, "ds")
        roles = _ROLES_BY_PARTY.get(party)
        if roles is None:
            raise checker.fail(m.line, f"{what}: give roles (its certificate's remote-party role {party} has no "
                                       "DUIS User role)")
    url = checker.typed(m, "response_url", str, what) if "response_url" in m else None
    if url is not None and not url.startswith(("http://", "https://")):
        raise checker.fail(m.key_lines["response_url"], f"{what}.response_url must be an http(s) URL, got {url!r}")
    name = checker.typed(m, "name", str, what) if "name" in m else f"{user_id:016X}"
    try:
        inventory.add_user(ServiceUser(user_id, name, roles, (cert,) if cert is not None else (), url,
                                       public_keys=() if cert is not None else (public,)))
    except InventoryError as e:
        raise checker.fail(m.key_lines["id"], f"{what}: {e}") from None


def _status(checker: _Checker, m: _Map, what: str, default: DeviceStatus) -> DeviceStatus:
    if "status" not in m:
        return default
    try:
        return DeviceStatus.parse(str(m["status"]))
    except ValueError as e:
        raise checker.fail(m.key_lines["status"], f"{what}.status: {e}") from None


def _add_home(checker: _Checker, inventory: Inventory, home, cfg, line: int) -> None:
    what = f"dcc.homes.{home.name}"
    if cfg is None:
        cfg = _Map()
        cfg.line, cfg.key_lines = line, {}
    cfg = checker.mapping(cfg, line, what)
    if "csp_region" in cfg:
        raise checker.fail(cfg.key_lines["csp_region"], f"{what}.csp_region: the CSP serving a home is the "
                                                        f"home's csp: (homes: - name: {home.name}, csp: ...)")
    checker.keys(cfg, _HOME, what)
    region = home.csp   # the one place that says which CSP's WAN serves the home (emulator.topology)
    registration = {}
    for role, key in REGISTRATION_ROLES.items():
        if key in cfg:
            registration[role] = _eui(checker, cfg, key, what)
    status = _status(checker, cfg, what, DeviceStatus.COMMISSIONED)
    firmware = str(cfg["firmware"]) if "firmware" in cfg else ""
    ch = next(d for d in home.devices if d.kind == "CH")
    by_name: dict[str, list[InventoryDevice]] = {}
    for dev in home.devices:
        types = [("CHF", dev.eui64), ("GPF", dev.gpf_eui64)] if dev.kind == "CH" else \
            [(_TYPES_BY_KIND[dev.kind], dev.eui64)] if dev.kind in _TYPES_BY_KIND else []
        for dtype, eui in types:
            if eui is None:
                continue
            by_name.setdefault(dev.name, []).append(inventory.add_device(InventoryDevice(
                eui, dtype, status, home.name, region, ch.eui64, firmware, registration=dict(registration))))
    for index, raw in enumerate(_seq(checker, cfg, "devices", what)):
        dwhat = f"{what}.devices[{index}]"
        m = checker.mapping(raw, getattr(raw, "line", 0), dwhat)
        checker.keys(m, _DEVICE, dwhat)
        if "name" in m:
            if m["name"] not in by_name:
                raise checker.fail(m.key_lines["name"], f"{dwhat}: no device {m['name']!r} in home {home.name!r}")
            targets = by_name[m["name"]]
        elif "eui64" in m:
            if "type" not in m or m["type"] not in DEVICE_TYPES:
                raise checker.fail(m.line, f"{dwhat}: an inventory-only device needs a type "
                                           f"({', '.join(sorted(DEVICE_TYPES))})")
            try:
                targets = [inventory.add_device(InventoryDevice(
                    _eui(checker, m, "eui64", dwhat), m["type"], status, home.name, region, ch.eui64, firmware,
                    registration=dict(registration)))]
            except InventoryError as e:
                raise checker.fail(m.key_lines["eui64"], f"{dwhat}: {e}") from None
        else:
            raise checker.fail(m.line, f"{dwhat} needs the name of a topology device or an eui64 and type")
        for device in targets:
            device.status = _status(checker, m, dwhat, device.status)
            for key, attr in (("firmware", "firmware_version"), ("manufacturer", "manufacturer"), ("model", "model")):
                if key in m:
                    setattr(device, attr, str(m[key]))
