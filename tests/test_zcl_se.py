"""SE cluster definitions (Basic, Identify, Time, Price, Metering) and the generic cluster-command
codec, checked against han-zigbee-wireshark.md section 4 (identifiers verified with tshark there)
and scapy's own ZSE command classes. tshark's names are compared in test_zcl_tshark.py."""

from __future__ import annotations

import pytest
from scapy.layers.zigbee import (ZCLMeteringGetProfile, ZCLPriceGetCurrentPrice,
                                 ZCLPriceGetScheduledPrices, ZCLPricePublishPrice)

from protocols.errors import CodecError
from protocols.zcl import types as T
from protocols.zcl.clusters import (cluster_frame, clusters, decode_command, encode_command,
                                    get_cluster)
from protocols.zcl.frame import encode_zcl
from protocols.zcl.se import BASIC, IDENTIFY, METERING, PRICE, TIME

C2S, S2C = 0, 1


def test_cluster_ids() -> None:
    # han-zigbee-wireshark.md 4 (Wireshark's cluster table)
    assert {c.cluster_id: c.name for c in clusters().values()} == {
        0x0000: "Basic", 0x0003: "Identify", 0x0006: "OnOff", 0x000A: "Time", 0x0700: "Price",
        0x0702: "Metering", 0x0704: "Tunneling", 0x0800: "Key Establishment",
        0x0019: "OTA Upgrade", 0x0703: "Messaging", 0x0705: "Prepayment", 0x0707: "Calendar",
        0x0708: "Device Management", 0x0709: "Events"}
    assert get_cluster(0x0702) is METERING
    with pytest.raises(CodecError):
        get_cluster(0x0706)


# han-zigbee-wireshark.md 4.4 (names verified against tshark's value strings)
METERING_S2C = ["GetProfileResponse", "RequestMirror", "RemoveMirror",
                "RequestFastPollModeResponse", "ScheduleSnapshotResponse",
                "TakeSnapshotResponse", "PublishSnapshot", "GetSampledDataResponse",
                "ConfigureMirror", "ConfigureNotificationScheme", "ConfigureNotificationFlags",
                "GetNotifiedMessage", "SupplyStatusResponse", "StartSamplingResponse"]
METERING_C2S = ["GetProfile", "RequestMirrorResponse", "MirrorRemoved", "RequestFastPollMode",
                "ScheduleSnapshot", "TakeSnapshot", "GetSnapshot", "StartSampling",
                "GetSampledData", "MirrorReportAttributeResponse", "ResetLoadLimitCounter",
                "ChangeSupply", "LocalChangeSupply", "SetSupplyStatus",
                "SetUncontrolledFlowThreshold"]
# han-zigbee-wireshark.md 4.3
PRICE_S2C = ["PublishPrice", "PublishBlockPeriod", "PublishConversionFactor",
             "PublishCalorificValue", "PublishTariffInformation", "PublishPriceMatrix",
             "PublishBlockThresholds", "PublishCO2Value", "PublishTierLabels",
             "PublishBillingPeriod", "PublishConsolidatedBill", "PublishCPPEvent",
             "PublishCreditPayment", "PublishCurrencyConversion", "CancelTariff"]
PRICE_C2S = ["GetCurrentPrice", "GetScheduledPrices", "PriceAcknowledgement",
             "GetBlockPeriods", "GetConversionFactor", "GetCalorificValue",
             "GetTariffInformation", "GetPriceMatrix", "GetBlockThresholds", "GetCO2Value",
             "GetTierLabels", "GetBillingPeriod", "GetConsolidatedBill", "CPPEventResponse",
             "GetCreditPayment", "GetCurrencyConversion", "GetTariffCancellation"]


@pytest.mark.parametrize("cluster, direction, names", [
    (METERING, S2C, METERING_S2C), (METERING, C2S, METERING_C2S),
    (PRICE, S2C, PRICE_S2C), (PRICE, C2S, PRICE_C2S)])
