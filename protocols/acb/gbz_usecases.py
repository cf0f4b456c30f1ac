"""GBZ use cases (GSME, GPF): ZCL commands and attribute reads from DUIS body elements.

GBCS 4.2 / wire-format notes 4.2 and 4.4: attribute reads name the ZSE attributes each GBCS
use case returns; commands map DUIS elements onto ZSE command fields (Issuer Event IDs are the
DCC's current time).
"""

from __future__ import annotations

import datetime
from typing import Callable

from .context import Body, BuildContext, Builder, digits, index_of, new_cin, read_period
from .dlms_items import utc_seconds
from .gbz_items import cluster_command, gbz_payload, gbz_time, read_attributes
from .request import INVALID, UNSUPPORTED, RequestError

__all__ = ["register"]


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
    cal = {"ProviderID": 0, "IssuerCalendarID": issuer_calendar_id}
    return (cluster_command("Calendar", 0x01, {**cal, "StartDayID": 1, "NumberofDays": 0}),
            cluster_command("Calendar", 0x02, {**cal, "StartWeekID": 1, "NumberofWeeks": 0}),
            cluster_command("Calendar", 0x03, dict(cal)),
            cluster_command("Calendar", 0x04, {"StartTime": 0, "NumberofEvents": 0, "CalendarType": calendar_type,
                                               **cal}))


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
    digits(node)
    return gbz_payload(cluster_command("Device Management", 0x03, {
        "IssuerEventID": _issuer_event_id(ctx), "SiteIDTime": 0, "ProviderID": 0, "SiteID": _ascii_hex(node)},
        server_to_client=True))


def _update_cin(ctx: BuildContext) -> dict:
    """GCS36: ZSE Update CIN with a new Customer Identification Number, now."""
    return gbz_payload(cluster_command("Device Management", 0x06, {
        "IssuerEventID": _issuer_event_id(ctx), "ImplementationTime": 0, "ProviderID": 0,
        "CustomerIDNumber": new_cin(ctx).hex().upper()}, server_to_client=True))


#: ZSE Proposed Tenancy Change Control of GCS09 (bit 9).
_TENANCY_CHANGE_CONTROL = 0x0200


def _change_of_tenancy(ctx: BuildContext) -> dict:
    """GCS09: Publish Change of Tenancy at the DUIS RestrictionDateTime (data before it is kept
    from the new tenant's supplier)."""
    return gbz_payload(cluster_command("Device Management", 0x00, {
        "ProviderID": 0, "IssuerEventID": _issuer_event_id(ctx), "TariffType": 0,
        "ImplementationDateTime": _zse_time(ctx.body.datetime("RestrictionDateTime")),
        "ProposedTenancyChangeControl": _TENANCY_CHANGE_CONTROL}, server_to_client=True))


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


#: ZSE Get Sampled Data SampleID of the GSME daily consumption log (GCS61); the half-hour
#: profile (GCS17) is SampleID 0.
_DAILY_CONSUMPTION_SAMPLES = 1

_DAY = 86400


def _daily_consumption(ctx: BuildContext) -> dict:
    """GCS61: Get Sampled Data of the daily consumption log, one sample per day of the period."""
    start, end = read_period(ctx)
    samples = int((end - start).total_seconds()) // _DAY + 1
    return gbz_payload(cluster_command("Metering", 0x08, {
        "SampleID": _DAILY_CONSUMPTION_SAMPLES, "EarliestSampleTime": _zse_time(start), "SampleType": 0,
        "NumberofSamples": min(samples, 0xFFFF)}))


def _profile_data(ctx: BuildContext) -> dict:
    """GCS17: Get Sampled Data of the half-hour consumption log over the DUIS ReadLogPeriod."""
    start, end = read_period(ctx)
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
    start, end = read_period(ctx)
    return gbz_payload(cluster_command("Prepayment", 0x0A, {
        "LatestEndTime": _zse_time(end), "NumberofDebts": _DEBT_LOG_ENTRIES, "DebtType": _PAYMENT_BASED_DEBT},
        from_date_time=_zse_time(start)))


