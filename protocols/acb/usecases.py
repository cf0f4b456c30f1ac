"""From DUIS service reference variants to GBCS use cases and their payloads.

Two spec mappings live here, each declared once:

  - L{SERVICES}: DUIS service reference variant -> the GBCS use case(s) it becomes on each
    device type (DUIS 3.8 / GBCS Table 13.3.2; several use cases for one variant differ by
    device capability, e.g. ECS26d / ECS26l, and the inventory picks with
    L{TransformRequest.use_case}); a few variants choose by a body element (C{LogToRead},
    C{ESMEEventLogType}, C{ReadSecurityDetails}, ...);
  - L{USE_CASES}: GBCS use case -> how its payload is built from the DUIS body.  DLMS reads
    take their COSEM descriptors from the payload catalogue (C{dlms_items.catalogue_items});
    use cases with parameters map DUIS elements onto COSEM values here.

Use cases the DCC originates on the user's behalf (the grouping header originator is the ACB
and the user goes into other-information as supplementary remote party; wire-format notes
1.5) are flagged C{acb_originated}.
"""

from __future__ import annotations

import datetime
import functools
from dataclasses import dataclass
from typing import Callable

from protocols.gbcs import catalogue
from protocols.gbcs.payloads import dlms, encode_payload

from .dlms_items import (DATE_TIME_NEVER, DATE_TIME_NOW, CatalogueItem, catalogue_items, dlms_date_time,
                         protection_parameters, range_selector, utc_seconds)
from .gbz_items import cluster_command, gbz_payload, gbz_time, read_attributes
from .request import INVALID, UNSUPPORTED, Body, RequestError, TransformRequest, is_cancellation

__all__ = ["BuildContext", "UseCaseSpec", "USE_CASES", "SERVICES", "resolve_use_case", "supported_use_cases"]


@dataclass(frozen=True, slots=True)
class BuildContext:
    """What a payload builder may use.

    @ivar counter: the GBCS originator counter of the command being built.
    @ivar decrypting_party: who will decrypt sensitive response parts (the business originator).
    @ivar now: the DCC's current time (injected clock).
    """

    request: TransformRequest
    body: Body
    counter: int
    decrypting_party: int
    now: datetime.datetime
    message_code: int


#: A builder returns the payload tree, or the payload bytes when it encodes them itself.
Builder = Callable[[BuildContext], "dict | bytes"]


@dataclass(frozen=True, slots=True)
class UseCaseSpec:
    """How one GBCS use case is built.

    @ivar name: GBCS use-case name (its message code comes from the catalogue).
    @ivar build: payload tree builder.
    @ivar acb_originated: the ACB is the grouping-header originator (user as supplementary
        remote party).
    @ivar unknown_remote_party: the read has a "URP" form: with DUIS
        C{KAPublicSecurityCredentials} the ACB originates it and carries the user's KA
        certificate in other-information, so the device can encrypt for the user.
    """

    name: str
    build: Builder
    acb_originated: bool = False
    unknown_remote_party: bool = False

    @property
    def message_code(self) -> int:
        return _message_code(catalogue_name(self.name))


@functools.cache
def _message_code(name: str) -> int:
    found = catalogue.use_case_by_name(name)
    if not found:
        raise KeyError(f"use case {name} has no message code in the catalogue")
    return found[0].message_code


# --------------------------------------------------------------------------- DLMS helpers

def _execution(ctx: BuildContext) -> bytes:
    """Activation date-time of a future-dated DLMS command: now, a date, or never (cancel)."""
    node = ctx.body.find("ExecutionDateTime")
    if node is None:
        return DATE_TIME_NOW
    when = node.datetime()
    if is_cancellation(when):
        return DATE_TIME_NEVER
    return dlms_date_time(when)


def _period(ctx: BuildContext) -> tuple[datetime.datetime, datetime.datetime]:
    p = ctx.body.require("ReadLogPeriod")
    start, end = p.datetime("StartDateTime"), p.datetime("EndDateTime")
    if end < start:
        raise RequestError(INVALID, f"{p.path}.EndDateTime", "before StartDateTime")
    return start, end


def _reads(ctx: BuildContext, items: tuple[CatalogueItem, ...]) -> dict:
    """Access-Request of gets (and range-selected log gets) from catalogue descriptors."""
    specs, data = [], []
    period = None
    for it in items:
        if it.kind == "get":
            specs.append(dlms.access_request_item("get", it.class_id, it.obis, it.item_id))
        elif it.kind == "get-with-selection" and it.selector == 1:
            if period is None:
                period = _period(ctx)
            specs.append(dlms.access_request_item("get-with-selection", it.class_id, it.obis, it.item_id,
                                                  1, range_selector(*period)))
        else:
            raise RequestError(UNSUPPORTED, "", f"catalogue item {it.kind} is not a read")
        data.append(dlms.make_data("null-data"))
    return dlms.access_request(ctx.counter, specs, data)


def catalogue_read(ctx: BuildContext) -> dict | bytes:
    """A DLMS read use case whose descriptors the payload catalogue lists (one variant).

    Reads without parameters differ only in the invoke id (from the counter): their
    Access-Request after the header is encoded once per message code.
    """
    variants = catalogue_items(ctx.message_code)
    if len(variants) != 1:
        raise RequestError(UNSUPPORTED, "", f"message code 0x{ctx.message_code:04X} has no single read layout")
    items = variants[0]
    if any(it.kind != "get" for it in items):
        return _reads(ctx, items)
    return _access_request_header(ctx.counter) + _plain_reads_tail(ctx.message_code)


@functools.cache
def _plain_reads_tail(message_code: int) -> bytes:
    """Specification and data lists of a parameterless read (everything after the header)."""
    items = catalogue_items(message_code)[0]
    specs = [dlms.access_request_item("get", it.class_id, it.obis, it.item_id) for it in items]
    tree = dlms.access_request(0, specs, [dlms.make_data("null-data") for _ in items])
    return encode_payload(tree)[len(_access_request_header(0)):]


def _access_request_header(counter: int) -> bytes:
    """C{D9}, long-invoke-id-and-priority (0x20 + counter low 24 bits), empty date-time."""
    return b"\xD9" + (0x20000000 | (counter & 0xFFFFFF)).to_bytes(4, "big") + b"\x00"


#: Reset methods whose parameter is C{integer(0)} (Blue Book: Register, Extended/Demand
#: register and Profile generic reset(data)).
_RESET_METHODS = {(3, 1), (4, 1), (7, 1)}


def _resets(ctx: BuildContext, items: list[CatalogueItem]) -> dict:
    specs, data = [], []
    for it in items:
        if it.kind != "action" or (it.class_id, it.item_id) not in _RESET_METHODS:
            raise RequestError(UNSUPPORTED, "", f"{it} is not a reset method")
        specs.append(dlms.access_request_item("action", it.class_id, it.obis, it.item_id))
        data.append(dlms.make_data("integer", 0))
    return dlms.access_request(ctx.counter, specs, data)


def catalogue_reset(ctx: BuildContext) -> dict:
    """A DLMS use case made only of reset methods (clear a log, reset counters)."""
    variants = catalogue_items(ctx.message_code)
    longest = max(variants, key=len) if variants else ()
    return _resets(ctx, list(longest))


def _reset_selected(elements: tuple[str, ...]) -> Builder:
    """Resets chosen by optional DUIS elements, element i selecting the catalogue's item i."""
    def build(ctx: BuildContext) -> dict:
        full = max(catalogue_items(ctx.message_code), key=len)
        chosen = [it for name, it in zip(elements, full) if ctx.body.has(name)]
        if not chosen:
            raise RequestError(INVALID, ctx.body.path, f"at least one of {', '.join(elements)} is required")
        return _resets(ctx, chosen)
    return build


def _single(kind: str, class_id: int, obis: str, item_id: int, value: Callable[[BuildContext], dict]) -> Builder:
    def build(ctx: BuildContext) -> dict:
        return dlms.access_request(ctx.counter, [dlms.access_request_item(kind, class_id, obis, item_id)],
                                   [value(ctx)])
    return build


def _const(node: dict) -> Callable[[BuildContext], dict]:
    return lambda ctx: node


def _text_octets(path: str, max_len: int | None = None) -> Callable[[BuildContext], dict]:
    def value(ctx: BuildContext) -> dict:
        node = ctx.body.require(path)
        try:
            raw = node.text.encode("utf-8")
        except UnicodeEncodeError:
            raise RequestError(INVALID, node.path, "not encodable as UTF-8") from None
        if max_len is not None and len(raw) > max_len:
            raise RequestError(INVALID, node.path, f"longer than {max_len} octets")
        return dlms.octet_string(raw)
    return value


def _eui_octets(path: str) -> Callable[[BuildContext], dict]:
    def value(ctx: BuildContext) -> dict:
        node = ctx.body.require(path)
        digits = node.text.replace("-", "")
        if len(digits) != 16:
            raise RequestError(INVALID, node.path, "not an EUI-64")
        try:
            return dlms.octet_string(bytes.fromhex(digits))
        except ValueError:
            raise RequestError(INVALID, node.path, "not an EUI-64") from None
    return value


def _protected_read(objects: tuple[tuple[int, str, int], ...], ranged: bool) -> Builder:
    """A sensitive ESME read: Data-Protection (IC 30) get_protected_attributes (method 1).

    C{objects}: the (class, OBIS, attribute) the use case protects (GBCS use-case definition);
    C{ranged}: selective access by the DUIS ReadLogPeriod as COSEM date-times (selector 1)
    instead of none.
    """
    def build(ctx: BuildContext) -> dict:
        items = catalogue_items(ctx.message_code)
        if len(items) != 1 or items[0][0].class_id != 30:
            raise RequestError(UNSUPPORTED, "", "no Data-Protection object for this message code")
        protection_object = items[0][0]
        if ranged:
            start, end = _period(ctx)
            access = dlms.structure(dlms.make_data("enum", 1), dlms.structure(
                dlms.octet_string(dlms_date_time(start)), dlms.octet_string(dlms_date_time(end))))
        else:
            access = dlms.structure(dlms.make_data("enum", 0), dlms.make_data("null-data"))
        descriptors = dlms.array(*(dlms.structure(
            dlms.make_data("long-unsigned", cls), dlms.octet_string(dlms.obis_from_str(obis)),
            dlms.make_data("integer", attr), dlms.make_data("long-unsigned", 0), access)
            for cls, obis, attr in objects))
        param = dlms.structure(descriptors, protection_parameters(ctx.counter, ctx.decrypting_party,
                                                                  ctx.request.target))
        spec = dlms.access_request_item("action", 30, protection_object.obis, protection_object.item_id)
        return dlms.access_request(ctx.counter, [spec], [param])
    return build


