"""The DUIS service requests a soak's simulated DCC Users send, built and signed as a User would.

One entry per workload request kind (L{KINDS}): the DUIS service reference variant, the device
type it targets, and the body a User writes for it (DUIS 5.x, the element names of the DCC's
own request samples).  Bodies vary with the seeded RNG (prices, top-up values, read periods), so
the same seed gives the same requests byte for byte.

  - C{on_demand_read}: 4.16 Read Active Power Import (ESME, ECS17c);
  - C{daily_read}: 4.6.1 Retrieve Import Daily Read Log (ESME, ECS21a), the previous day;
  - C{gas_read}: 4.3 Read Instantaneous Prepay Values (GSME, GCS14; reached when it wakes);
  - C{tariff_update}: 1.2.1 Update Price (Primary Element) (ESME, ECS01b), a critical request:
    serviceT gives the pre-command, the User signs it (GBCS ECDSA with its DS key) and sends
    the signed pre-command to serviceS;
  - C{top_up}: 2.2 Top Up Device (ESME, CS01a) with a UTRN the supplier makes with its
    prepayment key for the request's counter.

Every request is XML-signed (XML-DSig, the DUIS profile) with the User's DS key.
"""

from __future__ import annotations

import base64
import datetime as _dt
import random
from dataclasses import dataclass
from typing import Callable

from lxml import etree

from protocols.duis import xmldsig
from protocols.duis.request import SR, format_eui

__all__ = ["KINDS", "RequestKind", "build_request", "signed_precommand", "DUIS_SCHEMA_VERSION"]

DUIS_SCHEMA_VERSION = "5.4"
_NSMAP = {"sr": SR, "ds": xmldsig.DS}


def _q(name: str) -> str:
    return f"{{{SR}}}{name}"


def _sub(parent, name: str, text: str | None = None, **attrs):
    el = etree.SubElement(parent, _q(name), **attrs)
    if text is not None:
        el.text = text
    return el


def _duis_time(seconds: float) -> str:
    moment = _dt.datetime.fromtimestamp(seconds, _dt.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.00Z")


# --- bodies: (body element, rng, now, context) -> None --------------------------------------------

@dataclass(frozen=True, slots=True)
class BodyContext:
    """What a body builder may need besides the RNG and the time."""

    user: int
    device: int
    counter: int
    utrn: Callable[[int, int, int, int], str] | None = None   # (user, device, counter, pence) -> UTRN


def _read_active_power(body, rng: random.Random, now: float, ctx: BodyContext) -> None:
    _sub(body, "ReadActivePowerImport")


def _daily_read_log(body, rng: random.Random, now: float, ctx: BodyContext) -> None:
    day = int(now // 86400) * 86400
    el = _sub(body, "RetrieveImportDailyReadLog")
    period = _sub(el, "ReadLogPeriod")
    _sub(period, "StartDateTime", _duis_time(day - 86400))
    _sub(period, "EndDateTime", _duis_time(day))


def _prepay_values(body, rng: random.Random, now: float, ctx: BodyContext) -> None:
    _sub(body, "ReadInstantaneousPrepayValues")


def _update_price(body, rng: random.Random, now: float, ctx: BodyContext) -> None:
    el = _sub(body, "UpdatePricePrimaryElement")
    prices = _sub(_sub(el, "PriceElements"), "ElectricityPriceElements")
    _sub(prices, "StandingCharge", str(rng.randrange(15_000, 32_000)))
    _sub(prices, "StandingChargeScale", "-5")
    _sub(prices, "PriceScale", "-5")
    block = _sub(_sub(prices, "BlockTariff"), "BlockPrices", index="1")
    price = rng.randrange(1_500, 3_500)
    for i in range(1, 4):
        _sub(block, "BlockPrice", str(price), index=str(i))
        price += rng.randrange(500, 2_500)


def _top_up(body, rng: random.Random, now: float, ctx: BodyContext) -> None:
    if ctx.utrn is None:
        raise ValueError("a top-up needs the supplier's UTRN maker")
    pence = rng.choice((500, 1000, 1500, 2000, 3000, 5000))
    el = _sub(body, "TopUpDevice")
    _sub(el, "UTRN", ctx.utrn(ctx.user, ctx.device, ctx.counter, pence))


@dataclass(frozen=True, slots=True)
class RequestKind:
    """One kind of device request a workload can ask for."""

    name: str
    service_reference: str
    variant: str
    device_type: str      # the inventory device type it goes to (ESME, GSME)
    critical: bool
    body: Callable


#: workload request kind -> what it is on the DUIS interface
KINDS: dict[str, RequestKind] = {k.name: k for k in (
    RequestKind("on_demand_read", "4.16", "4.16", "ESME", False, _read_active_power),
    RequestKind("daily_read", "4.6", "4.6.1", "ESME", False, _daily_read_log),
    RequestKind("gas_read", "4.3", "4.3", "GSME", False, _prepay_values),
    RequestKind("tariff_update", "1.2", "1.2.1", "ESME", True, _update_price),
    RequestKind("top_up", "2.2", "2.2", "ESME", False, _top_up),
)}


def request_id(user: int, device: int, counter: int) -> str:
    return f"{format_eui(user)}:{format_eui(device)}:{counter}"


def _finish(root, private_key, certificate) -> bytes:
    xmldsig.sign(root, private_key, certificate)
    return etree.tostring(root.getroottree(), xml_declaration=True, encoding="UTF-8")


def build_request(kind: RequestKind, user: int, device: int, counter: int, rng: random.Random, now: float,
                  private_key, certificate=None, utrn=None) -> bytes:
    """The signed DUIS request of C{kind} from C{user} to C{device} with RequestID C{counter}."""
    root = etree.Element(_q("Request"), nsmap=_NSMAP, schemaVersion=DUIS_SCHEMA_VERSION)
    header = _sub(root, "Header")
    _sub(header, "RequestID", request_id(user, device, counter))
    _sub(header, "CommandVariant", "4" if kind.critical else "1")
    _sub(header, "ServiceReference", kind.service_reference)
    _sub(header, "ServiceReferenceVariant", kind.variant)
    body = _sub(root, "Body")
    kind.body(body, rng, now, BodyContext(user, device, counter, utrn))
    return _finish(root, private_key, certificate)


def signed_precommand(rid: str, gbcs_signed: bytes, private_key, certificate=None) -> bytes:
    """The DUIS SignedPreCommand carrying the User's signed GBCS pre-command (CommandVariant 5)."""
    root = etree.Element(_q("SignedPreCommand"), nsmap=_NSMAP, schemaVersion=DUIS_SCHEMA_VERSION)
    header = _sub(root, "Header")
    _sub(header, "RequestID", rid)
    _sub(header, "CommandVariant", "5")
    _sub(root, "GBCSPayload", base64.b64encode(gbcs_signed).decode("ascii"))
    return _finish(root, private_key, certificate)