def _top_up_log(ctx: BuildContext) -> dict:
    """GCS15e: Get Top Up Log over the period."""
    start, end = read_period(ctx)
    return gbz_payload(cluster_command("Prepayment", 0x08, {
        "LatestEndTime": _zse_time(end), "NumberofRecords": _TOP_UP_LOG_ENTRIES}, from_date_time=_zse_time(start)))


#: ZSE Events log id of the GSME's general event log (CS11 clears it).
_GENERAL_EVENT_LOG = 3

#: ZSE event id asking for the configuration of every event (GCS20r).
_ALL_EVENTS = 0x81FF

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


def _gas_prices(el: Body, start: int, ev: int, thresholds: list[int] | None = None) -> list[dict]:
    """Publish Tariff Information, [Publish Block Thresholds,] Publish Price Matrix of DUIS
    GasPriceElements (TOU prices of tiers 1-4, or block prices of blocks 1-4)."""
    cur = el.require("CurrencyUnits")
    if cur.text not in _CURRENCY:
        raise RequestError(INVALID, cur.path, f"must be one of {', '.join(_CURRENCY)}")
    tou = el.find("TOUTariff")
    block = el.find("BlockTariff")
    if (tou is None) == (block is None):
        raise RequestError(INVALID, el.path, "exactly one of TOUTariff and BlockTariff is required")
    if tou is not None:
        prices = [(index_of(p, 1, 4), p.int(lo=0, hi=0xFFFFFFFF)) for p in tou.all("TOUPrice")]
        scheme, tiers, count, sub_payload = _TOU_TARIFF, len(prices), 0, 1
        entries = [{"TierBlockID": i, "Price": v} for i, v in prices]
    else:
        prices = [(index_of(p, 1, 4), p.int(lo=0, hi=0xFFFFFFFF)) for p in block.all("BlockPrice")]
        scheme, tiers, count, sub_payload = _BLOCK_TARIFF, 0, block.int("NumberOfThresholds", 0, 3), 0
        entries = [{"TierBlockID": i - 1, "Price": v} for i, v in prices]
    if not entries:
        raise RequestError(INVALID, el.path, "no prices")
    info = cluster_command("Price", 0x04, {
        "ProviderID": 0, "IssuerEventID": ev, "IssuerTariffID": _ISSUER_TARIFF_ID, "StartTime": start,
        "TariffTypeChargingScheme": scheme, "TariffLabel": "", "NumberofPriceTiersinUse": tiers,
        "NumberofBlockThresholdsinUse": count, "UnitofMeasure": _KWH, "Currency": _CURRENCY[cur.text],
        "PriceTrailingDigit": _PRICE_TRAILING_DIGIT, "StandingCharge": el.int("StandingCharge", 0, 0xFFFFFFFF),
        "TierBlockMode": _TIER_BLOCK_MODE_UNUSED, "BlockThresholdMultiplier": 1,
        "BlockThresholdDivisor": _THRESHOLD_DIVISOR}, server_to_client=True)
    matrix = cluster_command("Price", 0x05, {
        "ProviderID": 0, "IssuerEventID": ev, "StartTime": _publish_start(start),
        "IssuerTariffID": _ISSUER_TARIFF_ID, "CommandIndex": 0, "TotalNumberofCommands": 1,
        "SubPayloadControl": sub_payload, "PriceMatrixSubPayload": entries}, server_to_client=True)
    if thresholds is None:
        return [info, matrix]
    if block is None:
        raise RequestError(INVALID, el.path, "block thresholds need a BlockTariff")
    if len(thresholds) != count:
        raise RequestError(INVALID, f"{block.path}.NumberOfThresholds", f"says {count}, {len(thresholds)} given")
    published = cluster_command("Price", 0x06, {
        "ProviderID": 0, "IssuerEventID": ev, "StartTime": _publish_start(start),
        "IssuerTariffID": _ISSUER_TARIFF_ID, "CommandIndex": 0, "TotalNumberofCommands": 1,
        "SubPayloadControl": _THRESHOLDS_FOR_ALL_TIERS,
        "BlockThresholdSubPayload": [{"TierNumberOfBlockThresholds": len(thresholds),
                                      "BlockThreshold": thresholds}]}, server_to_client=True)
    return [info, published, matrix]


