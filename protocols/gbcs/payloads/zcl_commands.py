"""ZCL frames carried in GBZ components: header, data types, command payload layouts.

Implements GBCS wire-format notes §4.2 (ZCL part) with the ZigBee Cluster Library
(ZCL r6 §2.4/§2.6: frame header, profile-wide commands, data types) and ZigBee Smart
Energy 1.4 (ZSE) cluster-specific command layouts for Price (0x0700), Metering (0x0702),
Messaging (0x0703), Prepayment (0x0705), Calendar (0x0707), Device Management (0x0708),
Events (0x0709) and Basic (0x0000).  Everything inside a ZCL frame is little-endian.

Layouts are data: a list of C{(FieldName, type)} with field names as in ZSE (CamelCase).
Repeated sub-structures (schedule entries, log entries, snapshot registers) are parsed
into lists.  A payload whose layout is unknown is kept as C{{"raw_payload": hex}}, which
L{protocols.gbcs.payloads.payload_fully_decoded} reports as opaque.
"""

from __future__ import annotations

import struct
from typing import Any

from protocols.errors import CodecError

from ._wire import hexu, unhex

__all__ = [
    "CLUSTER_NAMES", "ZCL_DATA_TYPES", "ZCL_STATUS", "ATTRIBUTE_NAMES", "COMMANDS",
    "decode_zcl_frame", "encode_zcl_frame", "decode_zcl_payload", "encode_zcl_payload",
    "decode_zcl_value", "encode_zcl_value", "attribute_name", "command_layout",
    "command_name", "decode_zcl_header", "encode_zcl_header", "GENERAL_COMMANDS",
]

CLUSTER_NAMES: dict[int, str] = {
    0x0000: "Basic", 0x0001: "Power Configuration", 0x0003: "Identify", 0x000A: "Time",
    0x0019: "OTA Upgrade", 0x0700: "Price", 0x0701: "Demand Response and Load Control",
    0x0702: "Metering", 0x0703: "Messaging", 0x0704: "Tunneling", 0x0705: "Prepayment",
    0x0706: "Energy Management", 0x0707: "Calendar", 0x0708: "Device Management",
    0x0709: "Events", 0x070A: "MDU Pairing", 0x070B: "Sub-GHz", 0x0800: "Key Establishment",
}

#: ZCL status codes (ZCL r6 table 2-12)
ZCL_STATUS: dict[int, str] = {
    0x00: "SUCCESS", 0x01: "FAILURE", 0x7E: "NOT_AUTHORIZED", 0x7F: "RESERVED_FIELD_NOT_ZERO",
    0x80: "MALFORMED_COMMAND", 0x81: "UNSUP_CLUSTER_COMMAND", 0x82: "UNSUP_GENERAL_COMMAND",
    0x83: "UNSUP_MANUF_CLUSTER_COMMAND", 0x84: "UNSUP_MANUF_GENERAL_COMMAND",
    0x85: "INVALID_FIELD", 0x86: "UNSUPPORTED_ATTRIBUTE", 0x87: "INVALID_VALUE",
    0x88: "READ_ONLY", 0x89: "INSUFFICIENT_SPACE", 0x8A: "DUPLICATE_EXISTS", 0x8B: "NOT_FOUND",
    0x8C: "UNREPORTABLE_ATTRIBUTE", 0x8D: "INVALID_DATA_TYPE", 0x8E: "INVALID_SELECTOR",
    0x8F: "WRITE_ONLY", 0x90: "INCONSISTENT_STARTUP_STATE", 0x91: "DEFINED_OUT_OF_BAND",
    0x92: "INCONSISTENT", 0x93: "ACTION_DENIED", 0x94: "TIMEOUT", 0x95: "ABORT",
    0x96: "INVALID_IMAGE", 0x97: "WAIT_FOR_DATA", 0x98: "NO_IMAGE_AVAILABLE",
    0x99: "REQUIRE_MORE_IMAGE", 0x9A: "NOTIFICATION_PENDING", 0xC0: "HARDWARE_FAILURE",
    0xC1: "SOFTWARE_FAILURE", 0xC2: "CALIBRATION_ERROR", 0xC3: "UNSUPPORTED_CLUSTER",
}

# ---------------------------------------------------------------------------------------
# scalar field codecs used by layouts and by ZCL data types

# code -> (size, signed)
_INTS: dict[str, tuple[int, bool]] = {}
for _n in range(1, 9):
    _INTS[f"u{8 * _n}"] = (_n, False)
    _INTS[f"s{8 * _n}"] = (_n, True)
    _INTS[f"b{8 * _n}"] = (_n, False)
_INTS.update({"e8": (1, False), "e16": (2, False), "utc": (4, False), "bool": (1, False),
              "attr": (2, False), "cluster": (2, False)})

_F32 = struct.Struct("<f")
_F64 = struct.Struct("<d")


def _need(data: bytes, off: int, n: int, field: str) -> int:
    end = off + n
    if end > len(data):
        raise CodecError(field, off, f"truncated: {n} bytes needed, {len(data) - off} left")
    return end


def _dec_scalar(code: str, data: bytes, off: int, field: str) -> tuple[Any, int]:
    spec = _INTS.get(code)
    if spec is not None:
        size, signed = spec
        end = _need(data, off, size, field)
        v = int.from_bytes(data[off:end], "little", signed=signed)
        if code == "bool":
            return (v != 0 if v in (0, 1) else v), end
        return v, end
    if code in ("octstr", "chrstr", "octstr16", "chrstr16"):
        wide = code.endswith("16")
        end = _need(data, off, 2 if wide else 1, field + ".length")
        n = int.from_bytes(data[off:end], "little")
        if n == (0xFFFF if wide else 0xFF):
            return {"invalid": True}, end
        stop = _need(data, end, n, field)
        raw = data[end:stop]
        if code.startswith("chr"):
            try:
                return raw.decode("utf-8"), stop
            except UnicodeDecodeError:
                return {"hex": hexu(raw)}, stop
        return hexu(raw), stop
    if code == "date":
        end = _need(data, off, 4, field)
        b = data[off:end]
        return {"year": 1900 + b[0], "month": b[1], "day": b[2], "day_of_week": b[3]}, end
    if code.startswith("x"):  # fixed-size opaque-by-definition types (data8.., keys, ToD)
        n = int(code[1:])
        end = _need(data, off, n, field)
        return hexu(data[off:end]), end
    if code == "f32" or code == "f64":
        st = _F32 if code == "f32" else _F64
        end = _need(data, off, st.size, field)
        return hexu(data[off:end]), end
    if code == "eui64":
        end = _need(data, off, 8, field)
        return int.from_bytes(data[off:end], "little"), end
    raise CodecError(field, off, f"unknown field type {code}")


def _enc_scalar(code: str, v: Any, out: bytearray, field: str) -> None:
    try:
        spec = _INTS.get(code)
        if spec is not None:
            size, signed = spec
            if isinstance(v, bool):
                v = int(v)
            out += int(v).to_bytes(size, "little", signed=signed)
            return
        if code in ("octstr", "chrstr", "octstr16", "chrstr16"):
            wide = code.endswith("16")
            if isinstance(v, dict) and v.get("invalid"):
                out += b"\xff\xff" if wide else b"\xff"
                return
            if isinstance(v, dict):
                raw = unhex(v["hex"], field)
            elif code.startswith("chr"):
                raw = v.encode("utf-8")
            else:
                raw = unhex(v, field)
            out += len(raw).to_bytes(2 if wide else 1, "little")
            out += raw
            return
        if code == "date":
            out += bytes((v["year"] - 1900, v["month"], v["day"], v["day_of_week"]))
            return
        if code.startswith("x") or code in ("f32", "f64"):
            n = int(code[1:]) if code.startswith("x") else (4 if code == "f32" else 8)
            raw = unhex(v, field)
            if len(raw) != n:
                raise CodecError(field, 0, f"expected {n} bytes")
            out += raw
            return
        if code == "eui64":
            out += int(v).to_bytes(8, "little")
            return
    except CodecError:
        raise
    except (KeyError, TypeError, ValueError, OverflowError, AttributeError) as e:
        raise CodecError(field, 0, f"cannot encode {code}: {e!r}") from None
    raise CodecError(field, 0, f"unknown field type {code}")


# ---------------------------------------------------------------------------------------
# ZCL data types (for attribute values)

#: type id -> (name, field code or special)
ZCL_DATA_TYPES: dict[int, tuple[str, str]] = {0x00: ("nodata", "none")}
for _i in range(8):
    ZCL_DATA_TYPES[0x08 + _i] = (f"data{8 * (_i + 1)}", f"x{_i + 1}")
    ZCL_DATA_TYPES[0x18 + _i] = (f"map{8 * (_i + 1)}", f"b{8 * (_i + 1)}")
    ZCL_DATA_TYPES[0x20 + _i] = (f"uint{8 * (_i + 1)}", f"u{8 * (_i + 1)}")
    ZCL_DATA_TYPES[0x28 + _i] = (f"int{8 * (_i + 1)}", f"s{8 * (_i + 1)}")