def test_all_commands_present_with_spec_ids(cluster, direction, names) -> None:
    got = {i: c.name for i, c in cluster.commands(direction).items()}
    assert got == dict(enumerate(names))


def test_attribute_ids_from_the_research_notes() -> None:
    # 4.1 Basic / Time
    assert BASIC.attribute_id("PhysicalEnvironment") == 0x0011
    assert BASIC.attributes[0x0011].type_id == T.ENUM8 and BASIC.attributes[0x0011].writable
    assert [TIME.attributes[i].name for i in range(10)] == [
        "Time", "TimeStatus", "TimeZone", "DstStart", "DstEnd", "DstShift", "StandardTime",
        "LocalTime", "LastSetTime", "ValidUntilTime"]
    assert TIME.attributes[0].type_id == T.UTC_TIME
    assert TIME.attributes[1].type_id == T.BITMAP8
    assert IDENTIFY.attributes[0].name == "IdentifyTime"
    # 4.4 Metering key attributes and types
    for attr_id, name, type_id in [
            (0x0000, "CurrentSummationDelivered", T.UINT48), (0x0200, "Status", T.BITMAP8),
            (0x0300, "UnitofMeasure", T.ENUM8), (0x0301, "Multiplier", T.UINT24),
            (0x0302, "Divisor", T.UINT24), (0x0303, "SummationFormatting", T.BITMAP8),
            (0x0306, "MeteringDeviceType", T.BITMAP8),
            (0x0400, "InstantaneousDemand", T.INT24)]:
        a = METERING.attributes[attr_id]
        assert (a.name, a.type_id) == (name, type_id)
        assert a.readable and a.reportable
    assert METERING.client_attributes[0x0000].name == "FunctionalNotificationFlags"
    assert METERING.client_attributes[0x0000].type_id == T.BITMAP32
    # 4.3: the CH answers CommodityType (0x0300) on its Price cluster
    assert PRICE.attribute_id("CommodityType") == 0x0300
    assert PRICE.attributes[0x0300].type_id == T.ENUM8


def test_every_attribute_default_encodes() -> None:
    for c in clusters().values():
        for attrs in (c.attributes, c.client_attributes):
            for attr_id, a in attrs.items():
                assert a.access and set(a.access) <= set("rwp"), (c.name, a.name)
                T.encode_value(a.type_id, a.default)


def test_mirroring_payloads_match_the_research_notes() -> None:
    # RequestMirror: no payload; RequestMirrorResponse: endpoint ID u16 LE (0xFFFF refused)
    assert encode_command(0x0702, S2C, "RequestMirror") == b""
    assert encode_command(0x0702, C2S, "RequestMirrorResponse", EndPointID=0x007B) == b"\x7b\x00"
    assert decode_command(0x0702, C2S, 0x01, b"\xff\xff") == {"EndPointID": 0xFFFF}
    # the anchor's frame: control 0x11 (c->s, default response disabled)
    frame = cluster_frame(0x0702, C2S, "RequestMirrorResponse", 8, EndPointID=0x007B,
                          disable_default_response=True)
    assert encode_zcl(frame) == bytes.fromhex("1108017b00")
    # ConfigureMirror: issuer event id u32, reporting interval u24, notification bool, scheme u8
    wire = encode_command(0x0702, S2C, 0x08, IssuerEventID=0x01020304,
                          ReportingInterval=0x000708, MirrorNotificationReporting=True,
                          NotificationScheme=1)
    assert wire == bytes.fromhex("04030201" "080700" "01" "01")
    assert decode_command(0x0702, S2C, 0x08, wire) == dict(
        IssuerEventID=0x01020304, ReportingInterval=1800,
        MirrorNotificationReporting=True, NotificationScheme=1)