#: ZSE Publish Block Thresholds sub-payload control: the thresholds apply to every tier (block
#: tariff without TOU).
_THRESHOLDS_FOR_ALL_TIERS = 0x01


def _gas_price(ctx: BuildContext) -> dict:
    """GCS01b: Publish Tariff Information and Publish Price Matrix (TOU or block prices)."""
    return gbz_payload(*_gas_prices(ctx.body.require("PriceElements/GasPriceElements"), _gbz_execution(ctx),
                                    _issuer_event_id(ctx)))


#: ZSE Calendar type of the GSME tariff switching calendar (delivered).
_TARIFF_CALENDAR_TYPE = 0x00

#: Price tier of a GSME day-profile entry: TOU tiers 1-4; a block tariff's entries name tier 0
#: (no TOU tier: the block prices apply).
_GAS_TIERS = 4


def _gas_tier(ps: Body) -> int:
    tou, block = ps.find("TOUTariffAction"), ps.find("BlockTariffAction")
    if (tou is None) == (block is None):
        raise RequestError(INVALID, ps.path, "exactly one of TOUTariffAction and BlockTariffAction is required")
    if tou is not None:
        return tou.int(lo=1, hi=_GAS_TIERS)
    block.int(lo=1, hi=1)
    return 0


def _duis_zcl_date(node: Body, container: str = "{}") -> dict:
    """A DUIS date with wildcards as a ZCL Date (C{None}: any): each part (Year, Month,
    DayOfMonth, DayOfWeek) in an element named C{container.format(part)} (the electricity form
    C{Year}, the gas form C{GasYearWithWildcards}) holding C{Specified<part>} or
    C{NonSpecified<part>}."""
    def part(name: str, lo: int, hi: int) -> int | None:
        p = node.require(container.format(name))
        spec = p.find(f"Specified{name}")
        if spec is None:
            if p.find(f"NonSpecified{name}") is None:
                raise RequestError(INVALID, p.path, f"Specified{name} or NonSpecified{name} expected")
            return None
        return spec.int(lo=lo, hi=hi)
    return {"year": part("Year", 1900, 2154), "month": part("Month", 1, 12), "day": part("DayOfMonth", 1, 31),
            "day_of_week": part("DayOfWeek", 1, 7)}


def _gas_tariff(ctx: BuildContext) -> dict:
    """GCS01a: the GSME's tariff switching calendar (Publish Calendar, Day Profiles, Week
    Profiles, Seasons, Special Days), then its tariff (Publish Tariff Information, Block
    Thresholds for a block tariff, Price Matrix), all from the execution date-time.

    DUIS body: C{GasTariffElements} (C{SwitchingTable} and C{SpecialDays} as in SRV 1.1.2,
    C{BlockThresholds}/C{BlockThreshold}[index 1-3], C{PriceElements} as SRV 1.2.1's
    GasPriceElements).
    """
    el = ctx.body.require("GasTariffElements")
    table = el.require("SwitchingTable")
    when = _gbz_execution(ctx)
    ev = _issuer_event_id(ctx)
    days = table.all("DayProfiles/DayProfile")
    weeks = table.all("WeekProfiles/WeekProfile")
    seasons = table.all("Seasons/Season")
    special = el.all("SpecialDays/SpecialDay")
    if not days or not weeks or not seasons:
        raise RequestError(INVALID, table.path, "day profiles, week profiles and seasons are required")

    def tariff_entries(d: Body) -> list[dict]:
        entries = []
        for ps in d.all("ProfileSchedule"):
            t = ps.time("StartTime")
            entries.append({"RateStartTime": t.hour * 60 + t.minute, "PriceTier": _gas_tier(ps)})
        return entries

    comps = _publish_calendar(ev, when, _TARIFF_CALENDAR_TYPE, days, "DayName", tariff_entries, weeks, seasons,
                              special, _duis_zcl_date)
    thresholds = None
    if el.has("BlockThresholds"):
        given = sorted(el.all("BlockThresholds/BlockThreshold"), key=lambda t: index_of(t, 1, 3))
        if [index_of(t, 1, 3) for t in given] != list(range(1, len(given) + 1)):
            raise RequestError(INVALID, f"{el.path}.BlockThresholds", "thresholds must be indexed 1, 2, 3 in turn")
        thresholds = [t.int(lo=0, hi=0xFFFFFFFFFFFF) for t in given]
    comps += _gas_prices(el.require("PriceElements"), when, ev, thresholds)
    return gbz_payload(*comps)