ZCL_DATA_TYPES.update({
    0x10: ("bool", "bool"), 0x30: ("enum8", "e8"), 0x31: ("enum16", "e16"),
    0x38: ("semi", "x2"), 0x39: ("single", "f32"), 0x3A: ("double", "f64"),
    0x41: ("octstr", "octstr"), 0x42: ("string", "chrstr"), 0x43: ("octstr16", "octstr16"),
    0x44: ("string16", "chrstr16"), 0x48: ("array", "array"), 0x4C: ("struct", "struct"),
    0x50: ("set", "array"), 0x51: ("bag", "array"), 0xE0: ("ToD", "x4"), 0xE1: ("date", "date"),
    0xE2: ("UTC", "utc"), 0xE8: ("clusterId", "cluster"), 0xE9: ("attribId", "attr"),
    0xEA: ("bacOID", "u32"), 0xF0: ("EUI64", "eui64"), 0xF1: ("key128", "x16"),
})
_ANALOG = {t for t in ZCL_DATA_TYPES if 0x20 <= t <= 0x2F or 0x38 <= t <= 0x3A or t in (0xE0, 0xE1, 0xE2)}


def decode_zcl_value(type_id: int, data: bytes, off: int, field: str = "value",
                     depth: int = 0) -> tuple[Any, int]:
    """Decode one ZCL attribute value of data type C{type_id} at C{off}."""
    entry = ZCL_DATA_TYPES.get(type_id)
    if entry is None:
        raise CodecError(field, off, f"unsupported ZCL data type 0x{type_id:02X}")
    code = entry[1]
    if depth > 16:
        raise CodecError(field, off, "ZCL value nesting too deep")
    if code == "none":
        return None, off
    if code == "array":
        end = _need(data, off, 3, field)
        etype = data[off]
        count = data[off + 1] | (data[off + 2] << 8)
        items = []
        off = end
        if count != 0xFFFF:
            for _ in range(count):
                v, off = decode_zcl_value(etype, data, off, field + "[]", depth + 1)
                items.append(v)
        return {"element_type": etype, "elements": items,
                **({"invalid": True} if count == 0xFFFF else {})}, off
    if code == "struct":
        end = _need(data, off, 2, field)
        count = data[off] | (data[off + 1] << 8)
        off = end
        items = []
        if count != 0xFFFF:
            for _ in range(count):
                end = _need(data, off, 1, field)
                t = data[off]
                v, off = decode_zcl_value(t, data, end, field + "{}", depth + 1)
                items.append({"type": t, "value": v})
        return {"members": items, **({"invalid": True} if count == 0xFFFF else {})}, off
    return _dec_scalar(code, data, off, field)


def encode_zcl_value(type_id: int, v: Any, out: bytearray, field: str = "value") -> None:
    """Append the encoding of ZCL value C{v} of data type C{type_id} to C{out}."""
    entry = ZCL_DATA_TYPES.get(type_id)
    if entry is None:
        raise CodecError(field, 0, f"unsupported ZCL data type {type_id!r}")
    code = entry[1]
    if code == "none":
        return
    try:
        if code == "array":
            out.append(v["element_type"])
            if v.get("invalid"):
                out += b"\xff\xff"
                return
            out += len(v["elements"]).to_bytes(2, "little")
            for e in v["elements"]:
                encode_zcl_value(v["element_type"], e, out, field + "[]")
            return
        if code == "struct":
            if v.get("invalid"):
                out += b"\xff\xff"
                return
            out += len(v["members"]).to_bytes(2, "little")
            for m in v["members"]:
                out.append(m["type"])
                encode_zcl_value(m["type"], m["value"], out, field + "{}")
            return
    except CodecError:
        raise
    except (KeyError, TypeError, ValueError, OverflowError) as e:
        raise CodecError(field, 0, f"cannot encode ZCL {entry[0]}: {e!r}") from None
    _enc_scalar(code, v, out, field)


# ---------------------------------------------------------------------------------------
# attribute names (ZSE 1.4 attribute sets; annotation only)

def _metering_names() -> dict[int, str]:
    n = {
        0x0000: "CurrentSummationDelivered", 0x0001: "CurrentSummationReceived",
        0x0002: "CurrentMaxDemandDelivered", 0x0003: "CurrentMaxDemandReceived",
        0x0004: "DFTSummation", 0x0005: "DailyFreezeTime", 0x0006: "PowerFactor",
        0x0007: "ReadingSnapShotTime", 0x0008: "CurrentMaxDemandDeliveredTime",
        0x0009: "CurrentMaxDemandReceivedTime", 0x000A: "DefaultUpdatePeriod",
        0x000B: "FastPollUpdatePeriod", 0x000C: "CurrentBlockPeriodConsumptionDelivered",
        0x000D: "DailyConsumptionTarget", 0x000E: "CurrentBlock", 0x000F: "ProfileIntervalPeriod",
        0x0011: "PresetReadingTime", 0x0012: "VolumePerReport", 0x0013: "FlowRestriction",
        0x0014: "SupplyStatus", 0x001C: "PreviousBlockPeriodConsumptionDelivered",
        0x0020: "ActiveRegisterTierDelivered", 0x0021: "ActiveRegisterTierReceived",
        0x0022: "LastBlockSwitchTime",
        0x0200: "Status", 0x0201: "RemainingBatteryLife", 0x0202: "HoursInOperation",
        0x0203: "HoursInFault", 0x0204: "ExtendedStatus", 0x0205: "RemainingBatteryLifeInDays",
        0x0206: "CurrentMeterID", 0x0207: "AmbientConsumptionIndicator",
        0x0300: "UnitofMeasure", 0x0301: "Multiplier", 0x0302: "Divisor",
        0x0303: "SummationFormatting", 0x0304: "DemandFormatting",
        0x0305: "HistoricalConsumptionFormatting", 0x0306: "MeteringDeviceType",
        0x0307: "SiteID", 0x0308: "MeterSerialNumber", 0x030E: "ModuleSerialNumber",
        0x030F: "OperatingTariffLabelDelivered", 0x0311: "CustomerIDNumber",
        0x0400: "InstantaneousDemand", 0x0401: "CurrentDayConsumptionDelivered",
        0x0402: "CurrentDayConsumptionReceived", 0x0403: "PreviousDayConsumptionDelivered",
        0x0404: "PreviousDayConsumptionReceived",
        0x0430: "CurrentWeekConsumptionDelivered", 0x0432: "PreviousWeekConsumptionDelivered",
        0x0440: "CurrentMonthConsumptionDelivered", 0x0442: "PreviousMonthConsumptionDelivered",
        0x0500: "MaxNumberofPeriodsDelivered", 0x0600: "CurrentDemandDelivered",
        0x0601: "DemandLimit", 0x0602: "DemandIntegrationPeriod",
        0x0603: "NumberofDemandSubintervals", 0x0604: "DemandLimitArmDuration",
        0x0605: "LoadLimitSupplyState", 0x0606: "LoadLimitCounter",
        0x0607: "SupplyTamperState", 0x0608: "SupplyDepletionState",
        0x0609: "SupplyUncontrolledFlowState",
        0x0A00: "BillToDateDelivered", 0x0A01: "BillToDateTimeStampDelivered",
        0x0A02: "ProjectedBillDelivered", 0x0A03: "ProjectedBillTimeStampDelivered",
        0x0A04: "BillDeliveredTrailingDigit",
        0x0B00: "ProposedChangeSupplyImplementationTime", 0x0B01: "ProposedChangeSupplyStatus",
        0x0B10: "UncontrolledFlowThreshold", 0x0B11: "UncontrolledFlowThresholdUnitofMeasure",
        0x0B12: "UncontrolledFlowMultiplier", 0x0B13: "UncontrolledFlowDivisor",
        0x0B14: "FlowStabilisationPeriod", 0x0B15: "FlowMeasurementPeriod",
    }
    for t in range(48):
        n[0x0100 + 2 * t] = f"CurrentTier{t + 1}SummationDelivered"
        n[0x0101 + 2 * t] = f"CurrentTier{t + 1}SummationReceived"
    for b in range(16):
        n[0x0700 + b] = f"CurrentNoTierBlock{b + 1}SummationDelivered"
        for t in range(1, 16):
            n[0x0700 + 0x10 * t + b] = f"CurrentTier{t}Block{b + 1}SummationDelivered"
    for d in range(2, 9):
        n[0x0420 + 2 * (d - 2)] = f"PreviousDay{d}ConsumptionDelivered"
        n[0x0421 + 2 * (d - 2)] = f"PreviousDay{d}ConsumptionReceived"
    return n


