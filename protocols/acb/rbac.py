"""Role-based access control of DUIS service requests (DUIS 3.5 / the request matrix).

The eligible user roles, criticality, non-device flag and response patterns of every
service reference variant come from C{duis-request-matrix.json} (shipped in
C{protocols/gbcs/data}).  Roles: IS import supplier, ES export supplier, GS gas supplier,
ED electricity distributor, GT gas transporter, RSA registered supplier agent, OU other user.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from .request import INVALID, NOT_ELIGIBLE, RequestError

__all__ = ["ServiceEntry", "service", "services", "authorise", "ROLES"]

_MATRIX = Path(__file__).resolve().parent.parent / "gbcs" / "data" / "duis-request-matrix.json"

#: DUIS user roles.
ROLES = ("IS", "ES", "GS", "ED", "GT", "RSA", "OU")


@dataclass(frozen=True, slots=True)
class ServiceEntry:
    """One service reference variant of the DUIS request matrix."""

    variant: str
    reference: str
    name: str
    critical: bool
    non_device: bool
    future_dated_pattern: str
    dcc_scheduled: bool
    eligible_roles: frozenset[str]


@cache
def services() -> dict[str, ServiceEntry]:
    """All service reference variants by variant."""
    out = {}
    for item in json.loads(_MATRIX.read_text(encoding="utf-8")):
        v = item["Service Reference Variant"].strip()
        out[v] = ServiceEntry(v, item["Service Reference"].strip(), " ".join(item["Service Request Name"].split()),
                              item["Critical"] == "Yes", item["Non-Device Request"] == "Yes",
                              item["Future Dated Response Pattern"], item["DCC Scheduled"] == "Yes",
                              frozenset(item["Eligible User Roles"]))
    return out


def service(variant: str) -> ServiceEntry | None:
    """The matrix entry of a service reference variant, or C{None}."""
    return services().get(variant)


def authorise(variant: str, role: str) -> ServiceEntry:
    """Check that a user in C{role} may send C{variant}; return its matrix entry.

    @raise RequestError: unknown variant (L{INVALID}) or role not eligible (L{NOT_ELIGIBLE}).
    """
    entry = service(variant)
    if entry is None:
        raise RequestError(INVALID, "Header.ServiceReferenceVariant", f"unknown service reference variant {variant!r}")
    if role not in entry.eligible_roles:
        allowed = ", ".join(sorted(entry.eligible_roles)) or "no user role"
        raise RequestError(NOT_ELIGIBLE, "Header.ServiceReferenceVariant",
                           f"role {role} may not send {variant} ({entry.name}); eligible: {allowed}")
    return entry
