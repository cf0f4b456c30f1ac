"""Conformance of the ZCL codecs against Wireshark's ZCL / ZSE dissectors (tshark 4.0).

Frames built with protocols.zcl are wrapped in unsecured IEEE 802.15.4 / ZigBee NWK / APS
headers (profile 0x0109, the right cluster), written to a LINKTYPE 195 pcap, and tshark's
decoded fields are compared with the values we encoded. tshark also supplies the attribute
names of Basic, Time, Metering and Price, checked against our cluster definitions.
"""

from __future__ import annotations

import json
import os
import re
import struct
import subprocess
from datetime import datetime, timezone

import pytest

from protocols.zcl import foundation as f
from protocols.zcl import types as T
from protocols.zcl.clusters import cluster_frame
from protocols.zcl.frame import ZclFrame, encode_zcl
from protocols.zcl.foundation import Status, global_frame
from protocols.zcl.se import BASIC, KEY_ESTABLISHMENT, METERING, PRICE, TIME, TUNNELING
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
    METERING, ["CurrentSummationDelivered", "InstantaneousDemand", "UnitOfMeasure",
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
                     endpoint_id=0x007B)
CAP.add("request_mirror_rsp", _rmr, MET, zbee_zcl_se__met__cmd__srv_rx__id=[0x01],
        zbee_zcl_se__met__request_mirror_rsp__endpoint_id=[0x007B], zbee_zcl__ddr=[1])
_cm = cluster_frame(MET, S2C, "ConfigureMirror", 31, issuer_event_id=0x01020304,
                    reporting_interval=1800, mirror_notification_reporting=True,
                    notification_scheme=1)
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
CAP.add("get_current_price", cluster_frame(PRC, C2S, "GetCurrentPrice", 50, command_options=1),
        PRC, zbee_zcl_se__price__cmd__srv_rx__id=[0], zbee_zcl_se__price__command_options=[1])
PUBLISH_PRICE = dict(
    provider_id=0x11223344, rate_label=b"Standard", issuer_event_id=0x55667788,
    current_time=753315200, unit_of_measure=0x00, currency=826,
    price_trailing_digit_and_price_tier=0x51, number_of_price_tiers_and_register_tier=0x21,
    start_time=753310000, duration_in_minutes=0xFFFF, price=2734, price_ratio=0xFF,
    generation_price=0xFFFFFFFF, generation_price_ratio=0xFF, alternate_cost_delivered=233,
    alternate_cost_unit=0x01, alternate_cost_trailing_digit=0x40,
    number_of_block_thresholds=3, price_control=0x00, number_of_generation_tiers=0,
    generation_tier=0, extended_number_of_price_tiers=0, extended_price_tier=0,
    extended_register_tier=0)
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
CAP.add("price_ack", cluster_frame(PRC, C2S, "PriceAcknowledgement", 51, provider_id=7,
                                   issuer_event_id=8, price_ack_time=753315201, control=1),
        PRC, zbee_zcl_se__price__cmd__srv_rx__id=[2], zbee_zcl_se__price__provider_id=[7],
        zbee_zcl_se__price__issuer_event_id=[8],
        zbee_zcl_se__price__price_ack_time=[_utc_text(753315201)])
CAP.add("get_scheduled_prices", cluster_frame(PRC, C2S, "GetScheduledPrices", 52,
                                              start_time=753315200, number_of_events=5),
        PRC, zbee_zcl_se__price__cmd__srv_rx__id=[1],
        zbee_zcl_se__price__start_time=[_utc_text(753315200)],
        zbee_zcl_se__price__number_of_events=[5])
CAP.add("publish_tariff_information", cluster_frame(
    PRC, S2C, "PublishTariffInformation", 53, provider_id=1, issuer_event_id=2,
    issuer_tariff_id=3, start_time=753315200, tariff_type_charging_scheme=0x00,
    tariff_label=b"Economy 7", number_of_price_tiers_in_use=2,
    number_of_block_thresholds_in_use=0, unit_of_measure=0, currency=826,
    price_trailing_digit=0x50, standing_charge=4567, tier_block_mode=0,
    block_threshold_multiplier=1, block_threshold_divisor=1000), PRC,
    zbee_zcl_se__price__cmd__srv_tx__id=[4], zbee_zcl_se__price__issuer_tariff_id=[3],
    zbee_zcl_se__price__tariff_information__tariff_label=["Economy 7"],
    zbee_zcl_se__price__tariff_information__number_of_price_tiers_in_use=[2],
    zbee_zcl_se__price__tariff_information__standing_charge=[4567],
    zbee_zcl_se__price__tariff_information__block_threshold_multiplier=[1],
    zbee_zcl_se__price__tariff_information__block_threshold_divisor=[1000])
