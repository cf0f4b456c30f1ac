"""GBCS use-case catalogue: message codes and alert codes.

Implements the message-code table of GBCS (restated in C{spec/gbcs-wire-format.md} section 5
and C{spec/message_codes.tsv}) and the alert-code table (Appendix B, C{alert_codes.tsv}).
For every message code: the use-case name (e.g. C{ECS17b}), title, GBCS message type and
the criticality derived from it (SME.C.C critical, SME.C.NC non-critical, SME.A.C / SME.A.NC
alerts; the GBCS "See GBCS" / variant use cases come in both forms), whether it is a remote
party or a HAN-only message, the DUIS service reference, the payload kind (DLMS, GBZ or
ASN.1; section 3 and C{payload_catalogue.tsv}) and the target device types.

The tables ship in C{protocols/gbcs/data/} (copied from the spec folder) and are parsed once,
on first use, into frozen L{UseCase} objects shared by every caller.
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

__all__ = ["UseCase", "use_case", "use_cases", "use_case_by_name", "alert_name", "alert_codes",
           "DEVICE_TYPES", "is_han_only"]

_DATA = Path(__file__).resolve().parent / "data"

#: GBCS device types.
DEVICE_TYPES = ("ESME", "GSME", "CHF", "GPF", "PPMID", "HCALCS", "IHD", "CAD")

#: ASN.1 use cases by code (section 3 rule 1), used when payload_catalogue.tsv has no entry.
_ASN1_CODES = frozenset([0x0008, 0x000A, 0x000B, 0x000C, 0x000D, 0x000E, 0x000F, 0x0010, 0x0012,
                         0x0013, 0x007F, 0x008C, 0x00AB, 0x00AF, 0x00B2, 0x00CA, 0x00CB, 0x0128,
                         0x0129, 0x011B, 0x0124, 0x0125, 0x0126, *range(0x0100, 0x010A)])
#: DLMS alert-only codes (future dated DLMS, ESME firmware receipt, ESME meter integrity, 8F84...).
_DLMS_CODES = frozenset([0x00CC, 0x00CE, 0x00D5, 0x00F0])
#: GBZ alert-only codes (future dated GBZ, GSME firmware receipt, GSME meter integrity).
_GBZ_CODES = frozenset([0x00CD, 0x00CF, 0x00F2])

_ALL_DEVICES = ("ESME", "GSME", "CHF", "GPF", "PPMID", "HCALCS")
_NAME_RE = re.compile(r"^(?:[A-Z]+\d+[A-Za-z0-9]*)$")


@dataclass(frozen=True, slots=True)
class UseCase:
    """One GBCS use case (message code).

    @ivar message_code: the 2-byte message code.
    @ivar name: short use-case name, e.g. C{"ECS17b"} (or the title for alert-only codes).
    @ivar title: the GBCS use-case title.
    @ivar message_type: the GBCS message type as given (C{SME.C.C}, C{SME.C.NC}, ...), or "".
    @ivar criticality: C{"critical"}, C{"non-critical"}, C{"variant"} (both forms exist) or
        C{None} when the tables do not say.
    @ivar is_alert: True for alert-only use cases.
    @ivar han_only: True for HAN-only messages (PPMID/HCALCS to meter), MACed device to device.
    @ivar service_reference: DUIS service reference (e.g. C{"4.1"}), or "".
    @ivar service_name: DUIS service request name for that reference, or "".
    @ivar payload_kind: C{"dlms"}, C{"gbz"} or C{"asn1"} (or C{None} when unknown).
    @ivar target_device_types: device types the command is addressed to (or that raise the alert).
    """

    message_code: int
    name: str
    title: str
    message_type: str
    criticality: str | None
    is_alert: bool
    han_only: bool
    service_reference: str
    service_name: str
    payload_kind: str | None
    target_device_types: tuple[str, ...]


def _criticality(message_type: str) -> tuple[str | None, bool]:
    mt = message_type.strip()
    if mt.startswith("SME.C.C"):
        return "critical", False
    if mt.startswith("SME.C.NC") or mt.startswith("SME.C.PPMID"):
        return "non-critical", False
    if mt.startswith("SME.A.C"):
        return "critical", True
    if mt.startswith("SME.A.NC"):
        return "non-critical", True
    if mt.startswith("See GBCS") or mt.startswith("Variant"):
        return "variant", False
    if mt.startswith("ZSE"):
        return "non-critical", False
    return None, False


def _targets(name: str, title: str, kind: str | None) -> tuple[str, ...]:
    """Device types a use case targets: named in its title, else by family."""
    if name.startswith("PCS"):
        return ("GSME",)          # PPMID -> GSME HAN-only commands
    if name.startswith(("PECS", "HECS")):
        return ("ESME",)          # PPMID / HCALCS -> ESME HAN-only commands
    text = f" {title} "
    found = []
    for dev, words in (("ESME", ("ESME", "Electricity")), ("GSME", ("GSME", "Gas ")),
                       ("GPF", ("GPF",)), ("CHF", ("CHF", " CH ", "Communications Hub", "Sub GHz")),
                       ("PPMID", ("PPMID",)), ("HCALCS", ("HCALCS", "HC ALCS"))):
        if any(w in text for w in words):
            found.append(dev)
    if "GSME/GPF" in text and "GPF" not in found:
        found.append("GPF")
    if found:
        return tuple(found)
    if name.startswith(("ECS", "PECS", "HECS")):
        return ("ESME",)
    if name.startswith("GCS"):
        return ("GSME", "GPF")
    if name.startswith(("CCS", "DBCH")):
        return ("CHF",)
    if name.startswith("PCS"):
        return ("GSME",)
    if kind == "dlms":
        return ("ESME",)
    if kind == "gbz":
        return ("GSME",)
    return _ALL_DEVICES


@cache
def _payload_kinds() -> dict[int, str]:
    kinds = {}
    with open(_DATA / "payload_catalogue.tsv", newline="", encoding="utf-8") as f:
        for row in csv.reader(f, delimiter="\t"):
            if len(row) < 3 or not re.fullmatch(r"[0-9A-Fa-f]{4}", row[0]):
                continue
            shape = row[2].split(None, 1)[0] if row[2].strip() else ""
            kind = {"DLMS": "dlms", "GBZ": "gbz", "ASN.1": "asn1"}.get(shape)
            if kind:
                kinds[int(row[0], 16)] = kind
    return kinds


@cache
def _service_names() -> dict[str, str]:
    names: dict[str, str] = {}
    for item in json.loads((_DATA / "duis-request-matrix.json").read_text(encoding="utf-8")):
        names.setdefault(item.get("Service Reference", ""), item.get("Service Request Name", ""))
    return names


@cache
def _table() -> dict[int, UseCase]:
    kinds = _payload_kinds()
    services = _service_names()
    table: dict[int, UseCase] = {}
    with open(_DATA / "message_codes.tsv", newline="", encoding="utf-8") as f:
        reader = csv.reader(f, delimiter="\t")
        next(reader)
        for row in reader:
            if not row or not row[0].startswith("0x"):
                continue
            row = row + [""] * (8 - len(row))
            code = int(row[0], 16)
            full = row[1].strip()
            first, _, rest = full.partition(" ")
            if _NAME_RE.match(first):
                name, title = first, (rest.strip() or first)
            else:
                name, title = full, full
            message_type = row[2].strip()
            criticality, is_alert = _criticality(message_type)
            low = full.lower()
            if "alert" in low and not message_type:
                is_alert = True
                criticality = "critical" if "generic critical" in low else criticality
                if "non critical" in low:
                    criticality = "non-critical"
            han_only = "HAN Only" in row[4]
            srv = row[3].strip()
            if not re.fullmatch(r"\d+(\.\d+)*", srv):
                srv_ref, srv_name = "", ""
            else:
                srv_ref, srv_name = srv, services.get(srv, "")
            kind = kinds.get(code)
            if kind is None:
                if code in _ASN1_CODES:
                    kind = "asn1"
                elif code in _DLMS_CODES or name.startswith(("ECS", "CCS", "DBCH")):
                    kind = "dlms"
                elif code in _GBZ_CODES or name.startswith(("GCS", "PCS")):
                    kind = "gbz"
            table[code] = UseCase(code, name, title, message_type, criticality, is_alert, han_only,
                                  srv_ref, srv_name, kind, _targets(name, title, kind))
    return table


def use_case(message_code: int) -> UseCase | None:
    """The L{UseCase} for a message code, or C{None} if GBCS (as we know it) has no such code."""
    return _table().get(message_code)


def use_cases() -> list[UseCase]:
    """All known use cases, by message code."""
    return [v for _, v in sorted(_table().items())]


def use_case_by_name(name: str) -> list[UseCase]:
    """Use cases with a given short name (CS02b has ten message codes)."""
    return [u for u in use_cases() if u.name == name]


def is_han_only(message_code: int) -> bool:
    """True for HAN-only use cases (MAC keyed device to device, section 2.2)."""
    u = _table().get(message_code)
    return bool(u and u.han_only)


@cache
def alert_codes() -> dict[int, str]:
    """Alert code (0x8xxx) -> meaning."""
    table = {}
    with open(_DATA / "alert_codes.tsv", newline="", encoding="utf-8") as f:
        reader = csv.reader(f, delimiter="\t")
        next(reader)
        for row in reader:
            if len(row) >= 2 and row[0].startswith("0x"):
                table[int(row[0], 16)] = row[1].strip()
    return table


def alert_name(alert_code: int) -> str | None:
    """The meaning of an alert code, or C{None} if unknown."""
    return alert_codes().get(alert_code)
