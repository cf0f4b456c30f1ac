"""DLMS/COSEM use cases (ESME, CHF): from DUIS body elements to the Access-Request.

GBCS 4.1 / wire-format notes 4.1: reads take their COSEM descriptors from the payload
catalogue (L{protocols.acb.dlms_items.catalogue_items}); writes and actions map each DUIS
element onto the COSEM attribute or method parameter the GBCS use case defines.
"""

from __future__ import annotations

import datetime
import functools
from typing import Callable

from protocols.gbcs.payloads import dlms, encode_payload

from .context import Body, BuildContext, Builder, clock_window, digits, index_of, new_cin, read_period
from .dlms_items import (DATE_TIME_NEVER, DATE_TIME_NOW, CatalogueItem, catalogue_items, dlms_date_time,
                         protection_parameters, range_selector)
from .request import INVALID, UNSUPPORTED, RequestError, is_cancellation

__all__ = ["register", "catalogue_read", "catalogue_reset"]


def _execution(ctx: BuildContext) -> bytes:
    """Activation date-time of a future-dated DLMS command: now, a date, or never (cancel)."""
    node = ctx.body.find("ExecutionDateTime")
    if node is None:
        return DATE_TIME_NOW
    when = node.datetime()
    if is_cancellation(when):
        return DATE_TIME_NEVER
    return dlms_date_time(when)


