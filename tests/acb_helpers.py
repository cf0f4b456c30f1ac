"""Shared helpers of the ACB tests: DUIS templates, the RTDS inventory and key store."""

from __future__ import annotations

import re
from pathlib import Path
from xml.etree import ElementTree

import pytest

from protocols.acb.request import DUIS_NS, TransformRequest, parse_request_id

from tests.conftest import KEYSTORE, RTDS, TEMPLATES, in_ci  # noqa: F401  (paths defined once; re-exported)

#: RTDS devices (wire-format notes 1.3): the inventory's device types.
RTDS_DEVICE_TYPES = {0x00DB1234567890A0: "ESME", 0x00DB1234567890A1: "GSME", 0x00DB1234567890A2: "CHF",
                     0x00DB1234567890A3: "GPF", 0x00DB1234567890A4: "PPMID", 0x00DB1234567890A5: "HCALCS",
                     0x00DB1234567890A6: "ESME"}

#: The RTDS test date (2015-01-01T00:00:00Z): the DCC clock of the reference transforms.
RTDS_NOW = 1420070400.0

_NAME = re.compile(r"^([A-Za-z0-9]+)_(\d+(?:\.\d+)*)_(.*)_REQUEST_DUIS\.XML$")


def need_shared(path: Path) -> Path:
    """Reference data is required under CI; locally its absence skips."""
    if not path.exists():
        if in_ci():
            pytest.fail(f"reference data missing: {path}")
        pytest.skip(f"reference data missing: {path}")
    return path


class FixedClock:
    """C{seconds()} at a fixed instant (advance by assigning C{now})."""

    def __init__(self, now: float = RTDS_NOW) -> None:
        self.now = now

    def seconds(self) -> float:
        return self.now


def parse_template(path: Path) -> tuple[dict, ElementTree.Element]:
    """Header fields and the body element of a DUIS request (stdlib parser)."""
    root = ElementTree.parse(path).getroot()
    ns = {"sr": DUIS_NS}
    header = {child.tag.rsplit("}", 1)[-1]: (child.text or "").strip()
              for child in root.find("sr:Header", ns)}
    body = list(root.find("sr:Body", ns))
    return header, (body[0] if body else None)


def request_from_template(path: Path, use_case: str | None = None) -> TransformRequest:
    header, body = parse_template(path)
    originator, target, counter = parse_request_id(header["RequestID"])
    return TransformRequest(header["ServiceReferenceVariant"], body, originator, target, counter,
                            RTDS_DEVICE_TYPES.get(target, "unknown"), int(header.get("CommandVariant", 1)),
                            use_case, {"device_types": dict(RTDS_DEVICE_TYPES)})


def template_use_case(path: Path) -> tuple[str, str, str] | None:
    """(use case, service reference variant, rest) from a template file name, or None."""
    m = _NAME.match(path.name)
    return (m.group(1), m.group(2), m.group(3)) if m else None


def rtds_command(path: Path) -> Path | None:
    """The RTDS COMMAND file for a SUCCESS template (same use case, variant and qualifiers)."""
    parsed = template_use_case(path)
    if parsed is None:
        return None
    uc, srv, rest = parsed
    f = RTDS / f"{srv}_{uc}" / f"{uc}_{srv}_{rest}_COMMAND_GBCS.HEX"
    return f if f.exists() else None


def read_hex(path: Path) -> bytes:
    return bytes.fromhex("".join(path.read_text().split()))