def _prepayment_names() -> dict[int, str]:
    n = {
        0x0000: "PaymentControlConfiguration", 0x0001: "CreditRemaining",
        0x0002: "EmergencyCreditRemaining", 0x0003: "CreditStatus",
        0x0004: "CreditRemainingTimeStamp", 0x0005: "AccumulatedDebt", 0x0006: "OverallDebtCap",
        0x0010: "EmergencyCreditLimitAllowance", 0x0011: "EmergencyCreditThreshold",
        0x0020: "TotalCreditAdded", 0x0021: "MaxCreditLimit", 0x0022: "MaxCreditPerTopUp",
        0x0030: "FriendlyCreditWarning", 0x0031: "LowCreditWarningLevel",
        0x0032: "IHDLowCreditWarningLevel", 0x0033: "InterruptSuspendTime",
        0x0034: "RemainingFriendlyCreditTime", 0x0035: "NextFriendlyCreditPeriod",
        0x0040: "CutOffValue", 0x0080: "TokenCarrierID",
        0x0400: "PrepaymentAlarmStatus", 0x0401: "PrepayGenericAlarmMask",
        0x0500: "HistoricalCostConsumptionFormatting", 0x0501: "ConsumptionUnitofMeasurement",
        0x0502: "CurrencyScalingFactor", 0x0503: "Currency",
    }
    for i in range(5):
        base = 0x0100 + 0x10 * i
        n[base] = f"TopUpDateTime{i + 1}"
        n[base + 1] = f"TopUpAmount{i + 1}"
        n[base + 2] = f"OriginatingDevice{i + 1}"
        n[base + 3] = f"TopUpCode{i + 1}"
    for i in range(3):
        base = 0x0210 + 0x10 * i
        for off, name in ((0, "DebtLabel"), (1, "DebtAmount"), (2, "DebtRecoveryMethod"),
                          (3, "DebtRecoveryStartTime"), (4, "DebtRecoveryCollectionTime"),
                          (6, "DebtRecoveryFrequency"), (7, "DebtRecoveryAmount"),
                          (9, "DebtRecoveryTopUpPercentage")):
            n[base + off] = f"{name}{i + 1}"
    return n


def _price_names() -> dict[int, str]:
    n = {
        0x010F: "BlockThresholdCount", 0x0200: "StartofBlockPeriod",
        0x0201: "BlockPeriodDuration", 0x0202: "ThresholdMultiplier",
        0x0203: "ThresholdDivisor", 0x0204: "BlockPeriodDurationType",
        0x0300: "CommodityType", 0x0301: "StandingCharge", 0x0302: "ConversionFactor",
        0x0303: "ConversionFactorTrailingDigit", 0x0304: "CalorificValue",
        0x0305: "CalorificValueUnit", 0x0306: "CalorificValueTrailingDigit",
        0x0600: "CurrentBillingPeriodStart", 0x0601: "CurrentBillingPeriodDuration",
        0x0602: "LastBillingPeriodStart", 0x0603: "LastBillingPeriodDuration",
        0x0604: "LastBillingPeriodConsolidatedBill", 0x0610: "TariffLabel",
        0x0611: "NumberofPriceTiersinUse", 0x0612: "NumberofBlockThresholdsinUse",
        0x0613: "TierBlockMode", 0x0615: "UnitofMeasure", 0x0616: "Currency",
        0x0617: "PriceTrailingDigit", 0x0619: "TariffResolutionPeriod",
    }
    for t in range(48):
        n[0x0000 + t] = f"Tier{t + 1}PriceLabel"
    for b in range(15):
        n[0x0100 + b] = f"Block{b + 1}Threshold"
    for b in range(16):
        n[0x0400 + b] = f"NoTierBlock{b + 1}Price"
        for t in range(1, 16):
            n[0x0400 + 0x10 * t + b] = f"Tier{t}Block{b + 1}Price"
    return n


#: cluster id -> attribute id -> ZSE attribute name
ATTRIBUTE_NAMES: dict[int, dict[int, str]] = {
    0x0000: {0x0000: "ZCLVersion", 0x0001: "ApplicationVersion", 0x0002: "StackVersion",
             0x0003: "HWVersion", 0x0004: "ManufacturerName", 0x0005: "ModelIdentifier",
             0x0006: "DateCode", 0x0007: "PowerSource", 0x0010: "LocationDescription",
             0x0011: "PhysicalEnvironment", 0x0012: "DeviceEnabled", 0x0013: "AlarmMask",
             0x0014: "DisableLocalConfig", 0x4000: "SWBuildID"},
    0x0700: _price_names(),
    0x0702: _metering_names(),
    0x0705: _prepayment_names(),
}


def attribute_name(cluster_id: int, attribute_id: int) -> str | None:
    """ZSE name of an attribute, or None if not in the tables."""
    return ATTRIBUTE_NAMES.get(cluster_id, {}).get(attribute_id)


# ---------------------------------------------------------------------------------------
# command layouts
#
# Layout grammar: list of (name, spec); spec is a scalar code (see _dec_scalar), or
#   ("repeat", layout)                 -> list of dicts until the end of the payload
#   ("count", field, layout_or_code)   -> list, length = value of an earlier field
#   ("switch", field, {value: layout}) -> dict decoded with the layout chosen by a field
#   ("call", decoder_name)             -> special sub-payload handled by a function
# OPTIONAL marks the point after which trailing fields may be absent.

OPTIONAL = ("", "optional")

_TOU_SET = [("CurrentSummation", "u48")]
_BILL = [("BillToDate", "u32"), ("BillToDateTimeStamp", "utc"), ("ProjectedBill", "u32"),
         ("ProjectedBillTimeStamp", "utc"), ("BillTrailingDigit", "b8")]
_TIERS = [("NumberofTiersInUse", "u8"), ("TierSummation", ("count", "NumberofTiersInUse", "u48"))]
_BLOCKS = [("NumberofTiersAndBlockThresholdsInUse", "u8"),
           ("TierBlockSummation", ("call", "tier_blocks"))]

_SNAPSHOT_PAYLOADS = {
    0: _TOU_SET + _BILL + _TIERS,            # TOU Information Set Delivered Registers
    1: _TOU_SET + _BILL + _TIERS,            # TOU Information Set Received Registers
    2: _TOU_SET + _BILL + _TIERS + _BLOCKS,  # Block Tier Information Set Delivered
    3: _TOU_SET + _BILL + _TIERS + _BLOCKS,  # Block Tier Information Set Received
    4: _TOU_SET + _TIERS,                    # TOU Information Set Delivered (No Billing)
    5: _TOU_SET + _TIERS,                    # TOU Information Set Received (No Billing)
    6: _TOU_SET + _TIERS + _BLOCKS,          # Block Tier Information Set Delivered (No Billing)
    7: _TOU_SET + _TIERS + _BLOCKS,          # Block Tier Information Set Received (No Billing)
    8: [],                                   # Data Unavailable
}
_SNAPSHOT_PAYLOAD_NAMES = {
    0: "TOU Information Set Delivered Registers", 1: "TOU Information Set Received Registers",
    2: "Block Tier Information Set Delivered", 3: "Block Tier Information Set Received",
    4: "TOU Information Set Delivered Registers (No Billing)",
    5: "TOU Information Set Received Registers (No Billing)",
    6: "Block Tier Information Set Delivered (No Billing)",
    7: "Block Tier Information Set Received (No Billing)", 8: "Data Unavailable",
}
_PREPAY_SNAPSHOT_PAYLOADS = {
    0: [("AccumulatedDebt", "s32"), ("Type1DebtRemaining", "u32"),
        ("Type2DebtRemaining", "u32"), ("Type3DebtRemaining", "u32"),
        ("EmergencyCreditRemaining", "s32"), ("CreditRemaining", "s32")],
}

_DAY_ENTRY_TOU = [("RateStartTime", "u16"), ("PriceTier", "u8")]
_DAY_ENTRY_FRIENDLY = [("FriendlyCreditStartTime", "u16"), ("FriendlyCreditEnable", "bool")]
_DAY_ENTRY_AUX = [("AuxiliaryLoadStartTime", "u16"), ("AuxiliaryLoadSwitchState", "b8")]