def _script(obis: str, script_id: int) -> Builder:
    """Script table (IC 9) execute(script id): the load switch and tariff scripts of GBCS."""
    return _single("action", 9, obis, 1, _const(dlms.make_data("long-unsigned", script_id)))


def _meter_balance_reset(ctx: BuildContext) -> dict:
    """ECS04b: Credit (IC 112) set_amount_to_value(0) on meter balance, emergency credit, debt."""
    variants = catalogue_items(ctx.message_code)
    specs = [dlms.access_request_item("action", it.class_id, it.obis, it.item_id) for it in variants[0]]
    return dlms.access_request(ctx.counter, specs, [dlms.make_data("double-long", 0) for _ in specs])


def _import_mpans(ctx: BuildContext) -> dict:
    """ECS39a: the import MPAN(s), primary then secondary, as one ASCII octet-string."""
    mp = ctx.body.require("ImportMPANs")
    raw = _digits(mp.require("ImportMPAN"))
    if mp.has("SecondaryImportMPAN"):
        raw += _digits(mp.require("SecondaryImportMPAN"))
    return dlms.access_request(ctx.counter, [dlms.access_request_item("set", 1, "0-0:94.44.34.11", 2)],
                               [dlms.octet_string(raw)])


def _digits(node: Body) -> bytes:
    """An MPAN / MPRN: ASCII digits."""
    if not node.text.isascii() or not node.text.isdigit():
        raise RequestError(INVALID, node.path, "must be decimal digits")
    return node.text.encode("ascii")


def _boost_button(element: str) -> Builder:
    """ECS62: one boolean per ALCS boost-button association (0-0:94.44.6.1..5), in DUIS order."""
    def build(ctx: BuildContext) -> dict:
        flags = ctx.body.all(element)
        if not 1 <= len(flags) <= 5:
            raise RequestError(INVALID, f"{ctx.body.path}.{element}", "1 to 5 entries expected")
        specs, data = [], []
        for i, flag in enumerate(flags, 1):
            specs.append(dlms.access_request_item("set", 1, f"0-0:94.44.6.{i}", 2))
            value = flag.bool()
            if element.startswith("Remove"):
                value = not value
            data.append(_boolean(value))
        return dlms.access_request(ctx.counter, specs, data)
    return build


def _boolean(value: bool) -> dict:
    """GBCS writes TRUE as 0xFF."""
    node = dlms.make_data("boolean", value)
    node["raw"] = 0xFF if value else 0x00
    return node


def _tamper_state(ctx: BuildContext) -> dict:
    node = ctx.body.require("SupplyTamperState")
    states = {"Locked": True, "Unlocked": False}
    if node.text not in states:
        raise RequestError(INVALID, node.path, f"must be one of {sorted(states)}")
    return dlms.access_request(ctx.counter, [dlms.access_request_item("set", 1, "0-0:94.44.0.4", 2)],
                               [_boolean(states[node.text])])


def _power_thresholds(ctx: BuildContext) -> dict:
    """ECS34: Register monitor (IC 21) thresholds, low/medium then medium/high (W)."""
    low = ctx.body.int("LowMediumPowerThreshold", 0, 0xFFFFFFFF)
    high = ctx.body.int("MediumHighPowerThreshold", 0, 0xFFFFFFFF)
    return dlms.access_request(ctx.counter, [dlms.access_request_item("set", 21, "0-0:16.0.0.255", 2)],
                               [dlms.array(dlms.make_data("double-long-unsigned", low),
                                           dlms.make_data("double-long-unsigned", high))])


def _device_log_read(ctx: BuildContext) -> dict:
    """CCS07: read the CHF device log and the CHF historic device log (IC 104 method 4)."""
    specs = [dlms.access_request_item("action", 104, obis, 4) for obis in ("0-0:30.3.0.255", "0-0:30.3.1.255")]
    return dlms.access_request(ctx.counter, specs, [dlms.make_data("null-data"), dlms.make_data("null-data")])


def _unit_charge(pe: Body) -> dict:
    """Secondary-element unit charge (Blue Book IC 113): charge-per-unit scaling {commodity
    scale 3 (kWh from Wh), price scale = DUIS PriceScale}, commodity reference = the secondary
    active import register (class 3, 1-20:1.8.0.255, attribute 2), then one (rate, price) pair
    per DUIS ElectricityPriceElement (rate = its index, else its position)."""
    scale = pe.int("PriceScale", -128, 127)
    prices = pe.all("ElectricityPriceElement")
    if not prices:
        raise RequestError(INVALID, f"{pe.path}.ElectricityPriceElement", "missing")
    rates = [_index(p, 1, 255) if p.element.get("index") is not None else i for i, p in enumerate(prices, 1)]
    table = dlms.array(*(dlms.structure(dlms.octet_string(bytes((r,))), dlms.make_data("long", p.int(lo=-0x8000, hi=0x7FFF)))
                         for r, p in zip(rates, prices)))
    return dlms.structure(
        dlms.structure(dlms.make_data("integer", 3), dlms.make_data("integer", scale)),
        dlms.structure(dlms.make_data("long-unsigned", 3), dlms.octet_string(bytes.fromhex("0114010800FF")),
                       dlms.make_data("integer", 2)),
        table)


def _price_secondary(ctx: BuildContext) -> dict:
    """ECS01d: secondary-element TOU price matrix (IC 113 attr 6 passive unit charge) + activation."""
    unit_charge = _unit_charge(ctx.body.require("PriceElements"))
    specs = [dlms.access_request_item("set", 113, "0-0:19.20.5.255", 6),
             dlms.access_request_item("set", 113, "0-0:19.20.5.255", 7)]
    return dlms.access_request(ctx.counter, specs, [unit_charge, dlms.octet_string(_execution(ctx))])



# --------------------------------------------------------------------------- GBZ helpers

def _issuer_event_id(ctx: BuildContext) -> int:
    """ZSE Issuer Event ID: the DCC's current UTC time (seconds since 2000)."""
    return utc_seconds(ctx.now)


def _zse_time(when: datetime.datetime) -> int:
    """ZCL UTCTime of an instant; 0xFFFFFFFF is "invalid" in ZCL, so later instants clamp below it."""
    return min(utc_seconds(when), 0xFFFFFFFE)


def _gbz_execution(ctx: BuildContext) -> int:
    node = ctx.body.find("ExecutionDateTime")
    return gbz_time(node.datetime() if node is not None else None)


def _gbz_reads(*components: tuple[str, tuple[str, ...]]) -> Builder:
    """Attribute reads: one Read Attributes component per (cluster, ZSE attribute names)."""
    comps = tuple(read_attributes(cluster, *names) for cluster, names in components)
    return lambda ctx: gbz_payload(*comps)


def _calendar_gets(issuer_calendar_id: int, calendar_type: int) -> tuple[dict, ...]:
    """Get Day Profiles, Week Profiles, Seasons and Special Days of one calendar (all entries)."""
    return (cluster_command("Calendar", 0x01, {"ProviderID": 0, "IssuerCalendarID": issuer_calendar_id,
                                                "StartDayID": 1, "NumberofDays": 0}),
            cluster_command("Calendar", 0x02, {"ProviderID": 0, "IssuerCalendarID": issuer_calendar_id,
                                                "StartWeekID": 1, "NumberofWeeks": 0}),
            cluster_command("Calendar", 0x03, {"ProviderID": 0, "IssuerCalendarID": issuer_calendar_id}),
            cluster_command("Calendar", 0x04, {"StartTime": 0, "NumberofEvents": 0, "CalendarType": calendar_type,
                                                "ProviderID": 0, "IssuerCalendarID": issuer_calendar_id}))


#: GBCS calendar ids / types of the GSME: the tariff switching calendar (any issuer id,
#: type 0 delivered) and the non-disablement (friendly credit) calendar (type 3).
_TARIFF_CALENDAR = (0xFFFFFFFF, 0)
_FRIENDLY_CREDIT_CALENDAR = (0xFFFFFFFE, 3)

#: ZSE Prepayment Credit Adjustment types by DUIS UpdateMeterBalance choice (GCS40a-d).
_CREDIT_ADJUSTMENT = {"PrepaymentMode/AdjustMeterBalance": 0, "PrepaymentMode/ResetMeterBalance": 1,
                      "CreditMode/ResetMeterBalance": 2, "CreditMode/AdjustMeterBalance": 3}


def _credit_adjustment(ctx: BuildContext) -> dict:
    for path, kind in _CREDIT_ADJUSTMENT.items():
        node = ctx.body.find(path)
        if node is not None:
            value = node.int(lo=-0x80000000, hi=0x7FFFFFFF) if path.endswith("Adjust" + "MeterBalance") else 0
            return gbz_payload(cluster_command("Prepayment", 0x05, {
                "IssuerEventID": _issuer_event_id(ctx), "StartTime": 0, "CreditAdjustmentType": kind,
                "CreditAdjustmentValue": value}))
    raise RequestError(INVALID, ctx.body.path, "PrepaymentMode or CreditMode adjustment expected")


