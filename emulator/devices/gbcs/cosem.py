"""A COSEM object model for GBCS DLMS devices (ESME, CHF): typed attributes, get / set / action.

The device keeps its state as COSEM objects (interface class, OBIS instance) whose attributes
are DLMS Data trees in the payload codec's form (C{{"type": ..., "value": ...}},
L{protocols.gbcs.payloads.dlms}).  An attribute's type comes from its interface class
(DLMS Blue Book: e.g. a Register's scaler_unit is structure{integer, enum}, a Clock's time an
octet-string of 12) or, for the class-1/3/4/9000 "value" attributes whose type the class
leaves open, from the GBCS object definition (L{INSTANCE_TYPES}).

Access follows the xDLMS Access service as GBCS devices use it (spec/gbcs-wire-format.md
4.1): items are processed in order; a set must carry a value of the attribute's type
(else type-unmatched); once an item fails, the remaining items are not processed and answer
other-reason (250), so a failed command never half-applies past its failing item.

Faults are part of the state: L{ObjectModel.faults} maps an attribute or method to the
Data-Access-Result / Action-Result it currently yields (a register whose hardware failed).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Callable

__all__ = ["SUCCESS", "HARDWARE_FAULT", "OBJECT_UNDEFINED", "TYPE_UNMATCHED", "READ_WRITE_DENIED",
           "OTHER_REASON", "CLASS_ATTRIBUTES", "CLASS_METHODS", "INSTANCE_TYPES", "ALTERNATIVE_TYPES",
           "INSTANCE_DEVICE", "ACTIVATED_OBJECTS", "PROFILE_COLUMNS", "PROFILE_DEVICE", "profile_type_description", "CosemObject",
           "ObjectModel", "same_shape", "default_for"]

SUCCESS = 0
HARDWARE_FAULT = 1
READ_WRITE_DENIED = 3
OBJECT_UNDEFINED = 4
TYPE_UNMATCHED = 12
OTHER_REASON = 250


# --------------------------------------------------------------------------- Data builders

def _n(t: str, v: Any = None) -> dict:
    return {"type": t} if t == "null-data" else {"type": t, "value": v}


def _os(n: int) -> dict:
    return {"type": "octet-string", "value": "00" * n}


def _st(*m: dict) -> dict:
    return {"type": "structure", "value": list(m)}


def _arr(*m: dict) -> dict:
    return {"type": "array", "value": list(m)}


def _bits(n: int) -> dict:
    return {"type": "bit-string", "bits": n, "value": "00" * ((n + 7) // 8)}


NEVER = {"type": "octet-string", "value": "FFFFFFFFFFFFFFFFFF8000FF"}
DLU = lambda: _n("double-long-unsigned", 0)          # noqa: E731
DL = lambda: _n("double-long", 0)                    # noqa: E731
SCALER_UNIT = lambda unit=30: _st(_n("integer", 0), _n("enum", unit))  # noqa: E731
#: a unit charge (IC113 attributes 5/6): scaling, commodity reference, charge prices
UNIT_CHARGE = lambda: _st(_st(_n("integer", 0), _n("integer", 0)),  # noqa: E731
                          _st(_n("long-unsigned", 0), _os(6), _n("integer", 0)),
                          _arr())


# --------------------------------------------------------------------------- class schemas

#: interface class -> attribute id -> default value factory (DLMS Blue Book; attribute 1,
#: logical_name, is the OBIS code itself).  C{None} = the type is instance-specific.
CLASS_ATTRIBUTES: dict[int, dict[int, Callable[[], dict] | None]] = {
    1: {2: None},                                                    # Data
    3: {2: None, 3: SCALER_UNIT},                                    # Register
    4: {2: None, 3: SCALER_UNIT, 4: lambda: _n("null-data"), 5: lambda: copy.deepcopy(NEVER)},
    7: {2: _arr, 3: _arr, 4: DLU, 5: lambda: _n("enum", 1), 7: DLU, 8: DLU},     # Profile generic
    8: {2: lambda: _os(12), 3: lambda: _n("long", 0), 4: lambda: _n("unsigned", 0),  # Clock
        5: lambda: _os(12), 6: lambda: _os(12), 7: lambda: _n("integer", 0), 8: lambda: _n("boolean", False),
        9: lambda: _n("enum", 1)},
    9: {2: _arr},                                                    # Script table
    10: {2: _arr},                                                   # Schedule
    11: {2: _arr},                                                   # Special days table
    20: {2: lambda: _os(1), 3: _arr, 4: _arr, 5: _arr,               # Activity calendar
         6: lambda: _os(1), 7: _arr, 8: _arr, 9: _arr, 10: lambda: copy.deepcopy(NEVER)},
    21: {2: _arr, 3: _st, 4: _arr},                                  # Register monitor
    22: {2: _st, 3: lambda: _n("enum", 1), 4: _arr},                 # Single action schedule
    70: {2: lambda: _n("boolean", True), 3: lambda: _n("enum", 1), 4: lambda: _n("enum", 0)},  # Disconnect
    71: {2: _st, 3: DLU, 4: DLU, 5: DLU, 6: DLU, 7: DLU, 8: DLU, 9: _st, 10: _arr, 11: lambda: _n("enum", 0)},
    111: {2: lambda: _st(_n("enum", 1), _n("enum", 1)), 3: lambda: _n("bit-string"), 4: _arr,  # Account
          5: DL, 6: DL, 7: DL, 8: DL, 9: DL, 10: DL, 11: _arr, 12: _arr, 13: lambda: copy.deepcopy(NEVER),
          14: lambda: copy.deepcopy(NEVER), 15: DL, 16: DL, 17: DL, 18: lambda: _n("long-unsigned", 0),
          19: DL},
    112: {2: DL, 3: lambda: _n("enum", 0), 4: lambda: _n("unsigned", 0),  # Credit
          5: lambda: _bits(8), 6: DL, 7: DL, 8: lambda: _bits(8), 9: DL, 10: DL, 11: lambda: copy.deepcopy(NEVER)},
    113: {2: lambda: _n("long-unsigned", 0), 3: lambda: _n("enum", 0), 4: DL, 5: UNIT_CHARGE,  # Charge
          6: UNIT_CHARGE, 7: lambda: copy.deepcopy(NEVER), 8: DLU, 9: lambda: _os(0), 10: DL, 11: lambda: _os(12),
          12: DL, 13: lambda: _n("long-unsigned", 0)},
    9000: {2: None, 3: SCALER_UNIT, 4: None, 5: SCALER_UNIT, 6: lambda: copy.deepcopy(NEVER)},  # GBCS extended data
    104: {2: lambda: _n("boolean", False), 3: lambda: _n("long-unsigned", 0), 4: _arr},  # ZigBee network control
}

#: interface class -> method id -> DLMS type of the parameter (C{None}: any / null-data).
CLASS_METHODS: dict[int, dict[int, str | None]] = {
    3: {1: "integer"},                        # reset
    4: {1: "integer"},                        # reset
    7: {1: "integer", 2: "integer"},          # reset, capture
    8: {1: "integer", 2: "integer", 3: "integer", 4: "integer", 5: "structure", 6: "structure"},
    9: {1: "long-unsigned"},                  # execute(script id)
    70: {1: "integer", 2: "integer"},         # remote disconnect / reconnect
    30: {1: "structure"},                     # data protection: get protected attributes
    111: {1: "integer", 2: "integer", 3: "integer"},
    112: {1: "double-long", 2: "double-long", 3: "enum"},
    113: {1: "structure", 2: "integer", 3: "integer", 4: "double-long"},
    104: {1: "structure", 2: "octet-string", 3: None, 4: None, 5: "structure"},   # ZigBee network control
    115: {1: "octet-string"},                 # enter (token)
}


def _value_type(class_id: int, obis: str, attr: int) -> Callable[[], dict] | None:
    """The default of an instance-specific value attribute (GBCS object definitions)."""
    t = INSTANCE_TYPES.get((class_id, obis, attr))
    if t is not None:
        return t
    a, b_c = obis.split("-", 1)
    b, rest = b_c.split(":", 1)
    c, d, e, f = (int(x) for x in rest.split("."))
    if a == "1" and class_id in (3, 4):
        # electricity energy / demand registers (IEC 62056-61 value groups C/D)
        return DLU
    if a == "1" and class_id == 1:
        return DLU
    if class_id == 9000 and attr in (2, 4):
        return DL
    return None


#: (class, OBIS, attribute) -> default, where the interface class leaves the type open.
INSTANCE_TYPES: dict[tuple[int, str, int], Callable[[], dict]] = {}
#: (class, OBIS, attribute) -> the DLMS types a set may carry, where GBCS allows a CHOICE.
ALTERNATIVE_TYPES: dict[tuple[int, str, int], frozenset[str]] = {}


#: (class, OBIS) -> the device type that holds the object (ESME unless said otherwise)
INSTANCE_DEVICE: dict[tuple[int, str], str] = {}


def _it(class_id: int, obis: str, make: Callable[[], dict], attrs: tuple[int, ...] = (2,),
        device: str = "ESME") -> None:
    for a in attrs:
        INSTANCE_TYPES[(class_id, obis, a)] = make
    INSTANCE_DEVICE[(class_id, obis)] = device


# GBCS ESME object definitions (value attribute types)
for _o in ("0-0:94.44.5.0", "0-0:94.44.5.1", "0-0:94.44.5.2"):    # maximum demand reset date-times (import, export)
    _it(1, _o, lambda: copy.deepcopy(NEVER))
for _i in range(1, 6):                                            # alert/event behaviour flags
    _it(1, f"0-0:94.44.6.{_i}", lambda: _n("boolean", False))
_it(1, "0-0:94.44.7.255", lambda: _n("boolean", False))
_it(1, "0-0:94.44.0.4", lambda: _n("boolean", False))
# prepayment balances (meter balance, emergency credit, accumulated debt, payment debt,
# time debt 1, time debt 2), read protected (ECS19)
_it(1, "0-0:94.44.34.30", lambda: _st(*(DL() for _ in range(6))))
for _i in range(0, 3):                                            # configuration counts / periods
    _it(1, f"0-0:94.44.0.{_i}", lambda: _n("long-unsigned", 0))
# power import collection: active power import (W), its scaler-unit, and the threshold it is
# compared with
_it(1, "0-0:94.44.34.20", lambda: _st(DLU(), SCALER_UNIT(27), DLU()))
_it(1, "0-0:94.44.3.1", lambda: _os(0))                           # disable privacy PIN
_it(1, "0-0:94.44.3.2", lambda: copy.deepcopy(NEVER))              # restrict data date-time (ECS12)
for _o in ("0-0:96.13.0.255", "0-0:96.13.1.255"):                 # supplier contact telephone, name (ECS16)
    _it(9000, _o, lambda: _os(0))
_it(1, "0-2:96.13.1.255", lambda: _os(0))                         # supplier message
_it(1, "0-3:96.13.1.255", lambda: _os(0))                         # CIN
_it(1, "1-0:0.0.2.255", lambda: _os(13))                          # MPxN
_it(1, "0-0:94.44.34.11", lambda: _os(13))
_it(1, "0-0:96.1.1.255", lambda: _os(8))                          # device identity
_it(1, "0-0:96.1.2.255", lambda: _os(1))
_it(1, "0-0:96.1.4.255", lambda: _os(8))
_it(1, "0-0:96.1.6.255", lambda: _os(4))
for _g in (30, 33):                                               # non-critical alert behaviours
    for _i in range(11, 19):
        _it(1, f"0-{_g}:97.98.{_i}.255", lambda: _bits(64))
for _i in range(21, 26):                                          # auxiliary load / device ids
    _it(1, f"0-0:94.44.0.{_i}", lambda: _os(8))
for _i in range(31, 36):
    _it(1, f"0-0:94.44.0.{_i}", lambda: _n("utf8-string", ""))
for _i in range(11, 16):                                          # auxiliary device labels
    _it(1, f"0-0:94.44.0.{_i}", lambda: _n("visible-string", ""))
for _g in range(117, 122):                                        # ALCS / APC switching times (controllers 1-5)
    _it(1, f"0-0:94.44.{_g}.1", lambda: copy.deepcopy(NEVER))
    _it(1, f"0-0:94.44.{_g}.2", lambda: copy.deepcopy(NEVER))
    # the start may be given as a date-time or as a duration in minutes (a CHOICE)
    ALTERNATIVE_TYPES[(1, f"0-0:94.44.{_g}.1", 2)] = frozenset({"octet-string", "long-unsigned"})
_it(1, "0-0:94.44.10.1", lambda: _n("unsigned", 0), device="CHF")   # sub-GHz channel scan request
_it(1, "0-0:94.44.10.2", lambda: _n("unsigned", 0), device="CHF")   # sub-GHz operating channel (DBCH01)
_it(1, "0-0:0.2.1.255", lambda: _os(8))                           # firmware version (ECS52)
# sub-GHz configuration (GBCS dual-band CH): channel masks of pages 28-31, then the frequency
# agility and duty-cycle parameters (thresholds, scan periods, counts, durations)
_it(1, "0-0:94.44.10.0", lambda: _st(_bits(32), _bits(32), _bits(32), _bits(32),
                                     _n("long-unsigned", 0), _n("long-unsigned", 0), _n("unsigned", 0),
                                     _n("long-unsigned", 0), _n("unsigned", 0), _n("unsigned", 0),
                                     _n("long-unsigned", 0), _n("unsigned", 0), _n("long-unsigned", 0),
                                     _n("long-unsigned", 0), _n("long-unsigned", 0)), device="CHF")
for _o in ("0-0:94.44.1.7", "0-0:94.44.1.8", "0-0:94.44.42.255"):     # block counters (primary, secondary)
    _it(3, _o, DLU)
# import energy registers (active, reactive), read protected through the Import Register
# Collection (ECS17b; their export counterparts are ECS17a's plain reads)
for _o in ("1-0:1.8.0.255", "1-0:3.8.0.255"):
    _it(3, _o, DLU)
for _o in ("0-0:94.44.0.3", "0-0:94.44.2.0"):
    _it(9000, _o, lambda: _n("boolean", False), (2, 4))
for _o in ("0-0:94.44.128.12",):
    _it(9000, _o, lambda: _n("long-unsigned", 0), (2, 4))


#: GBCS extended data objects (IC 9000) whose activation time (attribute 6) activates other
#: objects' passive values (GBCS 4.4 future dating): OBIS -> (class, passive OBIS, active OBIS,
#: attribute) copied when the time comes.  Special days of the primary element (128.29) and of
#: the secondary element (128.30), and the Tariff Threshold Matrix (63.1.1: the block
#: thresholds of TOU rates 1-8, Register monitors 0-0:16.1.11..18 -> 0-0:16.0.11..18).
ACTIVATED_OBJECTS: dict[str, tuple[tuple[int, str, str, int], ...]] = {
    "0-0:94.44.128.29": ((11, "0-1:11.0.0.255", "0-0:11.0.0.255", 2),),
    "0-0:94.44.128.30": ((11, "0-1:11.0.1.255", "0-0:11.0.1.255", 2),),
    "0-0:63.1.1.255": tuple((21, f"0-0:16.1.{i}.255", f"0-0:16.0.{i}.255", 2) for i in range(11, 19)),
}


# --------------------------------------------------------------------------- profiles

_DLU, _LU, _DL, _OS, _EN = "double-long-unsigned", "long-unsigned", "double-long", "octet-string", "enum"

def _a(count: int, t: str = "double-long-unsigned") -> dict:
    return {"type": "array", "count": count, "element": {"type": t}}


#: billing data log entry: time, total import, 48 TOU registers, 4 x 8 block registers
_BILLING_SINGLE = (_DLU, _DLU, _a(48), _a(8), _a(8), _a(8), _a(8))
#: twin element: time, total import, secondary element total, 48 TOU, 4 secondary TOU, 4 x 8 blocks
_BILLING_TWIN = (_DLU, _DLU, _DLU, _a(48), _a(4), _a(8), _a(8), _a(8), _a(8))
#: prepayment balances captured with billing data: six double-long registers
_PREPAY6 = (_DL,) * 6

#: Profile generic (IC7) buffers: OBIS -> columns of one entry for a single-element meter and
#: for a twin-element meter (None: the same).  The first column is the capture time, UTC
#: seconds since 2000-01-01 (GBCS logs and profiles).
PROFILE_COLUMNS: dict[str, tuple[tuple, tuple | None]] = {
    "0-0:99.98.0.255": ((_DLU, _LU, _OS), None),           # event log: time, event code, data
    "0-0:99.98.1.255": ((_DLU, _LU), None),                # security log: time, event code
    "0-17:99.98.2.255": ((_DLU, _LU, _EN, _DLU), None),    # ALCS event log
    "0-0:99.98.20.255": ((_DLU, _DLU), None),              # power event log
    "0-0:98.1.4.255": ((_DLU, _DLU), None),                # daily read log (import)
    "0-0:98.1.5.255": ((_DLU, _DLU), None),                # daily read log (export)
    "0-0:98.1.10.255": ((_DLU, _DLU), None),               # daily read log (secondary)
    "0-0:99.1.0.255": ((_DLU, _DLU), (_DLU, _DLU, _DLU)),  # half-hour profile (import)
    "0-0:99.1.1.255": ((_DLU, _DLU, _DLU), None),          # half-hour profile (export active/reactive)
    "0-0:99.1.2.255": ((_DLU, _DLU), None),                # half-hour profile (reactive import, ECS22c)
    "0-0:99.98.4.255": ((_DLU, _LU), None),                # power event log (ECS35e): time, event code
    "0-0:98.1.8.255": ((_DLU, _DL, _DL, _DL, _DL, _DL, _DL), None),   # prepayment daily read log
    "1-0:32.24.0.255": ((_DLU, _DLU), None),               # average RMS voltage profile, phase 1
    "1-0:52.24.0.255": ((_DLU, _DLU), None),               # phase 2
    "1-0:72.24.0.255": ((_DLU, _DLU), None),               # phase 3
    "0-0:94.44.10.3": ((_DLU, _LU, _OS), None),            # CHF sub-GHz channel log
    "0-0:98.1.0.255": (_BILLING_SINGLE, _BILLING_TWIN),     # billing data log
    "0-0:98.1.1.255": ((_DLU,) + _PREPAY6, None),          # prepayment billing data log
    "0-0:98.1.2.255": (_BILLING_SINGLE + _PREPAY6, _BILLING_TWIN + _PREPAY6),   # billing calendar log
    "0-0:98.1.9.255": (_BILLING_SINGLE, _BILLING_TWIN),     # daily billing data log
}
#: profiles held by devices other than the ESME
PROFILE_DEVICE = {"0-0:94.44.10.3": "CHF"}
#: the clock of logs: the range restricting object (UTC time, attribute 2)
UTC_TIME_OBIS = "0-0:94.44.100.255"


def profile_type_description(columns: tuple) -> dict:
    """Compact-array type description of profile entries (columns: type names or descriptions)."""
    return {"type": "structure", "members": [c if isinstance(c, dict) else {"type": c} for c in columns]}


def default_for(class_id: int, obis: str, attr: int) -> dict | None:
    """A fresh default value for an attribute, or C{None} if the model does not know its type."""
    attrs = CLASS_ATTRIBUTES.get(class_id)
    if attrs is None or attr not in attrs:
        return None
    make = attrs[attr] or _value_type(class_id, obis, attr)
    return None if make is None else make()


def same_shape(expected: dict, got: dict) -> bool:
    """True if C{got} has the DLMS type of C{expected} (structures member by member)."""
    if expected.get("type") != got.get("type"):
        return False
    if expected["type"] == "structure" and expected.get("value"):
        ev, gv = expected["value"], got.get("value") or []
        return len(ev) == len(gv) and all(same_shape(a, b) for a, b in zip(ev, gv))
    return True


# --------------------------------------------------------------------------- objects

@dataclass(slots=True)
class CosemObject:
    """One COSEM object: its interface class and the attribute values that were written."""

    class_id: int
    obis: str
    attributes: dict[int, dict] = field(default_factory=dict)

    def get(self, attr: int) -> dict | None:
        """The attribute's value (its default until written); reading never changes state."""
        value = self.attributes.get(attr)
        if value is None:
            value = default_for(self.class_id, self.obis, attr)
        return value

    def writable(self, attr: int) -> dict | None:
        """The attribute's stored value, materialised from its default, to be changed in place."""
        value = self.attributes.get(attr)
        if value is None:
            value = default_for(self.class_id, self.obis, attr)
            if value is not None:
                self.attributes[attr] = value
        return value