CAP.add("publish_block_period", cluster_frame(
    PRC, S2C, "PublishBlockPeriod", 54, provider_id=1, issuer_event_id=2,
    block_period_start_time=753315200, block_period_duration=1440, block_period_control=0,
    block_period_duration_type=0, tariff_type=0, tariff_resolution_period=0), PRC,
    zbee_zcl_se__price__cmd__srv_tx__id=[1],
    zbee_zcl_se__price__block_period__start_time=[_utc_text(753315200)],
    zbee_zcl_se__price__block_period__duration=[1440])
CAP.add("publish_tier_labels", cluster_frame(
    PRC, S2C, "PublishTierLabels", 55, provider_id=1, issuer_event_id=2, issuer_tariff_id=3,
    command_index=0, total_number_of_commands=1,
    tier_labels=({"tier_id": 1, "tier_label": b"Day"}, {"tier_id": 2, "tier_label": b"Night"})),
    PRC, zbee_zcl_se__price__cmd__srv_tx__id=[8],
    zbee_zcl_se__price__tier_labels__number_of_labels=[2],
    zbee_zcl_se__price__tier_labels__tier_id=[1, 2],
    zbee_zcl_se__price__tier_labels__tier_label=["Day", "Night"])
CAP.add("publish_calorific_value", cluster_frame(
    PRC, S2C, "PublishCalorificValue", 56, issuer_event_id=9, start_time=753315200,
    calorific_value=39500000, calorific_value_unit=1, calorific_value_trailing_digit=0x60),
    PRC, zbee_zcl_se__price__cmd__srv_tx__id=[3],
    zbee_zcl_se__price__calorific_value=[39500000])
CAP.add("cancel_tariff", cluster_frame(PRC, S2C, "CancelTariff", 57, provider_id=1,
                                       issuer_tariff_id=3, tariff_type=0),
        # ZSE 1.4 D.4.2.4.15: Provider ID, Issuer Tariff ID, Tariff Type; Wireshark 4.0
        # labels the second field "Issuer Event ID".
        PRC, zbee_zcl_se__price__cmd__srv_tx__id=[0x0E], zbee_zcl_se__price__provider_id=[1],
        zbee_zcl_se__price__issuer_event_id=[3])

# Tunneling (GB-HRGP) and Key Establishment, as the GSME and CH use them.
TUN, KE = 0x0704, 0x0800
CAP.add("request_tunnel", cluster_frame(TUN, C2S, "RequestTunnel", 60, dict(
    protocol_id=6, manufacturer_code=0xFFFF, flow_control_support=False,
    maximum_incoming_transfer_size=1500)), TUN,
    zbee_zcl_se__tun__cmd__srv_rx__id=[0], zbee_zcl_se__tun__protocol_id=[6],
    zbee_zcl_se__tun__manufacturer_code=[0xFFFF],
    zbee_zcl_se__tun__flow_control_supported=[False],
    zbee_zcl_se__tun__max_in_transfer_size=[1500])
CAP.add("request_tunnel_rsp", cluster_frame(TUN, S2C, "RequestTunnelResponse", 60,
                                            tunnel_id=0, tunnel_status=0,
                                            maximum_incoming_transfer_size=1500), TUN,
        zbee_zcl_se__tun__cmd__srv_tx__id=[0], zbee_zcl_se__tun__tunnel_id=[0],
        zbee_zcl_se__tun__max_in_transfer_size=[1500])
CAP.add("transfer_data_get", cluster_frame(TUN, C2S, "TransferData", 61, tunnel_id=0,
                                           data=b"\x01"), TUN,
        zbee_zcl_se__tun__cmd__srv_rx__id=[2], zbee_zcl_se__tun__tunnel_id=[0],
        gbcs_tunnel__command=[1])
CAP.add("ack_transfer_data", cluster_frame(TUN, S2C, "AckTransferData", 62, tunnel_id=3,
                                           number_of_bytes_left=1200), TUN,
        zbee_zcl_se__tun__cmd__srv_tx__id=[3], zbee_zcl_se__tun__tunnel_id=[3],
        zbee_zcl_se__tun__octets_left=[1200])