# (cluster, server_to_client, command id) -> (ZSE command name, layout)
COMMANDS: dict[tuple[int, bool, int], tuple[str, list]] = {
    # ---- Price 0x0700, client -> server
    (0x0700, False, 0x00): ("Get Current Price", [("CommandOptions", "b8")]),
    (0x0700, False, 0x01): ("Get Scheduled Prices", [("StartTime", "utc"), ("NumberofEvents", "u8")]),
    (0x0700, False, 0x02): ("Price Acknowledgement", [
        ("ProviderID", "u32"), ("IssuerEventID", "u32"), ("PriceAckTime", "utc"), ("Control", "b8")]),
    (0x0700, False, 0x03): ("Get Block Period(s)", [
        ("StartTime", "utc"), ("NumberofEvents", "u8"), OPTIONAL, ("TariffType", "b8")]),
    (0x0700, False, 0x04): ("Get Conversion Factor", [
        ("EarliestStartTime", "utc"), ("MinIssuerEventID", "u32"), ("NumberofCommands", "u8")]),
    (0x0700, False, 0x05): ("Get Calorific Value", [
        ("EarliestStartTime", "utc"), ("MinIssuerEventID", "u32"), ("NumberofCommands", "u8")]),
    (0x0700, False, 0x06): ("Get Tariff Information", [
        ("EarliestStartTime", "utc"), ("MinIssuerEventID", "u32"), ("NumberofCommands", "u8"),
        ("TariffType", "b8")]),
    (0x0700, False, 0x07): ("Get Price Matrix", [("IssuerTariffID", "u32")]),
    (0x0700, False, 0x08): ("Get Block Thresholds", [("IssuerTariffID", "u32")]),
    (0x0700, False, 0x09): ("Get CO2 Value", [
        ("EarliestStartTime", "utc"), ("MinIssuerEventID", "u32"), ("NumberofCommands", "u8"),
        ("TariffType", "b8")]),
    (0x0700, False, 0x0A): ("Get Tier Labels", [("IssuerTariffID", "u32")]),
    (0x0700, False, 0x0B): ("Get Billing Period", [
        ("EarliestStartTime", "utc"), ("MinIssuerEventID", "u32"), ("NumberofCommands", "u8"),
        ("TariffType", "b8")]),
    (0x0700, False, 0x0C): ("Get Consolidated Bill", [
        ("EarliestStartTime", "utc"), ("MinIssuerEventID", "u32"), ("NumberofCommands", "u8"),
        ("TariffType", "b8")]),
    (0x0700, False, 0x0D): ("CPP Event Response", [("IssuerEventID", "u32"), ("CPPAuth", "e8")]),
    (0x0700, False, 0x0E): ("Get Credit Payment", [("LatestEndTime", "utc"), ("NumberofRecords", "u8")]),
    (0x0700, False, 0x0F): ("Get Currency Conversion", []),
    (0x0700, False, 0x10): ("Get Tariff Cancellation", []),
    # ---- Price 0x0700, server -> client
    (0x0700, True, 0x00): ("Publish Price", [
        ("ProviderID", "u32"), ("RateLabel", "octstr"), ("IssuerEventID", "u32"),
        ("CurrentTime", "utc"), ("UnitofMeasure", "e8"), ("Currency", "u16"),
        ("PriceTrailingDigitAndPriceTier", "b8"), ("NumberofPriceTiersAndRegisterTier", "b8"),
        ("StartTime", "utc"), ("DurationInMinutes", "u16"), ("Price", "u32"), OPTIONAL,
        ("PriceRatio", "u8"), ("GenerationPrice", "u32"), ("GenerationPriceRatio", "u8"),
        ("AlternateCostDelivered", "u32"), ("AlternateCostUnit", "e8"),
        ("AlternateCostTrailingDigit", "b8"), ("NumberofBlockThresholds", "u8"),
        ("PriceControl", "b8"), ("NumberofGenerationTiers", "u8"), ("GenerationTier", "e8"),
        ("ExtendedNumberofPriceTiers", "u8"), ("ExtendedPriceTier", "u8"),
        ("ExtendedRegisterTier", "u8")]),
    (0x0700, True, 0x01): ("Publish Block Period", [
        ("ProviderID", "u32"), ("IssuerEventID", "u32"), ("BlockPeriodStartTime", "utc"),
        ("BlockPeriodDuration", "u24"), ("BlockPeriodControl", "b8"),
        ("BlockPeriodDurationType", "b8"), ("TariffType", "b8"), ("TariffResolutionPeriod", "e8")]),
    (0x0700, True, 0x02): ("Publish Conversion Factor", [
        ("IssuerEventID", "u32"), ("StartTime", "utc"), ("ConversionFactor", "u32"),
        ("ConversionFactorTrailingDigit", "b8")]),
    (0x0700, True, 0x03): ("Publish Calorific Value", [
        ("IssuerEventID", "u32"), ("StartTime", "utc"), ("CalorificValue", "u32"),
        ("CalorificValueUnit", "e8"), ("CalorificValueTrailingDigit", "b8")]),
    (0x0700, True, 0x04): ("Publish Tariff Information", [
        ("ProviderID", "u32"), ("IssuerEventID", "u32"), ("IssuerTariffID", "u32"),
        ("StartTime", "utc"), ("TariffTypeChargingScheme", "b8"), ("TariffLabel", "octstr"),
        ("NumberofPriceTiersinUse", "u8"), ("NumberofBlockThresholdsinUse", "u8"),
        ("UnitofMeasure", "e8"), ("Currency", "u16"), ("PriceTrailingDigit", "b8"),
        ("StandingCharge", "u32"), ("TierBlockMode", "e8"), ("BlockThresholdMultiplier", "u24"),
        ("BlockThresholdDivisor", "u24")]),
    (0x0700, True, 0x05): ("Publish Price Matrix", [
        ("ProviderID", "u32"), ("IssuerEventID", "u32"), ("StartTime", "utc"),
        ("IssuerTariffID", "u32"), ("CommandIndex", "u8"), ("TotalNumberofCommands", "u8"),
        ("SubPayloadControl", "b8"),
        ("PriceMatrixSubPayload", ("repeat", [("TierBlockID", "u8"), ("Price", "u32")]))]),
    (0x0700, True, 0x06): ("Publish Block Thresholds", [
        ("ProviderID", "u32"), ("IssuerEventID", "u32"), ("StartTime", "utc"),
        ("IssuerTariffID", "u32"), ("CommandIndex", "u8"), ("TotalNumberofCommands", "u8"),
        ("SubPayloadControl", "b8"),
        ("BlockThresholdSubPayload", ("repeat", [
            ("TierNumberOfBlockThresholds", "u8"),
            ("BlockThreshold", ("call", "block_thresholds"))]))]),
    (0x0700, True, 0x07): ("Publish CO2 Value", [
        ("ProviderID", "u32"), ("IssuerEventID", "u32"), ("StartTime", "utc"),
        ("TariffType", "e8"), ("CO2Value", "u32"), ("CO2ValueUnit", "e8"),
        ("CO2ValueTrailingDigit", "b8")]),
    (0x0700, True, 0x08): ("Publish Tier Labels", [
        ("ProviderID", "u32"), ("IssuerEventID", "u32"), ("IssuerTariffID", "u32"),
        ("CommandIndex", "u8"), ("TotalNumberofCommands", "u8"), ("NumberofLabels", "u8"),
        ("TierLabels", ("count", "NumberofLabels", [("TierID", "u8"), ("TierLabel", "octstr")]))]),
    (0x0700, True, 0x09): ("Publish Billing Period", [
        ("ProviderID", "u32"), ("IssuerEventID", "u32"), ("BillingPeriodStartTime", "utc"),
        ("BillingPeriodDuration", "u24"), ("BillingPeriodDurationType", "b8"), ("TariffType", "b8")]),
    (0x0700, True, 0x0A): ("Publish Consolidated Bill", [
        ("ProviderID", "u32"), ("IssuerEventID", "u32"), ("BillingPeriodStartTime", "utc"),
        ("BillingPeriodDuration", "u24"), ("BillingPeriodDurationType", "b8"),
        ("TariffType", "b8"), ("ConsolidatedBill", "u32"), ("Currency", "u16"),
        ("BillTrailingDigit", "b8")]),
    (0x0700, True, 0x0B): ("Publish CPP Event", [
        ("ProviderID", "u32"), ("IssuerEventID", "u32"), ("StartTime", "utc"),
        ("DurationInMinutes", "u16"), ("TariffType", "b8"), ("CPPPriceTier", "u8"), ("CPPAuth", "e8")]),
    (0x0700, True, 0x0C): ("Publish Credit Payment", [
        ("ProviderID", "u32"), ("IssuerEventID", "u32"), ("CreditPaymentDueDate", "utc"),
        ("CreditPaymentOverDueAmount", "u32"), ("CreditPaymentStatus", "e8"),
        ("CreditPayment", "u32"), ("CreditPaymentDate", "utc"), ("CreditPaymentRef", "octstr")]),
    (0x0700, True, 0x0D): ("Publish Currency Conversion", [
        ("ProviderID", "u32"), ("IssuerEventID", "u32"), ("StartTime", "utc"),
        ("OldCurrency", "u16"), ("NewCurrency", "u16"), ("ConversionFactor", "u32"),
        ("ConversionFactorTrailingDigit", "b8"), ("CurrencyChangeControlFlags", "b32")]),
    (0x0700, True, 0x0E): ("Cancel Tariff", [
        ("ProviderID", "u32"), ("IssuerTariffID", "u32"), ("TariffType", "b8")]),
    # ---- Metering 0x0702, client -> server
    (0x0702, False, 0x00): ("Get Profile", [
        ("IntervalChannel", "e8"), ("EndTime", "utc"), ("NumberofPeriods", "u8")]),
    (0x0702, False, 0x01): ("Request Mirror Response", [("EndPointID", "u16")]),
    (0x0702, False, 0x02): ("Mirror Removed", [("EndPointID", "u16")]),
    (0x0702, False, 0x03): ("Request Fast Poll Mode", [
        ("FastPollUpdatePeriod", "u8"), ("Duration", "u8")]),
    (0x0702, False, 0x04): ("Schedule Snapshot", [
        ("IssuerEventID", "u32"), ("CommandIndex", "u8"), ("CommandCount", "u8"),
        ("SnapshotSchedulePayload", ("repeat", [
            ("SnapshotScheduleID", "u8"), ("SnapshotStartTime", "utc"),
            ("SnapshotSchedule", "b24"), ("SnapshotPayloadType", "e8"),
            ("SnapshotCause", "b32")]))]),
    (0x0702, False, 0x05): ("Take Snapshot", [("SnapshotCause", "b32")]),
    (0x0702, False, 0x06): ("Get Snapshot", [
        ("EarliestStartTime", "utc"), ("LatestEndTime", "utc"), ("SnapshotOffset", "u8"),
        ("SnapshotCause", "b32")]),
    (0x0702, False, 0x07): ("Start Sampling", [
        ("IssuerEventID", "u32"), ("StartSamplingTime", "utc"), ("SampleType", "e8"),
        ("SampleRequestInterval", "u16"), ("MaxNumberofSamples", "u16")]),
    (0x0702, False, 0x08): ("Get Sampled Data", [
        ("SampleID", "u16"), ("EarliestSampleTime", "utc"), ("SampleType", "e8"),
        ("NumberofSamples", "u16")]),
    (0x0702, False, 0x09): ("Mirror Report Attribute Response", [
        ("NotificationScheme", "u8"), ("NotificationFlags", ("repeat", [("Flags", "b32")]))]),
    (0x0702, False, 0x0A): ("Reset Load Limit Counter", [("ProviderID", "u32"), ("IssuerEventID", "u32")]),
    (0x0702, False, 0x0B): ("Change Supply", [
        ("ProviderID", "u32"), ("IssuerEventID", "u32"), ("RequestDateTime", "utc"),
        ("ImplementationDateTime", "utc"), ("ProposedSupplyStatus", "e8"),
        ("SupplyControlBits", "b8")]),
    (0x0702, False, 0x0C): ("Local Change Supply", [("ProposedSupplyStatus", "e8")]),
    (0x0702, False, 0x0D): ("Set Supply Status", [
        ("IssuerEventID", "u32"), ("SupplyTamperState", "e8"), ("SupplyDepletionState", "e8"),
        ("SupplyUncontrolledFlowState", "e8"), ("LoadLimitSupplyState", "e8")]),
    (0x0702, False, 0x0E): ("Set Uncontrolled Flow Threshold", [
        ("ProviderID", "u32"), ("IssuerEventID", "u32"), ("UncontrolledFlowThreshold", "u16"),
        ("UnitofMeasure", "e8"), ("Multiplier", "u16"), ("Divisor", "u16"),
        ("StabilisationPeriod", "u8"), ("MeasurementPeriod", "u16")]),
    # ---- Metering 0x0702, server -> client
    (0x0702, True, 0x00): ("Get Profile Response", [
        ("EndTime", "utc"), ("Status", "e8"), ("ProfileIntervalPeriod", "e8"),
        ("NumberofPeriodsDelivered", "u8"),
        ("Intervals", ("count", "NumberofPeriodsDelivered", "u24"))]),
    (0x0702, True, 0x01): ("Request Mirror", []),
    (0x0702, True, 0x02): ("Remove Mirror", []),
    (0x0702, True, 0x03): ("Request Fast Poll Mode Response", [
        ("AppliedUpdatePeriod", "u8"), ("FastPollModeEndtime", "utc")]),
    (0x0702, True, 0x04): ("Schedule Snapshot Response", [
        ("IssuerEventID", "u32"), ("SnapshotResponsePayload", ("repeat", [
            ("SnapshotScheduleID", "u8"), ("SnapshotScheduleConfirmation", "e8")]))]),
    (0x0702, True, 0x05): ("Take Snapshot Response", [
        ("SnapshotID", "u32"), ("SnapshotConfirmation", "e8")]),
    (0x0702, True, 0x06): ("Publish Snapshot", [
        ("SnapshotID", "u32"), ("SnapshotTime", "utc"), ("TotalSnapshotsFound", "u8"),
        ("CommandIndex", "u8"), ("TotalNumberofCommands", "u8"), ("SnapshotCause", "b32"),
        ("SnapshotPayloadType", "e8"),
        ("SnapshotPayload", ("switch", "SnapshotPayloadType", _SNAPSHOT_PAYLOADS))]),
    (0x0702, True, 0x07): ("Get Sampled Data Response", [
        ("SampleID", "u16"), ("SampleStartTime", "utc"), ("SampleType", "e8"),
        ("SampleRequestInterval", "u16"), ("NumberofSamples", "u16"),
        ("Samples", ("count", "NumberofSamples", "u24"))]),
    (0x0702, True, 0x08): ("Configure Mirror", [
        ("IssuerEventID", "u32"), ("ReportingInterval", "u24"),
        ("MirrorNotificationReporting", "bool"), ("NotificationScheme", "u8")]),
    (0x0702, True, 0x09): ("Configure Notification Scheme", [
        ("IssuerEventID", "u32"), ("NotificationScheme", "u8"), ("NotificationFlagOrder", "b32")]),
    (0x0702, True, 0x0A): ("Configure Notification Flags", [
        ("IssuerEventID", "u32"), ("NotificationScheme", "u8"),
        ("NotificationFlagAttributeID", "u16"), ("ClusterID", "u16"), ("ManufacturerCode", "u16"),
        ("NumberofCommands", "u8"), ("CommandIDs", ("count", "NumberofCommands", "u8"))]),
    (0x0702, True, 0x0B): ("Get Notified Message", [
        ("NotificationScheme", "u8"), ("NotificationFlagAttributeID", "u16"),
        ("NotificationFlags", "b32")]),
    (0x0702, True, 0x0C): ("Supply Status Response", [
        ("ProviderID", "u32"), ("IssuerEventID", "u32"), ("ImplementationDateTime", "utc"),
        ("SupplyStatus", "e8")]),
    (0x0702, True, 0x0D): ("Start Sampling Response", [("SampleID", "u16")]),
    # ---- Messaging 0x0703
    (0x0703, True, 0x00): ("Display Message", [
        ("MessageID", "u32"), ("MessageControl", "b8"), ("StartTime", "utc"),
        ("DurationInMinutes", "u16"), ("Message", "chrstr"), OPTIONAL,
        ("ExtendedMessageControl", "b8")]),
    (0x0703, True, 0x01): ("Cancel Message", [("MessageID", "u32"), ("MessageControl", "b8")]),
    (0x0703, True, 0x02): ("Display Protected Message", [
        ("MessageID", "u32"), ("MessageControl", "b8"), ("StartTime", "utc"),
        ("DurationInMinutes", "u16"), ("Message", "chrstr"), OPTIONAL,
        ("ExtendedMessageControl", "b8")]),
    (0x0703, True, 0x03): ("Cancel All Messages", [("ImplementationDateTime", "utc")]),
    (0x0703, False, 0x00): ("Get Last Message", []),
    (0x0703, False, 0x01): ("Message Confirmation", [
        ("MessageID", "u32"), ("ConfirmationTime", "utc"), OPTIONAL,
        ("MessageConfirmationControl", "b8"), ("MessageResponse", "octstr")]),
    (0x0703, False, 0x02): ("Get Message Cancellation", [("EarliestImplementationTime", "utc")]),
    # ---- Prepayment 0x0705, client -> server
    (0x0705, False, 0x00): ("Select Available Emergency Credit", [
        ("CommandIssueDateTime", "utc"), ("OriginatingDevice", "e8")]),
    (0x0705, False, 0x02): ("Change Debt", [
        ("IssuerEventID", "u32"), ("DebtLabel", "octstr"), ("DebtAmount", "u32"),
        ("DebtRecoveryMethod", "e8"), ("DebtAmountType", "e8"), ("DebtRecoveryStartTime", "utc"),
        ("DebtRecoveryCollectionTime", "u16"), ("DebtRecoveryFrequency", "e8"),
        ("DebtRecoveryAmount", "u32"), ("DebtRecoveryBalancePercentage", "u16")]),
    (0x0705, False, 0x03): ("Emergency Credit Setup", [
        ("IssuerEventID", "u32"), ("StartTime", "utc"), ("EmergencyCreditLimit", "u32"),
        ("EmergencyCreditThreshold", "u32")]),
    (0x0705, False, 0x04): ("Consumer Top Up", [
        ("OriginatingDevice", "e8"), ("TopUpCode", "octstr")]),
    (0x0705, False, 0x05): ("Credit Adjustment", [
        ("IssuerEventID", "u32"), ("StartTime", "utc"), ("CreditAdjustmentType", "e8"),
        ("CreditAdjustmentValue", "s32")]),
    (0x0705, False, 0x06): ("Change Payment Mode", [
        ("ProviderID", "u32"), ("IssuerEventID", "u32"), ("ImplementationDateTime", "utc"),
        ("ProposedPaymentControlConfiguration", "b16"), ("CutOffValue", "s32")]),
    (0x0705, False, 0x07): ("Get Prepay Snapshot", [
        ("EarliestStartTime", "utc"), ("LatestEndTime", "utc"), ("SnapshotOffset", "u8"),
        ("SnapshotCause", "b32")]),
    (0x0705, False, 0x08): ("Get Top Up Log", [("LatestEndTime", "utc"), ("NumberofRecords", "u8")]),
    (0x0705, False, 0x09): ("Set Low Credit Warning Level", [("LowCreditWarningLevel", "u32")]),
    (0x0705, False, 0x0A): ("Get Debt Repayment Log", [
        ("LatestEndTime", "utc"), ("NumberofDebts", "u8"), ("DebtType", "e8")]),
    (0x0705, False, 0x0B): ("Set Maximum Credit Limit", [
        ("ProviderID", "u32"), ("IssuerEventID", "u32"), ("ImplementationDateTime", "utc"),
        ("MaximumCreditLevel", "u32"), ("MaximumCreditPerTopUp", "u32")]),
    (0x0705, False, 0x0C): ("Set Overall Debt Cap", [
        ("ProviderID", "u32"), ("IssuerEventID", "u32"), ("ImplementationDateTime", "utc"),
        ("OverallDebtCap", "u32")]),
    # ---- Prepayment 0x0705, server -> client
    (0x0705, True, 0x01): ("Publish Prepay Snapshot", [
        ("SnapshotID", "u32"), ("SnapshotTime", "utc"), ("TotalSnapshotsFound", "u8"),
        ("CommandIndex", "u8"), ("TotalNumberofCommands", "u8"), ("SnapshotCause", "b32"),
        ("SnapshotPayloadType", "e8"),
        ("SnapshotPayload", ("switch", "SnapshotPayloadType", _PREPAY_SNAPSHOT_PAYLOADS))]),
    (0x0705, True, 0x02): ("Change Payment Mode Response", [
        ("FriendlyCredit", "b8"), ("FriendlyCreditCalendarID", "u32"),
        ("EmergencyCreditLimit", "u32"), ("EmergencyCreditThreshold", "u32")]),
    (0x0705, True, 0x03): ("Consumer Top Up Response", [
        ("ResultType", "e8"), ("TopUpValue", "s32"), ("SourceofTopUp", "e8"),
        ("CreditRemaining", "s32")]),
    (0x0705, True, 0x05): ("Publish Top Up Log", [
        ("CommandIndex", "u8"), ("TotalNumberofCommands", "u8"),
        ("TopUpPayload", ("repeat", [("TopUpCode", "octstr"), ("TopUpAmount", "s32"),
                                     ("TopUpTime", "utc")]))]),
    (0x0705, True, 0x06): ("Publish Debt Log", [
        ("CommandIndex", "u8"), ("TotalNumberofCommands", "u8"),
        ("DebtPayload", ("repeat", [("CollectionTime", "utc"), ("AmountCollected", "u32"),
                                    ("DebtType", "e8"), ("OutstandingDebt", "u32")]))]),
    # ---- Calendar 0x0707, client -> server
    (0x0707, False, 0x00): ("Get Calendar", [
        ("EarliestStartTime", "utc"), ("MinIssuerEventID", "u32"), ("NumberofCalendars", "u8"),
        ("CalendarType", "e8"), ("ProviderID", "u32")]),
    (0x0707, False, 0x01): ("Get Day Profiles", [
        ("ProviderID", "u32"), ("IssuerCalendarID", "u32"), ("StartDayID", "u8"),
        ("NumberofDays", "u8")]),
    (0x0707, False, 0x02): ("Get Week Profiles", [
        ("ProviderID", "u32"), ("IssuerCalendarID", "u32"), ("StartWeekID", "u8"),
        ("NumberofWeeks", "u8")]),
    (0x0707, False, 0x03): ("Get Seasons", [("ProviderID", "u32"), ("IssuerCalendarID", "u32")]),
    (0x0707, False, 0x04): ("Get Special Days", [
        ("StartTime", "utc"), ("NumberofEvents", "u8"), ("CalendarType", "e8"),
        ("ProviderID", "u32"), ("IssuerCalendarID", "u32")]),
    (0x0707, False, 0x05): ("Get Calendar Cancellation", []),
    # ---- Calendar 0x0707, server -> client
    (0x0707, True, 0x00): ("Publish Calendar", [
        ("ProviderID", "u32"), ("IssuerEventID", "u32"), ("IssuerCalendarID", "u32"),
        ("StartTime", "utc"), ("CalendarType", "e8"), ("CalendarTimeReference", "e8"),
        ("CalendarName", "octstr"), ("NumberofSeasons", "u8"), ("NumberofWeekProfiles", "u8"),
        ("NumberofDayProfiles", "u8")]),
    (0x0707, True, 0x01): ("Publish Day Profile", [
        ("ProviderID", "u32"), ("IssuerEventID", "u32"), ("IssuerCalendarID", "u32"),
        ("DayID", "u8"), ("TotalNumberofScheduleEntries", "u8"), ("CommandIndex", "u8"),
        ("TotalNumberofCommands", "u8"), ("CalendarType", "e8"),
        ("DayScheduleEntries", ("switch", "CalendarType", {
            0: [("Entries", ("repeat", _DAY_ENTRY_TOU))],
            1: [("Entries", ("repeat", _DAY_ENTRY_TOU))],
            2: [("Entries", ("repeat", _DAY_ENTRY_TOU))],
            3: [("Entries", ("repeat", _DAY_ENTRY_FRIENDLY))],
            4: [("Entries", ("repeat", _DAY_ENTRY_AUX))],
        }))]),
    (0x0707, True, 0x02): ("Publish Week Profile", [
        ("ProviderID", "u32"), ("IssuerEventID", "u32"), ("IssuerCalendarID", "u32"),
        ("WeekID", "u8"), ("DayIDRefMonday", "u8"), ("DayIDRefTuesday", "u8"),
        ("DayIDRefWednesday", "u8"), ("DayIDRefThursday", "u8"), ("DayIDRefFriday", "u8"),
        ("DayIDRefSaturday", "u8"), ("DayIDRefSunday", "u8")]),
    (0x0707, True, 0x03): ("Publish Seasons", [
        ("ProviderID", "u32"), ("IssuerEventID", "u32"), ("IssuerCalendarID", "u32"),
        ("CommandIndex", "u8"), ("TotalNumberofCommands", "u8"),
        ("SeasonEntries", ("repeat", [("SeasonStartDate", "date"), ("WeekIDRef", "u8")]))]),
    (0x0707, True, 0x04): ("Publish Special Days", [
        ("ProviderID", "u32"), ("IssuerEventID", "u32"), ("IssuerCalendarID", "u32"),
        ("StartTime", "utc"), ("CalendarType", "e8"), ("TotalNumberofSpecialDays", "u8"),
        ("CommandIndex", "u8"), ("TotalNumberofCommands", "u8"),
        ("SpecialDayEntries", ("repeat", [("SpecialDayDate", "date"), ("DayIDRef", "u8")]))]),
    (0x0707, True, 0x05): ("Cancel Calendar", [
        ("ProviderID", "u32"), ("IssuerCalendarID", "u32"), ("CalendarType", "e8")]),
    # ---- Device Management 0x0708, client -> server
    (0x0708, False, 0x00): ("Get Change of Tenancy", []),
    (0x0708, False, 0x01): ("Get Change of Supplier", []),
    (0x0708, False, 0x02): ("Request New Password", [("PasswordType", "e8")]),
    (0x0708, False, 0x03): ("Get Site ID", []),
    (0x0708, False, 0x04): ("Report Event Configuration", [
        ("CommandIndex", "u8"), ("TotalCommands", "u8"),
        ("EventConfigurationPayload", ("repeat", [("EventID", "u16"),
                                                  ("EventConfiguration", "b8")]))]),
    (0x0708, False, 0x05): ("Get CIN", []),
    # ---- Device Management 0x0708, server -> client
    (0x0708, True, 0x00): ("Publish Change of Tenancy", [
        ("ProviderID", "u32"), ("IssuerEventID", "u32"), ("TariffType", "b8"),
        ("ImplementationDateTime", "utc"), ("ProposedTenancyChangeControl", "b32")]),
    (0x0708, True, 0x01): ("Publish Change of Supplier", [
        ("CurrentProviderID", "u32"), ("IssuerEventID", "u32"), ("TariffType", "b8"),
        ("ProposedProviderID", "u32"), ("ProviderChangeImplementationTime", "utc"),
        ("ProviderChangeControl", "b32"), ("ProposedProviderName", "octstr"),
        ("ProposedProviderContactDetails", "octstr")]),
    (0x0708, True, 0x02): ("Request New Password Response", [
        ("IssuerEventID", "u32"), ("ImplementationDateTime", "utc"), ("DurationInMinutes", "u16"),
        ("PasswordType", "e8"), ("Password", "octstr")]),
    (0x0708, True, 0x03): ("Update Site ID", [
        ("IssuerEventID", "u32"), ("SiteIDTime", "utc"), ("ProviderID", "u32"),
        ("SiteID", "octstr")]),
    (0x0708, True, 0x04): ("Set Event Configuration", [
        ("IssuerEventID", "u32"), ("StartDateTime", "utc"), ("EventConfiguration", "b8"),
        ("ConfigurationControl", "e8"),
        ("EventConfigurationPayload", ("switch", "ConfigurationControl", {
            0: [("NumberofEvents", "u8"), ("EventIDs", ("count", "NumberofEvents", "u16"))],
            1: [("EventGroupID", "u16")],
            2: [("LogID", "e8")],
            3: [("ConfigurationValueMatch", "b8")],
        }))]),
    (0x0708, True, 0x05): ("Get Event Configuration", [("EventID", "u16")]),
    (0x0708, True, 0x06): ("Update CIN", [
        ("IssuerEventID", "u32"), ("ImplementationTime", "utc"), ("ProviderID", "u32"),
        ("CustomerIDNumber", "octstr")]),
    # ---- Events 0x0709
    (0x0709, False, 0x00): ("Get Event Log", [
        ("EventControlLogID", "b8"), ("EventID", "u16"), ("StartTime", "utc"),
        ("EndTime", "utc"), ("NumberofEvents", "u8"), ("EventOffset", "u16")]),
    (0x0709, False, 0x01): ("Clear Event Log Request", [("LogID", "b8")]),
    (0x0709, True, 0x00): ("Publish Event", [
        ("LogID", "e8"), ("EventID", "u16"), ("EventTime", "utc"), ("EventControl", "b8"),
        ("EventData", "octstr")]),
    (0x0709, True, 0x01): ("Publish Event Log", [
        ("TotalNumberofMatchingEvents", "u16"), ("CommandIndex", "u8"),
        ("TotalCommands", "u8"), ("NumberofEventsLogPayloadControl", "b8"),
        ("LogPayload", ("repeat", [("LogID", "e8"), ("EventID", "u16"), ("EventTime", "utc"),
                                   ("EventData", "octstr")]))]),
    (0x0709, True, 0x02): ("Clear Event Log Response", [("ClearedEventsLogs", "b8")]),
    # ---- Basic 0x0000
    (0x0000, False, 0x00): ("Reset to Factory Defaults", []),
}