Action = Callable[["ObjectModel", CosemObject, int, dict], int]


@dataclass(slots=True)
class ObjectModel:
    """A device's COSEM objects, faults and method behaviours."""

    objects: dict[tuple[int, str], CosemObject] = field(default_factory=dict)
    #: (class, OBIS, "get"/"set"/"action", id) -> result code the item yields
    faults: dict[tuple[int, str, str, int], int] = field(default_factory=dict)
    #: (class, method) -> behaviour; default: accept a parameter of the declared type
    actions: dict[tuple[int, int], Action] = field(default_factory=dict)
    #: profile OBIS -> entries (tuples of column values), oldest first
    buffers: dict[str, list[tuple]] = field(default_factory=dict)
    #: a twin-element meter (more registers per profile entry)
    twin: bool = False
    #: called before every access, to bring registers driven from outside (the meter's load
    #: model, L{emulator.devices.registers}) up to the present
    refresh: Callable[[], None] | None = None

    def touch(self) -> None:
        """Bring the externally driven registers up to now (before a read or a change)."""
        if self.refresh is not None:
            self.refresh()

    def columns(self, obis: str) -> tuple | None:
        spec = PROFILE_COLUMNS.get(obis)
        if spec is None:
            return None
        single, twin = spec
        return twin if self.twin and twin is not None else single

    def capture(self, obis: str, *values: Any) -> None:
        """Append an entry to a profile buffer (the first value is the capture time)."""
        if self.columns(obis) is not None:
            self.buffers.setdefault(obis, []).append(tuple(values))

    def profile(self, obis: str, start: int | None = None, end: int | None = None) -> tuple[int, dict]:
        """A profile buffer as the compact array GBCS devices answer with, entries in [start, end]."""
        self.touch()
        cols = self.columns(obis)
        fault = self.faults.get((7, obis, "get", 2))
        if fault is not None:
            return fault, _n("null-data")
        if cols is None or (7, obis) not in self.objects:
            return OBJECT_UNDEFINED, _n("null-data")
        rows = []
        for entry in self.buffers.get(obis, []):
            t = entry[0]
            if (start is None or t >= start) and (end is None or t <= end):
                rows.append({"type": "structure", "value": [
                    v if isinstance(c, dict) else {"type": c, "value": v} for c, v in zip(cols, entry)]})
        return SUCCESS, {"type": "compact-array", "type_description": profile_type_description(cols),
                         "value": rows}

    def get_selective(self, class_id: int, obis: str, attr: int, selector: int | None,
                      params: dict | None) -> tuple[int, dict]:
        """Get with selective access: the range selector (1) on a profile buffer."""
        if class_id != 7 or attr != 2 or selector != 1 or not isinstance(params, dict):
            return OBJECT_UNDEFINED, _n("null-data")
        v = params.get("value") or []
        if len(v) < 3:
            return TYPE_UNMATCHED, _n("null-data")
        try:
            start, end = int(v[1]["value"]), int(v[2]["value"])
        except (KeyError, TypeError, ValueError):
            return TYPE_UNMATCHED, _n("null-data")
        return self.profile(obis, start, end)

    def add(self, class_id: int, obis: str) -> CosemObject:
        obj = self.objects.get((class_id, obis))
        if obj is None:
            obj = self.objects[(class_id, obis)] = CosemObject(class_id, obis)
        return obj

    def has_item(self, kind: str, class_id: int, obis: str, item: int) -> bool:
        """True if the model implements this attribute (get/set) or method (action)."""
        if (class_id, obis) not in self.objects:
            return False
        if kind == "get-with-selection":
            return class_id == 7 and item == 2 and obis in PROFILE_COLUMNS
        if kind == "action":
            return item in CLASS_METHODS.get(class_id, {})
        return default_for(class_id, obis, item) is not None or \
            item in self.objects[(class_id, obis)].attributes

    # ------------------------------------------------------------------ access

    def get(self, class_id: int, obis: str, attr: int) -> tuple[int, dict]:
        self.touch()
        fault = self.faults.get((class_id, obis, "get", attr))
        if fault is not None:
            return fault, _n("null-data")
        if class_id == 7 and attr == 2 and obis in PROFILE_COLUMNS:
            return self.profile(obis)
        obj = self.objects.get((class_id, obis))
        value = obj.get(attr) if obj is not None else None
        if value is None:
            return OBJECT_UNDEFINED, _n("null-data")
        return SUCCESS, copy.deepcopy(value)

    def set(self, class_id: int, obis: str, attr: int, value: dict) -> int:
        self.touch()
        fault = self.faults.get((class_id, obis, "set", attr))
        if fault is not None:
            return fault
        obj = self.objects.get((class_id, obis))
        current = obj.get(attr) if obj is not None else None
        if current is None:
            return OBJECT_UNDEFINED
        allowed = ALTERNATIVE_TYPES.get((class_id, obis, attr))
        if value.get("type") != current.get("type") and (allowed is None or value.get("type") not in allowed):
            return TYPE_UNMATCHED
        obj.attributes[attr] = copy.deepcopy(value)
        return SUCCESS

    def action(self, class_id: int, obis: str, method: int, param: dict) -> tuple[int, dict]:
        """Invoke a method: (Action-Result, return parameters or null-data)."""
        self.touch()
        null = _n("null-data")
        fault = self.faults.get((class_id, obis, "action", method))
        if fault is not None:
            return fault, null
        obj = self.objects.get((class_id, obis))
        methods = CLASS_METHODS.get(class_id, {})
        if obj is None or method not in methods:
            return OBJECT_UNDEFINED, null
        want = methods[method]
        if want is not None and param.get("type") not in (want, "null-data"):
            return TYPE_UNMATCHED, null
        behaviour = self.actions.get((class_id, method))
        if behaviour is None:
            return SUCCESS, null
        result = behaviour(self, obj, method, param)
        return result if isinstance(result, tuple) else (result, null)
