"""The DUIS service request matrix: service reference variants, criticality, eligible roles.

C{duis-request-matrix.json} is DUIS's table of service requests (C{spec/duis/}; the package
copy is the one the GBCS catalogue already ships in C{protocols/gbcs/data}): one row per
service reference variant with its
criticality, whether it is a non-device request, on-demand / DCC-scheduled / future-dated
patterns and the eligible DCC User roles.  Role codes are DUIS's: IS import supplier, ES
export supplier, GS gas supplier, ED electricity distributor, GT gas transporter, RSA
registered supplier agent, OU other user.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from importlib import resources

__all__ = ["ServiceRequestDef", "RequestMatrix", "ROLES", "load_matrix"]

#: DUIS User Role codes
ROLES = ("IS", "ES", "GS", "ED", "GT", "RSA", "OU")


@dataclass(frozen=True, slots=True)
class ServiceRequestDef:
    """One row of the matrix."""

    name: str
    service_reference: str
    variant: str
    critical: bool
    non_device: bool
    on_demand: bool
    dcc_scheduled: bool
    future_dated: str  # "No", "Device", "DSP", "DSP & Device"
    eligible_roles: frozenset[str]

    def command_variants(self) -> frozenset[int]:
        """CommandVariant values DUIS allows for this variant.

        Non-device requests: 8.  Critical device requests: 4 (send via DCC), 5 (return the
        command for local delivery), 6 (both).  Non-critical device requests: 1 (send via DCC),
        2 (local delivery), 3 (both).
        """
        if self.non_device:
            return frozenset({8})
        if self.critical:
            return frozenset({4, 5, 6})
        return frozenset({1, 2, 3})


def _yes(value: str) -> bool:
    return value.strip().lower().startswith("y")


class RequestMatrix:
    """Service reference variants by name; built once and shared."""

    def __init__(self, rows: list[dict]) -> None:
        self.variants: dict[str, ServiceRequestDef] = {}
        self.references: dict[str, set[str]] = {}
        for row in rows:
            name = re.sub(r"\s+", " ", row["Service Request Name"]).strip()
            variant = row["Service Reference Variant"].strip()
            reference = row["Service Reference"].strip()
            if not (variant == reference or variant.startswith(reference + ".")):
                # the table's numeric cells lost trailing zeros (6.20.1 is listed under "6.2");
                # a variant always names its reference (DCC's own requests say 6.20)
                reference = variant.rsplit(".", 1)[0]
            d = ServiceRequestDef(
                name=name.split(" (Current")[0].strip(),
                service_reference=reference,
                variant=variant,
                critical=_yes(row["Critical"]),
                non_device=_yes(row["Non-Device Request"]),
                on_demand=_yes(row["On Demand"]),
                dcc_scheduled=_yes(row["DCC Scheduled"]),
                future_dated=row["Future Dated Response Pattern"].strip(),
                eligible_roles=frozenset(r.strip() for r in row["Eligible User Roles"] if r.strip()),
            )
            self.variants[d.variant] = d
            self.references.setdefault(d.service_reference, set()).add(d.variant)

    def get(self, variant: str) -> ServiceRequestDef | None:
        return self.variants.get(variant)


_MATRIX: RequestMatrix | None = None


def load_matrix() -> RequestMatrix:
    """The packaged matrix (parsed on first use, then shared)."""
    global _MATRIX
    if _MATRIX is None:
        text = resources.files("protocols.gbcs").joinpath("data/duis-request-matrix.json").read_text("utf-8")
        _MATRIX = RequestMatrix(json.loads(text))
    return _MATRIX
