"""ASN.1 use cases: the GSME clock, unjoin, PPMID / HCALCS firmware version (GBCS 4.3)."""

from __future__ import annotations

from typing import Callable

from .context import BuildContext, clock_window
from .request import INVALID, RequestError

__all__ = ["register"]


def _set_clock_gsme(ctx: BuildContext) -> dict:
    """GCS28: ASN.1 SetClockCommand with the validity interval of the new time."""
    start, end = clock_window(ctx)
    return {"kind": "asn1", "asn1_type": "SetClockCommand",
            "value": {"validityIntervalStart": {"generalized_time": start.strftime("%Y%m%d%H%M%SZ")},
                      "validityIntervalEnd": {"generalized_time": end.strftime("%Y%m%d%H%M%SZ")}},
            "length_encoding": "der"}


def _unjoin(ctx: BuildContext) -> dict:
    """CS04B: ASN.1 UnjoinDeviceCommand naming the other device."""
    node = ctx.body.require("OtherDeviceID")
    digits = node.text.replace("-", "")
    try:
        raw = bytes.fromhex(digits)
    except ValueError:
        raw = b""
    if len(raw) != 8:
        raise RequestError(INVALID, node.path, "not an EUI-64")
    return {"kind": "asn1", "asn1_type": "UnjoinDeviceCommand", "value": raw.hex().upper(), "length_encoding": "der"}


def register(add: Callable[..., None]) -> None:
    """Declare the ASN.1 use cases: C{add(name, builder, acb=False, urp=False)}."""
    add("GCS28", _set_clock_gsme)
    add("GCS28Commission", _set_clock_gsme)
    add("CS04B", _unjoin)
    add("CS08", lambda ctx: {"kind": "asn1", "asn1_type": "ReadFirmwareVersionCommand", "value": None,
                             "length_encoding": "der"}, acb=True)