def test_against_scapy_zse_commands() -> None:
    wire = encode_command(0x0702, C2S, "GetProfile", IntervalChannel=0, EndTime=753315200,
                          NumberofPeriods=24)
    assert wire == bytes(ZCLMeteringGetProfile(Interval_Channel=0, End_Time=753315200,
                                               NumberOfPeriods=24))
    assert encode_command(0x0700, C2S, "GetCurrentPrice", CommandOptions=1) == \
        bytes(ZCLPriceGetCurrentPrice(reserved=0, Requestor_Rx_On_When_Idle=1))
    assert encode_command(0x0700, C2S, "GetScheduledPrices", StartTime=5,
                          NumberofEvents=3) == \
        bytes(ZCLPriceGetScheduledPrices(start_time=5, number_of_events=3))
    # scapy's rate_label has no length octet of its own (a scapy gap): give it the ZCL
    # octet string (length-prefixed) as raw bytes.
    scapy_price = ZCLPricePublishPrice(
        provider_id=0x11223344, rate_label=b"\x08Standard", issuer_event_id=9, current_time=100,
        unit_of_measure=0, currency=826, price_trailing_digit=0x51, number_of_price_tiers=0x21,
        start_time=90, duration_in_minutes=30, price=2734, price_ratio=0xFF,
        generation_price=0xFFFFFFFF, generation_price_ratio=0xFF,
        alternate_cost_delivered=233, alternate_cost_unit=1,
        alternate_cost_trailing_digit=0x40, number_of_block_thresholds=3, price_control=0)
    got = decode_command(0x0700, S2C, 0x00, bytes(scapy_price))
    assert got["RateLabel"] == b"Standard" and got["Price"] == 2734
    assert got["PriceTrailingDigitAndPriceTier"] == 0x51
    assert got["NumberofPriceTiersAndRegisterTier"] == 0x21
    assert got["PriceControl"] == 0 and got["NumberofBlockThresholds"] == 3
    # the SE 1.2 fields scapy does not send come back as None
    assert got["NumberofGenerationTiers"] is None and got["ExtendedRegisterTier"] is None
    fields = {k: v for k, v in got.items() if v is not None}
    assert encode_command(0x0700, S2C, "PublishPrice", **fields) == bytes(scapy_price)


def test_se10_publish_price_without_optional_fields() -> None:
    base = dict(ProviderID=1, RateLabel=b"", IssuerEventID=2, CurrentTime=3,
                UnitofMeasure=0, Currency=826, PriceTrailingDigitAndPriceTier=0x21,
                NumberofPriceTiersAndRegisterTier=0x11, StartTime=0,
                DurationInMinutes=0xFFFF, Price=100)
    wire = encode_command(0x0700, S2C, 0x00, **base)
    assert len(wire) == 4 + 1 + 4 + 4 + 1 + 2 + 1 + 1 + 4 + 2 + 4
    got = decode_command(0x0700, S2C, 0x00, wire)
    assert {k: v for k, v in got.items() if v is not None} == base


def test_lists_and_records() -> None:
    # the count field (NumberofPeriodsDelivered) may be left out: it is the list's length
    wire = encode_command(0x0702, S2C, "GetProfileResponse", EndTime=1, Status=0,
                          ProfileIntervalPeriod=3, Intervals=(1, 0xFFFFFF))
    assert wire[-7:] == bytes.fromhex("02" "010000" "ffffff")
    assert decode_command(0x0702, S2C, 0, wire)["Intervals"] == (1, 0xFFFFFF)
    with pytest.raises(CodecError):  # fewer intervals than NumberofPeriodsDelivered
        decode_command(0x0702, S2C, 0, wire[:-1])
    with pytest.raises(CodecError):  # the count disagrees with the list
        encode_command(0x0702, S2C, "GetProfileResponse", EndTime=1, Status=0,
                       ProfileIntervalPeriod=3, NumberofPeriodsDelivered=3,
                       Intervals=(1, 0xFFFFFF))
    labels = ({"TierID": 1, "TierLabel": b"Day"}, {"TierID": 2, "TierLabel": b"Night"})
    wire = encode_command(0x0700, S2C, "PublishTierLabels", ProviderID=1, IssuerEventID=2,
                          IssuerTariffID=3, CommandIndex=0, TotalNumberofCommands=1,
                          NumberofLabels=2, TierLabels=labels)
    assert wire.endswith(bytes.fromhex("02" "01" "03") + b"Day" + b"\x02\x05Night")
    assert decode_command(0x0700, S2C, 8, wire)["TierLabels"] == labels