def _reads(ctx: BuildContext, items: tuple[CatalogueItem, ...]) -> dict:
    """Access-Request of gets (and range-selected log gets) from catalogue descriptors."""
    specs, data = [], []
    period = None
    for it in items:
        if it.kind == "get":
            specs.append(dlms.access_request_item("get", it.class_id, it.obis, it.item_id))
        elif it.kind == "get-with-selection" and it.selector == 1:
            if period is None:
                period = read_period(ctx)
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
            start, end = read_period(ctx)
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
    raw = digits(mp.require("ImportMPAN"))
    if mp.has("SecondaryImportMPAN"):
        raw += digits(mp.require("SecondaryImportMPAN"))
    return dlms.access_request(ctx.counter, [dlms.access_request_item("set", 1, "0-0:94.44.34.11", 2)],
                               [dlms.octet_string(raw)])


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
    rates = [index_of(p, 1, 255) if p.element.get("index") is not None else i for i, p in enumerate(prices, 1)]
    table = dlms.array(*(dlms.structure(dlms.octet_string(bytes((r,))),
                                        dlms.make_data("long", p.int(lo=-0x8000, hi=0x7FFF)))
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


#: COSEM Clock time source written by ECS70 (GBCS: the time comes from the remote party).
_CLOCK_TIME_SOURCE = 5


def _set_clock_esme(ctx: BuildContext) -> dict:
    """ECS70: time source, preset_adjusting_time(any preset, window start, window end),
    adjust_to_preset_time, then read back the time and the clock status (Clock, IC 8)."""
    start, end = clock_window(ctx)
    clock = "0-0:1.0.0.255"
    specs = [dlms.access_request_item("set", 8, clock, 9), dlms.access_request_item("action", 8, clock, 5),
             dlms.access_request_item("action", 8, clock, 4), dlms.access_request_item("get", 8, clock, 2),
             dlms.access_request_item("get", 8, clock, 4)]
    data = [dlms.make_data("enum", _CLOCK_TIME_SOURCE),
            dlms.structure(dlms.octet_string(DATE_TIME_NEVER), dlms.octet_string(dlms_date_time(start)),
                           dlms.octet_string(dlms_date_time(end))),
            dlms.make_data("integer", 0), dlms.make_data("null-data"), dlms.make_data("null-data")]
    return dlms.access_request(ctx.counter, specs, data)


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


#: DUIS RMSVoltageSettings element of each Register monitor (IC 71) threshold / duration.
_RMS_MONITORS = {"0-0:17.0.1.255": "RMSExtremeOverVoltage", "0-0:17.0.2.255": "RMSExtremeUnderVoltage",
                 "0-0:17.0.3.255": "RMSVoltageSag", "0-0:17.0.4.255": "RMSVoltageSwell"}

#: OBIS group C of the voltage objects of phases 1, 2, 3 (L1 32, L2 52, L3 72).
_PHASE_OF_C = {"32": 1, "52": 2, "72": 3}

#: Per-phase objects: (class, OBIS group D.E.F, attribute) -> DUIS PhaseVoltageSettings element.
_PHASE_OBJECTS = {(7, "24.0.255", 4): "AverageRMSVoltageMeasurementPeriod",
                  (1, "35.0.4", 2): "AverageRMSOverVoltageThreshold",
                  (1, "31.0.4", 2): "AverageRMSUnderVoltageThreshold"}


def _phase_settings(body: Body) -> dict[int, Body]:
    """The per-phase settings by phase number (1 for single phase)."""
    single = body.find("SinglePhaseVoltageSettings")
    if single is not None:
        return {1: single}
    return {p.int("Phase", 1, 3): p.require("PhaseVoltageSettings") for p in body.all("PolyPhaseVoltageSettings")}


def _voltage_configuration(ctx: BuildContext) -> dict:
    """ECS29a-d: every COSEM attribute the use case writes (payload catalogue order) takes its
    value from the DUIS element that names it; counter resets take integer 0."""
    items = catalogue_items(ctx.message_code)
    if len(items) != 1:
        raise RequestError(UNSUPPORTED, "", "no single layout for this voltage use case")
    rms = ctx.body.require("RMSVoltageSettings")
    phases = _phase_settings(ctx.body)
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
            phase = _PHASE_OF_C[group_c]
            if phase not in phases:
                raise RequestError(INVALID, ctx.body.path, f"no voltage settings for phase {phase}")
            node = phases[phase].require(element)
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


def _seasons(table: Body) -> dict:
    """Activity calendar season profile: {name, start date-time (date, midnight), week name}."""
    return dlms.array(*(dlms.structure(
        dlms.octet_string(_ascii_bytes(se.require("SeasonName"))),
        dlms.octet_string(_duis_date(se.require("SeasonStartDate")) + _MIDNIGHT_ANY_ZONE[1:]),
        _octet_id(se.require("ReferencedWeekName")))
        for se in table.all("Seasons/Season")))


def _week_profiles(table: Body) -> dict:
    """Activity calendar week profile table: {week name, day profile id per day Monday..Sunday}."""
    weeks = []
    for wk in table.all("WeekProfiles/WeekProfile"):
        days = sorted(wk.all("ReferencedDayName"), key=lambda d: index_of(d, 1, 7))
        if [index_of(d, 1, 7) for d in days] != list(range(1, 8)):
            raise RequestError(INVALID, f"{wk.path}.ReferencedDayName", "one per day of the week, index 1 to 7")
        weeks.append(dlms.structure(_octet_id(wk.require("WeekName")),
                                    *(dlms.make_data("unsigned", d.int(lo=0, hi=255)) for d in days)))
    return dlms.array(*weeks)


def _day_profiles(table: Body, script: Callable[[Body], int]) -> dict:
    """Activity calendar day profile table: per day, (start time, tariff script table, script
    selector) actions, C{script} choosing the selector from a DUIS ProfileSchedule."""
    day_profiles = []
    for dp in table.all("DayProfiles/DayProfile"):
        actions = [dlms.structure(
            dlms.octet_string(_cosem_time(ps.time("StartTime"))), dlms.octet_string(_TARIFF_SCRIPT_TABLE),
            dlms.make_data("long-unsigned", script(ps)))
            for ps in dp.all("ProfileSchedule")]
        day_profiles.append(dlms.structure(dlms.make_data("unsigned", dp.int("DayName", 0, 255)),
                                           dlms.array(*actions)))
    return dlms.array(*day_profiles)


def _special_days(node: Body) -> dict:
    """Special days table entries: {index (position from 1), COSEM date, day profile id}."""
    return dlms.array(*(dlms.structure(
        dlms.make_data("long-unsigned", i), dlms.octet_string(_duis_date(sd.require("Date"))),
        dlms.make_data("unsigned", sd.int("ReferencedDayName", 0, 255)))
        for i, sd in enumerate(node.all("SpecialDays/SpecialDay"), 1)))


def _tariff_secondary(ctx: BuildContext) -> dict:
    """ECS01c: the secondary element's passive activity calendar (seasons, weeks, day profiles),
    special days and TOU price matrix, each activated at the execution date-time."""
    table = ctx.body.require("SwitchingTable")
    days = _day_profiles(table, lambda ps: _SECONDARY_SCRIPT_BASE + ps.int("TOUTariffAction", 1, 48))
    unit_charge = _unit_charge(ctx.body.require("PriceElements"))
    when = dlms.octet_string(_execution(ctx))
    cal = "0-0:13.0.1.255"
    specs = [dlms.access_request_item("set", 113, "0-0:19.20.5.255", 6),
             dlms.access_request_item("set", 20, cal, 7), dlms.access_request_item("set", 20, cal, 8),
             dlms.access_request_item("set", 20, cal, 9), dlms.access_request_item("set", 11, "0-1:11.0.1.255", 2),
             dlms.access_request_item("set", 20, cal, 10), dlms.access_request_item("set", 113, "0-0:19.20.5.255", 7),
             dlms.access_request_item("set", 9000, "0-0:94.44.128.30", 6)]
    data = [unit_charge, _seasons(table), _week_profiles(table), days, _special_days(ctx.body),
            when, when, when]
    return dlms.access_request(ctx.counter, specs, data)


def _ascii_bytes(node: Body) -> bytes:
    if not node.text.isascii():
        raise RequestError(INVALID, node.path, "must be ASCII")
    return node.text.encode("ascii")


#: The primary element's price matrix (IC 113 0-0:19.20.0.255 unit charge): 48 TOU rates
#: (keys 0x01-0x30) then 4 blocks x 8 TOU rates (keys 0xA1-0xD8: block nibble A-D, rate nibble).
_TOU_RATES = 48

_BLOCKS, _BLOCK_TOU_RATES = 4, 8

_PRICE_KEYS = tuple(range(1, _TOU_RATES + 1)) + tuple((0xA + b) << 4 | r for b in range(_BLOCKS)
                                                      for r in range(1, _BLOCK_TOU_RATES + 1))


def _primary_prices(el: Body) -> tuple[dict, dict]:
    """The standing charge (IC 113 unit charge, no commodity) and the TOU / block / hybrid price
    matrix of the primary element (active import register commodity) from DUIS
    ElectricityPriceElements."""
    prices = dict.fromkeys(_PRICE_KEYS, 0)
    tariff = el.find("TOUTariff") or el.find("BlockTariff") or el.find("HybridTariff")
    if tariff is None:
        raise RequestError(INVALID, el.path, "TOUTariff, BlockTariff or HybridTariff is required")
    for tp in tariff.all("TOUPrice"):
        prices[index_of(tp, 1, _TOU_RATES)] = tp.int(lo=-0x8000, hi=0x7FFF)
    for bp in tariff.all("BlockPrices"):
        rate = index_of(bp, 1, _BLOCK_TOU_RATES)
        for b in bp.all("BlockPrice"):
            prices[(0x9 + index_of(b, 1, _BLOCKS)) << 4 | rate] = b.int(lo=-0x8000, hi=0x7FFF)
    standing_scale = el.int("StandingChargeScale", -128, 127)
    standing_charge = el.int("StandingCharge", -0x8000, 0x7FFF)
    standing = dlms.structure(
        dlms.structure(dlms.make_data("integer", 0), dlms.make_data("integer", standing_scale)),
        dlms.structure(dlms.make_data("long-unsigned", 0), dlms.octet_string(bytes(6)), dlms.make_data("integer", 0)),
        dlms.array(dlms.structure(dlms.octet_string(b""), dlms.make_data("long", standing_charge))))
    matrix = dlms.structure(
        dlms.structure(dlms.make_data("integer", 3), dlms.make_data("integer", el.int("PriceScale", -128, 127))),
        dlms.structure(dlms.make_data("long-unsigned", 3), dlms.octet_string(bytes.fromhex("0100010800FF")),
                       dlms.make_data("integer", 2)),
        dlms.array(*(dlms.structure(dlms.octet_string(bytes((k,))), dlms.make_data("long", v))
                     for k, v in prices.items())))
    return standing, matrix


def _price_primary(ctx: BuildContext) -> dict:
    """ECS01b: standing charge (IC 113 0-0:19.20.4.255, no commodity) and the TOU / block / hybrid
    price matrix of the primary element, activated at the execution date-time."""
    standing, matrix = _primary_prices(ctx.body.require("PriceElements/ElectricityPriceElements"))
    when = dlms.octet_string(_execution(ctx))
    specs = [dlms.access_request_item("set", 113, "0-0:19.20.4.255", 6),
             dlms.access_request_item("set", 113, "0-0:19.20.0.255", 6),
             dlms.access_request_item("set", 113, "0-0:19.20.4.255", 7),
             dlms.access_request_item("set", 113, "0-0:19.20.0.255", 7)]
    return dlms.access_request(ctx.counter, specs, [standing, matrix, when, when])


# --------------------------------------------------------------------------- primary element tariff (ECS01a)
#: Primary element day-profile scripts of the tariff script table 0-0:10.0.100.255: TOU rate n
#: is script n (1-48), TOU rate n of the block tariff script 100 + n (1-8) (ECS24 answers).
_BLOCK_SCRIPT_BASE = 100

#: Register monitors of the Tariff Threshold Matrix: one per block-tariff TOU rate (1-8),
#: passive 0-0:16.1.(10 + rate).255, three thresholds each between the four blocks (Wh);
#: an unused threshold is 0xFFFFFFFF.
_THRESHOLD_MONITOR_BASE = 10

_BLOCK_THRESHOLDS = _BLOCKS - 1

_NO_THRESHOLD = 0xFFFFFFFF

#: DUIS CurrencyUnits -> the GBCS Currency Unit flag (IC 9000 0-0:94.44.2.0, boolean: TRUE
#: pounds sterling, FALSE euro).
_ELECTRICITY_CURRENCY = {"GBP": True, "EUR": False}


def _primary_script(ps: Body) -> int:
    """A primary element ProfileSchedule: a TOUTariffAction (1-48) or a BlockTariffAction (1-8)."""
    tou, block = ps.find("TOUTariffAction"), ps.find("BlockTariffAction")
    if (tou is None) == (block is None):
        raise RequestError(INVALID, ps.path, "exactly one of TOUTariffAction and BlockTariffAction is required")
    if tou is not None:
        return tou.int(lo=1, hi=_TOU_RATES)
    return _BLOCK_SCRIPT_BASE + block.int(lo=1, hi=_BLOCK_TOU_RATES)


def _threshold_matrix(el: Body) -> dict[int, dict]:
    """Block thresholds by TOU rate (1-8): DUIS ThresholdMatrix/BlockThresholds[index = rate]/
    BlockThreshold[index = 1-3]; thresholds not given are unused (0xFFFFFFFF)."""
    table = {r: [_NO_THRESHOLD] * _BLOCK_THRESHOLDS for r in range(1, _BLOCK_TOU_RATES + 1)}
    for bt in el.all("ThresholdMatrix/BlockThresholds"):
        rate = index_of(bt, 1, _BLOCK_TOU_RATES)
        for t in bt.all("BlockThreshold"):
            table[rate][index_of(t, 1, _BLOCK_THRESHOLDS) - 1] = t.int(lo=0, hi=0xFFFFFFFE)
    return {r: dlms.array(*(dlms.make_data("double-long-unsigned", v) for v in values))
            for r, values in table.items()}


def _tariff_primary(ctx: BuildContext) -> dict:
    """ECS01a: the primary element's whole tariff, in the payload catalogue's item order.

    Passive activity calendar (seasons, weeks, day profiles; TOU and block scripts), passive
    special days, the block thresholds of each TOU rate, the currency, the standing charge and
    price matrix; then every activation time (calendar, special days, currency, standing charge,
    price matrix, threshold matrix) at the execution date-time (now, a date, or never to cancel).
    DUIS body: C{ElectricityTariffElements} (C{CurrencyUnits}, C{SwitchingTable}, C{SpecialDays},
    C{ThresholdMatrix}, C{PriceElements} as in SRV 1.2.1).
    """
    el = ctx.body.require("ElectricityTariffElements")
    table = el.require("SwitchingTable")
    cur = el.require("CurrencyUnits")
    if cur.text not in _ELECTRICITY_CURRENCY:
        raise RequestError(INVALID, cur.path, f"must be one of {', '.join(_ELECTRICITY_CURRENCY)}")
    standing, matrix = _primary_prices(el.require("PriceElements"))
    thresholds = _threshold_matrix(el)
    when = dlms.octet_string(_execution(ctx))
    values: dict[tuple[int, str, int], Callable[[], dict]] = {
        (20, "0-0:13.0.0.255", 7): lambda: _seasons(table),
        (20, "0-0:13.0.0.255", 8): lambda: _week_profiles(table),
        (20, "0-0:13.0.0.255", 9): lambda: _day_profiles(table, _primary_script),
        (11, "0-1:11.0.0.255", 2): lambda: _special_days(el),
        (9000, "0-0:94.44.2.0", 4): lambda: _boolean(_ELECTRICITY_CURRENCY[cur.text]),
        (113, "0-0:19.20.4.255", 6): lambda: standing,
        (113, "0-0:19.20.0.255", 6): lambda: matrix,
    }
    for rate, value in thresholds.items():
        values[(21, f"0-0:16.1.{_THRESHOLD_MONITOR_BASE + rate}.255", 2)] = lambda v=value: v
    return _catalogue_sets(ctx, values, when)


#: Activation-time attributes (class, attribute): the future-dating of a passive value.
_ACTIVATION_ATTRIBUTES = {(20, 10), (113, 7), (9000, 6)}


def _catalogue_sets(ctx: BuildContext, values: dict[tuple[int, str, int], Callable[[], dict]],
                    when: dict) -> dict:
    """An Access-Request of sets in the payload catalogue's order for this message code, each
    value from C{values}, every activation-time attribute set to C{when}."""
    variants = catalogue_items(ctx.message_code)
    if len(variants) != 1:
        raise RequestError(UNSUPPORTED, "", f"message code 0x{ctx.message_code:04X} has no single set layout")
    specs, data = [], []
    for it in variants[0]:
        key = (it.class_id, it.obis, it.item_id)
        if it.kind != "set":
            raise RequestError(UNSUPPORTED, "", f"{it} is not a set")
        if key in values:
            value = values[key]()
        elif (it.class_id, it.item_id) in _ACTIVATION_ATTRIBUTES:
            value = when
        else:
            raise RequestError(UNSUPPORTED, "", f"no DUIS element for {it}")
        specs.append(dlms.access_request_item("set", it.class_id, it.obis, it.item_id))
        data.append(value)
    return dlms.access_request(ctx.counter, specs, data)


# --------------------------------------------------------------------------- electricity prepayment configuration
#: The non-disablement (friendly credit) schedule runs script table 0-0:10.0.106.255,
#: selector 32 to start and 33 to stop the non-disablement period.
_NON_DISABLEMENT_SCRIPT_TABLE = bytes.fromhex("00000A006AFF")
_NON_DISABLEMENT_SCRIPTS = {"START": 32, "STOP": 33}
_WEEK = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
#: The period of the debt recovery rate cap: one week (s).
_DEBT_RECOVERY_CAP_PERIOD = 7 * 24 * 3600


def _bit_string(bits: int, set_bits: list[int]) -> dict:
    """A DLMS bit-string of C{bits} bits (MSB first) with the given bit numbers (from 0) set."""
    raw = bytearray((bits + 7) // 8)
    for b in set_bits:
        raw[b // 8] |= 0x80 >> (b % 8)
    return {"type": "bit-string", "bits": bits, "value": raw.hex().upper()}


def _schedule_date(node: Body) -> bytes:
    """A DUIS schedule date C{YYYY-MM-DD} (year 65535: any year) as a 5-byte COSEM date."""
    text = node.text.rstrip("Zz")
    parts = text.split("-")
    if len(parts) != 3 or not all(p.isascii() and p.isdigit() for p in parts):
        raise RequestError(INVALID, node.path, f"not a date: {node.text!r}")
    y, m, d = (int(p) for p in parts)
    if not (1 <= m <= 12 and 1 <= d <= 31 and y <= 0xFFFF):
        raise RequestError(INVALID, node.path, f"not a date: {node.text!r}")
    return y.to_bytes(2, "big") + bytes((m, d, 0xFF))


def _prepay_configuration(ctx: BuildContext) -> dict:
    """ECS08 / ECS08a: credit limits and thresholds (GBCS extended data, IC 9000), the
    non-disablement special days (IC 11) and schedule (IC 10), activated at the execution
    date-time; the attributes come in the payload catalogue's order."""
    cfg = ctx.body.require("UpdatePrepayConfigElectricity")
    cal = cfg.require("ElectricityNonDisablementCalendar")
    special_days = cal.all("ElectricitySpecialDays/SpecialDay")
    special = dlms.array(*(dlms.structure(
        dlms.make_data("long-unsigned", index_of(sd, 1, 0xFFFF)), dlms.octet_string(_duis_date(sd.require("Date"))),
        dlms.make_data("unsigned", index_of(sd, 1, 255))) for sd in special_days))
    entries = []
    for i, sch in enumerate(cal.all("ElectricityNonDisablementSchedule"), 1):
        script = sch.require("NonDisablementScript")
        if script.text not in _NON_DISABLEMENT_SCRIPTS:
            raise RequestError(INVALID, script.path, f"must be one of {', '.join(_NON_DISABLEMENT_SCRIPTS)}")
        days = []
        for d in sch.all("DaysOfWeekApplicability/DayOfWeekApplicability"):
            name = d.require("DayOfWeekID")
            if name.text not in _WEEK:
                raise RequestError(INVALID, name.path, "not a day of the week")
            days.append(_WEEK.index(name.text))
        specials = [a.int("SpecialDayID", 1, len(special_days)) - 1
                    for a in sch.all("SpecialDaysApplicability/SpecialDayApplicability")]
        when = sch.require("ScheduleDatesAndTime")
        entries.append(dlms.structure(
            dlms.make_data("long-unsigned", i), _boolean(True), dlms.octet_string(_NON_DISABLEMENT_SCRIPT_TABLE),
            dlms.make_data("long-unsigned", _NON_DISABLEMENT_SCRIPTS[script.text]),
            dlms.octet_string(_cosem_time(when.time("SwitchTime"))), dlms.make_data("long-unsigned", 0xFFFF),
            _bit_string(7, days), _bit_string(len(special_days), specials),
            dlms.octet_string(_schedule_date(when.require("StartDate"))),
            dlms.octet_string(_schedule_date(when.require("EndDate")))))
    u31 = (0, 0x7FFFFFFF)
    values = {"0-0:94.44.2.20": lambda: dlms.make_data("double-long", cfg.int("MaxMeterBalance", *u31)),
              "0-0:94.44.2.10": lambda: dlms.make_data("double-long", cfg.int("MaxCreditThreshold", *u31)),
              "0-0:94.44.128.12": lambda: dlms.make_data("long-unsigned", cfg.int("DebtRecoveryRateCap", 0, 0xFFFF)),
              "0-0:94.44.128.13": lambda: dlms.make_data("double-long", _DEBT_RECOVERY_CAP_PERIOD),
              "0-0:94.44.128.9": lambda: dlms.make_data("double-long", cfg.int("LowCreditThreshold", *u31)),
              "0-0:94.44.128.2": lambda: dlms.make_data("double-long", cfg.int("EmergencyCreditLimit", *u31)),
              "0-0:94.44.128.3": lambda: dlms.make_data("double-long", cfg.int("EmergencyCreditThreshold", *u31))}
    activation = dlms.octet_string(_execution(ctx))
    items = catalogue_items(ctx.message_code)
    if len(items) != 1:
        raise RequestError(UNSUPPORTED, "", "no single layout for this prepayment configuration")
    specs, data = [], []
    for it in items[0]:
        if it.kind != "set":
            raise RequestError(UNSUPPORTED, "", f"{it} is not a set")
        if it.class_id == 11:
            value = special
        elif it.class_id == 10:
            value = dlms.array(*entries)
        elif it.class_id == 9000 and it.item_id == 6:
            value = activation
        elif it.class_id == 9000 and it.obis in values:
            value = values[it.obis]()
        else:
            raise RequestError(UNSUPPORTED, "", f"no DUIS element for {it}")
        specs.append(dlms.access_request_item("set", it.class_id, it.obis, it.item_id))
        data.append(value)
    return dlms.access_request(ctx.counter, specs, data)


# --------------------------------------------------------------------------- electricity debt
#: Debt recovery periods in seconds (IC 113 charge period) by DUIS DebtRecoveryRatePeriod.
_RECOVERY_PERIOD_SECONDS = {"HOURLY": 3600, "DAILY": 86400, "WEEKLY": 7 * 86400}


def _time_debt_rate(rec: Body) -> dict:
    """Unit charge of a time-based debt: no commodity, one charge of the recovery rate."""
    scale = rec.int("DebtRecoveryRatePriceScale", -128, 127)
    return dlms.structure(
        dlms.structure(dlms.make_data("integer", 0), dlms.make_data("integer", scale)),
        dlms.structure(dlms.make_data("long-unsigned", 0), dlms.octet_string(bytes(6)), dlms.make_data("integer", 0)),
        dlms.array(dlms.structure(dlms.octet_string(b""),
                                  dlms.make_data("long", rec.int("DebtRecoveryRate", -0x8000, 0x7FFF)))))


def _manage_debt(ctx: BuildContext) -> dict:
    """ECS07: time-based debts 1 and 2 (IC 113 0-0:19.20.1/2.255: passive unit charge, period,
    activation, total amount remaining) and the payment-based debt (0-0:19.20.3.255: recovery
    per payment, total amount remaining)."""
    b = ctx.body
    recs = [b.require(f"ElecDebtRecovery{i}") for i in (1, 2)]
    periods = []
    for rec in recs:
        node = rec.require("DebtRecoveryRatePeriod")
        if node.text not in _RECOVERY_PERIOD_SECONDS:
            raise RequestError(UNSUPPORTED, node.path, f"only {', '.join(_RECOVERY_PERIOD_SECONDS)} periods are built")
        periods.append(_RECOVERY_PERIOD_SECONDS[node.text])
    d1, d2, d3 = "0-0:19.20.1.255", "0-0:19.20.2.255", "0-0:19.20.3.255"
    i31 = (-0x80000000, 0x7FFFFFFF)
    specs = [dlms.access_request_item("set", 113, d1, 6), dlms.access_request_item("set", 113, d2, 6),
             dlms.access_request_item("set", 113, d3, 13), dlms.access_request_item("set", 113, d1, 8),
             dlms.access_request_item("set", 113, d2, 8), dlms.access_request_item("action", 113, d1, 2),
             dlms.access_request_item("action", 113, d2, 2), dlms.access_request_item("action", 113, d3, 4),
             dlms.access_request_item("action", 113, d1, 4), dlms.access_request_item("action", 113, d2, 4)]
    data = [_time_debt_rate(recs[0]), _time_debt_rate(recs[1]),
            dlms.make_data("long-unsigned", b.int("DebtRecoveryPerPayment", 0, 0xFFFF)),
            dlms.make_data("double-long-unsigned", periods[0]), dlms.make_data("double-long-unsigned", periods[1]),
            dlms.make_data("integer", 0), dlms.make_data("integer", 0),
            dlms.make_data("double-long", b.int("PaymentDebtRegister", *i31)),
            dlms.make_data("double-long", b.int("TimeDebtRegister1", *i31)),
            dlms.make_data("double-long", b.int("TimeDebtRegister2", *i31))]
    return dlms.access_request(ctx.counter, specs, data)


# --------------------------------------------------------------------------- payment mode (ECS02 / ECS03)
#: Account (IC 111) payment mode: credit (1) or prepayment (2); account status 1 (active).
_CREDIT_MODE, _PREPAYMENT_MODE, _ACCOUNT_ACTIVE = 1, 2, 1

#: Credits (IC 112, 0-0:19.10.x.255) and charges (IC 113, 0-0:19.20.x.255) of the ESME account.
_METER_BALANCE, _EMERGENCY_CREDIT, _ACCUMULATED_DEBT = 0, 1, 2
_TOU_CHARGE, _TIME_DEBT_1, _TIME_DEBT_2, _PAYMENT_DEBT, _STANDING_CHARGE, _SECONDARY_CHARGE = 0, 1, 2, 3, 4, 5

#: credit_charge_configuration bits (Blue Book IC 111): requires the charge to be paid from
#: the credit, pay from it, collect when the supply is disconnected.
_COLLECT_ALWAYS = 0b111

_NOT_WHEN_DISCONNECTED = 0b110


def _credit_charge(credit: int, charge: int, bits: int) -> dict:
    return dlms.structure(dlms.octet_string(bytes((0, 0, 19, 10, credit, 255))),
                          dlms.octet_string(bytes((0, 0, 19, 20, charge, 255))),
                          {"type": "bit-string", "bits": 3, "value": f"{bits << 5:02X}"})


def _credit_charges(prepayment: Body | None, twin: bool) -> dict:
    """Which charges each credit pays (IC 111 credit_charge_configuration).

    Credit mode: the meter balance pays the TOU charge and the standing charge.  Prepayment:
    the meter balance and the emergency credit also pay the debts (time-based debts not while
    disconnected when DUIS SuspendDebtDisabled), and, when debt is suspended in emergency
    credit (SuspendDebtEmergency), the standing charge and time debts accrue as accumulated
    debt.  A twin-element meter's credits also pay the secondary element's charge.
    """
    if prepayment is None:
        entries = [(_METER_BALANCE, _TOU_CHARGE, _COLLECT_ALWAYS), (_METER_BALANCE, _STANDING_CHARGE, _COLLECT_ALWAYS)]
        secondary = [_METER_BALANCE]
    else:
        time_debt = _NOT_WHEN_DISCONNECTED if prepayment.bool("SuspendDebtDisabled") else _COLLECT_ALWAYS
        entries = [(_METER_BALANCE, _TOU_CHARGE, _COLLECT_ALWAYS), (_METER_BALANCE, _STANDING_CHARGE, _COLLECT_ALWAYS),
                   (_METER_BALANCE, _TIME_DEBT_1, time_debt), (_METER_BALANCE, _TIME_DEBT_2, time_debt),
                   (_METER_BALANCE, _PAYMENT_DEBT, _COLLECT_ALWAYS),
                   (_EMERGENCY_CREDIT, _PAYMENT_DEBT, _COLLECT_ALWAYS), (_EMERGENCY_CREDIT, _TOU_CHARGE, _COLLECT_ALWAYS),
                   (_EMERGENCY_CREDIT, _STANDING_CHARGE, _COLLECT_ALWAYS), (_EMERGENCY_CREDIT, _TIME_DEBT_1, time_debt),
                   (_EMERGENCY_CREDIT, _TIME_DEBT_2, time_debt)]
        if prepayment.bool("SuspendDebtEmergency"):
            entries += [(_ACCUMULATED_DEBT, c, _COLLECT_ALWAYS) for c in (_STANDING_CHARGE, _TIME_DEBT_1, _TIME_DEBT_2)]
        secondary = [_METER_BALANCE, _EMERGENCY_CREDIT]
    if twin:
        entries += [(credit, _SECONDARY_CHARGE, _COLLECT_ALWAYS) for credit in secondary]
    return dlms.array(*(_credit_charge(*e) for e in entries))


def _payment_mode(twin: bool) -> Builder:
    """ECS02 (credit) / ECS03 (prepayment, with its disablement threshold): the passive account
    (IC 111 0-1:19.0.0.255) mode and credit/charge configuration, activated at the execution
    date-time; the items in the payload catalogue's order.  C{twin}: a twin-element ESME (the
    inventory's device model)."""
    def build(ctx: BuildContext) -> dict:
        prepayment = ctx.body.find("Prepayment")
        if prepayment is None and not ctx.body.has("Credit"):
            raise RequestError(INVALID, ctx.body.path, "Credit or Prepayment is required")
        mode = _CREDIT_MODE if prepayment is None else _PREPAYMENT_MODE
        when = dlms.octet_string(_execution(ctx))
        account = "0-1:19.0.0.255"
        values: dict[tuple[int, str, int], Callable[[], dict]] = {
            (111, account, 2): lambda: dlms.structure(dlms.make_data("enum", mode),
                                                      dlms.make_data("enum", _ACCOUNT_ACTIVE)),
            (111, account, 11): lambda: _credit_charges(prepayment, twin),
            (111, account, 13): lambda: when,
        }
        if prepayment is not None:
            values[(9000, "0-0:94.44.128.22", 4)] = lambda: dlms.make_data(
                "double-long", prepayment.int("DisablementThreshold", -0x80000000, 0x7FFFFFFF))
        return _catalogue_sets(ctx, values, when)
    return build


def _adjust_meter_balance(ctx: BuildContext) -> dict:
    """ECS04a: Credit (IC 112) update_amount on the meter balance by the DUIS adjustment."""
    node = ctx.body.find("PrepaymentMode/AdjustMeterBalance") or ctx.body.find("CreditMode/AdjustMeterBalance")
    if node is None:
        raise RequestError(INVALID, ctx.body.path, "PrepaymentMode or CreditMode AdjustMeterBalance is required")
    (items,) = catalogue_items(ctx.message_code)
    specs = [dlms.access_request_item("action", it.class_id, it.obis, it.item_id) for it in items]
    return dlms.access_request(ctx.counter, specs, [dlms.make_data("double-long", node.int(lo=-0x80000000,
                                                                                          hi=0x7FFFFFFF))])


def _restrict_data(ctx: BuildContext) -> dict:
    """ECS12: the change-of-tenancy date-time (IC 1 0-0:94.44.3.2, Restrict Data Date Time)
    before which the ESME gives no data to the new tenant's supplier."""
    return dlms.access_request(ctx.counter, [dlms.access_request_item("set", 1, "0-0:94.44.3.2", 2)],
                               [dlms.octet_string(dlms_date_time(ctx.body.datetime("RestrictionDateTime")))])


def _supplier_contact(ctx: BuildContext) -> dict:
    """ECS16: supplier contact telephone number (IC 9000 0-0:96.13.0.255) and name (0-0:96.13.1.255)."""
    phone = _text_octets("SupplierTelephoneNumber")(ctx)
    name = _text_octets("SupplierName")(ctx)
    specs = [dlms.access_request_item("set", 9000, "0-0:96.13.0.255", 2),
             dlms.access_request_item("set", 9000, "0-0:96.13.1.255", 2)]
    return dlms.access_request(ctx.counter, specs, [phone, name])


# --------------------------------------------------------------------------- auxiliary loads (ECS47)
#: The ALCS / HC ALCS / APC control script table (IC 9 0-0:10.0.103.255); auxiliary controller
#: n (1-5) keeps its switching times in 0-0:94.44.(116 + n).1 (start or duration) and .2 (end).
_AUX_SCRIPT_TABLE = "0-0:10.0.103.255"
_AUX_TIMES_BASE = 116
_AUX_CONTROLLERS = 5
#: Script selectors: controller n in bits 8-11; ECS47 boost activation 0x11, reset 0x20;
#: ECS47a: bits 12-15 the command kind (1 output level, 2 input from the controlled load),
#: bits 0-7 the commanded state level (0-100 %).
_AUX_ACTIVATE, _AUX_RESET = 0x11, 0x20
_AUX_OUTPUT, _AUX_INPUT = 1, 2


def _aux_script(n: int, low: int, kind: int = 0) -> dict:
    return dlms.make_data("long-unsigned", kind << 12 | n << 8 | low)


def _aux_activate(ctx: BuildContext) -> dict:
    """ECS47 (SRV 7.5): switch each named ALCS / HC ALCS on for its DUIS Duration (minutes)."""
    specs, data = [], []
    for node in ctx.body.all("ActivateALCSHCALCS"):
        n = index_of(node, 1, _AUX_CONTROLLERS)
        specs += [dlms.access_request_item("set", 1, f"0-0:94.44.{_AUX_TIMES_BASE + n}.1", 2),
                  dlms.access_request_item("action", 9, _AUX_SCRIPT_TABLE, 1)]
        data += [dlms.make_data("long-unsigned", node.int("Duration", 0, 0xFFFF)), _aux_script(n, _AUX_ACTIVATE)]
    if not specs:
        raise RequestError(INVALID, f"{ctx.body.path}.ActivateALCSHCALCS", "missing")
    return dlms.access_request(ctx.counter, specs, data)


def _aux_reset(ctx: BuildContext) -> dict:
    """ECS47 (SRV 7.8): return each named ALCS / HC ALCS to its calendar-driven state."""
    nodes = ctx.body.all("ResetALCSHCALCS")
    if not nodes:
        raise RequestError(INVALID, f"{ctx.body.path}.ResetALCSHCALCS", "missing")
    return dlms.access_request(ctx.counter, [dlms.access_request_item("action", 9, _AUX_SCRIPT_TABLE, 1)] * len(nodes),
                               [_aux_script(index_of(n, 1, _AUX_CONTROLLERS), _AUX_RESET) for n in nodes])


def _aux_state(ctx: BuildContext) -> dict:
    """ECS47a (SRV 7.13): auxiliary controller n at a commanded level between two date-times."""
    raw = ctx.body.element.get("auxiliaryControllerN", "")
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= _AUX_CONTROLLERS:
        raise RequestError(INVALID, f"{ctx.body.path}@auxiliaryControllerN", f"must be 1 to {_AUX_CONTROLLERS}")
    n = int(raw)
    start, end = ctx.body.datetime("StartDateTime"), ctx.body.datetime("EndDateTime")
    if end < start:
        raise RequestError(INVALID, f"{ctx.body.path}.EndDateTime", "before StartDateTime")
    kind = _AUX_INPUT if ctx.body.has("InputFromControlledLoad") else _AUX_OUTPUT
    group = _AUX_TIMES_BASE + n
    specs = [dlms.access_request_item("set", 1, f"0-0:94.44.{group}.1", 2),
             dlms.access_request_item("set", 1, f"0-0:94.44.{group}.2", 2),
             dlms.access_request_item("action", 9, _AUX_SCRIPT_TABLE, 1)]
    data = [dlms.octet_string(dlms_date_time(start)), dlms.octet_string(dlms_date_time(end)),
            _aux_script(n, ctx.body.int("CommandedStateLevel", 0, 100), kind)]
    return dlms.access_request(ctx.counter, specs, data)


#: ECS46d scheduled auxiliary controller actions carry the "scheduled" flag (0x80) with the level.
_AUX_SCHEDULED = 0x80
_AUX_SCRIPT_TABLE_OCTETS = bytes.fromhex("00000A0067FF")


def _aux_schedule(ctx: BuildContext) -> dict:
    """ECS46d (SRV 6.14.3): the auxiliary controllers' passive special days (IC 11
    0-1:11.0.3.255) and schedule (IC 10 0-1:12.0.2.255: per DUIS schedule its controller and
    level as a script of 0-0:10.0.103.255, switch time, days of the week, the special days it
    applies on, start and end dates), activated at the execution date-time; the items in the
    payload catalogue's order."""
    specials = ctx.body.all("AuxiliaryControllerSpecialDayDefinitions/AuxiliaryControllerSpecialDayDefinition")
    ids = [_identifier(sd, 0xFFFF) for sd in specials]
    special_table = dlms.array(*(dlms.structure(dlms.make_data("long-unsigned", i), dlms.octet_string(_duis_date(sd)),
                                                dlms.make_data("unsigned", i))
                                 for i, sd in zip(ids, specials)))
    entries = []
    for index, sch in enumerate(ctx.body.all("AuxiliaryControllerSchedule"), 1):
        action = sch.require("AuxiliaryControllerAction")
        raw = action.element.get("auxiliaryControllerN", "")
        if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= _AUX_CONTROLLERS:
            raise RequestError(INVALID, f"{action.path}@auxiliaryControllerN", f"must be 1 to {_AUX_CONTROLLERS}")
        kind = _AUX_INPUT if action.has("InputFromControlledLoad") else _AUX_OUTPUT
        script = _aux_script(int(raw), _AUX_SCHEDULED | action.int("CommandedStateLevel", 0, 100), kind)
        days = []
        for d in sch.all("DaysOfWeekApplicability/DayOfWeekApplicability"):
            name = d.require("DayOfWeekID")
            if name.text not in _WEEK:
                raise RequestError(INVALID, name.path, "not a day of the week")
            days.append(_WEEK.index(name.text))
        applies = []
        for a in sch.all("SpecialDaysApplicability"):
            ident = _identifier(a, 0xFFFF)
            if ident not in ids:
                raise RequestError(INVALID, f"{a.path}@identifier", f"no special day {ident} is defined")
            applies.append(ids.index(ident))
        when = sch.require("AuxiliaryControllerSchedulePeriodAndTime")
        entries.append(dlms.structure(
            dlms.make_data("long-unsigned", index), _boolean(True), dlms.octet_string(_AUX_SCRIPT_TABLE_OCTETS),
            script, dlms.octet_string(_cosem_time(when.time("SwitchTime"))),
            dlms.make_data("long-unsigned", _ANY_TIME_WINDOW), _bit_string(7, days), _bit_string(len(ids), applies),
            dlms.octet_string(_duis_date(when.require("StartDate"))),
            dlms.octet_string(_duis_date(when.require("EndDate")))))
    if not entries:
        raise RequestError(INVALID, f"{ctx.body.path}.AuxiliaryControllerSchedule", "missing")
    when = dlms.octet_string(_execution(ctx))
    values = {(11, "0-1:11.0.3.255", 2): lambda: special_table, (10, "0-1:12.0.2.255", 2): lambda: dlms.array(*entries)}
    return _catalogue_sets(ctx, values, when)


def _identifier(node: Body, hi: int) -> int:
    raw = node.element.get("identifier", "")
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= hi:
        raise RequestError(INVALID, f"{node.path}@identifier", f"must be 1 to {hi}")
    return int(raw)


# --------------------------------------------------------------------------- CHF device log (CCS01)
#: GBCS device type codes of the CHF device log (register_device), by inventory device type.
_DEVICE_TYPE_CODES = {"GSME": 0, "ESME": 1, "CHF": 2, "GPF": 3, "HCALCS": 4, "PPMID": 5}
#: register_device key type: the key is an install code.
_INSTALL_CODE_KEY = 0


def _device_log_add(ctx: BuildContext) -> dict:
    """CCS01: register the device (EUI-64, GBCS device type from the inventory, install code)
    in the CHF device log, set the join timeout (DUIS JoinTimePeriod) and enable joining; the
    items in the payload catalogue's order."""
    add = ctx.body.require("AddDeviceToCHFWhitelist")
    node = ctx.body.require("DeviceID")
    eui = _eui_octets("DeviceID")(ctx)
    types = ctx.request.device_options.get("device_types") or {}
    kind = types.get(int(eui["value"], 16))
    if kind not in _DEVICE_TYPE_CODES:
        raise RequestError(INVALID, node.path, f"the inventory has no device type for {node.text}")
    code = add.require("InstallCode")
    try:
        key = bytes.fromhex(code.text)
    except ValueError:
        raise RequestError(INVALID, code.path, "not hexadecimal") from None
    if not 8 <= len(key) <= 18:
        raise RequestError(INVALID, code.path, "an install code is 8 to 18 octets")
    log = "0-0:30.3.0.255"
    values = {(104, log, 1): dlms.structure(eui, dlms.make_data("enum", _DEVICE_TYPE_CODES[kind]),
                                            dlms.octet_string(key), dlms.make_data("enum", _INSTALL_CODE_KEY)),
              (104, log, 3): dlms.make_data("long-unsigned", add.int("JoinTimePeriod", 0, 0xFFFF)),
              (104, log, 2): _boolean(True)}
    (items,) = catalogue_items(ctx.message_code)
    specs = [dlms.access_request_item(it.kind, it.class_id, it.obis, it.item_id) for it in items]
    return dlms.access_request(ctx.counter, specs, [values[(it.class_id, it.obis, it.item_id)] for it in items])


def register(add: Callable[..., None]) -> None:
    """Declare the DLMS use cases: C{add(name, builder, acb=False, urp=False, acb_own=False)}."""
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
    # ECS17b reads the import counterparts of ECS17a's export registers (active and reactive
    # import energy, IC 3 value) through the Import Register Collection (0-0:43.2.8.255).
    add("ECS17b", _protected_read(((3, "1-0:1.8.0.255", 2), (3, "1-0:3.8.0.255", 2)), ranged=False))
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
    add("ECS50", _single("set", 1, "0-3:96.13.1.255", 2, lambda ctx: dlms.octet_string(new_cin(ctx))), acb=True)
    add("ECS70", _set_clock_esme)
    add("ECS70Commission", _set_clock_esme)
    add("ECS30", _billing_calendar_esme)
    add("ECS48", _daily_block_counter_reset)
    add("ECS46a", _alcs_labels)
    for name in ("ECS29a", "ECS29b", "ECS29c", "ECS29d"):
        add(name, _voltage_configuration)
    add("ECS37", _md_period)
    add("ECS01c", _tariff_secondary)
    add("ECS01b", _price_primary)
    add("ECS01a", _tariff_primary)
    add("ECS08", _prepay_configuration)
    add("ECS07", _manage_debt)
    add("ECS08a", _prepay_configuration)
    add("ECS02", _payment_mode(twin=False))
    add("ECS02Twin", _payment_mode(twin=True))
    add("ECS03", _payment_mode(twin=False))
    add("ECS03Twin", _payment_mode(twin=True))
    add("ECS04a", _adjust_meter_balance)
    add("ECS28b", catalogue_reset)
    add("ECS12", _restrict_data)
    add("ECS16", _supplier_contact)
    add("ECS47Activate", _aux_activate)
    add("ECS47Reset", _aux_reset)
    add("ECS47a", _aux_state)
    add("ECS46d", _aux_schedule)
    add("CCS01", _device_log_add, acb=True)
    add("ECS38", _single("set", 1, "0-0:94.44.0.1", 2,
                         lambda ctx: dlms.make_data("long-unsigned", ctx.body.int("RandomisedOffsetLimit", 0, 0xFFFF))))