def _publish_calendar(ev: int, when: int, calendar_type: int, days: list, day_name: str,
                      day_entries: Callable[[Body], list[dict]], weeks: list, seasons: list, special: list,
                      date: Callable[[Body], dict]) -> list[dict]:
    """A ZSE calendar as the GSME takes it: Publish Calendar, Publish Day Profile per day
    (C{day_name} its id element, C{day_entries} its schedule), Publish Week Profile per week
    (one day per weekday, indexed 1-7), Publish Seasons and Publish Special Days (dates read
    with C{date}), all under issuer event / calendar id C{ev}, starting at C{when}."""
    head = {"ProviderID": 0, "IssuerEventID": ev, "IssuerCalendarID": ev}
    comps = [cluster_command("Calendar", 0x00, {
        **head, "StartTime": _publish_start(when), "CalendarType": calendar_type,
        "CalendarTimeReference": 0, "CalendarName": "", "NumberofSeasons": len(seasons),
        "NumberofWeekProfiles": len(weeks), "NumberofDayProfiles": len(days)}, server_to_client=True)]
    for d in days:
        entries = day_entries(d)
        comps.append(cluster_command("Calendar", 0x01, {
            **head, "DayID": d.int(day_name, 1, 255), "TotalNumberofScheduleEntries": len(entries),
            "CommandIndex": 0, "TotalNumberofCommands": 1, "CalendarType": calendar_type,
            "DayScheduleEntries": {"Entries": entries}}, server_to_client=True))
    for w in weeks:
        refs = sorted(w.all("ReferencedDayName"), key=lambda r: index_of(r, 1, 7))
        if [index_of(r, 1, 7) for r in refs] != list(range(1, 8)):
            raise RequestError(INVALID, f"{w.path}.ReferencedDayName", "one per day of the week, index 1 to 7")
        comps.append(cluster_command("Calendar", 0x02, {
            **head, "WeekID": w.int("WeekName", 1, 255),
            **{f"DayIDRef{day}": r.int(lo=1, hi=255) for day, r in zip(_DAYS, refs)}}, server_to_client=True))
    comps.append(cluster_command("Calendar", 0x03, {
        **head, "CommandIndex": 0, "TotalNumberofCommands": 1,
        "SeasonEntries": [{"SeasonStartDate": date(se.require("SeasonStartDate")),
                           "WeekIDRef": se.int("ReferencedWeekName", 1, 255)} for se in seasons]},
        server_to_client=True))
    comps.append(cluster_command("Calendar", 0x04, {
        **head, "StartTime": _publish_start(when), "CalendarType": calendar_type,
        "TotalNumberofSpecialDays": len(special), "CommandIndex": 0, "TotalNumberofCommands": 1,
        "SpecialDayEntries": [{"SpecialDayDate": date(sd.require("Date")),
                               "DayIDRef": sd.int("ReferencedDayName", 1, 255)} for sd in special]},
        server_to_client=True))
    return comps


def _publish_start(start: int) -> int:
    """Start time of ZSE Publish commands whose "never" is 0xFFFFFFFE (0xFFFFFFFF is invalid)."""
    return 0xFFFFFFFE if start == 0xFFFFFFFF else start