#: profile-wide (ZCL general) command names
GENERAL_COMMANDS: dict[int, str] = {
    0x00: "Read Attributes", 0x01: "Read Attributes Response", 0x02: "Write Attributes",
    0x03: "Write Attributes Undivided", 0x04: "Write Attributes Response",
    0x05: "Write Attributes No Response", 0x06: "Configure Reporting",
    0x07: "Configure Reporting Response", 0x08: "Read Reporting Configuration",
    0x09: "Read Reporting Configuration Response", 0x0A: "Report Attributes",
    0x0B: "Default Response", 0x0C: "Discover Attributes",
    0x0D: "Discover Attributes Response",
}


def command_layout(cluster_id: int, server_to_client: bool, command_id: int):
    """Return C{(name, layout)} for a cluster-specific command, or None if unknown."""
    return COMMANDS.get((cluster_id, server_to_client, command_id))


# ---------------------------------------------------------------------------------------
# layout interpreter

def _tier_block_count(ctx: dict) -> int:
    v = ctx.get("NumberofTiersAndBlockThresholdsInUse", 0)
    tiers, blocks = v >> 4, v & 0x0F
    return (tiers or 1) * blocks


def _dec_layout(layout: list, data: bytes, off: int, end: int, field: str) -> tuple[dict, int]:
    out: dict[str, Any] = {}
    optional = False
    for name, spec in layout:
        if spec == "optional":
            optional = True
            continue
        if optional and off == end:
            break
        f = f"{field}.{name}"
        if isinstance(spec, str):
            v, off = _dec_scalar(spec, data[:end], off, f)
        else:
            kind = spec[0]
            if kind == "repeat":
                v = []
                while off < end:
                    item, off = _dec_layout(spec[1], data, off, end, f"{f}[{len(v)}]")
                    v.append(item)
            elif kind == "count":
                n = out.get(spec[1])
                if not isinstance(n, int):
                    raise CodecError(f, off, f"count field {spec[1]} missing")
                v, off = _dec_counted(spec[2], n, data, off, end, f)
            elif kind == "call":
                n = _tier_block_count(out) if spec[1] == "tier_blocks" else \
                    (out.get("TierNumberOfBlockThresholds", 0) & 0x0F)
                v, off = _dec_counted("u48", n, data, off, end, f)
            elif kind == "switch":
                sel = out.get(spec[1])
                sub = spec[2].get(sel)
                if sub is None:
                    v = {"raw_payload": hexu(data[off:end])}
                    off = end
                else:
                    v, off = _dec_layout(sub, data, off, end, f)
            else:  # pragma: no cover - layout tables are static
                raise CodecError(f, off, f"bad layout {spec!r}")
        out[name] = v
    return out, off