CAP.add("supported_protocols_rsp", cluster_frame(
    TUN, S2C, "SupportedTunnelProtocolsResponse", 63, protocol_list_complete=True,
    protocols=({"manufacturer_code": 0xFFFF, "protocol_id": 6},)), TUN,
    zbee_zcl_se__tun__cmd__srv_tx__id=[5], zbee_zcl_se__tun__protocol_list_complete=[True],
    zbee_zcl_se__tun__protocol_count=[1], zbee_zcl_se__tun__protocol_id=[6])
# A suite-2 implicit certificate laid out as in han-zigbee-wireshark.md 4.2 (74 octets).
CERT = (b"\x00" + bytes.fromhex("0102030405060708") + b"\x0d" + b"\x08"
        + bytes.fromhex("5445535453454341") + bytes(5) + b"\xff\xff\xff\xff"
        + bytes.fromhex("00124b00aabbccdd") + b"\x88" + bytes(range(37)))
assert len(CERT) == 74
CAP.add("ke_initiate", cluster_frame(KE, C2S, "InitiateKeyEstablishmentRequest", 70,
                                     key_establishment_suite=2, ephemeral_data_generate_time=10,
                                     confirm_key_generate_time=20, identity=CERT), KE,
        zbee_zcl_se__ke__cmd__srv_rx__id=[0], zbee_zcl_se__ke__attr__suite=[2],
        zbee_zcl_se__ke__init__ephemeral__time=[10], zbee_zcl_se__ke__init__confirm__time=[20],
        zbee_zcl_se__ke__cert__curve=[0x0D], zbee_zcl_se__ke__cert__hash=[0x08],
        zbee_zcl_se__ke__cert__subject=["00124b00aabbccdd"])
CAP.add("ke_ephemeral_rsp", cluster_frame(KE, S2C, "EphemeralDataResponse", 71,
                                          ephemeral_data=bytes(range(1, 38))), KE,
        zbee_zcl_se__ke__cmd__srv_tx__id=[1],
        zbee_zcl_se__ke__qev=[bytes(range(1, 38)).hex()])
CAP.add("ke_confirm", cluster_frame(KE, C2S, "ConfirmKeyDataRequest", 72,
                                    secure_message_authentication_code=bytes(range(16))), KE,
        zbee_zcl_se__ke__cmd__srv_rx__id=[2], zbee_zcl_se__ke__macu=[bytes(range(16)).hex()])
CAP.add("ke_terminate", cluster_frame(KE, S2C, "TerminateKeyEstablishment", 73,
                                      status_code=6, wait_time=30, key_establishment_suite=2),
        KE, zbee_zcl_se__ke__cmd__srv_tx__id=[3], zbee_zcl_se__ke__terminate__status=[6],
        zbee_zcl_se__ke__terminate__wait__time=[30], zbee_zcl_se__ke__attr__suite=[2])