# --------------------------------------------------------------------------- gas prepayment configuration
#: ZSE Calendar type of the GSME non-disablement (friendly credit) calendar.
_FRIENDLY_CREDIT_CALENDAR_TYPE = 0x03
_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_NON_DISABLEMENT_ACTIONS = {"START": True, "STOP": False}


def _zcl_date(node: Body) -> dict:
    """A DUIS gas date with wildcards (Gas...WithWildcards / Specified... / NonSpecified...).

    A NonSpecified part is the ZCL Date wildcard ("any"), C{None} in the tree.
    """
    return _duis_zcl_date(node, "Gas{}WithWildcards")


def _gas_prepay_configuration(ctx: BuildContext) -> dict:
    """GCS05: emergency credit, debt cap, low credit level, maximum credit, then the friendly
    credit calendar (Publish Calendar, Day Profiles, Week Profiles, Seasons, Special Days),
    all from the execution date-time."""
    cfg = ctx.body.require("UpdatePrepayConfigGas")
    when = _gbz_execution(ctx)
    ev = _issuer_event_id(ctx)
    u32 = (0, 0xFFFFFFFF)
    comps = [
        cluster_command("Prepayment", 0x03, {
            "IssuerEventID": ev, "StartTime": when, "EmergencyCreditLimit": cfg.int("EmergencyCreditLimit", *u32),
            "EmergencyCreditThreshold": cfg.int("EmergencyCreditThreshold", *u32)}),
        cluster_command("Prepayment", 0x0C, {
            "ProviderID": 0, "IssuerEventID": ev, "ImplementationDateTime": when,
            "OverallDebtCap": cfg.int("DebtRecoveryRateCap", *u32)}),
        cluster_command("Prepayment", 0x09, {"LowCreditWarningLevel": cfg.int("LowCreditThreshold", *u32)},
                        from_date_time=when),
        cluster_command("Prepayment", 0x0B, {
            "ProviderID": 0, "IssuerEventID": ev, "ImplementationDateTime": when,
            "MaximumCreditLevel": cfg.int("MaxMeterBalance", *u32),
            "MaximumCreditPerTopUp": cfg.int("MaxCreditThreshold", *u32)})]
    cal = cfg.require("GasNonDisablementCalendar")
    days = cal.all("DayProfiles/GasNonDisablementDayProfile")
    weeks = cal.all("WeekProfiles/WeekProfile")
    seasons = cal.all("SeasonProfiles/Season")
    special = cal.all("SpecialDays/SpecialDay")

    def friendly_credit_entries(d: Body) -> list[dict]:
        entries = []
        for a in d.all("TimeStartAction"):
            action = a.require("NonDisablementAction")
            if action.text not in _NON_DISABLEMENT_ACTIONS:
                raise RequestError(INVALID, action.path, f"must be one of {', '.join(_NON_DISABLEMENT_ACTIONS)}")
            t = a.time("StartTime")
            entries.append({"FriendlyCreditStartTime": t.hour * 60 + t.minute,
                            "FriendlyCreditEnable": _NON_DISABLEMENT_ACTIONS[action.text]})
        return entries

    comps += _publish_calendar(ev, when, _FRIENDLY_CREDIT_CALENDAR_TYPE, days, "GasDayName", friendly_credit_entries,
                               weeks, seasons, special, _zcl_date)
    return gbz_payload(*comps)


# --------------------------------------------------------------------------- GSME alert behaviour (GCS20)
#: ZSE Event Configuration bits by DUIS setting: log to the general event log (log action 3),
#: push to the WAN, push to the HAN, raise the alarm.
_EVENT_SETTINGS = {"EventLog": 0x03, "WANAlert": 0x08, "HANAlert": 0x10, "Alarm": 0x40}
_SETTING_STATES = {"Enable": True, "Disable": False}
_APPLY_BY_LIST = 0