#: ZSE Payment Control Configuration bits (Prepayment cluster attribute 0x0000).
_DISCONNECTION_ENABLED = 0x0001
_PREPAYMENT_ENABLED = 0x0002
_CREDIT_MANAGEMENT_ENABLED = 0x0004
_CREDIT_DISPLAY_ENABLED = 0x0010
_CONTACTOR_FITTED = 0x0080
_DEBT_SUSPENDED_WHEN_DISABLED = 0x0400
_DEBT_COLLECTED_IN_EMERGENCY_CREDIT_OFF = 0x0800
_CREDIT_MODE = (_CREDIT_MANAGEMENT_ENABLED | _CREDIT_DISPLAY_ENABLED | _CONTACTOR_FITTED
                | _DEBT_SUSPENDED_WHEN_DISABLED | _DEBT_COLLECTED_IN_EMERGENCY_CREDIT_OFF)
_PREPAYMENT_MODE = (_DISCONNECTION_ENABLED | _PREPAYMENT_ENABLED | _CREDIT_MANAGEMENT_ENABLED
                    | _CREDIT_DISPLAY_ENABLED | _CONTACTOR_FITTED)
#: Cut-off value written with credit mode (no disablement threshold applies).
_NO_CUT_OFF = -1


def _change_payment_mode(ctx: BuildContext) -> dict:
    """GCS02 / GCS03: ZSE Change Payment Mode with the DUIS suspend-debt flags and threshold."""
    if ctx.body.has("Credit"):
        config, cut_off = _CREDIT_MODE, _NO_CUT_OFF
    else:
        pp = ctx.body.require("Prepayment")
        config = _PREPAYMENT_MODE
        if pp.bool("SuspendDebtDisabled"):
            config |= _DEBT_SUSPENDED_WHEN_DISABLED
        if not pp.bool("SuspendDebtEmergency"):
            config |= _DEBT_COLLECTED_IN_EMERGENCY_CREDIT_OFF
        cut_off = pp.int("DisablementThreshold", -0x80000000, 0x7FFFFFFF)
    return gbz_payload(cluster_command("Prepayment", 0x06, {
        "ProviderID": 0, "IssuerEventID": _issuer_event_id(ctx), "ImplementationDateTime": _gbz_execution(ctx),
        "ProposedPaymentControlConfiguration": config, "CutOffValue": cut_off}))


def _change_supply(status: int) -> Builder:
    """GCS32 (off = 0) / GCS39 (armed = 1): ZSE Change Supply, now, acknowledge required."""
    return lambda ctx: gbz_payload(cluster_command("Metering", 0x0B, {
        "ProviderID": 0, "IssuerEventID": _issuer_event_id(ctx), "RequestDateTime": 0,
        "ImplementationDateTime": 0, "ProposedSupplyStatus": status, "SupplyControlBits": 0x01}))


def _ascii_hex(node: Body) -> str:
    if not node.text.isascii():
        raise RequestError(INVALID, node.path, "must be ASCII")
    return node.text.encode("ascii").hex().upper()


def _display_message(ctx: BuildContext) -> dict:
    """GCS07: ZSE Display Message, now, until replaced (duration 0xFFFF)."""
    node = ctx.body.require("SupplierMessage")
    return gbz_payload(cluster_command("Messaging", 0x00, {
        "MessageID": _issuer_event_id(ctx), "MessageControl": 0, "StartTime": 0, "DurationInMinutes": 0xFFFF,
        "Message": node.text}, server_to_client=True))


def _top_up(ctx: BuildContext) -> dict:
    """CS01b: ZSE Consumer Top Up from the remote (originating device 0) with the UTRN."""
    return gbz_payload(cluster_command("Prepayment", 0x04, {
        "OriginatingDevice": 0, "TopUpCode": _ascii_hex(ctx.body.require("UTRN"))}))


def _update_site_id(ctx: BuildContext) -> dict:
    """GCS41: ZSE Update Site ID with the MPRN."""
    node = ctx.body.require("ImportMPRN")
    _digits(node)
    return gbz_payload(cluster_command("Device Management", 0x03, {
        "IssuerEventID": _issuer_event_id(ctx), "SiteIDTime": 0, "ProviderID": 0, "SiteID": _ascii_hex(node)},
        server_to_client=True))


#: ZSE Provider Change Control of GCS44: change supplier name and contact details only.
_SUPPLIER_DETAILS_ONLY = 0x1800


def _supplier_name(ctx: BuildContext) -> dict:
    """GCS44: ZSE Publish Change of Supplier carrying the supplier's name and telephone number."""
    return gbz_payload(cluster_command("Device Management", 0x01, {
        "CurrentProviderID": 0, "IssuerEventID": _issuer_event_id(ctx), "TariffType": 0, "ProposedProviderID": 0,
        "ProviderChangeImplementationTime": 0, "ProviderChangeControl": _SUPPLIER_DETAILS_ONLY,
        "ProposedProviderName": _ascii_hex(ctx.body.require("SupplierName")),
        "ProposedProviderContactDetails": _ascii_hex(ctx.body.require("SupplierTelephoneNumber"))},
        server_to_client=True))


#: GSME profile data: half-hourly samples (ZSE Get Sampled Data, consumption delivered).
_HALF_HOUR = 1800


def _profile_data(ctx: BuildContext) -> dict:
    """GCS17: Get Sampled Data of the half-hour consumption log over the DUIS ReadLogPeriod."""
    start, end = _period(ctx)
    samples = int((end - start).total_seconds()) // _HALF_HOUR + 1
    return gbz_payload(cluster_command("Metering", 0x08, {
        "SampleID": 0, "EarliestSampleTime": _zse_time(start), "SampleType": 0,
        "NumberofSamples": min(samples, 0xFFFF)}))


def _decimal(node: Body) -> tuple[int, int]:
    """A DUIS decimal as (integer of its digits, number of decimal places)."""
    text = node.text
    whole, _, frac = text.partition(".")
    if not (whole.lstrip("-").isdigit() and (frac == "" or frac.isdigit())) or not text.isascii():
        raise RequestError(INVALID, node.path, f"not a decimal: {text!r}")
    return int(whole + frac), len(frac)


#: ZSE Calorific Value Unit: MJ/m3.
_MJ_PER_M3 = 0x01


def _gas_conversion(ctx: BuildContext) -> dict:
    """GCS23: Publish Conversion Factor and Publish Calorific Value, now; the trailing-digit
    fields give the decimal places (high nibble)."""
    cf, cf_places = _decimal(ctx.body.require("ConversionFactor"))
    cv, cv_places = _decimal(ctx.body.require("CalorificValue"))
    if cf_places > 15 or cv_places > 15:
        raise RequestError(INVALID, ctx.body.path, "too many decimal places")
    ev = _issuer_event_id(ctx)
    return gbz_payload(
        cluster_command("Price", 0x02, {"IssuerEventID": ev, "StartTime": 0, "ConversionFactor": cf,
                                        "ConversionFactorTrailingDigit": cf_places << 4}, server_to_client=True),
        cluster_command("Price", 0x03, {"IssuerEventID": ev, "StartTime": 0, "CalorificValue": cv,
                                        "CalorificValueUnit": _MJ_PER_M3,
                                        "CalorificValueTrailingDigit": cv_places << 4}, server_to_client=True))


#: DUIS gas billing periodicity -> number of months (ZSE duration type 0x23: months,
#: from the start of the period).
_BILLING_MONTHS = {"Monthly": 1, "Quarterly": 3, "SixMonthly": 6, "Annually": 12}
_DURATION_MONTHS = 0x23


def _gas_billing_calendar(ctx: BuildContext) -> dict:
    """GCS25 / GCS25a: Publish Billing Period and the matching Publish Block Period."""
    cal = ctx.body.require("GasBillingCalendar")
    per = cal.require("Periodicity")
    if per.text not in _BILLING_MONTHS:
        raise RequestError(UNSUPPORTED, per.path, f"periodicity {per.text!r} is not built "
                                                  f"(supported: {', '.join(_BILLING_MONTHS)})")
    months = _BILLING_MONTHS[per.text]
    start = _zse_time(cal.datetime("BillingPeriodStart"))
    ev = _issuer_event_id(ctx)
    return gbz_payload(
        cluster_command("Price", 0x09, {"ProviderID": 0, "IssuerEventID": ev, "BillingPeriodStartTime": start,
                                        "BillingPeriodDuration": months,
                                        "BillingPeriodDurationType": _DURATION_MONTHS, "TariffType": 0},
                        server_to_client=True),
        cluster_command("Price", 0x01, {"ProviderID": 0, "IssuerEventID": ev, "BlockPeriodStartTime": start,
                                        "BlockPeriodDuration": months, "BlockPeriodControl": 0x02,
                                        "BlockPeriodDurationType": _DURATION_MONTHS, "TariffType": 0,
                                        "TariffResolutionPeriod": 0x01}, server_to_client=True))


#: GSME billing data logs: debt type of payment-based debt (ZSE Debt 3), and how many
#: entries GBCS returns from the debt repayment log (10) and the top-up log (5).
_PAYMENT_BASED_DEBT = 2
_DEBT_LOG_ENTRIES = 10
_TOP_UP_LOG_ENTRIES = 5


def _debt_repayment_log(ctx: BuildContext) -> dict:
    """GCS15d: Get Debt Repayment Log for payment-based debt, from the period start (future-dated
    component start) to its end."""
    start, end = _period(ctx)
    return gbz_payload(cluster_command("Prepayment", 0x0A, {
        "LatestEndTime": _zse_time(end), "NumberofDebts": _DEBT_LOG_ENTRIES, "DebtType": _PAYMENT_BASED_DEBT},
        from_date_time=_zse_time(start)))


def _top_up_log(ctx: BuildContext) -> dict:
    """GCS15e: Get Top Up Log over the period."""
    start, end = _period(ctx)
    return gbz_payload(cluster_command("Prepayment", 0x08, {
        "LatestEndTime": _zse_time(end), "NumberofRecords": _TOP_UP_LOG_ENTRIES}, from_date_time=_zse_time(start)))


#: ZSE Events log id of the GSME's general event log (CS11 clears it).
_GENERAL_EVENT_LOG = 3
#: ZSE event id asking for the configuration of every event (GCS20r).
_ALL_EVENTS = 0x81FF