def _dec_counted(item, n: int, data: bytes, off: int, end: int, f: str) -> tuple[list, int]:
    v = []
    for i in range(n):
        if isinstance(item, str):
            x, off = _dec_scalar(item, data[:end], off, f"{f}[{i}]")
        else:
            x, off = _dec_layout(item, data, off, end, f"{f}[{i}]")
        v.append(x)
    return v, off


def _enc_layout(layout: list, tree: dict, out: bytearray, field: str) -> None:
    if not isinstance(tree, dict):
        raise CodecError(field, 0, "payload must be an object")
    optional = False
    for name, spec in layout:
        if spec == "optional":
            optional = True
            continue
        f = f"{field}.{name}"
        if name not in tree:
            if optional:
                break
            raise CodecError(f, 0, "missing field")
        v = tree[name]
        if isinstance(spec, str):
            _enc_scalar(spec, v, out, f)
            continue
        kind = spec[0]
        if not isinstance(v, (list, dict)):
            raise CodecError(f, 0, "expected a list or object")
        if kind == "repeat":
            for i, item in enumerate(v):
                _enc_layout(spec[1], item, out, f"{f}[{i}]")
        elif kind in ("count", "call"):
            if kind == "count":
                n = tree.get(spec[1])
                item = spec[2]
            else:
                n = _tier_block_count(tree) if spec[1] == "tier_blocks" else \
                    (tree.get("TierNumberOfBlockThresholds", 0) & 0x0F)
                item = "u48"
            if not isinstance(v, list) or n != len(v):
                raise CodecError(f, 0, f"list length {len(v)} disagrees with count {n}")
            for i, x in enumerate(v):
                if isinstance(item, str):
                    _enc_scalar(item, x, out, f"{f}[{i}]")
                else:
                    _enc_layout(item, x, out, f"{f}[{i}]")
        elif kind == "switch":
            sub = spec[2].get(tree.get(spec[1]))
            if sub is None:
                out += unhex(v.get("raw_payload", ""), f)
            else:
                _enc_layout(sub, v, out, f)