def _alert_behaviour(ctx: BuildContext) -> dict:
    """GCS20: one Set Event Configuration (apply by list) per distinct configuration, naming
    the events (DUIS xNNNN alert codes) that take it, in the order the configurations first
    appear in the request."""
    groups: dict[int, list[int]] = {}
    for settings in ctx.body.all("GasSupplierAlertEventSettings"):
        for name in dict.fromkeys(settings.child_names()):
            event = settings.require(name)
            if len(name) != 5 or name[0] != "x":
                raise RequestError(INVALID, event.path, "an alert code element (xNNNN) expected")
            try:
                code = int(name[1:], 16)
            except ValueError:
                raise RequestError(INVALID, event.path, "an alert code element (xNNNN) expected") from None
            config = 0
            for element, bits in _EVENT_SETTINGS.items():
                node = event.require(element)
                if node.text not in _SETTING_STATES:
                    raise RequestError(INVALID, node.path, f"must be one of {', '.join(_SETTING_STATES)}")
                config |= bits if _SETTING_STATES[node.text] else 0
            groups.setdefault(config, []).append(code)
    if not groups:
        raise RequestError(INVALID, f"{ctx.body.path}.GasSupplierAlertEventSettings", "no alert settings")
    ev = _issuer_event_id(ctx)
    return gbz_payload(*(cluster_command("Device Management", 0x04, {
        "IssuerEventID": ev, "StartDateTime": 0, "EventConfiguration": config, "ConfigurationControl": _APPLY_BY_LIST,
        "EventConfigurationPayload": {"NumberofEvents": len(codes), "EventIDs": codes}}, server_to_client=True)
        for config, codes in groups.items()))


# --------------------------------------------------------------------------- GSME snapshot logs
#: ZSE SnapshotCause bits: general (the daily read), end of billing period (billing calendar).
_SNAPSHOT_GENERAL, _SNAPSHOT_END_OF_BILLING_PERIOD = 0x01, 0x02
#: Entries the GSME keeps: 31 daily reads, 12 billing data log entries; the DCC asks for each
#: (SnapshotOffset 0 = the latest) within the DUIS ReadLogPeriod.
_DAILY_READS, _BILLING_ENTRIES = 31, 12


def _snapshots(*clusters: tuple[str, int], entries: int, cause: int) -> Builder:
    """Get Snapshot (Metering 0x06) / Get Prepay Snapshot (Prepayment 0x07) for every entry of
    the log, cluster by cluster, over the read period."""
    def build(ctx: BuildContext) -> dict:
        start, end = read_period(ctx)
        window = {"EarliestStartTime": _zse_time(start), "LatestEndTime": _zse_time(end)}
        return gbz_payload(*(cluster_command(cluster, command_id, {**window, "SnapshotOffset": i,
                                                                   "SnapshotCause": cause})
                             for cluster, command_id in clusters for i in range(entries)))
    return build


_METERING_SNAPSHOT, _PREPAY_SNAPSHOT = ("Metering", 0x06), ("Prepayment", 0x07)


def register(add: Callable[..., None]) -> None:
    """Declare the GBZ use cases: C{add(name, builder, acb=False, urp=False, acb_own=False)}."""
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
    add("GCS36", _update_cin, acb=True)
    add("GCS23", _gas_conversion)
    for name in ("GCS25", "GCS25a"):
        add(name, _gas_billing_calendar)
    add("GCS04", _gas_debt)
    add("GCS01b", _gas_price)
    add("GCS01a", _gas_tariff)
    add("GCS61", _daily_consumption, urp=True)
    add("GCS20", _alert_behaviour)
    add("GCS09", _change_of_tenancy)
    add("GCS16a", _snapshots(_METERING_SNAPSHOT, entries=_DAILY_READS, cause=_SNAPSHOT_GENERAL))
    add("GCS16b", _snapshots(_PREPAY_SNAPSHOT, entries=_DAILY_READS, cause=_SNAPSHOT_GENERAL), urp=True)
    add("GCS15c", _snapshots(_METERING_SNAPSHOT, _PREPAY_SNAPSHOT, entries=_BILLING_ENTRIES,
                             cause=_SNAPSHOT_END_OF_BILLING_PERIOD))
    add("GCS24", _gas_flow)
    add("GCS24a", _gas_flow)
    add("GCS05", _gas_prepay_configuration)