# --------------------------------------------------------------------------- clocks, calendars, ASN.1

def _clock_window(ctx: BuildContext) -> tuple[datetime.datetime, datetime.datetime]:
    """DUIS CurrentDateTime and TolerancePeriod (s): the window in which the device takes the time."""
    current = ctx.body.datetime("CurrentDateTime")
    tolerance = ctx.body.int("TolerancePeriod", 0, 0xFFFFFFFF)
    try:
        return current, current + datetime.timedelta(seconds=tolerance)
    except OverflowError:
        raise RequestError(INVALID, f"{ctx.body.path}.TolerancePeriod", "window beyond the calendar") from None


#: COSEM Clock time source written by ECS70 (GBCS: the time comes from the remote party).
_CLOCK_TIME_SOURCE = 5


def _set_clock_esme(ctx: BuildContext) -> dict:
    """ECS70: time source, preset_adjusting_time(any preset, window start, window end),
    adjust_to_preset_time, then read back the time and the clock status (Clock, IC 8)."""
    start, end = _clock_window(ctx)
    clock = "0-0:1.0.0.255"
    specs = [dlms.access_request_item("set", 8, clock, 9), dlms.access_request_item("action", 8, clock, 5),
             dlms.access_request_item("action", 8, clock, 4), dlms.access_request_item("get", 8, clock, 2),
             dlms.access_request_item("get", 8, clock, 4)]
    data = [dlms.make_data("enum", _CLOCK_TIME_SOURCE),
            dlms.structure(dlms.octet_string(DATE_TIME_NEVER), dlms.octet_string(dlms_date_time(start)),
                           dlms.octet_string(dlms_date_time(end))),
            dlms.make_data("integer", 0), dlms.make_data("null-data"), dlms.make_data("null-data")]
    return dlms.access_request(ctx.counter, specs, data)


def _set_clock_gsme(ctx: BuildContext) -> dict:
    """GCS28: ASN.1 SetClockCommand with the validity interval of the new time."""
    start, end = _clock_window(ctx)
    return {"kind": "asn1", "asn1_type": "SetClockCommand",
            "value": {"validityIntervalStart": {"generalized_time": start.strftime("%Y%m%d%H%M%SZ")},
                      "validityIntervalEnd": {"generalized_time": end.strftime("%Y%m%d%H%M%SZ")}},
            "length_encoding": "der"}