# Every Metering command, both directions: (direction, name, our fields,
# {wireshark field suffix: our field name or (our field name, transform)}).
U = 753315200
METERING_COMMANDS = [
    (C2S, "GetProfile", dict(interval_channel=0, end_time=U, number_of_periods=24),
     {"get_profile.interval_channel": "interval_channel", "get_profile.end_time": "end_time",
      "get_profile.number_of_periods": "number_of_periods"}),
    (C2S, "MirrorRemoved", dict(removed_endpoint_id=0x7B),
     {"mirror_removed.removed_endpoint_id": "removed_endpoint_id"}),
    (C2S, "RequestFastPollMode", dict(fast_poll_update_period=2, duration=15),
     {"request_fast_poll_mode.fast_poll_update_period": "fast_poll_update_period",
      "request_fast_poll_mode.duration": "duration"}),
    (C2S, "ScheduleSnapshot", dict(issuer_event_id=77, command_index=0,
                                   total_number_of_commands=1, snapshot_schedule_payload=(
                                       dict(snapshot_schedule_id=1, snapshot_start_time=U,
                                            snapshot_schedule=0x000001,
                                            snapshot_payload_type=0, snapshot_cause=0x10),)),
     {"schedule_snapshot.issuer_event_id": "issuer_event_id",
      "schedule_snapshot.command_index": "command_index",
      "schedule_snapshot.total_number_of_commands": "total_number_of_commands",
      "schedule_snapshot.snapshot_schedule_payload.snapshot_schedule_id":
          ("snapshot_schedule_payload", lambda v: [r["snapshot_schedule_id"] for r in v]),
      "schedule_snapshot.snapshot_schedule_payload.snapshot_start_time":
          ("snapshot_schedule_payload", lambda v: [_utc_text(r["snapshot_start_time"])
                                                   for r in v])}),
    (C2S, "TakeSnapshot", dict(snapshot_cause=0x0400),
     {"take_snapshot.snapshot_cause": "snapshot_cause"}),
    (C2S, "GetSnapshot", dict(earliest_start_time=U, latest_end_time=U + 86400,
                              snapshot_offset=2, snapshot_cause=0xFFFFFFFF),
     {"get_snapshot.start_time": "earliest_start_time", "get_snapshot.end_time":
      "latest_end_time", "get_snapshot.snapshot_offset": "snapshot_offset",
      "get_snapshot.snapshot_cause": "snapshot_cause"}),
    (C2S, "StartSampling", dict(issuer_event_id=5, start_sampling_time=U, sample_type=0,
                                sample_request_interval=60, max_number_of_samples=100),
     {"start_sampling.issuer_event_id": "issuer_event_id",
      "start_sampling.start_sampling_time": "start_sampling_time",
      "start_sampling.sample_type": "sample_type",
      "start_sampling.sample_request_interval": "sample_request_interval",
      "start_sampling.max_number_of_samples": "max_number_of_samples"}),
    (C2S, "GetSampledData", dict(sample_id=3, earliest_sample_time=U, sample_type=0,
                                 number_of_samples=10),
     {"get_sampled_data.sample_id": "sample_id",
      "get_sampled_data.sample_start_time": "earliest_sample_time",
      "get_sampled_data.sample_type": "sample_type",
      "get_sampled_data.number_of_samples": "number_of_samples"}),
    # Scheme A (1) carries FunctionalNotificationFlags only.
    (C2S, "MirrorReportAttributeResponse", dict(notification_scheme=1,
                                                notification_flags=(0x1,)),
     {"mirror_report_attribute_response.notification_scheme": "notification_scheme",
      "attr.func_noti_flag": "notification_flags"}),
    (C2S, "ResetLoadLimitCounter", dict(provider_id=1, issuer_event_id=2),
     {"reset_load_limit_counter.provider_id": "provider_id",
      "reset_load_limit_counter.issuer_event_id": "issuer_event_id"}),
    (C2S, "ChangeSupply", dict(provider_id=1, issuer_event_id=2, request_date_time=U,
                               implementation_date_time=U + 60, proposed_supply_status=1,
                               supply_control_bits=1),
     {"change_supply.provider_id": "provider_id",
      "change_supply.issuer_event_id": "issuer_event_id",
      "change_supply.request_date_time": "request_date_time",
      "change_supply.implementation_date_time": "implementation_date_time",
      "change_supply.proposed_supply_status": "proposed_supply_status",
      "change_supply.supply_control_bits": "supply_control_bits"}),
    (C2S, "LocalChangeSupply", dict(proposed_supply_status=2),
     {"local_change_supply.proposed_supply_status": "proposed_supply_status"}),
    (C2S, "SetUncontrolledFlowThreshold", dict(provider_id=1, issuer_event_id=2,
                                               uncontrolled_flow_threshold=300,
                                               unit_of_measure=1, multiplier=1, divisor=10,
                                               stabilisation_period=5, measurement_period=30),
     {"set_uncontrolled_flow_threshold.provider_id": "provider_id",
      "set_uncontrolled_flow_threshold.uncontrolled_flow_threshold":
          "uncontrolled_flow_threshold",
      "set_uncontrolled_flow_threshold.unit_of_measure": "unit_of_measure",
      "set_uncontrolled_flow_threshold.multiplier": "multiplier",
      "set_uncontrolled_flow_threshold.divisor": "divisor",
      "set_uncontrolled_flow_threshold.stabilisation_period": "stabilisation_period",
      "set_uncontrolled_flow_threshold.measurement_period": "measurement_period"}),
    (S2C, "GetProfileResponse", dict(end_time=U, status=0, profile_interval_period=3,
                                     number_of_periods_delivered=3, intervals=(10, 20, 0xFFFFFF)),
     {"get_profile_response.end_time": "end_time", "get_profile_response.status": "status",
      "get_profile_response.profile_interval_period": "profile_interval_period",
      "get_profile_response.number_of_periods_delivered": "number_of_periods_delivered",
      "get_profile_response.intervals": "intervals"}),
    (S2C, "RemoveMirror", {}, {}),
    (S2C, "RequestFastPollModeResponse", dict(applied_update_period=2,
                                              fast_poll_mode_endtime=U + 900),
     {"request_fast_poll_mode_response.applied_update_period": "applied_update_period",
      # Wireshark 4.0 shows this UTCTime with the Unix epoch (1970) instead of 2000.
      "request_fast_poll_mode_response.fast_poll_mode_end_time":
          ("fast_poll_mode_endtime", lambda v: [_utc_text(v - T.ZCL_EPOCH_UNIX)])}),
    (S2C, "ScheduleSnapshotResponse", dict(issuer_event_id=77, snapshot_response_payload=(
        dict(snapshot_schedule_id=1, snapshot_schedule_confirmation=0),
        dict(snapshot_schedule_id=2, snapshot_schedule_confirmation=1))),
     {"schedule_snapshot_response.issuer_event_id": "issuer_event_id",
      "schedule_snapshot_response.response_snapshot_schedule_id":
          ("snapshot_response_payload", lambda v: [r["snapshot_schedule_id"] for r in v]),
      "schedule_snapshot_response.snapshot_schedule_confirmation":
          ("snapshot_response_payload",
           lambda v: [r["snapshot_schedule_confirmation"] for r in v])}),
    (S2C, "TakeSnapshotResponse", dict(snapshot_id=0x01020304, snapshot_confirmation=0),
     {"take_snapshot_response.snapshot_id": "snapshot_id",
      "take_snapshot_response.snapshot_confirmation": "snapshot_confirmation"}),
    (S2C, "PublishSnapshot", dict(snapshot_id=9, snapshot_time=U, total_snapshots_found=1,
                                  command_index=0, total_number_of_commands=1,
                                  snapshot_cause=0x01, snapshot_payload_type=0,
                                  snapshot_payload=b"\x01\x02"),
     {"publish_snapshot.snapshot_id": "snapshot_id",
      "publish_snapshot.snapshot_time": "snapshot_time",
      "publish_snapshot.snapshots_found": "total_snapshots_found",
      "publish_snapshot.command_index": "command_index",
      "publish_snapshot.total_commands": "total_number_of_commands",
      "publish_snapshot.snapshot_cause": "snapshot_cause",
      "publish_snapshot.payload_type": "snapshot_payload_type"}),
    (S2C, "GetSampledDataResponse", dict(sample_id=3, sample_start_time=U, sample_type=0,
                                         sample_request_interval=60, number_of_samples=2,
                                         samples=(5, 6)),
     {"get_sampled_data_rsp.sample_id": "sample_id",
      "get_sampled_data_rsp.sample_start_time": "sample_start_time",
      "get_sampled_data_rsp.sample_type": "sample_type",
      "get_sampled_data_rsp.sample_request_interval": "sample_request_interval",
      "get_sampled_data_rsp.number_of_samples": "number_of_samples",
      "get_sampled_data_rsp.samples": "samples"}),
    (S2C, "ConfigureNotificationScheme", dict(issuer_event_id=4, notification_scheme=2,
                                              notification_flag_order=0x87654321),
     {"configure_notification_scheme.issuer_event_id": "issuer_event_id",
      "configure_notification_scheme.notification_scheme": "notification_scheme",
      "configure_notification_scheme.notification_flag_order": "notification_flag_order"}),
    (S2C, "ConfigureNotificationFlags", dict(issuer_event_id=4, notification_scheme=2,
                                             notification_flag_attribute_id=0x0001,
                                             cluster_id=0x0702, manufacturer_code=0xFFFF,
                                             number_of_commands=2, command_ids=(0, 6)),
     {"configure_notification_flags.issuer_event_id": "issuer_event_id",
      "configure_notification_flags.notification_flag_attribute_id":
          "notification_flag_attribute_id",
      "configure_notification_flags.bit_field_allocation.cluster_id": "cluster_id",
      "configure_notification_flags.bit_field_allocation.manufacturer_code":
          "manufacturer_code",
      "configure_notification_flags.bit_field_allocation.no_of_commands":
          "number_of_commands",
      "configure_notification_flags.bit_field_allocation.command_identifier":
          "command_ids"}),
    (S2C, "GetNotifiedMessage", dict(notification_scheme=1, notification_flag_attribute_id=0,
                                     notification_flags=0x00000001),
     {"get_notified_msg.notification_scheme": "notification_scheme",
      "get_notified_msg.notification_flag_attribute_id": "notification_flag_attribute_id",
      "attr.func_noti_flag": "notification_flags"}),
    (S2C, "SupplyStatusResponse", dict(provider_id=1, issuer_event_id=2,
                                       implementation_date_time=U, supply_status=2),
     {"supply_status_response.provider_id": "provider_id",
      "supply_status_response.issuer_event_id": "issuer_event_id",
      "supply_status_response.implementation_date_time": "implementation_date_time",
      "supply_status_response.supply_status_after_implementation": "supply_status"}),
    (S2C, "StartSamplingResponse", dict(sample_id=7),
     {"start_sampling_response.sample_id": "sample_id"}),
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
            if _ours.endswith(("_time", "time")) and "interval" not in _ours:
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


# --- attribute names from Wireshark's value strings ------------------------------------------

_WS_ATTR_TABLES = {
    "zbee_zcl_general.basic.attr_id": BASIC,
    "zbee_zcl_general.time.attr_id": TIME,
    "zbee_zcl_se.met.attr_id": METERING,
    "zbee_zcl_se.price.attr_id": PRICE,
}
# Where Wireshark's label is not the spec name (checked by hand against ZSE 1.4).
_WS_NAME_EXCEPTIONS = {
    ("Metering", 0x0010): "Deprecated",                       # IntervalReadReportingPeriod
    ("Time", 0x0003): "Daylight Saving Time Start",           # DstStart
    ("Time", 0x0004): "Daylight Saving Time End",             # DstEnd
    ("Time", 0x0005): "Daylight Saving Time Shift",           # DstShift
    ("Basic", 0x4000): "Software Build Id",                   # SWBuildID
    ("Metering", 0x0802): "Generic Flow/Pressure Alarm Mask",
    ("Metering", 0x0B11): "Uncontrolled Flow Unit of Measure",
}


def _canon(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


@pytest.fixture(scope="module")
def value_strings(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[int, str]]:
    """tshark's value strings (C{tshark -G values}) of the zbee_zcl* fields."""
    d = tmp_path_factory.mktemp("ws_values")
    out = subprocess.run(["tshark", "-G", "values"], capture_output=True, text=True,
                         env=dict(os.environ, WIRESHARK_CONFIG_DIR=str(d)),
                         check=True, timeout=120).stdout
    ws: dict[str, dict[int, str]] = {}
    for line in out.splitlines():
        if line.startswith("V\tzbee_zcl"):
            parts = line.split("\t")
            if len(parts) == 4:
                ws.setdefault(parts[1], {})[int(parts[2], 0)] = parts[3]
    return ws


def test_attribute_ids_and_names_match_wireshark(value_strings) -> None:
    ws = {k: value_strings.get(k, {}) for k in _WS_ATTR_TABLES}
    mismatches, checked = [], 0
    for field, cluster in _WS_ATTR_TABLES.items():
        assert ws[field], f"no value strings for {field}"
        for attr_id, d in cluster.attributes.items():
            label = ws[field].get(attr_id)
            if label is None:
                continue
            checked += 1
            expected = _WS_NAME_EXCEPTIONS.get((cluster.name, attr_id))
            if expected is not None:
                ok = label == expected
            else:
                ok = _canon(label) == _canon(d.name)
            if not ok:
                mismatches.append(f"{cluster.name} 0x{attr_id:04X}: ours {d.name!r}, "
                                  f"Wireshark {label!r}")
    assert not mismatches, "\n".join(mismatches)
    assert checked > 1000


def test_command_ids_and_names_match_wireshark(value_strings) -> None:
    tables = {f"zbee_zcl_se.{abbr}.cmd.srv_{d}.id": (cluster, 0 if d == "rx" else 1)
              for abbr, cluster in (("met", METERING), ("price", PRICE),
                                    ("tun", TUNNELING), ("ke", KEY_ESTABLISHMENT))
              for d in ("rx", "tx")}
    ws = {k: value_strings[k] for k in tables}
    for field, (cluster, direction) in tables.items():
        ours = {i: _canon(c.name) for i, c in cluster.commands(direction).items()}
        theirs = {i: _canon(n.replace("(s)", "s")) for i, n in ws[field].items()}
        assert ours == theirs, field


def test_tunneling_and_key_establishment(decoded: list) -> None:
    _check(decoded, ["request_tunnel", "request_tunnel_rsp", "transfer_data_get",
                     "ack_transfer_data", "supported_protocols_rsp", "ke_initiate",
                     "ke_ephemeral_rsp", "ke_confirm", "ke_terminate"])