# ---------------------------------------------------------------------------------------
# profile-wide command payloads

def _dec_general(cluster_id: int, cmd: int, data: bytes, off: int, field: str) -> dict:
    end = len(data)
    names = ATTRIBUTE_NAMES.get(cluster_id, {})

    def attr(rec: dict, aid: int) -> None:
        rec["AttributeID"] = aid
        n = names.get(aid)
        if n:
            rec["AttributeName"] = n

    def rd_u16(o: int, f: str) -> tuple[int, int]:
        e = _need(data, o, 2, f)
        return data[o] | (data[o + 1] << 8), e

    if cmd == 0x00:
        recs = []
        while off < end:
            aid, off = rd_u16(off, f"{field}.AttributeID")
            rec: dict = {}
            attr(rec, aid)
            recs.append(rec)
        return {"Attributes": recs}
    if cmd in (0x01, 0x02, 0x03, 0x05, 0x0A):
        recs = []
        while off < end:
            f = f"{field}.Records[{len(recs)}]"
            aid, off = rd_u16(off, f + ".AttributeID")
            rec = {}
            attr(rec, aid)
            if cmd == 0x01:
                e = _need(data, off, 1, f + ".Status")
                rec["Status"] = data[off]
                rec["StatusName"] = ZCL_STATUS.get(data[off], "unknown")
                off = e
                if rec["Status"] != 0:
                    recs.append(rec)
                    continue
            e = _need(data, off, 1, f + ".DataType")
            t = data[off]
            rec["DataType"] = t
            if t in ZCL_DATA_TYPES:
                rec["DataTypeName"] = ZCL_DATA_TYPES[t][0]
            rec["Value"], off = decode_zcl_value(t, data, e, f + ".Value")
            recs.append(rec)
        return {"Records": recs}
    if cmd == 0x04:
        if end - off == 1:
            return {"Records": [{"Status": data[off], "StatusName": ZCL_STATUS.get(data[off], "unknown")}]}
        recs = []
        while off < end:
            f = f"{field}.Records[{len(recs)}]"
            e = _need(data, off, 3, f)
            rec = {"Status": data[off], "StatusName": ZCL_STATUS.get(data[off], "unknown")}
            attr(rec, data[off + 1] | (data[off + 2] << 8))
            recs.append(rec)
            off = e
        return {"Records": recs}
    if cmd == 0x0B:
        e = _need(data, off, 2, field)
        if e != end:
            raise CodecError(field, e, "trailing bytes after Default Response")
        return {"CommandID": data[off], "Status": data[off + 1],
                "StatusName": ZCL_STATUS.get(data[off + 1], "unknown")}
    if cmd == 0x0C:
        e = _need(data, off, 3, field)
        if e != end:
            raise CodecError(field, e, "trailing bytes after Discover Attributes")
        return {"StartAttributeID": data[off] | (data[off + 1] << 8),
                "MaximumAttributeIDs": data[off + 2]}
    if cmd == 0x0D:
        e = _need(data, off, 1, field)
        res: dict = {"DiscoveryComplete": data[off], "Attributes": []}
        off = e
        while off < end:
            e = _need(data, off, 3, field)
            rec = {}
            attr(rec, data[off] | (data[off + 1] << 8))
            rec["DataType"] = data[off + 2]
            res["Attributes"].append(rec)
            off = e
        return res
    return None  # type: ignore[return-value]