def _cosem_time(t: datetime.time) -> bytes:
    return bytes((t.hour, t.minute, t.second, t.microsecond // 10000))


#: COSEM date with every field "not specified" but the day of month / day of week.
def _cosem_date(day_of_month: int = 0xFF, day_of_week: int = 0xFF) -> bytes:
    return b"\xFF\xFF\xFF" + bytes((day_of_month, day_of_week))


def _billing_calendar_esme(ctx: BuildContext) -> dict:
    """ECS30: the billing single-action schedule (IC 22 0-0:15.0.0.255 execution_time) from
    the DUIS billing time and a daily, weekly (day of week 1-7) or monthly (day 1-28) period."""
    cal = ctx.body.require("ElectricityBillingCalendar")
    at = _cosem_time(cal.time("BillingTime"))
    if cal.has("Monthly"):
        date = _cosem_date(day_of_month=cal.int("Monthly", 1, 31))
    elif cal.has("Weekly"):
        date = _cosem_date(day_of_week=cal.int("Weekly", 1, 7))
    elif cal.has("Daily"):
        date = _cosem_date()
    else:
        raise RequestError(UNSUPPORTED, cal.path, "only Daily, Weekly and Monthly billing periods are built")
    return dlms.access_request(ctx.counter, [dlms.access_request_item("set", 22, "0-0:15.0.0.255", 4)],
                               [dlms.array(dlms.structure(dlms.octet_string(at), dlms.octet_string(date)))])


def _daily_block_counter_reset(ctx: BuildContext) -> dict:
    """ECS48: the block counter reset schedule (IC 22 0-0:15.1.0.255) at midnight every day,
    or no execution time at all when the daily reset is turned off."""
    on = ctx.body.bool("DailyTariffBlockCounterMatrixReset")
    entries = [dlms.structure(dlms.octet_string(bytes(4)), dlms.octet_string(_cosem_date()))] if on else []
    return dlms.access_request(ctx.counter, [dlms.access_request_item("set", 22, "0-0:15.1.0.255", 4)],
                               [dlms.array(*entries)])


def _alcs_labels(ctx: BuildContext) -> dict:
    """ECS46a: the label of each ALCS / HC ALCS by its DUIS index (0-0:94.44.0.(10 + index))."""
    specs, data = [], []
    for d in ctx.body.all("ALCSHCALCSDescription"):
        raw = d.element.get("index", "")
        if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= 5:
            raise RequestError(INVALID, f"{d.path}@index", "must be 1 to 5")
        text = d.str("SwitchDescription")
        if not text.isascii():
            raise RequestError(INVALID, f"{d.path}.SwitchDescription", "must be ASCII")
        specs.append(dlms.access_request_item("set", 1, f"0-0:94.44.0.{10 + int(raw)}", 2))
        data.append(dlms.make_data("visible-string", text))
    if not specs:
        raise RequestError(INVALID, f"{ctx.body.path}.ALCSHCALCSDescription", "missing")
    return dlms.access_request(ctx.counter, specs, data)


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


# --------------------------------------------------------------------------- voltage, maximum demand

#: DUIS RMSVoltageSettings element of each Register monitor (IC 71) threshold / duration.
_RMS_MONITORS = {"0-0:17.0.1.255": "RMSExtremeOverVoltage", "0-0:17.0.2.255": "RMSExtremeUnderVoltage",
                 "0-0:17.0.3.255": "RMSVoltageSag", "0-0:17.0.4.255": "RMSVoltageSwell"}
#: OBIS group C of the voltage objects of phases 1, 2, 3 (L1 32, L2 52, L3 72).
_PHASE_OF_C = {"32": 1, "52": 2, "72": 3}
#: Per-phase objects: (class, OBIS group D.E.F, attribute) -> DUIS PhaseVoltageSettings element.
_PHASE_OBJECTS = {(7, "24.0.255", 4): "AverageRMSVoltageMeasurementPeriod",
                  (1, "35.0.4", 2): "AverageRMSOverVoltageThreshold",
                  (1, "31.0.4", 2): "AverageRMSUnderVoltageThreshold"}


def _voltage_use_case(body: Body) -> dict[str, tuple[str, ...]]:
    """6.5: single or poly phase settings, with or without the RMS voltage counter reset."""
    poly = body.has("PolyPhaseVoltageSettings")
    if not poly and not body.has("SinglePhaseVoltageSettings"):
        raise RequestError(INVALID, body.path, "SinglePhaseVoltageSettings or PolyPhaseVoltageSettings is required")
    keep_counters = body.has("RMSVoltageCountersNotReset")
    name = {(False, False): "ECS29a", (True, False): "ECS29b", (False, True): "ECS29c",
            (True, True): "ECS29d"}[(poly, keep_counters)]
    return {E: (name,)}


def _phase_settings(body: Body, phase: int) -> Body:
    if body.has("SinglePhaseVoltageSettings"):
        if phase != 1:
            raise RequestError(INVALID, f"{body.path}.SinglePhaseVoltageSettings", "single phase settings only")
        return body.require("SinglePhaseVoltageSettings")
    for p in body.all("PolyPhaseVoltageSettings"):
        if p.int("Phase", 1, 3) == phase:
            return p.require("PhaseVoltageSettings")
    raise RequestError(INVALID, f"{body.path}.PolyPhaseVoltageSettings", f"no settings for phase {phase}")


def _voltage_configuration(ctx: BuildContext) -> dict:
    """ECS29a-d: every COSEM attribute the use case writes (payload catalogue order) takes its
    value from the DUIS element that names it; counter resets take integer 0."""
    items = catalogue_items(ctx.message_code)
    if len(items) != 1:
        raise RequestError(UNSUPPORTED, "", "no single layout for this voltage use case")
    rms = ctx.body.require("RMSVoltageSettings")
    specs, data = [], []
    for it in items[0]:
        if it.kind == "action":
            if (it.class_id, it.item_id) not in _RESET_METHODS:
                raise RequestError(UNSUPPORTED, "", f"{it} is not a reset")
            specs.append(dlms.access_request_item("action", it.class_id, it.obis, it.item_id))
            data.append(dlms.make_data("integer", 0))
            continue
        if it.class_id == 71:
            suffix = {4: "Threshold", 6: "MeasurementPeriod"}[it.item_id]
            node = rms.require(_RMS_MONITORS[it.obis] + suffix)
        else:
            group_c, _, rest = it.obis.partition(":")[2].partition(".")
            element = _PHASE_OBJECTS[(it.class_id, rest, it.item_id)]
            node = _phase_settings(ctx.body, _PHASE_OF_C[group_c]).require(element)
        specs.append(dlms.access_request_item("set", it.class_id, it.obis, it.item_id))
        data.append(dlms.make_data("double-long-unsigned", node.int(lo=0, hi=0xFFFFFFFF)))
    return dlms.access_request(ctx.counter, specs, data)


#: Maximum demand configurable period (IC 10 schedule 0-0:12.0.0.255): the script table
#: 0-0:10.128.100.255 runs selector 1 at the start and 2 at the end, every day, from 1 January.
_MD_SCRIPT_TABLE = bytes.fromhex("00000A8064FF")
_EVERY_DAY = {"type": "bit-string", "bits": 7, "value": "FE"}
_NO_SPECIAL_DAYS = {"type": "bit-string", "bits": 0, "value": ""}
_FROM_FIRST_OF_JANUARY = bytes.fromhex("000001FFFF")
_NO_END_DATE = bytes.fromhex("FFFFFFFFFF")
_ANY_TIME_WINDOW = 0xFFFF


def _md_period(ctx: BuildContext) -> dict:
    """ECS37: the schedule entries that start and end the configurable maximum demand period."""
    sch = ctx.body.require("MaximumDemandTimePeriodSchedule")
    entries = []
    for index, (element, selector) in enumerate((("StartTime", 1), ("EndTime", 2))):
        at = sch.time(element)
        entries.append(dlms.structure(
            dlms.make_data("long-unsigned", index), _boolean(True), dlms.octet_string(_MD_SCRIPT_TABLE),
            dlms.make_data("long-unsigned", selector), dlms.octet_string(_cosem_time(at)),
            dlms.make_data("long-unsigned", _ANY_TIME_WINDOW), dict(_EVERY_DAY), dict(_NO_SPECIAL_DAYS),
            dlms.octet_string(_FROM_FIRST_OF_JANUARY), dlms.octet_string(_NO_END_DATE)))
    return dlms.access_request(ctx.counter, [dlms.access_request_item("set", 10, "0-0:12.0.0.255", 2)],
                               [dlms.array(*entries)])


# --------------------------------------------------------------------------- gas debt and flow

#: ZSE Debt Recovery Frequency by DUIS DebtRecoveryRatePeriod.
_RECOVERY_FREQUENCY = {"HOURLY": 0, "DAILY": 1, "WEEKLY": 2, "MONTHLY": 3, "QUARTERLY": 4}
#: ZSE Debt Amount Type "incremental" of debt registers 1, 2 and 3 (GBCS adds to the debts).
_DEBT_INCREMENTAL = (1, 3, 5)
_TIME_BASED, _PAYMENT_BASED = 0, 1
#: Frequency field written with the payment-based debt (GCS04 carries the daily value).
_PAYMENT_DEBT_FREQUENCY = 1


def _gas_debt(ctx: BuildContext) -> dict:
    """GCS04: one ZSE Change Debt per DUIS debt register (time-based debts 1 and 2 with their
    recovery rate and period, payment-based debt 3 with its recovery percentage per payment)."""
    ev = _issuer_event_id(ctx)
    comps = []

    def change(amount: int, method: int, amount_type: int, frequency: int, recovery: int, percentage: int) -> dict:
        return cluster_command("Prepayment", 0x02, {
            "IssuerEventID": ev, "DebtLabel": "", "DebtAmount": amount, "DebtRecoveryMethod": method,
            "DebtAmountType": amount_type, "DebtRecoveryStartTime": 0, "DebtRecoveryCollectionTime": 0,
            "DebtRecoveryFrequency": frequency, "DebtRecoveryAmount": recovery,
            "DebtRecoveryBalancePercentage": percentage})

    for i in (1, 2):
        if ctx.body.has(f"TimeDebtRegister{i}"):
            rec = ctx.body.require(f"GasDebtRecovery{i}")
            period = rec.require("DebtRecoveryRatePeriod")
            if period.text not in _RECOVERY_FREQUENCY:
                raise RequestError(INVALID, period.path, f"must be one of {', '.join(_RECOVERY_FREQUENCY)}")
            comps.append(change(ctx.body.int(f"TimeDebtRegister{i}", 0, 0xFFFFFFFF), _TIME_BASED,
                                _DEBT_INCREMENTAL[i - 1], _RECOVERY_FREQUENCY[period.text],
                                rec.int("DebtRecoveryRate", 0, 0xFFFFFFFF), 0))
    if ctx.body.has("PaymentDebtRegister"):
        comps.append(change(ctx.body.int("PaymentDebtRegister", 0, 0xFFFFFFFF), _PAYMENT_BASED,
                            _DEBT_INCREMENTAL[2], _PAYMENT_DEBT_FREQUENCY, 0,
                            ctx.body.int("DebtRecoveryPerPayment", 0, 0xFFFF)))
    return gbz_payload(*comps)


#: ZSE Set Supply Status value leaving a state as it is; GCS24 writes no uncontrolled-flow
#: state change (0) and leaves the load limit state unchanged.
_STATE_UNCHANGED = 3
_STATES = {"Unchanged": _STATE_UNCHANGED}
_NO_UNCONTROLLED_FLOW_CHANGE = 0
_CUBIC_METRES = 0x01


def _gas_flow(ctx: BuildContext) -> dict:
    """GCS24 / GCS24a: Set Uncontrolled Flow Threshold (m3/h as an integer, or a decimal with its
    divisor) and Set Supply Status for the tamper and depletion states."""
    if ctx.body.has("UncontrolledGasFlowRateDecimal"):
        value, places = _decimal(ctx.body.require("UncontrolledGasFlowRateDecimal"))
        divisor = 10 ** places
    else:
        value, divisor = ctx.body.int("UncontrolledGasFlowRate", 0, 0xFFFF), 1
    if not 0 <= value <= 0xFFFF or divisor > 0xFFFF:
        raise RequestError(INVALID, ctx.body.path, "uncontrolled gas flow rate out of range")
    states = {}
    for element in ("SupplyTamperState", "SupplyDepletionState"):
        node = ctx.body.require(element)
        if node.text not in _STATES:
            raise RequestError(UNSUPPORTED, node.path, f"only {', '.join(_STATES)} is built")
        states[element] = _STATES[node.text]
    ev = _issuer_event_id(ctx)
    return gbz_payload(
        cluster_command("Metering", 0x0E, {
            "ProviderID": 0, "IssuerEventID": ev, "UncontrolledFlowThreshold": value, "UnitofMeasure": _CUBIC_METRES,
            "Multiplier": 1, "Divisor": divisor, "StabilisationPeriod": ctx.body.int("StabilisationPeriod", 0, 0xFF),
            "MeasurementPeriod": ctx.body.int("MeasurementPeriod", 0, 0xFFFF)}),
        cluster_command("Metering", 0x0D, {
            "IssuerEventID": ev, "SupplyTamperState": states["SupplyTamperState"],
            "SupplyDepletionState": states["SupplyDepletionState"],
            "SupplyUncontrolledFlowState": _NO_UNCONTROLLED_FLOW_CHANGE, "LoadLimitSupplyState": _STATE_UNCHANGED}))


# --------------------------------------------------------------------------- tariffs (secondary element)

def _duis_date(node: Body) -> bytes:
    """A DUIS date with optional wildcards (Year / Month / DayOfMonth / DayOfWeek, each either
    Specified... or NonSpecified...) as the 5-byte COSEM date."""
    def part(name: str, size: int, lo: int, hi: int) -> bytes:
        p = node.require(name)
        spec = p.find(f"Specified{name}")
        if spec is None:
            if p.find(f"NonSpecified{name}") is None:
                raise RequestError(INVALID, p.path, f"Specified{name} or NonSpecified{name} expected")
            return b"\xFF" * size
        return spec.int(lo=lo, hi=hi).to_bytes(size, "big")
    return (part("Year", 2, 0, 0xFFFE) + part("Month", 1, 1, 12) + part("DayOfMonth", 1, 1, 31)
            + part("DayOfWeek", 1, 1, 7))


def _octet_id(node: Body) -> dict:
    """Day / week / season identifiers are one-octet strings in the activity calendar."""
    return dlms.octet_string(bytes((node.int(lo=0, hi=255),)))


#: The secondary element's TOU rates are scripts 200 + rate of the tariff script table.
_TARIFF_SCRIPT_TABLE = bytes.fromhex("00000A0064FF")
_SECONDARY_SCRIPT_BASE = 200
_MIDNIGHT_ANY_ZONE = bytes.fromhex("00000000008000FF")


def _tariff_secondary(ctx: BuildContext) -> dict:
    """ECS01c: the secondary element's passive activity calendar (seasons, weeks, day profiles),
    special days and TOU price matrix, each activated at the execution date-time."""
    table = ctx.body.require("SwitchingTable")
    seasons = dlms.array(*(dlms.structure(
        dlms.octet_string(_ascii_bytes(se.require("SeasonName"))),
        dlms.octet_string(_duis_date(se.require("SeasonStartDate")) + _MIDNIGHT_ANY_ZONE[1:]),
        _octet_id(se.require("ReferencedWeekName")))
        for se in table.all("Seasons/Season")))
    weeks = []
    for wk in table.all("WeekProfiles/WeekProfile"):
        days = sorted(wk.all("ReferencedDayName"), key=lambda d: _index(d, 1, 7))
        if [_index(d, 1, 7) for d in days] != list(range(1, 8)):
            raise RequestError(INVALID, f"{wk.path}.ReferencedDayName", "one per day of the week, index 1 to 7")
        weeks.append(dlms.structure(_octet_id(wk.require("WeekName")),
                                    *(dlms.make_data("unsigned", d.int(lo=0, hi=255)) for d in days)))
    day_profiles = []
    for dp in table.all("DayProfiles/DayProfile"):
        actions = [dlms.structure(
            dlms.octet_string(_cosem_time(ps.time("StartTime"))), dlms.octet_string(_TARIFF_SCRIPT_TABLE),
            dlms.make_data("long-unsigned", _SECONDARY_SCRIPT_BASE + ps.int("TOUTariffAction", 1, 48)))
            for ps in dp.all("ProfileSchedule")]
        day_profiles.append(dlms.structure(dlms.make_data("unsigned", dp.int("DayName", 0, 255)),
                                           dlms.array(*actions)))
    special = [dlms.structure(dlms.make_data("long-unsigned", i), dlms.octet_string(_duis_date(sd.require("Date"))),
                              dlms.make_data("unsigned", sd.int("ReferencedDayName", 0, 255)))
               for i, sd in enumerate(ctx.body.all("SpecialDays/SpecialDay"), 1)]
    unit_charge = _unit_charge(ctx.body.require("PriceElements"))
    when = dlms.octet_string(_execution(ctx))
    cal = "0-0:13.0.1.255"
    specs = [dlms.access_request_item("set", 113, "0-0:19.20.5.255", 6),
             dlms.access_request_item("set", 20, cal, 7), dlms.access_request_item("set", 20, cal, 8),
             dlms.access_request_item("set", 20, cal, 9), dlms.access_request_item("set", 11, "0-1:11.0.1.255", 2),
             dlms.access_request_item("set", 20, cal, 10), dlms.access_request_item("set", 113, "0-0:19.20.5.255", 7),
             dlms.access_request_item("set", 9000, "0-0:94.44.128.30", 6)]
    data = [unit_charge, seasons, dlms.array(*weeks), dlms.array(*day_profiles), dlms.array(*special),
            when, when, when]
    return dlms.access_request(ctx.counter, specs, data)


def _index(node: Body, lo: int, hi: int) -> int:
    raw = node.element.get("index", "")
    if not raw.isascii() or not raw.isdigit() or not lo <= int(raw) <= hi:
        raise RequestError(INVALID, f"{node.path}@index", f"must be {lo} to {hi}")
    return int(raw)


def _ascii_bytes(node: Body) -> bytes:
    if not node.text.isascii():
        raise RequestError(INVALID, node.path, "must be ASCII")
    return node.text.encode("ascii")


# --------------------------------------------------------------------------- prices (primary element)

#: The primary element's price matrix (IC 113 0-0:19.20.0.255 unit charge): 48 TOU rates
#: (keys 0x01-0x30) then 4 blocks x 8 TOU rates (keys 0xA1-0xD8: block nibble A-D, rate nibble).
_TOU_RATES = 48
_BLOCKS, _BLOCK_TOU_RATES = 4, 8
_PRICE_KEYS = tuple(range(1, _TOU_RATES + 1)) + tuple((0xA + b) << 4 | r for b in range(_BLOCKS)
                                                      for r in range(1, _BLOCK_TOU_RATES + 1))


def _price_primary(ctx: BuildContext) -> dict:
    """ECS01b: standing charge (IC 113 0-0:19.20.4.255, no commodity) and the TOU / block / hybrid
    price matrix of the primary element, activated at the execution date-time."""
    el = ctx.body.require("PriceElements/ElectricityPriceElements")
    prices = dict.fromkeys(_PRICE_KEYS, 0)
    tariff = el.find("TOUTariff") or el.find("BlockTariff") or el.find("HybridTariff")
    if tariff is None:
        raise RequestError(INVALID, el.path, "TOUTariff, BlockTariff or HybridTariff is required")
    for tp in tariff.all("TOUPrice"):
        prices[_index(tp, 1, _TOU_RATES)] = tp.int(lo=-0x8000, hi=0x7FFF)
    for bp in tariff.all("BlockPrices"):
        rate = _index(bp, 1, _BLOCK_TOU_RATES)
        for b in bp.all("BlockPrice"):
            prices[(0x9 + _index(b, 1, _BLOCKS)) << 4 | rate] = b.int(lo=-0x8000, hi=0x7FFF)
    standing = dlms.structure(
        dlms.structure(dlms.make_data("integer", 0), dlms.make_data("integer", el.int("StandingChargeScale", -128, 127))),
        dlms.structure(dlms.make_data("long-unsigned", 0), dlms.octet_string(bytes(6)), dlms.make_data("integer", 0)),
        dlms.array(dlms.structure(dlms.octet_string(b""), dlms.make_data("long", el.int("StandingCharge", -0x8000, 0x7FFF)))))
    matrix = dlms.structure(
        dlms.structure(dlms.make_data("integer", 3), dlms.make_data("integer", el.int("PriceScale", -128, 127))),
        dlms.structure(dlms.make_data("long-unsigned", 3), dlms.octet_string(bytes.fromhex("0100010800FF")),
                       dlms.make_data("integer", 2)),
        dlms.array(*(dlms.structure(dlms.octet_string(bytes((k,))), dlms.make_data("long", v)) for k, v in prices.items())))
    when = dlms.octet_string(_execution(ctx))
    specs = [dlms.access_request_item("set", 113, "0-0:19.20.4.255", 6),
             dlms.access_request_item("set", 113, "0-0:19.20.0.255", 6),
             dlms.access_request_item("set", 113, "0-0:19.20.4.255", 7),
             dlms.access_request_item("set", 113, "0-0:19.20.0.255", 7)]
    return dlms.access_request(ctx.counter, specs, [standing, matrix, when, when])


# --------------------------------------------------------------------------- gas prices

#: ISO 4217 numeric codes of the DUIS CurrencyUnits values (ECB: the euro).
_CURRENCY = {"GBP": 826, "ECB": 978}
#: ZSE tariff type / charging scheme: TOU tariff, block tariff (delivered).
_TOU_TARIFF, _BLOCK_TARIFF = 0x00, 0x10
#: GSME prices: kWh (unit of measure 0), five decimal places (trailing digit 0x50), block
#: thresholds in kWh/1000, tier/block mode not used (0xFF), one tariff (issuer tariff id 1).
_KWH = 0x00
_PRICE_TRAILING_DIGIT = 0x50
_THRESHOLD_DIVISOR = 1000
_TIER_BLOCK_MODE_UNUSED = 0xFF
_ISSUER_TARIFF_ID = 1


def _gas_price(ctx: BuildContext) -> dict:
    """GCS01b: Publish Tariff Information and Publish Price Matrix (TOU or block prices)."""
    el = ctx.body.require("PriceElements/GasPriceElements")
    cur = el.require("CurrencyUnits")
    if cur.text not in _CURRENCY:
        raise RequestError(INVALID, cur.path, f"must be one of {', '.join(_CURRENCY)}")
    tou = el.find("TOUTariff")
    block = el.find("BlockTariff")
    if (tou is None) == (block is None):
        raise RequestError(INVALID, el.path, "exactly one of TOUTariff and BlockTariff is required")
    if tou is not None:
        prices = [(_index(p, 1, 4), p.int(lo=0, hi=0xFFFFFFFF)) for p in tou.all("TOUPrice")]
        scheme, tiers, thresholds, sub_payload = _TOU_TARIFF, len(prices), 0, 1
        entries = [{"TierBlockID": i, "Price": v} for i, v in prices]
    else:
        prices = [(_index(p, 1, 4), p.int(lo=0, hi=0xFFFFFFFF)) for p in block.all("BlockPrice")]
        scheme, tiers, thresholds, sub_payload = _BLOCK_TARIFF, 0, block.int("NumberOfThresholds", 0, 3), 0
        entries = [{"TierBlockID": i - 1, "Price": v} for i, v in prices]
    if not entries:
        raise RequestError(INVALID, el.path, "no prices")
    start = _gbz_execution(ctx)
    ev = _issuer_event_id(ctx)
    info = cluster_command("Price", 0x04, {
        "ProviderID": 0, "IssuerEventID": ev, "IssuerTariffID": _ISSUER_TARIFF_ID, "StartTime": start,
        "TariffTypeChargingScheme": scheme, "TariffLabel": "", "NumberofPriceTiersinUse": tiers,
        "NumberofBlockThresholdsinUse": thresholds, "UnitofMeasure": _KWH, "Currency": _CURRENCY[cur.text],
        "PriceTrailingDigit": _PRICE_TRAILING_DIGIT, "StandingCharge": el.int("StandingCharge", 0, 0xFFFFFFFF),
        "TierBlockMode": _TIER_BLOCK_MODE_UNUSED, "BlockThresholdMultiplier": 1,
        "BlockThresholdDivisor": _THRESHOLD_DIVISOR}, server_to_client=True)
    matrix = cluster_command("Price", 0x05, {
        "ProviderID": 0, "IssuerEventID": ev, "StartTime": _publish_start(start),
        "IssuerTariffID": _ISSUER_TARIFF_ID, "CommandIndex": 0, "TotalNumberofCommands": 1,
        "SubPayloadControl": sub_payload, "PriceMatrixSubPayload": entries}, server_to_client=True)
    return gbz_payload(info, matrix)


def _publish_start(start: int) -> int:
    """Start time of ZSE Publish commands whose "never" is 0xFFFFFFFE (0xFFFFFFFF is invalid)."""
    return 0xFFFFFFFE if start == 0xFFFFFFFF else start


# --------------------------------------------------------------------------- the use cases

def _specs() -> dict[str, UseCaseSpec]:
    s: dict[str, UseCaseSpec] = {}

    def add(name: str, build: Builder, acb: bool = False, urp: bool = False) -> None:
        s[name] = UseCaseSpec(name, build, acb, urp)

    # DLMS reads fully described by the payload catalogue (gets and ranged log gets).
    for name in ("ECS17a", "ECS17c", "ECS18a", "ECS18b", "ECS20a", "ECS20d", "ECS22a", "ECS22c", "ECS23",
                 "ECS23b", "ECS24", "ECS24b", "ECS25r1", "ECS25r2", "ECS26a", "ECS26b", "ECS26c", "ECS26d",
                 "ECS26e", "ECS26f", "ECS26j", "ECS26k", "ECS26l", "ECS26m", "ECS27", "ECS35a", "ECS35b",
                 "ECS35e", "ECS35f", "ECS35g", "ECS40", "ECS45", "ECS52", "ECS61a", "ECS61c", "ECS61e",
                 "ECS82"):
        add(name, catalogue_read)
    for name in ("ECS21c", "ECS26i", "ECS26n", "ECS35c", "ECS35d", "ECS61d", "CCS06", "DBCH01", "DBCH02",
                 "DBCH03"):
        add(name, catalogue_read, acb=True)
    # Sensitive reads through the Data-Protection object (wire-format notes 4.1.6).
    add("ECS19", _protected_read(((1, "0-0:94.44.34.30", 2),), ranged=False))
    add("ECS20b", _protected_read(((7, "0-0:98.1.2.255", 2),), ranged=True))
    add("ECS20c", _protected_read(((7, "0-0:98.1.0.255", 2), (7, "0-0:98.1.1.255", 2)), ranged=True))
    add("ECS21a", _protected_read(((7, "0-0:98.1.9.255", 2),), ranged=True))
    add("ECS21b", _protected_read(((7, "0-0:98.1.8.255", 2),), ranged=True), urp=True)
    add("ECS22b", _protected_read(((7, "0-0:99.1.0.255", 2),), ranged=True))
    # Resets.
    for name in ("ECS15a", "ECS15c", "ECS29e", "ECS29f"):
        add(name, catalogue_reset)
    add("ECS57", _reset_selected(("MaxDemandActivePowerImportValue", "MaxDemandConfigTimeActivePowerImportValue",
                                  "MaxDemandActivePowerExportValue")))
    # Scripts (IC 9 execute): load switch and tariff block counter.
    add("ECS05", _script("0-0:10.0.100.255", 99))
    add("ECS42", _script("0-0:10.0.106.255", 51))
    add("ECS43", _script("0-0:10.0.106.255", 52))
    add("ECS44", _script("0-0:10.0.106.255", 54))
    # Single-attribute writes.
    add("ECS10", _single("set", 1, "0-2:96.13.1.255", 2, _text_octets("SupplierMessage")))
    add("ECS14", _single("set", 1, "0-0:94.44.3.1", 2, _const(dlms.octet_string(b""))))
    add("ECS39a", _import_mpans)
    add("ECS39b", _single("set", 1, "1-0:0.0.2.255", 2, _text_octets("ExportMPAN")), acb=True)
    add("ECS81", _tamper_state)
    add("ECS34", _power_thresholds)
    add("ECS62Add", _boost_button("AddToBoostButton"))
    add("ECS62Remove", _boost_button("RemoveFromBoostButton"))
    add("ECS04b", _meter_balance_reset)
    add("ECS01d", _price_secondary)
    add("CS01a", _single("action", 115, "0-0:19.40.0.255", 1, _text_octets("UTRN")))
    add("DBCH05", _single("set", 1, "0-0:94.44.10.1", 2, _const(dlms.make_data("unsigned", 0))), acb=True)
    add("CCS02", _single("action", 104, "0-0:30.3.0.255", 2, _eui_octets("DeviceID")), acb=True)
    add("CCS07", _device_log_read, acb=True)
    # GBZ (GSME / GPF) attribute reads: the ZSE attributes each GBCS use case returns.
    add("GCS13b", _gbz_reads(("Metering", tuple(f"CurrentNoTierBlock{i}SummationDelivered" for i in range(1, 5))
                              + ("Divisor", "Multiplier", "UnitofMeasure"))))
    add("GCS13c", _gbz_reads(("Metering", ("Divisor", "Multiplier", "UnitofMeasure")
                              + tuple(f"CurrentTier{i}SummationDelivered" for i in range(1, 5)))))
    add("GCS14", _gbz_reads(("Price", ("PriceTrailingDigit", "Currency")),
                            ("Prepayment", ("AccumulatedDebt", "EmergencyCreditRemaining", "CreditRemaining",
                                            "DebtAmount3", "DebtAmount1", "DebtAmount2"))))
    for name in ("GCS60", "GCS60a"):
        add(name, _gbz_reads(("Metering", ("BillToDateDelivered",)), ("Prepayment", ("CreditRemaining",))))
    add("GCS21a", _gbz_reads(("Price", ("CalorificValueTrailingDigit", "CalorificValueUnit", "CalorificValue",
                                        "ConversionFactorTrailingDigit", "ConversionFactor")),
                             ("Metering", ("UncontrolledFlowDivisor", "UncontrolledFlowMultiplier",
                                           "UncontrolledFlowThresholdUnitofMeasure", "UncontrolledFlowThreshold",
                                           "FlowStabilisationPeriod", "FlowMeasurementPeriod"))))
    add("GCS21e", _gbz_reads(("Basic", ("ManufacturerName", "ModelIdentifier", "HWVersion")),
                             ("Metering", ("SupplyDepletionState", "SupplyTamperState"))))
    add("GCS21m", _gbz_reads(("Basic", ("ManufacturerName", "ModelIdentifier")),
                             ("Metering", ("SupplyDepletionState", "SupplyTamperState"))))
    add("GCS21j", _gbz_reads(("Prepayment", ("PaymentControlConfiguration",))))
    add("GCS33", _gbz_reads(("Metering", ("RemainingBatteryLifeInDays", "SupplyStatus"))))
    add("GCS46", _gbz_reads(("Metering", ("SiteID",))))
    prepay_config = read_attributes("Prepayment", "DebtRecoveryTopUpPercentage3", "OverallDebtCap",
                                    "DebtRecoveryFrequency1", "DebtRecoveryFrequency2", "CutOffValue",
                                    "EmergencyCreditLimitAllowance", "EmergencyCreditThreshold",
                                    "LowCreditWarningLevel", "MaxCreditLimit", "MaxCreditPerTopUp",
                                    "DebtRecoveryAmount1", "DebtRecoveryAmount2")
    add("GCS21b", lambda ctx: gbz_payload(prepay_config, read_attributes("Price", "PriceTrailingDigit"),
                                          *_calendar_gets(*_FRIENDLY_CREDIT_CALENDAR)))
    tariff = read_attributes("Price", "ThresholdDivisor", "ThresholdMultiplier", "Block1Threshold",
                             "Block2Threshold", "Block3Threshold", "UnitofMeasure",
                             *(f"NoTierBlock{i}Price" for i in range(1, 5)),
                             *(f"Tier{i}Block1Price" for i in range(1, 5)),
                             "Currency", "PriceTrailingDigit", "StandingCharge")
    add("GCS21f", lambda ctx: gbz_payload(tariff, *_calendar_gets(*_TARIFF_CALENDAR),
                                          cluster_command("Price", 0x00, {"CommandOptions": 0})))
    billing_period = cluster_command("Price", 0x0B, {"EarliestStartTime": 0, "MinIssuerEventID": 0xFFFFFFFF,
                                                     "NumberofCommands": 1, "TariffType": 0})
    for name in ("GCS21d", "GCS21k"):
        add(name, lambda ctx: gbz_payload(billing_period))
    add("GCS20r", lambda ctx: gbz_payload(cluster_command("Device Management", 0x05, {"EventID": _ALL_EVENTS},
                                                          server_to_client=True)))
    add("GCS17", _profile_data)
    add("GCS15d", _debt_repayment_log, acb=True)
    add("GCS15e", _top_up_log)
    # GBZ commands.
    for name in ("GCS40a", "GCS40b", "GCS40c", "GCS40d"):
        add(name, _credit_adjustment)
    add("GCS02", _change_payment_mode)
    add("GCS03", _change_payment_mode)
    add("GCS06", lambda ctx: gbz_payload(cluster_command("Prepayment", 0x00, {"CommandIssueDateTime": 0,
                                                                              "OriginatingDevice": 0})))
    add("GCS07", _display_message)
    add("CS11", lambda ctx: gbz_payload(cluster_command("Events", 0x01, {"LogID": _GENERAL_EVENT_LOG})))
    add("CS01b", _top_up)
    add("GCS32", _change_supply(0))
    add("GCS39", _change_supply(1))
    add("GCS41", _update_site_id)
    add("GCS44", _supplier_name)
    add("GCS23", _gas_conversion)
    for name in ("GCS25", "GCS25a"):
        add(name, _gas_billing_calendar)
    # Clocks, calendars, labels, ASN.1.
    add("ECS70", _set_clock_esme)
    add("ECS70Commission", _set_clock_esme)
    add("GCS28", _set_clock_gsme)
    add("GCS28Commission", _set_clock_gsme)
    add("ECS30", _billing_calendar_esme)
    add("ECS48", _daily_block_counter_reset)
    add("ECS46a", _alcs_labels)
    for name in ("ECS29a", "ECS29b", "ECS29c", "ECS29d"):
        add(name, _voltage_configuration)
    add("ECS37", _md_period)
    add("GCS04", _gas_debt)
    add("ECS01c", _tariff_secondary)
    add("ECS01b", _price_primary)
    add("GCS01b", _gas_price)
    add("GCS24", _gas_flow)
    add("GCS24a", _gas_flow)
    add("CS04B", _unjoin)
    add("CS08", lambda ctx: {"kind": "asn1", "asn1_type": "ReadFirmwareVersionCommand", "value": None,
                             "length_encoding": "der"}, acb=True)
    return s


#: GBCS use case name -> how its command is built.
USE_CASES: dict[str, UseCaseSpec] = {}


def _use_cases() -> dict[str, UseCaseSpec]:
    if not USE_CASES:
        USE_CASES.update(_specs())
    return USE_CASES


def supported_use_cases() -> list[str]:
    """GBCS use cases the transform builds."""
    return sorted(_use_cases())


# --------------------------------------------------------------------------- DUIS -> GBCS

def _by_body(choices: dict[str, dict[str, tuple[str, ...]]], element: str | None = None,
             default: dict[str, tuple[str, ...]] | None = None):
    """A variant whose use case depends on a body element's presence or text."""
    def resolve(body: Body) -> dict[str, tuple[str, ...]]:
        if element is None:
            for name, table in choices.items():
                if body.has(name):
                    return table
            if default is not None:
                return default
            raise RequestError(INVALID, body.path, f"one of {', '.join(choices)} is required")
        node = body.require(element)
        if node.text not in choices:
            raise RequestError(INVALID, node.path, f"must be one of {', '.join(choices)}")
        return choices[node.text]
    return resolve


E, G, GPF, CHF, PP, HC = "ESME", "GSME", "GPF", "CHF", "PPMID", "HCALCS"

#: DUIS service reference variant -> {device type: GBCS use cases (default first)}, or a
#: resolver choosing that table from the body.
SERVICES: dict[str, object] = {
    "1.1.1": {E: ("ECS01a",), G: ("GCS01a",)},
    "1.1.2": {E: ("ECS01c",)},
    "1.2.1": {E: ("ECS01b",), G: ("GCS01b",)},
    "1.2.2": {E: ("ECS01d",)},
    "1.5": _by_body({"PrepaymentMode/AdjustMeterBalance": {E: ("ECS04a",), G: ("GCS40a",)},
                     "PrepaymentMode/ResetMeterBalance": {E: ("ECS04b",), G: ("GCS40b",)},
                     "CreditMode/AdjustMeterBalance": {E: ("ECS04a",), G: ("GCS40c",)},
                     "CreditMode/ResetMeterBalance": {E: ("ECS04b",), G: ("GCS40d",)}}),
    "1.6": _by_body({"Credit": {E: ("ECS02",), G: ("GCS02",)}, "Prepayment": {E: ("ECS03",), G: ("GCS03",)}}),
    "1.7": {E: ("ECS05",)},
    "2.1": {E: ("ECS08", "ECS08a"), G: ("GCS05",)},
    "2.2": {E: ("CS01a",), G: ("CS01b",)},
    "2.3": {E: ("ECS07",), G: ("GCS04",)},
    "2.5": {E: ("ECS09",), G: ("GCS06",)},
    "3.1": {E: ("ECS10",), G: ("GCS07",)},
    "3.2": {E: ("ECS12",), GPF: ("GCS09",)},
    "3.4": {E: ("ECS16",), G: ("GCS44",)},
    "3.5": {E: ("ECS14",), G: ("GCS11",)},
    "4.1.1": {E: ("ECS17b",), G: ("GCS13a",), GPF: ("GCS13a",)},
    "4.1.2": {E: ("ECS17d",), G: ("GCS13c",), GPF: ("GCS13c",)},
    "4.1.3": {E: ("ECS17e",)},
    "4.1.4": {G: ("GCS13b",), GPF: ("GCS13b",)},
    "4.2": {E: ("ECS17a",)},
    "4.3": {E: ("ECS19",), G: ("GCS14",), GPF: ("GCS14",)},
    "4.4.2": {E: ("ECS20b",), G: ("GCS15b",), GPF: ("GCS15b",)},
    "4.4.3": {E: ("ECS20c",), G: ("GCS15c",), GPF: ("GCS15c",)},
    "4.4.4": {E: ("ECS20a",), G: ("GCS15d",), GPF: ("GCS15d",)},
    "4.4.5": {E: ("ECS20d",), G: ("GCS15e",), GPF: ("GCS15e",)},
    "4.6.1": {E: ("ECS21a",), G: ("GCS16a",), GPF: ("GCS16a",)},
    "4.6.2": {E: ("ECS21c",)},
    "4.8.1": {E: ("ECS22b",), G: ("GCS17",), GPF: ("GCS17",)},
    "4.8.2": {E: ("ECS22c",)},
    "4.8.3": {E: ("ECS22a",)},
    "4.10": {E: ("ECS23", "ECS23b"), G: ("GCS18",), GPF: ("GCS18",)},
    "4.11.1": {E: ("ECS24",), G: ("GCS21f",), GPF: ("GCS21f",)},
    "4.11.2": {E: ("ECS24b",)},
    "4.12.1": {E: ("ECS18b",)},
    "4.12.2": {E: ("ECS18a",)},
    "4.13": {E: ("ECS26a",), G: ("GCS21b",), GPF: ("GCS21b",)},
    "4.14": {E: ("ECS21b",), G: ("GCS16b",), GPF: ("GCS16b",)},
    "4.15": {E: ("ECS27",)},
    "4.16": {E: ("ECS17c",)},
    "4.17": {E: ("ECS66",), G: ("GCS61",), GPF: ("GCS61",)},
    "4.18": {E: ("ECS82",), G: ("GCS60", "GCS60a"), GPF: ("GCS60", "GCS60a")},
    "6.2.1": {E: ("ECS26b", "ECS26k")},
    "6.2.2": {E: ("ECS26c",)},
    "6.2.3": {E: ("ECS26d", "ECS26l"), G: ("GCS21d", "GCS21k"), GPF: ("GCS21d", "GCS21k")},
    "6.2.4": {E: ("ECS26m", "ECS26e"), CHF: ("ECS26i", "ECS26n"), G: ("GCS21m", "GCS21e"),
              GPF: ("GCS21m", "GCS21e")},
    "6.2.5": {E: ("ECS26f",)},
    "6.2.7": {E: ("ECS40",), G: ("GCS46",), GPF: ("GCS46",)},
    "6.2.8": {G: ("GCS21a",), GPF: ("GCS21a",)},
    "6.2.9": {E: ("ECS26j",), G: ("GCS21j",), GPF: ("GCS21j",)},
    "6.2.10": {E: ("ECS25r1", "ECS25r2"), G: ("GCS20r",), GPF: ("GCS20r",)},
    "6.4.1": {E: ("ECS28a",)},
    "6.4.2": {E: ("ECS28b",)},
    "6.5": _voltage_use_case,
    "6.6": {G: ("GCS23",)},
    "6.7": _by_body({"UncontrolledGasFlowRateDecimal": {G: ("GCS24a",)}}, default={G: ("GCS24",)}),
    "6.8": {E: ("ECS30", "ECS30a"), G: ("GCS25", "GCS25a")},
    "6.11": {E: ("ECS70",), G: ("GCS28",)},
    "6.12": {E: ("ECS34",)},
    "6.13": _by_body({"Event": {E: ("ECS35a",), CHF: ("ECS35c",), G: ("CS10a",), GPF: ("CS10a",)},
                      "Security": {E: ("ECS35b",), CHF: ("ECS35d",), G: ("CS10b",), GPF: ("CS10b",)},
                      "PowerEvent": {E: ("ECS35e",)},
                      "ALCSEvent": {E: ("ECS35g", "ECS35f")}}, "LogToRead"),
    "6.14.1": {E: ("ECS46a",)},
    "6.14.2": {E: ("ECS46c",)},
    "6.14.3": {E: ("ECS46d",)},
    "6.18.1": {E: ("ECS37",)},
    "6.18.2": {E: ("ECS57",)},
    "6.20.1": {E: ("ECS39a",), G: ("GCS41",)},
    "6.20.2": {E: ("ECS39b",)},
    "6.22": {E: ("ECS25a", "ECS25a1", "ECS25a2", "ECS25a3", "ECS25b", "ECS25b3"), G: ("GCS20",)},
    "6.25": {E: ("ECS81",)},
    "6.26": {E: ("ECS48",)},
    "6.27": {E: ("ECS29e", "ECS29f")},
    "6.28": {CHF: ("DBCH04",)},
    "6.29": {CHF: ("DBCH05",)},
    "6.30": {CHF: ("DBCH03",)},
    "6.31": {CHF: ("DBCH01",)},
    "6.32": {CHF: ("DBCH02",)},
    "7.1": {E: ("ECS42",)},
    "7.2": {E: ("ECS43",), G: ("GCS32",)},
    "7.3": {E: ("ECS44",), G: ("GCS39",)},
    "7.4": {E: ("ECS45",), G: ("GCS33",)},
    "7.7": {E: ("ECS61a",)},
    "7.9": {E: ("ECS62Add",)},
    "7.10": {E: ("ECS62Remove",)},
    "7.11": {E: ("ECS61c",)},
    "7.14": {E: ("ECS61d",)},
    "7.15": {E: ("ECS61e",)},
    "8.1.1": {E: ("ECS70Commission",), G: ("GCS28Commission",)},
    "8.8.2": {G: ("CS04B",), GPF: ("CS04B",), PP: ("CS04AC",), HC: ("CS04AC",)},
    "8.9": _by_body({"ReadSecurityDetails": {CHF: ("CCS07",)}}, default={CHF: ("CCS06",)}),
    "8.11": _by_body({"Add": {CHF: ("CCS01",)}, "Remove": {CHF: ("CCS02",)}}, "RequestType"),
    "8.12.1": {CHF: ("CCS03",)},
    "9.1": {E: ("ECS50",), G: ("GCS36",)},
    "11.2": {E: ("ECS52",), G: ("GCS38",), CHF: ("ECS52",), PP: ("CS08",), HC: ("CS08",)},
}


def _clear_event_log(body: Body) -> dict[str, tuple[str, ...]]:
    """3.3: ESME event or ALCS event log by ESMEEventLogType; ZigBee device event log otherwise."""
    node = body.find("ESMEEventLogType")
    if node is None:
        return {G: ("CS11",), GPF: ("CS11",)}
    table = {"ESME": {E: ("ECS15a",)}, "ALCS": {E: ("ECS15c",)}}
    if node.text not in table:
        raise RequestError(INVALID, node.path, f"must be one of {', '.join(table)}")
    return table[node.text]


SERVICES["3.3"] = _clear_event_log

#: GBCS message codes whose names the catalogue spells differently from the DUIS variants.
_CATALOGUE_NAME = {"ECS62Add": "ECS62", "ECS62Remove": "ECS62", "ECS70Commission": "ECS70",
                   "GCS28Commission": "GCS28"}


def catalogue_name(name: str) -> str:
    """The GBCS catalogue name of a use case (ECS62Add / ECS62Remove are both ECS62; the
    commissioning forms of DUIS 8.1.1 are the ECS70 / GCS28 clock use cases)."""
    return _CATALOGUE_NAME.get(name, name)


def resolve_use_case(request: TransformRequest, body: Body) -> UseCaseSpec:
    """The GBCS use case a request becomes, or L{RequestError} saying why none."""
    entry = SERVICES.get(request.service_reference_variant)
    if entry is None:
        raise RequestError(UNSUPPORTED, "Header.ServiceReferenceVariant",
                           f"{request.service_reference_variant} is not a device service the transform knows")
    table = entry(body) if callable(entry) else entry
    names = table.get(request.device_type)
    if not names:
        raise RequestError(INVALID, "Header.RequestID",
                           f"service {request.service_reference_variant} does not apply to a {request.device_type}")
    if request.use_case is not None:
        if request.use_case not in names:
            raise RequestError(INVALID, "Header.ServiceReferenceVariant",
                               f"{request.use_case} is not a form of {request.service_reference_variant} "
                               f"on a {request.device_type} ({', '.join(names)})")
        name = request.use_case
    else:
        name = names[0]
    spec = _use_cases().get(name)
    if spec is None:
        raise RequestError(UNSUPPORTED, "Header.ServiceReferenceVariant",
                           f"the transform does not build {name} ({request.service_reference_variant})")
    return spec
