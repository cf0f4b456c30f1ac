"""Conformance of the ZCL codecs against Wireshark's ZCL / ZSE dissectors (tshark 4.0).

Frames built with protocols.zcl are wrapped in unsecured IEEE 802.15.4 / ZigBee NWK / APS
headers (profile 0x0109, the right cluster), written to a LINKTYPE 195 pcap, and tshark's
decoded fields are compared with the values we encoded. The names of every command and
attribute of every cluster are checked in test_zcl_tshark_clusters.py.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
from datetime import datetime, timezone

import pytest

from protocols.zcl import foundation as f
from protocols.zcl import types as T
from protocols.zcl.clusters import cluster_frame
from protocols.zcl.frame import ZclFrame, encode_zcl
from protocols.zcl.foundation import Status, global_frame
from protocols.zcl.se import BASIC, METERING, TIME
from protocols.zcl.server import AttributeServer, default_response
from tests.conftest import needs_tshark

pytestmark = needs_tshark

C2S, S2C = 0, 1


# --- building the capture ------------------------------------------------------------------

def _crc16_kermit(data: bytes) -> int:
    crc = 0
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0x8408 if crc & 1 else crc >> 1
    return crc


def _air(zcl: bytes, cluster: int, seq: int, *, src: int = 0x1234, dst: int = 0x0000,
         src_ep: int = 1, dst_ep: int = 1) -> bytes:
    """802.15.4 data (FCF 0x8861) / NWK data / APS data unicast (profile 0x0109) / ZCL."""
    aps = bytes((0x00, dst_ep)) + struct.pack("<HH", cluster, 0x0109) + bytes((src_ep, seq))
    nwk = struct.pack("<HHHBB", 0x0008, dst, src, 30, seq)
    mac = struct.pack("<HBHHH", 0x8861, seq, 0x1A62, dst, src) + nwk + aps + zcl
    return mac + struct.pack("<H", _crc16_kermit(mac))


def _utc_text(utc_time: int) -> str:
    dt = datetime.fromtimestamp(T.unix_from_utc_time(utc_time), timezone.utc)
    return f"{dt:%b} {dt.day:2d}, {dt:%Y %H:%M:%S}.000000000 UTC"


class Capture:
    """Frames plus the tshark fields expected for each."""

    def __init__(self) -> None:
        self.frames: list[bytes] = []
        self.expect: list[tuple[int, str, list]] = []   # (frame index, field, values)
        self.names: dict[str, int] = {}

    def add(self, name: str, frame: ZclFrame, cluster: int, **expect: list) -> int:
        i = len(self.frames)
        src, dst = (0x1234, 0x0000) if frame.direction == C2S else (0x0000, 0x1234)
        self.frames.append(_air(encode_zcl(frame), cluster, i & 0xFF, src=src, dst=dst))
        self.names[name] = i
        for field, values in expect.items():
            self.expect.append((i, field.replace("__", "."), values))
        return i


def _norm(got: str, want: object) -> object:
    if isinstance(want, bool):
        return got in ("1", "True")
    if isinstance(want, int):
        return int(got, 0)
    if isinstance(want, float):
        return float(got)
    return got.replace(":", "")


# --- frames ----------------------------------------------------------------------------------

CAP = Capture()
MET, PRC, TIM, BAS = 0x0702, 0x0700, 0x000A, 0x0000

ESME = AttributeServer.with_defaults(
    METERING, ["CurrentSummationDelivered", "InstantaneousDemand", "UnitofMeasure",
               "Multiplier", "Divisor", "SummationFormatting", "MeteringDeviceType", "Status",
               "CurrentDayConsumptionDelivered", "PreviousDayConsumptionDelivered"],
    {"CurrentSummationDelivered": 123456789, "InstantaneousDemand": -1500, "Divisor": 1000,
     "SummationFormatting": 0x33, "Status": 0x00, "CurrentDayConsumptionDelivered": 8123,
     "PreviousDayConsumptionDelivered": 9001})

_read = global_frame(f.ReadAttributes((0x0000, 0x0400, 0x0300, 0x0302, 0x0401, 0x4444)), 10)
CAP.add("read", _read, MET, zbee_zcl__cmd__id=[0], zbee_zcl__dir=[0],
        zbee_zcl_se__met__attr_id=[0x0000, 0x0400, 0x0300, 0x0302, 0x0401, 0x4444])
CAP.add("read_rsp", ESME.handle(_read), MET, zbee_zcl__cmd__id=[1], zbee_zcl__dir=[1],
        zbee_zcl__cmd__tsn=[10],
        zbee_zcl_se__met__attr_id=[0x0000, 0x0400, 0x0300, 0x0302, 0x0401, 0x4444],
        zbee_zcl__attr__status=[0, 0, 0, 0, 0, Status.UNSUPPORTED_ATTRIBUTE],
        zbee_zcl__attr__data__type=[T.UINT48, T.INT24, T.ENUM8, T.UINT24, T.UINT24],
        zbee_zcl__attr__uint48=[123456789], zbee_zcl__attr__int24=[-1500],
        zbee_zcl__attr__uint24=[1000, 8123], zbee_zcl__attr__uint8=[0])

_cfg = global_frame(f.ConfigureReporting((
    f.AttributeReportingConfigurationRecord(0, 0x0000, T.UINT48, 5, 300, 10),
    f.AttributeReportingConfigurationRecord(0, 0x0200, T.BITMAP8, 1, 600),
    f.AttributeReportingConfigurationRecord(1, 0x0400, timeout_period=900))), 11)
CAP.add("configure_reporting", _cfg, MET, zbee_zcl__cmd__id=[6],
        zbee_zcl_se__met__attr_id=[0x0000, 0x0200], zbee_zcl__attr__dir=[0, 0, 1],
        zbee_zcl_se__met__attr_client_id=[0x0400],  # direction 1 names a client attribute
        zbee_zcl__attr__data__type=[T.UINT48, T.BITMAP8], zbee_zcl__attr__minint=[5, 1],
        zbee_zcl__attr__maxint=[300, 600], zbee_zcl__attr__uint48=[10],
        zbee_zcl__attr__timeout=[900])
CAP.add("configure_reporting_rsp", ESME.handle(_cfg), MET, zbee_zcl__cmd__id=[7],
        zbee_zcl__attr__status=[0])
_bad_cfg = global_frame(f.ConfigureReporting((
    f.AttributeReportingConfigurationRecord(0, 0x0300, T.ENUM8, 1, 60),
    f.AttributeReportingConfigurationRecord(0, 0x7777, T.UINT8, 1, 60, 1),)), 12)
CAP.add("configure_reporting_rsp_fail", ESME.handle(_bad_cfg), MET, zbee_zcl__cmd__id=[7],
        zbee_zcl__attr__status=[Status.UNSUPPORTED_ATTRIBUTE],
        zbee_zcl_se__met__attr_id=[0x7777])
_reports = ESME.due_reports(0.0)
CAP.add("report", _reports[0], MET, zbee_zcl__cmd__id=[0x0A], zbee_zcl__dir=[1],
        zbee_zcl_se__met__attr_id=sorted(ESME.reporting),
        zbee_zcl__attr__uint48=[123456789])
_rrc = global_frame(f.ReadReportingConfiguration((f.AttributeRecord(0, 0x0000),
                                                   f.AttributeRecord(0, 0x0401))), 13)
CAP.add("read_reporting_configuration", _rrc, MET, zbee_zcl__cmd__id=[8],
        zbee_zcl_se__met__attr_id=[0x0000, 0x0401], zbee_zcl__attr__dir=[0, 0])
CAP.add("read_reporting_configuration_rsp", ESME.handle(_rrc), MET, zbee_zcl__cmd__id=[9],
        zbee_zcl__attr__status=[0, Status.NOT_FOUND], zbee_zcl__attr__minint=[5],
        zbee_zcl__attr__maxint=[300], zbee_zcl__attr__uint48=[10])
_disc = global_frame(f.DiscoverAttributes(0x0300, 3), 14)
CAP.add("discover", _disc, MET, zbee_zcl__cmd__id=[0x0C], zbee_zcl__attr__start=[0x0300],
        zbee_zcl__attr__maxnum=[3])
CAP.add("discover_rsp", ESME.handle(_disc), MET, zbee_zcl__cmd__id=[0x0D],
        zbee_zcl_se__met__attr_id=[0x0300, 0x0301, 0x0302],
        zbee_zcl__attr__data__type=[T.ENUM8, T.UINT24, T.UINT24])
_disc_x = global_frame(f.DiscoverAttributesExtended(0x0400, 10), 15)
# Wireshark 4.0 decodes only the "discovery complete" octet of 0x16 (records are shown as data).
CAP.add("discover_ext_rsp", ESME.handle(_disc_x), MET, zbee_zcl__cmd__id=[0x16],
        zbee_zcl__attr__dis=[1])
_write = global_frame(f.WriteAttributes((f.WriteAttributeRecord(0x0000, T.UINT48, 5),)), 16)
CAP.add("write", _write, MET, zbee_zcl__cmd__id=[2], zbee_zcl_se__met__attr_id=[0],
        zbee_zcl__attr__uint48=[5])
CAP.add("write_rsp", ESME.handle(_write), MET, zbee_zcl__cmd__id=[4],
        zbee_zcl__attr__status=[Status.READ_ONLY], zbee_zcl_se__met__attr_id=[0])
CAP.add("default_rsp_unsup", ESME.handle(ZclFrame(0, 0x0E, 17, b"")), MET,
        zbee_zcl__cmd__id=[0x0B], zbee_zcl__cmd__id__rsp=[0x0E],
        zbee_zcl__attr__status=[Status.UNSUP_GENERAL_COMMAND])
_dcr = global_frame(f.DiscoverCommandsReceived(0, 20), 18)
CAP.add("discover_commands_received", _dcr, MET, zbee_zcl__cmd__id=[0x11],
        zbee_zcl__cmd__start=[0], zbee_zcl__cmd__maxnum=[20])

# Mirroring flow (GSME metering server -> CH mirror host), ZSE D.3.4.4.
CAP.add("request_mirror", cluster_frame(MET, S2C, "RequestMirror", 30), MET,
        zbee_zcl_se__met__cmd__srv_tx__id=[0x01], zbee_zcl__type=[1], zbee_zcl__dir=[1])
_rmr = cluster_frame(MET, C2S, "RequestMirrorResponse", 30, disable_default_response=True,
                     EndPointID=0x007B)
CAP.add("request_mirror_rsp", _rmr, MET, zbee_zcl_se__met__cmd__srv_rx__id=[0x01],
        zbee_zcl_se__met__request_mirror_rsp__endpoint_id=[0x007B], zbee_zcl__ddr=[1])
_cm = cluster_frame(MET, S2C, "ConfigureMirror", 31, IssuerEventID=0x01020304,
                    ReportingInterval=1800, MirrorNotificationReporting=True,
                    NotificationScheme=1)
CAP.add("configure_mirror", _cm, MET, zbee_zcl_se__met__cmd__srv_tx__id=[0x08],
        zbee_zcl_se__met__configure_mirror__issuer_event_id=[0x01020304],
        zbee_zcl_se__met__configure_mirror__reporting_interval=[1800],
        zbee_zcl_se__met__configure_mirror__mirror_notification_reporting=[True],
        zbee_zcl_se__met__configure_mirror__notification_scheme=[1])
CAP.add("configure_mirror_default_rsp", default_response(_cm, Status.SUCCESS), MET,
        zbee_zcl__cmd__id=[0x0B], zbee_zcl__cmd__id__rsp=[0x08], zbee_zcl__attr__status=[0],
        zbee_zcl__dir=[0])

# Time: the CH answers as time master.
_TIME_SERVER = AttributeServer.with_defaults(TIME, None, {"Time": 753315200, "TimeStatus": 0x09,
                                                          "LastSetTime": 753300000})
_tread = global_frame(f.ReadAttributes((0x0000, 0x0001, 0x0008, 0x0009)), 40)
CAP.add("time_read_rsp", _TIME_SERVER.handle(_tread), TIM, zbee_zcl__cmd__id=[1],
        zbee_zcl_general__time__attr_id=[0, 1, 8, 9],
        zbee_zcl__attr__utc=[_utc_text(753315200), _utc_text(753300000),
                             _utc_text(0xFFFFFFFF)],
        zbee_zcl_general__time__attr__time_status=[0x09])

# Basic.
_BASIC_SERVER = AttributeServer.with_defaults(BASIC, None, {
    "ManufacturerName": "Emulated Meters Ltd", "ModelIdentifier": "ESME-1",
    "PhysicalEnvironment": 1, "PowerSource": 1})
_bread = global_frame(f.ReadAttributes((0x0004, 0x0005, 0x0011, 0x0007)), 41)
CAP.add("basic_read_rsp", _BASIC_SERVER.handle(_bread), BAS,
        zbee_zcl_general__basic__attr_id=[4, 5, 0x11, 7],
        zbee_zcl__attr__str=["Emulated Meters Ltd", "ESME-1"])

# Price.
CAP.add("get_current_price", cluster_frame(PRC, C2S, "GetCurrentPrice", 50, CommandOptions=1),
        PRC, zbee_zcl_se__price__cmd__srv_rx__id=[0], zbee_zcl_se__price__command_options=[1])
PUBLISH_PRICE = dict(
    ProviderID=0x11223344, RateLabel=b"Standard", IssuerEventID=0x55667788,
    CurrentTime=753315200, UnitofMeasure=0x00, Currency=826,
    PriceTrailingDigitAndPriceTier=0x51, NumberofPriceTiersAndRegisterTier=0x21,
    StartTime=753310000, DurationInMinutes=0xFFFF, Price=2734, PriceRatio=0xFF,
    GenerationPrice=0xFFFFFFFF, GenerationPriceRatio=0xFF, AlternateCostDelivered=233,
    AlternateCostUnit=0x01, AlternateCostTrailingDigit=0x40,
    NumberofBlockThresholds=3, PriceControl=0x00, NumberofGenerationTiers=0,
    GenerationTier=0, ExtendedNumberofPriceTiers=0, ExtendedPriceTier=0,
    ExtendedRegisterTier=0)
CAP.add("publish_price", cluster_frame(PRC, S2C, "PublishPrice", 50, **PUBLISH_PRICE), PRC,
        zbee_zcl_se__price__cmd__srv_tx__id=[0],
        zbee_zcl_se__price__provider_id=[0x11223344], zbee_zcl_se__price__rate_label=["Standard"],
        zbee_zcl_se__price__issuer_event_id=[0x55667788],
        zbee_zcl_se__price__current_time=[_utc_text(753315200)],
        zbee_zcl_se__price__unit_of_measure=[0], zbee_zcl_se__price__currency=[826],
        zbee_zcl_se__price__trailing_digit_and_price_tier=[0x51],
        zbee_zcl_se__price__number_of_price_tiers_and_register_tier=[0x21],
        zbee_zcl_se__price__start_time=[_utc_text(753310000)],
        zbee_zcl_se__price__duration_in_minutes=[0xFFFF], zbee_zcl_se__price__price=[2734],
        zbee_zcl_se__price__price__ratio=[0xFF],
        zbee_zcl_se__price__generation_price=[0xFFFFFFFF],
        zbee_zcl_se__price__generation_price__ratio=[0xFF],
        zbee_zcl_se__price__alternate_cost_delivered=[233],
        zbee_zcl_se__price__alternate_cost__unit=[1],
        # the octet, then Wireshark's sub-field for its high nibble
        zbee_zcl_se__price__alternate_cost__trailing_digit=[0x40, 4],
        zbee_zcl_se__price__number_of_block_thresholds=[3],
        zbee_zcl_se__price__number_of_generation_tiers=[0],
        zbee_zcl_se__price__extended_number_of_price_tiers=[0])
CAP.add("price_ack", cluster_frame(PRC, C2S, "PriceAcknowledgement", 51, ProviderID=7,
                                   IssuerEventID=8, PriceAckTime=753315201, Control=1),
        PRC, zbee_zcl_se__price__cmd__srv_rx__id=[2], zbee_zcl_se__price__provider_id=[7],
        zbee_zcl_se__price__issuer_event_id=[8],
        zbee_zcl_se__price__price_ack_time=[_utc_text(753315201)])
CAP.add("get_scheduled_prices", cluster_frame(PRC, C2S, "GetScheduledPrices", 52,
                                              StartTime=753315200, NumberofEvents=5),
        PRC, zbee_zcl_se__price__cmd__srv_rx__id=[1],
        zbee_zcl_se__price__start_time=[_utc_text(753315200)],
        zbee_zcl_se__price__number_of_events=[5])
CAP.add("publish_tariff_information", cluster_frame(
    PRC, S2C, "PublishTariffInformation", 53, ProviderID=1, IssuerEventID=2,
    IssuerTariffID=3, StartTime=753315200, TariffTypeChargingScheme=0x00,
    TariffLabel=b"Economy 7", NumberofPriceTiersinUse=2,
    NumberofBlockThresholdsinUse=0, UnitofMeasure=0, Currency=826,
    PriceTrailingDigit=0x50, StandingCharge=4567, TierBlockMode=0,
    BlockThresholdMultiplier=1, BlockThresholdDivisor=1000), PRC,
    zbee_zcl_se__price__cmd__srv_tx__id=[4], zbee_zcl_se__price__issuer_tariff_id=[3],
    zbee_zcl_se__price__tariff_information__tariff_label=["Economy 7"],
    zbee_zcl_se__price__tariff_information__number_of_price_tiers_in_use=[2],
    zbee_zcl_se__price__tariff_information__standing_charge=[4567],
    zbee_zcl_se__price__tariff_information__block_threshold_multiplier=[1],
    zbee_zcl_se__price__tariff_information__block_threshold_divisor=[1000])
CAP.add("publish_block_period", cluster_frame(
    PRC, S2C, "PublishBlockPeriod", 54, ProviderID=1, IssuerEventID=2,
    BlockPeriodStartTime=753315200, BlockPeriodDuration=1440, BlockPeriodControl=0,
    BlockPeriodDurationType=0, TariffType=0, TariffResolutionPeriod=0), PRC,
    zbee_zcl_se__price__cmd__srv_tx__id=[1],
    zbee_zcl_se__price__block_period__start_time=[_utc_text(753315200)],
    zbee_zcl_se__price__block_period__duration=[1440])
CAP.add("publish_tier_labels", cluster_frame(
    PRC, S2C, "PublishTierLabels", 55, ProviderID=1, IssuerEventID=2, IssuerTariffID=3,
    CommandIndex=0, TotalNumberofCommands=1,
    TierLabels=({"TierID": 1, "TierLabel": b"Day"}, {"TierID": 2, "TierLabel": b"Night"})),
    PRC, zbee_zcl_se__price__cmd__srv_tx__id=[8],
    zbee_zcl_se__price__tier_labels__number_of_labels=[2],
    zbee_zcl_se__price__tier_labels__tier_id=[1, 2],
    zbee_zcl_se__price__tier_labels__tier_label=["Day", "Night"])
CAP.add("publish_calorific_value", cluster_frame(
    PRC, S2C, "PublishCalorificValue", 56, IssuerEventID=9, StartTime=753315200,
    CalorificValue=39500000, CalorificValueUnit=1, CalorificValueTrailingDigit=0x60),
    PRC, zbee_zcl_se__price__cmd__srv_tx__id=[3],
    zbee_zcl_se__price__calorific_value=[39500000])
CAP.add("cancel_tariff", cluster_frame(PRC, S2C, "CancelTariff", 57, ProviderID=1,
                                       IssuerTariffID=3, TariffType=0),
        # ZSE 1.4 D.4.2.4.15: Provider ID, Issuer Tariff ID, Tariff Type; Wireshark 4.0
        # labels the second field "Issuer Event ID".
        PRC, zbee_zcl_se__price__cmd__srv_tx__id=[0x0E], zbee_zcl_se__price__provider_id=[1],
        zbee_zcl_se__price__issuer_event_id=[3])

# Tunneling (GB-HRGP) and Key Establishment, as the GSME and CH use them.
TUN, KE = 0x0704, 0x0800
CAP.add("request_tunnel", cluster_frame(TUN, C2S, "RequestTunnel", 60, dict(
    ProtocolID=6, ManufacturerCode=0xFFFF, FlowControlSupport=False,
    MaximumIncomingTransferSize=1500)), TUN,
    zbee_zcl_se__tun__cmd__srv_rx__id=[0], zbee_zcl_se__tun__protocol_id=[6],
    zbee_zcl_se__tun__manufacturer_code=[0xFFFF],
    zbee_zcl_se__tun__flow_control_supported=[False],
    zbee_zcl_se__tun__max_in_transfer_size=[1500])
CAP.add("request_tunnel_rsp", cluster_frame(TUN, S2C, "RequestTunnelResponse", 60,
                                            TunnelID=0, TunnelStatus=0,
                                            MaximumIncomingTransferSize=1500), TUN,
        zbee_zcl_se__tun__cmd__srv_tx__id=[0], zbee_zcl_se__tun__tunnel_id=[0],
        zbee_zcl_se__tun__max_in_transfer_size=[1500])
CAP.add("transfer_data_get", cluster_frame(TUN, C2S, "TransferData", 61, TunnelID=0,
                                           Data=b"\x01"), TUN,
        zbee_zcl_se__tun__cmd__srv_rx__id=[2], zbee_zcl_se__tun__tunnel_id=[0],
        gbcs_tunnel__command=[1])
CAP.add("ack_transfer_data", cluster_frame(TUN, S2C, "AckTransferData", 62, TunnelID=3,
                                           NumberOfBytesLeft=1200), TUN,
        zbee_zcl_se__tun__cmd__srv_tx__id=[3], zbee_zcl_se__tun__tunnel_id=[3],
        zbee_zcl_se__tun__octets_left=[1200])
CAP.add("supported_protocols_rsp", cluster_frame(
    TUN, S2C, "SupportedTunnelProtocolsResponse", 63, ProtocolListComplete=True,
    ProtocolList=({"ManufacturerCode": 0xFFFF, "ProtocolID": 6},)), TUN,
    zbee_zcl_se__tun__cmd__srv_tx__id=[5], zbee_zcl_se__tun__protocol_list_complete=[True],
    zbee_zcl_se__tun__protocol_count=[1], zbee_zcl_se__tun__protocol_id=[6])
# A suite-2 implicit certificate laid out as in han-zigbee-wireshark.md 4.2 (74 octets).
CERT = (b"\x00" + bytes.fromhex("0102030405060708") + b"\x0d" + b"\x08"
        + bytes.fromhex("5445535453454341") + bytes(5) + b"\xff\xff\xff\xff"
        + bytes.fromhex("00124b00aabbccdd") + b"\x88" + bytes(range(37)))
assert len(CERT) == 74
CAP.add("ke_initiate", cluster_frame(KE, C2S, "InitiateKeyEstablishmentRequest", 70,
                                     KeyEstablishmentSuite=2, EphemeralDataGenerateTime=10,
                                     ConfirmKeyGenerateTime=20, Identity=CERT), KE,
        zbee_zcl_se__ke__cmd__srv_rx__id=[0], zbee_zcl_se__ke__attr__suite=[2],
        zbee_zcl_se__ke__init__ephemeral__time=[10], zbee_zcl_se__ke__init__confirm__time=[20],
        zbee_zcl_se__ke__cert__curve=[0x0D], zbee_zcl_se__ke__cert__hash=[0x08],
        zbee_zcl_se__ke__cert__subject=["00124b00aabbccdd"])
CAP.add("ke_ephemeral_rsp", cluster_frame(KE, S2C, "EphemeralDataResponse", 71,
                                          EphemeralData=bytes(range(1, 38))), KE,
        zbee_zcl_se__ke__cmd__srv_tx__id=[1],
        zbee_zcl_se__ke__qev=[bytes(range(1, 38)).hex()])
CAP.add("ke_confirm", cluster_frame(KE, C2S, "ConfirmKeyDataRequest", 72,
                                    SecureMessageAuthenticationCode=bytes(range(16))), KE,
        zbee_zcl_se__ke__cmd__srv_rx__id=[2], zbee_zcl_se__ke__macu=[bytes(range(16)).hex()])
CAP.add("ke_terminate", cluster_frame(KE, S2C, "TerminateKeyEstablishment", 73,
                                      StatusCode=6, WaitTime=30, KeyEstablishmentSuite=2),
        KE, zbee_zcl_se__ke__cmd__srv_tx__id=[3], zbee_zcl_se__ke__terminate__status=[6],
        zbee_zcl_se__ke__terminate__wait__time=[30], zbee_zcl_se__ke__attr__suite=[2])

# Every Metering command, both directions: (direction, name, our fields,
# {wireshark field suffix: our field name or (our field name, transform)}).
U = 753315200
METERING_COMMANDS = [
    (C2S, "GetProfile", dict(IntervalChannel=0, EndTime=U, NumberofPeriods=24),
     {"get_profile.interval_channel": "IntervalChannel", "get_profile.end_time": "EndTime",
      "get_profile.number_of_periods": "NumberofPeriods"}),
    (C2S, "MirrorRemoved", dict(EndPointID=0x7B),
     {"mirror_removed.removed_endpoint_id": "EndPointID"}),
    (C2S, "RequestFastPollMode", dict(FastPollUpdatePeriod=2, Duration=15),
     {"request_fast_poll_mode.fast_poll_update_period": "FastPollUpdatePeriod",
      "request_fast_poll_mode.duration": "Duration"}),
    (C2S, "ScheduleSnapshot", dict(IssuerEventID=77, CommandIndex=0,
                                   CommandCount=1, SnapshotSchedulePayload=(
                                       dict(SnapshotScheduleID=1, SnapshotStartTime=U,
                                            SnapshotSchedule=0x000001,
                                            SnapshotPayloadType=0, SnapshotCause=0x10),)),
     {"schedule_snapshot.issuer_event_id": "IssuerEventID",
      "schedule_snapshot.command_index": "CommandIndex",
      "schedule_snapshot.total_number_of_commands": "CommandCount",
      "schedule_snapshot.snapshot_schedule_payload.snapshot_schedule_id":
          ("SnapshotSchedulePayload", lambda v: [r["SnapshotScheduleID"] for r in v]),
      "schedule_snapshot.snapshot_schedule_payload.snapshot_start_time":
          ("SnapshotSchedulePayload", lambda v: [_utc_text(r["SnapshotStartTime"])
                                                   for r in v])}),
    (C2S, "TakeSnapshot", dict(SnapshotCause=0x0400),
     {"take_snapshot.snapshot_cause": "SnapshotCause"}),
    (C2S, "GetSnapshot", dict(EarliestStartTime=U, LatestEndTime=U + 86400,
                              SnapshotOffset=2, SnapshotCause=0xFFFFFFFF),
     {"get_snapshot.start_time": "EarliestStartTime", "get_snapshot.end_time":
      "LatestEndTime", "get_snapshot.snapshot_offset": "SnapshotOffset",
      "get_snapshot.snapshot_cause": "SnapshotCause"}),
    (C2S, "StartSampling", dict(IssuerEventID=5, StartSamplingTime=U, SampleType=0,
                                SampleRequestInterval=60, MaxNumberofSamples=100),
     {"start_sampling.issuer_event_id": "IssuerEventID",
      "start_sampling.start_sampling_time": "StartSamplingTime",
      "start_sampling.sample_type": "SampleType",
      "start_sampling.sample_request_interval": "SampleRequestInterval",
      "start_sampling.max_number_of_samples": "MaxNumberofSamples"}),
    (C2S, "GetSampledData", dict(SampleID=3, EarliestSampleTime=U, SampleType=0,
                                 NumberofSamples=10),
     {"get_sampled_data.sample_id": "SampleID",
      "get_sampled_data.sample_start_time": "EarliestSampleTime",
      "get_sampled_data.sample_type": "SampleType",
      "get_sampled_data.number_of_samples": "NumberofSamples"}),
    # Scheme A (1) carries FunctionalNotificationFlags only.
    (C2S, "MirrorReportAttributeResponse", dict(NotificationScheme=1,
                                                NotificationFlags=(0x1,)),
     {"mirror_report_attribute_response.notification_scheme": "NotificationScheme",
      "attr.func_noti_flag": "NotificationFlags"}),
    (C2S, "ResetLoadLimitCounter", dict(ProviderID=1, IssuerEventID=2),
     {"reset_load_limit_counter.provider_id": "ProviderID",
      "reset_load_limit_counter.issuer_event_id": "IssuerEventID"}),
    (C2S, "ChangeSupply", dict(ProviderID=1, IssuerEventID=2, RequestDateTime=U,
                               ImplementationDateTime=U + 60, ProposedSupplyStatus=1,
                               SupplyControlBits=1),
     {"change_supply.provider_id": "ProviderID",
      "change_supply.issuer_event_id": "IssuerEventID",
      "change_supply.request_date_time": "RequestDateTime",
      "change_supply.implementation_date_time": "ImplementationDateTime",
      "change_supply.proposed_supply_status": "ProposedSupplyStatus",
      "change_supply.supply_control_bits": "SupplyControlBits"}),
    (C2S, "LocalChangeSupply", dict(ProposedSupplyStatus=2),
     {"local_change_supply.proposed_supply_status": "ProposedSupplyStatus"}),
    (C2S, "SetUncontrolledFlowThreshold", dict(ProviderID=1, IssuerEventID=2,
                                               UncontrolledFlowThreshold=300,
                                               UnitofMeasure=1, Multiplier=1, Divisor=10,
                                               StabilisationPeriod=5, MeasurementPeriod=30),
     {"set_uncontrolled_flow_threshold.provider_id": "ProviderID",
      "set_uncontrolled_flow_threshold.uncontrolled_flow_threshold":
          "UncontrolledFlowThreshold",
      "set_uncontrolled_flow_threshold.unit_of_measure": "UnitofMeasure",
      "set_uncontrolled_flow_threshold.multiplier": "Multiplier",
      "set_uncontrolled_flow_threshold.divisor": "Divisor",
      "set_uncontrolled_flow_threshold.stabilisation_period": "StabilisationPeriod",
      "set_uncontrolled_flow_threshold.measurement_period": "MeasurementPeriod"}),
    (S2C, "GetProfileResponse", dict(EndTime=U, Status=0, ProfileIntervalPeriod=3,
                                     NumberofPeriodsDelivered=3, Intervals=(10, 20, 0xFFFFFF)),
     {"get_profile_response.end_time": "EndTime", "get_profile_response.status": "Status",
      "get_profile_response.profile_interval_period": "ProfileIntervalPeriod",
      "get_profile_response.number_of_periods_delivered": "NumberofPeriodsDelivered",
      "get_profile_response.intervals": "Intervals"}),
    (S2C, "RemoveMirror", {}, {}),
    (S2C, "RequestFastPollModeResponse", dict(AppliedUpdatePeriod=2,
                                              FastPollModeEndtime=U + 900),
     {"request_fast_poll_mode_response.applied_update_period": "AppliedUpdatePeriod",
      # Wireshark 4.0 shows this UTCTime with the Unix epoch (1970) instead of 2000.
      "request_fast_poll_mode_response.fast_poll_mode_end_time":
          ("FastPollModeEndtime", lambda v: [_utc_text(v - T.ZCL_EPOCH_UNIX)])}),
    (S2C, "ScheduleSnapshotResponse", dict(IssuerEventID=77, SnapshotResponsePayload=(
        dict(SnapshotScheduleID=1, SnapshotScheduleConfirmation=0),
        dict(SnapshotScheduleID=2, SnapshotScheduleConfirmation=1))),
     {"schedule_snapshot_response.issuer_event_id": "IssuerEventID",
      "schedule_snapshot_response.response_snapshot_schedule_id":
          ("SnapshotResponsePayload", lambda v: [r["SnapshotScheduleID"] for r in v]),
      "schedule_snapshot_response.snapshot_schedule_confirmation":
          ("SnapshotResponsePayload",
           lambda v: [r["SnapshotScheduleConfirmation"] for r in v])}),
    (S2C, "TakeSnapshotResponse", dict(SnapshotID=0x01020304, SnapshotConfirmation=0),
     {"take_snapshot_response.snapshot_id": "SnapshotID",
      "take_snapshot_response.snapshot_confirmation": "SnapshotConfirmation"}),
    (S2C, "PublishSnapshot", dict(SnapshotID=9, SnapshotTime=U, TotalSnapshotsFound=1,
                                  CommandIndex=0, TotalNumberofCommands=1,
                                  SnapshotCause=0x01, SnapshotPayloadType=0,
                                  SnapshotPayload=dict(
                                      CurrentSummation=123456, BillToDate=2500,
                                      BillToDateTimeStamp=U, ProjectedBill=9000,
                                      ProjectedBillTimeStamp=U, BillTrailingDigit=0x20,
                                      TierSummation=(100000, 23456))),
     {"publish_snapshot.snapshot_id": "SnapshotID",
      "publish_snapshot.snapshot_time": "SnapshotTime",
      "publish_snapshot.snapshots_found": "TotalSnapshotsFound",
      "publish_snapshot.command_index": "CommandIndex",
      "publish_snapshot.total_commands": "TotalNumberofCommands",
      "publish_snapshot.snapshot_cause": "SnapshotCause",
      "publish_snapshot.payload_type": "SnapshotPayloadType"}),
    (S2C, "GetSampledDataResponse", dict(SampleID=3, SampleStartTime=U, SampleType=0,
                                         SampleRequestInterval=60, NumberofSamples=2,
                                         Samples=(5, 6)),
     {"get_sampled_data_rsp.sample_id": "SampleID",
      "get_sampled_data_rsp.sample_start_time": "SampleStartTime",
      "get_sampled_data_rsp.sample_type": "SampleType",
      "get_sampled_data_rsp.sample_request_interval": "SampleRequestInterval",
      "get_sampled_data_rsp.number_of_samples": "NumberofSamples",
      "get_sampled_data_rsp.samples": "Samples"}),
    (S2C, "ConfigureNotificationScheme", dict(IssuerEventID=4, NotificationScheme=2,
                                              NotificationFlagOrder=0x87654321),
     {"configure_notification_scheme.issuer_event_id": "IssuerEventID",
      "configure_notification_scheme.notification_scheme": "NotificationScheme",
      "configure_notification_scheme.notification_flag_order": "NotificationFlagOrder"}),
    (S2C, "ConfigureNotificationFlags", dict(IssuerEventID=4, NotificationScheme=2,
                                             NotificationFlagAttributeID=0x0001,
                                             ClusterID=0x0702, ManufacturerCode=0xFFFF,
                                             NumberofCommands=2, CommandIDs=(0, 6)),
     {"configure_notification_flags.issuer_event_id": "IssuerEventID",
      "configure_notification_flags.notification_flag_attribute_id":
          "NotificationFlagAttributeID",
      "configure_notification_flags.bit_field_allocation.cluster_id": "ClusterID",
      "configure_notification_flags.bit_field_allocation.manufacturer_code":
          "ManufacturerCode",
      "configure_notification_flags.bit_field_allocation.no_of_commands":
          "NumberofCommands",
      "configure_notification_flags.bit_field_allocation.command_identifier":
          "CommandIDs"}),
    (S2C, "GetNotifiedMessage", dict(NotificationScheme=1, NotificationFlagAttributeID=0,
                                     NotificationFlags=0x00000001),
     {"get_notified_msg.notification_scheme": "NotificationScheme",
      "get_notified_msg.notification_flag_attribute_id": "NotificationFlagAttributeID",
      "attr.func_noti_flag": "NotificationFlags"}),
    (S2C, "SupplyStatusResponse", dict(ProviderID=1, IssuerEventID=2,
                                       ImplementationDateTime=U, SupplyStatus=2),
     {"supply_status_response.provider_id": "ProviderID",
      "supply_status_response.issuer_event_id": "IssuerEventID",
      "supply_status_response.implementation_date_time": "ImplementationDateTime",
      "supply_status_response.supply_status_after_implementation": "SupplyStatus"}),
    (S2C, "StartSamplingResponse", dict(SampleID=7),
     {"start_sampling_response.sample_id": "SampleID"}),
]


def _expected(value: object) -> list:
    items = list(value) if isinstance(value, (tuple, list)) else [value]
    return items


for _i, (_d, _name, _fields, _ws) in enumerate(METERING_COMMANDS):
    _fr = cluster_frame(MET, _d, _name, 100 + _i, _fields)
    _cmd = METERING.command(_d, _name)
    _exp = {("zbee_zcl_se__met__cmd__srv_rx__id" if _d == C2S else
             "zbee_zcl_se__met__cmd__srv_tx__id"): [_cmd.command_id]}
    for _suffix, _ours in _ws.items():
        if isinstance(_ours, tuple):
            _vals = _ours[1](_fields[_ours[0]])
        else:
            _vals = _expected(_fields[_ours])
            if dict(_cmd.fields).get(_ours) == T.UTC_TIME:
                _vals = [_utc_text(v) for v in _vals]
        _exp["zbee_zcl_se__met__" + _suffix.replace(".", "__")] = _vals
    CAP.add(f"met_{_name}", _fr, MET, **_exp)

# Every ZCL data type in one Read Attributes Response on a cluster Wireshark has no dissector
# for, so the generic attribute decoder shows each value. (Wireshark 4.0 does not decode
# Structure: it is left out.)
TYPE_SAMPLES = [
    (T.DATA8, 0x12, "zbee_zcl.attr.bytes", "12"),
    (T.DATA16, 0x1234, "zbee_zcl.attr.bytes", "34:12"),
    (T.DATA32, 0x12345678, "zbee_zcl.attr.bytes", "78:56:34:12"),
    (T.BOOLEAN, True, "zbee_zcl.attr.boolean", True),
    (T.BITMAP8, 0xA5, "zbee_zcl.attr.bitmap8", 0xA5),
    (T.BITMAP16, 0xBEEF, "zbee_zcl.attr.bitmap16", 0xBEEF),
    (T.BITMAP24, 0xABCDEF, "zbee_zcl.attr.bitmap24", 0xABCDEF),
    (T.BITMAP32, 0xDEADBEEF, "zbee_zcl.attr.bitmap32", 0xDEADBEEF),
    (T.BITMAP40, 0x123456789A, "zbee_zcl.attr.bitmap40", 0x123456789A),
    (T.BITMAP48, 0x123456789ABC, "zbee_zcl.attr.bitmap48", 0x123456789ABC),
    (T.BITMAP56, 0x123456789ABCDE, "zbee_zcl.attr.bitmap56", 0x123456789ABCDE),
    (T.BITMAP64, 0xFEDCBA9876543210, "zbee_zcl.attr.bitmap64", 0xFEDCBA9876543210),
    (T.UINT8, 200, "zbee_zcl.attr.uint8", 200),
    (T.UINT16, 0xFFFE, "zbee_zcl.attr.uint16", 0xFFFE),
    (T.UINT24, 0xABCDEF, "zbee_zcl.attr.uint24", 0xABCDEF),
    (T.UINT32, 0xFFFFFFFF, "zbee_zcl.attr.uint32", 0xFFFFFFFF),
    (T.UINT40, 0x0102030405, "zbee_zcl.attr.uint40", 0x0102030405),
    (T.UINT48, 0xFFFFFFFFFFFF, "zbee_zcl.attr.uint48", 0xFFFFFFFFFFFF),
    (T.UINT56, 0x01020304050607, "zbee_zcl.attr.uint56", 0x01020304050607),
    (T.UINT64, 2 ** 64 - 2, "zbee_zcl.attr.uint64", 2 ** 64 - 2),
    (T.INT8, -128, "zbee_zcl.attr.int8", -128),
    (T.INT16, -30000, "zbee_zcl.attr.int16", -30000),
    (T.INT24, -8388607, "zbee_zcl.attr.int24", -8388607),
    (T.INT32, -2 ** 31, "zbee_zcl.attr.int32", -2 ** 31),
    (T.INT40, -2 ** 39, "zbee_zcl.attr.int64", -2 ** 39),
    (T.INT48, 2 ** 47 - 1, "zbee_zcl.attr.int64", 2 ** 47 - 1),
    (T.INT56, -7, "zbee_zcl.attr.int64", -7),
    (T.INT64, -2 ** 63 + 1, "zbee_zcl.attr.int64", -2 ** 63 + 1),
    (T.ENUM8, 3, "zbee_zcl.attr.uint8", 3),
    (T.ENUM16, 0x1234, "zbee_zcl.attr.uint16", 0x1234),
    (T.SEMI_FLOAT, 1.5, "zbee_zcl.attr.bytes", "00:3e"),
    (T.SINGLE_FLOAT, 0.25, "zbee_zcl.attr.float", 0.25),
    (T.DOUBLE_FLOAT, -2.5, "zbee_zcl.attr.float", -2.5),
    (T.OCTET_STRING, b"\x01\x02\xff", "zbee_zcl.attr.ostr", "01:02:ff"),
    (T.CHARACTER_STRING, "Hello", "zbee_zcl.attr.str", "Hello"),
    (T.LONG_OCTET_STRING, b"ab", "zbee_zcl.attr.ostr", "61:62"),
    (T.LONG_CHARACTER_STRING, "Long string", "zbee_zcl.attr.str", "Long string"),
    (T.ARRAY, T.ArrayValue(T.UINT16, (1, 2, 3)), "zbee_zcl.attr.array.elements_num", 3),
    (T.SET, T.ArrayValue(T.UINT8, (9,)), "zbee_zcl.attr.set.elements_num", 1),
    (T.BAG, T.ArrayValue(T.UINT8, (8, 8)), "zbee_zcl.attr.bag.elements_num", 2),
    (T.TIME_OF_DAY, T.TimeOfDay(13, 45, 30, 50), "zbee_zcl.attr.csecs", 50),
    (T.DATE, T.Date(123, 11, 14, 2), "zbee_zcl.attr.yy", 123),
    (T.UTC_TIME, 753315200, "zbee_zcl.attr.utc", "Nov 14, 2023 22:13:20.000000000 UTC"),
    (T.CLUSTER_ID, 0x0702, "zbee_zcl.attr.cid", 0x0702),
    (T.BACNET_OID, 0x01020304, "zbee_zcl.attr.bytes", "04:03:02:01"),
    (T.IEEE_ADDRESS, 0x00124B00AABBCCDD, "zbee_zcl.attr.bytes", "dd:cc:bb:aa:00:4b:12:00"),
    (T.SECURITY_KEY_128, bytes(range(16)), "zbee_zcl.attr.bytes",
     ":".join(f"{i:02x}" for i in range(16))),
]
CAP.add("all_types", global_frame(f.ReadAttributesResponse(tuple(
    f.ReadAttributeStatusRecord(0x0100 + i, 0, t, v)
    for i, (t, v, _, _) in enumerate(TYPE_SAMPLES))), 200, S2C), 0xFC00,
    zbee_zcl__attr__data__type=[t for t, *_ in TYPE_SAMPLES])


# --- running tshark --------------------------------------------------------------------------

def _all_fields() -> list[str]:
    fields = {field for _, field, _ in CAP.expect}
    fields |= {s[2] for s in TYPE_SAMPLES}
    fields |= {"frame.number", "_ws.malformed", "_ws.expert.severity", "frame.protocols",
               "wpan.fcs_ok"}
    return sorted(fields)


@pytest.fixture(scope="module")
def decoded(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, list[str]]]:
    d = tmp_path_factory.mktemp("zcl_tshark")
    path = d / "zcl.pcap"
    with open(path, "wb") as fh:
        fh.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 195))
        for i, fr in enumerate(CAP.frames):
            fh.write(struct.pack("<IIII", 1700000000 + i, 0, len(fr), len(fr)) + fr)
    cmd = ["tshark", "-n", "-r", str(path), "-T", "json"]
    for field in _all_fields():
        cmd += ["-e", field]
    env = dict(os.environ, WIRESHARK_CONFIG_DIR=str(d))
    out = subprocess.run(cmd, capture_output=True, env=env, check=True, timeout=120).stdout
    packets = [p["_source"]["layers"] for p in json.loads(out)]
    assert len(packets) == len(CAP.frames)
    return packets


def _check(decoded: list, names: list[str] | None = None) -> None:
    idx = None if names is None else {CAP.names[n] for n in names}
    failures = []
    for i, field, want in CAP.expect:
        if idx is not None and i not in idx:
            continue
        got = decoded[i].get(field, [])
        try:
            got_n = [_norm(g, w) for g, w in zip(got, want)]
        except ValueError:
            got_n = got
        want = [w.replace(":", "") if isinstance(w, str) else w for w in want]
        if len(got) != len(want) or got_n != want:
            name = next(n for n, j in CAP.names.items() if j == i)
            failures.append(f"{name}: {field}: tshark {got} != ours {list(want)}")
    assert not failures, "\n".join(failures)


def test_no_malformed_frames_and_zcl_decoded(decoded: list) -> None:
    for i, p in enumerate(decoded):
        assert "_ws.malformed" not in p, f"frame {i} malformed"
        assert p.get("wpan.fcs_ok") == ["1"]
        assert "zbee_zcl" in p["frame.protocols"][0], p["frame.protocols"]


def test_read_attributes_and_response_on_metering(decoded: list) -> None:
    _check(decoded, ["read", "read_rsp"])


def test_configure_reporting_report_and_reporting_configuration(decoded: list) -> None:
    _check(decoded, ["configure_reporting", "configure_reporting_rsp",
                     "configure_reporting_rsp_fail", "report", "read_reporting_configuration",
                     "read_reporting_configuration_rsp"])


def test_discover_write_and_default_responses(decoded: list) -> None:
    _check(decoded, ["discover", "discover_rsp", "discover_ext_rsp", "write", "write_rsp",
                     "default_rsp_unsup", "discover_commands_received",
                     "configure_mirror_default_rsp"])


def test_mirroring_commands(decoded: list) -> None:
    _check(decoded, ["request_mirror", "request_mirror_rsp", "configure_mirror"])


def test_every_metering_command(decoded: list) -> None:
    _check(decoded, [n for n in CAP.names if n.startswith("met_")])


def test_time_and_basic_attributes(decoded: list) -> None:
    _check(decoded, ["time_read_rsp", "basic_read_rsp"])


def test_price_commands(decoded: list) -> None:
    _check(decoded, ["get_current_price", "publish_price", "price_ack", "get_scheduled_prices",
                     "publish_tariff_information", "publish_block_period",
                     "publish_tier_labels", "publish_calorific_value", "cancel_tariff"])


def test_every_data_type_value(decoded: list) -> None:
    _check(decoded, ["all_types"])
    p = decoded[CAP.names["all_types"]]
    # Per tshark field, the values in record order must equal ours.
    by_field: dict[str, list] = {}
    for _, value, field, shown in TYPE_SAMPLES:
        by_field.setdefault(field, []).append(shown)
    for field, want in by_field.items():
        got = p.get(field, [])
        if field.endswith("elements_num"):
            continue  # array elements themselves also appear under uintN fields
        got_n = [_norm(g, w) for g, w in zip(got, want)]
        want = [w.replace(":", "") if isinstance(w, str) else w for w in want]
        assert got_n == want, (field, got, want)


def test_tunneling_and_key_establishment(decoded: list) -> None:
    _check(decoded, ["request_tunnel", "request_tunnel_rsp", "transfer_data_get",
                     "ack_transfer_data", "supported_protocols_rsp", "ke_initiate",
                     "ke_ephemeral_rsp", "ke_confirm", "ke_terminate"])