@pytest.mark.parametrize("call", [
    lambda: encode_command(0x0702, C2S, "RequestMirrorResponse"),
    lambda: encode_command(0x0702, C2S, "RequestMirrorResponse", EndPointID=1, extra=2),
    lambda: encode_command(0x0702, C2S, "RequestMirrorResponse", EndPointID=0x10000),
    lambda: encode_command(0x0702, C2S, "NoSuchCommand"),
    lambda: encode_command(0x0702, S2C, 0x7F),
    lambda: encode_command(0x0999, S2C, 0x00),
    lambda: decode_command(0x0702, C2S, 0x01, b"\x7b"),
    lambda: decode_command(0x0702, S2C, 0x08, b"\x00" * 8),
    lambda: decode_command(0x0700, S2C, 0x00, b"\x01\x00\x00\x00\x09ab"),
])
def test_codec_errors(call) -> None:
    with pytest.raises(CodecError):
        call()


def test_trailing_octets_from_newer_versions_are_ignored() -> None:
    assert decode_command(0x0702, C2S, 0x01, b"\x7b\x00\xaa") == {"EndPointID": 0x7B}


def test_tunneling_payloads_from_the_research_notes() -> None:
    # 4.6: RequestTunnel: protocol (u8), manufacturer code (u16 LE), flow control (bool),
    # max incoming transfer size (u16 LE); GB-HRGP is protocol 6.
    wire = encode_command(0x0704, C2S, "RequestTunnel", ProtocolID=6, ManufacturerCode=0xFFFF,
                          FlowControlSupport=False, MaximumIncomingTransferSize=1500)
    assert wire == bytes.fromhex("06" "ffff" "00" "dc05")
    assert encode_command(0x0704, S2C, "RequestTunnelResponse", TunnelID=0, TunnelStatus=0,
                          MaximumIncomingTransferSize=1500) == bytes.fromhex("0000" "00"
                                                                                 "dc05")
    # TransferData: tunnel id + data; GB-HRGP GET is the single octet 0x01
    assert encode_command(0x0704, C2S, "TransferData", TunnelID=0, Data=b"\x01") == \
        b"\x00\x00\x01"
    assert decode_command(0x0704, S2C, 0x01, b"\x00\x00\x02\x00\xdd") == {
        "TunnelID": 0, "Data": b"\x02\x00\xdd"}
    assert [c.name for c in get_cluster(0x0704).commands(C2S).values()] == [
        "RequestTunnel", "CloseTunnel", "TransferData", "TransferDataError", "AckTransferData",
        "ReadyData", "GetSupportedTunnelProtocols"]
    assert [c.name for c in get_cluster(0x0704).commands(S2C).values()] == [
        "RequestTunnelResponse", "TransferData", "TransferDataError", "AckTransferData",
        "ReadyData", "SupportedTunnelProtocolsResponse", "TunnelClosureNotification"]


def test_key_establishment_formats_from_the_research_notes() -> None:
    ke = get_cluster(0x0800)
    assert ke.attributes[0].name == "KeyEstablishmentSuite" and ke.attributes[0].default == 2
    cert = bytes(74)
    wire = encode_command(0x0800, C2S, 0x00, KeyEstablishmentSuite=2,
                          EphemeralDataGenerateTime=10, ConfirmKeyGenerateTime=20,
                          Identity=cert)
    assert wire == bytes.fromhex("0200" "0a" "14") + cert
    assert encode_command(0x0800, S2C, "TerminateKeyEstablishment", StatusCode=5, WaitTime=2,
                          KeyEstablishmentSuite=2) == bytes.fromhex("05" "02" "0200")
    with pytest.raises(CodecError):
        encode_command(0x0800, C2S, "ConfirmKeyDataRequest",
                       SecureMessageAuthenticationCode=bytes(15))
    with pytest.raises(CodecError):
        decode_command(0x0800, S2C, 0x02, bytes(15))