def _enc_general(cmd: int, p: dict, out: bytearray, field: str) -> bool:
    try:
        if cmd == 0x00:
            for r in p["Attributes"]:
                out += r["AttributeID"].to_bytes(2, "little")
            return True
        if cmd in (0x01, 0x02, 0x03, 0x05, 0x0A):
            for i, r in enumerate(p["Records"]):
                out += r["AttributeID"].to_bytes(2, "little")
                if cmd == 0x01:
                    out.append(r["Status"])
                    if r["Status"] != 0:
                        continue
                out.append(r["DataType"])
                encode_zcl_value(r["DataType"], r.get("Value"), out, f"{field}.Records[{i}].Value")
            return True
        if cmd == 0x04:
            recs = p["Records"]
            if len(recs) == 1 and "AttributeID" not in recs[0]:
                out.append(recs[0]["Status"])
                return True
            for r in recs:
                out.append(r["Status"])
                out += r["AttributeID"].to_bytes(2, "little")
            return True
        if cmd == 0x0B:
            out += bytes((p["CommandID"], p["Status"]))
            return True
        if cmd == 0x0C:
            out += p["StartAttributeID"].to_bytes(2, "little")
            out.append(p["MaximumAttributeIDs"])
            return True
        if cmd == 0x0D:
            out.append(int(p["DiscoveryComplete"]))
            for r in p["Attributes"]:
                out += r["AttributeID"].to_bytes(2, "little")
                out.append(r["DataType"])
            return True
    except CodecError:
        raise
    except (KeyError, TypeError, ValueError, OverflowError, AttributeError) as e:
        raise CodecError(field, 0, f"cannot encode {GENERAL_COMMANDS.get(cmd)}: {e!r}") from None
    return False


# ---------------------------------------------------------------------------------------
# payloads and frames

def decode_zcl_payload(cluster_id: int, frame_control: int, command_id: int,
                       payload: bytes, field: str = "payload") -> dict:
    """Decode a ZCL command payload (the bytes after the ZCL header).

    Returns a dict of named fields; an unknown command gives C{{"raw_payload": hex}}.
    """
    if frame_control & 0x04:  # manufacturer specific: layout unknown
        return {"raw_payload": hexu(payload)}
    if frame_control & 0x03 == 0:
        res = _dec_general(cluster_id, command_id, payload, 0, field)
        if res is None:
            return {"raw_payload": hexu(payload)}
        return res
    entry = COMMANDS.get((cluster_id, bool(frame_control & 0x08), command_id))
    if entry is None:
        return {"raw_payload": hexu(payload)}
    res, off = _dec_layout(entry[1], payload, 0, len(payload), field)
    if off != len(payload):
        raise CodecError(field, off, f"{len(payload) - off} trailing bytes after {entry[0]}")
    return res


def encode_zcl_payload(cluster_id: int, frame_control: int, command_id: int,
                       fields: dict, field: str = "payload") -> bytes:
    """Encode a ZCL command payload tree produced by L{decode_zcl_payload}."""
    if not isinstance(fields, dict):
        raise CodecError(field, 0, "payload must be an object")
    if "raw_payload" in fields:
        return unhex(fields["raw_payload"], field)
    out = bytearray()
    if frame_control & 0x03 == 0:
        if _enc_general(command_id, fields, out, field):
            return bytes(out)
        raise CodecError(field, 0, f"no layout for general command 0x{command_id:02X}")
    entry = COMMANDS.get((cluster_id, bool(frame_control & 0x08), command_id))
    if entry is None:
        raise CodecError(field, 0, f"no layout for command 0x{command_id:02X}")
    _enc_layout(entry[1], fields, out, field)
    return bytes(out)


def command_name(cluster_id: int, frame_control: int, command_id: int) -> str | None:
    """ZCL/ZSE name of a command given the frame control (type and direction bits)."""
    if frame_control & 0x03 == 0:
        return GENERAL_COMMANDS.get(command_id)
    entry = COMMANDS.get((cluster_id, bool(frame_control & 0x08), command_id))
    return entry[0] if entry else None


def decode_zcl_header(data: bytes, off: int, field: str = "zcl") -> tuple[dict, int]:
    """Decode a ZCL frame header (frame control, [manufacturer code], TSN, command id)."""
    e = _need(data, off, 1, field + ".frame_control")
    fc = data[off]
    hdr: dict[str, Any] = {"frame_control": fc,
                           "frame_type": "cluster-specific" if fc & 0x03 == 1 else
                           ("profile-wide" if fc & 0x03 == 0 else "reserved"),
                           "direction": "server-to-client" if fc & 0x08 else "client-to-server",
                           "disable_default_response": bool(fc & 0x10)}
    if fc & 0x03 > 1:
        raise CodecError(field + ".frame_control", off, f"reserved frame type in 0x{fc:02X}")
    off = e
    if fc & 0x04:
        e = _need(data, off, 2, field + ".manufacturer_code")
        hdr["manufacturer_code"] = data[off] | (data[off + 1] << 8)
        off = e
    e = _need(data, off, 2, field)
    hdr["transaction_sequence_number"] = data[off]
    hdr["command_id"] = data[off + 1]
    return hdr, e


def encode_zcl_header(hdr: dict, field: str = "zcl") -> bytes:
    """Encode the ZCL frame header fields of C{hdr}."""
    try:
        fc = hdr["frame_control"]
        out = bytearray((fc,))
        if fc & 0x04:
            out += hdr["manufacturer_code"].to_bytes(2, "little")
        out += bytes((hdr["transaction_sequence_number"], hdr["command_id"]))
        return bytes(out)
    except (KeyError, TypeError, ValueError, OverflowError, AttributeError) as e:
        raise CodecError(field, 0, f"cannot encode ZCL header: {e!r}") from None


def decode_zcl_frame(cluster_id: int, data: bytes, field: str = "zcl") -> dict:
    """Decode a complete plaintext ZCL frame (header + payload) for C{cluster_id}."""
    hdr, off = decode_zcl_header(data, 0, field)
    name = command_name(cluster_id, hdr["frame_control"], hdr["command_id"])
    if name:
        hdr["command"] = name
    hdr["payload"] = decode_zcl_payload(cluster_id, hdr["frame_control"], hdr["command_id"],
                                        data[off:], field + ".payload")
    return hdr


def encode_zcl_frame(cluster_id: int, tree: dict, field: str = "zcl") -> bytes:
    """Encode a tree produced by L{decode_zcl_frame}."""
    return encode_zcl_header(tree, field) + encode_zcl_payload(
        cluster_id, tree["frame_control"], tree["command_id"], tree.get("payload", {}),
        field + ".payload")
